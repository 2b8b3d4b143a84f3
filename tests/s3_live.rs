//! Against a real S3 API (moto on loopback: the e2e script's, named by
//! KEYTRAIL_TEST_S3_ENDPOINT, or one the test starts from `.venv`, see [`proxy::moto`]):
//! concurrent conditional ledger updates lose nothing. It never skips.

use keytrail::audit::ledger::LedgerDelta;
use keytrail::edge::s3::{self, S3Url};

#[path = "common/proxy.rs"]
mod proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_ledger_writers_lose_no_update() {
    let ep = proxy::moto();
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
                proxy::merge_ledger(&client, &out, &l).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ledger = proxy::ledger_of(&client, &out, key).await;
    assert_eq!(
        ledger.events.len(),
        writers * per_writer,
        "every concurrent update kept"
    );
    // A replay changes nothing.
    let mut d = LedgerDelta::default();
    d.add_event(key, "w0-e0", 0, "{\"eventID\":\"w0-e0\"}", "src");
    let again = proxy::merge_ledger(&client, &out, &d.keys.remove(key).unwrap())
        .await
        .unwrap();
    assert_eq!(again, ledger);
}
