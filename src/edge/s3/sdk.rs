//! The S3 SDK edge of [`crate::edge::s3`]: everything that talks to S3 through aws-sdk-s3.

use super::store::{ObjectStore, Precondition, SmallObject};
use super::{check_endpoint, ClientSettings, S3Error, S3Url};
use crate::error::OutputError;
use crate::tables::writer::TableStore;
use crate::text::{fit, one_line};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use std::io::{BufWriter, Write};
use tokio::runtime::Handle;

fn status_of<E, R: HasStatus>(e: &SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HasStatus::status)
}

trait HasStatus {
    fn status(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Classifies an SDK error: retryable unless the service said the request itself is wrong.
fn request_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    url: &str,
    op: &'static str,
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> S3Error {
    let status = status_of(e);
    let (retryable, reason) = match e {
        SdkError::TimeoutError(_) => (true, "timed out".to_string()),
        SdkError::DispatchFailure(d) => (
            true,
            format!(
                "connection failed: {}",
                match d.as_connector_error() {
                    Some(c) => error_chain(c),
                    None => "the request could not be sent".to_string(),
                }
            ),
        ),
        SdkError::ResponseError(_) => (true, "unreadable response".to_string()),
        SdkError::ServiceError(s)
            if status == Some(403)
                || matches!(
                    s.err().code(),
                    Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch")
                ) =>
        {
            return S3Error::AccessDenied {
                url: url.to_string(),
                op,
                code: s.err().code().unwrap_or("AccessDenied").to_string(),
            };
        }
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("unknown");
            let retry = match status {
                Some(s) => s >= 500 || s == 429 || s == 409 || s == 412,
                None => true,
            } || matches!(
                code,
                "SlowDown" | "Throttling" | "RequestTimeout" | "InternalError"
            );
            (
                retry,
                format!(
                    "{code} (HTTP {})",
                    status.map_or("?".to_string(), |s| s.to_string())
                ),
            )
        }
        other => (true, error_chain(other)),
    };
    S3Error::Request {
        url: url.to_string(),
        op,
        reason,
        retryable,
    }
}

/// Builds an S3 client from the standard AWS configuration (credential chain, region,
/// `AWS_ENDPOINT_URL`). Path-style addressing is used with a custom endpoint, as
/// S3-compatible servers expect.
pub async fn client() -> Result<Client, S3Error> {
    client_with(&ClientSettings::default()).await
}

/// Builds an S3 client with explicit settings (see [`client`]).
pub async fn client_with(settings: &ClientSettings) -> Result<Client, S3Error> {
    let endpoint = match &settings.endpoint {
        Some(e) => Some(e.clone()),
        None => std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok(),
    };
    if let Some(e) = &endpoint {
        check_endpoint(e)?;
    }
    let shared = load_config(settings).await?;
    let conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(endpoint.is_some())
        .build();
    Ok(Client::from_conf(conf))
}

/// The standard AWS configuration (credential chain, region, profile) with the settings'
/// timeouts, retries and overrides, checked: no region or no credentials fails here, in one
/// line. Every AWS client keytrail builds (S3, and KMS for `keytrail snapshot`) starts here.
pub async fn load_config(settings: &ClientSettings) -> Result<aws_config::SdkConfig, S3Error> {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(settings.connect_timeout)
        .read_timeout(settings.read_timeout)
        .build();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(
            aws_config::retry::RetryConfig::standard().with_max_attempts(settings.max_attempts),
        );
    if let Some(e) = &settings.endpoint {
        loader = loader.endpoint_url(e);
    }
    if let Some(p) = &settings.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &settings.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    let shared = loader.load().await;
    check_config(&shared).await?;
    Ok(shared)
}

/// Fails early, in one line, when the configuration has no region or no credentials, rather
/// than at the first request with the SDK's dispatch error.
async fn check_config(shared: &aws_config::SdkConfig) -> Result<(), S3Error> {
    use aws_credential_types::provider::ProvideCredentials;
    if shared.region().is_none() {
        return Err(S3Error::Config(
            "no AWS region: set AWS_REGION or pass --region".into(),
        ));
    }
    let Some(provider) = shared.credentials_provider() else {
        return Err(S3Error::Config("no credentials provider configured".into()));
    };
    if let Err(e) = provider.provide_credentials().await {
        let reason = error_chain(&e);
        return Err(S3Error::Config(format!(
            "no credentials found ({}): set AWS_PROFILE or pass --profile, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
            fit(reason, 160)
        )));
    }
    Ok(())
}

/// An error and its sources, on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    fit(one_line(&parts.join(": ")), 300)
}

/// Opens an object as an async stream of its bytes.
pub async fn open(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<impl tokio::io::AsyncBufRead + Send + Unpin + 'static, S3Error> {
    let url = format!("s3://{bucket}/{key}");
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_string))
        .send()
        .await
        .map_err(|e| match status_of(&e) {
            Some(404) => S3Error::NotFound { url: url.clone() },
            _ => request_error(&url, "GetObject", &e),
        })?;
    Ok(out.body.into_async_read())
}

/// Reads a small object whole, with its ETag; `Ok(None)` when it does not exist.
pub async fn get_small(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(Vec<u8>, Option<String>)>, S3Error> {
    let url = format!("s3://{bucket}/{key}");
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let etag = out.e_tag().map(str::to_string);
            let bytes = out.body.collect().await.map_err(|e| S3Error::Request {
                url: url.clone(),
                op: "GetObject",
                reason: e.to_string(),
                retryable: true,
            })?;
            Ok(Some((bytes.to_vec(), etag)))
        }
        Err(e) if status_of(&e) == Some(404) => Ok(None),
        Err(e) => Err(request_error(&url, "GetObject", &e)),
    }
}

/// Writes a small object (a quarantine note).
pub async fn put_small(
    client: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), S3Error> {
    let url = format!("s3://{bucket}/{key}");
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| request_error(&url, "PutObject", &e))?;
    Ok(())
}

/// Lists the keys under a prefix, in key order.
pub async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, i64)>, S3Error> {
    let url = format!("s3://{bucket}/{prefix}");
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| request_error(&url, "ListObjectsV2", &e))?;
        for o in page.contents() {
            if let Some(k) = o.key() {
                out.push((k.to_string(), o.size().unwrap_or(0)));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes table files to S3: each file is written to a local temporary file, then uploaded
/// in one PutObject, so readers see whole objects or nothing. A store made with
/// [`S3Store::deferred`] (the CLI's) uploads nothing before [`S3Store::publish`]: a run that
/// stops early, or finds nothing to write, leaves the bucket as it was.
pub struct S3Store {
    client: Client,
    out: S3Url,
    handle: Handle,
    /// Keys uploaded, in order.
    pub uploaded: Vec<String>,
    /// A deferred store's staging: its folder, and the files committed but not yet uploaded.
    deferred: Option<(std::path::PathBuf, Vec<(String, tempfile::NamedTempFile)>)>,
}

impl S3Store {
    /// A store under `out`; `handle` runs the uploads (the store is used from a blocking thread).
    pub fn new(client: Client, out: S3Url, handle: Handle) -> Self {
        S3Store {
            client,
            out,
            handle,
            uploaded: Vec::new(),
            deferred: None,
        }
    }

    /// A store that keeps every committed file in `temp_dir` until [`S3Store::publish`].
    pub fn deferred(
        client: Client,
        out: S3Url,
        handle: Handle,
        temp_dir: &std::path::Path,
    ) -> Self {
        S3Store {
            deferred: Some((temp_dir.to_path_buf(), Vec::new())),
            ..S3Store::new(client, out, handle)
        }
    }

    /// Files waiting for [`S3Store::publish`].
    pub fn staged_files(&self) -> usize {
        self.deferred.as_ref().map_or(0, |(_, files)| files.len())
    }

    /// Uploads the staged files, in path order (a deferred store; a no-op otherwise).
    pub fn publish(&mut self) -> Result<(), OutputError> {
        let mut staged = self
            .deferred
            .take()
            .map(|(_, files)| files)
            .unwrap_or_default();
        staged.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, file) in staged {
            self.upload(&path, file)?;
        }
        Ok(())
    }

    fn upload(&mut self, path: &str, file: tempfile::NamedTempFile) -> Result<(), OutputError> {
        let key = self.out.key(path);
        let url = format!("s3://{}/{key}", self.out.bucket);
        let client = self.client.clone();
        let bucket = self.out.bucket.clone();
        let k = key.clone();
        self.handle
            .block_on(async move {
                let body = ByteStream::from_path(file.path())
                    .await
                    .map_err(|e| format!("reading the staged file: {e}"))?;
                client
                    .put_object()
                    .bucket(bucket)
                    .key(k)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| request_error(&url, "PutObject", &e).to_string())?;
                drop(file);
                Ok::<(), String>(())
            })
            .map_err(|reason| OutputError::Io {
                path: format!("s3://{}/{key}", self.out.bucket),
                reason,
            })?;
        self.uploaded.push(key);
        Ok(())
    }
}

/// A table file being written to a temporary file.
pub struct TempObject {
    file: BufWriter<tempfile::NamedTempFile>,
}

impl Write for TempObject {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl TableStore for S3Store {
    type Object = TempObject;

    fn create(&mut self, path: &str) -> Result<Self::Object, OutputError> {
        let f = match &self.deferred {
            Some((dir, _)) => tempfile::NamedTempFile::new_in(dir),
            None => tempfile::NamedTempFile::new(),
        }
        .map_err(|e| OutputError::Io {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
        Ok(TempObject {
            file: BufWriter::with_capacity(256 << 10, f),
        })
    }

    fn commit(&mut self, path: &str, object: Self::Object) -> Result<(), OutputError> {
        let file = object.file.into_inner().map_err(|e| OutputError::Io {
            path: self.out.key(path),
            reason: e.to_string(),
        })?;
        match self.deferred.as_mut() {
            Some((_, staged)) => {
                staged.push((path.to_string(), file));
                Ok(())
            }
            None => self.upload(path, file),
        }
    }
}

/// S3 itself as the Lambda's [`ObjectStore`].
#[derive(Clone)]
pub struct S3Objects {
    pub client: Client,
}

impl ObjectStore for S3Objects {
    type Reader = Box<dyn tokio::io::AsyncBufRead + Send + Unpin>;
    type Tables = S3Store;

    async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Self::Reader, S3Error> {
        Ok(Box::new(open(&self.client, bucket, key, version_id).await?))
    }

    async fn get_small(&self, bucket: &str, key: &str) -> Result<SmallObject, S3Error> {
        get_small(&self.client, bucket, key).await
    }

    async fn put_small(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), S3Error> {
        put_small(&self.client, bucket, key, body).await
    }

    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        condition: Precondition,
    ) -> Result<bool, S3Error> {
        let url = format!("s3://{bucket}/{key}");
        let put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        let put = match &condition {
            Precondition::Matches(e) => put.if_match(e),
            Precondition::Absent => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if matches!(status_of(&e), Some(412) | Some(409)) => Ok(false),
            Err(e) => Err(request_error(&url, "PutObject (conditional)", &e)),
        }
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, i64)>, S3Error> {
        list(&self.client, bucket, prefix).await
    }

    fn tables(&self, output: &S3Url) -> S3Store {
        S3Store::new(self.client.clone(), output.clone(), Handle::current())
    }

    fn published(tables: &S3Store) -> usize {
        tables.uploaded.len()
    }
}
