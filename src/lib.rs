//! keytrail: audits AWS KMS key use from CloudTrail logs.
//!
//! It reads CloudTrail log files, keeps the KMS events, decodes the encryption-context
//! profile (AWS Proton's is built in), writes Parquet tables for Athena and flags key use
//! that no grant or key policy covers, or that happened after the key was disabled.
//!
//! # Layout
//!
//! Each folder of `src/` is a room with one job. Arrows point down only: a room uses the
//! rooms below it and never one above (`tests/layout.rs` checks this, and that no two
//! modules import each other).
//!
//! | room | owns |
//! |---|---|
//! | [`lambda`] | the Lambda shell: triggers, per-object work, responses, cross-file state |
//! | [`edge`] | I/O: local folders, S3, DynamoDB (the stores the shells hand in) |
//! | [`pipeline`] | the one pipeline: decoding, the run's state, tables and findings out |
//! | [`render`] | findings for people and programs: a table, JSON Lines, CSV |
//! | [`tables`] | the schema of every table, the Parquet writer, the reader of our own tables |
//! | [`audit`] | the timeline, the findings rules, the Lambda's ledger |
//! | [`model`] | KMS events, ARNs, context profiles, key policies, snapshots |
//! | [`read`] | log files in every shape, framing, tolerant raw JSON |
//! | [`error`], [`text`], [`stablehash`] | shared by every room: errors, text helpers, persisted hashes |
//!
//! The core (`read` to `pipeline`) takes bytes, records or [`std::io::Read`] and returns
//! values: it never touches tokio, the AWS SDK, the environment or the clock. The shells
//! are the binaries in `src/bin/` (the CLI `keytrail` and `keytrail-lambda`), thin layers
//! over [`pipeline::Pipeline`] and an edge. The benchmark corpus generator is a crate of
//! its own (`corpus/`, `keytrail-corpus`), outside the library: `keytrail gen` and the
//! benchmarks use it, nothing here does.

pub mod audit;
pub mod edge;
pub mod error;
pub mod lambda;
pub mod model;
pub mod pipeline;
pub mod read;
pub mod render;
pub mod stablehash;
pub mod tables;
pub mod text;
