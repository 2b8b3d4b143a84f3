//! The S3 edge: locations, the client, streaming reads, table writes and the ledger's
//! conditional updates.
//!
//! Everything here talks to S3 through aws-sdk-s3 and is shared by the Lambda and the CLI
//! (`keytrail analyze s3://...`). Errors are classified retryable (throttling, 5xx,
//! timeouts, connection failures, write conflicts) or permanent (missing object, access
//! denied, bad request). The SDK's standard retry policy (exponential backoff with jitter)
//! runs before an error reaches keytrail.

use std::time::Duration;

/// The SDK side: the client, reads, writes, listings and ledger updates (the `aws` feature,
/// on by default; the core and its fuzz targets build without it).
#[cfg(feature = "aws")]
mod sdk;
#[cfg(feature = "aws")]
pub use sdk::*;
/// The same store in memory (`aws` feature).
#[cfg(feature = "aws")]
mod memory;
/// The object store the Lambda runs over, and the ledger round trip on it (`aws` feature).
#[cfg(feature = "aws")]
pub mod store;
#[cfg(feature = "aws")]
pub use memory::{MemoryObjects, MemoryTables};
#[cfg(feature = "aws")]
pub use store::{ObjectStore, Precondition};

/// An `s3://bucket/prefix` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl S3Url {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Option<S3Url> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.contains(['@', ':', ' ']) {
            return None;
        }
        Some(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The key of `rel` under the prefix.
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// An S3 failure, with the object it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    #[error("{url}: {op} failed: {reason}")]
    Request {
        url: String,
        op: &'static str,
        reason: String,
        retryable: bool,
    },
    #[error("{url}: object not found")]
    NotFound { url: String },
    #[error("{url}: concurrent updates kept conflicting after {attempts} attempts")]
    Conflict { url: String, attempts: u32 },
    #[error("{0}")]
    Config(String),
    #[error("access denied to {url} ({op}: {code}; check the credentials' permissions and the bucket policy)")]
    AccessDenied {
        url: String,
        op: &'static str,
        code: String,
    },
}

impl S3Error {
    pub fn is_retryable(&self) -> bool {
        match self {
            S3Error::Request { retryable, .. } => *retryable,
            S3Error::Conflict { .. } => true,
            S3Error::NotFound { .. } | S3Error::Config(_) | S3Error::AccessDenied { .. } => false,
        }
    }
}

/// Refuses an endpoint URL that carries credentials (`user:password@host`); the message
/// never repeats the URL.
pub fn check_endpoint(url: &str) -> Result<(), S3Error> {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(S3Error::Config(
            "AWS_ENDPOINT_URL must not carry credentials (user:password@); use the AWS credential chain".into(),
        ));
    }
    Ok(())
}

/// How the S3 client connects and retries. The defaults suit Lambda and the CLI; tests of
/// fault handling shorten the timeouts and point the client at a fault-injecting proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Endpoint override; `None` takes `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (or AWS).
    pub endpoint: Option<String>,
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// Attempts per request, including the first, under the SDK's standard retry policy
    /// (exponential backoff with full jitter; throttling, 5xx, timeouts and dropped
    /// connections are retried).
    pub max_attempts: u32,
    /// Region override (`--region`); `None` takes the standard chain (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// Named profile (`--profile`); `None` takes `AWS_PROFILE` or the default profile.
    pub profile: Option<String>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            endpoint: None,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            max_attempts: 4,
            region: None,
            profile: None,
        }
    }
}

/// Most attempts at a conditional ledger update before giving up (retryable).
pub const LEDGER_ATTEMPTS: u32 = 12;

/// Exponential backoff with full jitter: up to 50 ms * 2^attempt, capped at 2 s.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
fn backoff(attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    jittered(attempt, nanos)
}

/// Full jitter: a delay in `0..=cap(attempt)` milliseconds chosen by `entropy`, where the
/// cap doubles from 50 ms per attempt up to 2 s.
fn jittered(attempt: u32, entropy: u64) -> Duration {
    let cap = (50u64 << attempt.min(6)).min(2000);
    let mixed = entropy.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    Duration::from_millis(mixed % (cap + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = S3Url::parse("s3://out-bucket/keytrail/tables/").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("out-bucket", "keytrail/tables")
        );
        assert_eq!(
            u.key("kms_events/x.parquet"),
            "keytrail/tables/kms_events/x.parquet"
        );
        let root = S3Url::parse("s3://b").unwrap();
        assert_eq!(root.key("a"), "a");
        assert!(S3Url::parse("s3://").is_none());
        assert!(S3Url::parse("https://b/x").is_none());
    }

    #[test]
    fn endpoints_with_credentials_are_refused_without_echo() {
        assert!(check_endpoint("http://127.0.0.1:5000").is_ok());
        let e = check_endpoint("http://AKIA:secret@127.0.0.1:5000/x").unwrap_err();
        assert!(!e.to_string().contains("secret"));
        assert!(e.to_string().contains("must not carry credentials"));
    }

    #[test]
    fn backoff_caps_double_from_50_ms_to_2_s() {
        // The largest delay of each attempt over many entropies is its cap: 50, 100, 200,
        // 400, 800, 1600 ms, then 2 s for every later attempt.
        let most = |attempt| (0..20_000u64).map(|e| jittered(attempt, e)).max().unwrap();
        let caps: Vec<u64> = (0..9).map(|a| most(a).as_millis() as u64).collect();
        assert_eq!(caps, [50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        // And the delays spread over the range rather than sit at one value.
        let early: std::collections::BTreeSet<_> = (0..1000u64).map(|e| jittered(0, e)).collect();
        assert!(early.len() > 40, "{} distinct delays", early.len());
    }
}
