//! The tables keytrail writes and reads back.
//!
//! - [`schema`]: every column of every table, the one source of truth (DDL, Glue and the
//!   README are generated from it).
//! - [`writer`]: Hive-partitioned, zstd-compressed Parquet with bounded memory, behind the
//!   [`writer::TableStore`] trait the edges implement.
//! - [`reader`]: keytrail's own `kms_events` read back into the KMS model.
//!
//! Depends on [`crate::model`] and below.

pub mod reader;
pub mod schema;
pub mod writer;
