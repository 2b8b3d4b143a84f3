//! Hostile input against keytrail's bounds on size and time: gzip bombs (stopped at the
//! decompressed-size cap, and a small object inflating to gigabytes stopped by the CLI's
//! defaults), a 300 KB record beside one over the 16 MiB record limit, a billion spaces
//! streamed, and 10,000 encryption-context pairs decoded in linear time.
//!
//! Each test puts the hostile source next to a good one and checks three things: the error
//! is one line naming the source, the place and the cause (or, where keytrail is tolerant,
//! what it decoded); the good source was still read in full; and the run's counts account
//! for what was skipped or invalid, so nothing is dropped silently. The gigabyte bomb also
//! runs the `keytrail` binary (exit 2, one stderr line, the good tables still written). The
//! shared helpers are in `tests/common/hostile.rs`.

mod common;

use common::hostile::*;
use keytrail::error::InputErrorKind;
use keytrail::model::kms::KmsEvent;
use keytrail::pipeline::PipelineOptions;
use keytrail::read::logfile::MAX_RECORD_BYTES;
use serde_json::json;
use std::io::Read;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Gzip bomb
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
// A 300 KB record (and one over the 16 MiB record limit)
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
    let errors = r.printed_errors();
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
// A billion spaces
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
// 10,000 encryption-context pairs
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
    let f = r.finding("wide");
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
