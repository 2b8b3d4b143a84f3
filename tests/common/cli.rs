//! Helpers of the CLI tests (`tests/cli*.rs`): a run's stderr lines, and the tables a run
//! wrote, read back from their Parquet files.

use super::parquet_files;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

pub fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The record batches of one table, read back from its Parquet files.
pub fn batches(out: &Path, table: &str) -> Vec<arrow::record_batch::RecordBatch> {
    parquet_files(&out.join(table))
        .iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
        })
        .collect()
}

/// Rows per table, read back from the Parquet files.
pub fn table_rows(out: &Path) -> BTreeMap<String, usize> {
    keytrail::tables::schema::TABLES
        .iter()
        .map(|t| {
            let n = batches(out, t.name).iter().map(|b| b.num_rows()).sum();
            (t.name.to_string(), n)
        })
        .collect()
}
