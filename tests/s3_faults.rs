//! S3 faults, against a real S3 API (moto on loopback; tests/python/lambda_e2e.py starts it
//! and sets KEYTRAIL_TEST_S3_ENDPOINT) behind a fault-injecting HTTP proxy defined here.
//!
//! The proxy forwards each request to moto unless a rule of its plan matches the request
//! (by method and key fragment), in which case it answers 500 InternalError, 503 SlowDown or
//! 412 PreconditionFailed itself, resets the connection, stalls past the client's read
//! timeout, truncates moto's response body, or forwards half of an upload and resets.
//! Every response it forwards says `Connection: close`, so each connection carries one
//! request and every attempt of the client is seen and counted.
//!
//! What is proven: reads and writes are retried (the SDK's standard policy: exponential
//! backoff with jitter) and then fail with a retryable error; a truncated object is a
//! retryable read failure, never a corrupt file to quarantine; no partial table object is
//! ever visible; ledger updates lose nothing under injected conflicts and faults. Without
//! the endpoint variable the tests start their own moto from `.venv` ([`proxy::moto`]);
//! they never skip.

use keytrail::audit::ledger::LedgerDelta;
use keytrail::edge::s3::{self, ClientSettings, S3Objects, S3Store, S3Url};
use keytrail::lambda::state::StateStore;
use keytrail::lambda::trigger::ObjectRef;
use keytrail::lambda::{App, LambdaConfig};
use keytrail::model::profile::Profiles;
use keytrail::tables::writer::TableStore;
#[path = "common/proxy.rs"]
#[macro_use]
mod proxy;

use proxy::{rule, Fault, Proxy};
use std::io::Write;
use std::time::{Duration, Instant};

/// A client through `endpoint` with short timeouts, so stalls are detected in a second.
async fn client(endpoint: &str, attempts: u32) -> aws_sdk_s3::Client {
    s3::client_with(&ClientSettings {
        endpoint: Some(endpoint.to_string()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(1),
        max_attempts: attempts,
        ..ClientSettings::default()
    })
    .await
    .unwrap()
}

/// Creates a bucket named `name` plus a suffix unique to this run (the S3 server outlives
/// a test run, and every scenario must start from an empty bucket). Returns its name.
async fn bucket(direct: &aws_sdk_s3::Client, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let b = format!("{name}-{}-{nanos:x}", std::process::id());
    direct.create_bucket().bucket(&b).send().await.unwrap();
    b
}

async fn put(direct: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    direct
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

async fn keys(direct: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    s3::list(direct, bucket, prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn trail_file() -> (String, Vec<u8>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/trail");
    // The largest log file (the library's own folder walk): the most records, so a
    // truncation lands well inside it.
    let (files, _, _) = keytrail::edge::local::collect_inputs(&[dir]);
    let path = files
        .into_iter()
        .map(|f| f.path)
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    (name, std::fs::read(path).unwrap())
}

/// Uploads [`trail_file`] under the AWS key layout; returns its file name and key.
async fn put_trail_file(direct: &aws_sdk_s3::Client, bucket: &str) -> (String, String) {
    let (name, body) = trail_file();
    let key = format!("AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01/{name}");
    put(direct, bucket, &key, body).await;
    (name, key)
}

fn one_line(e: &impl std::fmt::Display) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "error is not one line: {s}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_and_server_errors_are_retried_with_backoff_then_reported_retryable() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-5xx").await;
    put(&direct, &b, "obj", b"hello".to_vec()).await;
    let proxy = Proxy::start(
        &ep,
        vec![
            rule("GET", "/obj", 2, Fault::Status(503, "SlowDown")),
            rule("GET", "/obj", 1, Fault::Status(500, "InternalError")),
        ],
    )
    .await;
    let c = client(&proxy.url, 4).await;
    let started = Instant::now();
    let got = s3::get_small(&c, &b, "obj").await.unwrap();
    assert_eq!(got.unwrap().0, b"hello");
    assert_eq!(proxy.count("GET", "/obj"), 4, "3 faults, then success");
    let took = started.elapsed();

    // Always failing: the attempts run out and the error says what and that it may pass.
    proxy.set_plan(vec![rule(
        "GET",
        "/obj",
        usize::MAX,
        Fault::Status(503, "SlowDown"),
    )]);
    let before = proxy.count("GET", "/obj");
    let err = s3::get_small(&c, &b, "obj").await.unwrap_err();
    assert_eq!(proxy.count("GET", "/obj") - before, 4, "4 attempts in all");
    assert!(err.is_retryable(), "{err}");
    let line = one_line(&err);
    assert!(
        line.contains(&format!("s3://{b}/obj")) && line.contains("SlowDown (HTTP 503)"),
        "{line}"
    );
    // The SDK waits between attempts (exponential backoff with full jitter from a 1 s base,
    // so the exact time varies): three retries without any wait take a few milliseconds on
    // loopback; with it, the chance of under 20 ms in all is about 1e-7.
    assert!(
        took > Duration::from_millis(20),
        "retries did not back off: {took:?}"
    );
    eprintln!("3 retried faults took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_resets_are_retried_then_reported_retryable() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-reset").await;
    put(&direct, &b, "obj", b"hello".to_vec()).await;
    let proxy = Proxy::start(&ep, vec![rule("GET", "/obj", 2, Fault::Reset)]).await;
    let c = client(&proxy.url, 4).await;
    let got = s3::get_small(&c, &b, "obj").await.unwrap();
    assert_eq!(got.unwrap().0, b"hello");
    assert_eq!(proxy.count("GET", "/obj"), 3);

    proxy.set_plan(vec![rule("GET", "/obj", usize::MAX, Fault::Reset)]);
    let err = s3::get_small(&c, &b, "obj").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(one_line(&err).contains(&format!("s3://{b}/obj")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalls_past_the_read_timeout_are_retried_then_reported_retryable() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-stall").await;
    put(&direct, &b, "obj", b"hello".to_vec()).await;
    let stall = Fault::Stall(Duration::from_secs(4));
    let proxy = Proxy::start(&ep, vec![rule("GET", "/obj", 1, stall.clone())]).await;
    let c = client(&proxy.url, 2).await;
    let started = Instant::now();
    let got = s3::get_small(&c, &b, "obj").await.unwrap();
    assert_eq!(got.unwrap().0, b"hello");
    assert_eq!(
        proxy.count("GET", "/obj"),
        2,
        "the stalled attempt was abandoned"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the client gave up on the stall (read timeout 1 s) instead of waiting it out: {:?}",
        started.elapsed()
    );

    proxy.set_plan(vec![rule("GET", "/obj", usize::MAX, stall)]);
    let err = s3::get_small(&c, &b, "obj").await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(one_line(&err).contains(&format!("s3://{b}/obj")), "{err}");
}

fn app(client: aws_sdk_s3::Client, output: &str) -> App<S3Objects> {
    let objects = S3Objects { client };
    App {
        config: LambdaConfig::from_vars(|k| (k == "KEYTRAIL_OUTPUT").then(|| output.to_string()))
            .unwrap(),
        profiles: Profiles::default(),
        baselines: Vec::new(),
        state: StateStore::Ledgers {
            objects: objects.clone(),
            output: S3Url::parse(output).unwrap(),
        },
        objects,
    }
}

fn s3_event(bucket: &str, key: &str, msg: &str) -> serde_json::Value {
    let body = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}}
    }]});
    serde_json::json!({"Records": [{
        "messageId": msg, "eventSource": "aws:sqs", "body": body.to_string()
    }]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_truncated_object_fails_retryable_and_is_not_quarantined_or_half_written() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-trunc").await;
    let (name, key) = put_trail_file(&direct, &b).await;
    // Every read of the log object is cut in half (moto says how long it is; half arrives).
    let proxy = Proxy::start(
        &ep,
        vec![rule("GET", &name, usize::MAX, Fault::TruncateBody)],
    )
    .await;
    let a = app(client(&proxy.url, 2).await, &format!("s3://{b}/out"));
    let resp = a
        .handle(&s3_event(&b, &key, "m-trunc"), None)
        .await
        .unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m-trunc"}]),
        "{resp}"
    );
    assert!(proxy.count("GET", &name) >= 1);
    // The same object straight through the pipeline: the failure is classified retryable.
    let err = a
        .process_object(&ObjectRef {
            bucket: b.clone(),
            key: key.clone(),
            version_id: None,
            etag: None,
            size: None,
        })
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
    let line = one_line(&err);
    assert!(
        line.contains(&name) && line.contains("read failed"),
        "{err}"
    );
    eprintln!("truncated read: {err}");
    let out = keys(&direct, &b, "out/").await;
    assert!(
        out.iter().all(|k| !k.contains("quarantine")),
        "a short read is not a corrupt file: {out:?}"
    );
    assert!(
        out.iter().all(|k| !k.ends_with(".parquet")),
        "nothing written from a partial read: {out:?}"
    );

    // Redelivered once S3 behaves: the whole object is read and its tables written.
    proxy.set_plan(vec![]);
    let resp = a
        .handle(&s3_event(&b, &key, "m-trunc"), None)
        .await
        .unwrap();
    assert_eq!(resp["batchItemFailures"], serde_json::json!([]), "{resp}");
    let out = keys(&direct, &b, "out/").await;
    assert!(
        out.iter()
            .any(|k| k.contains("kms_events/") && k.ends_with(".parquet")),
        "{out:?}"
    );
}

fn parquet_bytes() -> Vec<u8> {
    // Shaped like a table file (magic at both ends), large enough to span many TCP segments.
    let mut f = b"PAR1".to_vec();
    f.extend((0..300_000u32).flat_map(|i| i.to_le_bytes()));
    f.extend(b"PAR1");
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_uploads_leave_no_partial_object_and_retries_write_it_whole() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-put").await;
    let proxy = Proxy::start(
        &ep,
        vec![rule("PUT", "t.parquet", usize::MAX, Fault::ResetMidUpload)],
    )
    .await;
    let c = client(&proxy.url, 3).await;
    let out = S3Url::parse(&format!("s3://{b}/out")).unwrap();
    let bytes = parquet_bytes();
    let handle = tokio::runtime::Handle::current();
    let err = tokio::task::spawn_blocking({
        let (c, out, bytes) = (c.clone(), out.clone(), bytes.clone());
        move || {
            let mut store = S3Store::new(c, out, handle);
            let mut o = store.create("kms_events/t.parquet").unwrap();
            o.write_all(&bytes).unwrap();
            store.commit("kms_events/t.parquet", o).unwrap_err()
        }
    })
    .await
    .unwrap();
    assert!(err.is_retryable(), "{err}");
    assert!(
        one_line(&err).contains(&format!("s3://{b}/out/kms_events/t.parquet")),
        "{err}"
    );
    assert_eq!(
        proxy.count("PUT", "t.parquet"),
        3,
        "each attempt cut mid-body"
    );
    assert_eq!(
        keys(&direct, &b, "out/").await,
        Vec::<String>::new(),
        "no partial object is visible"
    );

    // Throttled twice, then whole.
    proxy.set_plan(vec![rule(
        "PUT",
        "t.parquet",
        2,
        Fault::Status(503, "SlowDown"),
    )]);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking({
        let (c, out, bytes) = (c.clone(), out.clone(), bytes.clone());
        move || {
            let mut store = S3Store::new(c, out, handle);
            let mut o = store.create("kms_events/t.parquet").unwrap();
            o.write_all(&bytes).unwrap();
            store.commit("kms_events/t.parquet", o).unwrap();
        }
    })
    .await
    .unwrap();
    let got = s3::get_small(&direct, &b, "out/kms_events/t.parquet")
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(got, bytes, "the object is the whole file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_table_write_failing_mid_run_fails_the_message_and_a_redelivery_completes() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-run").await;
    let (_, key) = put_trail_file(&direct, &b).await;
    // Every upload of the kms_events table is cut off mid-body: other tables may land, it not.
    let proxy = Proxy::start(
        &ep,
        vec![rule(
            "PUT",
            "kms_events/",
            usize::MAX,
            Fault::ResetMidUpload,
        )],
    )
    .await;
    let a = app(client(&proxy.url, 2).await, &format!("s3://{b}/out"));
    let resp = a.handle(&s3_event(&b, &key, "m-run"), None).await.unwrap();
    assert_eq!(
        resp["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": "m-run"}]),
        "{resp}"
    );
    let out = keys(&direct, &b, "out/").await;
    assert!(out.iter().all(|k| !k.contains("kms_events/")), "{out:?}");
    assert!(
        out.iter().all(|k| !k.contains("_ledger/")),
        "ledgers wait for the tables: {out:?}"
    );
    assert!(proxy.faults() >= 2, "the upload was retried");

    proxy.set_plan(vec![]);
    let resp = a.handle(&s3_event(&b, &key, "m-run"), None).await.unwrap();
    assert_eq!(resp["batchItemFailures"], serde_json::json!([]), "{resp}");
    let out = keys(&direct, &b, "out/").await;
    assert!(out.iter().any(|k| k.contains("kms_events/")), "{out:?}");
    assert!(out.iter().any(|k| k.contains("_ledger/")), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledger_updates_lose_nothing_under_injected_conflicts_and_faults() {
    let ep = proxy::moto();
    let direct = client(&ep, 1).await;
    let b = bucket(&direct, "faults-ledger").await;
    let proxy = Proxy::start(
        &ep,
        vec![
            // Fewer SDK-level faults per method than a request has attempts (4), so each
            // request succeeds however the concurrent writers interleave; conflicts are
            // retried by merge_ledger itself (12 attempts).
            rule(
                "PUT",
                "_ledger/",
                6,
                Fault::Status(412, "PreconditionFailed"),
            ),
            rule("PUT", "_ledger/", 2, Fault::Status(503, "SlowDown")),
            rule("PUT", "_ledger/", 1, Fault::ResetMidUpload),
            rule("GET", "_ledger/", 2, Fault::Reset),
            rule("GET", "_ledger/", 1, Fault::Status(500, "InternalError")),
        ],
    )
    .await;
    let c = client(&proxy.url, 4).await;
    let out = S3Url::parse(&format!("s3://{b}/l")).unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/faults";
    let (writers, per_writer) = (4, 5);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (c, out) = (c.clone(), out.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let mut d = LedgerDelta::default();
                let id = format!("w{w}-e{i}");
                d.add_event(key, &id, 0, &format!("{{\"eventID\":\"{id}\"}}"), "src");
                let l = d.keys.remove(key).unwrap();
                proxy::merge_ledger(&c, &out, &l).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(proxy.faults(), 12, "every injected fault was met");
    let ledger = proxy::ledger_of(&direct, &out, key).await;
    assert_eq!(ledger.events.len(), writers * per_writer, "no update lost");

    // Conflicts that never end: a retryable error after the ledger's own attempts.
    proxy.set_plan(vec![rule(
        "PUT",
        "_ledger/",
        usize::MAX,
        Fault::Status(412, "PreconditionFailed"),
    )]);
    let mut d = LedgerDelta::default();
    d.add_event(key, "late", 0, "{\"eventID\":\"late\"}", "src");
    let l = d.keys.remove(key).unwrap();
    let err = proxy::merge_ledger(&c, &out, &l).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(one_line(&err).contains("after 12 attempts"), "{err}");
    let ledger = proxy::ledger_of(&direct, &out, key).await;
    assert_eq!(
        ledger.events.len(),
        writers * per_writer,
        "and nothing half-applied"
    );
}
