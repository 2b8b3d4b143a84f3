//! The findings rules: KMS use correlated with grant history and key state.
//!
//! [`evaluate`] is a pure function of the [`Timeline`] and the grace window. It sorts every
//! timed item by (event time, event id) and sweeps once, so the result does not depend on
//! the order in which files or records arrived. The rules are documented in README.md
//! ("Findings"); the comments here explain the choices the rules leave open.

use crate::arn;
use crate::timeline::{parse_context, GrantCreation, GrantRemoval, StateChange, Sym, Timeline};
use chrono::DateTime;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    DeniedAccess,
    KeyDisabledWithDependents,
    GrantRemovedWithDependents,
    MalformedContext,
}

impl Rule {
    pub const ALL: [Rule; 8] = [
        Rule::UseWithoutGrant,
        Rule::UseAfterGrantRetired,
        Rule::UseAfterKeyDisabled,
        Rule::DeniedByKeyState,
        Rule::DeniedAccess,
        Rule::KeyDisabledWithDependents,
        Rule::GrantRemovedWithDependents,
        Rule::MalformedContext,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UseWithoutGrant => "use-without-grant",
            Rule::UseAfterGrantRetired => "use-after-grant-retired",
            Rule::UseAfterKeyDisabled => "use-after-key-disabled",
            Rule::DeniedByKeyState => "denied-by-key-state",
            Rule::DeniedAccess => "denied-access",
            Rule::KeyDisabledWithDependents => "key-disabled-with-dependents",
            Rule::GrantRemovedWithDependents => "grant-removed-with-dependents",
            Rule::MalformedContext => "malformed-context",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Rule::UseWithoutGrant
            | Rule::UseAfterGrantRetired
            | Rule::UseAfterKeyDisabled
            | Rule::DeniedByKeyState => Severity::High,
            Rule::DeniedAccess
            | Rule::KeyDisabledWithDependents
            | Rule::GrantRemovedWithDependents => Severity::Medium,
            Rule::MalformedContext => Severity::Low,
        }
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

/// The life of one grant as the input shows it.
#[derive(Debug, Clone)]
pub struct GrantLife<'a> {
    /// The earliest creation seen (CreateGrant is idempotent: repeats return the same id).
    pub creation: Option<&'a GrantCreation>,
    /// The first successful RetireGrant or RevokeGrant.
    pub removal: Option<&'a GrantRemoval>,
    /// How many successful removals named this grant.
    pub removals: usize,
}

/// Sort key of a timeline item: event time, then event id.
fn order(tl: &Timeline, time: i64, id: Sym) -> (i64, &str) {
    (time, tl.symbols.get(id))
}

/// Every grant id in the input with its life, keyed by grant id.
pub fn grant_lives(tl: &Timeline) -> BTreeMap<&str, GrantLife<'_>> {
    let mut out: BTreeMap<&str, GrantLife<'_>> = BTreeMap::new();
    for c in &tl.creations {
        let life = out.entry(tl.symbols.get(c.grant_id)).or_insert(GrantLife {
            creation: None,
            removal: None,
            removals: 0,
        });
        if life
            .creation
            .is_none_or(|p| order(tl, c.time, c.event_id) < order(tl, p.time, p.event_id))
        {
            life.creation = Some(c);
        }
    }
    for r in &tl.removals {
        let Some(g) = r.grant_id else { continue };
        let life = out.entry(tl.symbols.get(g)).or_insert(GrantLife {
            creation: None,
            removal: None,
            removals: 0,
        });
        life.removals += 1;
        if life
            .removal
            .is_none_or(|p| order(tl, r.time, r.event_id) < order(tl, p.time, p.event_id))
        {
            life.removal = Some(r);
        }
    }
    out
}

/// Key-state changes per key, in timeline order.
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

/// The last state change of a key at or before `t`.
fn last_state_at<'a>(changes: Option<&Vec<&'a StateChange>>, t: i64) -> Option<&'a StateChange> {
    let v = changes?;
    let n = v.partition_point(|s| s.time <= t);
    n.checked_sub(1).map(|i| v[i])
}

/// Whether a change that makes the key usable happened in (from, to].
fn usable_change_within(changes: Option<&Vec<&StateChange>>, from: i64, to: i64) -> bool {
    changes.is_some_and(|v| v.iter().any(|s| s.usable && s.time > from && s.time <= to))
}

#[derive(Clone, Copy)]
enum Item {
    Use(usize),
    State(usize),
    Removal(usize),
}

struct Grant<'a> {
    id: &'a str,
    creation: &'a GrantCreation,
    removal: Option<&'a GrantRemoval>,
    grantee: Option<String>,
    operations: Option<BTreeSet<Sym>>,
    constraint: Option<BTreeMap<String, String>>,
    equals: bool,
}

/// Latest use per (template, resource): what a removed grant or disabled key leaves unreadable.
type Dependents = BTreeMap<(Option<Sym>, Option<Sym>), (i64, Sym)>;

/// Evaluates every rule over the timeline. Findings come sorted by event time, event id,
/// rule and key ARN.
pub fn evaluate(tl: &Timeline, grace_seconds: i64) -> Vec<Finding> {
    let grace = grace_seconds.saturating_mul(1000);
    let sy = &tl.symbols;
    let lives = grant_lives(tl);
    let states = states_by_key(tl);

    // Grants by key, with what matching needs parsed once.
    let mut grants_by_key: HashMap<Sym, Vec<Grant<'_>>> = HashMap::new();
    for (id, life) in &lives {
        let Some(c) = life.creation else { continue };
        let Some(key) = c.key else { continue };
        grants_by_key.entry(key).or_default().push(Grant {
            id,
            creation: c,
            removal: life.removal,
            grantee: sy.get_opt(c.grantee).map(arn::normalize_principal),
            operations: c.operations.as_ref().map(|o| o.iter().copied().collect()),
            constraint: sy.get_opt(c.constraint).map(parse_context),
            equals: sy.get_opt(c.constraint_kind) == Some("encryptionContextEquals"),
        });
    }

    let mut contexts: HashMap<Sym, BTreeMap<String, String>> = HashMap::new();
    let mut identities: HashMap<Sym, Vec<&str>> = HashMap::new();

    let mut items: Vec<(i64, &str, Item)> =
        Vec::with_capacity(tl.uses.len() + tl.states.len() + tl.removals.len());
    items.extend(
        tl.uses
            .iter()
            .enumerate()
            .map(|(i, u)| (u.time, sy.get(u.event_id), Item::Use(i))),
    );
    items.extend(
        tl.states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.time, sy.get(s.event_id), Item::State(i))),
    );
    items.extend(
        tl.removals
            .iter()
            .enumerate()
            .map(|(i, r)| (r.time, sy.get(r.event_id), Item::Removal(i))),
    );
    items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

    let mut key_dependents: HashMap<Sym, Dependents> = HashMap::new();
    let mut grant_dependents: HashMap<&str, Dependents> = HashMap::new();
    let mut out = Vec::new();

    for &(_, _, item) in &items {
        match item {
            Item::Use(i) => {
                let u = &tl.uses[i];
                let t = u.time;
                let base = |rule: Rule, related: Vec<String>, message: String| Finding {
                    rule,
                    severity: rule.severity(),
                    event_id: sy.get(u.event_id).to_string(),
                    event_time: t,
                    event_name: sy.get(u.event_name).to_string(),
                    key_arn: sy.get_opt(u.key).map(str::to_string),
                    account_id: sy.get_opt(u.account).map(str::to_string),
                    region: sy.get_opt(u.region).map(str::to_string),
                    principal: sy.get_opt(u.principal).map(str::to_string),
                    proton_template: sy.get_opt(u.template).map(str::to_string),
                    proton_resource: sy.get_opt(u.resource).map(str::to_string),
                    related_event_ids: related,
                    message,
                };
                let who = sy.get_opt(u.principal).unwrap_or("an unknown caller");
                let op = sy.get(u.operation);
                let key_txt = sy.get_opt(u.key).unwrap_or("an unresolved key");
                let what = match sy.get_opt(u.resource) {
                    Some(r) => format!("{op} by {who} for {r}"),
                    None => format!("{op} by {who}"),
                };

                if let Some(reason) = u.malformed {
                    out.push(base(
                        Rule::MalformedContext,
                        vec![],
                        format!(
                            "{what} carries a malformed encryption context: {}.",
                            sy.get(reason)
                        ),
                    ));
                }

                if u.error_code.is_none() {
                    if let Some(key) = u.key {
                        // Fires when the key had been unusable for the whole grace window
                        // before the use: a use just after a re-enable is not flagged.
                        let changes = states.get(&key);
                        if let Some(s) = last_state_at(changes, t - grace) {
                            if !s.usable && !usable_change_within(changes, t - grace, t) {
                                out.push(base(
                                    Rule::UseAfterKeyDisabled,
                                    vec![sy.get(s.event_id).to_string()],
                                    format!(
                                        "{what} used {key_txt} after {} at {} left it {}.",
                                        sy.get(s.event_name),
                                        format_time(s.time),
                                        sy.get(s.state)
                                    ),
                                ));
                            }
                        }
                    }
                    if u.has_constraint_key {
                        if let Some(key) = u.key {
                            let ids = identities
                                .entry(u.identities)
                                .or_insert_with(|| sy.get(u.identities).split('\n').collect());
                            let ctx = u.context.map(|c| {
                                &*contexts
                                    .entry(c)
                                    .or_insert_with(|| parse_context(sy.get(c)))
                            });
                            let mut covered = false;
                            let mut retired_by: Option<&GrantRemoval> = None;
                            for g in grants_by_key.get(&key).into_iter().flatten() {
                                if !matches(g, u.operation, ctx, ids) || g.creation.time > t {
                                    continue;
                                }
                                match g.removal {
                                    Some(r) if r.time + grace <= t => {
                                        if retired_by.is_none_or(|p| {
                                            order(tl, r.time, r.event_id)
                                                > order(tl, p.time, p.event_id)
                                        }) {
                                            retired_by = Some(r);
                                        }
                                    }
                                    _ => {
                                        covered = true;
                                        grant_dependents
                                            .entry(g.id)
                                            .or_default()
                                            .insert((u.template, u.resource), (t, u.event_id));
                                    }
                                }
                            }
                            if !covered {
                                if let Some(r) = retired_by {
                                    let gid = sy.get_opt(r.grant_id).unwrap_or("?");
                                    out.push(base(
                                        Rule::UseAfterGrantRetired,
                                        vec![sy.get(r.event_id).to_string()],
                                        format!(
                                            "{what} used {key_txt} after grant {gid} was removed by {} at {}; no other grant covers it.",
                                            sy.get(r.event_name),
                                            format_time(r.time)
                                        ),
                                    ));
                                } else {
                                    out.push(base(
                                        Rule::UseWithoutGrant,
                                        vec![],
                                        format!("{what} used {key_txt} and no grant in the input covers it."),
                                    ));
                                }
                            }
                            key_dependents
                                .entry(key)
                                .or_default()
                                .insert((u.template, u.resource), (t, u.event_id));
                        }
                    }
                } else if u.has_constraint_key {
                    let code = sy.get_opt(u.error_code).unwrap_or("");
                    match code {
                        "DisabledException" | "KMSInvalidStateException" => {
                            let explained = u
                                .key
                                .and_then(|k| last_state_at(states.get(&k), t))
                                .filter(|s| !s.usable);
                            let (related, why) = match explained {
                                Some(s) => (
                                    vec![sy.get(s.event_id).to_string()],
                                    format!(
                                        " after {} at {} left it {}",
                                        sy.get(s.event_name),
                                        format_time(s.time),
                                        sy.get(s.state)
                                    ),
                                ),
                                None => (vec![], String::new()),
                            };
                            out.push(base(
                                Rule::DeniedByKeyState,
                                related,
                                format!(
                                    "{what} failed with {code} on {key_txt}{why}: that resource can no longer read its data."
                                ),
                            ));
                        }
                        "AccessDeniedException" | "AccessDenied" => {
                            out.push(base(
                                Rule::DeniedAccess,
                                vec![],
                                format!("{what} was denied access to {key_txt} ({code})."),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            Item::State(i) => {
                let s = &tl.states[i];
                let name = sy.get(s.event_name);
                if !matches!(
                    name,
                    "DisableKey" | "ScheduleKeyDeletion" | "DeleteImportedKeyMaterial"
                ) {
                    continue;
                }
                let Some(key) = s.key else { continue };
                let Some(deps) = key_dependents.get(&key).filter(|d| !d.is_empty()) else {
                    continue;
                };
                out.push(aggregate(
                    tl,
                    Rule::KeyDisabledWithDependents,
                    (s.time, s.event_id, s.event_name),
                    (s.key, s.account, s.region, s.principal),
                    deps,
                    format!(
                        "{name} of {} by {} leaves unreadable the data of",
                        sy.get(key),
                        sy.get_opt(s.principal).unwrap_or("an unknown caller")
                    ),
                ));
            }
            Item::Removal(i) => {
                let r = &tl.removals[i];
                let Some(gid) = sy.get_opt(r.grant_id) else {
                    continue;
                };
                let Some(life) = lives.get(gid) else { continue };
                if !life.removal.is_some_and(|first| std::ptr::eq(first, r)) {
                    continue;
                }
                let Some(deps) = grant_dependents.get(gid).filter(|d| !d.is_empty()) else {
                    continue;
                };
                let key = r.key.or(life.creation.and_then(|c| c.key));
                out.push(aggregate(
                    tl,
                    Rule::GrantRemovedWithDependents,
                    (r.time, r.event_id, r.event_name),
                    (key, r.account, r.region, r.principal),
                    deps,
                    format!(
                        "{} of grant {gid} by {} removes access to the data of",
                        sy.get(r.event_name),
                        sy.get_opt(r.principal).unwrap_or("an unknown caller")
                    ),
                ));
            }
        }
    }
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

fn matches(
    g: &Grant<'_>,
    operation: Sym,
    ctx: Option<&BTreeMap<String, String>>,
    identities: &[&str],
) -> bool {
    let Some(ops) = &g.operations else {
        return false;
    };
    if !ops.contains(&operation) {
        return false;
    }
    let Some(grantee) = &g.grantee else {
        return false;
    };
    if !identities.iter().any(|i| i == grantee) {
        return false;
    }
    match &g.constraint {
        None => true,
        Some(c) => {
            let empty = BTreeMap::new();
            let ctx = ctx.unwrap_or(&empty);
            if g.equals {
                ctx == c
            } else {
                c.iter().all(|(k, v)| ctx.get(k) == Some(v))
            }
        }
    }
}

const LIST_LIMIT: usize = 10;

fn list(names: &BTreeSet<&str>) -> String {
    let mut v: Vec<&str> = names.iter().copied().take(LIST_LIMIT).collect();
    let more = names.len().saturating_sub(LIST_LIMIT);
    let mut s = v.join(", ");
    if more > 0 {
        v.clear();
        s.push_str(&format!(" and {more} more"));
    }
    s
}

type EventRef = (i64, Sym, Sym);
type Place = (Option<Sym>, Option<Sym>, Option<Sym>, Option<Sym>);

fn aggregate(
    tl: &Timeline,
    rule: Rule,
    (time, event_id, event_name): EventRef,
    (key, account, region, principal): Place,
    deps: &Dependents,
    lead: String,
) -> Finding {
    let sy = &tl.symbols;
    let templates: BTreeSet<&str> = deps.keys().filter_map(|(t, _)| sy.get_opt(*t)).collect();
    let resources: BTreeSet<&str> = deps.keys().filter_map(|(_, r)| sy.get_opt(*r)).collect();
    let mut related: Vec<String> = deps.values().map(|(_, e)| sy.get(*e).to_string()).collect();
    related.sort();
    related.dedup();
    let single = |s: &BTreeSet<&str>| {
        if s.len() == 1 {
            s.iter().next().map(|x| x.to_string())
        } else {
            None
        }
    };
    Finding {
        rule,
        severity: rule.severity(),
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
            "{lead} {} template(s) ({}) and {} resource(s) ({}) that used it before.",
            templates.len(),
            list(&templates),
            resources.len(),
            list(&resources)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms;
    use crate::profile::Profiles;
    use crate::rawjson::RawObject;
    use crate::timeline::Timeline;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";
    const KEY2: &str = "arn:aws:kms:us-east-1:111122223333:key/k2";
    const T: &str = "arn:aws:proton:us-east-1:111122223333:service-template/web";
    const R: &str = "arn:aws:proton:us-east-1:111122223333:service/api/service-instance/prod";

    fn time(min: i64) -> String {
        format_time(1_767_225_600_000 + min * 60_000)
    }

    fn use_rec(id: &str, min: i64, key: &str, extra: &str) -> String {
        format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
            "resources":[{{"type":"AWS::KMS::Key","ARN":"{key}"}}],"userIdentity":{{"type":"AWSService","invokedBy":"proton.us-east-1.amazonaws.com"}},
            "requestParameters":{{"encryptionContext":{{"aws:proton:template":"{T}","aws:proton:resource":"{R}"}}}}{extra}}}"#,
            time(min)
        )
    }

    fn grant_rec(
        id: &str,
        min: i64,
        grant: &str,
        ops: &str,
        constraints: &str,
        grantee: &str,
    ) -> String {
        format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
            "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}}],"userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/x"}},
            "requestParameters":{{"keyId":"{KEY}","granteePrincipal":"{grantee}"{ops}{constraints}}},"responseElements":{{"grantId":"{grant}"}}}}"#,
            time(min)
        )
    }

    fn simple(id: &str, min: i64, name: &str, extra: &str) -> String {
        format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"{name}","eventID":"{id}","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
            "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}}]{extra}}}"#,
            time(min)
        )
    }

    const OPS: &str = r#","operations":["Decrypt","Encrypt"]"#;
    const SUBSET: &str = r#","constraints":{"encryptionContextSubset":{"aws:proton:template":"arn:aws:proton:us-east-1:111122223333:service-template/web"}}"#;

    fn run(records: &[String], grace: i64) -> Vec<(Rule, String, Vec<String>)> {
        let mut tl = Timeline::new(Profiles::default());
        for r in records {
            tl.push(&kms::from_record(&RawObject::parse(r.as_bytes()).unwrap()));
        }
        evaluate(&tl, grace)
            .into_iter()
            .map(|f| (f.rule, f.event_id, f.related_event_ids))
            .collect()
    }

    fn rules_of(f: &[(Rule, String, Vec<String>)], id: &str) -> Vec<Rule> {
        f.iter().filter(|x| x.1 == id).map(|x| x.0).collect()
    }

    #[test]
    fn coverage_needs_operation_grantee_constraint_and_life() {
        let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
        let f = run(&[g.clone(), use_rec("u1", 1, KEY, "")], 300);
        assert!(f.is_empty(), "{f:?}");
        // No operations list: covers nothing.
        let f = run(
            &[
                grant_rec("g", 0, "G1", "", SUBSET, "proton.amazonaws.com"),
                use_rec("u1", 1, KEY, ""),
            ],
            300,
        );
        assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
        // Another grantee.
        let f = run(
            &[
                grant_rec(
                    "g",
                    0,
                    "G1",
                    OPS,
                    SUBSET,
                    "arn:aws:iam::111122223333:role/Other",
                ),
                use_rec("u1", 1, KEY, ""),
            ],
            300,
        );
        assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
        // encryptionContextEquals with a subset of the context does not hold.
        let eq = SUBSET.replace("Subset", "Equals");
        let f = run(
            &[
                grant_rec("g", 0, "G1", OPS, &eq, "proton.amazonaws.com"),
                use_rec("u1", 1, KEY, ""),
            ],
            300,
        );
        assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
        // Created after the use: not covering yet.
        let f = run(
            &[
                use_rec("u1", 1, KEY, ""),
                grant_rec("g", 2, "G1", OPS, SUBSET, "proton.amazonaws.com"),
            ],
            300,
        );
        assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
        // Another key.
        let f = run(&[g, use_rec("u1", 1, KEY2, "")], 300);
        assert_eq!(rules_of(&f, "u1"), [Rule::UseWithoutGrant]);
    }

    #[test]
    fn retirement_counts_after_the_grace_window_only() {
        let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
        let retire = simple(
            "r",
            10,
            "RetireGrant",
            r#","additionalEventData":{"grantId":"G1"}"#,
        );
        let f = run(
            &[
                g,
                retire,
                use_rec("u-before", 5, KEY, ""),
                use_rec("u-in-grace", 14, KEY, ""),
                use_rec("u-at-grace", 15, KEY, ""),
            ],
            300,
        );
        assert!(rules_of(&f, "u-in-grace").is_empty());
        assert_eq!(rules_of(&f, "u-at-grace"), [Rule::UseAfterGrantRetired]);
        let related = &f.iter().find(|x| x.1 == "u-at-grace").unwrap().2;
        assert_eq!(related, &vec!["r".to_string()]);
        // The retirement names what the grant covered before it.
        assert_eq!(rules_of(&f, "r"), [Rule::GrantRemovedWithDependents]);
        assert_eq!(
            f.iter().find(|x| x.1 == "r").unwrap().2,
            vec!["u-before".to_string()]
        );
    }

    #[test]
    fn failed_calls_change_nothing_and_get_no_coverage_findings() {
        let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
        let failed_retire = simple(
            "r",
            1,
            "RetireGrant",
            r#","additionalEventData":{"grantId":"G1"},"errorCode":"AccessDeniedException""#,
        );
        let failed_disable = simple(
            "d",
            1,
            "DisableKey",
            r#","errorCode":"AccessDeniedException""#,
        );
        let failed_use = use_rec("u0", 0, KEY2, r#","errorCode":"NotFoundException""#);
        let f = run(
            &[
                g,
                failed_retire,
                failed_disable,
                failed_use,
                use_rec("u1", 30, KEY, ""),
            ],
            300,
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn key_state_rules_follow_the_timeline() {
        let g = grant_rec("g", 0, "G1", OPS, SUBSET, "proton.amazonaws.com");
        let recs = [
            g,
            use_rec("u1", 1, KEY, ""),
            simple("d", 10, "DisableKey", ""),
            use_rec("u-lag", 12, KEY, ""),
            use_rec("u-after", 20, KEY, ""),
            use_rec("u-denied", 21, KEY, r#","errorCode":"DisabledException""#),
            simple("e", 30, "EnableKey", ""),
            use_rec("u-reenabled", 31, KEY, ""),
            simple("s", 40, "ScheduleKeyDeletion", ""),
            simple("c", 41, "CancelKeyDeletion", ""),
            use_rec("u-cancelled", 50, KEY, ""),
        ];
        let f = run(&recs, 300);
        assert!(rules_of(&f, "u-lag").is_empty(), "inside the grace window");
        assert_eq!(rules_of(&f, "u-after"), [Rule::UseAfterKeyDisabled]);
        assert_eq!(rules_of(&f, "u-denied"), [Rule::DeniedByKeyState]);
        assert_eq!(
            f.iter().find(|x| x.1 == "u-denied").unwrap().2,
            vec!["d".to_string()]
        );
        assert!(
            rules_of(&f, "u-reenabled").is_empty(),
            "re-enabled 60 s before: usable"
        );
        assert_eq!(
            rules_of(&f, "u-cancelled"),
            [Rule::UseAfterKeyDisabled],
            "CancelKeyDeletion leaves it disabled"
        );
        assert_eq!(
            f.iter().find(|x| x.1 == "u-cancelled").unwrap().2,
            vec!["c".to_string()]
        );
        assert_eq!(rules_of(&f, "d"), [Rule::KeyDisabledWithDependents]);
        assert_eq!(rules_of(&f, "s"), [Rule::KeyDisabledWithDependents]);
        assert!(rules_of(&f, "c").is_empty());
        assert!(rules_of(&f, "e").is_empty());
    }

    #[test]
    fn reencrypt_is_judged_per_side() {
        let g = grant_rec(
            "g",
            0,
            "G1",
            r#","operations":["ReEncryptFrom","ReEncryptTo"]"#,
            SUBSET,
            "proton.amazonaws.com",
        );
        let re = format!(
            r#"{{"eventSource":"kms.amazonaws.com","eventName":"ReEncrypt","eventID":"re","eventTime":"{}","awsRegion":"us-east-1","recipientAccountId":"111122223333",
            "resources":[{{"type":"AWS::KMS::Key","ARN":"{KEY}"}},{{"type":"AWS::KMS::Key","ARN":"{KEY2}"}}],"userIdentity":{{"type":"AWSService","invokedBy":"proton.amazonaws.com"}},
            "requestParameters":{{"sourceEncryptionContext":{{"aws:proton:template":"{T}","aws:proton:resource":"{R}"}},"destinationEncryptionContext":{{"aws:proton:template":"{T}","aws:proton:resource":"{R}"}}}}}}"#,
            time(1)
        );
        let mut tl = Timeline::new(Profiles::default());
        for r in [g, re] {
            tl.push(&kms::from_record(&RawObject::parse(r.as_bytes()).unwrap()));
        }
        let f = evaluate(&tl, 300);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, Rule::UseWithoutGrant);
        assert_eq!(
            f[0].key_arn.as_deref(),
            Some(KEY2),
            "only the destination side lacks a grant"
        );
    }
}
