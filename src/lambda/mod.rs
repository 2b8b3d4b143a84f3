//! The Lambda: trigger payloads in, per-object work through the pipeline, responses out.
//!
//! - [`trigger`]: what arrived (S3 notifications, SQS, EventBridge, S3 Batch) and which
//!   work it asks for; pure, so the fuzz targets build it without the AWS SDK.
//! - [`config`]: the settings from the environment, checked; pure.
//! - [`response`]: work errors, per-source reports, output names and each trigger kind's
//!   response body and failure policy; pure.
//! - `handler` (re-exported here, `aws` feature): dispatch and per-object processing, as
//!   `App<O: ObjectStore>`: S3 in the function, an in-memory store in tests.
//! - [`state`] (`aws` feature): the cross-file state round trip (DynamoDB items or S3 ledgers).
//!
//! The top of the library: it may use every other room.

pub mod config;
pub mod response;
pub mod trigger;

#[cfg(feature = "aws")]
mod handler;
#[cfg(feature = "aws")]
pub mod state;

pub use config::{ConfigError, LambdaConfig};
#[cfg(feature = "aws")]
pub use handler::*;
pub use response::{output_stem, SourceReport, WorkError};
