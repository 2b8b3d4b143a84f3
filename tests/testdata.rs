//! End to end over testdata/: the Proton stories give exactly the expected findings and
//! counts, in every file and record order, and every input format reads the same.

mod common;

use common::*;
use keytrail::pipeline::PipelineOptions;
use proptest::prelude::*;
use serde_json::Value;

fn project(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), v.get(*k).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

/// The fields the hand-written oracle states (all but principal, account, region, message).
const ORACLE_FIELDS: [&str; 9] = [
    "rule",
    "severity",
    "event_id",
    "event_time",
    "event_name",
    "key_arn",
    "proton_template",
    "proton_resource",
    "related_event_ids",
];

#[test]
fn trail_gives_exactly_the_expected_findings() {
    let r = run_paths(&[testdata("trail")], PipelineOptions::default());
    let got: Vec<Value> = findings_json(&r)
        .iter()
        .map(|f| project(f, &ORACLE_FIELDS))
        .collect();
    let want: Vec<Value> = expected_findings()
        .iter()
        .map(|f| project(f, &ORACLE_FIELDS))
        .collect();
    for w in &want {
        assert!(got.contains(w), "missing expected finding {w}");
    }
    for g in &got {
        assert!(want.contains(g), "unexpected finding {g}");
    }
    assert_eq!(got, want, "same findings, same order");
    // Every finding says why, in one sentence.
    for f in &r.findings {
        assert!(
            f.message.ends_with('.') && !f.message.contains('\n'),
            "{}",
            f.message
        );
    }
}

#[test]
fn trail_counts_match_the_stories() {
    let counts: Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("expected/counts.json")).unwrap())
            .unwrap();
    let r = run_paths(&[testdata("trail")], PipelineOptions::default());
    let s = &r.stats;
    assert_eq!(s.files_read, counts["record_files"].as_u64().unwrap());
    assert_eq!(
        s.files_skipped,
        counts["skipped_files"]["total"].as_u64().unwrap()
    );
    assert_eq!(s.files_failed, 0);
    assert_eq!(s.records, counts["total_records"].as_u64().unwrap());
    assert_eq!(s.records_invalid, 0);
    assert_eq!(s.kms_events, counts["kms_records"].as_u64().unwrap());
    let cat = &counts["kms_by_category"];
    assert_eq!(s.key_use_events, cat["use"].as_u64().unwrap());
    assert_eq!(s.grant_events, cat["grant"].as_u64().unwrap());
    assert_eq!(s.key_state_events, cat["key_state"].as_u64().unwrap());
    assert_eq!(s.other_kms_events, cat["other"].as_u64().unwrap());
    // Distinct records = KMS events + other-service records (one noise duplicate included
    // in the latter: only KMS events are deduplicated).
    let distinct = counts["distinct_records"].as_u64().unwrap();
    let dropped = counts["duplicates_dropped"].as_u64().unwrap();
    assert_eq!(s.records - dropped, distinct);
    assert_eq!(s.kms_records - s.duplicates, s.kms_events);
    assert_eq!(
        r.timeline.without_time,
        counts["records_without_event_time"].as_u64().unwrap()
    );
    for (rule, n) in r.findings_by_rule() {
        assert_eq!(
            n as u64,
            counts["findings_by_rule"][rule.as_str()].as_u64().unwrap(),
            "{}",
            rule.as_str()
        );
    }
}

#[test]
fn grace_zero_adds_the_findings_inside_the_window() {
    let base = run_paths(&[testdata("trail")], PipelineOptions::default());
    let zero = run_paths(
        &[testdata("trail")],
        PipelineOptions {
            grace_seconds: 0,
            ..PipelineOptions::default()
        },
    );
    assert_eq!(zero.findings.len(), base.findings.len() + 3);
    for f in &base.findings {
        assert!(zero
            .findings
            .iter()
            .any(|z| z.event_id == f.event_id && z.rule == f.rule));
    }
}

#[test]
fn every_format_reads_the_same_records() {
    for (name, kms) in [
        ("records-array.json", 5),
        ("lines.jsonl", 5),
        ("lines.jsonl.gz", 5),
        ("wrapped-plain.json", 5),
        ("no-extension-log", 5),
        ("single-record.json", 1),
    ] {
        let r = run_paths(
            &[testdata(&format!("formats/{name}"))],
            PipelineOptions::default(),
        );
        assert_eq!(r.stats.kms_events, kms, "{name}");
        assert_eq!(r.stats.records_invalid, 0, "{name}");
        assert_eq!(r.stats.files_failed, 0, "{name}");
    }
    // All formats together hold the same five events: duplicates collapse.
    let r = run_paths(&[testdata("formats")], PipelineOptions::default());
    assert_eq!(r.stats.kms_events, 5);
}

fn shuffled_sources(
    records: &[Vec<u8>],
    seed: u64,
    files: usize,
    dup_every: usize,
) -> Vec<(String, Vec<u8>)> {
    // A small deterministic shuffle (Fisher-Yates over splitmix64).
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..records.len()).collect();
    if dup_every > 0 {
        order.extend((0..records.len()).step_by(dup_every));
    }
    for i in (1..order.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let mut out: Vec<(String, Vec<u8>)> = (0..files)
        .map(|i| (format!("mem-{i}.json"), b"{\"Records\":[".to_vec()))
        .collect();
    for idx in order {
        let f = (next() % files as u64) as usize;
        let buf = &mut out[f].1;
        if buf.len() > 12 {
            buf.push(b',');
        }
        buf.extend_from_slice(&records[idx]);
    }
    for (_, b) in out.iter_mut() {
        b.extend_from_slice(b"]}");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Findings do not depend on file order, record order, how records are split across
    /// files, or on duplicated records.
    #[test]
    fn findings_do_not_depend_on_order_split_or_duplicates(
        seed in any::<u64>(),
        files in 1usize..12,
        dup_every in prop_oneof![Just(0usize), 2usize..40],
    ) {
        let records = all_records(&testdata("trail"));
        let want = findings_json(&run_paths(&[testdata("trail")], PipelineOptions::default()));
        let got = findings_json(&run_sources(
            &shuffled_sources(&records, seed, files, dup_every),
            PipelineOptions::default(),
        ));
        prop_assert_eq!(got, want);
    }
}
