//! A fault-injecting HTTP proxy in front of moto (S3 and DynamoDB on one port), shared by
//! the fault tests. It forwards each request to moto unless a rule of its plan matches the
//! request (by method and a fragment of its path or of its `X-Amz-Target`, the DynamoDB
//! operation), in which case it answers an S3 or DynamoDB error itself, resets the
//! connection, stalls past the client's read timeout, truncates moto's response body, or
//! forwards half of an upload and resets. Every response it forwards says
//! `Connection: close`, so each connection carries one request and every attempt of the
//! client is seen and counted.

#![allow(dead_code)] // Each test crate that includes it uses a part.

use std::sync::{Arc, Mutex};

/// The moto endpoint (S3 and DynamoDB on one port): `KEYTRAIL_TEST_S3_ENDPOINT` when the
/// test script shares its own server, else a `moto_server` this test binary starts once from
/// the project's `.venv` (scripts/test.sh creates it before `cargo test`) on a free loopback
/// port. That server is stopped by its PID when the test binary exits. A missing `.venv` or
/// a server that does not come up fails the test: there is nothing to skip.
pub fn moto() -> String {
    static ENDPOINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ENDPOINT
        .get_or_init(|| match std::env::var("KEYTRAIL_TEST_S3_ENDPOINT") {
            Ok(e) if !e.is_empty() => e,
            _ => start_moto(),
        })
        .clone()
}

fn start_moto() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let server = root.join(".venv/bin/moto_server");
    assert!(
        server.is_file(),
        "{}: missing; create it with `python3 -m venv .venv && .venv/bin/pip install -r \
         tests/python/requirements.txt` (scripts/test.sh does)",
        server.display()
    );
    // A free port: bind port 0, read it, release it for moto.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    // A watchdog shell owns moto: when this test binary (its parent's PID) is gone, it kills
    // moto by PID, so no server outlives the tests even when they panic.
    let script = format!(
        "\"$0\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; trap 'kill $m' EXIT; \
         while kill -0 {parent} 2>/dev/null; do sleep 0.5; done",
        parent = std::process::id()
    );
    let mut watchdog = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(&server)
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("start moto_server");
    // Reaped by a thread of its own (it ends only after this process does, in practice).
    std::thread::spawn(move || watchdog.wait());
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "moto_server did not listen on 127.0.0.1:{port} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    format!("http://127.0.0.1:{port}")
}

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Closes `s` with a TCP reset (linger zero): the connection failure a client must survive.
/// tokio deprecates `set_linger` because a nonzero linger blocks on drop; zero does not.
#[allow(deprecated)]
fn reset(s: &TcpStream) -> std::io::Result<()> {
    s.set_linger(Some(Duration::ZERO))
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and S3 error code, without asking moto.
    Status(u16, &'static str),
    /// Answer with this status and DynamoDB error type (`__type`), without asking moto.
    Dynamo(u16, &'static str),
    /// Close the connection with a TCP reset after reading the request head.
    Reset,
    /// Say nothing for this long, then close.
    Stall(Duration),
    /// Forward, but pass on only half of moto's response body, then close.
    TruncateBody,
    /// Forward the request head and half its body to moto, then reset both sides.
    ResetMidUpload,
}

#[derive(Debug, Clone)]
pub struct Rule {
    method: &'static str,
    key_contains: String,
    /// How many more requests this rule takes (`usize::MAX`: all).
    remaining: usize,
    fault: Fault,
}

pub fn rule(method: &'static str, key: &str, times: usize, fault: Fault) -> Rule {
    Rule {
        method,
        key_contains: key.to_string(),
        remaining: times,
        fault,
    }
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    fault: Option<String>,
}

#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    plan: Arc<Mutex<Vec<Rule>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    pub async fn start(upstream: &str, plan: Vec<Rule>) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy {
            url,
            plan: Arc::new(Mutex::new(plan)),
            seen: Arc::new(Mutex::new(Vec::new())),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let p = p.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = p.serve(conn, &upstream).await;
                });
            }
        });
        proxy
    }

    pub fn set_plan(&self, plan: Vec<Rule>) {
        *self.plan.lock().unwrap() = plan;
    }

    /// Requests seen with `method` whose path holds `key`.
    pub fn count(&self, method: &str, key: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == method && s.path.contains(key))
            .count()
    }

    pub fn faults(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.fault.is_some())
            .count()
    }

    async fn serve(&self, mut client: TcpStream, upstream: &str) -> std::io::Result<()> {
        let (head, mut rest) = read_head(&mut client).await?;
        let text = String::from_utf8_lossy(&head).to_string();
        let mut first = text.lines().next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let path = first.next().unwrap_or("").to_string();
        let target = header(&text, "x-amz-target").unwrap_or("").to_string();
        let body_len = header(&text, "content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let fault = {
            let mut plan = self.plan.lock().unwrap();
            plan.iter_mut()
                .find(|r| {
                    r.remaining > 0
                        && r.method == method
                        && (path.contains(&r.key_contains) || target.contains(&r.key_contains))
                })
                .map(|r| {
                    r.remaining = r.remaining.saturating_sub(1);
                    r.fault.clone()
                })
        };
        self.seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            fault: fault.as_ref().map(|f| format!("{f:?}")),
        });
        match fault {
            Some(Fault::Status(status, code)) => {
                drain(&mut client, body_len.saturating_sub(rest.len())).await?;
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>"
                );
                let reply = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                client.write_all(reply.as_bytes()).await?;
                client.shutdown().await
            }
            Some(Fault::Dynamo(status, code)) => {
                drain(&mut client, body_len.saturating_sub(rest.len())).await?;
                let body = format!(
                    "{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{code}\",\"message\":\"injected\"}}"
                );
                let reply = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {code}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                client.write_all(reply.as_bytes()).await?;
                client.shutdown().await
            }
            Some(Fault::Reset) => {
                reset(&client)?;
                Ok(())
            }
            Some(Fault::Stall(d)) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Some(Fault::ResetMidUpload) => {
                let mut up = TcpStream::connect(upstream).await?;
                up.write_all(&head).await?;
                let half = body_len / 2;
                rest.truncate(half);
                up.write_all(&rest).await?;
                let mut left = half - rest.len();
                let mut buf = vec![0u8; 64 << 10];
                while left > 0 {
                    let n = client.read(&mut buf[..left.min(64 << 10)]).await?;
                    if n == 0 {
                        break;
                    }
                    up.write_all(&buf[..n]).await?;
                    left -= n;
                }
                reset(&up)?;
                reset(&client)?;
                Ok(())
            }
            other => {
                let truncate = matches!(other, Some(Fault::TruncateBody));
                let up = TcpStream::connect(upstream).await?;
                let (mut up_read, mut up_write) = up.into_split();
                let (mut client_read, mut client_write) = client.into_split();
                up_write.write_all(&head).await?;
                up_write.write_all(&rest).await?;
                let pending = body_len.saturating_sub(rest.len());
                let upload = tokio::spawn(async move {
                    let mut left = pending;
                    let mut buf = vec![0u8; 64 << 10];
                    while left > 0 {
                        let n = client_read.read(&mut buf[..left.min(64 << 10)]).await?;
                        if n == 0 {
                            break;
                        }
                        up_write.write_all(&buf[..n]).await?;
                        left -= n;
                    }
                    Ok::<_, std::io::Error>(up_write)
                });
                let (rhead, rrest) = read_head(&mut up_read).await?;
                let _up_write = upload.await.unwrap()?;
                let rtext = String::from_utf8_lossy(&rhead).to_string();
                let status: u16 = rtext
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let len = if method == "HEAD" || status == 204 || status == 304 {
                    0
                } else {
                    header(&rtext, "content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0)
                };
                // Re-emit the head with `connection: close` in place of moto's own.
                let mut out = String::new();
                for (i, line) in rtext.split("\r\n").enumerate() {
                    if line.is_empty() {
                        continue;
                    }
                    if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
                        continue;
                    }
                    out.push_str(line);
                    out.push_str("\r\n");
                }
                out.push_str("connection: close\r\n\r\n");
                client_write.write_all(out.as_bytes()).await?;
                let send = if truncate { len / 2 } else { len };
                let mut body = rrest;
                while body.len() < send {
                    let mut buf = vec![0u8; 64 << 10];
                    let n = up_read.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&buf[..n]);
                }
                body.truncate(send);
                client_write.write_all(&body).await?;
                client_write.shutdown().await
            }
        }
    }
}

/// Reads up to the end of an HTTP head; returns the head and the bytes read past it.
async fn read_head<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Ok((buf, rest));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn drain(r: &mut TcpStream, mut left: usize) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    while left > 0 {
        let n = r.read(&mut buf[..left.min(64 << 10)]).await?;
        if n == 0 {
            break;
        }
        left -= n;
    }
    Ok(())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

use keytrail::audit::ledger::KeyLedger;
use keytrail::edge::s3::{store, S3Error, S3Objects, S3Url};

/// Merges `delta` into its key's ledger under `out` through `client`.
pub async fn merge_ledger(
    client: &aws_sdk_s3::Client,
    out: &S3Url,
    delta: &KeyLedger,
) -> Result<KeyLedger, S3Error> {
    let profiles = keytrail::model::profile::Profiles::default();
    store::merge_ledger(&objects(client), out, delta, &profiles).await
}

fn objects(client: &aws_sdk_s3::Client) -> S3Objects {
    S3Objects {
        client: client.clone(),
    }
}

/// The ledger of `key` under `out`, which must exist.
pub async fn ledger_of(client: &aws_sdk_s3::Client, out: &S3Url, key: &str) -> KeyLedger {
    let (ledger, _) = store::read_ledger(&objects(client), out, key)
        .await
        .expect("the ledger reads")
        .expect("the ledger exists");
    ledger
}
