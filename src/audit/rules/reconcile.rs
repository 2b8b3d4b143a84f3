//! Reconciliation with a snapshot (testdata/RULES.md, section 6.6): grants the snapshot
//! lists that the input never created, and key states the snapshot contradicts. No event
//! of the trail is theirs: their `event_id` is empty.

use super::grants::GrantLife;
use super::states::KeyStates;
use super::{format_time, Finding, Rule, Severity};
use crate::audit::timeline::Timeline;
use std::collections::BTreeMap;

fn finding(rule: Rule, severity: Severity, time: i64, event_name: &str) -> Finding {
    Finding {
        rule,
        severity,
        authorization: None,
        event_id: String::new(),
        event_time: time,
        event_name: event_name.to_string(),
        key_arn: None,
        account_id: None,
        region: None,
        principal: None,
        proton_template: None,
        proton_resource: None,
        related_event_ids: Vec::new(),
        message: String::new(),
        advice: String::new(),
    }
}

/// `grant-missing-from-trail` (low): a snapshot grant created inside the time the input
/// covers for its key's account and region, with no CreateGrant in the input.
pub(super) fn missing_grants(tl: &Timeline, lives: &BTreeMap<&str, GrantLife<'_>>) -> Vec<Finding> {
    let sy = &tl.symbols;
    let mut out = Vec::new();
    for (id, life) in lives {
        if life.trail_creation.is_some() {
            continue;
        }
        let Some(c) = life.creation.filter(|c| c.from_snapshot) else {
            continue;
        };
        let Some(&(first, last)) = tl.windows.get(&(c.account, c.region)) else {
            continue;
        };
        if c.time < first || c.time > last {
            continue;
        }
        let key = sy.get_opt(c.key).unwrap_or("an unknown key");
        let taken = c.snapshot_time;
        let mut f = finding(
            Rule::GrantMissingFromTrail,
            Severity::Low,
            c.time,
            "CreateGrant",
        );
        f.key_arn = c.key.map(|k| sy.get(k).to_string());
        f.account_id = sy.get_opt(c.account).map(str::to_string);
        f.region = sy.get_opt(c.region).map(str::to_string);
        f.message = format!(
            "Grant {id} on {key}, which the snapshot{} lists as created at {}, has no CreateGrant in the input, which covers {} {} from {} to {}: events were not logged, filtered out or lost.",
            taken.map_or_else(String::new, |t| format!(" taken at {}", format_time(t))),
            format_time(c.time),
            sy.get_opt(c.account).unwrap_or("?"),
            sy.get_opt(c.region).unwrap_or("?"),
            format_time(first),
            format_time(last),
        );
        f.advice = super::advice::GRANT_MISSING.to_string();
        out.push(f);
    }
    out
}

/// `state-disagrees-with-snapshot` (medium): the trail's effective state of a key at the
/// snapshot time is not the snapshot's.
pub(super) fn state_disagreements(tl: &Timeline, states: &KeyStates<'_>) -> Vec<Finding> {
    let sy = &tl.symbols;
    let mut out = Vec::new();
    for s in &tl.snapshot_states {
        let Some(e) = states.at(s.key, s.time) else {
            continue;
        };
        let said = sy.get(s.state);
        if e.state == said {
            continue;
        }
        let mut f = finding(
            Rule::StateDisagreesWithSnapshot,
            Severity::Medium,
            s.time,
            "DescribeKey",
        );
        f.key_arn = Some(sy.get(s.key).to_string());
        f.account_id = sy.get_opt(s.account).map(str::to_string);
        f.region = sy.get_opt(s.region).map(str::to_string);
        f.related_event_ids = vec![sy.get(e.change.event_id).to_string()];
        f.message = format!(
            "The snapshot taken at {} says {} is {said}, but the input leaves it {} ({} at {}): the input misses a key-state change.",
            format_time(s.time),
            sy.get(s.key),
            e.state,
            sy.get(e.change.event_name),
            format_time(e.change.time),
        );
        f.advice = format!(
            "Feed the logs from {} to {} to find the change the input misses.",
            format_time(e.change.time),
            format_time(s.time)
        );
        out.push(f);
    }
    out
}
