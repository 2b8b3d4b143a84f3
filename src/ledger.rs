//! The ledger: what later files need to know about a key, kept between Lambda invocations.
//!
//! A file's findings depend on grants and key states that may arrive in other files, in any
//! order, through concurrent invocations. For every key the Lambda keeps one small ledger
//! document (in S3, updated with conditional writes): the grant and key-state events seen
//! for the key, and the latest successful profile-context use per template and resource (what
//! a later DisableKey or RetireGrant would leave unreadable). Entries are the compact
//! original records, keyed by eventID, so merging is idempotent and order-free, and the
//! rules read them through the same code as any record. This module is pure: it merges
//! documents; the S3 edge does the conditional writes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The ledger of one key (`key` is the key ARN, or `unkeyed` for grant removals that name
/// no key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLedger {
    pub key: String,
    /// Grant and key-state events, by eventID: compact record JSON.
    pub events: BTreeMap<String, String>,
    /// Latest successful profile-context use per `template \n resource \n operation \n
    /// principal`: (event time ms, event id, compact record JSON).
    pub uses: BTreeMap<String, (i64, String, String)>,
    /// Other uses of a slot at the same time as its latest (by eventID): copies of one
    /// cross-account call share a time, and the rules must see the one that stands for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tied: BTreeMap<String, BTreeMap<String, String>>,
    /// For each event in `events`, the source that delivered it first (its output stem). A
    /// later source delivering the same eventID is a duplicate delivery, not a retry.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// Events of any kind that got findings, with the source that reported them first: a
    /// later source delivering the same eventID again (CloudTrail delivers at least once)
    /// must not report them again. Bounded by the number of findings, not of events.
    #[serde(default)]
    pub flagged: BTreeMap<String, String>,
}

/// What one file contributes to the ledgers, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerDelta {
    pub keys: BTreeMap<String, KeyLedger>,
}

/// Ledger name of grant removals that name no key.
pub const UNKEYED: &str = "unkeyed";

impl LedgerDelta {
    /// Adds a grant or key-state event of `key`, delivered by `source`.
    pub fn add_event(&mut self, key: &str, event_id: &str, record: &str, source: &str) {
        let l = self.ledger(key);
        l.events.insert(event_id.to_string(), record.to_string());
        l.sources
            .entry(event_id.to_string())
            .or_insert_with(|| source.to_string());
    }

    /// Records that `source` reported findings for event `event_id` of `key`.
    pub fn add_flagged(&mut self, key: &str, event_id: &str, source: &str) {
        self.ledger(key)
            .flagged
            .entry(event_id.to_string())
            .or_insert_with(|| source.to_string());
    }

    /// Adds a use of `key`; only the latest per slot is kept.
    pub fn add_use(&mut self, key: &str, slot: &str, time: i64, event_id: &str, record: &str) {
        let l = self.ledger(key);
        merge_use(
            (&mut l.uses, &mut l.tied),
            slot,
            (time, event_id.to_string(), record.to_string()),
        );
    }

    fn ledger(&mut self, key: &str) -> &mut KeyLedger {
        self.keys
            .entry(key.to_string())
            .or_insert_with(|| KeyLedger {
                key: key.to_string(),
                ..KeyLedger::default()
            })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

type Uses = BTreeMap<String, (i64, String, String)>;
type Tied = BTreeMap<String, BTreeMap<String, String>>;

/// Keeps, per slot, every use at the slot's latest time: the one with the greatest eventID
/// in `uses`, the others in `tied`. Whatever the order of merges, the result is the same.
fn merge_use((uses, tied): (&mut Uses, &mut Tied), slot: &str, new: (i64, String, String)) -> bool {
    let Some(old) = uses.get(slot) else {
        uses.insert(slot.to_string(), new);
        return true;
    };
    if new.0 < old.0 || (new.0 == old.0 && new.1 == old.1) {
        return false;
    }
    if new.0 > old.0 {
        tied.remove(slot);
        uses.insert(slot.to_string(), new);
        return true;
    }
    let t = tied.entry(slot.to_string()).or_default();
    if new.1 > old.1 {
        let (_, id, rec) = uses.insert(slot.to_string(), new).expect("present");
        t.insert(id, rec);
        true
    } else {
        t.insert(new.1, new.2).is_none()
    }
}

impl KeyLedger {
    /// Merges `delta` in; tells whether anything changed. Merging is commutative and
    /// idempotent, so replays and any interleaving of writers give the same document.
    pub fn merge(&mut self, delta: &KeyLedger) -> bool {
        let mut changed = false;
        for (id, rec) in &delta.events {
            if !self.events.contains_key(id) {
                self.events.insert(id.clone(), rec.clone());
                changed = true;
            }
        }
        for (slot, u) in &delta.uses {
            changed |= merge_use((&mut self.uses, &mut self.tied), slot, u.clone());
        }
        for (slot, ties) in &delta.tied {
            let time = delta.uses.get(slot).map_or(i64::MIN, |u| u.0);
            for (id, rec) in ties {
                let u = (time, id.clone(), rec.clone());
                changed |= merge_use((&mut self.uses, &mut self.tied), slot, u);
            }
        }
        for (mine, theirs) in [
            (&mut self.sources, &delta.sources),
            (&mut self.flagged, &delta.flagged),
        ] {
            for (id, src) in theirs {
                if !mine.contains_key(id) {
                    mine.insert(id.clone(), src.clone());
                    changed = true;
                }
            }
        }
        changed
    }

    /// Every record the ledger holds (events, then uses).
    pub fn records(&self) -> impl Iterator<Item = &str> {
        self.events
            .values()
            .map(String::as_str)
            .chain(self.uses.values().map(|(_, _, r)| r.as_str()))
            .chain(
                self.tied
                    .values()
                    .flat_map(|t| t.values().map(String::as_str)),
            )
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("ledger serialises")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The object name of a key's ledger under the ledger prefix: the key ARN, escaped so it is
/// one path segment.
pub fn object_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 5);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".json");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(events: &[(&str, &str)], uses: &[(&str, i64, &str)]) -> KeyLedger {
        let mut d = LedgerDelta::default();
        for (id, r) in events {
            d.add_event("k", id, r, "src");
        }
        for (slot, t, id) in uses {
            d.add_use("k", slot, *t, id, &format!("rec-{id}"));
        }
        d.keys.remove("k").unwrap_or_default()
    }

    #[test]
    fn merge_is_idempotent_and_order_free() {
        let a = delta(&[("e1", "r1")], &[("s", 5, "u5")]);
        let b = delta(&[("e2", "r2")], &[("s", 9, "u9"), ("t", 1, "u1")]);
        let mut x = KeyLedger::default();
        assert!(x.merge(&a));
        assert!(x.merge(&b));
        assert!(!x.merge(&a), "replay changes nothing");
        let mut y = KeyLedger::default();
        y.merge(&b);
        y.merge(&a);
        assert_eq!(x, y);
        assert_eq!(x.uses["s"].1, "u9");
        assert_eq!(x.records().count(), 4);
        // Uses at the same time are all kept, whatever the order they came in.
        let c = delta(&[], &[("s", 9, "u9b"), ("s", 9, "u9a")]);
        let mut z = x.clone();
        z.merge(&c);
        let mut w = KeyLedger::default();
        w.merge(&c);
        w.merge(&b);
        w.merge(&a);
        assert_eq!(z, w);
        assert_eq!(z.uses["s"].1, "u9b");
        assert_eq!(z.tied["s"].keys().collect::<Vec<_>>(), ["u9", "u9a"]);
        assert!(!z.merge(&c) && !z.merge(&w), "replays change nothing");
        // A later use clears the ties.
        z.merge(&delta(&[], &[("s", 10, "u10")]));
        assert!(!z.tied.contains_key("s"));
        let back = KeyLedger::from_json(&x.to_json()).unwrap();
        assert_eq!(back, x);
    }

    #[test]
    fn object_names_are_one_segment() {
        assert_eq!(
            object_name("arn:aws:kms:us-east-1:1:key/abc"),
            "arn%3Aaws%3Akms%3Aus-east-1%3A1%3Akey%2Fabc.json"
        );
    }
}
