//! The one pipeline: sources in, tables and findings out.
//!
//! The CLI and the Lambda are thin shells over [`Pipeline`]: they open sources (files,
//! stdin, S3 objects) and a [`TableStore`], and hand both in. Everything in between —
//! framing, parsing, KMS classification, dedupe on eventID, the timeline, the rules and the
//! table rows — happens here, once, with no I/O of its own beyond the reader and store it
//! is given.

use crate::audit::ledger::{KeyLedger, LedgerDelta, UNKEYED};
use crate::audit::rules::{self, Finding, Rule};
use crate::audit::timeline::Timeline;
use crate::error::{InputError, OutputError};
use crate::model::kms::{self, Category, KmsEvent};
use crate::read::logfile::{self, ReadSummary, SkipReason};
use crate::read::rawjson::RawObject;
use crate::tables::schema;
use crate::tables::writer::{PartitionedWriter, TableStore};
use decode::{digest, Decoded};
use std::collections::{HashMap, HashSet};
use std::io::Read;

mod capture;
pub mod decode;
pub mod derive;
mod event_row;
pub mod filter;
pub mod parallel;
mod run;
pub mod seen;

use capture::capture;
use event_row::write_event_row;
pub use run::{PipelineOptions, RunReport, RunStats, SourceOutcome};
use seen::Seen;

/// The pipeline. Feed it sources with [`Pipeline::ingest`], then [`Pipeline::finish`].
pub struct Pipeline<S: TableStore> {
    opts: PipelineOptions,
    timeline: Timeline,
    /// 128-bit digests of the eventIDs seen (two independent SipHash-1-3 of the id):
    /// a collision is astronomically unlikely and costs 16 bytes per event instead of the id.
    seen: Seen,
    events: Option<PartitionedWriter<S>>,
    stats: RunStats,
    /// Digests of context records added with [`Pipeline::add_context`].
    context_seen: HashSet<u128>,
    /// Digests of own events another source delivered first (see [`Pipeline::suppress`]).
    suppressed: HashSet<u128>,
    /// Digests of the sharedEventIDs counted (copies of one call count once).
    shared_seen: HashSet<u128>,
    /// The sharedEventID of each own event that has one.
    shared_of: HashMap<String, String>,
    /// SharedEventIDs whose call another source already reported findings for.
    suppressed_shared: HashSet<String>,
    ledger: LedgerDelta,
    /// Own grant removals, resolved against every creation the run knows in `finish`.
    pending_removals: Vec<capture::PendingRemoval>,
    /// Orphan removals the ledgers hold, by grant id.
    context_orphans: capture::Orphans,
    /// Own profile uses whose context also carries keys no profile names (see
    /// [`crate::model::profile::EventMatches::extended`]).
    extended: HashSet<String>,
}

impl<S: TableStore> Pipeline<S> {
    /// Spills the timeline's key uses to `spill` in sorted runs of `budget` uses, so memory
    /// does not grow with the number of uses (the CLI's backfills); the findings are the
    /// same.
    pub fn spill_uses(&mut self, spill: Box<dyn crate::audit::timeline::Spill>, budget: usize) {
        self.timeline.uses.spill_to(spill, budget);
    }

    /// Spills the eventID digests to `spill` in sorted runs of `budget`, so dedupe stays
    /// exact over any archive in bounded memory.
    pub fn spill_seen(&mut self, spill: Box<dyn crate::audit::timeline::Spill>, budget: usize) {
        self.seen.spill_to(spill, budget);
    }

    /// A pipeline that writes tables when `write_tables` is set (`analyze`), or only
    /// computes findings (`findings`).
    pub fn new(opts: PipelineOptions, write_tables: bool) -> Self {
        let events = write_tables.then(|| {
            PartitionedWriter::new(
                schema::table("kms_events").expect("kms_events table"),
                opts.write.clone(),
            )
        });
        Pipeline {
            timeline: Timeline::new(opts.profiles.clone()),
            opts,
            seen: Seen::default(),
            events,
            stats: RunStats::default(),
            context_seen: HashSet::new(),
            suppressed: HashSet::new(),
            shared_seen: HashSet::new(),
            shared_of: HashMap::new(),
            suppressed_shared: HashSet::new(),
            ledger: LedgerDelta::default(),
            pending_removals: Vec::new(),
            context_orphans: HashMap::new(),
            extended: HashSet::new(),
        }
    }

    /// Adds a record that happened elsewhere (from a ledger) to the findings timeline only:
    /// it is not counted, not written to `kms_events`, and gets no findings of its own.
    /// Records already ingested by this run are ignored.
    pub fn add_context(&mut self, bytes: &[u8]) {
        let Ok(rec) = RawObject::parse(bytes) else {
            return;
        };
        if !kms::is_kms(&rec) {
            return;
        }
        let key = match rec.text("eventID") {
            Some(id) => digest(b"id", id.as_bytes()),
            None => digest(b"content", bytes),
        };
        if self.seen.contains(&key) || !self.context_seen.insert(key) {
            return;
        }
        self.timeline.push(&kms::from_record(&rec));
    }

    /// The keys whose ledgers must be read before this run finishes: every key its events
    /// named, every key it contributes to, and the ledger of events with no key.
    pub fn ledger_keys(&self) -> std::collections::BTreeSet<String> {
        let mut keys = self.keys();
        if keys.is_empty() && self.ledger.keys.is_empty() {
            return keys; // No KMS event: nothing to judge, nothing to read.
        }
        keys.extend(self.ledger.keys.keys().cloned());
        keys.insert(UNKEYED.to_string());
        keys
    }

    /// The grants this run's own events create on `key` that may serve a profile use: the
    /// only ones whose orphan removals (kept by other files) it can use. Removals that name
    /// no key ([`UNKEYED`]) may remove a grant of any key.
    pub fn created_grants(&self, key: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .ledger
            .keys
            .iter()
            .filter(|(k, _)| key == UNKEYED || k.as_str() == key)
            .flat_map(|(_, l)| l.created.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Judges this run against a ledger of what other sources delivered (read before this
    /// run's own contribution is merged in): the ledger's records become context, and an
    /// event that another source delivered first is a duplicate delivery whose findings came
    /// from that source. A retry of this same source (same file stem) is not another source.
    pub fn apply_ledger(&mut self, ledger: &KeyLedger) {
        for (id, src) in ledger.sources.iter().chain(&ledger.flagged) {
            if *src == self.opts.write.file_stem {
                continue;
            }
            match id.strip_prefix(SHARED_FLAG) {
                Some(shared) => {
                    self.suppressed_shared.insert(shared.to_string());
                }
                None => self.suppress(id),
            }
        }
        for (id, (time, grant, rec)) in &ledger.orphans {
            let src = ledger.sources.get(id).cloned().unwrap_or_default();
            self.context_orphans
                .entry(grant.clone())
                .or_default()
                .push((ledger.key.clone(), id.clone(), *time, rec.clone(), src));
        }
        for r in ledger.records() {
            self.add_context(r.as_bytes());
        }
    }

    /// Every key ARN the run's events named (uses, grants, key states).
    pub fn keys(&self) -> std::collections::BTreeSet<String> {
        let tl = &self.timeline;
        let sy = &tl.symbols;
        tl.uses
            .keys()
            .chain(tl.creations.iter().filter_map(|c| c.key))
            .chain(tl.removals.iter().filter_map(|r| r.key))
            .chain(tl.states.iter().filter_map(|s| s.key))
            .map(|k| sy.get(k).to_string())
            .collect()
    }

    /// Marks an own event as a duplicate delivery of one another source reported first: it
    /// stays in `kms_events` but gets no findings or derived rows from this run.
    pub fn suppress(&mut self, event_id: &str) {
        self.suppressed.insert(digest(b"id", event_id.as_bytes()));
    }

    /// Whether an event id belongs to this run's own records (not context, not suppressed).
    fn is_own(&self, event_id: &str) -> bool {
        let d = digest(b"id", event_id.as_bytes());
        if self.suppressed.contains(&d) {
            return false;
        }
        self.context_seen.is_empty() || self.seen.contains(&d)
    }

    pub fn options(&self) -> &PipelineOptions {
        &self.opts
    }

    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Notes a source skipped by its name (digest, insight) without reading it.
    pub fn skip(&mut self, source: &str, reason: SkipReason) -> SourceOutcome {
        self.stats.files_skipped += 1;
        SourceOutcome {
            source: source.to_string(),
            skipped: Some(reason),
            records: 0,
            kms_events: 0,
            failure: None,
            record_errors: Vec::new(),
        }
    }

    /// Reads one source to its end (or to the error that stops it). Input problems are
    /// reported in the outcome; only a failure to write output is an `Err`.
    pub fn ingest<R: Read>(
        &mut self,
        store: &mut S,
        source: &str,
        reader: R,
    ) -> Result<SourceOutcome, OutputError> {
        if let Some(reason) = logfile::skip_reason_for_name(source) {
            return Ok(self.skip(source, reason));
        }
        let read_opts = decode::read_options_for(source, &self.opts.read);
        let keep_raw = self.opts.capture_ledger;
        let mut applier = self.begin_source(source);
        let mut output_error = None;
        let result = decode::decode_source(source, reader, &read_opts, keep_raw, &mut |d| {
            if output_error.is_none() {
                if let Err(e) = applier.apply(store, d) {
                    output_error = Some(e);
                }
            }
        });
        if let Some(e) = output_error {
            return Err(e);
        }
        Ok(applier.finish(result))
    }

    /// Starts a source whose records are decoded elsewhere (see [`crate::pipeline::decode`]); feed
    /// the results, in order, to [`SourceApplier::apply`], then call [`SourceApplier::finish`].
    pub fn begin_source<'p>(&'p mut self, source: &'p str) -> SourceApplier<'p, S> {
        let kms_before = self.stats.kms_events;
        SourceApplier {
            p: self,
            source,
            kms_before,
            record_errors: Vec::new(),
        }
    }

    fn apply_decoded(
        &mut self,
        store: &mut S,
        source: &str,
        d: Decoded,
        record_errors: &mut Vec<InputError>,
    ) -> Result<(), OutputError> {
        self.stats.records += 1;
        match d {
            Decoded::Other { insight: true } => self.stats.insight_records += 1,
            Decoded::Other { insight: false } => self.stats.other_service_records += 1,
            Decoded::Invalid(e) => record_errors.push(e),
            Decoded::Kms {
                digest,
                event,
                raw,
                index,
            } => {
                self.stats.kms_records += 1;
                if !self.seen.insert(digest) {
                    self.stats.duplicates += 1;
                    return Ok(());
                }
                self.accept(store, *event, raw.as_deref(), source, index)?;
            }
        }
        Ok(())
    }

    /// Adds events read back from keytrail's own `kms_events` tables (see
    /// [`crate::tables::reader`]): deduplicated, counted and judged like records. One call
    /// per file; `events` may stream it a batch at a time (row numbers run across batches).
    pub fn ingest_events(
        &mut self,
        store: &mut S,
        source: &str,
        events: impl IntoIterator<Item = KmsEvent>,
    ) -> Result<(), OutputError> {
        self.stats.files_read += 1;
        for (i, ev) in events.into_iter().enumerate() {
            self.stats.records += 1;
            self.stats.kms_records += 1;
            if !self.seen.insert(row_key(&ev, source, i)) {
                self.stats.duplicates += 1;
                continue;
            }
            self.accept(store, ev, None, source, i as u64)?;
        }
        Ok(())
    }

    /// Adds events of tables already in the output (an append run): they join the
    /// timeline and the eventIDs seen, so the rules judge the whole history and a record
    /// delivered again is a duplicate, but they are not counted as read nor written again.
    /// One call per file, as [`Pipeline::ingest_events`].
    pub fn ingest_existing(&mut self, source: &str, events: impl IntoIterator<Item = KmsEvent>) {
        for (i, ev) in events.into_iter().enumerate() {
            if !self.seen.insert(row_key(&ev, source, i)) {
                continue;
            }
            if self.opts.filter.admits(&ev) {
                self.stats.existing_events += 1;
                self.timeline.push(&ev);
            }
        }
    }

    /// Fails the run when a pass could not read back spilled uses: its findings or derived
    /// rows would cover part of them. The run fails before anything is published.
    fn spill_ok(&self) -> Result<(), OutputError> {
        let uses = self.timeline.uses.error().map(|r| ("spilled key uses", r));
        match uses.or_else(|| self.seen.error().map(|r| ("spilled eventID digests", r))) {
            None => Ok(()),
            Some((path, reason)) => Err(OutputError::Io {
                path: path.into(),
                reason,
            }),
        }
    }

    fn accept(
        &mut self,
        store: &mut S,
        ev: KmsEvent,
        bytes: Option<&[u8]>,
        source: &str,
        index: u64,
    ) -> Result<(), OutputError> {
        if !self.opts.filter.admits(&ev) {
            self.stats.filtered_out += 1;
            return Ok(());
        }
        let mut call = true;
        if let Some(shared) = ev.shared_event_id.as_deref() {
            if let Some(id) = ev.event_id.as_deref() {
                self.shared_of.insert(id.to_string(), shared.to_string());
            }
            call = self
                .shared_seen
                .insert(digest(b"shared", shared.as_bytes()));
        }
        if call {
            self.stats.kms_events += 1;
            match ev.category {
                Category::KeyUse => self.stats.key_use_events += 1,
                Category::GrantChange => self.stats.grant_events += 1,
                Category::KeyStateChange => self.stats.key_state_events += 1,
                Category::Other => self.stats.other_kms_events += 1,
            }
        } else {
            self.stats.copies_folded += 1;
        }
        // The event's profile matches, made once for every stage below.
        let matches = self.timeline.profiles.match_event(&ev);
        self.timeline.push_matched(&ev, &matches);
        if let Some(bytes) = bytes {
            if self.opts.capture_ledger && ev.succeeded() && ev.event_time.is_some() {
                let removal = capture(
                    &mut self.ledger,
                    &self.timeline.profiles,
                    &ev,
                    &matches,
                    bytes,
                    &self.opts.write.file_stem,
                );
                self.pending_removals.extend(removal);
            }
        }
        if self.opts.capture_ledger {
            if let (true, Some(id)) = (matches.extended, ev.event_id.as_deref()) {
                self.extended.insert(id.to_string());
            }
        }
        if let Some(w) = self.events.as_mut() {
            if self.opts.window.contains(ev.event_time) {
                write_event_row(
                    w,
                    store,
                    &self.timeline.profiles,
                    &ev,
                    &matches,
                    source,
                    index,
                )?;
            }
        }
        Ok(())
    }

    /// Evaluates the rules and, when writing, writes the derived tables.
    ///
    /// When context records were added, findings and derived rows are limited to this run's
    /// own events: the context only explains them.
    pub fn finish(mut self, store: &mut S) -> Result<RunReport, OutputError> {
        for b in &self.opts.baselines {
            self.timeline.add_baseline(b);
        }
        let mut findings = rules::evaluate(&self.timeline, self.opts.grace_seconds);
        self.spill_ok()?;
        // A call whose other copy another source reported is not reported again.
        let reported_elsewhere = |id: &str| {
            self.shared_of
                .get(id)
                .is_some_and(|sh| self.suppressed_shared.contains(sh))
        };
        // A file judged against the ledgers (the Lambda) sees only part of the input: the
        // reconciliation with a snapshot needs all of it (`findings --tables --baseline`).
        let partial = self.opts.capture_ledger;
        // A use whose context carries keys no profile names may rest on a grant the ledgers
        // do not keep (RULES.md section 7): its grant findings are left to the recomputation.
        let deferred = |f: &Finding| {
            partial
                && matches!(
                    f.rule,
                    Rule::UseWithoutGrant
                        | Rule::UseAfterGrantRetired
                        | Rule::DeniedAfterGrantRemoved
                        | Rule::DeniedAccess
                )
                && self.extended.contains(&f.event_id)
        };
        let before = findings.len();
        findings.retain(|f| !deferred(f));
        let deferred_findings = before - findings.len();
        findings.retain(|f| {
            !(partial && f.rule.is_reconciliation())
                && self.is_own(&f.event_id)
                && !reported_elsewhere(&f.event_id)
                && self.opts.window.contains(Some(f.event_time))
        });
        self.spill_ok()?;
        let mut files = Vec::new();
        if let Some(w) = self.events.take() {
            files.extend(w.finish(store)?);
            let own = |id: &str| self.is_own(id);
            files.extend(crate::pipeline::derive::write_derived(
                store,
                &self.timeline,
                &findings,
                &self.opts.write,
                &own,
            )?);
            self.spill_ok()?;
        }
        let mut ledger = std::mem::take(&mut self.ledger);
        if self.opts.capture_ledger {
            capture::resolve_removals(
                &self.timeline,
                std::mem::take(&mut self.pending_removals),
                std::mem::take(&mut self.context_orphans),
                &mut ledger,
                &self.opts.write.file_stem,
            );
            let stem = &self.opts.write.file_stem;
            for f in &findings {
                let key = f.key_arn.as_deref().unwrap_or(UNKEYED);
                ledger.add_flagged(key, &f.event_id, stem);
                if let Some(shared) = self.shared_of.get(&f.event_id) {
                    let flag = format!("{SHARED_FLAG}{shared}");
                    ledger.add_flagged(key, &flag, stem);
                }
            }
            if let Some(clock) = self.opts.clock_ms {
                ledger.stamp(clock);
            }
        }
        Ok(RunReport {
            stats: self.stats,
            timeline: self.timeline.counts.clone(),
            findings,
            files,
            ledger,
            deferred_findings,
            spilled_runs: self.timeline.uses.runs(),
            spilled_digest_runs: self.seen.runs(),
            spill_failed: (self.timeline.uses.spill_failed())
                .or(self.seen.spill_failed())
                .map(str::to_string),
        })
    }
}

/// Prefix of a ledger `flagged` entry that names a cross-account call (its sharedEventID)
/// rather than one event: the call's other copy gets no second report.
const SHARED_FLAG: &str = "shared:";

/// The dedupe key of an event read back from a table: its eventID, or (a row without one)
/// its file and row.
fn row_key(ev: &KmsEvent, source: &str, row: usize) -> u128 {
    match ev.event_id.as_deref() {
        Some(id) => digest(b"id", id.as_bytes()),
        None => digest(b"row", format!("{source}#{row}").as_bytes()),
    }
}

/// Applies one source's decoded records to the pipeline, in order.
pub struct SourceApplier<'p, S: TableStore> {
    p: &'p mut Pipeline<S>,
    source: &'p str,
    kms_before: u64,
    record_errors: Vec<InputError>,
}

impl<S: TableStore> SourceApplier<'_, S> {
    /// Applies one decoded record (dedupe, timeline, table row).
    pub fn apply(&mut self, store: &mut S, d: Decoded) -> Result<(), OutputError> {
        self.p
            .apply_decoded(store, self.source, d, &mut self.record_errors)
    }

    /// Ends the source with the result of reading it.
    pub fn finish(self, result: Result<ReadSummary, InputError>) -> SourceOutcome {
        let p = self.p;
        p.stats.records_invalid += self.record_errors.len() as u64;
        let (summary, failure) = match result {
            Ok(s) => (s, None),
            Err(e) => (
                ReadSummary {
                    records: 0,
                    skipped: None,
                    gzip: false,
                    framing: None,
                    bytes: 0,
                },
                Some(e),
            ),
        };
        if summary.skipped.is_some() {
            p.stats.files_skipped += 1;
        } else {
            p.stats.files_read += 1;
        }
        if failure.is_some() {
            p.stats.files_failed += 1;
        }
        p.stats.bytes += summary.bytes;
        SourceOutcome {
            source: self.source.to_string(),
            skipped: summary.skipped,
            records: summary.records,
            kms_events: p.stats.kms_events - self.kms_before,
            failure,
            record_errors: self.record_errors,
        }
    }
}

#[cfg(test)]
mod tests;
