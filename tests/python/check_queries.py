"""Proves queries/: every file parses (Trino dialect for views and investigations, Athena for
the DDL, strict, and a DDL that only parses as a generic Command fails); views and
investigations pass trino-sql-validator with function checks on; the DDL's columns equal
the Rust schema; every view and investigation runs on DuckDB (sqlglot's trino-to-duckdb
transpilation, no hand edits) against the Parquet `keytrail analyze` writes from testdata/,
with asserted results; findings_recomputed equals `keytrail findings --format json` exactly
(every column, advice included, related_event_ids in order) and the hand-derived
testdata/expected/findings.jsonl, for several shuffled ingestion orders and for a trail
ingested in two --append runs. Missing test data fails the run: nothing is skipped.

Usage: check_queries.py KEYTRAIL_BIN
"""

import atexit
import shutil
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import sqlglot
from sqlglot import ErrorLevel, exp
from trino_sql_validator import validate

ROOT = Path(__file__).resolve().parents[2]
Q = ROOT / "queries"
TRAIL = ROOT / "testdata" / "trail"
EXPECTED = ROOT / "testdata" / "expected"
K1 = "arn:aws:kms:us-east-1:111122223333:key/a051d22f-b1fb-5e59-98e2-3cb56c46bc36"
VIEWS = ["kms_events_dedup", "kms_calls", "grant_lifecycle", "key_state_timeline", "key_state_effective",
         "findings_recomputed"]
TABLES = ["kms_events", "proton_usage", "grants", "key_states", "findings"]
KEYS = ["rule", "severity", "event_id", "event_time", "event_name", "key_arn", "account_id", "region",
        "principal", "proton_template", "proton_resource", "related_event_ids", "message", "advice"]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1


def substitute(sql, params):
    for k, v in params.items():
        sql = sql.replace("${" + k + "}", v)
    return sql


def duck(out):
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute("CREATE SCHEMA keytrail")
    for t in TABLES:
        con.execute(
            f"CREATE VIEW keytrail.{t} AS SELECT * FROM read_parquet('{out}/{t}/**/*.parquet', "
            "hive_partitioning=true, hive_types={'account_id': VARCHAR, 'region': VARCHAR, 'event_date': VARCHAR})"
        )
    for v in VIEWS:
        tree = sqlglot.parse_one((Q / "views" / f"{v}.sql").read_text(), read="trino", error_level=ErrorLevel.RAISE)
        con.execute(tree.sql("duckdb"))
    return con


def run(con, path, params=None):
    tree = sqlglot.parse_one(substitute(path.read_text(), params or {}), read="trino", error_level=ErrorLevel.RAISE)
    return con.sql(tree.sql("duckdb"))


def table(out, name):
    return ds.dataset(Path(out) / name, format="parquet", partitioning="hive").to_table().to_pylist()


def cli_findings(keytrail, *paths):
    r = subprocess.run([keytrail, "findings", *map(str, paths), "--format", "json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines()]


def canon(rows, keys=KEYS):
    """Rows as sorted JSON lines over `keys`; related_event_ids keep their order (the rule's
    own related events, then the call's other copies)."""
    return sorted(json.dumps({k: r[k] for k in keys}, sort_keys=True) for r in rows)


def recomputed(con):
    rel = con.sql(
        "SELECT rule, severity, event_id, strftime(event_time, '%Y-%m-%dT%H:%M:%SZ') AS event_time, event_name, "
        "key_arn, account_id, region, principal, proton_template, proton_resource, related_event_ids, message, advice "
        "FROM keytrail.findings_recomputed"
    )
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


def main():
    keytrail = sys.argv[1]
    counts = json.loads((EXPECTED / "counts.json").read_text())
    expected = [json.loads(l) for l in (EXPECTED / "findings.jsonl").read_text().splitlines() if l.strip()]
    trail_files = sorted(p for p in TRAIL.rglob("*.gz"))
    check(len(trail_files) > 0 and len(expected) == counts["findings"] > 0, f"test data present: {len(trail_files)} trail files, {len(expected)} expected findings")
    schema = json.loads(subprocess.check_output([keytrail, "schema", "--format", "json"]))

    # 1. Parsing and validation.
    files = sorted(Q.rglob("*.sql"))
    check(len(files) == 5 + 6 + 7, f"queries/ holds 5 DDL, 6 views, 7 investigations ({len(files)})")
    for f in files:
        text = f.read_text()
        check(text.startswith("--"), f"{f.name} starts with a header comment")
        if f.parent.name == "ddl":
            tree = sqlglot.parse_one(text, read="athena", error_level=ErrorLevel.RAISE)
            check(isinstance(tree, exp.Create) and not isinstance(tree, exp.Command), f"{f.name} parses as CREATE, not a generic Command")
            table_name = tree.this.this.name
            cols = [(c.name, c.args["kind"].sql("hive").lower()) for c in tree.this.expressions]
            want = [(c["name"], c["type"].replace("bigint", "bigint")) for c in schema["tables"][table_name]]
            norm = lambda t: t.replace(" ", "").replace("varchar", "string")
            check([(n, norm(t)) for n, t in cols] == [(n, norm(t)) for n, t in want], f"{f.name}: columns and types equal the Rust schema")
            parts = tree.find(exp.PartitionedByProperty)
            check(parts is not None and [c.name for c in parts.this.expressions] == [c["name"] for c in schema["partition_columns"]], f"{f.name}: partition columns")
            check("${output}/" + table_name + "/account_id=${account_id}/region=${region}/event_date=${event_date}" in text, f"{f.name}: projection template matches the Hive layout")
        else:
            sqlglot.parse_one(text, read="trino", error_level=ErrorLevel.RAISE)
            r = validate(text, dialect="trino", function_arguments="error")
            check(r.valid and not r.warnings, f"{f.name}: trino-sql-validator passes with function checks ({r.warnings})")

    # 2. Views and investigations on DuckDB over what keytrail analyze writes.
    work = Path(tempfile.mkdtemp(prefix="keytrail-queries-"))
    atexit.register(shutil.rmtree, work, True)
    out = work / "tables"
    subprocess.run([keytrail, "analyze", str(TRAIL), "--out", str(out)], check=True, capture_output=True)
    con = duck(out)
    cli = cli_findings(keytrail, TRAIL)
    events = table(out, "kms_events")
    n = counts["kms_records"]
    check(con.sql("SELECT count(*), count(DISTINCT event_id) FROM keytrail.kms_events_dedup").fetchall() == [(n, n)], f"kms_events_dedup: {n} distinct events")
    calls = n - counts["cross_account_copies_folded"] - counts["records_without_event_time"]
    got = con.sql("SELECT count(*), count(DISTINCT event_id), sum(cardinality(copy_event_ids)) FROM keytrail.kms_calls").fetchall()
    check(got == [(calls, calls, counts["cross_account_copies_folded"])], f"kms_calls: {calls} calls, copies folded ({got})")
    got = sorted(con.sql("SELECT grant_id, created_event_id, removed_event_id, removal_count FROM keytrail.grant_lifecycle").fetchall())
    want = sorted((g["grant_id"], g["created_event_id"], g["removed_event_id"], g["removal_count"]) for g in table(out, "grants"))
    check(got == want and len(got) > 0, f"grant_lifecycle equals the grants table ({len(want)} grants)")
    got = sorted(con.sql("SELECT event_id, state, usable, previous_state FROM keytrail.key_state_timeline").fetchall())
    want = sorted((s["event_id"], s["state"], s["usable"], s["previous_state"]) for s in table(out, "key_states"))
    check(got == want and len(got) > 0, f"key_state_timeline equals the key_states table ({len(want)} changes)")
    rules = sorted(counts["findings_by_rule"])
    check(sorted({f["rule"] for f in cli}) == rules and len(cli) == counts["findings"], f"the CLI's findings cover all {len(rules)} rules ({len(cli)} findings)")
    got = recomputed(con)
    check(canon(got) == canon(cli), f"findings_recomputed equals keytrail findings --format json ({len(cli)} rows, every column)")
    keys = sorted(expected[0])
    check(canon(got, keys) == canon(expected, keys), f"findings_recomputed equals testdata/expected/findings.jsonl ({len(expected)} rows; {', '.join(keys)})")

    inv = Q / "investigations"
    usage = table(out, "proton_usage")
    pairs = sorted({(u["proton_template"], u["proton_resource"]) for u in usage if u["key_arn"] == K1 and u["outcome"] == "success"})
    rows = run(con, inv / "dependents_of_key.sql", {"key_arn": K1}).fetchall()
    check(sorted((r[0], r[1]) for r in rows) == pairs and len(pairs) > 1, f"dependents_of_key: the {len(pairs)} template/resource pairs of K1")
    rows = run(con, inv / "what_broke.sql", {"key_arn": K1}).fetchall()
    want = sorted(f["event_id"] + f["rule"] for f in cli if f["key_arn"] == K1 and f["rule"] in ("key-disabled-with-dependents", "key-deleted-with-dependents", "grant-removed-with-dependents", "denied-by-key-state", "denied-after-grant-removed", "use-after-key-disabled", "use-after-grant-retired"))
    check(sorted(r[4] + r[1] for r in rows) == want and want, f"what_broke: {len(want)} findings on K1")
    rows = run(con, inv / "uses_without_grant.sql", {"start": "2019-01-01 00:00:00", "end": "2030-01-01 00:00:00"}).fetchall()
    n = counts["findings_by_rule"]["use-without-grant"]
    check(len(rows) == sum(f["rule"] == "use-without-grant" for f in cli) == n, f"uses_without_grant: all {n} over all time")
    rows = run(con, inv / "uses_without_grant.sql", {"start": "2025-06-01 00:00:00", "end": "2030-01-01 00:00:00"}).fetchall()
    check(len(rows) == sum(f["rule"] == "use-without-grant" and f["event_time"] >= "2025-06-01" for f in cli), f"uses_without_grant: {len(rows)} since 2025-06-01")
    rows = run(con, inv / "who_changed_keys_and_grants.sql").fetchall()
    want = sum(e["error_code"] is None and e["event_name"] in ("DisableKey", "ScheduleKeyDeletion", "DeleteImportedKeyMaterial", "RetireGrant", "RevokeGrant") for e in events)
    check(len(rows) == want and want > 0 and rows[0][0] >= rows[-1][0], f"who_changed_keys_and_grants: {want} changes, newest first")
    rows = run(con, inv / "first_last_use.sql").fetchall()
    check(len(rows) == len({(u["proton_template"], u["proton_resource"]) for u in usage if u["outcome"] == "success"}), f"first_last_use: {len(rows)} template/resource pairs")
    rows = run(con, inv / "daily_usage.sql").fetchall()
    n = sum(e["category"] == "key-use" for e in events)
    check(sum(r[5] for r in rows) == n > 0 and sum(r[6] for r in rows) == sum(e["category"] == "key-use" and e["error_code"] is not None for e in events), f"daily_usage: the {n} key uses, failures counted")
    rows = run(con, inv / "keys_used_after_disablement.sql").fetchall()
    n = counts["findings_by_rule"]["use-after-key-disabled"]
    check(sum(r[3] for r in rows) == n, f"keys_used_after_disablement: the {n} uses after disablement")

    # 3. Ingestion order does not matter: shuffled file orders, each its own analyze run, and
    # a shuffled order split over two runs (the second with --append).
    for seed in (1, 2, 3):
        order = trail_files[:]
        random.Random(seed).shuffle(order)
        o = work / f"shuffled-{seed}"
        subprocess.run([keytrail, "analyze", *map(str, order), "--out", str(o)], check=True, capture_output=True)
        check(canon(recomputed(duck(o))) == canon(cli), f"findings_recomputed equals the CLI with files shuffled (seed {seed})")
    order = trail_files[:]
    random.Random(4).shuffle(order)
    o = work / "appended"
    half = len(order) // 2
    subprocess.run([keytrail, "analyze", *map(str, order[:half]), "--out", str(o)], check=True, capture_output=True)
    subprocess.run([keytrail, "analyze", *map(str, order[half:]), "--out", str(o), "--append"], check=True, capture_output=True)
    check(canon(recomputed(duck(o))) == canon(cli), "findings_recomputed equals the CLI with shuffled files ingested in two runs (--append)")
    print(f"check_queries: {checks} checks passed")


if __name__ == "__main__":
    main()
