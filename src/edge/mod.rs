//! The I/O edges the shells hand to the pipeline: local folders, S3 and DynamoDB.
//!
//! - [`local`]: input files in folders, and a [`crate::tables::writer::TableStore`] that
//!   publishes a run atomically.
//! - [`manifest`]: the sources an output folder already holds (`analyze --append`).
//! - [`s3`]: locations, the object store the Lambda runs over (S3, or in memory), streaming
//!   reads, table writes and the S3 ledgers (the SDK itself only with the `aws` feature).
//! - [`dynamo`]: the Lambda's per-item state table (`aws` feature).
//! - [`spill`]: temporary files the timeline spills key uses to in a large run.
//!
//! Depends on the tables, the audit and below; the pipeline never depends on an edge.

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod local;
pub mod manifest;
pub mod s3;
pub mod spill;
