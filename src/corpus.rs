//! A deterministic generator of realistic CloudTrail log files, for load tests and
//! benchmarks.
//!
//! [`plan`] lays out the file list of a corpus from a [`CorpusConfig`] (deterministic by
//! seed); [`write_file`] streams one planned file's gzip bytes; [`write_corpus`] writes the
//! whole corpus under a folder in the AWS key layout. Everything but [`write_corpus`] is
//! pure: no environment, no clock, no file system.
//!
//! Every record is generated from `(seed, record number, account, region, delivery time)`
//! alone, so a file can be written without the others, and a planned duplicate (the same
//! record, same `eventID`, delivered again in a later file) is simply generated twice.
//! Only integer arithmetic and IEEE basic operations are used, so the bytes are the same
//! on every platform.
//!
//! The world is kept consistent so that a corpus reads like a healthy account with a
//! sprinkling of anomalies (about 30 findings per 100 MB): every Proton call is covered by
//! a setup grant made before it; DisableKey/EnableKey only touch a spare key that no
//! successful call uses; RetireGrant mostly names grants from before the corpus. What
//! findings remain come from the ~1% failed calls and from the rare retirement of a
//! Proton grant created inside the corpus.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

/// What corpus to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusConfig {
    pub seed: u64,
    /// Uncompressed JSON bytes in total (approximate: files are sized from a measured
    /// average record size).
    pub target_bytes: u64,
    /// Fraction (0..=1) of records whose eventSource is `kms.amazonaws.com`.
    pub kms_share: f64,
    pub accounts: u32,
    pub regions: Vec<String>,
    /// Earliest delivery time is one hour after this (Unix ms, UTC).
    pub start_time_ms: i64,
    pub days: u32,
    /// Size of the occasional large file (0 = none). Capped at `target_bytes`.
    pub large_file_bytes: u64,
}

impl Default for CorpusConfig {
    fn default() -> Self {
        CorpusConfig {
            seed: 1,
            target_bytes: 1 << 30,
            kms_share: 0.7,
            accounts: 2,
            regions: vec!["us-east-1".to_string(), "eu-west-1".to_string()],
            // 2025-01-01T00:00:00Z
            start_time_ms: 1_735_689_600_000,
            days: 30,
            large_file_bytes: 256 << 20,
        }
    }
}

/// A record delivered again in a later file (same record, same `eventID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duplicate {
    /// Corpus-wide number of the repeated record.
    pub record: u64,
    /// Delivery time of the file the record first appeared in (its event time derives
    /// from it).
    pub origin_delivery_ms: i64,
    /// Written just before this file's new record number `before` (`new_records` = at the
    /// end). Duplicates are sorted by it.
    pub before: u64,
}

/// One file of a planned corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz`
    pub key: String,
    pub account_index: u32,
    pub region_index: u32,
    /// Delivery time (the time in the key), on a minute boundary.
    pub delivery_ms: i64,
    /// Corpus-wide number of this file's first new record; new records are numbered
    /// `first_record..first_record + new_records`.
    pub first_record: u64,
    pub new_records: u64,
    pub duplicates: Vec<Duplicate>,
    /// One of the occasional large files.
    pub large: bool,
    /// A setup file: the first file of each account and region, delivered 15 minutes
    /// after the corpus start, holding the Proton CreateGrants (one per Proton key and
    /// service template) that cover every Proton call of the corpus.
    pub setup: bool,
}

impl PlannedFile {
    /// Records in the file, duplicates included.
    pub fn records(&self) -> u64 {
        self.new_records + self.duplicates.len() as u64
    }
}

/// A written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusFile {
    pub key: String,
    pub records: u64,
    pub uncompressed_bytes: u64,
    /// Records of `kms.amazonaws.com` in the file.
    pub kms_records: u64,
}

/// Totals of a written corpus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusStats {
    pub files: u64,
    pub records: u64,
    pub kms_records: u64,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
}

// ---------------------------------------------------------------------------------------
// Randomness

const SALT_PLAN: u64 = 0x5eed_0001;
const SALT_ACCT: u64 = 0x5eed_0002;
const SALT_WEYL: u64 = 0x5eed_0003;
const SALT_EVENT: u64 = 0x5eed_0004;
const SALT_REC: u64 = 0x5eed_0005;
const SALT_KEY: u64 = 0x5eed_0006;
const SALT_ROLE: u64 = 0x5eed_0007;
const SALT_GRANT: u64 = 0x5eed_0008;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser: a bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash2(a: u64, b: u64) -> u64 {
    mix(a ^ mix(b.wrapping_add(0x632B_E59B_D9B4_E019)))
}

fn hash3(a: u64, b: u64, c: u64) -> u64 {
    hash2(hash2(a, b), c)
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn pick<'a, T: ?Sized>(&mut self, xs: &[&'a T]) -> &'a T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// Picks an index by integer weights.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

// ---------------------------------------------------------------------------------------
// Text helpers

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UP: &[u8; 16] = b"0123456789ABCDEF";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UP_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Pushes `s` escaped for the inside of a JSON string.
fn esc_inner(b: &mut String, s: &str) {
    if s.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\') {
        b.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '"' => b.push_str("\\\""),
            '\\' => b.push_str("\\\\"),
            '\n' => b.push_str("\\n"),
            '\r' => b.push_str("\\r"),
            '\t' => b.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(b, "\\u{:04x}", c as u32);
            }
            c => b.push(c),
        }
    }
}

/// Pushes `s` as a JSON string.
fn esc(b: &mut String, s: &str) {
    b.push('"');
    esc_inner(b, s);
    b.push('"');
}

fn push_chars(b: &mut String, rng: &mut Rng, alphabet: &[u8], n: usize) {
    for _ in 0..n {
        b.push(alphabet[rng.below(alphabet.len() as u64) as usize] as char);
    }
}

/// Pushes `n` base64 characters, six bits at a time.
fn push_b64(b: &mut String, rng: &mut Rng, n: usize) {
    let mut left = 0;
    let mut bits = 0u64;
    for _ in 0..n {
        if left == 0 {
            bits = rng.next();
            left = 10;
        }
        b.push(B64[(bits & 63) as usize] as char);
        bits >>= 6;
        left -= 1;
    }
}

fn push_hex(b: &mut String, rng: &mut Rng, n: usize, upper: bool) {
    let table = if upper { HEX_UP } else { HEX };
    let mut left = 0;
    let mut bits = 0u64;
    for _ in 0..n {
        if left == 0 {
            bits = rng.next();
            left = 16;
        }
        b.push(table[(bits & 15) as usize] as char);
        bits >>= 4;
        left -= 1;
    }
}

/// A version-4-shaped UUID: the 16 nibbles of `u` first (so distinct `u` give distinct
/// UUIDs), then 14 nibbles of `r`.
fn push_uuid(b: &mut String, u: u64, r: u64) {
    let mut out = [0u8; 36];
    let mut src = 0usize;
    let mut pos = 0usize;
    for (i, slot) in out.iter_mut().enumerate() {
        if i == 8 || i == 13 || i == 18 || i == 23 {
            *slot = b'-';
            continue;
        }
        let nib = if pos == 12 {
            4
        } else if pos == 16 {
            8 | (r & 3)
        } else {
            let v = if src < 16 {
                u >> (60 - 4 * src)
            } else {
                r >> (60 - 4 * (src - 16))
            };
            src += 1;
            v & 15
        };
        *slot = HEX[nib as usize];
        pos += 1;
    }
    // Safe: all ASCII.
    b.push_str(std::str::from_utf8(&out).unwrap_or_default());
}

fn push_2(b: &mut String, v: u32) {
    b.push((b'0' + (v / 10 % 10) as u8) as char);
    b.push((b'0' + (v % 10) as u8) as char);
}

fn push_u64(b: &mut String, v: u64) {
    let _ = write!(b, "{v}");
}

/// Date and time of a Unix millisecond (UTC).
#[derive(Debug, Clone, Copy)]
struct Tm {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

fn tm(ms: i64) -> Tm {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Tm {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
    }
}

fn push_year(b: &mut String, y: i64) {
    if (0..10_000).contains(&y) {
        let y = y as u32;
        push_2(b, y / 100);
        push_2(b, y % 100);
    } else {
        let _ = write!(b, "{y}");
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`
fn push_iso(b: &mut String, ms: i64) {
    let t = tm(ms);
    push_year(b, t.year);
    b.push('-');
    push_2(b, t.month);
    b.push('-');
    push_2(b, t.day);
    b.push('T');
    push_2(b, t.hour);
    b.push(':');
    push_2(b, t.minute);
    b.push(':');
    push_2(b, t.second);
    b.push('Z');
}

/// `Jan 1, 2025, 1:00:00 PM` (STS credential expirations).
fn push_human(b: &mut String, ms: i64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = tm(ms);
    let h12 = match t.hour % 12 {
        0 => 12,
        h => h,
    };
    let _ = write!(
        b,
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[(t.month - 1) as usize],
        t.day,
        t.year,
        h12,
        t.minute,
        t.second,
        if t.hour < 12 { "AM" } else { "PM" }
    );
}

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

// ---------------------------------------------------------------------------------------
// The world: accounts, regions, keys, roles, names

struct Ctx<'a> {
    seed: u64,
    accounts: Vec<String>,
    regions: Vec<&'a str>,
    kms_all: bool,
    kms_threshold: u64,
}

impl<'a> Ctx<'a> {
    fn new(cfg: &'a CorpusConfig) -> Self {
        let n = cfg.accounts.max(1) as usize;
        let mut accounts: Vec<String> = Vec::with_capacity(n);
        let mut i = 0u64;
        while accounts.len() < n {
            let id = 100_000_000_000 + hash2(cfg.seed ^ SALT_ACCT, i) % 900_000_000_000;
            let s = id.to_string();
            if !accounts.contains(&s) {
                accounts.push(s);
            }
            i += 1;
        }
        let regions = if cfg.regions.is_empty() {
            vec!["us-east-1"]
        } else {
            cfg.regions.iter().map(String::as_str).collect()
        };
        let share = if cfg.kms_share.is_nan() {
            0.0
        } else {
            cfg.kms_share.clamp(0.0, 1.0)
        };
        Ctx {
            seed: cfg.seed,
            accounts,
            regions,
            kms_all: share >= 1.0,
            // Saturating float-to-int cast.
            kms_threshold: (share * 18_446_744_073_709_551_616.0) as u64,
        }
    }

    /// A golden-ratio (Weyl) sequence decides which records are KMS records, so the
    /// share is met closely even in small files.
    fn is_kms(&self, idx: u64) -> bool {
        self.kms_all
            || idx
                .wrapping_mul(GOLDEN)
                .wrapping_add(mix(self.seed ^ SALT_WEYL))
                < self.kms_threshold
    }

    /// Generates record `idx` into `b`; returns whether it is a KMS record.
    fn record(&self, b: &mut String, idx: u64, acct: usize, reg: usize, delivery_ms: i64) -> bool {
        let mut rng = Rng::new(hash3(self.seed, SALT_REC, idx));
        let delivery_s = delivery_ms.div_euclid(1000);
        let ms = (delivery_s - 1 - rng.below(3599) as i64) * 1000;
        let kms = self.is_kms(idx);
        let mut r = self.rec(b, rng, idx, acct, reg, ms);
        if kms {
            r.kms();
        } else {
            r.other();
        }
        kms
    }

    /// Generates record `idx` of a setup file: setup grant `j`, at minute `j + 1` of the
    /// corpus (the setup file is delivered at minute 15).
    fn setup_record(
        &self,
        b: &mut String,
        idx: u64,
        acct: usize,
        reg: usize,
        j: u64,
        delivery_ms: i64,
    ) {
        let rng = Rng::new(hash3(self.seed, SALT_REC, idx));
        let ms = delivery_ms - SETUP_DELIVERY_MS + (j as i64 % 14 + 1) * 60_000;
        let templates = TEMPLATES.len() as u64;
        let grant = ((j / templates) % PROTON_KEYS, (j % templates) as usize);
        self.rec(b, rng, idx, acct, reg, ms)
            .kms_create_grant(Some(grant));
    }

    fn rec<'s>(
        &'s self,
        b: &'s mut String,
        rng: Rng,
        idx: u64,
        acct: usize,
        reg: usize,
        ms: i64,
    ) -> Rec<'s> {
        let region = self.regions[reg % self.regions.len()];
        Rec {
            b,
            rng,
            ctx: self,
            acct: &self.accounts[acct % self.accounts.len()],
            acct_i: acct as u64,
            region,
            reg_i: reg as u64,
            part: partition(region),
            ms,
            idx,
        }
    }

    /// Measures the average record size (bytes, with its separating comma).
    fn average_record_bytes(&self, start_ms: i64) -> u64 {
        const SAMPLE: u64 = 1000;
        let mut b = String::with_capacity(4096);
        let mut total = 0u64;
        for i in 0..SAMPLE {
            b.clear();
            self.record(&mut b, u64::MAX / 2 + i, 0, 0, start_ms);
            total += b.len() as u64 + 1;
        }
        (total / SAMPLE).max(1)
    }
}

const ROLES: [&str; 7] = [
    "AppServerRole",
    "OrdersServiceRole",
    "DataPipelineRole",
    "Admin",
    "ci-deployer",
    "orders-api-lambda-exec",
    "ProtonServiceRole",
];
const ROLE_ADMIN: usize = 3;
const ROLE_CI: usize = 4;
const ROLE_LAMBDA: usize = 5;
const ROLE_PROTON: usize = 6;
const APP_ROLES: [usize; 3] = [0, 1, 2];

const TEMPLATES: [&str; 4] = [
    "web-service",
    "backend-worker",
    "scheduled-task",
    "api-gateway-svc",
];
const SERVICES: [&str; 6] = [
    "checkout",
    "inventory",
    "search",
    "billing",
    "notifications",
    "image-resizer",
];
const INSTANCES: [&str; 4] = ["prod", "staging", "dev", "load-test"];
const FUNCTIONS: [&str; 4] = [
    "orders-api",
    "orders-worker",
    "thumbnailer",
    "nightly-report",
];
const TABLES: [&str; 4] = ["Orders", "Customers", "Sessions", "inventory-v2"];
const SECRETS: [&str; 3] = ["prod/orders/db", "prod/stripe-api-key", "staging/orders/db"];
const BUCKETS: [&str; 4] = ["data", "logs", "proton-artifacts", "backups"];
/// Object keys, some of which need JSON escaping.
const OBJECT_KEYS: [&str; 12] = [
    "logs/2025/01/app.log",
    "exports/orders/part-00000.snappy.parquet",
    "exports/orders/part-00001.snappy.parquet",
    "images/products/12345/main.jpg",
    "images/products/12345/thumb@2x.png",
    "reports/Q1 \"final\".csv",
    "données/été-2025/relevé.csv",
    "backups/db/2025-01-01T00:00:00Z.sql.gz",
    "tmp/upload\twith-tab.txt",
    "legacy\\windows\\path.txt",
    "proton/templates/web-service/v1.2/schema.yaml",
    "static/js/app.3f9a1c.js",
];
const PEOPLE: [&str; 4] = [
    "alice@example.com",
    "bob@example.com",
    "carol.ops",
    "dmitri",
];
const SDK_AGENTS: [&str; 6] = [
    "aws-sdk-go-v2/1.32.7 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64",
    "Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 os/linux#5.10.230-223.885.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.90",
    "aws-sdk-java/2.29.43 Linux/5.10.230-223.885.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard",
    "aws-cli/2.22.26 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0-1021-aws md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#s3.cp",
    "aws-sdk-js/3.723.0 ua/2.1 os/linux#5.10.230-242.908.amzn2.x86_64 lang/js md/nodejs#20.18.1 api/dynamodb#3.723.0 m/E,N",
    "aws-sdk-rust/1.3.4 os/linux lang/rust/1.84.0",
];
const CONSOLE_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const TERRAFORM_AGENT: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.10.3 (+https://www.terraform.io) terraform-provider-aws/5.82.2 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/sts#1.33.3";
/// Keys in use per account and region: 0 and 1 serve Proton, 1..5 the other services.
const KMS_KEYS_PER_REGION: u64 = 5;
/// A spare key, used by no successful call: DisableKey/EnableKey and DisabledException
/// failures go to it, so the corpus's successful calls never meet a disabled key.
const SPARE_KEY: u64 = KMS_KEYS_PER_REGION;
/// Keys Proton uses (0..PROTON_KEYS).
const PROTON_KEYS: u64 = 2;
/// Grant slots of the in-corpus CreateGrants; RetireGrant mostly names slots beyond them
/// (grants created before the corpus starts).
const GRANT_SLOTS: u64 = 16;
/// Grant slots of the setup grants (never retired).
const SETUP_SLOT_BASE: u64 = 1000;
/// Grant slots of the EC2/EBS grants (apart from Proton's, which share key 1).
const EBS_SLOT_BASE: u64 = 2000;
/// Records of a setup file: one Proton grant per Proton key and template.
const SETUP_GRANTS: u64 = PROTON_KEYS * TEMPLATES.len() as u64;

/// How a key-use call fails.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Failure {
    None,
    Denied,
    Disabled,
}

/// Where a call came from.
#[derive(Clone, Copy)]
enum Src<'s> {
    /// A service host (`s3.amazonaws.com`), also used as user agent.
    Service(&'s str),
    /// A private VPC address.
    Private,
    /// A public address.
    Public,
}

/// Writes one record.
struct Rec<'a> {
    b: &'a mut String,
    rng: Rng,
    ctx: &'a Ctx<'a>,
    acct: &'a str,
    acct_i: u64,
    region: &'a str,
    reg_i: u64,
    part: &'static str,
    ms: i64,
    idx: u64,
}

impl Rec<'_> {
    // ---- shared pieces --------------------------------------------------------------

    fn s(&mut self, v: &str) {
        esc(self.b, v);
    }

    fn open(&mut self, version: &str) {
        self.b.push_str("{\"eventVersion\":\"");
        self.b.push_str(version);
        self.b.push_str("\",\"userIdentity\":");
    }

    fn role_id(&mut self, role: usize) {
        self.b.push_str("AROA");
        let mut r = Rng::new(hash3(self.ctx.seed ^ SALT_ROLE, self.acct_i, role as u64));
        push_chars(self.b, &mut r, UP_ALNUM, 17);
    }

    fn session_name(&mut self, role: usize) -> String {
        let mut s = String::with_capacity(24);
        match role {
            ROLE_ADMIN => s.push_str(self.rng.pick(&PEOPLE)),
            ROLE_CI => {
                s.push_str("GitHubActions-");
                push_u64(&mut s, self.rng.range(1_000_000_000, 9_999_999_999));
            }
            ROLE_LAMBDA => s.push_str(self.rng.pick(&FUNCTIONS)),
            ROLE_PROTON => s.push_str("AWSProton-ServiceInstanceProvisioning"),
            2 => s.push_str(
                self.rng
                    .pick(&["etl-nightly", "etl-hourly", "backfill-2025"]),
            ),
            _ => {
                s.push_str("i-0");
                let mut r = Rng::new(hash3(self.ctx.seed, self.acct_i, self.rng.below(12)));
                push_hex(&mut s, &mut r, 16, false);
            }
        }
        s
    }

    /// An assumed-role identity; returns the session ARN (for error messages).
    fn assumed(&mut self, role: usize, session: &str, invoked_by: Option<&str>) -> String {
        let role_name = ROLES[role];
        let mut arn = String::with_capacity(80);
        let _ = write!(
            arn,
            "arn:{}:sts::{}:assumed-role/{}/{}",
            self.part, self.acct, role_name, session
        );
        self.b
            .push_str("{\"type\":\"AssumedRole\",\"principalId\":\"");
        self.role_id(role);
        self.b.push(':');
        esc_inner(self.b, session);
        self.b.push_str("\",\"arn\":");
        esc(self.b, &arn);
        self.b.push_str(",\"accountId\":\"");
        self.b.push_str(self.acct);
        self.b.push_str("\",\"accessKeyId\":\"ASIA");
        push_chars(self.b, &mut self.rng, UP_ALNUM, 16);
        self.b.push_str(
            "\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\",\"principalId\":\"",
        );
        self.role_id(role);
        let _ = write!(
            self.b,
            "\",\"arn\":\"arn:{}:iam::{}:role/{}\",\"accountId\":\"{}\",\"userName\":\"{}\"}},\"webIdFederationData\":{{}},\"attributes\":{{\"creationDate\":\"",
            self.part, self.acct, role_name, self.acct, role_name
        );
        let created = self.ms - self.rng.below(3600) as i64 * 1000;
        push_iso(self.b, created);
        self.b.push_str("\",\"mfaAuthenticated\":\"");
        self.b
            .push_str(if role == ROLE_ADMIN { "true" } else { "false" });
        self.b.push_str("\"}}");
        if let Some(svc) = invoked_by {
            self.b.push_str(",\"invokedBy\":");
            esc(self.b, svc);
        }
        self.b.push('}');
        arn
    }

    fn iam_user(&mut self, user: &str) -> String {
        let arn = format!("arn:{}:iam::{}:user/{}", self.part, self.acct, user);
        self.b
            .push_str("{\"type\":\"IAMUser\",\"principalId\":\"AIDA");
        let mut r = Rng::new(hash3(self.ctx.seed ^ SALT_ROLE, self.acct_i, 99));
        push_chars(self.b, &mut r, UP_ALNUM, 17);
        self.b.push_str("\",\"arn\":");
        esc(self.b, &arn);
        self.b.push_str(",\"accountId\":\"");
        self.b.push_str(self.acct);
        self.b.push_str("\",\"accessKeyId\":\"AKIA");
        push_chars(self.b, &mut r, UP_ALNUM, 16);
        self.b.push_str("\",\"userName\":");
        esc(self.b, user);
        self.b.push('}');
        arn
    }

    /// An SDK user agent (short ones are the most common).
    fn agent(&mut self) -> &'static str {
        SDK_AGENTS[self.rng.weighted(&[35, 20, 8, 7, 15, 15])]
    }

    fn service_identity(&mut self, svc: &str) {
        self.b.push_str("{\"type\":\"AWSService\",\"invokedBy\":");
        esc(self.b, svc);
        self.b.push('}');
    }

    /// eventTime .. userAgent.
    fn call(&mut self, source: &str, name: &str, src: Src<'_>, agent: &str) {
        self.b.push_str(",\"eventTime\":\"");
        push_iso(self.b, self.ms);
        self.b.push_str("\",\"eventSource\":\"");
        self.b.push_str(source);
        self.b.push_str("\",\"eventName\":\"");
        self.b.push_str(name);
        self.b.push_str("\",\"awsRegion\":");
        esc(self.b, self.region);
        self.b.push_str(",\"sourceIPAddress\":\"");
        match src {
            Src::Service(host) => esc_inner(self.b, host),
            Src::Private => {
                let v = self.rng.next();
                let _ = write!(
                    self.b,
                    "10.{}.{}.{}",
                    v & 255,
                    (v >> 8) & 255,
                    1 + (v >> 16) % 254
                );
            }
            Src::Public => {
                let v = self.rng.next();
                let first = [3u64, 18, 34, 52, 54, 81, 92, 185, 203][(v % 9) as usize];
                let _ = write!(
                    self.b,
                    "{}.{}.{}.{}",
                    first,
                    (v >> 8) & 255,
                    (v >> 16) & 255,
                    1 + (v >> 24) % 254
                );
            }
        }
        self.b.push_str("\",\"userAgent\":");
        match src {
            Src::Service(host) => esc(self.b, host),
            _ => esc(self.b, agent),
        }
    }

    fn error(&mut self, code: &str, message: &str) {
        self.b.push_str(",\"errorCode\":\"");
        self.b.push_str(code);
        self.b.push_str("\",\"errorMessage\":");
        esc(self.b, message);
    }

    fn request_uuid(&mut self) {
        self.b.push_str(",\"requestID\":\"");
        let (u, r) = (self.rng.next(), self.rng.next());
        push_uuid(self.b, u, r);
        self.b.push('"');
    }

    fn request_hex(&mut self) {
        self.b.push_str(",\"requestID\":\"");
        push_hex(self.b, &mut self.rng, 16, true);
        self.b.push('"');
    }

    /// `eventID`, unique per (seed, record number).
    fn event_id(&mut self) {
        self.b.push_str(",\"eventID\":\"");
        let u = mix(self.idx.wrapping_add(mix(self.ctx.seed ^ SALT_EVENT)));
        let r = hash2(u, self.ctx.seed);
        push_uuid(self.b, u, r);
        self.b.push('"');
    }

    fn read_only(&mut self, v: bool) {
        self.b.push_str(if v {
            ",\"readOnly\":true"
        } else {
            ",\"readOnly\":false"
        });
    }

    /// eventType .. end of the record.
    fn close(&mut self, management: bool, tls_host: Option<&str>, console: bool) {
        self.b
            .push_str(",\"eventType\":\"AwsApiCall\",\"managementEvent\":");
        self.b.push_str(if management { "true" } else { "false" });
        self.b.push_str(",\"recipientAccountId\":\"");
        self.b.push_str(self.acct);
        self.b.push_str("\",\"eventCategory\":\"");
        self.b
            .push_str(if management { "Management" } else { "Data" });
        self.b.push('"');
        if let Some(host) = tls_host {
            let (v, suite) = if self.rng.chance(800) {
                ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
            } else {
                ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
            };
            let _ = write!(
                self.b,
                ",\"tlsDetails\":{{\"tlsVersion\":\"{v}\",\"cipherSuite\":\"{suite}\",\"clientProvidedHostHeader\":"
            );
            esc(self.b, host);
            self.b.push('}');
        }
        if console {
            self.b
                .push_str(",\"sessionCredentialFromConsole\":\"true\"");
        }
        self.b.push('}');
    }

    fn host(&self, service: &str) -> String {
        format!("{service}.{}.amazonaws.com", self.region)
    }

    // ---- KMS ---------------------------------------------------------------------------

    fn key_id(&self, k: u64) -> (u64, u64) {
        let h = hash3(self.ctx.seed ^ SALT_KEY, self.acct_i, self.reg_i * 64 + k);
        (h, mix(h))
    }

    fn key_arn(&self, k: u64) -> String {
        let (u, r) = self.key_id(k);
        let mut s = String::with_capacity(96);
        s.push_str("arn:");
        s.push_str(self.part);
        s.push_str(":kms:");
        s.push_str(self.region);
        s.push(':');
        s.push_str(self.acct);
        s.push_str(":key/");
        push_uuid(&mut s, u, r);
        s
    }

    fn key_resources(&mut self, keys: &[&str]) {
        self.b.push_str(",\"resources\":[");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                self.b.push(',');
            }
            self.b.push_str("{\"accountId\":\"");
            self.b.push_str(self.acct);
            self.b.push_str("\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"");
            esc_inner(self.b, k);
            self.b.push_str("\"}");
        }
        self.b.push(']');
    }

    fn template_arn(&self, t: &str) -> String {
        format!(
            "arn:{}:proton:{}:{}:service-template/{}",
            self.part, self.region, self.acct, t
        )
    }

    fn kms(&mut self) {
        // Per mille of KMS records.
        let kind = self.rng.weighted(&[200, 8, 5, 2, 2, 20, 5, 758]);
        match kind {
            0 => self.kms_proton_use(),
            1 => self.kms_create_grant(None),
            2 => self.kms_retire_grant(),
            3 => self.kms_key_state("DisableKey"),
            4 => self.kms_key_state("EnableKey"),
            5 => self.kms_admin_read("DescribeKey"),
            6 => self.kms_admin_read("ListAliases"),
            _ => self.kms_service_use(),
        }
    }

    fn crypto_op(&mut self) -> &'static str {
        match self.rng.weighted(&[55, 30, 10, 5]) {
            0 => "Decrypt",
            1 => "GenerateDataKey",
            2 => "Encrypt",
            _ => "GenerateDataKeyWithoutPlaintext",
        }
    }

    /// Request parameters of a crypto call; `context` writes the context object's body.
    fn crypto_params(&mut self, op: &str, key: Option<&str>, context: &[(&str, &str)]) {
        self.b.push_str(",\"requestParameters\":{");
        let mut first = true;
        if let Some(k) = key {
            self.b.push_str("\"keyId\":");
            esc(self.b, k);
            first = false;
        }
        if !first {
            self.b.push(',');
        }
        if op.starts_with("GenerateDataKey") {
            if self.rng.chance(850) {
                self.b.push_str("\"keySpec\":\"AES_256\"");
            } else {
                self.b.push_str("\"numberOfBytes\":32");
            }
        } else {
            self.b
                .push_str("\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"");
        }
        if !context.is_empty() {
            self.b.push_str(",\"encryptionContext\":{");
            for (i, (k, v)) in context.iter().enumerate() {
                if i > 0 {
                    self.b.push(',');
                }
                esc(self.b, k);
                self.b.push(':');
                esc(self.b, v);
            }
            self.b.push('}');
        }
        self.b.push_str("},\"responseElements\":null");
    }

    /// ~1% of key-use calls fail.
    /// Draws whether a key-use call fails (rates per mille).
    fn failure(&mut self, denied: u64, disabled: u64) -> Failure {
        let x = self.rng.below(1000);
        if x < denied {
            Failure::Denied
        } else if x < denied + disabled {
            Failure::Disabled
        } else {
            Failure::None
        }
    }

    fn write_failure(&mut self, f: Failure, op: &str, who: &str, key_arn: &str) {
        match f {
            Failure::None => {}
            Failure::Denied => {
                let msg = format!(
                    "User: {who} is not authorized to perform: kms:{op} on resource: {key_arn} because no identity-based policy allows the kms:{op} action"
                );
                self.error("AccessDeniedException", &msg);
            }
            Failure::Disabled => {
                self.error("DisabledException", &format!("{key_arn} is disabled."));
            }
        }
    }

    fn kms_proton_use(&mut self) {
        let op = self.crypto_op();
        // Proton's calls rarely fail (each failure is a finding).
        let fail = self.failure(1, 1);
        let k = if fail == Failure::Disabled {
            SPARE_KEY
        } else {
            self.rng.below(PROTON_KEYS)
        };
        let key = self.key_arn(k);
        let svc_i = self.rng.below(SERVICES.len() as u64) as usize;
        let template = self.template_arn(TEMPLATES[svc_i % TEMPLATES.len()]);
        let resource = if self.rng.chance(150) {
            template.clone()
        } else {
            format!(
                "arn:{}:proton:{}:{}:service/{}/service-instance/{}",
                self.part,
                self.region,
                self.acct,
                SERVICES[svc_i],
                self.rng.pick(&INSTANCES)
            )
        };
        let invoked_by = if self.rng.chance(900) {
            "proton.amazonaws.com".to_string()
        } else {
            format!("proton.{}.amazonaws.com", self.region)
        };
        self.open("1.11");
        self.service_identity(&invoked_by);
        self.call(
            "kms.amazonaws.com",
            op,
            Src::Service("proton.amazonaws.com"),
            "",
        );
        self.write_failure(fail, op, "proton.amazonaws.com", &key);
        let key_param = if op == "Decrypt" {
            None
        } else {
            Some(key.as_str())
        };
        self.crypto_params(
            op,
            key_param,
            &[
                ("aws:proton:template", &template),
                ("aws:proton:resource", &resource),
            ],
        );
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        self.key_resources(&[&key]);
        self.close(true, None, false);
    }

    fn kms_service_use(&mut self) {
        let op = self.crypto_op();
        let which = self.rng.weighted(&[35, 15, 10, 6, 5, 29]);
        let fail = self.failure(7, 5);
        let k = if fail == Failure::Disabled {
            SPARE_KEY
        } else {
            1 + self.rng.below(KMS_KEYS_PER_REGION - 1)
        };
        let key = self.key_arn(k);
        let mut ctx_owned: Vec<(&str, String)> = Vec::with_capacity(2);
        let (role, session, invoked_by): (usize, String, Option<&str>) = match which {
            0 => {
                let bucket = format!("acme-{}-{}", self.rng.pick(&BUCKETS), self.acct);
                let arn = if self.rng.chance(300) {
                    format!("arn:{}:s3:::{bucket}", self.part)
                } else {
                    format!(
                        "arn:{}:s3:::{bucket}/{}",
                        self.part,
                        self.rng.pick(&OBJECT_KEYS)
                    )
                };
                ctx_owned.push(("aws:s3:arn", arn));
                let role = APP_ROLES[self.rng.below(3) as usize];
                (role, self.session_name(role), Some("s3.amazonaws.com"))
            }
            1 => {
                ctx_owned.push(("aws:dynamodb:tableName", self.rng.pick(&TABLES).to_string()));
                ctx_owned.push(("aws:dynamodb:subscriberId", self.acct.to_string()));
                let role = APP_ROLES[self.rng.below(2) as usize];
                (
                    role,
                    self.session_name(role),
                    Some("dynamodb.amazonaws.com"),
                )
            }
            2 => {
                let f = self.rng.pick(&FUNCTIONS);
                ctx_owned.push((
                    "aws:lambda:FunctionArn",
                    format!(
                        "arn:{}:lambda:{}:{}:function:{f}",
                        self.part, self.region, self.acct
                    ),
                ));
                (ROLE_LAMBDA, f.to_string(), None)
            }
            3 => {
                let mut id = String::with_capacity(6);
                push_chars(&mut id, &mut self.rng, ALNUM, 6);
                ctx_owned.push((
                    "SecretARN",
                    format!(
                        "arn:{}:secretsmanager:{}:{}:secret:{}-{id}",
                        self.part,
                        self.region,
                        self.acct,
                        self.rng.pick(&SECRETS)
                    ),
                ));
                let mut v = String::with_capacity(36);
                let (a, c) = (self.rng.next(), self.rng.next());
                push_uuid(&mut v, a, c);
                ctx_owned.push(("SecretVersionId", v));
                let role = APP_ROLES[self.rng.below(3) as usize];
                (
                    role,
                    self.session_name(role),
                    Some("secretsmanager.amazonaws.com"),
                )
            }
            4 => {
                let mut vol = String::from("vol-0");
                push_hex(&mut vol, &mut self.rng, 16, false);
                ctx_owned.push(("aws:ebs:id", vol));
                (0, self.session_name(0), Some("ec2.amazonaws.com"))
            }
            _ => {
                match self.rng.below(4) {
                    0 => {}
                    1 => {
                        ctx_owned.push((
                            "tenant",
                            self.rng
                                .pick(&["acme-corp", "globex", "initech"])
                                .to_string(),
                        ));
                        ctx_owned.push(("purpose", "backup".to_string()));
                    }
                    2 => ctx_owned.push(("app", "orders".to_string())),
                    _ => ctx_owned.push(("aws-crypto-public-key", {
                        let mut k = String::with_capacity(88);
                        push_b64(&mut k, &mut self.rng, 86);
                        k.push_str("==");
                        k
                    })),
                }
                let role = APP_ROLES[self.rng.below(3) as usize];
                (role, self.session_name(role), None)
            }
        };
        let direct = invoked_by.is_none();
        let version = if self.rng.chance(900) { "1.11" } else { "1.10" };
        self.open(version);
        let who = if which == 4 {
            // EBS volumes are used by EC2 itself, through a grant.
            self.service_identity("ec2.amazonaws.com");
            "ec2.amazonaws.com".to_string()
        } else if direct && self.rng.chance(300) {
            self.iam_user("svc-orders-batch")
        } else {
            self.assumed(role, &session, invoked_by)
        };
        let src = match invoked_by {
            Some(s) => Src::Service(s),
            None => Src::Private,
        };
        let agent = if role == ROLE_LAMBDA {
            "AWS Internal"
        } else {
            self.agent()
        };
        self.call("kms.amazonaws.com", op, src, agent);
        self.write_failure(fail, op, &who, &key);
        let key_param = if op == "Decrypt" && !(direct && self.rng.chance(300)) {
            None
        } else if direct && self.rng.chance(400) {
            Some("alias/orders-app-data".to_string())
        } else {
            Some(key.clone())
        };
        let ctx: Vec<(&str, &str)> = ctx_owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.crypto_params(op, key_param.as_deref(), &ctx);
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        self.key_resources(&[&key]);
        let host = self.host("kms");
        self.close(true, direct.then_some(host.as_str()), false);
    }

    fn grant_id(&self, key: u64, slot: u64) -> String {
        let mut s = String::with_capacity(64);
        let mut r = Rng::new(hash3(
            self.ctx.seed ^ SALT_GRANT,
            self.acct_i * 1024 + self.reg_i * 16 + key,
            slot,
        ));
        push_hex(&mut s, &mut r, 64, false);
        s
    }

    /// A CreateGrant; `setup` = (Proton key, template) of a setup grant.
    fn kms_create_grant(&mut self, setup: Option<(u64, usize)>) {
        let proton = setup.is_some() || self.rng.chance(700);
        let (k, slot, template) = match setup {
            Some((k, t)) => (k, SETUP_SLOT_BASE + t as u64, TEMPLATES[t]),
            None if proton => (
                self.rng.below(PROTON_KEYS),
                self.rng.below(GRANT_SLOTS),
                self.rng.pick(&TEMPLATES),
            ),
            None => (
                1 + self.rng.below(KMS_KEYS_PER_REGION - 1),
                EBS_SLOT_BASE + self.rng.below(GRANT_SLOTS),
                "",
            ),
        };
        let key = self.key_arn(k);
        let grant = self.grant_id(k, slot);
        self.open("1.11");
        let (role, via) = if proton {
            (ROLE_CI, "proton.amazonaws.com")
        } else {
            (0, "ec2.amazonaws.com")
        };
        let session = self.session_name(role);
        self.assumed(role, &session, Some(via));
        self.call("kms.amazonaws.com", "CreateGrant", Src::Service(via), "");
        self.b.push_str(",\"requestParameters\":{\"keyId\":\"");
        esc_inner(self.b, &key);
        if proton {
            let template = self.template_arn(template);
            self.b.push_str(
                "\",\"granteePrincipal\":\"proton.amazonaws.com\",\"retiringPrincipal\":\"proton.amazonaws.com\",\"operations\":[\"Decrypt\",\"Encrypt\",\"GenerateDataKey\",\"GenerateDataKeyWithoutPlaintext\",\"ReEncryptFrom\",\"ReEncryptTo\",\"DescribeKey\"],\"constraints\":{\"encryptionContextSubset\":{\"aws:proton:template\":",
            );
            esc(self.b, &template);
            self.b.push_str("}}}");
        } else {
            let _ = write!(
                self.b,
                "\",\"granteePrincipal\":\"arn:{}:iam::{}:role/{}\",\"retiringPrincipal\":\"ec2.amazonaws.com\",\"operations\":[\"Decrypt\",\"GenerateDataKeyWithoutPlaintext\",\"ReEncryptFrom\",\"ReEncryptTo\",\"CreateGrant\"],\"constraints\":{{\"encryptionContextSubset\":{{\"aws:ebs:id\":\"vol-0",
                self.part, self.acct, ROLES[0]
            );
            push_hex(self.b, &mut self.rng, 16, false);
            self.b.push_str("\"}}}");
        }
        self.b.push_str(",\"responseElements\":{\"grantId\":\"");
        self.b.push_str(&grant);
        self.b.push_str("\",\"keyId\":\"");
        esc_inner(self.b, &key);
        self.b.push_str("\"}");
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        self.key_resources(&[&key]);
        self.close(true, None, false);
    }

    fn kms_retire_grant(&mut self) {
        let proton = self.rng.chance(700);
        let k = if proton {
            self.rng.below(PROTON_KEYS)
        } else {
            1 + self.rng.below(KMS_KEYS_PER_REGION - 1)
        };
        let key = self.key_arn(k);
        // Proton mostly retires grants made before the corpus starts; one in ten retires
        // a grant created in it (Proton's data stays readable through the setup grants).
        let slot = if !proton {
            EBS_SLOT_BASE + self.rng.below(GRANT_SLOTS)
        } else if self.rng.chance(100) {
            self.rng.below(GRANT_SLOTS)
        } else {
            GRANT_SLOTS + self.rng.below(2 * GRANT_SLOTS)
        };
        let grant = self.grant_id(k, slot);
        let svc = if proton {
            "proton.amazonaws.com"
        } else {
            "ec2.amazonaws.com"
        };
        self.open("1.11");
        self.service_identity(svc);
        self.call("kms.amazonaws.com", "RetireGrant", Src::Service(svc), "");
        self.b.push_str(
            ",\"requestParameters\":null,\"responseElements\":null,\"additionalEventData\":{\"grantId\":\"",
        );
        self.b.push_str(&grant);
        self.b.push_str("\"}");
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        self.key_resources(&[&key]);
        self.close(true, None, false);
    }

    fn kms_key_state(&mut self, name: &str) {
        let key = self.key_arn(SPARE_KEY);
        let session = self.session_name(ROLE_ADMIN);
        self.open("1.11");
        self.assumed(ROLE_ADMIN, &session, None);
        self.call("kms.amazonaws.com", name, Src::Public, CONSOLE_AGENT);
        self.b.push_str(",\"requestParameters\":{\"keyId\":\"");
        // The console sends the bare key id.
        let id_at = key.rfind('/').map_or(0, |i| i + 1);
        self.b.push_str(&key[id_at..]);
        self.b.push_str("\"},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        self.key_resources(&[&key]);
        let host = self.host("kms");
        self.close(true, Some(&host), true);
    }

    fn kms_admin_read(&mut self, name: &str) {
        let ci = self.rng.chance(500);
        let role = if ci { ROLE_CI } else { ROLE_ADMIN };
        let session = self.session_name(role);
        self.open("1.11");
        self.assumed(role, &session, None);
        let (src, agent) = if ci {
            (Src::Private, TERRAFORM_AGENT)
        } else {
            (Src::Public, CONSOLE_AGENT)
        };
        self.call("kms.amazonaws.com", name, src, agent);
        if name == "DescribeKey" {
            let k = self.rng.below(KMS_KEYS_PER_REGION + 1);
            let key = self.key_arn(k);
            self.b.push_str(",\"requestParameters\":{\"keyId\":");
            esc(self.b, &key);
            self.b.push_str("},\"responseElements\":null");
            self.request_uuid();
            self.event_id();
            self.read_only(true);
            self.key_resources(&[&key]);
        } else {
            self.b
                .push_str(",\"requestParameters\":{\"limit\":100},\"responseElements\":null");
            self.request_uuid();
            self.event_id();
            self.read_only(true);
        }
        let host = self.host("kms");
        self.close(true, Some(&host), !ci);
    }

    // ---- other services ---------------------------------------------------------------

    fn other(&mut self) {
        match self
            .rng
            .weighted(&[20, 12, 4, 6, 3, 3, 12, 3, 3, 2, 6, 2, 5, 4, 3, 4, 2, 2, 1])
        {
            0 => self.s3_object("GetObject"),
            1 => self.s3_object("PutObject"),
            2 => self.s3_object("HeadObject"),
            3 => self.ec2_describe("DescribeInstances"),
            4 => self.ec2_describe("DescribeVolumes"),
            5 => self.ec2_describe("DescribeSecurityGroups"),
            6 => self.sts_assume_role(),
            7 => self.sts_caller_identity(),
            8 => self.iam("GetRole"),
            9 => self.iam("ListAttachedRolePolicies"),
            10 => self.lambda_invoke(),
            11 => self.lambda_get_function(),
            12 => self.dynamodb("GetItem"),
            13 => self.dynamodb("PutItem"),
            14 => self.dynamodb("Query"),
            15 => self.logs("CreateLogStream"),
            16 => self.logs("DescribeLogGroups"),
            17 => self.proton_read("GetService"),
            _ => self.proton_read("ListServiceInstances"),
        }
    }

    fn app_identity(&mut self) -> usize {
        let role = APP_ROLES[self.rng.below(3) as usize];
        let session = self.session_name(role);
        self.assumed(role, &session, None);
        role
    }

    fn s3_object(&mut self, name: &str) {
        let bucket = format!("acme-{}-{}", self.rng.pick(&BUCKETS), self.acct);
        let key = self.rng.pick(&OBJECT_KEYS);
        self.open("1.10");
        self.app_identity();
        let agent = self.agent();
        self.call("s3.amazonaws.com", name, Src::Private, agent);
        let host = format!("{bucket}.s3.{}.amazonaws.com", self.region);
        self.b.push_str(",\"requestParameters\":{\"bucketName\":");
        esc(self.b, &bucket);
        self.b.push_str(",\"Host\":");
        esc(self.b, &host);
        self.b.push_str(",\"key\":");
        esc(self.b, key);
        if name == "PutObject" {
            self.b.push_str(
                ",\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-server-side-encryption-aws-kms-key-id\":",
            );
            let k = self.key_arn(2);
            esc(self.b, &k);
        }
        self.b.push_str("},\"responseElements\":");
        if name == "PutObject" {
            self.b
                .push_str("{\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-version-id\":\"");
            push_b64(self.b, &mut self.rng, 32);
            self.b.push_str("\"}");
        } else {
            self.b.push_str("null");
        }
        let bytes = self.rng.range(200, 50_000_000);
        let (inb, outb) = if name == "PutObject" {
            (bytes, 0)
        } else if name == "GetObject" {
            (0, bytes)
        } else {
            (0, 0)
        };
        let _ = write!(
            self.b,
            ",\"additionalEventData\":{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":{inb},\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\""
        );
        push_b64(self.b, &mut self.rng, 76);
        let _ = write!(self.b, "\",\"bytesTransferredOut\":{outb}}}");
        self.request_hex();
        self.event_id();
        self.read_only(name != "PutObject");
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:{}:s3:::{bucket}/",
            self.part
        );
        esc_inner(self.b, key);
        let _ = write!(
            self.b,
            "\"}},{{\"accountId\":\"{}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:{}:s3:::{bucket}\"}}]",
            self.acct, self.part
        );
        self.close(false, Some(&host), false);
    }

    fn ec2_describe(&mut self, name: &str) {
        self.open("1.11");
        let ci = self.rng.chance(400);
        if ci {
            let session = self.session_name(ROLE_CI);
            self.assumed(ROLE_CI, &session, None);
            self.call("ec2.amazonaws.com", name, Src::Public, TERRAFORM_AGENT);
        } else {
            self.app_identity();
            let agent = self.agent();
            self.call("ec2.amazonaws.com", name, Src::Private, agent);
        }
        match name {
            "DescribeInstances" => {
                self.b.push_str(",\"requestParameters\":{\"instancesSet\":{\"items\":[{\"instanceId\":\"i-0");
                push_hex(self.b, &mut self.rng, 16, false);
                self.b.push_str("\"}]},\"filterSet\":{}}");
            }
            "DescribeVolumes" => self.b.push_str(
                ",\"requestParameters\":{\"volumeSet\":{},\"filterSet\":{\"items\":[{\"name\":\"tag:Environment\",\"valueSet\":{\"items\":[{\"value\":\"prod\"}]}}]},\"maxResults\":500}",
            ),
            _ => self.b.push_str(
                ",\"requestParameters\":{\"securityGroupSet\":{},\"securityGroupIdSet\":{},\"filterSet\":{\"items\":[{\"name\":\"vpc-id\",\"valueSet\":{\"items\":[{\"value\":\"vpc-0a1b2c3d4e5f60718\"}]}}]}}",
            ),
        }
        self.b.push_str(",\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("ec2");
        self.close(true, Some(&host), false);
    }

    fn sts_assume_role(&mut self) {
        let target = self.rng.below(ROLES.len() as u64) as usize;
        let session = self.session_name(target);
        self.open("1.08");
        let by_service = self.rng.chance(400);
        if by_service {
            let svc = self.rng.pick(&[
                "ec2.amazonaws.com",
                "lambda.amazonaws.com",
                "proton.amazonaws.com",
                "ecs-tasks.amazonaws.com",
            ]);
            self.service_identity(svc);
            self.call("sts.amazonaws.com", "AssumeRole", Src::Service(svc), "");
        } else {
            let user = self.rng.pick(&["deploy-bot", "alice", "bob"]);
            self.iam_user(user);
            let agent = self.agent();
            self.call("sts.amazonaws.com", "AssumeRole", Src::Public, agent);
        }
        let _ = write!(
            self.b,
            ",\"requestParameters\":{{\"roleArn\":\"arn:{}:iam::{}:role/{}\",\"roleSessionName\":",
            self.part, self.acct, ROLES[target]
        );
        esc(self.b, &session);
        self.b.push_str(",\"durationSeconds\":3600},\"responseElements\":{\"credentials\":{\"accessKeyId\":\"ASIA");
        push_chars(self.b, &mut self.rng, UP_ALNUM, 16);
        self.b.push_str("\",\"sessionToken\":\"IQoJb3JpZ2luX2VjE");
        push_b64(self.b, &mut self.rng, 280);
        self.b.push_str("\",\"expiration\":\"");
        push_human(self.b, self.ms + 3_600_000);
        self.b
            .push_str("\"},\"assumedRoleUser\":{\"assumedRoleId\":\"");
        self.role_id(target);
        self.b.push(':');
        esc_inner(self.b, &session);
        let _ = write!(
            self.b,
            "\",\"arn\":\"arn:{}:sts::{}:assumed-role/{}/",
            self.part, self.acct, ROLES[target]
        );
        esc_inner(self.b, &session);
        self.b.push_str("\"}}");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:{}:iam::{}:role/{}\"}}]",
            self.acct, self.part, self.acct, ROLES[target]
        );
        let host = if by_service {
            None
        } else {
            Some(self.host("sts"))
        };
        self.close(true, host.as_deref(), false);
    }

    fn sts_caller_identity(&mut self) {
        self.open("1.08");
        self.app_identity();
        let agent = self.agent();
        self.call(
            "sts.amazonaws.com",
            "GetCallerIdentity",
            Src::Private,
            agent,
        );
        self.b
            .push_str(",\"requestParameters\":null,\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("sts");
        self.close(true, Some(&host), false);
    }

    fn iam(&mut self, name: &str) {
        let session = self.session_name(ROLE_ADMIN);
        self.open("1.11");
        self.assumed(ROLE_ADMIN, &session, None);
        self.call("iam.amazonaws.com", name, Src::Public, CONSOLE_AGENT);
        self.b.push_str(",\"requestParameters\":{\"roleName\":");
        let role = self.rng.pick(&ROLES);
        esc(self.b, role);
        self.b.push_str("},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        self.close(true, Some("iam.amazonaws.com"), true);
    }

    fn lambda_invoke(&mut self) {
        let f = self.rng.pick(&FUNCTIONS);
        let farn = format!(
            "arn:{}:lambda:{}:{}:function:{f}",
            self.part, self.region, self.acct
        );
        self.open("1.09");
        self.app_identity();
        let agent = self.agent();
        self.call("lambda.amazonaws.com", "Invoke", Src::Private, agent);
        self.b.push_str(",\"requestParameters\":{\"functionName\":");
        esc(self.b, &farn);
        self.b.push_str(",\"invocationType\":\"RequestResponse\",\"logType\":\"None\"},\"responseElements\":null,\"additionalEventData\":{\"functionVersion\":");
        esc(self.b, &format!("{farn}:$LATEST"));
        self.b.push('}');
        self.request_uuid();
        self.event_id();
        self.read_only(false);
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::Lambda::Function\",\"ARN\":",
            self.acct
        );
        esc(self.b, &farn);
        self.b.push_str("}]");
        let host = self.host("lambda");
        self.close(false, Some(&host), false);
    }

    fn lambda_get_function(&mut self) {
        let session = self.session_name(ROLE_CI);
        self.open("1.11");
        self.assumed(ROLE_CI, &session, None);
        self.call(
            "lambda.amazonaws.com",
            "GetFunction20150331v2",
            Src::Public,
            TERRAFORM_AGENT,
        );
        self.b.push_str(",\"requestParameters\":{\"functionName\":");
        let f = self.rng.pick(&FUNCTIONS);
        esc(self.b, f);
        self.b.push_str("},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("lambda");
        self.close(true, Some(&host), false);
    }

    fn dynamodb(&mut self, name: &str) {
        let table = self.rng.pick(&TABLES);
        self.open("1.09");
        self.app_identity();
        let agent = self.agent();
        self.call("dynamodb.amazonaws.com", name, Src::Private, agent);
        self.b.push_str(",\"requestParameters\":{\"tableName\":");
        esc(self.b, table);
        match name {
            "Query" => self.b.push_str(",\"keyConditionExpression\":\"pk = :pk AND begins_with(sk, :prefix)\",\"limit\":50,\"scanIndexForward\":false"),
            _ => {
                self.b.push_str(",\"key\":{\"pk\":\"ORDER#");
                push_hex(self.b, &mut self.rng, 12, true);
                self.b.push_str("\",\"sk\":\"META\"}");
            }
        }
        self.b.push_str("},\"responseElements\":null");
        self.request_hex();
        self.event_id();
        self.read_only(name != "PutItem");
        let _ = write!(
            self.b,
            ",\"resources\":[{{\"accountId\":\"{}\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:{}:dynamodb:",
            self.acct, self.part
        );
        esc_inner(self.b, self.region);
        let _ = write!(self.b, ":{}:table/{table}\"}}]", self.acct);
        let host = self.host("dynamodb");
        self.close(false, Some(&host), false);
    }

    fn logs(&mut self, name: &str) {
        self.open("1.11");
        let f = self.rng.pick(&FUNCTIONS);
        self.assumed(ROLE_LAMBDA, f, None);
        self.call("logs.amazonaws.com", name, Src::Private, "AWS Internal");
        if name == "CreateLogStream" {
            let t = tm(self.ms);
            let _ = write!(
                self.b,
                ",\"requestParameters\":{{\"logGroupName\":\"/aws/lambda/{f}\",\"logStreamName\":\"{}/{:02}/{:02}/[$LATEST]",
                t.year, t.month, t.day
            );
            push_hex(self.b, &mut self.rng, 32, false);
            self.b.push_str("\"}");
        } else {
            self.b.push_str(
                ",\"requestParameters\":{\"logGroupNamePrefix\":\"/aws/lambda/\",\"limit\":50}",
            );
        }
        self.b.push_str(",\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(name != "CreateLogStream");
        let host = self.host("logs");
        self.close(true, Some(&host), false);
    }

    fn proton_read(&mut self, name: &str) {
        let session = self.session_name(ROLE_CI);
        self.open("1.11");
        self.assumed(ROLE_CI, &session, None);
        let agent = self.agent();
        self.call("proton.amazonaws.com", name, Src::Public, agent);
        let svc = self.rng.pick(&SERVICES);
        self.b.push_str(",\"requestParameters\":{");
        if name == "GetService" {
            self.b.push_str("\"name\":");
        } else {
            self.b.push_str("\"serviceName\":");
        }
        self.s(svc);
        self.b.push_str("},\"responseElements\":null");
        self.request_uuid();
        self.event_id();
        self.read_only(true);
        let host = self.host("proton");
        self.close(true, Some(&host), false);
    }
}

// ---------------------------------------------------------------------------------------
// Planning

/// Delivery of the setup files, after the corpus start.
const SETUP_DELIVERY_MS: i64 = 15 * 60_000;
/// Earliest delivery of the other files: their events (up to an hour before delivery)
/// come after the setup grants by more than the five minutes grants take to apply.
const FIRST_DELIVERY_MS: i64 = SETUP_DELIVERY_MS + 60 * 60_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Setup,
    Small,
    Large,
}

const SMALL_MIN_BYTES: u64 = 10 << 10;
const SMALL_MAX_BYTES: u64 = 2 << 20;
/// `{"Records":[` and `]}`.
const WRAPPER_BYTES: u64 = 14;
/// Duplicates per million records.
const DUPLICATES_PER_MILLION: u64 = 1000;
/// How many earlier files of a stream a duplicate may come from.
const DUP_LOOKBACK: usize = 4;

/// Plans the file list (deterministic by seed): many small files (5–500 records, rarely up
/// to 2 MB uncompressed) and, if `large_file_bytes > 0`, a few large ones: one of
/// `large_file_bytes` (capped at `target_bytes`), plus one of a quarter and one of a
/// sixteenth of it when they are larger than a small file and all large files stay within
/// half the target. Each account and region also gets a small setup file first (see
/// [`PlannedFile::setup`]). Files are sorted by delivery time; about 0.1% of records are
/// planned again, as duplicates, in a later file of the same account and region.
pub fn plan(cfg: &CorpusConfig) -> Vec<PlannedFile> {
    if cfg.target_bytes == 0 {
        return Vec::new();
    }
    let ctx = Ctx::new(cfg);
    let avg = ctx.average_record_bytes(cfg.start_time_ms + 3_600_000);
    let mut rng = Rng::new(hash2(cfg.seed, SALT_PLAN));
    let n_acct = ctx.accounts.len() as u64;
    let n_reg = ctx.regions.len() as u64;
    let first_minute = FIRST_DELIVERY_MS / 60_000;
    let minutes = (u64::from(cfg.days.max(1)) * 1440)
        .saturating_sub(first_minute as u64)
        .max(1);
    let start_minute_ms = cfg.start_time_ms.div_euclid(60_000) * 60_000;
    let records_for = |bytes: u64| (bytes.saturating_sub(WRAPPER_BYTES) / avg).max(1);

    // (delivery_ms, account, region, records, kind)
    let mut specs: Vec<(i64, u32, u32, u64, Kind)> = Vec::new();
    let draw_place = |rng: &mut Rng| {
        let minute = first_minute + rng.below(minutes) as i64;
        (
            start_minute_ms + minute * 60_000,
            rng.below(n_acct) as u32,
            rng.below(n_reg) as u32,
        )
    };
    let mut budget = cfg.target_bytes;
    for a in 0..n_acct as u32 {
        for r in 0..n_reg as u32 {
            let at = start_minute_ms + SETUP_DELIVERY_MS;
            specs.push((at, a, r, SETUP_GRANTS, Kind::Setup));
            budget = budget.saturating_sub(WRAPPER_BYTES + SETUP_GRANTS * avg);
        }
    }
    if cfg.large_file_bytes > 0 {
        let mut sizes = vec![cfg.large_file_bytes.min(cfg.target_bytes)];
        for div in [4, 16] {
            let s = cfg.large_file_bytes / div;
            if s > SMALL_MAX_BYTES && sizes.iter().sum::<u64>() + s <= cfg.target_bytes / 2 {
                sizes.push(s);
            }
        }
        for s in sizes {
            let n = records_for(s);
            let (t, a, r) = draw_place(&mut rng);
            specs.push((t, a, r, n, Kind::Large));
            budget = budget.saturating_sub(WRAPPER_BYTES + n * avg);
        }
    }
    let min_n = SMALL_MIN_BYTES.div_ceil(avg).max(5);
    let max_n = (SMALL_MAX_BYTES / avg).max(min_n);
    let mut last_small: Option<usize> = None;
    while budget > WRAPPER_BYTES + avg / 2 {
        // Buckets of record counts (integer-only, so plans agree across platforms).
        let (lo, hi) = match rng.weighted(&[15, 25, 22, 18, 13, 7]) {
            0 => (min_n, 20),
            1 => (20, 50),
            2 => (50, 100),
            3 => (100, 200),
            4 => (200, 500),
            _ => (500, max_n),
        };
        let (lo, hi) = (lo.max(min_n).min(max_n), hi.max(min_n).min(max_n));
        let mut n = rng.range(lo, hi);
        let cap = (budget - WRAPPER_BYTES) / avg;
        if n >= cap {
            n = cap.max(1);
            // A remainder too small for a file of its own goes to the previous one.
            if let (true, Some(i)) = (n < min_n, last_small) {
                specs[i].3 += n;
                break;
            }
        }
        let (t, a, r) = draw_place(&mut rng);
        last_small = Some(specs.len());
        specs.push((t, a, r, n, Kind::Small));
        budget = budget.saturating_sub(WRAPPER_BYTES + n * avg);
    }
    specs.sort_by_key(|s| (s.0, s.1, s.2));

    // Keys, record numbers and duplicates.
    let mut files = Vec::with_capacity(specs.len());
    let mut next_record = 0u64;
    // Per stream: (first_record, new_records, delivery_ms) of its latest files.
    let mut history: Vec<Vec<(u64, u64, i64)>> = vec![Vec::new(); (n_acct * n_reg) as usize];
    let mut repeated = std::collections::HashSet::new();
    // Error diffusion from a random start: the rate is met exactly.
    let mut dup_credit = rng.below(1_000_000);
    for (delivery_ms, a, r, n, kind) in specs {
        let account = &ctx.accounts[a as usize];
        let region = ctx.regions[r as usize];
        let t = tm(delivery_ms);
        let mut key = String::with_capacity(160);
        let _ = write!(
            key,
            "AWSLogs/{account}/CloudTrail/{region}/{:04}/{:02}/{:02}/{account}_CloudTrail_{region}_{:04}{:02}{:02}T{:02}{:02}Z_",
            t.year, t.month, t.day, t.year, t.month, t.day, t.hour, t.minute
        );
        push_chars(&mut key, &mut rng, ALNUM, 16);
        key.push_str(".json.gz");

        let stream = &mut history[(a as u64 * n_reg + r as u64) as usize];
        let mut duplicates = Vec::new();
        if kind == Kind::Setup {
            files.push(PlannedFile {
                key,
                account_index: a,
                region_index: r,
                delivery_ms,
                first_record: next_record,
                new_records: n,
                duplicates,
                large: false,
                setup: true,
            });
            next_record += n;
            continue;
        }
        dup_credit += n * DUPLICATES_PER_MILLION;
        let mut want = dup_credit / 1_000_000;
        dup_credit %= 1_000_000;
        let available: u64 = stream.iter().map(|s| s.1).sum();
        want = want.min(available / 2);
        let mut tries = 0;
        while (duplicates.len() as u64) < want && tries < want * 4 + 8 {
            tries += 1;
            let (first, count, origin) = stream[rng.below(stream.len() as u64) as usize];
            let record = first + rng.below(count);
            if repeated.insert(record) {
                duplicates.push(Duplicate {
                    record,
                    origin_delivery_ms: origin,
                    before: rng.below(n + 1),
                });
            }
        }
        duplicates.sort_by_key(|d| (d.before, d.record));

        stream.push((next_record, n, delivery_ms));
        if stream.len() > DUP_LOOKBACK {
            stream.remove(0);
        }
        files.push(PlannedFile {
            key,
            account_index: a,
            region_index: r,
            delivery_ms,
            first_record: next_record,
            new_records: n,
            duplicates,
            large: kind == Kind::Large,
            setup: false,
        });
        next_record += n;
    }
    files
}

// ---------------------------------------------------------------------------------------
// Writing

/// Bytes of JSON gathered before they go to the compressor.
const CHUNK: usize = 64 << 10;

/// Writes one planned file's gzip bytes to `out`, streaming (records are generated one by
/// one into a small buffer that is flushed to the compressor every 64 KiB).
pub fn write_file(
    cfg: &CorpusConfig,
    file: &PlannedFile,
    out: &mut dyn Write,
) -> io::Result<CorpusFile> {
    let ctx = Ctx::new(cfg);
    let acct = file.account_index as usize;
    let reg = file.region_index as usize;
    let mut enc = GzEncoder::new(out, Compression::fast());
    let mut buf = String::with_capacity(CHUNK + 8192);
    let mut bytes = 0u64;
    let mut kms = 0u64;
    let mut written = 0u64;
    let mut dups = file.duplicates.iter().peekable();
    buf.push_str("{\"Records\":[");
    // The records in file order: (record number, delivery time it derives from).
    let order = (0..=file.new_records).flat_map(|i| {
        let mut dup_here = Vec::new();
        while let Some(d) = dups.next_if(|d| d.before <= i) {
            dup_here.push((d.record, d.origin_delivery_ms, None));
        }
        let own =
            (i < file.new_records).then_some((file.first_record + i, file.delivery_ms, Some(i)));
        dup_here.into_iter().chain(own)
    });
    for (idx, delivery_ms, own) in order {
        if written > 0 {
            buf.push(',');
        }
        written += 1;
        match own {
            Some(j) if file.setup => {
                ctx.setup_record(&mut buf, idx, acct, reg, j, delivery_ms);
                kms += 1;
            }
            _ => kms += u64::from(ctx.record(&mut buf, idx, acct, reg, delivery_ms)),
        }
        if buf.len() >= CHUNK {
            enc.write_all(buf.as_bytes())?;
            bytes += buf.len() as u64;
            buf.clear();
        }
    }
    buf.push_str("]}");
    enc.write_all(buf.as_bytes())?;
    bytes += buf.len() as u64;
    enc.finish()?;
    Ok(CorpusFile {
        key: file.key.clone(),
        records: written,
        uncompressed_bytes: bytes,
        kms_records: kms,
    })
}

/// Counts the bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the whole corpus under `dir` (creating folders), on a few threads, returning
/// totals.
pub fn write_corpus(cfg: &CorpusConfig, dir: &Path) -> io::Result<CorpusStats> {
    let files = plan(cfg);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(files.len().max(1));
    let work = || -> io::Result<CorpusStats> {
        let mut st = CorpusStats::default();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(file) = files.get(i) else {
                return Ok(st);
            };
            let path = dir.join(&file.key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = Counting {
                inner: io::BufWriter::with_capacity(256 << 10, std::fs::File::create(&path)?),
                bytes: 0,
            };
            let f = write_file(cfg, file, &mut out)?;
            out.flush()?;
            st.files += 1;
            st.records += f.records;
            st.kms_records += f.kms_records;
            st.uncompressed_bytes += f.uncompressed_bytes;
            st.compressed_bytes += out.bytes;
        }
    };
    let results: Vec<io::Result<CorpusStats>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("corpus writer panicked")))
            })
            .collect()
    });
    let mut total = CorpusStats::default();
    for r in results {
        let st = r?;
        total.files += st.files;
        total.records += st.records;
        total.kms_records += st.kms_records;
        total.uncompressed_bytes += st.uncompressed_bytes;
        total.compressed_bytes += st.compressed_bytes;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read;

    fn small(seed: u64, target: u64) -> CorpusConfig {
        CorpusConfig {
            seed,
            target_bytes: target,
            large_file_bytes: 0,
            ..CorpusConfig::default()
        }
    }

    fn write_all(cfg: &CorpusConfig) -> Vec<(PlannedFile, CorpusFile, Vec<u8>)> {
        plan(cfg)
            .into_iter()
            .map(|p| {
                let mut out = Vec::new();
                let f = write_file(cfg, &p, &mut out).unwrap();
                (p, f, out)
            })
            .collect()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_end(&mut v)
            .unwrap();
        v
    }

    #[test]
    fn same_seed_same_bytes() {
        let cfg = small(7, 3_000_000);
        let a = write_all(&cfg);
        let b = write_all(&cfg);
        assert!(a.len() > 1);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.0, y.0);
            assert_eq!(x.1, y.1);
            assert_eq!(x.2, y.2, "{}", x.0.key);
        }
    }

    #[test]
    fn different_seed_differs() {
        let a = write_all(&small(1, 200_000));
        let b = write_all(&small(2, 200_000));
        assert_ne!(a[0].0.key, b[0].0.key);
        assert_ne!(gunzip(&a[0].2), gunzip(&b[0].2));
    }

    #[test]
    fn iso_and_civil_dates() {
        let mut b = String::new();
        push_iso(&mut b, 1_735_689_600_000);
        assert_eq!(b, "2025-01-01T00:00:00Z");
        b.clear();
        push_iso(&mut b, 951_782_400_000 + 86_399_000); // 2000-02-29T23:59:59Z
        assert_eq!(b, "2000-02-29T23:59:59Z");
        b.clear();
        push_human(&mut b, 1_735_736_400_000); // 2025-01-01T13:00:00Z
        assert_eq!(b, "Jan 1, 2025, 1:00:00 PM");
    }

    #[test]
    fn escapes() {
        let mut b = String::new();
        esc(&mut b, "a\"b\\c\td\u{1}é");
        assert_eq!(b, "\"a\\\"b\\\\c\\td\\u0001é\"");
        let v: String = serde_json::from_str(&b).unwrap();
        assert_eq!(v, "a\"b\\c\td\u{1}é");
    }

    /// Checks a key against the AWS layout; returns (account, region, delivery ms).
    fn parse_key(key: &str) -> (String, String, i64) {
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 8, "{key}");
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[2], "CloudTrail");
        let (account, region) = (parts[1], parts[3]);
        assert_eq!(account.len(), 12);
        assert!(account.bytes().all(|c| c.is_ascii_digit()));
        let name = parts[7];
        let prefix = format!("{account}_CloudTrail_{region}_");
        assert!(name.starts_with(&prefix), "{key}");
        let rest = name[prefix.len()..].strip_suffix(".json.gz").unwrap();
        let (stamp, suffix) = rest.split_once('_').unwrap();
        assert_eq!(suffix.len(), 16);
        assert!(suffix.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(stamp.len(), 14);
        assert_eq!(&stamp[..4], parts[4]);
        assert_eq!(&stamp[4..6], parts[5]);
        assert_eq!(&stamp[6..8], parts[6]);
        let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ").unwrap();
        (
            account.to_string(),
            region.to_string(),
            t.and_utc().timestamp_millis(),
        )
    }

    #[test]
    fn small_corpus_is_valid_cloudtrail() {
        let cfg = CorpusConfig {
            seed: 42,
            target_bytes: 2_000_000,
            large_file_bytes: 400_000,
            ..CorpusConfig::default()
        };
        let files = write_all(&cfg);
        assert!(files.iter().any(|f| f.0.large));
        let mut ids: HashMap<String, u64> = HashMap::new();
        let (mut records, mut kms, mut bytes, mut proton, mut grants) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut planned_dups = 0u64;
        let mut keys = std::collections::HashSet::new();
        for (p, f, gz) in &files {
            let (account, region, delivery) = parse_key(&f.key);
            assert!(keys.insert(f.key.clone()), "duplicate key {}", f.key);
            assert_eq!(delivery, p.delivery_ms);
            let json = gunzip(gz);
            assert_eq!(json.len() as u64, f.uncompressed_bytes);
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            let recs = v["Records"].as_array().expect("Records is an array");
            assert_eq!(recs.len() as u64, f.records);
            // Output positions of the duplicates.
            let dup_pos: std::collections::HashSet<u64> = p
                .duplicates
                .iter()
                .enumerate()
                .map(|(k, d)| d.before + k as u64)
                .collect();
            planned_dups += p.duplicates.len() as u64;
            let mut file_kms = 0;
            for (i, r) in recs.iter().enumerate() {
                for field in [
                    "eventVersion",
                    "userIdentity",
                    "eventTime",
                    "eventSource",
                    "eventName",
                    "awsRegion",
                    "sourceIPAddress",
                    "userAgent",
                    "requestParameters",
                    "responseElements",
                    "requestID",
                    "eventID",
                    "readOnly",
                    "eventType",
                    "managementEvent",
                    "recipientAccountId",
                    "eventCategory",
                ] {
                    assert!(r.get(field).is_some(), "{field} missing in {r}");
                }
                assert_eq!(r["awsRegion"], region.as_str());
                assert_eq!(r["recipientAccountId"], account.as_str());
                let id = r["eventID"].as_str().unwrap();
                assert_eq!(id.len(), 36);
                *ids.entry(id.to_string()).or_default() += 1;
                let t =
                    crate::model::kms::parse_event_time(r["eventTime"].as_str().unwrap()).unwrap();
                assert!(t < delivery, "{r}");
                if !dup_pos.contains(&(i as u64)) {
                    assert!(t >= delivery - 3_600_000, "{r}");
                }
                if r["eventSource"] == "kms.amazonaws.com" {
                    file_kms += 1;
                    let res = r["resources"].as_array();
                    if r["eventName"] != "ListAliases" {
                        let res = res.expect("KMS record with resources");
                        assert_eq!(res[0]["type"], "AWS::KMS::Key");
                        assert!(res[0]["ARN"].as_str().unwrap().contains(":key/"));
                    }
                    let ctx = &r["requestParameters"]["encryptionContext"];
                    if ctx.get("aws:proton:template").is_some() {
                        proton += 1;
                        assert!(ctx["aws:proton:resource"]
                            .as_str()
                            .unwrap()
                            .starts_with("arn:aws:proton:"));
                        assert_eq!(r["userIdentity"]["type"], "AWSService");
                    }
                    if r["eventName"] == "CreateGrant" {
                        grants += 1;
                        let g = r["responseElements"]["grantId"].as_str().unwrap();
                        assert_eq!(g.len(), 64);
                        assert!(g.bytes().all(|c| c.is_ascii_hexdigit()));
                    }
                }
            }
            assert_eq!(file_kms, f.kms_records);
            records += f.records;
            kms += f.kms_records;
            bytes += f.uncompressed_bytes;
        }
        let share = kms as f64 / records as f64;
        assert!((share - cfg.kms_share).abs() <= 0.05, "kms share {share}");
        assert!(proton as f64 > kms as f64 * 0.12 && (proton as f64) < kms as f64 * 0.28);
        assert!(grants > 0);
        // eventIDs are unique apart from the planned duplicates.
        assert_eq!(ids.len() as u64, records - planned_dups);
        assert!(ids.values().all(|&c| c <= 2));
        let avg = bytes / records;
        assert!((800..=1500).contains(&avg), "average record {avg} bytes");
        let t = cfg.target_bytes as f64;
        assert!(
            (bytes as f64 - t).abs() < t * 0.1,
            "{bytes} bytes for a target of {t}"
        );
    }

    #[test]
    fn proton_calls_are_covered_and_used_keys_stay_enabled() {
        let cfg = small(9, 1_500_000);
        let mut setup_grants = std::collections::HashSet::new();
        let mut setup_end = i64::MIN;
        let mut state_keys = std::collections::HashSet::new();
        let mut used_keys = std::collections::HashSet::new();
        let mut proton_uses = Vec::new();
        let mut setup_files = 0;
        for (p, _, gz) in write_all(&cfg) {
            let v: serde_json::Value = serde_json::from_slice(&gunzip(&gz)).unwrap();
            setup_files += usize::from(p.setup);
            for r in v["Records"].as_array().unwrap() {
                let t =
                    crate::model::kms::parse_event_time(r["eventTime"].as_str().unwrap()).unwrap();
                let name = r["eventName"].as_str().unwrap();
                let key = r["resources"][0]["ARN"].as_str().unwrap_or("").to_string();
                let params = &r["requestParameters"];
                if p.setup {
                    assert_eq!(name, "CreateGrant");
                    assert_eq!(params["granteePrincipal"], "proton.amazonaws.com");
                    let tmpl = params["constraints"]["encryptionContextSubset"]
                        ["aws:proton:template"]
                        .as_str()
                        .unwrap();
                    setup_grants.insert((key, tmpl.to_string()));
                    setup_end = setup_end.max(t);
                    continue;
                }
                assert!(t > setup_end);
                match name {
                    "DisableKey" | "EnableKey" => {
                        state_keys.insert(key);
                    }
                    _ if r.get("errorCode").is_none()
                        && crate::model::kms::classify(name)
                            == crate::model::kms::Category::KeyUse =>
                    {
                        if let Some(tmpl) =
                            params["encryptionContext"]["aws:proton:template"].as_str()
                        {
                            proton_uses.push((key.clone(), tmpl.to_string()));
                        }
                        used_keys.insert(key);
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(setup_files, 4);
        assert_eq!(setup_grants.len(), 4 * SETUP_GRANTS as usize);
        assert!(!proton_uses.is_empty());
        for u in &proton_uses {
            assert!(setup_grants.contains(u), "{u:?} has no setup grant");
        }
        assert!(!state_keys.is_empty());
        assert!(state_keys.is_disjoint(&used_keys));
    }

    #[test]
    fn plan_shape_and_duplicates() {
        let cfg = CorpusConfig {
            target_bytes: 64 << 20,
            large_file_bytes: 8 << 20,
            ..CorpusConfig::default()
        };
        let files = plan(&cfg);
        let large: Vec<_> = files.iter().filter(|f| f.large).collect();
        assert_eq!(large.len(), 1);
        let mut total_dups = 0;
        let mut next = 0;
        let mut by_start = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            assert_eq!(f.first_record, next);
            next += f.new_records;
            by_start.insert(f.first_record, i);
            if i > 0 {
                assert!(files[i - 1].delivery_ms <= f.delivery_ms);
            }
            if !f.large {
                assert!(
                    f.new_records >= 5 && f.new_records <= 2500,
                    "{}",
                    f.new_records
                );
            }
            for d in &f.duplicates {
                assert!(d.record < f.first_record);
                assert!(d.origin_delivery_ms <= f.delivery_ms);
                assert!(d.before <= f.new_records);
            }
            assert!(f.duplicates.windows(2).all(|w| w[0].before <= w[1].before));
            total_dups += f.duplicates.len() as u64;
        }
        let rate = total_dups as f64 / next as f64;
        assert!(rate > 0.0005 && rate < 0.0015, "duplicate rate {rate}");
        let default_files = plan(&CorpusConfig::default());
        assert_eq!(default_files.iter().filter(|f| f.large).count(), 3);
    }

    #[test]
    fn odd_region_names_stay_valid_json() {
        let cfg = CorpusConfig {
            regions: vec!["ap-\"odd\\region\t".to_string()],
            ..small(5, 300_000)
        };
        for (_, f, gz) in write_all(&cfg) {
            let v: serde_json::Value = serde_json::from_slice(&gunzip(&gz)).unwrap();
            let recs = v["Records"].as_array().unwrap();
            assert_eq!(recs.len() as u64, f.records);
            assert!(recs
                .iter()
                .all(|r| r["awsRegion"] == cfg.regions[0].as_str()));
        }
    }

    #[test]
    fn write_corpus_writes_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small(3, 300_000);
        let st = write_corpus(&cfg, dir.path()).unwrap();
        let files = plan(&cfg);
        assert_eq!(st.files, files.len() as u64);
        let mut compressed = 0;
        for f in &files {
            compressed += std::fs::metadata(dir.path().join(&f.key)).unwrap().len();
        }
        assert_eq!(compressed, st.compressed_bytes);
        assert!(st.kms_records > 0 && st.kms_records < st.records);
    }
}
