//! Framing of JSON values: the layout of a source (one wrapper, an array, JSON Lines,
//! concatenated values), the top-level objects it holds (a `Records` wrapper, a
//! lookup-events or CloudTrail Lake page, a digest, a single record) and the streaming of
//! their arrays element by element. Bytes come from a [`Scanner`]; records and record
//! errors go to the [`RecordSink`].

use super::scanner::Scanner;
use super::{
    describe_byte, Framing, ReadOptions, ReadSummary, RecordPos, RecordSink, SkipReason,
    MAX_RECORD_BYTES,
};
use crate::error::{InputError, InputErrorKind, Location};
use crate::read::envelope::Export;
use crate::read::rawjson::json_kind;
use std::io::BufRead;

/// Notes the layout of a source, unless it is already known to hold an export shape (the
/// more useful fact: a summary can say how many events or rows it yielded).
fn set_layout(summary: &mut ReadSummary, layout: Framing) {
    if !summary.framing.is_some_and(Framing::is_export) {
        summary.framing = Some(layout);
    }
}

/// Counts a page (`page`) or one element of an export shape. A source that mixes the two
/// shapes keeps the counts of the first.
fn count_export(summary: &mut ReadSummary, export: Export, page: bool) {
    if !summary.framing.is_some_and(Framing::is_export) {
        summary.framing = Some(match export {
            Export::LookupEvents => Framing::LookupEvents {
                pages: 0,
                events: 0,
            },
            Export::LakeResults => Framing::LakeResults { pages: 0, rows: 0 },
        });
    }
    let (pages, items) = match (&mut summary.framing, export) {
        (Some(Framing::LookupEvents { pages, events }), Export::LookupEvents) => (pages, events),
        (Some(Framing::LakeResults { pages, rows }), Export::LakeResults) => (pages, rows),
        _ => return,
    };
    if page {
        *pages += 1;
    } else {
        *items += 1;
    }
}

/// Frames a whole source: the first value decides the layout of the rest.
pub(super) fn frame<R: BufRead>(
    sc: &mut Scanner<R>,
    opts: &ReadOptions,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<(), InputError> {
    sc.skip_bom()?;
    if opts.json_lines_hint {
        set_layout(summary, Framing::JsonLines);
        return lines(sc, sink, summary);
    }
    sc.skip_ws()?;
    let Some(first) = sc.peek()? else {
        return Err(sc.error(InputErrorKind::Shape("no JSON value (empty input)".into())));
    };
    let first_line = sc.line;
    let framing = top_value(sc, first, sink, summary)?;
    set_layout(summary, framing);
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
        set_layout(summary, Framing::JsonLines);
        return lines(sc, sink, summary);
    }
    set_layout(summary, Framing::Concatenated);
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
            record_array(sc, sink, summary, None)?;
            Ok(Framing::Array)
        }
        other => Err(sc.error(InputErrorKind::Shape(format!(
            "expected a JSON object or array, found {}",
            describe_byte(other)
        )))),
    }
}

/// A top-level object. Streams each `Records`, `Events` (lookup-events) or
/// `QueryResultRows` (CloudTrail Lake) array in it, key by key; otherwise the object (at
/// most [`MAX_RECORD_BYTES`]) is a single record, a digest to skip, or a Lake page without
/// rows.
fn top_object<R: BufRead>(
    sc: &mut Scanner<R>,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
) -> Result<Framing, InputError> {
    let start = sc.pos(summary.records);
    let mut whole: Vec<u8> = Vec::new();
    let mut keep = true; // false once `whole` overflowed
    let mut streamed = false;
    let mut lake_rows = false;
    // Where a `Records` or `QueryResultRows` value that is not an array starts, and what it is.
    let mut records_not_array: Option<(u64, u64, &'static str)> = None;
    let mut rows_not_array: Option<(u64, u64, &'static str)> = None;
    // A Lake page's `QueryStatus` and `ErrorMessage`, when they are short strings.
    let (mut status, mut error_message) = (None, None);
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
        let stream = match key.as_str() {
            "Records" => Some(None),
            k => Export::for_key(k).map(Some),
        };
        if let (Some(export), Some(b'[')) = (stream, sc.peek()?) {
            streamed = true;
            lake_rows |= export == Some(Export::LakeResults);
            keep = false;
            whole.truncate(key_start);
            record_array(sc, sink, summary, export)?;
        } else {
            let here = (sc.line, sc.column(), json_kind(sc.peek()?));
            match key.as_str() {
                "Records" => records_not_array = Some(here),
                "QueryResultRows" => rows_not_array = Some(here),
                _ => {}
            }
            let note = matches!(key.as_str(), "QueryStatus" | "ErrorMessage");
            let room = match (keep, note) {
                (true, _) => MAX_RECORD_BYTES.saturating_sub(whole.len()),
                (false, true) => 4096,
                (false, false) => 0,
            };
            let mut value = Vec::new();
            let fits = sc.capture(&mut value, room)?;
            if keep {
                if fits {
                    whole.extend_from_slice(&value);
                } else {
                    keep = false;
                }
            }
            if note && fits {
                let text = serde_json::from_slice::<String>(&value).ok().map(one_line);
                if key == "QueryStatus" {
                    status = text;
                } else {
                    error_message = text;
                }
            }
            if keys.len() < 64 {
                keys.push(key);
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
    let at = |line, column| Location {
        record_index: None,
        line: Some(line),
        column: Some(column),
    };
    let has = |k: &str| keys.iter().any(|x| x == k);
    let lake_page = lake_rows
        || (has("QueryStatus")
            && (has("QueryStatistics") || has("QueryResultRows") || has("ErrorMessage")));
    if lake_page {
        if let Some((line, column, kind)) = rows_not_array.filter(|r| r.2 != "null") {
            return Err(InputError::new(
                &sc.source,
                at(line, column),
                InputErrorKind::Shape(format!("\"QueryResultRows\" is {kind}, not an array")),
            ));
        }
        if !lake_rows {
            count_export(summary, Export::LakeResults, true);
        }
        if let Some(s) = status.filter(|s| !s.eq_ignore_ascii_case("FINISHED")) {
            let why = error_message.unwrap_or_else(|| "its results are missing or partial".into());
            sink.record_error(InputError::new(
                &sc.source,
                at(start.line, start.column),
                InputErrorKind::Shape(format!("CloudTrail Lake query is {s}, not FINISHED: {why}")),
            ));
        }
    }
    if streamed || lake_page {
        if let Some((line, column, kind)) = records_not_array {
            sink.record_error(InputError::new(
                &sc.source,
                at(line, column),
                InputErrorKind::Shape(format!("\"Records\" is {kind}, not an array")),
            ));
        }
        return Ok(Framing::Wrapped);
    }
    if has("digestStartTime") || (has("logFiles") && has("awsAccountId")) {
        summary.skipped = Some(SkipReason::Digest);
        return Ok(Framing::SingleRecord);
    }
    if let Some((line, column, kind)) = records_not_array {
        return Err(InputError::new(
            &sc.source,
            at(line, column),
            InputErrorKind::Shape(format!("\"Records\" is {kind}, not an array")),
        ));
    }
    if !keep {
        sink.record_error(InputError::new(
            &sc.source,
            start.locate(1, 1),
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

/// A short text from the input made fit for a one-line message.
fn one_line(s: String) -> String {
    let mut out: String = s
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(300).is_some() {
        out.push_str("...");
    }
    out
}

/// An array whose elements are records (`export` None) or the elements of an export
/// shape, streamed one at a time.
fn record_array<R: BufRead>(
    sc: &mut Scanner<R>,
    sink: &mut dyn RecordSink,
    summary: &mut ReadSummary,
    export: Option<Export>,
) -> Result<(), InputError> {
    if let Some(x) = export {
        count_export(summary, x, true);
    }
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
        match (fits, export) {
            (true, None) => sink.record(pos, &buf),
            (true, Some(x)) => deliver(&sc.source, pos, &buf, x, sink),
            (false, _) => sink.record_error(InputError::new(
                &sc.source,
                pos.locate(1, 1),
                InputErrorKind::TooLarge {
                    limit: MAX_RECORD_BYTES,
                },
            )),
        }
        summary.records += 1;
        if let Some(x) = export {
            count_export(summary, x, false);
        }
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

/// Hands the record an export element carries to the sink, or says why it carries none.
fn deliver(
    source: &str,
    pos: RecordPos,
    element: &[u8],
    export: Export,
    sink: &mut dyn RecordSink,
) {
    match export.record_of(element) {
        Ok(r) => {
            let at = match r.offset {
                Some(o) => pos.advance(&element[..o.min(element.len())]),
                None => pos,
            };
            sink.record(at, &r.bytes);
        }
        Err(e) => {
            let (line, column) = e.position().unwrap_or((1, 1));
            sink.record_error(InputError::new(source, pos.locate(line, column), e.kind()));
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
