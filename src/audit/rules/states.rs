//! Key states over time: each key's *effective* changes, as KMS applies them.
//!
//! From "Key states of AWS KMS keys", "Importing key material" and "Deleting AWS KMS keys":
//! a deleted key stays deleted; deleting imported material that is still pending rotation
//! changes nothing; importing material makes only a PendingImport key usable; a
//! disconnected custom key store makes its keys Unavailable until it is connected again.
//! testdata/RULES.md, section 3, states the rules this module implements.

use super::{order, Copies};
use crate::audit::timeline::{Rotation, StateChange, Sym, Timeline};
use crate::model::kms::StateClass;
use std::collections::{BTreeSet, HashMap};

/// One effective change of one key.
#[derive(Debug, Clone, Copy)]
pub struct Effective<'a> {
    /// The event behind it (for a store change, the Connect/DisconnectCustomKeyStore call).
    pub change: &'a StateChange,
    /// The state it leaves the key in.
    pub state: &'a str,
    pub class: StateClass,
}

impl Effective<'_> {
    /// A change the key's own event made (not its custom key store's).
    pub fn is_own(&self) -> bool {
        self.change.key.is_some()
    }
}

/// Every key's effective changes, in timeline order.
pub struct KeyStates<'a> {
    by_key: HashMap<Sym, Vec<Effective<'a>>>,
}

impl<'a> KeyStates<'a> {
    pub fn new(tl: &'a Timeline, copies: &Copies<'_>) -> Self {
        let sy = &tl.symbols;
        let mut own: HashMap<Sym, Vec<&StateChange>> = HashMap::new();
        let mut stores: HashMap<Sym, Vec<&StateChange>> = HashMap::new();
        for s in tl
            .states
            .iter()
            .filter(|s| copies.stands(s.shared, s.event_id))
        {
            match (s.key, s.store) {
                (Some(k), _) => own.entry(k).or_default().push(s),
                (None, Some(st)) => stores.entry(st).or_default().push(s),
                (None, None) => {}
            }
        }
        let sort = |v: &mut Vec<&StateChange>| {
            v.sort_by(|a, b| order(tl, a.time, a.event_id).cmp(&order(tl, b.time, b.event_id)))
        };
        own.values_mut().for_each(sort);
        stores.values_mut().for_each(sort);
        let mut rotations: HashMap<Sym, Vec<&Rotation>> = HashMap::new();
        for r in &tl.rotations {
            rotations.entry(r.key).or_default().push(r);
        }
        let first_use: HashMap<Sym, (i64, &str)> = tl.uses.first_success().collect();
        // The stores of each key, only those with Connect/Disconnect events.
        let mut stores_of: HashMap<Sym, BTreeSet<Sym>> = HashMap::new();
        for &(k, st) in tl
            .key_stores
            .iter()
            .filter(|(_, st)| stores.contains_key(st))
        {
            stores_of.entry(k).or_default().insert(st);
        }
        let mut keys: BTreeSet<Sym> = own.keys().copied().collect();
        keys.extend(stores_of.keys().copied());

        let mut by_key = HashMap::new();
        for key in keys {
            let events = own.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let material = Material {
                tl,
                imports: events
                    .iter()
                    .copied()
                    .filter(|s| sy.get(s.event_name) == "ImportKeyMaterial")
                    .collect(),
                rotations: rotations.get(&key).map(Vec::as_slice).unwrap_or(&[]),
                first_use: first_use.get(&key).copied(),
            };
            // The key's own events and its stores' Connect/Disconnect, in timeline order.
            let mut merged: Vec<&StateChange> = events.to_vec();
            for st in stores_of.get(&key).into_iter().flatten() {
                merged.extend(stores[st].iter().copied());
            }
            merged
                .sort_by(|a, b| order(tl, a.time, a.event_id).cmp(&order(tl, b.time, b.event_id)));
            let changes = effective_changes(tl, &merged, &material);
            by_key.insert(key, changes);
        }
        KeyStates { by_key }
    }

    /// The key's effective changes, in order.
    pub fn of(&self, key: Sym) -> &[Effective<'a>] {
        self.by_key.get(&key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The last effective change of `key` at or before `t`.
    pub fn at(&self, key: Sym, t: i64) -> Option<Effective<'a>> {
        let v = self.of(key);
        let n = v.partition_point(|e| e.change.time <= t);
        n.checked_sub(1).map(|i| v[i])
    }

    /// Whether an effective change in (from, to] made the key usable.
    pub fn usable_within(&self, key: Sym, from: i64, to: i64) -> bool {
        self.of(key)
            .iter()
            .any(|e| e.class == StateClass::Usable && e.change.time > from && e.change.time <= to)
    }

    /// Every key with effective changes (for the sweep).
    pub fn all(&self) -> impl Iterator<Item = (Sym, &[Effective<'a>])> {
        self.by_key.iter().map(|(k, v)| (*k, v.as_slice()))
    }
}

/// What decides whether deleted key material was pending rotation.
struct Material<'a, 'b> {
    tl: &'a Timeline,
    imports: Vec<&'a StateChange>,
    rotations: &'b [&'a Rotation],
    first_use: Option<(i64, &'a str)>,
}

impl Material<'_, '_> {
    /// Whether `deletion` names material imported as NEW_KEY_MATERIAL while the key already
    /// had material, and not rotated in since.
    fn pending(&self, deletion: &StateChange) -> bool {
        let tl = self.tl;
        let sy = &tl.symbols;
        let Some(id) = deletion.key_material_id else {
            return false;
        };
        let at = order(tl, deletion.time, deletion.event_id);
        self.imports.iter().any(|imp| {
            let o = order(tl, imp.time, imp.event_id);
            let had_material = self
                .imports
                .iter()
                .any(|p| order(tl, p.time, p.event_id) < o)
                || self.first_use.is_some_and(|u| u < o);
            o < at
                && imp.key_material_id == Some(id)
                && sy.get_opt(imp.import_type) == Some("NEW_KEY_MATERIAL")
                && had_material
                && !self.rotations.iter().any(|r| {
                    let ro = order(tl, r.time, r.event_id);
                    ro > o && ro < at
                })
        })
    }
}

/// The changes that count, in one pass over the key's events (own and store) in order.
fn effective_changes<'a>(
    tl: &'a Timeline,
    events: &[&'a StateChange],
    material: &Material<'a, '_>,
) -> Vec<Effective<'a>> {
    let sy = &tl.symbols;
    let mut out: Vec<Effective<'a>> = Vec::new();
    // The last own change that counted: what a reconnected store restores.
    let mut own: Option<(&'a str, StateClass)> = None;
    for &s in events {
        if out.last().is_some_and(|e| e.state == "Deleted") {
            break; // Deleted for good.
        }
        let name = sy.get(s.event_name);
        let (state, class) = if s.key.is_none() {
            // A store change: Disconnect reports Unavailable; Connect restores.
            match (sy.get_opt(s.state), s.class) {
                (Some(state), Some(class)) => (state, class),
                _ => own.unwrap_or(("Enabled", StateClass::Usable)),
            }
        } else {
            let (Some(state), Some(class)) = (sy.get_opt(s.state), s.class) else {
                continue;
            };
            if name == "DeleteImportedKeyMaterial" && material.pending(s) {
                continue;
            }
            if name == "ImportKeyMaterial" && out.last().is_some_and(|e| e.state != "PendingImport")
            {
                continue;
            }
            own = Some((state, class));
            (state, class)
        };
        out.push(Effective {
            change: s,
            state,
            class,
        });
    }
    out
}

impl Effective<'_> {
    /// The phrase a finding adds when a material deletion named no material.
    pub(super) fn assumed_material(&self, tl: &Timeline) -> &'static str {
        let name = tl.symbols.get(self.change.event_name);
        if name == "DeleteImportedKeyMaterial" && self.change.key_material_id.is_none() {
            " (the record names no key material: keytrail assumed the current one)"
        } else {
            ""
        }
    }
}
