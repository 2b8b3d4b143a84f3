//! A snapshot of today's keys as a baseline (testdata/RULES.md, section 6.6): its grants
//! enter the timeline at their creation dates, its policy as a version, its key states as
//! observations the rules compare with the trail.
//!
//! Add baselines after every event is pushed: a snapshot's policy is placed after the
//! latest policy event of its key at or before the snapshot time.

use super::{
    GrantCreation, PolicySince, PolicySource, PolicyVersion, SnapshotPolicy, Sym, Timeline,
};
use crate::model::arn;
use crate::model::kms::GrantFacts;
use crate::model::snapshot::{Snapshot, SnapshotKey};

/// A key's state as a snapshot saw it.
#[derive(Debug, Clone)]
pub struct SnapshotState {
    pub time: i64,
    pub key: Sym,
    pub account: Option<Sym>,
    pub region: Option<Sym>,
    pub state: Sym,
}

impl Timeline {
    /// Adds what a snapshot knows. A snapshot without a time adds nothing but its grants
    /// with creation dates (it cannot say when its policy or states held); returns how many
    /// grants it added.
    pub fn add_baseline(&mut self, snap: &Snapshot) -> usize {
        let mut added = 0;
        for k in &snap.keys {
            added += self.add_snapshot_grants(k, snap.snapshot_time);
            if let Some(t) = snap.snapshot_time {
                self.add_snapshot_policy(k, t);
                self.add_snapshot_state(k, t);
            }
        }
        added
    }

    fn add_snapshot_grants(&mut self, k: &SnapshotKey, snapshot_time: Option<i64>) -> usize {
        let mut added = 0;
        for g in &k.grants {
            let Some(time) = g.creation_date.or(snapshot_time) else {
                continue;
            };
            let key_arn = if g.key_arn.is_empty() {
                k.key_arn.as_str()
            } else {
                g.key_arn.as_str()
            };
            let facts = GrantFacts {
                grant_id: Some(g.grant_id.clone()),
                grant_name: g.name.clone(),
                grantee: g.grantee_principal.clone(),
                retiring_principal: g.retiring_principal.clone(),
                operations: Some(g.operations.clone()),
                constraint_kind: g.constraint_kind.cloudtrail_name().map(str::to_string),
                constraint: g
                    .constraint_kind
                    .cloudtrail_name()
                    .map(|_| g.constraint.clone()),
                ..GrantFacts::default()
            };
            let (account, region) = self.place_of(key_arn);
            let s = &mut self.symbols;
            let creation = GrantCreation {
                time,
                event_id: s.push_unique(""),
                grant_id: s.intern(&g.grant_id),
                key: Some(s.intern(key_arn)),
                account,
                region,
                principal: None,
                grant_name: s.intern_opt(facts.grant_name.as_deref()),
                grantee: s.intern_opt(facts.grantee.as_deref()),
                retiring_principal: s.intern_opt(facts.retiring_principal.as_deref()),
                grantee_service_principal: None,
                retiring_service_principal: None,
                grantee_norm: s.intern_opt(facts.grantee_normalized(Some(key_arn)).as_deref()),
                retiring_norm: s.intern_opt(facts.retiring_normalized(Some(key_arn)).as_deref()),
                source_arn: None,
                operations: Some(g.operations.iter().map(|o| s.intern(o)).collect()),
                constraint_kind: s.intern_opt(facts.constraint_kind.as_deref()),
                constraint: s.intern_context_opt(facts.constraint.as_ref()),
                shared: None,
                from_snapshot: true,
                snapshot_time,
            };
            self.creations.push(creation);
            added += 1;
        }
        added
    }

    fn add_snapshot_policy(&mut self, k: &SnapshotKey, t: i64) {
        let Some(text) = k.policy.as_deref() else {
            return;
        };
        let key = self.symbols.intern(&k.key_arn);
        let latest = self
            .policies
            .iter()
            .filter(|v| v.key == key && v.source != PolicySource::Snapshot && v.time <= t)
            .map(|v| v.time)
            .max();
        let (from, since) = match (latest, k.creation_date) {
            (Some(t), _) => (t, PolicySince::LatestVersion),
            (None, Some(c)) => (c, PolicySince::KeyCreation),
            (None, None) => (i64::MIN, PolicySince::Always),
        };
        let (account, region) = self.place_of(&k.key_arn);
        let s = &mut self.symbols;
        self.policies.push(PolicyVersion {
            time: from,
            event_id: s.push_unique(""),
            event_name: s.intern("snapshot"),
            key,
            account,
            region,
            principal: None,
            source: PolicySource::Snapshot,
            text: Some(s.intern(text)),
            shared: None,
            snapshot: Some(SnapshotPolicy { taken: t, since }),
        });
    }

    fn add_snapshot_state(&mut self, k: &SnapshotKey, t: i64) {
        let Some(state) = k.key_state.as_deref().filter(|s| !s.is_empty()) else {
            return;
        };
        let (account, region) = self.place_of(&k.key_arn);
        let s = &mut self.symbols;
        self.snapshot_states.push(SnapshotState {
            time: t,
            key: s.intern(&k.key_arn),
            account,
            region,
            state: s.intern(state),
        });
    }

    /// The account and region of a key ARN, interned.
    fn place_of(&mut self, key_arn: &str) -> (Option<Sym>, Option<Sym>) {
        let p = arn::parse(key_arn);
        let s = &mut self.symbols;
        (
            s.intern_opt(p.as_ref().map(|a| a.account).filter(|a| !a.is_empty())),
            s.intern_opt(p.as_ref().map(|a| a.region).filter(|a| !a.is_empty())),
        )
    }
}
