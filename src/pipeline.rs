//! The one pipeline: sources in, tables and findings out.
//!
//! The CLI and the Lambda are thin shells over [`Pipeline`]: they open sources (files,
//! stdin, S3 objects) and a [`TableStore`], and hand both in. Everything in between —
//! framing, parsing, KMS classification, dedupe on eventID, the timeline, the rules and the
//! table rows — happens here, once, with no I/O of its own beyond the reader and store it
//! is given.

use crate::error::{InputError, InputErrorKind, OutputError};
use crate::kms::{self, Category, KmsEvent};
use crate::ledger::{LedgerDelta, UNKEYED};
use crate::logfile::{self, ReadOptions, ReadSummary, RecordPos, RecordSink, SkipReason};
use crate::output::{Partition, PartitionedWriter, TableStore, WriteOptions, WrittenFile};
use crate::profile::{proton_parts, Profiles};
use crate::rawjson::RawObject;
use crate::rules::{self, Finding, Rule};
use crate::schema::{self, Value};
use crate::timeline::{parse_context, Timeline};
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::Read;

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
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            grace_seconds: rules::DEFAULT_GRACE_SECONDS,
            profiles: Profiles::default(),
            read: ReadOptions::default(),
            write: WriteOptions::default(),
            capture_ledger: false,
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
    /// Distinct KMS events.
    pub kms_events: u64,
    /// KMS records dropped as duplicates of an earlier eventID.
    pub duplicates: u64,
    /// Distinct KMS events by category.
    pub key_use_events: u64,
    pub grant_events: u64,
    pub key_state_events: u64,
    pub other_kms_events: u64,
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
    pub timeline: crate::timeline::TimelineCounts,
    pub findings: Vec<Finding>,
    /// Files written, by table, in path order.
    pub files: Vec<WrittenFile>,
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

/// The pipeline. Feed it sources with [`Pipeline::ingest`], then [`Pipeline::finish`].
pub struct Pipeline<S: TableStore> {
    opts: PipelineOptions,
    timeline: Timeline,
    /// 128-bit digests of the eventIDs seen (two independent SipHash-1-3 of the id):
    /// a collision is astronomically unlikely and costs 16 bytes per event instead of the id.
    seen: HashSet<u128>,
    events: Option<PartitionedWriter<S>>,
    stats: RunStats,
    /// Digests of context records added with [`Pipeline::add_context`].
    context_seen: HashSet<u128>,
    /// Digests of own events another source delivered first (see [`Pipeline::suppress`]).
    suppressed: HashSet<u128>,
    ledger: LedgerDelta,
}

impl<S: TableStore> Pipeline<S> {
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
            seen: HashSet::new(),
            events,
            stats: RunStats::default(),
            context_seen: HashSet::new(),
            suppressed: HashSet::new(),
            ledger: LedgerDelta::default(),
        }
    }

    /// What this run contributes to the per-key ledgers (empty unless
    /// [`PipelineOptions::capture_ledger`] is set).
    pub fn ledger_delta(&self) -> &LedgerDelta {
        &self.ledger
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

    /// Every key ARN the run's events named (uses, grants, key states).
    pub fn keys(&self) -> std::collections::BTreeSet<String> {
        let tl = &self.timeline;
        let sy = &tl.symbols;
        tl.uses
            .iter()
            .filter_map(|u| u.key)
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
        let mut read_opts = self.opts.read.clone();
        read_opts.json_lines_hint |= source.ends_with(".jsonl") || source.ends_with(".jsonl.gz");
        let kms_before = self.stats.kms_events;
        let mut sink = Ingest {
            p: self,
            store,
            source,
            record_errors: Vec::new(),
            output_error: None,
        };
        let result = logfile::read_log(source, reader, &read_opts, &mut sink);
        let record_errors = std::mem::take(&mut sink.record_errors);
        if let Some(e) = sink.output_error.take() {
            return Err(e);
        }
        self.stats.records_invalid += record_errors.len() as u64;
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
            self.stats.files_skipped += 1;
        } else {
            self.stats.files_read += 1;
        }
        if failure.is_some() {
            self.stats.files_failed += 1;
        }
        self.stats.bytes += summary.bytes;
        Ok(SourceOutcome {
            source: source.to_string(),
            skipped: summary.skipped,
            records: summary.records,
            kms_events: self.stats.kms_events - kms_before,
            failure,
            record_errors,
        })
    }

    fn record(
        &mut self,
        store: &mut S,
        source: &str,
        pos: RecordPos,
        bytes: &[u8],
    ) -> Result<(), RecordProblem> {
        self.stats.records += 1;
        // A record that does not mention kms.amazonaws.com cannot be a KMS record: it is
        // counted without being parsed, which is what makes the rest of a trail cheap. Its
        // framing (strings, brackets) was still checked.
        if memchr::memmem::find(bytes, kms::KMS_SOURCE.as_bytes()).is_none() {
            if memchr::memmem::find(bytes, b"AwsCloudTrailInsight").is_some() {
                self.stats.insight_records += 1;
            } else {
                self.stats.other_service_records += 1;
            }
            return Ok(());
        }
        let rec = RawObject::parse(bytes).map_err(RecordProblem::Json)?;
        if !kms::is_kms(&rec) {
            if rec.text("eventType").as_deref() == Some("AwsCloudTrailInsight") {
                self.stats.insight_records += 1;
            } else {
                self.stats.other_service_records += 1;
            }
            return Ok(());
        }
        self.stats.kms_records += 1;
        let dedupe_key = match rec.text("eventID") {
            Some(id) => digest(b"id", id.as_bytes()),
            None => digest(b"content", bytes),
        };
        if !self.seen.insert(dedupe_key) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        let ev = kms::from_record(&rec);
        self.accept(store, ev, Some(bytes), source, pos.index)
            .map_err(RecordProblem::Output)
    }

    /// Adds events read back from keytrail's own `kms_events` tables (see
    /// [`crate::readback`]): deduplicated, counted and judged like records.
    pub fn ingest_events(
        &mut self,
        store: &mut S,
        source: &str,
        events: Vec<KmsEvent>,
    ) -> Result<(), OutputError> {
        self.stats.files_read += 1;
        for (i, ev) in events.into_iter().enumerate() {
            self.stats.records += 1;
            self.stats.kms_records += 1;
            let key = match ev.event_id.as_deref() {
                Some(id) => digest(b"id", id.as_bytes()),
                None => digest(b"row", format!("{source}#{i}").as_bytes()),
            };
            if !self.seen.insert(key) {
                self.stats.duplicates += 1;
                continue;
            }
            self.accept(store, ev, None, source, i as u64)?;
        }
        Ok(())
    }

    fn accept(
        &mut self,
        store: &mut S,
        ev: KmsEvent,
        bytes: Option<&[u8]>,
        source: &str,
        index: u64,
    ) -> Result<(), OutputError> {
        self.stats.kms_events += 1;
        match ev.category {
            Category::KeyUse => self.stats.key_use_events += 1,
            Category::GrantChange => self.stats.grant_events += 1,
            Category::KeyStateChange => self.stats.key_state_events += 1,
            Category::Other => self.stats.other_kms_events += 1,
        }
        self.timeline.push(&ev);
        if let Some(bytes) = bytes {
            if self.opts.capture_ledger && ev.succeeded() && ev.event_time.is_some() {
                capture(
                    &mut self.ledger,
                    &self.timeline.profiles,
                    &ev,
                    bytes,
                    &self.opts.write.file_stem,
                );
            }
        }
        if let Some(w) = self.events.as_mut() {
            write_event_row(w, store, &self.timeline.profiles, &ev, source, index)?;
        }
        Ok(())
    }

    /// Evaluates the rules and, when writing, writes the derived tables.
    ///
    /// When context records were added, findings and derived rows are limited to this run's
    /// own events: the context only explains them.
    pub fn finish(mut self, store: &mut S) -> Result<RunReport, OutputError> {
        let mut findings = rules::evaluate(&self.timeline, self.opts.grace_seconds);
        findings.retain(|f| self.is_own(&f.event_id));
        let mut files = Vec::new();
        if let Some(w) = self.events.take() {
            files.extend(w.finish(store)?);
            let own = |id: &str| self.is_own(id);
            files.extend(crate::derive::write_derived(
                store,
                &self.timeline,
                &findings,
                &self.opts.write,
                &own,
            )?);
        }
        Ok(RunReport {
            stats: self.stats,
            timeline: self.timeline.counts.clone(),
            findings,
            files,
        })
    }
}

/// Adds a successful event to the ledger delta: grant and key-state events always; key
/// uses with a profile constraint key as the latest of their slot.
fn capture(
    delta: &mut LedgerDelta,
    profiles: &Profiles,
    ev: &KmsEvent,
    bytes: &[u8],
    source: &str,
) {
    let compact = || {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let id = ev.event_id.as_deref().unwrap_or("");
    let time = ev.event_time.unwrap_or(0);
    match ev.category {
        Category::GrantChange | Category::KeyStateChange => {
            delta.add_event(
                ev.key.arn.as_deref().unwrap_or(UNKEYED),
                id,
                &compact(),
                source,
            );
        }
        Category::KeyUse => {
            let mut record: Option<String> = None;
            for u in &ev.uses {
                let (Some(key), Some(ctx)) = (u.key.arn.as_deref(), u.context.as_ref()) else {
                    continue;
                };
                let Some(m) = profiles.match_context(ctx) else {
                    continue;
                };
                if !m.has_constraint_key {
                    continue;
                }
                let slot = format!(
                    "{}\n{}\n{}\n{}",
                    m.template.as_deref().unwrap_or(""),
                    m.resource.as_deref().unwrap_or(""),
                    u.operation,
                    ev.caller.identities.join(" ")
                );
                let rec = record.get_or_insert_with(compact);
                delta.add_use(key, &slot, time, id, rec);
            }
        }
        Category::Other => {}
    }
}

/// A 128-bit digest of `bytes` in namespace `ns`, from two SipHash-1-3 runs with fixed keys
/// (so it is the same in every run).
fn digest(ns: &[u8], bytes: &[u8]) -> u128 {
    let half = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        ns.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

enum RecordProblem {
    Json(serde_json::Error),
    Output(OutputError),
}

struct Ingest<'a, S: TableStore> {
    p: &'a mut Pipeline<S>,
    store: &'a mut S,
    source: &'a str,
    record_errors: Vec<InputError>,
    output_error: Option<OutputError>,
}

impl<S: TableStore> RecordSink for Ingest<'_, S> {
    fn record(&mut self, pos: RecordPos, bytes: &[u8]) {
        if self.output_error.is_some() {
            return;
        }
        match self.p.record(self.store, self.source, pos, bytes) {
            Ok(()) => {}
            Err(RecordProblem::Json(e)) => {
                let msg = e.to_string();
                let msg = match msg.rfind(" at line ") {
                    Some(i) => msg[..i].to_string(),
                    None => msg,
                };
                self.record_errors.push(InputError::new(
                    self.source,
                    pos.locate(e.line(), e.column()),
                    InputErrorKind::Json(msg),
                ));
            }
            Err(RecordProblem::Output(e)) => self.output_error = Some(e),
        }
    }

    fn record_error(&mut self, error: InputError) {
        self.p.stats.records += 1;
        self.record_errors.push(error);
    }
}

fn s(x: &Option<String>) -> Value<'_> {
    Value::Str(x.as_deref())
}

fn write_event_row<S: TableStore>(
    w: &mut PartitionedWriter<S>,
    store: &mut S,
    profiles: &Profiles,
    ev: &KmsEvent,
    source: &str,
    record_index: u64,
) -> Result<(), OutputError> {
    let m = ev
        .encryption_context
        .as_ref()
        .and_then(|c| profiles.match_context(c));
    let (template, resource, problem, profile) = match &m {
        Some(m) => (
            m.template.as_deref(),
            m.resource.as_deref(),
            m.malformed.as_deref(),
            Some(profiles.all()[m.profile].name.as_str()),
        ),
        None => (None, None, None, None),
    };
    let t = proton_parts(template);
    let r = proton_parts(resource);
    let dest = ev.uses.get(1);
    let dm = dest
        .and_then(|d| d.context.as_ref())
        .and_then(|c| profiles.match_context(c));
    let grantee_norm = ev
        .grant
        .as_ref()
        .and_then(|g| g.grantee.as_deref())
        .map(crate::arn::normalize_principal);
    let usable = (ev.category == Category::KeyStateChange)
        .then(|| kms::state_after(&ev.event_name).map(|(_, u)| u))
        .flatten();
    let g = ev.grant.as_ref();
    let row = [
        s(&ev.event_id),
        Value::Time(ev.event_time),
        s(&ev.event_time_raw),
        Value::Str(Some(&ev.event_name)),
        s(&ev.event_type),
        Value::Str(Some(ev.category.as_str())),
        s(&ev.key.arn),
        Value::Bool(Some(ev.key.resolved())),
        s(&ev.key.given),
        s(&ev.caller.identity_type),
        s(&ev.caller.arn),
        s(&ev.caller.account_id),
        s(&ev.caller.role_arn),
        s(&ev.caller.invoked_by),
        s(&ev.caller.principal),
        Value::StrList(Some(&ev.caller.identities)),
        s(&ev.source_ip),
        s(&ev.user_agent),
        s(&ev.error_code),
        s(&ev.error_message),
        Value::Bool(ev.read_only),
        s(&ev.request_id),
        Value::StrMap(ev.encryption_context.as_ref()),
        Value::Str(profile),
        Value::Str(template),
        Value::Str(t.as_ref().map(|t| t.resource_type.as_str())),
        Value::Str(t.as_ref().map(|t| t.name.as_str())),
        Value::Str(t.as_ref().and_then(|t| t.version.as_deref())),
        Value::Str(resource),
        Value::Str(r.as_ref().map(|r| r.resource_type.as_str())),
        Value::Str(r.as_ref().map(|r| r.name.as_str())),
        Value::Str(r.as_ref().and_then(|r| r.service.as_deref())),
        Value::Str(r.as_ref().map(|r| r.account.as_str())),
        Value::Str(r.as_ref().map(|r| r.region.as_str())),
        Value::Str(problem),
        Value::Bool(Some(m.as_ref().is_some_and(|m| m.has_constraint_key))),
        Value::Str(dest.and_then(|d| d.key.arn.as_deref())),
        Value::StrMap(dest.and_then(|d| d.context.as_ref())),
        Value::Str(dm.as_ref().and_then(|m| m.template.as_deref())),
        Value::Str(dm.as_ref().and_then(|m| m.resource.as_deref())),
        Value::Str(dm.as_ref().and_then(|m| m.malformed.as_deref())),
        Value::Bool(dest.map(|_| dm.as_ref().is_some_and(|m| m.has_constraint_key))),
        Value::Str(g.and_then(|g| g.grant_id.as_deref())),
        Value::Str(g.and_then(|g| g.grant_name.as_deref())),
        Value::Str(g.and_then(|g| g.grantee.as_deref())),
        Value::Str(grantee_norm.as_deref()),
        Value::Str(g.and_then(|g| g.retiring_principal.as_deref())),
        Value::StrList(g.and_then(|g| g.operations.as_deref())),
        Value::Str(g.and_then(|g| g.constraint_kind.as_deref())),
        Value::StrMap(g.and_then(|g| g.constraint.as_ref())),
        s(&ev.key_state),
        Value::Bool(usable),
        s(&ev.deletion_date),
        s(&ev.pending_window_days),
        Value::Str(Some(source)),
        Value::Int(Some(record_index as i64)),
    ];
    w.append(
        store,
        &Partition {
            account_id: ev.account_id.as_deref(),
            region: ev.region.as_deref(),
            time: ev.event_time,
        },
        &row,
    )
}

/// Parses a stored canonical context (re-exported for the derived tables).
pub(crate) fn context_of(s: Option<&str>) -> Option<BTreeMap<String, String>> {
    s.map(parse_context)
}
