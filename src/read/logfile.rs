//! Streaming reader for CloudTrail log files in every shape they come in.
//!
//! This module owns framing: turning a byte stream (gzip, multi-member gzip or plain) into
//! a sequence of record byte slices, without ever holding more than one record in memory.
//! It accepts CloudTrail's `{"Records":[...]}` (streamed element by element), a top-level
//! array of records, JSON Lines, a single record object and concatenated JSON values, and
//! recognises digest files so they are skipped rather than failed. It also recognises, by
//! content, the output of `aws cloudtrail lookup-events` (`{"Events":[...]}`) and of
//! CloudTrail Lake's `get-query-results` (`{"QueryResultRows":[...]}`), pages one after
//! another included: their arrays are streamed the same way, and [`crate::read::envelope`] turns
//! each element into the record it carries. It knows nothing of what a record means: each
//! record's bytes go to a [`RecordSink`].

use crate::error::{InputError, InputErrorKind, Location};
use flate2::bufread::MultiGzDecoder;
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

mod frame;
mod scanner;
use frame::frame;
use scanner::Scanner;

/// Largest single record (or JSON Lines line) accepted. CloudTrail caps records at 256 KB;
/// the margin tolerates re-exports and keeps one hostile record from exhausting memory.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Default cap on the decompressed size of one source (defeats gzip bombs).
pub const DEFAULT_MAX_SOURCE_BYTES: u64 = 64 << 30;

/// Default [`ReadOptions::max_inflation`]. CloudTrail logs compress about 10 to 30 times;
/// deflate cannot exceed about 1032 times, which a gzip bomb of one repeated byte reaches.
pub const DEFAULT_MAX_INFLATION: u64 = 250;

/// Default [`ReadOptions::inflation_check_from`].
pub const INFLATION_CHECK_FROM: u64 = 64 << 20;
const INFLATION_CHECK_EVERY: u64 = 16 << 20;

/// Why a source was skipped rather than read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A CloudTrail-Digest integrity file.
    Digest,
    /// A CloudTrail-Insight file.
    Insight,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Digest => "CloudTrail-Digest file",
            SkipReason::Insight => "CloudTrail-Insight file",
        }
    }
}

/// Recognises digest and insight objects by their CloudTrail key or file name.
pub fn skip_reason_for_name(name: &str) -> Option<SkipReason> {
    if name.contains("CloudTrail-Digest/") || name.contains("_CloudTrail-Digest_") {
        Some(SkipReason::Digest)
    } else if name.contains("CloudTrail-Insight/") || name.contains("_CloudTrail-Insight_") {
        Some(SkipReason::Insight)
    } else {
        None
    }
}

/// Where a record starts in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPos {
    /// Zero-based index of the record in the source.
    pub index: u64,
    /// One-based line of its first byte.
    pub line: u64,
    /// One-based column of its first byte.
    pub column: u64,
}

impl RecordPos {
    /// The position `between.len()` bytes further on, `between` being the bytes skipped.
    fn advance(&self, between: &[u8]) -> RecordPos {
        match memchr::memrchr(b'\n', between) {
            None => RecordPos {
                column: self.column + between.len() as u64,
                ..*self
            },
            Some(nl) => RecordPos {
                line: self.line + memchr::memchr_iter(b'\n', between).count() as u64,
                column: (between.len() - nl) as u64,
                ..*self
            },
        }
    }

    /// Translates a position inside the record (as serde_json reports it, one-based) into
    /// a location in the source.
    pub fn locate(&self, line_in_record: usize, column_in_record: usize) -> Location {
        let (line, column) = if line_in_record <= 1 {
            (
                self.line,
                self.column + column_in_record.saturating_sub(1) as u64,
            )
        } else {
            (
                self.line + line_in_record as u64 - 1,
                column_in_record as u64,
            )
        };
        Location {
            record_index: Some(self.index),
            line: Some(line),
            column: Some(column),
        }
    }
}

/// Receives the records of a source as they are framed.
pub trait RecordSink {
    /// One record's bytes (a complete JSON value, usually an object).
    fn record(&mut self, pos: RecordPos, bytes: &[u8]);
    /// A problem confined to one record or line; the source goes on.
    fn record_error(&mut self, error: InputError);
}

/// Options for reading a source.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Stop after this many decompressed bytes (a gzip bomb guard).
    pub max_source_bytes: u64,
    /// Stop a gzip source that has decompressed to more than this many times the
    /// compressed bytes read so far (0: no limit). Stops a bomb after
    /// `inflation_check_from` bytes instead of at `max_source_bytes`.
    pub max_inflation: u64,
    /// Decompressed bytes after which the inflation guard first looks (then every 16 MiB),
    /// so small sources are never judged by ratio.
    pub inflation_check_from: u64,
    /// Treat the source as JSON Lines from the first line (for example a `.jsonl` name).
    pub json_lines_hint: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_source_bytes: DEFAULT_MAX_SOURCE_BYTES,
            max_inflation: DEFAULT_MAX_INFLATION,
            inflation_check_from: INFLATION_CHECK_FROM,
            json_lines_hint: false,
        }
    }
}

/// The layout a source turned out to have. A source holding lookup-events or CloudTrail Lake
/// pages is named by that shape (with what it yielded), whatever the layout of its pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `{"Records":[...]}`, possibly several concatenated.
    Wrapped,
    /// A top-level array of records.
    Array,
    /// One record object.
    SingleRecord,
    /// One JSON value per line.
    JsonLines,
    /// Several JSON values one after another, not one per line.
    Concatenated,
    /// `aws cloudtrail lookup-events` output, one page or several (concatenated or one per
    /// line): `events` elements of `Events` arrays were read (each gave a record or a
    /// record error) from `pages` pages.
    LookupEvents { pages: u64, events: u64 },
    /// CloudTrail Lake `get-query-results` output, one page or several: `rows` rows of
    /// `QueryResultRows` were read (each gave a record or a record error) from `pages` pages.
    LakeResults { pages: u64, rows: u64 },
}

impl Framing {
    /// Whether this names an export shape (which a source keeps, whatever its layout).
    fn is_export(self) -> bool {
        matches!(
            self,
            Framing::LookupEvents { .. } | Framing::LakeResults { .. }
        )
    }
}

/// What reading one source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    /// Records handed to the sink.
    pub records: u64,
    /// Set when the source is a digest or insight file and was not read as records.
    pub skipped: Option<SkipReason>,
    pub gzip: bool,
    pub framing: Option<Framing>,
    /// Decompressed bytes read.
    pub bytes: u64,
}

/// Reads one source, handing each record to `sink`.
///
/// Returns an error when the source as a whole cannot be read further (corrupt gzip,
/// broken JSON framing, an I/O failure): records handed over before that stay handed
/// over. Problems confined to one record or line go to [`RecordSink::record_error`].
pub fn read_log<R: Read>(
    source_name: &str,
    input: R,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
) -> Result<ReadSummary, InputError> {
    let compressed = Rc::new(Cell::new(0u64));
    let mut raw = BufReader::with_capacity(
        256 * 1024,
        SourceRead {
            inner: input,
            read: compressed.clone(),
        },
    );
    let head = raw
        .fill_buf()
        .map_err(|e| classify_io(source_name, Location::default(), e))?;
    let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    let mut summary = ReadSummary {
        records: 0,
        skipped: None,
        gzip,
        framing: None,
        bytes: 0,
    };
    let result = if gzip {
        let dec = BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(raw));
        let mut sc = Scanner::new(dec, source_name, opts.max_source_bytes, 1);
        if opts.max_inflation > 0 {
            sc.inflation = Some((compressed, opts.max_inflation));
            sc.next_stop = sc.limit.min(opts.inflation_check_from);
        }
        let r = frame(&mut sc, opts, sink, &mut summary);
        summary.bytes = sc.offset;
        r
    } else {
        let mut sc = Scanner::new(raw, source_name, opts.max_source_bytes, 1);
        let r = frame(&mut sc, opts, sink, &mut summary);
        summary.bytes = sc.offset;
        r
    };
    result.map(|_| summary)
}

/// Marks errors of the underlying source, so they are told apart from gzip errors
/// raised by the decoder on top of it.
#[derive(Debug)]
struct SourceIoError(io::Error);

impl std::fmt::Display for SourceIoError {
    /// The error and its causes on one line: an SDK stream error says only "streaming
    /// error" at the top, and the reason (a body cut short, a reset) is in its sources.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last.replace(['\n', '\r'], " "))?;
        let mut cause = std::error::Error::source(&self.0);
        while let Some(c) = cause {
            let text = c.to_string();
            if !last.contains(&text) {
                write!(f, ": {}", text.replace(['\n', '\r'], " "))?;
            }
            last = text;
            cause = c.source();
        }
        Ok(())
    }
}
impl std::error::Error for SourceIoError {}

struct SourceRead<R> {
    inner: R,
    /// Bytes read from the source (compressed, for a gzip source).
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for SourceRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io::Error::new(e.kind(), SourceIoError(e))),
                Ok(n) => {
                    self.read.set(self.read.get() + n as u64);
                    return Ok(n);
                }
            }
        }
    }
}

fn classify_io(source: &str, location: Location, e: io::Error) -> InputError {
    let kind = match e.get_ref() {
        Some(inner) if inner.is::<SourceIoError>() => InputErrorKind::Io(inner.to_string()),
        _ if e.kind() == io::ErrorKind::UnexpectedEof => {
            InputErrorKind::Gzip("truncated stream (unexpected end of file)".into())
        }
        _ => InputErrorKind::Gzip(e.to_string()),
    };
    InputError::new(source, location, kind)
}

fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

#[cfg(test)]
mod tests;
