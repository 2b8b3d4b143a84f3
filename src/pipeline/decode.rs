//! Decoding records into the KMS model, apart from everything that needs the run's state.
//!
//! Decoding (gunzip, framing, JSON, the KMS model) is most of the work and needs nothing but
//! the bytes, so it can run on several threads; applying the results (dedupe, timeline,
//! table rows) stays in one place, in input order, so output is the same whatever the thread
//! count. [`decode_record`] is the one implementation both paths use.

use crate::error::{InputError, InputErrorKind};
use crate::model::kms::{self, KmsEvent};
use crate::read::logfile::{self, ReadOptions, ReadSummary, RecordPos, RecordSink};
use crate::read::rawjson::RawObject;
use std::io::Read;

/// What one record turned out to be.
#[derive(Debug)]
pub enum Decoded {
    /// A KMS record: its dedupe digest, its model, and (when asked for) its bytes.
    Kms {
        digest: u128,
        event: Box<KmsEvent>,
        raw: Option<Box<[u8]>>,
        index: u64,
    },
    /// A record of another service (or a CloudTrail-Insight record).
    Other { insight: bool },
    /// A record that is not valid JSON, or too large.
    Invalid(InputError),
}

/// A 128-bit digest of `bytes` in namespace `ns`, from two SipHash-1-3 runs with fixed keys
/// ([`crate::stablehash`]: the same in every run and with every toolchain).
pub fn digest(ns: &[u8], bytes: &[u8]) -> u128 {
    let half = |salt: u8| crate::stablehash::sip13(&(salt, ns, bytes));
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

/// Decodes one framed record.
pub fn decode_record(source: &str, pos: RecordPos, bytes: &[u8], keep_raw: bool) -> Decoded {
    // A record is an object. Anything else in a record array (a number, a string, a
    // nested array) is reported, not counted as a record of another service.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        first => {
            return Decoded::Invalid(InputError::new(
                source,
                pos.locate(1, 1),
                InputErrorKind::Shape(format!(
                    "record is {}, not a JSON object",
                    crate::read::rawjson::json_kind(first.copied())
                )),
            ))
        }
    }
    // A record that does not mention kms.amazonaws.com cannot be a KMS record: it is counted
    // without being parsed, which is what makes the rest of a trail cheap. Its framing
    // (strings, brackets) was still checked.
    static KMS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(kms::KMS_SOURCE.as_bytes()));
    static INSIGHT: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"AwsCloudTrailInsight"));
    if KMS.find(bytes).is_none() {
        return Decoded::Other {
            insight: INSIGHT.find(bytes).is_some(),
        };
    }
    let rec = match RawObject::parse(bytes) {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            let msg = match msg.rfind(" at line ") {
                Some(i) => msg[..i].to_string(),
                None => msg,
            };
            return Decoded::Invalid(InputError::new(
                source,
                pos.locate(e.line(), e.column()),
                InputErrorKind::Json(msg),
            ));
        }
    };
    if !kms::is_kms(&rec) {
        return Decoded::Other {
            insight: rec.text("eventType").as_deref() == Some("AwsCloudTrailInsight"),
        };
    }
    let digest = match rec.text("eventID") {
        Some(id) => digest(b"id", id.as_bytes()),
        None => digest(b"content", bytes),
    };
    Decoded::Kms {
        digest,
        event: Box::new(kms::from_record(&rec)),
        raw: keep_raw.then(|| bytes.into()),
        index: pos.index,
    }
}

/// Decodes a whole source, handing each result to `emit` in order.
pub fn decode_source<R: Read>(
    source: &str,
    reader: R,
    opts: &ReadOptions,
    keep_raw: bool,
    emit: &mut dyn FnMut(Decoded),
) -> Result<ReadSummary, InputError> {
    struct Sink<'a> {
        source: &'a str,
        keep_raw: bool,
        emit: &'a mut dyn FnMut(Decoded),
    }
    impl RecordSink for Sink<'_> {
        fn record(&mut self, pos: RecordPos, bytes: &[u8]) {
            (self.emit)(decode_record(self.source, pos, bytes, self.keep_raw));
        }
        fn record_error(&mut self, error: InputError) {
            (self.emit)(Decoded::Invalid(error));
        }
    }
    let mut sink = Sink {
        source,
        keep_raw,
        emit,
    };
    logfile::read_log(source, reader, opts, &mut sink)
}

/// Read options for a source, from its name (`.jsonl` means JSON Lines from the start).
pub fn read_options_for(source: &str, base: &ReadOptions) -> ReadOptions {
    let mut o = base.clone();
    o.json_lines_hint |= source.ends_with(".jsonl") || source.ends_with(".jsonl.gz");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Decoded {
        let pos = RecordPos {
            index: 4,
            line: 2,
            column: 7,
        };
        decode_record("src", pos, bytes, false)
    }

    #[test]
    fn a_record_that_is_not_an_object_is_invalid_not_another_service() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for (bytes, kind) in [
            (deep.as_bytes(), "an array"),
            (b"5".as_slice(), "a number"),
            (b"\"kms.amazonaws.com\"", "a string"),
            (b"null", "null"),
            (b"true", "a boolean"),
        ] {
            match decode(bytes) {
                Decoded::Invalid(e) => assert_eq!(
                    e.to_string(),
                    format!(
                        "src: record 4, line 2, column 7: not a CloudTrail log: record is {kind}, not a JSON object"
                    )
                ),
                other => panic!("{kind}: {other:?}"),
            }
        }
        assert!(matches!(
            decode(br#"{"eventSource":"s3.amazonaws.com"}"#),
            Decoded::Other { insight: false }
        ));
    }
}
