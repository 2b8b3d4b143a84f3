"""State simulation: how keytrail-lambda's cross-file state grows with a deployment's history,
and what it costs per invocation. The state is kept where --state says: s3 (the default), the
per-key ledgers under <output>/_ledger/; or dynamodb, a table (--table, default keytrail-state)
the script creates in moto before the function starts (partition key pk (S), sort key sk (S),
on demand, TTL on `expires`; the function creates nothing) and names to the function with
KEYTRAIL_STATE_TABLE. moto serves S3 and DynamoDB on one port, and the function reaches both
through the one endpoint override, AWS_ENDPOINT_URL, which points at the counting proxy.

One account (111122223333, us-east-1) and one hot KMS key carrying two workloads:
  - EBS-style grant churn: per simulated day --pairs-per-day volume attach/detach pairs, each a
    CreateGrant by ec2.amazonaws.com (constraint aws:ebs:id), a few Decrypts by EC2 with that
    context and, minutes to hours later, the RetireGrant of that grant;
  - AWS Proton: one CreateGrant at the start for a workload role (constraint
    aws:proton:template + aws:proton:resource) and, in every log file, a handful of
    Decrypt/GenerateDataKey calls by that role in that context (covered: no findings), plus, on
    one day, a few calls in a template the grant does not cover (use-without-grant findings).
Every file is a real-shaped CloudTrail log file uploaded to a moto S3 bucket `trail`; the
function (under `cargo lambda watch`, invoked with `cargo lambda invoke` and an S3 put-event
payload) writes to s3://out/keytrail. Input is deterministic for a given --seed.

Modes
  sequential  --days D files in time order, one invocation at a time. Per invocation: the
              function process's CPU time (utime+stime of keytrail-lambda itself, from /proc),
              its VmRSS/VmHWM after the invoke, the invoke's wall time (includes the
              `cargo lambda invoke` client, about 0.1 s), the state it had to read, the state's
              size after it, and its S3 requests and bytes on the wire (the function talks to
              moto through a counting proxy). With --state s3 the state read is the ledger
              bytes (sizes just before the invoke of the hot key's ledger and the `unkeyed`
              one) and the size the total size and count of ledger objects after the invoke.
              With --state dynamodb the state read is the bytes of the GetItem, Query and
              BatchGetItem response bodies the proxy saw, and the size is taken at the end of
              each day with a Scan: the table's items, their bytes (the sum of
              len(json.dumps(item)) over the low-level attribute-value items: an approximation
              of DynamoDB's item sizes) and the hot key's items (Query, Select COUNT, on each
              partition key recognised as the hot key's: the ARN itself, its id or a digest of
              it, or whatever pk carries the ARN in its items; the first Scan's distinct pk
              values are printed). Its DynamoDB requests are counted by operation (the
              X-Amz-Target header), with request and response bytes, errors by type, and
              conflicts: ConditionalCheckFailedException responses (the x-amzn-ErrorType header
              or the JSON body's __type), and TransactionCanceledException ones a failed
              condition caused.
  concurrent  optionally --days D of sequential history first, then --files M files of one more
              day, all naming the hot key, invoked --concurrency N at a time (cargo lambda watch
              --concurrency N: one process per concurrent invocation, as Lambda's execution
              environments). Failed invocations are redelivered (up to 5 rounds, as SQS would),
              then: every KMS eventID of every file sent must be in the kms_events table exactly
              once, and the findings the function wrote must equal a one-process
              `keytrail findings` run over the same files. With --state dynamodb it also gives
              the day's DynamoDB requests by operation, conflicts and state read, and the table
              before and after the day.

Per-day line (sequential and history), --state s3: day; files invoked; cpu_ms_mean /
cpu_ms_max: the function process's CPU per invocation; read_B_mean: ledger bytes an invocation
had to read (sizes before the invoke; the function GETs them once to judge and again to merge);
state_B_end / ledgers: total bytes and number of ledger objects at the end of the day; rss_MB /
hwm_MB: VmRSS and VmHWM of the function process at the end of the day; s3_req: mean S3 requests
per invocation; failed: invocations that failed.
--state dynamodb: day; files; cpu_ms_mean / cpu_ms_max; state_read_B_mean: bytes of
GetItem/Query/BatchGetItem response bodies per invocation; items_end / item_B_end: the table's
items and their approximate bytes at the end of the day; hot_items: the hot key's items then
(blank while its partition key is not recognised); ddb_req / s3_req: mean DynamoDB and S3
requests per invocation; conflicts: conditional-check conflicts that day; rss_MB / hwm_MB;
failed. A note follows when ledger objects appeared in S3 all the same (a function that does
not keep its state in the table).
The summary gives day 1 and last-day mean CPU, their ratio, least-squares slopes of daily mean
CPU and of end-of-day state size (ledger bytes, or the table's approximate item bytes), and a
straight-line extrapolation of both to day 365 (a projection from the measured slopes, not a
measurement); with the table also the last day's DynamoDB requests per invocation by operation.
--csv has every invocation (wall time, S3 bytes up/down, conflicts too; with --state dynamodb
also state_read_bytes, ddb_requests, ddb_conflicts, ddb_bytes_up/down, ddb_errors, a
ddb_<Op> / ddb_<Op>_up / ddb_<Op>_down triple per operation seen, and on each day's last row
table_items, table_item_bytes, hot_key_items, table_pks, table_items_past_expires (moto does not
delete expired items as DynamoDB's TTL would) and s3_ledger_objects). --json has the summary
with the same figures per day, and with the table the first Scan's pk values and the hot key's.

Figures come from a debug build unless --release is given. Run from the repository root with
the project's Python environment on PATH (moto_server, cargo lambda, boto3, pyarrow), e.g.
  python bench/state_sim.py sequential --days 30 --json state.json
  python bench/state_sim.py sequential --days 30 --state dynamodb --csv state.csv
  python bench/state_sim.py concurrent --concurrency 8 --files 48 --days 30
"""

import argparse
import base64
import bisect
import collections
import concurrent.futures
import csv
import gzip
import hashlib
import json
import os
import random
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
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from harness import check, free_port, wait_port  # noqa: E402

import boto3  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/5e1c7a42-93d8-4b6f-a0e2-7c4d19b8f3a6"
START = datetime(2026, 1, 5, tzinfo=timezone.utc)
OUTPUT = "s3://out/keytrail"
LEDGER_PREFIX = "keytrail/_ledger/"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAKEYTRAILSIM", "AWS_SECRET_ACCESS_KEY": "keytrail-sim-secret", "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
EBS_OPS = ["Decrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey"]
PROTON_OPS = ["Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "DescribeKey"]
WORKLOAD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ProtonWorkloadRole"
SERVICE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ProtonServiceRole"
TEMPLATE = f"arn:aws:proton:{REGION}:{ACCOUNT}:service-template/payments-svc"
RESOURCE = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/payments-api"
OTHER_TEMPLATE = f"arn:aws:proton:{REGION}:{ACCOUNT}:service-template/batch-svc"
OTHER_RESOURCE = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/batch-jobs"
CLK = os.sysconf("SC_CLK_TCK")


def ledger_object_name(key):
    """The ledger's object name of a key (src/audit/ledger.rs object_name)."""
    out = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "".join(f"%{b:02X}" for b in c.encode()) for c in key)
    return out + ".json"


HOT_LEDGER = LEDGER_PREFIX + ledger_object_name(KEY)
UNKEYED_LEDGER = LEDGER_PREFIX + ledger_object_name("unkeyed")


# ---------------------------------------------------------------------------------------------
# Input: real-shaped CloudTrail KMS records (shapes of testdata/trail).


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n):
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

    def record(self, t, name, ident, ip, ua, req, resp, read_only, extra=None):
        r = {
            "eventVersion": "1.11", "userIdentity": ident, "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": REGION,
            "sourceIPAddress": ip, "userAgent": ua, "requestParameters": req, "responseElements": resp,
            "requestID": self.uuid(), "eventID": self.uuid(), "readOnly": read_only,
            "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY}],
            "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management",
        }
        if extra:
            r.update(extra)
        return r

    # EBS: the EC2 service creates a grant per attached volume, uses it, retires it on detach.
    EC2 = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}

    def ebs_create(self, t, vol, grant_id):
        req = {"keyId": KEY, "granteePrincipal": "ec2.amazonaws.com", "retiringPrincipal": "ec2.amazonaws.com",
               "operations": EBS_OPS, "constraints": {"encryptionContextSubset": {"aws:ebs:id": vol}}}
        return self.record(t, "CreateGrant", self.EC2, "ec2.amazonaws.com", "ec2.amazonaws.com", req, {"grantId": grant_id, "keyId": KEY}, False)

    def ebs_use(self, t, vol):
        req = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:ebs:id": vol}}
        return self.record(t, "Decrypt", self.EC2, "ec2.amazonaws.com", "ec2.amazonaws.com", req, None, True)

    def ebs_retire(self, t, grant_id):
        # Both shapes the trail's RetireGrant records have: the id in additionalEventData
        # (requestParameters null), or in requestParameters with the key.
        if self.rng.random() < 0.5:
            return self.record(t, "RetireGrant", self.EC2, "ec2.amazonaws.com", "ec2.amazonaws.com", None, None, False,
                               {"additionalEventData": {"grantId": grant_id}})
        return self.record(t, "RetireGrant", self.EC2, "ec2.amazonaws.com", "ec2.amazonaws.com", {"keyId": KEY, "grantId": grant_id}, None, False)

    # Proton: a service role grants a workload role; the workload role uses the key.
    def role(self, role_arn, session, t):
        name = role_arn.rsplit("/", 1)[1]
        pid = "AROA" + ("SIMW" if "Workload" in name else "SIMS") + "7Q2K4N6P8R0T3V5X"
        return {"type": "AssumedRole", "principalId": f"{pid}:{session}", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
                "accountId": ACCOUNT, "accessKeyId": "ASIASIMKEYTRAIL00001",
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": pid, "arn": role_arn, "accountId": ACCOUNT, "userName": name},
                                   "webIdFederationData": {}, "attributes": {"creationDate": (t - timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"}}}

    def proton_grant(self, t):
        ident = dict(self.role(SERVICE_ROLE, "proton-provisioning", t), invokedBy="proton.amazonaws.com")
        req = {"keyId": KEY, "granteePrincipal": WORKLOAD_ROLE, "retiringPrincipal": SERVICE_ROLE, "operations": PROTON_OPS,
               "constraints": {"encryptionContextSubset": {"aws:proton:template": TEMPLATE, "aws:proton:resource": RESOURCE}}}
        return self.record(t, "CreateGrant", ident, "proton.amazonaws.com", "proton.amazonaws.com", req, {"grantId": self.hex(64), "keyId": KEY}, False)

    def proton_use(self, t, template, resource):
        ctx = {"aws:proton:template": template, "aws:proton:resource": resource}
        ident = self.role(WORKLOAD_ROLE, "payments-worker", t)
        ua = "aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.4 api/kms#1.37.8"
        ip = "10.20.%d.%d" % (self.rng.randrange(256), self.rng.randrange(1, 255))
        if self.rng.random() < 0.5:
            return self.record(t, "Decrypt", ident, ip, ua, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": ctx}, None, True)
        return self.record(t, "GenerateDataKey", ident, ip, ua, {"keyId": KEY, "keySpec": "AES_256", "encryptionContext": ctx}, None, True)


def build_files(seed, days, files_per_day, pairs_per_day, extra_files, uncovered_day):
    """The simulated log files, in time order: `days` days of `files_per_day` files, then (when
    extra_files) one more day of `extra_files` files. Returns a list of dicts (day, name, key,
    records). Every file carries Proton uses of the hot key; the EBS churn of a day is spread
    over its files; a RetireGrant lands in whichever later file its time falls into (dropped
    when after the last file)."""
    g = Gen(seed)
    slots = []  # (start, end, day)
    for d in range(days):
        step = timedelta(days=1) / files_per_day
        slots += [(START + timedelta(days=d) + i * step, START + timedelta(days=d) + (i + 1) * step, d) for i in range(files_per_day)]
    if extra_files:
        step = timedelta(days=1) / extra_files
        slots += [(START + timedelta(days=days) + i * step, START + timedelta(days=days) + (i + 1) * step, days) for i in range(extra_files)]
    end = slots[-1][1]
    events = [(START + timedelta(seconds=5), g.proton_grant(START + timedelta(seconds=5)))]
    n_days = days + (1 if extra_files else 0)
    for d in range(n_days):
        day_slots = [s for s in slots if s[2] == d]
        for i, (s0, s1, _) in enumerate(day_slots):
            span = (s1 - s0).total_seconds()
            # EBS churn: this slot's share of the day's pairs.
            pairs = pairs_per_day // len(day_slots) + (1 if i < pairs_per_day % len(day_slots) else 0)
            for _ in range(pairs):
                t = s0 + timedelta(seconds=g.rng.uniform(10, span - 1))
                vol = "vol-" + g.hex(17)
                gid = g.hex(64)
                events.append((t, g.ebs_create(t, vol, gid)))
                for _ in range(g.rng.randint(1, 3)):
                    tu = t + timedelta(seconds=g.rng.uniform(1, 900))
                    events.append((tu, g.ebs_use(tu, vol)))
                tr = t + timedelta(seconds=g.rng.uniform(300, 6 * 3600))
                events.append((tr, g.ebs_retire(tr, gid)))
            # Proton: a handful of covered uses in every file.
            for _ in range(g.rng.randint(3, 6)):
                t = s0 + timedelta(seconds=g.rng.uniform(10, span - 1))
                events.append((t, g.proton_use(t, TEMPLATE, RESOURCE)))
            if d == uncovered_day and i % max(1, len(day_slots) // 4) == 0:
                t = s0 + timedelta(seconds=g.rng.uniform(10, span - 1))
                events.append((t, g.proton_use(t, OTHER_TEMPLATE, OTHER_RESOURCE)))
    files = [{"day": d, "start": s0, "records": []} for (s0, s1, d) in slots]
    starts = [s[0] for s in slots]
    for t, r in events:
        if t >= end:
            continue
        files[bisect.bisect_right(starts, t) - 1]["records"].append((t, r["eventID"], r))
    for f, (s0, s1, d) in zip(files, slots):
        f["records"] = [r for _, _, r in sorted(f["records"], key=lambda x: (x[0], x[1]))]
        stamp = (s1 + timedelta(minutes=3)).strftime("%Y%m%dT%H%MZ")
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{g.alnum(16)}.json.gz"
        f["key"] = f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{s0:%Y/%m/%d}/{name}"
        del f["start"]
    return files


def write_file(folder, f):
    """Writes a file (gzip with a fixed mtime: same seed, same bytes); returns the path."""
    p = Path(folder) / f["key"]
    p.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"Records": f["records"]}, separators=(",", ":")).encode()
    with open(p, "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as z:
            z.write(body)
    return p


# ---------------------------------------------------------------------------------------------
# Request counting: a TCP proxy in front of moto that follows the HTTP/1.1 framing of each
# direction (Content-Length and chunked bodies), so requests, statuses and wire bytes are
# counted exactly without changing a byte. A request with `X-Amz-Target: DynamoDB_20120810.<Op>`
# is a DynamoDB request, counted by operation with its request and response bytes; every other
# request is an S3 request.

DDB_TARGET = "dynamodb_20120810."  # X-Amz-Target prefix, compared in lower case
STATE_READ_OPS = ("GetItem", "Query", "BatchGetItem")  # their response bodies are the state read
CAPTURE_MAX = 1 << 20  # bytes of a DynamoDB error response body kept to read its __type


class HttpCounter:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = collections.Counter()  # method, of S3 requests
        self.statuses = collections.Counter()  # status code, of S3 responses
        self.bytes_up = 0  # every byte on the wire, S3 and DynamoDB
        self.bytes_down = 0
        self.ddb_requests = collections.Counter()  # DynamoDB operation
        self.ddb_up = collections.Counter()  # operation: bytes of its requests (head and body)
        self.ddb_down = collections.Counter()  # operation: bytes of its responses (head and body)
        self.ddb_body_down = collections.Counter()  # operation: bytes of its response bodies
        self.ddb_errors = collections.Counter()  # "Op:ErrorType" of DynamoDB error responses
        self.ddb_conflicts = 0  # ConditionalCheckFailedException, and transactions a failed condition cancelled
        self.unparsed = 0  # connections whose framing was not understood (counts then partial)

    def snapshot(self):
        with self.lock:
            return {"requests": dict(self.requests), "statuses": dict(self.statuses), "up": self.bytes_up, "down": self.bytes_down,
                    "ddb_requests": dict(self.ddb_requests), "ddb_up": dict(self.ddb_up), "ddb_down": dict(self.ddb_down),
                    "ddb_body_down": dict(self.ddb_body_down), "ddb_errors": dict(self.ddb_errors), "ddb_conflicts": self.ddb_conflicts,
                    "unparsed": self.unparsed}


class _Framer:
    """Follows one direction of an HTTP/1.1 connection. At each message's head it calls
    on_head(start_line, headers, code, request) (code None for a request; for a response,
    request is the tag of the request it answers) and keeps what that returns as the message's
    tag (a dict; requests' tags are queued in `pending` for their responses). When the message
    is complete it calls on_end(tag, size, body_size, body): its bytes on the wire (head, body
    and chunk framing), those of its body, and the body itself when the tag has "capture"."""

    def __init__(self, is_response, pending, on_head, on_end):
        self.buf = b""
        self.state = "head"
        self.left = 0
        self.is_response = is_response
        self.pending = pending
        self.on_head = on_head
        self.on_end = on_end
        self.broken = False
        self.tag = None
        self.size = 0
        self.head_size = 0
        self.body = None

    def feed(self, data):
        if self.broken:
            return
        self.buf += data
        try:
            while self._step():
                pass
        except (ValueError, IndexError):
            self.broken = True

    def close(self):
        """The connection ended: a response delimited by the close is complete."""
        if self.state == "to-close" and not self.broken:
            self._end()

    def _eat(self, n):
        out, self.buf = self.buf[:n], self.buf[n:]
        self.size += len(out)
        return out

    def _end(self):
        self.on_end(self.tag, self.size, self.size - self.head_size, self.body)
        self.state, self.tag, self.size, self.head_size, self.body = "head", None, 0, 0, None

    def _line(self):
        """The next line (without its CRLF), or None until all of it is here."""
        i = self.buf.find(b"\r\n")
        if i < 0:
            return None
        return self._eat(i + 2)[:-2]

    def _take(self, then):
        """Passes up to self.left bytes of a body or chunk; once all are through, goes to state
        `then` (the end of the message when "head")."""
        data = self._eat(min(self.left, len(self.buf)))
        self.left -= len(data)
        if self.body is not None and len(self.body) < CAPTURE_MAX:
            self.body += data
        if self.left:
            return False
        if then == "head":
            self._end()
        else:
            self.state = then
        return True

    def _step(self):
        if self.state == "head":
            i = self.buf.find(b"\r\n\r\n")
            if i < 0:
                return False
            head = self._eat(i + 4)[:-4].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            start = lines[0]
            body = True
            if self.is_response:
                code = int(start.split()[1])
                if code < 200:
                    self.size = 0
                    return True  # 100 Continue: the real response follows
                request = self.pending.popleft() if self.pending else None
                method = request["method"] if request else ""
                body = not (method == "HEAD" or code in (204, 304))
                self.tag = self.on_head(start, headers, code, request)
            else:
                self.tag = self.on_head(start, headers, None, None)
                self.pending.append(self.tag)
            self.head_size = self.size
            self.body = b"" if self.tag.get("capture") else None
            if body and "chunked" in headers.get("transfer-encoding", "").lower():
                self.state = "chunk-size"
            elif body and int(headers.get("content-length", "0") or 0) > 0:
                self.state, self.left = "body", int(headers["content-length"])
            elif body and self.is_response and "content-length" not in headers:
                self.state = "to-close"
            else:
                self._end()
            return True
        if self.state == "body":
            return self._take("head")
        if self.state == "chunk-size":
            line = self._line()
            if line is None:
                return False
            size = int(line.split(b";")[0], 16)
            if size == 0:
                self.state = "trailers"
            else:
                self.state, self.left = "chunk", size + 2
            return True
        if self.state == "chunk":
            return self._take("chunk-size")
        if self.state == "trailers":
            line = self._line()
            if line is None:
                return False
            if line == b"":
                self._end()
            return True
        if self.state == "to-close":
            self._eat(len(self.buf))
            return False
        return False


def _error_type(header, body):
    """A DynamoDB error's type: the x-amzn-ErrorType header's (before any ':'), else the JSON
    body's __type (after any '#')."""
    if header:
        return header.split(":")[0].strip()
    try:
        t = json.loads(body or b"{}").get("__type")
    except (ValueError, AttributeError):
        t = None
    return t.split("#")[-1] if isinstance(t, str) and t else None


class CountingProxy:
    def __init__(self, target_port, counter):
        self.target = target_port
        self.counter = counter
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(256)
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            pending = collections.deque()
            up = _Framer(False, pending, self._on_head, self._on_end)
            down = _Framer(True, pending, self._on_head, self._on_end)
            threading.Thread(target=self._pipe, args=(client, upstream, up, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, down, False), daemon=True).start()

    def _on_head(self, start, headers, code, request):
        c = self.counter
        if code is None:  # a request
            method = start.split()[0]
            target = headers.get("x-amz-target", "")
            op = target[len(DDB_TARGET):] if target.lower().startswith(DDB_TARGET) else None
            with c.lock:
                if op:
                    c.ddb_requests[op] += 1
                else:
                    c.requests[method] += 1
            return {"method": method, "op": op}
        op = request["op"] if request else None
        if not op:
            with c.lock:
                c.statuses[code] += 1
        return {"method": request["method"] if request else "", "op": op, "code": code, "capture": bool(op) and code >= 400,
                "error": headers.get("x-amzn-errortype")}

    def _on_end(self, tag, size, body_size, body):
        op = tag.get("op") if tag else None
        if not op:
            return
        c = self.counter
        if "code" not in tag:
            with c.lock:
                c.ddb_up[op] += size
            return
        kind = None
        if tag["code"] >= 400:
            kind = _error_type(tag["error"], body) or f"HTTP {tag['code']}"
        conflict = kind == "ConditionalCheckFailedException" or (kind == "TransactionCanceledException" and b"ConditionalCheckFailed" in (body or b""))
        with c.lock:
            c.ddb_down[op] += size
            c.ddb_body_down[op] += body_size
            if kind:
                c.ddb_errors[f"{op}:{kind}"] += 1
            if conflict:
                c.ddb_conflicts += 1

    def _pipe(self, src, dst, framer, upward):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                framer.feed(data)
                with self.counter.lock:
                    if upward:
                        self.counter.bytes_up += len(data)
                    else:
                        self.counter.bytes_down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        framer.close()
        if framer.broken:
            with self.counter.lock:
                self.counter.unparsed += 1
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass


def _minus(b, a):
    """b - a per key, keeping the keys that changed."""
    out = {k: v - a.get(k, 0) for k, v in b.items()}
    return {k: v for k, v in out.items() if v}


def counter_delta(a, b):
    """What the function sent between snapshots a and b: S3 requests (by method), S3
    conditional-write conflicts and S3 bytes, and DynamoDB requests, bytes and errors by
    operation, the state it read (response bodies of GetItem, Query and BatchGetItem) and its
    conflicts. S3 bytes are every byte on the wire less the DynamoDB messages'."""
    req = collections.Counter(b["requests"]) - collections.Counter(a["requests"])
    st = collections.Counter(b["statuses"]) - collections.Counter(a["statuses"])
    ops = _minus(b["ddb_requests"], a["ddb_requests"])
    ddb_up = _minus(b["ddb_up"], a["ddb_up"])
    ddb_down = _minus(b["ddb_down"], a["ddb_down"])
    body_down = _minus(b["ddb_body_down"], a["ddb_body_down"])
    return {"requests": sum(req.values()), "gets": req.get("GET", 0), "puts": req.get("PUT", 0),
            "heads": req.get("HEAD", 0), "status_412": st.get(412, 0) + st.get(409, 0),
            "up": b["up"] - a["up"] - sum(ddb_up.values()), "down": b["down"] - a["down"] - sum(ddb_down.values()),
            "ddb_requests": sum(ops.values()), "ddb_ops": ops, "ddb_up": ddb_up, "ddb_down": ddb_down,
            "ddb_bytes_up": sum(ddb_up.values()), "ddb_bytes_down": sum(ddb_down.values()),
            "state_read_bytes": sum(body_down.get(op, 0) for op in STATE_READ_OPS),
            "ddb_conflicts": b["ddb_conflicts"] - a["ddb_conflicts"], "ddb_errors": _minus(b["ddb_errors"], a["ddb_errors"])}


# ---------------------------------------------------------------------------------------------
# The function: cargo lambda watch (one process per concurrent invocation), and its processes.


def proc_children():
    kids = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            kids[int(st[st.rindex(")") + 2:].split()[1])].append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def descendants(pid):
    kids = proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def proc_cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


def proc_mem_mb(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":")
                    out[k] = int(v.split()[0]) / 1024
    except OSError:
        pass
    return out.get("VmRSS"), out.get("VmHWM")


class Function:
    def __init__(self, endpoint, log_path, concurrency, release, timeout, extra_env):
        self.port = free_port()
        # KEYTRAIL_STATE_TABLE only from extra_env (--state dynamodb), never inherited.
        env = {k: v for k, v in os.environ.items() if k != "KEYTRAIL_STATE_TABLE"}
        env.update(CREDS, AWS_ENDPOINT_URL=endpoint, KEYTRAIL_OUTPUT=OUTPUT, **extra_env)
        cmd = ["cargo", "lambda", "watch", "--bin", "keytrail-lambda", "--invoke-port", str(self.port), "--ignore-changes",
               "--timeout", str(timeout), "--concurrency", str(concurrency)]
        if release:
            cmd.append("--release")
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.seen = set()
        wait_port(self.port, timeout=600)

    def pids(self):
        """The keytrail-lambda processes under this cargo lambda watch."""
        out = []
        for p in descendants(self.proc.pid):
            try:
                argv0 = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0]
            except OSError:
                continue
            if os.path.basename(argv0) == b"keytrail-lambda":
                out.append(p)
        self.seen.update(out)
        return sorted(out)

    def invoke(self, payload, work):
        fd, path = tempfile.mkstemp(suffix=".json", dir=work)
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f)
        t0 = time.time()
        try:
            r = subprocess.run(["cargo", "lambda", "invoke", "keytrail-lambda", "--invoke-port", str(self.port), "--data-file", path],
                               cwd=ROOT, capture_output=True, text=True, timeout=3600)
        finally:
            os.unlink(path)
        dt = time.time() - t0
        if r.returncode != 0:
            return False, (r.stderr or r.stdout).strip(), dt
        try:
            resp = json.loads(r.stdout)
        except ValueError:
            return False, r.stdout.strip(), dt
        if not isinstance(resp, dict) or resp.get("status") != "ok":
            return False, json.dumps(resp), dt
        return True, resp, dt

    def stop(self):
        pids = set(self.pids()) | self.seen
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        for p in pids:  # a function process outside the group, if any
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.log.close()


def put_payload(bucket, key, etag, size):
    p = json.loads((ROOT / "testdata" / "events" / "s3-put.json").read_text())
    r = p["Records"][0]["s3"]
    r["bucket"]["name"] = bucket
    r["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    r["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
    r["object"]["eTag"] = etag
    r["object"]["size"] = size
    del r["object"]["versionId"]
    return p


def ledger_listing(s3):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="out", Prefix=LEDGER_PREFIX):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    return out


def create_state_table(ddb, name):
    """The table the function keeps its state in with --state dynamodb (it creates nothing):
    pk (S) and sk (S), on demand, TTL on `expires`. Returns its description, for the report."""
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    t = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    keys = " ".join(f"{k['AttributeName']} ({k['KeyType']})" for k in t["KeySchema"])
    return (f"{name}: {t['TableStatus']}, key {keys}, {t.get('BillingModeSummary', {}).get('BillingMode', '?')}, "
            f"TTL {ttl.get('TimeToLiveStatus')} on {ttl.get('AttributeName')}")


def scan_items(ddb, table):
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return items


def _item_json(v):
    return base64.b64encode(v).decode() if isinstance(v, (bytes, bytearray)) else str(v)


def item_bytes(item):
    """An item's size, approximately: the length of its low-level (attribute-value) JSON.
    DynamoDB bills attribute names plus values; the type tags and quotes here add a few bytes
    per attribute."""
    return len(json.dumps(item, default=_item_json))


def key_pk_candidates(key):
    """Strings a partition key derived from `key` might be or contain, each with what it is:
    the key's ARN, its id, its ledger object name, and hex / base64 digests of it."""
    out = {key: "the key's ARN", key.rsplit("/", 1)[-1]: "the key's id", ledger_object_name(key): "the key's ledger name",
           ledger_object_name(key)[:-len(".json")]: "the key's ledger name"}
    for algo in ("sha256", "sha1", "md5", "blake2b", "sha512"):
        d = hashlib.new(algo, key.encode()).digest()
        for form in (d.hex(), base64.b64encode(d).decode(), base64.urlsafe_b64encode(d).decode().rstrip("=")):
            out.setdefault(form, f"a {algo} digest of the key")
    return out


def hot_pks(items, key=KEY):
    """The partition keys holding `key`'s state, and how each was recognised: equal to a
    candidate (see key_pk_candidates), containing one (a prefix such as "key#" around the ARN,
    the key id, or a digest; 12 or more hex digits that start a digest count), or else items
    that carry the key's ARN in an attribute."""
    cands = key_pk_candidates(key)
    hexes = [c for c in cands if re.fullmatch(r"[0-9a-f]{32,}", c)]
    found = {}
    for it in items:
        pk = it.get("pk", {}).get("S")
        if pk is None or pk in found:
            continue
        inside = [c for c in cands if len(c) >= 12 and c in pk]
        if pk in cands:
            found[pk] = cands[pk]
        elif inside:
            found[pk] = "contains " + cands[max(inside, key=len)]
        elif any(h.startswith(run) for run in re.findall(r"[0-9a-f]{12,}", pk.lower()) for h in hexes):
            found[pk] = "contains a truncated digest of the key"
    if not found:
        for it in items:
            pk = it.get("pk", {}).get("S")
            if pk is not None and pk not in found and key in json.dumps(it, default=_item_json):
                found[pk] = "items carry the key's ARN"
    return found


def count_pk(ddb, table, pk):
    """Items under one partition key (Query, Select COUNT, every page)."""
    n, start = 0, None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = ddb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": pk}}, Select="COUNT", **kw)
        n += r["Count"]
        start = r.get("LastEvaluatedKey")
        if not start:
            return n


def log_problems(path):
    """ERROR/WARN lines of the function's JSON log (and panics), grouped by message: a list of
    (count, level, message, first line)."""
    groups = collections.OrderedDict()
    for line in Path(path).read_text(errors="replace").splitlines():
        if '"level":"ERROR"' in line or '"level":"WARN"' in line or "panicked" in line:
            try:
                doc = json.loads(line)
                level, msg = doc.get("level", "?"), doc.get("fields", {}).get("message", line)
            except ValueError:
                level, msg = ("PANIC" if "panicked" in line else "?"), line
            g = groups.setdefault((level, msg), [0, line])
            g[0] += 1
    return [(n, level, msg, first) for (level, msg), (n, first) in groups.items()]


# ---------------------------------------------------------------------------------------------
# Runs.


class Sim:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="keytrail-sim-"))
        self.local = self.work / "trail"
        self.moto = None
        self.proxy = None
        self.fn = None
        self.rows = []
        self.sent = []  # every file sent: its KMS eventIDs
        self.dynamodb = args.state == "dynamodb"
        self.ddb = None
        self.pks = None  # the first Scan's partition keys, for the report
        self.pks_reported = False
        self.hot = {}  # the hot key's partition keys: how each was recognised

    def start(self, concurrency):
        a = self.args
        port = free_port()
        self.moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=open(self.work / "moto.log", "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(port)
        self.s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
        self.s3.create_bucket(Bucket="trail")
        self.s3.create_bucket(Bucket="out")
        self.counter = HttpCounter()
        self.proxy = CountingProxy(port, self.counter)
        endpoint = f"http://127.0.0.1:{self.proxy.port}"
        extra = dict(kv.split("=", 1) for kv in a.env)
        if self.dynamodb:
            # moto serves DynamoDB on the same port; the function reaches it through the proxy
            # with the endpoint it uses for S3 (AWS_ENDPOINT_URL).
            self.ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
            print(f"state table {create_state_table(self.ddb, a.table)}", flush=True)
            extra["KEYTRAIL_STATE_TABLE"] = a.table
        t0 = time.time()
        print(f"building and starting keytrail-lambda ({'release' if a.release else 'debug'} build, cargo lambda watch --concurrency {concurrency}) ...", flush=True)
        self.fn = Function(endpoint, self.work / "lambda.log", concurrency, a.release, a.timeout, extra)
        # A test event: acknowledged without work. Its invoke waits for the build and starts
        # one process, so the first file's figures are those of a warm process.
        test = json.loads((ROOT / "testdata" / "events" / "s3-test-event.json").read_text())
        ok, resp, _ = self.fn.invoke(test, self.work)
        check(ok, f"the function answers a test event ({resp if not ok else 'acknowledged'}, {time.time() - t0:.0f} s incl. build)")

    def stop(self):
        if self.fn:
            try:
                self.fn.stop()
            except Exception as e:  # keep stopping the rest
                print(f"could not stop the function cleanly: {e}", file=sys.stderr)
        if self.proxy:
            self.proxy.close()
        if self.moto:
            self.moto.terminate()
            try:
                self.moto.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.moto.kill()
                self.moto.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def table_state(self):
        """The state table now: items, their approximate bytes (item_bytes), the hot key's
        items (Query COUNT on each of its partition keys; None while none is recognised),
        items whose `expires` is past (moto does not delete them as DynamoDB's TTL would) and
        the S3 ledger objects beside (none once the function keeps its state in the table)."""
        items = scan_items(self.ddb, self.args.table)
        pks = collections.Counter(it.get("pk", {}).get("S") for it in items)
        if self.pks is None and items:
            self.pks = pks
        for pk, how in hot_pks(items).items():
            self.hot.setdefault(pk, how)
        now = time.time()
        expired = 0
        for it in items:
            try:
                expired += float(it["expires"]["N"]) < now
            except (KeyError, ValueError):
                pass
        return {"table_items": len(items), "table_item_bytes": sum(item_bytes(it) for it in items),
                "hot_key_items": sum(count_pk(self.ddb, self.args.table, pk) for pk in self.hot) if self.hot else None,
                "table_pks": len(pks), "table_items_past_expires": expired, "s3_ledger_objects": len(ledger_listing(self.s3))}

    def report_pks(self):
        """Once: the distinct partition keys the table holds and which are the hot key's."""
        if self.pks is None or self.pks_reported:
            return
        self.pks_reported = True
        shown = ", ".join(f"{pk!r} ({n})" for pk, n in self.pks.most_common(8))
        more = f", and {len(self.pks) - 8} more" if len(self.pks) > 8 else ""
        print(f"  table: {len(self.pks)} distinct pk values (items each): {shown}{more}", flush=True)
        if self.hot:
            print("  hot key's partition keys: " + "; ".join(f"{pk!r} ({how})" for pk, how in self.hot.items()), flush=True)
        else:
            print("  hot key's partition key: not recognised (neither the ARN, its id, nor a digest of it; no item carries the ARN): hot_items blank", flush=True)

    def upload(self, f):
        p = write_file(self.local, f)
        body = p.read_bytes()
        r = self.s3.put_object(Bucket="trail", Key=f["key"], Body=body)
        self.sent.append([r["eventID"] for r in f["records"]])
        return put_payload("trail", f["key"], r["ETag"].strip('"'), len(body))

    def run_sequential(self, files, label="sequential"):
        """Invokes `files` one at a time; prints a line per day; returns the rows."""
        ddb = self.dynamodb
        print(f"{label}: {len(files)} files over {len({f['day'] for f in files})} days, one invocation at a time", flush=True)
        if ddb:
            print(f"{'day':>4} {'files':>5} {'cpu_ms_mean':>11} {'cpu_ms_max':>10} {'state_read_B_mean':>17} {'items_end':>9} {'item_B_end':>10} {'hot_items':>9} "
                  f"{'ddb_req':>7} {'s3_req':>6} {'conflicts':>9} {'rss_MB':>7} {'hwm_MB':>7} {'failed':>6}", flush=True)
        else:
            print(f"{'day':>4} {'files':>5} {'cpu_ms_mean':>11} {'cpu_ms_max':>10} {'read_B_mean':>12} {'state_B_end':>12} {'ledgers':>7} {'rss_MB':>7} {'hwm_MB':>7} {'s3_req':>6} {'failed':>6}", flush=True)
        rows = []
        by_day = collections.OrderedDict()
        for f in files:
            by_day.setdefault(f["day"], []).append(f)
        for day, fs in by_day.items():
            day_rows = []
            for i, f in enumerate(fs):
                payload = self.upload(f)
                if not ddb:
                    before = ledger_listing(self.s3)
                    read_bytes = before.get(HOT_LEDGER, 0) + before.get(UNKEYED_LEDGER, 0)
                pids = self.fn.pids()
                cpu0 = {p: proc_cpu_ticks(p) for p in pids}
                c0 = self.counter.snapshot()
                ok, resp, wall = self.fn.invoke(payload, self.work)
                c1 = self.counter.snapshot()
                pids1 = self.fn.pids()
                ticks = 0
                for p in pids1:
                    t1 = proc_cpu_ticks(p)
                    if t1 is not None:
                        ticks += t1 - (cpu0.get(p) or 0)
                rss = hwm = None
                for p in pids1:
                    r_, h_ = proc_mem_mb(p)
                    rss = max(rss or 0, r_ or 0)
                    hwm = max(hwm or 0, h_ or 0)
                d = counter_delta(c0, c1)
                row = {
                    "mode": "sequential", "day": day, "file": i, "key": f["key"], "records": len(f["records"]), "ok": ok,
                    "kms_events": resp.get("kms_events") if ok else None, "findings": resp.get("findings") if ok else None,
                    "error": None if ok else str(resp)[:500],
                    "wall_ms": round(wall * 1000, 1), "cpu_ms": round(ticks * 1000 / CLK, 1),
                    "rss_mb": round(rss, 1) if rss else None, "hwm_mb": round(hwm, 1) if hwm else None,
                }
                if ddb:
                    row.update(state_read_bytes=d["state_read_bytes"])
                    if i == len(fs) - 1:  # the end of the day: the table (a Scan) once a day
                        row.update(self.table_state())
                else:
                    after = ledger_listing(self.s3)
                    row.update(ledger_read_bytes=read_bytes, state_bytes=sum(after.values()), ledger_objects=len(after))
                row.update({"s3_requests": d["requests"], "s3_gets": d["gets"], "s3_puts": d["puts"], "s3_conflicts": d["status_412"],
                            "s3_bytes_up": d["up"], "s3_bytes_down": d["down"], "pid_changed": set(pids) != set(pids1)})
                if ddb:
                    row.update(ddb_fields(d))
                rows.append(row)
                day_rows.append(row)
            cpu = [r["cpu_ms"] for r in day_rows]
            last = day_rows[-1]
            if ddb:
                print(f"{day + 1:>4} {len(day_rows):>5} {sum(cpu) / len(cpu):>11.1f} {max(cpu):>10.1f} {sum(r['state_read_bytes'] for r in day_rows) / len(day_rows):>17.0f} "
                      f"{last['table_items']:>9} {last['table_item_bytes']:>10} {'' if last['hot_key_items'] is None else last['hot_key_items']:>9} "
                      f"{sum(r['ddb_requests'] for r in day_rows) / len(day_rows):>7.1f} {sum(r['s3_requests'] for r in day_rows) / len(day_rows):>6.1f} "
                      f"{sum(r['ddb_conflicts'] for r in day_rows):>9} {last['rss_mb'] or 0:>7.1f} {last['hwm_mb'] or 0:>7.1f} {sum(not r['ok'] for r in day_rows):>6}", flush=True)
            else:
                print(f"{day + 1:>4} {len(day_rows):>5} {sum(cpu) / len(cpu):>11.1f} {max(cpu):>10.1f} {sum(r['ledger_read_bytes'] for r in day_rows) / len(day_rows):>12.0f} "
                      f"{last['state_bytes']:>12} {last['ledger_objects']:>7} {last['rss_mb'] or 0:>7.1f} {last['hwm_mb'] or 0:>7.1f} "
                      f"{sum(r['s3_requests'] for r in day_rows) / len(day_rows):>6.1f} {sum(not r['ok'] for r in day_rows):>6}", flush=True)
        if ddb:
            self.report_pks()
        if ddb and rows[-1]["s3_ledger_objects"]:
            print(f"  note: {rows[-1]['s3_ledger_objects']} ledger objects under s3://out/{LEDGER_PREFIX}: the function kept state in S3 ledgers, not (only) in the table", flush=True)
        self.rows += rows
        return rows


def ddb_fields(d):
    """A row's DynamoDB columns from a counter_delta: totals, then requests and bytes up/down
    per operation (ddb_<Op>, ddb_<Op>_up, ddb_<Op>_down) and errors (ddb_errors, JSON)."""
    out = {"ddb_requests": d["ddb_requests"], "ddb_conflicts": d["ddb_conflicts"], "ddb_bytes_up": d["ddb_bytes_up"], "ddb_bytes_down": d["ddb_bytes_down"],
           "ddb_errors": json.dumps(d["ddb_errors"], sort_keys=True) if d["ddb_errors"] else ""}
    for op in sorted(d["ddb_ops"]):
        out[f"ddb_{op}"] = d["ddb_ops"][op]
        out[f"ddb_{op}_up"] = d["ddb_up"].get(op, 0)
        out[f"ddb_{op}_down"] = d["ddb_down"].get(op, 0)
    return out


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return None if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den


def ddb_ops(rows):
    """The DynamoDB operations of the rows' ddb_<Op> columns."""
    return sorted({k[4:] for r in rows for k in r if k.startswith("ddb_") and k[4:5].isupper() and not k.endswith(("_up", "_down"))})


def mean_by_op(rows, suffix=""):
    """Mean per row of the ddb_<Op><suffix> columns, by operation."""
    return {op: sum(r.get(f"ddb_{op}{suffix}", 0) for r in rows) / len(rows) for op in ddb_ops(rows)}


def summarize(rows, build, state="s3"):
    ddb = state == "dynamodb"
    days = sorted({r["day"] for r in rows})
    per_day = []
    for d in days:
        rs = [r for r in rows if r["day"] == d]
        p = {"day": d + 1, "files": len(rs), "cpu_ms_mean": sum(r["cpu_ms"] for r in rs) / len(rs), "cpu_ms_max": max(r["cpu_ms"] for r in rs)}
        if ddb:
            last = rs[-1]
            p.update({"state_read_bytes_mean": sum(r["state_read_bytes"] for r in rs) / len(rs), "state_bytes_end": last["table_item_bytes"],
                      "table_items_end": last["table_items"], "hot_key_items_end": last["hot_key_items"], "table_pks_end": last["table_pks"],
                      "table_items_past_expires_end": last["table_items_past_expires"], "s3_ledger_objects_end": last["s3_ledger_objects"]})
        else:
            p.update({"ledger_read_bytes_mean": sum(r["ledger_read_bytes"] for r in rs) / len(rs), "state_bytes_end": rs[-1]["state_bytes"],
                      "ledger_objects_end": rs[-1]["ledger_objects"]})
        p.update({
            "rss_mb_end": rs[-1]["rss_mb"], "hwm_mb_end": rs[-1]["hwm_mb"],
            "wall_ms_mean": sum(r["wall_ms"] for r in rs) / len(rs), "s3_requests_mean": sum(r["s3_requests"] for r in rs) / len(rs),
            "s3_bytes_down_mean": sum(r["s3_bytes_down"] for r in rs) / len(rs), "s3_bytes_up_mean": sum(r["s3_bytes_up"] for r in rs) / len(rs),
            "failed": sum(not r["ok"] for r in rs),
        })
        if ddb:
            p.update({"ddb_requests_mean": sum(r["ddb_requests"] for r in rs) / len(rs), "ddb_requests_by_op_mean": mean_by_op(rs),
                      "ddb_bytes_up_mean": sum(r["ddb_bytes_up"] for r in rs) / len(rs), "ddb_bytes_down_mean": sum(r["ddb_bytes_down"] for r in rs) / len(rs),
                      "ddb_bytes_up_by_op_mean": mean_by_op(rs, suffix="_up"), "ddb_bytes_down_by_op_mean": mean_by_op(rs, suffix="_down"),
                      "ddb_conflicts": sum(r["ddb_conflicts"] for r in rs)})
        per_day.append(p)
    x = [p["day"] for p in per_day]
    cpu_slope = slope(x, [p["cpu_ms_mean"] for p in per_day])
    state_slope = slope(x, [p["state_bytes_end"] for p in per_day])
    first, last = per_day[0], per_day[-1]
    s = {
        "build": build, "days": len(days), "invocations": len(rows), "failed": sum(not r["ok"] for r in rows),
        "first_day_cpu_ms_mean": first["cpu_ms_mean"], "last_day_cpu_ms_mean": last["cpu_ms_mean"],
        "cpu_ratio_last_to_first": last["cpu_ms_mean"] / first["cpu_ms_mean"] if first["cpu_ms_mean"] else None,
        "cpu_ms_per_day_slope": cpu_slope, "state_bytes_per_day_slope": state_slope,
        "state_bytes_end": last["state_bytes_end"],
    }
    if ddb:
        s.update({"state": "dynamodb", "state_bytes_note": "sum of len(json.dumps(item)) over a Scan of the table (low-level attribute-value JSON): an approximation of its items' size",
                  "state_read_bytes_last_day_mean": last["state_read_bytes_mean"], "table_items_end": last["table_items_end"],
                  "hot_key_items_end": last["hot_key_items_end"], "ddb_requests_last_day_mean": last["ddb_requests_mean"],
                  "ddb_requests_by_op_last_day_mean": last["ddb_requests_by_op_mean"], "ddb_bytes_up_last_day_mean": last["ddb_bytes_up_mean"],
                  "ddb_bytes_down_last_day_mean": last["ddb_bytes_down_mean"], "ddb_conflicts": sum(p["ddb_conflicts"] for p in per_day),
                  "s3_ledger_objects_end": last["s3_ledger_objects_end"]})
    else:
        s["ledger_read_bytes_last_day_mean"] = last["ledger_read_bytes_mean"]
    s.update({"rss_mb_end": last["rss_mb_end"], "hwm_mb_end": last["hwm_mb_end"], "per_day": per_day})
    if cpu_slope is not None:
        s["extrapolated_cpu_ms_per_invocation_day_365"] = last["cpu_ms_mean"] + cpu_slope * (365 - last["day"])
    if state_slope is not None:
        s["extrapolated_state_bytes_day_365"] = last["state_bytes_end"] + state_slope * (365 - last["day"])
    return s


def print_summary(s):
    print(f"summary ({s['build']} build; {s['invocations']} invocations, {s['failed']} failed):")
    print(f"  CPU per invocation, mean: day 1 {s['first_day_cpu_ms_mean']:.1f} ms, day {s['days']} {s['last_day_cpu_ms_mean']:.1f} ms"
          + (f", ratio {s['cpu_ratio_last_to_first']:.2f}" if s["cpu_ratio_last_to_first"] else ""))
    if s["cpu_ms_per_day_slope"] is not None:
        print(f"  slope (least squares over daily means): CPU {s['cpu_ms_per_day_slope']:+.2f} ms per invocation per day; state {s['state_bytes_per_day_slope']:+.0f} bytes per day")
        print(f"  extrapolated to day 365 from those slopes: {s['extrapolated_cpu_ms_per_invocation_day_365']:.0f} ms CPU per invocation, "
              f"state {s['extrapolated_state_bytes_day_365'] / 1e6:.1f} MB")
    else:
        print("  (one day only: no slope or extrapolation)")
    if s.get("state") == "dynamodb":
        hot = "not recognised" if s["hot_key_items_end"] is None else s["hot_key_items_end"]
        print(f"  state at end: {s['table_items_end']} items in the table, about {s['state_bytes_end']} bytes (sum of the items' JSON sizes, an approximation); "
              f"the hot key's items: {hot}; last day each invocation read {s['state_read_bytes_last_day_mean']:.0f} bytes of state (GetItem/Query response bodies)")
        ops = ", ".join(f"{op} {n:.1f}" for op, n in s["ddb_requests_by_op_last_day_mean"].items()) or "none"
        print(f"  DynamoDB per invocation, last day: {s['ddb_requests_last_day_mean']:.1f} requests ({ops}), {s['ddb_bytes_up_last_day_mean']:.0f} bytes up, "
              f"{s['ddb_bytes_down_last_day_mean']:.0f} bytes down; conditional-check conflicts over the run: {s['ddb_conflicts']}")
    else:
        print(f"  state at end: {s['state_bytes_end']} bytes of ledgers; last day each invocation read {s['ledger_read_bytes_last_day_mean']:.0f} bytes of ledger (sizes before the invoke)")
    print(f"  function process at end: VmRSS {s['rss_mb_end']} MB, VmHWM {s['hwm_mb_end']} MB")


def cli_findings(folder):
    exe = ROOT / "target" / "debug" / "keytrail"
    r = subprocess.run([str(exe), "findings", str(folder), "--format", "json"], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"keytrail findings failed ({r.returncode}): {r.stderr.strip()}")
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def download_table(s3, name, dest):
    prefix = f"keytrail/{name}/"
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="out", Prefix=prefix):
        for o in page.get("Contents", []):
            target = Path(dest) / name / o["Key"][len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file("out", o["Key"], str(target))
            n += 1
    if not n:
        return None
    return ds.dataset(Path(dest) / name, format="parquet", partitioning="hive").to_table()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", choices=["sequential", "concurrent"], default="sequential")
    ap.add_argument("--days", type=int, default=None, help="simulated days, invoked one file at a time (sequential: default 30; concurrent: history before the concurrent day, default 0)")
    ap.add_argument("--pairs-per-day", type=int, default=500, help="EBS attach/detach pairs (CreateGrant + uses + RetireGrant) per day (default 500)")
    ap.add_argument("--files-per-day", type=int, default=24, help="log files per sequential day (default 24, hourly)")
    ap.add_argument("--files", type=int, default=48, help="concurrent: files of the concurrent day (default 48)")
    ap.add_argument("--concurrency", type=int, default=8, help="concurrent: invocations at once, one function process each (default 8)")
    ap.add_argument("--uncovered-day", type=int, default=None, help="1-based day whose files carry a few Proton uses the grant does not cover (default: the middle sequential day; in concurrent mode the concurrent day)")
    ap.add_argument("--seed", type=int, default=1, help="input seed (default 1): same seed and sizes, same files byte for byte")
    ap.add_argument("--release", action="store_true", help="release build of the function (default: debug, what cargo lambda watch builds)")
    ap.add_argument("--timeout", type=int, default=300, help="how long cargo lambda watch lets an invoke wait for the function, in seconds (default 300, the template's function timeout)")
    ap.add_argument("--state", choices=["s3", "dynamodb"], default="s3", help="where the function keeps its cross-file state: s3 (ledger objects under the output, the default) "
                    "or dynamodb (a table created in moto before the function starts, named to it by KEYTRAIL_STATE_TABLE)")
    ap.add_argument("--table", default="keytrail-state", help="dynamodb: the state table's name (default keytrail-state)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment for the function (repeatable)")
    ap.add_argument("--csv", metavar="FILE", help="write every per-invocation row here")
    ap.add_argument("--json", metavar="FILE", help="write the summary (and per-day figures) here")
    a = ap.parse_args()
    for kv in a.env:
        if "=" not in kv:
            ap.error(f"--env {kv}: expected KEY=VALUE")
        if kv.split("=", 1)[0] == "KEYTRAIL_STATE_TABLE":
            ap.error("--env KEYTRAIL_STATE_TABLE: use --state dynamodb (and --table)")
    if a.days is None:
        a.days = 30 if a.mode == "sequential" else 0
    if a.mode == "sequential" and a.days < 1:
        ap.error("sequential needs --days >= 1")
    concurrent_mode = a.mode == "concurrent"
    if a.uncovered_day is None:
        uncovered = a.days if concurrent_mode else a.days // 2
    else:
        uncovered = a.uncovered_day - 1
    build = "release" if a.release else "debug"
    started = time.time()
    files = build_files(a.seed, a.days, a.files_per_day, a.pairs_per_day, a.files if concurrent_mode else 0, uncovered)
    n_events = sum(len(f["records"]) for f in files)
    print(f"state_sim {a.mode}: seed {a.seed}, {len(files)} files, {n_events} KMS events, hot key {KEY}; "
          f"{a.pairs_per_day} EBS grant pairs per day, uncovered Proton uses on day {uncovered + 1}; figures from a {build} build"
          + (f"; state in DynamoDB table {a.table}" if a.state == "dynamodb" else ""), flush=True)
    if not a.release:
        print("  (debug build: CPU figures are several times a release build's; pass --release for those)", flush=True)
    sim = Sim(a)
    summary = {"mode": a.mode, "seed": a.seed, "build": build, "pairs_per_day": a.pairs_per_day, "files_per_day": a.files_per_day,
               "days": a.days, "files_total": len(files), "kms_events_total": n_events, "env": a.env, "state": a.state}
    if a.state == "dynamodb":
        summary["table"] = a.table
    interrupted = False
    try:
        sim.start(a.concurrency if concurrent_mode else 1)
        history = [f for f in files if f["day"] < a.days]
        if history:
            rows = sim.run_sequential(history, "history" if concurrent_mode else "sequential")
            s = summarize(rows, build, a.state)
            print_summary(s)
            summary["sequential"] = s
        if concurrent_mode:
            print("building the CLI (cargo build --bin keytrail, debug) for the reference findings ...", flush=True)
            subprocess.run(["cargo", "build", "--quiet", "--bin", "keytrail"], cwd=ROOT, check=True)
            summary["concurrent"] = run_concurrent(sim, [f for f in files if f["day"] == a.days], a)
        c = sim.counter.snapshot()
        if c["unparsed"] and a.state == "dynamodb":
            print(f"note: {c['unparsed']} connections were not followed by the request counter; S3 and DynamoDB request counts are lower bounds "
                  "(and S3 bytes may include DynamoDB bytes)")
        elif c["unparsed"]:
            print(f"note: {c['unparsed']} S3 connections were not followed by the request counter; S3 request counts are lower bounds")
        if a.state == "dynamodb":
            summary["table_pks_first_scan_distinct"] = len(sim.pks) if sim.pks else 0
            summary["table_pks_first_scan"] = dict(sim.pks.most_common(100)) if sim.pks else {}  # items per pk, the 100 largest
            summary["hot_key_pks"] = sim.hot
        problems = log_problems(sim.fn.log_path)
        summary["function_log_problems"] = [{"count": n, "level": lv, "message": m, "first": first} for n, lv, m, first in problems]
        print(f"function log: {sum(p[0] for p in problems)} ERROR/WARN lines" + (", by message:" if problems else ""))
        for n, lv, m, first in problems:
            print(f"  {n:>5} x {lv} {m[:200]}")
            print(f"          first: {first[:400]}")
        print(f"total time {time.time() - started:.0f} s")
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted", file=sys.stderr)
    finally:
        if a.csv and sim.rows:
            with open(a.csv, "w", newline="") as out:
                fields = list(dict.fromkeys(k for r in sim.rows for k in r))
                per_op = [k for k in fields if k.startswith("ddb_") and k[4:5].isupper()]
                for r in sim.rows:  # an operation a row did not send: 0, not blank
                    if "ddb_requests" in r:
                        for k in per_op:
                            r.setdefault(k, 0)
                w = csv.DictWriter(out, fieldnames=fields, restval="")
                w.writeheader()
                w.writerows(sim.rows)
        if a.json:
            Path(a.json).write_text(json.dumps(summary, indent=2, default=str) + "\n")
        sim.stop()
    if interrupted:
        sys.exit(130)
    if summary.get("concurrent") and not summary["concurrent"]["ok"]:
        sys.exit(1)


def run_concurrent(sim, files, a):
    n = a.concurrency
    print(f"concurrent: {len(files)} files of day {files[0]['day'] + 1}, {n} invocations at once", flush=True)
    payloads = [sim.upload(f) for f in files]
    ddb = sim.dynamodb
    if ddb:
        table_before = sim.table_state()
        print(f"  table before the concurrent day: {table_before['table_items']} items, about {table_before['table_item_bytes']} bytes "
              f"(the hot key's items: {'not recognised' if table_before['hot_key_items'] is None else table_before['hot_key_items']})", flush=True)
    else:
        before = ledger_listing(sim.s3)
        ledger_before = before.get(HOT_LEDGER, 0) + before.get(UNKEYED_LEDGER, 0)
        print(f"  ledgers before the concurrent day: {len(before)} objects, {sum(before.values())} bytes (hot key + unkeyed: {ledger_before})", flush=True)
    delivered = collections.Counter()
    first_wall = {}
    pids0 = sim.fn.pids()
    cpu0 = {p: proc_cpu_ticks(p) or 0 for p in pids0}
    c0 = sim.counter.snapshot()
    pending = list(range(len(files)))
    results = {}
    rounds = []
    t0 = time.time()
    failed_first = None
    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        for rnd in range(6):  # the first delivery, then up to 5 redeliveries
            if not pending:
                break
            r0 = time.time()
            futs = {i: pool.submit(sim.fn.invoke, payloads[i], sim.work) for i in pending}
            failed = []
            for i, fu in futs.items():
                ok, resp, wall = fu.result()
                results[i] = (ok, resp, wall)
                delivered[i] += 1
                first_wall.setdefault(i, wall)
                if not ok:
                    failed.append(i)
                    errors.append((rnd, files[i]["key"].rsplit("/", 1)[1], str(resp)[:300]))
            rounds.append({"round": rnd, "invoked": len(pending), "failed": len(failed), "wall_s": round(time.time() - r0, 2)})
            print(f"  {'delivery' if rnd == 0 else f'redelivery {rnd}'}: {len(pending)} invocations, {len(failed)} failed, {time.time() - r0:.1f} s", flush=True)
            if failed_first is None:
                failed_first = len(failed)
            pending = failed
    wall = time.time() - t0
    for i, f in enumerate(files):
        ok, resp, w = results[i]
        row = {"mode": "concurrent", "day": f["day"], "file": i, "key": f["key"], "records": len(f["records"]),
               "ok": ok, "deliveries": delivered[i], "kms_events": resp.get("kms_events") if ok else None,
               "findings": resp.get("findings") if ok else None, "error": None if ok else str(resp)[:500],
               "wall_ms": round(w * 1000, 1)}
        if not ddb:  # (with the table, what each concurrent invocation read is not told apart: the day's totals below)
            row["ledger_read_bytes"] = ledger_before
        sim.rows.append(row)
    first_walls = sorted(first_wall.values())
    c1 = sim.counter.snapshot()
    pids1 = sim.fn.pids()
    ticks = sum((proc_cpu_ticks(p) or 0) - cpu0.get(p, 0) for p in pids1)
    mem = [proc_mem_mb(p) for p in pids1]
    d = counter_delta(c0, c1)
    for rnd, name, err in errors[:10]:
        print(f"  failure (round {rnd}) {name}: {err}")
    # Lost or doubled: every KMS eventID of every file sent, exactly once in kms_events.
    got = download_table(sim.s3, "kms_events", sim.work / "out")
    have = collections.Counter(got.column("event_id").to_pylist() if got is not None else [])
    want = collections.Counter(e for ids in sim.sent for e in ids)
    lost = sum((want - have).values())
    doubled = sum((have - want).values())
    # Findings: the function's findings table against one CLI process over the same files.
    ft = download_table(sim.s3, "findings", sim.work / "out")
    lam = {(r["rule"], r["event_id"]) for r in (ft.to_pylist() if ft is not None else [])}
    ref = {(f["rule"], f["event_id"]) for f in cli_findings(sim.local)}
    lam_rows = ft.num_rows if ft is not None else 0
    rounds_needed = len(rounds) - 1 if not pending else None
    print(f"concurrent result ({'release' if a.release else 'debug'} build, concurrency {n}):")
    print(f"  failed before redelivery: {failed_first} of {len(files)}; redelivery rounds needed: {rounds_needed if rounds_needed is not None else 'more than 5 (still failing: %d)' % len(pending)}")
    print(f"  wall time of the concurrent day: {wall:.1f} s; function CPU {ticks * 1000 / CLK:.0f} ms over {len(pids1)} processes "
          f"(max VmRSS {max((m[0] or 0) for m in mem) if mem else 0:.1f} MB, max VmHWM {max((m[1] or 0) for m in mem) if mem else 0:.1f} MB)")
    print(f"  invoke wall time, first delivery: median {first_walls[len(first_walls) // 2]:.1f} s, max {first_walls[-1]:.1f} s (includes waiting for a free process)")
    print(f"  S3: {d['requests']} requests ({d['gets']} GET, {d['puts']} PUT, {d['status_412']} conditional-write conflicts 412/409), {d['up']} bytes up, {d['down']} bytes down")
    if ddb:
        invocations = sum(delivered.values())
        ops = ", ".join(f"{n} {op}" for op, n in sorted(d["ddb_ops"].items())) or "none"
        print(f"  DynamoDB: {d['ddb_requests']} requests ({ops}), {d['ddb_conflicts']} conditional-check conflicts (ConditionalCheckFailedException), "
              f"{d['ddb_bytes_up']} bytes up, {d['ddb_bytes_down']} bytes down")
        print(f"  state read: {d['state_read_bytes']} bytes of GetItem/Query response bodies, {d['state_read_bytes'] / max(1, invocations):.0f} per invocation ({invocations} invocations)")
        if d["ddb_errors"]:
            print("  DynamoDB errors: " + ", ".join(f"{n} {k}" for k, n in sorted(d["ddb_errors"].items())))
        table_after = sim.table_state()
        sim.report_pks()
        print(f"  table after the concurrent day: {table_after['table_items']} items, about {table_after['table_item_bytes']} bytes (sum of the items' JSON sizes, an approximation); "
              f"the hot key's items: {'not recognised' if table_after['hot_key_items'] is None else table_after['hot_key_items']}", flush=True)
        if table_after["s3_ledger_objects"]:
            print(f"  note: {table_after['s3_ledger_objects']} ledger objects under s3://out/{LEDGER_PREFIX}: the function kept state in S3 ledgers, not (only) in the table")
    print(f"  events: {sum(want.values())} KMS events sent in {len(sim.sent)} files, {sum(have.values())} rows in kms_events: lost {lost}, doubled {doubled}")
    equal = lam == ref
    print(f"  findings equal to one CLI run: {'yes' if equal else 'no'} (function {len(lam)} distinct, {lam_rows} rows; CLI {len(ref)})")
    for x in sorted(ref - lam)[:20]:
        print(f"    missing from the function: {x}")
    for x in sorted(lam - ref)[:20]:
        print(f"    only in the function:      {x}")
    if lam_rows != len(lam):
        print(f"  note: the findings table holds {lam_rows - len(lam)} repeated (rule, event_id) rows")
    ok = not pending and lost == 0 and doubled == 0 and equal
    if ddb:
        state = {"state": "dynamodb", "table_before": table_before, "table_after": table_after, "ddb_requests": d["ddb_requests"], "ddb_ops": d["ddb_ops"],
                 "ddb_bytes_up_by_op": d["ddb_up"], "ddb_bytes_down_by_op": d["ddb_down"], "ddb_conflicts": d["ddb_conflicts"],
                 "ddb_errors": d["ddb_errors"], "state_read_bytes": d["state_read_bytes"],
                 "state_read_bytes_per_invocation": d["state_read_bytes"] / max(1, sum(delivered.values()))}
    else:
        state = {"ledger_bytes_before": ledger_before}
    s3 = {k: d[k] for k in ("requests", "gets", "puts", "heads", "status_412", "up", "down")}
    return {"ok": ok, "concurrency": n, "files": len(files), "processes": len(pids1), "failed_before_redelivery": failed_first,
            "rounds": rounds, "redelivery_rounds_needed": rounds_needed, "still_failing": len(pending), "lost": lost, "doubled": doubled,
            "findings_equal": equal, "findings_function": len(lam), "findings_function_rows": lam_rows, "findings_cli": len(ref),
            "missing": sorted(ref - lam), "extra": sorted(lam - ref), "wall_s": wall, "cpu_ms": ticks * 1000 / CLK, "s3": s3,
            "errors": errors, **state, "invoke_wall_s_median": first_walls[len(first_walls) // 2],
            "invoke_wall_s_max": first_walls[-1]}


if __name__ == "__main__":
    main()
