//! The object store the Lambda runs over ([`ObjectStore`]): the few S3 operations it needs
//! (stream a source object, read and write small objects, conditional writes, listings, a
//! [`TableStore`] for table files), and the ledger round trip built on them
//! ([`merge_ledger`], [`read_ledger`]). S3 itself is [`super::S3Objects`]; an in-memory
//! store with the same semantics is [`super::MemoryObjects`], so the handler is tested
//! in-process as well as against a server.

use super::{backoff, S3Error, S3Url, LEDGER_ATTEMPTS};
use crate::audit::ledger::{self, KeyLedger};
use crate::model::profile::Profiles;
use crate::tables::writer::TableStore;
use std::future::Future;

/// The condition of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// The object still has this ETag (`If-Match`).
    Matches(String),
    /// The object does not exist yet (`If-None-Match: *`).
    Absent,
}

/// A small object's body and ETag, or `None` when it does not exist.
pub type SmallObject = Option<(Vec<u8>, Option<String>)>;

/// What the Lambda needs of an object store. Every operation names its object by bucket and
/// key and fails with an [`S3Error`] classified retryable or not, as S3's do.
pub trait ObjectStore: Clone + Send + Sync + 'static {
    /// A source object's bytes, streamed.
    type Reader: tokio::io::AsyncBufRead + Send + Unpin + 'static;
    /// Where one source's table files go; files become visible on commit.
    type Tables: TableStore + Send + 'static;

    /// Opens an object (a given version when `version_id` is set).
    fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<Self::Reader, S3Error>> + Send;

    /// Reads a small object whole, with its ETag; `Ok(None)` when it does not exist.
    fn get_small(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<SmallObject, S3Error>> + Send;

    /// Writes a small object.
    fn put_small(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), S3Error>> + Send;

    /// Writes a small object if `condition` holds: `Ok(false)` when it did not (another
    /// writer came first), so the caller re-reads and tries again.
    fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> impl Future<Output = Result<bool, S3Error>> + Send;

    /// The keys under `prefix` with their sizes, in key order.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, S3Error>> + Send;

    /// A table store writing under `output`. Called from within the async runtime; the
    /// store itself is used from a blocking thread.
    fn tables(&self, output: &S3Url) -> Self::Tables;

    /// How many files `tables` has made visible.
    fn published(tables: &Self::Tables) -> usize;
}

fn ledger_key(out: &S3Url, key_arn: &str) -> String {
    out.key(&format!("_ledger/{}", ledger::object_name(key_arn)))
}

fn corrupt(url: &str, e: impl std::fmt::Display) -> S3Error {
    S3Error::Request {
        url: url.to_string(),
        op: "ledger read",
        reason: format!("corrupt ledger: {e}"),
        retryable: false,
    }
}

/// Merges `delta` into the ledger object of its key with a conditional write (on the ETag
/// read, or on absence for a new ledger), re-reading and retrying on conflict, so
/// concurrent writers never lose an update. A ledger of an older layout is upgraded on the
/// way ([`KeyLedger::upgrade`], with the function's `profiles`). Returns the merged ledger.
pub async fn merge_ledger<O: ObjectStore>(
    objects: &O,
    out: &S3Url,
    delta: &KeyLedger,
    profiles: &Profiles,
) -> Result<KeyLedger, S3Error> {
    let key = ledger_key(out, &delta.key);
    let url = format!("s3://{}/{key}", out.bucket);
    for attempt in 0..LEDGER_ATTEMPTS {
        let (mut merged, etag) = match objects.get_small(&out.bucket, &key).await? {
            Some((bytes, etag)) => (
                KeyLedger::from_json(&bytes).map_err(|e| corrupt(&url, e))?,
                etag,
            ),
            None => (KeyLedger::default(), None),
        };
        merged.key = delta.key.clone();
        let upgraded = merged.layout < ledger::LAYOUT;
        let dropped = merged.upgrade(profiles);
        if upgraded {
            tracing::info!(ledger = %url, dropped, "ledger upgraded to the current layout");
        }
        if !merged.merge(delta) && !upgraded && etag.is_some() {
            return Ok(merged);
        }
        let condition = match etag {
            Some(e) => Precondition::Matches(e),
            None => Precondition::Absent,
        };
        if objects
            .put_if(&out.bucket, &key, merged.to_json(), condition)
            .await?
        {
            return Ok(merged);
        }
        tracing::debug!(ledger = %url, attempt, "ledger write conflict, retrying");
        tokio::time::sleep(backoff(attempt)).await;
    }
    Err(S3Error::Conflict {
        url,
        attempts: LEDGER_ATTEMPTS,
    })
}

/// Reads a key's ledger without changing it, with the size of the object read.
pub async fn read_ledger<O: ObjectStore>(
    objects: &O,
    out: &S3Url,
    key_arn: &str,
) -> Result<Option<(KeyLedger, usize)>, S3Error> {
    let key = ledger_key(out, key_arn);
    match objects.get_small(&out.bucket, &key).await? {
        Some((bytes, _)) => KeyLedger::from_json(&bytes)
            .map(|l| Some((l, bytes.len())))
            .map_err(|e| corrupt(&format!("s3://{}/{key}", out.bucket), e)),
        None => Ok(None),
    }
}
