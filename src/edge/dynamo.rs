//! The DynamoDB edge: the Lambda's cross-file state as items of one table (`pk` = the key,
//! `sk` = the item, TTL attribute `expires`), read and written through aws-sdk-dynamodb.
//!
//! What the items are and how each is merged is [`crate::audit::ledger::items`] (pure); this module
//! maps them to attribute values and implements each [`WriteRule`] with one request per item
//! that never conflicts with writers of other items: first-writer-wins attributes with
//! `if_not_exists`, the greatest watermark with a condition, and a use slot with a
//! newer-wins conditional put, then a same-time add, then a re-read (bounded attempts, only
//! against writers of the same slot). Reads are consistent queries of one key's partition,
//! orphans only by the grants the file creates.

use crate::audit::ledger::items::{self, Assembled, Attr, Item, WriteRule, ORPHAN_BOUND};
use crate::edge::s3::{error_chain, ClientSettings, S3Error};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};

/// How many item writes one invocation keeps in flight.
const WRITES_IN_FLIGHT: usize = 16;

/// How many rounds a use slot's write takes at most against writers of the same slot.
pub const SLOT_ATTEMPTS: u32 = 12;

/// A state-table request that failed; classified retryable or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("dynamodb://{table}: {op} failed: {reason}")]
    Request {
        table: String,
        op: &'static str,
        reason: String,
        retryable: bool,
    },
    #[error("dynamodb://{table}: key {pk:?}: unreadable item: {reason}")]
    Corrupt {
        table: String,
        pk: String,
        reason: String,
    },
    #[error("dynamodb://{table}: key {pk:?} item {sk:?}: concurrent writers of this slot kept winning after {attempts} attempts")]
    Contended {
        table: String,
        pk: String,
        sk: String,
        attempts: u32,
    },
}

impl StateError {
    pub fn is_retryable(&self) -> bool {
        match self {
            StateError::Request { retryable, .. } => *retryable,
            StateError::Contended { .. } => true,
            StateError::Corrupt { .. } => false,
        }
    }
}

/// What a read cost: requests, items and bytes of attribute data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub requests: u64,
    pub items: u64,
    pub bytes: u64,
}

impl std::ops::AddAssign for ReadStats {
    fn add_assign(&mut self, o: ReadStats) {
        self.requests += o.requests;
        self.items += o.items;
        self.bytes += o.bytes;
    }
}

/// The state table and a client for it.
#[derive(Clone)]
pub struct StateTable {
    client: Client,
    table: String,
}

fn is_condition_failed<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool {
    matches!(e, SdkError::ServiceError(s) if s.err().code() == Some("ConditionalCheckFailedException"))
}

impl StateTable {
    /// A client for `table` from the standard AWS configuration with `settings` (endpoint
    /// override, timeouts, retries: the SDK's standard retry covers throttling).
    pub async fn new(settings: &ClientSettings, table: &str) -> Result<Self, S3Error> {
        let shared = crate::edge::s3::load_config(settings).await?;
        Ok(StateTable {
            client: Client::new(&shared),
            table: table.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.table
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        op: &'static str,
        e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StateError {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let (retryable, reason) = match e {
            SdkError::TimeoutError(_) => (true, "timed out".to_string()),
            SdkError::DispatchFailure(d) => (
                true,
                match d.as_connector_error() {
                    Some(c) => format!("connection failed: {}", error_chain(c)),
                    None => "connection failed".to_string(),
                },
            ),
            SdkError::ResponseError(_) => (true, "unreadable response".to_string()),
            SdkError::ServiceError(s) => {
                let code = s.err().code().unwrap_or("unknown").to_string();
                let retry = matches!(
                    code.as_str(),
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                        | "TransactionConflictException"
                ) || status.is_none_or(|s| s >= 500);
                (
                    retry,
                    format!(
                        "{code} (HTTP {})",
                        status.map_or("?".into(), |s| s.to_string())
                    ),
                )
            }
            other => (true, error_chain(other)),
        };
        StateError::Request {
            table: self.table.clone(),
            op,
            reason,
            retryable,
        }
    }

    /// Reads `key`'s state: every item but orphans, and the orphans of `grants` (the grants
    /// the file creates: no other file can use an orphan), assembled as of `clock_ms`.
    pub async fn read(
        &self,
        key: &str,
        grants: &[String],
        clock_ms: Option<i64>,
    ) -> Result<(Assembled, ReadStats), StateError> {
        let pk = items::partition(key);
        let mut stats = ReadStats::default();
        let mut found = Vec::new();
        let main = self
            .query(&pk, "#pk = :pk AND #sk < :bound", ORPHAN_BOUND, &mut found)
            .await?;
        stats += main;
        for g in grants {
            let prefix = items::orphan_prefix(g);
            stats += self
                .query(
                    &pk,
                    "#pk = :pk AND begins_with(#sk, :bound)",
                    &prefix,
                    &mut found,
                )
                .await?;
        }
        Ok((items::assemble(key, found, clock_ms), stats))
    }

    async fn query(
        &self,
        pk: &str,
        condition: &str,
        bound: &str,
        found: &mut Vec<Item>,
    ) -> Result<ReadStats, StateError> {
        let mut stats = ReadStats::default();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression(condition)
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#sk", "sk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
                .expression_attribute_values(":bound", AttributeValue::S(bound.to_string()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Query", &e))?;
            stats.requests += 1;
            for raw in out.items() {
                let (sk, attrs, bytes) =
                    from_dynamo(raw).map_err(|reason| self.corrupt(pk, reason))?;
                stats.items += 1;
                stats.bytes += bytes;
                found.push(
                    Item::from_attrs(&sk, &attrs).map_err(|reason| self.corrupt(pk, reason))?,
                );
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(stats),
            }
        }
    }

    fn corrupt(&self, pk: &str, reason: String) -> StateError {
        StateError::Corrupt {
            table: self.table.clone(),
            pk: pk.to_string(),
            reason,
        }
    }

    /// Writes `key`'s items, each by its rule; returns how many requests it took. Every
    /// write is idempotent, so a retried invocation rewrites the same state.
    pub async fn write(&self, key: &str, items: Vec<Item>) -> Result<u64, StateError> {
        let pk = items::partition(key);
        let counts: Vec<u64> = stream::iter(items.into_iter().map(|it| self.write_one(&pk, it)))
            .buffer_unordered(WRITES_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(counts.iter().sum())
    }

    async fn write_one(&self, pk: &str, item: Item) -> Result<u64, StateError> {
        let sk = item.sort_key();
        let key =
            |b: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
                b.table_name(&self.table)
                    .key("pk", AttributeValue::S(pk.to_string()))
                    .key("sk", AttributeValue::S(sk.clone()))
            };
        let attrs = item.attrs();
        match item.write_rule() {
            WriteRule::FirstWins => {
                let mut b = key(self.client.update_item());
                let mut sets = Vec::new();
                for (i, (name, v)) in attrs.into_iter().enumerate() {
                    sets.push(format!("#a{i} = if_not_exists(#a{i}, :a{i})"));
                    b = b
                        .expression_attribute_names(format!("#a{i}"), name)
                        .expression_attribute_values(format!(":a{i}"), to_dynamo(v));
                }
                b.update_expression(format!("SET {}", sets.join(", ")))
                    .send()
                    .await
                    .map_err(|e| self.error("UpdateItem", &e))?;
                Ok(1)
            }
            WriteRule::Max => {
                let Item::Watermark(t) = item else {
                    unreachable!("only the watermark is a maximum")
                };
                let r = key(self.client.update_item())
                    .update_expression("SET #t = :t")
                    .condition_expression("attribute_not_exists(#t) OR #t < :t")
                    .expression_attribute_names("#t", "time")
                    .expression_attribute_values(":t", AttributeValue::N(t.to_string()))
                    .send()
                    .await;
                match r {
                    Ok(_) => Ok(1),
                    Err(e) if is_condition_failed(&e) => Ok(1),
                    Err(e) => Err(self.error("UpdateItem", &e)),
                }
            }
            WriteRule::Latest => self.write_slot(pk, &sk, item).await,
        }
    }

    /// A use slot: put if newer, else add to the same time, else it is older (re-read to be
    /// sure the stored one did not change in between).
    async fn write_slot(&self, pk: &str, sk: &str, item: Item) -> Result<u64, StateError> {
        let Item::Use { time, ref uses, .. } = item else {
            unreachable!("only a use slot is latest-wins")
        };
        let mut requests = 0;
        for _ in 0..SLOT_ATTEMPTS {
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(pk.to_string()))
                .item("sk", AttributeValue::S(sk.to_string()))
                .condition_expression("attribute_not_exists(#t) OR #t < :t")
                .expression_attribute_names("#t", "time")
                .expression_attribute_values(":t", AttributeValue::N(time.to_string()));
            for (name, v) in item.attrs() {
                put = put.item(name, to_dynamo(v));
            }
            requests += 1;
            match put.send().await {
                Ok(_) => return Ok(requests),
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(self.error("PutItem", &e)),
            }
            let mut add = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("pk", AttributeValue::S(pk.to_string()))
                .key("sk", AttributeValue::S(sk.to_string()))
                .condition_expression("#t = :t")
                .expression_attribute_names("#t", "time")
                .expression_attribute_names("#u", "uses")
                .expression_attribute_values(":t", AttributeValue::N(time.to_string()));
            let mut sets = Vec::new();
            for (i, (id, rec)) in uses.iter().enumerate() {
                sets.push(format!("#u.#i{i} = if_not_exists(#u.#i{i}, :i{i})"));
                add = add
                    .expression_attribute_names(format!("#i{i}"), id)
                    .expression_attribute_values(format!(":i{i}"), AttributeValue::S(rec.clone()));
            }
            requests += 1;
            match add
                .update_expression(format!("SET {}", sets.join(", ")))
                .send()
                .await
            {
                Ok(_) => return Ok(requests),
                Err(e) if is_condition_failed(&e) => {}
                Err(e) => return Err(self.error("UpdateItem", &e)),
            }
            let got = self
                .client
                .get_item()
                .table_name(&self.table)
                .consistent_read(true)
                .key("pk", AttributeValue::S(pk.to_string()))
                .key("sk", AttributeValue::S(sk.to_string()))
                .projection_expression("#t")
                .expression_attribute_names("#t", "time")
                .send()
                .await
                .map_err(|e| self.error("GetItem", &e))?;
            requests += 1;
            let stored = got
                .item()
                .and_then(|i| i.get("time"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok());
            if stored.is_some_and(|s| s > time) {
                return Ok(requests);
            }
        }
        Err(StateError::Contended {
            table: self.table.clone(),
            pk: pk.to_string(),
            sk: sk.to_string(),
            attempts: SLOT_ATTEMPTS,
        })
    }
}

fn to_dynamo(a: Attr) -> AttributeValue {
    match a {
        Attr::S(s) => AttributeValue::S(s),
        Attr::N(n) => AttributeValue::N(n.to_string()),
        Attr::M(m) => AttributeValue::M(
            m.into_iter()
                .map(|(k, v)| (k, AttributeValue::S(v)))
                .collect(),
        ),
    }
}

/// An item's sort key, its other attributes, and their size in bytes (names and values).
fn from_dynamo(
    raw: &HashMap<String, AttributeValue>,
) -> Result<(String, BTreeMap<String, Attr>, u64), String> {
    let sk = match raw.get("sk") {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => return Err("no string sort key".to_string()),
    };
    let mut attrs = BTreeMap::new();
    let mut bytes = 0u64;
    for (name, v) in raw {
        bytes += name.len() as u64;
        let a = match v {
            AttributeValue::S(s) => {
                bytes += s.len() as u64;
                Attr::S(s.clone())
            }
            AttributeValue::N(n) => {
                bytes += n.len() as u64;
                Attr::N(
                    n.parse()
                        .map_err(|_| format!("item {sk:?}: {name} is not an integer"))?,
                )
            }
            AttributeValue::M(m) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    let AttributeValue::S(s) = v else {
                        return Err(format!("item {sk:?}: {name}.{k} is not a string"));
                    };
                    bytes += (k.len() + s.len()) as u64;
                    out.insert(k.clone(), s.clone());
                }
                Attr::M(out)
            }
            _ => continue,
        };
        attrs.insert(name.clone(), a);
    }
    Ok((sk, attrs, bytes))
}
