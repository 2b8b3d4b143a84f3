//! A snapshot from a folder of raw `aws kms` outputs, for accounts where keytrail itself
//! cannot run:
//!
//! ```text
//! DIR/snapshot-time                  RFC 3339 text (`date -u +%Y-%m-%dT%H:%M:%SZ`)
//! DIR/list-aliases.json              optional: `aws kms list-aliases` (every key's)
//! DIR/<key-id>/describe-key.json     `aws kms describe-key --key-id <key-id>`
//! DIR/<key-id>/get-key-policy.json   `aws kms get-key-policy --key-id <key-id> --policy-name default`
//! DIR/<key-id>/list-grants.json      `aws kms list-grants --key-id <key-id>`
//! DIR/<key-id>/list-aliases.json     optional: `aws kms list-aliases --key-id <key-id>`
//! ```
//!
//! [`load_folder`] only reads the files; [`from_cli_outputs`] makes the snapshot from
//! their bytes.

use super::build::{self, KeyParts, Part};
use super::fields::{date_text_millis, Cx};
use super::{finish, Problem, Snapshot, SnapshotError};
use serde_json::Value;
use std::path::Path;

/// The outputs of one key's folder, as bytes (`None`: the file is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CliKeyOutputs {
    /// The folder's name (the key id).
    pub name: String,
    pub describe_key: Option<Vec<u8>>,
    pub get_key_policy: Option<Vec<u8>>,
    pub list_grants: Option<Vec<u8>>,
    pub list_aliases: Option<Vec<u8>>,
}

const DESCRIBE: &str = "describe-key.json";
const POLICY: &str = "get-key-policy.json";
const GRANTS: &str = "list-grants.json";
const ALIASES: &str = "list-aliases.json";
const TIME: &str = "snapshot-time";

/// Makes the snapshot of a folder (named `folder` in problems) from its files' contents:
/// `snapshot_time` (the `snapshot-time` text), the account's `list-aliases.json` and each
/// key folder's outputs, in the order given.
pub fn from_cli_outputs(
    folder: &str,
    snapshot_time: Option<&str>,
    account_aliases: Option<&[u8]>,
    keys: &[CliKeyOutputs],
) -> Snapshot {
    let mut problems = Vec::new();
    let mut cx = Cx::new(folder, &mut problems);
    let at = |rel: &str| format!("{}/{rel}", folder.trim_end_matches('/'));
    let snapshot_time = match snapshot_time {
        None => {
            cx.part(Some(&at(TIME)), "")
                .problem(None, "missing; the snapshot time is unknown".into());
            None
        }
        Some(t) => {
            let t = date_text_millis(t);
            if t.is_none() {
                cx.part(Some(&at(TIME)), "").problem(
                    None,
                    "not an RFC 3339 time (2025-03-04T10:20:00Z); the snapshot time is unknown"
                        .into(),
                );
            }
            t
        }
    };
    let account_aliases = account_aliases.and_then(|b| json(&mut cx, &at(ALIASES), b));

    // Every file parsed first, so the account and region (from the first key ARN) are known
    // for a key whose describe-key.json is missing.
    struct Parsed {
        name: String,
        describe: Option<Value>,
        policy: Option<Value>,
        grants: Option<Value>,
        aliases: Option<Value>,
    }
    let mut parsed = Vec::with_capacity(keys.len());
    for k in keys {
        let file = |f: &str| at(&format!("{}/{f}", k.name));
        let mut kcx = cx.part(None, "");
        kcx.name_key(&k.name);
        let mut read = |bytes: &Option<Vec<u8>>, f: &str, unknown: Option<&str>| match bytes {
            Some(b) => json(&mut kcx, &file(f), b),
            None => {
                if let Some(what) = unknown {
                    kcx.part(Some(&file(f)), "")
                        .problem(None, format!("missing; {what} unknown"));
                }
                None
            }
        };
        parsed.push(Parsed {
            name: k.name.clone(),
            describe: read(&k.describe_key, DESCRIBE, Some("the key's state is")),
            policy: read(&k.get_key_policy, POLICY, Some("the key policy is")),
            grants: read(&k.list_grants, GRANTS, Some("the grants are")),
            aliases: read(&k.list_aliases, ALIASES, None),
        });
    }
    let first_arn = parsed.iter().find_map(|p| {
        let d = p.describe.as_ref()?;
        let m = d.get("KeyMetadata").unwrap_or(d);
        m.get("Arn")?.as_str().map(str::to_string)
    });
    let first = first_arn.as_deref().and_then(crate::model::arn::parse);
    let account = first.as_ref().map(|a| a.account.to_string());
    let region = first.as_ref().map(|a| a.region.to_string());

    let mut out = Vec::with_capacity(parsed.len());
    for p in &parsed {
        let file = |f: &str| Some(at(&format!("{}/{f}", p.name)));
        let mut kcx = cx.part(None, "");
        kcx.name_key(&p.name);
        let parts = KeyParts {
            key_arn: Part::default(),
            describe_key: Part {
                value: p.describe.as_ref(),
                source: file(DESCRIBE),
                field: "KeyMetadata",
                shared: false,
            },
            key_policy: Part {
                value: p.policy.as_ref(),
                source: file(POLICY),
                field: "Policy",
                shared: false,
            },
            grants: Part {
                value: p.grants.as_ref(),
                source: file(GRANTS),
                field: "Grants",
                shared: false,
            },
            aliases: match (&p.aliases, &account_aliases) {
                (Some(a), _) => Part {
                    value: Some(a),
                    source: file(ALIASES),
                    field: "Aliases",
                    shared: false,
                },
                (None, Some(a)) => Part {
                    value: Some(a),
                    source: Some(at(ALIASES)),
                    field: "Aliases",
                    shared: true,
                },
                (None, None) => Part::default(),
            },
            errors: Part::default(),
            fallback_id: Some(p.name.clone()),
        };
        if let Some(key) = build::key(&mut kcx, &parts, account.as_deref(), region.as_deref()) {
            out.push(key);
        }
    }
    finish(snapshot_time, account, region, out, problems)
}

/// One output file's JSON; `None` (reported) when it is empty or not JSON.
fn json(cx: &mut Cx<'_>, source: &str, bytes: &[u8]) -> Option<Value> {
    let mut fcx = cx.part(Some(source), "");
    if bytes.iter().all(u8::is_ascii_whitespace) {
        fcx.problem(
            None,
            "empty (did the aws command fail?); left unknown".into(),
        );
        return None;
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            fcx.problem(None, format!("invalid JSON: {e}; left unknown"));
            None
        }
    }
}

/// Reads a folder of `aws kms` outputs (see the module documentation): every
/// sub-folder is a key, in name order; folders whose name starts with `.` are ignored.
pub(super) fn load_folder(dir: &Path) -> Result<Snapshot, SnapshotError> {
    let folder = dir.display().to_string();
    let fail = |path: &Path, e: std::io::Error| {
        SnapshotError::from(Problem {
            source: path.display().to_string(),
            reason: format!("cannot read: {e}"),
            ..Problem::default()
        })
    };
    let optional = |path: &Path| -> Result<Option<Vec<u8>>, SnapshotError> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fail(path, e)),
        }
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| fail(dir, e))? {
        let entry = entry.map_err(|e| fail(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_dir() {
            names.push(name);
        }
    }
    names.sort();
    let mut keys = Vec::with_capacity(names.len());
    let mut empty = Vec::new();
    for name in names {
        let d = dir.join(&name);
        let k = CliKeyOutputs {
            describe_key: optional(&d.join(DESCRIBE))?,
            get_key_policy: optional(&d.join(POLICY))?,
            list_grants: optional(&d.join(GRANTS))?,
            list_aliases: optional(&d.join(ALIASES))?,
            name,
        };
        if k.describe_key.is_none() && k.get_key_policy.is_none() && k.list_grants.is_none() {
            empty.push(k.name);
        } else {
            keys.push(k);
        }
    }
    let time = optional(&dir.join(TIME))?.map(|b| String::from_utf8_lossy(&b).into_owned());
    let aliases = optional(&dir.join(ALIASES))?;
    let mut snap = from_cli_outputs(&folder, time.as_deref(), aliases.as_deref(), &keys);
    for name in empty {
        snap.problems.push(Problem {
            source: format!("{}/{name}", folder.trim_end_matches('/')),
            reason: format!("skipped: holds none of {DESCRIBE}, {POLICY}, {GRANTS}"),
            ..Problem::default()
        });
    }
    Ok(snap)
}
