//! What one event contributes to the per-key ledgers the Lambda keeps between files, and
//! which of it can matter (RULES.md section 7).

use crate::audit::ledger::{LedgerDelta, UNKEYED};
use crate::audit::timeline::Timeline;
use crate::model::kms::{Category, KmsEvent};
use crate::model::profile::{EventMatches, Profiles};
use std::collections::HashMap;

/// Orphan removals the ledgers hold, by grant id: (key, event id, time, record, source).
pub(super) type Orphans = HashMap<String, Vec<(String, String, i64, String, String)>>;

/// A successful RetireGrant or RevokeGrant, held until the run knows whether its grant
/// matters (its CreateGrant may be in this file, in the ledgers, in a snapshot or nowhere).
#[derive(Debug, Clone)]
pub(super) struct PendingRemoval {
    pub key: String,
    pub event_id: String,
    pub time: i64,
    pub grant_id: Option<String>,
    pub record: String,
}

/// Record fields no rule reads: the ledger drops them (RULES.md section 7). The tables keep
/// them: the ledger's records only explain other files' events.
const UNREAD: [&str; 11] = [
    "eventVersion",
    "userAgent",
    "sourceIPAddress",
    "requestID",
    "readOnly",
    "tlsDetails",
    "eventCategory",
    "managementEvent",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "sessionCredentialFromConsole",
];

/// The record as the ledger keeps it: compact JSON without the fields no rule reads (the
/// caller keeps type, ARN, account, invokedBy and session issuer). A record serde_json's
/// Value cannot hold (numbers beyond f64, nesting deeper than 128) is kept as written, never
/// replaced by nothing.
fn compact(bytes: &[u8]) -> String {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    if let Some(o) = v.as_object_mut() {
        for k in UNREAD {
            o.remove(k);
        }
        if let Some(ui) = o.get_mut("userIdentity").and_then(|u| u.as_object_mut()) {
            ui.remove("accessKeyId");
            ui.remove("principalId");
            if let Some(sc) = ui.get_mut("sessionContext").and_then(|s| s.as_object_mut()) {
                sc.remove("attributes");
                sc.remove("webIdFederationData");
            }
        }
    }
    v.to_string()
}

/// Adds a successful event to the ledger delta: key-state events always (any use of a key
/// depends on its state), CreateGrant when the grant could serve a profile use
/// ([`Profiles::may_serve`]), the rotations, custom key stores and key policies the rules
/// read, and key uses with a profile constraint key as the latest of their slot. A grant
/// removal is returned, to be resolved once the run knows its grant.
pub(super) fn capture(
    delta: &mut LedgerDelta,
    profiles: &Profiles,
    ev: &KmsEvent,
    matches: &EventMatches,
    bytes: &[u8],
    source: &str,
) -> Option<PendingRemoval> {
    let id = ev.event_id.as_deref().unwrap_or("");
    let time = ev.event_time.unwrap_or(0);
    let key = ev.key.arn.as_deref();
    match ev.category {
        Category::GrantChange if ev.event_name == "CreateGrant" => {
            let g = ev.grant.as_ref();
            if profiles.may_serve(g.and_then(|g| g.constraint.as_ref())) {
                let key = key.unwrap_or(UNKEYED);
                delta.add_event(key, id, time, &compact(bytes), source);
                if let Some(grant) = g.and_then(|g| g.grant_id.as_deref()) {
                    delta.add_created(key, grant);
                }
            }
        }
        Category::GrantChange => {
            return Some(PendingRemoval {
                key: key.unwrap_or(UNKEYED).to_string(),
                event_id: id.to_string(),
                time,
                grant_id: ev.grant.as_ref().and_then(|g| g.grant_id.clone()),
                record: compact(bytes),
            });
        }
        Category::KeyStateChange => {
            delta.add_event(key.unwrap_or(UNKEYED), id, time, &compact(bytes), source);
        }
        Category::KeyUse => {
            let mut record: Option<String> = None;
            for (u, m) in ev.uses.iter().zip(&matches.uses) {
                let (Some(key), Some(m)) = (u.key.arn.as_deref(), m.as_ref()) else {
                    continue;
                };
                if !m.has_constraint_key {
                    continue;
                }
                let slot = format!(
                    "{}\n{}\n{}\n{}",
                    m.template.as_deref().unwrap_or(""),
                    m.resource.as_deref().unwrap_or(""),
                    u.operation,
                    ev.caller.identities.join(" ")
                );
                let rec = record.get_or_insert_with(|| compact(bytes));
                delta.add_use(key, &slot, time, id, rec);
            }
        }
        // What the key-state rules read from other calls: rotations of imported material,
        // and the custom key store a key was created in; and every key policy version
        // (CreateKey, PutKeyPolicy) for the authorization verdicts.
        Category::Other
            if ev.event_name == "RotateKeyOnDemand"
                || ev.custom_key_store_id.is_some()
                || crate::model::kms::POLICY_EVENTS.contains(&ev.event_name.as_str()) =>
        {
            if let Some(key) = key {
                delta.add_event(key, id, time, &compact(bytes), source);
            }
        }
        Category::Other => {}
    }
    None
}

/// Decides what the run's grant removals contribute (RULES.md section 7): a removal of a
/// grant that could serve a profile use is kept; of a grant constrained only on other keys,
/// dropped; of a grant no creation the run knows (own, ledgers, snapshots) names, kept as an
/// orphan. Orphans the ledgers held for a grant this run created are promoted to events.
pub(super) fn resolve_removals(
    tl: &Timeline,
    pending: Vec<PendingRemoval>,
    mut orphans: Orphans,
    ledger: &mut LedgerDelta,
    stem: &str,
) {
    let sy = &tl.symbols;
    let mut serves: HashMap<&str, bool> = HashMap::new();
    for c in &tl.creations {
        let may = tl.profiles.may_serve(sy.context_opt(c.constraint));
        *serves.entry(sy.get(c.grant_id)).or_insert(false) |= may;
    }
    for r in pending {
        let Some(grant) = r.grant_id.as_deref() else {
            continue; // No creation can ever be matched to it: no rule reads it.
        };
        match serves.get(grant) {
            Some(true) => ledger.add_event(&r.key, &r.event_id, r.time, &r.record, stem),
            Some(false) => {}
            None => ledger.add_orphan(&r.key, &r.event_id, r.time, grant, &r.record, stem),
        }
    }
    let created: Vec<String> = ledger
        .keys
        .values()
        .flat_map(|l| l.created.iter().cloned())
        .collect();
    for grant in created {
        for (key, id, time, rec, src) in orphans.remove(&grant).unwrap_or_default() {
            ledger.add_event(&key, &id, time, &rec, &src);
        }
    }
}
