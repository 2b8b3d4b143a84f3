#!/usr/bin/env python3
"""Generate keytrail's synthetic CloudTrail test data (AWS Proton stories).

Python 3.11, standard library only, deterministic: every run writes byte-identical
files (gzip mtime=0, fixed iteration order, one seeded random.Random for cosmetic
choices such as noise records and file-name suffixes).

    python3 testdata/make_testdata.py

Writes, next to this script:
  trail/     CloudTrail S3 layout: AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz,
             plus CloudTrail-Digest/ and CloudTrail-Insight/ siblings that must be skipped
  broken/    truncated.json.gz, not-json.json (error paths)
  formats/   the same 5 KMS records in every accepted input format (lookup-events.json and
             lake-query-results.json there are written by hand, and kept)
  expected/  findings.jsonl (hand-derived oracle over trail/, grace 300 s), findings_with_baseline.jsonl
             (the same with baseline/ as `--baseline` snapshots, RULES.md 6.6) and counts.json
  baseline/  snapshots of today's keys (`keytrail snapshot` format), taken after the trail
  README.md  every story, event by event

All data is synthetic: accounts, keys, principals, addresses and ids are made up.

THE EXPECTED FINDINGS ARE WRITTEN BY HAND (see the `expect(...)` calls after each
story), from the story design and the rules text in RULES.md. Nothing in this script
evaluates the rules: it only looks up the time / name of the event a finding names.
"""
from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import json
import random
import shutil
import string
import uuid
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAIL = HERE / "trail"
BROKEN = HERE / "broken"
FORMATS = HERE / "formats"
# Written by hand, not by this script (see the README): kept when formats/ is rewritten.
HAND_WRITTEN = {FORMATS / "lookup-events.json", FORMATS / "lake-query-results.json"}
EXPECTED = HERE / "expected"

UTC = dt.timezone.utc
NS = uuid.UUID("6b657974-7261-4c00-8000-746573746461")  # fixed namespace for uuid5 ids
RNG = random.Random(20250211)  # the only source of randomness for stories 1-8
# Stories 9+ (and the noise of their files) draw from a second stream, so that adding them
# left every file of stories 1-8 byte-identical.
RNG_NEW = random.Random(20261201)
# Stories 18+ (key policies, issue 12) and their noise draw from a third stream, for the same reason:
# adding them left every file of stories 1-17 byte-identical.
RNG_POL = random.Random(20260706)
BUCKET = "keytrail-example-org-cloudtrail"
TRAIL_NAME = "org-management-events"

A = "111122223333"  # account A
B = "444455556666"  # account B
ROOT_A = f"arn:aws:iam::{A}:root"
USE1, EUW1 = "us-east-1", "eu-west-1"

# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def uid(tag: str) -> str:
    return str(uuid.uuid5(NS, tag))


def hexid(tag: str, n: int = 64) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()[:n]


def alnum(tag: str, n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    d = hashlib.sha256(tag.encode()).digest() * 2
    return "".join(alphabet[b % len(alphabet)] for b in d[:n])


def aws_date(t: dt.datetime) -> str:
    """CloudTrail's non-ISO payload dates, e.g. 'Mar 5, 2025, 8:00:00 AM'."""
    h12 = t.hour % 12 or 12
    return f"{t.strftime('%b')} {t.day}, {t.year}, {h12}:{t.strftime('%M:%S')} {'AM' if t.hour < 12 else 'PM'}"


def doc_ip(tag: str) -> str:
    nets = ["192.0.2", "198.51.100", "203.0.113"]
    d = hashlib.sha256(tag.encode()).digest()
    return f"{nets[d[0] % 3]}.{d[1] % 250 + 2}"


CLI_UA = ("aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64 "
          "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/command#{cmd}")
BOTO_UA = ("Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 os/linux#5.10.230-223.885.amzn2.x86_64 md/arch#x86_64 "
           "lang/python#3.12.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.90")
GO_UA = "aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/{api}"
CONSOLE_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def tls(host: str) -> dict:
    return {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}


# ---------------------------------------------------------------------------
# identities
# ---------------------------------------------------------------------------


def role_pid(acct: str, role: str) -> str:
    return "AROA" + alnum(f"roleid:{acct}:{role}", 17)


def ui_role(acct, role, session, invoked_by=None, issuer=True, creation="AUTO"):
    ui = {
        "type": "AssumedRole",
        "principalId": f"{role_pid(acct, role)}:{session}",
        "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/{session}",
        "accountId": acct,
        "accessKeyId": "ASIA" + alnum(f"ak:{acct}:{role}:{session}", 16),
        "sessionContext": {
            "sessionIssuer": ({"type": "Role", "principalId": role_pid(acct, role),
                               "arn": f"arn:aws:iam::{acct}:role/{role}", "accountId": acct,
                               "userName": role} if issuer else {}),
            "webIdFederationData": {},
            "attributes": {"creationDate": creation, "mfaAuthenticated": "false"},
        },
    }
    if invoked_by:
        ui["invokedBy"] = invoked_by
    return ui


def ui_user(acct, name):
    return {"type": "IAMUser", "principalId": "AIDA" + alnum(f"user:{acct}:{name}", 17),
            "arn": f"arn:aws:iam::{acct}:user/{name}", "accountId": acct,
            "accessKeyId": "AKIA" + alnum(f"ak:{acct}:{name}", 16), "userName": name}


def ui_service(svc="proton.amazonaws.com"):
    return {"type": "AWSService", "invokedBy": svc}


def ui_internal(acct):  # KMS lifecycle service events: no type at all
    return {"accountId": acct, "invokedBy": "AWS Internal"}


PROTON = "proton.amazonaws.com"
PROTON_USE1 = "proton.us-east-1.amazonaws.com"
PROTON_EUW1 = "proton.eu-west-1.amazonaws.com"

# ---------------------------------------------------------------------------
# keys and Proton ARNs
# ---------------------------------------------------------------------------


class Key:
    def __init__(self, name, acct, region):
        self.name, self.acct, self.region = name, acct, region
        self.id = uid("key:" + name)
        self.arn = f"arn:aws:kms:{region}:{acct}:key/{self.id}"


K1 = Key("K1", A, USE1)   # S1 service template web-svc (grants retired)
K2 = Key("K2", A, USE1)   # S2 environment template base-env (disable / schedule / cancel)
K3 = Key("K3", B, EUW1)   # S3 EXTERNAL-origin key (imported material)
K4 = Key("K4", B, USE1)   # S4 service template api-svc (late grant, revoke)
K5 = Key("K5", A, EUW1)   # S5 ReEncrypt source
K6 = Key("K6", A, EUW1)   # S5 ReEncrypt destination (no grant)
K7 = Key("K7", A, USE1)   # S6 malformed contexts
K8 = Key("K8", B, EUW1)   # S7 scheduled deletion then DeleteKey
K9 = Key("K9", A, EUW1)   # S8 non-Proton key, disabled
K10 = Key("K10", A, EUW1)  # S8 key already disabled before the logs start
K11 = Key("K11", A, USE1)  # S9 account-root grantees
K12 = Key("K12", A, EUW1)  # S10 service-principal grant with a source ARN; a service retiring its own grant
K13 = Key("K13", B, USE1)  # S11 forward access session; denial after CreateGrant; denial after RevokeGrant
K14 = Key("K14", A, USE1)  # S12 used from account B: cross-account copies
K15 = Key("K15", B, EUW1)  # S13 EXTERNAL: re-import while disabled, expired material
K16 = Key("K16", A, EUW1)  # S14 disabled, scheduled for deletion, deleted
K17 = Key("K17", B, USE1)  # S15 EXTERNAL: material pending rotation deleted, on-demand rotation
K18 = Key("K18", A, USE1)  # S16 in a custom key store that is disconnected
K19 = Key("K19", B, EUW1)  # S17 ECC key agreement key (DeriveSharedSecret)
K20 = Key("K20", A, USE1)  # S18-S19 key policy with a context condition; PutKeyPolicy removes it
K21 = Key("K21", B, EUW1)  # S20 default key policy, IAM role of the key's account
K22 = Key("K22", A, EUW1)  # S21 default key policy, AWS service caller
K23 = Key("K23", B, USE1)  # S22 conditions on keys the log cannot tell
K24 = Key("K24", A, USE1)  # S23 explicit Deny beside Allow kms:*
K25 = Key("K25", B, EUW1)  # S24 no policy and no grant in the input
K26 = Key("K26", A, EUW1)  # S25 grant retired, key policy allows the service
K27 = Key("K27", B, USE1)  # S26 PutKeyPolicy with a policy object, NotAction and NotPrincipal
K28 = Key("K28", A, USE1)  # S27 kms:ViaService and a forward access session
K29 = Key("K29", B, EUW1)  # S28 PutKeyPolicy whose policy text is not JSON
KF = Key("KF", A, USE1)   # formats/ only
KEYS = [K1, K2, K3, K4, K5, K6, K7, K8, K9, K10, K11, K12, K13, K14, K15, K16, K17, K18, K19,
        K20, K21, K22, K23, K24, K25, K26, K27, K28, K29]


def parn(acct, region, rest):
    return f"arn:aws:proton:{region}:{acct}:{rest}"


def pctx(template=None, resource=None):
    c = {}
    if template is not None:
        c["aws:proton:template"] = template
    if resource is not None:
        c["aws:proton:resource"] = resource
    return c


PROTON_OPS = ["Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
              "ReEncryptFrom", "ReEncryptTo", "DescribeKey", "CreateGrant", "RetireGrant"]

USE_NAMES = {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
             "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify",
             "GenerateMac", "VerifyMac", "DeriveSharedSecret"}
GRANT_NAMES = {"CreateGrant", "RetireGrant", "RevokeGrant"}
# RULES.md section 3's state table; the custom key store calls change the state of the store's keys.
STATE_NAMES = {"DisableKey", "EnableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "DeleteKey",
               "DeleteImportedKeyMaterial", "DeleteExpiredKeyMaterial", "ImportKeyMaterial",
               "ReplicateKey", "UpdatePrimaryRegion", "DisconnectCustomKeyStore", "ConnectCustomKeyStore"}

# ---------------------------------------------------------------------------
# record builders
# ---------------------------------------------------------------------------


def base(source, name, acct, region, ui, *, version="1.11", ua=None, ip=None, error=None,
         req=None, resp=None, add_data=None, request_id=True, read_only=False, resources=None,
         event_type="AwsApiCall", category="Management", management=True, host=None,
         extra=None):
    ui = copy.deepcopy(ui)  # identities are shared between builders: never alias them
    inv = ui.get("invokedBy")
    if ui.get("type") == "AWSService" or inv == "AWS Internal":
        ip = ip or inv
        ua = ua or inv
    else:
        ip = ip or (inv if inv else doc_ip(ui.get("arn", acct)))
        ua = ua or (inv if inv else CLI_UA.format(cmd=source.split(".")[0] + "." + name.lower()))
    r = {"eventVersion": version, "userIdentity": ui, "eventTime": None, "eventSource": source,
         "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": ua}
    if error:
        r["errorCode"], r["errorMessage"] = error
    r["requestParameters"] = req
    r["responseElements"] = resp
    if add_data is not None:
        r["additionalEventData"] = add_data
    if request_id:
        r["requestID"] = "REQUEST_ID"
    r["eventID"] = None
    r["readOnly"] = read_only
    if resources:
        r["resources"] = resources
    r["eventType"] = event_type
    r["managementEvent"] = management
    r["recipientAccountId"] = acct
    if ui.get("type") == "AWSService":
        r["sharedEventID"] = "SHARED_ID"
    if extra:
        r.update(extra)
    r["eventCategory"] = category
    if not inv and host is not False:
        r["tlsDetails"] = tls(host or f"{source.split('.')[0]}.{region}.amazonaws.com")
    return r


def key_res(k: Key):
    return {"accountId": k.acct, "type": "AWS::KMS::Key", "ARN": k.arn}


def kms(name, k: Key, ui, req, resp=None, **kw):
    kw.setdefault("read_only", name in USE_NAMES)
    if "resources" not in kw:
        kw["resources"] = [key_res(k)]
    return base("kms.amazonaws.com", name, k.acct, k.region, ui, req=req, resp=resp,
                host=f"kms.{k.region}.amazonaws.com", **kw)


def use(name, k: Key, ui, context, *, key_id="arn", resources=True, error=None, read_only=None,
        version="1.11"):
    kid = {"arn": k.arn, "bare": k.id, "alias": "alias/proton-key", None: None}[key_id]
    req = {}
    if name == "Decrypt":
        if kid:
            req["keyId"] = kid
        req["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    elif name == "Encrypt":
        req["keyId"] = kid
        req["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
    elif name == "GenerateDataKey":
        req["keyId"] = kid
        req["keySpec"] = "AES_256"
    elif name == "GenerateDataKeyWithoutPlaintext":
        req["keyId"] = kid
        req["numberOfBytes"] = 32
    else:
        raise ValueError(name)
    if context is not None:
        req["encryptionContext"] = context
    kw = {"version": version, "error": error}
    if read_only is not None:
        kw["read_only"] = read_only
    if not resources:
        kw["resources"] = None
    return kms(name, k, ui, req, None, **kw)


def reencrypt(src: Key, dst: Key, ui, sctx, dctx):
    req = {"sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "sourceEncryptionContext": sctx,
           "destinationKeyId": dst.arn, "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
           "destinationEncryptionContext": dctx}
    return kms("ReEncrypt", src, ui, req, None, resources=[key_res(src), key_res(dst)])


def create_grant(k: Key, ui, grantee, template, gid=None, *, retiring="same", ops=PROTON_OPS,
                 name=None, error=None, service_principal=False, source_arn=None):
    """A CreateGrant; `service_principal` names the grantee (and retiring principal) with
    granteeServicePrincipal / retiringServicePrincipal, `source_arn` adds constraints.sourceArn."""
    field = "ServicePrincipal" if service_principal else "Principal"
    req = {"keyId": k.arn, "grantee" + field: grantee}
    if retiring:
        req["retiring" + field] = grantee if retiring == "same" else retiring
    req["operations"] = list(ops)
    req["constraints"] = {"encryptionContextSubset": {"aws:proton:template": template}}
    if source_arn:
        req["constraints"]["sourceArn"] = source_arn
    if name:
        req["name"] = name
    resp = None if error else {"grantId": gid, "keyId": k.arn}
    return kms("CreateGrant", k, ui, req, resp, error=error)


def retire_grant(k: Key, ui, gid):
    return kms("RetireGrant", k, ui, None, None, add_data={"grantId": gid})


def revoke_grant(k: Key, ui, gid, key_id="bare"):
    return kms("RevokeGrant", k, ui, {"keyId": k.id if key_id == "bare" else k.arn, "grantId": gid})


def key_state(name, k: Key, ui, *, error=None, req_extra=None, resp=None):
    req = {"keyId": k.id}
    if req_extra:
        req.update(req_extra)
    return kms(name, k, ui, req, resp, error=error)


def import_material(k: Key, ui, *, material=None, import_type=None, expires=None):
    """ImportKeyMaterial; `material` is the keyMaterialId of the response, `expires` a validTo."""
    req = {"keyId": k.id}
    if import_type:
        req["importType"] = import_type
    if expires:
        req["validTo"] = expires
        req["expirationModel"] = "KEY_MATERIAL_EXPIRES"
    else:
        req["expirationModel"] = "KEY_MATERIAL_DOES_NOT_EXPIRE"
    resp = {"keyId": k.arn, "keyMaterialId": material} if material else None
    return kms("ImportKeyMaterial", k, ui, req, resp)


def delete_material(k: Key, ui, material=None):
    req = {"keyId": k.id}
    if material:
        req["keyMaterialId"] = material
    return kms("DeleteImportedKeyMaterial", k, ui, req, None)


def derive_shared_secret(k: Key, ui):
    return kms("DeriveSharedSecret", k, ui, {"keyId": k.arn, "keyAgreementAlgorithm": "ECDH"}, None)


def key_store_call(name, k: Key, ui, store_id):
    """Connect/DisconnectCustomKeyStore: names the store, no key (recorded in the key's account)."""
    return kms(name, k, ui, {"customKeyStoreId": store_id}, None, resources=None)


def shared(rec):
    """Marks `rec` as one copy of a cross-account call: add(..., shared=TAG) fills the id."""
    out = {}
    for key, v in rec.items():
        out[key] = v
        if key == "recipientAccountId":
            out["sharedEventID"] = "SHARED_ID"
    return out


def copy_in(rec, acct):
    """The copy of a cross-account call that CloudTrail delivers to account `acct`."""
    c = copy.deepcopy(rec)
    c["recipientAccountId"] = acct
    return c


def service_event(name, k: Key, details=True):
    extra = {"serviceEventDetails": {"keyId": k.id}} if details else None
    return kms(name, k, ui_internal(k.acct), None, None, request_id=False,
               event_type="AwsServiceEvent", version="1.08", extra=extra)


def create_key(k: Key, ui, t, desc, origin="AWS_KMS", store=None, policy=None):
    """CreateKey; `policy` (JSON text or an object) is logged as requestParameters.policy, else absent."""
    meta = {"aWSAccountId": k.acct, "keyId": k.id, "arn": k.arn, "creationDate": aws_date(t),
            "enabled": origin != "EXTERNAL", "description": desc, "keyUsage": "ENCRYPT_DECRYPT",
            "keyState": "PendingImport" if origin == "EXTERNAL" else "Enabled", "origin": origin,
            "keyManager": "CUSTOMER", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "multiRegion": False}
    req = {"description": desc, "keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT",
           "origin": origin, "bypassPolicyLockoutSafetyCheck": False,
           "tags": [{"tagKey": "owner", "tagValue": "platform-team"}]}
    if store:
        req["customKeyStoreId"] = store
        meta["customKeyStoreId"] = store
        meta["cloudHsmClusterId"] = "cluster-" + alnum("hsm:" + store, 11, string.ascii_lowercase + string.digits)
    if policy is not None:
        req["policy"] = policy
    return kms("CreateKey", k, ui, req, {"keyMetadata": meta})


def put_key_policy(k: Key, ui, policy):
    """PutKeyPolicy; `policy` is logged as given: JSON text (as CloudTrail writes it), an object, or any string."""
    return kms("PutKeyPolicy", k, ui, {"keyId": k.id, "policyName": "default", "policy": policy,
                                        "bypassPolicyLockoutSafetyCheck": False})


def role_arn(acct, role):
    return f"arn:aws:iam::{acct}:role/{role}"


# The documented key administrators' actions: none of them is a key use.
ADMIN_ACTIONS = ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                 "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
                 "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"]


def admin_statement(principal_arn):
    return {"Sid": "Allow key administrators", "Effect": "Allow", "Principal": {"AWS": principal_arn},
            "Action": ADMIN_ACTIONS, "Resource": "*"}


def policy_doc(pid, *statements):
    return {"Version": "2012-10-17", "Id": pid, "Statement": list(statements)}


def policy_text(doc):
    """A policy as CloudTrail logs it in requestParameters.policy: JSON text."""
    return json.dumps(doc, indent=4)


def proton_api(name, acct, region, ui, req, resp=None, read_only=False):
    return base("proton.amazonaws.com", name, acct, region, ui, req=req, resp=resp,
                ua=CONSOLE_UA if "invokedBy" not in ui else None, read_only=read_only)


# ---------------------------------------------------------------------------
# event registry, file assignment
# ---------------------------------------------------------------------------


class Ev:
    pass


EVENTS: dict[str, Ev] = {}   # tag -> Ev (story events, KMS or Proton API)
STORY_ORDER: list[Ev] = []
FILES: dict[tuple, list] = defaultdict(list)  # file key -> records (shared objects for duplicates)
LATE_FILES: dict[tuple, dt.datetime] = {}
NEW_FKS: set = set()  # files of stories 9-17 and their noise: written with RNG_NEW
POL_FKS: set = set()  # files of stories 18+ and their noise: written with RNG_POL
STORIES: dict[int, dict] = {}


def bucket_key(acct, region, t):
    return ("std", acct, region, t.replace(minute=t.minute - t.minute % 5, second=0))


def finish_record(rec, t, time_str, tag, shared_tag=None):
    if time_str is not None:
        rec["eventTime"] = time_str
    else:
        rec["eventTime"] = iso(t) if t is not None else None
    if "requestID" in rec:
        rec["requestID"] = uid("request:" + (shared_tag or tag))
    if "sharedEventID" in rec:
        rec["sharedEventID"] = uid("shared:" + (shared_tag or tag))
    ui = rec["userIdentity"]
    attrs = ui.get("sessionContext", {}).get("attributes") if isinstance(ui, dict) else None
    if attrs and attrs.get("creationDate") == "AUTO":
        base_t = t or dt.datetime(2026, 2, 9, 9, 0, tzinfo=UTC)
        attrs["creationDate"] = iso(base_t - dt.timedelta(minutes=7, seconds=base_t.second))


def add(story, step, when, rec, note, *, time_str=None, file=None, dup_into=None, shared=None):
    """Register story event `S<story>-<step>`; its eventID starts with <story:02><step:06>.

    `when` is the event time (UTC, "YYYY-MM-DD HH:MM:SS") or None for a record whose eventTime is
    null; `time_str` overrides the string written to eventTime (same instant, other spelling).
    `shared` names a cross-account call: its copies get the same sharedEventID and requestID."""
    tag = f"S{story}-{step:02d}"
    assert tag not in EVENTS, tag
    t = ts(when) if when else None
    rec["eventID"] = f"{story:02d}{step:06d}" + uid("event:" + tag)[8:]
    assert shared is None or rec.get("sharedEventID") == "SHARED_ID", tag
    finish_record(rec, t, time_str, tag, shared_tag=shared and "call:" + shared)
    ev = Ev()
    ev.tag, ev.story, ev.step, ev.t, ev.rec, ev.note = tag, story, step, t, rec, note
    ev.id = rec["eventID"]
    ev.acct, ev.region = rec["recipientAccountId"], rec["awsRegion"]
    EVENTS[tag] = ev
    STORY_ORDER.append(ev)
    ev.shared = shared
    fk = file or bucket_key(ev.acct, ev.region, t)
    if story >= 18:  # stories 18+ live in files of their own (see RNG_POL)
        assert fk in POL_FKS or fk not in FILES, tag
        POL_FKS.add(fk)
    elif story >= 9:  # stories 9+ live in files of their own (see RNG_NEW)
        assert fk in NEW_FKS or fk not in FILES, tag
        NEW_FKS.add(fk)
    FILES[fk].append(rec)
    ev.files = [fk]
    if dup_into:
        dk = bucket_key(ev.acct, ev.region, ts(dup_into))
        FILES[dk].append(rec)
        ev.files.append(dk)
    return ev


def late_file(acct, region, delivered):
    fk = ("late", acct, region, ts(delivered))
    LATE_FILES[fk] = ts(delivered)
    return fk


def E(tag):
    return EVENTS[tag].id


# ---------------------------------------------------------------------------
# expected findings: written by hand
# ---------------------------------------------------------------------------

# RULES.md section 4: the rules, in its order, with the severity each can have. A rule with one
# severity gives the default; a rule whose severity depends on the situation has none, and
# every expect() of it names the severity it derived.
SEVERITIES = {"use-without-grant": ["high", "medium", "low"], "use-after-grant-retired": ["high", "medium", "low"],
              "use-after-key-disabled": ["high"], "denied-by-key-state": ["high", "medium"],
              "denied-after-grant-removed": ["high"], "denied-access": ["medium", "low"],
              "key-disabled-with-dependents": ["medium"], "key-deleted-with-dependents": ["high"],
              "grant-removed-with-dependents": ["low", "medium"], "malformed-context": ["low"]}
SEVERITY = {rule: sev[0] for rule, sev in SEVERITIES.items() if len(sev) == 1}
# RULES.md section 6.5: the two coverage rules carry an authorization verdict, and their severity is
# the verdict's; every other finding has none (null).
AUTHORIZED_RULES = {"use-without-grant", "use-after-grant-retired"}
VERDICT_SEVERITY = {"key-policy": "low", "iam-delegated": "low", "unknown": "medium", "unexplained": "high"}
EXPECT: list[dict] = []


def expect(rule, tag, key: Key, template, resource, related=(), *, severity=None, copies=(),
           authorization=None, policy=None):
    """One expected finding on event `tag`. `related` are the rule's own related events;
    `copies` the other cross-account copies of the call `tag` represents (RULES.md section 0).
    `authorization` is the hand-derived verdict of RULES.md section 6 (the two coverage rules only),
    `policy` the tag of the key policy version it comes from (CreateKey, ReplicateKey or PutKeyPolicy),
    when it comes from one: its eventID goes after the rule's own related events, before the copies."""
    if severity is None:
        assert rule in SEVERITY, f"{rule} on {tag}: its severity depends on the situation, name it"
        severity = SEVERITY[rule]
    assert severity in SEVERITIES[rule], (rule, severity)
    if rule in AUTHORIZED_RULES:
        assert authorization in VERDICT_SEVERITY, f"{rule} on {tag}: name the authorization verdict"
        # bookkeeping: the severity named by hand agrees with the verdict named by hand
        assert severity == VERDICT_SEVERITY[authorization], (tag, severity, authorization)
    else:
        assert authorization is None and policy is None, (rule, tag)
    EXPECT.append({"rule": rule, "tag": tag, "key": key, "template": template, "resource": resource,
                   "related": list(related), "severity": severity, "copies": list(copies),
                   "authorization": authorization, "policy": policy})


# ===========================================================================
# STORY 1 — account A, us-east-1, key K1, service template web-svc.
# Two Proton grants; both retired; Proton keeps using the key; a late re-grant.
# ===========================================================================
T1 = parn(A, USE1, "service-template/web-svc")
R1_SVC = parn(A, USE1, "service/frontend")
R1_INST = parn(A, USE1, "service/frontend/service-instance/prod")
R1_PIPE = parn(A, USE1, "service/frontend/pipeline/3f9a1c7e")
G1A, G1B, G1C = hexid("grant:G1a"), hexid("grant:G1b"), hexid("grant:G1c")
alice = lambda inv=PROTON: ui_role(A, "ProtonAdminRole", "alice", invoked_by=inv)  # noqa: E731
kms_admin_a = ui_user(A, "kms-admin")
STORIES[1] = {"title": "Service template with a CMK; grants retired while Proton keeps using the key",
              "acct": A, "region": USE1, "keys": [K1]}

add(1, 1, "2025-02-11 09:00:12", create_key(K1, kms_admin_a, ts("2025-02-11 09:00:12"), "Proton web-svc data"),
    "CreateKey K1 (category other).")
add(1, 2, "2025-02-11 09:01:40",
    kms("CreateAlias", K1, kms_admin_a, {"aliasName": "alias/proton-key", "targetKeyId": K1.id}, None,
        resources=[key_res(K1), {"accountId": A, "type": "AWS::KMS::Key",
                                 "ARN": f"arn:aws:kms:{USE1}:{A}:alias/proton-key"}]),
    "CreateAlias alias/proton-key -> K1 (other).")
add(1, 901, "2025-02-11 09:05:01",
    proton_api("CreateServiceTemplate", A, USE1, alice(None),
               {"name": "web-svc", "displayName": "Web service", "encryptionKey": K1.arn},
               {"serviceTemplate": {"arn": T1, "name": "web-svc", "encryptionKey": K1.arn,
                                    "createdAt": aws_date(ts("2025-02-11 09:05:01"))}}),
    "Proton API (non-KMS): CreateServiceTemplate web-svc with encryptionKey K1.")
add(1, 3, "2025-02-11 09:05:04", create_grant(K1, alice(), PROTON, T1, G1A),
    "CreateGrant G1a: caller ProtonAdminRole/alice invokedBy proton, grantee proton.amazonaws.com, constraint template=web-svc.")
add(1, 4, "2025-02-11 09:05:06", use("GenerateDataKey", K1, ui_service(PROTON), pctx(T1, T1)),
    "GenerateDataKey for the template's own data (template=resource=T1), AWSService proton. Covered by G1a: no finding.")
add(1, 902, "2025-02-11 10:30:00",
    proton_api("CreateServiceTemplateVersion", A, USE1, alice(None),
               {"templateName": "web-svc", "majorVersion": "1", "description": "initial",
                "source": {"s3": {"bucket": "proton-templates-111122223333", "key": "web-svc/v1.tar.gz"}}}),
    "Proton API (non-KMS): CreateServiceTemplateVersion.")
add(1, 5, "2025-02-11 10:30:02",
    create_grant(K1, alice(PROTON_USE1), PROTON_USE1, T1, G1B),
    "CreateGrant G1b: second grant, grantee proton.us-east-1.amazonaws.com (regional form), same constraint.")
add(1, 6, "2025-02-11 10:30:05", use("Encrypt", K1, ui_service(PROTON_USE1), pctx(T1, T1)),
    "Encrypt template data, AWSService proton.us-east-1 (normalises to proton.amazonaws.com). Covered by G1a and G1b.")
add(1, 903, "2025-02-11 14:19:50",
    proton_api("CreateService", A, USE1, alice(None),
               {"name": "frontend", "templateName": "web-svc", "templateMajorVersion": "1",
                "repositoryId": "acme/frontend", "branchName": "main", "spec": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
    "Proton API (non-KMS): CreateService frontend.")
add(1, 7, "2025-02-11 14:20:00", use("GenerateDataKey", K1, alice(), pctx(T1, R1_SVC)),
    "GenerateDataKey service/frontend by the customer role ProtonAdminRole/alice with invokedBy proton: a forward "
    "access session, whose identities (session, role, account root) do not include proton.amazonaws.com. No grant "
    "covers it and none would have -> use-without-grant.")
add(1, 8, "2025-02-11 14:20:30", use("GenerateDataKeyWithoutPlaintext", K1, ui_service(PROTON), pctx(T1, R1_INST)),
    "GenerateDataKeyWithoutPlaintext service-instance prod. Covered.")
add(1, 9, "2025-02-11 14:21:10",
    use("Encrypt", K1, ui_service(PROTON), pctx(T1, R1_PIPE), key_id="bare", resources=False),
    "Encrypt pipeline; keyId is a BARE key id and there is no resources[]: key ARN must be built from "
    "awsRegion + recipientAccountId (= K1). Covered; appears in related lists below.")
add(1, 10, "2025-02-12 08:00:00", use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_INST), key_id=None),
    "Decrypt service-instance prod with NO keyId (key only in resources). Covered.")
add(1, 11, "2025-02-12 08:00:20",
    use("Encrypt", K1, ui_service(PROTON), pctx(T1, R1_SVC), key_id="alias", resources=False),
    "Encrypt with keyId alias/proton-key and no resources: key stays UNRESOLVED (record kept, counted as KMS use); "
    "never evaluated for grants, never in related lists. Must NOT fire.")
add(1, 12, "2025-02-12 08:02:00",
    use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_SVC), key_id=None, read_only="true"),
    "Decrypt service/frontend with readOnly as the STRING \"true\". Covered.")
add(1, 13, "2025-02-12 11:00:00", retire_grant(K1, ui_service(PROTON_USE1), G1B),
    "RetireGrant G1b: requestParameters null, grantId only in additionalEventData, key only in resources. "
    "-> grant-removed-with-dependents, LOW: the caller (AWSService proton.us-east-1) is G1b's grantee and retiring "
    "principal after normalisation (uses G1b covered: latest per (template,resource)).")
add(1, 14, "2025-02-12 11:02:00", use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_SVC), key_id=None),
    "Decrypt service/frontend: G1a still alive. Covered, no finding.")
add(1, 904, "2025-02-12 14:59:50",
    proton_api("DeleteServiceTemplateVersion", A, USE1, alice(None),
               {"templateName": "web-svc", "majorVersion": "1", "minorVersion": "0"}),
    "Proton API (non-KMS): DeleteServiceTemplateVersion.")
add(1, 15, "2025-02-12 15:00:00", retire_grant(K1, ui_service(PROTON), G1A),
    "RetireGrant G1a (first and only counted removal of G1a) by its grantee AWSService proton -> "
    "grant-removed-with-dependents, LOW.")
add(1, 16, "2025-02-12 15:02:00", use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_INST), key_id=None),
    "Decrypt 120 s after G1a's retirement: inside the grace window, still covered. Must NOT fire.")
add(1, 17, "2025-02-12 15:05:00", use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_SVC), key_id=None),
    "Decrypt exactly 300 s after the retirement (T - grace == removal time): -> use-after-grant-retired, "
    "related = S1-15 (latest removal among G1a and G1b).")
add(1, 18, "2025-02-12 18:30:00", use("GenerateDataKey", K1, alice(), pctx(T1, R1_INST)),
    "GenerateDataKey by ProtonAdminRole/alice invokedBy proton (forward access session): no grant would ever have "
    "covered it -> use-without-grant (not use-after-grant-retired). "
    "DUPLICATE: the same record is in two log files (counts once).",
    dup_into="2025-02-12 18:45:00")
add(1, 19, "2025-02-12 18:45:00", revoke_grant(K1, kms_admin_a, G1A, key_id="arn"),
    "RevokeGrant of G1a by kms-admin, successful (a synthetic oddity: second removal of an already retired "
    "grant). Only the FIRST removal counts: no grant-removed-with-dependents, and later related ids stay S1-15. Must NOT fire.")
add(1, 20, "2025-02-13 08:00:00", use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_PIPE), key_id=None),
    "Decrypt pipeline the next morning -> use-after-grant-retired [S1-15] (not S1-19).")
add(1, 905, "2025-02-13 08:59:55",
    proton_api("UpdateServiceTemplate", A, USE1, alice(None), {"name": "web-svc", "description": "re-grant"}),
    "Proton API (non-KMS): UpdateServiceTemplate.")
add(1, 21, "2025-02-13 09:00:00", create_grant(K1, alice(), PROTON, T1, G1C),
    "CreateGrant G1c (re-grant).")
add(1, 22, "2025-02-13 09:10:00", use("Decrypt", K1, ui_service(PROTON), pctx(T1, R1_SVC), key_id=None),
    "Decrypt service/frontend: covered by G1c. Must NOT fire.")
add(1, 23, "2025-02-13 09:10:30", use("Decrypt", K1, ui_service(PROTON_USE1), pctx(T1, R1_INST), key_id=None),
    "Decrypt service-instance prod: covered by G1c. Must NOT fire.")

# Hand-derived findings for story 1.
# Every grant here has grantee proton(.us-east-1).amazonaws.com = proton.amazonaws.com once normalised.
# An AWSService proton caller has that identity; ProtonAdminRole/alice with invokedBy proton is a
# forward access session: identities its session ARN, role/ProtonAdminRole and the root of A only.
# S1-07: alice, G1a live but its grantee is not alice's -> no grant covers or would cover.
# 6: K1's only version is the default key policy of S1-01 (CreateKey without a policy: root of A, kms:*); alice is an IAM principal of A, matched through the root only -> iam-delegated, low.
expect("use-without-grant", "S1-07", K1, T1, R1_SVC, severity="low", authorization="iam-delegated", policy="S1-01")
# S1-13: G1b (created 10:30:02) covered S1-06 (T1,T1), S1-12 (T1,svc), S1-08/S1-10 (T1,inst),
#        S1-09 (T1,pipe); S1-07 not (alice), S1-11 is unresolved. Latest per pair: 06, 12, 10, 09.
#        Caller AWSService proton.us-east-1 -> identity proton.amazonaws.com = G1b's grantee and
#        retiring principal (normalised), a RetireGrant: low.
expect("grant-removed-with-dependents", "S1-13", K1, T1, None, ["S1-06", "S1-09", "S1-10", "S1-12"], severity="low")
# S1-15: G1a (created 09:05:04) covered 04,06 (T1,T1); 12,14 (svc; 07 not); 08,10 (inst); 09 (pipe).
#        Caller AWSService proton = G1a's grantee: low.
expect("grant-removed-with-dependents", "S1-15", K1, T1, None, ["S1-06", "S1-09", "S1-10", "S1-14"], severity="low")
# S1-17: T - grace = 15:00:00 = G1a's removal: not covered (T < removed + grace fails), G1a and G1b
#        (removed 11:00) would have covered; the latest removal is S1-15.
# 6: AWSService proton has no account root; the default policy of S1-01 names only the root -> unexplained, high.
expect("use-after-grant-retired", "S1-17", K1, T1, R1_SVC, ["S1-15"], severity="high", authorization="unexplained",
       policy="S1-01")
# S1-18: alice again: no grant, live or removed, has one of her identities as grantee.
# 6: alice (IAM, account A) under the default policy of S1-01 -> iam-delegated, low.
expect("use-without-grant", "S1-18", K1, T1, R1_INST, severity="low", authorization="iam-delegated", policy="S1-01")
# S1-20: AWSService proton; G1a, G1b removed long before, G1c not yet created. S1-19 (second
#        removal of G1a) does not count: the first successful removal ends the grant.
# 6: AWSService proton under the default policy of S1-01: no statement allows it -> unexplained, high.
expect("use-after-grant-retired", "S1-20", K1, T1, R1_PIPE, ["S1-15"], severity="high", authorization="unexplained",
       policy="S1-01")

# ===========================================================================
# STORY 2 — account A, us-east-1, key K2, environment template base-env.
# Failed DisableKey; DisableKey; uses during the outage; EnableKey;
# ScheduleKeyDeletion; CancelKeyDeletion (key stays disabled); EnableKey.
# ===========================================================================
T2 = parn(A, USE1, "environment-template/base-env")
R2_STG = parn(A, USE1, "environment/staging")
R2_PRD = parn(A, USE1, "environment/prod")
G2 = hexid("grant:G2")
bob = lambda inv=PROTON, **kw: ui_role(A, "ProtonAdminRole", "bob", invoked_by=inv, **kw)  # noqa: E731
secadm_a = ui_role(A, "SecurityAdmin", "sec-oncall")
app_a = ui_role(A, "BillingAppRole", "billing-app-7f3c")
STORIES[2] = {"title": "Environment template; key disabled, re-enabled, scheduled for deletion, cancelled, re-enabled",
              "acct": A, "region": USE1, "keys": [K2]}

add(2, 901, "2025-03-03 09:59:58",
    proton_api("CreateEnvironmentTemplate", A, USE1, bob(None),
               {"name": "base-env", "displayName": "Base environment", "encryptionKey": K2.arn}),
    "Proton API (non-KMS): CreateEnvironmentTemplate base-env with encryptionKey K2.")
add(2, 1, "2025-03-03 10:00:02", create_grant(K2, bob(), PROTON_USE1, T2, G2),
    "CreateGrant G2, grantee proton.us-east-1.amazonaws.com (regional), constraint template=base-env.")
add(2, 2, "2025-03-03 10:00:04", use("GenerateDataKey", K2, ui_service(PROTON), pctx(T2, T2)),
    "GenerateDataKey template data by AWSService proton.amazonaws.com (grantee regional: same after normalisation). Covered.")
add(2, 902, "2025-03-03 11:14:50",
    proton_api("CreateEnvironment", A, USE1, bob(None),
               {"name": "staging", "templateName": "base-env", "templateMajorVersion": "1",
                "spec": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
    "Proton API (non-KMS): CreateEnvironment staging.")
add(2, 3, "2025-03-03 11:15:00", use("Encrypt", K2, ui_service(PROTON_USE1), pctx(T2, R2_STG), version="1.10"),
    "Encrypt environment/staging. Covered.")
add(2, 4, "2025-03-03 11:15:30", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_STG), key_id=None),
    "Decrypt environment/staging. Covered.")
add(2, 903, "2025-03-03 13:39:50",
    proton_api("CreateEnvironment", A, USE1, bob(None),
               {"name": "prod", "templateName": "base-env", "templateMajorVersion": "1",
                "spec": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
    "Proton API (non-KMS): CreateEnvironment prod.")
add(2, 5, "2025-03-03 13:40:00",
    use("GenerateDataKey", K2, bob(creation="20250303T133512Z"), pctx(T2, R2_PRD)),
    "GenerateDataKey environment/prod by ProtonAdminRole/bob invokedBy proton (session creationDate in basic "
    "ISO form): a forward access session, not served by the grant to proton -> use-without-grant.")
add(2, 6, "2025-03-04 09:00:00",
    key_state("DisableKey", K2, ui_user(A, "dev-carol"),
              error=("AccessDeniedException", f"User: arn:aws:iam::{A}:user/dev-carol is not authorized to perform: "
                     f"kms:DisableKey on resource: {K2.arn} because no identity-based policy allows the kms:DisableKey action")),
    "DisableKey FAILED (AccessDeniedException): changes nothing. Must NOT fire key-disabled-with-dependents.")
add(2, 7, "2025-03-04 09:30:00", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_PRD), key_id=None),
    "Decrypt environment/prod 30 min after the failed DisableKey: key still enabled. Must NOT fire.")
add(2, 8, "2025-03-04 10:00:05", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_STG), key_id=None),
    "Decrypt environment/staging; eventTime written WITHOUT Z as \"2025-03-04 10:00:05\" (must parse as UTC). "
    "Covered; it is the latest staging use before the DisableKey, so it appears in S2-09's related ids.",
    time_str="2025-03-04 10:00:05")
add(2, 9, "2025-03-04 10:20:00", key_state("DisableKey", K2, secadm_a),
    "DisableKey (success) by SecurityAdmin -> key-disabled-with-dependents (medium). DUPLICATE (two files, counts once); "
    "its file is the multi-member gzip.",
    dup_into="2025-03-04 10:30:00")
add(2, 10, "2025-03-04 10:20:30",
    use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_STG), key_id=None,
        error=("DisabledException", f"{K2.arn} is disabled.")),
    "Decrypt staging FAILED DisabledException 30 s after DisableKey -> denied-by-key-state, related S2-09 "
    "(no grace for the related lookup), HIGH: S2-09 left the key unusable (Disabled).")
add(2, 11, "2025-03-04 10:21:40", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_PRD), key_id=None),
    "Decrypt prod SUCCESS 100 s after DisableKey: inside grace -> must NOT fire use-after-key-disabled. Covered by G2.")
add(2, 12, "2025-03-04 10:30:00", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_PRD), key_id=None),
    "Decrypt prod SUCCESS 600 s after DisableKey -> use-after-key-disabled [S2-09]. (Grant still covers: no grant finding.)")
add(2, 13, "2025-03-04 10:31:00", use("Decrypt", K2, app_a, {"Department": "platform"}),
    "Non-Proton Decrypt (context Department=platform) SUCCESS on the disabled key -> use-after-key-disabled "
    "[S2-09] (any context), proton_template/resource null; no grant findings (no constraint key).")
add(2, 14, "2025-03-04 10:45:00",
    use("GenerateDataKey", K2, bob(), pctx(T2, R2_STG), error=("DisabledException", f"{K2.arn} is disabled.")),
    "GenerateDataKey staging FAILED DisabledException -> denied-by-key-state [S2-09].")
add(2, 15, "2025-03-04 10:50:00",
    use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_PRD), key_id=None,
        error=("DisabledException", f"{K2.arn} is disabled.")),
    "Decrypt prod FAILED DisabledException -> denied-by-key-state [S2-09].")
add(2, 16, "2025-03-04 12:00:00", key_state("EnableKey", K2, secadm_a), "EnableKey: usable again.")
add(2, 17, "2025-03-04 12:30:00", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_PRD), key_id=None),
    "Decrypt prod 30 min after EnableKey. Must NOT fire.")
add(2, 18, "2025-03-05 08:00:00",
    key_state("ScheduleKeyDeletion", K2, secadm_a, req_extra={"pendingWindowInDays": 30},
              resp={"keyId": K2.arn, "deletionDate": "Apr 4, 2025 20:00:00 PM", "keyState": "PendingDeletion",
                    "pendingWindowInDays": 30}),
    "ScheduleKeyDeletion (deletionDate is a non-ISO string, keyState PendingDeletion) -> key-disabled-with-dependents.")
add(2, 19, "2025-03-05 08:10:00",
    use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_STG), key_id=None,
        error=("KMSInvalidStateException", f"{K2.arn} is pending deletion.")),
    "Decrypt staging FAILED KMSInvalidStateException -> denied-by-key-state [S2-18].")
add(2, 20, "2025-03-05 08:12:00",
    use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_PRD), key_id=None,
        error=("DisabledException", f"{K2.arn} is pending deletion.")),
    "Decrypt prod FAILED DisabledException while pending deletion -> denied-by-key-state [S2-18].")
add(2, 21, "2025-03-05 09:00:00", key_state("CancelKeyDeletion", K2, secadm_a, resp={"keyId": K2.arn}),
    "CancelKeyDeletion: the key is now DISABLED (not enabled). No finding of its own.")
add(2, 22, "2025-03-05 09:20:00", use("Decrypt", K2, ui_service(PROTON), pctx(T2, R2_STG), key_id=None),
    "Decrypt staging SUCCESS 20 min after CancelKeyDeletion -> use-after-key-disabled [S2-21].")
add(2, 23, "2025-03-05 10:00:00", key_state("EnableKey", K2, secadm_a), "EnableKey.")
add(2, 24, "2025-03-05 11:00:00", use("GenerateDataKey", K2, ui_service(PROTON), pctx(T2, R2_PRD)),
    "GenerateDataKey prod an hour after EnableKey. Must NOT fire.")

# S2-05: bob is a forward access session (invokedBy proton): G2's grantee (proton) is not one of his
#        identities (session, role/ProtonAdminRole, root of A) -> use-without-grant.
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K2 in the input: no policy known -> unknown, medium (6.2).
expect("use-without-grant", "S2-05", K2, T2, R2_PRD, severity="medium", authorization="unknown")
# S2-09: earlier successful constraint-key uses of K2, covered or not: 02 (T2,T2); 03,04,08 (stg);
#        05,07 (prd). Effective DisableKey (the failed S2-06 changed nothing).
expect("key-disabled-with-dependents", "S2-09", K2, T2, None, ["S2-02", "S2-07", "S2-08"])
# Denials by key state: the last effective change at or before T left the key Disabled or
# PendingDeletion (unusable) -> high.
expect("denied-by-key-state", "S2-10", K2, T2, R2_STG, ["S2-09"], severity="high")
# S2-11 (100 s after S2-09): the state at T - grace is Enabled: no finding.
expect("use-after-key-disabled", "S2-12", K2, T2, R2_PRD, ["S2-09"])
expect("use-after-key-disabled", "S2-13", K2, None, None, ["S2-09"])
expect("denied-by-key-state", "S2-14", K2, T2, R2_STG, ["S2-09"], severity="high")
expect("denied-by-key-state", "S2-15", K2, T2, R2_PRD, ["S2-09"], severity="high")
# S2-18: + 11, 12, 17 (prd, successful). 10/14/15 failed, 13 has no constraint key.
expect("key-disabled-with-dependents", "S2-18", K2, T2, None, ["S2-02", "S2-08", "S2-17"])
expect("denied-by-key-state", "S2-19", K2, T2, R2_STG, ["S2-18"], severity="high")
expect("denied-by-key-state", "S2-20", K2, T2, R2_PRD, ["S2-18"], severity="high")
# S2-21 CancelKeyDeletion leaves the key Disabled; it is no trigger of key-disabled-with-dependents.
expect("use-after-key-disabled", "S2-22", K2, T2, R2_STG, ["S2-21"])

# ===========================================================================
# STORY 3 — account B, eu-west-1, key K3 with EXTERNAL origin (imported material).
# ===========================================================================
T3 = parn(B, EUW1, "environment-template/platform-env")
R3_VER = parn(B, EUW1, "environment-template/platform-env:1.0")
R3_ENV = parn(B, EUW1, "environment/eu-prod")
G3 = hexid("grant:G3")
dana_b = lambda inv=PROTON: ui_role(B, "PlatformAdmin", "dana", invoked_by=inv)  # noqa: E731
STORIES[3] = {"title": "EXTERNAL-origin key: key material deleted, re-imported, expired",
              "acct": B, "region": EUW1, "keys": [K3]}

add(3, 1, "2025-06-16 08:00:00", create_key(K3, dana_b(None), ts("2025-06-16 08:00:00"), "platform-env BYOK", "EXTERNAL"),
    "CreateKey origin EXTERNAL (other).")
add(3, 2, "2025-06-16 08:01:00",
    kms("GetParametersForImport", K3, dana_b(None),
        {"keyId": K3.id, "wrappingAlgorithm": "RSAES_OAEP_SHA_256", "wrappingKeySpec": "RSA_2048"}),
    "GetParametersForImport (other).")
add(3, 3, "2025-06-16 08:03:00",
    key_state("ImportKeyMaterial", K3, dana_b(None), req_extra={"expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    "ImportKeyMaterial (state change: usable).")
add(3, 901, "2025-06-16 08:59:55",
    proton_api("CreateEnvironmentTemplate", B, EUW1, dana_b(None),
               {"name": "platform-env", "encryptionKey": K3.arn}),
    "Proton API (non-KMS): CreateEnvironmentTemplate platform-env.")
add(3, 4, "2025-06-16 09:00:00", create_grant(K3, dana_b(), PROTON, T3, G3),
    "CreateGrant G3 by PlatformAdmin/dana invokedBy proton, grantee proton.amazonaws.com.")
add(3, 5, "2025-06-16 09:00:03", use("GenerateDataKey", K3, ui_service(PROTON_EUW1), pctx(T3, T3)),
    "GenerateDataKey template data, AWSService proton.eu-west-1.amazonaws.com. Covered.")
add(3, 902, "2025-06-16 09:00:04",
    proton_api("CreateEnvironmentTemplateVersion", B, EUW1, dana_b(None),
               {"templateName": "platform-env", "majorVersion": "1"}),
    "Proton API (non-KMS): CreateEnvironmentTemplateVersion.")
add(3, 6, "2025-06-16 09:00:05", use("Encrypt", K3, ui_service(PROTON), pctx(T3, R3_VER)),
    "Encrypt with resource = template VERSION ARN (environment-template/platform-env:1.0): valid Proton ARN. Covered. "
    "Must NOT fire malformed-context.")
add(3, 903, "2025-06-17 09:59:50",
    proton_api("CreateEnvironment", B, EUW1, dana_b(None),
               {"name": "eu-prod", "templateName": "platform-env", "templateMajorVersion": "1",
                "spec": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
    "Proton API (non-KMS): CreateEnvironment eu-prod.")
add(3, 7, "2025-06-17 10:00:00", use("GenerateDataKey", K3, ui_service(PROTON), pctx(T3, R3_ENV)),
    "GenerateDataKey environment/eu-prod. Covered.")
add(3, 8, "2025-06-17 10:05:00", use("Decrypt", K3, ui_service(PROTON), pctx(T3, R3_ENV), key_id=None),
    "Decrypt environment/eu-prod. Covered.")
add(3, 9, "2025-06-17 16:00:00", key_state("DeleteImportedKeyMaterial", K3, dana_b(None)),
    "DeleteImportedKeyMaterial naming no material: assumed to delete the current material (key -> PendingImport) "
    "-> key-disabled-with-dependents.")
add(3, 10, "2025-06-17 16:30:00",
    use("Decrypt", K3, ui_service(PROTON), pctx(T3, R3_ENV), key_id=None,
        error=("KMSInvalidStateException", f"{K3.arn} is pending import.")),
    "Decrypt FAILED KMSInvalidStateException (pending import) -> denied-by-key-state [S3-09], high.")
add(3, 11, "2025-06-17 17:00:00",
    key_state("ImportKeyMaterial", K3, dana_b(None),
              req_extra={"validTo": "Jun 19, 2025 5:00:00 PM", "expirationModel": "KEY_MATERIAL_EXPIRES"}),
    "ImportKeyMaterial with validTo (non-ISO string): the previous counted change (S3-09) left the key "
    "PendingImport, so it is usable again.")
add(3, 12, "2025-06-17 18:00:00", use("Decrypt", K3, ui_service(PROTON), pctx(T3, R3_ENV), key_id=None),
    "Decrypt an hour after the re-import. Must NOT fire.")
add(3, 13, "2025-06-19 17:00:00", service_event("DeleteExpiredKeyMaterial", K3),
    "DeleteExpiredKeyMaterial: AwsServiceEvent, userIdentity WITHOUT type ({accountId, invokedBy: AWS Internal}), "
    "no requestID. Key -> PendingImport -> key-disabled-with-dependents.")
add(3, 14, "2025-06-19 17:20:00",
    use("Decrypt", K3, ui_service(PROTON), pctx(T3, R3_ENV), key_id=None,
        error=("KMSInvalidStateException", f"{K3.arn} is pending import.")),
    "Decrypt FAILED KMSInvalidStateException -> denied-by-key-state [S3-13], high.")
add(3, 15, "2025-06-19 17:30:00", use("Decrypt", K3, ui_service(PROTON), pctx(T3, T3), key_id=None),
    "Decrypt SUCCESS 30 min after DeleteExpiredKeyMaterial (synthetic oddity) -> use-after-key-disabled [S3-13].")
add(3, 16, "2025-06-20 09:00:00",
    key_state("ImportKeyMaterial", K3, dana_b(None), req_extra={"expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    "ImportKeyMaterial after PendingImport: usable again.")
add(3, 17, "2025-06-20 10:00:00", use("Encrypt", K3, ui_service(PROTON), pctx(T3, R3_ENV)),
    "Encrypt an hour after the import. Must NOT fire.")

# S3-03: the first ImportKeyMaterial: no counted change before it, so it counts (Enabled).
# S3-09: names no material -> assumed current -> PendingImport. Earlier successful uses: 05 (T3,T3),
#        06 (T3,ver), 07/08 (T3,env).
expect("key-disabled-with-dependents", "S3-09", K3, T3, None, ["S3-05", "S3-06", "S3-08"])
expect("denied-by-key-state", "S3-10", K3, T3, R3_ENV, ["S3-09"], severity="high")
# S3-13: DeleteExpiredKeyMaterial is a trigger now; uses since S3-09: + 12 (env).
expect("key-disabled-with-dependents", "S3-13", K3, T3, None, ["S3-05", "S3-06", "S3-12"])
expect("denied-by-key-state", "S3-14", K3, T3, R3_ENV, ["S3-13"], severity="high")
expect("use-after-key-disabled", "S3-15", K3, T3, T3, ["S3-13"])

# ===========================================================================
# STORY 4 — account B, us-east-1, key K4, service template api-svc.
# Use before the grant exists (late file), failed CreateGrant, constraint
# mismatch, non-grantee caller, AccessDenied, RevokeGrant, unknown grant retired.
# ===========================================================================
T4 = parn(B, USE1, "service-template/api-svc")
T4W = parn(B, USE1, "service-template/worker-svc")
R4_SVC = parn(B, USE1, "service/orders")
R4_INST = parn(B, USE1, "service/orders/service-instance/blue")
R4_COMP = parn(B, USE1, "component/c-7d2e91")
R4_REPO = parn(B, USE1, "repository/github:acme/orders-infra")
R4_RPT = parn(B, USE1, "service/reports")
G4, G4W, G4_OLD = hexid("grant:G4"), hexid("grant:G4w-never-created"), hexid("grant:G4-old-unknown")
dana_b1 = lambda inv=PROTON: ui_role(B, "PlatformAdmin", "dana", invoked_by=inv)  # noqa: E731
erin_role = ui_role(B, "DevRole", "erin", invoked_by=PROTON)
erin_user = ui_user(B, "dev-erin")
secadm_b = ui_role(B, "SecurityAdmin", "sec-oncall")
LATE_S4 = late_file(B, USE1, "2025-11-08 07:43:00")
STORIES[4] = {"title": "Service template; grant created late, constraint mismatch, wrong principal, AccessDenied, RevokeGrant",
              "acct": B, "region": USE1, "keys": [K4]}

add(4, 901, "2025-11-03 12:59:00",
    proton_api("CreateServiceTemplate", B, USE1, dana_b1(None), {"name": "api-svc", "encryptionKey": K4.arn}),
    "Proton API (non-KMS): CreateServiceTemplate api-svc.")
add(4, 1, "2025-11-03 13:00:00", use("Decrypt", K4, ui_service(PROTON), pctx(T4, R4_SVC), key_id=None),
    "Decrypt service/orders 10 min BEFORE the grant exists -> use-without-grant. Delivered in the LATE file "
    "(2025-11-08).", file=LATE_S4)
add(4, 2, "2025-11-03 13:10:00", create_grant(K4, dana_b1(), PROTON, T4, G4),
    "CreateGrant G4, grantee proton.amazonaws.com, constraint template=api-svc.")
add(4, 3, "2025-11-03 13:10:00", use("GenerateDataKey", K4, ui_service(PROTON_USE1), pctx(T4, T4)),
    "GenerateDataKey template data in the SAME second as CreateGrant (created <= T): covered. Must NOT fire.")
add(4, 4, "2025-11-03 13:12:00", use("Encrypt", K4, ui_service(PROTON), pctx(T4, R4_INST)),
    "Encrypt service-instance blue. Covered.")
add(4, 902, "2025-11-03 13:19:55",
    proton_api("CreateServiceTemplate", B, USE1, ui_role(B, "DevRole", "erin"), {"name": "worker-svc", "encryptionKey": K4.arn}),
    "Proton API (non-KMS): CreateServiceTemplate worker-svc (same key).")
add(4, 5, "2025-11-03 13:20:00",
    create_grant(K4, erin_role, PROTON, T4W, G4W,
                 error=("AccessDeniedException", f"User: arn:aws:sts::{B}:assumed-role/DevRole/erin is not authorized to "
                        f"perform: kms:CreateGrant on resource: {K4.arn} because no identity-based policy allows the "
                        "kms:CreateGrant action")),
    "CreateGrant for worker-svc FAILED (AccessDeniedException): no grant exists.")
add(4, 6, "2025-11-03 13:25:00", use("GenerateDataKey", K4, ui_service(PROTON), pctx(T4W, R4_RPT)),
    "GenerateDataKey worker-svc/service/reports: only grant G4 is constrained to api-svc -> use-without-grant.")
add(4, 7, "2025-11-03 14:00:00", use("Decrypt", K4, erin_user, pctx(T4, R4_SVC), key_id="arn"),
    "Decrypt with a Proton context by IAM user dev-erin (no invokedBy): not the grantee -> use-without-grant. "
    "Also in the LATE file.", file=LATE_S4)
add(4, 8, "2025-11-03 14:05:00",
    use("Decrypt", K4, ui_service(PROTON), pctx(T4, R4_SVC), key_id=None,
        error=("AccessDeniedException", "The ciphertext refers to a customer master key that does not exist, does not "
               "exist in this region, or you are not allowed to access.")),
    "Decrypt FAILED AccessDeniedException while G4 is live and 55 min old -> denied-access, medium (no grant "
    "findings for failed uses).")
add(4, 9, "2025-11-03 14:06:00",
    use("Encrypt", K4, erin_role, pctx(T4, R4_COMP),
        error=("AccessDeniedException", f"User: arn:aws:sts::{B}:assumed-role/DevRole/erin is not authorized to perform: "
               f"kms:Encrypt on resource: {K4.arn} because no resource-based policy allows the kms:Encrypt action")),
    "Encrypt component FAILED AccessDeniedException (DevRole/erin invokedBy proton) -> denied-access, medium.")
add(4, 10, "2025-11-04 09:00:00", use("GenerateDataKey", K4, ui_service(PROTON), pctx(T4, R4_COMP)),
    "GenerateDataKey component/c-7d2e91. Covered.")
add(4, 11, "2025-11-04 09:30:00", use("Decrypt", K4, ui_service(PROTON), pctx(T4, R4_REPO), key_id=None),
    "Decrypt repository/github:acme/orders-infra (repository name with '/'): valid ARN. Covered.")
add(4, 12, "2025-11-05 10:00:00", revoke_grant(K4, secadm_b, G4),
    "RevokeGrant G4 (keyId as bare id, grantId in requestParameters) -> grant-removed-with-dependents, medium "
    "(a revocation).")
add(4, 13, "2025-11-05 10:04:00", use("Decrypt", K4, ui_service(PROTON), pctx(T4, R4_INST), key_id=None),
    "Decrypt 240 s after the revoke: inside grace, covered. Must NOT fire.")
add(4, 14, "2025-11-05 11:00:00", use("Decrypt", K4, ui_service(PROTON), pctx(T4, R4_INST), key_id=None),
    "Decrypt an hour after the revoke -> use-after-grant-retired [S4-12].")
add(4, 15, "2025-11-05 11:00:30", use("GenerateDataKey", K4, ui_service(PROTON), pctx(T4W, R4_RPT)),
    "worker-svc again: the revoked G4 would NOT have covered it (constraint) -> use-without-grant (not use-after-grant-retired).")
add(4, 16, "2025-11-05 11:01:00", use("Decrypt", K4, erin_user, pctx(T4, R4_SVC)),
    "dev-erin again: G4 would not have covered (grantee) -> use-without-grant.")
add(4, 17, "2025-11-06 08:00:00", retire_grant(K4, ui_service(PROTON), G4_OLD),
    "RetireGrant of a grant id never seen created (made before the logs begin). Must NOT fire.")

# 6 (every coverage finding of story 4): no CreateKey/PutKeyPolicy/ReplicateKey of K4 in the input: no policy known -> unknown, medium (6.2).
expect("use-without-grant", "S4-01", K4, T4, R4_SVC, severity="medium", authorization="unknown")
expect("use-without-grant", "S4-06", K4, T4W, R4_RPT, severity="medium", authorization="unknown")
expect("use-without-grant", "S4-07", K4, T4, R4_SVC, severity="medium", authorization="unknown")
# S4-08: AWSService proton; G4 (created 13:10:00, 55 min before) would cover it and is live: no
#        removal explains it, and no covering grant is younger than grace -> denied-access medium.
expect("denied-access", "S4-08", K4, T4, R4_SVC, severity="medium")
# S4-09: DevRole/erin invokedBy proton is a forward access session: no grant would cover it -> medium.
expect("denied-access", "S4-09", K4, T4, R4_COMP, severity="medium")
# S4-12: G4 (created 13:10:00) covered 03 (T4,T4), 04 (inst), 10 (comp), 11 (repo). Not 01 (before),
#        06 (other template), 07 (not grantee), 08/09 (failed). A RevokeGrant: medium.
expect("grant-removed-with-dependents", "S4-12", K4, T4, None, ["S4-03", "S4-04", "S4-10", "S4-11"], severity="medium")
# 6: K4 has no policy in the input -> unknown, medium, no version in related.
expect("use-after-grant-retired", "S4-14", K4, T4, R4_INST, ["S4-12"], severity="medium", authorization="unknown")
expect("use-without-grant", "S4-15", K4, T4W, R4_RPT, severity="medium", authorization="unknown")
expect("use-without-grant", "S4-16", K4, T4, R4_SVC, severity="medium", authorization="unknown")

# ===========================================================================
# STORY 5 — account A, eu-west-1, keys K5 and K6, service template batch-svc.
# Role-ARN grantee with few operations, sessionIssuer {}, ReEncrypt to a key without grant.
# ===========================================================================
T5 = parn(A, EUW1, "service-template/batch-svc")
R5_SVC = parn(A, EUW1, "service/etl")
R5_INST = parn(A, EUW1, "service/etl/service-instance/nightly")
G5, G5R = hexid("grant:G5"), hexid("grant:G5r")
frank = ui_role(A, "ProtonAdminRole", "frank", invoked_by=PROTON)
etl = ui_role(A, "EtlPipelineRole", "etl-run-42")
STORIES[5] = {"title": "Role-ARN grantee, sessionIssuer {}, ReEncrypt to a key with no grant",
              "acct": A, "region": EUW1, "keys": [K5, K6]}

add(5, 901, "2026-01-13 07:59:55",
    proton_api("CreateServiceTemplate", A, EUW1, ui_role(A, "ProtonAdminRole", "frank"),
               {"name": "batch-svc", "encryptionKey": K5.arn}),
    "Proton API (non-KMS): CreateServiceTemplate batch-svc.")
add(5, 1, "2026-01-13 08:00:00", create_grant(K5, frank, PROTON, T5, G5),
    "CreateGrant G5 on K5, grantee proton.amazonaws.com, all operations incl. ReEncryptFrom/ReEncryptTo.")
add(5, 2, "2026-01-13 08:00:30",
    create_grant(K5, ui_user(A, "kms-admin"), f"arn:aws:iam::{A}:role/EtlPipelineRole", T5, G5R,
                 retiring=None, ops=["Decrypt", "DescribeKey"], name="etl-pipeline-read"),
    "CreateGrant G5r on K5 by kms-admin: grantee is a ROLE ARN (EtlPipelineRole), operations Decrypt+DescribeKey only.")
add(5, 3, "2026-01-13 08:05:00", use("Encrypt", K5, ui_service(PROTON), pctx(T5, R5_SVC)),
    "Encrypt service/etl. Covered by G5.")
add(5, 4, "2026-01-13 08:06:00",
    use("Decrypt", K5, ui_role(A, "ProtonAdminRole", "frank-console", invoked_by=PROTON, issuer=False),
        pctx(T5, R5_INST), key_id=None),
    "Decrypt by an assumed role with sessionIssuer {} and invokedBy proton: a forward access session (identities: "
    "the session, role/ProtonAdminRole from the session ARN, root of A), so G5 does not serve it -> use-without-grant.")
add(5, 5, "2026-01-13 09:00:00", use("Decrypt", K5, etl, pctx(T5, R5_INST), key_id=None),
    "Decrypt by EtlPipelineRole/etl-run-42 (no invokedBy): covered by G5r via sessionIssuer.arn. Must NOT fire.")
add(5, 6, "2026-01-13 09:01:00", use("GenerateDataKey", K5, etl, pctx(T5, R5_INST)),
    "GenerateDataKey by EtlPipelineRole: G5r lacks the operation, G5's grantee is not a caller identity -> use-without-grant.")
add(5, 7, "2026-01-13 10:00:00", reencrypt(K5, K6, ui_service(PROTON), pctx(T5, R5_SVC), pctx(T5, R5_SVC)),
    "ReEncrypt K5 -> K6 by AWSService proton. Source side covered by G5 (ReEncryptFrom); destination K6 has no "
    "grant -> ONE use-without-grant with key_arn K6.")
add(5, 8, "2026-01-13 10:30:00",
    kms("TagResource", K6, ui_user(A, "kms-admin"), {"keyId": K6.arn, "tags": [{"tagKey": "team", "tagValue": "data"}]}),
    "TagResource K6 (other).")

# S5-04: frank-console (FAS, empty sessionIssuer): role from the session ARN; neither G5 (proton)
#        nor G5r (role/EtlPipelineRole) names one of its identities.
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K5 in the input: no policy known -> unknown, medium (6.2).
expect("use-without-grant", "S5-04", K5, T5, R5_INST, severity="medium", authorization="unknown")
# S5-05 covered by G5r (role ARN from sessionIssuer). S5-06: G5r lacks GenerateDataKey.
# 6: K5 and K6 have no policy in the input -> unknown, medium.
expect("use-without-grant", "S5-06", K5, T5, R5_INST, severity="medium", authorization="unknown")
expect("use-without-grant", "S5-07", K6, T5, R5_SVC, severity="medium", authorization="unknown")

# ===========================================================================
# STORY 6 — account A, us-east-1, key K7, service template gateway-svc.
# Malformed contexts, non-Proton uses, a record without eventTime.
# ===========================================================================
T6 = parn(A, USE1, "service-template/gateway-svc")
R6 = parn(A, USE1, "service/gateway")
R6_OTHER_ACCT = parn(B, USE1, "service/gateway")
R6_OTHER_REGION = parn(A, EUW1, "service/gateway")
S3_ARN = "arn:aws:s3:::gateway-artifacts"
G6 = hexid("grant:G6")
STORIES[6] = {"title": "Malformed Proton contexts, non-Proton uses, a record with no eventTime",
              "acct": A, "region": USE1, "keys": [K7]}

add(6, 1, "2026-02-09 09:00:00", create_grant(K7, alice(), PROTON, T6, G6), "CreateGrant G6, constraint template=gateway-svc.")
add(6, 2, "2026-02-09 09:10:00", use("GenerateDataKey", K7, ui_service(PROTON), pctx(T6, R6)),
    "Well-formed GenerateDataKey. Covered. Must NOT fire.")
add(6, 3, "2026-02-09 09:20:00", use("Decrypt", K7, ui_service(PROTON), pctx(T6, None), key_id=None),
    "Context has ONLY aws:proton:template -> malformed-context. Still covered by G6 (subset holds): no grant finding.")
add(6, 4, "2026-02-09 09:21:00", use("Decrypt", K7, ui_service(PROTON), pctx(R6, R6), key_id=None),
    "Template key holds a SERVICE ARN -> malformed-context, and G6's constraint does not match -> use-without-grant.")
add(6, 5, "2026-02-09 09:22:00", use("Encrypt", K7, ui_service(PROTON), pctx(T6, R6_OTHER_ACCT)),
    "Template (account A) and resource (account B) in different accounts -> malformed-context. Covered.")
add(6, 6, "2026-02-09 09:23:00", use("Decrypt", K7, ui_service(PROTON), pctx(None, R6), key_id=None),
    "Context has ONLY aws:proton:resource -> malformed-context; no constraint key, so no grant evaluation.")
add(6, 7, "2026-02-09 09:24:00",
    use("Decrypt", K7, ui_service(PROTON), pctx(T6, S3_ARN), key_id=None,
        error=("AccessDeniedException", "The ciphertext refers to a customer master key that does not exist, does not "
               "exist in this region, or you are not allowed to access.")),
    "FAILED (AccessDeniedException) with resource = an S3 ARN -> malformed-context (failures are checked too) "
    "AND denied-access.")
add(6, 8, "2026-02-09 09:30:00", use("Decrypt", K7, app_a, {"Department": "x"}, key_id=None),
    "Non-Proton Decrypt (Department=x): no finding. Must NOT fire.")
add(6, 9, "2026-02-09 09:31:00", use("Encrypt", K7, app_a, None),
    "Encrypt with no encryption context: no finding. Must NOT fire.")
add(6, 10, "2026-02-09 09:40:00", use("Decrypt", K7, ui_service(PROTON), pctx(T6, R6_OTHER_REGION), key_id=None),
    "Resource in another region (eu-west-1) -> malformed-context. Covered.")
add(6, 11, None, use("Decrypt", K7, ui_user(A, "dev-alice"), pctx(T6, R6)),
    "eventTime is JSON null: record kept and counted, but left out of findings (would otherwise be "
    "use-without-grant: dev-alice is not the grantee). Must NOT fire.",
    file=bucket_key(A, USE1, ts("2026-02-09 09:40:00")))

expect("malformed-context", "S6-03", K7, T6, None)
expect("malformed-context", "S6-04", K7, R6, R6)
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K7 in the input: no policy known -> unknown, medium (6.2).
expect("use-without-grant", "S6-04", K7, R6, R6, severity="medium", authorization="unknown")
expect("malformed-context", "S6-05", K7, T6, R6_OTHER_ACCT)
expect("malformed-context", "S6-06", K7, None, R6)
# S6-07: AWSService proton; G6 (created 24 min before, live) would cover it (subset holds) -> medium.
expect("denied-access", "S6-07", K7, T6, S3_ARN, severity="medium")
expect("malformed-context", "S6-07", K7, T6, S3_ARN)
expect("malformed-context", "S6-10", K7, T6, R6_OTHER_REGION)

# ===========================================================================
# STORY 7 — account B, eu-west-1, key K8, versioned template ARN; deletion.
# ===========================================================================
T7 = parn(B, EUW1, "service-template/legacy-svc:1")
R7 = parn(B, EUW1, "service/legacy")
G7 = hexid("grant:G7")
STORIES[7] = {"title": "Versioned template ARN; ScheduleKeyDeletion then DeleteKey",
              "acct": B, "region": EUW1, "keys": [K8]}

add(7, 1, "2026-03-02 10:00:00", create_grant(K8, dana_b(PROTON_EUW1), PROTON_EUW1, T7, G7),
    "CreateGrant G7, grantee proton.eu-west-1.amazonaws.com, constraint template = service-template/legacy-svc:1 "
    "(major-version suffix).")
add(7, 2, "2026-03-02 10:05:00", use("Decrypt", K8, ui_service(PROTON), pctx(T7, R7), key_id=None),
    "Decrypt service/legacy, template ARN with ':1' (valid). Covered. Must NOT fire malformed-context.")
add(7, 3, "2026-03-02 10:06:00", use("GenerateDataKey", K8, ui_service(PROTON), pctx(T7, R7)),
    "GenerateDataKey, same (template, resource) pair. Covered.")
add(7, 4, "2026-03-02 16:00:00",
    key_state("ScheduleKeyDeletion", K8, dana_b(None), req_extra={"pendingWindowInDays": 7},
              resp={"keyId": K8.arn, "deletionDate": "Mar 9, 2026 16:00:00 PM", "keyState": "PendingDeletion",
                    "pendingWindowInDays": 7}),
    "ScheduleKeyDeletion (7 days) -> key-disabled-with-dependents (medium) with ONE related id (latest use of the only pair) "
    "and single template/resource values.")
add(7, 5, "2026-03-02 16:10:00",
    use("Decrypt", K8, ui_service(PROTON), pctx(T7, R7), key_id=None,
        error=("DisabledException", f"{K8.arn} is pending deletion.")),
    "Decrypt FAILED DisabledException -> denied-by-key-state [S7-04], high (PendingDeletion).")
add(7, 6, "2026-03-09 16:00:05", service_event("DeleteKey", K8, details=False),
    "DeleteKey: AwsServiceEvent, typeless userIdentity, no requestID, requestParameters null -> "
    "key-deleted-with-dependents (high): the data is unrecoverable.")
add(7, 7, "2026-03-09 16:30:00",
    use("Decrypt", K8, ui_service(PROTON), pctx(T7, R7), key_id=None,
        error=("NotFoundException", f"Key '{K8.arn}' does not exist")),
    "Decrypt FAILED NotFoundException after DeleteKey -> denied-by-key-state [S7-06], high (Deleted).")

expect("key-disabled-with-dependents", "S7-04", K8, T7, R7, ["S7-03"])
expect("denied-by-key-state", "S7-05", K8, T7, R7, ["S7-04"], severity="high")
# S7-06: the effective (first) DeleteKey; dependents 02/03, one pair: latest 03.
expect("key-deleted-with-dependents", "S7-06", K8, T7, R7, ["S7-03"])
# S7-07: NotFoundException is a key-state error now; last effective change S7-06 (Deleted) -> high.
expect("denied-by-key-state", "S7-07", K8, T7, R7, ["S7-06"], severity="high")

# ===========================================================================
# STORY 8 — account A, eu-west-1: a non-Proton key disabled; a key disabled before the logs.
# ===========================================================================
T8 = parn(A, EUW1, "environment-template/shared-env")
R8 = parn(A, EUW1, "environment/dr")
fin = ui_role(A, "FinanceAppRole", "finance-batch", invoked_by="s3.amazonaws.com")
fin_direct = ui_role(A, "FinanceAppRole", "finance-batch")
STORIES[8] = {"title": "Non-Proton key disabled; a Proton key already disabled before the logs start",
              "acct": A, "region": EUW1, "keys": [K9, K10]}

add(8, 1, "2026-01-20 11:00:00",
    use("Decrypt", K9, fin, {"aws:s3:arn": "arn:aws:s3:::finance-reports/2026/q1.csv"}, key_id=None),
    "S3 SSE-KMS Decrypt (context aws:s3:arn) via s3.amazonaws.com. Must NOT fire.")
add(8, 2, "2026-01-20 11:05:00", use("GenerateDataKey", K9, fin_direct, {"Department": "finance"}),
    "GenerateDataKey (Department=finance). Must NOT fire.")
add(8, 3, "2026-01-20 12:00:00", key_state("DisableKey", K9, kms_admin_a),
    "DisableKey K9: no earlier use carried the constraint key -> must NOT fire key-disabled-with-dependents.")
add(8, 4, "2026-01-20 12:30:00",
    use("Decrypt", K9, fin_direct, {"Department": "finance"}, key_id=None,
        error=("DisabledException", f"{K9.arn} is disabled.")),
    "Non-Proton Decrypt FAILED DisabledException: no constraint key -> no denied-by-key-state. Must NOT fire.")
add(8, 5, "2026-01-20 13:00:00",
    use("Decrypt", K10, ui_service(PROTON), pctx(T8, R8), key_id=None,
        error=("DisabledException", f"{K10.arn} is disabled.")),
    "Proton Decrypt on K10 FAILED DisabledException; K10 has no state change in the input -> denied-by-key-state "
    "with EMPTY related ids, high (the message names no transient state).")

# S8-05: no change of K10 in the input, and "is disabled." names no transient state -> high.
expect("denied-by-key-state", "S8-05", K10, T8, R8, [], severity="high")

# ===========================================================================
# STORIES 9-17 — the cases of RULES.md (issue 11) the earlier stories do not reach.
# Each one gives another finding set than the rules before issue 11 (noted per story).
# ===========================================================================
DENIED_CIPHERTEXT = ("AccessDeniedException", "The ciphertext refers to a customer master key that does not exist, "
                     "does not exist in this region, or you are not allowed to access.")


def denied_for(svc, op, k: Key):
    return ("AccessDeniedException", f"User: {svc} is not authorized to perform: kms:{op} on resource: {k.arn} "
            f"because no resource-based policy allows the kms:{op} action")


# ===========================================================================
# STORY 9 — account A, us-east-1, key K11, service template ledger-svc.
# Grants to the account root (as an ARN and as a bare account id) serve the account's IAM
# principals, not AWS services. (Old rules: no root identity, every use use-without-grant.)
# ===========================================================================
T9 = parn(A, USE1, "service-template/ledger-svc")
R9 = parn(A, USE1, "service/ledger")
T9W = parn(A, USE1, "service-template/ledger-worker")
R9W = parn(A, USE1, "service/ledger-reconcile")
G9, G9B = hexid("grant:G9"), hexid("grant:G9b")
ledger = ui_role(A, "LedgerAppRole", "ledger-9d1e")
STORIES[9] = {"title": "Account-root grantees: an ARN and a bare account id serve the account's IAM principals",
              "acct": A, "region": USE1, "keys": [K11]}

add(9, 1, "2026-04-06 09:00:00",
    create_grant(K11, kms_admin_a, ROOT_A, T9, G9, retiring=None,
                 ops=["Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey"], name="ledger-account"),
    f"CreateGrant G9 by kms-admin, grantee the account root {ROOT_A}, constraint template=ledger-svc.")
add(9, 2, "2026-04-06 09:10:00", use("GenerateDataKey", K11, ledger, pctx(T9, R9)),
    "GenerateDataKey by LedgerAppRole/ledger-9d1e (no invokedBy): its identities include the root of A -> "
    "covered by G9. Must NOT fire.")
add(9, 3, "2026-04-06 09:40:00", use("Decrypt", K11, ledger, pctx(T9, R9), key_id=None),
    "Decrypt by LedgerAppRole: covered by G9 (root). Must NOT fire.")
add(9, 4, "2026-04-06 09:45:00", use("Decrypt", K11, ui_service(PROTON), pctx(T9, R9), key_id=None),
    "Decrypt by AWSService proton: an AWSService caller has no account root identity -> use-without-grant.")
add(9, 5, "2026-04-06 10:00:00",
    create_grant(K11, kms_admin_a, A, T9W, G9B, retiring=None, ops=["Decrypt", "GenerateDataKey"],
                 name="ledger-worker-account"),
    f"CreateGrant G9b, grantee the BARE account id {A} (= its root), constraint template=ledger-worker.")
add(9, 6, "2026-04-06 10:15:00", use("GenerateDataKey", K11, ui_user(A, "ci-deployer"), pctx(T9W, R9W)),
    "GenerateDataKey by IAM user ci-deployer: covered by G9b (bare account id = root of A). Must NOT fire.")
add(9, 7, "2026-04-06 11:00:00", revoke_grant(K11, kms_admin_a, G9, key_id="arn"),
    "RevokeGrant G9 by kms-admin -> grant-removed-with-dependents, medium (a revocation).")
add(9, 8, "2026-04-06 12:00:00", use("Decrypt", K11, ledger, pctx(T9, R9), key_id=None),
    "Decrypt by LedgerAppRole an hour after the revoke -> use-after-grant-retired [S9-07] (G9b's constraint differs).")

# S9-02/03/06: identities of an assumed role / IAM user include arn:aws:iam::<A>:root; G9's grantee
#   is that ARN, G9b's the bare id 111122223333 = the same root (partition of K11: aws). Covered.
# S9-04: AWSService: identities = the service principal only -> no grant covers or would cover.
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K11 in the input: no policy known -> unknown, medium (6.2).
expect("use-without-grant", "S9-04", K11, T9, R9, severity="medium", authorization="unknown")
# S9-07: G9 covered 02, 03 (one pair (T9,R9)): latest 03; S9-04 was not covered. RevokeGrant: medium.
expect("grant-removed-with-dependents", "S9-07", K11, T9, R9, ["S9-03"], severity="medium")
# S9-08: G9 removed at 11:00 <= T - grace, would cover (root) -> related the removal.
# 6: K11 has no policy in the input -> unknown, medium.
expect("use-after-grant-retired", "S9-08", K11, T9, R9, ["S9-07"], severity="medium", authorization="unknown")

# ===========================================================================
# STORY 10 — account A, eu-west-1, key K12, environment template analytics-env.
# A service-principal grant with a source ARN, retired by an administrator; a plain grant
# retired by the service itself. (Old rules: the first grant had no grantee, so its uses were
# use-without-grant and its retirement nothing; the service's own retirement was medium.)
# ===========================================================================
T10 = parn(A, EUW1, "environment-template/analytics-env")
R10 = parn(A, EUW1, "environment/analytics-prod")
G10S, G10P = hexid("grant:G10s"), hexid("grant:G10p")
STORIES[10] = {"title": "Service-principal grant with a source ARN retired by an administrator; a service retiring its own grant",
               "acct": A, "region": EUW1, "keys": [K12]}

add(10, 901, "2026-04-13 07:59:58",
    proton_api("CreateEnvironmentTemplate", A, EUW1, ui_role(A, "ProtonAdminRole", "frank"),
               {"name": "analytics-env", "encryptionKey": K12.arn}),
    "Proton API (non-KMS): CreateEnvironmentTemplate analytics-env.")
add(10, 1, "2026-04-13 08:00:02",
    create_grant(K12, frank, PROTON, T10, G10S, service_principal=True, source_arn=T10),
    "CreateGrant G10s: granteeServicePrincipal and retiringServicePrincipal proton.amazonaws.com, "
    "constraints.sourceArn = the template ARN (never checkable: CloudTrail does not log a source ARN).")
add(10, 2, "2026-04-13 08:00:05", use("GenerateDataKey", K12, ui_service(PROTON), pctx(T10, T10)),
    "GenerateDataKey template data by AWSService proton: covered by G10s (service-principal grantee). Must NOT fire.")
add(10, 3, "2026-04-13 08:30:00", use("Encrypt", K12, ui_service(PROTON_EUW1), pctx(T10, R10)),
    "Encrypt environment/analytics-prod by AWSService proton.eu-west-1: covered by G10s. Must NOT fire.")
add(10, 4, "2026-04-13 09:00:00", use("Decrypt", K12, ui_service(PROTON), pctx(T10, R10), key_id=None),
    "Decrypt analytics-prod: covered by G10s. Must NOT fire.")
add(10, 5, "2026-04-13 11:00:00", retire_grant(K12, kms_admin_a, G10S),
    "RetireGrant G10s by IAM user kms-admin (neither grantee nor retiring principal) -> grant-removed-with-dependents, "
    "medium; its message ends with the unchecked source ARN constraint.")
add(10, 6, "2026-04-13 12:00:00", use("Decrypt", K12, ui_service(PROTON), pctx(T10, R10), key_id=None),
    "Decrypt an hour later -> use-after-grant-retired [S10-05] (message names the unchecked source ARN too).")
add(10, 7, "2026-04-13 13:00:00", create_grant(K12, frank, PROTON_EUW1, T10, G10P),
    "CreateGrant G10p: plain granteePrincipal/retiringPrincipal proton.eu-west-1.amazonaws.com.")
add(10, 8, "2026-04-13 13:05:00", use("Decrypt", K12, ui_service(PROTON), pctx(T10, R10), key_id=None),
    "Decrypt analytics-prod: covered by G10p. Must NOT fire.")
add(10, 9, "2026-04-13 14:00:00", retire_grant(K12, ui_service(PROTON), G10P),
    "RetireGrant G10p by AWSService proton.amazonaws.com, its own grant (grantee proton.eu-west-1 normalised) -> "
    "grant-removed-with-dependents, LOW: the create-use-retire cycle of a service.")

# S10-02/03/04: grantee from granteeServicePrincipal; AWSService proton(.eu-west-1) -> covered.
# S10-05: G10s covered 02 (T10,T10), 03/04 (T10,R10): latest 02, 04. Caller kms-admin: identities
#   user ARN (+ root of A, not counted for low) -> not the grantee/retiring principal: medium.
expect("grant-removed-with-dependents", "S10-05", K12, T10, None, ["S10-02", "S10-04"], severity="medium")
# S10-06: G10s removed 11:00 <= T - grace and would cover; G10p not yet created.
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K12 in the input: no policy known -> unknown, medium (6.2).
expect("use-after-grant-retired", "S10-06", K12, T10, R10, ["S10-05"], severity="medium", authorization="unknown")
# S10-09: G10p covered 08 only (06 is before its creation). RetireGrant by AWSService proton, whose
#   identity proton.amazonaws.com is G10p's grantee and retiring principal normalised: low.
expect("grant-removed-with-dependents", "S10-09", K12, T10, R10, ["S10-08"], severity="low")

# ===========================================================================
# STORY 11 — account B, us-east-1, key K13, service templates search-svc and indexer-svc.
# A forward access session next to a grant to its service; a denial right after a
# CreateGrant; a denial after a RevokeGrant. (Old rules: S11-03 covered, both denials
# denied-access medium.)
# ===========================================================================
T11 = parn(B, USE1, "service-template/search-svc")
R11 = parn(B, USE1, "service/search")
T11W = parn(B, USE1, "service-template/indexer-svc")
R11W = parn(B, USE1, "service/indexer")
G11, G11W = hexid("grant:G11"), hexid("grant:G11w")
STORIES[11] = {"title": "Forward access session beside a grant to its service; denial just after CreateGrant; denial after RevokeGrant",
               "acct": B, "region": USE1, "keys": [K13]}

add(11, 1, "2026-04-20 09:00:00", create_grant(K13, dana_b1(), PROTON, T11, G11),
    "CreateGrant G11, grantee proton.amazonaws.com, constraint template=search-svc.")
add(11, 2, "2026-04-20 09:00:04", use("GenerateDataKey", K13, ui_service(PROTON), pctx(T11, T11)),
    "GenerateDataKey template data by AWSService proton. Covered.")
add(11, 3, "2026-04-20 09:30:00", use("Decrypt", K13, dana_b1(), pctx(T11, R11), key_id=None),
    "Decrypt by PlatformAdmin/dana with invokedBy proton (forward access session): KMS checks dana's own "
    "permissions; the grant to proton does not serve her -> use-without-grant.")
add(11, 4, "2026-04-20 09:31:00", use("Decrypt", K13, ui_service(PROTON), pctx(T11, R11), key_id=None),
    "The same Decrypt by AWSService proton a minute later: covered by G11. Must NOT fire.")
add(11, 5, "2026-04-20 10:00:00", create_grant(K13, dana_b1(), PROTON, T11W, G11W),
    "CreateGrant G11w, grantee proton.amazonaws.com, constraint template=indexer-svc.")
add(11, 6, "2026-04-20 10:00:40",
    use("Encrypt", K13, ui_service(PROTON), pctx(T11W, R11W), error=denied_for(PROTON, "Encrypt", K13)),
    "Encrypt indexer FAILED AccessDeniedException 40 s after CreateGrant G11w (which would cover it) -> "
    "denied-access, LOW: grants take effect with a delay.")
add(11, 7, "2026-04-20 10:06:00", use("Encrypt", K13, ui_service(PROTON), pctx(T11W, R11W)),
    "The Encrypt retried 6 min later succeeds: covered by G11w. Must NOT fire.")
add(11, 8, "2026-04-20 11:00:00", revoke_grant(K13, secadm_b, G11),
    "RevokeGrant G11 by SecurityAdmin -> grant-removed-with-dependents, medium.")
add(11, 9, "2026-04-20 11:10:00",
    use("Decrypt", K13, ui_service(PROTON), pctx(T11, R11), key_id=None, error=DENIED_CIPHERTEXT),
    "Decrypt search FAILED AccessDeniedException 10 min after the revoke -> denied-after-grant-removed [S11-08], high.")

# S11-03: identities of dana (FAS): session ARN, role/PlatformAdmin, root of B; G11's grantee is proton.
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K13 in the input: no policy known -> unknown, medium (6.2).
expect("use-without-grant", "S11-03", K13, T11, R11, severity="medium", authorization="unknown")
# S11-06: G11w would cover it (AWSService proton, Encrypt, template indexer-svc) and was created at
#   10:00:00, in [T - 300 s, T]; it is live, so no removal explains the denial -> denied-access low,
#   related: that CreateGrant (S11-05), the latest such creation.
expect("denied-access", "S11-06", K13, T11W, R11W, related=["S11-05"], severity="low")
# S11-08: G11 covered 02 (T11,T11) and 04 (T11,R11); 03 not (FAS). RevokeGrant: medium.
expect("grant-removed-with-dependents", "S11-08", K13, T11, None, ["S11-02", "S11-04"], severity="medium")
# S11-09: G11 would cover it and was removed at 11:00 <= T; G11w does not match (constraint): no
#   covering grant is live -> denied-after-grant-removed, related the RevokeGrant.
expect("denied-after-grant-removed", "S11-09", K13, T11, R11, ["S11-08"])

# ===========================================================================
# STORY 12 — key K14 in account A (us-east-1), used by a role of account B: every call is
# logged in both accounts (same sharedEventID, own eventID and recipientAccountId).
# (Old rules: the bare-account grant served nobody and each copy gave its own finding.)
# ===========================================================================
T12 = parn(A, USE1, "service-template/shared-svc")
R12 = parn(A, USE1, "service/shared-orders")
G12 = hexid("grant:G12")
orders_b = ui_role(B, "OrdersServiceRole", "orders-7b2e")
STORIES[12] = {"title": "Cross-account calls logged in both accounts: one call, two copies",
               "acct": A, "region": USE1, "keys": [K14]}

add(12, 1, "2026-04-27 09:00:00",
    create_grant(K14, kms_admin_a, B, T12, G12, retiring=None, ops=["Decrypt", "DescribeKey"], name="orders-account"),
    f"CreateGrant G12 by kms-admin of A, grantee the bare account id {B} (account B's root), constraint "
    "template=shared-svc.")
x12a = shared(use("Decrypt", K14, orders_b, pctx(T12, R12), key_id=None))
x12a_b = copy_in(x12a, B)
add(12, 2, "2026-04-27 09:20:00", x12a_b,
    "Decrypt by OrdersServiceRole of account B: the copy in B's log (recipientAccountId B). The smaller eventID "
    "of the pair: the representative. Covered by G12 (root of B). Must NOT fire.", shared="S12-a")
add(12, 3, "2026-04-27 09:20:00", x12a,
    "The same call, the copy in A's log (recipientAccountId A, same sharedEventID). Folded into S12-02: "
    "no finding, counted once per call.", shared="S12-a")
add(12, 4, "2026-04-27 10:00:00", revoke_grant(K14, kms_admin_a, G12),
    "RevokeGrant G12 -> grant-removed-with-dependents, medium; lists the call by its representative S12-02 only.")
x12b = shared(use("Decrypt", K14, orders_b, pctx(T12, R12), key_id=None))
x12b_b = copy_in(x12b, B)  # copied before add() fills the ids of S12-05
add(12, 5, "2026-04-27 11:00:00", x12b,
    "Decrypt by OrdersServiceRole an hour after the revoke, the copy in A's log: the representative this time "
    "(smaller eventID) -> use-after-grant-retired [S12-04], the other copy S12-06 after it in related.",
    shared="S12-b")
add(12, 6, "2026-04-27 11:00:00", x12b_b,
    "The same call, the copy in B's log. Folded into S12-05.", shared="S12-b")

# S12-02 (= S12-03): identities of B's role include arn:aws:iam::444455556666:root = G12's grantee.
# S12-04: G12 covered the call S12-02/03, listed by its representative S12-02 only. Revoke: medium.
expect("grant-removed-with-dependents", "S12-04", K14, T12, R12, ["S12-02"], severity="medium")
# S12-05: no grant covers; G12 (removed 10:00 <= T - grace) would -> related S12-04, then the copy S12-06.
# 6: no CreateKey/PutKeyPolicy/ReplicateKey of K14 in the input: no policy known -> unknown, medium (6.2). No version in related: S12-04, then the copy.
expect("use-after-grant-retired", "S12-05", K14, T12, R12, ["S12-04"], copies=["S12-06"], severity="medium",
       authorization="unknown")

# ===========================================================================
# STORY 13 — account B, eu-west-1, EXTERNAL key K15, environment template ml-env.
# A re-import while disabled enables nothing; expired material is deleted by KMS.
# (Old rules: S13-08 related the re-import; DeleteExpiredKeyMaterial was no trigger.)
# ===========================================================================
T13 = parn(B, EUW1, "environment-template/ml-env")
R13 = parn(B, EUW1, "environment/ml-train")
G13 = hexid("grant:G13")
VALID_TO_13 = "May 6, 2026, 8:00:00 AM"
STORIES[13] = {"title": "EXTERNAL-origin key: re-import while disabled, expired key material",
               "acct": B, "region": EUW1, "keys": [K15]}

add(13, 1, "2026-05-04 08:00:00", create_key(K15, dana_b(None), ts("2026-05-04 08:00:00"), "ml-env BYOK", "EXTERNAL"),
    "CreateKey origin EXTERNAL (other).")
add(13, 2, "2026-05-04 08:02:00", import_material(K15, dana_b(None), expires=VALID_TO_13),
    "ImportKeyMaterial, material expires 2026-05-06 08:00: the first counted change (usable).")
add(13, 3, "2026-05-04 08:10:00", create_grant(K15, dana_b(), PROTON, T13, G13),
    "CreateGrant G13, grantee proton.amazonaws.com, constraint template=ml-env.")
add(13, 4, "2026-05-04 08:10:03", use("GenerateDataKey", K15, ui_service(PROTON), pctx(T13, T13)),
    "GenerateDataKey template data. Covered.")
add(13, 5, "2026-05-04 09:00:00", use("Encrypt", K15, ui_service(PROTON_EUW1), pctx(T13, R13)),
    "Encrypt environment/ml-train. Covered.")
add(13, 6, "2026-05-05 10:00:00", key_state("DisableKey", K15, secadm_b),
    "DisableKey -> key-disabled-with-dependents (medium).")
add(13, 7, "2026-05-05 10:30:00", import_material(K15, dana_b(None), expires=VALID_TO_13),
    "ImportKeyMaterial of the same material while the key is DISABLED: the previous counted change left it "
    "Disabled, not PendingImport, so the import changes no state.")
add(13, 8, "2026-05-05 11:00:00",
    use("Decrypt", K15, ui_service(PROTON), pctx(T13, R13), key_id=None,
        error=("DisabledException", f"{K15.arn} is disabled.")),
    "Decrypt FAILED DisabledException -> denied-by-key-state [S13-06] (not the re-import), high.")
add(13, 9, "2026-05-05 12:00:00", key_state("EnableKey", K15, secadm_b), "EnableKey: usable again.")
add(13, 10, "2026-05-05 12:30:00", use("Decrypt", K15, ui_service(PROTON), pctx(T13, R13), key_id=None),
    "Decrypt 30 min after EnableKey. Covered. Must NOT fire.")
add(13, 11, "2026-05-06 08:00:00", service_event("DeleteExpiredKeyMaterial", K15),
    "DeleteExpiredKeyMaterial (service event, typeless identity): the material expired, key -> PendingImport "
    "-> key-disabled-with-dependents (medium).")
add(13, 12, "2026-05-06 08:20:00",
    use("Decrypt", K15, ui_service(PROTON), pctx(T13, R13), key_id=None,
        error=("KMSInvalidStateException", f"{K15.arn} is pending import.")),
    "Decrypt FAILED KMSInvalidStateException -> denied-by-key-state [S13-11], high.")

# S13-06: earlier successful uses 04 (T13,T13), 05 (T13,R13).
expect("key-disabled-with-dependents", "S13-06", K15, T13, None, ["S13-04", "S13-05"])
# S13-07 is no counted change (rule 3), so the last effective change at 11:00 is S13-06 (Disabled).
expect("denied-by-key-state", "S13-08", K15, T13, R13, ["S13-06"], severity="high")
# S13-11: uses before it: 04 (T13,T13); 05, 10 (T13,R13) -> latest 04, 10. (08 failed.)
expect("key-disabled-with-dependents", "S13-11", K15, T13, None, ["S13-04", "S13-10"])
expect("denied-by-key-state", "S13-12", K15, T13, R13, ["S13-11"], severity="high")

# ===========================================================================
# STORY 14 — account A, eu-west-1, key K16, service template archive-svc.
# Disabled, then scheduled for deletion while disabled, then deleted by KMS.
# (Old rules: DeleteKey and the NotFoundException gave nothing.)
# ===========================================================================
T14 = parn(A, EUW1, "service-template/archive-svc")
R14 = parn(A, EUW1, "service/archive")
G14 = hexid("grant:G14")
STORIES[14] = {"title": "Key disabled, scheduled for deletion while disabled, deleted; a use after deletion",
               "acct": A, "region": EUW1, "keys": [K16]}

add(14, 1, "2026-05-11 09:00:00", create_grant(K16, frank, PROTON, T14, G14),
    "CreateGrant G14, grantee proton.amazonaws.com, constraint template=archive-svc.")
add(14, 2, "2026-05-11 09:00:05", use("GenerateDataKey", K16, ui_service(PROTON), pctx(T14, T14)),
    "GenerateDataKey template data. Covered.")
add(14, 3, "2026-05-11 10:00:00", use("Decrypt", K16, ui_service(PROTON), pctx(T14, R14), key_id=None),
    "Decrypt service/archive. Covered.")
add(14, 4, "2026-05-11 15:00:00", key_state("DisableKey", K16, kms_admin_a),
    "DisableKey -> key-disabled-with-dependents (medium).")
add(14, 5, "2026-05-11 15:30:00",
    key_state("ScheduleKeyDeletion", K16, kms_admin_a, req_extra={"pendingWindowInDays": 7},
              resp={"keyId": K16.arn, "deletionDate": "May 18, 2026 15:30:00 PM", "keyState": "PendingDeletion",
                    "pendingWindowInDays": 7}),
    "ScheduleKeyDeletion of the already disabled key -> key-disabled-with-dependents again (medium): it fires "
    "also when the key already was unusable.")
add(14, 6, "2026-05-11 16:00:00",
    use("Decrypt", K16, ui_service(PROTON), pctx(T14, R14), key_id=None,
        error=("KMSInvalidStateException", f"{K16.arn} is pending deletion.")),
    "Decrypt FAILED KMSInvalidStateException -> denied-by-key-state [S14-05], high.")
add(14, 7, "2026-05-18 15:30:04", service_event("DeleteKey", K16, details=False),
    "DeleteKey at the end of the waiting period (service event, no userIdentity.type) -> "
    "key-deleted-with-dependents (high).")
add(14, 8, "2026-05-18 16:00:00",
    use("Decrypt", K16, ui_service(PROTON), pctx(T14, R14), key_id=None,
        error=("NotFoundException", f"Key '{K16.arn}' does not exist")),
    "Decrypt FAILED NotFoundException -> denied-by-key-state [S14-07], high (Deleted).")

# Dependents of K16: 02 (T14,T14), 03 (T14,R14) for each trigger.
expect("key-disabled-with-dependents", "S14-04", K16, T14, None, ["S14-02", "S14-03"])
expect("key-disabled-with-dependents", "S14-05", K16, T14, None, ["S14-02", "S14-03"])
expect("denied-by-key-state", "S14-06", K16, T14, R14, ["S14-05"], severity="high")
expect("key-deleted-with-dependents", "S14-07", K16, T14, None, ["S14-02", "S14-03"])
expect("denied-by-key-state", "S14-08", K16, T14, R14, ["S14-07"], severity="high")

# ===========================================================================
# STORY 15 — account B, us-east-1, EXTERNAL key K17, service template vault-svc.
# Several key materials: deleting material pending rotation changes nothing; after an
# on-demand rotation the same deletion does; a deletion naming no material is assumed to
# delete the current one. (Old rules: every DeleteImportedKeyMaterial disabled the key.)
# ===========================================================================
T15 = parn(B, USE1, "service-template/vault-svc")
R15 = parn(B, USE1, "service/vault")
G15 = hexid("grant:G15")
M15_1, M15_2, M15_3 = (hexid(f"material:K17-{n}") for n in (1, 2, 3))
STORIES[15] = {"title": "EXTERNAL-origin key with several materials: pending material deleted, rotation, material assumed current",
               "acct": B, "region": USE1, "keys": [K17]}

add(15, 1, "2026-05-25 08:00:00", create_key(K17, dana_b1(None), ts("2026-05-25 08:00:00"), "vault-svc BYOK", "EXTERNAL"),
    "CreateKey origin EXTERNAL (other).")
add(15, 2, "2026-05-25 08:02:00", import_material(K17, dana_b1(None), material=M15_1),
    "ImportKeyMaterial (no importType), responseElements.keyMaterialId M1: the first counted change (usable).")
add(15, 3, "2026-05-25 08:10:00", create_grant(K17, dana_b1(), PROTON, T15, G15),
    "CreateGrant G15, grantee proton.amazonaws.com, constraint template=vault-svc.")
add(15, 4, "2026-05-25 08:10:03", use("GenerateDataKey", K17, ui_service(PROTON), pctx(T15, T15)),
    "GenerateDataKey template data. Covered.")
add(15, 5, "2026-05-25 09:00:00", use("Decrypt", K17, ui_service(PROTON), pctx(T15, R15), key_id=None),
    "Decrypt service/vault. Covered.")
add(15, 6, "2026-05-25 10:00:00",
    kms("GetParametersForImport", K17, dana_b1(None),
        {"keyId": K17.id, "wrappingAlgorithm": "RSAES_OAEP_SHA_256", "wrappingKeySpec": "RSA_4096"}),
    "GetParametersForImport (other).")
add(15, 7, "2026-05-25 10:02:00", import_material(K17, dana_b1(None), material=M15_2, import_type="NEW_KEY_MATERIAL"),
    "ImportKeyMaterial importType NEW_KEY_MATERIAL, keyMaterialId M2, into a key that has material: M2 is pending "
    "rotation. No state change (the key is Enabled, not PendingImport).")
add(15, 8, "2026-05-25 11:00:00", delete_material(K17, dana_b1(None), M15_2),
    "DeleteImportedKeyMaterial naming M2, still pending: the key state does not change. Must NOT fire.")
add(15, 9, "2026-05-25 12:00:00", use("Decrypt", K17, ui_service(PROTON), pctx(T15, R15), key_id=None),
    "Decrypt an hour later SUCCEEDS: the key never left Enabled. Must NOT fire use-after-key-disabled.")
add(15, 10, "2026-05-26 09:00:00", import_material(K17, dana_b1(None), material=M15_3, import_type="NEW_KEY_MATERIAL"),
    "ImportKeyMaterial NEW_KEY_MATERIAL M3: pending rotation. No state change.")
add(15, 11, "2026-05-26 09:30:00", kms("RotateKeyOnDemand", K17, dana_b1(None), {"keyId": K17.id}, {"keyId": K17.arn}),
    "RotateKeyOnDemand (other): M3 becomes the current material.")
add(15, 12, "2026-05-26 10:00:00", use("Decrypt", K17, ui_service(PROTON), pctx(T15, R15), key_id=None),
    "Decrypt service/vault. Covered.")
add(15, 13, "2026-05-26 11:00:00", delete_material(K17, dana_b1(None), M15_3),
    "DeleteImportedKeyMaterial naming M3: rotated in, no longer pending -> key PendingImport -> "
    "key-disabled-with-dependents (medium).")
add(15, 14, "2026-05-26 11:20:00",
    use("Decrypt", K17, ui_service(PROTON), pctx(T15, R15), key_id=None,
        error=("KMSInvalidStateException", f"{K17.arn} is pending import.")),
    "Decrypt FAILED KMSInvalidStateException -> denied-by-key-state [S15-13], high.")
add(15, 15, "2026-05-26 12:00:00",
    import_material(K17, dana_b1(None), material=M15_3, import_type="EXISTING_KEY_MATERIAL"),
    "ImportKeyMaterial of M3 again (EXISTING_KEY_MATERIAL): the key was PendingImport, so usable again.")
add(15, 16, "2026-05-26 13:00:00", use("Decrypt", K17, ui_service(PROTON), pctx(T15, R15), key_id=None),
    "Decrypt an hour after the re-import. Must NOT fire.")
add(15, 17, "2026-05-27 09:00:00", delete_material(K17, dana_b1(None)),
    "DeleteImportedKeyMaterial naming NO material: assumed to delete the current one (key_states "
    "material_assumed_current; the message says so) -> key-disabled-with-dependents (medium).")
add(15, 18, "2026-05-27 09:30:00",
    use("Decrypt", K17, ui_service(PROTON), pctx(T15, R15), key_id=None,
        error=("KMSInvalidStateException", f"{K17.arn} is pending import.")),
    "Decrypt FAILED KMSInvalidStateException -> denied-by-key-state [S15-17], high.")

# S15-07: NEW_KEY_MATERIAL while the key had material (S15-02, and uses 04/05) -> M2 pending;
#   rule 3: the previous counted change (S15-02) left Enabled -> S15-07 changes nothing.
# S15-08: names M2, pending, no RotateKeyOnDemand between 07 and 08 -> no change: no finding, and
#   S15-09 (state Enabled at T - grace) gives none either.
# S15-10: M3 pending (no change); S15-11 RotateKeyOnDemand lies between S15-10 and S15-13, so M3 is
#   not pending at S15-13 -> effective, PendingImport. Uses before: 04 (T15,T15); 05, 09, 12 (T15,R15).
expect("key-disabled-with-dependents", "S15-13", K17, T15, None, ["S15-04", "S15-12"])
expect("denied-by-key-state", "S15-14", K17, T15, R15, ["S15-13"], severity="high")
# S15-15: the previous counted change (S15-13) left PendingImport -> Enabled. Uses: + 16.
expect("key-disabled-with-dependents", "S15-17", K17, T15, None, ["S15-04", "S15-16"])
expect("denied-by-key-state", "S15-18", K17, T15, R15, ["S15-17"], severity="high")

# ===========================================================================
# STORY 16 — account A, us-east-1, key K18 in a CloudHSM custom key store, environment
# template hsm-env. The store is disconnected, a use fails, the store is reconnected.
# (Old rules: no known change, so the denial was high with no related id.)
# ===========================================================================
T16 = parn(A, USE1, "environment-template/hsm-env")
R16 = parn(A, USE1, "environment/payments")
G16 = hexid("grant:G16")
STORE16 = "cks-" + alnum("store:S16", 17, "0123456789abcdef")
STORIES[16] = {"title": "Key in a custom key store: store disconnected (transient denial), reconnected",
               "acct": A, "region": USE1, "keys": [K18]}

add(16, 1, "2026-06-01 08:00:00",
    create_key(K18, kms_admin_a, ts("2026-06-01 08:00:00"), "hsm-env keys in CloudHSM", "AWS_CLOUDHSM", store=STORE16),
    f"CreateKey with requestParameters.customKeyStoreId {STORE16} (origin AWS_CLOUDHSM, key ARN in "
    "responseElements.keyMetadata.arn): K18 belongs to that store (other).")
add(16, 2, "2026-06-01 08:10:00", create_grant(K18, bob(), PROTON, T16, G16),
    "CreateGrant G16, grantee proton.amazonaws.com, constraint template=hsm-env.")
add(16, 3, "2026-06-01 08:10:04", use("GenerateDataKey", K18, ui_service(PROTON), pctx(T16, T16)),
    "GenerateDataKey template data. Covered.")
add(16, 4, "2026-06-01 09:00:00", use("Decrypt", K18, ui_service(PROTON), pctx(T16, R16), key_id=None),
    "Decrypt environment/payments. Covered.")
add(16, 5, "2026-06-01 12:00:00", key_store_call("DisconnectCustomKeyStore", K18, kms_admin_a, STORE16),
    "DisconnectCustomKeyStore (requestParameters.customKeyStoreId only, no resources): every key of the store, "
    "K18, becomes Unavailable (transient). Not a trigger of key-disabled-with-dependents. Must NOT fire.")
add(16, 6, "2026-06-01 12:20:00",
    use("Decrypt", K18, ui_service(PROTON), pctx(T16, R16), key_id=None,
        error=("KMSInvalidStateException", f"{K18.arn} is unavailable: its custom key store {STORE16} is disconnected.")),
    "Decrypt FAILED KMSInvalidStateException while the store is disconnected -> denied-by-key-state [S16-05], "
    "MEDIUM: the failure is temporary.")
add(16, 7, "2026-06-01 13:00:00", key_store_call("ConnectCustomKeyStore", K18, kms_admin_a, STORE16),
    "ConnectCustomKeyStore: K18 back to its last own counted state (none known: Enabled).")
add(16, 8, "2026-06-01 13:30:00", use("Decrypt", K18, ui_service(PROTON), pctx(T16, R16), key_id=None),
    "Decrypt 30 min after the reconnection. Must NOT fire.")

# S16-06: the last effective change of K18 at or before T is S16-05 (Unavailable, transient) -> medium.
expect("denied-by-key-state", "S16-06", K18, T16, R16, ["S16-05"], severity="medium")

# ===========================================================================
# STORY 17 — account B, eu-west-1, ECC key agreement key K19 (not Proton).
# DeriveSharedSecret is a key use. (Old rules: not a use, no finding.)
# ===========================================================================
device = ui_role(B, "DeviceKeyRole", "device-pairing")
STORIES[17] = {"title": "DeriveSharedSecret (ECDH) on a disabled key",
               "acct": B, "region": EUW1, "keys": [K19]}

add(17, 1, "2026-06-08 09:00:00", derive_shared_secret(K19, device),
    "DeriveSharedSecret (no encryption context) on the enabled key. Must NOT fire.")
add(17, 2, "2026-06-08 10:00:00", key_state("DisableKey", K19, secadm_b),
    "DisableKey: no earlier use carried the constraint key -> no key-disabled-with-dependents. Must NOT fire.")
add(17, 3, "2026-06-08 10:15:00", derive_shared_secret(K19, device),
    "DeriveSharedSecret SUCCESS 15 min after DisableKey -> use-after-key-disabled [S17-02].")

# S17-03: a key use (any context); the state at T - grace (10:10) is Disabled (S17-02), no change since.
expect("use-after-key-disabled", "S17-03", K19, None, None, ["S17-02"])

# ===========================================================================
# STORIES 18-28 — key policies and the authorization verdict (RULES.md section 6, issue 12).
# Every use carries the Proton constraint key and no grant covers it (none would, except in
# story 25), so use-without-grant / use-after-grant-retired fire, and the verdict sets their
# severity. No key of these stories changes state, no use fails and every context is well
# formed: no other rule of section 4 fires unless a story says so.
# ===========================================================================
kms_admin_user_a = f"arn:aws:iam::{A}:user/kms-admin"

# ===========================================================================
# STORY 18 — account A, us-east-1, key K20, service template payments-svc.
# A key-policy statement naming the caller's role, with a StringEquals condition on the
# template in the encryption context.
# ===========================================================================
T18 = parn(A, USE1, "service-template/payments-svc")
R18 = parn(A, USE1, "service/payments-api")
T18X = parn(A, USE1, "service-template/payments-batch")
R18X = parn(A, USE1, "service/payments-nightly")
payments = ui_role(A, "PaymentsAppRole", "payments-4c1a")
P18 = policy_doc(
    "payments-svc-key",
    admin_statement(kms_admin_user_a),
    {"Sid": "AllowPaymentsTemplate", "Effect": "Allow", "Principal": {"AWS": role_arn(A, "PaymentsAppRole")},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:aws:proton:template": T18}}})
STORIES[18] = {"title": "Key policy statement for the caller's role, conditioned on the template in the context",
               "acct": A, "region": USE1, "keys": [K20]}

add(18, 1, "2026-07-06 09:00:00",
    create_key(K20, kms_admin_a, ts("2026-07-06 09:00:00"), "payments-svc data", policy=policy_text(P18)),
    "CreateKey K20 with requestParameters.policy as JSON text: statement \"Allow key administrators\" (kms-admin, "
    "administrative actions only) and statement \"AllowPaymentsTemplate\" (role/PaymentsAppRole; Encrypt, Decrypt, "
    "GenerateDataKey*; StringEquals kms:EncryptionContext:aws:proton:template = payments-svc). No root delegation.")
add(18, 2, "2026-07-06 10:00:00", use("GenerateDataKey", K20, payments, pctx(T18, R18)),
    "GenerateDataKey by PaymentsAppRole/payments-4c1a, template payments-svc. No grant -> use-without-grant; "
    "statement \"AllowPaymentsTemplate\" allows it -> LOW, key-policy.")
add(18, 3, "2026-07-06 10:30:00", use("Decrypt", K20, payments, pctx(T18X, R18X), key_id=None),
    "Decrypt by the same role with template payments-batch: the condition rejects it and no other statement "
    "allows it -> use-without-grant, HIGH, unexplained.")

# S18-02: K20 has one version, S18-01 (09:00 <= T). Request: kms:GenerateDataKey, principals the session,
#   role/PaymentsAppRole, root of A; context template = T18. No Deny. "Allow key administrators" does
#   not match the action (kms:Get* is not kms:GenerateDataKey). "AllowPaymentsTemplate": principal =
#   the caller's role (not the root), kms:GenerateDataKey* matches, StringEquals T18 = T18 -> holds:
#   step 4, key-policy -> low; related the version S18-01.
expect("use-without-grant", "S18-02", K20, T18, R18, severity="low", authorization="key-policy", policy="S18-01")
# S18-03: same version; kms:Decrypt, template T18X != T18 -> the condition is false, the statement
#   does not hold (nothing unknown); the administrators' statement has no kms:Decrypt -> step 8,
#   unexplained ("no statement of the policy set by CreateKey at 2026-07-06T09:00:00Z allows it") -> high.
expect("use-without-grant", "S18-03", K20, T18X, R18X, severity="high", authorization="unexplained", policy="S18-01")

# ===========================================================================
# STORY 19 — the same key K20 the next day: a PutKeyPolicy drops "AllowPaymentsTemplate"
# and keeps no root delegation. Within grace the old version is still in force.
# ===========================================================================
P19 = policy_doc("payments-svc-key", admin_statement(kms_admin_user_a))
STORIES[19] = {"title": "PutKeyPolicy removes the allowing statement: the old version in force up to grace, inclusive",
               "acct": A, "region": USE1, "keys": [K20]}

add(19, 1, "2026-07-07 10:00:00", put_key_policy(K20, kms_admin_a, policy_text(P19)),
    "PutKeyPolicy K20 (JSON text, keyId a bare id, key in resources[]): only \"Allow key administrators\" remains.")
add(19, 2, "2026-07-07 10:05:00", use("GenerateDataKey", K20, payments, pctx(T18, R18)),
    "GenerateDataKey by PaymentsAppRole, template payments-svc, EXACTLY 300 s after the PutKeyPolicy: the old "
    "version (S18-01) is still in force (inclusive boundary) and allows it -> use-without-grant, LOW, key-policy, "
    "related the OLD version S18-01.")
add(19, 3, "2026-07-07 10:05:01", use("GenerateDataKey", K20, payments, pctx(T18, R18)),
    "The same call 301 s after the PutKeyPolicy: only the new version is in force -> use-without-grant, HIGH, "
    "unexplained, related S19-01.")

# S19-02: versions of K20: V1 = S18-01, V2 = S19-01 (10:00:00). Vi = V2. V1 is in force since
#   V2.time + grace = 10:05:00 >= T = 10:05:00. V1 -> key-policy (as S18-02); V2 -> unexplained (only
#   the administrators' statement). Most permissive: key-policy, from V1 -> low, related S18-01.
expect("use-without-grant", "S19-02", K20, T18, R18, severity="low", authorization="key-policy", policy="S18-01")
# S19-03: T = 10:05:01 > V2.time + grace: only V2 in force -> no statement allows it -> high, related S19-01.
expect("use-without-grant", "S19-03", K20, T18, R18, severity="high", authorization="unexplained", policy="S19-01")

# ===========================================================================
# STORY 20 — account B, eu-west-1, key K21 created without a policy (the default key policy),
# used by an IAM role of the key's own account.
# ===========================================================================
T20 = parn(B, EUW1, "environment-template/reports-env")
R20 = parn(B, EUW1, "environment/reports-prod")
reports_b = ui_role(B, "ReportsAppRole", "reports-2b7d")
STORIES[20] = {"title": "Default key policy: an IAM role of the key's account is delegated to IAM",
               "acct": B, "region": EUW1, "keys": [K21]}

add(20, 1, "2026-07-13 09:00:00", create_key(K21, secadm_b, ts("2026-07-13 09:00:00"), "reports-env data"),
    "CreateKey K21 with no requestParameters.policy: the default key policy (root of B, kms:*).")
add(20, 2, "2026-07-13 09:30:00", use("Decrypt", K21, reports_b, pctx(T20, R20), key_id=None),
    "Decrypt by ReportsAppRole/reports-2b7d of account B: no grant -> use-without-grant; the default policy "
    "delegates it to B's IAM policies -> LOW, iam-delegated.")

# S20-02: one version, the default of S20-01 (root of B, kms:*). ReportsAppRole is an IAM principal of B:
#   its root is added back; the statement holds through the root only -> step 6, iam-delegated -> low.
expect("use-without-grant", "S20-02", K21, T20, R20, severity="low", authorization="iam-delegated", policy="S20-01")

# ===========================================================================
# STORY 21 — account A, eu-west-1, key K22 with the default key policy, used by the service
# itself (userIdentity type AWSService).
# ===========================================================================
T21 = parn(A, EUW1, "service-template/media-svc")
R21 = parn(A, EUW1, "service/media-transcode")
STORIES[21] = {"title": "Default key policy: an AWS service caller is not reached by root delegation",
               "acct": A, "region": EUW1, "keys": [K22]}

add(21, 1, "2026-07-14 09:00:00", create_key(K22, kms_admin_a, ts("2026-07-14 09:00:00"), "media-svc data"),
    "CreateKey K22 with no policy: the default key policy (root of A, kms:*).")
add(21, 2, "2026-07-14 09:30:00", use("Encrypt", K22, ui_service(PROTON), pctx(T21, R21)),
    "Encrypt by AWSService proton.amazonaws.com: no grant -> use-without-grant; root delegation never reaches an "
    "AWS service -> HIGH, unexplained.")

# S21-02: one version, the default of S21-01. Principals: proton.amazonaws.com only (AWSService: no
#   account root). The only statement names the root of A -> no match -> step 8, unexplained -> high.
expect("use-without-grant", "S21-02", K22, T21, R21, severity="high", authorization="unexplained", policy="S21-01")

# ===========================================================================
# STORY 22 — account B, us-east-1, key K23, service template build-svc.
# The only Allow statements that match have conditions on keys the log cannot tell.
# ===========================================================================
T22 = parn(B, USE1, "service-template/build-svc")
R22 = parn(B, USE1, "service/build-runner")
VPCE22 = "vpce-0a1b2c3d4e5f67890"
build_b = ui_role(B, "BuildRole", "build-7781")
deploy_b = ui_role(B, "DeployRole", "github-actions-1187")
P22 = policy_doc(
    "build-svc-key",
    admin_statement(role_arn(B, "SecurityAdmin")),
    {"Sid": "AllowBuildFromVpce", "Effect": "Allow", "Principal": {"AWS": role_arn(B, "BuildRole")},
     "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:SourceVpce": VPCE22}}},
    {"Sid": "AllowDeployForAwsResources", "Effect": "Allow", "Principal": {"AWS": role_arn(B, "DeployRole")},
     "Action": ["kms:Decrypt", "kms:CreateGrant"], "Resource": "*",
     "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
STORIES[22] = {"title": "Allow statements conditioned on keys CloudTrail does not log (aws:SourceVpce, kms:GrantIsForAWSResource)",
               "acct": B, "region": USE1, "keys": [K23]}

add(22, 1, "2026-07-20 09:00:00",
    create_key(K23, secadm_b, ts("2026-07-20 09:00:00"), "build-svc data", policy=policy_text(P22)),
    "CreateKey K23 with a policy (JSON text): \"Allow key administrators\" (role/SecurityAdmin), "
    f"\"AllowBuildFromVpce\" (role/BuildRole; StringEquals aws:SourceVpce {VPCE22}), \"AllowDeployForAwsResources\" "
    "(role/DeployRole; Bool kms:GrantIsForAWSResource true).")
add(22, 2, "2026-07-20 09:40:00", use("GenerateDataKey", K23, build_b, pctx(T22, R22)),
    "GenerateDataKey by BuildRole: the statement that names it depends on aws:SourceVpce, which the log cannot "
    "tell -> use-without-grant, MEDIUM, unknown.")
add(22, 3, "2026-07-20 10:10:00", use("Decrypt", K23, deploy_b, pctx(T22, R22), key_id=None),
    "Decrypt by DeployRole: its statement depends on kms:GrantIsForAWSResource (known operator Bool, unknown key) "
    "-> use-without-grant, MEDIUM, unknown.")

# S22-02: one version, S22-01. No Deny. "AllowBuildFromVpce": principal = the caller's role, action
#   kms:GenerateDataKey listed, condition key aws:SourceVpce is "any other key" -> unknown: the statement
#   is unevaluable; no Allow holds (the others do not match principal/action) -> step 5, unknown -> medium.
expect("use-without-grant", "S22-02", K23, T22, R22, severity="medium", authorization="unknown", policy="S22-01")
# S22-03: "AllowDeployForAwsResources": principal role/DeployRole, kms:Decrypt listed, Bool on
#   kms:GrantIsForAWSResource (not in the table of 6.3) -> unknown -> unevaluable; nothing holds -> medium.
expect("use-without-grant", "S22-03", K23, T22, R22, severity="medium", authorization="unknown", policy="S22-01")

# ===========================================================================
# STORY 23 — account A, us-east-1, key K24, service template analytics-svc.
# An explicit Deny of kms:Decrypt for a role beside Allow kms:* for the same role.
# ===========================================================================
T23 = parn(A, USE1, "service-template/analytics-svc")
R23 = parn(A, USE1, "service/analytics-query")
analytics = ui_role(A, "AnalyticsRole", "query-55e0")
P23 = policy_doc(
    "analytics-svc-key",
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": ROOT_A}, "Action": "kms:*",
     "Resource": "*"},
    {"Sid": "AllowAnalyticsRole", "Effect": "Allow", "Principal": {"AWS": role_arn(A, "AnalyticsRole")},
     "Action": "kms:*", "Resource": "*"},
    {"Effect": "Deny", "Principal": {"AWS": role_arn(A, "AnalyticsRole")}, "Action": "kms:Decrypt", "Resource": "*"})
STORIES[23] = {"title": "An explicit Deny of kms:Decrypt beside Allow kms:* (a statement without Sid)",
               "acct": A, "region": USE1, "keys": [K24]}

add(23, 1, "2026-07-21 09:00:00",
    create_key(K24, kms_admin_a, ts("2026-07-21 09:00:00"), "analytics-svc data", policy=policy_text(P23)),
    "CreateKey K24 with a policy (JSON text): \"Enable IAM User Permissions\" (root of A, kms:*), "
    "\"AllowAnalyticsRole\" (role/AnalyticsRole, kms:*), and a third statement WITHOUT Sid: Deny role/AnalyticsRole "
    "kms:Decrypt.")
add(23, 2, "2026-07-21 09:30:00", use("Decrypt", K24, analytics, pctx(T23, R23), key_id=None),
    "Decrypt by AnalyticsRole: the Deny holds -> use-without-grant, HIGH, unexplained (\"statement 3 of the policy "
    "set by CreateKey at 2026-07-21T09:00:00Z denies it\").")
add(23, 3, "2026-07-21 09:31:00", use("GenerateDataKey", K24, analytics, pctx(T23, R23)),
    "GenerateDataKey by AnalyticsRole: the Deny names kms:Decrypt only; \"AllowAnalyticsRole\" allows it -> "
    "use-without-grant, LOW, key-policy.")

# S23-02: one version, S23-01. Step 2: statement 3 (Deny, principal the caller's role, kms:Decrypt, no
#   condition) holds -> unexplained -> high; the Allows never count.
expect("use-without-grant", "S23-02", K24, T23, R23, severity="high", authorization="unexplained", policy="S23-01")
# S23-03: kms:GenerateDataKey: the Deny does not match the action. Step 4 before step 6: statement 2
#   (the role itself, kms:*) holds -> key-policy -> low (statement 1 would only delegate).
expect("use-without-grant", "S23-03", K24, T23, R23, severity="low", authorization="key-policy", policy="S23-01")

# ===========================================================================
# STORY 24 — account B, eu-west-1, key K25: no CreateKey, PutKeyPolicy or ReplicateKey of the
# key and no grant in the input (whatever allowed these calls predates the logs).
# ===========================================================================
T24 = parn(B, EUW1, "service-template/legacy-etl")
R24 = parn(B, EUW1, "service/legacy-etl-jobs")
etl_b = ui_role(B, "EtlRole", "etl-nightly")
STORIES[24] = {"title": "No key policy and no grant in the input",
               "acct": B, "region": EUW1, "keys": [K25]}

add(24, 1, "2026-07-27 09:00:00", use("Decrypt", K25, ui_service(PROTON), pctx(T24, R24), key_id=None),
    "Decrypt by AWSService proton on a key of which the input holds no policy and no grant (a grant created "
    "before the logs) -> use-without-grant, MEDIUM, unknown, no related ids.")
add(24, 2, "2026-07-27 09:10:00", use("GenerateDataKey", K25, etl_b, pctx(T24, R24)),
    "GenerateDataKey by EtlRole (an IAM principal) on the same key -> use-without-grant, MEDIUM, unknown.")

# S24-01/02: K25 has no version -> "no policy is known" (6.2), whoever the caller -> unknown -> medium;
#   no version, so nothing is added to related_event_ids.
expect("use-without-grant", "S24-01", K25, T24, R24, severity="medium", authorization="unknown")
expect("use-without-grant", "S24-02", K25, T24, R24, severity="medium", authorization="unknown")

# ===========================================================================
# STORY 25 — account A, eu-west-1, key K26, service template export-svc.
# A grant to proton is retired by proton; the key policy itself allows the service.
# ===========================================================================
T25 = parn(A, EUW1, "service-template/export-svc")
R25 = parn(A, EUW1, "service/export-api")
G25 = hexid("grant:G25")
P25 = policy_doc(
    "export-svc-key",
    admin_statement(kms_admin_user_a),
    {"Sid": "AllowProtonService", "Effect": "Allow", "Principal": {"Service": PROTON},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
     "Condition": {"StringLike": {"kms:EncryptionContext:aws:proton:template": parn(A, EUW1, "service-template/*")}}})
STORIES[25] = {"title": "Use after the grant was retired, allowed by a key-policy statement for the service",
               "acct": A, "region": EUW1, "keys": [K26]}

add(25, 1, "2026-07-28 08:00:00",
    create_key(K26, kms_admin_a, ts("2026-07-28 08:00:00"), "export-svc data", policy=policy_text(P25)),
    "CreateKey K26 with a policy (JSON text): \"Allow key administrators\" and \"AllowProtonService\" (Principal "
    "Service proton.amazonaws.com; Encrypt, Decrypt, GenerateDataKey*, DescribeKey; StringLike template "
    "arn:aws:proton:eu-west-1:111122223333:service-template/*).")
add(25, 2, "2026-07-28 08:10:00", create_grant(K26, frank, PROTON, T25, G25),
    "CreateGrant G25, grantee proton.amazonaws.com, constraint template=export-svc.")
add(25, 3, "2026-07-28 08:10:04", use("GenerateDataKey", K26, ui_service(PROTON), pctx(T25, T25)),
    "GenerateDataKey template data by AWSService proton. Covered by G25.")
add(25, 4, "2026-07-28 09:00:00", use("Decrypt", K26, ui_service(PROTON), pctx(T25, R25), key_id=None),
    "Decrypt service/export-api. Covered by G25.")
add(25, 5, "2026-07-28 11:00:00", retire_grant(K26, ui_service(PROTON), G25),
    "RetireGrant G25 by its grantee AWSService proton -> grant-removed-with-dependents, LOW.")
add(25, 6, "2026-07-28 12:00:00", use("Decrypt", K26, ui_service(PROTON), pctx(T25, R25), key_id=None),
    "Decrypt an hour after the retirement -> use-after-grant-retired [S25-05]; \"AllowProtonService\" allows it "
    "-> LOW, key-policy, related S25-05 then the version S25-01.")

# S25-05: G25 (created 08:10:00) covered 03 (T25,T25) and 04 (T25,R25); the caller's identity
#   proton.amazonaws.com is G25's grantee and retiring principal: a RetireGrant -> low.
expect("grant-removed-with-dependents", "S25-05", K26, T25, None, ["S25-03", "S25-04"], severity="low")
# S25-06: no grant covers (G25 removed 11:00 <= T - grace), G25 would -> use-after-grant-retired, related
#   S25-05. Policy: one version, S25-01. AWSService proton: principal proton.amazonaws.com matches
#   {"Service": proton.amazonaws.com} (not a root); kms:Decrypt listed; StringLike template T25 against
#   ...:service-template/* -> true -> holds: step 4, key-policy -> low; related S25-05, then S25-01.
expect("use-after-grant-retired", "S25-06", K26, T25, R25, ["S25-05"], severity="low", authorization="key-policy",
       policy="S25-01")

# ===========================================================================
# STORY 26 — account B, us-east-1, key K27, environment template ingest-env.
# A PutKeyPolicy whose requestParameters.policy is a JSON OBJECT (not text), with NotAction
# in an Allow and NotPrincipal in a Deny.
# ===========================================================================
T26 = parn(B, USE1, "environment-template/ingest-env")
R26 = parn(B, USE1, "environment/ingest-prod")
ingest = ui_role(B, "IngestRole", "ingest-0d3f")
P26 = policy_doc(
    "ingest-env-key",
    {"Sid": "AllowIngestRole", "Effect": "Allow", "Principal": {"AWS": role_arn(B, "IngestRole")},
     "NotAction": ["kms:Disable*", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:Delete*"], "Resource": "*"},
    {"Sid": "DenyDecryptToOthers", "Effect": "Deny",
     "NotPrincipal": {"AWS": [f"arn:aws:sts::{B}:assumed-role/IngestRole/ingest-0d3f", role_arn(B, "IngestRole"),
                              f"arn:aws:iam::{B}:root"]},
     "Action": "kms:Decrypt", "Resource": "*"},
    admin_statement(role_arn(B, "SecurityAdmin")))
STORIES[26] = {"title": "PutKeyPolicy with the policy as a JSON object: NotAction in an Allow, NotPrincipal in a Deny",
               "acct": B, "region": USE1, "keys": [K27]}

add(26, 1, "2026-08-03 08:00:00", create_key(K27, secadm_b, ts("2026-08-03 08:00:00"), "ingest-env data"),
    "CreateKey K27 with no policy: the default key policy (root of B).")
add(26, 2, "2026-08-03 08:30:00", put_key_policy(K27, secadm_b, P26),
    "PutKeyPolicy K27 with requestParameters.policy a JSON OBJECT: \"AllowIngestRole\" (role/IngestRole, NotAction "
    "kms:Disable*, kms:ScheduleKeyDeletion, kms:PutKeyPolicy, kms:Delete*), \"DenyDecryptToOthers\" (Deny kms:Decrypt, "
    "NotPrincipal the IngestRole session, role/IngestRole and the root of B), \"Allow key administrators\".")
add(26, 3, "2026-08-03 09:30:00", use("GenerateDataKey", K27, ingest, pctx(T26, R26)),
    "GenerateDataKey by IngestRole/ingest-0d3f: allowed through NotAction -> use-without-grant, LOW, key-policy.")
add(26, 4, "2026-08-03 09:40:00", use("Decrypt", K27, ingest, pctx(T26, R26), key_id=None),
    "Decrypt by IngestRole: the Deny's NotPrincipal lists it (and its root), so the Deny does not apply -> "
    "use-without-grant, LOW, key-policy.")
add(26, 5, "2026-08-03 09:50:00", use("Decrypt", K27, ui_service(PROTON), pctx(T26, R26), key_id=None),
    "Decrypt by AWSService proton: none of its identities is in the NotPrincipal, so the Deny holds -> "
    "use-without-grant, HIGH, unexplained.")

# Versions of K27: V1 = S26-01 (default), V2 = S26-02 (the object, read as it is). Every use is more
#   than grace after S26-02 (08:35 < T), so only V2 is in force.
# S26-03: kms:GenerateDataKey. Deny: action kms:Decrypt does not match. "AllowIngestRole": principal the
#   caller's role; NotAction matches every action it does not list, and kms:GenerateDataKey is not listed
#   (nor matched by kms:Disable* / kms:Delete*) -> holds: step 4, key-policy -> low, related S26-02.
expect("use-without-grant", "S26-03", K27, T26, R26, severity="low", authorization="key-policy", policy="S26-02")
# S26-04: kms:Decrypt. "DenyDecryptToOthers": NotPrincipal lists the caller's session ARN, its role
#   and its account root: the caller's identities are listed (caller and root both, so not uncertain)
#   -> the NotPrincipal does not match, the Deny neither holds nor is unevaluable. "AllowIngestRole"
#   holds (kms:Decrypt not in NotAction) -> key-policy -> low.
expect("use-without-grant", "S26-04", K27, T26, R26, severity="low", authorization="key-policy", policy="S26-02")
# S26-05: AWSService proton: identities proton.amazonaws.com only, no account root; the NotPrincipal
#   lists none of them -> matches; kms:Decrypt, no condition -> the Deny holds: step 2, unexplained -> high.
expect("use-without-grant", "S26-05", K27, T26, R26, severity="high", authorization="unexplained", policy="S26-02")

# ===========================================================================
# STORY 27 — account A, us-east-1, key K28, service template catalog-svc.
# A statement conditioned on kms:ViaService; a forward access session through Proton
# satisfies it, a direct call by the same role does not.
# ===========================================================================
T27 = parn(A, USE1, "service-template/catalog-svc")
R27 = parn(A, USE1, "service/catalog-web")
hana_fas = ui_role(A, "ProtonAdminRole", "hana", invoked_by=PROTON)
hana = ui_role(A, "ProtonAdminRole", "hana")
P27 = policy_doc(
    "catalog-svc-key",
    admin_statement(kms_admin_user_a),
    {"Sid": "AllowProtonAdminViaProton", "Effect": "Allow", "Principal": {"AWS": role_arn(A, "ProtonAdminRole")},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:ViaService": PROTON_USE1}}})
STORIES[27] = {"title": "kms:ViaService: a forward access session through Proton matches it, a direct call does not",
               "acct": A, "region": USE1, "keys": [K28]}

add(27, 1, "2026-08-04 09:00:00",
    create_key(K28, kms_admin_a, ts("2026-08-04 09:00:00"), "catalog-svc data", policy=policy_text(P27)),
    "CreateKey K28 with a policy (JSON text): \"Allow key administrators\" and \"AllowProtonAdminViaProton\" "
    "(role/ProtonAdminRole; StringEquals kms:ViaService proton.us-east-1.amazonaws.com).")
add(27, 2, "2026-08-04 09:30:00", use("GenerateDataKey", K28, hana_fas, pctx(T27, R27)),
    "GenerateDataKey by ProtonAdminRole/hana with invokedBy proton.amazonaws.com in us-east-1 (a forward access "
    "session): kms:ViaService is proton.us-east-1.amazonaws.com -> use-without-grant, LOW, key-policy.")
add(27, 3, "2026-08-04 09:45:00", use("Decrypt", K28, hana, pctx(T27, R27), key_id=None),
    "Decrypt by the same role called directly (no invokedBy): kms:ViaService is absent, the condition is false "
    "-> use-without-grant, HIGH, unexplained.")

# S27-02: one version, S27-01. The caller is AssumedRole with invokedBy proton.amazonaws.com (no region in
#   it) -> kms:ViaService = proton.<awsRegion us-east-1>.amazonaws.com = the statement's value; principal
#   = the caller's role -> holds: step 4, key-policy -> low.
expect("use-without-grant", "S27-02", K28, T27, R27, severity="low", authorization="key-policy", policy="S27-01")
# S27-03: no invokedBy -> kms:ViaService missing -> StringEquals false (not negated, not IfExists): the
#   statement does not hold; nothing else allows kms:Decrypt -> step 8, unexplained -> high.
expect("use-without-grant", "S27-03", K28, T27, R27, severity="high", authorization="unexplained", policy="S27-01")

# ===========================================================================
# STORY 28 — account B, eu-west-1, key K29, environment template edge-env.
# A PutKeyPolicy whose policy text is not valid JSON (cut short): within grace the default
# policy is still in force, later the unreadable version alone.
# ===========================================================================
T28 = parn(B, EUW1, "environment-template/edge-env")
R28 = parn(B, EUW1, "environment/edge-eu")
edge = ui_role(B, "EdgeDeployRole", "edge-31f9")
P28_BROKEN = policy_text(policy_doc(
    "edge-env-key",
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
     "Action": "kms:*", "Resource": "*"},
    {"Sid": "AllowEdgeDeployRole", "Effect": "Allow", "Principal": {"AWS": role_arn(B, "EdgeDeployRole")},
     "Action": "kms:Decrypt", "Resource": "*"}))[:300]
try:  # bookkeeping: the text really is not JSON
    json.loads(P28_BROKEN)
    raise AssertionError("P28_BROKEN parses")
except json.JSONDecodeError:
    pass
STORIES[28] = {"title": "PutKeyPolicy whose policy text cannot be read",
               "acct": B, "region": EUW1, "keys": [K29]}

add(28, 1, "2026-08-10 08:00:00", create_key(K29, secadm_b, ts("2026-08-10 08:00:00"), "edge-env data"),
    "CreateKey K29 with no policy: the default key policy (root of B).")
add(28, 2, "2026-08-10 09:00:00", put_key_policy(K29, secadm_b, P28_BROKEN),
    "PutKeyPolicy K29 whose policy is JSON text cut off after 300 characters: not valid JSON, a version that "
    "cannot be read.")
add(28, 3, "2026-08-10 09:02:00", use("Decrypt", K29, edge, pctx(T28, R28), key_id=None),
    "Decrypt by EdgeDeployRole 120 s after the PutKeyPolicy: the default policy is still in force -> "
    "use-without-grant, LOW, iam-delegated, related S28-01.")
add(28, 4, "2026-08-10 10:00:00", use("Decrypt", K29, edge, pctx(T28, R28), key_id=None),
    "Decrypt an hour later: only the unreadable version is in force -> use-without-grant, MEDIUM, unknown, "
    "related S28-02.")

# S28-03: V1 = S28-01 (default), V2 = S28-02 (cannot be read). T = 09:02 <= V2.time + grace = 09:05, so
#   both are in force: V1 -> iam-delegated (EdgeDeployRole of B, root delegation), V2 -> unknown. Most
#   permissive: iam-delegated, from V1 -> low, related S28-01.
expect("use-without-grant", "S28-03", K29, T28, R28, severity="low", authorization="iam-delegated", policy="S28-01")
# S28-04: T = 10:00 > 09:05: only V2 -> step 1, unknown ("the policy set by PutKeyPolicy at
#   2026-08-10T09:00:00Z cannot be read") -> medium, related S28-02.
expect("use-without-grant", "S28-04", K29, T28, R28, severity="medium", authorization="unknown", policy="S28-02")

# ===========================================================================
# BASELINE — snapshots of today's keys (RULES.md 6.6, `keytrail findings trail/ --baseline FILE`,
# repeatable), in the format of `keytrail snapshot` (README "Snapshot of today's keys"), taken
# after the last event of the trail. Three files: A us-east-1, B us-east-1, B eu-west-1. Each lists
# only the keys a case needs (the rules reconcile the keys a snapshot lists, nothing else).
# None of this draws from a random stream: trail/ and findings.jsonl stay byte-identical.
# ===========================================================================
BASELINE = HERE / "baseline"


def epoch(t: dt.datetime) -> int:
    """Snapshot dates are written as the AWS CLI writes them: epoch seconds."""
    return int(t.timestamp())


def default_policy_text(acct):
    """The default key policy as GetKeyPolicy returns it (RULES.md 6.1: root of the key's account, kms:*)."""
    return policy_text({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
         "Action": "kms:*", "Resource": "*"}]})


def snap_grant(k: Key, gid, name, created, grantee, ops, *, retiring=None, subset=None, equals=None):
    """A ListGrants entry (GrantListEntry, the API's field names); `created` is "YYYY-MM-DD HH:MM:SS" UTC."""
    g = {"KeyId": k.arn, "GrantId": gid}
    if name:
        g["Name"] = name
    g["CreationDate"] = epoch(ts(created))
    g["GranteePrincipal"] = grantee
    if retiring:
        g["RetiringPrincipal"] = retiring
    g["IssuingAccount"] = f"arn:aws:iam::{k.acct}:root"
    g["Operations"] = list(ops)
    if subset is not None:
        g["Constraints"] = {"EncryptionContextSubset": subset}
    elif equals is not None:
        g["Constraints"] = {"EncryptionContextEquals": equals}
    return g


def snap_key(k: Key, created, state, desc, *, policy, grants, aliases=(), origin="AWS_KMS", usage="ENCRYPT_DECRYPT",
             spec="SYMMETRIC_DEFAULT", meta_extra=None, errors=None):
    """One key of a snapshot: DescribeKey's KeyMetadata, GetKeyPolicy's text (None: the call failed), ListGrants'
    entries, the aliases ListAliases gives it."""
    meta = {"AWSAccountId": k.acct, "KeyId": k.id, "Arn": k.arn, "CreationDate": epoch(ts(created)),
            "Enabled": state == "Enabled", "Description": desc, "KeyUsage": usage, "KeyState": state,
            "Origin": origin, "KeyManager": "CUSTOMER", "KeySpec": spec}
    if usage == "ENCRYPT_DECRYPT":
        meta["EncryptionAlgorithms"] = ["SYMMETRIC_DEFAULT"]
    meta["MultiRegion"] = False
    meta.update(meta_extra or {})
    entry = {"key_arn": k.arn, "describe_key": meta, "key_policy": policy, "grants": list(grants),
             "aliases": [{"AliasName": a, "AliasArn": f"arn:aws:kms:{k.region}:{k.acct}:{a}", "TargetKeyId": k.id,
                          "CreationDate": epoch(ts(at)), "LastUpdatedDate": epoch(ts(at))} for a, at in aliases]}
    if errors:
        entry["errors"] = list(errors)
    return entry


SNAPSHOTS = []  # dicts: file, doc (the snapshot as written), keys (Key objects it lists)


def snapshot(file, when, acct, region, keys):
    assert all(e["key_arn"].split(":")[3:5] == [region, acct] for e in keys), file
    doc = {"snapshot_time": iso(ts(when)), "account_id": acct, "region": region,
           "keys": sorted(keys, key=lambda e: e["key_arn"])}  # keys are in ARN order
    SNAPSHOTS.append({"file": file, "doc": doc, "time": ts(when)})
    return doc


SNAP_A_USE1 = "2026-09-01 12:00:00"
SNAP_B_USE1 = "2026-09-01 12:20:00"
SNAP_B_EUW1 = "2026-09-01 12:40:00"
G6S = hexid("grant:G6s-snapshot-only")        # K7: created after story 6, its CreateGrant not in the trail
G14_AUDIT = hexid("grant:K14-audit")           # K14: created at the first KMS event of A us-east-1
G14_AUDIT_EARLY = hexid("grant:K14-audit-early")  # K14: one second before it
G4S = hexid("grant:G4s-snapshot-only")         # K4: created 2 min before the denial S4-08, not in the trail
G24P, G24E = hexid("grant:G24p"), hexid("grant:G24e")  # K25: created before the trail begins
P11_SNAP = policy_text(policy_doc(
    "ledger-svc-key",
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": ROOT_A}, "Action": "kms:*",
     "Resource": "*"},
    {"Sid": "AllowProtonLedger", "Effect": "Allow", "Principal": {"Service": PROTON},
     "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:aws:proton:template": T9}}}))
P14_SNAP = policy_text(policy_doc(
    "shared-svc-key",
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": ROOT_A}, "Action": "kms:*",
     "Resource": "*"},
    {"Sid": "AllowOrdersAccountDecrypt", "Effect": "Allow", "Principal": {"AWS": B}, "Action": "kms:Decrypt",
     "Resource": "*"}))
AUDIT_ROLE_A = role_arn(A, "KeyAuditRole")

snapshot("snapshot-111122223333-us-east-1.json", SNAP_A_USE1, A, USE1, [
    # K1: CreateKey S1-01 (no policy: the default); today the same default policy, and G1c (S1-21) is its only
    # grant. G1c's CreationDate here is a day EARLIER than its CreateGrant (synthetic): the earliest creation
    # counts (6.6: CreateGrant is idempotent), so G1c covers K1's proton uses from 2025-02-12 09:00 on.
    snap_key(K1, "2025-02-11 09:00:12", "Enabled", "Proton web-svc data", policy=default_policy_text(A),
             grants=[snap_grant(K1, G1C, None, "2025-02-12 09:00:00", PROTON, PROTON_OPS, retiring=PROTON,
                                subset={"aws:proton:template": T1})],
             aliases=[("alias/proton-key", "2025-02-11 09:01:40")]),
    # K2: the trail leaves it Enabled (EnableKey S2-23); the snapshot says Disabled. GetKeyPolicy failed: no policy.
    snap_key(K2, "2024-06-03 14:00:00", "Disabled", "Proton base-env data", policy=None,
             grants=[snap_grant(K2, G2, None, "2025-03-03 10:00:02", PROTON_USE1, PROTON_OPS, retiring=PROTON_USE1,
                                subset={"aws:proton:template": T2})],
             errors=[f"GetKeyPolicy: AccessDeniedException: User: arn:aws:sts::{A}:assumed-role/KeyAuditRole/snapshot "
                     f"is not authorized to perform: kms:GetKeyPolicy on resource: {K2.arn} because no resource-based "
                     "policy allows the kms:GetKeyPolicy action"]),
    # K7: no state change in the trail, pending deletion today; the default policy; G6 (S6-01) and G6s, whose
    # CreateGrant the trail does not have.
    snap_key(K7, "2025-10-06 08:00:00", "PendingDeletion", "Proton gateway-svc data", policy=default_policy_text(A),
             grants=[snap_grant(K7, G6, None, "2026-02-09 09:00:00", PROTON, PROTON_OPS, retiring=PROTON,
                                subset={"aws:proton:template": T6}),
                     snap_grant(K7, G6S, "gateway-reader", "2026-03-16 10:00:00", role_arn(A, "GatewayReaderRole"),
                                ["Decrypt"], subset={"aws:proton:template": T6})],
             meta_extra={"DeletionDate": epoch(ts("2026-09-27 16:00:00")), "PendingDeletionWindowInDays": 30}),
    # K11: no policy event in the trail; the snapshot policy allows proton (conditioned on ledger-svc) and
    # delegates to A's IAM. G9b (S9-05) is live; G9 was revoked (S9-07), so it is not listed.
    snap_key(K11, "2025-12-01 10:00:00", "Enabled", "Proton ledger data", policy=P11_SNAP,
             grants=[snap_grant(K11, G9B, "ledger-worker-account", "2026-04-06 10:00:00", A, ["Decrypt", "GenerateDataKey"],
                                subset={"aws:proton:template": T9W})]),
    # K14: no policy event in the trail; the snapshot policy names account B (a bare account id). Two
    # DescribeKey-only grants whose CreateGrant is not in the trail: one created exactly at the first KMS event of
    # A us-east-1 (S1-01, 2025-02-11 09:00:12), one a second before it.
    snap_key(K14, "2024-09-16 09:00:00", "Enabled", "Proton shared-svc data", policy=P14_SNAP,
             grants=[snap_grant(K14, G14_AUDIT_EARLY, "key-audit-early", "2025-02-11 09:00:11", AUDIT_ROLE_A,
                                ["DescribeKey"]),
                     snap_grant(K14, G14_AUDIT, "key-audit", "2025-02-11 09:00:12", AUDIT_ROLE_A, ["DescribeKey"])]),
    # K18: the trail's last change is ConnectCustomKeyStore S16-07 (back to Enabled); the snapshot agrees.
    snap_key(K18, "2026-06-01 08:00:00", "Enabled", "hsm-env keys in CloudHSM", policy=default_policy_text(A),
             grants=[snap_grant(K18, G16, None, "2026-06-01 08:10:00", PROTON, PROTON_OPS, retiring=PROTON,
                                subset={"aws:proton:template": T16})],
             origin="AWS_CLOUDHSM",
             meta_extra={"CustomKeyStoreId": STORE16,
                         "CloudHsmClusterId": "cluster-" + alnum("hsm:" + STORE16, 11, string.ascii_lowercase + string.digits)}),
])
snapshot("snapshot-444455556666-us-east-1.json", SNAP_B_USE1, B, USE1, [
    # K4: G4s, a grant to proton for api-svc created at 2025-11-03 14:03:00, whose CreateGrant the trail does not
    # have; still live today (G4 was revoked, S4-12). GetKeyPolicy failed: no policy.
    snap_key(K4, "2025-08-04 09:00:00", "Enabled", "Proton api-svc data", policy=None,
             grants=[snap_grant(K4, G4S, None, "2025-11-03 14:03:00", PROTON, PROTON_OPS, retiring=PROTON,
                                subset={"aws:proton:template": T4})],
             errors=[f"GetKeyPolicy: AccessDeniedException: User: arn:aws:sts::{B}:assumed-role/KeyAuditRole/snapshot "
                     f"is not authorized to perform: kms:GetKeyPolicy on resource: {K4.arn} because no resource-based "
                     "policy allows the kms:GetKeyPolicy action"]),
])
snapshot("snapshot-444455556666-eu-west-1.json", SNAP_B_EUW1, B, EUW1, [
    # K19: the trail's last change is DisableKey S17-02; the snapshot agrees (Disabled).
    snap_key(K19, "2025-05-05 09:00:00", "Disabled", "device pairing ECDH key", policy=default_policy_text(B), grants=[],
             usage="KEY_AGREEMENT", spec="ECC_NIST_P256", meta_extra={"KeyAgreementAlgorithms": ["ECDH"]}),
    # K25 (story 24): the two grants that predate the trail, one to proton (subset: legacy-etl), one to account B
    # as a bare account id (equals: legacy-etl and legacy-etl-jobs); the default key policy of B.
    snap_key(K25, "2024-11-18 09:00:00", "Enabled", "legacy-etl data", policy=default_policy_text(B),
             grants=[snap_grant(K25, G24P, "proton-legacy-etl", "2024-12-02 10:00:00", PROTON, PROTON_OPS,
                                retiring=PROTON, subset={"aws:proton:template": T24}),
                     snap_grant(K25, G24E, "legacy-etl-account", "2024-12-02 10:05:00", B, ["GenerateDataKey", "Decrypt"],
                                equals={"aws:proton:template": T24, "aws:proton:resource": R24})]),
])

# ---------------------------------------------------------------------------
# Expected findings of `keytrail findings trail/ --baseline <the three files>`, derived BY HAND from
# RULES.md 6.6: the findings above, minus the ones the baseline removes, with the verdicts it changes,
# plus its reconciliation findings. (A snapshot's policy version adds no eventID to related_event_ids.)
# ---------------------------------------------------------------------------
BASELINE_GONE: set = set()      # (rule, tag) of findings the baseline removes
BASELINE_CHANGED: dict = {}     # (rule, tag) -> the fields that change (severity, authorization, policy)
BASELINE_NEW: list = []         # reconciliation findings


def _expected(rule, tag):
    hits = [x for x in EXPECT if x["rule"] == rule and x["tag"] == tag]
    assert len(hits) == 1, (rule, tag)  # bookkeeping: it names one finding of findings.jsonl
    return hits[0]


BASELINE_NOTES: dict = {}       # (rule, tag) -> why (for the README)


def baseline_gone(rule, tag, *, note):
    _expected(rule, tag)
    BASELINE_GONE.add((rule, tag))
    BASELINE_NOTES[(rule, tag)] = note


def baseline_change(rule, tag, *, severity, authorization=None, policy=None, note):
    """The finding stays, with this severity / verdict; `policy` the tag of the trail version the verdict
    comes from (None: it comes from a snapshot's policy, or there is none)."""
    x = _expected(rule, tag)
    assert severity in SEVERITIES[rule], (rule, severity)
    if rule in AUTHORIZED_RULES:
        assert severity == VERDICT_SEVERITY[authorization], (tag, severity, authorization)
    else:
        assert authorization is None and policy is None, (rule, tag)
    new = {"severity": severity, "authorization": authorization, "policy": policy}
    assert new != {k: x[k] for k in new}, (rule, tag, "nothing changes")
    BASELINE_CHANGED[(rule, tag)] = new
    BASELINE_NOTES[(rule, tag)] = note


RECONCILE_SEVERITY = {"grant-missing-from-trail": "low", "state-disagrees-with-snapshot": "medium"}
RECONCILE_EVENT = {"grant-missing-from-trail": "CreateGrant", "state-disagrees-with-snapshot": "DescribeKey"}


def expect_reconcile(rule, key: Key, when, related=(), *, note, trail_state=None):
    """A reconciliation finding (RULES.md 6.6): no event of its own; `when` its event_time; `trail_state` the
    state the trail leaves the key in (state-disagrees-with-snapshot, for its message)."""
    assert (trail_state is not None) == (rule == "state-disagrees-with-snapshot"), rule
    BASELINE_NEW.append({"rule": rule, "severity": RECONCILE_SEVERITY[rule], "key": key, "t": ts(when),
                         "related": list(related), "note": note, "trail_state": trail_state})


# First and last KMS event of each account and region (6.6 grant-missing-from-trail), read off the stories:
# A us-east-1 S1-01 2025-02-11 09:00:12 .. S27-03 2026-08-04 09:45:00; B us-east-1 S4-01 2025-11-03 13:00:00 ..
# S26-05 2026-08-03 09:50:00; B eu-west-1 S3-01 2025-06-16 08:00:00 .. S28-04 2026-08-10 10:00:00.
INPUT_SPAN = {(A, USE1): ("S1-01", "S27-03"), (B, USE1): ("S4-01", "S26-05"), (B, EUW1): ("S3-01", "S28-04")}

# --- A us-east-1 (snapshot at 2026-09-01 12:00:00) ---
# K1: versions S1-01 (default) then the snapshot's (in force from S1-01's time, sorted after it). Every
#   coverage finding of K1 is hours after S1-01 + grace, so only the snapshot version is in force: the same
#   statement gives the same verdict, but it is the snapshot's, so S1-01 leaves related_event_ids.
# S1-07: alice (IAM, A), root delegation in the snapshot's default policy -> still low, iam-delegated; related [] (was [S1-01]).
baseline_change("use-without-grant", "S1-07", severity="low", authorization="iam-delegated",
                note="only the snapshot's version of K1 is in force (S1-01 + grace is long past): the same root delegation, but from the snapshot, so S1-01 leaves related")
# S1-17 (2025-02-12 15:05, Decrypt by AWSService proton, template T1): G1c exists from its snapshot CreationDate
#   2025-02-12 09:00 (earlier than S1-21), grantee proton, Decrypt in PROTON_OPS, subset template=T1 holds -> covered.
baseline_gone("use-after-grant-retired", "S1-17",
              note="covered by G1c, which exists since its snapshot CreationDate 2025-02-12 09:00 (before its CreateGrant S1-21)")
# S1-18: as S1-07 -> low, iam-delegated, related [] (was [S1-01]).
baseline_change("use-without-grant", "S1-18", severity="low", authorization="iam-delegated",
                note="as S1-07")
# S1-20 (2025-02-13 08:00, AWSService proton, template T1): as S1-17, covered by G1c since 2025-02-12 09:00.
baseline_gone("use-after-grant-retired", "S1-20",
              note="as S1-17: covered by G1c since its snapshot CreationDate")
# K2: effective changes S2-09, 16, 18, 21, 23: the last before the snapshot is EnableKey S2-23 (Enabled); the
#   snapshot says Disabled -> state-disagrees-with-snapshot, medium, related S2-23. K2's policy was not recorded
#   (null): S2-05 keeps medium, unknown.
expect_reconcile("state-disagrees-with-snapshot", K2, SNAP_A_USE1, ["S2-23"], trail_state="Enabled",
                 note="K2: the snapshot says Disabled, the trail leaves it Enabled (EnableKey S2-23 at 2025-03-05T10:00:00Z).")
# K7: PendingDeletion in the snapshot, but no state change of K7 in the trail -> no state finding.
# S6-04: the snapshot's default policy (root of A) is in force from K7's CreationDate (2025-10-06) on; AWSService
#   proton has no root: no statement allows it -> high, unexplained (was medium, unknown); related stays [].
baseline_change("use-without-grant", "S6-04", severity="high", authorization="unexplained",
                note="the snapshot's default policy of K7 (root of A) is in force throughout; AWSService proton has no root: no statement allows it")
# G6s: CreationDate 2026-03-16 10:00:00 in [S1-01, S27-03], no CreateGrant of it -> grant-missing-from-trail. It
#   covers nothing (no use of K7 after 2026-02-09). G6 has its CreateGrant S6-01: nothing.
expect_reconcile("grant-missing-from-trail", K7, "2026-03-16 10:00:00",
                 note="G6s on K7, created 2026-03-16T10:00:00Z, inside A us-east-1's span; no CreateGrant in the trail.")
# K11: no policy event; the snapshot's policy is in force throughout the input.
# S9-04: AWSService proton, kms:Decrypt, template ledger-svc: "AllowProtonLedger" (Service proton) holds -> step 4,
#   low, key-policy (was medium, unknown); no eventID added.
baseline_change("use-without-grant", "S9-04", severity="low", authorization="key-policy",
                note="the snapshot's policy of K11: \"AllowProtonLedger\" (Service proton, template ledger-svc) allows it; no eventID added")
# S9-08: LedgerAppRole (IAM, A): "AllowProtonLedger" does not name it; "Enable IAM User Permissions" holds through
#   the root only -> step 6, low, iam-delegated (was medium, unknown); related stays [S9-07].
baseline_change("use-after-grant-retired", "S9-08", severity="low", authorization="iam-delegated",
                note="LedgerAppRole (IAM, A): only \"Enable IAM User Permissions\" (root of A) matches: delegated")
# K14: no policy event. S12-05: OrdersServiceRole of B (IAM): "AllowOrdersAccountDecrypt" names the bare
#   account id 444455556666 = the root of B, matched through the root only -> step 6, low, iam-delegated (was
#   medium, unknown); related stays [S12-04, S12-06] (the copy after; no version eventID).
baseline_change("use-after-grant-retired", "S12-05", severity="low", authorization="iam-delegated",
                note="the snapshot's policy of K14: \"AllowOrdersAccountDecrypt\" names the bare account id of B, matched through B's root only: delegated; related keeps S12-04 then the copy S12-06")
# G14-audit: CreationDate 2025-02-11 09:00:12 = the first KMS event of A us-east-1 (S1-01): in the closed span,
#   no CreateGrant -> grant-missing-from-trail. G14-audit-early (09:00:11) is before the span: nothing. Both are
#   DescribeKey-only grants to KeyAuditRole: they cover no use.
expect_reconcile("grant-missing-from-trail", K14, "2025-02-11 09:00:12",
                 note="G14-audit on K14, created exactly at the first KMS event of A us-east-1 (S1-01): inside the "
                      "closed span. G14-audit-early, one second earlier, gives nothing.")
# K18: last effective change ConnectCustomKeyStore S16-07 -> its last own counted state (none: Enabled); the
#   snapshot says Enabled -> no finding. G16 has its CreateGrant S16-02: nothing.
# --- B us-east-1 (snapshot at 2026-09-01 12:20:00) ---
# G4s: CreationDate 2025-11-03 14:03:00 in [S4-01, S26-05], no CreateGrant -> grant-missing-from-trail.
expect_reconcile("grant-missing-from-trail", K4, "2025-11-03 14:03:00",
                 note="G4s on K4, created 2025-11-03T14:03:00Z, inside B us-east-1's span; no CreateGrant in the trail.")
# S4-08: AWSService proton Decrypt api-svc denied at 14:05:00; G4s would cover it and was created 120 s before,
#   in [CreationDate, + grace] -> denied-access low, with no related CreateGrant (G4, 13:10, is older) (was medium).
baseline_change("denied-access", "S4-08", severity="low",
                note="G4s (snapshot only, proton, api-svc) would cover it and was created 120 s before: low, no related CreateGrant")
# S4-14: proton Decrypt api-svc at 2025-11-05 11:00: G4 is revoked, but G4s (never removed) covers it -> gone.
baseline_gone("use-after-grant-retired", "S4-14",
              note="covered by G4s, which no event removes")
# S4-01 (before G4s), S4-06/S4-15 (worker-svc: G4s's constraint fails), S4-07/S4-16 (dev-erin) and S4-09 (a forward
#   access session) are not covered by G4s: unchanged (K4's policy was not recorded: still unknown). S4-12's
#   dependents are the uses G4 covered: unchanged.
# --- B eu-west-1 (snapshot at 2026-09-01 12:40:00) ---
# K19: last change DisableKey S17-02 (Disabled); the snapshot agrees -> no finding.
# K25: G24p (proton, subset legacy-etl) covers S24-01; G24e (bare account id B = root of B, equals the exact
#   context of S24-02, GenerateDataKey) covers S24-02 (EtlRole is an IAM principal of B). Both created in 2024,
#   before B eu-west-1's span (2025-06-16): no grant-missing-from-trail.
baseline_gone("use-without-grant", "S24-01",
              note="covered by G24p (proton, subset legacy-etl), created 2024-12-02")
baseline_gone("use-without-grant", "S24-02",
              note="covered by G24e (grantee the bare account id of B = its root, equals the exact context), created 2024-12-02")

# ===========================================================================
# Background noise (non-KMS), synthetic, shaped after real CloudTrail records.
# ===========================================================================
NOISE_COUNT = [0]
NOISE_COUNT_NEW = [0]  # noise of stories 9-17 (RNG_NEW)
NOISE_COUNT_POL = [0]  # noise of stories 18+ (RNG_POL)
PEOPLE = {
    A: {"users": ["dev-alice", "ci-deployer", "kms-admin"],
        "roles": [("ProtonAdminRole", "alice"), ("BillingAppRole", "billing-app-7f3c"),
                  ("EcsTaskRole-frontend", "6c1f0a2b9d8e4f7a"), ("LambdaExec-thumbnails", "thumbnails")]},
    B: {"users": ["dev-erin", "ci-deployer"],
        "roles": [("PlatformAdmin", "dana"), ("OrdersServiceRole", "orders-7b2e"),
                  ("DeployRole", "github-actions-1187")]},
}


def n_user(acct, i):
    return ui_user(acct, PEOPLE[acct]["users"][i % len(PEOPLE[acct]["users"])])


def n_role(acct, i):
    role, sess = PEOPLE[acct]["roles"][i % len(PEOPLE[acct]["roles"])]
    return ui_role(acct, role, sess)


def noise_record(acct, region, i, rng=RNG):
    """One synthetic non-KMS record; kind chosen by RNG."""
    kinds = ["s3get", "s3put", "s3list", "ec2desc", "ec2sg", "ec2vol", "sts_proton", "sts_ecs", "gci",
             "ssm", "logs", "cfn", "ecr", "lambda", "secrets", "ddb", "cw", "proton_read"]
    if region == USE1:
        kinds += ["iam_getrole", "iam_listroles", "signin"]
    k = rng.choice(kinds)
    j = rng.randrange(1000)
    if k in ("s3get", "s3put"):
        ui = n_role(acct, j)
        bucket = f"{'acme' if acct == A else 'orders'}-artifacts-{acct}"
        key = f"builds/{j:04d}/{'bundle.zip' if k == 's3put' else 'manifest.json'}"
        name = "PutObject" if k == "s3put" else "GetObject"
        return base("s3.amazonaws.com", name, acct, region, ui, version="1.10", ua=BOTO_UA,
                    req={"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key},
                    resp={"x-amz-server-side-encryption": "AES256"} if k == "s3put" else None,
                    add_data={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                              "bytesTransferredIn": 18342 if k == "s3put" else 0,
                              "AuthenticationMethod": "AuthHeader", "x-amz-id-2": alnum(f"amzid{i}", 56, string.ascii_letters + string.digits + "+/"),
                              "bytesTransferredOut": 0 if k == "s3put" else 2291},
                    read_only=k == "s3get", category="Data", management=False,
                    resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                               {"accountId": acct, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}],
                    host=f"{bucket}.s3.{region}.amazonaws.com")
    if k == "s3list":
        return base("s3.amazonaws.com", "ListBuckets", acct, region, n_user(acct, j), version="1.09",
                    req={"Host": f"s3.{region}.amazonaws.com"}, resp=None,
                    add_data={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                              "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                              "bytesTransferredOut": 512}, read_only=True)
    if k == "ec2desc":
        return base("ec2.amazonaws.com", "DescribeInstances", acct, region, n_role(acct, j), version="1.09",
                    ua=GO_UA.format(api="ec2#1.198.1"),
                    req={"instancesSet": {}, "filterSet": {"items": [{"name": "tag:team", "valueSet": {"items": [{"value": "platform"}]}}]}},
                    read_only=True)
    if k == "ec2sg":
        return base("ec2.amazonaws.com", "DescribeSecurityGroups", acct, region, n_user(acct, j), version="1.09",
                    req={"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}, read_only=True)
    if k == "ec2vol":
        return base("ec2.amazonaws.com", "DescribeVolumes", acct, region, n_role(acct, j), version="1.09",
                    ua=BOTO_UA, req={"volumeSet": {}, "filterSet": {}, "maxResults": 500}, read_only=True)
    if k == "sts_proton":
        role = f"arn:aws:iam::{acct}:role/ProtonEnvironmentRole"
        return base("sts.amazonaws.com", "AssumeRole", acct, region, ui_service(PROTON), version="1.08",
                    req={"roleArn": role, "roleSessionName": f"proton-{alnum(f'ps{i}', 10).lower()}", "durationSeconds": 3600},
                    resp={"credentials": {"accessKeyId": "ASIA" + alnum(f"psk{i}", 16), "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE" + alnum(f"tok{i}", 40, string.ascii_letters + string.digits),
                                          "expiration": "Jan 1, 2026, 1:00:00 AM"},
                          "assumedRoleUser": {"assumedRoleId": f"{role_pid(acct, 'ProtonEnvironmentRole')}:proton",
                                              "arn": f"arn:aws:sts::{acct}:assumed-role/ProtonEnvironmentRole/proton"}},
                    read_only=True, resources=[{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role}])
    if k == "sts_ecs":
        role = f"arn:aws:iam::{acct}:role/EcsTaskRole"
        return base("sts.amazonaws.com", "AssumeRole", acct, region, ui_service("ecs-tasks.amazonaws.com"), version="1.08",
                    req={"roleArn": role, "roleSessionName": alnum(f"ecs{i}", 32, "0123456789abcdef")},
                    resp={"credentials": {"accessKeyId": "ASIA" + alnum(f"esk{i}", 16), "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE" + alnum(f"etok{i}", 40, string.ascii_letters + string.digits),
                                          "expiration": "Jan 1, 2026, 6:00:00 AM"},
                          "assumedRoleUser": {"assumedRoleId": f"{role_pid(acct, 'EcsTaskRole')}:task",
                                              "arn": f"arn:aws:sts::{acct}:assumed-role/EcsTaskRole/task"}},
                    read_only=True, resources=[{"accountId": acct, "type": "AWS::IAM::Role", "ARN": role}])
    if k == "gci":
        return base("sts.amazonaws.com", "GetCallerIdentity", acct, region, n_user(acct, j), version="1.08",
                    req=None, read_only=True)
    if k == "ssm":
        return base("ssm.amazonaws.com", "GetParameter", acct, region, n_role(acct, j), version="1.08", ua=BOTO_UA,
                    req={"name": f"/app/{'frontend' if acct == A else 'orders'}/feature-flags", "withDecryption": False},
                    read_only=True)
    if k == "logs":
        return base("logs.amazonaws.com", "CreateLogStream", acct, region, n_role(acct, j), version="1.09",
                    ua="aws-sdk-java/2.29.6 Linux/5.10 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE",
                    req={"logGroupName": f"/ecs/{'frontend' if acct == A else 'orders'}", "logStreamName": f"app/{alnum(f'ls{i}', 32, '0123456789abcdef')}"})
    if k == "cfn":
        return base("cloudformation.amazonaws.com", "DescribeStacks", acct, region,
                    ui_role(acct, "ProtonEnvironmentRole", "proton", invoked_by=PROTON), version="1.08",
                    req={"stackName": f"AWSProton-{'base-env' if acct == A else 'platform-env'}-{alnum(f'st{i}', 8).lower()}"},
                    read_only=True)
    if k == "ecr":
        return base("ecr.amazonaws.com", "GetAuthorizationToken", acct, region, n_role(acct, j), version="1.11",
                    req=None, read_only=True, host=f"api.ecr.{region}.amazonaws.com")
    if k == "lambda":
        return base("lambda.amazonaws.com", "ListFunctions20150331", acct, region, n_user(acct, j), version="1.08",
                    req=None, read_only=True)
    if k == "secrets":
        return base("secretsmanager.amazonaws.com", "GetSecretValue", acct, region, n_role(acct, j), version="1.09",
                    ua=BOTO_UA, req={"secretId": f"arn:aws:secretsmanager:{region}:{acct}:secret:db/app-{alnum(f'sec{i}', 6)}"},
                    read_only=True)
    if k == "ddb":
        return base("dynamodb.amazonaws.com", "DescribeTable", acct, region, n_role(acct, j), version="1.08",
                    ua=GO_UA.format(api="dynamodb#1.38.0"), req={"tableName": "sessions"}, read_only=True,
                    resources=[{"accountId": acct, "type": "AWS::DynamoDB::Table", "ARN": f"arn:aws:dynamodb:{region}:{acct}:table/sessions"}])
    if k == "cw":
        return base("monitoring.amazonaws.com", "DescribeAlarms", acct, region, n_user(acct, j), version="1.09",
                    req={"maxRecords": 100}, read_only=True)
    if k == "proton_read":
        return proton_api(rng.choice(["ListServiceInstances", "GetEnvironment", "ListServices"]), acct, region,
                          n_role(acct, 0), {"maxResults": 50}, None, read_only=True)
    if k == "iam_getrole":
        return base("iam.amazonaws.com", "GetRole", acct, USE1, n_user(acct, j), version="1.08",
                    req={"roleName": "ProtonServiceRole"}, read_only=True, host="iam.amazonaws.com")
    if k == "iam_listroles":
        return base("iam.amazonaws.com", "ListRoles", acct, USE1, n_user(acct, j), version="1.08",
                    req={"maxItems": 100}, read_only=True, host="iam.amazonaws.com")
    if k == "signin":
        ui = n_user(acct, j)
        return base("signin.amazonaws.com", "ConsoleLogin", acct, USE1, ui, version="1.08", ua=CONSOLE_UA,
                    req=None, resp={"ConsoleLogin": "Success"}, request_id=False,
                    add_data={"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"},
                    event_type="AwsConsoleSignIn", host="signin.aws.amazon.com")
    raise AssertionError(k)


def story_gen(story):
    """Which stream a story's files use: 0 stories 1-8 (RNG), 1 stories 9-17 (RNG_NEW), 2 stories 18+ (RNG_POL)."""
    return 0 if story < 9 else 1 if story < 18 else 2


def fk_gen(fk):
    return 2 if fk in POL_FKS else 1 if fk in NEW_FKS else 0


GEN_RNG = [RNG, RNG_NEW, RNG_POL]


def add_noise(acct, region, t, *, file=None, dup_into=None, gen=0):
    """One noise record; `gen` 1 (stories 9-17) or 2 (stories 18+): from that stream, with ids of its own."""
    counter, prefix, rng = [(NOISE_COUNT, "noise", RNG), (NOISE_COUNT_NEW, "noise-new", RNG_NEW),
                            (NOISE_COUNT_POL, "noise-pol", RNG_POL)][gen]
    i = counter[0]
    counter[0] += 1
    rec = noise_record(acct, region, i, rng)
    rec["eventID"] = uid(f"{prefix}:{i}")
    finish_record(rec, t, None, f"{prefix}:{i}")
    fk = file or bucket_key(acct, region, t)
    assert gen == fk_gen(fk) or (gen and fk not in FILES), fk
    if gen:
        (NEW_FKS if gen == 1 else POL_FKS).add(fk)
    FILES[fk].append(rec)
    if dup_into:
        FILES[bucket_key(acct, region, dup_into)].append(rec)
    return rec


# noise inside every story file window
for fk in sorted(FILES, key=lambda k: (k[0], k[1], k[2], k[3])):
    kind, acct, region, start = fk
    gen = fk_gen(fk)
    rng = GEN_RNG[gen]
    base_t = start if kind == "std" else ts("2025-11-03 13:00:00")
    for _ in range(rng.randint(2, 5)):
        add_noise(acct, region, base_t + dt.timedelta(seconds=rng.randrange(300)), file=fk, gen=gen)

# noise-only files around each story day (stories 1-8 first, from RNG, three a day; then 9-17, from
# RNG_NEW, one a day; then 18+, from RNG_POL, one a day)
for gen in (0, 1, 2):
    rng = GEN_RNG[gen]
    story_days = sorted({(ev.acct, ev.region, ev.t.date()) for ev in STORY_ORDER if ev.t and story_gen(ev.story) == gen})
    for acct, region, day in story_days:
        for _ in range(1 if gen else 3):
            t = dt.datetime(day.year, day.month, day.day, rng.randint(6, 20), rng.randrange(12) * 5, 0, tzinfo=UTC)
            for _ in range(rng.randint(3, 7)):
                add_noise(acct, region, t + dt.timedelta(seconds=rng.randrange(300)), gen=gen)
# a few quiet-day files in the other account/region pairs
for acct, region, day in [(B, USE1, dt.date(2025, 2, 12)), (A, EUW1, dt.date(2025, 6, 17)), (B, EUW1, dt.date(2025, 11, 4)),
                          (A, USE1, dt.date(2026, 1, 13)), (B, USE1, dt.date(2026, 3, 2))]:
    t = dt.datetime(day.year, day.month, day.day, 12, 0, 0, tzinfo=UTC)
    for _ in range(6):
        add_noise(acct, region, t + dt.timedelta(seconds=RNG.randrange(300)))
# one noise record duplicated into a second file
add_noise(B, USE1, ts("2025-11-05 10:01:10"), dup_into=ts("2025-11-05 11:00:00"))

# ===========================================================================
# write trail/
# ===========================================================================


def reset(d: Path):
    if d.exists():
        for p in sorted(d.iterdir()):
            if p in HAND_WRITTEN:
                continue
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
    d.mkdir(parents=True, exist_ok=True)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def body_of(records) -> bytes:
    return json.dumps({"Records": records}, separators=(",", ":")).encode()


def suffix16(tag, rng=RNG):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))


for d in (TRAIL, BROKEN, FORMATS, EXPECTED):
    reset(d)

MULTI_MEMBER_FK = bucket_key(A, USE1, ts("2025-03-04 10:20:00"))
LOGFILES = []  # dicts: acct, region, delivered, key, sha256, oldest, newest, n
for fk in sorted(FILES, key=lambda k: (k[1], k[2], k[3], k[0])):
    kind, acct, region, start = fk
    rng = GEN_RNG[fk_gen(fk)]
    recs = list(FILES[fk])
    rng.shuffle(recs)  # records are in no order within a file
    if kind == "late":
        delivered = LATE_FILES[fk]
    else:
        delivered = start + dt.timedelta(minutes=5 + rng.randint(5, 10))
    stamp = delivered.strftime("%Y%m%dT%H%MZ")
    key = (f"AWSLogs/{acct}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
           f"{acct}_CloudTrail_{region}_{stamp}_{suffix16(fk, rng)}.json.gz")
    body = body_of(recs)
    if fk == MULTI_MEMBER_FK:
        half = len(body) // 2  # the JSON document split across two gzip members
        blob = gz(body[:half]) + gz(body[half:])
    else:
        blob = gz(body)
    p = TRAIL / key
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(blob)
    times = sorted(r["eventTime"] for r in recs if r["eventTime"] and r["eventTime"].endswith("Z"))
    LOGFILES.append({"acct": acct, "region": region, "delivered": delivered, "key": key,
                     "sha256": hashlib.sha256(body).hexdigest(), "oldest": times[0], "newest": times[-1],
                     "records": recs, "fk": fk})


# ---- digests (must be skipped by keytrail) --------------------------------
def write_digest(acct, region, start: dt.datetime, prev_hash: str):
    end = start + dt.timedelta(hours=1)
    files = [f for f in LOGFILES if f["acct"] == acct and f["region"] == region and start <= f["delivered"] < end]
    assert files, (acct, region, start)
    key = (f"AWSLogs/{acct}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/"
           f"{acct}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_{end:%Y%m%dT%H%M%SZ}.json.gz")
    prev_end = start
    prev_key = (f"AWSLogs/{acct}/CloudTrail-Digest/{region}/{prev_end:%Y/%m/%d}/"
                f"{acct}_CloudTrail-Digest_{region}_{TRAIL_NAME}_{region}_{prev_end:%Y%m%dT%H%M%SZ}.json.gz")
    doc = {
        "awsAccountId": acct,
        "digestStartTime": iso(start), "digestEndTime": iso(end),
        "digestS3Bucket": BUCKET, "digestS3Object": key,
        "digestPublicKeyFingerprint": hexid(f"fp:{region}", 32),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(f["newest"] for f in files), "oldestEventTime": min(f["oldest"] for f in files),
        "previousDigestS3Bucket": BUCKET, "previousDigestS3Object": prev_key,
        "previousDigestHashValue": prev_hash, "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": hexid(f"sig:{prev_key}", 64) * 8,
        "logFiles": [{"s3Bucket": BUCKET, "s3Object": f["key"], "hashValue": f["sha256"], "hashAlgorithm": "SHA-256",
                      "newestEventTime": f["newest"], "oldestEventTime": f["oldest"]} for f in files],
    }
    p = TRAIL / key
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(gz(json.dumps(doc, separators=(",", ":")).encode()))
    return key, [f["key"] for f in files]


DIGESTS = [write_digest(A, USE1, ts("2025-03-04 10:20:15"), hexid("prevdigest:A")),
           write_digest(B, EUW1, ts("2025-06-17 16:00:41"), hexid("prevdigest:B"))]

# ---- insight file (must be skipped) ---------------------------------------
insight_shared = uid("insight:shared:S2")
insight_recs = []
for state, when in (("Start", "2025-03-04 10:21:00"), ("End", "2025-03-04 11:02:00")):
    stats = {"baseline": {"average": 0.0}, "insight": {"average": 0.0667}}
    if state == "End":
        stats["insightDuration"] = 41
    det = {"state": state, "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
           "insightType": "ApiErrorRateInsight", "errorCode": "DisabledException",
           "insightContext": {"statistics": stats,
                              "attributions": [{"attribute": "userIdentityArn",
                                                "insight": [{"value": "proton.amazonaws.com", "average": 0.0667}],
                                                "baseline": []}]}}
    insight_recs.append({"eventVersion": "1.08", "eventTime": iso(ts(when)), "awsRegion": USE1,
                         "eventID": uid(f"insight:{state}"), "eventType": "AwsCloudTrailInsight",
                         "recipientAccountId": A, "sharedEventID": insight_shared, "insightDetails": det,
                         "eventCategory": "Insight"})
INSIGHT_KEY = (f"AWSLogs/{A}/CloudTrail-Insight/{USE1}/2025/03/04/"
               f"{A}_CloudTrail-Insight_{USE1}_20250304T1109Z_{suffix16('insight')}.json.gz")
(TRAIL / INSIGHT_KEY).parent.mkdir(parents=True, exist_ok=True)
(TRAIL / INSIGHT_KEY).write_bytes(gz(body_of(insight_recs)))

# ===========================================================================
# formats/ and broken/
# ===========================================================================
TF = parn(A, USE1, "service-template/formats-svc")
RF = parn(A, USE1, "service/formats")
GF = hexid("grant:GF")
fmt_recs = []
for n, (when, rec) in enumerate([
    ("2025-09-01 12:00:00", create_grant(KF, alice(), PROTON, TF, GF)),
    ("2025-09-01 12:00:05", use("GenerateDataKey", KF, ui_service(PROTON), pctx(TF, TF))),
    ("2025-09-01 12:01:00", use("Encrypt", KF, ui_service(PROTON), pctx(TF, RF))),
    ("2025-09-01 12:02:00", use("Decrypt", KF, ui_service(PROTON), pctx(TF, RF), key_id=None)),
    # AWSService proton.us-east-1, not ProtonAdminRole/alice with invokedBy proton: a forward access
    # session is not served by the grant to proton (RULES.md section 1), and formats/ holds no findings.
    ("2025-09-01 12:03:00", use("Decrypt", KF, ui_service(PROTON_USE1), pctx(TF, TF), key_id=None)),
], start=1):
    rec["eventID"] = f"90{n:06d}" + uid(f"event:F-{n:02d}")[8:]
    finish_record(rec, ts(when), None, f"F-{n:02d}")
    fmt_recs.append(rec)
(FORMATS / "records-array.json").write_text(json.dumps(fmt_recs, indent=1) + "\n")
(FORMATS / "lines.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in fmt_recs))
(FORMATS / "lines.jsonl.gz").write_bytes(gz((FORMATS / "lines.jsonl").read_bytes()))
(FORMATS / "single-record.json").write_text(json.dumps(fmt_recs[3], indent=2) + "\n")
(FORMATS / "wrapped-plain.json").write_text(json.dumps({"Records": fmt_recs}, indent=1) + "\n")
(FORMATS / "no-extension-log").write_bytes(gz(body_of(fmt_recs)))

full = gz(body_of(fmt_recs))
(BROKEN / "truncated.json.gz").write_bytes(full[: len(full) // 2])
(BROKEN / "not-json.json").write_text(
    "this is not JSON: <Records><Record eventName=\"Decrypt\"/></Records>\n\x00\x01 {\"Records\": [ unterminated\n")

# ===========================================================================
# expected/
# ===========================================================================
def representative(tag):
    """The copy of a cross-account call with the smallest eventID (the call itself when not shared)."""
    ev = EVENTS[tag]
    if not ev.shared:
        return tag
    return min((e for e in STORY_ORDER if e.shared == ev.shared), key=lambda e: e.id).tag


def finding_row(x):
    """The findings.jsonl row of one expect()."""
    ev = EVENTS[x["tag"]]
    return {
        "rule": x["rule"], "severity": x["severity"], "authorization": x["authorization"],
        "event_id": ev.id, "event_time": iso(ev.t),
        "event_name": ev.rec["eventName"], "key_arn": x["key"].arn, "proton_template": x["template"],
        "proton_resource": x["resource"],
        # the rule's own related events (ascending), then the key policy version the verdict comes
        # from (RULES.md 6.5), then the other copies of the call (ascending)
        "related_event_ids": (sorted(E(r) for r in x["related"]) + ([E(x["policy"])] if x["policy"] else [])
                              + sorted(E(c) for c in x["copies"])),
    }


findings = []
for x in EXPECT:
    ev = EVENTS[x["tag"]]
    assert ev.t is not None
    # bookkeeping checks only (no rule logic): findings name representatives, list dependents by
    # representative, and give every other copy of the call
    assert representative(x["tag"]) == x["tag"], x
    for r in x["related"] + ([x["policy"]] if x["policy"] else []):
        assert r in EVENTS and representative(r) == r, (x["tag"], r)
    if x["policy"]:
        pe = EVENTS[x["policy"]]
        # bookkeeping: a version is a CreateKey, ReplicateKey or PutKeyPolicy at or before the use
        assert pe.rec["eventName"] in ("CreateKey", "ReplicateKey", "PutKeyPolicy") and pe.t <= ev.t, x
    assert sorted(x["copies"]) == sorted(e.tag for e in STORY_ORDER
                                         if ev.shared and e.shared == ev.shared and e is not ev), x
    findings.append(finding_row(x))
findings.sort(key=lambda f: (f["event_time"], f["event_id"], f["rule"], f["key_arn"]))
with open(EXPECTED / "findings.jsonl", "w") as fh:
    for f in findings:
        fh.write(json.dumps(f) + "\n")

# counts: plain tallies of what was written (no rule logic)
all_recs = [r for f in LOGFILES for r in f["records"]]
distinct = {}
for r in all_recs:
    distinct.setdefault(r["eventID"], r)
kms_recs = [r for r in distinct.values() if r["eventSource"] == "kms.amazonaws.com"]
# Cross-account copies: records of one call (same sharedEventID) count as one call, the copy
# with the smallest eventID. Every AWSService record carries a sharedEventID of its own.
calls = {}
for r in sorted(kms_recs, key=lambda r: r["eventID"]):
    calls.setdefault(r.get("sharedEventID") or r["eventID"], r)
kms_calls = list(calls.values())


def category(name):
    if name in USE_NAMES:
        return "use"
    if name in GRANT_NAMES:
        return "grant"
    if name in STATE_NAMES:
        return "key_state"
    return "other"


by_cat = {"use": 0, "grant": 0, "key_state": 0, "other": 0}
for r in kms_calls:
    by_cat[category(r["eventName"])] += 1
by_rule = {rule: 0 for rule in SEVERITIES}
by_rule_sev = {rule: {sev: 0 for sev in SEVERITIES[rule]} for rule in SEVERITIES}
by_sev = {"high": 0, "medium": 0, "low": 0}
by_auth = {a: 0 for a in VERDICT_SEVERITY}
by_auth[None] = 0
for f in findings:
    by_rule[f["rule"]] += 1
    by_auth[f["authorization"]] += 1
    by_rule_sev[f["rule"]][f["severity"]] += 1
    by_sev[f["severity"]] += 1
other_names = sorted({r["eventName"] for r in kms_calls if category(r["eventName"]) == "other"})
# key_policies rows (RULES.md 6.1), derived by hand: one row per policy version and statement; a
# version that cannot be read, or has no statements, gives one row. Versions are the successful
# CreateKey, ReplicateKey and PutKeyPolicy calls of trail/ (none is a cross-account copy):
KEY_POLICY_ROWS = {
    "S1-01": 1,   # K1 CreateKey, no policy: the default key policy, one statement
    "S3-01": 1,   # K3 likewise (EXTERNAL origin changes nothing)
    "S13-01": 1,  # K15 default
    "S15-01": 1,  # K17 default
    "S16-01": 1,  # K18 default (custom key store)
    "S18-01": 2,  # K20: "Allow key administrators", "AllowPaymentsTemplate"
    "S19-01": 1,  # K20 PutKeyPolicy: "Allow key administrators" only
    "S20-01": 1,  # K21 default
    "S21-01": 1,  # K22 default
    "S22-01": 3,  # K23: administrators, "AllowBuildFromVpce", "AllowDeployForAwsResources"
    "S23-01": 3,  # K24: "Enable IAM User Permissions", "AllowAnalyticsRole", statement 3 (Deny, no Sid)
    "S25-01": 2,  # K26: administrators, "AllowProtonService"
    "S26-01": 1,  # K27 default
    "S26-02": 3,  # K27 PutKeyPolicy, a policy object: "AllowIngestRole", "DenyDecryptToOthers", administrators
    "S27-01": 2,  # K28: administrators, "AllowProtonAdminViaProton"
    "S28-01": 1,  # K29 default
    "S28-02": 1,  # K29 PutKeyPolicy whose text is not JSON: a version that cannot be read, one row
}                 # = 5 (stories 1-17) + 21 (stories 18-28) = 26
# bookkeeping only: the table names every successful policy-setting call of trail/, and nothing else
assert set(KEY_POLICY_ROWS) == {ev.tag for ev in STORY_ORDER if ev.rec["eventSource"] == "kms.amazonaws.com"
                                and ev.rec["eventName"] in ("CreateKey", "ReplicateKey", "PutKeyPolicy")
                                and not ev.rec.get("errorCode")}, "KEY_POLICY_ROWS misses a version"
assert not any(r["eventName"] in ("CreateKey", "ReplicateKey", "PutKeyPolicy") and r["eventID"] not in
               {EVENTS[t].id for t in KEY_POLICY_ROWS} for r in kms_recs), "a policy-setting record outside the stories"
# ---- baseline/ and expected/findings_with_baseline.jsonl (RULES.md 6.6; the diff is derived by hand above) ----
reset(BASELINE)
for snap in SNAPSHOTS:
    (BASELINE / snap["file"]).write_text(json.dumps(snap["doc"], indent=2) + "\n")
# bookkeeping: the spans named by hand are the first and last KMS records of each account and region, whether
# a record's account is read as its recipientAccountId or as its key's account (the copies of story 12 are
# in the middle of B us-east-1's span either way)
for (acct, region), (first, last) in INPUT_SPAN.items():
    for acct_of in (lambda r: r["recipientAccountId"],
                    lambda r: next((x["ARN"].split(":")[4] for x in r.get("resources") or []), r["recipientAccountId"])):
        times = sorted(EVENTS[t].t for t in EVENTS if EVENTS[t].t and EVENTS[t].rec["eventSource"] == "kms.amazonaws.com"
                       and acct_of(EVENTS[t].rec) == acct and EVENTS[t].rec["awsRegion"] == region)
        assert (times[0], times[-1]) == (EVENTS[first].t, EVENTS[last].t), (acct, region)
    assert all(r["eventID"] in {e.id for e in STORY_ORDER} for r in kms_recs), "a KMS record outside the stories"
snap_grants = {g["GrantId"]: (g, snap) for snap in SNAPSHOTS for e in snap["doc"]["keys"] for g in e["grants"] or []}
trail_grant_ids = {r["responseElements"]["grantId"] for r in kms_recs
                   if r["eventName"] == "CreateGrant" and not r.get("errorCode")}
with_baseline = []
for x in EXPECT:
    if (x["rule"], x["tag"]) in BASELINE_GONE:
        continue
    with_baseline.append(finding_row({**x, **BASELINE_CHANGED.get((x["rule"], x["tag"]), {})}))
for n in BASELINE_NEW:
    if n["rule"] == "grant-missing-from-trail":
        # bookkeeping: a snapshot grant of that key was created then, and the trail has no CreateGrant of it
        assert any(g["KeyId"] == n["key"].arn and g["CreationDate"] == epoch(n["t"]) and gid not in trail_grant_ids
                   for gid, (g, _) in snap_grants.items()), n
    else:
        # bookkeeping: the related event is a state event of that key, and the snapshot's time is the finding's
        assert all(EVENTS[r].rec["eventName"] in STATE_NAMES and n["key"].arn in json.dumps(EVENTS[r].rec)
                   for r in n["related"]), n
        assert any(s["time"] == n["t"] and any(e["key_arn"] == n["key"].arn for e in s["doc"]["keys"])
                   for s in SNAPSHOTS), n
    with_baseline.append({
        "rule": n["rule"], "severity": n["severity"], "authorization": None, "event_id": "",
        "event_time": iso(n["t"]), "event_name": RECONCILE_EVENT[n["rule"]], "key_arn": n["key"].arn,
        "proton_template": None, "proton_resource": None, "related_event_ids": sorted(E(r) for r in n["related"])})
with_baseline.sort(key=lambda f: (f["event_time"], f["event_id"], f["rule"], f["key_arn"]))
with open(EXPECTED / "findings_with_baseline.jsonl", "w") as fh:
    for f in with_baseline:
        fh.write(json.dumps(f) + "\n")
baseline_by_rule = {rule: 0 for rule in list(SEVERITIES) + list(RECONCILE_SEVERITY)}
for f in with_baseline:
    baseline_by_rule[f["rule"]] += 1

counts = {
    "record_files": len(LOGFILES),
    "skipped_files": {"digest": len(DIGESTS), "insight": 1, "total": len(DIGESTS) + 1},
    "total_records": len(all_recs),
    "distinct_records": len(distinct),
    "duplicates_dropped": len(all_recs) - len(distinct),
    "kms_records": len(kms_recs),
    "non_kms_records": len(distinct) - len(kms_recs),
    "cross_account_copies_folded": len(kms_recs) - len(kms_calls),
    "kms_by_category": by_cat,
    "records_without_event_time": sum(1 for r in distinct.values() if r["eventTime"] is None),
    "findings": len(findings),
    "findings_by_rule": by_rule,
    "findings_by_severity": by_sev,
    "key_policies_rows": sum(KEY_POLICY_ROWS.values()),
    "baseline": {"files": [f"baseline/{snap['file']}" for snap in sorted(SNAPSHOTS, key=lambda s: s["file"])],
                 "findings": len(with_baseline), "by_rule": baseline_by_rule},
    "category_names": {"use": sorted(USE_NAMES), "grant": sorted(GRANT_NAMES), "key_state": sorted(STATE_NAMES),
                       "other": "every other kms.amazonaws.com eventName"},
}
assert counts["non_kms_records"] / counts["distinct_records"] >= 0.6, counts
(EXPECTED / "counts.json").write_text(json.dumps(counts, indent=2) + "\n")

# ===========================================================================
# README.md
# ===========================================================================
key_lines = "\n".join(f"| {k.name} | `{k.arn}` |" for k in KEYS + [KF])
by_tag_findings = defaultdict(list)
for x in EXPECT:
    verdict = f", {x['authorization']}" if x["authorization"] else ""
    pol = f", policy {x['policy']}" if x["policy"] else ""
    by_tag_findings[x["tag"]].append(f"{x['rule']} ({x['severity']}{verdict}{pol})")
sections = []
for sid, meta in STORIES.items():
    rows = []
    for ev in STORY_ORDER:
        if ev.story != sid:
            continue
        fires = ", ".join(by_tag_findings.get(ev.tag, [])) or "—"
        when = ev.rec["eventTime"] if ev.rec["eventTime"] is not None else "null"
        where = []
        if len(ev.files) > 1:
            where.append("duplicated")
        if ev.files[0][0] == "late":
            where.append("late file")
        if ev.files[0] == MULTI_MEMBER_FK:
            where.append("multi-member gzip")
        if ev.shared:
            where.append(f"copy in {ev.acct}'s log" + (", representative" if representative(ev.tag) == ev.tag else ""))
        rows.append(f"| {ev.tag} | `{ev.id[:8]}` | {when} | {ev.rec['eventName']} | {fires} | "
                    f"{ev.note}{' (' + ', '.join(where) + ')' if where else ''} |")
    sections.append(f"### Story {sid}: {meta['title']}\n\nAccount {meta['acct']}, {meta['region']}, "
                    f"key(s) {', '.join(k.name for k in meta['keys'])}.\n\n"
                    "| tag | eventID prefix | eventTime | eventName | expected findings | what it tests |\n"
                    "|---|---|---|---|---|---|\n" + "\n".join(rows))
rule_table = "\n".join(
    f"| {rule} | {' / '.join(SEVERITIES[rule])} | {n} | "
    f"{', '.join(f'{sev} {m}' for sev, m in by_rule_sev[rule].items() if m) or '—'} |"
    for rule, n in by_rule.items())
notable = []
for f in LOGFILES:
    tags = sorted(ev.tag for ev in STORY_ORDER if f["fk"] in ev.files)
    what = []
    if f["fk"] == MULTI_MEMBER_FK:
        what.append("multi-member gzip")
    if f["fk"][0] == "late":
        what.append("LATE delivery, events of 2025-11-03")
    if any(len(ev.files) > 1 and f["fk"] in ev.files for ev in STORY_ORDER):
        what.append("holds a duplicated record")
    if any(ev.shared and f["fk"] in ev.files for ev in STORY_ORDER):
        what.append("holds a cross-account copy")
    if what:
        notable.append(f"- `trail/{f['key']}`: {', '.join(what)}; story events {', '.join(tags)}")
notable += [f"- `trail/{k}`: digest over {len(listed)} log files (skip)" for k, listed in DIGESTS]
notable.append(f"- `trail/{INSIGHT_KEY}`: Insight records (skip)")
file_list = "\n".join(notable)

# the baseline section (RULES.md 6.6): what each snapshot lists, and the hand-derived difference
SNAP_NOTES = {
    K1.name: "default policy (as S1-01); G1c, listed with a CreationDate a day before its CreateGrant S1-21",
    K2.name: "Disabled, though the trail leaves it Enabled (S2-23); GetKeyPolicy failed (`key_policy` null); G2",
    K7.name: "PendingDeletion with no state change in the trail (no finding); default policy; G6 and G6s (no CreateGrant)",
    K11.name: "a policy allowing proton for ledger-svc and delegating to A; G9b",
    K14.name: "a policy delegating Decrypt to account B (bare id); two DescribeKey grants without CreateGrant, at "
              "the first KMS event of A us-east-1 and one second before it",
    K18.name: "Enabled, as ConnectCustomKeyStore S16-07 left it (agrees); default policy; G16",
    K4.name: "GetKeyPolicy failed (`key_policy` null); G4s, a grant to proton for api-svc without CreateGrant",
    K19.name: "Disabled, as DisableKey S17-02 left it (agrees); default policy; no grant",
    K25.name: "default policy of B; G24p (proton, subset) and G24e (bare account id, equals), both from 2024",
}
KEY_BY_ARN = {k.arn: k for k in KEYS}
snap_rows = []
for snap in SNAPSHOTS:
    for e in sorted(snap["doc"]["keys"], key=lambda e: KEYS.index(KEY_BY_ARN[e["key_arn"]])):
        k = KEY_BY_ARN[e["key_arn"]]
        snap_rows.append(f"| `{snap['file']}` | {snap['doc']['snapshot_time']} | {k.name} | "
                         f"{e['describe_key']['KeyState']} | {SNAP_NOTES[k.name]} |")


def verdict_text(x):
    v = f"{x['severity']}" + (f", {x['authorization']}" if x["authorization"] else "")
    rel = x["related"] + ([x["policy"]] if x["policy"] else []) + x["copies"]
    return v + f" [{', '.join(rel)}]"


diff_rows = []
for x in EXPECT:
    key = (x["rule"], x["tag"])
    if key in BASELINE_GONE:
        diff_rows.append(f"| {x['tag']} | {x['rule']} | {verdict_text(x)} | gone | {BASELINE_NOTES[key]} |")
    elif key in BASELINE_CHANGED:
        diff_rows.append(f"| {x['tag']} | {x['rule']} | {verdict_text(x)} | "
                         f"{verdict_text({**x, **BASELINE_CHANGED[key]})} | {BASELINE_NOTES[key]} |")
span_text = {ar: (iso(EVENTS[a].t), iso(EVENTS[b].t)) for ar, (a, b) in INPUT_SPAN.items()}
new_rows = []
for n in sorted(BASELINE_NEW, key=lambda n: n["t"]):
    k = n["key"]
    snap = next(s for s in SNAPSHOTS if any(e["key_arn"] == k.arn for e in s["doc"]["keys"]))
    if n["rule"] == "grant-missing-from-trail":
        gid = next(g["GrantId"] for e in snap["doc"]["keys"] for g in e["grants"] or []
                   if g["KeyId"] == k.arn and g["CreationDate"] == epoch(n["t"]))
        first, last = span_text[(k.acct, k.region)]
        msg = (f"Grant {gid} on {k.arn}, which the snapshot taken at {snap['doc']['snapshot_time']} lists as created at "
               f"{iso(n['t'])}, has no CreateGrant in the input, which covers {k.acct} {k.region} from {first} to {last}: "
               "events were not logged, filtered out or lost.")
    else:
        ch = EVENTS[n["related"][0]]
        state = next(e["describe_key"]["KeyState"] for e in snap["doc"]["keys"] if e["key_arn"] == k.arn)
        msg = (f"The snapshot taken at {snap['doc']['snapshot_time']} says {k.arn} is {state}, but the input leaves it "
               f"{n['trail_state']} ({ch.rec['eventName']} at {iso(ch.t)}): the input misses a key-state change.")
    new_rows.append(f"| {n['rule']} ({n['severity']}) | {iso(n['t'])} | {k.name} | "
                    f"{', '.join(n['related']) or '—'} | {n['note']} Message: `{msg}` |")
baseline_cmd = " \\\n    ".join(["keytrail findings testdata/trail"] +
                                [f"--baseline testdata/{f}" for f in counts["baseline"]["files"]])
baseline_by_sev = {sev: sum(1 for f in with_baseline if f["severity"] == sev) for sev in ("high", "medium", "low")}

README = f"""# keytrail test data

**All data here is synthetic.** Account ids, key ids, grant ids, principals, addresses,
request ids and event ids are made up; the records imitate the documented CloudTrail, KMS
and AWS Proton record shapes (as summarised in the project's shared domain notes,
`shared/domain/cloudtrail-kms.md`), but none is a copy of a real log.

Everything is generated by `make_testdata.py` (Python 3.11, standard library only,
deterministic: re-running it rewrites byte-identical files):

    python3 testdata/make_testdata.py

`RULES.md` holds the findings rules the expected output follows.

## Layout

- `trail/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz`
  — {counts['record_files']} record files (`{{"Records":[...]}}`, gzip). The date in the path and name is the
  delivery time (5-15 min after the events), except one LATE file delivered on 2025-11-08 that holds
  events of 2025-11-03. One file is a multi-member gzip (the JSON document split across two gzip members).
  Records inside a file are shuffled.
- `trail/AWSLogs/<account>/CloudTrail-Digest/...` — {len(DIGESTS)} digest files (`logFiles[].hashValue` is the
  real SHA-256 of each listed uncompressed log file). Must be skipped, not failed.
- `trail/AWSLogs/{A}/CloudTrail-Insight/...` — 1 Insight file (2 `AwsCloudTrailInsight` records). Must be skipped.
- `broken/truncated.json.gz` (a valid gzip log cut in half), `broken/not-json.json` (garbage) — error paths.
- `formats/` — the same 5 KMS records (eventIDs `90000001`…`90000005`, account {A}, key KF) in every accepted
  input format: `records-array.json` (top-level array), `lines.jsonl`, `lines.jsonl.gz`, `wrapped-plain.json`
  (`{{"Records":[...]}}`, not gzipped), `no-extension-log` (gzip, no extension: detect by content). Each holds 5
  KMS events, except `single-record.json`, which is one record object (the 4th record, `90000004`) and so holds 1.
  Written by hand (this script keeps them): `lookup-events.json`, the output of `aws cloudtrail lookup-events`
  (two pages, concatenated; each record a JSON string in `CloudTrailEvent`): KMS events `91000003` Decrypt
  (context environment-template/t1, environment/e1), `91000002` CreateGrant and `91000001` CreateKey (key
  `5d7f0c2e-…`, us-east-1) and the Proton call `91000901` CreateEnvironmentTemplate; `lake-query-results.json`,
  the output of CloudTrail Lake's `get-query-results` (two pages): `eventjson` rows `92000001` CreateGrant,
  `92000002` GenerateDataKey (key `8c3e5a17-…`, eu-west-1) and the Proton call `92000901` CreateService, and
  flat-column rows `92000003` Decrypt (struct columns in Lake's `{{key=value}}` rendering: no key, no context)
  and `92000004` Decrypt (the same columns as JSON text). They hold 3 and 4 KMS events; all of `formats/`
  holds 12. Over `formats/` the rules give no findings (every use with a known key is covered by the
  CreateGrant of its key: `90000001`, `91000002`, `92000001`).
- `expected/findings.jsonl` — the expected findings over all of `trail/` with the default grace of 300 s,
  sorted by (event_time, event_id, rule, key_arn). Written BY HAND in `make_testdata.py` (the `expect(...)`
  calls after each story), not computed by a rules engine.
- `expected/counts.json` — files read and skipped, total / distinct records, duplicates, KMS records by category,
  and `key_policies_rows`: the rows of the `key_policies` table over `trail/` (RULES.md 6.1; derived by hand in
  `KEY_POLICY_ROWS`: one row per policy version and statement, one for a version that cannot be read).
- `baseline/snapshot-<account>-<region>.json` — {len(SNAPSHOTS)} snapshots of today's keys in the format of `keytrail snapshot`
  (the README's "Snapshot of today's keys"), taken after the trail; see "Baseline" below.
- `expected/findings_with_baseline.jsonl` — the expected findings over `trail/` with those snapshots as baselines
  (RULES.md 6.6), same fields and order as `findings.jsonl`; written BY HAND as the difference from it
  (`baseline_gone`, `baseline_change`, `expect_reconcile`). `counts.json` gains `baseline` (its files, findings, by rule).

## Accounts, regions, keys

Accounts {A} (A) and {B} (B); regions us-east-1 and eu-west-1; events from 2025-02 to 2026-08.

| key | ARN |
|---|---|
{key_lines}

Event ids of story events start with `<story:2><step:6>`: `02000009-…` is story 2, step 9 (tag S2-09).
Steps 901+ are AWS Proton API calls (non-KMS context). Background noise (non-KMS: s3, ec2, sts, iam,
ssm, logs, cloudformation, ecr, lambda, secretsmanager, dynamodb, monitoring, signin, proton reads) has
plain uuid5 event ids.

## Expected findings per rule

| rule | severities | findings | by severity |
|---|---|---|---|
{rule_table}

Total: {len(findings)} ({', '.join(f'{sev} {n}' for sev, n in by_sev.items())}). Severities follow the
situation (RULES.md section 4); each `expect(...)` names the one it derived.

By authorization (RULES.md section 6; only `use-without-grant` and `use-after-grant-retired` carry one):
{', '.join(f'{a or "null"} {n}' for a, n in by_auth.items())}. The "expected findings" column of the stories
gives rule (severity, authorization, policy version) — the policy version's eventID is in
`related_event_ids` after the rule's own related events and before the cross-account copies.

## Counts

```json
{json.dumps({k: v for k, v in counts.items() if k != 'category_names'}, indent=2)}
```

KMS categories: use = {', '.join(sorted(USE_NAMES))}; grant = {', '.join(sorted(GRANT_NAMES))};
key_state = {', '.join(sorted(STATE_NAMES))} (RULES.md section 3's state events); other = any other KMS
eventName (here {', '.join(other_names)}). Failed calls are counted under their name too. Duplicates: S1-18,
S2-09 and one noise record each sit in two files.

Cross-account copies: a call logged in two accounts is two records with the same `sharedEventID` and
their own `eventID` and `recipientAccountId` (story 12: S12-02/S12-03 and S12-05/S12-06, one copy in each
account's files). `kms_records` counts both copies (both are kept in kms_events); `kms_by_category`
counts CALLS, each call once under its representative (the copy with the smallest eventID), so its sum
is `kms_records` − `cross_account_copies_folded`.

## Stories

Every Proton KMS call carries `{{"aws:proton:template": ..., "aws:proton:resource": ...}}`. Most grants are
Proton-style: `granteePrincipal` proton.amazonaws.com or proton.<region>.amazonaws.com, `constraints.encryptionContextSubset`
= `{{"aws:proton:template": <template ARN>}}`; stories 5, 9, 10 and 12 add a role ARN, the account root (as an
ARN and as a bare account id), and a `granteeServicePrincipal` grant with `constraints.sourceArn`. "Covered"
means some live grant covers the use under the rules. A caller's identities (RULES.md section 1): an
`AWSService` caller is its service principal; any other caller is its ARN, its role, and its account root;
a customer principal with `invokedBy` (a forward access session: S1-07, S1-18, S2-05, S5-04, S11-03, S27-02) is
NOT the service, so a grant to proton does not serve it.

Key policies (RULES.md section 6): every `use-without-grant` and `use-after-grant-retired` carries an
`authorization` verdict and the severity that goes with it (unexplained high, unknown medium, iam-delegated
and key-policy low). In stories 1-17 only K1, K3, K15, K17 and K18 have a CreateKey, all without
`requestParameters.policy` (the default key policy: the key account's root, `kms:*`); of these only K1 has
coverage findings: alice (an IAM principal of A) is `iam-delegated`, AWSService proton `unexplained`. Every
other key of stories 1-17 has no policy in the input: `unknown`, medium. Stories 18-28 each test one case of
section 6: a conditioned statement for the caller's role (18), a PutKeyPolicy and the inclusive grace boundary
(19), the default policy for an IAM role (20) and for an AWS service (21), conditions on keys the log cannot tell
(22), an explicit Deny (23), no policy at all (24), a retired grant with a key-policy allow (25), a policy
logged as a JSON object with NotAction and NotPrincipal (26), kms:ViaService and a forward access session (27),
and a policy text that is not JSON (28).

{(chr(10) + chr(10)).join(sections)}

## Baseline: snapshots of today's keys (RULES.md 6.6)

`baseline/` holds {len(SNAPSHOTS)} snapshots in the format of `keytrail snapshot` (KeyMetadata, key policy, ListGrants
and ListAliases entries with the KMS API's field names, dates in epoch seconds), all taken after the trail's last
event. Each lists only the keys a case needs: the rules reconcile the keys a snapshot lists and nothing else.
`expected/findings_with_baseline.jsonl` is the expected output of

    {baseline_cmd}

with the default grace of 300 s: {len(with_baseline)} findings ({', '.join(f'{sev} {n}' for sev, n in baseline_by_sev.items())}).
It is `findings.jsonl` with {len(BASELINE_GONE)} findings gone, {len(BASELINE_CHANGED)} changed and {len(BASELINE_NEW)} new, each derived
by hand in `make_testdata.py` with a one-line reason. Reconciliation findings have no event of their own:
`event_id` is `""`, `authorization`, `proton_template` and `proton_resource` are null.

| file | snapshot_time | key | KeyState | what it holds |
|---|---|---|---|---|
{chr(10).join(snap_rows)}

Findings that differ from `findings.jsonl` (severity, authorization [related: the rule's own, the policy
version, the copies]):

| tag | rule | without baseline | with baseline | why |
|---|---|---|---|---|
{chr(10).join(diff_rows)}

New findings:

| rule | event_time | key | related | why |
|---|---|---|---|---|
{chr(10).join(new_rows)}

Nothing else changes. In particular: S2-05 keeps medium, unknown (K2's `key_policy` is null: no version);
the uses of K4 that G4s does not serve (S4-01 before it, S4-06/S4-15 for worker-svc, S4-07/S4-16 by dev-erin)
and S4-09 (a forward access session) stay as they are; S4-12 still lists the uses G4 covered; K7's
PendingDeletion and the agreeing states of K18 and K19 give no finding; G1c, G2, G6, G9b and G16, which the
trail creates, are not missing from it (no `grant-missing-from-trail`); G1c, listed a day before its
CreateGrant, exists from that earlier date (the earliest creation counts), which removes S1-17 and S1-20; the grants of
K25 and the earlier audit grant of K14 predate their account's span.

Where RULES.md 6.6 left room (and how these fixtures read it, or avoid it):
- A snapshot policy of a key with trail versions is in force from the key's latest version and sorts after
  it, so within grace of that version both are in force (6.2). No use here falls in such a window (K1's only
  use within grace of S1-01, S1-04, is covered; K18 has no coverage finding).
- The span of `grant-missing-from-trail` ("the input's KMS events of the key's account and region") is the same
  here whether a record's account is its recipientAccountId or its key's account, and its first and last
  events are successful: the spans are {'; '.join(f'{a} {r} {f} to {l}' for (a, r), (f, l) in span_text.items())}.
  The boundary is closed: a grant created exactly at the first event counts, one a second before does not.
- A snapshot grant's CreationDate earlier than the trail's CreateGrant of the same id (G1c, synthetic) is the
  grant's creation: CreateGrant is idempotent, and CreationDate is when the grant was first created.
- `key_policy` null (the GetKeyPolicy call failed) is not a version: the verdict stays as without the snapshot.
- Aliases in a snapshot do not resolve a key: S1-11 (`alias/proton-key`, which K1's snapshot lists) stays
  unresolved. It would give no finding either way (G1a covered it).
- A snapshot's state is used only for `state-disagrees-with-snapshot`, not as a state change of section 3 (no
  use follows any snapshot).

## Grace window

The expected file uses the default grace of 300 s. The grace-sensitive events, derived by hand: with
`--grace 0` exactly three findings are added, S1-16 use-after-grant-retired (high, unexplained: AWSService
proton under K1's default key policy) [S1-15, S1-01], S2-11 use-after-key-disabled [S2-09] and S4-13
use-after-grant-retired (medium, unknown: no policy of K4 in the input) [S4-12]; one severity changes, S11-06
denied-access from low to medium (G11w was created 40 s before it, outside a window of 0 s); nothing
else changes. S1-17 sits exactly on the 300 s boundary (fires at 300 s, would not at 301 s).

Key policy versions use the same grace (RULES.md 6.2). With `--grace 0` two more verdicts change, and no
finding is added: S19-02 (exactly 300 s after the PutKeyPolicy S19-01) from low, key-policy [S18-01] to high,
unexplained [S19-01]; S28-03 (120 s after the unreadable PutKeyPolicy S28-02) from low, iam-delegated [S28-01]
to medium, unknown [S28-02]. S19-02/S19-03 sit on the boundary: the old version is in force at 300 s, not at 301 s.

## Choices where the rules left room

- `proton_template` / `proton_resource` of a per-event finding are the raw context values (S6-04 reports the
  service ARN found under the template key); a missing key gives null.
- `related_event_ids` of the aggregate rules hold one id per distinct (template, resource) pair (its latest
  earlier use); the aggregate's `proton_template` / `proton_resource` are the single distinct value or null.
- Uses within 300 s after an EnableKey / ImportKeyMaterial following a disabling change are avoided (the
  rules do not flag them: the change in (T - grace, T] made the key usable; no story tests it).
- Denials within 300 s after a change that made the key usable (`denied-by-key-state` medium, "usable within
  grace") are avoided: with `--grace 0` their severity would change.
- The custom key store calls (DisconnectCustomKeyStore, ConnectCustomKeyStore) are counted as key_state
  (RULES.md section 3 lists them among the state events); RotateKeyOnDemand as other (not in that table).
- The findings file does not carry messages; the messages the rules prescribe (the unchecked source ARN of
  G10s on S10-05 and S10-06, "material assumed current" on S3-09 and S15-17) are noted in the stories.
- A second successful removal of an already removed grant (S1-19) is a synthetic oddity testing "only the
  first removal counts".
- DescribeKey, ListGrants and GenerateRandom are avoided (their category is debatable).
- ReEncrypt failures are avoided (which side a failure belongs to is not specified).
- A Deny whose NotPrincipal is uncertain (it lists the caller's account root but not the caller) and that has no
  condition is avoided: RULES.md 6.4 calls a statement unevaluable only when "some condition is unknown". The
  NotPrincipal of S26-02 lists the IngestRole session, its role and its root, so it is certain for IngestRole;
  for AWSService proton (no account root) it lists none of its identities, so the Deny applies.
- The unknown policy before a first version that is a PutKeyPolicy (RULES.md 6.2, third bullet) is not
  exercised: every PutKeyPolicy here follows a CreateKey of the same key.
- ReplicateKey versions are not exercised (no ReplicateKey in the input).

## Notable files

{file_list}
"""
(HERE / "README.md").write_text(README)

print(f"record files: {counts['record_files']}, records: {counts['total_records']} "
      f"(distinct {counts['distinct_records']}, KMS {counts['kms_records']}), findings: {len(findings)}")
