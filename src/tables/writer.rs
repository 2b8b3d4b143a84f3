//! Writing tables as Hive-partitioned, zstd-compressed Parquet with bounded memory.
//!
//! This module owns the file layout (`<table>/account_id=A/region=R/event_date=D/<stem>-NNNNN.parquet`),
//! deterministic names (the same rows in the same order give the same files, so a rerun
//! overwrites), and the memory bound: rows are batched, row groups are flushed when the
//! buffered total passes a budget, and files are closed when too many are open. Where the
//! bytes go is the [`TableStore`]'s business (a local folder here, S3 in the Lambda).

use crate::error::OutputError;
use crate::tables::schema::{BatchBuilder, Table, Value, NULL_PARTITION};
use chrono::DateTime;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// Where table files go. A file is created, written, then committed: a store must not make
/// a file visible to readers before its commit.
pub trait TableStore {
    type Object: Write + Send;
    /// Starts a file at `path` (relative to the output root, `/`-separated).
    fn create(&mut self, path: &str) -> Result<Self::Object, OutputError>;
    /// Makes the file complete and visible.
    fn commit(&mut self, path: &str, object: Self::Object) -> Result<(), OutputError>;
}

/// Tuning of the writer; the defaults suit both a CLI backfill and a Lambda.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Rows buffered (over all partitions) before they are encoded.
    pub batch_rows: usize,
    /// Bytes of string data buffered before they are encoded.
    pub batch_bytes: usize,
    /// Largest row group.
    pub row_group_rows: usize,
    /// Budget for the memory of unflushed row groups over all open files.
    pub memory_budget: usize,
    /// Most files open at once; the least recently used is closed beyond it.
    pub max_open_files: usize,
    /// A file given no rows by this many consecutive batches has its row group written
    /// out, which frees its column writers (their buffers and zstd contexts); 0 never
    /// does. Input in time order leaves a day's partition for good, so without this the
    /// writers of up to `max_open_files` finished days per table stay in memory.
    pub idle_batches: u64,
    /// File name stem (`part` gives `part-00000.parquet`).
    pub file_stem: String,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            batch_rows: 8192,
            batch_bytes: 8 << 20,
            row_group_rows: 1 << 17,
            memory_budget: 32 << 20,
            max_open_files: 8,
            idle_batches: 4,
            file_stem: "part".into(),
        }
    }
}

/// The Hive partition of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition<'a> {
    pub account_id: Option<&'a str>,
    pub region: Option<&'a str>,
    /// Event time (Unix ms); its UTC day is the `event_date`.
    pub time: Option<i64>,
}

impl Partition<'_> {
    /// `account_id=A/region=R/event_date=D`, each value escaped so that no input can
    /// leave the table's folder.
    pub fn path(&self) -> String {
        let date = self
            .time
            .and_then(DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d").to_string());
        format!(
            "account_id={}/region={}/event_date={}",
            escape(self.account_id),
            escape(self.region),
            escape(date.as_deref())
        )
    }
}

/// Hive-style escaping of a partition value: anything but ASCII letters, digits, `-` and
/// `_` becomes `%XX`; empty or missing becomes the Hive default partition.
pub fn escape(v: Option<&str>) -> String {
    match v {
        None | Some("") => NULL_PARTITION.to_string(),
        Some(s) => {
            let mut out = String::with_capacity(s.len());
            for b in s.bytes() {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
    }
}

/// A file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: String,
    pub rows: u64,
}

struct OpenFile<W: Write + Send> {
    path: String,
    writer: ArrowWriter<W>,
    rows: u64,
    last_used: u64,
    /// The batch that last gave this file rows.
    last_batch: u64,
}

/// Writes one table across its partitions.
pub struct PartitionedWriter<S: TableStore> {
    table: Table,
    opts: WriteOptions,
    props: WriterProperties,
    pending: BTreeMap<String, BatchBuilder>,
    pending_rows: usize,
    pending_bytes: usize,
    open: HashMap<String, OpenFile<S::Object>>,
    next_seq: HashMap<String, u32>,
    tick: u64,
    batches: u64,
    written: Vec<WrittenFile>,
    last_partition: Option<CachedPartition>,
}

/// The last partition a row went to (account, region, day) and its formatted path.
type CachedPartition = (Option<String>, Option<String>, Option<i64>, String);

fn parquet_err(table: Table, e: impl std::fmt::Display) -> OutputError {
    OutputError::Parquet {
        table: table.name.to_string(),
        reason: e.to_string(),
    }
}

impl<S: TableStore> PartitionedWriter<S> {
    pub fn new(table: Table, opts: WriteOptions) -> Self {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid level"),
            ))
            .set_max_row_group_row_count(Some(opts.row_group_rows))
            // Smaller pages bound what each open file's column writers buffer.
            .set_data_page_size_limit(256 << 10)
            .set_dictionary_page_size_limit(256 << 10)
            .build();
        PartitionedWriter {
            table,
            opts,
            props,
            pending: BTreeMap::new(),
            pending_rows: 0,
            pending_bytes: 0,
            open: HashMap::new(),
            next_seq: HashMap::new(),
            tick: 0,
            batches: 0,
            written: Vec::new(),
            last_partition: None,
        }
    }

    /// Adds one row to a partition.
    pub fn append(
        &mut self,
        store: &mut S,
        partition: &Partition<'_>,
        row: &[Value<'_>],
    ) -> Result<(), OutputError> {
        // The partition path is formatted once per (account, region, day), not per row.
        let day = partition.time.map(|t| t.div_euclid(86_400_000));
        let cached = self.last_partition.as_ref().is_some_and(|(a, r, d, _)| {
            a.as_deref() == partition.account_id && r.as_deref() == partition.region && *d == day
        });
        if !cached {
            self.last_partition = Some((
                partition.account_id.map(str::to_string),
                partition.region.map(str::to_string),
                day,
                partition.path(),
            ));
        }
        let key = self.last_partition.as_ref().expect("set above").3.clone();
        let b = self
            .pending
            .entry(key)
            .or_insert_with(|| BatchBuilder::new(self.table));
        let before = b.bytes();
        b.append(row);
        self.pending_bytes += b.bytes() - before;
        self.pending_rows += 1;
        if self.pending_rows >= self.opts.batch_rows || self.pending_bytes >= self.opts.batch_bytes
        {
            self.flush_pending(store)?;
        }
        Ok(())
    }

    fn flush_pending(&mut self, store: &mut S) -> Result<(), OutputError> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_rows = 0;
        self.pending_bytes = 0;
        self.batches += 1;
        for (part, mut builder) in pending {
            if builder.rows() == 0 {
                continue;
            }
            let batch = builder.finish();
            self.tick += 1;
            if !self.open.contains_key(&part) {
                if self.open.len() >= self.opts.max_open_files {
                    self.close_least_recent(store)?;
                }
                let seq = self.next_seq.entry(part.clone()).or_insert(0);
                let path = format!(
                    "{}/{}/{}-{:05}.parquet",
                    self.table.name, part, self.opts.file_stem, seq
                );
                *seq += 1;
                let object = store.create(&path)?;
                let writer =
                    ArrowWriter::try_new(object, self.table.schema(), Some(self.props.clone()))
                        .map_err(|e| parquet_err(self.table, e))?;
                self.open.insert(
                    part.clone(),
                    OpenFile {
                        path,
                        writer,
                        rows: 0,
                        last_used: 0,
                        last_batch: 0,
                    },
                );
            }
            let f = self.open.get_mut(&part).expect("just opened");
            f.writer
                .write(&batch)
                .map_err(|e| parquet_err(self.table, e))?;
            f.rows += batch.num_rows() as u64;
            f.last_used = self.tick;
            f.last_batch = self.batches;
        }
        self.flush_idle()?;
        self.enforce_budget()
    }

    /// Writes out the row groups of files that no recent batch gave rows. Each file's
    /// bytes depend only on its own rows and where its row groups end, so the order files
    /// are visited in does not matter; a file that gets no more rows is byte for byte what
    /// closing it would have written.
    fn flush_idle(&mut self) -> Result<(), OutputError> {
        if self.opts.idle_batches == 0 {
            return Ok(());
        }
        for f in self.open.values_mut() {
            if self.batches - f.last_batch >= self.opts.idle_batches
                && f.writer.in_progress_rows() > 0
            {
                f.writer.flush().map_err(|e| parquet_err(self.table, e))?;
            }
        }
        Ok(())
    }

    /// Flushes the biggest in-progress row groups until the total fits the budget.
    fn enforce_budget(&mut self) -> Result<(), OutputError> {
        loop {
            let total: usize = self
                .open
                .values()
                .map(|f| f.writer.in_progress_size())
                .sum();
            if total <= self.opts.memory_budget {
                return Ok(());
            }
            let Some(f) = self
                .open
                .values_mut()
                .max_by_key(|f| (f.writer.memory_size(), f.path.clone()))
            else {
                return Ok(());
            };
            if f.writer.in_progress_rows() == 0 {
                return Ok(());
            }
            f.writer.flush().map_err(|e| parquet_err(self.table, e))?;
        }
    }

    fn close_least_recent(&mut self, store: &mut S) -> Result<(), OutputError> {
        let Some(part) = self
            .open
            .iter()
            .min_by_key(|(k, f)| (f.last_used, (*k).clone()))
            .map(|(k, _)| k.clone())
        else {
            return Ok(());
        };
        let f = self.open.remove(&part).expect("present");
        self.close(store, f)
    }

    fn close(&mut self, store: &mut S, f: OpenFile<S::Object>) -> Result<(), OutputError> {
        let object = f
            .writer
            .into_inner()
            .map_err(|e| parquet_err(self.table, e))?;
        store.commit(&f.path, object)?;
        self.written.push(WrittenFile {
            path: f.path,
            rows: f.rows,
        });
        Ok(())
    }

    /// Writes what is buffered, closes every file, and lists the files written.
    pub fn finish(mut self, store: &mut S) -> Result<Vec<WrittenFile>, OutputError> {
        self.flush_pending(store)?;
        let mut parts: Vec<String> = self.open.keys().cloned().collect();
        parts.sort();
        for p in parts {
            let f = self.open.remove(&p).expect("present");
            self.close(store, f)?;
        }
        self.written.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(self.written)
    }
}

/// A store that discards everything (for runs that only compute findings).
#[derive(Debug, Default)]
pub struct NoStore;

impl TableStore for NoStore {
    type Object = std::io::Sink;
    fn create(&mut self, _path: &str) -> Result<Self::Object, OutputError> {
        Ok(std::io::sink())
    }
    fn commit(&mut self, _path: &str, _object: Self::Object) -> Result<(), OutputError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::schema::{table, ColType};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    /// Files kept whole in memory on commit.
    #[derive(Default)]
    struct Files(BTreeMap<String, Vec<u8>>);

    impl TableStore for Files {
        type Object = Vec<u8>;
        fn create(&mut self, _path: &str) -> Result<Vec<u8>, OutputError> {
            Ok(Vec::new())
        }
        fn commit(&mut self, path: &str, object: Vec<u8>) -> Result<(), OutputError> {
            self.0.insert(path.to_string(), object);
            Ok(())
        }
    }

    /// Writes `rows` (day, n) in order: n `key_states` rows on each day.
    fn write(days: &[(i64, usize)], idle_batches: u64) -> Files {
        let t = table("key_states").expect("a table");
        let opts = WriteOptions {
            batch_rows: 10,
            idle_batches,
            ..WriteOptions::default()
        };
        let mut w = PartitionedWriter::new(t, opts);
        let mut store = Files::default();
        let mut n = 0;
        for &(day, count) in days {
            for _ in 0..count {
                n += 1;
                let time = day * 86_400_000 + n;
                let id = format!("event-{n}");
                let row: Vec<Value<'_>> = t
                    .columns
                    .iter()
                    .map(|c| match c.ty {
                        ColType::Time => Value::Time(Some(time)),
                        ColType::Bool => Value::Bool(Some(n % 2 == 0)),
                        ColType::Int => Value::Int(Some(n)),
                        _ => Value::Str(Some(&id)),
                    })
                    .collect();
                let p = Partition {
                    account_id: Some("111122223333"),
                    region: Some("us-east-1"),
                    time: Some(time),
                };
                w.append(&mut store, &p, &row).expect("append");
            }
        }
        w.finish(&mut store).expect("finish");
        store
    }

    fn row_groups(bytes: &[u8]) -> Vec<i64> {
        let r = SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes)).expect("parquet");
        r.metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect()
    }

    #[test]
    fn a_partition_left_for_good_is_written_out_early_with_the_same_bytes() {
        // Day 20000 gets 25 rows, then days 20001 and 20002 get 60 rows each: day 20000
        // sits idle for 6 batches of 10 rows and is written out after the fourth.
        let days = [(20_000, 25), (20_001, 60), (20_002, 60)];
        let early = write(&days, 4);
        let never = write(&days, 0);
        assert_eq!(
            early.0.keys().collect::<Vec<_>>(),
            never.0.keys().collect::<Vec<_>>()
        );
        assert_eq!(early.0.len(), 3);
        for (path, bytes) in &early.0 {
            assert_eq!(bytes, &never.0[path], "{path}");
        }
        let first = early.0.keys().next().expect("a file");
        assert_eq!(row_groups(&early.0[first]), vec![25]);
    }

    #[test]
    fn a_partition_that_comes_back_after_idling_gets_a_second_row_group_and_loses_no_row() {
        let days = [(20_000, 25), (20_001, 60), (20_000, 7)];
        let early = write(&days, 4);
        let first = early.0.keys().next().expect("a file");
        assert_eq!(row_groups(&early.0[first]), vec![25, 7]);
        let never = write(&days, 0);
        assert_eq!(row_groups(&never.0[first]), vec![32]);
    }

    #[test]
    fn partition_values_cannot_escape_the_table_folder() {
        let p = Partition {
            account_id: Some("../../etc"),
            region: Some("us-east-1"),
            time: Some(1_772_465_400_000),
        };
        assert_eq!(
            p.path(),
            "account_id=%2E%2E%2F%2E%2E%2Fetc/region=us-east-1/event_date=2026-03-02"
        );
        let none = Partition {
            account_id: None,
            region: Some(""),
            time: None,
        };
        assert_eq!(
            none.path(),
            "account_id=__HIVE_DEFAULT_PARTITION__/region=__HIVE_DEFAULT_PARTITION__/event_date=__HIVE_DEFAULT_PARTITION__"
        );
    }
}
