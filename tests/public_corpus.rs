//! keytrail over real CloudTrail records written by others (testdata/public, see its
//! SOURCES.md for whose and under which licence): no panic, every record parsed or reported, every KMS record
//! classified, counts asserted.

mod common;

use common::*;
use keytrail::pipeline::PipelineOptions;
use std::path::PathBuf;

/// The public corpus, committed in testdata/public (see its SOURCES.md). Missing files fail
/// the tests: there is nothing to skip.
fn corpus() -> PathBuf {
    let dir = root().join("testdata/public");
    assert!(
        dir.join("records.jsonl").is_file() && dir.join("kms-records.jsonl").is_file(),
        "{}: the public corpus is missing",
        dir.display()
    );
    dir
}

#[test]
fn public_corpus_runs_clean_with_known_counts() {
    let dir = corpus();
    let r = run_paths(std::slice::from_ref(&dir), PipelineOptions::default());
    let s = &r.stats;
    assert_eq!(
        s.files_read, 37,
        "2 JSON Lines files + 35 stratus-red-team arrays"
    );
    assert_eq!(s.files_failed, 0);
    assert_eq!(s.records_invalid, 0, "every record parses");
    // SOURCES.md says 309 stratus-red-team records; the files hold 310.
    assert_eq!(s.records, 1358 + 94 + 310, "{s:?}");
    assert_eq!(s.kms_records, 198);
    assert_eq!(s.kms_events, 84, "distinct eventIDs among the KMS records");
    assert_eq!(s.duplicates, 114);
    assert_eq!(
        s.key_use_events + s.grant_events + s.key_state_events + s.other_kms_events,
        s.kms_events,
        "every KMS event classified"
    );
    assert_eq!(
        (
            s.key_use_events,
            s.grant_events,
            s.key_state_events,
            s.other_kms_events
        ),
        // ReplicateKey, UpdatePrimaryRegion (twice) and ConnectCustomKeyStore change key
        // states (KMS Developer Guide, "Key states of AWS KMS keys").
        (36, 5, 14, 29)
    );
    assert_eq!(
        s.records,
        s.kms_records + s.other_service_records + s.insight_records
    );
    // The documentation examples reuse one key across years: the rules see its
    // ScheduleKeyDeletion/DisableKey and flag later uses of it. 23: the ImportKeyMaterial
    // of 2020-07-26 no longer re-enables the key that DisableKey left Disabled in 2014 (an
    // import makes only a PendingImport key usable), so a GenerateDataKeyPair on
    // 2020-07-27 is flagged too.
    assert_eq!(r.findings.len(), 23);
    assert!(r
        .findings
        .iter()
        .all(|f| f.rule == keytrail::audit::rules::Rule::UseAfterKeyDisabled));
}

#[test]
fn kms_records_file_alone() {
    let dir = corpus();
    let r = run_paths(&[dir.join("kms-records.jsonl")], PipelineOptions::default());
    assert_eq!(r.stats.records, 94);
    assert_eq!(r.stats.kms_records, 94);
    assert_eq!(r.stats.records_invalid, 0);
    assert_eq!(r.stats.kms_events + r.stats.duplicates, 94);
}
