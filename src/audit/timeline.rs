//! The timeline: the compact, order-free record of what happened to keys and grants.
//!
//! The pipeline pushes every distinct KMS event here as it streams by; the findings rules,
//! the `grants`, `key_states` and `proton_usage` tables are all derived from it once the
//! input is read. Strings are interned (keys, principals, identities repeat millions of
//! times in a backfill); key uses keep their event id and context owned and go to the
//! [`UseLog`], which can spill them to disk, so memory need not grow with them.

mod baseline;
mod policy;
mod symbols;
mod uses;

pub use baseline::SnapshotState;
pub use policy::{CallerFacts, PolicySince, PolicySource, PolicyVersion, SnapshotPolicy};
pub use symbols::{Ctx, Ids, Sym, Symbols};
pub use uses::{Spill, UseLog};

use policy::{caller_facts, policy_source};

use crate::model::kms::{Caller, Category, KmsEvent, StateClass};
use crate::model::profile::{EventMatches, Profiles};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One use of one key (a ReEncrypt gives two).
#[derive(Debug, Clone)]
pub struct UseItem {
    pub time: i64,
    /// Owned, not interned: uses are the bulk of a backfill and may live in a spill.
    pub event_id: String,
    pub event_name: Sym,
    pub operation: Sym,
    pub key: Option<Sym>,
    /// The context, owned (contexts often carry per-call values: interning them would grow
    /// with the uses); equal recent contexts share one map.
    pub context: Option<Arc<BTreeMap<String, String>>>,
    /// Caller identities, normalised.
    pub identities: Ids,
    pub principal: Option<Sym>,
    pub account: Option<Sym>,
    pub region: Option<Sym>,
    pub error_code: Option<Sym>,
    /// Index of the matching context profile.
    pub profile: Option<u8>,
    pub has_constraint_key: bool,
    pub malformed: Option<Sym>,
    pub template: Option<Sym>,
    pub resource: Option<Sym>,
    /// `sharedEventID`: copies of one cross-account call share it.
    pub shared: Option<Sym>,
    /// A failed use whose errorMessage names a transient key state (unavailable, creating,
    /// updating).
    pub error_transient: bool,
    /// What a key policy's conditions read about the caller (RULES.md section 6.3).
    pub caller: CallerFacts,
}

impl Default for UseItem {
    /// A blank use, to read a spilled one into.
    fn default() -> Self {
        let one = Sym::from_raw(1).expect("non-zero");
        UseItem {
            time: 0,
            event_id: String::new(),
            event_name: one,
            operation: one,
            key: None,
            context: None,
            identities: Ids::from_raw(1).expect("non-zero"),
            principal: None,
            account: None,
            region: None,
            error_code: None,
            profile: None,
            has_constraint_key: false,
            malformed: None,
            template: None,
            resource: None,
            shared: None,
            error_transient: false,
            caller: CallerFacts::default(),
        }
    }
}

/// A grant as created.
#[derive(Debug, Clone)]
pub struct GrantCreation {
    pub time: i64,
    pub event_id: Sym,
    pub grant_id: Sym,
    pub key: Option<Sym>,
    pub account: Option<Sym>,
    pub region: Option<Sym>,
    pub principal: Option<Sym>,
    pub grant_name: Option<Sym>,
    pub grantee: Option<Sym>,
    pub retiring_principal: Option<Sym>,
    pub grantee_service_principal: Option<Sym>,
    pub retiring_service_principal: Option<Sym>,
    /// Whom the grant serves, normalised (grantee principal, else service principal).
    pub grantee_norm: Option<Sym>,
    /// Who may retire it, normalised.
    pub retiring_norm: Option<Sym>,
    /// The source-ARN constraint, which logs cannot check.
    pub source_arn: Option<Sym>,
    pub operations: Option<Vec<Sym>>,
    pub constraint_kind: Option<Sym>,
    pub constraint: Option<Ctx>,
    pub shared: Option<Sym>,
    /// A grant a snapshot lists (its `event_id` is empty): RULES.md section 6.6.
    pub from_snapshot: bool,
    /// When that snapshot was taken, if it says.
    pub snapshot_time: Option<i64>,
}

/// A successful RetireGrant or RevokeGrant.
#[derive(Debug, Clone)]
pub struct GrantRemoval {
    pub time: i64,
    pub event_id: Sym,
    pub event_name: Sym,
    pub grant_id: Option<Sym>,
    pub key: Option<Sym>,
    pub account: Option<Sym>,
    pub region: Option<Sym>,
    pub principal: Option<Sym>,
    /// The remover's identities without an added account root.
    pub exact_identities: Ids,
    pub shared: Option<Sym>,
}

/// A successful key-state event.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub time: i64,
    pub event_id: Sym,
    pub event_name: Sym,
    pub key: Option<Sym>,
    pub account: Option<Sym>,
    pub region: Option<Sym>,
    pub principal: Option<Sym>,
    /// The state the event reports or implies; `None` for ConnectCustomKeyStore.
    pub state: Option<Sym>,
    pub class: Option<StateClass>,
    pub deletion_date: Option<Sym>,
    pub pending_window_days: Option<Sym>,
    pub key_material_id: Option<Sym>,
    pub import_type: Option<Sym>,
    /// Connect/DisconnectCustomKeyStore: the store.
    pub store: Option<Sym>,
    pub shared: Option<Sym>,
}

impl StateChange {
    /// Whether the state it reports lets the key be used.
    pub fn usable(&self) -> bool {
        self.class == Some(StateClass::Usable)
    }
}

/// A successful RotateKeyOnDemand: pending imported material becomes current.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub time: i64,
    pub event_id: Sym,
    pub key: Sym,
}

/// Counts of what the timeline could not use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineCounts {
    /// Distinct KMS events without a usable event time (kept in kms_events, not in findings).
    pub without_time: u64,
    /// Key uses whose key ARN could not be resolved (alias only): no grant coverage check.
    pub unresolved_key_uses: u64,
    /// Successful RetireGrant/RevokeGrant events naming no grant id.
    pub removals_without_grant_id: u64,
    /// Successful CreateGrant events without a grant id in the response.
    pub creations_without_grant_id: u64,
}

/// Everything the rules and derived tables need, in push order.
#[derive(Debug)]
pub struct Timeline {
    pub symbols: Symbols,
    pub profiles: Profiles,
    /// Key uses, in time order on every pass (they may spill: [`UseLog`]).
    pub uses: UseLog,
    pub creations: Vec<GrantCreation>,
    pub removals: Vec<GrantRemoval>,
    pub states: Vec<StateChange>,
    pub rotations: Vec<Rotation>,
    pub policies: Vec<PolicyVersion>,
    /// Key states snapshots recorded (RULES.md section 6.6).
    pub snapshot_states: Vec<SnapshotState>,
    /// Per (account, region): the first and last event time of the KMS events pushed.
    pub windows: HashMap<(Option<Sym>, Option<Sym>), (i64, i64)>,
    /// (key, custom key store) pairs seen (CreateKey, uses), possibly repeated.
    pub key_stores: Vec<(Sym, Sym)>,
    pub counts: TimelineCounts,
}

impl Timeline {
    pub fn new(profiles: Profiles) -> Self {
        Timeline {
            symbols: Symbols::default(),
            profiles,
            uses: UseLog::default(),
            creations: Vec::new(),
            removals: Vec::new(),
            states: Vec::new(),
            rotations: Vec::new(),
            policies: Vec::new(),
            snapshot_states: Vec::new(),
            windows: HashMap::new(),
            key_stores: Vec::new(),
            counts: TimelineCounts::default(),
        }
    }

    /// Records one distinct KMS event (the caller dedupes on eventID).
    pub fn push(&mut self, ev: &KmsEvent) {
        let m = self.profiles.match_event(ev);
        self.push_matched(ev, &m);
    }

    /// [`Timeline::push`] with the event's profile matches already made.
    pub fn push_matched(&mut self, ev: &KmsEvent, matches: &EventMatches) {
        let Some(time) = ev.event_time else {
            self.counts.without_time += 1;
            return;
        };
        let s = &mut self.symbols;
        let id = ev.event_id.as_deref().unwrap_or("");
        // Uses keep their id owned (they may spill); the ids of the other events the
        // timeline keeps live in the arena, pushed there only when the event is kept (most
        // of the rest, Describe and List calls, are not).
        let is_use = ev.category == Category::KeyUse;
        let event_name = s.intern(&ev.event_name);
        let account = s.intern_opt(ev.account_id.as_deref());
        let region = s.intern_opt(ev.region.as_deref());
        let principal = s.intern_opt(ev.caller.principal.as_deref());
        let shared = s.intern_opt(ev.shared_event_id.as_deref());
        let key = s.intern_opt(ev.key.arn.as_deref());
        let w = self
            .windows
            .entry((account, region))
            .or_insert((time, time));
        *w = (w.0.min(time), w.1.max(time));
        if let (Some(k), Some(store)) = (key, ev.custom_key_store_id.as_deref()) {
            if ev.succeeded() && ev.category != Category::KeyStateChange {
                let store = s.intern(store);
                self.key_stores.push((k, store));
            }
        }
        let mut kept_id = None;
        if let (Some(k), true, false) = (key, ev.succeeded(), is_use) {
            if let Some(source) = policy_source(ev) {
                let event_id = *kept_id.get_or_insert_with(|| s.push_unique(id));
                let text = s.intern_opt(ev.key_policy.as_deref());
                self.policies.push(PolicyVersion {
                    time,
                    event_id,
                    event_name,
                    key: k,
                    account,
                    region,
                    principal,
                    source,
                    text,
                    shared,
                    snapshot: None,
                });
            }
        }
        if is_use {
            let head = EventHead {
                time,
                event_id: id,
                event_name,
                account,
                region,
                principal,
                shared,
            };
            return self.push_uses(ev, matches, head);
        }
        let kept = match ev.category {
            Category::GrantChange | Category::KeyStateChange => ev.succeeded(),
            Category::Other => {
                ev.succeeded() && ev.event_name == "RotateKeyOnDemand" && key.is_some()
            }
            Category::KeyUse => false,
        };
        if !kept {
            return;
        }
        let event_id = kept_id.unwrap_or_else(|| s.push_unique(id));
        match ev.category {
            Category::GrantChange if ev.succeeded() => {
                let g = ev.grant.clone().unwrap_or_default();
                let key_arn = ev.key.arn.as_deref();
                if ev.event_name == "CreateGrant" {
                    let Some(grant_id) = g.grant_id.as_deref() else {
                        self.counts.creations_without_grant_id += 1;
                        return;
                    };
                    self.creations.push(GrantCreation {
                        time,
                        event_id,
                        grant_id: s.intern(grant_id),
                        key,
                        account,
                        region,
                        principal,
                        grant_name: s.intern_opt(g.grant_name.as_deref()),
                        grantee: s.intern_opt(g.grantee.as_deref()),
                        retiring_principal: s.intern_opt(g.retiring_principal.as_deref()),
                        grantee_service_principal: s
                            .intern_opt(g.grantee_service_principal.as_deref()),
                        retiring_service_principal: s
                            .intern_opt(g.retiring_service_principal.as_deref()),
                        grantee_norm: s.intern_opt(g.grantee_normalized(key_arn).as_deref()),
                        retiring_norm: s.intern_opt(g.retiring_normalized(key_arn).as_deref()),
                        source_arn: s.intern_opt(g.source_arn.as_deref()),
                        operations: g
                            .operations
                            .as_ref()
                            .map(|ops| ops.iter().map(|o| s.intern(o)).collect()),
                        constraint_kind: s.intern_opt(g.constraint_kind.as_deref()),
                        constraint: s.intern_context_opt(g.constraint.as_ref()),
                        shared,
                        from_snapshot: false,
                        snapshot_time: None,
                    });
                } else {
                    if g.grant_id.is_none() {
                        self.counts.removals_without_grant_id += 1;
                    }
                    let exact =
                        Caller::exact_identities(&ev.caller.identities, ev.caller.arn.as_deref());
                    self.removals.push(GrantRemoval {
                        time,
                        event_id,
                        event_name,
                        grant_id: s.intern_opt(g.grant_id.as_deref()),
                        key,
                        account,
                        region,
                        principal,
                        exact_identities: s.intern_ids(&exact),
                        shared,
                    });
                }
            }
            Category::KeyStateChange if ev.succeeded() => {
                let class = ev.key_state.as_deref().map(StateClass::of);
                self.states.push(StateChange {
                    time,
                    event_id,
                    event_name,
                    key,
                    account,
                    region,
                    principal,
                    state: s.intern_opt(ev.key_state.as_deref()),
                    class,
                    deletion_date: s.intern_opt(ev.deletion_date.as_deref()),
                    pending_window_days: s.intern_opt(ev.pending_window_days.as_deref()),
                    key_material_id: s.intern_opt(ev.key_material_id.as_deref()),
                    import_type: s.intern_opt(ev.import_type.as_deref()),
                    store: s.intern_opt(
                        ev.custom_key_store_id
                            .as_deref()
                            .filter(|_| ev.event_name.ends_with("CustomKeyStore")),
                    ),
                    shared,
                });
            }
            Category::Other if ev.succeeded() && ev.event_name == "RotateKeyOnDemand" => {
                if let Some(key) = key {
                    self.rotations.push(Rotation {
                        time,
                        event_id,
                        key,
                    });
                }
            }
            _ => {}
        }
    }

    /// One use item per key the event uses (a ReEncrypt has two).
    fn push_uses(&mut self, ev: &KmsEvent, matches: &EventMatches, head: EventHead<'_>) {
        let EventHead {
            time,
            event_id,
            event_name,
            account,
            region,
            principal,
            shared,
        } = head;
        let s = &mut self.symbols;
        let identities = s.intern_ids(&ev.caller.identities);
        let caller = caller_facts(s, ev);
        let error_code = s.intern_opt(ev.error_code.as_deref());
        let error_transient = ev.error_code.is_some()
            && ev
                .error_message
                .as_deref()
                .is_some_and(names_transient_state);
        for (i, u) in ev.uses.iter().enumerate() {
            let m = matches.uses.get(i).and_then(Option::as_ref);
            if u.key.arn.is_none() {
                self.counts.unresolved_key_uses += 1;
            }
            let context = u.context.as_ref().map(|c| self.uses.share_context(c));
            let s = &mut self.symbols;
            self.uses.push(UseItem {
                time,
                event_id: event_id.to_string(),
                event_name,
                operation: s.intern(&u.operation),
                key: s.intern_opt(u.key.arn.as_deref()),
                context,
                identities,
                principal,
                account,
                region,
                error_code,
                profile: m.as_ref().map(|m| m.profile.min(254) as u8),
                has_constraint_key: m.as_ref().is_some_and(|m| m.has_constraint_key),
                malformed: m
                    .as_ref()
                    .and_then(|m| m.malformed.as_deref())
                    .map(|r| s.intern(r)),
                template: m.as_ref().and_then(|m| s.intern_opt(m.template.as_deref())),
                resource: m.as_ref().and_then(|m| s.intern_opt(m.resource.as_deref())),
                shared,
                error_transient,
                caller,
            });
        }
    }
}

/// What every item of one event shares, interned once.
#[derive(Clone, Copy)]
struct EventHead<'e> {
    time: i64,
    event_id: &'e str,
    event_name: Sym,
    account: Option<Sym>,
    region: Option<Sym>,
    principal: Option<Sym>,
    shared: Option<Sym>,
}

/// Whether an errorMessage names a transient key state ("... is unavailable", "creating",
/// "updating"), any case.
pub fn names_transient_state(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["unavailable", "creating", "updating"]
        .iter()
        .any(|w| m.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_and_unique_strings_round_trip() {
        let mut s = Symbols::default();
        let a = s.intern("alpha");
        let u1 = s.push_unique("event-1");
        let b = s.intern("alpha");
        let u2 = s.push_unique("");
        let u3 = s.push_unique("event-3");
        assert_eq!(a, b);
        assert_ne!(u1, u3);
        assert_eq!(
            (s.get(a), s.get(u1), s.get(u2), s.get(u3)),
            ("alpha", "event-1", "", "event-3")
        );
    }
}
