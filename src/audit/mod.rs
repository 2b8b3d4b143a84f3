//! The audit: what happened to keys and grants, and the findings drawn from it.
//!
//! - [`timeline`]: the compact, order-free record of grants, key states and uses.
//! - [`rules`]: the findings rules over a timeline (testdata/RULES.md says what they mean).
//! - [`ledger`]: what later files need to know about a key, kept between Lambda invocations.
//!
//! Depends on [`crate::model`] and below; never on tables, the pipeline or an edge.

pub mod ledger;
pub mod rules;
pub mod timeline;
