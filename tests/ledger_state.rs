//! The Lambda's cross-file state keeps only what can change a finding (RULES.md section 7):
//! with EBS-style grant churn on the same keys as the Proton stories, files through the
//! ledgers still give one run's findings, and the ledgers hold none of the churn's grants.

mod common;

use common::*;
use keytrail::audit::ledger::{KeyLedger, LedgerDelta};
use keytrail::pipeline::PipelineOptions;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn time_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn event_time(r: &[u8]) -> Option<i64> {
    let v: Value = serde_json::from_slice(r).ok()?;
    keytrail::model::kms::parse_event_time(v["eventTime"].as_str()?)
}

/// EBS-style churn on the keys the trail's grants are on: per pair a CreateGrant by
/// ec2.amazonaws.com constrained on `aws:ebs:id`, an EBS Decrypt, and (most of the time) a
/// RetireGrant by ec2 later, some naming no key. Times sit a second or two after the
/// trail's own events, so the quiet gaps where files are cut stay quiet.
fn ebs_churn(trail: &[Vec<u8>], seed: u64, pairs: usize) -> Vec<Vec<u8>> {
    let mut keys: Vec<(String, String, String)> = Vec::new();
    let mut times: Vec<i64> = Vec::new();
    for r in trail {
        let v: Value = serde_json::from_slice(r).unwrap();
        if let Some(t) = event_time(r) {
            times.push(t);
        }
        if v["eventName"] == "CreateGrant" {
            let key = v["requestParameters"]["keyId"].as_str().unwrap_or("");
            if key.starts_with("arn:aws:kms:") {
                let region = v["awsRegion"].as_str().unwrap_or("").to_string();
                let acct = v["recipientAccountId"].as_str().unwrap_or("").to_string();
                let k = (key.to_string(), region, acct);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    assert!(keys.len() > 3, "the trail has grants on several keys");
    times.sort();
    let mut rng = SplitMix(seed);
    let mut out = Vec::new();
    let ec2 = json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"});
    for i in 0..pairs {
        let (key, region, acct) = &keys[(rng.next() as usize) % keys.len()];
        let at = (rng.next() as usize) % times.len();
        let created = times[at] + 1000;
        let vol = format!("vol-{:017x}", rng.next() >> 4);
        let grant = format!("{:064x}", (rng.next() as u128) << 64 | i as u128);
        let base = |name: &str, t: i64, id: String| {
            json!({
                "eventVersion": "1.11", "userIdentity": ec2, "eventTime": time_text(t),
                "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": region,
                "sourceIPAddress": "ec2.amazonaws.com", "userAgent": "ec2.amazonaws.com",
                "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
                "recipientAccountId": acct,
                "resources": [{"accountId": acct, "type": "AWS::KMS::Key", "ARN": key}],
            })
        };
        let mut c = base("CreateGrant", created, format!("ebs-c-{seed:x}-{i}"));
        c["requestParameters"] = json!({
            "keyId": key, "granteePrincipal": "ec2.amazonaws.com",
            "retiringPrincipal": "ec2.amazonaws.com",
            "operations": ["Decrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom",
                           "ReEncryptTo", "CreateGrant", "RetireGrant", "DescribeKey"],
            "constraints": {"encryptionContextSubset": {"aws:ebs:id": vol}},
        });
        c["responseElements"] = json!({"grantId": grant, "keyId": key});
        out.push(c);
        let mut u = base("Decrypt", created + 1000, format!("ebs-u-{seed:x}-{i}"));
        u["readOnly"] = json!(true);
        u["requestParameters"] = json!({"encryptionContext": {"aws:ebs:id": vol},
                                        "encryptionAlgorithm": "SYMMETRIC_DEFAULT"});
        out.push(u);
        if rng.next() % 10 != 0 {
            let later = at + (rng.next() as usize) % (times.len() - at);
            let mut r = base(
                "RetireGrant",
                times[later] + 2000,
                format!("ebs-r-{seed:x}-{i}"),
            );
            if rng.next() % 4 == 0 {
                // Named by its grant id alone: the removal has no key.
                r.as_object_mut().unwrap().remove("resources");
                r["requestParameters"] = json!({"grantId": grant});
            } else {
                r["requestParameters"] = json!({"keyId": key, "grantId": grant});
            }
            r["additionalEventData"] = json!({"grantId": grant});
            out.push(r);
        }
    }
    out.into_iter()
        .map(|v| serde_json::to_vec(&v).unwrap())
        .collect()
}

fn one_file(records: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    vec![("all.json".to_string(), records_file(records))]
}

fn merged_ledgers(deltas: &[LedgerDelta]) -> BTreeMap<String, KeyLedger> {
    let mut out: BTreeMap<String, KeyLedger> = BTreeMap::new();
    for d in deltas {
        for (k, l) in &d.keys {
            out.entry(k.clone()).or_default().merge(l);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Keys with both EBS-style churn and Proton grants: files one after another through
    /// the ledgers give one run's findings, the ledgers keep none of the churn's grants
    /// (its removals only as orphans, within their horizon), and the merged ledgers do not
    /// depend on the order writers merged in.
    #[test]
    fn churn_beside_proton_grants_through_the_ledger_equals_one_run(
        seed in any::<u64>(),
        files in 2usize..10,
        pairs in 20usize..200,
    ) {
        let trail = all_records(&testdata("trail"));
        let mut records = trail.clone();
        records.extend(ebs_churn(&trail, seed, pairs));
        let want = findings_json(&run_sources(&one_file(&records), PipelineOptions::default()));
        let sources = chronological_files_of(records, seed, files, 0);
        let (got, deltas) = run_with_ledgers(&sources);
        prop_assert_eq!(sorted_lines(&got), sorted_lines(&want));
        let items = run_with_items(&sources);
        prop_assert_eq!(sorted_lines(&items), sorted_lines(&want), "the state table gives the same");

        prop_assert!(
            deltas.iter().any(|d| d.keys.values().any(|l| l.orphans.keys().any(|i| i.starts_with("ebs-r-")))),
            "some churn removal arrives in a later file than its grant"
        );
        let ledgers = merged_ledgers(&deltas);
        for (k, l) in &ledgers {
            for id in l.events.keys() {
                prop_assert!(!id.starts_with("ebs-"), "{}: churn event {} kept", k, id);
            }
            prop_assert!(l.uses.values().all(|(_, id, _)| !id.starts_with("ebs-")));
            let w = l.watermark.unwrap_or(i64::MIN);
            for (id, (t, _, _)) in &l.orphans {
                prop_assert!(!id.starts_with("ebs-c-"));
                prop_assert!(*t >= w - keytrail::audit::ledger::ORPHAN_HORIZON_MS);
            }
        }
        let mut shuffled = deltas.clone();
        SplitMix(seed ^ 0x5EED).shuffle(&mut shuffled);
        let forward: Vec<&LedgerDelta> = deltas.iter().collect();
        let shuffled: Vec<&LedgerDelta> = shuffled.iter().collect();
        prop_assert_eq!(merged(&forward), merged(&shuffled));
    }
}

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/0e5c8f0a-ebs0-4d1b-9f1e-000000000001";
const TEMPLATE: &str = "arn:aws:proton:us-east-1:111122223333:service-template/t";
const RESOURCE: &str = "arn:aws:proton:us-east-1:111122223333:service/s";

fn record(name: &str, id: &str, time: &str, caller: Value, req: Value, resp: Value) -> Value {
    json!({
        "eventVersion": "1.11", "userIdentity": caller, "eventTime": time,
        "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "eventID": id, "recipientAccountId": "111122223333", "eventType": "AwsApiCall",
        "resources": [{"type": "AWS::KMS::Key", "ARN": KEY}],
        "requestParameters": req, "responseElements": resp,
    })
}

fn app_role() -> Value {
    json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/App/s",
           "accountId": "111122223333",
           "sessionContext": {"sessionIssuer": {"type": "Role",
               "arn": "arn:aws:iam::111122223333:role/App"}}})
}

fn decrypt(id: &str, time: &str, extra: Option<(&str, &str)>) -> Value {
    let mut ctx = json!({"aws:proton:template": TEMPLATE, "aws:proton:resource": RESOURCE});
    if let Some((k, v)) = extra {
        ctx[k] = json!(v);
    }
    record(
        "Decrypt",
        id,
        time,
        app_role(),
        json!({"encryptionContext": ctx}),
        Value::Null,
    )
}

/// A Proton use whose context also carries a key no profile names can be covered by a grant
/// constrained on that key alone, which the ledgers do not keep: its grant findings are
/// left to the recomputation (counted), while plain Proton uses are judged as in one run.
#[test]
fn grant_findings_of_uses_with_other_context_keys_are_deferred() {
    let grant = record(
        "CreateGrant",
        "a-grant",
        "2026-05-01T10:00:00Z",
        app_role(),
        json!({"keyId": KEY, "granteePrincipal": "arn:aws:iam::111122223333:role/App",
               "operations": ["Decrypt"],
               "constraints": {"encryptionContextSubset": {"aws:ebs:id": "vol-1"}}}),
        json!({"grantId": "g-ebs-1", "keyId": KEY}),
    );
    let a = vec![serde_json::to_vec(&grant).unwrap()];
    let b: Vec<Vec<u8>> = [
        decrypt(
            "b-covered",
            "2026-05-01T12:00:00Z",
            Some(("aws:ebs:id", "vol-1")),
        ),
        decrypt(
            "b-extended",
            "2026-05-01T12:00:01Z",
            Some(("aws:ebs:id", "vol-2")),
        ),
        decrypt("b-plain", "2026-05-01T12:00:02Z", None),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).unwrap())
    .collect();
    let mut all = a.clone();
    all.extend(b.clone());
    let one = run_sources(&one_file(&all), PipelineOptions::default());
    let ids = |fs: &[keytrail::audit::rules::Finding]| -> Vec<(String, String)> {
        fs.iter()
            .map(|f| (f.rule.as_str().to_string(), f.event_id.clone()))
            .collect()
    };
    assert_eq!(
        ids(&one.findings),
        [
            ("use-without-grant".to_string(), "b-extended".to_string()),
            ("use-without-grant".to_string(), "b-plain".to_string())
        ],
        "one run: the grant covers only vol-1"
    );

    let files: Vec<(String, Vec<u8>)> = [a, b]
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("{i}.json"), records_file(r)))
        .collect();
    let reports = ledger_path(&files, &[]);
    let deltas: Vec<LedgerDelta> = reports.iter().map(|r| r.ledger.clone()).collect();
    let ledgers = merged_ledgers(&deltas);
    assert!(
        ledgers.get(KEY).is_none_or(|l| l.events.is_empty()),
        "the grant on aws:ebs:id alone is not kept"
    );
    assert_eq!(reports[0].deferred_findings, 0);
    assert_eq!(
        ids(&reports[1].findings),
        [("use-without-grant".to_string(), "b-plain".to_string())]
    );
    assert_eq!(
        reports[1].deferred_findings, 2,
        "b-covered (the ledgers do not know its grant) and b-extended are left to the recomputation"
    );
}

/// A grant's removal delivered before its creation (CloudTrail's files arrive in any order):
/// the removal waits as an orphan, the file with the CreateGrant reads it by its grant and
/// promotes it, and a later use after the removal gets its finding, through the ledgers and
/// through the state table alike (testdata/RULES.md section 7; story 1's grant).
#[test]
fn a_removal_delivered_before_its_grant_still_gives_the_finding() {
    let trail = all_records(&testdata("trail"));
    let pick = |id: &str| {
        trail
            .iter()
            .find(|r| String::from_utf8_lossy(r).contains(id))
            .unwrap_or_else(|| panic!("{id} is in testdata/trail"))
            .clone()
    };
    // S1-01 (the key and its policy), S1-03 (CreateGrant G1a), S1-15 (RetireGrant G1a) and
    // S1-17 (a Decrypt 300 s after it), as testdata/README.md lists them.
    let (key, create, retire, use_) = (
        pick("01000001-9542-5a78-82a5-6f82c79709ee"),
        pick("01000003-"),
        pick("01000015-8e7a-5d8d-904e-92e9c579c919"),
        pick("01000017-b092-51cc-9d8d-a4228c4cb832"),
    );
    let want = findings_json(&run_sources(
        &one_file(&[key.clone(), create.clone(), retire.clone(), use_.clone()]),
        PipelineOptions::default(),
    ));
    assert!(
        want.iter().any(|f| f["rule"] == "use-after-grant-retired"
            && f["event_id"] == "01000017-b092-51cc-9d8d-a4228c4cb832"),
        "{want:#?}"
    );
    let files: Vec<(String, Vec<u8>)> = [vec![key, retire], vec![create], vec![use_]]
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("{i}.json"), one_file(r).remove(0).1))
        .collect();
    let (ledgers, _) = run_with_ledgers(&files);
    assert_eq!(sorted_lines(&ledgers), sorted_lines(&want), "the ledgers");
    assert_eq!(
        sorted_lines(&run_with_items(&files)),
        sorted_lines(&want),
        "the state table"
    );
}
