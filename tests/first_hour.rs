//! A new user's first hour, end to end through the `keytrail` binary: nothing a user had is
//! lost (typo paths, empty folders, garbage on stdin, an interrupted run), every exit
//! status, closed pipes, and AWS configuration errors in one line. Append runs, filters and
//! the inputs a user has at hand are in `tests/first_hour_runs.rs`; the shared helpers in
//! `tests/common/first_hour.rs`.

mod common;

use common::first_hour::*;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

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
    assert_exit(&o, 3);
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
    assert_exit(&g, 0);
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
    assert_exit(&full, 0);
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
        without_aws_env(c)
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
        without_aws_env(&mut c)
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
