"""Proves queries/: every file parses (Trino dialect for views, investigations and the
scheduled statement, Athena for
the DDL, strict, and a DDL that only parses as a generic Command fails); views and
investigations pass trino-sql-validator with function checks on; the DDL's columns equal
the Rust schema; every view and investigation runs on DuckDB (sqlglot's trino-to-duckdb
transpilation, no hand edits) against the Parquet `keytrail analyze` writes from testdata/,
with asserted results; findings_recomputed equals `keytrail findings --format json` exactly
(every column, advice included, related_event_ids in order) and the hand-derived
testdata/expected/findings.jsonl, for several shuffled ingestion orders and for a trail
ingested in two --append runs; every table reads through its DDL (key_policies with the row
count of counts.json); policy_verdicts equals the CLI's authorization column; and
findings_recomputed equals the CLI with the testdata baseline snapshots (reconciliation
included) and over generated trails of key policies (RULES.md section 6); the scheduled
statement (queries/scheduled/) writes into findings_daily (created from its DDL) exactly
findings_recomputed's rows, every column, with today's run_date, and a second run the same
day adds nothing; findings_latest is the newest run once; findings_added and
findings_withdrawn equal, by (rule, event_id), the recomputation minus the ingest-time
findings and the reverse, computed in Python from the Parquet of a trail ingested in two
halves judged apart. Missing test data fails the run: nothing is skipped.

Usage: check_queries.py KEYTRAIL_BIN
"""

import atexit
import gzip
import shutil
import json
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
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
         "key_policy_versions", "policy_requests", "policy_statements", "policy_verdicts", "baseline_findings", "findings_recomputed"]
TABLES = ["kms_events", "proton_usage", "grants", "key_states", "findings", "key_policies"]
# Views over findings_daily, which the scheduled statement writes: created after it.
DAILY_VIEWS = ["findings_latest", "findings_added", "findings_withdrawn"]
SCHEDULED = Q / "scheduled" / "materialize_findings.sql"
KEYS = ["rule", "severity", "authorization", "event_id", "event_time", "event_name", "key_arn", "account_id", "region",
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


def duck_type(t):
    """A DuckDB type as text, timestamps with or without a time zone alike."""
    return str(t).upper().replace("TEXT", "VARCHAR").replace(" WITH TIME ZONE", "").replace("TIMESTAMPTZ", "TIMESTAMP").replace('"', "").replace(" ", "")


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
        "SELECT rule, severity, \"authorization\", event_id, strftime(event_time, '%Y-%m-%dT%H:%M:%SZ') AS event_time, event_name, "
        "key_arn, account_id, region, principal, proton_template, proton_resource, related_event_ids, message, advice "
        "FROM keytrail.findings_recomputed"
    )
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


# A generated trail for the authorization verdict (RULES.md section 6): keys whose policies
# are drawn from every principal, action and condition form the evaluator knows (and some it
# does not), used without grants by every kind of caller; findings_recomputed must equal the
# CLI on all of it.
PA, PB = "111122223333", "444455556666"
CALLERS = [
    {"type": "IAMUser", "arn": f"arn:aws:iam::{PA}:user/alice", "accountId": PA},
    {"type": "AssumedRole", "arn": f"arn:aws:sts::{PA}:assumed-role/App/s1", "accountId": PA,
     "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{PA}:role/team/App", "accountId": PA}}},
    {"type": "AssumedRole", "arn": f"arn:aws:sts::{PA}:assumed-role/App/s2", "accountId": PA,
     "invokedBy": "ec2.amazonaws.com",
     "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{PA}:role/team/App", "accountId": PA}}},
    {"type": "AssumedRole", "arn": f"arn:aws:sts::{PB}:assumed-role/Other/s3", "accountId": PB, "invokedBy": "AWS Internal"},
    {"type": "AWSService", "invokedBy": "proton.amazonaws.com"},
    {"type": "AWSService", "invokedBy": "Proton.us-east-1.amazonaws.com"},
    {"type": "Root", "arn": f"arn:aws:iam::{PA}:root", "accountId": PA},
    {"type": "FederatedUser", "arn": f"arn:aws:sts::{PA}:federated-user/bob", "accountId": PA},
    {"type": "WebIdentityUser", "accountId": PA},
    {"type": "IAMUser", "arn": f"arn:aws:iam::{PA}:user/carol", "accountId": PA, "invokedBy": "s3.eu-west-1.amazonaws.com"},
    {"type": "AWSService", "invokedBy": "AWS Internal"},
    {"type": "IAMUser", "arn": f"arn:aws:iam::{PB}:user/dave"},
    {"type": "AssumedRole", "arn": f"arn:aws:sts::{PA}:assumed-role/App/s9", "accountId": PA, "invokedBy": "ec2.eu-west-1.amazonaws.com"},
    {"invokedBy": "AWS Internal", "accountId": PA},
]
PRINCIPALS = ["*", {"AWS": "*"}, {"AWS": PA}, {"AWS": f"arn:aws:iam::{PA}:root"}, {"AWS": f"arn:aws:iam::{PA}:role/App"},
              {"AWS": f"arn:aws:iam::{PA}:role/other/path/App"}, {"AWS": [f"arn:aws:iam::{PA}:user/alice", PB]},
              {"Service": "proton.amazonaws.com"}, {"Service": ["PROTON.eu-west-1.amazonaws.com"]},
              {"AWS": f"arn:aws:sts::{PA}:assumed-role/App/s1"}, {"AWS": f"arn:aws:sts::{PA}:federated-user/bob"},
              {"AWS": [f"arn:aws:iam::{PA}:root", f"arn:aws:iam::{PA}:user/alice"]}, {"AWS": f"arn:aws:iam::{PB}:root"},
              {"AWS": f"arn:aws:iam::{PB}:user/dave"}, {"AWS": PA, "Service": "ec2.amazonaws.com"}]
ACTIONS = [("Action", "kms:*"), ("Action", "kms:Decrypt"), ("Action", "KMS:decrypt"), ("Action", ["kms:Encrypt", "kms:Gen*"]),
           ("Action", "kms:?ncrypt"), ("Action", "kms:ReEncrypt*"), ("Action", "kms:Describe*"), ("NotAction", "kms:Decrypt"),
           ("NotAction", ["kms:Create*", "kms:Put*"]), ("Action", "*"), ("Action", " kms:decrypt "),
           ("Action", "kms:Gen_rate*"), ("Action", "kms:%")]
T, R = "aws:proton:template", "aws:proton:resource"
CONDITIONS = [
    ("StringEquals", f"kms:EncryptionContext:{T}", ["TEMPLATE"]), ("StringEquals", f"kms:EncryptionContext:{T}", ["nope"]),
    ("StringEqualsIgnoreCase", f"KMS:ENCRYPTIONCONTEXT:{T.upper()}", ["template".upper()]),
    ("StringLike", f"kms:EncryptionContext:{T}", ["arn:aws:proton:*:service-template/w?b*"]),
    ("StringNotLike", f"kms:EncryptionContext:{T}", ["*env*"]), ("StringNotEquals", f"kms:EncryptionContext:{R}", ["x"]),
    ("StringEquals", "kms:EncryptionContext:missing", ["x"]), ("StringEqualsIfExists", "kms:EncryptionContext:missing", ["x"]),
    ("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", [T]), ("ForAllValues:StringLike", "kms:EncryptionContextKeys", ["aws:proton:*"]),
    ("ForAllValues:StringEquals", "kms:EncryptionContextKeys", [T]), ("StringEquals", "kms:EncryptionContextKeys", [T]),
    ("ForAnyValue:StringLike", "kms:EncryptionContextKeys", ["x*"]), ("StringEquals", "kms:ViaService", ["ec2.us-east-1.amazonaws.com"]),
    ("StringLike", "kms:ViaService", ["*.amazonaws.com"]), ("StringEqualsIfExists", "kms:ViaService", ["s3.eu-west-1.amazonaws.com"]),
    ("Null", "kms:ViaService", ["true"]), ("Null", "kms:ViaService", ["false"]), ("Null", "kms:ViaService", ["maybe"]),
    ("StringEquals", "kms:CallerAccount", [PA]), ("StringNotEquals", "aws:PrincipalAccount", [PA]),
    ("ArnLike", "aws:PrincipalArn", [f"arn:aws:iam::{PA}:role/*"]), ("ArnEquals", "aws:PrincipalArn", ["arn:aws:iam::*:user/alice"]),
    ("ArnNotLike", "aws:PrincipalArn", ["arn:aws:iam::*:root"]), ("ArnLike", "aws:PrincipalArn", ["not-an-arn"]),
    ("StringEquals", "aws:PrincipalType", ["User"]), ("StringEquals", "aws:PrincipalServiceName", ["proton.amazonaws.com"]),
    ("Bool", "aws:SecureTransport", ["true"]), ("Bool", "kms:CallerAccount", ["true"]), ("NumericEquals", "kms:CallerAccount", ["1"]),
    ("StringEquals", "aws:PrincipalArn", ["${aws:username}"]), ("NullIfExists", "kms:ViaService", ["true"]),
    ("StringEquals", "kms:EncryptionContext:", ["x"]), ("StringLike", f"kms:EncryptionContext:{R}", ["*"]),
    ("ForAnyValue:StringNotEquals", f"kms:EncryptionContext:{T}", ["TEMPLATE"]), ("StringEquals", "kms:GrantIsForAWSResource", ["true"]),
    ("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*"]), ("ForAnyValue:StringEquals", "kms:CallerAccount", [PA, PB]),
    ("StringLike", f"kms:EncryptionContext:{T}", ["arn:aws:proton:*_*", "*web%1"]), ("StringEquals", "kms:ViaService", ["ec2.eu-west-1.amazonaws.com"]),
    ("StringEquals", "aws:PrincipalServiceName", ["AWS Internal"]), ("ForAllValues:StringEquals", "kms:ViaService", ["x"]),
    ("ForAnyValue:StringLike", "kms:ViaService", ["ec2.*"]), ("ForAllValues:StringNotEqualsIfExists", "aws:PrincipalType", ["User"]), ("ArnEquals", "aws:PrincipalArn", [f"arn:aws:iam::{PA}:role/team/App"]),
]


def policy_trail(path, seed):
    """Writes one CloudTrail file of keys with generated policies and their uses, no grants."""
    rng = random.Random(seed)
    recs = []
    t0 = datetime(2027, 1, 1, tzinfo=timezone.utc)

    def rec(name, when, caller, key, req, resp=None):
        recs.append({"eventVersion": "1.11", "userIdentity": caller, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": key.split(":")[3],
                     "sourceIPAddress": "192.0.2.10", "userAgent": "aws-cli/2", "requestParameters": req,
                     "responseElements": resp, "requestID": f"req-{len(recs)}", "eventID": f"{seed:02d}{len(recs):06d}-pol",
                     "readOnly": False, "resources": [{"accountId": key.split(":")[4], "type": "AWS::KMS::Key", "ARN": key}],
                     "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": key.split(":")[4],
                     "eventCategory": "Management"})

    def statement():
        st = {"Effect": rng.choice(["Allow"] * 8 + ["Deny", "allow"])}
        if rng.random() < 0.7:
            st["Sid"] = rng.choice(["Use", "Deny others", "", " ", "Key admins", " padded "])
        st["NotPrincipal" if rng.random() < 0.15 else "Principal"] = rng.choice(PRINCIPALS)
        name, action = rng.choice(ACTIONS)
        st[name] = action
        st["Resource"] = "*"
        cond = {}
        for op, key, values in rng.sample(CONDITIONS, rng.choice([0, 1, 1, 1, 2])):
            cond.setdefault(op, {})[key] = values if rng.random() < 0.5 or len(values) > 1 else values[0]
        if cond:
            st["Condition"] = cond
        return st

    admin = CALLERS[0]
    # A spare key with a grant and state changes, so that every table has rows.
    spare = f"arn:aws:kms:us-east-1:{PA}:key/{seed:02d}999999-0000-4000-8000-000000000000"
    rec("CreateGrant", t0, admin, spare, {"keyId": spare, "granteePrincipal": f"arn:aws:iam::{PB}:role/Nobody",
                                          "operations": ["Decrypt"]}, {"grantId": f"g{seed}", "keyId": spare})
    rec("DisableKey", t0, admin, spare, {"keyId": spare})
    rec("EnableKey", t0 + timedelta(hours=1), admin, spare, {"keyId": spare})
    # Every condition, principal and action of the pools alone in one Allow statement (the
    # others "*" or kms:*), used by every caller; then keys with random policies.
    singles = [({"Principal": "*", "Action": "kms:*", "Condition": {op: {key: values}}}, ["Decrypt"]) for op, key, values in CONDITIONS]
    singles += [({side: p, "Action": "kms:*"}, ["Decrypt"]) for p in PRINCIPALS for side in ("Principal", "NotPrincipal")]
    singles += [({"Principal": "*", name: action}, ["Decrypt", "Encrypt", "GenerateDataKey", "ReEncrypt"]) for name, action in ACTIONS]
    contexts = [{T: f"arn:aws:proton:us-east-1:{PA}:service-template/web%1"}, {T: "TEMPLATE", R: "x", "Extra": "y"}, {"aws:PROTON:template": "t", T: "u"}]
    for k, (st, ops) in enumerate(singles):
        key = f"arn:aws:kms:us-east-1:{PA}:key/{seed:02d}{k:06d}-1111-4000-8000-000000000000"
        when = t0 - timedelta(days=400 - k)
        rec("CreateKey", when, admin, key, {"policy": json.dumps({"Statement": [dict(st, Effect="Allow")]})},
            {"keyMetadata": {"arn": key, "keyId": key.split("/")[1]}})
        for c, caller in enumerate(CALLERS):
            ctx = contexts[(c + k) % len(contexts)]
            op = ops[c % len(ops)]
            req = {"keyId": key, "encryptionContext": ctx}
            if op == "ReEncrypt":
                req = {"sourceEncryptionContext": ctx, "destinationKeyId": key, "destinationEncryptionContext": ctx}
            rec(op, when + timedelta(seconds=600 + c), caller, key, req)
    for k in range(60):
        region = rng.choice(["us-east-1", "eu-west-1"])
        key = f"arn:aws:kms:{region}:{PA}:key/{seed:02d}{k:06d}-0000-4000-8000-000000000000"
        when = t0 + timedelta(days=k)
        kind = rng.choice(["create"] * 4 + ["put"] * 3 + ["create-default", "put-twice", "none", "broken", "empty"])
        policy = lambda: json.dumps({"Version": "2012-10-17", "Statement": [statement() for _ in range(rng.choice([1, 1, 1, 2, 3]))]})
        if kind.startswith("create"):
            req = {"keySpec": "SYMMETRIC_DEFAULT"}
            if kind == "create":
                req["policy"] = policy()
            rec("CreateKey", when, admin, key, req, {"keyMetadata": {"arn": key, "keyId": key.split("/")[1]}})
        elif kind != "none":
            text = {"broken": '{"Statement": [{"Effect": "Allow"}]}', "empty": '{"Statement": []}'}.get(kind) or policy()
            rec("PutKeyPolicy", when, admin, key, {"keyId": key, "policyName": "default", "policy": text})
            if kind == "put-twice":
                rec("PutKeyPolicy", when + timedelta(seconds=200), admin, key, {"keyId": key, "policyName": "default", "policy": policy()})
        for u in range(6):
            op = rng.choice(["Decrypt", "Encrypt", "GenerateDataKey", "ReEncrypt"])
            ctx = {T: f"arn:aws:proton:{region}:{PA}:service-template/" + rng.choice(["web", "TEMPLATE", "env", "web%1"])}
            if rng.random() < 0.7:
                ctx[R] = f"arn:aws:proton:{region}:{PA}:service/s{u}"
            if rng.random() < 0.2:
                ctx["Extra"] = "x"
            offset = rng.choice([0, 100, 250, 299, 300, 301, 450, 499, 500, 501, 3600])
            req = {"keyId": key, "encryptionContext": ctx}
            if op == "ReEncrypt":
                req = {"sourceEncryptionContext": ctx, "destinationKeyId": key, "destinationEncryptionContext": dict(ctx)}
            rec(op, when + timedelta(seconds=offset), rng.choice(CALLERS), key, req)
    with gzip.open(path, "wt") as f:
        json.dump({"Records": recs}, f)
    return len(recs)


def ddl_columns_of(name):
    """A DDL file's columns and partition columns as (name, DuckDB type)."""
    tree = sqlglot.parse_one((Q / "ddl" / f"{name}.sql").read_text(), read="athena", error_level=ErrorLevel.RAISE)
    cols = [(c.name, c.args["kind"].sql("duckdb")) for c in tree.this.expressions]
    parts = [(c.name, c.args["kind"].sql("duckdb")) for c in tree.find(exp.PartitionedByProperty).this.expressions]
    return cols, parts


def materialize(con, runs=1):
    """findings_daily as its DDL says (the partition column an ordinary column in DuckDB), the
    scheduled statement run `runs` times, then the views over findings_daily."""
    cols, parts = ddl_columns_of("findings_daily")
    con.execute(f"CREATE TABLE keytrail.findings_daily ({', '.join(f'{chr(34)}{n}{chr(34)} {t}' for n, t in cols + parts)})")
    for _ in range(runs):
        run(con, SCHEDULED)
    for v in DAILY_VIEWS:
        con.execute(sqlglot.parse_one((Q / "views" / f"{v}.sql").read_text(), read="trino", error_level=ErrorLevel.RAISE).sql("duckdb"))


def rows_of(con, relation, keys=KEYS):
    """A relation's rows as dicts over `keys` (event_time as the CLI writes it)."""
    cols = ", ".join("strftime(event_time, '%Y-%m-%dT%H:%M:%SZ') AS event_time" if k == "event_time" else f'"{k}"' for k in keys)
    rel = con.sql(f"SELECT {cols} FROM {relation}")
    return [dict(zip(rel.columns, row)) for row in rel.fetchall()]


def check_materialized(keytrail, work, trail_files, cli):
    """The scheduled statement and the views over findings_daily (queries/scheduled/,
    findings_latest, findings_added, findings_withdrawn)."""
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    cols, parts = ddl_columns_of("findings_daily")
    tree = sqlglot.parse_one(SCHEDULED.read_text(), read="trino", error_level=ErrorLevel.RAISE)
    check(isinstance(tree, exp.Insert) and tree.this.sql("trino") == "keytrail.findings_daily"
          and tree.expression.find(exp.Table).sql("trino") == "keytrail.findings_recomputed",
          "the scheduled statement is an INSERT INTO keytrail.findings_daily from keytrail.findings_recomputed")
    # INSERT INTO matches columns by position: its SELECT list is the table's columns, in order,
    # partition column last.
    check(tree.expression.named_selects == [n for n, _ in cols + parts] and [n for n, _ in parts] == ["run_date"],
          f"its SELECT list is findings_daily's columns in order, run_date last ({tree.expression.named_selects})")

    con = duck(work / "tables")
    got = con.sql("DESCRIBE keytrail.findings_recomputed").fetchall()
    check([(r[0], duck_type(r[1])) for r in got] == [(n, duck_type(t)) for n, t in cols],
          "findings_daily's DDL columns are findings_recomputed's, names and types, in order")
    n = con.sql("SELECT count(*) FROM keytrail.findings_recomputed").fetchall()[0][0]
    distinct = con.sql("SELECT count(*) FROM (SELECT DISTINCT * FROM keytrail.findings_recomputed)").fetchall()[0][0]
    check(n == distinct == len(cli) > 0, f"findings_recomputed has no two equal rows ({n}), so findings_latest's DISTINCT drops none")
    materialize(con, runs=2)
    daily = rows_of(con, "keytrail.findings_daily", KEYS + ["run_date"])
    check(len(daily) == n and {r["run_date"] for r in daily} == {today},
          f"two runs on one day insert the day's findings once, run_date {today} ({len(daily)} rows)")
    check(canon(daily) == canon(recomputed(con)) == canon(cli),
          f"findings_daily's run equals findings_recomputed (and the CLI) on every column ({n} rows)")
    # An older run with a finding since withdrawn, and the day's rows inserted a second time
    # (two runs started together): findings_latest is the newest run, once.
    con.execute("INSERT INTO keytrail.findings_daily SELECT * REPLACE ('2000-01-01' AS run_date) FROM keytrail.findings_daily")
    con.execute("INSERT INTO keytrail.findings_daily SELECT * REPLACE ('2000-01-02' AS run_date, 'old-rule' AS rule) FROM keytrail.findings_daily WHERE run_date = '2000-01-01'")
    con.execute(f"INSERT INTO keytrail.findings_daily SELECT * FROM keytrail.findings_daily WHERE run_date = '{today}'")
    check(canon(rows_of(con, "keytrail.findings_latest", KEYS + ["run_date"])) == canon(daily),
          "findings_latest is the newest run_date's rows, each once (older runs and a doubled day left out)")
    check(con.sql("SELECT count(*) FROM keytrail.findings_added").fetchall() == [(0,)]
          and con.sql("SELECT count(*) FROM keytrail.findings_withdrawn").fetchall() == [(0,)],
          "with ingest-time findings judged over the whole trail at once, the recomputation adds and withdraws nothing")

    # Ingest-time findings that depend on arrival order: the trail in two halves, each judged
    # without the other (the Lambda judging files before older ones arrived).
    order = trail_files[:]
    random.Random(5).shuffle(order)
    halves = [order[: len(order) // 2], order[len(order) // 2:]]
    ingest = []
    for i, files in enumerate(halves):
        o = work / f"ingest-{i}"
        subprocess.run([keytrail, "analyze", *map(str, files), "--out", str(o)], check=True, capture_output=True)
        ingest.append(o)
    con = duck(work / "tables")
    globs = ", ".join(f"'{o}/findings/**/*.parquet'" for o in ingest)
    con.execute(f"CREATE OR REPLACE VIEW keytrail.findings AS SELECT * FROM read_parquet([{globs}], hive_partitioning=true, "
                "hive_types={'account_id': VARCHAR, 'region': VARCHAR, 'event_date': VARCHAR})")
    materialize(con)
    # Independently, in Python: the recomputation is the CLI's findings over the whole trail;
    # the ingest-time findings are the Parquet the two halves wrote.
    ingest_rows = [r for o in ingest for r in table(o, "findings")]
    key = lambda r: (r["rule"], r["event_id"])
    ingest_keys = {key(r) for r in ingest_rows}
    cli_keys = {key(r) for r in cli}
    want_added = [r for r in cli if key(r) not in ingest_keys]
    got_added = rows_of(con, "keytrail.findings_added", KEYS + ["run_date"])
    check(want_added and canon(got_added) == canon(want_added) and {r["run_date"] for r in got_added} == {today},
          f"findings_added is the recomputation minus the ingest-time findings by (rule, event_id), every column"
          f" ({len(want_added)} of {len(cli)}: {sorted({r['rule'] for r in want_added})})")
    want_withdrawn = {json.dumps({k: (str(v) if k == "event_time" else v) for k, v in r.items() if k in KEYS}, sort_keys=True)
                      for r in ingest_rows if key(r) not in cli_keys}
    got_withdrawn = con.sql("SELECT count(*), count(DISTINCT (rule, event_id)) FROM keytrail.findings_withdrawn").fetchall()[0]
    check(want_withdrawn and got_withdrawn[0] == len(want_withdrawn)
          and sorted({key(r) for r in rows_of(con, "keytrail.findings_withdrawn")}) == sorted({key(r) for r in ingest_rows if key(r) not in cli_keys}),
          f"findings_withdrawn is the ingest-time findings the recomputation does not confirm, by (rule, event_id), once each"
          f" ({got_withdrawn[0]} rows)")


def main():
    keytrail = sys.argv[1]
    counts = json.loads((EXPECTED / "counts.json").read_text())
    expected = [json.loads(l) for l in (EXPECTED / "findings.jsonl").read_text().splitlines() if l.strip()]
    trail_files = sorted(p for p in TRAIL.rglob("*.gz"))
    check(len(trail_files) > 0 and len(expected) == counts["findings"] > 0, f"test data present: {len(trail_files)} trail files, {len(expected)} expected findings")
    schema = json.loads(subprocess.check_output([keytrail, "schema", "--format", "json"]))

    # 1. Parsing and validation.
    ddl_columns = {}
    files = sorted(Q.rglob("*.sql"))
    check(len(files) == 7 + 14 + 7 + 1, f"queries/ holds 7 DDL, 14 views, 7 investigations, 1 scheduled statement ({len(files)})")
    for f in files:
        text = f.read_text()
        check(text.startswith("--"), f"{f.name} starts with a header comment")
        if f.parent.name == "ddl":
            tree = sqlglot.parse_one(text, read="athena", error_level=ErrorLevel.RAISE)
            check(isinstance(tree, exp.Create) and not isinstance(tree, exp.Command), f"{f.name} parses as CREATE, not a generic Command")
            table_name = tree.this.this.name
            cols = [(c.name, c.args["kind"].sql("hive").lower()) for c in tree.this.expressions]
            ddl_columns[table_name] = [(c.name, c.args["kind"]) for c in tree.this.expressions]
            # keytrail's tables, or one a scheduled Athena query writes (partitioned by run_date).
            athena = schema["athena_tables"].get(table_name)
            want_cols = athena["columns"] if athena else schema["tables"][table_name]
            want_parts = athena["partition_columns"] if athena else schema["partition_columns"]
            want = [(c["name"], c["type"]) for c in want_cols]
            norm = lambda t: t.replace(" ", "").replace("varchar", "string")
            check([(n, norm(t)) for n, t in cols] == [(n, norm(t)) for n, t in want], f"{f.name}: columns and types equal the Rust schema")
            parts = tree.find(exp.PartitionedByProperty)
            check(parts is not None and [(c.name, norm(c.args["kind"].sql("hive").lower())) for c in parts.this.expressions]
                  == [(c["name"], norm(c["type"])) for c in want_parts], f"{f.name}: partition columns")
            if athena:
                check("projection." not in text and f"LOCATION '${{output}}/{table_name}/'" in text,
                      f"{f.name}: no partition projection (INSERT INTO registers its partitions), under {table_name}/")
            else:
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
    # Every table reads through its DDL: each DDL column is in the Parquet keytrail writes,
    # with the DDL's type (a struct's fields and an array's elements included).
    check(sorted(ddl_columns) == sorted(TABLES + list(schema["athena_tables"])), f"one DDL per table ({sorted(ddl_columns)})")
    for name, cols in ((n, c) for n, c in ddl_columns.items() if n in TABLES):
        rel = con.sql(f"SELECT {', '.join(chr(34) + c + chr(34) for c, _ in cols)} FROM keytrail.{name}")
        got = [duck_type(t) for t in rel.types]
        want = [duck_type(k.sql("duckdb")) for _, k in cols]
        check(rel.columns == [c for c, _ in cols] and got == want, f"{name} reads through its DDL ({list(zip(rel.columns, got, want))})")
    n = con.sql("SELECT count(*) FROM keytrail.key_policies").fetchall()[0][0]
    check(n == len(table(out, "key_policies")), f"key_policies: DuckDB and pyarrow read the same {n} rows")
    if "key_policies_rows" in counts:
        check(n == counts["key_policies_rows"], f"key_policies: {counts['key_policies_rows']} rows as counts.json says ({n})")
    got = con.sql("SELECT count(*), count(DISTINCT version_id) FROM keytrail.key_policy_versions").fetchall()[0]
    check(got[0] <= n and (got[1] > 0) == (n > 0), f"key_policy_versions: {got[0]} rows, {got[1]} versions, of {n} key_policies rows")

    rules = sorted(counts["findings_by_rule"])
    check(sorted({f["rule"] for f in cli}) == rules and len(cli) == counts["findings"], f"the CLI's findings cover all {len(rules)} rules ({len(cli)} findings)")
    got = recomputed(con)
    check(canon(got) == canon(cli), f"findings_recomputed equals keytrail findings --format json ({len(cli)} rows, every column)")
    # The authorization verdict (RULES.md section 6): the view's verdict of each use the two
    # rules report is the CLI's authorization; every other finding has none; severity follows.
    authz = {"unexplained": "high", "unknown": "medium", "iam-delegated": "low", "key-policy": "low"}
    two = ("use-without-grant", "use-after-grant-retired")
    verdicts = {}
    for e, k, o, a in con.sql("SELECT event_id, key_arn, operation, \"authorization\" FROM keytrail.policy_verdicts").fetchall():
        verdicts.setdefault((e, k, o), []).append(a)
    mine = [f for f in cli if f["rule"] in two]
    check(all(f["authorization"] is None for f in cli if f["rule"] not in two) and all(f["authorization"] in authz for f in mine),
          "the CLI gives an authorization to use-without-grant and use-after-grant-retired only")
    # A use side is named by its event, key and operation (the message's first word).
    side = lambda f: (f["event_id"], f["key_arn"], f["message"].split(" ", 1)[0])
    bad = [(side(f), f["authorization"], verdicts.get(side(f))) for f in mine if verdicts.get(side(f)) != [f["authorization"]]]
    check(not bad and mine, f"policy_verdicts equals the CLI's authorization on its {len(mine)} findings ({bad})")
    check(all(authz[f["authorization"]] == f["severity"] for f in mine), "the two rules' severity follows the authorization")
    by = {}
    for f in mine:
        by[f["authorization"]] = by.get(f["authorization"], 0) + 1
    print(f"check_queries: authorization verdicts {dict(sorted(by.items()))}")

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

    # 4. With a baseline (RULES.md 6.6): the snapshots' grants cover uses (from the earlier of
    # their CreationDate and their CreateGrant), their policies are versions, their states
    # reconcile with the trail's. Every finding equals the CLI's on every column.
    baseline = sorted((ROOT / "testdata" / "baseline").glob("*.json"))
    flags = [a for b in baseline for a in ("--baseline", str(b))]
    o = work / "baseline"
    subprocess.run([keytrail, "analyze", str(TRAIL), *flags, "--out", str(o)], check=True, capture_output=True)
    want = cli_findings(keytrail, TRAIL, *flags)
    n_recon = sum(f["rule"] in ("grant-missing-from-trail", "state-disagrees-with-snapshot") for f in want)
    named = sum("the policy in the snapshot taken at" in f["message"] for f in want)
    con = duck(o)
    got = sorted(con.sql("SELECT event_id, state, usable, previous_state FROM keytrail.key_state_timeline").fetchall())
    states = table(o, "key_states")
    trail_states = sorted((r["event_id"], r["state"], r["usable"], r["previous_state"]) for r in states if r["source"] == "trail")
    check(got == trail_states and len(trail_states) < len(states),
          f"key_state_timeline with the baseline: the key_states table's trail rows ({len(trail_states)}), not the snapshots' observations")
    check(len(baseline) > 0 and named > 0 and n_recon > 0 and canon(recomputed(con)) == canon(want),
          f"findings_recomputed equals the CLI with {len(baseline)} baseline snapshots ({len(want)} findings, {named} verdicts "
          f"from a snapshot's policy, {n_recon} reconciliation findings)")

    # 5. Generated policies: every verdict, sentence, severity and related event the CLI gives.
    for seed in (11, 12, 13):
        o = work / f"policies-{seed}"
        o.mkdir()
        n = policy_trail(o / "trail.json.gz", seed)
        subprocess.run([keytrail, "analyze", str(o / "trail.json.gz"), "--out", str(o / "tables")], check=True, capture_output=True)
        want = cli_findings(keytrail, o / "trail.json.gz")
        got = recomputed(duck(o / "tables"))
        kinds = sorted({f["authorization"] for f in want if f["authorization"]})
        check(canon(got) == canon(want) and len(kinds) == 4,
              f"findings_recomputed equals the CLI over generated policies (seed {seed}: {n} events, {len(want)} findings, verdicts {kinds})")

    # 6. The daily materialisation: the scheduled statement, findings_latest, findings_added
    # and findings_withdrawn.
    check_materialized(keytrail, work, trail_files, cli)
    print(f"check_queries: {checks} checks passed")


if __name__ == "__main__":
    main()
