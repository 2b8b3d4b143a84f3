//! Framing of JSON values: the layout of a source (one wrapper, an array, JSON Lines,
//! concatenated values), the top-level objects it holds (a `Records` wrapper, a digest, a
//! single record) and the streaming of their arrays element by element. Bytes come from a
//! [`Scanner`]; records and record errors go to the [`RecordSink`].

use super::scanner::Scanner;
use super::{
    describe_byte, json_kind, Framing, ReadOptions, ReadSummary, RecordSink, SkipReason,
    MAX_RECORD_BYTES,
};
use crate::error::{InputError, InputErrorKind, Location};
use std::io::BufRead;

/// Frames a whole source: the first value decides the layout of the rest.
pub(super) fn frame<R: BufRead>(
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
