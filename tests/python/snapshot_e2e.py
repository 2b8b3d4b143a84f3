"""End-to-end proof of `keytrail snapshot` against a real KMS API, with no AWS account.

- moto's KMS server on 127.0.0.1 (started here, stopped by PID), behind a small HTTP proxy
  that answers GetKeyPolicy and ListGrants for one key with AccessDeniedException (moto
  enforces no permissions) and serves ListKeys, ListGrants and ListAliases one item per
  page (moto ignores Limit and never pages), so every page must be followed;
- keys, policies, grants and aliases made with boto3; the built `keytrail snapshot` writes
  the file, which is checked against what was made, then read back by keytrail itself
  (`keytrail snapshot --check FILE --json`, the model of `keytrail::snapshot::load`);
- a failed run (the endpoint a closed port) leaves the existing file byte for byte.

Fails, never skips, when moto or the binary is missing. Usage: snapshot_e2e.py (run from
the repository root, with .venv/bin on PATH, after `cargo build`).
"""

import datetime as dt
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3

from harness import CHECKS, check, free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
KEYTRAIL = ROOT / "target" / "debug" / "keytrail"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
SECRET = "keytrail-snapshot-e2e-SECRET-never-logged"

# The names the KMS API gives the fields of each shape.
KEY_METADATA = {"AWSAccountId", "KeyId", "Arn", "CreationDate", "Enabled", "Description", "KeyUsage",
                "KeyState", "DeletionDate", "ValidTo", "Origin", "CustomKeyStoreId", "CloudHsmClusterId",
                "ExpirationModel", "KeyManager", "CustomerMasterKeySpec", "KeySpec", "EncryptionAlgorithms",
                "SigningAlgorithms", "KeyAgreementAlgorithms", "EncapsulationAlgorithms", "MultiRegion",
                "MultiRegionConfiguration", "PendingDeletionWindowInDays", "MacAlgorithms",
                "XksKeyConfiguration", "CurrentKeyMaterialId"}
GRANT_LIST_ENTRY = {"KeyId", "GrantId", "Name", "CreationDate", "GranteePrincipal", "RetiringPrincipal",
                    "IssuingAccount", "Operations", "Constraints", "GranteeServicePrincipal",
                    "RetiringServicePrincipal"}
ALIAS_LIST_ENTRY = {"AliasName", "AliasArn", "TargetKeyId", "CreationDate", "LastUpdatedDate"}


# The list each paged operation returns.
PAGED = {"ListKeys": "Keys", "ListGrants": "Grants", "ListAliases": "Aliases"}


class DenyingProxy:
    """HTTP proxy to moto that denies GetKeyPolicy and ListGrants on the keys in `denied`,
    and pages the lists one item at a time (`Marker` is the next item's index)."""

    def __init__(self, target_port):
        self.denied = set()
        self.pages = {op: 0 for op in PAGED}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                try:
                    request = json.loads(body or b"{}")
                except ValueError:
                    request = {}
                key = request.get("KeyId")
                if op in ("GetKeyPolicy", "ListGrants") and key in proxy.denied:
                    out = json.dumps({"__type": "AccessDeniedException",
                                      "message": f"User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: kms:{op}"}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                up = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                up.request("POST", self.path, body=body, headers=headers)
                r = up.getresponse()
                data = r.read()
                if op in PAGED and r.status == 200:
                    whole = json.loads(data)
                    items = whole.get(PAGED[op]) or []
                    at = int(request.get("Marker") or 0)
                    page = {PAGED[op]: items[at:at + 1], "Truncated": at + 1 < len(items)}
                    if page["Truncated"]:
                        page["NextMarker"] = str(at + 1)
                    proxy.pages[op] += 1
                    data = json.dumps(page).encode()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                up.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def policy(sid, principal):
    return json.dumps({"Version": "2012-10-17", "Id": f"e2e-{sid}", "Statement": [
        {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:*", "Resource": "*"}]})


def trail_record(event_id, when, name, key_arn, ui, req, resp=None):
    return {"eventVersion": "1.08", "eventSource": "kms.amazonaws.com", "eventName": name, "eventID": event_id,
            "eventTime": when, "awsRegion": REGION, "recipientAccountId": ACCOUNT, "eventType": "AwsApiCall",
            "userIdentity": ui, "requestParameters": req, "responseElements": resp,
            "resources": [{"type": "AWS::KMS::Key", "ARN": key_arn, "accountId": ACCOUNT}]}


def baseline_run(work, env, out, doc, a, b, subset):
    """A trail written by hand around the keys moto made, judged with and without the snapshot
    keytrail just wrote: the grant the snapshot lists covers Proton's use, the key policy it
    records decides the role's, and B's state contradicts the trail's EnableKey."""
    taken = doc["snapshot_time"][:19] + "Z"
    t = dt.datetime.strptime(taken, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    at = lambda minutes: (t + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    proton = {"type": "AWSService", "invokedBy": "proton.amazonaws.com"}
    role = {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/s", "accountId": ACCOUNT,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/worker"}}}
    admin = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/admin", "accountId": ACCOUNT}
    records = [
        trail_record("e2e-0001", at(-30), "EnableKey", b["Arn"], admin, {"keyId": b["KeyId"]}),
        trail_record("e2e-0002", at(60), "Decrypt", a["Arn"], proton, {"encryptionContext": subset}),
        trail_record("e2e-0003", at(61), "Decrypt", a["Arn"], role, {"encryptionContext": subset}),
    ]
    trail = work / "trail" / "e2e.json"
    trail.parent.mkdir()
    trail.write_text(json.dumps({"Records": records}))

    def findings(*extra):
        r = keytrail(["findings", str(trail), "--format", "json", "--quiet", *extra], env)
        check(r.returncode == 0, f"findings {' '.join(extra)} exits 0 ({r.stderr.strip()})")
        return {(f["rule"], f["event_id"]): f for f in map(json.loads, r.stdout.splitlines())}

    plain = findings()
    check(set(plain) == {("use-without-grant", "e2e-0002"), ("use-without-grant", "e2e-0003")}
          and all(f["severity"] == "medium" and f["authorization"] == "unknown" for f in plain.values()),
          f"without the snapshot: two uses no grant covers, no key policy known (medium, unknown): {sorted(plain)}")
    based = findings("--baseline", str(out))
    check(("use-without-grant", "e2e-0002") not in based,
          "with it: the grant ListGrants returned covers Proton's Decrypt (moto gives no CreationDate: from the snapshot time)")
    w = based.get(("use-without-grant", "e2e-0003"), {})
    check(w.get("severity") == "low" and w.get("authorization") == "iam-delegated"
          and "the policy in the snapshot taken at" in w.get("message", ""),
          f"the role's Decrypt: the recorded policy delegates to the account (low, iam-delegated): {w.get('message')}")
    s = based.get(("state-disagrees-with-snapshot", ""), {})
    check(s.get("severity") == "medium" and s.get("key_arn") == b["Arn"] and s.get("related_event_ids") == ["e2e-0001"],
          f"B: the trail's EnableKey against the snapshot's Disabled (medium, related EnableKey): {s.get('message')}")
    tables = work / "tables"
    r = keytrail(["analyze", str(trail), "--out", str(tables), "--quiet", "--baseline", str(out)], env)
    check(r.returncode == 0 and "state-disagrees-with-snapshot" in r.stdout, f"analyze --baseline writes the tables ({r.stderr.strip()})")
    again = findings("--tables", str(tables), "--baseline", str(out))
    check(again == based, "findings --tables --baseline gives the same findings")


def keytrail(args, env):
    return subprocess.run([str(KEYTRAIL), *args], env=env, capture_output=True, text=True, timeout=120)


def main():
    # Missing tools fail the test: it must never pass by not running.
    if not KEYTRAIL.is_file():
        raise SystemExit(f"FAIL: {KEYTRAIL} is missing: run `cargo build` first")
    moto = shutil.which("moto_server")
    if moto is None:
        raise SystemExit("FAIL: moto_server is not on PATH: install tests/python/requirements.txt into .venv")

    work = Path(tempfile.mkdtemp(prefix="keytrail-snapshot-e2e-"))
    port = free_port()
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    proxy = None
    try:
        wait_port(port)
        proxy = DenyingProxy(port)
        run(work, port, proxy)
    finally:
        if proxy is not None:
            proxy.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"snapshot_e2e: {len(CHECKS)} passed, 0 failed")


def run(work, port, proxy):
    kms = boto3.client("kms", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                       aws_access_key_id="AKIAKEYTRAILE2E", aws_secret_access_key=SECRET)
    made_at = time.time()
    p_explicit = policy("explicit", f"arn:aws:iam::{ACCOUNT}:root")
    a = kms.create_key(Policy=p_explicit, Description="explicit policy")["KeyMetadata"]
    b = kms.create_key(Description="default policy, disabled")["KeyMetadata"]
    c = kms.create_key(Description="policy put, deletion scheduled")["KeyMetadata"]
    d = kms.create_key(Description="the auditor may not read its policy or grants")["KeyMetadata"]
    p_put = policy("put", f"arn:aws:iam::{ACCOUNT}:role/admin")
    kms.put_key_policy(KeyId=c["KeyId"], PolicyName="default", Policy=p_put)
    subset = {"aws:proton:template": f"arn:aws:proton:{REGION}:{ACCOUNT}:service-template/web",
              "aws:proton:resource": f"arn:aws:proton:{REGION}:{ACCOUNT}:service/web"}
    grants = {
        kms.create_grant(KeyId=a["KeyId"], GranteePrincipal="proton.amazonaws.com", Name="proton-web",
                         RetiringPrincipal=f"arn:aws:iam::{ACCOUNT}:role/retirer",
                         Operations=["Decrypt", "Encrypt", "GenerateDataKey"],
                         Constraints={"EncryptionContextSubset": subset})["GrantId"]:
            ("proton.amazonaws.com", ["Decrypt", "Encrypt", "GenerateDataKey"], {"EncryptionContextSubset": subset}),
        kms.create_grant(KeyId=a["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/app",
                         Operations=["Decrypt"],
                         Constraints={"EncryptionContextEquals": {"app": "billing"}})["GrantId"]:
            (f"arn:aws:iam::{ACCOUNT}:role/app", ["Decrypt"], {"EncryptionContextEquals": {"app": "billing"}}),
        kms.create_grant(KeyId=a["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/reader",
                         Operations=["DescribeKey"])["GrantId"]:
            (f"arn:aws:iam::{ACCOUNT}:role/reader", ["DescribeKey"], None),
    }
    kms.create_grant(KeyId=d["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/hidden", Operations=["Decrypt"])
    kms.create_alias(AliasName="alias/e2e-a", TargetKeyId=a["KeyId"])
    kms.create_alias(AliasName="alias/e2e-b", TargetKeyId=b["KeyId"])
    kms.create_alias(AliasName="alias/e2e-b2", TargetKeyId=b["KeyId"])
    kms.disable_key(KeyId=b["KeyId"])
    deletion = kms.schedule_key_deletion(KeyId=c["KeyId"], PendingWindowInDays=7)["DeletionDate"].timestamp()
    proxy.denied = {d["KeyId"], d["Arn"]}
    made = {k["Arn"]: k for k in (a, b, c, d)}

    home = work / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "AWS_ACCESS_KEY_ID": "AKIAKEYTRAILE2E",
           "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_CONFIG_FILE": str(home / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"}
    out = work / "snap" / "keys.json"
    out.parent.mkdir()

    print("== keytrail snapshot against moto")
    before = time.time()
    r = keytrail(["snapshot", "--out", str(out), "--region", REGION], env)
    after = time.time()
    check(r.returncode == 0, f"snapshot exits 0 though one key's calls are denied (exit {r.returncode}: {r.stderr.strip()})")
    check(r.stdout.startswith(f"snapshot of 4 keys (3 grants, 3 aliases) in {ACCOUNT} {REGION} written to {out}"),
          f"the summary line counts the keys, grants and aliases: {r.stdout.strip()}")
    check(proxy.pages["ListKeys"] == 4 and proxy.pages["ListGrants"] == 3 + 1 + 1 and proxy.pages["ListAliases"] >= 3,
          f"every page was read, one item a page (ListGrants: A's 3 grants, one empty page each for B and C, D denied): {proxy.pages}")
    notes = r.stderr.strip().splitlines()
    check(len(notes) == 2 and all(n.startswith(f"note: {d['Arn']}: ") for n in notes)
          and "GetKeyPolicy: AccessDeniedException" in notes[0] and "ListGrants: AccessDeniedException" in notes[1],
          f"each denied call is one note line naming the key: {notes}")
    check(out.stat().st_mode & 0o777 == 0o600, f"the file is readable by its owner only ({oct(out.stat().st_mode & 0o777)})")
    doc = json.loads(out.read_text())
    check(set(doc) == {"snapshot_time", "account_id", "region", "keys"}, f"top-level fields {sorted(doc)}")
    from datetime import datetime
    t = datetime.fromisoformat(doc["snapshot_time"].replace("Z", "+00:00")).timestamp()
    check(before - 1 <= t <= after + 1 and doc["snapshot_time"].endswith("Z"), f"snapshot_time is RFC 3339 UTC, the run's: {doc['snapshot_time']}")
    check(doc["account_id"] == ACCOUNT and doc["region"] == REGION, "account_id from the key ARNs, region the client's")
    keys = {k["key_arn"]: k for k in doc["keys"]}
    check(set(keys) == set(made), "every key ListKeys returned, each once, by its ARN")
    check([k["key_arn"] for k in doc["keys"]] == sorted(keys), "keys in ARN order")
    for k in doc["keys"]:
        check(set(k) <= {"key_arn", "describe_key", "key_policy", "grants", "aliases", "errors"}, f"key fields {sorted(k)}")
        m = k["describe_key"]
        check(set(m) <= KEY_METADATA and {"KeyId", "Arn", "AWSAccountId", "CreationDate", "Enabled", "KeyState", "KeyManager", "Origin"} <= set(m),
              f"KeyMetadata fields as the API names them: {sorted(m)}")
        check(m["Arn"] == k["key_arn"] and m["AWSAccountId"] == ACCOUNT and m["KeyManager"] == "CUSTOMER" and m["Origin"] == "AWS_KMS",
              "Arn, AWSAccountId, KeyManager, Origin")
        check(isinstance(m["CreationDate"], (int, float)) and made_at - 5 <= m["CreationDate"] <= after + 5,
              f"CreationDate is epoch seconds: {m['CreationDate']}")
        for g in k.get("grants") or []:
            check(set(g) <= GRANT_LIST_ENTRY, f"GrantListEntry fields as the API names them: {sorted(g)}")
        for al in k.get("aliases") or []:
            check(set(al) <= ALIAS_LIST_ENTRY, f"AliasListEntry fields as the API names them: {sorted(al)}")
    ka, kb, kc, kd = (keys[x["Arn"]] for x in (a, b, c, d))
    check(ka["describe_key"]["KeyState"] == "Enabled" and ka["describe_key"]["Enabled"] is True, "A: Enabled")
    check(kb["describe_key"]["KeyState"] == "Disabled" and kb["describe_key"]["Enabled"] is False, "B: Disabled")
    check(kc["describe_key"]["KeyState"] == "PendingDeletion" and abs(kc["describe_key"]["DeletionDate"] - deletion) < 1,
          "C: PendingDeletion, DeletionDate in epoch seconds")
    check(ka["key_policy"] == p_explicit, "A: the explicit policy's text, as given")
    check(kc["key_policy"] == p_put, "C: the policy PutKeyPolicy set")
    dflt = json.loads(kb["key_policy"])
    check(any(s.get("Principal", {}).get("AWS") == f"arn:aws:iam::{ACCOUNT}:root" and s.get("Action") == "kms:*"
              for s in dflt["Statement"]), "B: the default key policy (the account root may do kms:*)")
    got = {g["GrantId"]: g for g in ka["grants"]}
    check(set(got) == set(grants), "A: every grant, by GrantId")
    for gid, (grantee, ops, constraints) in grants.items():
        g = got[gid]
        check(g["GranteePrincipal"] == grantee and sorted(g["Operations"]) == sorted(ops)
              and g.get("Constraints") == constraints, f"grant {gid}: grantee, operations, constraints {constraints}")
    named = [g for g in ka["grants"] if g.get("Name") == "proton-web"]
    check(len(named) == 1 and named[0]["RetiringPrincipal"] == f"arn:aws:iam::{ACCOUNT}:role/retirer", "grant name and retiring principal")
    check(kb["grants"] == [] and kc["grants"] == [], "B and C: no grants")
    check([x["AliasName"] for x in ka["aliases"]] == ["alias/e2e-a"] and ka["aliases"][0]["TargetKeyId"] == a["KeyId"]
          and ka["aliases"][0]["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/e2e-a", "A: its alias, matched by TargetKeyId")
    check(sorted(x["AliasName"] for x in kb["aliases"]) == ["alias/e2e-b", "alias/e2e-b2"], "B: its two aliases")
    check(kc["aliases"] == [] and "errors" not in ka, "C: no alias; no errors where none happened")
    check(kd["key_policy"] is None and kd["grants"] is None and kd["describe_key"]["KeyState"] == "Enabled"
          and [e.split(":")[0] for e in kd["errors"]] == ["GetKeyPolicy", "ListGrants"]
          and all("AccessDeniedException: User: arn:aws:iam::" in e for e in kd["errors"]),
          f"D: the denied calls recorded in its errors, the rest kept: {kd.get('errors')}")
    check(SECRET not in out.read_text() + r.stdout + r.stderr, "the secret key is in no output")

    print("== read back: keytrail snapshot --check (keytrail::snapshot::load)")
    r = keytrail(["snapshot", "--check", str(out), "--json"], env)
    check(r.returncode == 0 and r.stderr == "", f"--check --json reads it with no problem (exit {r.returncode}: {r.stderr.strip()})")
    model = json.loads(r.stdout)
    check(model["problems"] == [] and model["account_id"] == ACCOUNT and model["region"] == REGION
          and model["snapshot_time"] == round(t * 1000), "the model's time (Unix ms), account and region")
    mk = {k["key_arn"]: k for k in model["keys"]}
    check(set(mk) == set(made), "the model holds every key")
    for arn, k in mk.items():
        m = keys[arn]["describe_key"]
        check(k["key_id"] == made[arn]["KeyId"] and k["key_state"] == m["KeyState"] and k["enabled"] == m["Enabled"]
              and k["creation_date"] == round(m["CreationDate"] * 1000) and k["key_manager"] == "CUSTOMER" and k["origin"] == "AWS_KMS",
              f"{k['key_state']} key: id, state, enabled, creation date in ms as written")
    ma = mk[a["Arn"]]
    check(ma["policy"] == p_explicit and ma["grants_known"] and ma["aliases"] == ["alias/e2e-a"], "A: policy, grants known, alias")
    kinds = {g["grant_id"]: (g["constraint_kind"], g["constraint"], g["grantee_principal"], sorted(g["operations"]), g["key_arn"]) for g in ma["grants"]}
    want = {gid: ({"EncryptionContextSubset": "encryptionContextSubset", "EncryptionContextEquals": "encryptionContextEquals"}[next(iter(cons))] if cons else "none",
                  next(iter(cons.values())) if cons else {}, grantee, sorted(ops), a["Arn"]) for gid, (grantee, ops, cons) in grants.items()}
    check(kinds == want, "A's grants in the model: constraint kind and context, grantee, operations, key ARN")
    check(mk[b["Arn"]]["aliases"] == ["alias/e2e-b", "alias/e2e-b2"] and mk[c["Arn"]]["deletion_date"] == round(keys[c["Arn"]]["describe_key"]["DeletionDate"] * 1000),
          "B's aliases, C's deletion date")
    md = mk[d["Arn"]]
    check(md["policy"] is None and not md["grants_known"] and len(md["errors"]) == 2, "D: policy unknown, grants unknown, two errors")
    r = keytrail(["snapshot", "--check", str(out)], env)
    check(r.returncode == 0 and r.stdout.strip() == f"{out}: snapshot of {doc['snapshot_time']}, account {ACCOUNT}, region {REGION}: "
          "4 keys (2 enabled, 1 disabled, 1 pending deletion), 3 grants, 3 aliases, 1 keys with recorded errors, 0 problems",
          f"--check prints one summary line: {r.stdout.strip()}")

    print("== --profile: region and credentials from a named profile only")
    cfg, creds = home / "aws-config", home / "aws-credentials"
    cfg.write_text(f"[profile e2e]\nregion = {REGION}\n")
    creds.write_text(f"[e2e]\naws_access_key_id = AKIAKEYTRAILE2E\naws_secret_access_key = {SECRET}\n")
    penv = {k: v for k, v in env.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    penv.update(AWS_CONFIG_FILE=str(cfg), AWS_SHARED_CREDENTIALS_FILE=str(creds))
    prof = work / "snap" / "by-profile.json"
    r = keytrail(["snapshot", "--out", str(prof), "--profile", "e2e"], penv)
    got = json.loads(prof.read_text()) if prof.exists() else {}
    check(r.returncode == 0 and got.get("region") == REGION and sorted(k["key_arn"] for k in got.get("keys", [])) == sorted(made),
          f"snapshot --profile e2e reads the region and keys through that profile ({r.stderr.strip()[:200]})")
    r = keytrail(["snapshot", "--out", str(work / "snap" / "none.json"), "--profile", "missing"], penv)
    check(r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1 and not (work / "snap" / "none.json").exists(),
          f"an unknown profile: exit 3, one line, nothing written ({r.stderr.strip()[:200]})")
    prof.unlink()

    print("== the snapshot as the baseline of a trail (analyze --baseline)")
    baseline_run(work, env, out, doc, a, b, subset)

    print("== a failed run leaves the existing file as it was")
    old = out.read_bytes()
    listing = sorted(os.listdir(out.parent))
    closed = free_port()
    for name, extra in (("AWS_ENDPOINT_URL", {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed}"}),
                        ("AWS_ENDPOINT_URL_KMS over AWS_ENDPOINT_URL", {"AWS_ENDPOINT_URL_KMS": f"http://127.0.0.1:{closed}"})):
        started = time.time()
        r = keytrail(["snapshot", "--out", str(out), "--region", REGION], {**env, **extra})
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 3 and len(lines) == 1 and lines[0].startswith("error: ListKeys: connection failed")
              and "nothing was written" in lines[0], f"{name} at a closed port: exit 3, one line: {lines}")
        check(out.read_bytes() == old and sorted(os.listdir(out.parent)) == listing,
              f"the old file is byte-identical and no temporary file is left ({time.time() - started:.1f} s)")
    r = keytrail(["snapshot", "--out", str(out.parent), "--region", REGION], env)
    check(r.returncode == 3 and r.stderr.strip() == f"error: --out {out.parent}: is a folder; name the snapshot file to write",
          f"--out naming a folder: exit 3 before any call: {r.stderr.strip()}")
    r = keytrail(["snapshot", "--out", str(work / "no-such-folder" / "k.json"), "--region", REGION], env)
    check(r.returncode == 3 and "does not exist" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
          f"--out in a missing folder: exit 3, one line: {r.stderr.strip()}")
    r = keytrail(["snapshot", "--out", str(out)], env)
    check(r.returncode == 3 and r.stderr.strip() == "error: no AWS region: set AWS_REGION or pass --region" and out.read_bytes() == old,
          f"no region: exit 3, one line, file untouched: {r.stderr.strip()}")
    bad = work / "snap" / "bad.json"
    bad.write_text('{"keys": [{"key_arn": "arn:aws:kms:us-east-1:123456789012:key/x", "grants": [{"Name": "no id"}]}]}')
    r = keytrail(["snapshot", "--check", str(bad)], env)
    check(r.returncode == 2 and r.stderr.strip() == f"error: {bad}: key 0 (arn:aws:kms:us-east-1:123456789012:key/x): grant 0: GrantId: skipped: the grant has no GrantId",
          f"--check of a file with a bad grant: exit 2, the problem in one line: {r.stderr.strip()}")
    bad.write_text("{not json")
    r = keytrail(["snapshot", "--check", str(bad)], env)
    check(r.returncode == 3 and r.stderr.startswith(f"error: {bad}: not a snapshot: invalid JSON") and len(r.stderr.strip().splitlines()) == 1,
          f"--check of a file that is not JSON: exit 3, one line: {r.stderr.strip()}")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print(f"snapshot_e2e: {len(CHECKS) - 1} passed, 1 failed", file=sys.stderr)
        sys.exit(1)
