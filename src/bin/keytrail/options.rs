//! Flags turned into what the library takes: pipeline options (profiles, grace, read
//! limits, filters) and the S3 client (region, profile). Every mistake here is a one-line
//! error before anything is read or written.

use crate::Common;
use anyhow::{Context, Result};
use keytrail::model::profile::Profiles;
use keytrail::pipeline::filter::{parse_time, Bound, EventFilter, TimeWindow};
use keytrail::pipeline::PipelineOptions;

/// The pipeline options the flags ask for.
pub fn pipeline_options(common: &Common) -> Result<PipelineOptions> {
    let profiles = match &common.profiles {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read profiles", p.display()))?;
            Profiles::with_toml(&text, &p.display().to_string())?
        }
        None => Profiles::default(),
    };
    anyhow::ensure!(common.grace >= 0, "--grace must be 0 or more seconds");
    let time = |flag: &str, v: &Option<String>, b: Bound| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| parse_time(s, b).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
            .transpose()
    };
    let window = TimeWindow {
        since: time("--since", &common.since, Bound::Since)?,
        until: time("--until", &common.until, Bound::Until)?,
    };
    if let (Some(s), Some(u)) = (window.since, window.until) {
        anyhow::ensure!(s < u, "--since must be before --until");
    }
    let mut opts = PipelineOptions {
        grace_seconds: common.grace,
        profiles,
        filter: EventFilter {
            keys: common.key.clone(),
            accounts: common.account.clone(),
            regions: common.event_region.clone(),
        },
        window,
        ..PipelineOptions::default()
    };
    for path in &common.baseline {
        let snap = keytrail::model::snapshot::load(path)
            .map_err(|e| anyhow::anyhow!("--baseline {}: {e}", path.display()))?;
        if !common.quiet {
            for p in &snap.problems {
                eprintln!("note: --baseline {p}");
            }
        }
        opts.baselines.push(std::sync::Arc::new(snap));
    }
    opts.read.max_source_bytes = common.max_source_bytes;
    opts.read.max_inflation = common.max_inflation;
    Ok(opts)
}

/// The runtime and S3 client a command needs when one of its locations (`inputs`, the
/// tables) is in S3; `None` when none is.
pub fn s3_edge(
    common: &Common,
    inputs: &[String],
    tables: Option<&str>,
) -> Result<Option<(tokio::runtime::Runtime, aws_sdk_s3::Client)>> {
    let needed = inputs.iter().any(|i| i.starts_with("s3://"))
        || tables.is_some_and(|t| t.starts_with("s3://"));
    if !needed {
        return Ok(None);
    }
    let rt = runtime()?;
    let client = s3_client(common, &rt)?;
    Ok(Some((rt, client)))
}

/// A runtime for the S3 edge.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The S3 client, with `--region` and `--profile`; fails in one line without a region or
/// credentials.
pub fn s3_client(common: &Common, rt: &tokio::runtime::Runtime) -> Result<aws_sdk_s3::Client> {
    let settings = keytrail::edge::s3::ClientSettings {
        region: common.region.clone(),
        profile: common.profile.clone(),
        ..Default::default()
    };
    Ok(rt.block_on(keytrail::edge::s3::client_with(&settings))?)
}
