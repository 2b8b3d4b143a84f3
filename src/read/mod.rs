//! Reading log files: every shape CloudTrail and AWS tools write them in, framed into
//! records without parsing what no one reads.
//!
//! - [`logfile`]: the streaming reader (gzip, JSON documents, arrays, JSON Lines, digests).
//! - [`envelope`]: export envelopes (Lake, `lookup-events`, EventBridge) around records.
//! - [`rawjson`]: tolerant, borrowing access to AWS JSON.
//!
//! Depends on nothing in the crate but [`crate::error`].

pub mod envelope;
pub mod logfile;
pub mod rawjson;
