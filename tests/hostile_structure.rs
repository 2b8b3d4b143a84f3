//! Hostile and broken input, the shape of a source: a truncated gzip, JSON nested 10,000
//! deep (inside a record and at the top), an empty file and an empty gzip, and a `Records`
//! that is an object, a string, a number or null.
//!
//! Each test puts the hostile source next to a good one and checks three things: the error
//! is one line naming the source, the place and the cause; the good source was still read in
//! full; and the run's counts account for what was skipped or invalid, so nothing is dropped
//! silently. Each case also runs the `keytrail` binary (exit 2, one stderr line per bad
//! source or record, the good tables still written). The shared helpers are in
//! `tests/common/hostile.rs`.

mod common;

use common::hostile::*;
use keytrail::error::InputErrorKind;
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Truncated gzip
// ---------------------------------------------------------------------------------------

#[test]
fn truncated_gzip_keeps_the_records_before_the_break_and_the_other_files() {
    // 400 records, every other one KMS, gzipped and cut in the middle.
    let records: Vec<Vec<u8>> = (0..400)
        .map(|i| {
            if i % 2 == 0 {
                kms_bytes(&format!("t{i}"))
            } else {
                other_bytes(&format!("o{i}"))
            }
        })
        .collect();
    let doc = wrapped(&records);
    let full = gz(&doc);
    let cut = full[..full.len() / 2].to_vec();

    let r = run(vec![
        bytes_source("cut.json.gz", cut.clone()),
        good_source(),
    ]);
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    println!("library: {}", errors[0]);
    let e = r.outcome("cut.json.gz").failure.clone().unwrap();
    assert!(matches!(e.kind, InputErrorKind::Gzip(_)), "{e}");
    assert_eq!(
        e.kind.to_string(),
        "corrupt gzip: truncated stream (unexpected end of file)"
    );
    // The place is where the decompressed text stopped: every record that ended before
    // it was kept, none after.
    assert_eq!((e.location.record_index, e.location.line), (None, Some(1)));
    let stopped_at = e.location.column.unwrap() - 1;
    assert!(stopped_at > 0 && stopped_at < doc.len() as u64, "{e}");
    assert_eq!(
        errors[0],
        format!(
            "cut.json.gz: line 1, column {}: corrupt gzip: truncated stream (unexpected end of file)",
            stopped_at + 1
        )
    );
    let mut end = b"{\"Records\":[".len() as u64;
    let mut kept = 0u64;
    let mut kept_kms = 0u64;
    for (i, rec) in records.iter().enumerate() {
        end += rec.len() as u64 + u64::from(i > 0);
        if end <= stopped_at {
            kept += 1;
            kept_kms += u64::from(i % 2 == 0);
        }
    }
    assert!(kept > 0 && kept < 400);
    let s = &r.report.stats;
    assert_eq!(s.records, kept + GOOD_RECORDS);
    assert_eq!(s.kms_events, kept_kms + 1);
    assert_eq!((s.files_read, s.files_failed), (2, 1));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The CLI: exit 2, one error line for the cut file, the rest written.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    let cut_path = input.join("cut.json.gz");
    std::fs::write(&cut_path, &cut).unwrap();
    let (errors, events, summary) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(
        errors,
        [format!(
            "error: {}: line 1, column {}: corrupt gzip: truncated stream (unexpected end of file)",
            cut_path.display(),
            stopped_at + 1
        )]
    );
    assert_eq!(events.len() as u64, kept_kms + 1);
    assert!(
        summary.contains("files: 2 read, 0 skipped (0 by name, 0 digest or insight), 1 failed"),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------
// Deep nesting
// ---------------------------------------------------------------------------------------

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

#[test]
fn deep_nesting_is_framed_without_recursion() {
    // Record 0: a KMS record with 10,000-deep arrays and objects in requestParameters and
    // as an encryption-context value. Record 1: a 10,000-deep array where a record should be.
    // Record 2: a good KMS record.
    let mut r0 = kms_record("n0");
    let deep_value: Value = serde_json::from_str("0").unwrap();
    r0["requestParameters"]["deep"] = deep_value.clone();
    r0["requestParameters"]["encryptionContext"]["deep"] = deep_value;
    let r0 = serde_json::to_string(&r0)
        .unwrap()
        .replacen("\"deep\":0", &format!("\"deep\":{}", nested(10_000)), 1)
        .replacen(
            "\"deep\":0",
            &format!("\"deep\":{}", nested_objects(10_000)),
            1,
        );
    // The deep KMS record decodes, its context read (the deep value kept as JSON text).
    let ev = decoded_event(r0.as_bytes());
    let ctx = ev.encryption_context.unwrap();
    assert_eq!(ctx["deep"], nested_objects(10_000));
    assert!(ctx.contains_key("aws:proton:template"));
    let doc = wrapped(&[
        r0.into_bytes(),
        nested(10_000).into_bytes(),
        kms_bytes("n2"),
    ]);
    let col1 = doc.windows(3).position(|w| w == b",[[").unwrap() as u64 + 2;
    // A file that is itself 10,000 arrays deep: an array whose one record is an array.
    let top = nested(10_000).into_bytes();

    let r = run(vec![
        bytes_source("deep.json", doc.clone()),
        bytes_source("deep-top.json", top.clone()),
        good_source(),
    ]);
    let errors = r.printed_errors();
    assert_eq!(
        errors,
        [
            format!("deep.json: record 1, line 1, column {col1}: not a CloudTrail log: record is an array, not a JSON object"),
            "deep-top.json: record 0, line 1, column 2: not a CloudTrail log: record is an array, not a JSON object".to_string(),
        ]
    );
    assert!(r.finding_ids().contains("n0") && r.finding_ids().contains("n2"));
    let s = &r.report.stats;
    assert_eq!(s.records_invalid, 2);
    assert_eq!(s.kms_events, 3);
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The CLI: one line per bad record, exit 2, tables written.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    std::fs::write(input.join("deep.json"), &doc).unwrap();
    std::fs::write(input.join("deep-top.json"), &top).unwrap();
    let (errors, events, _) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].ends_with("deep-top.json: record 0, line 1, column 2: not a CloudTrail log: record is an array, not a JSON object"));
    assert!(errors[1].contains(&format!("deep.json: record 1, line 1, column {col1}: ")));
    let n0 = events
        .iter()
        .find(|e| e.event_id.as_deref() == Some("n0"))
        .unwrap();
    let ctx = n0.encryption_context.as_ref().unwrap();
    assert_eq!(ctx["deep"], nested_objects(10_000));
    assert_eq!(
        ids(&events),
        ["n0", "n2", GOOD_EVENT_ID].map(String::from).into()
    );
}

// ---------------------------------------------------------------------------------------
// Empty files
// ---------------------------------------------------------------------------------------

#[test]
fn empty_file_and_empty_gzip_are_one_error_each() {
    let empty_gz = gz(b"");
    assert!(!empty_gz.is_empty());
    let r = run(vec![
        bytes_source("empty.json", Vec::new()),
        bytes_source("empty.json.gz", empty_gz.clone()),
        good_source(),
    ]);
    let errors = r.printed_errors();
    assert_eq!(
        errors,
        [
            "empty.json: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
            "empty.json.gz: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
        ]
    );
    assert!(r.outcome("empty.json.gz").failure.is_some());
    let s = &r.report.stats;
    assert_eq!((s.files_read, s.files_failed), (3, 2));
    r.assert_good_ingested();
    r.assert_records_add_up();

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    std::fs::write(input.join("empty.json"), b"").unwrap();
    std::fs::write(input.join("empty.json.gz"), &empty_gz).unwrap();
    let (errors, events, summary) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(
        errors,
        [
            format!(
                "error: {}: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
                input.join("empty.json").display()
            ),
            format!(
                "error: {}: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
                input.join("empty.json.gz").display()
            ),
        ]
    );
    assert_eq!(events.len(), 1);
    assert!(
        summary.contains("files: 3 read, 0 skipped (0 by name, 0 digest or insight), 2 failed"),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------
// `Records` that is not an array
// ---------------------------------------------------------------------------------------

#[test]
fn records_that_is_not_an_array_fails_its_source_with_the_place() {
    let cases = [
        ("object.json", "{\"Records\": {}}", "an object"),
        ("string.json", "{\"Records\": \"x\"}", "a string"),
        ("number.json", "{\"Records\": 5}", "a number"),
        ("null.json", "{\"Records\": null}", "null"),
    ];
    let mut sources: Vec<Source> = cases
        .iter()
        .map(|(name, doc, _)| bytes_source(name, doc.as_bytes().to_vec()))
        .collect();
    // In JSON Lines, such a line costs only itself.
    let lines = [
        kms_bytes("l0"),
        b"{\"Records\": 5}".to_vec(),
        kms_bytes("l2"),
    ]
    .join(&b'\n');
    sources.push(bytes_source("lines.jsonl", lines.clone()));
    sources.push(good_source());
    let r = run(sources);
    let errors = r.printed_errors();
    let mut want: Vec<String> = cases
        .iter()
        .map(|(name, _, kind)| {
            format!("{name}: line 1, column 13: not a CloudTrail log: \"Records\" is {kind}, not an array")
        })
        .collect();
    want.push(
        "lines.jsonl: line 2, column 13: not a CloudTrail log: \"Records\" is a number, not an array"
            .into(),
    );
    assert_eq!(errors, want);
    let s = &r.report.stats;
    assert_eq!((s.files_read, s.files_failed), (6, 4));
    assert_eq!(s.records_invalid, 1);
    assert!(r.finding_ids().contains("l0") && r.finding_ids().contains("l2"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    for (name, doc, _) in &cases {
        std::fs::write(input.join(name), doc).unwrap();
    }
    std::fs::write(input.join("lines.jsonl"), &lines).unwrap();
    let (errors, events, _) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(errors.len(), 5, "{errors:?}");
    for (name, _, kind) in &cases {
        let line = format!(
            "error: {}: line 1, column 13: not a CloudTrail log: \"Records\" is {kind}, not an array",
            input.join(name).display()
        );
        assert!(errors.contains(&line), "{line} not in {errors:?}");
    }
    assert_eq!(
        ids(&events),
        ["l0", "l2", GOOD_EVENT_ID].map(String::from).into()
    );
}
