//! The model of what the logs and AWS say: KMS events, ARNs, context profiles, key
//! policies and the snapshot of today's keys.
//!
//! - [`kms`]: what one `kms.amazonaws.com` record means.
//! - [`arn`]: ARNs (generic, KMS keys, Proton resources).
//! - [`profile`]: which encryption-context keys name the owner and the resource.
//! - [`policy`]: key policies and their statements matched against a KMS request.
//! - [`snapshot`]: what `keytrail snapshot` recorded of today's keys and grants.
//!
//! Depends on [`crate::read`] (raw JSON) and the shared helpers only.

pub mod arn;
pub mod kms;
pub mod policy;
pub mod profile;
pub mod snapshot;
