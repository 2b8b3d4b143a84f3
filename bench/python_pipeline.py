"""The Python peer: what a typical Python Lambda does for keytrail's job, given its best
honest shot: orjson (the fastest JSON parser on PyPI) over gzip.open streams, keep the
kms.amazonaws.com records, build the key columns and write zstd Parquet with pyarrow.

Usage: python_pipeline.py CORPUS_DIR OUT_FILE
"""

import gzip
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

COLS = ["event_id", "event_time", "event_name", "key_arn", "principal", "error_code", "proton_template", "proton_resource"]


def main():
    root, out = Path(sys.argv[1]), sys.argv[2]
    cols = {c: [] for c in COLS}
    records = 0
    for path in sorted(root.rglob("*.json.gz")):
        if "CloudTrail-Digest" in str(path):
            continue
        with gzip.open(path, "rb") as f:
            doc = orjson.loads(f.read())
        for r in doc.get("Records", []):
            records += 1
            if r.get("eventSource") != "kms.amazonaws.com":
                continue
            res = r.get("resources") or [{}]
            ui = r.get("userIdentity") or {}
            ctx = (r.get("requestParameters") or {}).get("encryptionContext") or {}
            cols["event_id"].append(r.get("eventID"))
            cols["event_time"].append(r.get("eventTime"))
            cols["event_name"].append(r.get("eventName"))
            cols["key_arn"].append(res[0].get("ARN"))
            cols["principal"].append(ui.get("arn") or ui.get("invokedBy"))
            cols["error_code"].append(r.get("errorCode"))
            cols["proton_template"].append(ctx.get("aws:proton:template"))
            cols["proton_resource"].append(ctx.get("aws:proton:resource"))
    table = pa.table(cols)
    pq.write_table(table, out, compression="zstd")
    print(f"python: {records} records, {table.num_rows} KMS rows")


if __name__ == "__main__":
    main()
