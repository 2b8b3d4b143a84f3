//! keytrail: audits AWS KMS key use from CloudTrail logs.
pub mod arn;
pub mod corpus;
pub mod derive;
pub mod error;
pub mod kms;
pub mod local;
pub mod logfile;
pub mod output;
pub mod pipeline;
pub mod profile;
pub mod rawjson;
pub mod report;
pub mod rules;
pub mod schema;
pub mod timeline;
pub mod trigger;
