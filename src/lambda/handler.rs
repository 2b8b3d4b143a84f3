//! The Lambda shell: trigger dispatch, per-object processing, the state round trip
//! ([`state`]) and quarantine, answering through [`super::response`] with the settings of
//! [`super::config`]. It is a thin layer over [`Pipeline`]: the same
//! framing, model, rules and tables as the CLI, fed from S3 and writing to S3.
//!
//! Delivery is at-least-once and invocations run concurrently in any order, so:
//! output objects are named from the source object (bucket, key, version or ETag) and a
//! redelivery overwrites them; grants and key states cross files through per-item state
//! (DynamoDB) or per-key ledgers, with idempotent conditional writes; nothing is acknowledged before it is written; a
//! permanent failure is quarantined with its reason and still reported failed, so the
//! message ends in the dead-letter queue rather than vanishing.

use super::config::LambdaConfig;
use super::response::{self, object_identity, output_stem, SourceReport, TaskResult, WorkError};
use super::state;

use crate::audit::rules::Severity;
use crate::edge::s3::{ObjectStore, S3Error, S3Url};
use crate::lambda::trigger::{self, ObjectRef, Payload, Work};
use crate::model::profile::Profiles;
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::read::logfile::skip_reason_for_name;
use crate::tables::writer::WriteOptions;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Loads the profiles named by `KEYTRAIL_PROFILES` (built-in only when unset).
pub async fn load_profiles<O: ObjectStore>(
    objects: &O,
    location: Option<&str>,
) -> Result<Profiles, String> {
    let Some(loc) = location else {
        return Ok(Profiles::default());
    };
    let text = if let Some(url) = S3Url::parse(loc) {
        match objects.get_small(&url.bucket, &url.prefix).await {
            Ok(Some((bytes, _))) => String::from_utf8(bytes)
                .map_err(|_| format!("KEYTRAIL_PROFILES: {loc} is not UTF-8"))?,
            Ok(None) => return Err(format!("KEYTRAIL_PROFILES: {loc} does not exist")),
            Err(e) => return Err(format!("KEYTRAIL_PROFILES: {e}")),
        }
    } else {
        std::fs::read_to_string(loc).map_err(|e| format!("KEYTRAIL_PROFILES: {loc}: {e}"))?
    };
    Profiles::with_toml(&text, loc).map_err(|e| format!("KEYTRAIL_PROFILES: {e}"))
}

/// Loads the snapshots `KEYTRAIL_BASELINE` names (none when unset): files, local folders
/// of CLI outputs, and `s3://bucket/prefix/` (ending in `/`: every `*.json` object under
/// it, none being fine). A snapshot that cannot be read stops the function: judging
/// without it would change findings silently.
pub async fn load_baselines<O: ObjectStore>(
    objects: &O,
    locations: &[String],
) -> Result<Vec<std::sync::Arc<crate::model::snapshot::Snapshot>>, String> {
    let mut all: Vec<String> = Vec::new();
    for loc in locations {
        match S3Url::parse(loc) {
            Some(url) if loc.ends_with('/') => {
                let prefix = if url.prefix.is_empty() {
                    String::new()
                } else {
                    format!("{}/", url.prefix)
                };
                let keys = objects
                    .list(&url.bucket, &prefix)
                    .await
                    .map_err(|e| format!("KEYTRAIL_BASELINE: {e}"))?;
                all.extend(
                    keys.into_iter()
                        .filter(|(k, _)| k.ends_with(".json"))
                        .map(|(k, _)| format!("s3://{}/{k}", url.bucket)),
                );
            }
            _ => all.push(loc.clone()),
        }
    }
    let mut out = Vec::new();
    for loc in &all {
        let snap = if let Some(url) = S3Url::parse(loc) {
            match objects.get_small(&url.bucket, &url.prefix).await {
                Ok(Some((bytes, _))) => crate::model::snapshot::parse(loc, &bytes),
                Ok(None) => return Err(format!("KEYTRAIL_BASELINE: {loc} does not exist")),
                Err(e) => return Err(format!("KEYTRAIL_BASELINE: {e}")),
            }
        } else {
            crate::model::snapshot::load(std::path::Path::new(loc))
        };
        let snap = snap.map_err(|e| format!("KEYTRAIL_BASELINE: {e}"))?;
        for p in &snap.problems {
            tracing::warn!(problem = %p, "baseline");
        }
        out.push(std::sync::Arc::new(snap));
    }
    Ok(out)
}

/// The running function: its object store (S3, or [`crate::edge::s3::MemoryObjects`] in
/// tests) and the configuration.
pub struct App<O: ObjectStore> {
    pub objects: O,
    pub config: LambdaConfig,
    pub profiles: Profiles,
    /// The snapshots of `KEYTRAIL_BASELINE`.
    pub baselines: Vec<std::sync::Arc<crate::model::snapshot::Snapshot>>,
    /// Where the cross-file state lives.
    pub state: state::StateStore<O>,
}

impl From<S3Error> for WorkError {
    fn from(e: S3Error) -> Self {
        WorkError {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

impl<O: ObjectStore> App<O> {
    fn pipeline_options(&self, stem: String) -> PipelineOptions {
        PipelineOptions {
            grace_seconds: self.config.grace_seconds,
            profiles: self.profiles.clone(),
            write: WriteOptions {
                file_stem: stem,
                ..WriteOptions::default()
            },
            capture_ledger: true,
            clock_ms: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis() as i64),
            baselines: self.baselines.clone(),
            ..PipelineOptions::default()
        }
    }

    /// Reads one log object and writes its tables and findings.
    pub async fn process_object(&self, o: &ObjectRef) -> Result<SourceReport, WorkError> {
        let url = o.url();
        if let Some(reason) = skip_reason_for_name(&o.key) {
            tracing::info!(source = %url, reason = reason.as_str(), "skipped");
            return Ok(SourceReport {
                source: url,
                skipped: Some(reason.as_str()),
                ..SourceReport::default()
            });
        }
        let reader = self
            .objects
            .open(&o.bucket, &o.key, o.version_id.as_deref())
            .await?;
        let opts = self.pipeline_options(output_stem(&object_identity(o)));
        self.run_source(url, opts, move |p, store, name| {
            let bridge = tokio_util::io::SyncIoBridge::new(reader);
            p.ingest(store, name, bridge)
        })
        .await
    }

    /// Processes records delivered inline (EventBridge, CloudWatch Logs).
    pub async fn process_records(
        &self,
        source: &str,
        records: &[String],
    ) -> Result<SourceReport, WorkError> {
        let mut body = String::from("[");
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(r);
        }
        body.push(']');
        let opts = self.pipeline_options(output_stem(&format!("{source}#{body}")));
        self.run_source(source.to_string(), opts, move |p, store, name| {
            p.ingest(store, name, body.as_bytes())
        })
        .await
    }

    async fn run_source<F>(
        &self,
        url: String,
        opts: PipelineOptions,
        ingest: F,
    ) -> Result<SourceReport, WorkError>
    where
        F: FnOnce(
                &mut Pipeline<O::Tables>,
                &mut O::Tables,
                &str,
            ) -> Result<crate::pipeline::SourceOutcome, crate::error::OutputError>
            + Send
            + 'static,
    {
        let started = std::time::Instant::now();
        let store = self.objects.tables(&self.config.output);
        let name = url.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut p: Pipeline<O::Tables> = Pipeline::new(opts, true);
            let mut store = store;
            let outcome = ingest(&mut p, &mut store, &name);
            (p, store, outcome)
        })
        .await
        .map_err(|e| WorkError {
            message: format!("{url}: worker failed: {e}"),
            retryable: true,
        })?;
        let (mut pipeline, store, outcome) = joined;
        let outcome = outcome.map_err(|e| WorkError {
            retryable: e.is_retryable(),
            message: e.to_string(),
        })?;
        if let Some(e) = &outcome.failure {
            if e.is_retryable() {
                return Err(WorkError {
                    message: e.to_string(),
                    retryable: true,
                });
            }
        }
        for e in &outcome.record_errors {
            tracing::warn!(source = %url, error = %e, "record skipped");
        }

        // Cross-file state: judge this source's events against what other files left in
        // the state (read before this source is added, so its own later uses cannot stand
        // in for the earlier ones the state holds).
        let clock = pipeline.options().clock_ms;
        let mut state_stats = state::StateStats::default();
        let pending = self
            .state
            .read(&mut pipeline, clock, &mut state_stats)
            .await?;
        let (report, store) = tokio::task::spawn_blocking(move || {
            let mut store = store;
            let r = pipeline.finish(&mut store);
            (r, store)
        })
        .await
        .map_err(|e| WorkError {
            message: format!("{url}: worker failed: {e}"),
            retryable: true,
        })?;
        let report = report.map_err(|e| WorkError {
            retryable: e.is_retryable(),
            message: e.to_string(),
        })?;
        // Then add this source to the state (idempotent writes). Tables are written first
        // and named from the source, so a failure here fails the message and its
        // redelivery rewrites the same objects and items.
        self.state
            .write(
                &report.ledger,
                pending,
                clock,
                &self.profiles,
                &mut state_stats,
            )
            .await?;
        let high = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::High)
            .count();
        tracing::info!(
            source = %url,
            records = report.stats.records,
            kms_events = report.stats.kms_events,
            findings = report.findings.len(),
            high_findings = high,
            deferred_findings = report.deferred_findings,
            state_requests_read = state_stats.read.requests,
            state_items_read = state_stats.read.items,
            state_bytes_read = state_stats.read.bytes,
            state_writes = state_stats.writes,
            files = O::published(&store),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "processed"
        );
        if let Some(e) = outcome.failure {
            // Permanent: what could be read is written; the object is quarantined and the
            // failure reported, so the message reaches the dead-letter queue.
            self.quarantine(&url, &e.to_string()).await;
            return Err(WorkError {
                message: e.to_string(),
                retryable: false,
            });
        }
        if !outcome.record_errors.is_empty() {
            let reasons: Vec<String> = outcome
                .record_errors
                .iter()
                .map(|e| e.to_string())
                .collect();
            self.quarantine(&url, &reasons.join("\n")).await;
        }
        Ok(SourceReport {
            source: url,
            skipped: None,
            stats: report.stats,
            findings: report.findings.len(),
            high_findings: high,
            files: O::published(&store),
            record_errors: outcome.record_errors.len(),
        })
    }

    /// Writes a quarantine note (`_quarantine/<source>.json`) with the reason.
    async fn quarantine(&self, source: &str, reason: &str) {
        let name = source.trim_start_matches("s3://").replace(['#', '?'], "_");
        let key = self.config.output.key(&format!("_quarantine/{name}.json"));
        let body = json!({"source": source, "reason": reason})
            .to_string()
            .into_bytes();
        if let Err(e) = self
            .objects
            .put_small(&self.config.output.bucket, &key, body)
            .await
        {
            tracing::error!(source, error = %e, "could not write the quarantine note");
        } else {
            tracing::warn!(source, quarantine = %key, "quarantined");
        }
    }

    async fn do_work(
        &self,
        work: &Work,
        deadline: Option<SystemTime>,
    ) -> Result<Vec<SourceReport>, WorkError> {
        match work {
            Work::Ack(reason) => {
                tracing::info!(reason = %reason, "acknowledged");
                Ok(Vec::new())
            }
            Work::Records { source, records } => {
                Ok(vec![self.process_records(source, records).await?])
            }
            Work::Objects(objects) => {
                let mut reports = Vec::new();
                for o in objects {
                    self.check_deadline(deadline, &o.url())?;
                    reports.push(self.process_object(o).await?);
                }
                Ok(reports)
            }
        }
    }

    fn check_deadline(&self, deadline: Option<SystemTime>, next: &str) -> Result<(), WorkError> {
        if let Some(d) = deadline {
            let left = d.duration_since(SystemTime::now()).unwrap_or_default();
            if left < self.config.deadline_margin {
                return Err(WorkError {
                    message: format!(
                        "{next}: not started, {} ms left before the deadline",
                        left.as_millis()
                    ),
                    retryable: true,
                });
            }
        }
        Ok(())
    }

    /// Handles one invocation. SQS batches answer with partial batch failures; Batch
    /// Operations jobs with per-task results; other payloads succeed or fail as a whole.
    pub async fn handle(
        &self,
        payload: &Value,
        deadline: Option<SystemTime>,
    ) -> Result<Value, WorkError> {
        let parsed = trigger::parse(payload).map_err(|e| WorkError {
            message: e.to_string(),
            retryable: false,
        })?;
        match parsed {
            Payload::Single(work) => {
                let reports = self.do_work(&work, deadline).await?;
                Ok(response::single_response(&reports))
            }
            Payload::Sqs(messages) => {
                let mut failures = Vec::new();
                for m in &messages {
                    let result = match &m.work {
                        Err(e) => {
                            self.quarantine(&format!("sqs/{}", m.message_id), &e.to_string())
                                .await;
                            Err(WorkError {
                                message: e.to_string(),
                                retryable: false,
                            })
                        }
                        Ok(work) => match self.check_deadline(deadline, &m.message_id) {
                            Err(e) => Err(e),
                            Ok(()) => self.do_work(work, deadline).await.map(|_| ()),
                        },
                    };
                    if let Err(e) = result {
                        tracing::warn!(message_id = %m.message_id, retryable = e.retryable, error = %e, "message failed");
                        failures.push(m.message_id.as_str());
                    }
                }
                Ok(response::sqs_response(failures))
            }
            Payload::Batch {
                schema_version,
                invocation_id,
                tasks,
            } => {
                let mut results = Vec::new();
                for t in &tasks {
                    let result = match &t.object {
                        Err(e) => TaskResult::PermanentFailure(e.to_string()),
                        Ok(o) => match self.check_deadline(deadline, &o.url()) {
                            Err(e) => TaskResult::TemporaryFailure(e.message),
                            Ok(()) => TaskResult::of(&self.process_object(o).await),
                        },
                    };
                    results.push((t.task_id.clone(), result));
                }
                Ok(response::batch_response(
                    &schema_version,
                    &invocation_id,
                    &results,
                ))
            }
        }
    }
}
