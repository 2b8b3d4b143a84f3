//! What a run is configured with ([`PipelineOptions`]) and what it reports: counts
//! ([`RunStats`]), one source's outcome ([`SourceOutcome`]) and the run's result
//! ([`RunReport`]: findings, written files, the ledger delta).

use crate::audit::ledger::LedgerDelta;
use crate::audit::rules::{self, Finding, Rule};
use crate::error::InputError;
use crate::model::profile::Profiles;
use crate::pipeline::filter::{EventFilter, TimeWindow};
use crate::read::logfile::{ReadOptions, SkipReason};
use crate::tables::writer::{WriteOptions, WrittenFile};

/// What a run is configured with.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Consistency window of the rules, in seconds.
    pub grace_seconds: i64,
    pub profiles: Profiles,
    pub read: ReadOptions,
    pub write: WriteOptions,
    /// Collect what this run contributes to the per-key ledgers (the Lambda's cross-file state).
    pub capture_ledger: bool,
    /// The wall-clock time of the run (ms since the epoch), which the ledger's time-to-live
    /// entries count from; the Lambda shell reads the clock, the core never does.
    pub clock_ms: Option<i64>,
    /// Which events enter the run (before the rules; see [`crate::pipeline::filter`]).
    pub filter: EventFilter,
    /// Which events' rows and findings are written and reported (after the rules).
    pub window: TimeWindow,
    /// Snapshots of the keys taken as a baseline (`--baseline`): added to the timeline
    /// before the rules run (RULES.md section 6.6).
    pub baselines: Vec<std::sync::Arc<crate::model::snapshot::Snapshot>>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            grace_seconds: rules::DEFAULT_GRACE_SECONDS,
            profiles: Profiles::default(),
            read: ReadOptions::default(),
            write: WriteOptions::default(),
            capture_ledger: false,
            clock_ms: None,
            filter: EventFilter::default(),
            window: TimeWindow::default(),
            baselines: Vec::new(),
        }
    }
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Sources read as logs (including those that failed part-way).
    pub files_read: u64,
    /// Sources skipped as digest or insight files.
    pub files_skipped: u64,
    /// Sources that could not be read to the end.
    pub files_failed: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Records framed (valid or not).
    pub records: u64,
    /// Records that were not valid JSON objects, or too large.
    pub records_invalid: u64,
    /// CloudTrail-Insight records (not API calls).
    pub insight_records: u64,
    /// Records of other services.
    pub other_service_records: u64,
    /// KMS records, duplicates included.
    pub kms_records: u64,
    /// Distinct KMS calls: events, with the copies of a cross-account call counted once.
    pub kms_events: u64,
    /// KMS events that are another account's copy of a call already counted (same
    /// `sharedEventID`): kept in `kms_events` rows, not counted as calls.
    pub copies_folded: u64,
    /// KMS records dropped as duplicates of an earlier eventID.
    pub duplicates: u64,
    /// Distinct KMS calls by category.
    pub key_use_events: u64,
    pub grant_events: u64,
    pub key_state_events: u64,
    pub other_kms_events: u64,
    /// KMS events left out by the input filter.
    pub filtered_out: u64,
    /// Events read back from tables already written ([`Pipeline::ingest_existing`]).
    pub existing_events: u64,
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOutcome {
    pub source: String,
    /// Set when the source was skipped (digest, insight).
    pub skipped: Option<SkipReason>,
    pub records: u64,
    pub kms_events: u64,
    /// The error that stopped the source, if any.
    pub failure: Option<InputError>,
    /// Record- or line-level errors (the source went on).
    pub record_errors: Vec<InputError>,
}

/// The result of a whole run.
#[derive(Debug)]
pub struct RunReport {
    pub stats: RunStats,
    pub timeline: crate::audit::timeline::TimelineCounts,
    pub findings: Vec<Finding>,
    /// Files written, by table, in path order.
    pub files: Vec<WrittenFile>,
    /// What the run contributes to the per-key ledgers (empty unless
    /// [`PipelineOptions::capture_ledger`] is set): its grant and key-state events, latest
    /// profile uses, and the events it reported findings for.
    pub ledger: LedgerDelta,
    /// Grant findings of uses with context keys no profile names, left to the
    /// recomputation in a ledger run (RULES.md section 7).
    pub deferred_findings: usize,
    /// Sorted runs of key uses spilled to keep memory bounded ([`super::Pipeline::spill_uses`]).
    pub spilled_runs: usize,
    /// Sorted runs of eventID digests spilled ([`super::Pipeline::spill_seen`]).
    pub spilled_digest_runs: usize,
    /// Why spilling stopped part way, if it did (the later uses were held in memory).
    pub spill_failed: Option<String>,
}

impl RunReport {
    /// Findings per rule, in rule order (rules with none included).
    pub fn findings_by_rule(&self) -> Vec<(Rule, usize)> {
        Rule::ALL
            .iter()
            .map(|r| (*r, self.findings.iter().filter(|f| f.rule == *r).count()))
            .collect()
    }
}
