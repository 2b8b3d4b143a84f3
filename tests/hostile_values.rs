//! Hostile values inside records: invalid UTF-8, numbers out of range (`1e999`, 400
//! digits), every field of a Decrypt record given each wrong type, and duplicate keys.
//!
//! Each test puts the hostile source next to a good one and checks three things: the error
//! is one line naming the source, the place and the cause (or, where keytrail is tolerant,
//! what it decoded); the good source was still read in full; and the run's counts account
//! for what was skipped or invalid, so nothing is dropped silently. Invalid UTF-8 also runs
//! the `keytrail` binary (exit 2, one stderr line per bad record, the good findings still
//! reported). The shared helpers are in `tests/common/hostile.rs`.

mod common;

use common::hostile::*;
use common::*;
use keytrail::model::kms::KmsEvent;
use keytrail::pipeline::decode::Decoded;
use keytrail::pipeline::{Pipeline, PipelineOptions};
use keytrail::read::logfile::{read_log, ReadOptions, RecordPos, RecordSink};
use keytrail::tables::writer::NoStore;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Invalid UTF-8
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_costs_only_its_record() {
    // Record 0: KMS, bad bytes in eventName. Record 1: KMS, bad bytes in an encryption
    // context value. Record 2: another service, bad bytes in eventName. Record 3: good KMS.
    let mut r0 = kms_bytes("u0");
    splice(&mut r0, b"\"Decrypt\"", b"\"De@@crypt\"");
    let mut r1 = kms_bytes("u1");
    splice(&mut r1, b"service/frontend", b"service/front@@end");
    let mut r2 = other_bytes("u2");
    splice(&mut r2, b"GetObject", b"Get@@Object");
    let mut doc = wrapped(&[r0, r1, r2, kms_bytes("u3")]);
    let col0 = splice(&mut doc, b"@@", &[0xff, 0xfe]);
    let col1 = splice(&mut doc, b"@@", &[0xff, 0xfe]);
    splice(&mut doc, b"@@", &[0xff, 0xfe]);
    assert!(std::str::from_utf8(&doc).is_err());

    let r = run(vec![bytes_source("utf8.json", doc.clone()), good_source()]);
    let errors = r.printed_errors();
    // The column is the first invalid byte.
    assert_eq!(
        errors,
        [
            format!("utf8.json: record 0, line 1, column {col0}: invalid JSON: invalid unicode code point"),
            format!("utf8.json: record 1, line 1, column {col1}: invalid JSON: invalid unicode code point"),
        ]
    );
    let o = r.outcome("utf8.json");
    assert_eq!((o.failure.clone(), o.records, o.kms_events), (None, 4, 1));
    let s = &r.report.stats;
    assert_eq!(s.records_invalid, 2);
    // A record of another service is framed and counted, not parsed (README, "Limits"):
    // its bad bytes are not reported, but it is not lost either.
    assert_eq!(s.other_service_records, 1 + GOOD_OTHER_RECORDS);
    assert!(r.finding_ids().contains("u3"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The CLI: one line per bad record, exit 2, the good file and record 3 still reported.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("utf8.json");
    std::fs::write(&bad, &doc).unwrap();
    let o = keytrail(&["findings", bad.to_str().unwrap(), &good_name()]);
    assert_eq!(o.status.code(), Some(2));
    let n = bad.display();
    assert_eq!(
        error_lines(&o),
        [
            format!("error: {n}: record 0, line 1, column {col0}: invalid JSON: invalid unicode code point"),
            format!("error: {n}: record 1, line 1, column {col1}: invalid JSON: invalid unicode code point"),
        ]
    );
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains(GOOD_EVENT_ID)
            && table
                .lines()
                .any(|l| l.split_whitespace().nth(4) == Some("u3")),
        "{table}"
    );
}

// ---------------------------------------------------------------------------------------
// Numbers out of range
// ---------------------------------------------------------------------------------------

#[test]
fn numbers_out_of_range_are_kept_as_written() {
    let digits400: String = "9".repeat(400);
    let mut r0 = kms_bytes("num0");
    splice(&mut r0, b"\"1.11\"", b"1e999");
    splice(&mut r0, b"\"readOnly\":true", b"\"readOnly\":1e400");
    let mut r1 = kms_bytes("num1");
    splice(
        &mut r1,
        b"\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"",
        format!("\"encryptionAlgorithm\":{digits400},\"n\":-{digits400}e-999").as_bytes(),
    );
    splice(
        &mut r1,
        b"\"aws:proton:resource\"",
        format!("\"size\":{digits400},\"aws:proton:resource\"").as_bytes(),
    );
    let mut r2 = kms_bytes("num2");
    splice(&mut r2, b"\"2026-01-01T00:00:00Z\"", digits400.as_bytes());
    // Not a number at all: the one record that is invalid.
    let mut r3 = kms_bytes("num3");
    let col3_in_record = splice(&mut r3, b"\"readOnly\":true", b"\"readOnly\":-");
    let col3_in_record = col3_in_record + "\"readOnly\":-".len() as u64;

    let e0 = decoded_event(&r0);
    assert_eq!(e0.read_only, None, "1e400 is not a boolean");
    assert_eq!(e0.event_name, "Decrypt");
    let e1 = decoded_event(&r1);
    assert_eq!(e1.encryption_context.as_ref().unwrap()["size"], digits400);
    let e2 = decoded_event(&r2);
    assert_eq!(e2.event_time, None);
    assert_eq!(e2.event_time_raw.as_deref(), Some(digits400.as_str()));

    let offset3 = 12 + r0.len() + r1.len() + r2.len() + 3;
    let doc = wrapped(&[r0.clone(), r1, r2, r3]);
    let tmp = tempfile::tempdir().unwrap();
    let (r, events) = run_writing(
        vec![bytes_source("numbers.json", doc.clone()), good_source()],
        tmp.path(),
    );
    let errors = r.printed_errors();
    assert_eq!(
        errors,
        [format!(
            "numbers.json: record 3, line 1, column {}: invalid JSON: invalid number",
            offset3 as u64 + col3_in_record
        )]
    );
    assert_eq!(
        ids(&events),
        ["num0", "num1", "num2", GOOD_EVENT_ID]
            .map(String::from)
            .into()
    );
    // The record with no usable time is written and counted, not judged.
    assert_eq!(r.report.timeline.without_time, 1);
    assert!(r.finding_ids().contains("num0") && !r.finding_ids().contains("num2"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The Lambda's ledger keeps such a record too (serde_json's Value cannot hold 1e999).
    let opts = PipelineOptions {
        capture_ledger: true,
        ..PipelineOptions::default()
    };
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    p.ingest(&mut NoStore, "numbers.json", &r0[..]).unwrap();
    let delta = p.finish(&mut NoStore).unwrap().ledger;
    let records: Vec<&str> = delta.keys.values().flat_map(|l| l.records()).collect();
    assert_eq!(records.len(), 1);
    assert!(records[0].contains("1e999"), "{:?}", records[0]);
}

// ---------------------------------------------------------------------------------------
// Every field with the wrong type
// ---------------------------------------------------------------------------------------

/// A realistic Proton Decrypt from testdata/trail (an assumed role acting through Proton),
/// with a session issuer and `additionalEventData` filled in so they can be mutated too.
fn realistic_decrypt() -> Value {
    struct Find(Option<Vec<u8>>);
    impl RecordSink for Find {
        fn record(&mut self, _: RecordPos, bytes: &[u8]) {
            if bytes
                .windows(36)
                .any(|w| w == b"05000004-a91c-54da-9451-db11e3ede5a2")
            {
                self.0 = Some(bytes.to_vec());
            }
        }
        fn record_error(&mut self, e: keytrail::error::InputError) {
            panic!("{e}");
        }
    }
    let path = testdata("trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/01/13/111122223333_CloudTrail_eu-west-1_20260113T0820Z_oQSkK0iS6fxtpBjK.json.gz");
    let mut find = Find(None);
    read_log(
        "t",
        std::fs::File::open(path).unwrap(),
        &ReadOptions::default(),
        &mut find,
    )
    .unwrap();
    let mut rec: Value = serde_json::from_slice(&find.0.unwrap()).unwrap();
    assert_eq!(rec["eventName"], "Decrypt");
    rec["userIdentity"]["sessionContext"]["sessionIssuer"] = json!({
        "type": "Role", "principalId": "AROAMQJQ39W8HJD0Y05QV",
        "arn": "arn:aws:iam::111122223333:role/ProtonAdminRole",
        "accountId": "111122223333", "userName": "ProtonAdminRole"
    });
    rec["additionalEventData"] = json!({
        "keyMaterialId": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "grantId": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    });
    rec
}

/// JSON pointers of every top-level field, and of every field (at any depth) inside the
/// objects the KMS model reads.
fn mutation_paths(rec: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    walk(c, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    walk(c, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (k, v) in rec.as_object().unwrap() {
        if matches!(
            k.as_str(),
            "userIdentity" | "requestParameters" | "additionalEventData" | "resources"
        ) {
            walk(v, format!("/{k}"), &mut out);
        } else {
            out.push(format!("/{k}"));
        }
    }
    out
}

#[test]
fn every_field_with_every_wrong_type_is_decoded_or_counted() {
    let base = realistic_decrypt();
    let paths = mutation_paths(&base);
    let replacements = [
        json!(42),
        json!([1, "x", null]),
        json!({"k": "v", "n": 1}),
        json!(true),
        Value::Null,
        json!("s"),
    ];
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for path in &paths {
        for with in &replacements {
            let original = base.pointer(path).unwrap();
            if with.is_string() && original.is_string() {
                continue;
            }
            let mut v = base.clone();
            if path != "/eventID" {
                v["eventID"] = json!(format!("wt-{}", variants.len()));
            }
            *v.pointer_mut(path).unwrap() = with.clone();
            variants.push((format!("{path} = {with}"), serde_json::to_vec(&v).unwrap()));
        }
    }
    println!("{} paths, {} variants", paths.len(), variants.len());
    assert!(paths.len() > 40, "{paths:?}");

    // Each variant alone: no panic, and KMS unless eventSource itself was replaced.
    let mut other = 0;
    for (what, bytes) in &variants {
        let d = std::panic::catch_unwind(|| decode(bytes))
            .unwrap_or_else(|_| panic!("decoding panicked: {what}"));
        match d {
            Decoded::Kms { .. } => assert!(!what.starts_with("/eventSource "), "{what}"),
            Decoded::Other { insight: false } if what.starts_with("/eventSource ") => other += 1,
            Decoded::Invalid(e) => panic!("{what}: valid JSON reported invalid: {e}"),
            d => panic!("{what}: {d:?}"),
        }
    }
    assert_eq!(other, 5, "eventSource as number, array, object, bool, null");

    // Tolerant decoding, spot checks.
    let find = |what: &str| -> KmsEvent {
        decoded_event(&variants.iter().find(|(w, _)| w == what).unwrap().1)
    };
    let e = find("/eventTime = 42");
    assert_eq!(
        (e.event_time, e.event_time_raw.as_deref()),
        (None, Some("42"))
    );
    let e = find("/requestParameters/encryptionContext = [1,\"x\",null]");
    assert_eq!(e.encryption_context, None);
    let e = find("/resources = {\"k\":\"v\",\"n\":1}");
    assert_eq!(e.key.arn, None, "no resources, no keyId: unresolved");
    let e = find("/readOnly = \"s\"");
    assert_eq!(e.read_only, None);
    let e = find("/eventName = true");
    assert_eq!(e.event_name, "true");
    let e = find("/userIdentity/sessionContext/sessionIssuer/arn = null");
    assert_eq!(
        e.caller.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/ProtonAdminRole"),
        "from the assumed-role ARN"
    );

    // All variants in one run that writes the tables: every one counted and every KMS one
    // written, none lost.
    let n = variants.len() as u64;
    let doc = wrapped(&variants.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>());
    let tmp = tempfile::tempdir().unwrap();
    let (r, events) = run_writing(
        vec![bytes_source("wrong-types.json", doc), good_source()],
        tmp.path(),
    );
    assert_eq!(r.errors(), Vec::<String>::new());
    let s = &r.report.stats;
    assert_eq!(s.records, n + GOOD_RECORDS);
    assert_eq!(s.records_invalid, 0);
    assert_eq!(s.other_service_records, 5 + GOOD_OTHER_RECORDS);
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.kms_events, n - 5 + 1);
    assert_eq!(events.len() as u64, s.kms_events);
    r.assert_good_ingested();
    r.assert_records_add_up();
}

// ---------------------------------------------------------------------------------------
// Duplicate keys
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_keys_take_the_last_value() {
    // Two eventNames: the last (Decrypt) wins.
    let mut r0 = kms_bytes("dup0");
    splice(
        &mut r0,
        b"\"eventName\"",
        b"\"eventName\":\"ListKeys\",\"eventName\"",
    );
    // Two eventIDs: the last (dupB) is the record's id for dedupe and the tables.
    let mut r1 = kms_bytes("dupB");
    splice(&mut r1, b"\"eventID\"", b"\"eventID\":\"dupA\",\"eventID\"");
    // Two values for one context key: the last is the resource.
    let mut r2 = kms_bytes("dup2");
    splice(
        &mut r2,
        b"\"aws:proton:resource\"",
        b"\"aws:proton:resource\":\"arn:aws:proton:us-east-1:111122223333:service/first\",\"aws:proton:resource\"",
    );
    // Two eventSources: the last decides whether it is a KMS record.
    let mut r3 = kms_bytes("dup3");
    splice(
        &mut r3,
        b"\"eventSource\":\"kms.amazonaws.com\"",
        b"\"eventSource\":\"kms.amazonaws.com\",\"eventSource\":\"s3.amazonaws.com\"",
    );
    let mut r4 = kms_bytes("dup4");
    splice(
        &mut r4,
        b"\"eventSource\"",
        b"\"eventSource\":\"s3.amazonaws.com\",\"eventSource\"",
    );

    assert_eq!(decoded_event(&r0).event_name, "Decrypt");
    assert_eq!(decoded_event(&r1).event_id.as_deref(), Some("dupB"));
    let e2 = decoded_event(&r2);
    assert_eq!(
        e2.encryption_context.as_ref().unwrap()["aws:proton:resource"],
        "arn:aws:proton:us-east-1:111122223333:service/frontend"
    );
    assert!(matches!(decode(&r3), Decoded::Other { insight: false }));
    assert_eq!(decoded_event(&r4).event_id.as_deref(), Some("dup4"));

    // A later record with id dupB is a duplicate of r1; one with id dupA is not.
    let doc = wrapped(&[r0, r1, r2, r3, r4, kms_bytes("dupB"), kms_bytes("dupA")]);
    let r = run(vec![bytes_source("dups.json", doc), good_source()]);
    assert_eq!(r.errors(), Vec::<String>::new());
    let s = &r.report.stats;
    assert_eq!((s.kms_records, s.duplicates, s.kms_events), (7, 1, 6));
    assert_eq!(s.other_service_records, 1 + GOOD_OTHER_RECORDS);
    let ids = r.finding_ids();
    for id in ["dup0", "dupB", "dup2", "dup4", "dupA"] {
        assert!(ids.contains(id), "{id} {ids:?}");
    }
    assert!(!ids.contains("dup3"));
    let f2 = r.finding("dup2");
    assert_eq!(
        f2.proton_resource.as_deref(),
        Some("arn:aws:proton:us-east-1:111122223333:service/frontend")
    );
    r.assert_good_ingested();
    r.assert_records_add_up();
}
