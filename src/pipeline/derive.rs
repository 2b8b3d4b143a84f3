//! The tables derived from the whole timeline once the input is read: `proton_usage`,
//! `grants`, `key_states` and `findings`. Rows are sorted by their content, so these
//! tables do not depend on input order at all.

use crate::audit::rules::{self, Finding};
use crate::audit::timeline::{PolicySource, Sym, Timeline};
use crate::error::OutputError;
use crate::model::kms::StateClass;
use crate::model::policy::{ActionSpec, Effect, Policy, PrincipalSpec};
use crate::tables::schema::{
    self, FindingRow, GrantRow, KeyPolicyRow, KeyStateRow, ProtonUsageRow,
};
use crate::tables::writer::{Partition, PartitionedWriter, TableStore, WriteOptions, WrittenFile};
use std::collections::BTreeMap;

/// Writes the derived tables; returns the files written. `own` tells which events belong to
/// this run (the others are context from a ledger and get no rows).
pub fn write_derived<S: TableStore>(
    store: &mut S,
    tl: &Timeline,
    findings: &[Finding],
    opts: &WriteOptions,
    own: &dyn Fn(&str) -> bool,
) -> Result<Vec<WrittenFile>, OutputError> {
    let mut files = Vec::new();
    files.extend(write_usage(store, tl, opts, own)?);
    files.extend(write_grants(store, tl, opts, own)?);
    files.extend(write_key_states(store, tl, opts, own)?);
    files.extend(write_key_policies(store, tl, opts, own)?);
    files.extend(write_findings(store, findings, opts)?);
    Ok(files)
}

fn writer<S: TableStore>(name: &str, opts: &WriteOptions) -> PartitionedWriter<S> {
    PartitionedWriter::new(schema::table(name).expect("known table"), opts.clone())
}

const DAY_MS: i64 = 86_400_000;

/// One `proton_usage` group, as strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsageKey<'a> {
    pub day: i64,
    pub account: Option<&'a str>,
    pub region: Option<&'a str>,
    pub key: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub template: Option<&'a str>,
    pub resource: Option<&'a str>,
    pub operation: &'a str,
    pub principal: Option<&'a str>,
    pub outcome: &'a str,
}

/// Usage per group (of the uses `own` accepts): count, first and last seen.
pub fn usage<'a>(
    tl: &'a Timeline,
    own: &dyn Fn(&str) -> bool,
) -> BTreeMap<UsageKey<'a>, (i64, i64, i64)> {
    let sy = &tl.symbols;
    let mut groups: BTreeMap<UsageKey<'_>, (i64, i64, i64)> = BTreeMap::new();
    tl.uses.for_each(|u| {
        let Some(p) = u.profile else { return };
        if !own(&u.event_id) {
            return;
        }
        let k = UsageKey {
            day: u.time.div_euclid(DAY_MS),
            account: sy.get_opt(u.account),
            region: sy.get_opt(u.region),
            key: sy.get_opt(u.key),
            profile: tl.profiles.all().get(p as usize).map(|p| p.name.as_str()),
            template: sy.get_opt(u.template),
            resource: sy.get_opt(u.resource),
            operation: sy.get(u.operation),
            principal: sy.get_opt(u.principal),
            outcome: sy.get_opt(u.error_code).unwrap_or("success"),
        };
        let e = groups.entry(k).or_insert((0, u.time, u.time));
        e.0 += 1;
        e.1 = e.1.min(u.time);
        e.2 = e.2.max(u.time);
    });
    groups
}

fn write_usage<S: TableStore>(
    store: &mut S,
    tl: &Timeline,
    opts: &WriteOptions,
    own: &dyn Fn(&str) -> bool,
) -> Result<Vec<WrittenFile>, OutputError> {
    let mut w = writer::<S>("proton_usage", opts);
    for (k, (count, first, last)) in usage(tl, own) {
        let row = ProtonUsageRow {
            key_arn: k.key,
            profile: k.profile,
            proton_template: k.template,
            proton_resource: k.resource,
            operation: Some(k.operation),
            principal: k.principal,
            outcome: Some(k.outcome),
            event_count: Some(count),
            first_seen: Some(first),
            last_seen: Some(last),
        };
        let part = Partition {
            account_id: k.account,
            region: k.region,
            time: Some(k.day * DAY_MS),
        };
        w.append(store, &part, &row.cells())?;
    }
    w.finish(store)
}

fn write_grants<S: TableStore>(
    store: &mut S,
    tl: &Timeline,
    opts: &WriteOptions,
    own: &dyn Fn(&str) -> bool,
) -> Result<Vec<WrittenFile>, OutputError> {
    let sy = &tl.symbols;
    let mut w = writer::<S>("grants", opts);
    let strs = |v: &Option<Vec<Sym>>| {
        v.as_ref()
            .map(|v| v.iter().map(|s| sy.get(*s).to_string()).collect::<Vec<_>>())
    };
    for (id, life) in rules::grant_lives(tl) {
        // The row shows the input's CreateGrant when there is one; a snapshot's entry only
        // for a grant the input never created.
        let c = life.trail_creation.or(life.creation);
        let r = life.removal;
        // A snapshot's grant (no event) is written by runs that own everything, not by
        // the Lambda's per-file runs.
        let mine = c.is_some_and(|c| own(sy.get(c.event_id)))
            || r.is_some_and(|r| own(sy.get(r.event_id)));
        if !mine {
            continue;
        }
        let ops = c.and_then(|c| strs(&c.operations));
        let constraint = c.and_then(|c| sy.context_opt(c.constraint));
        let row = GrantRow {
            grant_id: Some(id),
            key_arn: sy.get_opt(c.and_then(|c| c.key).or(r.and_then(|r| r.key))),
            grant_name: sy.get_opt(c.and_then(|c| c.grant_name)),
            grantee_principal: sy.get_opt(c.and_then(|c| c.grantee)),
            retiring_principal: sy.get_opt(c.and_then(|c| c.retiring_principal)),
            grantee_service_principal: sy.get_opt(c.and_then(|c| c.grantee_service_principal)),
            retiring_service_principal: sy.get_opt(c.and_then(|c| c.retiring_service_principal)),
            source_arn: sy.get_opt(c.and_then(|c| c.source_arn)),
            operations: ops.as_deref(),
            constraint_kind: sy.get_opt(c.and_then(|c| c.constraint_kind)),
            constraint_context: constraint,
            created_time: c.map(|c| c.time),
            created_by: sy.get_opt(c.and_then(|c| c.principal)),
            created_event_id: c.filter(|c| !c.from_snapshot).map(|c| sy.get(c.event_id)),
            removed_time: r.map(|r| r.time),
            removed_by: sy.get_opt(r.and_then(|r| r.principal)),
            removed_event_id: r.map(|r| sy.get(r.event_id)),
            removed_via: r.map(|r| sy.get(r.event_name)),
            removal_count: Some(life.removals as i64),
            source: Some(if c.is_some_and(|c| c.from_snapshot) {
                "snapshot"
            } else {
                "trail"
            }),
            snapshot_created_time: life.snapshot_creation.map(|s| s.time),
        };
        let (account, region, time) = match (c, r) {
            (Some(c), _) => (c.account, c.region, c.time),
            (None, Some(r)) => (r.account, r.region, r.time),
            (None, None) => continue,
        };
        let part = Partition {
            account_id: sy.get_opt(account),
            region: sy.get_opt(region),
            time: Some(time),
        };
        w.append(store, &part, &row.cells())?;
    }
    w.finish(store)
}

fn write_key_states<S: TableStore>(
    store: &mut S,
    tl: &Timeline,
    opts: &WriteOptions,
    own: &dyn Fn(&str) -> bool,
) -> Result<Vec<WrittenFile>, OutputError> {
    let sy = &tl.symbols;
    let mut w = writer::<S>("key_states", opts);
    let by_key = rules::states_by_key(tl);
    // Each change with the state its key was in before; states of keys that could not be
    // resolved are kept too, with no previous state.
    let mut rows = Vec::new();
    for changes in by_key.values() {
        let mut previous: Option<Sym> = None;
        for s in changes {
            rows.push((*s, previous));
            previous = s.state.or(previous);
        }
    }
    rows.extend(
        tl.states
            .iter()
            .filter(|s| s.key.is_none())
            .map(|s| (s, None)),
    );
    rows.sort_by(|a, b| (a.0.time, sy.get(a.0.event_id)).cmp(&(b.0.time, sy.get(b.0.event_id))));
    for (s, previous) in rows {
        if !own(sy.get(s.event_id)) {
            continue;
        }
        let row = KeyStateRow {
            event_time: Some(s.time),
            event_id: Some(sy.get(s.event_id)),
            key_arn: sy.get_opt(s.key),
            event_name: Some(sy.get(s.event_name)),
            state: sy.get_opt(s.state),
            usable: s.class.map(|c| c == StateClass::Usable),
            state_class: s.class.map(StateClass::as_str),
            previous_state: sy.get_opt(previous),
            principal: sy.get_opt(s.principal),
            deletion_date: sy.get_opt(s.deletion_date),
            pending_window_days: sy.get_opt(s.pending_window_days),
            key_material_id: sy.get_opt(s.key_material_id),
            material_assumed_current: (sy.get(s.event_name) == "DeleteImportedKeyMaterial")
                .then_some(s.key_material_id.is_none()),
            custom_key_store_id: sy.get_opt(s.store),
            source: Some("trail"),
        };
        let part = Partition {
            account_id: sy.get_opt(s.account),
            region: sy.get_opt(s.region),
            time: Some(s.time),
        };
        w.append(store, &part, &row.cells())?;
    }
    // What snapshots recorded, for the reconciliation (written by runs that own everything).
    if own("") {
        for s in &tl.snapshot_states {
            let state = sy.get(s.state);
            let class = StateClass::of(state);
            let row = KeyStateRow {
                event_time: Some(s.time),
                event_id: None,
                key_arn: Some(sy.get(s.key)),
                event_name: Some("DescribeKey"),
                state: Some(state),
                usable: Some(class == StateClass::Usable),
                state_class: Some(class.as_str()),
                previous_state: None,
                principal: None,
                deletion_date: None,
                pending_window_days: None,
                key_material_id: None,
                material_assumed_current: None,
                custom_key_store_id: None,
                source: Some("snapshot"),
            };
            let part = Partition {
                account_id: sy.get_opt(s.account),
                region: sy.get_opt(s.region),
                time: Some(s.time),
            };
            w.append(store, &part, &row.cells())?;
        }
    }
    w.finish(store)
}

/// `key_policies`: one row per version and statement, in timeline order.
fn write_key_policies<S: TableStore>(
    store: &mut S,
    tl: &Timeline,
    opts: &WriteOptions,
    own: &dyn Fn(&str) -> bool,
) -> Result<Vec<WrittenFile>, OutputError> {
    let sy = &tl.symbols;
    let mut w = writer::<S>("key_policies", opts);
    let mut versions: Vec<_> = tl.policies.iter().collect();
    versions.sort_by(|a, b| (a.time, sy.get(a.event_id)).cmp(&(b.time, sy.get(b.event_id))));
    for v in versions {
        let id = sy.get(v.event_id);
        if !own(id) {
            continue;
        }
        let key = sy.get(v.key);
        let partition = crate::model::arn::parse(key).map_or("aws", |a| a.partition);
        let parsed = rules::read_version(tl, v);
        let default_text;
        let text = match (v.text, &parsed) {
            (Some(t), _) => Some(sy.get(t)),
            (None, Ok(p)) if p.is_default => {
                default_text = default_policy_json(p);
                Some(default_text.as_str())
            }
            (None, _) => None,
        };
        let error = parsed.as_ref().err().map(|e| e.to_string());
        let statements = parsed
            .as_ref()
            .map(|p| p.statements.as_slice())
            .unwrap_or(&[]);
        // A snapshot's policy assumed in force throughout the input has no time.
        let time = Some(v.time).filter(|t| *t != i64::MIN);
        let part = Partition {
            account_id: sy.get_opt(v.account),
            region: sy.get_opt(v.region),
            time,
        };
        let common = KeyPolicyRow {
            event_time: time,
            event_id: Some(id).filter(|_| v.source != PolicySource::Snapshot),
            event_name: Some(sy.get(v.event_name)).filter(|_| v.source != PolicySource::Snapshot),
            key_arn: Some(key),
            source: Some(v.source.as_str()),
            principal: sy.get_opt(v.principal),
            policy_error: error.as_deref(),
            statement_count: Some(statements.len() as i64),
            policy: text,
            ..KeyPolicyRow::default()
        };
        if statements.is_empty() {
            w.append(store, &part, &common.cells())?;
            continue;
        }
        for st in statements {
            let (principals, negated) = match &st.principal {
                PrincipalSpec::Principal(p) => (p.normalized(partition), false),
                PrincipalSpec::NotPrincipal(p) => (p.normalized(partition), true),
            };
            let (actions, not_actions) = match &st.action {
                ActionSpec::Action(a) => (Some(a.as_slice()), None),
                ActionSpec::NotAction(a) => (None, Some(a.as_slice())),
            };
            let effect = match &st.effect {
                Effect::Allow => "Allow",
                Effect::Deny => "Deny",
                Effect::Other(s) => s.as_str(),
            };
            let row = KeyPolicyRow {
                statement_index: Some(st.index as i64),
                sid: st.sid.as_deref(),
                effect: Some(effect),
                principals: Some(&principals),
                not_principal: Some(negated),
                actions,
                not_actions,
                conditions: Some(&st.conditions),
                ..common
            };
            w.append(store, &part, &row.cells())?;
        }
    }
    w.finish(store)
}

/// The default key policy as JSON text, for its `policy` cell.
fn default_policy_json(p: &Policy) -> String {
    let statements: Vec<&serde_json::Value> = p.statements.iter().map(|s| &s.raw).collect();
    serde_json::json!({
        "Version": p.version,
        "Id": p.id,
        "Statement": statements,
    })
    .to_string()
}

fn write_findings<S: TableStore>(
    store: &mut S,
    findings: &[Finding],
    opts: &WriteOptions,
) -> Result<Vec<WrittenFile>, OutputError> {
    let mut w = writer::<S>("findings", opts);
    for f in findings {
        let row = FindingRow {
            rule: Some(f.rule.as_str()),
            severity: Some(f.severity.as_str()),
            authorization: f.authorization.map(|a| a.as_str()),
            event_id: Some(&f.event_id),
            event_time: Some(f.event_time),
            event_name: Some(&f.event_name),
            key_arn: f.key_arn.as_deref(),
            principal: f.principal.as_deref(),
            proton_template: f.proton_template.as_deref(),
            proton_resource: f.proton_resource.as_deref(),
            related_event_ids: Some(&f.related_event_ids),
            message: Some(&f.message),
            advice: Some(&f.advice),
        };
        let part = Partition {
            account_id: f.account_id.as_deref(),
            region: f.region.as_deref(),
            time: Some(f.event_time),
        };
        w.append(store, &part, &row.cells())?;
    }
    w.finish(store)
}
