"""Security posture of template.yaml, beyond what checkov checks generically: the function's
role reads only the trail prefix and writes only its own prefix, keys are used only through
S3 (and, for the state table, DynamoDB), outputs are encrypted at rest (SSE-KMS) and in
transit (TLS-only, TLS 1.2 minimum), no public access, no secrets in the environment; the
state table is on-demand, recoverable (PITR, retained on delete and replace), encrypted
under the stack's key and expires items on `expires`, and only the function may touch it,
item by item (Query, GetItem, PutItem, UpdateItem on its ARN); the S3 Batch Operations role
is assumable by that service only and can do nothing but invoke the function, read
manifests and write reports; the daily schedule starts queries/scheduled/materialize_findings.sql
(compared with the file) in the stack's workgroup and database, retries, dead-letters into
its own alarmed queue, and its role, assumable by EventBridge Scheduler of this account only,
has exactly the actions and resources the statement needs (the Glue tables and views derived
from queries/views/). Then the deployment configuration beside the template:
samconfig.toml opts sam build and sam sync in to beta features (BuildMethod
rust-cargolambda asks for confirmation otherwise in older SAM CLIs), deploys with exactly
the capabilities the template needs and holds no account values, and every sam build/sync
in the README's deploy section either relies on it or passes --beta-features. Run with the
.venv-iac Python (PyYAML; tomllib, so Python 3.11 or later).

Usage: python tests/python/check_template.py template.yaml
"""
import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

CHECKS = []


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    CHECKS.append(what)
    print(f"ok: {what}")


class Loader(yaml.SafeLoader):
    pass


def tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(v, str):
        v = v.split(".", 1)
    return {name: v}


Loader.add_multi_constructor("!", tagged)


def statements(doc):
    out = []
    for s in doc["Statement"]:
        if isinstance(s, dict) and "Fn::If" in s:
            s = s["Fn::If"][1]
        out.append(s)
    return out


def as_list(v):
    return v if isinstance(v, list) else [v]


BATCH_PRINCIPAL = "batchoperations.s3.amazonaws.com"
S3_VIA = {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
DDB_VIA = {"Fn::Sub": "dynamodb.${AWS::Region}.amazonaws.com"}
STATE_ACTIONS = {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}


def all_statements(node):
    """Every policy statement anywhere in the template (key, bucket, queue, role and function
    policies), both branches of an Fn::If included."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for v in node.values():
            yield from all_statements(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_statements(v)


def grants_dynamodb(s):
    actions = [a.lower() for a in as_list(s.get("Action", []))]
    return s["Effect"] == "Allow" and ("NotAction" in s or any(
        a == "*" or a.startswith("dynamodb:") for a in actions))


def check_state_table(t, res, fn, stmts):
    tables = {n: r for n, r in res.items() if r["Type"] == "AWS::DynamoDB::Table"}
    check(list(tables) == ["StateTable"], f"one DynamoDB table, StateTable ({sorted(tables)})")
    table = tables["StateTable"]
    props = table["Properties"]
    check(props.get("BillingMode") == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in props,
          "the state table is on-demand (PAY_PER_REQUEST, no provisioned throughput)")
    check(props.get("KeySchema") == [{"AttributeName": "pk", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}]
          and sorted(props.get("AttributeDefinitions", []), key=lambda a: a["AttributeName"]) == [
              {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
          "its key is pk (HASH) and sk (RANGE), both strings, with no other attributes defined")
    check(not props.get("GlobalSecondaryIndexes") and not props.get("LocalSecondaryIndexes"),
          "it has no secondary indexes")
    check(props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True,
          "it has point-in-time recovery")
    sse = props.get("SSESpecification", {})
    check(sse.get("SSEEnabled") is True and sse.get("SSEType") == "KMS"
          and sse.get("KMSMasterKeyId") in ({"Fn::GetAtt": ["OutputKey", "Arn"]}, {"Ref": "OutputKey"}),
          "it is encrypted with SSE-KMS under the stack's own key (OutputKey)")
    check(props.get("TimeToLiveSpecification") == {"AttributeName": "expires", "Enabled": True},
          "items expire by TTL on `expires`")
    check(table.get("DeletionPolicy") == "Retain" and table.get("UpdateReplacePolicy") == "Retain",
          "it is retained when the stack is deleted or a change replaces it")
    env = fn["Properties"].get("Environment", {}).get("Variables", {})
    check(env.get("KEYTRAIL_STATE_TABLE") == {"Ref": "StateTable"},
          "the function's environment sets KEYTRAIL_STATE_TABLE to the table")
    check(t.get("Outputs", {}).get("StateTableName", {}).get("Value") == {"Ref": "StateTable"},
          "its name is the StateTableName output")

    ddb = [s for s in stmts if grants_dynamodb(s)]
    actions = {a for s in ddb for a in as_list(s["Action"])}
    check(ddb and actions == STATE_ACTIONS,
          f"the function's DynamoDB actions are exactly {sorted(STATE_ACTIONS)} ({sorted(actions)})")
    check(all(s["Effect"] == "Allow" and not {"NotAction", "NotResource"} & set(s)
              and as_list(s["Resource"]) == [{"Fn::GetAtt": ["StateTable", "Arn"]}] for s in ddb),
          "on the table's ARN only (no indexes, streams, other tables or wildcards)")
    others = [s.get("Sid", "?") for s in all_statements(t) if grants_dynamodb(s)
              and not any(s is d for d in ddb)]
    check(not others, f"no other statement in the template grants DynamoDB actions ({others})")

    kms_ddb = [s for s in all_statements(t) if "dynamodb" in json.dumps(s).lower()
               and any(a.lower().startswith("kms:") for a in as_list(s.get("Action", [])))]
    check(kms_ddb and all(s.get("Condition") == {"StringEquals": {"kms:ViaService": DDB_VIA}} for s in kms_ddb),
          "every use of a key for DynamoDB is limited by kms:ViaService to dynamodb.<region>"
          f" ({len(kms_ddb)} statements)")
    fn_kms_ddb = [s for s in stmts if s.get("Condition") == {"StringEquals": {"kms:ViaService": DDB_VIA}}]
    check(len(fn_kms_ddb) == 1 and fn_kms_ddb[0]["Resource"] == {"Fn::GetAtt": ["OutputKey", "Arn"]}
          and set(as_list(fn_kms_ddb[0]["Action"])) == {"kms:Decrypt"},
          "the function may only decrypt (the table key) with the output key, through DynamoDB")


def check_batch_operations_role(res, outputs):
    roles = {n: r["Properties"] for n, r in res.items() if r["Type"] == "AWS::IAM::Role"
             and BATCH_PRINCIPAL in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])}
    check(len(roles) == 1, f"one role for S3 Batch Operations backfills ({sorted(roles)})")
    name, role = next(iter(roles.items()))
    check(role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": BATCH_PRINCIPAL}, "Action": "sts:AssumeRole"}],
        f"only S3 Batch Operations ({BATCH_PRINCIPAL}) can assume it, with sts:AssumeRole alone")
    check(not role.get("ManagedPolicyArns") and not any(
        k in role for k in ("RoleName", "PermissionsBoundary")) and len(role["Policies"]) == 1,
        "it has one inline policy, no managed policies and no custom name (CAPABILITY_IAM suffices)")
    stmts = statements(role["Policies"][0]["PolicyDocument"])
    check(all(s["Effect"] == "Allow" and not {"NotAction", "NotResource", "NotPrincipal"} & set(s)
              for s in stmts), "its statements only allow, with no NotAction/NotResource")
    actions = [a for s in stmts for a in as_list(s["Action"])]
    check(not any("*" in a for a in actions), f"it names its actions, no wildcards ({len(actions)} actions)")
    pairs = {(a, json.dumps(r, sort_keys=True)) for s in stmts
             for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    fn = {"Fn::GetAtt": ["KeytrailFunction", "Arn"]}
    manifests = {"Fn::Sub": "${OutputBucket.Arn}/batch-operations/manifests/*"}
    reports = {"Fn::Sub": "${OutputBucket.Arn}/batch-operations/reports/*"}
    key = {"Fn::GetAtt": ["OutputKey", "Arn"]}
    want = [("lambda:InvokeFunction", fn), ("s3:GetObject", manifests),
            ("s3:GetObjectVersion", manifests), ("s3:PutObject", reports),
            ("kms:Decrypt", key), ("kms:GenerateDataKey", key)]
    check(pairs == {(a, json.dumps(r, sort_keys=True)) for a, r in want},
          "it invokes this function only (unqualified ARN), reads only batch-operations/manifests/*"
          " and writes only batch-operations/reports/* in the output bucket")
    resources = [json.dumps(r) for s in stmts for r in as_list(s["Resource"])]
    check(all(r.count("*") == 0 or r.endswith('/*"}') and r.count("*") == 1 for r in resources),
          "no wildcard in its resources but the trailing object wildcard of those two prefixes")
    kms = [s for s in stmts if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    check(kms and all(s["Condition"] == {"StringEquals": {"kms:ViaService": S3_VIA}} for s in kms),
          "it uses the output key only through S3 (kms:ViaService)")
    check(outputs.get("BatchOperationsRoleArn", {}).get("Value") == {"Fn::GetAtt": [name, "Arn"]},
          "its ARN is the BatchOperationsRoleArn output")
    check(outputs.get("FunctionArn", {}).get("Value") == fn, "and the function's is FunctionArn")


SCHEDULER = "scheduler.amazonaws.com"
SQS_VIA = {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}


def glue_arn(what):
    return {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:" + what}


def view_closure(top, start):
    """The tables and views `start` reads in queries/views/, directly or through other views
    (their `keytrail.<name>` references), with `start` itself."""
    views = top / "queries" / "views"
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        f = views / f"{name}.sql"
        if f.exists():
            todo += set(re.findall(r"keytrail\.(\w+)", f.read_text())) - {name}
    return seen


def check_materialize(t, res, top):
    """The daily materialisation: the schedule starts queries/scheduled/materialize_findings.sql
    in the stack's workgroup and database, retries and dead-letters failed starts, and its
    role can do only what Athena needs for that statement."""
    schedules = {n: r["Properties"] for n, r in res.items() if r["Type"] == "AWS::Scheduler::Schedule"}
    check(list(schedules) == ["MaterializeSchedule"], f"one schedule, MaterializeSchedule ({sorted(schedules)})")
    sch = schedules["MaterializeSchedule"]
    check(re.fullmatch(r"cron\((\d|[1-5]\d) (\d|1\d|2[0-3]) \* \* \? \*\)", sch["ScheduleExpression"])
          and sch.get("ScheduleExpressionTimezone") == "UTC" and sch.get("State") == "ENABLED",
          f"it runs daily at a fixed UTC time, enabled ({sch['ScheduleExpression']})")
    check(sch["FlexibleTimeWindow"] == {"Mode": "OFF"}, "with no flexible time window")
    target = sch["Target"]
    check(target["Arn"] == {"Fn::Sub": "arn:${AWS::Partition}:scheduler:::aws-sdk:athena:startQueryExecution"},
          "its target is the universal target for Athena StartQueryExecution")
    check(target["RoleArn"] == {"Fn::GetAtt": ["MaterializeRole", "Arn"]}, "with MaterializeRole")
    retry = target.get("RetryPolicy", {})
    check(1 <= retry.get("MaximumRetryAttempts", 0) <= 185 and 60 <= retry.get("MaximumEventAgeInSeconds", 0) <= 86400,
          f"it retries a failed start ({retry})")
    dlq = target.get("DeadLetterConfig", {}).get("Arn")
    check(isinstance(dlq, dict) and dlq.get("Fn::GetAtt", [None])[1:] == ["Arn"]
          and res.get(dlq["Fn::GetAtt"][0], {}).get("Type") == "AWS::SQS::Queue",
          f"and sends what still fails to a dead-letter queue ({dlq})")
    queue = dlq["Fn::GetAtt"][0]
    redrive = [n for n, r in res.items() if queue in json.dumps(r.get("Properties", {}).get("RedrivePolicy", {}))
               or r["Type"] == "AWS::Serverless::Function" and queue in json.dumps(r["Properties"].get("DeadLetterQueue", {}))]
    check(not redrive and res[queue]["Properties"].get("KmsMasterKeyId") == {"Ref": "OutputKey"},
          f"its own queue ({queue}), no other resource's dead letters, encrypted under the output key")
    alarms = [r["Properties"] for r in res.values() if r["Type"] == "AWS::CloudWatch::Alarm"
              and r["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]]
    check(len(alarms) == 1 and alarms[0]["AlarmActions"] == [{"Ref": "AlarmTopic"}],
          "a message in that queue raises an alarm to the alarm topic")

    sub = target["Input"]["Fn::Sub"]
    check(isinstance(sub, str) and sorted(set(re.findall(r"\$\{([^}]*)\}", sub))) == ["AthenaWorkGroup", "GlueDatabase"],
          "its input substitutes the workgroup and the database, nothing else")
    body = json.loads(sub)
    check(sorted(body) == ["ClientRequestToken", "QueryExecutionContext", "QueryString", "WorkGroup"],
          f"its input is StartQueryExecution's request ({sorted(body)})")
    check(body["WorkGroup"] == "${AthenaWorkGroup}" and body["QueryExecutionContext"] == {"Database": "${GlueDatabase}"}
          and res["AthenaWorkGroup"]["Type"] == "AWS::Athena::WorkGroup" and res["GlueDatabase"]["Type"] == "AWS::Glue::Database",
          "in the stack's Athena workgroup and Glue database")
    sql = (top / "queries" / "scheduled" / "materialize_findings.sql").read_text()
    statement = "\n".join(ln for ln in sql.splitlines() if not ln.startswith("--")).strip()
    check(body["QueryString"] == statement and statement.startswith("INSERT INTO keytrail.findings_daily"),
          "its QueryString is queries/scheduled/materialize_findings.sql (header comment left out)")
    database = res["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"]
    check(database == "keytrail" and set(re.findall(r"\b(\w+)\.\w+", statement)) <= {"keytrail", "d"},
          "the statement's tables are in that database")
    token = body["ClientRequestToken"]
    sample = token.replace("<aws.scheduler.scheduled-time>", "2026-01-01T05:00:00Z")
    check("<aws.scheduler.scheduled-time>" in token and "<aws." not in sample and 32 <= len(sample) <= 128,
          f"its ClientRequestToken is the scheduled time, the same on every retry of one day ({token})")

    role = res["MaterializeRole"]
    check(role["Type"] == "AWS::IAM::Role", "MaterializeRole is an IAM role")
    props = role["Properties"]
    check(props["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": SCHEDULER}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}],
        f"only EventBridge Scheduler ({SCHEDULER}) of this account (aws:SourceAccount) can assume it")
    check(not props.get("ManagedPolicyArns") and not any(k in props for k in ("RoleName", "PermissionsBoundary"))
          and len(props["Policies"]) == 1, "it has one inline policy, no managed policies and no custom name")
    stmts = statements(props["Policies"][0]["PolicyDocument"])
    check(all(s["Effect"] == "Allow" and not {"NotAction", "NotResource", "NotPrincipal"} & set(s) for s in stmts),
          "its statements only allow, with no NotAction/NotResource")

    # What it may do, action by resource: derived from the statement and queries/views/.
    sources = view_closure(top, "findings_recomputed")
    glue_tables = {r["Properties"]["TableInput"]["Name"] for r in res.values() if r["Type"] == "AWS::Glue::Table"}
    tables = sorted(sources & glue_tables)
    check(tables and sources - glue_tables == sources - set(tables) and "findings_daily" in glue_tables,
          f"findings_recomputed reads the tables {tables} and the views {sorted(sources - glue_tables)}")
    catalog, db = glue_arn("catalog"), glue_arn("database/${GlueDatabase}")
    daily = glue_arn("table/${GlueDatabase}/findings_daily")
    objects = lambda name: {"Fn::Sub": "${OutputBucket.Arn}/${OutputPrefix}/" + name + "/*"}
    results = {"Fn::Sub": "${OutputBucket.Arn}/athena-results/*"}
    bucket = {"Fn::GetAtt": ["OutputBucket", "Arn"]}
    key = {"Fn::GetAtt": ["OutputKey", "Arn"]}
    want = [("athena:StartQueryExecution", {"Fn::Sub": "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/${AthenaWorkGroup}"})]
    want += [("glue:GetDatabase", r) for r in (catalog, db, glue_arn("database/default"))]
    want += [("glue:GetTable", r) for r in [catalog, db, daily] + [glue_arn("table/${GlueDatabase}/" + n) for n in sorted(sources)]]
    want += [(a, r) for a in ("glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition") for r in (catalog, db, daily)]
    want += [("s3:GetObject", r) for r in [objects(n) for n in tables + ["findings_daily"]] + [results]]
    want += [("s3:ListBucket", bucket), ("s3:GetBucketLocation", bucket)]
    want += [(a, r) for a in ("s3:PutObject", "s3:AbortMultipartUpload") for r in (objects("findings_daily"), results)]
    want += [(a, key) for a in ("kms:Decrypt", "kms:GenerateDataKey")]
    want += [("sqs:SendMessage", {"Fn::GetAtt": [queue, "Arn"]})]
    got = {(a, json.dumps(r, sort_keys=True)) for s in stmts for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    want = {(a, json.dumps(r, sort_keys=True)) for a, r in want}
    check(got == want, "its actions and resources are exactly: StartQueryExecution on the workgroup; GetDatabase on the"
          " catalog, keytrail and default; GetTable on findings_recomputed's tables and views and findings_daily;"
          " findings_daily's partitions read and added; those tables' objects read; findings_daily's objects and"
          " athena-results/ written; the output key; the dead-letter queue"
          f" (missing {sorted(want - got)}, extra {sorted(got - want)})")
    resources = [json.dumps(r) for s in stmts for r in as_list(s["Resource"])]
    check(all("*" not in r or r.endswith('/*"}') and r.count("*") == 1 for r in resources),
          "no wildcard in its resources but the trailing object wildcard of S3 prefixes (none AWS requires as \"*\")")
    lists = [s for s in stmts if "s3:ListBucket" in as_list(s["Action"])]
    prefixes = [{"Fn::Sub": "${OutputPrefix}/" + n + "/*"} for n in tables + ["findings_daily"]] + ["athena-results/*"]
    got_prefixes = lists[0].get("Condition", {}).get("StringLike", {}).get("s3:prefix", []) if len(lists) == 1 else []
    check(len(lists) == 1 and list(lists[0]["Condition"]) == ["StringLike"] and len(got_prefixes) == len(prefixes)
          and sorted(map(json.dumps, got_prefixes)) == sorted(map(json.dumps, prefixes)),
          "it lists only those tables' prefixes and athena-results/")
    conds = {json.dumps(s.get("Condition"), sort_keys=True) for s in stmts if any(a.startswith("kms:") for a in as_list(s["Action"]))}
    check(conds == {json.dumps({"StringEquals": {"kms:ViaService": v}}, sort_keys=True) for v in (S3_VIA, SQS_VIA)},
          "it uses the output key only through S3 and SQS (kms:ViaService)")
    wg = res["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]
    check(wg["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${OutputBucket}/athena-results/"}
          and wg["EnforceWorkGroupConfiguration"] is True,
          "the workgroup writes results to athena-results/ and enforces it, the prefix the role writes")


def needed_capabilities(res):
    named = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")
    iam = [r for r in res.values() if r["Type"].startswith("AWS::IAM::")
           or (r["Type"] == "AWS::Serverless::Function" and "Role" not in r["Properties"])]
    caps = {"CAPABILITY_IAM"} if iam else set()
    if any(k in r.get("Properties", {}) for r in iam for k in named):
        caps.add("CAPABILITY_NAMED_IAM")
    return caps


def check_samconfig(top, res):
    path = top / "samconfig.toml"
    text = path.read_text()
    cfg = tomllib.loads(text).get("default", {})
    beta = {cmd: cfg.get(cmd, {}).get("parameters", {}).get("beta_features") is True
            for cmd in ("build", "sync")}
    check(beta["build"], "samconfig.toml sets beta_features = true for sam build (BuildMethod rust-cargolambda)")
    check(beta["sync"], "and for sam sync")
    deploy = cfg.get("deploy", {}).get("parameters", {})
    caps = deploy.get("capabilities", "")
    caps = set(caps.split() if isinstance(caps, str) else caps)
    need = needed_capabilities(res)
    check(caps == need, f"sam deploy gets exactly the capabilities the template needs ({sorted(need)})")
    check(deploy.get("stack_name") == "keytrail" and deploy.get("resolve_s3") is True
          and deploy.get("confirm_changeset") is True,
          "deploy defaults: stack keytrail, SAM-managed artifact bucket, change set confirmed")
    stated = {k for c in cfg.values() for k in c.get("parameters", {})}
    check(not re.search(r"\b\d{12}\b|arn:aws|@", text)
          and not stated & {"region", "profile", "s3_bucket", "parameter_overrides", "role_arn"},
          "samconfig.toml holds no account ids, ARNs, addresses, regions, buckets or parameters")
    return beta


def check_readme_deploy(top, beta):
    readme = (top / "README.md").read_text()
    start = readme.index("\n## Running as a Lambda (SAM)")
    end = readme.find("\n## ", start + 1)
    section = readme[start:end if end > 0 else None]
    blocks = re.findall(r"^```(?:sh|bash|console)\n(.*?)^```", section, re.S | re.M)
    lines = [ln for b in blocks for ln in b.replace("\\\n", " ").splitlines()]
    runs = [(m.group(1), ln) for ln in lines for m in re.finditer(r"\bsam (build|sync)\b", ln.split("#")[0])]
    check(any(cmd == "build" for cmd, _ in runs), f"the README's deploy section runs sam build ({len(runs)} runs)")
    for cmd, ln in runs:
        by_flag = "--beta-features" in ln
        by_config = beta[cmd] and not re.search(r"--no-beta-features|--config-(file|env)", ln)
        how = "--beta-features" if by_flag else "samconfig.toml" if by_config else "neither"
        check(by_flag or by_config, f"`sam {cmd}` in it is opted in to beta features"
              f" (--beta-features or samconfig.toml: {how}): {ln.strip()}")


def main():
    t = yaml.load(open(sys.argv[1]), Loader=Loader)
    res = t["Resources"]
    fn = next(r for r in res.values() if r["Type"] == "AWS::Serverless::Function")
    stmts = [s for p in fn["Properties"]["Policies"] for s in statements(p)]
    actions = {a for s in stmts for a in as_list(s["Action"])}
    check(all(s["Effect"] == "Allow" for s in stmts) and not any("*" in a for a in actions),
          f"the function's role names its actions, no wildcards ({len(actions)} actions)")
    check(actions <= {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:ListBucket",
                      "kms:GenerateDataKey", "kms:Decrypt"} | STATE_ACTIONS,
          "and only reads, writes and lists: no delete, no ACL or policy changes, no IAM")
    by_sid = {s["Sid"]: s for s in stmts}
    read = by_sid["ReadTrailLogs"]
    check(set(as_list(read["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}
          and read["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${TrailBucketName}/${TrailPrefix}*"},
          "the trail bucket is read-only to it, under the trail prefix only")
    s3_write = [s for s in stmts if "s3:PutObject" in as_list(s["Action"])]
    check(len(s3_write) == 1 and s3_write[0]["Resource"] == {"Fn::Sub": "${OutputBucket.Arn}/${OutputPrefix}/*"},
          "it writes only under its own output prefix (tables, ledgers, quarantine notes)")
    lst = by_sid["ListOwnPrefix"]
    check(lst["Condition"]["StringLike"]["s3:prefix"] == [{"Fn::Sub": "${OutputPrefix}/*"}],
          "it lists only its own prefix")
    kms = [s for s in stmts if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    vias = [s.get("Condition") for s in kms]
    check(len(kms) == 3 and vias.count({"StringEquals": {"kms:ViaService": S3_VIA}}) == 2
          and vias.count({"StringEquals": {"kms:ViaService": DDB_VIA}}) == 1,
          "it uses the KMS keys only through S3, and the output key also through DynamoDB (kms:ViaService)")
    env = fn["Properties"].get("Environment", {}).get("Variables", {})
    check(not any(w in k.upper() for k in env for w in ("SECRET", "PASSWORD", "TOKEN", "ACCESS_KEY")),
          f"no secrets in the function's environment ({sorted(env)})")

    bucket = res["OutputBucket"]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    check(sse["SSEAlgorithm"] == "aws:kms" and sse["KMSMasterKeyID"] == {"Fn::GetAtt": ["OutputKey", "Arn"]},
          "outputs are encrypted at rest with SSE-KMS under the stack's own key")
    check(res["OutputKey"]["Properties"]["EnableKeyRotation"] is True, "the key rotates")
    check(all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4,
          "all four public-access blocks are on")
    pol = statements(res["OutputBucketPolicy"]["Properties"]["PolicyDocument"])
    deny = [s for s in pol if s["Effect"] == "Deny" and s["Principal"] == "*" and s["Action"] == "s3:*"]
    check(any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny),
          "the output bucket refuses plain HTTP")
    check(any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}} for s in deny),
          "and TLS before 1.2")
    check(all(len(s["Resource"]) == 2 for s in deny), "for the bucket and every object")
    queues = [r for r in res.values() if r["Type"] == "AWS::SQS::Queue"]
    check(queues and all("KmsMasterKeyId" in q["Properties"] for q in queues),
          f"the {len(queues)} queues are encrypted with KMS")

    check_state_table(t, res, fn, stmts)
    check_batch_operations_role(res, t.get("Outputs", {}))
    top = Path(sys.argv[1]).resolve().parent
    check_materialize(t, res, top)
    check_readme_deploy(top, check_samconfig(top, res))
    print(f"check_template: {len(CHECKS)} checks passed")


main()
