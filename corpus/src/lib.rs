//! keytrail-corpus: a deterministic generator of realistic CloudTrail log files, for load tests and
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
//!
//! It is a crate of its own, outside the keytrail library: nothing in keytrail's pipeline
//! depends on it, and it depends on nothing of keytrail's (the `keytrail gen` command and
//! the benchmarks call it).
//!
//! # Layout
//!
//! | module | owns |
//! |---|---|
//! | `lib.rs` | the configuration, the plan of a file, what was written |
//! | `format` | seeded randomness and the JSON, date and identifier text of a record |
//! | `world` | the accounts, regions, keys, roles and names, and one record's context |
//! | `record` | a record's identity, envelope and KMS request plumbing |
//! | `kms` | the KMS calls: Proton and service key use, grants, key state, admin reads |
//! | `other` | the non-KMS calls (S3, EC2, STS, IAM, Lambda, DynamoDB, Logs, Proton) |
//! | `plan` | the file list, streaming one file's gzip bytes, writing a whole corpus |

mod format;
mod kms;
mod other;
mod plan;
mod record;
mod world;

pub use plan::{plan, write_corpus, write_file};

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
