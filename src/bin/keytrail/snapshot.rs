//! `keytrail snapshot`: records today's keys of one account and region through the KMS
//! API (ListKeys, then per key DescribeKey, GetKeyPolicy, ListGrants, and ListAliases
//! matched by TargetKeyId) into one JSON file, written atomically; and `--check`, which
//! reads a snapshot back through [`keytrail::model::snapshot::load`].
//!
//! Only a failed ListKeys (or a configuration problem) stops the command: a key whose
//! other calls fail is recorded with those errors in its `errors`.

mod kms_json;

use crate::exit;
use anyhow::{Context, Result};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::Client;
use futures::StreamExt;
use keytrail::text::{fit, one_line, sanitize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The flags of `keytrail snapshot`.
#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// JSON file to write the snapshot into (replaced atomically: a failed run leaves an
    /// existing file as it was).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "check",
        conflicts_with = "check"
    )]
    out: Option<PathBuf>,
    /// Read a snapshot back (a snapshot file or a folder of `aws kms` outputs) and print a
    /// summary of it, with each problem found on stderr.
    #[arg(long, value_name = "PATH")]
    check: Option<PathBuf>,
    /// With --check: print the snapshot as keytrail reads it, as JSON.
    #[arg(long, requires = "check")]
    json: bool,
    /// AWS region of the keys (default: AWS_REGION or the profile's region).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS named profile (default: AWS_PROFILE or `default`).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// No `note:` lines (errors and results still print).
    #[arg(long, short)]
    quiet: bool,
}

/// Keys described at the same time.
const CONCURRENCY: usize = 8;

/// Runs the command; its exit status.
pub fn run(args: &SnapshotArgs) -> Result<u8> {
    if let Some(path) = &args.check {
        return check(path, args.json, args.quiet);
    }
    let out = args.out.as_deref().expect("clap requires --out or --check");
    let parent = usable_out(out)?;
    let rt = crate::options::runtime()?;
    let (client, region) = rt.block_on(client(args))?;
    let started = chrono::Utc::now();
    let keys = rt.block_on(fetch(&client))?;
    let account = keys
        .first()
        .and_then(|k| k["key_arn"].as_str())
        .and_then(keytrail::model::arn::parse)
        .map(|a| a.account.to_string());
    let doc = json!({
        "snapshot_time": started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "account_id": account,
        "region": region,
        "keys": keys,
    });
    write_atomically(out, &parent, &doc)?;

    let grants: usize = keys.iter().map(|k| array_len(&k["grants"])).sum();
    let aliases: usize = keys.iter().map(|k| array_len(&k["aliases"])).sum();
    let with_errors: Vec<&Value> = keys.iter().filter(|k| k.get("errors").is_some()).collect();
    if !args.quiet {
        for k in &with_errors {
            for e in k["errors"].as_array().into_iter().flatten() {
                let arn = k["key_arn"].as_str().unwrap_or("?");
                eprintln!(
                    "note: {}: {}",
                    sanitize(arn),
                    one_line(e.as_str().unwrap_or(""))
                );
            }
        }
    }
    writeln!(
        std::io::stdout().lock(),
        "snapshot of {} keys ({grants} grants, {aliases} aliases) in {} {} written to {}{}",
        keys.len(),
        account.as_deref().unwrap_or("(no key: account unknown)"),
        region,
        out.display(),
        match with_errors.len() {
            0 => String::new(),
            n => format!("; {n} keys with errors recorded in their \"errors\""),
        }
    )?;
    Ok(exit::OK)
}

fn array_len(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

/// The folder `out` is written in; refuses, before any AWS call, an `out` that is a folder
/// or whose folder does not exist.
fn usable_out(out: &Path) -> Result<PathBuf> {
    anyhow::ensure!(
        !out.is_dir(),
        "--out {}: is a folder; name the snapshot file to write",
        out.display()
    );
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    anyhow::ensure!(
        parent.is_dir(),
        "--out {}: the folder {} does not exist",
        out.display(),
        parent.display()
    );
    Ok(parent)
}

/// Writes the snapshot into a temporary file beside `out`, then renames it over `out`, so
/// `out` is always either the old file or the whole new one.
fn write_atomically(out: &Path, parent: &Path, doc: &Value) -> Result<()> {
    let name = out
        .file_name()
        .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(parent)
        .with_context(|| format!("{}: cannot create a temporary file", parent.display()))?;
    let mut bytes = serde_json::to_vec_pretty(doc)?;
    bytes.push(b'\n');
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write the snapshot", out.display()))?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .with_context(|| format!("{}: cannot write the snapshot", out.display()))?;
    // The rename itself made durable; a folder that cannot be synced is no error.
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The KMS client: the standard AWS configuration with --region and --profile, and the
/// endpoint `AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`. Fails in one line without a
/// region or credentials.
async fn client(args: &SnapshotArgs) -> Result<(Client, String)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_KMS")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .ok()
        .filter(|e| !e.is_empty());
    if let Some(e) = &endpoint {
        keytrail::edge::s3::check_endpoint(e)?;
    }
    let settings = keytrail::edge::s3::ClientSettings {
        region: args.region.clone(),
        profile: args.profile.clone(),
        ..keytrail::edge::s3::ClientSettings::default()
    };
    let shared = keytrail::edge::s3::load_config(&settings).await?;
    let region = shared.region().map(|r| r.to_string()).unwrap_or_default();
    let mut conf = aws_sdk_kms::config::Builder::from(&shared);
    if let Some(e) = endpoint {
        conf = conf.endpoint_url(e);
    }
    Ok((Client::from_conf(conf.build()), region))
}

/// `Op: Code: message` for a failed call (`GetKeyPolicy: AccessDeniedException: ...`).
fn call_error<E, R>(op: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let why = match e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("unknown error");
            match s.err().message() {
                Some(m) => format!("{code}: {m}"),
                None => code.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(d) => format!(
            "connection failed: {}",
            d.as_connector_error().map_or_else(
                || "the request could not be sent".into(),
                |c| keytrail::edge::s3::error_chain(c)
            )
        ),
        other => keytrail::edge::s3::error_chain(other),
    };
    fit(one_line(&format!("{op}: {why}")), 400)
}

/// Every key, each as the file records it, sorted by key ARN.
async fn fetch(client: &Client) -> Result<Vec<Value>> {
    let mut listed = Vec::new();
    let mut pages = client.list_keys().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| anyhow::anyhow!("{}: nothing was written", call_error("ListKeys", &e)))?;
        for k in page.keys() {
            if let Some(id) = k.key_id() {
                listed.push((id.to_string(), k.key_arn().map(str::to_string)));
            }
        }
    }
    let mut aliases = Vec::new();
    let mut alias_error = None;
    let mut pages = client.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => aliases.extend(p.aliases().iter().cloned()),
            Err(e) => {
                alias_error = Some(call_error("ListAliases", &e));
                break;
            }
        }
    }
    let aliases = &aliases;
    let alias_error = &alias_error;
    let mut keys: Vec<Value> = futures::stream::iter(listed)
        .map(
            |(id, arn)| async move { key(client, &id, arn, aliases, alias_error.as_deref()).await },
        )
        .buffered(CONCURRENCY)
        .collect()
        .await;
    keys.sort_by(|a, b| a["key_arn"].as_str().cmp(&b["key_arn"].as_str()));
    Ok(keys)
}

/// One key: its metadata, policy, grants and aliases, and the calls that failed.
async fn key(
    client: &Client,
    id: &str,
    listed_arn: Option<String>,
    aliases: &[aws_sdk_kms::types::AliasListEntry],
    alias_error: Option<&str>,
) -> Value {
    let mut errors = Vec::new();
    let describe = match client.describe_key().key_id(id).send().await {
        Ok(o) => o.key_metadata().map(kms_json::key_metadata),
        Err(e) => {
            errors.push(call_error("DescribeKey", &e));
            None
        }
    };
    let policy = match client
        .get_key_policy()
        .key_id(id)
        .policy_name("default")
        .send()
        .await
    {
        Ok(o) => o.policy().map(|p| Value::String(p.to_string())),
        Err(e) => {
            errors.push(call_error("GetKeyPolicy", &e));
            None
        }
    };
    let mut grants = Some(Vec::new());
    let mut pages = client.list_grants().key_id(id).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(p) => {
                if let Some(g) = grants.as_mut() {
                    g.extend(p.grants().iter().map(kms_json::grant));
                }
            }
            Err(e) => {
                errors.push(call_error("ListGrants", &e));
                grants = None;
                break;
            }
        }
    }
    let arn = listed_arn
        .or_else(|| {
            describe
                .as_ref()
                .and_then(|d| d["Arn"].as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| id.to_string());
    let own: Vec<Value> = aliases
        .iter()
        .filter(|a| a.target_key_id().is_some_and(|t| t == id || t == arn))
        .map(kms_json::alias)
        .collect();
    if let Some(e) = alias_error {
        errors.push(e.to_string());
    }
    let mut k = json!({
        "key_arn": arn,
        "describe_key": describe,
        "key_policy": policy,
        "grants": grants,
        "aliases": if alias_error.is_some() { Value::Null } else { Value::Array(own) },
    });
    if !errors.is_empty() {
        k["errors"] = json!(errors);
    }
    k
}

/// `--check`: reads a snapshot back and prints what it holds; problems go to stderr.
/// Exit 0 when it read cleanly, 2 when something in it could not be read.
fn check(path: &Path, as_json: bool, quiet: bool) -> Result<u8> {
    let snap = keytrail::model::snapshot::load(path)?;
    for p in &snap.problems {
        eprintln!("error: {p}");
    }
    let mut o = std::io::stdout().lock();
    if as_json {
        writeln!(o, "{}", serde_json::to_string_pretty(&snap)?)?;
    } else {
        let count = |state: &str| {
            snap.keys
                .iter()
                .filter(|k| k.key_state.as_deref() == Some(state))
                .count()
        };
        let time = snap
            .snapshot_time
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map_or("an unknown time".into(), |t| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            });
        writeln!(
            o,
            "{}: snapshot of {time}, account {}, region {}: {} keys ({} enabled, {} disabled, {} pending deletion), {} grants, {} aliases, {} keys with recorded errors, {} problems",
            sanitize(&path.display().to_string()),
            sanitize(snap.account_id.as_deref().unwrap_or("unknown")),
            sanitize(snap.region.as_deref().unwrap_or("unknown")),
            snap.keys.len(),
            count("Enabled"),
            count("Disabled"),
            count("PendingDeletion"),
            snap.keys.iter().map(|k| k.grants.len()).sum::<usize>(),
            snap.keys.iter().map(|k| k.aliases.len()).sum::<usize>(),
            snap.keys.iter().filter(|k| !k.errors.is_empty()).count(),
            snap.problems.len(),
        )?;
    }
    o.flush()?;
    if !quiet && !as_json {
        for k in &snap.keys {
            for e in &k.errors {
                eprintln!("note: {}: {}", sanitize(&k.key_arn), one_line(e));
            }
        }
    }
    Ok(if snap.problems.is_empty() {
        exit::OK
    } else {
        exit::INPUT_ERRORS
    })
}
