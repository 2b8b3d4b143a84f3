//! Matching one statement against a request: principal, action, conditions.

use super::condition::{self, glob};
use super::document::{ActionSpec, Effect, Policy, PrincipalSpec, Principals, Statement};
use super::request::{normalize_identity, Request};
use super::{Match, Outcome, PrincipalKind, PrincipalMatch, Truth};
use crate::model::arn;

impl Statement {
    /// Matches this statement against `req` (see [`Outcome`] for the three answers). The
    /// answer is the same whatever the effect; a statement whose `Effect` is neither
    /// `Allow` nor `Deny` never holds.
    pub fn evaluate(&self, req: &Request) -> Match {
        let principal = match_principal(&self.principal, req);
        let action_matches = match_action(&self.action, &req.action);
        let conditions: Vec<Truth> = self
            .conditions
            .iter()
            .map(|row| condition::evaluate(row, req))
            .collect();
        let outcome = if matches!(self.effect, Effect::Other(_))
            || principal == PrincipalMatch::NoMatch
            || !action_matches
            || conditions.contains(&Truth::False)
        {
            Outcome::DoesNotHold
        } else if principal == PrincipalMatch::Uncertain
            || conditions.iter().any(|t| matches!(t, Truth::Unknown(_)))
        {
            Outcome::Unevaluable
        } else {
            Outcome::Holds
        };
        Match {
            outcome,
            principal,
            action_matches,
            conditions,
        }
    }
}

impl Policy {
    /// Matches every statement against `req`, in document order.
    pub fn evaluate(&self, req: &Request) -> Vec<Match> {
        self.statements.iter().map(|s| s.evaluate(req)).collect()
    }
}

/// Whether `action` (as `kms:Decrypt`) is named by the statement: case-insensitive, with
/// `*` and `?` wildcards; `NotAction` names every action it does not list.
pub(crate) fn match_action(spec: &ActionSpec, action: &str) -> bool {
    let action = action.to_lowercase();
    let listed = |patterns: &[String]| {
        patterns
            .iter()
            .any(|p| glob(&p.trim().to_lowercase(), &action))
    };
    match spec {
        ActionSpec::Action(patterns) => listed(patterns),
        ActionSpec::NotAction(patterns) => !listed(patterns),
    }
}

impl Principals {
    /// The values as they are matched against a caller's identities: `AWS` values through
    /// [`normalize_identity`] in `partition` (a bare account id is its root), `Service`
    /// values normalised and lower-case, the others trimmed; `*` for anyone.
    pub fn normalized(&self, partition: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if self.any {
            out.push("*".to_string());
        }
        out.extend(self.aws.iter().map(|v| normalize_identity(v, partition)));
        out.extend(
            self.service
                .iter()
                .map(|v| arn::normalize_principal(v.trim()).to_ascii_lowercase()),
        );
        out.extend(
            self.federated
                .iter()
                .chain(&self.canonical_user)
                .map(|v| v.trim().to_string()),
        );
        out
    }
}

/// Which of the caller's normalised identities `principals` lists, split into the account
/// roots and the others. `*` is not counted here.
fn listed_identities(principals: &Principals, req: &Request, ids: &[String]) -> (bool, bool) {
    let partition = req.partition();
    let mut root = false;
    let mut other = false;
    let mut mark = |id: &String| {
        if arn::is_account_root(id) {
            root = true;
        } else {
            other = true;
        }
    };
    for value in &principals.aws {
        let value = normalize_identity(value, partition);
        for id in ids.iter().filter(|id| **id == value) {
            mark(id);
        }
    }
    for value in &principals.service {
        let value = arn::normalize_principal(value.trim());
        for id in ids.iter().filter(|id| id.eq_ignore_ascii_case(&value)) {
            mark(id);
        }
    }
    for value in principals
        .federated
        .iter()
        .chain(&principals.canonical_user)
    {
        for id in ids.iter().filter(|id| **id == value.trim()) {
            mark(id);
        }
    }
    (root, other)
}

/// Matches the statement's `Principal` or `NotPrincipal` against the caller.
pub(crate) fn match_principal(spec: &PrincipalSpec, req: &Request) -> PrincipalMatch {
    let ids = req.effective_identities();
    match spec {
        PrincipalSpec::Principal(p) => {
            let (root, other) = listed_identities(p, req, &ids);
            if other {
                PrincipalMatch::Matched(PrincipalKind::Specific)
            } else if p.any {
                PrincipalMatch::Matched(PrincipalKind::Any)
            } else if root {
                PrincipalMatch::Matched(PrincipalKind::AccountRoot)
            } else {
                PrincipalMatch::NoMatch
            }
        }
        PrincipalSpec::NotPrincipal(p) => {
            if p.any {
                return PrincipalMatch::NoMatch;
            }
            let (root, other) = listed_identities(p, req, &ids);
            let has_root = ids.iter().any(|id| arn::is_account_root(id));
            let has_other = ids.iter().any(|id| !arn::is_account_root(id));
            if !root && !other {
                // Lists none of the caller's identities: the statement applies to it.
                PrincipalMatch::Matched(PrincipalKind::Any)
            } else if (root || !has_root) && (other || !has_other) {
                // Lists the caller and its account: the statement does not apply.
                PrincipalMatch::NoMatch
            } else {
                // Lists the caller but not its account, or the account but not the caller:
                // IAM User Guide, "NotPrincipal", warns that AWS may then check the other
                // and apply the statement; the log cannot settle which.
                PrincipalMatch::Uncertain
            }
        }
    }
}
