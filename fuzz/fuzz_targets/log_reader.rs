//! A whole log source: gzip (one or several members) and JSON framing (wrapped, array,
//! single record, JSON Lines, concatenated, lookup-events and CloudTrail Lake pages), then
//! decoding and the run's findings.
//! The first byte picks how the rest is presented: bit 0 gzips it, bit 1 names the
//! source `.jsonl`, bit 2 splits the gzip into two members.
#![no_main]

use flate2::write::GzEncoder;
use flate2::Compression;
use keytrail::pipeline::{Pipeline, PipelineOptions};
use keytrail::tables::writer::NoStore;
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fn gzip(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(p).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let input = match (mode & 1 != 0, mode & 4 != 0) {
        (false, _) => body.to_vec(),
        (true, false) => gzip(&[body]),
        (true, true) => {
            let (a, b) = body.split_at(body.len() / 2);
            gzip(&[a, b])
        }
    };
    let name = if mode & 2 != 0 {
        "fuzz.jsonl"
    } else {
        "fuzz.json"
    };
    let mut opts = PipelineOptions::default();
    // A small cap, so a bomb found by the fuzzer is cut off quickly (and must be reported).
    opts.read.max_source_bytes = 4 << 20;
    opts.capture_ledger = true;
    // Tables are not built here (the record target builds them): framing and decoding
    // get the executions.
    let mut pipeline = Pipeline::<NoStore>::new(opts, false);
    let mut store = NoStore;
    let outcome = pipeline
        .ingest(&mut store, name, &input[..])
        .expect("NoStore never fails");
    // Errors are one line: they end up in logs and on a terminal.
    for err in outcome.failure.iter().chain(&outcome.record_errors) {
        let line = err.to_string();
        assert!(!line.contains('\n'), "multi-line error: {line}");
    }
    let _ = pipeline.finish(&mut store).expect("NoStore never fails");
});
