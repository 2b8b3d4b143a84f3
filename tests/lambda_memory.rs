//! The Lambda handler in-process, over the in-memory object store
//! ([`keytrail::edge::s3::MemoryObjects`]): the same `App::handle` the function runs, with
//! S3's semantics and no server. What is proven: files delivered one by one through the
//! handler, crossing files through the S3 ledgers, give the findings of one run over the
//! trail (95, testdata/expected/counts.json); each trigger kind answers with its documented
//! body; a permanent failure is quarantined and reported, a retryable one only reported;
//! a redelivery rewrites the same objects with the same bytes.

use keytrail::edge::s3::{MemoryObjects, S3Url};
use keytrail::lambda::state::StateStore;
use keytrail::lambda::{App, LambdaConfig};
use keytrail::model::profile::Profiles;
use serde_json::{json, Value};
use std::collections::BTreeMap;

mod common;

const LOGS: &str = "logs";
const OUT: &str = "s3://out/tables";

fn app(objects: &MemoryObjects) -> App<MemoryObjects> {
    let config =
        LambdaConfig::from_vars(|k| (k == "KEYTRAIL_OUTPUT").then(|| OUT.to_string())).unwrap();
    App {
        config,
        profiles: Profiles::default(),
        baselines: Vec::new(),
        state: StateStore::Ledgers {
            objects: objects.clone(),
            output: S3Url::parse(OUT).unwrap(),
        },
        objects: objects.clone(),
    }
}

fn log_key(i: usize) -> String {
    format!(
        "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/07/14/111122223333_CloudTrail_eu-west-1_20260714T0943Z_part{i:03}.json"
    )
}

fn s3_notification(key: &str) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": LOGS}, "object": {"key": key}}
    }]})
}

fn sqs(messages: &[(&str, &str)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, key)| {
            json!({"messageId": id, "eventSource": "aws:sqs",
                   "body": s3_notification(key).to_string()})
        })
        .collect();
    json!({ "Records": records })
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Every ledger, without the time of its last write (`clock`).
fn ledgers(objects: &MemoryObjects) -> BTreeMap<String, Value> {
    objects
        .keys("out", "tables/_ledger/")
        .into_iter()
        .map(|k| {
            let mut v: Value = serde_json::from_slice(&objects.get("out", &k).unwrap()).unwrap();
            assert!(v["clock"].is_i64(), "{k}: {}", v["clock"]);
            v.as_object_mut().unwrap().remove("clock");
            (k, v)
        })
        .collect()
}

/// Every table object's key and the SHA-256 of its body.
fn snapshot(objects: &MemoryObjects) -> BTreeMap<String, String> {
    use sha2::Digest;
    objects
        .keys("out", "")
        .into_iter()
        .filter(|k| !k.contains("/_ledger/"))
        .map(|k| {
            let body = objects.get("out", &k).unwrap();
            let digest: String = sha2::Sha256::digest(&body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (k, digest)
        })
        .collect()
}

#[test]
fn files_through_the_handler_give_the_findings_of_one_run() {
    let objects = MemoryObjects::new();
    let sources = common::chronological_files(11, 8, 0);
    assert_eq!(sources.len(), 8);
    for (i, (_, body)) in sources.iter().enumerate() {
        objects.insert(LOGS, &log_key(i), body.clone());
    }
    let a = app(&objects);
    let (mut findings, mut kms_events) = (0, 0);
    for i in 0..sources.len() {
        let resp = block(a.handle(&s3_notification(&log_key(i)), None)).unwrap();
        assert_eq!(resp["status"], "ok", "{resp}");
        assert_eq!(resp["sources"], 1, "{resp}");
        findings += resp["findings"].as_u64().unwrap();
        kms_events += resp["kms_events"].as_u64().unwrap();
    }
    // testdata/expected/counts.json: 95 findings; 229 distinct KMS records of which 2 are
    // another account's copy of a call, counted once (both copies fall in one file here).
    assert_eq!(findings, 95);
    assert_eq!(kms_events, 229 - 2);
    let out = objects.keys("out", "");
    assert!(out.iter().any(|k| k.starts_with("tables/kms_events/")));
    assert!(out.iter().any(|k| k.starts_with("tables/findings/")));
    assert!(out.iter().any(|k| k.starts_with("tables/_ledger/")));
    for k in out.iter().filter(|k| k.ends_with(".parquet")) {
        let body = objects.get("out", k).unwrap();
        assert!(body.starts_with(b"PAR1") && body.ends_with(b"PAR1"), "{k}");
    }
    assert!(
        out.iter().all(|k| !k.contains("_quarantine")),
        "nothing quarantined: {out:?}"
    );
}

#[test]
fn a_redelivery_rewrites_the_same_objects_with_the_same_bytes() {
    let objects = MemoryObjects::new();
    let (_, body) = common::chronological_files(3, 1, 0).remove(0);
    objects.insert(LOGS, &log_key(0), body);
    let a = app(&objects);
    let first = block(a.handle(&s3_notification(&log_key(0)), None)).unwrap();
    let (before, facts) = (snapshot(&objects), ledgers(&objects));
    let again = block(a.handle(&s3_notification(&log_key(0)), None)).unwrap();
    assert_eq!(first, again);
    assert_eq!(snapshot(&objects), before, "same table objects, same bytes");
    assert!(before.len() > 3, "{:?}", before.keys());
    // The ledgers hold the same facts; only the time of the last write moved on.
    assert_eq!(ledgers(&objects), facts);
    assert!(!facts.is_empty());
}

#[test]
fn an_sqs_batch_reports_only_its_failed_messages() {
    let objects = MemoryObjects::new();
    let (_, body) = common::chronological_files(5, 1, 0).remove(0);
    objects.insert(LOGS, &log_key(0), body.clone());
    objects.insert(LOGS, &log_key(2), body);
    objects.fail(&log_key(2), true);
    let a = app(&objects);
    let resp = block(a.handle(
        &sqs(&[
            ("m-ok", &log_key(0)),
            ("m-gone", &log_key(1)),
            ("m-busy", &log_key(2)),
        ]),
        None,
    ))
    .unwrap();
    assert_eq!(
        resp,
        json!({"batchItemFailures": [{"itemIdentifier": "m-gone"}, {"itemIdentifier": "m-busy"}]})
    );
    // The missing object is permanent and reported: no quarantine note (nothing was read,
    // the dead-letter queue keeps the message); the throttled one is retried by SQS.
    let out = objects.keys("out", "");
    assert!(
        out.iter().any(|k| k.starts_with("tables/kms_events/")),
        "{out:?}"
    );
    assert!(out.iter().all(|k| !k.contains("part002")), "{out:?}");
    assert!(out.iter().all(|k| !k.contains("_quarantine")), "{out:?}");
}

#[test]
fn a_corrupt_object_is_quarantined_with_its_reason_and_reported() {
    let objects = MemoryObjects::new();
    objects.insert(LOGS, &log_key(0), b"{\"Records\": [ not json".to_vec());
    let a = app(&objects);
    let resp = block(a.handle(&sqs(&[("m-bad", &log_key(0))]), None)).unwrap();
    assert_eq!(
        resp,
        json!({"batchItemFailures": [{"itemIdentifier": "m-bad"}]})
    );
    let notes = objects.keys("out", "tables/_quarantine/");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let note: Value = serde_json::from_slice(&objects.get("out", &notes[0]).unwrap()).unwrap();
    assert_eq!(note["source"], format!("s3://{LOGS}/{}", log_key(0)));
    assert!(!note["reason"].as_str().unwrap().is_empty(), "{note}");
}

#[test]
fn a_batch_operations_job_answers_per_task() {
    let objects = MemoryObjects::new();
    let (_, body) = common::chronological_files(5, 1, 0).remove(0);
    objects.insert(LOGS, &log_key(0), body);
    objects.insert(LOGS, &log_key(1), Vec::new());
    objects.fail(&log_key(1), true);
    let a = app(&objects);
    let task = |id: &str, key: &str| json!({"taskId": id, "s3Key": key, "s3BucketArn": format!("arn:aws:s3:::{LOGS}")});
    let job = json!({
        "invocationSchemaVersion": "1.0",
        "invocationId": "inv-1",
        "job": {"id": "job-1"},
        "tasks": [task("t-ok", &log_key(0)), task("t-busy", &log_key(1))],
    });
    let resp = block(a.handle(&job, None)).unwrap();
    assert_eq!(resp["invocationId"], "inv-1", "{resp}");
    let results = resp["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{resp}");
    assert_eq!(results[0]["taskId"], "t-ok");
    assert_eq!(results[0]["resultCode"], "Succeeded");
    assert_eq!(results[1]["taskId"], "t-busy");
    assert_eq!(results[1]["resultCode"], "TemporaryFailure");
    assert!(
        results[1]["resultString"]
            .as_str()
            .unwrap()
            .contains("injected failure"),
        "{resp}"
    );
}
