//! The authorization verdict of a use no grant covers: which key policy versions are in
//! force at its time, what the use asks of them, and what they answer (testdata/RULES.md,
//! section 6). Pure; the statement matching itself is [`crate::model::policy`].

use super::{format_time, order, Copies};
use crate::audit::timeline::{PolicySince, PolicySource, PolicyVersion, Sym, Timeline, UseItem};
use crate::model::arn;
use crate::model::policy::{
    principal_type, via_service, Effect, Outcome, Policy, PolicyError, PrincipalKind,
    PrincipalMatch, Request, Statement,
};
use std::collections::HashMap;

/// What the key policy says of a use, most permissive first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// A statement of the key policy allows the caller itself.
    KeyPolicy,
    /// The key policy delegates to the caller's account: its IAM policies decide.
    IamDelegated,
    /// The log cannot tell (no policy known, unreadable, or unevaluable conditions).
    Unknown,
    /// The known policy allows no such call, or denies it.
    Unexplained,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::KeyPolicy => "key-policy",
            Verdict::IamDelegated => "iam-delegated",
            Verdict::Unknown => "unknown",
            Verdict::Unexplained => "unexplained",
        }
    }
}

/// A verdict with what explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub verdict: Verdict,
    /// The policy version the verdict comes from (its event), when it comes from one.
    pub version_event: Option<Sym>,
    /// The sentence the finding's message ends with (with its leading space).
    pub sentence: String,
}

/// One version, read once.
struct Version<'a> {
    v: &'a PolicyVersion,
    policy: Result<Policy, PolicyError>,
}

/// Every key's policy versions in timeline order.
pub(super) struct Policies<'a> {
    tl: &'a Timeline,
    grace: i64,
    by_key: HashMap<Sym, Vec<Version<'a>>>,
}

impl<'a> Policies<'a> {
    pub fn new(tl: &'a Timeline, copies: &Copies<'_>, grace_ms: i64) -> Self {
        let mut by_key: HashMap<Sym, Vec<Version<'a>>> = HashMap::new();
        for v in tl
            .policies
            .iter()
            .filter(|v| copies.stands(v.shared, v.event_id))
        {
            by_key.entry(v.key).or_default().push(Version {
                v,
                policy: read_version(tl, v),
            });
        }
        for vs in by_key.values_mut() {
            // A snapshot's policy sorts after the trail's version of the same time.
            vs.sort_by(|a, b| {
                let key = |x: &Version<'_>| {
                    let (t, id) = order(tl, x.v.time, x.v.event_id);
                    (t, x.v.source == PolicySource::Snapshot, id)
                };
                key(a).cmp(&key(b))
            });
        }
        Policies {
            tl,
            grace: grace_ms,
            by_key,
        }
    }

    /// The verdict for a use of its key (section 6.2: the most permissive of the versions
    /// in force; among equals, the newest).
    pub fn judge(&self, u: &UseItem) -> Authorization {
        let none = || Authorization {
            verdict: Verdict::Unknown,
            version_event: None,
            sentence: " Key policy: no policy of this key is in the input.".to_string(),
        };
        let Some(versions) = u.key.and_then(|k| self.by_key.get(&k)) else {
            return none();
        };
        let t = u.time;
        let Some(i) = versions.iter().rposition(|v| v.v.time <= t) else {
            return none();
        };
        // Versions i, i-1, ... stay in force while their successor is within grace of T;
        // they are contiguous, newest first (section 6.2).
        let mut first = i;
        while first > 0 && versions[first].v.time + self.grace >= t {
            first -= 1;
        }
        let req = request(self.tl, u);
        // The most permissive verdict; among equals the newest (the first met).
        let best = (first..=i)
            .rev()
            .map(|j| self.judge_version(&versions[j], &req))
            .reduce(|b, a| if a.verdict < b.verdict { a } else { b })
            .expect("version i is in force");
        // The unknown policy before a first PutKeyPolicy is in force within its grace.
        let v = versions[first].v;
        let unknown_before =
            first == 0 && v.source == PolicySource::PutKeyPolicy && t <= v.time + self.grace;
        if unknown_before && best.verdict > Verdict::Unknown {
            none()
        } else {
            best
        }
    }

    fn judge_version(&self, version: &Version<'_>, req: &Request) -> Authorization {
        let tl = self.tl;
        let v = version_phrase(tl, version.v);
        let event = (version.v.source != PolicySource::Snapshot).then_some(version.v.event_id);
        let from = |verdict, sentence| Authorization {
            verdict,
            version_event: event,
            sentence,
        };
        let policy = match &version.policy {
            Ok(p) => p,
            Err(_) => {
                return from(
                    Verdict::Unknown,
                    format!(" Key policy: {v} cannot be read."),
                )
            }
        };
        let s = |st: &Statement| statement_phrase(st, &v);
        let matches: Vec<_> = policy
            .statements
            .iter()
            .map(|st| (st, st.evaluate(req)))
            .collect();
        let find = |effect: Effect, outcome: Outcome, kinds: &dyn Fn(PrincipalMatch) -> bool| {
            matches
                .iter()
                .find(|(st, m)| st.effect == effect && m.outcome == outcome && kinds(m.principal))
                .map(|(st, _)| *st)
        };
        let any = |_: PrincipalMatch| true;
        let own = |p: PrincipalMatch| {
            matches!(
                p,
                PrincipalMatch::Matched(PrincipalKind::Specific | PrincipalKind::Any)
            )
        };
        let own_or_uncertain = |p: PrincipalMatch| own(p) || p == PrincipalMatch::Uncertain;
        let root = |p: PrincipalMatch| p == PrincipalMatch::Matched(PrincipalKind::AccountRoot);
        if let Some(st) = find(Effect::Deny, Outcome::Holds, &any) {
            return from(
                Verdict::Unexplained,
                format!(" Key policy: {} denies it.", s(st)),
            );
        }
        if let Some(st) = find(Effect::Deny, Outcome::Unevaluable, &any) {
            return from(
                Verdict::Unknown,
                format!(" Key policy: {} cannot be evaluated from the log.", s(st)),
            );
        }
        if let Some(st) = find(Effect::Allow, Outcome::Holds, &own) {
            return from(
                Verdict::KeyPolicy,
                format!(" Key policy: {} allows it.", s(st)),
            );
        }
        if let Some(st) = find(Effect::Allow, Outcome::Unevaluable, &own_or_uncertain) {
            return from(
                Verdict::Unknown,
                format!(" Key policy: {} cannot be evaluated from the log.", s(st)),
            );
        }
        if let Some(st) = find(Effect::Allow, Outcome::Holds, &root) {
            return from(
                Verdict::IamDelegated,
                format!(
                    " Key policy: {} delegates it to the IAM policies of account {}.",
                    s(st),
                    req.account.as_deref().unwrap_or("of the caller")
                ),
            );
        }
        if let Some(st) = find(Effect::Allow, Outcome::Unevaluable, &root) {
            return from(
                Verdict::Unknown,
                format!(" Key policy: {} cannot be evaluated from the log.", s(st)),
            );
        }
        from(
            Verdict::Unexplained,
            format!(" Key policy: no statement of {v} allows it."),
        )
    }
}

/// Reads a version: its logged text, or the default key policy of the key's account.
pub fn read_version(tl: &Timeline, v: &PolicyVersion) -> Result<Policy, PolicyError> {
    let sy = &tl.symbols;
    match (v.source, v.text) {
        (_, Some(text)) => Policy::parse(sy.get(text)),
        (PolicySource::Default, None) => default_policy_of(sy.get(v.key)),
        (_, None) => Err(PolicyError::new("the record carries no policy text")),
    }
}

/// The default key policy of a key (account and partition from its ARN).
fn default_policy_of(key_arn: &str) -> Result<Policy, PolicyError> {
    match arn::parse(key_arn).filter(|a| !a.account.is_empty()) {
        Some(a) => Ok(Policy::default_key_policy(a.partition, a.account)),
        None => Err(PolicyError::new(format!(
            "the key ARN {key_arn} names no account for the default key policy"
        ))),
    }
}

/// `the default key policy`, or `the policy set by PutKeyPolicy at <time>`.
fn version_phrase(tl: &Timeline, v: &PolicyVersion) -> String {
    match v.source {
        PolicySource::Default => "the default key policy".to_string(),
        PolicySource::Snapshot => match v.snapshot {
            Some(s) => format!(
                "the policy in the snapshot taken at {} ({})",
                format_time(s.taken),
                match s.since {
                    PolicySince::LatestVersion =>
                        format!("assumed in force since {}", format_time(v.time)),
                    PolicySince::KeyCreation => format!(
                        "assumed in force since the key's creation at {}",
                        format_time(v.time)
                    ),
                    PolicySince::Always => "assumed in force throughout the input".to_string(),
                }
            ),
            None => "the policy in a snapshot".to_string(),
        },
        _ => format!(
            "the policy set by {} at {}",
            tl.symbols.get(v.event_name),
            format_time(v.time)
        ),
    }
}

/// `statement "<Sid>" of <V>`, `statement <n> of <V>`, or `the default key policy`.
fn statement_phrase(st: &Statement, version: &str) -> String {
    if st.in_default_policy {
        return "the default key policy".to_string();
    }
    match st.sid.as_deref().map(str::trim) {
        Some(sid) if !sid.is_empty() => format!("statement \"{sid}\" of {version}"),
        _ => format!("statement {} of {version}", st.index),
    }
}

/// The request a use makes of its key's policy (section 6.3).
fn request(tl: &Timeline, u: &UseItem) -> Request {
    let sy = &tl.symbols;
    let ids = sy.ids(u.identities).filter(|s| !s.is_empty());
    let mut r = Request::new(sy.get(u.operation), ids);
    if let Some(p) = u.key.and_then(|k| arn::parse(sy.get(k))) {
        if !p.partition.is_empty() {
            r.partition = p.partition.to_string();
        }
    }
    let ty = sy.get_opt(u.caller.identity_type);
    let service = ty == Some("AWSService");
    let account = sy.get_opt(u.caller.account).map(str::to_string);
    r.iam_principal = ty.is_some() && !service;
    r.account = account.clone();
    r.caller_account = account;
    r.principal_arn = sy.get_opt(u.caller.principal_arn).map(str::to_string);
    let invoked_by = sy.get_opt(u.caller.invoked_by);
    if service {
        r.principal_service_name = invoked_by.map(arn::normalize_principal);
    } else {
        match ty.and_then(principal_type) {
            Some(t) => r.principal_type = Some(t.to_string()),
            None => r.unknown_keys.push("aws:PrincipalType".to_string()),
        }
        if let Some(by) = invoked_by {
            match via_service(by, sy.get_opt(u.region).unwrap_or("")) {
                Some(v) => r.via_service = Some(v),
                None => r.unknown_keys.push("kms:ViaService".to_string()),
            }
        }
    }
    r.encryption_context = u.context.as_deref().cloned();
    r
}
