//! keytrail: audits AWS KMS key use from CloudTrail logs.
pub mod error;
pub mod logfile;
pub mod rawjson;
pub mod arn;
pub mod profile;
pub mod kms;
pub mod rules;
pub mod timeline;
