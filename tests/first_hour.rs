//! A new user's first hour, end to end through the `keytrail` binary: nothing a user had is
//! lost (typo paths, empty folders, garbage on stdin, an interrupted run), every exit
//! status, closed pipes, AWS configuration errors in one line, append runs, filters, and
//! the inputs a user has at hand.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir` (relative path and bytes), staging and bookkeeping included.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// A folder holding a good run's tables, and its contents.
fn good_run(tmp: &Path) -> (PathBuf, BTreeMap<PathBuf, Vec<u8>>) {
    let out = tmp.join("out");
    let o = keytrail(&[
        "analyze",
        testdata("trail").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let snap = snapshot(&out);
    assert_eq!(
        snap.keys()
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .count(),
        179,
        "the sample run writes 179 Parquet files"
    );
    (out, snap)
}

/// Nothing but `out` itself is left beside it (no staging folder).
fn no_staging_beside(out: &Path) {
    let parent = out.parent().unwrap();
    let left: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("keytrail-staging"))
        .collect();
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

#[test]
fn a_typo_an_empty_folder_or_garbage_on_stdin_leave_the_tables_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, before) = good_run(tmp.path());
    let out_s = out.to_str().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        vec!["analyze", "/nope/trail", "--out", out_s],
        vec!["analyze", empty.to_str().unwrap(), "--out", out_s],
    ] {
        let o = keytrail(&args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{out_s} was left as it was")),
            "{}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "no summary claims files were written");
        assert_eq!(snapshot(&out), before, "{args:?} changed the tables");
        no_staging_beside(&out);
    }
    let mut child = keytrail_command()
        .args(["analyze", "-", "--out", out_s])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"garbage\x00\xff not a log\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        snapshot(&out),
        before,
        "garbage on stdin changed the tables"
    );
    no_staging_beside(&out);
}

#[test]
fn staging_lives_beside_the_output_and_an_interrupted_run_removes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, before) = good_run(tmp.path());
    // A corpus that takes the debug build several seconds.
    let corpus = tmp.path().join("corpus");
    let g = keytrail(&[
        "gen",
        "--out",
        corpus.to_str().unwrap(),
        "--size-mb",
        "40",
        "--large-file-mb",
        "20",
    ]);
    assert_eq!(g.status.code(), Some(0), "{}", stderr(&g));
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let child = keytrail_command()
            .args([
                "analyze",
                corpus.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--threads",
                "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the run is writing into its staging folder.
        let staging = tmp.path().join(".out.keytrail-staging");
        let t0 = std::time::Instant::now();
        while !staging.join("kms_events").exists() {
            assert!(t0.elapsed().as_secs() < 60, "the run never staged a table");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // While it runs, the output folder holds only the old tables (readers' globs of
        // DIR never see the staging).
        assert_eq!(snapshot(&out), before);
        let k = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(k.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        let lines: Vec<String> = stderr(&o).lines().map(str::to_string).collect();
        assert_eq!(
            lines,
            [format!(
                "interrupted by SIG{signal}: nothing was written; {} is as it was",
                out.display()
            )]
        );
        assert_eq!(snapshot(&out), before, "SIG{signal} changed the tables");
        no_staging_beside(&out);
    }
}

#[test]
fn exit_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let t = testdata("trail");
    let t = t.to_str().unwrap();
    // 0: success; --help and --version too.
    assert_eq!(keytrail(&["findings", t]).status.code(), Some(0));
    assert_eq!(keytrail(&["--help"]).status.code(), Some(0));
    assert_eq!(keytrail(&["--version"]).status.code(), Some(0));
    // 1: --fail-on reached.
    assert_eq!(
        keytrail(&["findings", t, "--fail-on", "high"])
            .status
            .code(),
        Some(1)
    );
    // 2: some input unreadable, the rest processed.
    let bad = testdata("broken/not-json.json");
    assert_eq!(
        keytrail(&["findings", t, bad.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    // 3: nothing was done.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let prof = tmp.path().join("p.toml");
    std::fs::write(&prof, "[[profile]]\nname = 3\n").unwrap();
    for args in [
        vec!["analyze", "--bogus-flag"],
        vec!["findings"],
        vec!["findings", t, "--profiles", prof.to_str().unwrap()],
        vec!["findings", t, "--since", "yesterday"],
        vec!["findings", t, "--rule", "no-such-rule"],
        vec!["analyze", t, "--out", file.to_str().unwrap()],
        vec![
            "analyze",
            "/nope",
            "--out",
            tmp.path().join("o").to_str().unwrap(),
        ],
        vec!["analyze", t, "--out", "s3://"],
    ] {
        let o = keytrail(&args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"x",
        "--out FILE left the file alone"
    );
    assert!(
        !tmp.path().join("o").exists(),
        "a run that read nothing left no folder behind"
    );
    // --help documents the statuses.
    let help = String::from_utf8(keytrail(&["--help"]).stdout).unwrap();
    assert!(help.contains("3 nothing was done"), "{help}");
}

/// Reads one line of stdout, then closes it, as `| head -1` does.
fn closed_after_first_line(args: &[&str]) -> Output {
    let mut child = keytrail_command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.is_empty());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_quietly() {
    // 3,000 Proton uses no grant covers: 3,000 findings, megabytes of output, far more than
    // a pipe buffers, so keytrail is still writing when the reader goes away.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("uses.jsonl");
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!(
            concat!(
                r#"{{"eventVersion":"1.11","userIdentity":{{"type":"AWSService","invokedBy":"proton.amazonaws.com"}},"#,
                r#""eventTime":"2026-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","#,
                r#""awsRegion":"us-east-1","requestParameters":{{"encryptionContext":{{"#,
                r#""aws:proton:template":"arn:aws:proton:us-east-1:111122223333:service-template/web-svc","#,
                r#""aws:proton:resource":"arn:aws:proton:us-east-1:111122223333:service/frontend"}}}},"#,
                r#""eventID":"pipe-{:05}","resources":[{{"type":"AWS::KMS::Key","#,
                r#""ARN":"arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}}],"#,
                r#""recipientAccountId":"111122223333"}}"#,
                "\n"
            ),
            i
        ));
    }
    std::fs::write(&log, text).unwrap();
    let log = log.to_str().unwrap();
    let full = keytrail(&["findings", log, "--format", "json"]);
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    assert_eq!(String::from_utf8_lossy(&full.stdout).lines().count(), 3000);
    assert!(full.stdout.len() > 1 << 20, "{} bytes", full.stdout.len());
    // `| head -1`.
    for args in [
        vec!["findings", log, "--format", "json"],
        vec!["findings", log],
    ] {
        let o = closed_after_first_line(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
    // `| true`: stdout closed before anything is written.
    for args in [vec!["findings", log, "--format", "csv"], vec!["schema"]] {
        let mut child = keytrail_command()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn s3_without_aws_configuration_is_one_line() {
    let base = |c: &mut Command| {
        c.env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL")
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("NO_COLOR");
    };
    let mut no_region = keytrail_command();
    base(&mut no_region);
    let o = no_region
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example")
        .args(["findings", "s3://trail-bucket/AWSLogs/"])
        .output()
        .unwrap();
    let mut no_creds = keytrail_command();
    base(&mut no_creds);
    let o2 = no_creds
        .args([
            "analyze",
            "s3://trail-bucket/AWSLogs/",
            "--out",
            "s3://out-bucket/keytrail",
            "--region",
            "eu-west-1",
        ])
        .output()
        .unwrap();
    for (o, want) in [
        (&o, "error: no AWS region: set AWS_REGION or pass --region"),
        (&o2, "error: no credentials found ("),
    ] {
        assert_eq!(o.status.code(), Some(3));
        let err = stderr(o);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with(want), "{err}");
        assert!(!err.contains('{') && !err.contains('\u{1b}'), "{err}");
        assert!(lines[0].chars().count() < 400, "{err}");
    }
}

#[test]
fn profile_selects_a_named_profile_and_a_refused_connection_is_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config");
    let creds = tmp.path().join("credentials");
    std::fs::write(&config, "[profile audit]\nregion = eu-west-1\n").unwrap();
    std::fs::write(
        &creds,
        "[audit]\naws_access_key_id = AKIDAUDIT\naws_secret_access_key = audit\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut c = keytrail_command();
        c.env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Nothing listens on port 9 of loopback: the request is refused at once.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
        c.args(["findings", "s3://trail-bucket/AWSLogs/"])
            .args(extra)
            .output()
            .unwrap()
    };
    // Without --profile, the default profile does not exist: no region.
    let o = run(&[]);
    assert!(
        stderr(&o).starts_with("error: no AWS region"),
        "{}",
        stderr(&o)
    );
    // With it, region and credentials come from the profile, and the request is made.
    let o = run(&["--profile", "audit"]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: s3://trail-bucket/AWSLogs: ListObjectsV2 failed: connection failed:"
        ),
        "{err}"
    );
    assert!(
        !err.contains('{') && !err.contains("DispatchFailure"),
        "{err}"
    );
}

/// The eventIDs of a folder's kms_events table, with their counts.
fn event_ids(out: &Path) -> BTreeMap<String, usize> {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut ids = BTreeMap::new();
    for f in parquet_files(&out.join("kms_events")) {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            let b = b.unwrap();
            let col = b
                .column_by_name("event_id")
                .unwrap()
                .as_string::<i32>()
                .clone();
            for i in 0..col.len() {
                if col.is_valid(i) {
                    *ids.entry(col.value(i).to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    ids
}

/// The distinct key ARNs of a folder's kms_events table ("" for rows without one).
fn key_arns(out: &Path) -> std::collections::BTreeSet<String> {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut keys = std::collections::BTreeSet::new();
    for f in parquet_files(&out.join("kms_events")) {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            let b = b.unwrap();
            let col = b
                .column_by_name("key_arn")
                .unwrap()
                .as_string::<i32>()
                .clone();
            for i in 0..col.len() {
                keys.insert(if col.is_valid(i) {
                    col.value(i).to_string()
                } else {
                    String::new()
                });
            }
        }
    }
    keys
}

fn findings_lines(args: &[&str]) -> Vec<String> {
    let o = keytrail(args);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        stderr(&o)
    );
    let mut v: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn append_twice_over_overlapping_inputs_equals_one_run_over_the_union() {
    let tmp = tempfile::tempdir().unwrap();
    let (files, _, _) = keytrail::edge::local::collect_inputs(&[testdata("trail")]);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // A holds files 0..100, B files 60..end: 40 files in both.
    for (i, f) in files.iter().enumerate() {
        let name = format!("{i:03}-{}", f.path.file_name().unwrap().to_string_lossy());
        if i < 100 {
            std::fs::copy(&f.path, a.join(&name)).unwrap();
        }
        if i >= 60 {
            std::fs::copy(&f.path, b.join(&name)).unwrap();
        }
    }
    let out = tmp.path().join("daily");
    let o_s = out.to_str().unwrap();
    for day in [&a, &b] {
        let o = keytrail(&["analyze", day.to_str().unwrap(), "--out", o_s, "--append"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    // Filters would hide rows and findings of an append run: refused, nothing changed.
    let before = snapshot(&out);
    let o = keytrail(&[
        "analyze",
        b.to_str().unwrap(),
        "--out",
        o_s,
        "--append",
        "--key",
        "k",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--append cannot be combined with --key"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&out), before);
    // The same day again: nothing new, nothing changed.
    let before = snapshot(&out);
    let o = keytrail(&["analyze", b.to_str().unwrap(), "--out", o_s, "--append"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("nothing new"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(snapshot(&out), before);

    // A manifest keytrail cannot read stops an append run before it changes anything.
    let manifest = out.join("_keytrail/sources.jsonl");
    let good = std::fs::read(&manifest).unwrap();
    std::fs::write(
        &manifest,
        b"{\"source\":\"x\",\"size\":1,\"run\":\"r\"}\nnot json\n",
    )
    .unwrap();
    let before = snapshot(&out);
    let o = keytrail(&["analyze", b.to_str().unwrap(), "--out", o_s, "--append"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!("error: {}: line 2: ", manifest.display())),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&out), before);
    std::fs::write(&manifest, good).unwrap();
    // A filtered run records no source, so a later --append reads them all again.
    let filtered = tmp.path().join("filtered");
    let f_s = filtered.to_str().unwrap();
    let o = keytrail(&[
        "analyze",
        a.to_str().unwrap(),
        "--out",
        f_s,
        "--since",
        "2025-03-05",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(filtered.join("_keytrail/sources.jsonl")).unwrap(),
        ""
    );
    let o = keytrail(&["analyze", a.to_str().unwrap(), "--out", f_s, "--append"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!String::from_utf8_lossy(&o.stdout).starts_with("nothing new"));

    let whole = tmp.path().join("whole");
    let o = keytrail(&[
        "analyze",
        testdata("trail").to_str().unwrap(),
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (ids, whole_ids) = (event_ids(&out), event_ids(&whole));
    assert!(
        ids.values().all(|&n| n == 1),
        "an eventID twice: {:?}",
        ids.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        whole_ids.keys().collect::<Vec<_>>()
    );
    // The findings: from the appended tables, from the findings table, and from the logs.
    let from_logs = findings_lines(&[
        "findings",
        testdata("trail").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(from_logs.len(), expected_findings().len());
    assert_eq!(
        findings_lines(&["findings", "--tables", o_s, "--format", "json"]),
        from_logs
    );
    // The derived findings table was recomputed over the whole history, not the last day.
    let findings_rows: usize = parquet_files(&out.join("findings"))
        .iter()
        .map(|f| {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(f).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum::<usize>()
        })
        .sum();
    assert_eq!(findings_rows, expected_findings().len());
}

#[test]
fn findings_on_a_folder_of_tables_recomputes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = good_run(tmp.path());
    let o = keytrail(&["findings", out.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("holds keytrail tables: recomputing the findings from them"));
    let mut got: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    assert_eq!(
        got,
        findings_lines(&[
            "findings",
            "--tables",
            out.to_str().unwrap(),
            "--format",
            "json"
        ])
    );
    assert_eq!(got.len(), expected_findings().len());
    // analyze on it stops with the hint, and changes nothing.
    let o = keytrail(&[
        "analyze",
        out.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("keytrail findings --tables"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_summary_says_how_to_list_the_findings_and_counts_skipped_files() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let (files, _, _) = keytrail::edge::local::collect_inputs(&[testdata("trail")]);
    let plain = files
        .iter()
        .find(|f| !f.path.display().to_string().contains("CloudTrail-"))
        .unwrap();
    // A log named *.log is read; a README beside it is skipped and counted.
    let bytes = std::fs::read(&plain.path).unwrap();
    std::fs::write(input.join("trail.log"), &bytes).unwrap();
    std::fs::write(input.join("README.txt"), b"not a log").unwrap();
    let out = tmp.path().join("out");
    let o = keytrail(&[
        "analyze",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(
        s.starts_with("files: 1 read, 1 skipped (1 by name, 0 digest or insight)"),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "(list them: keytrail findings --tables {})",
            out.display()
        )),
        "{s}"
    );
    assert!(stderr(&o).contains("README.txt: not a *.json, *.jsonl, *.log or *.gz file"));
    // --quiet drops the note.
    let o = keytrail(&[
        "analyze",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn filters_restrict_the_input_by_key_and_the_output_by_time_rule_and_severity() {
    let t = testdata("trail");
    let t = t.to_str().unwrap();
    let all: Vec<serde_json::Value> = findings_lines(&["findings", t, "--format", "json"])
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["findings", t, "--format", "json"];
        args.extend_from_slice(extra);
        findings_lines(&args)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let sorted = |mut v: Vec<serde_json::Value>| {
        v.sort_by_key(|f| f.to_string());
        v
    };
    // A key's findings are the same whether or not the other keys were read.
    let key = all[0]["key_arn"].as_str().unwrap().to_string();
    let key_id = key.rsplit('/').next().unwrap().to_string();
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["key_arn"] == key.as_str())
        .cloned()
        .collect();
    assert!(!want.is_empty() && want.len() < all.len());
    assert_eq!(sorted(lines(&["--key", &key])), sorted(want.clone()));
    assert_eq!(sorted(lines(&["--key", &key_id])), sorted(want));
    let account = key.split(':').nth(4).unwrap().to_string();
    let want: Vec<_> = all
        .iter()
        .filter(|f| {
            f["key_arn"]
                .as_str()
                .is_some_and(|k| k.split(':').nth(4) == Some(account.as_str()))
        })
        .cloned()
        .collect();
    assert_eq!(sorted(lines(&["--account", &account])), sorted(want));
    // Filtering by key restricts the input: other keys' events are not in the tables.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = keytrail(&["analyze", t, "--out", out.to_str().unwrap(), "--key", &key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("KMS events left out"));
    let keys = key_arns(&out);
    assert!(keys.contains(&key), "{keys:?}");
    assert!(keys.iter().all(|k| k == &key || k.is_empty()), "{keys:?}");
    // --since keeps the history before it: the findings after T are those of the full run,
    // among them the use at 10:30:00 that a DisableKey at 10:20 (before T) explains.
    let since = "2025-03-04T10:30:00Z";
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["event_time"].as_str().unwrap() >= since)
        .cloned()
        .collect();
    assert!(!want.is_empty() && want.len() < all.len());
    assert!(want
        .iter()
        .any(|f| f["event_id"].as_str().unwrap().starts_with("02000012-")
            && f["rule"] == "use-after-key-disabled"));
    assert_eq!(sorted(lines(&["--since", since])), sorted(want));
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["event_time"].as_str().unwrap() < "2025-03-05")
        .cloned()
        .collect();
    assert_eq!(sorted(lines(&["--until", "2025-03-04"])), sorted(want));
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["rule"] == "denied-by-key-state")
        .cloned()
        .collect();
    assert_eq!(
        sorted(lines(&["--rule", "denied-by-key-state"])),
        sorted(want)
    );
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["severity"] != "low")
        .cloned()
        .collect();
    assert_eq!(sorted(lines(&["--severity", "medium"])), sorted(want));
}

#[test]
fn lookup_events_output_yields_its_kms_events() {
    // `aws cloudtrail lookup-events` output: three KMS events and one of another service,
    // over two concatenated pages (see the fixture).
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let input = testdata("formats/lookup-events.json");
    let o = keytrail(&[
        "analyze",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(
        s.contains("records: 4 (0 invalid, 1 other services, 0 insight); KMS records 3"),
        "{s}"
    );
    let ids: Vec<String> = event_ids(&out).into_keys().collect();
    assert_eq!(
        ids,
        [
            "91000001-6a2e-4c1b-8f3d-2b7e9c0a4d15",
            "91000002-b4c7-4e9a-a1f0-5d3e8c2b7a61",
            "91000003-2f6d-4a8e-b3c9-7e1a4d0b5c28"
        ]
    );
}
