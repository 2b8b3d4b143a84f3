//! The snapshot of today's keys: what `keytrail snapshot` recorded (or what a folder of
//! `aws kms` outputs holds), read into a small model of each key's state, policy, grants
//! and aliases at one instant.
//!
//! Pure apart from [`load`], a thin loader that reads a file or a folder and hands the
//! bytes to [`parse`] or [`from_cli_outputs`]. Input is read tolerantly: every field is
//! optional, fields are spelled as the KMS API spells them (`KeyState`, `GrantId`, ...),
//! dates are epoch seconds (integer or fractional, a number or a string) or RFC 3339. A
//! file that cannot be read at all is one [`Problem`] as the error; a key or grant that
//! cannot be used is skipped and a field that cannot be read is left unknown, each with a
//! [`Problem`] in [`Snapshot::problems`], never dropped silently.

mod build;
mod fields;
mod folder;
#[cfg(test)]
mod tests;

pub use folder::{from_cli_outputs, CliKeyOutputs};

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The keys of one account and region at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// When the snapshot was taken, Unix milliseconds UTC; `None` when the input did not say.
    pub snapshot_time: Option<i64>,
    /// The account, as written, else from the first key ARN.
    pub account_id: Option<String>,
    /// The region, as written, else from the first key ARN.
    pub region: Option<String>,
    pub keys: Vec<SnapshotKey>,
    /// What could not be read: skipped keys and grants, fields left unknown.
    pub problems: Vec<Problem>,
}

/// One key as the snapshot saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotKey {
    pub key_arn: String,
    /// `KeyMetadata.KeyId`, else the id in the ARN.
    pub key_id: Option<String>,
    /// `KeyMetadata.KeyState` as written (`Enabled`, `Disabled`, `PendingDeletion`, ...).
    pub key_state: Option<String>,
    pub enabled: Option<bool>,
    /// Unix milliseconds.
    pub creation_date: Option<i64>,
    /// Unix milliseconds; set for a key pending deletion.
    pub deletion_date: Option<i64>,
    /// `AWS` or `CUSTOMER`.
    pub key_manager: Option<String>,
    /// `AWS_KMS`, `EXTERNAL`, `AWS_CLOUDHSM` or `EXTERNAL_KEY_STORE`.
    pub origin: Option<String>,
    /// The key policy's text (policy name `default`); `None` when it was not recorded.
    pub policy: Option<String>,
    pub grants: Vec<SnapshotGrant>,
    /// Whether the grant list was recorded: false when ListGrants failed or the input has
    /// no grant list for this key, so an empty `grants` then means "unknown", not "none".
    pub grants_known: bool,
    /// Alias names (`alias/...`).
    pub aliases: Vec<String>,
    /// The AWS errors the snapshot met for this key (`GetKeyPolicy: AccessDeniedException: ...`).
    pub errors: Vec<String>,
}

/// One grant of a key, from ListGrants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotGrant {
    /// The grant's key (`KeyId` in ListGrants is the key ARN), else the listing key's ARN.
    pub key_arn: String,
    pub grant_id: String,
    pub name: Option<String>,
    /// Unix milliseconds.
    pub creation_date: Option<i64>,
    /// As written: a principal ARN, an account id or a service principal.
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub issuing_account: Option<String>,
    pub operations: Vec<String>,
    pub constraint_kind: ConstraintKind,
    /// The encryption context of the constraint (empty with [`ConstraintKind::None`]).
    pub constraint: BTreeMap<String, String>,
}

/// A grant's encryption-context constraint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum ConstraintKind {
    /// `EncryptionContextSubset`: the request's context must include the constraint's pairs.
    #[serde(rename = "encryptionContextSubset")]
    Subset,
    /// `EncryptionContextEquals`: the request's context must be exactly the constraint.
    #[serde(rename = "encryptionContextEquals")]
    Equals,
    #[default]
    #[serde(rename = "none")]
    None,
}

impl ConstraintKind {
    /// `encryptionContextSubset`, `encryptionContextEquals` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintKind::Subset => "encryptionContextSubset",
            ConstraintKind::Equals => "encryptionContextEquals",
            ConstraintKind::None => "none",
        }
    }

    /// The name CloudTrail gives it in a CreateGrant's `constraints` (as
    /// [`crate::model::kms::GrantFacts::constraint_kind`] holds it); `None` without a constraint.
    pub fn cloudtrail_name(self) -> Option<&'static str> {
        match self {
            ConstraintKind::None => None,
            k => Some(k.as_str()),
        }
    }
}

impl Snapshot {
    /// The key with this ARN or key id.
    pub fn key(&self, arn_or_id: &str) -> Option<&SnapshotKey> {
        self.keys
            .iter()
            .find(|k| k.key_arn == arn_or_id || k.key_id.as_deref() == Some(arn_or_id))
    }
}

/// Something in a snapshot that could not be read: where (the file, the key and grant
/// index, the field) and why. Its `Display` is one line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (or folder) it concerns.
    pub source: String,
    /// Zero-based index of the key in the file's `keys` (in a folder: in name order).
    pub key_index: Option<usize>,
    /// The key's ARN or id, when known.
    pub key: Option<String>,
    /// Zero-based index of the grant in the key's grant list.
    pub grant_index: Option<usize>,
    /// The field, as AWS spells it (`describe_key.KeyState`, `Operations`).
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(i) = self.key_index {
            write!(f, ": key {i}")?;
        }
        if let Some(k) = &self.key {
            if self.key_index.is_some() {
                write!(f, " ({k})")?;
            } else {
                write!(f, ": key {k}")?;
            }
        }
        if let Some(g) = self.grant_index {
            write!(f, ": grant {g}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", crate::text::one_line(&self.reason))
    }
}

impl std::error::Error for Problem {}

/// A snapshot that could not be read at all (not JSON, not an object, an unreadable
/// file); its `Display` is the [`Problem`]'s one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError(Box<Problem>);

impl SnapshotError {
    /// Where and why.
    pub fn problem(&self) -> &Problem {
        &self.0
    }
}

impl From<Problem> for SnapshotError {
    fn from(p: Problem) -> Self {
        SnapshotError(Box::new(p))
    }
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SnapshotError {}

/// Reads a snapshot file (`keytrail snapshot --out`) or a folder of `aws kms` outputs
/// (see [`from_cli_outputs`]), whichever `path` is.
pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
    let source = path.display().to_string();
    let fail = |reason: String| {
        SnapshotError::from(Problem {
            source: source.clone(),
            reason,
            ..Problem::default()
        })
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return folder::load_folder(path);
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    parse(&source, &bytes)
}

/// Parses a snapshot file's bytes; `source` names it in problems.
pub fn parse(source: &str, bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
    let fail = |field: Option<&str>, reason: String| {
        SnapshotError::from(Problem {
            source: source.to_string(),
            field: field.map(str::to_string),
            reason,
            ..Problem::default()
        })
    };
    let doc: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| fail(None, format!("not a snapshot: invalid JSON: {e}")))?;
    let Some(top) = doc.as_object() else {
        return Err(fail(
            None,
            format!(
                "not a snapshot: expected a JSON object, found {}",
                fields::kind(&doc)
            ),
        ));
    };
    let keys = match top.get("keys") {
        None | Some(serde_json::Value::Null) => &[][..],
        Some(serde_json::Value::Array(a)) => a.as_slice(),
        Some(other) => {
            return Err(fail(
                Some("keys"),
                format!("expected an array, found {}", fields::kind(other)),
            ))
        }
    };
    let mut problems = Vec::new();
    let mut cx = fields::Cx::new(source, &mut problems);
    let snapshot_time = cx.date(top, "snapshot_time");
    let account_id = cx.text(top, "account_id");
    let region = cx.text(top, "region");
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let mut kcx = cx.key(i);
        let Some(obj) = k.as_object() else {
            kcx.problem(
                None,
                format!("skipped: expected an object, found {}", fields::kind(k)),
            );
            continue;
        };
        let parts = build::KeyParts {
            key_arn: build::Part::new(obj.get("key_arn"), "key_arn"),
            describe_key: build::Part::new(obj.get("describe_key"), "describe_key"),
            key_policy: build::Part::new(obj.get("key_policy"), "key_policy"),
            grants: build::Part::new(obj.get("grants"), "grants"),
            aliases: build::Part::new(obj.get("aliases"), "aliases"),
            errors: build::Part::new(obj.get("errors"), "errors"),
            fallback_id: None,
        };
        if let Some(key) = build::key(&mut kcx, &parts, account_id.as_deref(), region.as_deref()) {
            out.push(key);
        }
    }
    Ok(finish(snapshot_time, account_id, region, out, problems))
}

/// Fills the account and region from the first key ARN when the input did not give them.
fn finish(
    snapshot_time: Option<i64>,
    account_id: Option<String>,
    region: Option<String>,
    keys: Vec<SnapshotKey>,
    problems: Vec<Problem>,
) -> Snapshot {
    let first = keys
        .first()
        .and_then(|k| crate::model::arn::parse(&k.key_arn));
    let account = first.as_ref().map(|a| a.account.to_string());
    let arn_region = first.as_ref().map(|a| a.region.to_string());
    Snapshot {
        snapshot_time,
        account_id: account_id.or(account.filter(|s| !s.is_empty())),
        region: region.or(arn_region.filter(|s| !s.is_empty())),
        keys,
        problems,
    }
}
