//! What an invocation answers: why a unit of work failed (retryable or not), what one
//! source did, the stable name of a source's output, and the response body of each trigger
//! kind (one work item, SQS partial batch failures, S3 Batch Operations task results) with
//! its failure policy. Pure: the handler decides what happened, this module says it.

use super::trigger::ObjectRef;
use crate::pipeline::RunStats;
use serde_json::{json, Value};

/// Why a unit of work failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WorkError {
    pub message: String,
    pub retryable: bool,
}

/// What processing one source did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReport {
    pub source: String,
    pub skipped: Option<&'static str>,
    pub stats: RunStats,
    pub findings: usize,
    pub high_findings: usize,
    pub files: usize,
    pub record_errors: usize,
}

/// The stable name stem of a source's output files: a digest of what identifies the
/// source (bucket, key, version or ETag), so a redelivery overwrites the same objects.
pub fn output_stem(identity: &str) -> String {
    let half = |salt: u8| crate::stablehash::sip13(&(salt, identity));
    format!("src-{:016x}{:016x}", half(1), half(2))
}

/// The identity of an S3 object version: what its output names are derived from.
#[cfg_attr(not(feature = "aws"), allow(dead_code))] // Used by the handler.
pub(super) fn object_identity(o: &ObjectRef) -> String {
    format!(
        "s3://{}/{}#{}",
        o.bucket,
        o.key,
        o.version_id.as_deref().or(o.etag.as_deref()).unwrap_or("")
    )
}

/// The answer to a payload that named its work directly (an S3 notification, EventBridge).
pub fn single_response(reports: &[SourceReport]) -> Value {
    json!({
        "status": "ok",
        "sources": reports.len(),
        "kms_events": reports.iter().map(|r| r.stats.kms_events).sum::<u64>(),
        "findings": reports.iter().map(|r| r.findings).sum::<usize>(),
    })
}

/// The answer to an SQS batch: the messages that failed, which SQS delivers again (and, past
/// the queue's receive count, moves to its dead-letter queue); the others are deleted.
pub fn sqs_response<'a>(failed_message_ids: impl IntoIterator<Item = &'a str>) -> Value {
    let failures: Vec<Value> = failed_message_ids
        .into_iter()
        .map(|id| json!({ "itemIdentifier": id }))
        .collect();
    json!({ "batchItemFailures": failures })
}

/// One S3 Batch Operations task's result: S3 retries a temporary failure and records a
/// permanent one in the job's completion report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    Succeeded(String),
    TemporaryFailure(String),
    PermanentFailure(String),
}

impl TaskResult {
    /// The result of processing a task's object: retryable errors are temporary.
    pub fn of(outcome: &Result<SourceReport, WorkError>) -> Self {
        match outcome {
            Ok(r) => TaskResult::Succeeded(format!(
                "{} KMS events, {} findings",
                r.stats.kms_events, r.findings
            )),
            Err(e) if e.retryable => TaskResult::TemporaryFailure(e.message.clone()),
            Err(e) => TaskResult::PermanentFailure(e.message.clone()),
        }
    }

    /// The `resultCode` S3 Batch Operations expects.
    pub fn code(&self) -> &'static str {
        match self {
            TaskResult::Succeeded(_) => "Succeeded",
            TaskResult::TemporaryFailure(_) => "TemporaryFailure",
            TaskResult::PermanentFailure(_) => "PermanentFailure",
        }
    }

    fn text(&self) -> &str {
        match self {
            TaskResult::Succeeded(t)
            | TaskResult::TemporaryFailure(t)
            | TaskResult::PermanentFailure(t) => t,
        }
    }
}

/// The answer to an S3 Batch Operations invocation: one result per task, in task order.
pub fn batch_response(
    schema_version: &str,
    invocation_id: &str,
    results: &[(String, TaskResult)],
) -> Value {
    let results: Vec<Value> = results
        .iter()
        .map(|(task_id, r)| json!({"taskId": task_id, "resultCode": r.code(), "resultString": r.text()}))
        .collect();
    json!({
        "invocationSchemaVersion": schema_version,
        "treatMissingKeysAs": "PermanentFailure",
        "invocationId": invocation_id,
        "results": results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_stems_follow_the_source_identity() {
        let o = ObjectRef {
            bucket: "b".into(),
            key: "k".into(),
            version_id: Some("v1".into()),
            etag: None,
            size: None,
        };
        let a = output_stem(&object_identity(&o));
        assert_eq!(object_identity(&o), "s3://b/k#v1");
        // Pinned (crate::stablehash): a deployment's existing objects keep their names.
        assert_eq!(
            output_stem(
                "s3://trail/AWSLogs/111122223333/CloudTrail/us-east-1/2025/02/12/f.json.gz#3Lg.v1"
            ),
            "src-cd96bd0ac24ee42d664dfa0c890ec553"
        );
        let mut o2 = o.clone();
        o2.version_id = Some("v2".into());
        assert_ne!(a, output_stem(&object_identity(&o2)));
        assert!(a.starts_with("src-") && a.len() == 36);
    }

    fn report(kms_events: u64, findings: usize) -> SourceReport {
        SourceReport {
            source: "s3://b/k".into(),
            stats: RunStats {
                kms_events,
                ..RunStats::default()
            },
            findings,
            ..SourceReport::default()
        }
    }

    #[test]
    fn single_responses_sum_the_sources() {
        assert_eq!(
            single_response(&[report(3, 1), report(4, 0)]),
            json!({"status": "ok", "sources": 2, "kms_events": 7, "findings": 1})
        );
        assert_eq!(
            single_response(&[]),
            json!({"status": "ok", "sources": 0, "kms_events": 0, "findings": 0})
        );
    }

    #[test]
    fn sqs_responses_name_exactly_the_failed_messages() {
        assert_eq!(
            sqs_response(["m2", "m5"]),
            json!({"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m5"}]})
        );
        // No failures: an empty list, so SQS deletes the whole batch.
        assert_eq!(sqs_response([]), json!({"batchItemFailures": []}));
    }

    #[test]
    fn batch_results_classify_by_retryability() {
        let transient = WorkError {
            message: "s3://b/k: throttled".into(),
            retryable: true,
        };
        let permanent = WorkError {
            message: "s3://b/k: not gzip".into(),
            retryable: false,
        };
        let results = vec![
            ("t1".to_string(), TaskResult::of(&Ok(report(5, 2)))),
            ("t2".to_string(), TaskResult::of(&Err(transient))),
            ("t3".to_string(), TaskResult::of(&Err(permanent))),
        ];
        assert_eq!(
            batch_response("1.0", "inv-1", &results),
            json!({
                "invocationSchemaVersion": "1.0",
                "treatMissingKeysAs": "PermanentFailure",
                "invocationId": "inv-1",
                "results": [
                    {"taskId": "t1", "resultCode": "Succeeded", "resultString": "5 KMS events, 2 findings"},
                    {"taskId": "t2", "resultCode": "TemporaryFailure", "resultString": "s3://b/k: throttled"},
                    {"taskId": "t3", "resultCode": "PermanentFailure", "resultString": "s3://b/k: not gzip"},
                ]
            })
        );
    }
}
