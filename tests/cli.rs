//! The `keytrail` binary end to end: exit codes, error lines, output formats, written
//! tables and rerun determinism.

mod common;

use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The record batches of one table, read back from its Parquet files.
fn batches(out: &Path, table: &str) -> Vec<arrow::record_batch::RecordBatch> {
    parquet_files(&out.join(table))
        .iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
        })
        .collect()
}

/// Rows per table, read back from the Parquet files.
fn table_rows(out: &Path) -> BTreeMap<String, usize> {
    keytrail::tables::schema::TABLES
        .iter()
        .map(|t| {
            let n = batches(out, t.name).iter().map(|b| b.num_rows()).sum();
            (t.name.to_string(), n)
        })
        .collect()
}

#[test]
fn truncated_gzip_among_good_files_exits_2_and_writes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Three good log files with KMS events, and the truncated one between them.
    let (files, _, _) = keytrail::edge::local::collect_inputs(&[testdata("trail")]);
    let good: Vec<PathBuf> = files
        .iter()
        .map(|f| f.path.clone())
        .filter(|p| !p.display().to_string().contains("CloudTrail-"))
        .take(3)
        .collect();
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
    let o = keytrail(&[
        "analyze",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
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
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
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
fn analyze_is_deterministic_and_a_rerun_replaces_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let t = testdata("trail");
    let mut summary = String::new();
    for out in [&a, &b] {
        let o = keytrail(&[
            "analyze",
            t.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        summary = String::from_utf8(o.stdout).unwrap();
    }
    summary_counts_calls_and_severities(&summary);
    let list = |root: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        keytrail::tables::schema::TABLES
            .iter()
            .flat_map(|t| parquet_files(&root.join(t.name)))
            .map(|p| {
                (
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    };
    let la = list(&a);
    assert!(!la.is_empty());
    assert_eq!(la, list(&b), "same input, same file names and bytes");
    for threads in ["1", "3"] {
        let c = tmp.path().join(format!("t{threads}"));
        let o = keytrail(&[
            "analyze",
            t.to_str().unwrap(),
            "--out",
            c.to_str().unwrap(),
            "--threads",
            threads,
        ]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(list(&c), la, "--threads {threads} writes the same files");
    }
    // A rerun with less input replaces, not mixes.
    let formats = testdata("formats");
    let o = keytrail(&[
        "analyze",
        formats.to_str().unwrap(),
        "--out",
        a.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let rows = table_rows(&a);
    // formats/: the 5 records in every layout, 3 KMS events of lookup-events.json and 4 of
    // lake-query-results.json.
    assert_eq!(rows["kms_events"], 12);
    assert_eq!(rows["findings"], 0);
    assert!(!a.join(".keytrail-staging").exists());
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

#[test]
fn findings_recomputed_from_written_tables_equal_those_from_the_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let t = testdata("trail");
    let o = keytrail(&[
        "analyze",
        t.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let from_logs = keytrail(&["findings", t.to_str().unwrap(), "--format", "json"]).stdout;
    let from_tables = keytrail(&[
        "findings",
        "--tables",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(
        from_tables.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_tables.stderr)
    );
    assert_eq!(
        String::from_utf8(from_tables.stdout).unwrap(),
        String::from_utf8(from_logs).unwrap()
    );
}

/// The summary counts calls (copies of a cross-account call once) and gives each rule's
/// severities, as testdata/expected says.
fn summary_counts_calls_and_severities(summary: &str) {
    let counts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata("expected").join("counts.json")).unwrap())
            .unwrap();
    let c = &counts["kms_by_category"];
    let calls = format!(
        "KMS calls: {} key use, {} grant, {} key state, {} other;",
        c["use"], c["grant"], c["key_state"], c["other"]
    );
    assert!(summary.contains(&calls), "{calls} in\n{summary}");
    let copies = format!(
        "cross-account copies: {} events",
        counts["cross_account_copies_folded"]
    );
    assert!(summary.contains(&copies), "{copies} in\n{summary}");
    // Each rule's line lists its severities, highest first, from the expected findings.
    let expected = std::fs::read_to_string(testdata("expected").join("findings.jsonl")).unwrap();
    let findings: Vec<serde_json::Value> = expected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for rule in keytrail::audit::rules::Rule::ALL {
        let of_rule: Vec<&serde_json::Value> = findings
            .iter()
            .filter(|f| f["rule"] == rule.as_str())
            .collect();
        let by: Vec<(usize, &str)> = ["high", "medium", "low"]
            .into_iter()
            .map(|s| (of_rule.iter().filter(|f| f["severity"] == s).count(), s))
            .filter(|(n, _)| *n > 0)
            .collect();
        let severities = match by.as_slice() {
            [] => rule.severity().as_str().to_string(),
            [(_, s)] => s.to_string(),
            many => many
                .iter()
                .map(|(n, s)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let line = format!("  {:<30} {:>6}  {severities}", rule.as_str(), of_rule.len());
        assert!(summary.lines().any(|l| l == line), "{line:?} in\n{summary}");
    }
}

/// `--baseline`: the snapshots' findings from the logs equal those from the written tables;
/// the snapshot's grants are rows of `grants` with source `snapshot`; a snapshot that cannot
/// be read is one line and exit 3, with nothing written.
#[test]
fn baselines_judge_logs_and_tables_alike_and_a_bad_one_stops_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let t = testdata("trail");
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(testdata("baseline"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    snaps.sort();
    let mut flags: Vec<String> = Vec::new();
    for s in &snaps {
        flags.push("--baseline".into());
        flags.push(s.display().to_string());
    }
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(flags.iter().map(String::as_str));
        keytrail(&all)
    };
    let o = with(&[
        "analyze",
        t.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        summary.contains("grant-missing-from-trail            3  low"),
        "{summary}"
    );
    assert!(
        summary.contains("state-disagrees-with-snapshot       1  medium"),
        "{summary}"
    );
    let from_logs = with(&["findings", t.to_str().unwrap(), "--format", "json"]);
    let from_tables = with(&[
        "findings",
        "--tables",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(from_tables.status.code(), Some(0));
    assert_eq!(from_logs.stdout, from_tables.stdout);
    let n = String::from_utf8_lossy(&from_logs.stdout).lines().count();
    let want = std::fs::read_to_string(testdata("expected/findings_with_baseline.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(n, want, "testdata/expected/findings_with_baseline.jsonl");
    // Snapshot grants the trail never created are rows with source `snapshot`.
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    for b in batches(&out, "grants") {
        let col = b.column_by_name("source").unwrap();
        let col = col
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        for v in col.iter().flatten() {
            *sources.entry(v.to_string()).or_default() += 1;
        }
    }
    // testdata/README.md ("Baseline"): G6s, G4s, K14's two audit grants and K25's two
    // grants are listed by a snapshot and never created in the trail.
    assert_eq!(sources.get("snapshot").copied(), Some(6), "{sources:?}");
    assert!(
        sources.get("trail").copied().unwrap_or(0) > 10,
        "{sources:?}"
    );
    // A snapshot that cannot be read: one line naming it, exit 3, nothing written.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"keys": 5}"#).unwrap();
    let out2 = tmp.path().join("out2");
    let o = keytrail(&[
        "analyze",
        t.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--baseline",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    let lines = stderr_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("--baseline") && lines[0].contains("bad.json"),
        "{lines:?}"
    );
    assert!(!out2.exists());
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
