//! The sweep: every use, effective key-state change and grant removal in timeline order,
//! each judged by one small function per rule (testdata/RULES.md, section 4).

use super::aggregate::{self, aggregate, Dependents};
use super::authz::{Authorization, Policies, Verdict};
use super::grants::{self, Grant, GrantLife};
use super::states::{Effective, KeyStates};
use super::{advice, format_time, order, Copies, Finding, Rule, Severity};
use crate::audit::timeline::{GrantRemoval, Sym, Timeline, UseItem};
use crate::model::kms::StateClass;
use std::collections::{BTreeMap, HashMap};

/// What the sweep meets besides uses.
#[derive(Clone, Copy)]
enum Item<'a> {
    Change(Effective<'a>),
    Removal(&'a GrantRemoval),
}

pub(super) struct Judge<'a> {
    tl: &'a Timeline,
    grace: i64,
    grace_seconds: i64,
    copies: Copies<'a>,
    lives: BTreeMap<&'a str, GrantLife<'a>>,
    states: KeyStates<'a>,
    policies: Policies<'a>,
    key_dependents: HashMap<Sym, Dependents>,
    grant_dependents: HashMap<&'a str, Dependents>,
    out: Vec<Finding>,
}

/// What a use-rule needs about the use, formatted once.
struct UseText<'a> {
    what: String,
    key: &'a str,
}

impl<'a> Judge<'a> {
    pub fn new(tl: &'a Timeline, grace_seconds: i64) -> Self {
        let copies = Copies::new(tl);
        let lives = grants::lives_of(tl, &copies);
        let states = KeyStates::new(tl, &copies);
        let grace = grace_seconds.saturating_mul(1000);
        let policies = Policies::new(tl, &copies, grace);
        Judge {
            tl,
            grace,
            grace_seconds,
            copies,
            lives,
            states,
            policies,
            key_dependents: HashMap::new(),
            grant_dependents: HashMap::new(),
            out: Vec::new(),
        }
    }

    pub fn run(mut self) -> Vec<Finding> {
        let tl = self.tl;
        let sy = &tl.symbols;
        let grants = grants::by_key(tl, &self.lives);
        // Changes and removals are few: sorted in memory. Uses come sorted from the log
        // (possibly spilled); the two are merged in (time, event id) order, a use before a
        // change or removal of the same time and id (the order of one stable sort of all).
        let mut items: Vec<(i64, &str, Item<'a>)> = Vec::new();
        for (_, changes) in self.states.all() {
            items.extend(
                changes
                    .iter()
                    .filter(|e| e.is_own())
                    .map(|e| (e.change.time, sy.get(e.change.event_id), Item::Change(*e))),
            );
        }
        items.extend(
            tl.removals
                .iter()
                .filter(|r| self.copies.stands(r.shared, r.event_id))
                .map(|r| (r.time, sy.get(r.event_id), Item::Removal(r))),
        );
        items.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut rest = items.into_iter().peekable();
        let no_grants = Vec::new();
        tl.uses.for_each(|u| {
            while let Some((_, _, item)) =
                rest.next_if(|(t, id, _)| (*t, *id) < (u.time, &u.event_id))
            {
                self.on_item(item, &grants);
            }
            if self.copies.stands_id(u.shared, &u.event_id) {
                let g = u.key.and_then(|k| grants.get(&k)).unwrap_or(&no_grants);
                self.on_use(u, g);
            }
        });
        for (_, _, item) in rest {
            self.on_item(item, &grants);
        }
        self.out
            .extend(super::reconcile::missing_grants(tl, &self.lives));
        self.out
            .extend(super::reconcile::state_disagreements(tl, &self.states));
        self.out
    }

    fn on_item(&mut self, item: Item<'a>, grants: &HashMap<Sym, Vec<Grant<'a>>>) {
        match item {
            Item::Change(e) => self.on_change(e),
            Item::Removal(r) => self.on_removal(r, grants),
        }
    }

    /// The grants that would cover the use (every condition but the end of their life),
    /// created at or before it.
    fn candidates<'g>(&mut self, u: &UseItem, grants: &'g [Grant<'a>]) -> Vec<&'g Grant<'a>> {
        let sy = &self.tl.symbols;
        let ctx = u.context.as_deref();
        let ids: Vec<&str> = sy.ids(u.identities).collect();
        grants
            .iter()
            .filter(|g| g.creation.time <= u.time && g.would_cover(u.operation, ctx, &ids))
            .collect()
    }

    fn finding(
        &self,
        u: &UseItem,
        rule: Rule,
        severity: Severity,
        mut related: Vec<String>,
        message: String,
        advice: String,
    ) -> Finding {
        let sy = &self.tl.symbols;
        related.extend(self.copies.others(u.shared).iter().map(|s| s.to_string()));
        Finding {
            rule,
            severity,
            authorization: None,
            event_id: u.event_id.clone(),
            event_time: u.time,
            event_name: sy.get(u.event_name).to_string(),
            key_arn: sy.get_opt(u.key).map(str::to_string),
            account_id: sy.get_opt(u.account).map(str::to_string),
            region: sy.get_opt(u.region).map(str::to_string),
            principal: sy.get_opt(u.principal).map(str::to_string),
            proton_template: sy.get_opt(u.template).map(str::to_string),
            proton_resource: sy.get_opt(u.resource).map(str::to_string),
            related_event_ids: related,
            message,
            advice,
        }
    }

    fn text(&self, u: &UseItem) -> UseText<'a> {
        let sy = &self.tl.symbols;
        let who = sy.get_opt(u.principal).unwrap_or("an unknown caller");
        let op = sy.get(u.operation);
        let what = match sy.get_opt(u.resource) {
            Some(r) => format!("{op} by {who} for {r}"),
            None => format!("{op} by {who}"),
        };
        UseText {
            what,
            key: sy.get_opt(u.key).unwrap_or("an unresolved key"),
        }
    }

    fn on_use(&mut self, u: &UseItem, grants: &[Grant<'a>]) {
        self.malformed_context(u);
        if u.error_code.is_none() {
            self.use_after_key_disabled(u);
            if u.has_constraint_key && u.key.is_some() {
                self.coverage(u, grants);
            }
        } else if u.has_constraint_key {
            let sy = &self.tl.symbols;
            match sy.get_opt(u.error_code).unwrap_or("") {
                "DisabledException" | "KMSInvalidStateException" | "NotFoundException" => {
                    self.denied_by_key_state(u)
                }
                "AccessDeniedException" | "AccessDenied" => self.denied(u, grants),
                _ => {}
            }
        }
    }

    /// `malformed-context` (low).
    fn malformed_context(&mut self, u: &UseItem) {
        let Some(reason) = u.malformed else { return };
        let text = self.text(u);
        let message = format!(
            "{} carries a malformed encryption context: {}.",
            text.what,
            self.tl.symbols.get(reason)
        );
        let f = self.finding(
            u,
            Rule::MalformedContext,
            Severity::Low,
            vec![],
            message,
            advice::MALFORMED_CONTEXT.into(),
        );
        self.out.push(f);
    }

    /// `use-after-key-disabled` (high): unusable for the whole grace window before the use.
    fn use_after_key_disabled(&mut self, u: &UseItem) {
        let Some(key) = u.key else { return };
        let t = u.time;
        let Some(e) = self.states.at(key, t - self.grace) else {
            return;
        };
        if e.class != StateClass::Unusable || self.states.usable_within(key, t - self.grace, t) {
            return;
        }
        let text = self.text(u);
        let message = format!("{} used {} after {}.", text.what, text.key, self.left(&e));
        let related = vec![self.tl.symbols.get(e.change.event_id).to_string()];
        let f = self.finding(
            u,
            Rule::UseAfterKeyDisabled,
            Severity::High,
            related,
            message,
            advice::USE_AFTER_KEY_DISABLED.into(),
        );
        self.out.push(f);
    }

    /// "DisableKey at T left it Disabled", with the material assumption when there is one.
    fn left(&self, e: &Effective<'_>) -> String {
        let sy = &self.tl.symbols;
        format!(
            "{} at {} left it {}{}",
            sy.get(e.change.event_name),
            format_time(e.change.time),
            e.state,
            e.assumed_material(self.tl)
        )
    }

    /// `use-without-grant` and `use-after-grant-retired` (high), and the dependents of the
    /// key and of the grants that cover the use.
    fn coverage(&mut self, u: &UseItem, grants: &[Grant<'a>]) {
        let (Some(key), t) = (u.key, u.time) else {
            return;
        };
        let mut covered = false;
        let mut retired: Option<&Grant<'a>> = None;
        for g in self.candidates(u, grants) {
            match g.removal {
                Some(r) if r.time + self.grace <= t => {
                    if retired.is_none_or(|p| grants::removed_after(self.tl, r, p.removal)) {
                        retired = Some(g);
                    }
                }
                _ => {
                    covered = true;
                    let deps = self.grant_dependents.entry(g.id).or_default();
                    aggregate::depend(deps, u);
                }
            }
        }
        aggregate::depend(self.key_dependents.entry(key).or_default(), u);
        if covered {
            return;
        }
        let sy = &self.tl.symbols;
        let text = self.text(u);
        let auth = self.policies.judge(u);
        let (rule, related, message, advice) = match retired {
            Some(g) => {
                let r = g.removal.expect("a retired grant has a removal");
                let message = format!(
                    "{} used {} after grant {} was removed by {} at {}; no other grant covers it.{}",
                    text.what,
                    text.key,
                    g.id,
                    sy.get(r.event_name),
                    format_time(r.time),
                    g.source_arn_note(self.tl)
                );
                (
                    Rule::UseAfterGrantRetired,
                    vec![sy.get(r.event_id).to_string()],
                    message,
                    advice::USE_AFTER_GRANT_RETIRED.to_string(),
                )
            }
            None => (
                Rule::UseWithoutGrant,
                vec![],
                format!(
                    "{} used {} and no grant in the input covers it.",
                    text.what, text.key
                ),
                advice::use_without_grant(t),
            ),
        };
        let f = self.authorized(u, rule, related, message, advice, auth);
        self.out.push(f);
    }

    /// A coverage finding with its authorization verdict (RULES.md section 6.5): the
    /// severity, one more sentence, the policy version among the related events, and the
    /// advice of a use the key policy explains.
    fn authorized(
        &self,
        u: &UseItem,
        rule: Rule,
        mut related: Vec<String>,
        message: String,
        advice: String,
        auth: Authorization,
    ) -> Finding {
        let sy = &self.tl.symbols;
        let severity = match auth.verdict {
            Verdict::Unexplained => Severity::High,
            Verdict::Unknown => Severity::Medium,
            Verdict::IamDelegated | Verdict::KeyPolicy => Severity::Low,
        };
        let advice = match auth.verdict {
            Verdict::KeyPolicy => advice::KEY_POLICY_ALLOWS.to_string(),
            Verdict::IamDelegated => advice::IAM_DELEGATED.to_string(),
            Verdict::Unknown | Verdict::Unexplained => advice,
        };
        related.extend(auth.version_event.map(|e| sy.get(e).to_string()));
        let mut f = self.finding(u, rule, severity, related, message + &auth.sentence, advice);
        f.authorization = Some(auth.verdict);
        f
    }

    /// `denied-by-key-state`: high when the key's state explains a lasting loss, medium
    /// when the failure is temporary or has another cause.
    fn denied_by_key_state(&mut self, u: &UseItem) {
        let sy = &self.tl.symbols;
        let text = self.text(u);
        let code = sy.get_opt(u.error_code).unwrap_or("");
        let head = format!("{} failed with {code} on {}", text.what, text.key);
        let change = u.key.and_then(|k| self.states.at(k, u.time));
        let (severity, message, advice) = match change {
            Some(e) => match e.class {
                StateClass::Unusable => (
                    Severity::High,
                    format!(
                        "{head} after {}: that resource can no longer read its data.",
                        self.left(&e)
                    ),
                    advice::restore_from(e.state, sy.get_opt(e.change.deletion_date)),
                ),
                StateClass::Transient => (
                    Severity::Medium,
                    format!(
                        "{head} after {}, a temporary state: the failure is temporary.",
                        self.left(&e)
                    ),
                    advice::TRANSIENT.into(),
                ),
                StateClass::Usable if u.time < e.change.time + self.grace => (
                    Severity::Medium,
                    format!(
                        "{head} within {} s after {}: the change had not yet taken effect.",
                        self.grace_seconds,
                        self.left(&e)
                    ),
                    advice::JUST_USABLE.into(),
                ),
                StateClass::Usable => (
                    Severity::Medium,
                    format!(
                        "{head} although {}: the failure has another cause.",
                        self.left(&e)
                    ),
                    advice::LATER_USABLE.into(),
                ),
            },
            None if u.error_transient => (
                Severity::Medium,
                format!("{head}, whose message names a temporary state: the failure is temporary."),
                advice::TRANSIENT.into(),
            ),
            None => (
                Severity::High,
                format!("{head}: that resource can no longer read its data."),
                advice::UNKNOWN_STATE.into(),
            ),
        };
        let related = change
            .map(|e| vec![sy.get(e.change.event_id).to_string()])
            .unwrap_or_default();
        let f = self.finding(
            u,
            Rule::DeniedByKeyState,
            severity,
            related,
            message,
            advice,
        );
        self.out.push(f);
    }

    /// `denied-after-grant-removed` (high) and `denied-access` (medium; low right after a
    /// covering grant was created).
    fn denied(&mut self, u: &UseItem, grants: &[Grant<'a>]) {
        let t = u.time;
        let would = self.candidates(u, grants);
        let sy = &self.tl.symbols;
        let code = sy.get_opt(u.error_code).unwrap_or("");
        let text = self.text(u);
        let live = would.iter().any(|g| g.removal.is_none_or(|r| r.time > t));
        let removed = would
            .iter()
            .filter(|g| g.removal.is_some_and(|r| r.time <= t))
            .copied()
            .reduce(|a, b| {
                if grants::removed_after(self.tl, b.removal.expect("removed"), a.removal) {
                    b
                } else {
                    a
                }
            });
        let head = format!("{} was denied access to {} ({code})", text.what, text.key);
        let f = match removed.filter(|_| !live) {
            Some(g) => {
                let r = g.removal.expect("removed");
                let message = format!(
                    "{head} after grant {} was removed by {} at {}; no other grant covers it: that resource can no longer read its data.{}",
                    g.id,
                    sy.get(r.event_name),
                    format_time(r.time),
                    g.source_arn_note(self.tl)
                );
                self.finding(
                    u,
                    Rule::DeniedAfterGrantRemoved,
                    Severity::High,
                    vec![sy.get(r.event_id).to_string()],
                    message,
                    advice::DENIED_AFTER_GRANT_REMOVED.into(),
                )
            }
            None => {
                let fresh = would
                    .iter()
                    .filter(|g| g.creation.time >= t - self.grace)
                    .max_by(|a, b| {
                        order(self.tl, a.creation.time, a.creation.event_id).cmp(&order(
                            self.tl,
                            b.creation.time,
                            b.creation.event_id,
                        ))
                    });
                match fresh {
                    Some(g) => {
                        let message = format!(
                            "{head} within {} s after grant {} that would cover it was created at {}: grants take effect with a delay.",
                            self.grace_seconds,
                            g.id,
                            format_time(g.creation.time)
                        );
                        self.finding(
                            u,
                            Rule::DeniedAccess,
                            Severity::Low,
                            // A snapshot's grant has no CreateGrant to name.
                            (!g.creation.from_snapshot)
                                .then(|| sy.get(g.creation.event_id).to_string())
                                .into_iter()
                                .collect(),
                            message,
                            advice::denied_access_just_granted(g.creation.time),
                        )
                    }
                    None => self.finding(
                        u,
                        Rule::DeniedAccess,
                        Severity::Medium,
                        vec![],
                        format!("{head}."),
                        advice::DENIED_ACCESS.into(),
                    ),
                }
            }
        };
        self.out.push(f);
    }

    /// `key-disabled-with-dependents` (medium) and `key-deleted-with-dependents` (high).
    fn on_change(&mut self, e: Effective<'a>) {
        let tl = self.tl;
        let sy = &tl.symbols;
        let s = e.change;
        let name = sy.get(s.event_name);
        let (rule, severity) = match name {
            "DeleteKey" => (Rule::KeyDeletedWithDependents, Severity::High),
            "DisableKey"
            | "ScheduleKeyDeletion"
            | "DeleteExpiredKeyMaterial"
            | "DeleteImportedKeyMaterial"
                if e.class == StateClass::Unusable =>
            {
                (Rule::KeyDisabledWithDependents, Severity::Medium)
            }
            _ => return,
        };
        let Some(key) = s.key else { return };
        let Some(deps) = self.key_dependents.get(&key).filter(|d| !d.is_empty()) else {
            return;
        };
        let by = sy.get_opt(s.principal).unwrap_or("an unknown caller");
        let (lead, advice) = if rule == Rule::KeyDeletedWithDependents {
            (
                format!(
                    "{name} of {} by {by} makes unrecoverable the data of",
                    sy.get(key)
                ),
                advice::KEY_DELETED.to_string(),
            )
        } else {
            (
                format!(
                    "{name} of {} by {by}{} leaves unreadable the data of",
                    sy.get(key),
                    e.assumed_material(tl)
                ),
                advice::key_disabled(name, sy.get_opt(s.deletion_date)),
            )
        };
        let f = aggregate(
            tl,
            (rule, severity),
            (s.time, s.event_id, s.event_name),
            (s.key, s.account, s.region, s.principal),
            deps,
            self.copies.others(s.shared),
            (lead, String::new(), advice),
        );
        self.out.push(f);
    }

    /// `grant-removed-with-dependents`: low for a RetireGrant by the grant's own principal,
    /// medium otherwise.
    fn on_removal(&mut self, r: &'a GrantRemoval, grants: &HashMap<Sym, Vec<Grant<'a>>>) {
        let tl = self.tl;
        let sy = &tl.symbols;
        let Some(gid) = sy.get_opt(r.grant_id) else {
            return;
        };
        let Some(life) = self.lives.get(gid) else {
            return;
        };
        if !life.removal.is_some_and(|first| std::ptr::eq(first, r)) {
            return;
        }
        let Some(deps) = self.grant_dependents.get(gid).filter(|d| !d.is_empty()) else {
            return;
        };
        let key = r.key.or(life.creation.and_then(|c| c.key));
        let grant = life
            .creation
            .and_then(|c| c.key)
            .and_then(|k| grants.get(&k))
            .and_then(|v| v.iter().find(|g| g.id == gid));
        let routine = grant.is_some_and(|g| g.removed_by_its_own_principal(tl));
        let (severity, advice) = if routine {
            (Severity::Low, advice::ROUTINE_REMOVAL)
        } else {
            (Severity::Medium, advice::OTHER_REMOVAL)
        };
        let lead = format!(
            "{} of grant {gid} by {} removes access to the data of",
            sy.get(r.event_name),
            sy.get_opt(r.principal).unwrap_or("an unknown caller")
        );
        let note = grant.map(|g| g.source_arn_note(tl)).unwrap_or_default();
        let f = aggregate(
            tl,
            (Rule::GrantRemovedWithDependents, severity),
            (r.time, r.event_id, r.event_name),
            (key, r.account, r.region, r.principal),
            deps,
            self.copies.others(r.shared),
            (lead, note, advice.to_string()),
        );
        self.out.push(f);
    }
}
