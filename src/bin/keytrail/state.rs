//! `keytrail state migrate`: moves a deployment's cross-file state from the per-key ledger
//! objects in S3 (`<output>/_ledger/`, before the state table) into the DynamoDB state table,
//! once, idempotently, leaving the ledger objects as they were.

use anyhow::{Context, Result};
use keytrail::edge::s3::{ClientSettings, S3Url};
use keytrail::lambda::state;
use keytrail::model::profile::Profiles;
use std::io::Write;
use std::path::PathBuf;

/// The flags of `keytrail state`.
#[derive(clap::Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(clap::Subcommand)]
enum StateCommand {
    /// Copy the ledgers under <LEDGERS>/_ledger/ (the function's KEYTRAIL_OUTPUT) into the
    /// state table (the stack's StateTableName output). Safe to run while functions run,
    /// and again: every item is written as a function writes it.
    Migrate {
        /// The function's output location, s3://bucket/prefix (its KEYTRAIL_OUTPUT).
        #[arg(long, value_name = "S3_URL")]
        ledgers: String,
        /// The DynamoDB state table.
        #[arg(long, value_name = "NAME")]
        table: String,
        /// The function's profiles TOML (its KEYTRAIL_PROFILES), if it has one: which
        /// grants can serve a profile use decides what older ledgers keep.
        #[arg(long, value_name = "FILE")]
        profiles: Option<PathBuf>,
        /// AWS region (default: AWS_REGION or the profile's region).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
        /// AWS named profile (default: AWS_PROFILE or `default`).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
}

/// Runs the command; its exit status.
pub fn run(args: &StateArgs) -> Result<u8> {
    let StateCommand::Migrate {
        ledgers,
        table,
        profiles,
        region,
        profile,
    } = &args.command;
    let output = S3Url::parse(ledgers)
        .with_context(|| format!("--ledgers {ledgers}: expected s3://bucket/prefix"))?;
    anyhow::ensure!(
        !table.trim().is_empty(),
        "--table must name the state table"
    );
    let profiles = match profiles {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read profiles", p.display()))?;
            Profiles::with_toml(&text, &p.display().to_string())?
        }
        None => Profiles::default(),
    };
    let settings = ClientSettings {
        region: region.clone(),
        profile: profile.clone(),
        ..ClientSettings::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let m = rt.block_on(async {
        let client = keytrail::edge::s3::client_with(&settings).await?;
        let table = keytrail::edge::dynamo::StateTable::new(&settings, table).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let objects = keytrail::edge::s3::S3Objects { client };
        state::migrate(&objects, &output, &table, &profiles, now)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    })?;
    writeln!(
        std::io::stdout().lock(),
        "migrated {} ledgers from {}/_ledger/ into table {table}: {} items written, {} events of older ledgers left to the tables (no finding can use them); the ledger objects are unchanged",
        m.ledgers,
        ledgers.trim_end_matches('/'),
        m.items,
        m.dropped,
    )?;
    Ok(crate::exit::OK)
}
