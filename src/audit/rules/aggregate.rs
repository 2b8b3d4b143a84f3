//! Findings about a change that leaves earlier uses without their data: the dependents
//! (latest use per template and resource) and the message that lists them.

use super::{Finding, Rule, Severity};
use crate::audit::timeline::{Sym, Timeline, UseItem};
use std::collections::{BTreeMap, BTreeSet};

/// Latest use per (template, resource): what a removed grant or disabled key leaves
/// unreadable.
pub(super) type Dependents = BTreeMap<(Option<Sym>, Option<Sym>), (i64, String)>;

/// Records `u` as the latest use of its template and resource (reusing the id's buffer).
pub(super) fn depend(deps: &mut Dependents, u: &UseItem) {
    match deps.entry((u.template, u.resource)) {
        std::collections::btree_map::Entry::Occupied(e) => {
            let (t, id) = e.into_mut();
            *t = u.time;
            id.clear();
            id.push_str(&u.event_id);
        }
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert((u.time, u.event_id.clone()));
        }
    }
}

const LIST_LIMIT: usize = 10;

fn list(names: &BTreeSet<&str>) -> String {
    let v: Vec<&str> = names.iter().copied().take(LIST_LIMIT).collect();
    let more = names.len().saturating_sub(LIST_LIMIT);
    let mut s = v.join(", ");
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    s
}

type EventRef = (i64, Sym, Sym);
type Place = (Option<Sym>, Option<Sym>, Option<Sym>, Option<Sym>);

/// A finding about a change that leaves the data of earlier uses unreadable: related are
/// the dependents (by the call that stands for each), then the other copies of the change
/// itself. `text` is (lead, trailing note, advice).
pub(super) fn aggregate(
    tl: &Timeline,
    (rule, severity): (Rule, Severity),
    (time, event_id, event_name): EventRef,
    (key, account, region, principal): Place,
    deps: &Dependents,
    copies: &[&str],
    (lead, note, advice): (String, String, String),
) -> Finding {
    let sy = &tl.symbols;
    let templates: BTreeSet<&str> = deps.keys().filter_map(|(t, _)| sy.get_opt(*t)).collect();
    let resources: BTreeSet<&str> = deps.keys().filter_map(|(_, r)| sy.get_opt(*r)).collect();
    let mut related: Vec<String> = deps.values().map(|(_, e)| e.clone()).collect();
    related.sort();
    related.dedup();
    related.extend(copies.iter().map(|c| c.to_string()));
    let single = |s: &BTreeSet<&str>| {
        if s.len() == 1 {
            s.iter().next().map(|x| x.to_string())
        } else {
            None
        }
    };
    Finding {
        rule,
        severity,
        authorization: None,
        event_id: sy.get(event_id).to_string(),
        event_time: time,
        event_name: sy.get(event_name).to_string(),
        key_arn: sy.get_opt(key).map(str::to_string),
        account_id: sy.get_opt(account).map(str::to_string),
        region: sy.get_opt(region).map(str::to_string),
        principal: sy.get_opt(principal).map(str::to_string),
        proton_template: single(&templates),
        proton_resource: single(&resources),
        related_event_ids: related,
        message: format!(
            "{lead} {} template(s) ({}) and {} resource(s) ({}) that used it before.{note}",
            templates.len(),
            list(&templates),
            resources.len(),
            list(&resources)
        ),
        advice,
    }
}
