//! Export envelopes: the records AWS tools print when they are not CloudTrail log files.
//!
//! `aws cloudtrail lookup-events` prints `{"Events":[{"EventId": ..., "CloudTrailEvent":
//! "<the record as a JSON string>"}, ...], "NextToken": ...}`; CloudTrail Lake's
//! `aws cloudtrail get-query-results` prints `{"QueryStatus": ..., "QueryResultRows":
//! [[{"column": "value"}, ...], ...]}`. The framing ([`crate::read::logfile`]) recognises both by
//! content and streams their arrays one element at a time; this module owns what one
//! element means: it turns the element's bytes into the bytes of the record it carries, or
//! says why it carries none. It keeps nothing between elements, and what it builds is never
//! larger than the element it was given.
//!
//! - A lookup-events element's record is its `CloudTrailEvent`: a JSON string (unescaped
//!   and checked to be JSON) or, after a `jq` rewrite, the record object itself. The
//!   element's other members (`EventTime`, `Username`, ...) are ignored: the record has
//!   its own.
//! - A Lake row is a list of `{column: value}` objects (values are strings). A row with an
//!   `eventJson` column (any case) carries the record there, as a string or an object.
//!   Otherwise the record is built from the columns: each column is a member, named with
//!   the CloudTrail spelling when it is a record field (Lake returns `eventid`, keytrail
//!   reads `eventID`), its value parsed when it is JSON object or array text and kept as a
//!   string otherwise (Lake renders struct, map and array columns as `{key=value, ...}`
//!   text, which is not JSON). A column that repeats a name already given is left out.

use crate::error::InputErrorKind;
use crate::read::rawjson::json_kind;
use crate::read::rawjson::{self, RawObject};
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// An export shape, recognised by the key of its array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// `aws cloudtrail lookup-events` output: the elements of `Events`.
    LookupEvents,
    /// CloudTrail Lake `get-query-results` output: the rows of `QueryResultRows`.
    LakeResults,
}

impl Export {
    /// The shape whose array is the value of top-level `key`, if any.
    pub fn for_key(key: &str) -> Option<Export> {
        match key {
            "Events" => Some(Export::LookupEvents),
            "QueryResultRows" => Some(Export::LakeResults),
            _ => None,
        }
    }

    /// The record one element of this shape carries.
    pub fn record_of(self, element: &[u8]) -> Result<Extracted<'_>, EnvelopeError> {
        match self {
            Export::LookupEvents => lookup_event(element),
            Export::LakeResults => lake_row(element),
        }
    }
}

/// The record an element carries.
#[derive(Debug)]
pub struct Extracted<'a> {
    /// The record's bytes: a slice of the element when the element holds the record as
    /// JSON, else the unescaped or assembled text.
    pub bytes: Cow<'a, [u8]>,
    /// Where the record starts in the element when `bytes` is a slice of it, so that
    /// positions inside the record map back to the source.
    pub offset: Option<usize>,
}

/// Why an element carries no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The element itself is not valid JSON (one-based line and column in the element).
    Json {
        reason: String,
        line: usize,
        column: usize,
    },
    /// A lookup-events element with no `CloudTrailEvent` (or a null one).
    MissingCloudTrailEvent,
    /// A value of the wrong JSON kind: `what` is `found`, not `expected`.
    WrongKind {
        what: String,
        found: &'static str,
        expected: &'static str,
    },
    /// The record text in `field` (`CloudTrailEvent`, `eventJson`) is not valid JSON; the
    /// line and column are inside that text, once unescaped.
    EmbeddedJson {
        field: &'static str,
        reason: String,
        line: usize,
        column: usize,
    },
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::Json { reason, .. } => f.write_str(reason),
            EnvelopeError::MissingCloudTrailEvent => {
                f.write_str("lookup-events element without CloudTrailEvent")
            }
            EnvelopeError::WrongKind {
                what,
                found,
                expected,
            } => write!(f, "{what} is {found}, not {expected}"),
            EnvelopeError::EmbeddedJson {
                field,
                reason,
                line,
                column,
            } => write!(
                f,
                "{field} is not a JSON record: {reason} at line {line}, column {column} of its text"
            ),
        }
    }
}

impl EnvelopeError {
    /// The error as keytrail reports it for a source.
    pub fn kind(&self) -> InputErrorKind {
        match self {
            EnvelopeError::Json { .. } | EnvelopeError::EmbeddedJson { .. } => {
                InputErrorKind::Json(self.to_string())
            }
            _ => InputErrorKind::Shape(self.to_string()),
        }
    }

    /// Where in the element the error is (one-based line and column), when it is in the
    /// element's own bytes; otherwise it concerns the element as a whole.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            EnvelopeError::Json { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}

/// A serde_json message without its " at line L column C" tail (positions are reported
/// in the source's terms instead).
fn reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    }
}

fn element_json(e: serde_json::Error) -> EnvelopeError {
    EnvelopeError::Json {
        reason: reason(&e),
        line: e.line(),
        column: e.column(),
    }
}

fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Where `part` (a slice of `whole`) starts in `whole`.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let at = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (whole.get(at..)?.starts_with(part)).then_some(at)
}

/// One-based line and column of byte `at` of `bytes`.
fn line_col(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    match memchr::memrchr(b'\n', before) {
        None => (1, before.len() + 1),
        Some(nl) => (
            memchr::memchr_iter(b'\n', before).count() + 1,
            before.len() - nl,
        ),
    }
}

fn lookup_event(element: &[u8]) -> Result<Extracted<'_>, EnvelopeError> {
    let first = first_byte(element);
    if first != Some(b'{') {
        return Err(EnvelopeError::WrongKind {
            what: "lookup-events element".into(),
            found: json_kind(first),
            expected: "an object",
        });
    }
    let obj = RawObject::parse(element).map_err(element_json)?;
    match obj.get("CloudTrailEvent") {
        Some(raw) if raw.get() != "null" => embedded(element, raw, "CloudTrailEvent"),
        _ => Err(EnvelopeError::MissingCloudTrailEvent),
    }
}

/// The record held in `raw` (a member of `element`): an object as it is, or a string
/// holding the record's JSON text.
fn embedded<'a>(
    element: &'a [u8],
    raw: &'a RawValue,
    field: &'static str,
) -> Result<Extracted<'a>, EnvelopeError> {
    let text = raw.get().as_bytes();
    match text.first() {
        Some(b'{') => Ok(Extracted {
            bytes: Cow::Borrowed(text),
            offset: offset_in(element, text),
        }),
        Some(b'"') => {
            let unescaped: String = serde_json::from_slice(text).map_err(|e| {
                // Said of the string's place in the element.
                let (line, column) = offset_in(element, text)
                    .map(|at| line_col(element, at))
                    .unwrap_or((1, 1));
                EnvelopeError::Json {
                    reason: format!("{field} is not a valid string: {}", reason(&e)),
                    line: line + e.line().saturating_sub(1),
                    column: if e.line() <= 1 {
                        column + e.column().saturating_sub(1)
                    } else {
                        e.column()
                    },
                }
            })?;
            if let Err(e) = serde_json::from_str::<IgnoredAny>(&unescaped) {
                return Err(EnvelopeError::EmbeddedJson {
                    field,
                    reason: reason(&e),
                    line: e.line(),
                    column: e.column(),
                });
            }
            Ok(Extracted {
                bytes: Cow::Owned(unescaped.into_bytes()),
                offset: None,
            })
        }
        first => Err(EnvelopeError::WrongKind {
            what: field.into(),
            found: json_kind(first.copied()),
            expected: "a JSON string or object",
        }),
    }
}

/// CloudTrail's spelling of the record fields, for Lake columns named in another case.
const RECORD_FIELDS: [&str; 32] = [
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "annotation",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "serviceEventDetails",
    "addendum",
    "edgeDeviceDetails",
    "insightDetails",
    "eventCategory",
    "tlsDetails",
    "sessionCredentialFromConsole",
];

/// The member name for a Lake column: the CloudTrail spelling of a record field, else the
/// column's own name.
fn member_name(column: &str) -> &str {
    RECORD_FIELDS
        .iter()
        .find(|f| f.eq_ignore_ascii_case(column))
        .copied()
        .unwrap_or(column)
}

fn lake_row(row: &[u8]) -> Result<Extracted<'_>, EnvelopeError> {
    let first = first_byte(row);
    if first != Some(b'[') {
        return Err(EnvelopeError::WrongKind {
            what: "CloudTrail Lake row".into(),
            found: json_kind(first),
            expected: "an array of {column: value} objects",
        });
    }
    let cells: Vec<&RawValue> = serde_json::from_slice(row).map_err(element_json)?;
    let mut columns: Vec<(Cow<'_, str>, &RawValue)> = Vec::new();
    for (i, &cell) in cells.iter().enumerate() {
        let Some(obj) = RawObject::of(cell) else {
            return Err(EnvelopeError::WrongKind {
                what: format!("CloudTrail Lake row cell {i}"),
                found: json_kind(cell.get().as_bytes().first().copied()),
                expected: "a {column: value} object",
            });
        };
        columns.extend(obj.fields().iter().cloned());
    }
    if let Some(&(_, raw)) = columns
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("eventJson"))
    {
        return embedded(row, raw, "eventJson");
    }
    let mut out = Vec::with_capacity(row.len());
    let mut names: Vec<&str> = Vec::with_capacity(columns.len());
    out.push(b'{');
    for (column, raw) in &columns {
        let name = member_name(column);
        if names.contains(&name) {
            continue;
        }
        if !names.is_empty() {
            out.push(b',');
        }
        names.push(name);
        out.extend_from_slice(serde_json::Value::from(name).to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(&column_value(raw));
    }
    out.push(b'}');
    Ok(Extracted {
        bytes: Cow::Owned(out),
        offset: None,
    })
}

/// A Lake column's value as a record member: JSON object or array text parsed, any other
/// string kept as the string, other JSON values as they are.
fn column_value(raw: &RawValue) -> Cow<'_, [u8]> {
    let json = raw.get();
    if json.starts_with('"') {
        if let Some(text) = rawjson::text(raw) {
            let trimmed = text.trim_start();
            if (trimmed.starts_with('{') || trimmed.starts_with('['))
                && serde_json::from_str::<IgnoredAny>(&text).is_ok()
            {
                return Cow::Owned(text.into_owned().into_bytes());
            }
        }
    }
    Cow::Borrowed(json.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn record(export: Export, element: &str) -> Value {
        let r = export.record_of(element.as_bytes()).unwrap();
        serde_json::from_slice(&r.bytes).unwrap()
    }

    #[test]
    fn cloudtrail_event_string_is_unescaped_and_the_outer_fields_ignored() {
        let el = r#"{"EventId":"e1","EventTime":1768385000.0,"EventName":"Other",
            "CloudTrailEvent":"{\"eventID\":\"e1\",\"eventTime\":\"2026-01-14T10:20:31Z\",\"n\":\"a\\\"b\"}"}"#;
        let r = Export::LookupEvents.record_of(el.as_bytes()).unwrap();
        assert_eq!(r.offset, None);
        assert_eq!(
            std::str::from_utf8(&r.bytes).unwrap(),
            r#"{"eventID":"e1","eventTime":"2026-01-14T10:20:31Z","n":"a\"b"}"#
        );
    }

    #[test]
    fn cloudtrail_event_object_is_a_slice_of_the_element() {
        let el = "{\"EventId\": \"e2\",\n \"CloudTrailEvent\": {\"eventID\": \"e2\"}}";
        let r = Export::LookupEvents.record_of(el.as_bytes()).unwrap();
        assert_eq!(&r.bytes[..], br#"{"eventID": "e2"}"#);
        assert_eq!(r.offset, Some(38));
        assert_eq!(line_col(el.as_bytes(), 38), (2, 21));
    }

    #[test]
    fn elements_without_a_record_say_why() {
        let err = |el: &str| Export::LookupEvents.record_of(el.as_bytes()).unwrap_err();
        assert_eq!(
            err(r#"{"EventId":"x","EventName":"Decrypt"}"#),
            EnvelopeError::MissingCloudTrailEvent
        );
        assert_eq!(
            err(r#"{"CloudTrailEvent":null}"#).to_string(),
            "lookup-events element without CloudTrailEvent"
        );
        assert_eq!(
            err(r#"{"CloudTrailEvent":5}"#).to_string(),
            "CloudTrailEvent is a number, not a JSON string or object"
        );
        assert_eq!(
            err(r#""text""#).to_string(),
            "lookup-events element is a string, not an object"
        );
        let e = err(r#"{"CloudTrailEvent":"{\"eventID\":\"x\",}"}"#);
        assert_eq!(
            e.to_string(),
            "CloudTrailEvent is not a JSON record: key must be a string at line 1, column 16 of its text"
        );
        assert!(matches!(e.kind(), InputErrorKind::Json(_)));
        assert_eq!(e.position(), None);
        // A broken element points into itself.
        let e = err("{\"EventId\":\"x\",\n  \"CloudTrailEvent\" 5}");
        assert_eq!(e.position(), Some((2, 21))); // the `5`
                                                 // A string that cannot be unescaped points at the string, in the element.
        let e = err("{\n \"CloudTrailEvent\": \"\\ud800\"}");
        assert!(e.to_string().contains("not a valid string"), "{e}");
        assert_eq!(e.position().map(|p| p.0), Some(2));
    }

    #[test]
    fn lake_row_with_event_json_is_that_record() {
        let row = r#"[{"eventjson":"{\"eventID\":\"q1\",\"eventSource\":\"kms.amazonaws.com\"}"}]"#;
        assert_eq!(
            record(Export::LakeResults, row),
            json!({"eventID": "q1", "eventSource": "kms.amazonaws.com"})
        );
        let row = r#"[{"eventID":"ignored"},{"eventJson":{"eventID":"q2"}}]"#;
        let r = Export::LakeResults.record_of(row.as_bytes()).unwrap();
        assert_eq!(&r.bytes[..], br#"{"eventID":"q2"}"#);
        assert_eq!(r.offset, Some(36));
        let e = Export::LakeResults
            .record_of(br#"[{"eventJson":"not json"}]"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "eventJson is not a JSON record: expected ident at line 1, column 2 of its text"
        );
    }

    #[test]
    fn lake_flat_columns_build_a_record() {
        let row = r#"[{"eventid":"q3"},{"eventTime":"2026-02-03 09:40:12.000"},
            {"eventsource":"kms.amazonaws.com","readonly":"true"},
            {"useridentity":"{type=AWSService, invokedby=proton.amazonaws.com}"},
            {"resources":"[{\"ARN\":\"arn:aws:kms:eu-west-1:111122223333:key/k\"}]"},
            {"requestparameters":" {\"keyId\":\"k\"}"},
            {"note":"[not json"},{"count":"3"},{"n":7},{"z":null},{"EventID":"dup"}]"#;
        assert_eq!(
            record(Export::LakeResults, row),
            json!({
                "eventID": "q3",
                "eventTime": "2026-02-03 09:40:12.000",
                "eventSource": "kms.amazonaws.com",
                "readOnly": "true",
                "userIdentity": "{type=AWSService, invokedby=proton.amazonaws.com}",
                "resources": [{"ARN": "arn:aws:kms:eu-west-1:111122223333:key/k"}],
                "requestParameters": {"keyId": "k"},
                "note": "[not json",
                "count": "3",
                "n": 7,
                "z": null
            })
        );
        assert_eq!(record(Export::LakeResults, "[]"), json!({}));
        assert_eq!(
            record(Export::LakeResults, r#"[{"a\"b":"x"}]"#),
            json!({"a\"b": "x"})
        );
    }

    #[test]
    fn lake_rows_of_the_wrong_shape_say_why() {
        let err = |row: &str| Export::LakeResults.record_of(row.as_bytes()).unwrap_err();
        assert_eq!(
            err(r#"{"eventID":"x"}"#).to_string(),
            "CloudTrail Lake row is an object, not an array of {column: value} objects"
        );
        assert_eq!(
            err(r#"[{"eventID":"x"},"y"]"#).to_string(),
            "CloudTrail Lake row cell 1 is a string, not a {column: value} object"
        );
        assert_eq!(err("[{\"a\":1},\n tru]").position(), Some((2, 5)));
        assert_eq!(
            err(r#"[{"eventjson":[1]}]"#).to_string(),
            "eventJson is an array, not a JSON string or object"
        );
    }

    #[test]
    fn no_input_panics() {
        for s in [
            "",
            " ",
            "{",
            "[",
            "[{",
            "\"",
            "{\"CloudTrailEvent\":\"",
            "[{\"eventjson\":\"\"}]",
            "[[]]",
            "[{\"a\":\"{\"}]",
            "{\"CloudTrailEvent\":\"\\\"\\u0000\\\"\"}",
        ] {
            for x in [Export::LookupEvents, Export::LakeResults] {
                let _ = x.record_of(s.as_bytes());
            }
        }
    }
}
