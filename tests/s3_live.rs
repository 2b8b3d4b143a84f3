//! Against a real S3 API (moto on loopback, started by tests/python/lambda_e2e.py, which
//! sets KEYTRAIL_TEST_S3_ENDPOINT): concurrent conditional ledger updates lose nothing.
//! Without the variable the tests report themselves skipped; the e2e script always sets it
//! and runs them (`KEYTRAIL_REQUIRE_S3=1` makes a missing endpoint a failure).

use keytrail::audit::ledger::LedgerDelta;
use keytrail::edge::s3::{self, S3Url};
use keytrail::model::profile::Profiles;

fn endpoint() -> Option<String> {
    let e = std::env::var("KEYTRAIL_TEST_S3_ENDPOINT").ok();
    if e.is_none() && std::env::var_os("KEYTRAIL_REQUIRE_S3").is_some() {
        panic!("KEYTRAIL_TEST_S3_ENDPOINT is not set");
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_ledger_writers_lose_no_update() {
    let Some(ep) = endpoint() else {
        eprintln!("SKIPPED: no S3 endpoint");
        return;
    };
    std::env::set_var("AWS_ENDPOINT_URL", &ep);
    let client = s3::client().await.unwrap();
    let bucket = "ledger-race";
    let _ = client.create_bucket().bucket(bucket).send().await;
    let out = S3Url::parse(&format!("s3://{bucket}/race")).unwrap();
    let key = "arn:aws:kms:us-east-1:111122223333:key/race";
    let writers = 8;
    let per_writer = 6;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let client = client.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                let mut d = LedgerDelta::default();
                d.add_event(
                    key,
                    &format!("w{w}-e{i}"),
                    0,
                    &format!("{{\"eventID\":\"w{w}-e{i}\"}}"),
                    "src",
                );
                let l = d.keys.remove(key).unwrap();
                s3::merge_ledger(&client, &out, &l, &Profiles::default())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ledger = s3::read_ledger(&client, &out, key).await.unwrap().unwrap();
    assert_eq!(
        ledger.events.len(),
        writers * per_writer,
        "every concurrent update kept"
    );
    // A replay changes nothing.
    let mut d = LedgerDelta::default();
    d.add_event(key, "w0-e0", 0, "{\"eventID\":\"w0-e0\"}", "src");
    let again = s3::merge_ledger(
        &client,
        &out,
        &d.keys.remove(key).unwrap(),
        &Profiles::default(),
    )
    .await
    .unwrap();
    assert_eq!(again, ledger);
}
