//! One [`SnapshotKey`] out of the KMS API's own shapes (`KeyMetadata`, the policy text,
//! `GrantListEntry` and `AliasListEntry` lists), shared by the snapshot file and the
//! folder of `aws kms` outputs.

use super::fields::{kind, Cx};
use super::{ConstraintKind, SnapshotGrant, SnapshotKey};
use serde_json::{Map, Value};

/// One part of a key's input: its value, the file it came from when that is not the
/// snapshot's own (a folder's `list-grants.json`), and its field name in problems.
#[derive(Default)]
pub(super) struct Part<'v> {
    pub value: Option<&'v Value>,
    pub source: Option<String>,
    pub field: &'static str,
    /// Whether the value is the whole account's (a `list-aliases` without `--key-id`):
    /// an entry that names no key is then nobody's.
    pub shared: bool,
}

impl<'v> Part<'v> {
    pub fn new(value: Option<&'v Value>, field: &'static str) -> Part<'v> {
        Part {
            value,
            source: None,
            field,
            shared: false,
        }
    }

    /// The value, unless absent or null.
    fn present(&self) -> Option<&'v Value> {
        self.value.filter(|v| !v.is_null())
    }
}

/// The parts of one key.
#[derive(Default)]
pub(super) struct KeyParts<'v> {
    /// The key ARN the snapshot recorded (`key_arn`).
    pub key_arn: Part<'v>,
    /// `KeyMetadata` (or a whole `describe-key` output holding it).
    pub describe_key: Part<'v>,
    /// The policy text (or a whole `get-key-policy` output holding `Policy`).
    pub key_policy: Part<'v>,
    /// `GrantListEntry` objects (or a `list-grants` output holding `Grants`).
    pub grants: Part<'v>,
    /// `AliasListEntry` objects or alias names (or a `list-aliases` output).
    pub aliases: Part<'v>,
    /// The errors recorded while taking the snapshot.
    pub errors: Part<'v>,
    /// A key id to fall back on (a folder's name) when the input gives neither ARN nor id.
    pub fallback_id: Option<String>,
}

/// `v`, or the object `v[wrapper]` when `v` is a whole CLI output holding it.
fn unwrap<'v>(v: &'v Value, wrapper: &str) -> &'v Value {
    v.get(wrapper).filter(|inner| !inner.is_null()).unwrap_or(v)
}

/// Builds the key; `None` (reported) when neither its ARN nor its id can be known.
pub(super) fn key(
    cx: &mut Cx<'_>,
    parts: &KeyParts<'_>,
    account: Option<&str>,
    region: Option<&str>,
) -> Option<SnapshotKey> {
    let mut out = SnapshotKey::default();
    let recorded_arn = match parts.key_arn.present() {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            cx.problem(
                Some(parts.key_arn.field),
                format!("expected a key ARN, found {}; left unknown", kind(other)),
            );
            None
        }
    };
    if let Some(a) = &recorded_arn {
        cx.name_key(a);
    }

    let mut meta_arn = None;
    if let Some(v) = parts.describe_key.present() {
        let mut dcx = cx.part(
            parts.describe_key.source.as_deref(),
            parts.describe_key.field,
        );
        match unwrap(v, "KeyMetadata") {
            Value::Object(m) => {
                meta_arn = dcx.text(m, "Arn");
                metadata(&mut dcx, m, &mut out);
            }
            other => dcx.problem(
                None,
                format!("expected KeyMetadata (an object), found {}", kind(other)),
            ),
        }
    }

    let id_from_arn = |a: &str| {
        crate::model::arn::parse(a)
            .and_then(|p| p.resource.strip_prefix("key/").map(str::to_string))
            .filter(|id| !id.is_empty())
    };
    let arn = recorded_arn.clone().or(meta_arn.clone());
    if out.key_id.is_none() {
        out.key_id = arn
            .as_deref()
            .and_then(id_from_arn)
            .or(parts.fallback_id.clone());
    }
    out.key_arn = match (arn, &out.key_id, account, region) {
        (Some(a), ..) => a,
        (None, Some(id), Some(acct), Some(r)) => crate::model::arn::key_arn_from_id(id, r, acct),
        _ => {
            cx.problem(
                None,
                "skipped: neither a key ARN nor a key id with the account and region".into(),
            );
            return None;
        }
    };
    cx.name_key(&out.key_arn);
    if let (Some(r), Some(m)) = (&recorded_arn, &meta_arn) {
        if r != m {
            cx.problem(
                Some(parts.key_arn.field),
                format!("differs from KeyMetadata.Arn ({m}); {r} is kept"),
            );
        }
    }

    out.policy = policy(cx, &parts.key_policy);
    out.grants_known = parts.grants.present().is_some();
    if let Some(v) = parts.grants.present() {
        let mut gcx = cx.part(parts.grants.source.as_deref(), "");
        match unwrap(v, "Grants") {
            Value::Array(items) => {
                for (i, g) in items.iter().enumerate() {
                    if let Some(g) = grant(&mut gcx.grant(i), g, &out.key_arn) {
                        out.grants.push(g);
                    }
                }
            }
            other => {
                out.grants_known = false;
                gcx.problem(
                    Some(parts.grants.field),
                    format!("expected an array of grants, found {}", kind(other)),
                );
            }
        }
    }
    out.aliases = aliases(cx, &parts.aliases, out.key_id.as_deref(), &out.key_arn);
    if let Some(v) = parts.errors.present() {
        let mut ecx = cx.part(parts.errors.source.as_deref(), "");
        match v {
            Value::Array(_) => {
                let holder = Map::from_iter([(parts.errors.field.to_string(), v.clone())]);
                out.errors = ecx.strings(&holder, parts.errors.field);
            }
            Value::String(s) => out.errors = vec![s.clone()],
            other => ecx.problem(
                Some(parts.errors.field),
                format!("expected an array of strings, found {}", kind(other)),
            ),
        }
    }
    if out
        .errors
        .iter()
        .any(|e| e.starts_with("ListGrants") || e.starts_with("ListKeys"))
    {
        out.grants_known = false;
    }
    Some(out)
}

/// The `KeyMetadata` fields the model keeps.
fn metadata(cx: &mut Cx<'_>, m: &Map<String, Value>, out: &mut SnapshotKey) {
    out.key_id = cx.text(m, "KeyId");
    out.key_state = cx.text(m, "KeyState");
    out.enabled = cx.boolean(m, "Enabled");
    out.creation_date = cx.date(m, "CreationDate");
    out.deletion_date = cx.date(m, "DeletionDate");
    out.key_manager = cx.text(m, "KeyManager");
    out.origin = cx.text(m, "Origin");
}

/// The policy text: a string, a `{"Policy": ...}` output, or a policy written as an object.
fn policy(cx: &mut Cx<'_>, part: &Part<'_>) -> Option<String> {
    let v = part.present()?;
    let mut pcx = cx.part(part.source.as_deref(), "");
    match unwrap(v, "Policy") {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) if !o.contains_key("Policy") => Some(v.to_string()),
        other => {
            pcx.problem(
                Some(part.field),
                format!(
                    "expected the policy text, found {}; left unknown",
                    kind(other)
                ),
            );
            None
        }
    }
}

/// One `GrantListEntry`; `None` (reported) when it is not an object or has no `GrantId`.
fn grant(cx: &mut Cx<'_>, g: &Value, listing_key: &str) -> Option<SnapshotGrant> {
    let Some(m) = g.as_object() else {
        cx.problem(
            None,
            format!("skipped: expected a grant object, found {}", kind(g)),
        );
        return None;
    };
    let Some(grant_id) = cx.text(m, "GrantId").filter(|s| !s.is_empty()) else {
        cx.problem(Some("GrantId"), "skipped: the grant has no GrantId".into());
        return None;
    };
    // ListGrants gives the key ARN as `KeyId`; a bare id is taken in the listing key's
    // account and region.
    let key_arn = match cx.text(m, "KeyId") {
        Some(k) if crate::model::arn::is_key_arn(&k) => k,
        Some(id) if !id.is_empty() && !listing_key.ends_with(&format!("/{id}")) => {
            match crate::model::arn::parse(listing_key) {
                Some(a) => crate::model::arn::key_arn_from_id(&id, a.region, a.account),
                None => listing_key.to_string(),
            }
        }
        _ => listing_key.to_string(),
    };
    let (constraint_kind, constraint) = match m.get("Constraints") {
        None | Some(Value::Null) => (ConstraintKind::None, Default::default()),
        Some(Value::Object(c)) => constraints(cx, c),
        Some(other) => {
            cx.problem(
                Some("Constraints"),
                format!(
                    "expected an object, found {}; read as no constraint",
                    kind(other)
                ),
            );
            (ConstraintKind::None, Default::default())
        }
    };
    Some(SnapshotGrant {
        key_arn,
        grant_id,
        name: cx.text(m, "Name"),
        creation_date: cx.date(m, "CreationDate"),
        grantee_principal: cx.text(m, "GranteePrincipal"),
        retiring_principal: cx.text(m, "RetiringPrincipal"),
        issuing_account: cx.text(m, "IssuingAccount"),
        operations: cx.strings(m, "Operations"),
        constraint_kind,
        constraint,
    })
}

/// `Constraints`: `EncryptionContextEquals` or `EncryptionContextSubset` (KMS allows one;
/// with both, Equals, the stricter, is kept and the other reported).
fn constraints(
    cx: &mut Cx<'_>,
    c: &Map<String, Value>,
) -> (ConstraintKind, std::collections::BTreeMap<String, String>) {
    let equals = c.get("EncryptionContextEquals").filter(|v| !v.is_null());
    let subset = c.get("EncryptionContextSubset").filter(|v| !v.is_null());
    match (equals, subset) {
        (Some(e), s) => {
            if s.is_some() {
                cx.problem(
                    Some("Constraints"),
                    "both EncryptionContextEquals and EncryptionContextSubset; Equals is kept"
                        .into(),
                );
            }
            let name = "Constraints.EncryptionContextEquals";
            (ConstraintKind::Equals, cx.string_map(e, name))
        }
        (None, Some(s)) => {
            let name = "Constraints.EncryptionContextSubset";
            (ConstraintKind::Subset, cx.string_map(s, name))
        }
        (None, None) => (ConstraintKind::None, Default::default()),
    }
}

/// Alias names: `AliasListEntry` objects (those whose `TargetKeyId` names another key are
/// left out, as a whole-account `list-aliases` output holds them) or plain names.
fn aliases(cx: &mut Cx<'_>, part: &Part<'_>, key_id: Option<&str>, key_arn: &str) -> Vec<String> {
    let Some(v) = part.present() else {
        return Vec::new();
    };
    let mut acx = cx.part(part.source.as_deref(), "");
    let items = match unwrap(v, "Aliases") {
        Value::Array(items) => items,
        other => {
            acx.problem(
                Some(part.field),
                format!("expected an array of aliases, found {}", kind(other)),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, a) in items.iter().enumerate() {
        let field = format!("{}[{i}]", part.field);
        match a {
            Value::String(s) => out.push(s.clone()),
            Value::Object(m) => {
                let mut icx = acx.part(None, &field);
                let target = icx.text(m, "TargetKeyId");
                let ours = match target.as_deref() {
                    Some(t) => Some(t) == key_id || t == key_arn,
                    None => !part.shared,
                };
                match icx.text(m, "AliasName") {
                    Some(name) if ours => out.push(name),
                    Some(_) => {}
                    None => icx.problem(
                        Some("AliasName"),
                        "the alias has no AliasName; left out".into(),
                    ),
                }
            }
            other => acx.problem(
                Some(&field),
                format!("expected an alias, found {}; left out", kind(other)),
            ),
        }
    }
    out.sort();
    out.dedup();
    out
}
