//! What one event contributes to the per-key ledgers the Lambda keeps between files.

use crate::kms::{Category, KmsEvent};
use crate::ledger::{LedgerDelta, UNKEYED};
use crate::profile::Profiles;

/// Adds a successful event to the ledger delta: grant and key-state events always (and the
/// rotations, custom key stores and key policies they depend on); key uses with a profile constraint key
/// as the latest of their slot.
pub(super) fn capture(
    delta: &mut LedgerDelta,
    profiles: &Profiles,
    ev: &KmsEvent,
    bytes: &[u8],
    source: &str,
) {
    // Compact when serde_json's Value can hold the record; one it cannot (numbers beyond
    // f64, nesting deeper than 128) is kept as written, never replaced by nothing.
    let compact = || {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned())
    };
    let id = ev.event_id.as_deref().unwrap_or("");
    let time = ev.event_time.unwrap_or(0);
    match ev.category {
        Category::GrantChange | Category::KeyStateChange => {
            delta.add_event(
                ev.key.arn.as_deref().unwrap_or(UNKEYED),
                id,
                &compact(),
                source,
            );
        }
        Category::KeyUse => {
            let mut record: Option<String> = None;
            for u in &ev.uses {
                let (Some(key), Some(ctx)) = (u.key.arn.as_deref(), u.context.as_ref()) else {
                    continue;
                };
                let Some(m) = profiles.match_context(ctx) else {
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
                let rec = record.get_or_insert_with(compact);
                delta.add_use(key, &slot, time, id, rec);
            }
        }
        // What the key-state rules read from other calls: rotations of imported material,
        // and the custom key store a key was created in; and every key policy version
        // (CreateKey, PutKeyPolicy) for the authorization verdicts.
        Category::Other
            if ev.event_name == "RotateKeyOnDemand"
                || ev.custom_key_store_id.is_some()
                || crate::kms::POLICY_EVENTS.contains(&ev.event_name.as_str()) =>
        {
            if let Some(key) = ev.key.arn.as_deref() {
                delta.add_event(key, id, &compact(), source);
            }
        }
        Category::Other => {}
    }
}
