//! What the key-policy verdicts read from the timeline: the caller as a policy sees it and
//! each key's policy versions (testdata/RULES.md, section 6).

use super::{Sym, Symbols};
use crate::model::kms::KmsEvent;

/// The caller as a key policy sees it: `userIdentity.type`, the `aws:PrincipalArn` (for an
/// assumed role, the role), the account of RULES.md section 1 and `invokedBy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallerFacts {
    pub identity_type: Option<Sym>,
    pub principal_arn: Option<Sym>,
    pub account: Option<Sym>,
    pub invoked_by: Option<Sym>,
}

/// Where a key policy version comes from (RULES.md section 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicySource {
    CreateKey,
    ReplicateKey,
    PutKeyPolicy,
    /// KMS's default key policy, applied by a CreateKey or ReplicateKey naming none.
    Default,
    /// Today's policy from a snapshot of the account.
    Snapshot,
}

impl PolicySource {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::CreateKey => "CreateKey",
            PolicySource::ReplicateKey => "ReplicateKey",
            PolicySource::PutKeyPolicy => "PutKeyPolicy",
            PolicySource::Default => "default",
            PolicySource::Snapshot => "snapshot",
        }
    }
}

/// One version of a key's policy, from a successful CreateKey, ReplicateKey or
/// PutKeyPolicy.
#[derive(Debug, Clone)]
pub struct PolicyVersion {
    pub time: i64,
    pub event_id: Sym,
    pub event_name: Sym,
    pub key: Sym,
    pub account: Option<Sym>,
    pub region: Option<Sym>,
    pub principal: Option<Sym>,
    pub source: PolicySource,
    /// The policy as logged; `None` for the default policy and for a PutKeyPolicy that
    /// carries none.
    pub text: Option<Sym>,
    pub shared: Option<Sym>,
    /// For a snapshot's policy: when the snapshot was taken, and since when it is assumed
    /// in force.
    pub snapshot: Option<SnapshotPolicy>,
}

/// When a snapshot's policy was recorded and why it is assumed in force from its time
/// (RULES.md section 6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    pub taken: i64,
    pub since: PolicySince,
}

/// Since when a snapshot's policy is assumed in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySince {
    /// The key's latest policy event at or before the snapshot.
    LatestVersion,
    /// The key's creation (no policy event in the input).
    KeyCreation,
    /// Neither is known: throughout the input.
    Always,
}

/// The source of the policy version an event sets, if it sets one.
pub(super) fn policy_source(ev: &KmsEvent) -> Option<PolicySource> {
    Some(match (ev.event_name.as_str(), ev.key_policy.is_some()) {
        ("CreateKey", true) => PolicySource::CreateKey,
        ("ReplicateKey", true) => PolicySource::ReplicateKey,
        ("CreateKey" | "ReplicateKey", false) => PolicySource::Default,
        ("PutKeyPolicy", _) => PolicySource::PutKeyPolicy,
        _ => return None,
    })
}

/// The caller facts of RULES.md section 6.3, interned.
pub(super) fn caller_facts(s: &mut Symbols, ev: &KmsEvent) -> CallerFacts {
    let c = &ev.caller;
    let ty = c.identity_type.as_deref();
    let service = ty == Some("AWSService");
    let principal_arn = if service {
        None
    } else if ty == Some("AssumedRole") {
        c.role_arn.as_deref().or(c.arn.as_deref())
    } else {
        c.arn.as_deref()
    };
    let account = if service {
        None
    } else {
        c.account_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .or_else(|| {
                c.arn
                    .as_deref()
                    .and_then(crate::model::arn::parse)
                    .map(|a| a.account.to_string())
                    .filter(|a| !a.is_empty())
            })
    };
    CallerFacts {
        identity_type: s.intern_opt(ty),
        principal_arn: s.intern_opt(principal_arn),
        account: s.intern_opt(account.as_deref()),
        invoked_by: s.intern_opt(c.invoked_by.as_deref()),
    }
}
