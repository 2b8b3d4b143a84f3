//! Byte-level JSON framing over a buffered reader: tracks strings, escapes and nesting
//! depth (iteratively, so deep nesting cannot overflow the stack), positions (line and
//! column of the decompressed source) and the source's size and inflation limits. It
//! never parses a value: it finds where one ends.

use super::{classify_io, describe_byte, RecordPos, INFLATION_CHECK_EVERY};
use crate::error::{InputError, InputErrorKind, Location};
use std::cell::Cell;
use std::io::BufRead;
use std::rc::Rc;

/// A position-tracking reader of JSON values.
pub(super) struct Scanner<R> {
    pub(super) r: R,
    pub(super) source: String,
    pub(super) offset: u64,
    pub(super) limit: u64,
    pub(super) line: u64,
    pub(super) line_start: u64,
    pub(super) line_of_last_value_end: u64,
    /// Compressed bytes read so far and the inflation limit, for a gzip source.
    pub(super) inflation: Option<(Rc<Cell<u64>>, u64)>,
    /// The offset at which the limits are next checked (the hot path compares only this).
    pub(super) next_stop: u64,
}

impl<R: BufRead> Scanner<R> {
    pub(super) fn new(r: R, source: &str, limit: u64, first_line: u64) -> Self {
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

    pub(super) fn column(&self) -> u64 {
        self.offset - self.line_start + 1
    }

    pub(super) fn pos(&self, index: u64) -> RecordPos {
        RecordPos {
            index,
            line: self.line,
            column: self.column(),
        }
    }

    pub(super) fn here(&self) -> Location {
        Location {
            record_index: None,
            line: Some(self.line),
            column: Some(self.column()),
        }
    }

    pub(super) fn error(&self, kind: InputErrorKind) -> InputError {
        InputError::new(&self.source, self.here(), kind)
    }

    pub(super) fn eof_error(&self) -> InputError {
        self.error(InputErrorKind::Json("unexpected end of input".into()))
    }

    pub(super) fn fill(&mut self) -> Result<&[u8], InputError> {
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

    pub(super) fn peek(&mut self) -> Result<Option<u8>, InputError> {
        Ok(self.fill()?.first().copied())
    }

    pub(super) fn bump(&mut self) -> Result<(), InputError> {
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

    pub(super) fn bump_into(&mut self, out: &mut Vec<u8>, keep: bool) -> Result<(), InputError> {
        if let Some(b) = self.peek()? {
            if keep {
                out.push(b);
            }
            self.bump()?;
        }
        Ok(())
    }

    pub(super) fn skip_bom(&mut self) -> Result<(), InputError> {
        let buf = self.fill()?;
        if buf.starts_with(&[0xef, 0xbb, 0xbf]) {
            self.r.consume(3);
            self.offset += 3;
            self.line_start = self.offset;
        }
        Ok(())
    }

    pub(super) fn skip_ws(&mut self) -> Result<(), InputError> {
        self.skip_ws_seen_newline().map(|_| ())
    }

    pub(super) fn ws_into(&mut self, out: &mut Vec<u8>, keep: bool) -> Result<(), InputError> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.bump_into(out, keep)?,
                _ => return Ok(()),
            }
        }
    }

    /// Skips whitespace a buffer at a time; tells whether a newline was among it.
    pub(super) fn skip_ws_seen_newline(&mut self) -> Result<bool, InputError> {
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
    pub(super) fn read_line(
        &mut self,
        out: &mut Vec<u8>,
        cap: usize,
    ) -> Result<Option<bool>, InputError> {
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
    pub(super) fn capture(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<bool, InputError> {
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
