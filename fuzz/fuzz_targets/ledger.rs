//! Ledger objects as read back from S3 (anyone who can write the output prefix can change
//! them): parsing, merging (idempotent), and judging a run against them.
#![no_main]

use keytrail::audit::ledger::KeyLedger;
use keytrail::pipeline::{Pipeline, PipelineOptions};
use keytrail::tables::writer::NoStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ledger) = KeyLedger::from_json(data) else {
        return;
    };
    let mut merged = KeyLedger::default();
    merged.merge(&ledger);
    let once = merged.clone();
    assert!(
        !merged.merge(&ledger),
        "a replayed merge changed the ledger"
    );
    assert_eq!(merged, once);
    let back = KeyLedger::from_json(&merged.to_json()).expect("a ledger reads back");
    assert_eq!(back.events, merged.events);

    let opts = PipelineOptions {
        capture_ledger: true,
        ..PipelineOptions::default()
    };
    let mut pipeline = Pipeline::<NoStore>::new(opts, false);
    let _ = pipeline.ingest(
        &mut NoStore,
        "fuzz.json",
        &br#"{"Records":[{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"e1","eventTime":"2026-01-01T00:00:00Z","requestParameters":{"keyId":"arn:aws:kms:us-east-1:111122223333:key/k","encryptionContext":{"aws:proton:template":"arn:aws:proton:us-east-1:111122223333:environment-template/t","aws:proton:resource":"arn:aws:proton:us-east-1:111122223333:environment/r"}}}]}"#[..],
    );
    pipeline.apply_ledger(&merged);
    let _ = pipeline.finish(&mut NoStore).expect("NoStore never fails");
});
