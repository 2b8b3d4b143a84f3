//! An [`ObjectStore`] in memory, with S3's semantics where the Lambda relies on them:
//! objects replaced whole, an ETag that changes with every write, conditional writes that
//! fail when another writer came first, listings in key order, table files visible only on
//! commit. The handler's in-process tests run on it; it also lets a caller fail chosen keys
//! to check the failure policy.

use super::store::{ObjectStore, Precondition, SmallObject};
use super::{S3Error, S3Url};
use crate::error::OutputError;
use crate::tables::writer::TableStore;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Inner {
    /// `(bucket, key)` → (body, ETag).
    objects: BTreeMap<(String, String), (Vec<u8>, String)>,
    writes: u64,
    /// Keys whose reads and writes fail, with whether the failure is retryable.
    failing: BTreeMap<String, bool>,
}

/// Objects in memory, shared by its clones.
#[derive(Clone, Default)]
pub struct MemoryObjects {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryObjects {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held cannot leave a half-written object behind (every
        // change is one insert), so a poisoned lock is still sound to use.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores an object as a PutObject would.
    pub fn insert(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let mut g = self.lock();
        g.writes += 1;
        let etag = format!("\"{}\"", g.writes);
        g.objects
            .insert((bucket.to_string(), key.to_string()), (body, etag));
    }

    /// An object's body, if it exists.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.lock()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|(b, _)| b.clone())
    }

    /// The keys of `bucket` under `prefix`, in key order.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        self.lock()
            .objects
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Makes every read and write of `key` (any bucket) fail from now on.
    pub fn fail(&self, key: &str, retryable: bool) {
        self.lock().failing.insert(key.to_string(), retryable);
    }

    fn check(&self, op: &'static str, bucket: &str, key: &str) -> Result<(), S3Error> {
        match self.lock().failing.get(key) {
            Some(&retryable) => Err(S3Error::Request {
                url: format!("s3://{bucket}/{key}"),
                op,
                reason: "injected failure".into(),
                retryable,
            }),
            None => Ok(()),
        }
    }
}

impl ObjectStore for MemoryObjects {
    type Reader = std::io::Cursor<Vec<u8>>;
    type Tables = MemoryTables;

    async fn open(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
    ) -> Result<Self::Reader, S3Error> {
        self.check("GetObject", bucket, key)?;
        self.get(bucket, key)
            .map(std::io::Cursor::new)
            .ok_or_else(|| S3Error::NotFound {
                url: format!("s3://{bucket}/{key}"),
            })
    }

    async fn get_small(&self, bucket: &str, key: &str) -> Result<SmallObject, S3Error> {
        self.check("GetObject", bucket, key)?;
        Ok(self
            .lock()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|(b, e)| (b.clone(), Some(e.clone()))))
    }

    async fn put_small(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), S3Error> {
        self.check("PutObject", bucket, key)?;
        self.insert(bucket, key, body);
        Ok(())
    }

    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> Result<bool, S3Error> {
        self.check("PutObject", bucket, key)?;
        let mut g = self.lock();
        let id = (bucket.to_string(), key.to_string());
        let holds = match (&condition, g.objects.get(&id)) {
            (Precondition::Absent, None) => true,
            (Precondition::Matches(e), Some((_, cur))) => e == cur,
            _ => false,
        };
        if holds {
            g.writes += 1;
            let etag = format!("\"{}\"", g.writes);
            g.objects.insert(id, (body, etag));
        }
        Ok(holds)
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, i64)>, S3Error> {
        self.check("ListObjectsV2", bucket, prefix)?;
        let g = self.lock();
        Ok(g.objects
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|((_, k), (body, _))| (k.clone(), body.len() as i64))
            .collect())
    }

    fn tables(&self, output: &S3Url) -> MemoryTables {
        MemoryTables {
            objects: self.clone(),
            out: output.clone(),
            published: BTreeSet::new(),
        }
    }

    fn published(tables: &MemoryTables) -> usize {
        tables.published.len()
    }
}

/// Table files written into a [`MemoryObjects`], each stored whole on commit.
pub struct MemoryTables {
    objects: MemoryObjects,
    out: S3Url,
    published: BTreeSet<String>,
}

impl TableStore for MemoryTables {
    type Object = Vec<u8>;

    fn create(&mut self, _path: &str) -> Result<Vec<u8>, OutputError> {
        Ok(Vec::new())
    }

    fn commit(&mut self, path: &str, object: Vec<u8>) -> Result<(), OutputError> {
        let key = self.out.key(path);
        self.objects
            .check("PutObject", &self.out.bucket, &key)
            .map_err(|e| OutputError::Io {
                path: format!("s3://{}/{key}", self.out.bucket),
                reason: e.to_string(),
            })?;
        self.objects.insert(&self.out.bucket, &key, object);
        self.published.insert(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn conditional_writes_fail_after_another_writer() {
        let m = MemoryObjects::new();
        assert!(block(m.put_if("b", "k", b"1".to_vec(), Precondition::Absent)).unwrap());
        assert!(!block(m.put_if("b", "k", b"2".to_vec(), Precondition::Absent)).unwrap());
        let (_, etag) = block(m.get_small("b", "k")).unwrap().unwrap();
        let etag = etag.unwrap();
        m.insert("b", "k", b"3".to_vec());
        let stale = Precondition::Matches(etag);
        assert!(!block(m.put_if("b", "k", b"4".to_vec(), stale)).unwrap());
        assert_eq!(m.get("b", "k").unwrap(), b"3");
        let (_, fresh) = block(m.get_small("b", "k")).unwrap().unwrap();
        let fresh = Precondition::Matches(fresh.unwrap());
        assert!(block(m.put_if("b", "k", b"5".to_vec(), fresh)).unwrap());
        assert_eq!(m.get("b", "k").unwrap(), b"5");
    }

    #[test]
    fn listings_are_in_key_order_and_failures_are_classified() {
        let m = MemoryObjects::new();
        for k in ["p/c", "p/a", "q/z", "p/b"] {
            m.insert("b", k, k.as_bytes().to_vec());
        }
        m.insert("other", "p/0", Vec::new());
        let keys: Vec<_> = block(m.list("b", "p/"))
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["p/a", "p/b", "p/c"]);
        assert!(matches!(
            block(m.open("b", "missing", None)),
            Err(S3Error::NotFound { .. })
        ));
        m.fail("p/a", true);
        let e = block(m.get_small("b", "p/a")).unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(
            e.to_string(),
            "s3://b/p/a: GetObject failed: injected failure"
        );
    }

    #[test]
    fn table_files_appear_on_commit_only() {
        let m = MemoryObjects::new();
        let out = S3Url::parse("s3://out/pre").unwrap();
        let mut t = m.tables(&out);
        let mut f = t.create("kms_events/a.parquet").unwrap();
        f.extend_from_slice(b"PAR1");
        assert!(m.keys("out", "").is_empty());
        t.commit("kms_events/a.parquet", f).unwrap();
        assert_eq!(m.keys("out", ""), ["pre/kms_events/a.parquet"]);
        assert_eq!(MemoryObjects::published(&t), 1);
    }
}
