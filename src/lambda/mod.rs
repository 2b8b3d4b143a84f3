//! The Lambda: trigger payloads in, per-object work through the pipeline, responses out.
//!
//! - [`trigger`]: what arrived (S3 notifications, SQS, EventBridge, S3 Batch) and which
//!   work it asks for; pure, so the fuzz targets build it without the AWS SDK.
//! - `handler` (re-exported here, `aws` feature): configuration, dispatch, per-object
//!   processing and failure semantics.
//! - [`state`] (`aws` feature): the cross-file state round trip (DynamoDB items or S3 ledgers).
//!
//! The top of the library: it may use every other room.

pub mod trigger;

#[cfg(feature = "aws")]
mod handler;
#[cfg(feature = "aws")]
pub mod state;

#[cfg(feature = "aws")]
pub use handler::*;
