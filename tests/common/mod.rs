//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use keytrail::edge::local::collect_inputs;
use keytrail::error::InputError;
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport};
use keytrail::read::logfile::{read_log, ReadOptions, RecordPos, RecordSink};
use keytrail::tables::writer::NoStore;
use std::path::{Path, PathBuf};

mod ledger;
#[allow(unused_imports)]
pub use ledger::*;

// The helpers of one group of test files each, used by their path (`use common::cli::*;`).
pub mod cli;
pub mod first_hour;
pub mod hostile;

/// The `keytrail` binary, without colour or extra logging.
pub fn keytrail_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_keytrail"));
    c.env("NO_COLOR", "1")
        .env_remove("KEYTRAIL_LOG")
        .env_remove("KEYTRAIL_SPILL_BUDGET");
    c
}

/// Clears the AWS settings a developer's shell may carry (region, profile, credentials), so
/// a test sees only what it sets.
pub fn without_aws_env(c: &mut std::process::Command) -> &mut std::process::Command {
    for var in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        c.env_remove(var);
    }
    c
}

/// Asserts that a run exited with `code`, showing its stderr when it did not.
pub fn assert_exit(o: &std::process::Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// testdata/trail's CloudTrail log files (no digest or insight files), in path order.
pub fn trail_log_files() -> Vec<PathBuf> {
    let (files, _, _) = collect_inputs(&[testdata("trail")]);
    files
        .into_iter()
        .map(|f| f.path)
        .filter(|p| !p.display().to_string().contains("CloudTrail-"))
        .collect()
}

/// A new empty folder `name` under `root`.
pub fn new_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `keytrail analyze INPUT --out OUT EXTRA...` to its end.
pub fn analyze_to(input: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "analyze",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    keytrail(&args)
}

/// Runs `keytrail findings --tables OUT --format json` to its end.
pub fn tables_findings_json(out: &Path) -> std::process::Output {
    keytrail(&[
        "findings",
        "--tables",
        out.to_str().unwrap(),
        "--format",
        "json",
    ])
}

/// Runs `keytrail ARGS` to its end.
pub fn keytrail(args: &[&str]) -> std::process::Output {
    keytrail_command()
        .args(args)
        .output()
        .expect("run keytrail")
}

/// Every file under `dir`, recursively, in path order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn testdata(rel: &str) -> PathBuf {
    root().join("testdata").join(rel)
}

/// Runs the pipeline over files and folders, computing findings only.
pub fn run_paths(paths: &[PathBuf], opts: PipelineOptions) -> RunReport {
    let (files, _skipped, errors) = collect_inputs(paths);
    assert!(errors.is_empty(), "{errors:?}");
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    for f in files {
        let file = std::fs::File::open(&f.path).unwrap();
        p.ingest(&mut NoStore, &f.path.display().to_string(), file)
            .unwrap();
    }
    p.finish(&mut NoStore).unwrap()
}

/// Runs the pipeline over in-memory sources.
pub fn run_sources(sources: &[(String, Vec<u8>)], opts: PipelineOptions) -> RunReport {
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    for (name, bytes) in sources {
        let o = p.ingest(&mut NoStore, name, &bytes[..]).unwrap();
        assert!(o.failure.is_none(), "{:?}", o.failure);
    }
    p.finish(&mut NoStore).unwrap()
}

#[derive(Default)]
struct Collect(Vec<Vec<u8>>);
impl RecordSink for Collect {
    fn record(&mut self, _pos: RecordPos, bytes: &[u8]) {
        self.0.push(bytes.to_vec());
    }
    fn record_error(&mut self, error: InputError) {
        panic!("{error}");
    }
}

/// A CloudTrail log file's body: `{"Records":[r0,r1,...]}`.
pub fn records_file<R: AsRef<[u8]>>(records: &[R]) -> Vec<u8> {
    let mut out = b"{\"Records\":[".to_vec();
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r.as_ref());
    }
    out.extend_from_slice(b"]}");
    out
}

/// Every record (as bytes) of every log file under `dir`, digest and insight files excluded.
pub fn all_records(dir: &Path) -> Vec<Vec<u8>> {
    let (files, _, _) = collect_inputs(&[dir.to_path_buf()]);
    let mut c = Collect::default();
    for f in files {
        let name = f.path.display().to_string();
        if keytrail::read::logfile::skip_reason_for_name(&name).is_some() {
            continue;
        }
        let file = std::fs::File::open(&f.path).unwrap();
        read_log(&name, file, &ReadOptions::default(), &mut c).unwrap();
    }
    c.0
}

/// The findings as JSON values (the `--format json` shape).
pub fn findings_json(r: &RunReport) -> Vec<serde_json::Value> {
    r.findings
        .iter()
        .map(|f| serde_json::to_value(f).unwrap())
        .collect()
}

/// The expected findings of testdata/trail.
pub fn expected_findings() -> Vec<serde_json::Value> {
    std::fs::read_to_string(testdata("expected/findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every `.parquet` file under `dir` (recursively), in path order; none when it is missing.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(parquet_files(&p));
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
