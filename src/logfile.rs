//! Streaming reader for CloudTrail log files in every shape they come in.
//!
//! This module owns framing: turning a byte stream (gzip, multi-member gzip or plain) into
//! a sequence of record byte slices, without ever holding more than one record in memory.
//! It accepts CloudTrail's `{"Records":[...]}` (streamed element by element), a top-level
//! array of records, JSON Lines, a single record object and concatenated JSON values, and
//! recognises digest files so they are skipped rather than failed. It knows nothing of
//! what a record means: each record's bytes go to a [`RecordSink`].

use crate::error::{InputError, InputErrorKind, Location};
use flate2::bufread::MultiGzDecoder;
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

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

/// The layout a source turned out to have.
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

/// Frames a whole source: the first value decides the layout of the rest.
fn frame<R: BufRead>(
    sc: &mut Scanner<R>,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<(), InputError> {
    sc.skip_bom()?;
    if opts.json_lines_hint {
        summary.framing = Some(Framing::JsonLines);
        return lines(sc, sink, summary);
    }
    sc.skip_ws()?;
    let Some(first) = sc.peek()? else {
        return Err(sc.error(InputErrorKind::Shape("no JSON value (empty input)".into())));
    };
    let first_line = sc.line;
    let framing = top_value(sc, first, sink, summary)?;
    summary.framing = Some(framing);
    if summary.skipped.is_some() {
        return Ok(());
    }
    // Anything after the first value: JSON Lines if the next value starts on a new line
    // and the first sat on one line; otherwise concatenated values.
    let newline = sc.skip_ws_seen_newline()?;
    let Some(next) = sc.peek()? else {
        return Ok(());
    };
    if newline && sc.line_of_last_value_end == first_line {
        summary.framing = Some(Framing::JsonLines);
        return lines(sc, sink, summary);
    }
    summary.framing = Some(Framing::Concatenated);
    let mut next = Some(next);
    while let Some(b) = next {
        top_value(sc, b, sink, summary)?;
        sc.skip_ws()?;
        next = sc.peek()?;
    }
    Ok(())
}

/// One top-level value: a wrapper object, a digest, a single record, or an array of records.
fn top_value<R: BufRead>(
    sc: &mut Scanner<R>,
    first: u8,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<Framing, InputError> {
    match first {
        b'{' => top_object(sc, sink, summary),
        b'[' => {
            record_array(sc, sink, summary)?;
            Ok(Framing::Array)
        }
        other => Err(sc.error(InputErrorKind::Shape(format!(
            "expected a JSON object or array, found {}",
            describe_byte(other)
        )))),
    }
}

/// What kind of JSON value starts with `first` (for messages): "an object", "an array", ...
pub fn json_kind(first: Option<u8>) -> &'static str {
    match first {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(_) => "not a JSON value",
        None => "empty",
    }
}

fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// A top-level object. Streams a `Records` array if there is one; otherwise the object
/// (at most [`MAX_RECORD_BYTES`]) is a single record, or a digest to skip.
fn top_object<R: BufRead>(
    sc: &mut Scanner<R>,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<Framing, InputError> {
    let start = sc.pos(summary.records);
    let mut whole: Vec<u8> = Vec::new();
    let mut keep = true; // false once `whole` overflowed
    let mut saw_records = false;
    // Where a `Records` value that is not an array starts, and what it is.
    let mut records_not_array: Option<(u64, u64, &'static str)> = None;
    let mut keys: Vec<String> = Vec::new();
    sc.bump_into(&mut whole, keep)?; // '{'
    loop {
        sc.ws_into(&mut whole, keep)?;
        match sc.peek()? {
            Some(b'}') => {
                sc.bump_into(&mut whole, keep)?;
                break;
            }
            Some(b'"') => {}
            Some(b) => {
                return Err(sc.error(InputErrorKind::Json(format!(
                    "expected a key or '}}', found {}",
                    describe_byte(b)
                ))))
            }
            None => return Err(sc.eof_error()),
        }
        let key_start = whole.len();
        let mut key_buf = Vec::new();
        sc.capture(&mut key_buf, MAX_RECORD_BYTES)?;
        if keep {
            whole.extend_from_slice(&key_buf);
        }
        let key: String = serde_json::from_slice(&key_buf).unwrap_or_default();
        sc.ws_into(&mut whole, keep)?;
        match sc.peek()? {
            Some(b':') => sc.bump_into(&mut whole, keep)?,
            Some(b) => {
                return Err(sc.error(InputErrorKind::Json(format!(
                    "expected ':' after a key, found {}",
                    describe_byte(b)
                ))))
            }
            None => return Err(sc.eof_error()),
        }
        sc.ws_into(&mut whole, keep)?;
        if key == "Records" && sc.peek()? == Some(b'[') {
            saw_records = true;
            keep = false;
            whole.truncate(key_start);
            record_array(sc, sink, summary)?;
        } else {
            if key == "Records" {
                records_not_array = Some((sc.line, sc.column(), json_kind(sc.peek()?)));
            }
            if keys.len() < 64 {
                keys.push(key);
            }
            if keep {
                let room = MAX_RECORD_BYTES.saturating_sub(whole.len());
                let mut value = Vec::new();
                if sc.capture(&mut value, room)? {
                    whole.extend_from_slice(&value);
                } else {
                    keep = false;
                }
            } else {
                sc.capture(&mut Vec::new(), 0)?;
            }
        }
        sc.ws_into(&mut whole, keep)?;
        match sc.peek()? {
            Some(b',') => sc.bump_into(&mut whole, keep)?,
            Some(b'}') => {
                sc.bump_into(&mut whole, keep)?;
                break;
            }
            Some(b) => {
                return Err(sc.error(InputErrorKind::Json(format!(
                    "expected ',' or '}}' in an object, found {}",
                    describe_byte(b)
                ))))
            }
            None => return Err(sc.eof_error()),
        }
    }
    sc.line_of_last_value_end = sc.line;
    if saw_records {
        return Ok(Framing::Wrapped);
    }
    let has = |k: &str| keys.iter().any(|x| x == k);
    if has("digestStartTime") || (has("logFiles") && has("awsAccountId")) {
        summary.skipped = Some(SkipReason::Digest);
        return Ok(Framing::SingleRecord);
    }
    if let Some((line, column, kind)) = records_not_array {
        return Err(InputError::new(
            &sc.source,
            Location {
                record_index: None,
                line: Some(line),
                column: Some(column),
            },
            InputErrorKind::Shape(format!("\"Records\" is {kind}, not an array")),
        ));
    }
    if !keep {
        sink.record_error(InputError::new(
            &sc.source,
            Location {
                record_index: Some(start.index),
                line: Some(start.line),
                column: Some(start.column),
            },
            InputErrorKind::TooLarge {
                limit: MAX_RECORD_BYTES,
            },
        ));
        summary.records += 1;
        return Ok(Framing::SingleRecord);
    }
    sink.record(start, &whole);
    summary.records += 1;
    Ok(Framing::SingleRecord)
}

/// An array whose elements are records, streamed one at a time.
fn record_array<R: BufRead>(
    sc: &mut Scanner<R>,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<(), InputError> {
    let mut buf = Vec::with_capacity(8 * 1024);
    sc.bump()?; // '['
    sc.skip_ws()?;
    if sc.peek()? == Some(b']') {
        sc.bump()?;
        sc.line_of_last_value_end = sc.line;
        return Ok(());
    }
    loop {
        sc.skip_ws()?;
        if sc.peek()?.is_none() {
            return Err(sc.eof_error());
        }
        let pos = sc.pos(summary.records);
        buf.clear();
        let fits = sc.capture(&mut buf, MAX_RECORD_BYTES)?;
        if fits {
            sink.record(pos, &buf);
        } else {
            sink.record_error(InputError::new(
                &sc.source,
                Location {
                    record_index: Some(pos.index),
                    line: Some(pos.line),
                    column: Some(pos.column),
                },
                InputErrorKind::TooLarge {
                    limit: MAX_RECORD_BYTES,
                },
            ));
        }
        summary.records += 1;
        sc.skip_ws()?;
        match sc.peek()? {
            Some(b',') => sc.bump()?,
            Some(b']') => {
                sc.bump()?;
                sc.line_of_last_value_end = sc.line;
                return Ok(());
            }
            Some(b) => {
                return Err(sc.error(InputErrorKind::Json(format!(
                    "expected ',' or ']' between records, found {}",
                    describe_byte(b)
                ))))
            }
            None => return Err(sc.eof_error()),
        }
    }
}

/// JSON Lines: every non-blank line is framed on its own, so a broken line costs only itself.
fn lines<R: BufRead>(
    sc: &mut Scanner<R>,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<(), InputError> {
    let mut line = Vec::with_capacity(8 * 1024);
    loop {
        let line_no = sc.line;
        let Some(fits) = sc.read_line(&mut line, MAX_RECORD_BYTES)? else {
            return Ok(());
        };
        if !fits {
            sink.record_error(InputError::new(
                &sc.source,
                Location {
                    record_index: Some(summary.records),
                    line: Some(line_no),
                    column: Some(1),
                },
                InputErrorKind::TooLarge {
                    limit: MAX_RECORD_BYTES,
                },
            ));
            summary.records += 1;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut sub = Scanner::new(&line[..], &sc.source, u64::MAX, line_no);
        let outcome = (|| {
            sub.skip_ws()?;
            let first = sub.peek()?.unwrap_or(b' ');
            top_value(&mut sub, first, sink, summary)?;
            sub.skip_ws()?;
            if let Some(b) = sub.peek()? {
                return Err(sub.error(InputErrorKind::Json(format!(
                    "trailing characters after the value, starting with {}",
                    describe_byte(b)
                ))));
            }
            Ok(())
        })();
        if let Err(e) = outcome {
            if matches!(e.kind, InputErrorKind::Io(_) | InputErrorKind::Gzip(_)) {
                return Err(e);
            }
            sink.record_error(e);
        }
        // A digest line inside JSON Lines is simply not a record.
        summary.skipped = None;
    }
}

/// Byte-level JSON framing over a buffered reader: tracks strings, escapes and nesting
/// depth (iteratively, so deep nesting cannot overflow the stack) and positions.
struct Scanner<R> {
    r: R,
    source: String,
    offset: u64,
    limit: u64,
    line: u64,
    line_start: u64,
    line_of_last_value_end: u64,
    /// Compressed bytes read so far and the inflation limit, for a gzip source.
    inflation: Option<(Rc<Cell<u64>>, u64)>,
    /// The offset at which the limits are next checked (the hot path compares only this).
    next_stop: u64,
}

impl<R: BufRead> Scanner<R> {
    fn new(r: R, source: &str, limit: u64, first_line: u64) -> Self {
        Scanner {
            r,
            source: source.to_string(),
            offset: 0,
            limit,
            inflation: None,
            next_stop: limit,
            line: first_line,
            line_start: 0,
            line_of_last_value_end: 0,
        }
    }

    fn column(&self) -> u64 {
        self.offset - self.line_start + 1
    }

    fn pos(&self, index: u64) -> RecordPos {
        RecordPos {
            index,
            line: self.line,
            column: self.column(),
        }
    }

    fn here(&self) -> Location {
        Location {
            record_index: None,
            line: Some(self.line),
            column: Some(self.column()),
        }
    }

    fn error(&self, kind: InputErrorKind) -> InputError {
        InputError::new(&self.source, self.here(), kind)
    }

    fn eof_error(&self) -> InputError {
        self.error(InputErrorKind::Json("unexpected end of input".into()))
    }

    fn fill(&mut self) -> Result<&[u8], InputError> {
        if self.offset >= self.next_stop {
            self.check_limits()?;
        }
        let loc = self.here();
        let src = &self.source;
        self.r.fill_buf().map_err(|e| classify_io(src, loc, e))
    }

    #[cold]
    fn check_limits(&mut self) -> Result<(), InputError> {
        if self.offset >= self.limit {
            return Err(self.error(InputErrorKind::TooMuchData { limit: self.limit }));
        }
        if let Some((compressed, max)) = &self.inflation {
            let compressed = compressed.get();
            if self.offset > compressed.saturating_mul(*max) {
                return Err(self.error(InputErrorKind::Inflation {
                    limit: *max,
                    decompressed: self.offset,
                    compressed,
                }));
            }
            self.next_stop = self.limit.min(self.offset + INFLATION_CHECK_EVERY);
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<Option<u8>, InputError> {
        Ok(self.fill()?.first().copied())
    }

    fn bump(&mut self) -> Result<(), InputError> {
        let b = self.peek()?;
        if let Some(b) = b {
            self.r.consume(1);
            self.offset += 1;
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.offset;
            }
        }
        Ok(())
    }

    fn bump_into(&mut self, out: &mut Vec<u8>, keep: bool) -> Result<(), InputError> {
        if let Some(b) = self.peek()? {
            if keep {
                out.push(b);
            }
            self.bump()?;
        }
        Ok(())
    }

    fn skip_bom(&mut self) -> Result<(), InputError> {
        let buf = self.fill()?;
        if buf.starts_with(&[0xef, 0xbb, 0xbf]) {
            self.r.consume(3);
            self.offset += 3;
            self.line_start = self.offset;
        }
        Ok(())
    }

    fn skip_ws(&mut self) -> Result<(), InputError> {
        self.skip_ws_seen_newline().map(|_| ())
    }

    fn ws_into(&mut self, out: &mut Vec<u8>, keep: bool) -> Result<(), InputError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.bump_into(out, keep)?,
                _ => return Ok(()),
            }
        }
    }

    /// Skips whitespace a buffer at a time; tells whether a newline was among it.
    fn skip_ws_seen_newline(&mut self) -> Result<bool, InputError> {
        let mut newline = false;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(newline);
            }
            let mut n = 0;
            let mut last_nl = None;
            let mut lines = 0;
            for (i, &b) in buf.iter().enumerate() {
                match b {
                    b' ' | b'\t' | b'\r' => {}
                    b'\n' => {
                        lines += 1;
                        last_nl = Some(i);
                    }
                    _ => break,
                }
                n = i + 1;
            }
            let done = n < buf.len();
            self.r.consume(n);
            if let Some(i) = last_nl {
                newline = true;
                self.line += lines;
                self.line_start = self.offset + i as u64 + 1;
            }
            self.offset += n as u64;
            if done {
                return Ok(newline);
            }
        }
    }

    /// Reads one line (without its newline) into `out`. `Ok(None)` at end of input;
    /// `Ok(Some(false))` when the line was longer than `cap` (the rest is skipped).
    fn read_line(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<Option<bool>, InputError> {
        out.clear();
        let mut fits = true;
        let mut any = false;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(if any { Some(fits) } else { None });
            }
            any = true;
            let (take, found) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if fits && out.len() + take <= cap {
                out.extend_from_slice(&buf[..take]);
            } else {
                fits = false;
                out.clear();
            }
            let consumed = take + usize::from(found);
            self.r.consume(consumed);
            self.offset += consumed as u64;
            if found {
                self.line += 1;
                self.line_start = self.offset;
                return Ok(Some(fits));
            }
        }
    }

    /// Consumes one complete JSON value (object, array, string or scalar), appending its
    /// bytes to `out` while they fit in `cap`. Returns whether it fit; a value that does not
    /// fit is still consumed entirely, so framing goes on after it.
    fn capture(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<bool, InputError> {
        let start_len = out.len();
        let mut fits = true;
        let mut depth: u64 = 0;
        let mut in_string = false;
        let mut escape = false;
        let first = match self.peek()? {
            Some(b) => b,
            None => return Err(self.eof_error()),
        };
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        if scalar && !matches!(first, b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
            return Err(self.error(InputErrorKind::Json(format!(
                "expected a value, found {}",
                describe_byte(first)
            ))));
        }
        let mut started = false;
        loop {
            let line = self.line;
            let buf = self.fill()?;
            if buf.is_empty() {
                if scalar && started {
                    return Ok(fits);
                }
                return Err(self.eof_error());
            }
            let mut end = None;
            let mut i = 0;
            while i < buf.len() {
                if scalar {
                    let b = buf[i];
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n' | b':') {
                        end = Some(i);
                        break;
                    }
                    i += 1;
                    continue;
                }
                if in_string {
                    if escape {
                        escape = false;
                        i += 1;
                        continue;
                    }
                    // Strings are most of a record: jump to the next quote or backslash.
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        None => break,
                        Some(k) => {
                            i += k;
                            if buf[i] == b'\\' {
                                escape = true;
                            } else {
                                in_string = false;
                                if depth == 0 {
                                    end = Some(i + 1);
                                    break;
                                }
                            }
                            i += 1;
                            continue;
                        }
                    }
                }
                match buf[i] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let scanned = end.unwrap_or(buf.len());
            let (lines, last_nl) = if scalar {
                (0, None)
            } else {
                (
                    memchr::memchr_iter(b'\n', &buf[..scanned]).count() as u64,
                    memchr::memrchr(b'\n', &buf[..scanned]),
                )
            };
            started = true;
            let n = end.unwrap_or(buf.len());
            if fits {
                if out.len() - start_len + n <= cap {
                    out.extend_from_slice(&buf[..n]);
                } else {
                    fits = false;
                    out.truncate(start_len);
                }
            }
            self.r.consume(n);
            if let Some(i) = last_nl {
                self.line = line + lines;
                self.line_start = self.offset + i as u64 + 1;
            }
            self.offset += n as u64;
            if end.is_some() {
                self.line_of_last_value_end = self.line;
                return Ok(fits);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    #[derive(Default)]
    struct Collect {
        records: Vec<(RecordPos, String)>,
        errors: Vec<String>,
    }
    impl RecordSink for Collect {
        fn record(&mut self, pos: RecordPos, bytes: &[u8]) {
            self.records
                .push((pos, String::from_utf8_lossy(bytes).into_owned()));
        }
        fn record_error(&mut self, error: InputError) {
            self.errors.push(error.to_string());
        }
    }

    fn read(bytes: &[u8]) -> (Result<ReadSummary, InputError>, Collect) {
        let mut c = Collect::default();
        let r = read_log("src", bytes, &ReadOptions::default(), &mut c);
        (r, c)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn wrapper_streams_each_record() {
        let (r, c) = read(br#"{"Records":[{"a":1}, {"b":"x]}"} ,{"c":[1,{"d":2}]}]}"#);
        let s = r.unwrap();
        assert_eq!(s.framing, Some(Framing::Wrapped));
        assert_eq!(s.records, 3);
        let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(
            got,
            vec![r#"{"a":1}"#, r#"{"b":"x]}"}"#, r#"{"c":[1,{"d":2}]}"#]
        );
        assert_eq!(c.records[1].0.column, 22);
    }

    #[test]
    fn escapes_and_tiny_buffers_frame_the_same() {
        let doc = br#"{"Records":[{"a":"q\"}]\\","b":["x\\"]},{"c":"\u0022}"}]}"#;
        let want = vec![r#"{"a":"q\"}]\\","b":["x\\"]}"#, r#"{"c":"\u0022}"}"#];
        for cap in [1, 2, 3, 7, 64] {
            let mut c = Collect::default();
            let mut sc = Scanner::new(BufReader::with_capacity(cap, &doc[..]), "src", u64::MAX, 1);
            let mut summary = ReadSummary {
                records: 0,
                skipped: None,
                gzip: false,
                framing: None,
                bytes: 0,
            };
            frame(&mut sc, &ReadOptions::default(), &mut c, &mut summary).unwrap();
            let got: Vec<&str> = c.records.iter().map(|(_, r)| r.as_str()).collect();
            assert_eq!(got, want, "buffer {cap}");
            for r in &got {
                serde_json::from_str::<serde_json::Value>(r).unwrap();
            }
        }
    }

    #[test]
    fn multi_member_gzip_is_read_whole() {
        let doc = br#"{"Records":[{"a":1},{"b":2}]}"#;
        let mut bytes = gz(&doc[..15]);
        bytes.extend(gz(&doc[15..]));
        let (r, c) = read(&bytes);
        let s = r.unwrap();
        assert!(s.gzip);
        assert_eq!(c.records.len(), 2);
    }

    #[test]
    fn array_single_object_lines_and_concatenation() {
        let (r, c) = read(b"[{\"a\":1},{\"a\":2}]");
        assert_eq!(r.unwrap().framing, Some(Framing::Array));
        assert_eq!(c.records.len(), 2);

        let (r, c) = read(b"{\n  \"eventID\": \"x\",\n  \"n\": [1, 2]\n}\n");
        assert_eq!(r.unwrap().framing, Some(Framing::SingleRecord));
        assert_eq!(c.records.len(), 1);
        assert!(c.records[0].1.contains("\"eventID\": \"x\""));

        let (r, c) = read(b"{\"a\":1}\n{\"a\":2\n{\"a\":3}\n\n[{\"a\":4}]\n");
        assert_eq!(r.unwrap().framing, Some(Framing::JsonLines));
        assert_eq!(c.records.len(), 3, "{:?}", c.records);
        assert_eq!(c.errors.len(), 1);
        assert!(
            c.errors[0].starts_with("src: line 2, column"),
            "{}",
            c.errors[0]
        );
        assert_eq!(c.records[1].0.line, 3);

        let (r, c) = read(b"{\n\"a\":1\n}{\"b\":2}");
        assert_eq!(r.unwrap().framing, Some(Framing::Concatenated));
        assert_eq!(c.records.len(), 2);
    }

    #[test]
    fn digest_is_skipped_not_failed() {
        let (r, c) = read(br#"{"awsAccountId":"1","digestStartTime":"x","logFiles":[]}"#);
        assert_eq!(r.unwrap().skipped, Some(SkipReason::Digest));
        assert!(c.records.is_empty());
        assert_eq!(
            skip_reason_for_name("AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz"),
            Some(SkipReason::Digest)
        );
        assert_eq!(
            skip_reason_for_name("AWSLogs/1/CloudTrail-Insight/us-east-1/x.json.gz"),
            Some(SkipReason::Insight)
        );
        assert_eq!(
            skip_reason_for_name("AWSLogs/1/CloudTrail/us-east-1/x.json.gz"),
            None
        );
    }

    #[test]
    fn source_errors_name_their_causes_on_one_line() {
        #[derive(Debug)]
        struct Cause;
        impl std::fmt::Display for Cause {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("end of file before message length reached")
            }
        }
        impl std::error::Error for Cause {}
        #[derive(Debug)]
        struct Streaming(Cause);
        impl std::fmt::Display for Streaming {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("streaming\nerror")
            }
        }
        impl std::error::Error for Streaming {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other(Streaming(Cause)))
            }
        }
        let mut sink = Vec::<u64>::new();
        struct Count<'a>(&'a mut Vec<u64>);
        impl RecordSink for Count<'_> {
            fn record(&mut self, pos: RecordPos, _: &[u8]) {
                self.0.push(pos.index);
            }
            fn record_error(&mut self, _: InputError) {}
        }
        let err = read_log(
            "s3://b/k",
            Failing,
            &ReadOptions::default(),
            &mut Count(&mut sink),
        )
        .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            "s3://b/k: whole file: read failed: streaming error: end of file before message length reached"
        );
    }

    #[test]
    fn truncated_gzip_is_a_gzip_error_after_the_good_records() {
        let mut doc = String::from("{\"Records\":[");
        for i in 0..2000 {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&format!(
                "{{\"eventID\":\"{i}\",\"pad\":\"{}\"}}",
                "x".repeat(i % 50)
            ));
        }
        doc.push_str("]}");
        let bytes = gz(doc.as_bytes());
        let (r, c) = read(&bytes[..bytes.len() / 2]);
        let e = r.unwrap_err();
        assert!(matches!(e.kind, InputErrorKind::Gzip(_)), "{e}");
        assert!(e.to_string().starts_with("src: line 1, column "), "{e}");
        assert!(!c.records.is_empty());
    }

    #[test]
    fn broken_shapes_fail_with_a_position() {
        let (r, _) = read(b"");
        assert_eq!(
            r.unwrap_err().to_string(),
            "src: line 1, column 1: not a CloudTrail log: no JSON value (empty input)"
        );
        let (r, _) = read(b"   \n  ");
        assert!(r.unwrap_err().to_string().contains("empty input"));
        let (r, _) = read(br#"{"Records": 5}"#);
        assert_eq!(
            r.unwrap_err().to_string(),
            "src: line 1, column 13: not a CloudTrail log: \"Records\" is a number, not an array"
        );
        // The error points at the value, wherever it is in the wrapper.
        let (r, _) = read(b"{\"x\": 1,\n  \"Records\":\n    {\"a\": [1]}}");
        assert_eq!(
            r.unwrap_err().to_string(),
            "src: line 3, column 5: not a CloudTrail log: \"Records\" is an object, not an array"
        );
        let (r, c) = read(br#"{"Records":[{"a":1},{"b":"#);
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("unexpected end of input"));
        assert_eq!(c.records.len(), 1);
        let (r, _) = read(b"hello");
        assert!(r.unwrap_err().to_string().contains("found 'h'"));
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut doc = String::from("[");
        doc.push_str(&"[".repeat(100_000));
        doc.push_str(&"]".repeat(100_000));
        doc.push(']');
        let (r, c) = read(doc.as_bytes());
        assert!(r.is_ok());
        assert_eq!(c.records.len(), 1);
    }

    #[test]
    fn decompressed_size_is_capped() {
        let doc = format!("[{}]", vec!["{\"a\":1}"; 100_000].join(","));
        let mut c = Collect::default();
        let opts = ReadOptions {
            max_source_bytes: 10_000,
            ..ReadOptions::default()
        };
        let e = read_log("bomb.gz", &gz(doc.as_bytes())[..], &opts, &mut c).unwrap_err();
        assert!(matches!(
            e.kind,
            InputErrorKind::TooMuchData { limit: 10_000 }
        ));
    }

    #[test]
    fn a_source_inflating_past_the_ratio_is_stopped_once_it_is_large() {
        // 16 MiB of whitespace inside a wrapper: about 16 KB of gzip at the best level, 1000:1.
        let mut doc = b"{\"Records\":[{\"a\":1},".to_vec();
        doc.resize(doc.len() + (16 << 20), b' ');
        doc.extend_from_slice(b"{\"a\":2}]}");
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&doc).unwrap();
        let bomb = e.finish().unwrap();
        let from = 4 << 20;
        let opts = |max_inflation| ReadOptions {
            max_inflation,
            inflation_check_from: from,
            ..ReadOptions::default()
        };
        let mut c = Collect::default();
        let e = read_log(
            "bomb.json.gz",
            &bomb[..],
            &opts(DEFAULT_MAX_INFLATION),
            &mut c,
        )
        .unwrap_err();
        let InputErrorKind::Inflation {
            limit,
            decompressed,
            compressed,
        } = e.kind
        else {
            panic!("{e}");
        };
        assert_eq!(limit, DEFAULT_MAX_INFLATION);
        // Judged at the first check, not after reading it all.
        assert!((from..from + (1 << 20)).contains(&decompressed), "{e}");
        assert!(compressed <= bomb.len() as u64 && decompressed > 250 * compressed);
        assert_eq!(
            c.records.len(),
            1,
            "the record before the whitespace was kept"
        );
        assert!(e.to_string().contains("times its size"), "{e}");
        // The same bytes plain (no gzip) are not judged by ratio; nor with the guard off.
        for (bytes, max_inflation) in [(&doc[..], DEFAULT_MAX_INFLATION), (&bomb[..], 0)] {
            let mut c = Collect::default();
            read_log("x.json.gz", bytes, &opts(max_inflation), &mut c).unwrap();
            assert_eq!(c.records.len(), 2);
        }
    }
}
