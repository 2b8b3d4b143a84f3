//! Tests of the pipeline: records a ledger must keep, existing rows joining the history.

use super::*;
use crate::tables::writer::NoStore;

#[test]
fn ledger_keeps_records_serde_values_cannot_hold() {
    // A CreateGrant with a number beyond f64 and a 200-deep value: still a grant.
    let grant = format!(
        r#"{{"eventVersion":1e999,"eventSource":"kms.amazonaws.com","eventName":"CreateGrant",
        "eventTime":"2026-01-01T00:00:00Z","eventID":"g1","awsRegion":"us-east-1","recipientAccountId":"1",
        "resources":[{{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:1:key/k"}}],
        "requestParameters":{{"granteePrincipal":"proton.amazonaws.com","operations":["Decrypt"],"x":{}{}}},
        "responseElements":{{"grantId":"gid"}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let opts = PipelineOptions {
        capture_ledger: true,
        ..PipelineOptions::default()
    };
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    p.ingest(&mut NoStore, "grant.json", grant.as_bytes())
        .unwrap();
    let delta = p.finish(&mut NoStore).unwrap().ledger;
    let ledger = &delta.keys["arn:aws:kms:us-east-1:1:key/k"];
    let record = &ledger.events["g1"];
    assert!(RawObject::parse(record.as_bytes()).is_ok(), "{record:?}");

    // A later file judged against that ledger sees the grant: its use is covered.
    let use_ = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-01-02T00:00:00Z",
        "eventID":"u1","awsRegion":"us-east-1","recipientAccountId":"1",
        "userIdentity":{"type":"AWSService","invokedBy":"proton.amazonaws.com"},
        "resources":[{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:1:key/k"}],
        "requestParameters":{"encryptionContext":{
          "aws:proton:template":"arn:aws:proton:us-east-1:1:service-template/t",
          "aws:proton:resource":"arn:aws:proton:us-east-1:1:service/s"}}}"#;
    let mut later: Pipeline<NoStore> = Pipeline::new(PipelineOptions::default(), false);
    later.add_context(record.as_bytes());
    later
        .ingest(&mut NoStore, "use.json", use_.as_bytes())
        .unwrap();
    let report = later.finish(&mut NoStore).unwrap();
    assert_eq!(report.stats.key_use_events, 1);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn existing_rows_join_the_history_once_with_or_without_an_event_id() {
    let ev = |id: Option<&str>| KmsEvent {
        event_id: id.map(str::to_string),
        event_time: Some(0),
        event_name: "Decrypt".into(),
        category: Category::KeyUse,
        ..KmsEvent::default()
    };
    let mut p: Pipeline<NoStore> = Pipeline::new(PipelineOptions::default(), false);
    p.ingest_existing(
        "t/a.parquet",
        vec![ev(Some("e1")), ev(None), ev(Some("e1")), ev(None)],
    );
    // e1 once; each row without an id is its own (row 1 and row 3 of the file).
    assert_eq!(p.stats().existing_events, 3);
    // A record delivered again with a known eventID is a duplicate, not a new event.
    let rec = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"e1",
        "eventTime":"2026-01-01T00:00:00Z","awsRegion":"us-east-1","recipientAccountId":"1"}"#;
    p.ingest(&mut NoStore, "again.json", rec.as_bytes())
        .unwrap();
    assert_eq!((p.stats().duplicates, p.stats().kms_events), (1, 0));
}
