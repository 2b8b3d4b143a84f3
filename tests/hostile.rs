//! Hostile and broken input, one test per kind: truncated and bomb gzip, invalid UTF-8,
//! deep nesting, huge records and strings, out-of-range numbers, every field of a record
//! with the wrong type, empty files, a billion spaces, a `Records` that is not an array,
//! duplicate keys, a huge encryption context, and terminal escapes in the findings table.
//!
//! Each test puts the hostile source next to a good one and checks three things: the error
//! is one line naming the source, the place and the cause (or, where keytrail is tolerant,
//! what it decoded); the good source was still read in full; and the run's counts account
//! for what was skipped or invalid, so nothing is dropped silently. Cases whose output
//! reaches a terminal also run the `keytrail` binary (exit 2, one stderr line per bad
//! source or record, the good tables still written).

mod common;

use common::*;
use keytrail::edge::local::LocalStore;
use keytrail::error::InputErrorKind;
use keytrail::model::kms::KmsEvent;
use keytrail::pipeline::decode::{decode_record, Decoded};
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport, SourceOutcome};
use keytrail::read::logfile::{read_log, ReadOptions, RecordPos, RecordSink, MAX_RECORD_BYTES};
use keytrail::tables::writer::NoStore;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A small good log: a Proton Decrypt (a `use-without-grant` finding), an IAM and an EC2 call.
const GOOD: &str = "trail/AWSLogs/111122223333/CloudTrail/us-east-1/2025/02/12/111122223333_CloudTrail_us-east-1_20250212T1516Z_pmr1xlYfbgYTWFwt.json.gz";
const GOOD_EVENT_ID: &str = "01000017-b092-51cc-9d8d-a4228c4cb832";
const GOOD_RECORDS: u64 = 3;
const GOOD_OTHER_RECORDS: u64 = 2;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn good_path() -> PathBuf {
    testdata(GOOD)
}

fn good_name() -> String {
    good_path().display().to_string()
}

type Source = (String, Box<dyn Read>);

fn good_source() -> Source {
    (
        good_name(),
        Box::new(std::fs::File::open(good_path()).unwrap()),
    )
}

fn bytes_source(name: &str, bytes: Vec<u8>) -> Source {
    (name.to_string(), Box::new(Cursor::new(bytes)))
}

struct Run {
    outcomes: Vec<SourceOutcome>,
    report: RunReport,
}

impl Run {
    fn outcome(&self, name: &str) -> &SourceOutcome {
        self.outcomes
            .iter()
            .find(|o| o.source == name)
            .unwrap_or_else(|| panic!("no source {name}"))
    }

    /// Every error of the run, as the CLI prints them (record errors, then the failure).
    fn errors(&self) -> Vec<String> {
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

    fn finding_ids(&self) -> BTreeSet<&str> {
        self.report
            .findings
            .iter()
            .map(|f| f.event_id.as_str())
            .collect()
    }

    /// The good source was read to its end and its KMS event reached the findings.
    fn assert_good_ingested(&self) {
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
    fn assert_records_add_up(&self) {
        let s = &self.report.stats;
        assert_eq!(
            s.records,
            s.kms_records + s.other_service_records + s.insight_records + s.records_invalid,
            "{s:?}"
        );
        assert_eq!(s.kms_records, s.kms_events + s.duplicates, "{s:?}");
    }
}

fn run_with(opts: PipelineOptions, sources: Vec<Source>) -> Run {
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    let outcomes = sources
        .into_iter()
        .map(|(name, reader)| p.ingest(&mut NoStore, &name, reader).unwrap())
        .collect();
    let report = p.finish(&mut NoStore).unwrap();
    Run { outcomes, report }
}

fn run(sources: Vec<Source>) -> Run {
    run_with(PipelineOptions::default(), sources)
}

/// Runs the pipeline writing tables under `out`; returns the run and the written events.
fn run_writing(sources: Vec<Source>, out: &Path) -> (Run, Vec<KmsEvent>) {
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

fn assert_one_line(e: &str) {
    assert!(
        !e.contains(['\n', '\r']),
        "error is not one line: {:?}",
        &e[..e.len().min(300)]
    );
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `{"Records":[r0,r1,...]}`.
fn wrapped(records: &[Vec<u8>]) -> Vec<u8> {
    records_file(records)
}

/// A small, realistic Proton Decrypt with no grant in sight: one `use-without-grant` finding.
fn kms_record(event_id: &str) -> Value {
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

fn kms_bytes(event_id: &str) -> Vec<u8> {
    serde_json::to_vec(&kms_record(event_id)).unwrap()
}

/// A record of another service.
fn other_bytes(event_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "eventTime": "2026-01-01T00:00:00Z", "eventID": event_id
    }))
    .unwrap()
}

/// Replaces the first `marker` in `bytes` with `with`; returns the 1-based byte offset where it
/// was (the column, for a one-line document).
fn splice(bytes: &mut Vec<u8>, marker: &[u8], with: &[u8]) -> u64 {
    let i = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .unwrap_or_else(|| panic!("no marker {:?}", String::from_utf8_lossy(marker)));
    bytes.splice(i..i + marker.len(), with.iter().copied());
    i as u64 + 1
}

fn decode(bytes: &[u8]) -> Decoded {
    let pos = RecordPos {
        index: 0,
        line: 1,
        column: 1,
    };
    decode_record("rec.json", pos, bytes, false)
}

fn decoded_event(bytes: &[u8]) -> KmsEvent {
    match decode(bytes) {
        Decoded::Kms { event, .. } => *event,
        other => panic!("not decoded as KMS: {other:?}"),
    }
}

/// Every event in the `kms_events` table under `out`.
fn table_events(out: &Path) -> Vec<KmsEvent> {
    parquet_files(&out.join("kms_events"))
        .iter()
        .flat_map(|p| {
            let bytes = bytes::Bytes::from(std::fs::read(p).unwrap());
            keytrail::tables::reader::read_events(&p.display().to_string(), bytes)
                .unwrap()
                .events
        })
        .collect()
}

fn ids(events: &[KmsEvent]) -> BTreeSet<String> {
    events.iter().filter_map(|e| e.event_id.clone()).collect()
}

/// The stderr error lines; fails if stderr holds anything but `error:` and `note:` lines.
fn error_lines(o: &Output) -> Vec<String> {
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
fn copy_good(dir: &Path) -> PathBuf {
    let p = dir.join("good.json.gz");
    std::fs::copy(good_path(), &p).unwrap();
    p
}

/// `keytrail analyze DIR --out OUT`: asserts exit 2 and returns the error lines and the
/// written events (the good file's event among them).
fn analyze_expecting_errors(input: &Path, out: &Path) -> (Vec<String>, Vec<KmsEvent>, String) {
    let o = keytrail(&[
        "analyze",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
    ]);
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

// ---------------------------------------------------------------------------------------
// 1. Truncated gzip
// ---------------------------------------------------------------------------------------

#[test]
fn truncated_gzip_keeps_the_records_before_the_break_and_the_other_files() {
    // 400 records, every other one KMS, gzipped and cut in the middle.
    let records: Vec<Vec<u8>> = (0..400)
        .map(|i| {
            if i % 2 == 0 {
                kms_bytes(&format!("t{i}"))
            } else {
                other_bytes(&format!("o{i}"))
            }
        })
        .collect();
    let doc = wrapped(&records);
    let full = gz(&doc);
    let cut = full[..full.len() / 2].to_vec();

    let r = run(vec![
        bytes_source("cut.json.gz", cut.clone()),
        good_source(),
    ]);
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    println!("library: {}", errors[0]);
    let e = r.outcome("cut.json.gz").failure.clone().unwrap();
    assert!(matches!(e.kind, InputErrorKind::Gzip(_)), "{e}");
    assert_eq!(
        e.kind.to_string(),
        "corrupt gzip: truncated stream (unexpected end of file)"
    );
    // The place is where the decompressed text stopped: every record that ended before
    // it was kept, none after.
    assert_eq!((e.location.record_index, e.location.line), (None, Some(1)));
    let stopped_at = e.location.column.unwrap() - 1;
    assert!(stopped_at > 0 && stopped_at < doc.len() as u64, "{e}");
    assert_eq!(
        errors[0],
        format!(
            "cut.json.gz: line 1, column {}: corrupt gzip: truncated stream (unexpected end of file)",
            stopped_at + 1
        )
    );
    let mut end = b"{\"Records\":[".len() as u64;
    let mut kept = 0u64;
    let mut kept_kms = 0u64;
    for (i, rec) in records.iter().enumerate() {
        end += rec.len() as u64 + u64::from(i > 0);
        if end <= stopped_at {
            kept += 1;
            kept_kms += u64::from(i % 2 == 0);
        }
    }
    assert!(kept > 0 && kept < 400);
    let s = &r.report.stats;
    assert_eq!(s.records, kept + GOOD_RECORDS);
    assert_eq!(s.kms_events, kept_kms + 1);
    assert_eq!((s.files_read, s.files_failed), (2, 1));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The CLI: exit 2, one error line for the cut file, the rest written.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    let cut_path = input.join("cut.json.gz");
    std::fs::write(&cut_path, &cut).unwrap();
    let (errors, events, summary) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(
        errors,
        [format!(
            "error: {}: line 1, column {}: corrupt gzip: truncated stream (unexpected end of file)",
            cut_path.display(),
            stopped_at + 1
        )]
    );
    assert_eq!(events.len() as u64, kept_kms + 1);
    assert!(
        summary.contains("files: 2 read, 0 skipped (0 by name, 0 digest or insight), 1 failed"),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Gzip bomb
// ---------------------------------------------------------------------------------------

/// Raw deflate of `data`; `last` ends the stream, otherwise a full flush leaves a byte-aligned
/// segment with no back-references into it, which may be repeated or concatenated.
fn deflate_segment(data: &[u8], last: bool) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::best(), false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Full
    };
    let mut out = Vec::new();
    loop {
        out.reserve(64 * 1024);
        let done = c.total_in() as usize;
        let status = c.compress_vec(&data[done..], &mut out, flush).unwrap();
        let all_in = c.total_in() as usize == data.len();
        if (last && status == Status::StreamEnd) || (!last && all_in && out.len() < out.capacity())
        {
            return out;
        }
    }
}

/// One gzip member holding `head`, `chunk` repeated `times`, then `tail`, built without
/// compressing the repeats more than once (so it is cheap in a debug build).
fn gzip_bomb(head: &[u8], chunk: &[u8], times: usize, tail: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(deflate_segment(head, false));
    let seg = deflate_segment(chunk, false);
    for _ in 0..times {
        out.extend_from_slice(&seg);
    }
    out.extend(deflate_segment(tail, true));
    let mut crc = flate2::Crc::new();
    crc.update(head);
    let mut chunk_crc = flate2::Crc::new();
    chunk_crc.update(chunk);
    for _ in 0..times {
        crc.combine(&chunk_crc);
    }
    let mut tail_crc = flate2::Crc::new();
    tail_crc.update(tail);
    crc.combine(&tail_crc);
    out.extend(crc.sum().to_le_bytes());
    out.extend(crc.amount().to_le_bytes());
    out
}

#[test]
fn gzip_bomb_stops_at_the_decompressed_size_cap() {
    let head = [b"{\"Records\":[".as_slice(), &kms_bytes("b0"), b","].concat();
    let tail = [kms_bytes("b1").as_slice(), b"]}"].concat();
    let spaces = vec![b' '; 1 << 20];

    // The construction is a valid gzip: at a small size it inflates to exactly its input.
    let small = gzip_bomb(&head, &spaces, 2, &tail);
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&small[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(
        inflated,
        [head.clone(), spaces.repeat(2), tail.clone()].concat()
    );

    // 64 MiB of whitespace between two records, in one gzip member of about 64 KB.
    let bomb = gzip_bomb(&head, &spaces, 64, &tail);
    assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
    let cap: u64 = 8 << 20;
    let mut opts = PipelineOptions::default();
    opts.read.max_source_bytes = cap;
    let bomb_len = bomb.len();
    let started = Instant::now();
    let r = run_with(
        opts,
        vec![bytes_source("bomb.json.gz", bomb), good_source()],
    );
    println!(
        "bomb of {bomb_len} bytes stopped in {:?}",
        started.elapsed()
    );
    let errors = r.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    println!("library: {}", errors[0]);
    let e = r.outcome("bomb.json.gz").failure.clone().unwrap();
    assert_eq!(e.kind, InputErrorKind::TooMuchData { limit: cap });
    assert_eq!(
        e.kind.to_string(),
        "more than 8388608 bytes after decompression, stopped"
    );
    // It stopped within one read buffer of the cap, inside the whitespace on line 1.
    let column = e.location.column.unwrap();
    assert!(column > cap && column <= cap + (256 << 10) + 1, "{e}");
    assert_eq!(
        errors[0],
        format!("bomb.json.gz: line 1, column {column}: more than 8388608 bytes after decompression, stopped")
    );
    // The record before the whitespace was kept; the one after it was never reached.
    let s = &r.report.stats;
    assert_eq!(s.kms_events, 2, "b0 and the good file's event");
    assert!(r.finding_ids().contains("b0"));
    assert!(!r.finding_ids().contains("b1"));
    assert_eq!((s.files_read, s.files_failed), (2, 1));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The same construction under the cap (2 MiB of whitespace) is read whole: both records.
    // (The CLI has no flag for the cap; it always uses the 64 GiB default.)
    let mut opts = PipelineOptions::default();
    opts.read.max_source_bytes = cap;
    let r = run_with(opts, vec![bytes_source("small.json.gz", small)]);
    assert_eq!(r.errors(), Vec::<String>::new());
    assert_eq!(r.report.stats.kms_events, 2);
}

/// A 7 MB object that inflates to 8 GiB, through the CLI with its defaults: the inflation
/// guard stops it once 64 MiB is out (not at the 64 GiB cap), in one line, and the good
/// file beside it is written.
#[test]
fn a_small_object_inflating_to_gigabytes_is_stopped_by_the_defaults() {
    let head = [b"{\"Records\":[".as_slice(), &kms_bytes("g0"), b","].concat();
    let tail = [kms_bytes("g1").as_slice(), b"]}"].concat();
    let bomb = gzip_bomb(&head, &vec![b' '; 1 << 20], 8192, &tail);
    assert!(bomb.len() < 10 << 20, "{} bytes", bomb.len());
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    std::fs::write(input.join("bomb.json.gz"), &bomb).unwrap();
    let started = Instant::now();
    let (errors, events, stdout) = analyze_expecting_errors(&input, &dir.path().join("out"));
    println!(
        "{} byte object stopped in {:?}",
        bomb.len(),
        started.elapsed()
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_one_line(e);
    println!("{e}");
    assert!(e.contains("bomb.json.gz: line 1, column "), "{e}");
    // "... decompresses more than 250 times its size (N bytes from M), stopped as a gzip bomb"
    let (_, counts) = e
        .split_once("decompresses more than 250 times its size (")
        .unwrap_or_else(|| panic!("{e}"));
    let (counts, rest) = counts.split_once(')').unwrap();
    assert_eq!(rest, ", stopped as a gzip bomb");
    let (out, from) = counts.split_once(" bytes from ").unwrap();
    let (out, from): (u64, u64) = (out.parse().unwrap(), from.parse().unwrap());
    assert!(
        (64 << 20..65 << 20).contains(&out),
        "stopped at the first check: {out}"
    );
    assert!(out > 250 * from, "{out} from {from}");
    let ids = ids(&events);
    assert!(ids.contains("g0") && !ids.contains("g1"), "{ids:?}");
    assert!(stdout.contains("1 failed"), "{stdout}");
}

// ---------------------------------------------------------------------------------------
// 3. Invalid UTF-8
// ---------------------------------------------------------------------------------------

#[test]
fn invalid_utf8_costs_only_its_record() {
    // Record 0: KMS, bad bytes in eventName. Record 1: KMS, bad bytes in an encryption
    // context value. Record 2: another service, bad bytes in eventName. Record 3: good KMS.
    let mut r0 = kms_bytes("u0");
    splice(&mut r0, b"\"Decrypt\"", b"\"De@@crypt\"");
    let mut r1 = kms_bytes("u1");
    splice(&mut r1, b"service/frontend", b"service/front@@end");
    let mut r2 = other_bytes("u2");
    splice(&mut r2, b"GetObject", b"Get@@Object");
    let mut doc = wrapped(&[r0, r1, r2, kms_bytes("u3")]);
    let col0 = splice(&mut doc, b"@@", &[0xff, 0xfe]);
    let col1 = splice(&mut doc, b"@@", &[0xff, 0xfe]);
    splice(&mut doc, b"@@", &[0xff, 0xfe]);
    assert!(std::str::from_utf8(&doc).is_err());

    let r = run(vec![bytes_source("utf8.json", doc.clone()), good_source()]);
    let errors = r.errors();
    for e in &errors {
        println!("library: {e}");
    }
    // The column is the first invalid byte.
    assert_eq!(
        errors,
        [
            format!("utf8.json: record 0, line 1, column {col0}: invalid JSON: invalid unicode code point"),
            format!("utf8.json: record 1, line 1, column {col1}: invalid JSON: invalid unicode code point"),
        ]
    );
    let o = r.outcome("utf8.json");
    assert_eq!((o.failure.clone(), o.records, o.kms_events), (None, 4, 1));
    let s = &r.report.stats;
    assert_eq!(s.records_invalid, 2);
    // A record of another service is framed and counted, not parsed (README, "Limits"):
    // its bad bytes are not reported, but it is not lost either.
    assert_eq!(s.other_service_records, 1 + GOOD_OTHER_RECORDS);
    assert!(r.finding_ids().contains("u3"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The CLI: one line per bad record, exit 2, the good file and record 3 still reported.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("utf8.json");
    std::fs::write(&bad, &doc).unwrap();
    let o = keytrail(&["findings", bad.to_str().unwrap(), &good_name()]);
    assert_eq!(o.status.code(), Some(2));
    let n = bad.display();
    assert_eq!(
        error_lines(&o),
        [
            format!("error: {n}: record 0, line 1, column {col0}: invalid JSON: invalid unicode code point"),
            format!("error: {n}: record 1, line 1, column {col1}: invalid JSON: invalid unicode code point"),
        ]
    );
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains(GOOD_EVENT_ID)
            && table
                .lines()
                .any(|l| l.split_whitespace().nth(4) == Some("u3")),
        "{table}"
    );
}

// ---------------------------------------------------------------------------------------
// 4. Deep nesting
// ---------------------------------------------------------------------------------------

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

fn nested_objects(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

#[test]
fn deep_nesting_is_framed_without_recursion() {
    // Record 0: a KMS record with 10,000-deep arrays and objects in requestParameters and
    // as an encryption-context value. Record 1: a 10,000-deep array where a record should be.
    // Record 2: a good KMS record.
    let mut r0 = kms_record("n0");
    let deep_value: Value = serde_json::from_str("0").unwrap();
    r0["requestParameters"]["deep"] = deep_value.clone();
    r0["requestParameters"]["encryptionContext"]["deep"] = deep_value;
    let r0 = serde_json::to_string(&r0)
        .unwrap()
        .replacen("\"deep\":0", &format!("\"deep\":{}", nested(10_000)), 1)
        .replacen(
            "\"deep\":0",
            &format!("\"deep\":{}", nested_objects(10_000)),
            1,
        );
    // The deep KMS record decodes, its context read (the deep value kept as JSON text).
    let ev = decoded_event(r0.as_bytes());
    let ctx = ev.encryption_context.unwrap();
    assert_eq!(ctx["deep"], nested_objects(10_000));
    assert!(ctx.contains_key("aws:proton:template"));
    let doc = wrapped(&[
        r0.into_bytes(),
        nested(10_000).into_bytes(),
        kms_bytes("n2"),
    ]);
    let col1 = doc.windows(3).position(|w| w == b",[[").unwrap() as u64 + 2;
    // A file that is itself 10,000 arrays deep: an array whose one record is an array.
    let top = nested(10_000).into_bytes();

    let r = run(vec![
        bytes_source("deep.json", doc.clone()),
        bytes_source("deep-top.json", top.clone()),
        good_source(),
    ]);
    let errors = r.errors();
    for e in &errors {
        println!("library: {e}");
    }
    assert_eq!(
        errors,
        [
            format!("deep.json: record 1, line 1, column {col1}: not a CloudTrail log: record is an array, not a JSON object"),
            "deep-top.json: record 0, line 1, column 2: not a CloudTrail log: record is an array, not a JSON object".to_string(),
        ]
    );
    assert!(r.finding_ids().contains("n0") && r.finding_ids().contains("n2"));
    let s = &r.report.stats;
    assert_eq!(s.records_invalid, 2);
    assert_eq!(s.kms_events, 3);
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The CLI: one line per bad record, exit 2, tables written.
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    std::fs::write(input.join("deep.json"), &doc).unwrap();
    std::fs::write(input.join("deep-top.json"), &top).unwrap();
    let (errors, events, _) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].ends_with("deep-top.json: record 0, line 1, column 2: not a CloudTrail log: record is an array, not a JSON object"));
    assert!(errors[1].contains(&format!("deep.json: record 1, line 1, column {col1}: ")));
    let n0 = events
        .iter()
        .find(|e| e.event_id.as_deref() == Some("n0"))
        .unwrap();
    let ctx = n0.encryption_context.as_ref().unwrap();
    assert_eq!(ctx["deep"], nested_objects(10_000));
    assert_eq!(
        ids(&events),
        ["n0", "n2", GOOD_EVENT_ID].map(String::from).into()
    );
}

// ---------------------------------------------------------------------------------------
// 5. A 300 KB record (and one over the 16 MiB record limit)
// ---------------------------------------------------------------------------------------

#[test]
fn a_300_kb_record_is_decoded_and_one_over_16_mib_is_skipped_alone() {
    let big_value = "x".repeat(300_000);
    let mut r0 = kms_record("big");
    r0["requestParameters"]["encryptionContext"]["blob"] = json!(big_value);
    let r0 = serde_json::to_vec(&r0).unwrap();
    assert!(r0.len() > 300_000);
    // Over the record limit: a string of 16 MiB + 1 byte.
    let mut r1 = kms_record("huge");
    r1["requestParameters"]["encryptionContext"]["blob"] = json!("y".repeat(MAX_RECORD_BYTES));
    let r1 = serde_json::to_vec(&r1).unwrap();
    let doc = wrapped(&[r0.clone(), r1.clone(), kms_bytes("after")]);
    let col1 = 12 + r0.len() as u64 + 1 + 1;

    let tmp = tempfile::tempdir().unwrap();
    let (r, events) = run_writing(
        vec![bytes_source("big.json", doc), good_source()],
        tmp.path(),
    );
    let errors = r.errors();
    for e in &errors {
        println!("library: {e}");
    }
    assert_eq!(
        errors,
        [format!(
            "big.json: record 1, line 1, column {col1}: value larger than the 16777216-byte limit, skipped"
        )]
    );
    // The 300 KB record is an ordinary event: written whole, with its finding.
    let big = events
        .iter()
        .find(|e| e.event_id.as_deref() == Some("big"))
        .expect("300 KB record written");
    assert_eq!(big.encryption_context.as_ref().unwrap()["blob"], big_value);
    assert!(r.finding_ids().contains("big") && r.finding_ids().contains("after"));
    assert_eq!(
        ids(&events),
        ["big", "after", GOOD_EVENT_ID].map(String::from).into()
    );
    let s = &r.report.stats;
    assert_eq!((s.records_invalid, s.kms_events), (1, 3));
    r.assert_good_ingested();
    r.assert_records_add_up();
}

// ---------------------------------------------------------------------------------------
// 6. Numbers out of range
// ---------------------------------------------------------------------------------------

#[test]
fn numbers_out_of_range_are_kept_as_written() {
    let digits400: String = "9".repeat(400);
    let mut r0 = kms_bytes("num0");
    splice(&mut r0, b"\"1.11\"", b"1e999");
    splice(&mut r0, b"\"readOnly\":true", b"\"readOnly\":1e400");
    let mut r1 = kms_bytes("num1");
    splice(
        &mut r1,
        b"\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"",
        format!("\"encryptionAlgorithm\":{digits400},\"n\":-{digits400}e-999").as_bytes(),
    );
    splice(
        &mut r1,
        b"\"aws:proton:resource\"",
        format!("\"size\":{digits400},\"aws:proton:resource\"").as_bytes(),
    );
    let mut r2 = kms_bytes("num2");
    splice(&mut r2, b"\"2026-01-01T00:00:00Z\"", digits400.as_bytes());
    // Not a number at all: the one record that is invalid.
    let mut r3 = kms_bytes("num3");
    let col3_in_record = splice(&mut r3, b"\"readOnly\":true", b"\"readOnly\":-");
    let col3_in_record = col3_in_record + "\"readOnly\":-".len() as u64;

    let e0 = decoded_event(&r0);
    assert_eq!(e0.read_only, None, "1e400 is not a boolean");
    assert_eq!(e0.event_name, "Decrypt");
    let e1 = decoded_event(&r1);
    assert_eq!(e1.encryption_context.as_ref().unwrap()["size"], digits400);
    let e2 = decoded_event(&r2);
    assert_eq!(e2.event_time, None);
    assert_eq!(e2.event_time_raw.as_deref(), Some(digits400.as_str()));

    let offset3 = 12 + r0.len() + r1.len() + r2.len() + 3;
    let doc = wrapped(&[r0.clone(), r1, r2, r3]);
    let tmp = tempfile::tempdir().unwrap();
    let (r, events) = run_writing(
        vec![bytes_source("numbers.json", doc.clone()), good_source()],
        tmp.path(),
    );
    let errors = r.errors();
    for e in &errors {
        println!("library: {e}");
    }
    assert_eq!(
        errors,
        [format!(
            "numbers.json: record 3, line 1, column {}: invalid JSON: invalid number",
            offset3 as u64 + col3_in_record
        )]
    );
    assert_eq!(
        ids(&events),
        ["num0", "num1", "num2", GOOD_EVENT_ID]
            .map(String::from)
            .into()
    );
    // The record with no usable time is written and counted, not judged.
    assert_eq!(r.report.timeline.without_time, 1);
    assert!(r.finding_ids().contains("num0") && !r.finding_ids().contains("num2"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // The Lambda's ledger keeps such a record too (serde_json's Value cannot hold 1e999).
    let opts = PipelineOptions {
        capture_ledger: true,
        ..PipelineOptions::default()
    };
    let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
    p.ingest(&mut NoStore, "numbers.json", &r0[..]).unwrap();
    let delta = p.finish(&mut NoStore).unwrap().ledger;
    let records: Vec<&str> = delta.keys.values().flat_map(|l| l.records()).collect();
    assert_eq!(records.len(), 1);
    assert!(records[0].contains("1e999"), "{:?}", records[0]);
}

// ---------------------------------------------------------------------------------------
// 7. Every field with the wrong type
// ---------------------------------------------------------------------------------------

/// A realistic Proton Decrypt from testdata/trail (an assumed role acting through Proton),
/// with a session issuer and `additionalEventData` filled in so they can be mutated too.
fn realistic_decrypt() -> Value {
    struct Find(Option<Vec<u8>>);
    impl RecordSink for Find {
        fn record(&mut self, _: RecordPos, bytes: &[u8]) {
            if bytes
                .windows(36)
                .any(|w| w == b"05000004-a91c-54da-9451-db11e3ede5a2")
            {
                self.0 = Some(bytes.to_vec());
            }
        }
        fn record_error(&mut self, e: keytrail::error::InputError) {
            panic!("{e}");
        }
    }
    let path = testdata("trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/01/13/111122223333_CloudTrail_eu-west-1_20260113T0820Z_oQSkK0iS6fxtpBjK.json.gz");
    let mut find = Find(None);
    read_log(
        "t",
        std::fs::File::open(path).unwrap(),
        &ReadOptions::default(),
        &mut find,
    )
    .unwrap();
    let mut rec: Value = serde_json::from_slice(&find.0.unwrap()).unwrap();
    assert_eq!(rec["eventName"], "Decrypt");
    rec["userIdentity"]["sessionContext"]["sessionIssuer"] = json!({
        "type": "Role", "principalId": "AROAMQJQ39W8HJD0Y05QV",
        "arn": "arn:aws:iam::111122223333:role/ProtonAdminRole",
        "accountId": "111122223333", "userName": "ProtonAdminRole"
    });
    rec["additionalEventData"] = json!({
        "keyMaterialId": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "grantId": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    });
    rec
}

/// JSON pointers of every top-level field, and of every field (at any depth) inside the
/// objects the KMS model reads.
fn mutation_paths(rec: &Value) -> Vec<String> {
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    walk(c, format!("{at}/{k}"), out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    walk(c, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (k, v) in rec.as_object().unwrap() {
        if matches!(
            k.as_str(),
            "userIdentity" | "requestParameters" | "additionalEventData" | "resources"
        ) {
            walk(v, format!("/{k}"), &mut out);
        } else {
            out.push(format!("/{k}"));
        }
    }
    out
}

#[test]
fn every_field_with_every_wrong_type_is_decoded_or_counted() {
    let base = realistic_decrypt();
    let paths = mutation_paths(&base);
    let replacements = [
        json!(42),
        json!([1, "x", null]),
        json!({"k": "v", "n": 1}),
        json!(true),
        Value::Null,
        json!("s"),
    ];
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for path in &paths {
        for with in &replacements {
            let original = base.pointer(path).unwrap();
            if with.is_string() && original.is_string() {
                continue;
            }
            let mut v = base.clone();
            if path != "/eventID" {
                v["eventID"] = json!(format!("wt-{}", variants.len()));
            }
            *v.pointer_mut(path).unwrap() = with.clone();
            variants.push((format!("{path} = {with}"), serde_json::to_vec(&v).unwrap()));
        }
    }
    println!("{} paths, {} variants", paths.len(), variants.len());
    assert!(paths.len() > 40, "{paths:?}");

    // Each variant alone: no panic, and KMS unless eventSource itself was replaced.
    let mut other = 0;
    for (what, bytes) in &variants {
        let d = std::panic::catch_unwind(|| decode(bytes))
            .unwrap_or_else(|_| panic!("decoding panicked: {what}"));
        match d {
            Decoded::Kms { .. } => assert!(!what.starts_with("/eventSource "), "{what}"),
            Decoded::Other { insight: false } if what.starts_with("/eventSource ") => other += 1,
            Decoded::Invalid(e) => panic!("{what}: valid JSON reported invalid: {e}"),
            d => panic!("{what}: {d:?}"),
        }
    }
    assert_eq!(other, 5, "eventSource as number, array, object, bool, null");

    // Tolerant decoding, spot checks.
    let find = |what: &str| -> KmsEvent {
        decoded_event(&variants.iter().find(|(w, _)| w == what).unwrap().1)
    };
    let e = find("/eventTime = 42");
    assert_eq!(
        (e.event_time, e.event_time_raw.as_deref()),
        (None, Some("42"))
    );
    let e = find("/requestParameters/encryptionContext = [1,\"x\",null]");
    assert_eq!(e.encryption_context, None);
    let e = find("/resources = {\"k\":\"v\",\"n\":1}");
    assert_eq!(e.key.arn, None, "no resources, no keyId: unresolved");
    let e = find("/readOnly = \"s\"");
    assert_eq!(e.read_only, None);
    let e = find("/eventName = true");
    assert_eq!(e.event_name, "true");
    let e = find("/userIdentity/sessionContext/sessionIssuer/arn = null");
    assert_eq!(
        e.caller.role_arn.as_deref(),
        Some("arn:aws:iam::111122223333:role/ProtonAdminRole"),
        "from the assumed-role ARN"
    );

    // All variants in one run that writes the tables: every one counted and every KMS one
    // written, none lost.
    let n = variants.len() as u64;
    let doc = wrapped(&variants.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>());
    let tmp = tempfile::tempdir().unwrap();
    let (r, events) = run_writing(
        vec![bytes_source("wrong-types.json", doc), good_source()],
        tmp.path(),
    );
    assert_eq!(r.errors(), Vec::<String>::new());
    let s = &r.report.stats;
    assert_eq!(s.records, n + GOOD_RECORDS);
    assert_eq!(s.records_invalid, 0);
    assert_eq!(s.other_service_records, 5 + GOOD_OTHER_RECORDS);
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.kms_events, n - 5 + 1);
    assert_eq!(events.len() as u64, s.kms_events);
    r.assert_good_ingested();
    r.assert_records_add_up();
}

// ---------------------------------------------------------------------------------------
// 8. Empty files
// ---------------------------------------------------------------------------------------

#[test]
fn empty_file_and_empty_gzip_are_one_error_each() {
    let empty_gz = gz(b"");
    assert!(!empty_gz.is_empty());
    let r = run(vec![
        bytes_source("empty.json", Vec::new()),
        bytes_source("empty.json.gz", empty_gz.clone()),
        good_source(),
    ]);
    let errors = r.errors();
    for e in &errors {
        println!("library: {e}");
    }
    assert_eq!(
        errors,
        [
            "empty.json: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
            "empty.json.gz: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
        ]
    );
    assert!(r.outcome("empty.json.gz").failure.is_some());
    let s = &r.report.stats;
    assert_eq!((s.files_read, s.files_failed), (3, 2));
    r.assert_good_ingested();
    r.assert_records_add_up();

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    std::fs::write(input.join("empty.json"), b"").unwrap();
    std::fs::write(input.join("empty.json.gz"), &empty_gz).unwrap();
    let (errors, events, summary) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(
        errors,
        [
            format!(
                "error: {}: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
                input.join("empty.json").display()
            ),
            format!(
                "error: {}: line 1, column 1: not a CloudTrail log: no JSON value (empty input)",
                input.join("empty.json.gz").display()
            ),
        ]
    );
    assert_eq!(events.len(), 1);
    assert!(
        summary.contains("files: 3 read, 0 skipped (0 by name, 0 digest or insight), 2 failed"),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------
// 9. A billion spaces
// ---------------------------------------------------------------------------------------

/// `n` bytes of 0x20, generated as they are read.
struct Spaces(u64);

impl Read for Spaces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.0) as usize;
        buf[..n].fill(b' ');
        self.0 -= n as u64;
        Ok(n)
    }
}

#[test]
fn a_billion_spaces_are_streamed_and_reported_as_empty() {
    let n: u64 = 1_000_000_000;
    let started = Instant::now();
    let r = run(vec![
        (
            "spaces.json".to_string(),
            Box::new(Spaces(n)) as Box<dyn Read>,
        ),
        good_source(),
    ]);
    let took = started.elapsed();
    println!("{n} spaces in {took:?}");
    let errors = r.errors();
    println!("library: {}", errors.join(" | "));
    assert_eq!(
        errors,
        ["spaces.json: line 1, column 1000000001: not a CloudTrail log: no JSON value (empty input)"]
    );
    let s = &r.report.stats;
    assert_eq!((s.files_read, s.files_failed), (2, 1));
    r.assert_good_ingested();
    r.assert_records_add_up();
}

// ---------------------------------------------------------------------------------------
// 10. `Records` that is not an array
// ---------------------------------------------------------------------------------------

#[test]
fn records_that_is_not_an_array_fails_its_source_with_the_place() {
    let cases = [
        ("object.json", "{\"Records\": {}}", "an object"),
        ("string.json", "{\"Records\": \"x\"}", "a string"),
        ("number.json", "{\"Records\": 5}", "a number"),
        ("null.json", "{\"Records\": null}", "null"),
    ];
    let mut sources: Vec<Source> = cases
        .iter()
        .map(|(name, doc, _)| bytes_source(name, doc.as_bytes().to_vec()))
        .collect();
    // In JSON Lines, such a line costs only itself.
    let lines = [
        kms_bytes("l0"),
        b"{\"Records\": 5}".to_vec(),
        kms_bytes("l2"),
    ]
    .join(&b'\n');
    sources.push(bytes_source("lines.jsonl", lines.clone()));
    sources.push(good_source());
    let r = run(sources);
    let errors = r.errors();
    for e in &errors {
        println!("library: {e}");
    }
    let mut want: Vec<String> = cases
        .iter()
        .map(|(name, _, kind)| {
            format!("{name}: line 1, column 13: not a CloudTrail log: \"Records\" is {kind}, not an array")
        })
        .collect();
    want.push(
        "lines.jsonl: line 2, column 13: not a CloudTrail log: \"Records\" is a number, not an array"
            .into(),
    );
    assert_eq!(errors, want);
    let s = &r.report.stats;
    assert_eq!((s.files_read, s.files_failed), (6, 4));
    assert_eq!(s.records_invalid, 1);
    assert!(r.finding_ids().contains("l0") && r.finding_ids().contains("l2"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    copy_good(&input);
    for (name, doc, _) in &cases {
        std::fs::write(input.join(name), doc).unwrap();
    }
    std::fs::write(input.join("lines.jsonl"), &lines).unwrap();
    let (errors, events, _) = analyze_expecting_errors(&input, &tmp.path().join("out"));
    assert_eq!(errors.len(), 5, "{errors:?}");
    for (name, _, kind) in &cases {
        let line = format!(
            "error: {}: line 1, column 13: not a CloudTrail log: \"Records\" is {kind}, not an array",
            input.join(name).display()
        );
        assert!(errors.contains(&line), "{line} not in {errors:?}");
    }
    assert_eq!(
        ids(&events),
        ["l0", "l2", GOOD_EVENT_ID].map(String::from).into()
    );
}

// ---------------------------------------------------------------------------------------
// 11. Duplicate keys
// ---------------------------------------------------------------------------------------

#[test]
fn duplicate_keys_take_the_last_value() {
    // Two eventNames: the last (Decrypt) wins.
    let mut r0 = kms_bytes("dup0");
    splice(
        &mut r0,
        b"\"eventName\"",
        b"\"eventName\":\"ListKeys\",\"eventName\"",
    );
    // Two eventIDs: the last (dupB) is the record's id for dedupe and the tables.
    let mut r1 = kms_bytes("dupB");
    splice(&mut r1, b"\"eventID\"", b"\"eventID\":\"dupA\",\"eventID\"");
    // Two values for one context key: the last is the resource.
    let mut r2 = kms_bytes("dup2");
    splice(
        &mut r2,
        b"\"aws:proton:resource\"",
        b"\"aws:proton:resource\":\"arn:aws:proton:us-east-1:111122223333:service/first\",\"aws:proton:resource\"",
    );
    // Two eventSources: the last decides whether it is a KMS record.
    let mut r3 = kms_bytes("dup3");
    splice(
        &mut r3,
        b"\"eventSource\":\"kms.amazonaws.com\"",
        b"\"eventSource\":\"kms.amazonaws.com\",\"eventSource\":\"s3.amazonaws.com\"",
    );
    let mut r4 = kms_bytes("dup4");
    splice(
        &mut r4,
        b"\"eventSource\"",
        b"\"eventSource\":\"s3.amazonaws.com\",\"eventSource\"",
    );

    assert_eq!(decoded_event(&r0).event_name, "Decrypt");
    assert_eq!(decoded_event(&r1).event_id.as_deref(), Some("dupB"));
    let e2 = decoded_event(&r2);
    assert_eq!(
        e2.encryption_context.as_ref().unwrap()["aws:proton:resource"],
        "arn:aws:proton:us-east-1:111122223333:service/frontend"
    );
    assert!(matches!(decode(&r3), Decoded::Other { insight: false }));
    assert_eq!(decoded_event(&r4).event_id.as_deref(), Some("dup4"));

    // A later record with id dupB is a duplicate of r1; one with id dupA is not.
    let doc = wrapped(&[r0, r1, r2, r3, r4, kms_bytes("dupB"), kms_bytes("dupA")]);
    let r = run(vec![bytes_source("dups.json", doc), good_source()]);
    assert_eq!(r.errors(), Vec::<String>::new());
    let s = &r.report.stats;
    assert_eq!((s.kms_records, s.duplicates, s.kms_events), (7, 1, 6));
    assert_eq!(s.other_service_records, 1 + GOOD_OTHER_RECORDS);
    let ids = r.finding_ids();
    for id in ["dup0", "dupB", "dup2", "dup4", "dupA"] {
        assert!(ids.contains(id), "{id} {ids:?}");
    }
    assert!(!ids.contains("dup3"));
    let f2 = r
        .report
        .findings
        .iter()
        .find(|f| f.event_id == "dup2")
        .unwrap();
    assert_eq!(
        f2.proton_resource.as_deref(),
        Some("arn:aws:proton:us-east-1:111122223333:service/frontend")
    );
    r.assert_good_ingested();
    r.assert_records_add_up();
}

// ---------------------------------------------------------------------------------------
// 12. 10,000 encryption-context pairs
// ---------------------------------------------------------------------------------------

fn wide_context_record(event_id: &str, pairs: usize) -> Vec<u8> {
    let mut rec = kms_record(event_id);
    let ctx = rec["requestParameters"]["encryptionContext"]
        .as_object_mut()
        .unwrap();
    for i in 0..pairs {
        ctx.insert(format!("aws:k{i:06}"), json!(format!("value-{i}")));
    }
    serde_json::to_vec(&rec).unwrap()
}

/// Decodes, judges and writes one source; returns the written events and the time it took.
fn timed_wide_run(pairs: usize) -> (Run, Vec<KmsEvent>, Duration) {
    let doc = wrapped(&[wide_context_record("wide", pairs), kms_bytes("narrow")]);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (r, events) = run_writing(
        vec![bytes_source("wide.json", doc), good_source()],
        tmp.path(),
    );
    (r, events, started.elapsed())
}

#[test]
fn ten_thousand_context_pairs_decode_in_linear_time() {
    let (r, events, t10k) = timed_wide_run(10_000);
    assert_eq!(r.errors(), Vec::<String>::new());
    let wide = events
        .iter()
        .find(|e| e.event_id.as_deref() == Some("wide"))
        .unwrap();
    assert_eq!(wide.encryption_context.as_ref().unwrap().len(), 10_002);
    let f = r
        .report
        .findings
        .iter()
        .find(|f| f.event_id == "wide")
        .unwrap();
    assert_eq!(
        f.proton_template.as_deref(),
        Some("arn:aws:proton:us-east-1:111122223333:service-template/web-svc")
    );
    assert!(r.finding_ids().contains("narrow"));
    r.assert_good_ingested();
    r.assert_records_add_up();

    // Ten times the pairs: linear work takes about ten times as long; quadratic work
    // (some 10^10 steps) would not finish in the bound.
    let (r, _, t100k) = timed_wide_run(100_000);
    assert!(r.finding_ids().contains("wide"));
    println!("10,000 pairs: {t10k:?}; 100,000 pairs: {t100k:?}");
    assert!(t10k < Duration::from_secs(10), "{t10k:?}");
    assert!(t100k < Duration::from_secs(60), "{t100k:?}");
}

// ---------------------------------------------------------------------------------------
// 13. Terminal escapes and huge strings in the findings table
// ---------------------------------------------------------------------------------------

#[test]
fn findings_table_escapes_controls_and_bounds_lines() {
    let evil = "\u{1b}[31mRED\u{1b}]0;title\u{7}\rCR\u{8}BS\u{202e}RLO\u{0}NUL\u{2067}RLI\u{200f}RLM\u{9b}CSI\u{7f}DEL\u{2028}LS";
    let mut hostile = kms_record(&format!("evil-{evil}"));
    hostile["userIdentity"] =
        json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{evil}")});
    hostile["resources"][0]["ARN"] =
        json!(format!("arn:aws:kms:us-east-1:111122223333:key/{evil}"));
    hostile["requestParameters"]["encryptionContext"] = json!({
        "aws:proton:template": format!("arn:aws:proton:us-east-1:111122223333:service-template/{evil}"),
        "aws:proton:resource": format!("arn:aws:proton:us-east-1:111122223333:service/{evil}")
    });
    // 1 MB strings: an event id of ESCs, a key ARN, a caller ARN. (Before cells were cut,
    // a cell wider than 65,535 characters made the table's `{:<w$}` padding panic: exit 101
    // and no output at all.)
    let mut long = kms_record(&"\u{1b}".repeat(1 << 20));
    long["eventTime"] = json!("2026-01-01T00:00:01Z");
    long["resources"][0]["ARN"] = json!(format!(
        "arn:aws:kms:us-east-1:111122223333:key/{}",
        "k".repeat(1 << 20)
    ));
    long["userIdentity"] = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{}", "\u{202e}".repeat(1 << 20))});
    let doc = serde_json::to_vec(&json!({"Records": [hostile, long]})).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let hostile_path = tmp.path().join("hostile.json");
    std::fs::write(&hostile_path, &doc).unwrap();
    // A broken file whose name holds an escape sequence: the stderr line is escaped too.
    let bad_name = tmp.path().join("bad\u{1b}[2J.json");
    std::fs::write(&bad_name, b"{\"Records\":[").unwrap();

    let o = keytrail(&[
        "findings",
        hostile_path.to_str().unwrap(),
        &good_name(),
        bad_name.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let errors = error_lines(&o);
    assert_eq!(
        errors,
        [format!(
            "error: {}/bad\\u{{1b}}[2J.json: line 1, column 13: invalid JSON: unexpected end of input",
            tmp.path().display()
        )]
    );
    assert!(!o.stderr.contains(&0x1b));

    let table = String::from_utf8(o.stdout).unwrap();
    for (c, what) in [
        ('\u{1b}', "ESC"),
        ('\u{7}', "BEL"),
        ('\r', "CR"),
        ('\u{8}', "BS"),
        ('\u{0}', "NUL"),
        ('\u{7f}', "DEL"),
        ('\u{9b}', "CSI"),
        ('\u{202e}', "RLO"),
        ('\u{2067}', "RLI"),
        ('\u{200f}', "RLM"),
        ('\u{2028}', "LS"),
    ] {
        assert!(!table.contains(c), "raw {what} in the table");
    }
    // The event id is longer than its column: it is repeated whole on a detail line, wrapped.
    let joined: String = table
        .lines()
        .map(|l| l.trim_start().trim_start_matches("event id").trim_start())
        .collect();
    assert!(joined.contains("evil-\\u{1b}[31mRED\\u{1b}]0;title\\u{7}\\u{d}CR\\u{8}BS\\u{202e}RLO\\u{0}NUL\\u{2067}RLI\\u{200f}RLM\\u{9b}CSI\\u{7f}DEL\\u{2028}LS"), "{}", &table[..table.len().min(2000)]);
    // Three findings (the good one, the escapes, the 1 MB strings): a header, then each
    // finding's line and its indented details, none wider than 120 columns however long
    // the values.
    let lines: Vec<&str> = table.lines().collect();
    let heads = lines.iter().skip(1).filter(|l| !l.starts_with(' ')).count();
    assert_eq!(
        heads,
        3,
        "{:?}",
        lines
            .iter()
            .map(|l| &l[..l.len().min(120)])
            .collect::<Vec<_>>()
    );
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap();
    println!(
        "table: {} bytes, {} lines, longest line {longest} characters",
        table.len(),
        lines.len()
    );
    assert!(longest <= 120, "{longest}");
    assert!(lines.len() < 400, "{}", lines.len());
    assert!(table.contains(GOOD_EVENT_ID));
    let flat = table.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(" more characters)"));

    // CSV keeps every character, escaped; JSON escapes the C0 controls by construction.
    let csv = keytrail(&[
        "findings",
        hostile_path.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(csv.status.code(), Some(0));
    assert!(!csv.stdout.contains(&0x1b) && !csv.stdout.contains(&b'\r'));
    assert!(csv.stdout.len() > 3 << 20, "the 1 MB values are all there");
    let json_out = keytrail(&[
        "findings",
        hostile_path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(json_out.status.code(), Some(0));
    assert!(!json_out.stdout.contains(&0x1b) && !json_out.stdout.contains(&b'\r'));

    // analyze: the summary prints counts, not log strings; the tables keep the values as is.
    let out = tmp.path().join("out");
    let o = keytrail(&[
        "analyze",
        hostile_path.to_str().unwrap(),
        &good_name(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.stdout.contains(&0x1b));
    let events = table_events(&out);
    assert!(ids(&events).contains(&format!("evil-{evil}")));
    assert!(ids(&events).contains(&"\u{1b}".repeat(1 << 20)));
    assert_eq!(events.len(), 3);
}
