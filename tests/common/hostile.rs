//! Helpers of the hostile-input tests (`tests/hostile_*.rs`): the good source every hostile
//! one runs beside, pipeline runs with their outcomes and the checks made on them (each error
//! one line, the good source read in full, the counts adding up), record builders and byte
//! surgery, and the `keytrail` binary's error lines and written tables.

use super::{analyze_to, parquet_files, records_file, testdata};
use keytrail::edge::local::LocalStore;
use keytrail::model::kms::KmsEvent;
use keytrail::pipeline::decode::{decode_record, Decoded};
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport, SourceOutcome};
use keytrail::read::logfile::RecordPos;
use keytrail::tables::writer::NoStore;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A small good log: a Proton Decrypt (a `use-without-grant` finding), an IAM and an EC2 call.
pub const GOOD: &str = "trail/AWSLogs/111122223333/CloudTrail/us-east-1/2025/02/12/111122223333_CloudTrail_us-east-1_20250212T1516Z_pmr1xlYfbgYTWFwt.json.gz";
pub const GOOD_EVENT_ID: &str = "01000017-b092-51cc-9d8d-a4228c4cb832";
pub const GOOD_RECORDS: u64 = 3;
pub const GOOD_OTHER_RECORDS: u64 = 2;

pub fn good_path() -> PathBuf {
    testdata(GOOD)
}

pub fn good_name() -> String {
    good_path().display().to_string()
}

pub type Source = (String, Box<dyn Read>);

pub fn good_source() -> Source {
    (
        good_name(),
        Box::new(std::fs::File::open(good_path()).unwrap()),
    )
}

pub fn bytes_source(name: &str, bytes: Vec<u8>) -> Source {
    (name.to_string(), Box::new(Cursor::new(bytes)))
}

pub struct Run {
    pub outcomes: Vec<SourceOutcome>,
    pub report: RunReport,
}

impl Run {
    /// The finding about event `event_id`, which must exist.
    pub fn finding(&self, event_id: &str) -> &keytrail::audit::rules::Finding {
        let found = self.report.findings.iter().find(|f| f.event_id == event_id);
        found.unwrap_or_else(|| panic!("no finding about {event_id}"))
    }

    pub fn outcome(&self, name: &str) -> &SourceOutcome {
        self.outcomes
            .iter()
            .find(|o| o.source == name)
            .unwrap_or_else(|| panic!("no source {name}"))
    }

    /// Every error of the run, as the CLI prints them (record errors, then the failure).
    /// [`Run::errors`], each also printed (the test log shows what a user would read).
    pub fn printed_errors(&self) -> Vec<String> {
        let errors = self.errors();
        for e in &errors {
            println!("library: {e}");
        }
        errors
    }

    pub fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        for o in &self.outcomes {
            out.extend(o.record_errors.iter().map(|e| e.to_string()));
            out.extend(o.failure.iter().map(|e| e.to_string()));
        }
        for e in &out {
            assert_one_line(e);
        }
        out
    }

    pub fn finding_ids(&self) -> BTreeSet<&str> {
        self.report
            .findings
            .iter()
            .map(|f| f.event_id.as_str())
            .collect()
    }

    /// The good source was read to its end and its KMS event reached the findings.
    pub fn assert_good_ingested(&self) {
        let o = self.outcome(&good_name());
        assert_eq!(o.failure, None);
        assert!(o.record_errors.is_empty(), "{:?}", o.record_errors);
        assert_eq!((o.records, o.kms_events), (GOOD_RECORDS, 1));
        assert!(
            self.finding_ids().contains(GOOD_EVENT_ID),
            "{:?}",
            self.finding_ids()
        );
    }

    /// Framed records are all accounted for: KMS, other services, insight or invalid.
    pub fn assert_records_add_up(&self) {
        let s = &self.report.stats;
        assert_eq!(
            s.records,
            s.kms_records + s.other_service_records + s.insight_records + s.records_invalid,
            "{s:?}"
        );
        assert_eq!(s.kms_records, s.kms_events + s.duplicates, "{s:?}");
    }
}

pub fn run_with(opts: PipelineOptions, sources: Vec<Source>) -> Run {
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    let outcomes = sources
        .into_iter()
        .map(|(name, reader)| p.ingest(&mut NoStore, &name, reader).unwrap())
        .collect();
    let report = p.finish(&mut NoStore).unwrap();
    Run { outcomes, report }
}

pub fn run(sources: Vec<Source>) -> Run {
    run_with(PipelineOptions::default(), sources)
}

/// Runs the pipeline writing tables under `out`; returns the run and the written events.
pub fn run_writing(sources: Vec<Source>, out: &Path) -> (Run, Vec<KmsEvent>) {
    let mut store = LocalStore::new(out).unwrap();
    let mut p = Pipeline::new(PipelineOptions::default(), true);
    let outcomes = sources
        .into_iter()
        .map(|(name, reader)| p.ingest(&mut store, &name, reader).unwrap())
        .collect();
    let report = p.finish(&mut store).unwrap();
    store.publish().unwrap();
    (Run { outcomes, report }, table_events(out))
}

pub fn assert_one_line(e: &str) {
    assert!(
        !e.contains(['\n', '\r']),
        "error is not one line: {:?}",
        &e[..e.len().min(300)]
    );
}

pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `{"Records":[r0,r1,...]}`.
pub fn wrapped(records: &[Vec<u8>]) -> Vec<u8> {
    records_file(records)
}

/// A small, realistic Proton Decrypt with no grant in sight: one `use-without-grant` finding.
pub fn kms_record(event_id: &str) -> Value {
    json!({
        "eventVersion": "1.11",
        "userIdentity": {"type": "AWSService", "invokedBy": "proton.amazonaws.com"},
        "eventTime": "2026-01-01T00:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "proton.amazonaws.com",
        "userAgent": "proton.amazonaws.com",
        "requestParameters": {
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {
                "aws:proton:template": "arn:aws:proton:us-east-1:111122223333:service-template/web-svc",
                "aws:proton:resource": "arn:aws:proton:us-east-1:111122223333:service/frontend"
            }
        },
        "responseElements": null,
        "eventID": event_id,
        "readOnly": true,
        "resources": [{
            "accountId": "111122223333",
            "type": "AWS::KMS::Key",
            "ARN": "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
        }],
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
}

pub fn kms_bytes(event_id: &str) -> Vec<u8> {
    serde_json::to_vec(&kms_record(event_id)).unwrap()
}

/// A record of another service.
pub fn other_bytes(event_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "eventTime": "2026-01-01T00:00:00Z", "eventID": event_id
    }))
    .unwrap()
}

/// Replaces the first `marker` in `bytes` with `with`; returns the 1-based byte offset where it
/// was (the column, for a one-line document).
pub fn splice(bytes: &mut Vec<u8>, marker: &[u8], with: &[u8]) -> u64 {
    let i = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap_or_else(|| panic!("no marker {:?}", String::from_utf8_lossy(marker)));
    bytes.splice(i..i + marker.len(), with.iter().copied());
    i as u64 + 1
}

pub fn decode(bytes: &[u8]) -> Decoded {
    let pos = RecordPos {
        index: 0,
        line: 1,
        column: 1,
    };
    decode_record("rec.json", pos, bytes, false)
}

pub fn decoded_event(bytes: &[u8]) -> KmsEvent {
    match decode(bytes) {
        Decoded::Kms { event, .. } => *event,
        other => panic!("not decoded as KMS: {other:?}"),
    }
}

/// Every event in the `kms_events` table under `out`.
pub fn table_events(out: &Path) -> Vec<KmsEvent> {
    parquet_files(&out.join("kms_events"))
        .iter()
        .flat_map(|p| {
            let file = std::fs::File::open(p).unwrap();
            keytrail::tables::reader::open_events(&p.display().to_string(), file)
                .unwrap()
                .flat_map(Result::unwrap)
        })
        .collect()
}

pub fn ids(events: &[KmsEvent]) -> BTreeSet<String> {
    events.iter().filter_map(|e| e.event_id.clone()).collect()
}

/// The stderr error lines; fails if stderr holds anything but `error:` and `note:` lines.
pub fn error_lines(o: &Output) -> Vec<String> {
    let text = String::from_utf8_lossy(&o.stderr);
    for l in text.lines() {
        assert!(
            l.starts_with("error: ") || l.starts_with("note: "),
            "unexpected stderr line: {l:?}"
        );
    }
    text.lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_string)
        .collect()
}

/// Copies the good log into `dir` (as `good.json.gz`) and returns its path.
pub fn copy_good(dir: &Path) -> PathBuf {
    let p = dir.join("good.json.gz");
    std::fs::copy(good_path(), &p).unwrap();
    p
}

/// `keytrail analyze DIR --out OUT`: asserts exit 2 and returns the error lines and the
/// written events (the good file's event among them).
pub fn analyze_expecting_errors(input: &Path, out: &Path) -> (Vec<String>, Vec<KmsEvent>, String) {
    let o = analyze_to(input, out, &["--no-progress"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let errors = error_lines(&o);
    let events = table_events(out);
    assert!(
        ids(&events).contains(GOOD_EVENT_ID),
        "good table not written"
    );
    (
        errors,
        events,
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}
