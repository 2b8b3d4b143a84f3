//! The tables the `keytrail` binary writes: rerun determinism (the same bytes for any
//! `--threads`, a rerun replaces rather than mixes), the summary's counts, findings
//! recomputed from the written tables equal to those from the logs, and `--baseline`
//! snapshots judged alike from logs and tables. The shared helpers are in
//! `tests/common/cli.rs`.

mod common;

use common::cli::*;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every Parquet file of the tables under `root`: its path under `root` and its bytes.
fn table_files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
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
}

#[test]
fn a_file_of_many_chunks_writes_the_same_bytes_at_any_thread_count() {
    // A generated corpus whose largest file (4 MB) holds thousands of records: several
    // chunks of one source, decoded on different threads, must be applied in order.
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let g = keytrail(&[
        "gen",
        "--out",
        corpus.to_str().unwrap(),
        "--size-mb",
        "8",
        "--large-file-mb",
        "4",
        "--seed",
        "3",
    ]);
    assert_exit(&g, 0);
    let one = tmp.path().join("t1");
    assert_exit(&analyze_to(&corpus, &one, &["--threads", "1"]), 0);
    let written = table_files(&one);
    assert!(written.len() > 3, "{} files", written.len());
    for threads in ["2", "3"] {
        let out = tmp.path().join(format!("t{threads}"));
        assert_exit(&analyze_to(&corpus, &out, &["--threads", threads]), 0);
        assert!(
            table_files(&out) == written,
            "--threads {threads} writes other bytes"
        );
    }
}

#[test]
fn analyze_is_deterministic_and_a_rerun_replaces_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let t = testdata("trail");
    let mut summary = String::new();
    for out in [&a, &b] {
        let o = analyze_to(&t, out, &[]);
        assert_exit(&o, 0);
        summary = String::from_utf8(o.stdout).unwrap();
    }
    summary_counts_calls_and_severities(&summary);
    let la = table_files(&a);
    assert!(!la.is_empty());
    assert_eq!(la, table_files(&b), "same input, same file names and bytes");
    for threads in ["1", "3"] {
        let c = tmp.path().join(format!("t{threads}"));
        let o = analyze_to(&t, &c, &["--threads", threads]);
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(
            table_files(&c),
            la,
            "--threads {threads} writes the same files"
        );
    }
    // A rerun with less input replaces, not mixes.
    let formats = testdata("formats");
    let o = analyze_to(&formats, &a, &[]);
    assert_eq!(o.status.code(), Some(0));
    let rows = table_rows(&a);
    // formats/: the 5 records in every layout, 3 KMS events of lookup-events.json and 4 of
    // lake-query-results.json.
    assert_eq!(rows["kms_events"], 12);
    assert_eq!(rows["findings"], 0);
    assert!(!a.join(".keytrail-staging").exists());
}

#[test]
fn findings_recomputed_from_written_tables_equal_those_from_the_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let t = testdata("trail");
    let o = analyze_to(&t, &out, &[]);
    assert_eq!(o.status.code(), Some(0));
    let from_logs = keytrail(&["findings", t.to_str().unwrap(), "--format", "json"]).stdout;
    let from_tables = tables_findings_json(&out);
    assert_exit(&from_tables, 0);
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
    assert_exit(&o, 0);
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

/// Runs `keytrail ARGS` spilling key uses and eventID digests every `budget`; returns the
/// output and how many runs of uses and of digests it spilled (from its debug log).
fn spilled(args: &[&str], budget: &str) -> (std::process::Output, usize, usize) {
    let o = keytrail_command()
        .env("KEYTRAIL_SPILL_BUDGET", budget)
        .env("KEYTRAIL_LOG", "keytrail=debug")
        .args(args)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).to_string();
    let line = log
        .lines()
        .find(|l| l.contains(" spilled runs="))
        .unwrap_or_else(|| panic!("no spill line in {log}"));
    let field = |name: &str| -> usize {
        let (_, rest) = line.split_once(name).unwrap();
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (o, field(" runs="), field(" digest_runs="))
}

#[test]
fn key_uses_and_event_ids_spilled_to_disk_give_the_same_findings_and_tables() {
    let tmp = tempfile::tempdir().unwrap();
    for input in ["trail", "public"] {
        let t = testdata(input);
        let t = t.to_str().unwrap();
        let whole = tmp.path().join(format!("{input}-whole"));
        assert_exit(&analyze_to(Path::new(t), &whole, &[]), 0);
        let want_findings = keytrail(&["findings", t, "--format", "json"]);
        assert!(!want_findings.stdout.is_empty());
        for budget in ["1", "3"] {
            let out = tmp.path().join(format!("{input}-{budget}"));
            let (o, runs, digests) =
                spilled(&["analyze", t, "--out", out.to_str().unwrap()], budget);
            assert_exit(&o, 0);
            assert!(runs > 2, "{input}: {runs} runs at budget {budget}");
            assert!(
                digests > 2,
                "{input}: {digests} digest runs at budget {budget}"
            );
            assert!(
                table_files(&out) == table_files(&whole),
                "{input}: spilling every {budget} uses writes other tables"
            );
            let (f, _, _) = spilled(&["findings", t, "--format", "json"], budget);
            assert_eq!(f.stdout, want_findings.stdout, "{input}, budget {budget}");
            assert_eq!(f.status.code(), want_findings.status.code());
            // Read back from the tables, a batch at a time, the same again.
            let (f, runs, digests) = spilled(
                &[
                    "findings",
                    "--tables",
                    out.to_str().unwrap(),
                    "--format",
                    "json",
                ],
                budget,
            );
            assert!(runs > 2 && digests > 2);
            assert_eq!(
                f.stdout,
                tables_findings_json(&whole).stdout,
                "{input} tables, budget {budget}"
            );
        }
    }
}

#[test]
fn a_run_without_a_temporary_folder_holds_its_uses_in_memory_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let t = testdata("trail");
    let want = keytrail(&["findings", t.to_str().unwrap(), "--format", "json"]);
    let o = keytrail_command()
        .env("TMPDIR", &not_a_dir)
        .args(["findings", t.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), want.status.code());
    assert_eq!(o.stdout, want.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("note: no temporary folder to spill to"),
        "{err}"
    );
}
