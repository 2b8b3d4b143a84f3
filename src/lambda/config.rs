//! The Lambda's settings: what the environment says, read once at start and checked, with an
//! error that names the setting. Pure: the variables come in through a function, so the
//! tests pass them directly.

use crate::edge::s3::{self, S3Url};
use std::time::Duration;

/// Settings read once at start from the environment.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// Where tables, ledgers and quarantine notes go (`KEYTRAIL_OUTPUT`).
    pub output: S3Url,
    /// `KEYTRAIL_GRACE_SECONDS` (default 300).
    pub grace_seconds: i64,
    /// `KEYTRAIL_PROFILES`: an `s3://` or file location of a profiles TOML.
    pub profiles_location: Option<String>,
    /// `KEYTRAIL_BASELINE`: `s3://` or file locations of snapshots (`keytrail snapshot`
    /// files), comma-separated: the baseline every file's findings are judged with.
    pub baseline_locations: Vec<String>,
    /// Stop taking new work when less than this remains before the deadline
    /// (`KEYTRAIL_DEADLINE_MARGIN_SECONDS`, default 20).
    pub deadline_margin: Duration,
    /// `KEYTRAIL_STATE_TABLE`: the DynamoDB table of the cross-file state; without one, the
    /// per-key ledgers under `<output>/_ledger/`.
    pub state_table: Option<String>,
}

/// A setting that is missing or invalid; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required (for example s3://my-bucket/keytrail)")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl LambdaConfig {
    /// Reads the settings through `var` (the environment, in the binary).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let out = var("KEYTRAIL_OUTPUT").ok_or(ConfigError::Missing("KEYTRAIL_OUTPUT"))?;
        let output = S3Url::parse(&out).ok_or(ConfigError::Invalid {
            name: "KEYTRAIL_OUTPUT",
            reason: "expected s3://bucket/prefix".into(),
        })?;
        let grace_seconds =
            match var("KEYTRAIL_GRACE_SECONDS") {
                None => crate::audit::rules::DEFAULT_GRACE_SECONDS,
                Some(g) => g.trim().parse::<i64>().ok().filter(|g| *g >= 0).ok_or(
                    ConfigError::Invalid {
                        name: "KEYTRAIL_GRACE_SECONDS",
                        reason: format!("{g:?} is not a whole number of seconds >= 0"),
                    },
                )?,
            };
        let deadline_margin = match var("KEYTRAIL_DEADLINE_MARGIN_SECONDS") {
            None => Duration::from_secs(20),
            Some(m) => {
                Duration::from_secs(m.trim().parse::<u64>().map_err(|_| ConfigError::Invalid {
                    name: "KEYTRAIL_DEADLINE_MARGIN_SECONDS",
                    reason: format!("{m:?} is not a whole number of seconds"),
                })?)
            }
        };
        if let Some(e) = var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT_URL_S3")) {
            s3::check_endpoint(&e).map_err(|_| ConfigError::Invalid {
                name: "AWS_ENDPOINT_URL",
                reason: "must not carry credentials (user:password@)".into(),
            })?;
        }
        Ok(LambdaConfig {
            output,
            grace_seconds,
            profiles_location: var("KEYTRAIL_PROFILES").filter(|p| !p.trim().is_empty()),
            baseline_locations: var("KEYTRAIL_BASELINE")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            deadline_margin,
            state_table: var("KEYTRAIL_STATE_TABLE")
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn configuration_errors_name_the_setting() {
        assert_eq!(
            LambdaConfig::from_vars(vars(&[])).unwrap_err().to_string(),
            "KEYTRAIL_OUTPUT is required (for example s3://my-bucket/keytrail)"
        );
        let e = LambdaConfig::from_vars(vars(&[("KEYTRAIL_OUTPUT", "bucket/x")])).unwrap_err();
        assert!(e.to_string().starts_with("KEYTRAIL_OUTPUT is invalid"));
        let e = LambdaConfig::from_vars(vars(&[
            ("KEYTRAIL_OUTPUT", "s3://b/p"),
            ("KEYTRAIL_GRACE_SECONDS", "-1"),
        ]))
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("KEYTRAIL_GRACE_SECONDS is invalid"));
        let e = LambdaConfig::from_vars(vars(&[
            ("KEYTRAIL_OUTPUT", "s3://b/p"),
            ("AWS_ENDPOINT_URL", "http://k:secret@localhost:1"),
        ]))
        .unwrap_err();
        assert!(!e.to_string().contains("secret"));
        let c = LambdaConfig::from_vars(vars(&[("KEYTRAIL_OUTPUT", "s3://b/p/")])).unwrap();
        assert_eq!(c.output.prefix, "p");
        assert_eq!(c.grace_seconds, 300);
    }
}
