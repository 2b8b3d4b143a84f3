//! Tables written by an earlier keytrail lack the columns the rules added later: they still
//! read, the rules treat those facts as unknown (exactly as if the logs had not carried
//! them), and the user is told so.

mod common;

use arrow::record_batch::RecordBatch;
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// The record fields behind `keytrail::tables::reader::LATER_COLUMNS`.
const LATER_FIELDS: [&str; 8] = [
    "granteeServicePrincipal",
    "retiringServicePrincipal",
    "sourceArn",
    "sharedEventID",
    "keyMaterialId",
    "importType",
    "customKeyStoreId",
    "policy",
];

/// Rewrites a kms_events file without the later columns, as an earlier keytrail wrote it.
fn strip_table_file(path: &Path) {
    let bytes = bytes::Bytes::from(std::fs::read(path).unwrap());
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| {
            !keytrail::tables::reader::LATER_COLUMNS.contains(&schema.field(i).name().as_str())
        })
        .collect();
    assert_eq!(
        keep.len() + 8,
        schema.fields().len(),
        "every later column is there"
    );
    let projected: Vec<RecordBatch> = batches.iter().map(|b| b.project(&keep).unwrap()).collect();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        projected[0].schema(),
        None,
    )
    .unwrap();
    for b in &projected {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn strip_fields(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for f in LATER_FIELDS {
                m.remove(f);
            }
            m.values_mut().for_each(strip_fields);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_fields),
        _ => {}
    }
}

fn findings(args: &[&str]) -> (Vec<Value>, String) {
    let o = keytrail(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn older_tables_read_with_the_later_facts_unknown_and_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let tables = tmp.path().join("tables");
    let o = analyze_to(&testdata("trail"), &tables, &["--no-progress"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let kms_files = files_under(&tables.join("kms_events"));
    assert!(!kms_files.is_empty());
    for f in &kms_files {
        strip_table_file(f);
    }

    // The same logs without the fields behind those columns.
    let raw = tmp.path().join("raw");
    let trail = testdata("trail");
    for f in files_under(&trail) {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        strip_fields(&mut v);
        let rel = f.strip_prefix(&trail).unwrap().with_extension("");
        let out = raw.join(rel);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, v.to_string()).unwrap();
    }

    let args = |loc: &Path, tables: bool| {
        let mut a = vec!["findings".to_string()];
        if tables {
            a.push("--tables".into());
        }
        a.extend([loc.display().to_string(), "--format".into(), "json".into()]);
        a
    };
    let t = args(&tables, true);
    let (from_tables, note) = findings(&t.iter().map(String::as_str).collect::<Vec<_>>());
    let r = args(&raw, false);
    let (from_logs, _) = findings(&r.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        from_tables, from_logs,
        "older tables = logs without those facts"
    );
    let want = format!(
        "note: {} kms_events file(s) were written by an earlier keytrail",
        kms_files.len()
    );
    assert!(note.contains(&want), "{note}");
    // And the facts matter: the full logs give other findings.
    let (full, _) = findings(&["findings", trail.to_str().unwrap(), "--format", "json"]);
    assert_ne!(full, from_logs);
}
