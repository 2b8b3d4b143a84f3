//! The findings rules: KMS use correlated with grant history, key state and key policy.
//!
//! [`evaluate`] is a pure function of the [`Timeline`] and the grace window. It sorts every
//! timed item by (event time, event id) and sweeps once, so the result does not depend on
//! the order in which files or records arrived. The rules are written in testdata/RULES.md
//! and README.md ("Findings").
//!
//! Layout: this file owns the finding types, the order and the cross-account copies;
//! `grants` owns grant lives and coverage, `states` each key's effective state changes,
//! `judge` the sweep and one function per rule, `aggregate` the findings that list
//! dependents, `advice` what each finding tells the user to do, `authz` the key policy's
//! verdict on a use no grant covers, `reconcile` the findings a snapshot baseline adds.

mod advice;
mod aggregate;
mod authz;
mod grants;
mod judge;
mod reconcile;
mod states;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_authz;
#[cfg(test)]
mod tests_aws;
#[cfg(test)]
mod tests_baseline;

pub use authz::{read_version, Verdict};
pub use grants::{grant_lives, GrantLife};

use crate::audit::timeline::{StateChange, Sym, Symbols, Timeline};
use chrono::DateTime;
use serde::Serialize;
use std::collections::HashMap;

/// Default consistency window: grants and key states take effect "usually in less than
/// five minutes".
pub const DEFAULT_GRACE_SECONDS: i64 = 300;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// The rules, in the order the README lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    UseWithoutGrant,
    UseAfterGrantRetired,
    UseAfterKeyDisabled,
    DeniedByKeyState,
    DeniedAfterGrantRemoved,
    DeniedAccess,
    KeyDisabledWithDependents,
    KeyDeletedWithDependents,
    GrantRemovedWithDependents,
    MalformedContext,
    GrantMissingFromTrail,
    StateDisagreesWithSnapshot,
}

impl Rule {
    pub const ALL: [Rule; 12] = [
        Rule::UseWithoutGrant,
        Rule::UseAfterGrantRetired,
        Rule::UseAfterKeyDisabled,
        Rule::DeniedByKeyState,
        Rule::DeniedAfterGrantRemoved,
        Rule::DeniedAccess,
        Rule::KeyDisabledWithDependents,
        Rule::KeyDeletedWithDependents,
        Rule::GrantRemovedWithDependents,
        Rule::MalformedContext,
        Rule::GrantMissingFromTrail,
        Rule::StateDisagreesWithSnapshot,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UseWithoutGrant => "use-without-grant",
            Rule::UseAfterGrantRetired => "use-after-grant-retired",
            Rule::UseAfterKeyDisabled => "use-after-key-disabled",
            Rule::DeniedByKeyState => "denied-by-key-state",
            Rule::DeniedAfterGrantRemoved => "denied-after-grant-removed",
            Rule::DeniedAccess => "denied-access",
            Rule::KeyDisabledWithDependents => "key-disabled-with-dependents",
            Rule::KeyDeletedWithDependents => "key-deleted-with-dependents",
            Rule::GrantRemovedWithDependents => "grant-removed-with-dependents",
            Rule::MalformedContext => "malformed-context",
            Rule::GrantMissingFromTrail => "grant-missing-from-trail",
            Rule::StateDisagreesWithSnapshot => "state-disagrees-with-snapshot",
        }
    }

    /// Whether the rule reconciles the input with a snapshot (it needs the whole input).
    pub fn is_reconciliation(self) -> bool {
        matches!(
            self,
            Rule::GrantMissingFromTrail | Rule::StateDisagreesWithSnapshot
        )
    }

    /// The highest severity the rule gives (some rules give less in some situations:
    /// README.md, "Findings").
    pub fn severity(self) -> Severity {
        match self {
            Rule::UseWithoutGrant
            | Rule::UseAfterGrantRetired
            | Rule::UseAfterKeyDisabled
            | Rule::DeniedByKeyState
            | Rule::DeniedAfterGrantRemoved
            | Rule::KeyDeletedWithDependents => Severity::High,
            Rule::DeniedAccess
            | Rule::KeyDisabledWithDependents
            | Rule::GrantRemovedWithDependents
            | Rule::StateDisagreesWithSnapshot => Severity::Medium,
            Rule::MalformedContext | Rule::GrantMissingFromTrail => Severity::Low,
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding. Field order is the order of `keytrail findings --format json` and of the
/// `findings` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    /// The key policy's verdict on a use no grant covers (`use-without-grant`,
    /// `use-after-grant-retired`); `None` for every other rule.
    pub authorization: Option<Verdict>,
    pub event_id: String,
    /// Unix milliseconds, UTC.
    #[serde(serialize_with = "ser_time")]
    pub event_time: i64,
    pub event_name: String,
    pub key_arn: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub principal: Option<String>,
    pub proton_template: Option<String>,
    pub proton_resource: Option<String>,
    pub related_event_ids: Vec<String>,
    pub message: String,
    /// What to do about it, in one sentence.
    pub advice: String,
}

fn ser_time<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// `2026-03-02T15:30:00Z` (milliseconds shown only when not zero).
pub fn format_time(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// Sort key of a timeline item: event time, then event id.
fn order(tl: &Timeline, time: i64, id: Sym) -> (i64, &str) {
    (time, tl.symbols.get(id))
}

/// Key-state events per key (successful, as recorded), in timeline order.
pub fn states_by_key(tl: &Timeline) -> HashMap<Sym, Vec<&StateChange>> {
    let mut out: HashMap<Sym, Vec<&StateChange>> = HashMap::new();
    for s in &tl.states {
        if let Some(k) = s.key {
            out.entry(k).or_default().push(s);
        }
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| order(tl, a.time, a.event_id).cmp(&order(tl, b.time, b.event_id)));
    }
    out
}

/// Copies of cross-account calls: events with the same `sharedEventID`. The copy with the
/// smallest eventID stands for the call; the rules see only it.
#[derive(Debug)]
pub(crate) struct Copies<'a> {
    symbols: &'a Symbols,
    /// Per shared id: the representative's event id and the other copies' ids (sorted).
    calls: HashMap<Sym, (&'a str, Vec<&'a str>)>,
}

impl<'a> Copies<'a> {
    /// No copies: every event stands for itself.
    pub fn none(symbols: &'a Symbols) -> Self {
        Copies {
            symbols,
            calls: HashMap::new(),
        }
    }

    fn new(tl: &'a Timeline) -> Self {
        let sy = &tl.symbols;
        let mut all: HashMap<Sym, Vec<&str>> = HashMap::new();
        let items = tl.uses.shared().chain(
            tl.creations
                .iter()
                .map(|c| (c.shared, c.event_id))
                .chain(tl.removals.iter().map(|r| (r.shared, r.event_id)))
                .chain(tl.states.iter().map(|s| (s.shared, s.event_id)))
                .filter_map(|(sh, id)| Some((sh?, sy.get(id)))),
        );
        for (sh, id) in items {
            all.entry(sh).or_default().push(id);
        }
        let calls = all
            .into_iter()
            .map(|(sh, mut v)| {
                v.sort();
                v.dedup();
                let rep = v[0];
                let others = v[1..].to_vec();
                (sh, (rep, others))
            })
            .collect();
        Copies { symbols: sy, calls }
    }

    /// Whether the event stands for its call (it is no other call's copy).
    pub fn stands(&self, shared: Option<Sym>, event_id: Sym) -> bool {
        shared.is_none() || self.stands_id(shared, self.symbols.get(event_id))
    }

    /// [`Copies::stands`] for an event id held as text (a use's).
    pub fn stands_id(&self, shared: Option<Sym>, event_id: &str) -> bool {
        shared
            .and_then(|sh| self.calls.get(&sh))
            .is_none_or(|(rep, _)| *rep == event_id)
    }

    /// The other copies of the call an event stands for.
    pub fn others(&self, shared: Option<Sym>) -> &[&'a str] {
        shared
            .and_then(|sh| self.calls.get(&sh))
            .map_or(&[], |(_, o)| o.as_slice())
    }
}

/// Evaluates every rule over the timeline. Findings come sorted by event time, event id,
/// rule and key ARN.
pub fn evaluate(tl: &Timeline, grace_seconds: i64) -> Vec<Finding> {
    let mut out = judge::Judge::new(tl, grace_seconds).run();
    sort_findings(&mut out);
    out
}

/// The canonical order of findings: event time, event id, rule id, key ARN.
pub fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| {
        (a.event_time, &a.event_id, a.rule.as_str(), &a.key_arn).cmp(&(
            b.event_time,
            &b.event_id,
            b.rule.as_str(),
            &b.key_arn,
        ))
    });
}
