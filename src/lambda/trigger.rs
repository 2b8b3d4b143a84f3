//! Lambda trigger payloads: what arrived, and which work it asks for.
//!
//! One handler serves every trigger keytrail is wired to: S3 event notifications (direct,
//! through SQS, SNS, or SNS through SQS), CloudTrail's own SNS notification, EventBridge
//! "Object Created" and "AWS API Call via CloudTrail", CloudWatch Logs subscriptions and
//! S3 Batch Operations. This module only decodes payloads into [`Work`]; it performs no
//! I/O. Payloads are read tolerantly (every field optional) and an unknown payload is an
//! error that says what arrived.

use crate::text::percent_decode;
use base64::Engine;
use serde_json::Value;
use std::io::Read;

/// An S3 object to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub size: Option<u64>,
}

impl ObjectRef {
    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// The work one payload (or one SQS message) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Nothing to do; the reason is logged (s3:TestEvent, CloudTrail's validation message).
    Ack(String),
    /// Log objects to read.
    Objects(Vec<ObjectRef>),
    /// Records delivered inline (EventBridge API call, CloudWatch Logs): a source name and
    /// the records as JSON text, one per item.
    Records {
        source: String,
        records: Vec<String>,
    },
}

/// One SQS message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsMessage {
    pub message_id: String,
    pub work: Result<Work, TriggerError>,
}

/// One S3 Batch Operations task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTask {
    pub task_id: String,
    pub object: Result<ObjectRef, TriggerError>,
}

/// A decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A payload answered with success once its work is done.
    Single(Work),
    /// An SQS batch: failures are reported per message (partial batch response).
    Sqs(Vec<SqsMessage>),
    /// An S3 Batch Operations job: results are reported per task.
    Batch {
        schema_version: String,
        invocation_id: String,
        tasks: Vec<BatchTask>,
    },
}

/// A payload keytrail cannot use. Never retryable: the same payload fails the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised trigger payload: {0}")]
pub struct TriggerError(pub String);

fn describe(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let keys: Vec<&str> = m.keys().map(String::as_str).take(12).collect();
            format!("an object with keys [{}]", keys.join(", "))
        }
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::String(s) => {
            let head: String = s.chars().take(60).collect();
            format!("the string {head:?}")
        }
        other => format!("{other}"),
    }
}

fn str_of<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Decodes a form-URL-encoded S3 notification key: `+` is a space, then `%XX`.
pub fn decode_form_key(key: &str) -> String {
    percent_decode(&key.replace('+', " "))
}

/// Decodes a payload as it reaches the handler.
pub fn parse(payload: &Value) -> Result<Payload, TriggerError> {
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let first = records.first();
        let source = first
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(Value::as_str)
            .unwrap_or("");
        if source == "aws:sqs" {
            return Ok(Payload::Sqs(
                records
                    .iter()
                    .map(|r| SqsMessage {
                        message_id: str_of(r, &["messageId"]).unwrap_or("").to_string(),
                        work: match str_of(r, &["body"]) {
                            Some(body) => parse_text(body),
                            None => Err(TriggerError("SQS message without a body".into())),
                        },
                    })
                    .collect(),
            ));
        }
    }
    if payload.get("invocationSchemaVersion").is_some() && payload.get("tasks").is_some() {
        return Ok(parse_batch(payload));
    }
    inner(payload).map(Payload::Single)
}

/// Decodes a message body (SQS body, SNS Message): JSON, or CloudTrail's plain-text
/// validation message.
pub fn parse_text(text: &str) -> Result<Work, TriggerError> {
    let t = text.trim();
    if t == "CloudTrail validation message." {
        return Ok(Work::Ack("CloudTrail validation message".into()));
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v) => inner(&v),
        Err(_) => Err(TriggerError(format!(
            "message body is not JSON: {}",
            describe(&Value::String(t.to_string()))
        ))),
    }
}

/// Work from a payload that is not an SQS batch or a Batch Operations job.
fn inner(v: &Value) -> Result<Work, TriggerError> {
    if str_of(v, &["Event"]) == Some("s3:TestEvent") {
        return Ok(Work::Ack("s3:TestEvent".into()));
    }
    // SNS envelope (as delivered through SQS) or SNS event to Lambda.
    if str_of(v, &["Type"]) == Some("Notification") {
        if let Some(m) = str_of(v, &["Message"]) {
            return parse_text(m);
        }
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let source = records
            .first()
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(Value::as_str)
            .unwrap_or("");
        match source {
            "aws:sns" => {
                let mut objects = Vec::new();
                for r in records {
                    let m = str_of(r, &["Sns", "Message"])
                        .ok_or_else(|| TriggerError("SNS record without Sns.Message".into()))?;
                    match parse_text(m)? {
                        Work::Objects(o) => objects.extend(o),
                        Work::Ack(reason) if records.len() == 1 => return Ok(Work::Ack(reason)),
                        Work::Ack(_) => {}
                        Work::Records { .. } => {
                            return Err(TriggerError("records inside an SNS message".into()))
                        }
                    }
                }
                return Ok(Work::Objects(objects));
            }
            "aws:s3" => {
                let mut objects = Vec::new();
                for r in records {
                    let bucket = str_of(r, &["s3", "bucket", "name"]);
                    let key = str_of(r, &["s3", "object", "key"]);
                    let (Some(bucket), Some(key)) = (bucket, key) else {
                        return Err(TriggerError(format!(
                            "S3 notification record without bucket or key: {}",
                            describe(r)
                        )));
                    };
                    if !str_of(r, &["eventName"])
                        .unwrap_or("ObjectCreated")
                        .starts_with("ObjectCreated")
                    {
                        continue;
                    }
                    objects.push(ObjectRef {
                        bucket: bucket.to_string(),
                        key: decode_form_key(key),
                        version_id: str_of(r, &["s3", "object", "versionId"]).map(str::to_string),
                        etag: str_of(r, &["s3", "object", "eTag"]).map(str::to_string),
                        size: r.pointer("/s3/object/size").and_then(Value::as_u64),
                    });
                }
                return Ok(Work::Objects(objects));
            }
            _ => {}
        }
    }
    // CloudTrail's own SNS notification.
    if let (Some(bucket), Some(keys)) = (
        str_of(v, &["s3Bucket"]),
        v.get("s3ObjectKey").and_then(Value::as_array),
    ) {
        return Ok(Work::Objects(
            keys.iter()
                .filter_map(Value::as_str)
                .map(|k| ObjectRef {
                    bucket: bucket.to_string(),
                    key: k.to_string(),
                    version_id: None,
                    etag: None,
                    size: None,
                })
                .collect(),
        ));
    }
    match str_of(v, &["detail-type"]) {
        Some("Object Created") => {
            let bucket = str_of(v, &["detail", "bucket", "name"]);
            let key = str_of(v, &["detail", "object", "key"]);
            let (Some(bucket), Some(key)) = (bucket, key) else {
                return Err(TriggerError(
                    "EventBridge Object Created without bucket or key".into(),
                ));
            };
            return Ok(Work::Objects(vec![ObjectRef {
                bucket: bucket.to_string(),
                key: key.to_string(),
                version_id: str_of(v, &["detail", "object", "version-id"]).map(str::to_string),
                etag: str_of(v, &["detail", "object", "etag"]).map(str::to_string),
                size: v.pointer("/detail/object/size").and_then(Value::as_u64),
            }]));
        }
        Some("AWS API Call via CloudTrail") => {
            let detail = v
                .get("detail")
                .ok_or_else(|| TriggerError("EventBridge API call without detail".into()))?;
            let id = str_of(v, &["id"]).unwrap_or("event");
            return Ok(Work::Records {
                source: format!("eventbridge:{id}"),
                records: vec![detail.to_string()],
            });
        }
        _ => {}
    }
    if let Some(data) = str_of(v, &["awslogs", "data"]) {
        return cloudwatch_logs(data);
    }
    Err(TriggerError(describe(v)))
}

/// Largest decompressed CloudWatch Logs payload accepted (Lambda payloads are at most 6 MB).
const MAX_LOGS_PAYLOAD: u64 = 64 << 20;

fn cloudwatch_logs(data: &str) -> Result<Work, TriggerError> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| TriggerError(format!("awslogs.data is not base64: {e}")))?;
    let mut json = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .take(MAX_LOGS_PAYLOAD)
        .read_to_end(&mut json)
        .map_err(|e| TriggerError(format!("awslogs.data is not gzip: {e}")))?;
    let v: Value = serde_json::from_slice(&json)
        .map_err(|e| TriggerError(format!("awslogs.data is not JSON: {e}")))?;
    if str_of(&v, &["messageType"]) == Some("CONTROL_MESSAGE") {
        return Ok(Work::Ack("CloudWatch Logs control message".into()));
    }
    let group = str_of(&v, &["logGroup"]).unwrap_or("");
    let stream = str_of(&v, &["logStream"]).unwrap_or("");
    let records = v
        .get("logEvents")
        .and_then(Value::as_array)
        .map(|evs| {
            evs.iter()
                .filter_map(|e| str_of(e, &["message"]).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Work::Records {
        source: format!("cloudwatch-logs:{group}/{stream}"),
        records,
    })
}

fn parse_batch(v: &Value) -> Payload {
    let schema_version = str_of(v, &["invocationSchemaVersion"])
        .unwrap_or("1.0")
        .to_string();
    let invocation_id = str_of(v, &["invocationId"]).unwrap_or("").to_string();
    let tasks = v
        .get("tasks")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    let bucket = str_of(t, &["s3Bucket"]).map(str::to_string).or_else(|| {
                        str_of(t, &["s3BucketArn"])
                            .and_then(|a| a.rsplit(':').next())
                            .map(str::to_string)
                    });
                    let object = match (bucket, str_of(t, &["s3Key"])) {
                        (Some(bucket), Some(key)) => Ok(ObjectRef {
                            bucket,
                            // Batch Operations passes keys URL-encoded.
                            key: percent_decode(key),
                            version_id: str_of(t, &["s3VersionId"]).map(str::to_string),
                            etag: None,
                            size: None,
                        }),
                        _ => Err(TriggerError(format!(
                            "batch task without bucket or key: {}",
                            describe(t)
                        ))),
                    };
                    BatchTask {
                        task_id: str_of(t, &["taskId"]).unwrap_or("").to_string(),
                        object,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Payload::Batch {
        schema_version,
        invocation_id,
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/02/12/111122223333_CloudTrail_us-east-1_20250212T1105Z_Ab Cd=12.json.gz";

    fn event(name: &str) -> Value {
        let path = format!("{}/testdata/events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn single_object(p: Payload) -> ObjectRef {
        match p {
            Payload::Single(Work::Objects(o)) => {
                assert_eq!(o.len(), 1);
                o.into_iter().next().unwrap()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_object_trigger_names_the_same_decoded_object() {
        let o = single_object(parse(&event("s3-put.json")).unwrap());
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("keytrail-trail", KEY));
        assert_eq!(
            o.version_id.as_deref(),
            Some("096fKKXTRTtl3on89fVO.nfljtsv6qko")
        );
        assert_eq!(o.etag.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(
            single_object(parse(&event("sns-cloudtrail.json")).unwrap()).key,
            KEY
        );
        let eb = single_object(parse(&event("eventbridge-object-created.json")).unwrap());
        assert_eq!((eb.key.as_str(), eb.size), (KEY, Some(2048)));
        for name in ["sqs-s3.json", "sqs-sns-s3.json", "sqs-cloudtrail-sns.json"] {
            let Payload::Sqs(msgs) = parse(&event(name)).unwrap() else {
                panic!("{name}")
            };
            assert_eq!(msgs.len(), 1);
            assert!(!msgs[0].message_id.is_empty());
            match &msgs[0].work {
                Ok(Work::Objects(o)) => assert_eq!(o[0].key, KEY, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        let Payload::Batch {
            tasks,
            invocation_id,
            schema_version,
        } = parse(&event("batch-operations.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(schema_version, "1.0");
        assert!(!invocation_id.is_empty());
        let o = tasks[0].object.as_ref().unwrap();
        assert_eq!((o.bucket.as_str(), o.key.as_str()), ("keytrail-trail", KEY));
    }

    #[test]
    fn inline_records_and_acknowledgements() {
        for name in ["eventbridge-api-call.json", "cloudwatch-logs.json"] {
            match parse(&event(name)).unwrap() {
                Payload::Single(Work::Records { records, .. }) => {
                    assert_eq!(records.len(), 1, "{name}");
                    assert!(records[0].contains("\"DisableKey\""));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(matches!(
            parse(&event("s3-test-event.json")).unwrap(),
            Payload::Single(Work::Ack(_))
        ));
        assert!(matches!(
            parse(&event("sns-validation.json")).unwrap(),
            Payload::Single(Work::Ack(_))
        ));
    }

    #[test]
    fn unknown_payloads_say_what_arrived() {
        let e = parse(&serde_json::json!({"hello": 1, "world": [1]})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unrecognised trigger payload: an object with keys [hello, world]"
        );
        let Payload::Sqs(m) = parse(&serde_json::json!({"Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": "not json"}]})).unwrap() else {
            panic!()
        };
        assert!(m[0]
            .work
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }

    #[test]
    fn keys_decode() {
        assert_eq!(decode_form_key("a+b%2Bc%3D%zz%"), "a b+c=%zz%");
        assert_eq!(percent_decode("a+b%20c"), "a+b c");
    }
}
