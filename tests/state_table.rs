//! The DynamoDB state table, against a real DynamoDB API (moto on loopback;
//! tests/python/lambda_e2e.py starts it and sets KEYTRAIL_TEST_S3_ENDPOINT, the one moto
//! port serving S3 and DynamoDB) behind the fault-injecting proxy of tests/common/proxy.rs.
//!
//! What is proven: concurrent writers of one key's items lose nothing and double nothing
//! under injected throttling, server errors, connection resets, stalls past the read
//! timeout and conditional-check failures (each retried by the SDK or by the slot's own
//! rounds); a fault that never ends is a retryable error naming the table; an unreadable
//! item is a permanent one naming the key. Without the endpoint variable the tests start
//! their own moto from `.venv` ([`proxy::moto`]); they never skip.

#[path = "common/proxy.rs"]
#[macro_use]
mod proxy;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use keytrail::audit::ledger::items::{self, Item};
use keytrail::audit::ledger::LedgerDelta;
use keytrail::edge::dynamo::StateTable;
use keytrail::edge::s3::ClientSettings;
use proxy::{rule, Fault, Proxy};
use std::time::Duration;

fn settings(endpoint: &str, attempts: u32) -> ClientSettings {
    ClientSettings {
        endpoint: Some(endpoint.to_string()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(1),
        max_attempts: attempts,
        region: Some("us-east-1".into()),
        ..ClientSettings::default()
    }
}

/// Creates a table with the template's key schema, named `name` plus a suffix unique to
/// this run (the server outlives a test run). Returns its name.
async fn table(endpoint: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("{name}-{nanos}");
    let shared = keytrail::edge::s3::load_config(&settings(endpoint, 1))
        .await
        .unwrap();
    let c = aws_sdk_dynamodb::Client::new(&shared);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    name
}

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/state";

/// What writer `w` contributes in its file `i`: one grant event, one flag, one use of the
/// slot every writer shares (at a time unique to the file), and one orphan.
fn file_items(w: usize, i: usize) -> Vec<Item> {
    let mut d = LedgerDelta::default();
    let id = format!("w{w}-e{i}");
    let t = (w * 10 + i) as i64 * 1000;
    d.add_event(
        KEY,
        &id,
        t,
        &format!("{{\"eventID\":\"{id}\"}}"),
        &format!("src-{w}-{i}"),
    );
    d.add_flagged(KEY, &id, &format!("src-{w}-{i}"));
    d.add_use(KEY, "shared-slot", t, &format!("u-{w}-{i}"), "{}");
    d.add_orphan(KEY, &format!("o-{w}-{i}"), t, "g-late", "{}", "src");
    d.stamp(1_000_000);
    items::items_of(&d.keys[KEY], Some(1_000_000))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_item_writers_lose_nothing_under_injected_faults() {
    let ep = proxy::moto();
    let name = table(&ep, "faults-state").await;
    let proxy = Proxy::start(
        &ep,
        vec![
            // Fewer SDK-level faults per operation than a request has attempts (4), so each
            // request succeeds however the writers interleave; conditional-check failures
            // are the slot's own rounds.
            rule(
                "POST",
                "UpdateItem",
                3,
                Fault::Dynamo(400, "ThrottlingException"),
            ),
            rule(
                "POST",
                "UpdateItem",
                1,
                Fault::Stall(Duration::from_secs(3)),
            ),
            rule(
                "POST",
                "PutItem",
                2,
                Fault::Dynamo(400, "ConditionalCheckFailedException"),
            ),
            rule("POST", "PutItem", 1, Fault::Reset),
            rule(
                "POST",
                "PutItem",
                2,
                Fault::Dynamo(500, "InternalServerError"),
            ),
            rule(
                "POST",
                "Query",
                2,
                Fault::Dynamo(400, "ProvisionedThroughputExceededException"),
            ),
        ],
    )
    .await;
    let t = StateTable::new(&settings(&proxy.url, 4), &name)
        .await
        .unwrap();
    let (writers, per_writer) = (4, 5);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                t.write(KEY, file_items(w, i)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (a, stats) = t
        .read(KEY, &["g-late".to_string()], Some(1_000_000))
        .await
        .unwrap();
    assert_eq!(proxy.faults(), 11, "every injected fault was met");
    let l = a.ledger;
    assert_eq!(l.events.len(), writers * per_writer, "no event lost");
    assert_eq!(l.flagged.len(), writers * per_writer, "no flag lost");
    assert_eq!(l.orphans.len(), writers * per_writer, "no orphan lost");
    let newest = ((writers - 1) * 10 + per_writer - 1) as i64 * 1000;
    assert_eq!(
        l.uses.get("shared-slot").map(|u| (u.0, u.1.clone())),
        Some((newest, format!("u-{}-{}", writers - 1, per_writer - 1))),
        "the slot holds the newest use, whatever the order"
    );
    assert!(l.tied.is_empty(), "and nothing older beside it");
    assert_eq!(l.watermark, Some(newest));
    assert_eq!(l.sources.get("w2-e3").map(String::as_str), Some("src-2-3"));
    assert_eq!(
        stats.items as usize,
        3 * writers * per_writer + 2,
        "events, flags, orphans, the slot, the watermark"
    );

    // A rerun of every file (a redelivery) changes nothing.
    for w in 0..writers {
        for i in 0..per_writer {
            t.write(KEY, file_items(w, i)).await.unwrap();
        }
    }
    let (again, _) = t
        .read(KEY, &["g-late".to_string()], Some(1_000_000))
        .await
        .unwrap();
    assert_eq!(again.ledger, l, "idempotent");
    // Without the grant, the orphans are not read at all.
    let (none, s) = t.read(KEY, &[], Some(1_000_000)).await.unwrap();
    assert!(none.ledger.orphans.is_empty());
    assert_eq!(s.items as usize, 2 * writers * per_writer + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_that_never_end_are_retryable_errors_and_bad_items_permanent_ones() {
    let ep = proxy::moto();
    let name = table(&ep, "faults-state-end").await;
    let proxy = Proxy::start(
        &ep,
        vec![rule(
            "POST",
            "UpdateItem",
            usize::MAX,
            Fault::Dynamo(400, "ThrottlingException"),
        )],
    )
    .await;
    let t = StateTable::new(&settings(&proxy.url, 3), &name)
        .await
        .unwrap();
    let err = t.write(KEY, file_items(0, 0)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("dynamodb://{name}")) && msg.contains("ThrottlingException"),
        "{msg}"
    );

    // A slot whose conditional writes always fail: the slot's rounds end, retryable.
    proxy.set_plan(vec![
        rule(
            "POST",
            "PutItem",
            usize::MAX,
            Fault::Dynamo(400, "ConditionalCheckFailedException"),
        ),
        rule(
            "POST",
            "UpdateItem",
            usize::MAX,
            Fault::Dynamo(400, "ConditionalCheckFailedException"),
        ),
    ]);
    let slot = Item::Use {
        slot: "s".into(),
        time: 5,
        uses: [("u".to_string(), "{}".to_string())].into(),
    };
    let err = t.write(KEY, vec![slot]).await.unwrap_err();
    assert!(
        err.is_retryable() && err.to_string().contains("after 12 attempts"),
        "{err}"
    );

    // An item the function did not write (no record): the read fails, permanently.
    proxy.set_plan(Vec::new());
    let shared = keytrail::edge::s3::load_config(&settings(&ep, 1))
        .await
        .unwrap();
    aws_sdk_dynamodb::Client::new(&shared)
        .put_item()
        .table_name(&name)
        .item("pk", AttributeValue::S(KEY.into()))
        .item("sk", AttributeValue::S("e#broken".into()))
        .item("id", AttributeValue::S("broken".into()))
        .send()
        .await
        .unwrap();
    let err = t.read(KEY, &[], None).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.to_string().contains(KEY) && err.to_string().contains("\"record\""),
        "{err}"
    );
}
