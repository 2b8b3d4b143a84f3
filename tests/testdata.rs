//! End to end over testdata/: the Proton stories give exactly the expected findings and
//! counts, in every file and record order, and every input format reads the same; files
//! processed one after another through the per-key ledgers (as the Lambda does) give the
//! same findings as one run.

mod common;

use common::*;
use keytrail::audit::ledger::LedgerDelta;
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
const ORACLE_FIELDS: [&str; 10] = [
    "rule",
    "severity",
    "authorization",
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

/// The snapshots of testdata/baseline, in name order.
fn baselines() -> Vec<std::sync::Arc<keytrail::model::snapshot::Snapshot>> {
    let mut files: Vec<_> = std::fs::read_dir(testdata("baseline"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    files
        .iter()
        .map(|f| {
            let s = keytrail::model::snapshot::load(f).unwrap();
            assert!(s.problems.is_empty(), "{f:?}: {:?}", s.problems);
            std::sync::Arc::new(s)
        })
        .collect()
}

#[test]
fn trail_with_the_snapshots_gives_exactly_the_expected_findings() {
    let opts = PipelineOptions {
        baselines: baselines(),
        ..PipelineOptions::default()
    };
    let r = run_paths(&[testdata("trail")], opts);
    let got: Vec<Value> = findings_json(&r)
        .iter()
        .map(|f| project(f, &ORACLE_FIELDS))
        .collect();
    let text = std::fs::read_to_string(testdata("expected/findings_with_baseline.jsonl")).unwrap();
    let want: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| project(&serde_json::from_str(l).unwrap(), &ORACLE_FIELDS))
        .collect();
    for w in &want {
        assert!(got.contains(w), "missing expected finding {w}");
    }
    for g in &got {
        assert!(want.contains(g), "unexpected finding {g}");
    }
    assert_eq!(got, want, "same findings, same order");
}

/// With a baseline, files through the ledgers give one run's findings, except the
/// reconciliation findings, which no file owns (`findings --tables --baseline` and the
/// CLI give them).
#[test]
fn files_through_the_ledger_with_a_baseline_equal_one_run_but_reconciliation() {
    let b = baselines();
    let opts = PipelineOptions {
        baselines: b.clone(),
        ..PipelineOptions::default()
    };
    let want: Vec<Value> = findings_json(&run_paths(&[testdata("trail")], opts))
        .into_iter()
        .filter(|f| f["event_id"] != "")
        .collect();
    assert!(want.len() > 80, "{}", want.len());
    for (seed, files) in [(1u64, 6usize), (2, 40), (3, 200)] {
        let sources = chronological_files(seed, files, 0);
        let (got, _) = run_with_ledgers_and(&sources, &b);
        let (got, want) = (sorted_lines(&got), sorted_lines(&want));
        let extra: Vec<&String> = got.iter().filter(|f| !want.contains(f)).collect();
        let missing: Vec<&String> = want.iter().filter(|f| !got.contains(f)).collect();
        assert!(
            got == want,
            "seed {seed}: {} findings, want {}; extra {extra:#?}; missing {missing:#?}",
            got.len(),
            want.len()
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
    // Calls: the copies of a cross-account call count once.
    let copies = counts["cross_account_copies_folded"].as_u64().unwrap();
    assert_eq!(s.copies_folded, copies);
    assert_eq!(
        s.kms_events + copies,
        counts["kms_records"].as_u64().unwrap()
    );
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
    assert_eq!(s.kms_records - s.duplicates, s.kms_events + s.copies_folded);
    assert_eq!(
        r.timeline.without_time,
        counts["records_without_event_time"].as_u64().unwrap()
    );
    for (rule, n) in r.findings_by_rule() {
        assert_eq!(
            n as u64,
            // The reconciliation rules need a snapshot: none without one.
            counts["findings_by_rule"][rule.as_str()]
                .as_u64()
                .unwrap_or(0),
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
        ("lookup-events.json", 3),
        ("lake-query-results.json", 4),
    ] {
        let r = run_paths(
            &[testdata(&format!("formats/{name}"))],
            PipelineOptions::default(),
        );
        assert_eq!(r.stats.kms_events, kms, "{name}");
        assert_eq!(r.stats.records_invalid, 0, "{name}");
        assert_eq!(r.stats.files_failed, 0, "{name}");
    }
    // The layouts all hold the same five events: duplicates collapse. The lookup-events
    // and Lake samples hold 3 and 4 events of their own.
    let r = run_paths(&[testdata("formats")], PipelineOptions::default());
    assert_eq!(r.stats.kms_events, 5 + 3 + 4);
    assert_eq!(r.stats.records_invalid, 0);
    assert!(r.findings.is_empty());
}

fn shuffled_sources(
    records: &[Vec<u8>],
    seed: u64,
    files: usize,
    dup_every: usize,
) -> Vec<(String, Vec<u8>)> {
    let mut rng = SplitMix(seed);
    let mut order: Vec<usize> = (0..records.len()).collect();
    if dup_every > 0 {
        order.extend((0..records.len()).step_by(dup_every));
    }
    rng.shuffle(&mut order);
    let mut out: Vec<(String, Vec<u8>)> = (0..files)
        .map(|i| (format!("mem-{i}.json"), b"{\"Records\":[".to_vec()))
        .collect();
    for idx in order {
        let f = (rng.next() % files as u64) as usize;
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A run over files A then B (then C...), each judged against the ledgers the earlier
    /// ones left, gives exactly the findings of one run over all of them together, and
    /// redelivered records get no second finding.
    #[test]
    fn files_one_after_another_through_the_ledger_equal_one_run(
        seed in any::<u64>(),
        files in 1usize..10,
        dup_every in prop_oneof![Just(0usize), 3usize..40],
    ) {
        let sources = chronological_files(seed, files, dup_every);
        let want = findings_json(&run_paths(&[testdata("trail")], PipelineOptions::default()));
        let (got, deltas) = run_with_ledgers(&sources);
        let (got, want) = (sorted_lines(&got), sorted_lines(&want));
        let extra: Vec<&String> = got.iter().filter(|f| !want.contains(f)).collect();
        let missing: Vec<&String> = want.iter().filter(|f| !got.contains(f)).collect();
        prop_assert!(
            got == want,
            "{} findings, want {}; extra {extra:#?}; missing {missing:#?}",
            got.len(),
            want.len()
        );
        let items = sorted_lines(&run_with_items(&sources));
        prop_assert!(items == want, "the state table: {} findings, want {}", items.len(), want.len());

        // The ledgers do not depend on the order writers merged in.
        let forward: Vec<&LedgerDelta> = deltas.iter().collect();
        let mut shuffled = forward.clone();
        SplitMix(seed ^ 0x5EED).shuffle(&mut shuffled);
        prop_assert_eq!(merged(&forward), merged(&shuffled));
    }
}

/// The two copies of a cross-account call arrive in two accounts' files, in either order
/// (CloudTrail writes one file per account): the Lambda reports the call once.
#[test]
fn a_cross_account_call_split_over_two_files_is_reported_once() {
    let copy = |id: &str, acct: &str| {
        format!(
            r#"{{"Records":[{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"{id}","eventTime":"2026-04-27T10:00:00Z",
            "awsRegion":"us-east-1","recipientAccountId":"{acct}","sharedEventID":"5b1c0e4a-shared",
            "resources":[{{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:111122223333:key/k"}}],
            "userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::444455556666:assumed-role/App/s","accountId":"444455556666"}},
            "requestParameters":{{"encryptionContext":{{"aws:proton:template":"arn:aws:proton:us-east-1:111122223333:service-template/t",
            "aws:proton:resource":"arn:aws:proton:us-east-1:111122223333:service/s"}}}}}}]}}"#
        )
        .into_bytes()
    };
    let a = ("a.json".to_string(), copy("aaaa-1", "111122223333"));
    let b = ("b.json".to_string(), copy("bbbb-2", "444455556666"));
    for order in [[a.clone(), b.clone()], [b, a]] {
        let (found, _) = run_with_ledgers(&order);
        assert_eq!(found.len(), 1, "{order:?}: {found:#?}");
        assert_eq!(found[0]["rule"], "use-without-grant");
    }
}
