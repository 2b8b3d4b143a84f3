"""Reads the Parquet tables `keytrail analyze` wrote back with pyarrow and DuckDB and checks
them against the schema keytrail documents (`keytrail schema --format json`, the same
definition the README's column reference is generated from).

Usage: check_tables.py KEYTRAIL_BIN OUT_DIR EXPECTED_FINDINGS_JSONL
"""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ATHENA_TO_ARROW = {
    "string": pa.string(),
    "boolean": pa.bool_(),
    "bigint": pa.int64(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
}
ATHENA_TO_DUCKDB = {
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "bigint": "BIGINT",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "array<string>": "VARCHAR[]",
    "map<string,string>": "MAP(VARCHAR, VARCHAR)",
    "array<struct<operator:string,key:string,values:array<string>>>":
        'STRUCT("operator" VARCHAR, "key" VARCHAR, "values" VARCHAR[])[]',
}
CONDITIONS = "array<struct<operator:string,key:string,values:array<string>>>"


def arrow_type_ok(athena: str, t: pa.DataType) -> bool:
    if athena in ATHENA_TO_ARROW:
        return t == ATHENA_TO_ARROW[athena]
    if athena == "array<string>":
        return pa.types.is_list(t) and t.value_type == pa.string()
    if athena == "map<string,string>":
        return pa.types.is_map(t) and t.key_type == pa.string() and t.item_type == pa.string()
    if athena == CONDITIONS:
        want = pa.struct([("operator", pa.string()), ("key", pa.string()), ("values", pa.list_(pa.string()))])
        return pa.types.is_list(t) and t.value_type == want
    return False


def main() -> None:
    keytrail, out, expected = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    schema = json.loads(subprocess.check_output([keytrail, "schema", "--format", "json"]))
    parts = [c["name"] for c in schema["partition_columns"]]
    checked = 0
    for table, columns in schema["tables"].items():
        root = out / table
        files = sorted(root.rglob("*.parquet"))
        assert files, f"{table}: no files"
        for f in files:
            rel = f.relative_to(root).parts
            assert [p.split("=")[0] for p in rel[:-1]] == parts, f"{f}: partition folders {rel}"
            # Every timestamp column is TIMESTAMP(MILLIS, UTC) in the Parquet schema itself.
            pfile = pq.ParquetFile(f)
            leaves = {pfile.schema.column(i).path: pfile.schema.column(i) for i in range(len(pfile.schema))}
            for col in columns:
                if col["type"] == "timestamp":
                    lt = str(leaves[col["name"]].logical_type)
                    assert "isAdjustedToUTC=true" in lt and "milliseconds" in lt, f"{f}: {col['name']} is {lt}"
            assert pfile.metadata.row_group(0).column(0).compression == "ZSTD", f"{f}: not zstd"
        # pyarrow: file columns in order and types, partitions from the path.
        dataset = ds.dataset(root, format="parquet", partitioning="hive")
        got = dataset.schema
        want_names = [c["name"] for c in columns] + parts
        assert got.names == want_names, f"{table}: pyarrow columns {got.names} != {want_names}"
        for col in columns:
            t = got.field(col["name"]).type
            assert arrow_type_ok(col["type"], t), f"{table}.{col['name']}: {t} is not {col['type']}"
        # DuckDB: the same columns and types.
        con = duckdb.connect()
        rel = con.sql(
            f"SELECT * FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true, "
            "hive_types={'account_id': VARCHAR, 'region': VARCHAR, 'event_date': VARCHAR})"
        )
        duck = dict(zip(rel.columns, [str(t) for t in rel.types]))
        for col in columns:
            assert duck[col["name"]] == ATHENA_TO_DUCKDB[col["type"]], f"{table}.{col['name']}: DuckDB {duck[col['name']]}"
        checked += 1
    assert checked == 6

    con = duckdb.connect()

    def q(sql: str):
        return con.sql(sql).fetchall()

    def src(table: str) -> str:
        return f"read_parquet('{out}/{table}/**/*.parquet', hive_partitioning=true, hive_types={{'account_id': VARCHAR, 'region': VARCHAR, 'event_date': VARCHAR}})"

    # The findings table holds exactly the expected findings.
    want = [json.loads(line) for line in expected.read_text().splitlines() if line.strip()]
    rows = q(
        f"SELECT rule, event_id, strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ'), key_arn, related_event_ids, severity, \"authorization\" FROM {src('findings')} ORDER BY 3, 2, 1, 4"
    )
    got = [(r[0], r[1], r[2], r[3], sorted(r[4]), r[5], r[6]) for r in rows]
    exp = sorted(
        [(w["rule"], w["event_id"], w["event_time"], w["key_arn"], sorted(w["related_event_ids"]), w["severity"], w["authorization"]) for w in want],
        key=lambda r: (r[2], r[1], r[0], r[3] or ""),
    )
    assert got == exp, f"findings differ:\n{got}\n{exp}"
    # Event ids are distinct in kms_events (both copies of a cross-account call are rows);
    # times are whole milliseconds in UTC.
    counts = json.loads((expected.parent / "counts.json").read_text())
    (n, distinct) = q(f"SELECT count(*), count(DISTINCT event_id) FROM {src('kms_events')}")[0]
    assert n == distinct == counts["kms_records"], (n, distinct, counts["kms_records"])
    # key_policies: one row per policy version and statement, as counted by hand; the
    # conditions are structured rows a query can unnest.
    (n,) = q(f"SELECT count(*) FROM {src('key_policies')}")[0]
    assert n == counts["key_policies_rows"], (n, counts["key_policies_rows"])
    (versions, defaults) = q(
        f"SELECT count(DISTINCT event_id), count(DISTINCT event_id) FILTER (WHERE source = 'default') FROM {src('key_policies')}"
    )[0]
    assert versions > defaults > 0, (versions, defaults)
    conds = q(
        f"SELECT c.operator, c.key, c.values FROM (SELECT unnest(conditions) AS c FROM {src('key_policies')}) "
        "WHERE c.key ILIKE 'kms:EncryptionContext:%' LIMIT 1"
    )
    assert conds and conds[0][0] and conds[0][2], conds
    # event_date partitions follow the event time, not the delivery day.
    bad = q(
        f"SELECT count(*) FROM {src('kms_events')} WHERE event_time IS NOT NULL AND strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d') <> event_date"
    )[0][0]
    assert bad == 0
    # The Proton context is kept whole, as a map, and decoded into columns.
    rows = q(
        f"SELECT encryption_context['aws:proton:template'], proton_template, proton_template_type FROM {src('kms_events')} WHERE proton_template IS NOT NULL AND context_problem IS NULL LIMIT 5"
    )
    assert rows and all(r[0] == r[1] and r[2] in ("service-template", "environment-template") for r in rows), rows
    # Each table with pyarrow, in full.
    for table in schema["tables"]:
        t = ds.dataset(out / table, format="parquet", partitioning="hive").to_table()
        assert t.num_rows > 0, table
    print(f"check_tables: {checked} tables match the documented schema in pyarrow {pa.__version__} and DuckDB {duckdb.__version__}")


if __name__ == "__main__":
    main()
