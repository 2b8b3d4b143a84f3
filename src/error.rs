//! Errors of the keytrail library.
//!
//! Every error names what failed, where (the source file or object, and the record index,
//! line and column when known) and why, on one line. Each is classified as retryable
//! (the same input may succeed later: I/O hiccups, throttling) or permanent (the input
//! itself is bad), so the Lambda shell can decide between a retry and the quarantine.

use std::fmt;

/// Where in a source an error was found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// Zero-based index of the record within the source, when the error concerns one record.
    pub record_index: Option<u64>,
    /// One-based line in the decompressed source.
    pub line: Option<u64>,
    /// One-based column (in bytes) in the decompressed source.
    pub column: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(i) = self.record_index {
            parts.push(format!("record {i}"));
        }
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(c) = self.column {
            parts.push(format!("column {c}"));
        }
        if parts.is_empty() {
            f.write_str("whole file")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What went wrong while reading one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputErrorKind {
    /// The bytes could not be read (file system or network); may succeed on retry.
    Io(String),
    /// The gzip stream is corrupt or truncated.
    Gzip(String),
    /// The JSON is not well formed, or ended early.
    Json(String),
    /// The JSON is well formed but is not a CloudTrail log (for example `Records` is not an array).
    Shape(String),
    /// A single record or line is larger than the limit keytrail accepts.
    TooLarge { limit: usize },
    /// The decompressed source is larger than the limit keytrail accepts (a gzip bomb, or a runaway).
    TooMuchData { limit: u64 },
    /// A gzip source decompresses to more than `limit` times its compressed size (a bomb).
    Inflation {
        limit: u64,
        decompressed: u64,
        compressed: u64,
    },
    /// Decoding stopped on an internal error (a panic in keytrail, caught so that one
    /// source's failure does not stop the others).
    Internal(String),
}

impl fmt::Display for InputErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputErrorKind::Io(m) => write!(f, "read failed: {m}"),
            InputErrorKind::Gzip(m) => write!(f, "corrupt gzip: {m}"),
            InputErrorKind::Json(m) => write!(f, "invalid JSON: {m}"),
            InputErrorKind::Shape(m) => write!(f, "not a CloudTrail log: {m}"),
            InputErrorKind::TooLarge { limit } => {
                write!(f, "value larger than the {limit}-byte limit, skipped")
            }
            InputErrorKind::TooMuchData { limit } => {
                write!(f, "more than {limit} bytes after decompression, stopped")
            }
            InputErrorKind::Inflation {
                limit,
                decompressed,
                compressed,
            } => write!(
                f,
                "decompresses more than {limit} times its size ({decompressed} bytes from {compressed}), stopped as a gzip bomb"
            ),
            InputErrorKind::Internal(m) => write!(
                f,
                "decoding stopped by an internal error (a keytrail bug; please report it): {m}"
            ),
        }
    }
}

/// An error reading one input source. One line: `source: location: why`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {location}: {kind}")]
pub struct InputError {
    /// The file path, `s3://bucket/key`, or `-` for stdin.
    pub source_name: String,
    pub location: Location,
    pub kind: InputErrorKind,
}

impl InputError {
    pub fn new(source_name: &str, location: Location, kind: InputErrorKind) -> Self {
        InputError {
            source_name: source_name.to_string(),
            location,
            kind,
        }
    }

    /// Whether reading the same source again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, InputErrorKind::Io(_))
    }
}

/// An error in a context-profiles file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: cannot read profiles: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: invalid profiles TOML: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path}: profile {name:?}: {reason}")]
    Invalid {
        path: String,
        name: String,
        reason: String,
    },
}

/// An error writing the output tables.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: write failed: {reason}")]
    Io { path: String, reason: String },
    #[error("{table}: Parquet encoding failed: {reason}")]
    Parquet { table: String, reason: String },
    #[error("{table}: building Arrow batch failed: {reason}")]
    Arrow { table: String, reason: String },
}

impl OutputError {
    /// Whether writing again may succeed (I/O may; an encoding bug will not).
    pub fn is_retryable(&self) -> bool {
        matches!(self, OutputError::Io { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_error_is_one_line_naming_source_place_and_cause() {
        let e = InputError::new(
            "logs/a.json.gz",
            Location {
                record_index: Some(3),
                line: Some(1),
                column: Some(812),
            },
            InputErrorKind::Json("EOF while parsing an object".into()),
        );
        assert_eq!(
            e.to_string(),
            "logs/a.json.gz: record 3, line 1, column 812: invalid JSON: EOF while parsing an object"
        );
        assert!(!e.is_retryable());
        let io = InputError::new("-", Location::default(), InputErrorKind::Io("reset".into()));
        assert_eq!(io.to_string(), "-: whole file: read failed: reset");
        assert!(io.is_retryable());
    }
}
