//! The `keytrail` binary end to end: exit codes, error lines, help, output formats (the
//! table is an insta snapshot), stdin, profiles files and `state migrate` mistakes. The
//! written tables, rerun determinism and baselines are in `tests/cli_tables.rs`; the shared
//! helpers in `tests/common/cli.rs`.

mod common;

use common::cli::*;
use common::*;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn truncated_gzip_among_good_files_exits_2_and_writes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let input = new_dir(tmp.path(), "in");
    // Three good log files with KMS events, and the truncated one between them.
    let good: Vec<PathBuf> = trail_log_files().into_iter().take(3).collect();
    for (i, g) in good.iter().enumerate() {
        std::fs::copy(g, input.join(format!("{i}-good.json.gz"))).unwrap();
    }
    std::fs::copy(
        testdata("broken/truncated.json.gz"),
        input.join("1a-bad.json.gz"),
    )
    .unwrap();
    let good_only = run_paths(&good, Default::default());
    assert!(good_only.stats.kms_events > 0);

    let out = tmp.path().join("out");
    let o = analyze_to(&input, &out, &[]);
    assert_exit(&o, 2);
    let errors: Vec<String> = stderr_lines(&o)
        .into_iter()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("1a-bad.json.gz"), "{}", errors[0]);
    assert!(errors[0].contains("corrupt gzip"), "{}", errors[0]);
    let rows = table_rows(&out);
    assert!(
        rows["kms_events"] >= good_only.stats.kms_events as usize,
        "{rows:?} vs {}",
        good_only.stats.kms_events
    );
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("files: 4 read, 0 skipped (0 by name, 0 digest or insight), 1 failed"),
        "{summary}"
    );
}

#[test]
fn not_json_is_one_error_line_and_exit_2() {
    let o = keytrail(&[
        "findings",
        testdata("broken/not-json.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let lines = stderr_lines(&o);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].starts_with("note: the inputs held no CloudTrail record"),
        "{}",
        lines[1]
    );
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("not-json.json: line 1, column 1"),
        "{}",
        lines[0]
    );
}

#[test]
fn fail_on_sets_exit_1_and_input_errors_win() {
    let trail = testdata("trail");
    let t = trail.to_str().unwrap();
    assert_eq!(
        keytrail(&["findings", t, "--format", "json"]).status.code(),
        Some(0)
    );
    assert_eq!(
        keytrail(&["findings", t, "--fail-on", "high"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        keytrail(&["findings", t, "--fail-on", "low"]).status.code(),
        Some(1)
    );
    let formats = testdata("formats");
    assert_eq!(
        keytrail(&["findings", formats.to_str().unwrap(), "--fail-on", "low"])
            .status
            .code(),
        Some(0),
        "the format samples hold no findings"
    );
    let bad = testdata("broken/not-json.json");
    assert_eq!(
        keytrail(&["findings", t, bad.to_str().unwrap(), "--fail-on", "high"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn help_documents_every_flag() {
    let a = String::from_utf8(keytrail(&["analyze", "--help"]).stdout).unwrap();
    for flag in [
        "--out",
        "--profiles",
        "--grace",
        "--fail-on",
        "--no-progress",
        "--max-source-bytes",
        "--max-inflation",
        "INPUT",
    ] {
        assert!(a.contains(flag), "analyze --help lacks {flag}");
    }
    let f = String::from_utf8(keytrail(&["findings", "--help"]).stdout).unwrap();
    for flag in ["--format", "--profiles", "--grace", "--fail-on"] {
        assert!(f.contains(flag), "findings --help lacks {flag}");
    }
}

#[test]
fn json_csv_and_table_outputs_agree() {
    let t = testdata("trail");
    let json =
        String::from_utf8(keytrail(&["findings", t.to_str().unwrap(), "--format", "json"]).stdout)
            .unwrap();
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), expected_findings().len());
    // Fields in the documented order (serde_json's Value would sort them, so read the text).
    let first = json.lines().next().unwrap();
    let mut keys: Vec<(usize, &str)> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (first.find(&format!("\"{k}\":")).unwrap(), k.as_str()))
        .collect();
    keys.sort();
    let keys: Vec<&str> = keys.into_iter().map(|(_, k)| k).collect();
    assert_eq!(
        keys,
        [
            "rule",
            "severity",
            "authorization",
            "event_id",
            "event_time",
            "event_name",
            "key_arn",
            "account_id",
            "region",
            "principal",
            "proton_template",
            "proton_resource",
            "related_event_ids",
            "message",
            "advice"
        ]
    );
    let csv =
        String::from_utf8(keytrail(&["findings", t.to_str().unwrap(), "--format", "csv"]).stdout)
            .unwrap();
    assert_eq!(csv.lines().count(), lines.len() + 1);
    let table = String::from_utf8(keytrail(&["findings", t.to_str().unwrap()]).stdout).unwrap();
    // Within 120 columns, with every finding's template and resource on a line of its own.
    for line in table.lines() {
        assert!(
            line.chars().count() <= 120,
            "{} wide: {line}",
            line.chars().count()
        );
    }
    for f in &lines {
        for col in ["proton_template", "proton_resource"] {
            if let Some(v) = f[col].as_str() {
                let label = &col["proton_".len()..];
                assert!(
                    table
                        .lines()
                        .any(|l| l.trim_start().starts_with(label) && l.ends_with(v)),
                    "{col} {v} not on its own line"
                );
            }
        }
    }
    insta::assert_snapshot!("testdata_findings_table", table);
}

#[test]
fn stdin_is_read_with_dash() {
    // formats/lines.jsonl.gz: five JSON Lines records, every one a KMS call (4 key uses and
    // a CreateGrant), all with distinct eventIDs.
    let bytes = std::fs::read(testdata("formats/lines.jsonl.gz")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let tables = out.path().join("tables");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keytrail"))
        .args(["analyze", "-", "--no-progress", "--out"])
        .arg(&tables)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let o = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&o.stdout);
    assert_exit(&o, 0);
    assert!(summary.starts_with("files: 1 read, 0 skipped"), "{summary}");
    assert!(
        summary.contains("records: 5 (0 invalid, 0 other services, 0 insight); KMS records 5, distinct KMS calls 5"),
        "{summary}"
    );
    assert!(
        summary.contains("KMS calls: 4 key use, 1 grant, 0 key state"),
        "{summary}"
    );
    assert!(tables.join("kms_events").is_dir(), "{summary}");
}

#[test]
fn profiles_file_adds_a_profile_and_bad_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let prof = tmp.path().join("p.toml");
    std::fs::write(&prof, "[[profile]]\nname = \"acme\"\ntemplate_key = \"acme:app\"\nresource_key = \"acme:tenant\"\n").unwrap();
    let log = tmp.path().join("acme.json");
    std::fs::write(
        &log,
        r#"{"Records":[{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2026-01-01T00:00:00Z","eventID":"a1","awsRegion":"us-east-1","recipientAccountId":"1",
        "resources":[{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:1:key/k"}],"requestParameters":{"encryptionContext":{"acme:app":"billing","acme:tenant":"t1"}},
        "userIdentity":{"type":"AWSService","invokedBy":"acme.amazonaws.com"}}]}"#,
    )
    .unwrap();
    let o = keytrail(&[
        "findings",
        log.to_str().unwrap(),
        "--format",
        "json",
        "--profiles",
        prof.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let f: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    assert_eq!(f["rule"], "use-without-grant");
    assert_eq!(f["proton_template"], "billing");
    // Without the profile, the same context is not a profile context: no finding.
    let o = keytrail(&["findings", log.to_str().unwrap(), "--format", "json"]);
    assert!(o.stdout.is_empty());
    std::fs::write(&prof, "[[profile]]\nname = 3\n").unwrap();
    let o = keytrail(&[
        "findings",
        log.to_str().unwrap(),
        "--profiles",
        prof.to_str().unwrap(),
    ]);
    // A bad profiles file is a configuration error: nothing was done.
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("p.toml: invalid profiles TOML"), "{err}");
}

/// `keytrail state migrate` refuses what cannot be a ledger location or a table, and an
/// unknown AWS profile, in one line with exit 3, before any request.
#[test]
fn state_migrate_mistakes_are_one_line_and_exit_3() {
    for (args, says) in [
        (
            vec![
                "state",
                "migrate",
                "--ledgers",
                "bucket/prefix",
                "--table",
                "t",
            ],
            "expected s3://bucket/prefix",
        ),
        (
            vec!["state", "migrate", "--ledgers", "s3://b/p", "--table", " "],
            "--table must name the state table",
        ),
        (
            vec![
                "state",
                "migrate",
                "--ledgers",
                "s3://b/p",
                "--table",
                "t",
                "--profile",
                "keytrail-no-such-profile",
            ],
            // No region or no credentials through that profile, whichever comes first.
            "AWS",
        ),
    ] {
        let o = common::keytrail(&args);
        let err = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err:?}");
        assert_eq!(err.len(), 1, "{args:?}: {err:?}");
        assert!(
            err[0].starts_with("error: ") && err[0].contains(says),
            "{args:?}: {err:?}"
        );
        assert!(o.stdout.is_empty());
    }
}
