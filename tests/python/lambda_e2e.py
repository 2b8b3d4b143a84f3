"""End-to-end proof of the keytrail Lambda against a real S3 API and the real Lambda
runtime loop, with no AWS account.

- moto's S3 and DynamoDB server on 127.0.0.1 (started here, stopped by PID), behind a small
  TCP proxy that can "stop the server" mid-run;
- each function keeps its cross-file state in its own DynamoDB table (KEYTRAIL_STATE_TABLE,
  as the template deploys it), except the migration scenario's first half, which uses the
  S3 ledgers of older deployments and then moves them with `keytrail state migrate`;
- the function runs in the real lambda_runtime loop under `cargo lambda watch`, invoked with
  `cargo lambda invoke` using the real payload shapes in testdata/events/;
- the Parquet the function writes is read back from S3 with pyarrow and compared with what
  the CLI writes and finds on the same files.

Usage: lambda_e2e.py  (run from the repository root, with .venv/bin on PATH)
"""

import copy
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import boto3
import pyarrow.dataset as ds

from harness import CHECKS, check, free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
TRAIL = ROOT / "testdata" / "trail"
EVENTS = ROOT / "testdata" / "events"
KEYTRAIL = ROOT / "target" / "debug" / "keytrail"
# A secret no log may show (checked at the end); moto accepts any credentials.
SECRET = "keytrail-e2e-SECRET-never-logged"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAKEYTRAILE2E", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


class Proxy:
    """TCP proxy to the S3 server. When a client request contains `trip`, the proxy goes
    down: that connection and every open one are reset and new connections are refused,
    until up() is called. This is an S3 server stopping in the middle of a run."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.trip = None
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None
        self.up()

    def up(self):
        self.down_flag = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self):
        self.down_flag = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            for c in self.conns:
                try:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    c.close()
                except OSError:
                    pass
            self.conns = []

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.down_flag:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client and self.trip and self.trip in data:
                    self.trip = None
                    self.down()
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass


STATE_TABLES = []


def create_state_table(endpoint, name):
    """A table with the template's key schema and TTL (moto, on-demand)."""
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    STATE_TABLES.append(name)
    return name


def table_items(endpoint, name):
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    return [i for page in ddb.get_paginator("scan").paginate(TableName=name) for i in page["Items"]]


class Function:
    """The function under `cargo lambda watch`, invoked with `cargo lambda invoke`. Its
    state is the DynamoDB table `state` (created by the caller), or the S3 ledgers when
    `state` is None."""

    def __init__(self, endpoint, output, log_path, extra_env=None, state=None):
        self.port = free_port()
        state_env = {"KEYTRAIL_STATE_TABLE": state} if state else {}
        env = dict(os.environ, **CREDS, AWS_ENDPOINT_URL=endpoint, KEYTRAIL_OUTPUT=output, **state_env, **(extra_env or {}))
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            ["cargo", "lambda", "watch", "--bin", "keytrail-lambda", "--invoke-port", str(self.port), "--ignore-changes"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_port(self.port)

    def invoke(self, payload):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(payload, f)
        t0 = time.time()
        r = subprocess.run(
            ["cargo", "lambda", "invoke", "keytrail-lambda", "--invoke-port", str(self.port), "--data-file", f.name],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        os.unlink(f.name)
        dt = time.time() - t0
        if r.returncode != 0:
            return False, (r.stderr or r.stdout).strip(), dt
        return True, json.loads(r.stdout), dt

    def deliver(self, paths, keys, prefix, what):
        """Each path's object as an SQS-wrapped S3 notification, in order; all must succeed."""
        for i, p in enumerate(paths):
            ok, resp, _ = self.invoke(payload("sqs-s3", "trail", keys[p], msg_id=f"{prefix}-{i}"))
            if not succeeded("sqs-s3", ok, resp):
                raise AssertionError(f"{what} {keys[p]}: {resp}")

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def event(name):
    return json.loads((EVENTS / name).read_text())


def payload(kind, bucket, key, msg_id="m-1"):
    """A real payload shape of `kind` naming s3://bucket/key."""
    if kind == "s3":
        p = event("s3-put.json")
        r = p["Records"][0]["s3"]
        r["bucket"]["name"] = bucket
        r["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        r["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
        r["object"]["eTag"] = f"etag-{abs(hash(key))}"
        del r["object"]["versionId"]
        return p
    if kind in ("sqs-s3", "sqs-sns-s3", "sqs-cloudtrail-sns"):
        p = event(f"{kind}.json")
        inner = payload("s3", bucket, key)
        body = json.dumps(inner)
        if kind == "sqs-sns-s3":
            env = json.loads(p["Records"][0]["body"])
            env["Message"] = body
            body = json.dumps(env)
        elif kind == "sqs-cloudtrail-sns":
            env = json.loads(p["Records"][0]["body"])
            env["Message"] = json.dumps({"s3Bucket": bucket, "s3ObjectKey": [key]})
            body = json.dumps(env)
        p["Records"][0]["body"] = body
        p["Records"][0]["messageId"] = msg_id
        return p
    if kind == "sns-cloudtrail":
        p = event("sns-cloudtrail.json")
        p["Records"][0]["Sns"]["Message"] = json.dumps({"s3Bucket": bucket, "s3ObjectKey": [key]})
        return p
    if kind == "eventbridge":
        p = event("eventbridge-object-created.json")
        p["detail"]["bucket"]["name"] = bucket
        p["detail"]["object"]["key"] = key
        p["detail"]["object"]["etag"] = f"etag-{abs(hash(key))}"
        del p["detail"]["object"]["version-id"]
        return p
    if kind == "batch":
        p = event("batch-operations.json")
        p["tasks"][0]["s3Key"] = urllib.parse.quote(key, safe="/")
        p["tasks"][0]["s3BucketArn"] = f"arn:aws:s3:::{bucket}"
        p["tasks"][0]["taskId"] = msg_id
        return p
    raise ValueError(kind)


def succeeded(kind, ok, resp):
    if not ok:
        return False
    if kind.startswith("sqs"):
        return resp.get("batchItemFailures") == []
    if kind == "batch":
        return [r["resultCode"] for r in resp["results"]] == ["Succeeded"]
    return resp.get("status") == "ok"


def first_event_time(path):
    with gzip.open(path) as f:
        doc = json.load(f)
    times = [r.get("eventTime") or "" for r in doc.get("Records", []) if isinstance(r, dict)]
    return min([t for t in times if t] or ["9999"])


def download(s3, bucket, prefix, dest):
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix):].lstrip("/")
            target = Path(dest) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, o["Key"], str(target))
            n += 1
    return n


def table(root, name):
    p = Path(root) / name
    if not p.exists():
        return None
    return ds.dataset(p, format="parquet", partitioning="hive").to_table()


def finding_keys(rows):
    return sorted((r["rule"], r["event_id"], r["key_arn"] or "", tuple(sorted(r["related_event_ids"]))) for r in rows)


def cli_findings(*args, env=None):
    r = subprocess.run([str(KEYTRAIL), "findings", *args, "--format", "json"], capture_output=True, text=True, env=env)
    assert r.returncode in (0, 1), r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def listing(s3, bucket, prefix):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["ETag"]
    return out


def main():
    work = Path(tempfile.mkdtemp(prefix="keytrail-e2e-"))
    passed = False
    moto_port = free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)], stdout=open(work / "moto.log", "w"), stderr=subprocess.STDOUT)
    functions = []
    try:
        wait_port(moto_port)
        direct = f"http://127.0.0.1:{moto_port}"
        proxy = Proxy(moto_port)
        via_proxy = f"http://127.0.0.1:{proxy.port}"
        s3 = boto3.client("s3", endpoint_url=direct, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="trail")
        s3.create_bucket(Bucket="out")
        files = sorted(p for p in TRAIL.rglob("*.gz"))
        keys = {}
        for p in files:
            key = str(p.relative_to(TRAIL))
            s3.upload_file(str(p), "trail", key)
            keys[p] = key
        print(f"uploaded {len(files)} objects to s3://trail", flush=True)

        # The CLI on the same files: the reference.
        ref_dir = work / "cli"
        ref_summary = subprocess.run([str(KEYTRAIL), "analyze", str(TRAIL), "--out", str(ref_dir)], check=True, capture_output=True, text=True).stdout
        ref_events = sorted(table(ref_dir, "kms_events").column("event_id").to_pylist())
        ref_findings = finding_keys(cli_findings(str(TRAIL)))

        # 1. Every trigger kind, files in event order.
        f1 = Function(via_proxy, "s3://out/inorder", work / "lambda-inorder.log", state=create_state_table(direct, "state-inorder"))
        functions.append(f1)
        kinds = ["s3", "sqs-s3", "sqs-sns-s3", "sqs-cloudtrail-sns", "sns-cloudtrail", "eventbridge", "batch"]
        record_files = [p for p in files if "/CloudTrail/" in str(p)]
        ordered = sorted(record_files, key=lambda p: (first_event_time(p), str(p))) + [p for p in files if p not in record_files]
        times = []
        for i, p in enumerate(ordered):
            kind = kinds[i % len(kinds)]
            ok, resp, dt = f1.invoke(payload(kind, "trail", keys[p], msg_id=f"m-{i}"))
            times.append(dt)
            if not succeeded(kind, ok, resp):
                raise AssertionError(f"{kind} for {keys[p]}: {resp}")
        check(True, f"{len(ordered)} invocations over 7 trigger kinds all succeeded (median {sorted(times)[len(times)//2]*1000:.0f} ms per invoke)")
        for name in ("s3-test-event.json", "sns-validation.json"):
            ok, resp, _ = f1.invoke(event(name))
            check(ok and resp.get("status") == "ok", f"{name} is acknowledged")
        ok, resp, _ = f1.invoke({"something": "else"})
        check(not ok and "unrecognised trigger payload" in resp and "something" in resp, "an unknown payload fails saying what arrived")

        got = work / "inorder"
        download(s3, "out", "inorder/", got)
        lam_events = sorted(table(got, "kms_events").column("event_id").to_pylist())
        # Each object is its own run: an eventID CloudTrail delivered in two objects is a row
        # in each (the views and `findings --tables` dedupe on eventID). Nothing else repeats.
        cross_file_dups = int(ref_summary.split("duplicates dropped ")[1].split()[0])
        check(sorted(set(lam_events)) == ref_events, f"kms_events from the Lambda hold exactly the CLI's {len(ref_events)} events")
        check(len(lam_events) - len(set(lam_events)) == cross_file_dups, f"the only repeated rows are the {cross_file_dups} events CloudTrail delivered twice")
        # A finding the Lambda streams lists the other copy of a cross-account call only when
        # that copy (another account's file) was processed first; findings --tables and the
        # Athena view list every copy. Compare with those copy ids left out; everything else
        # is exact (and section 6 checks the exact recomputation).
        ev = table(ref_dir, "kms_events").to_pylist()
        calls = {}
        for e in ev:
            if e["shared_event_id"]:
                calls.setdefault(e["shared_event_id"], set()).add(e["event_id"])
        copies = {i for ids in calls.values() for i in ids if i != min(ids)}
        check(len(copies) == 2, f"the trail holds {len(copies)} cross-account copies (2 expected)")

        def without_copies(keys):
            return sorted({(r, e, k, tuple(x for x in rel if x not in copies)) for (r, e, k, rel) in keys})

        lam_findings = without_copies(finding_keys(table(got, "findings").to_pylist()))
        ref_findings_streamed = ref_findings
        ref_findings = without_copies(ref_findings)
        if lam_findings != ref_findings:
            for x in sorted(set(lam_findings) - set(ref_findings)):
                print("    extra  ", x)
            for x in sorted(set(ref_findings) - set(lam_findings)):
                print("    missing", x)
        check(lam_findings == ref_findings, f"Lambda findings in event order equal the CLI's ({len(ref_findings)})")
        ref_findings = ref_findings_streamed
        inorder_items = table_items(direct, "state-inorder")
        kinds_seen = sorted({i["sk"]["S"].split("#")[0] for i in inorder_items})
        check(len(inorder_items) > 50 and {"e", "g", "u", "w"} <= set(kinds_seen) and not listing(s3, "out", "inorder/_ledger/"),
              f"the state is {len(inorder_items)} items in the table (kinds {kinds_seen}), no ledger object in S3")

        # 2. The same notification twice: same objects, no duplicate rows.
        before = listing(s3, "out", "inorder/")
        p0 = ordered[0]
        ok, resp, _ = f1.invoke(payload("s3", "trail", keys[p0]))
        ok2, resp2, _ = f1.invoke(payload("sqs-s3", "trail", keys[p0], msg_id="again"))
        after = listing(s3, "out", "inorder/")
        tables_before = {k: v for k, v in before.items() if "/_ledger/" not in k}
        tables_after = {k: v for k, v in after.items() if "/_ledger/" not in k}
        check(ok and ok2 and tables_before == tables_after, "a redelivered notification rewrites the same objects with the same bytes")
        again = work / "again"
        download(s3, "out", "inorder/kms_events/", again / "kms_events")
        check(sorted(table(again, "kms_events").column("event_id").to_pylist()) == lam_events, "and adds no duplicate rows")

        # 3. Inline records: EventBridge API call and CloudWatch Logs subscription.
        for name in ("eventbridge-api-call.json", "cloudwatch-logs.json"):
            ok, resp, _ = f1.invoke(event(name))
            check(ok and resp["kms_events"] == 1, f"{name}: one KMS event ingested")

        # 4. A permanent failure is quarantined and reported; a retryable one is retried.
        s3.upload_file(str(ROOT / "testdata/broken/truncated.json.gz"), "trail", "AWSLogs/111122223333/CloudTrail/us-east-1/2025/01/01/broken.json.gz")
        ok, resp, _ = f1.invoke(payload("sqs-s3", "trail", "AWSLogs/111122223333/CloudTrail/us-east-1/2025/01/01/broken.json.gz", msg_id="bad-1"))
        check(ok and resp["batchItemFailures"] == [{"itemIdentifier": "bad-1"}], "a corrupt object fails its message (towards the DLQ)")
        q = listing(s3, "out", "inorder/_quarantine/")
        check(any("broken.json.gz" in k for k in q), "and is quarantined with its reason")
        ok, resp, _ = f1.invoke(payload("batch", "trail", "AWSLogs/none.json.gz", msg_id="t-missing"))
        check(ok and resp["results"][0]["resultCode"] == "PermanentFailure", "a missing object is a PermanentFailure task")

        # 5. The S3 server stops mid-run: only the affected messages fail, a rerun completes.
        f3 = Function(via_proxy, "s3://out/outage", work / "lambda-outage.log", state=create_state_table(direct, "state-outage"))
        functions.append(f3)
        with_kms = [p for p in record_files if b"kms.amazonaws.com" in gzip.open(p).read()]
        a, b = with_kms[0], with_kms[1]
        batch = {"Records": [
            payload("sqs-s3", "trail", keys[a], msg_id="before-outage")["Records"][0],
            payload("sqs-s3", "trail", keys[b], msg_id="during-outage")["Records"][0],
            dict(payload("sqs-s3", "trail", keys[a], msg_id="test-event")["Records"][0], body=json.dumps(event("s3-test-event.json"))),
        ]}
        proxy.trip = urllib.parse.quote(keys[b].rsplit("/", 1)[1]).encode()
        ok, resp, _ = f3.invoke(batch)
        check(ok and resp["batchItemFailures"] == [{"itemIdentifier": "during-outage"}], "S3 stops mid-batch: only the message that needed it fails")
        log = (work / "lambda-outage.log").read_text()
        check('"retryable":true' in log and "during-outage" in log, "and its failure is classified retryable")
        proxy.up()
        ok, resp, _ = f3.invoke({"Records": [batch["Records"][1]]})
        check(ok and resp["batchItemFailures"] == [], "the redelivered message completes once S3 is back")
        out3 = work / "outage"
        download(s3, "out", "outage/kms_events/", out3 / "kms_events")
        want = sorted(table_events for table_events in subprocess_events(work, [a, b]))
        check(sorted(table(out3, "kms_events").column("event_id").to_pylist()) == want, "nothing lost, nothing doubled")

        # 6. Files delivered in reverse order: the recomputation over the tables still equals the CLI.
        f2 = Function(via_proxy, "s3://out/reverse", work / "lambda-reverse.log", state=create_state_table(direct, "state-reverse"))
        functions.append(f2)
        f2.deliver(reversed(ordered), keys, "r", "reverse")
        env = dict(os.environ, **CREDS, AWS_ENDPOINT_URL=direct)
        recomputed = finding_keys(cli_findings("--tables", "s3://out/reverse", env=env))
        check(recomputed == ref_findings, "files in reverse order: keytrail findings --tables s3://... equals the CLI")
        rev = work / "reverse"
        download(s3, "out", "reverse/findings/", rev / "findings")
        at_ingest = finding_keys(table(rev, "findings").to_pylist())
        print(f"  note: findings at ingest in reverse order: {len(at_ingest)} (authoritative recomputation: {len(recomputed)})")

        # 6b. A baseline: the snapshots of testdata/baseline under s3://out/base/baseline/
        # (KEYTRAIL_BASELINE, as the template sets it). Files in event order give the CLI's
        # findings with --baseline, but the reconciliation ones, which findings --tables
        # --baseline gives (it sees the whole input).
        snaps = sorted((ROOT / "testdata" / "baseline").glob("*.json"))
        check(len(snaps) == 3, f"testdata/baseline holds {len(snaps)} snapshots (3 expected)")
        for s in snaps:
            s3.upload_file(str(s), "out", f"base/baseline/{s.name}")
        fb = Function(via_proxy, "s3://out/base", work / "lambda-baseline.log", {"KEYTRAIL_BASELINE": "s3://out/base/baseline/"}, state=create_state_table(direct, "state-base"))
        functions.append(fb)
        fb.deliver(ordered, keys, "b", "baseline")
        flags = [x for s in snaps for x in ("--baseline", str(s))]
        with_base = cli_findings(str(TRAIL), *flags)
        expected_base = [l for l in (ROOT / "testdata" / "expected" / "findings_with_baseline.jsonl").read_text().splitlines() if l.strip()]
        check(len(with_base) == len(expected_base), f"the CLI with the three snapshots gives {len(with_base)} findings ({len(expected_base)} expected)")
        base_dir = work / "base"
        download(s3, "out", "base/findings/", base_dir / "findings")
        streamed = without_copies(finding_keys(table(base_dir, "findings").to_pylist()))
        want = without_copies(finding_keys([f for f in with_base if f["event_id"]]))
        check(streamed == want, f"Lambda findings with KEYTRAIL_BASELINE equal the CLI's with --baseline, reconciliation aside ({len(want)})")
        env = dict(os.environ, **CREDS, AWS_ENDPOINT_URL=direct)
        recomputed = finding_keys(cli_findings("--tables", "s3://out/base", *flags, env=env))
        check(recomputed == finding_keys(with_base), f"and findings --tables s3://... --baseline gives all {len(with_base)}, reconciliation included")

        # 6c. Migration: a deployment on the S3 ledgers takes the first half of the files,
        # `keytrail state migrate` moves its ledgers into a table (twice: idempotent), and the
        # function on the table takes the second half: the findings are the CLI's, as if one
        # deployment had seen everything. A table that was never migrated gives others.
        half = len(ordered) // 2
        fo = Function(via_proxy, "s3://out/migrate", work / "lambda-migrate-old.log")
        functions.append(fo)
        fo.deliver(ordered[:half], keys, "mo", "migrate (ledgers)")
        fo.stop()
        functions.remove(fo)
        ledgers = listing(s3, "out", "migrate/_ledger/")
        check(len(ledgers) >= 3, f"the first half left {len(ledgers)} ledger objects in S3")
        mtable = create_state_table(direct, "state-migrate")
        env = dict(os.environ, **CREDS, AWS_ENDPOINT_URL=direct)
        runs = [subprocess.run([str(KEYTRAIL), "state", "migrate", "--ledgers", "s3://out/migrate", "--table", mtable], capture_output=True, text=True, env=env) for _ in range(2)]
        counts = []
        for r in runs:
            m = re.search(r"migrated (\d+) ledgers .* (\d+) items written", r.stdout)
            counts.append(len(table_items(direct, mtable)))
            check(r.returncode == 0 and m and int(m.group(1)) == len(ledgers), f"keytrail state migrate: {r.stdout.strip() or r.stderr.strip()}")
        check(counts[0] == counts[1] > 0 and listing(s3, "out", "migrate/_ledger/") == ledgers, f"a second migration changes nothing ({counts[0]} items) and the ledger objects are left as they were")
        fn = Function(via_proxy, "s3://out/migrate", work / "lambda-migrate-new.log", state=mtable)
        functions.append(fn)
        fn.deliver(ordered[half:], keys, "mn", "migrate (table)")
        mig = work / "migrate"
        download(s3, "out", "migrate/findings/", mig / "findings")
        migrated = without_copies(finding_keys(table(mig, "findings").to_pylist()))
        check(migrated == without_copies(ref_findings), f"ledgers for the first half, the migrated table for the second: the CLI's findings ({len(migrated)})")
        fc = Function(via_proxy, "s3://out/nomigrate", work / "lambda-nomigrate.log", state=create_state_table(direct, "state-nomigrate"))
        functions.append(fc)
        fc.deliver(ordered[half:], keys, "nm", "no migration")
        ctl = work / "nomigrate"
        download(s3, "out", "nomigrate/findings/", ctl / "findings")
        second = finding_keys(table(ctl, "findings").to_pylist())
        mine = finding_keys([f for f in table(mig, "findings").to_pylist()])
        half_events = set(subprocess_events(work, ordered[half:]))
        mine = [k for k in mine if k[1] in half_events]
        check(second != mine, f"and the migrated state mattered: without it the second half's findings differ ({len(second)} vs {len(mine)})")
        fn.stop(); functions.remove(fn)
        fc.stop(); functions.remove(fc)

        # 7. Workstation use: the CLI reads and writes S3 directly.
        env = dict(os.environ, **CREDS, AWS_ENDPOINT_URL=direct)
        r = subprocess.run([str(KEYTRAIL), "analyze", "s3://trail/AWSLogs/", "--out", "s3://out/workstation", "--no-progress"], capture_output=True, text=True, env=env)
        errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
        check(r.returncode == 2 and len(errors) == 1 and "broken.json.gz" in errors[0], f"keytrail analyze s3://trail/AWSLogs/ --out s3://out/... reads every object; the one corrupt object is one error line, exit 2 ({errors})")
        ws = work / "workstation"
        download(s3, "out", "workstation/", ws)
        check(sorted(table(ws, "kms_events").column("event_id").to_pylist()) == ref_events, "and writes the same kms_events as a local run")
        check(finding_keys(table(ws, "findings").to_pylist()) == ref_findings, "and the same findings")

        # 8. Nothing half-written under an s3:// output: a run that reads nothing, and a run
        # interrupted while it writes, upload nothing; neither leaves temporary files.
        def keys_under(prefix):
            return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="out", Prefix=prefix) for o in page.get("Contents", [])]
        tmp_before = set(os.listdir(tempfile.gettempdir()))
        r = subprocess.run([str(KEYTRAIL), "analyze", "/nope/trail", "--out", "s3://out/typo"], capture_output=True, text=True, env=env)
        check(r.returncode == 3 and keys_under("typo/") == [] and "s3://out/typo was left as it was" in r.stderr,
              f"analyze with a typo path into s3:// exits 3 and uploads nothing ({r.stderr.strip()})")
        corpus = work / "corpus"
        subprocess.run([str(KEYTRAIL), "gen", "--out", str(corpus), "--size-mb", "40", "--large-file-mb", "20"], check=True, capture_output=True)
        p = subprocess.Popen([str(KEYTRAIL), "analyze", str(corpus), "--out", "s3://out/interrupted", "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        t0 = time.time()
        while not any(n.startswith("keytrail-upload-") and os.listdir(os.path.join(tempfile.gettempdir(), n)) for n in os.listdir(tempfile.gettempdir())):
            if time.time() - t0 > 60:
                raise AssertionError("the s3:// run never staged a table file")
            time.sleep(0.02)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=60)[1]
        left = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("keytrail-upload-")} - tmp_before
        check(p.returncode == 130 and keys_under("interrupted/") == [] and not left and "nothing was uploaded to s3://out/interrupted" in err,
              f"a run into s3:// interrupted while staging uploads nothing and removes its staged files ({err.strip()})")
        bad = dict(env, AWS_ENDPOINT_URL=f"http://keyid:hunter2@127.0.0.1:{moto_port}")
        r = subprocess.run([str(KEYTRAIL), "findings", "s3://trail/AWSLogs/"], capture_output=True, text=True, env=bad)
        check(r.returncode == 3 and "must not carry credentials" in r.stderr and "hunter2" not in r.stderr + r.stdout, "an endpoint URL with credentials is refused and never printed")

        # 8. Racing ledger writers (Rust test against this S3 server).
        r = subprocess.run(["cargo", "test", "--locked", "--test", "s3_live"], cwd=ROOT, env=dict(os.environ, **CREDS, KEYTRAIL_TEST_S3_ENDPOINT=direct, KEYTRAIL_REQUIRE_S3="1"), capture_output=True, text=True)
        check(r.returncode == 0, "concurrent conditional ledger writes lose no update (tests/s3_live.rs)")

        # 8b. The state table under DynamoDB faults (tests/state_table.rs, its own proxy).
        r = subprocess.run(["cargo", "test", "--locked", "--test", "state_table"], cwd=ROOT, env=dict(os.environ, **CREDS, KEYTRAIL_TEST_S3_ENDPOINT=direct, KEYTRAIL_REQUIRE_S3="1"), capture_output=True, text=True)
        passed = re.search(r"test result: ok\. (\d+) passed", r.stdout)
        check(r.returncode == 0 and passed and int(passed.group(1)) >= 2, f"state table under injected throttling, 500s, resets, stalls and conditional-check failures: {passed.group(1) if passed else 0} scenarios, nothing lost or doubled (tests/state_table.rs)" + ("" if r.returncode == 0 else "\n" + r.stdout[-4000:] + r.stderr[-4000:]))

        # 9. S3 faults (tests/s3_faults.rs: its own fault-injecting proxy in front of this S3).
        r = subprocess.run(["cargo", "test", "--locked", "--test", "s3_faults", "--", "--test-threads", "2"], cwd=ROOT, env=dict(os.environ, **CREDS, KEYTRAIL_TEST_S3_ENDPOINT=direct, KEYTRAIL_REQUIRE_S3="1"), capture_output=True, text=True)
        passed = re.search(r"test result: ok\. (\d+) passed", r.stdout)
        check(r.returncode == 0 and passed and int(passed.group(1)) >= 7, f"S3 faults (500/503 SlowDown, resets, stalls past the timeout, truncated bodies, uploads cut mid-body, injected ledger conflicts): {passed.group(1) if passed else 0} scenarios, nothing lost or half-written (tests/s3_faults.rs)" + ("" if r.returncode == 0 else "\n" + r.stdout[-4000:] + r.stderr[-4000:]))

        # 10. Logs: no credentials, no payloads. The SQS fixtures carry receipt handles and
        # bodies; keytrail logs sources and message ids only.
        logs = "".join(p.read_text(errors="replace") for p in work.glob("lambda-*.log"))
        handles = [r["receiptHandle"] for n in ("sqs-s3.json", "sqs-sns-s3.json", "sqs-cloudtrail-sns.json") for r in event(n)["Records"] if "receiptHandle" in r]
        check(len(logs) > 1000 and SECRET not in logs and CREDS["AWS_ACCESS_KEY_ID"] not in logs, "the function's logs never show the credentials")
        check(handles and not any(h in logs for h in handles) and '"receiptHandle"' not in logs and '"Records"' not in logs, "nor a request payload (receipt handles, message bodies)")
        print(f"lambda_e2e: {len(CHECKS)} checks passed", flush=True)
        passed = True
    finally:
        for f in functions:
            try:
                f.stop()
            except Exception:
                pass
        moto.terminate()
        moto.wait(timeout=30)
        # The work folder (logs, downloads) is kept only when a check failed.
        if passed:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"lambda_e2e: logs kept in {work}", flush=True)


def subprocess_events(work, paths):
    d = work / f"ref-{len(paths)}"
    subprocess.run([str(KEYTRAIL), "analyze", *map(str, paths), "--out", str(d)], check=True, capture_output=True)
    t = table(d, "kms_events")
    return [] if t is None else t.column("event_id").to_pylist()


if __name__ == "__main__":
    main()
