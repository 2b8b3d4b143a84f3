//! The Lambda's cross-file state store: per-item state in a DynamoDB table
//! (`KEYTRAIL_STATE_TABLE`, what the template deploys) or, without one, the per-key ledger
//! documents under `<output>/_ledger/` in S3. Both are read before a file is judged (what
//! other files delivered) and written after its tables (what this file adds), so a failure
//! in between fails the message and its redelivery rewrites the same state.

use super::config::LambdaConfig;
use super::response::WorkError;
use crate::audit::ledger::items::{self, Item};
use crate::audit::ledger::LedgerDelta;
use crate::edge::dynamo::{ReadStats, StateError, StateTable};
use crate::edge::s3::store::{self, ObjectStore};
use crate::edge::s3::{self, S3Url};
use crate::model::profile::Profiles;
use crate::pipeline::Pipeline;
use crate::tables::writer::TableStore;
use std::collections::BTreeMap;

/// Where the state lives.
#[derive(Clone)]
pub enum StateStore<O: ObjectStore> {
    /// Items in a DynamoDB table.
    Table(StateTable),
    /// One ledger document per key in the object store (conditional writes).
    Ledgers { objects: O, output: S3Url },
}

/// What reading the state found that writing must carry: orphans promoted on read, by key.
#[derive(Debug, Default)]
pub struct Pending {
    promoted: BTreeMap<String, Vec<Item>>,
}

/// What the state cost one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateStats {
    pub read: ReadStats,
    pub writes: u64,
}

impl From<StateError> for WorkError {
    fn from(e: StateError) -> Self {
        WorkError {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

impl<O: ObjectStore> StateStore<O> {
    /// The store `config` names: its state table, else the ledgers beside its output.
    pub async fn from_config(
        config: &LambdaConfig,
        objects: &O,
    ) -> Result<StateStore<O>, s3::S3Error> {
        Ok(match &config.state_table {
            Some(t) => StateStore::Table(StateTable::new(&s3::ClientSettings::default(), t).await?),
            None => StateStore::Ledgers {
                objects: objects.clone(),
                output: config.output.clone(),
            },
        })
    }

    /// Judges `pipeline`'s events against what other files left in the state: every key
    /// its events name (nothing for a file without KMS events), and the orphans of the
    /// grants it creates.
    pub async fn read<S: TableStore>(
        &self,
        pipeline: &mut Pipeline<S>,
        clock_ms: Option<i64>,
        stats: &mut StateStats,
    ) -> Result<Pending, WorkError> {
        let mut pending = Pending::default();
        for k in &pipeline.ledger_keys() {
            match self {
                StateStore::Table(t) => {
                    let grants = pipeline.created_grants(k);
                    let (a, s) = t.read(k, &grants, clock_ms).await?;
                    stats.read += s;
                    pipeline.apply_ledger(&a.ledger);
                    if !a.promoted.is_empty() {
                        pending.promoted.insert(k.clone(), a.promoted);
                    }
                }
                StateStore::Ledgers { objects, output } => {
                    stats.read.requests += 1;
                    if let Some((l, bytes)) = store::read_ledger(objects, output, k).await? {
                        stats.read.items += 1;
                        stats.read.bytes += bytes as u64;
                        pipeline.apply_ledger(&l);
                    }
                }
            }
        }
        Ok(pending)
    }

    /// Adds what this file contributes (`delta`) to the state.
    pub async fn write(
        &self,
        delta: &LedgerDelta,
        pending: Pending,
        clock_ms: Option<i64>,
        profiles: &Profiles,
        stats: &mut StateStats,
    ) -> Result<(), WorkError> {
        match self {
            StateStore::Table(t) => {
                for (k, all) in items::writes(delta, pending.promoted, clock_ms) {
                    stats.writes += t.write(&k, all).await?;
                }
            }
            StateStore::Ledgers { objects, output } => {
                for l in delta.keys.values() {
                    store::merge_ledger(objects, output, l, profiles).await?;
                    stats.writes += 1;
                }
            }
        }
        Ok(())
    }
}

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Migration {
    /// Ledger objects read.
    pub ledgers: u64,
    /// Items written (each idempotently: a rerun writes the same state).
    pub items: u64,
    /// Events older-layout ledgers held that no finding can use (RULES.md section 7).
    pub dropped: u64,
}

/// Moves the ledgers under `<output>/_ledger/` into `table`, one-off and idempotent: each
/// ledger is read, brought to the current layout, and written as items by the same rules a
/// function writes them, so migrating while functions run, or twice, loses nothing and
/// doubles nothing. The ledger objects are left as they were (delete them once the functions
/// use the table). `clock_ms` starts the expiry of flags and orphans that have none.
pub async fn migrate<O: ObjectStore>(
    objects: &O,
    output: &S3Url,
    table: &StateTable,
    profiles: &Profiles,
    clock_ms: i64,
) -> Result<Migration, WorkError> {
    let prefix = output.key("_ledger/");
    let listed = objects.list(&output.bucket, &prefix).await?;
    let mut m = Migration::default();
    for (key, _) in listed {
        let url = format!("s3://{}/{key}", output.bucket);
        let Some((bytes, _)) = objects.get_small(&output.bucket, &key).await? else {
            continue; // Deleted since the listing.
        };
        let l = crate::audit::ledger::KeyLedger::from_json(&bytes).map_err(|e| WorkError {
            message: format!("{url}: corrupt ledger: {e}"),
            retryable: false,
        })?;
        let key = l.key.clone();
        let (all, dropped) = items::migration_items(l, profiles, clock_ms);
        m.dropped += dropped as u64;
        m.items += all.len() as u64;
        table.write(&key, all).await?;
        m.ledgers += 1;
        tracing::info!(ledger = %url, key = %key, "migrated");
    }
    Ok(m)
}
