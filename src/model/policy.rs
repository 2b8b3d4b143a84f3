//! KMS key policies: parsing a logged policy and matching its statements against a KMS
//! request, with three answers (holds, does not hold, cannot be told from the log).
//!
//! Pure: no I/O, no clock, no environment; every input, however malformed, gives a value or
//! a [`PolicyError`], never a panic. Nothing here decides a whole authorisation (IAM
//! policies and grants are outside a key policy); callers combine the per-statement
//! answers.
//!
//! Layout: this file owns the answer types; `document` parses policies, `request` holds
//! what the log tells of a call, `condition` the operators and condition keys, `eval`
//! principal and action matching and the statement verdict.
//!
//! # Documented behaviour this relies on
//!
//! KMS Developer Guide:
//! - "Key policies in AWS KMS": every key has exactly one key policy; a key policy
//!   statement names its principals; `Resource` is `"*"`, meaning the key itself (so
//!   `Resource` is kept but not evaluated).
//! - "Default key policy": with no policy in `CreateKey`, KMS applies one statement,
//!   `Enable IAM User Permissions`, giving the account root `kms:*`
//!   ([`Policy::default_key_policy`]); the root principal lets IAM policies of that account
//!   allow use of the key, which is why a match on the root alone is reported apart
//!   ([`PrincipalKind::AccountRoot`]).
//! - "kms:EncryptionContext:context-key": single-valued; the whole condition key,
//!   including the context key after the prefix, is NOT case sensitive ("A policy that uses
//!   this condition does not check the case of either element of the condition key"); the
//!   value's case depends on the operator. With a set operator the key is a set of at most
//!   one value, so `ForAllValues` also holds with no encryption context.
//! - "kms:EncryptionContextKeys": multivalued (the context's keys, case as written);
//!   `ForAnyValue` fails with no encryption context, `ForAllValues` holds; `Null: false`
//!   requires an encryption context.
//! - "kms:ViaService": the request came through the named service for the principal; value
//!   `<service>.<region>.amazonaws.com` ([`via_service`]).
//! - "kms:CallerAccount": single-valued, the caller's account; AWS managed keys combine it
//!   with `Principal: {"AWS": "*"}` and `kms:ViaService`.
//!
//! IAM User Guide:
//! - "Policy evaluation logic": a statement applies when its principal, action and every
//!   condition match; an explicit deny wins over allows (left to the caller).
//! - "Condition operators": several values for one key are an OR; several keys or
//!   operators in a block are an AND; a negated operator (`StringNotEquals`,
//!   `StringNotLike`, `ArnNotEquals`, `ArnNotLike`, ...) holds when the value matches none
//!   of the policy's values. A key missing from the request makes the condition false,
//!   except that negated operators are then true; `...IfExists` is true when the key is
//!   missing; `Null: true` holds when the key is missing. `StringLike` and `ArnLike` take
//!   `*` and `?`; `ArnEquals`/`ArnLike` compare each of the six colon-separated ARN parts.
//!   String and ARN operators take policy variables (`${aws:username}`), which this module
//!   does not resolve: such a condition is unevaluable. Context key names are not case
//!   sensitive ("IAM JSON policy elements: Condition").
//! - "Single-valued vs. multivalued context keys": `ForAllValues` holds when every request
//!   value matches (and when there are none); `ForAnyValue` when at least one does (false
//!   when there are none). Multivalued keys require a set operator: without one the
//!   condition is unevaluable here.
//! - "Principal": `"*"` and `{"AWS": "*"}` name everyone; an account id or
//!   `arn:aws:iam::<id>:root` names the account (delegation to its IAM policies); a role
//!   ARN names the role and its sessions; no partial wildcards (a value with `*` other than
//!   `"*"` is compared literally).
//! - "NotPrincipal": the statement applies to every principal it does not list. AWS may
//!   check the account, then the role, then the session, and warns that a `NotPrincipal`
//!   naming a principal without its account may still apply to it: that case is
//!   [`PrincipalMatch::Uncertain`].
//! - "NotAction": matches every action except those listed.

mod condition;
mod document;
mod eval;
mod request;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kms;
#[cfg(test)]
mod tests_operators;
#[cfg(test)]
mod tests_props;

pub use document::{
    ActionSpec, ConditionRow, Effect, Policy, PrincipalSpec, Principals, Statement,
};
pub use request::{principal_type, via_service, Request};

use std::fmt;

/// Why a policy could not be parsed, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    reason: String,
}

impl PolicyError {
    pub(crate) fn new(reason: impl Into<String>) -> PolicyError {
        let reason: String = reason.into();
        PolicyError {
            reason: reason.replace(['\n', '\r'], " "),
        }
    }

    /// The reason, one line.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed key policy: {}", self.reason)
    }
}

impl std::error::Error for PolicyError {}

/// Whether a statement applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Principal and action match and every condition is true.
    Holds,
    /// Principal and action match (or the principal match cannot be told), no condition is
    /// false, and some condition (or the principal) cannot be evaluated from the log.
    Unevaluable,
    /// The principal or action does not match, some condition is false, or the effect is
    /// neither `Allow` nor `Deny`.
    DoesNotHold,
}

/// What kind of principal value matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// One of the caller's own identities other than the account root (its user or role
    /// ARN, session ARN, service principal): the key policy itself allows the caller.
    Specific,
    /// `"*"`, `{"AWS": "*"}`, or a `NotPrincipal` that lists none of the caller's
    /// identities.
    Any,
    /// Only the caller's account root: the key policy delegates to the account's IAM
    /// policies.
    AccountRoot,
}

/// How the statement's `Principal` or `NotPrincipal` matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalMatch {
    Matched(PrincipalKind),
    NoMatch,
    /// A `NotPrincipal` lists the caller but not its account root, or the root but not the
    /// caller: documented as possibly applying, so the log cannot tell.
    Uncertain,
}

/// The value of one condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Truth {
    True,
    False,
    /// Cannot be evaluated, with a one-line reason.
    Unknown(String),
}

/// The answer for one statement and one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub outcome: Outcome,
    pub principal: PrincipalMatch,
    pub action_matches: bool,
    /// One value per row of [`Statement::conditions`], in the same order.
    pub conditions: Vec<Truth>,
}

impl Match {
    /// The reasons the statement is unevaluable (empty unless it is).
    pub fn unevaluable_reasons(&self) -> Vec<String> {
        if self.outcome != Outcome::Unevaluable {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.principal == PrincipalMatch::Uncertain {
            out.push("NotPrincipal lists the caller or its account but not both".to_string());
        }
        out.extend(self.conditions.iter().filter_map(|t| match t {
            Truth::Unknown(r) => Some(r.clone()),
            _ => None,
        }));
        out
    }
}
