//! One framed record: decoding into the KMS model, then (for a KMS record) the whole
//! apply path (dedupe, timeline, rules, table rows) in a one-record run.
#![no_main]

use keytrail::pipeline::decode;
use keytrail::pipeline::{Pipeline, PipelineOptions};
use keytrail::read::logfile::{ReadSummary, RecordPos};
use keytrail::tables::writer::NoStore;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pos = RecordPos {
        index: 0,
        line: 1,
        column: 1,
    };
    let decoded = decode::decode_record("fuzz.json", pos, data, true);
    let opts = PipelineOptions {
        capture_ledger: true,
        ..PipelineOptions::default()
    };
    let mut pipeline = Pipeline::<NoStore>::new(opts, true);
    let mut store = NoStore;
    {
        let mut applier = pipeline.begin_source("fuzz.json");
        applier
            .apply(&mut store, decoded)
            .expect("NoStore never fails");
        let _ = applier.finish(Ok(ReadSummary {
            records: 1,
            skipped: None,
            gzip: false,
            framing: None,
            bytes: data.len() as u64,
        }));
    }
    let report = pipeline.finish(&mut store).expect("NoStore never fails");
    let mut text = Vec::new();
    keytrail::render::write_table(&mut text, &report.findings).expect("writes to a Vec");
    // Whatever the record held, the table reaching a terminal carries no escape sequence.
    assert!(!text.contains(&0x1b), "ESC reached the table output");
});
