#!/usr/bin/env python3
"""Writes the fuzz seed corpora in fuzz/seeds/<target>/ from testdata/ and from the public
CloudTrail records in testdata/public (only sources whose licence allows
redistribution with attribution and no share-alike: Apache-2.0, MIT, CC-BY-4.0; the AWS
documentation examples, CC-BY-SA-4.0, are left out). See fuzz/seeds/README.md.

Usage: python3 fuzz/make_seeds.py [PUBLIC_DIR]   (deterministic: same inputs, same files)
"""
import gzip, hashlib, json, os, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "testdata/public"
OUT = ROOT / "fuzz/seeds"
ALLOWED = ("panther", "traildiscover", "adanalvarez", "stratus", "otrf", "streamalert",
           "airbnb", "trailscraper", "datadog", "opensearch")


def write(target, data: bytes):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def trail_records():
    for p in sorted((ROOT / "testdata/trail").rglob("*.json.gz")):
        try:
            doc = json.loads(gzip.decompress(p.read_bytes()))
        except Exception:
            continue
        for r in doc.get("Records", []) if isinstance(doc, dict) else []:
            yield r


def public_records():
    for name in ("kms-records.jsonl", "records.jsonl"):
        f = PUBLIC / name
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if r.get("_source", "").lower().startswith(ALLOWED):
                yield r


def main():
    for t in ("record", "log_reader", "trigger", "arn", "profiles", "ledger"):
        if (OUT / t).exists():
            for f in (OUT / t).iterdir():
                f.unlink()
    # record: every distinct KMS record of testdata, and the public ones (KMS first).
    seen = set()
    recs = [r for r in trail_records() if r.get("eventSource") == "kms.amazonaws.com"]
    pub = list(public_records())
    recs += [r for r in pub if r.get("eventSource") == "kms.amazonaws.com"]
    recs += [r for r in pub if r.get("eventSource") != "kms.amazonaws.com"][:40]
    for r in recs:
        b = json.dumps(r, separators=(",", ":")).encode()
        if b not in seen:
            seen.add(b)
            write("record", b)
    # log_reader: mode byte + source (bit 0 gzip, bit 1 .jsonl, bit 2 two gzip members).
    for p in sorted((ROOT / "testdata/formats").iterdir()) + sorted((ROOT / "testdata/broken").iterdir()):
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            try:
                raw = gzip.decompress(raw)
            except Exception:
                write("log_reader", b"\x00" + raw)
                continue
        mode = 2 if ".jsonl" in p.name else 0
        write("log_reader", bytes([mode]) + raw)
        write("log_reader", bytes([mode | 1]) + raw)
    small = sorted((ROOT / "testdata/trail").rglob("*.json.gz"), key=lambda p: p.stat().st_size)[:12]
    for i, p in enumerate(small):
        try:
            raw = gzip.decompress(p.read_bytes())
        except Exception:
            continue
        write("log_reader", bytes([(i % 2) * 4]) + raw)
    # trigger: every Lambda payload shape in testdata/events, and SQS bodies alone.
    for p in sorted((ROOT / "testdata/events").glob("*.json")):
        raw = p.read_bytes()
        write("trigger", raw)
        try:
            doc = json.loads(raw)
            for r in doc.get("Records", []):
                if isinstance(r.get("body"), str):
                    write("trigger", r["body"].encode())
        except Exception:
            pass
    # arn: every ARN-, principal- and time-like string in the KMS records above.
    strings = set()
    for r in recs:
        for s in re.findall(r'"((?:arn:|s3://|[a-z0-9.-]+\.amazonaws\.com|\d{4}-\d\d-\d\dT)[^"]{0,200})"',
                            json.dumps(r)):
            strings.add(s)
    for s in sorted(strings)[:400]:
        write("arn", s.encode())
    # A piece of check_endpoint's own message, found by the fuzzer: the message must not
    # depend on the endpoint, yet it contains this input.
    write("arn", b"AWS_ENDPOINT_URL must not carry credentials (user:password@); us")
    # profiles: the README's example and the built-in Proton profile written as TOML.
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```toml\n(.*?)```", readme, re.S):
        write("profiles", block.encode())
    write("profiles", b'[[profile]]\nname = "proton"\ntemplate_key = "aws:proton:template"\n'
                      b'resource_key = "aws:proton:resource"\n')
    # ledger: per-key ledger documents shaped as the Lambda writes them, from testdata.
    by_key = {}
    for r in trail_records():
        if r.get("eventSource") != "kms.amazonaws.com":
            continue
        key = ((r.get("resources") or [{}])[0] or {}).get("ARN") or "unkeyed"
        by_key.setdefault(key, []).append(r)
    for key, recs_of_key in sorted(by_key.items())[:20]:
        doc = {"key": key, "events": {}, "uses": {}, "sources": {}, "flagged": {}}
        for i, r in enumerate(recs_of_key[:30]):
            rid = r.get("eventID", str(i))
            compact = json.dumps(r, separators=(",", ":"))
            if "Grant" in r.get("eventName", "") or r.get("eventName") in ("DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion"):
                doc["events"][rid] = compact
                doc["sources"][rid] = f"src-{i % 3}"
            else:
                doc["uses"][f"t{i}\nr\n{r.get('eventName')}\ncaller"] = [i * 1000, rid, compact]
                if i % 4 == 0:
                    doc["flagged"][rid] = "src-0"
        write("ledger", json.dumps(doc, sort_keys=True).encode())
    for t in sorted(os.listdir(OUT)):
        if (OUT / t).is_dir():
            print(t, len(list((OUT / t).iterdir())))


main()
