//! The ledger: what later files need to know about a key, kept between Lambda invocations.
//!
//! A file's findings depend on grants and key states that may arrive in other files, in any
//! order, through concurrent invocations. For every key the Lambda keeps one small ledger
//! document (in S3, updated with conditional writes): the key-state events seen for the key,
//! the grants that could cover a profile use and their removals, and the latest successful
//! profile-context use per template and resource (what a later DisableKey or RetireGrant
//! would leave unreadable). Entries are the compact original records, keyed by eventID, so
//! merging is idempotent and order-free, and the rules read them through the same code as
//! any record. Only state that can change a finding is kept (RULES.md section 7): grants
//! constrained only on other services' context keys are left to the tables, a removal whose
//! grant is not known yet is an *orphan* kept for [`ORPHAN_HORIZON_MS`] of event time, and
//! the record of which events got findings for [`FLAGGED_TTL_MS`] of wall-clock time after
//! it was written (the writer stamps its delta with its clock: this module never reads it).
//! This module is pure: it merges documents; the S3 edge does the conditional writes.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub mod items;

/// How long (event time, behind the newest event the ledger holds) a removal of a grant the
/// ledger does not know is kept for its CreateGrant to arrive: one day, far beyond
/// CloudTrail's delivery delay (about 5 minutes on average).
pub const ORPHAN_HORIZON_MS: i64 = 86_400_000;

/// How long (wall-clock time after it was written) the ledger remembers which source
/// reported an event's findings, so a duplicate delivery from another source is not
/// reported again: seven days, far beyond CloudTrail's redelivery of a file.
pub const FLAGGED_TTL_MS: i64 = 7 * 86_400_000;

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
    /// Until when (wall-clock ms) each `flagged` entry is kept (entries of older ledgers,
    /// or written without a clock, have none and are kept).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flagged_until: BTreeMap<String, i64>,
    /// Removals of grants this ledger does not know, by eventID: (event time, grant id,
    /// compact record). A CreateGrant that could serve a profile use, arriving later,
    /// promotes them into `events`; otherwise they expire after [`ORPHAN_HORIZON_MS`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub orphans: BTreeMap<String, (i64, String, String)>,
    /// Grant ids whose CreateGrant is in `events`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub created: BTreeSet<String>,
    /// The newest event time the ledger has held: the orphans' horizon counts back from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<i64>,
    /// The latest wall-clock time (ms) of a writer: `flagged_until` is compared with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<i64>,
    /// The layout the ledger was written in: 0 before RULES.md section 7 (every grant kept),
    /// [`LAYOUT`] since. [`KeyLedger::upgrade`] brings an older ledger to it.
    #[serde(default)]
    pub layout: u32,
}

/// The current ledger layout (see [`KeyLedger::layout`]).
pub const LAYOUT: u32 = 1;

/// What one file contributes to the ledgers, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerDelta {
    pub keys: BTreeMap<String, KeyLedger>,
}

/// Ledger name of grant removals that name no key.
pub const UNKEYED: &str = "unkeyed";

impl LedgerDelta {
    /// Adds a grant or key-state event of `key` at `time`, delivered by `source`.
    pub fn add_event(&mut self, key: &str, event_id: &str, time: i64, record: &str, source: &str) {
        let l = self.ledger(key);
        l.events.insert(event_id.to_string(), record.to_string());
        l.orphans.remove(event_id);
        l.sources
            .entry(event_id.to_string())
            .or_insert_with(|| source.to_string());
        l.see(time);
    }

    /// Records that the CreateGrant of `grant` is among `key`'s events.
    pub fn add_created(&mut self, key: &str, grant: &str) {
        self.ledger(key).created.insert(grant.to_string());
    }

    /// Adds the removal of a grant the run does not know (see [`KeyLedger::orphans`]).
    pub fn add_orphan(
        &mut self,
        key: &str,
        event_id: &str,
        time: i64,
        grant: &str,
        record: &str,
        source: &str,
    ) {
        let l = self.ledger(key);
        if l.events.contains_key(event_id) {
            return;
        }
        l.orphans.insert(
            event_id.to_string(),
            (time, grant.to_string(), record.to_string()),
        );
        l.sources
            .entry(event_id.to_string())
            .or_insert_with(|| source.to_string());
        l.see(time);
    }

    /// Records that `source` reported findings for event `event_id` of `key`.
    pub fn add_flagged(&mut self, key: &str, event_id: &str, source: &str) {
        self.ledger(key)
            .flagged
            .entry(event_id.to_string())
            .or_insert_with(|| source.to_string());
    }

    /// Stamps every ledger of the delta with the writer's wall-clock time (ms): its
    /// `flagged` entries are kept for [`FLAGGED_TTL_MS`] from then.
    pub fn stamp(&mut self, clock_ms: i64) {
        for l in self.keys.values_mut() {
            l.clock = Some(l.clock.map_or(clock_ms, |c| c.max(clock_ms)));
            for id in l.flagged.keys() {
                l.flagged_until
                    .entry(id.clone())
                    .or_insert(clock_ms.saturating_add(FLAGGED_TTL_MS));
            }
        }
    }

    /// Adds a use of `key`; only the latest per slot is kept.
    pub fn add_use(&mut self, key: &str, slot: &str, time: i64, event_id: &str, record: &str) {
        let l = self.ledger(key);
        merge_use(
            (&mut l.uses, &mut l.tied),
            slot,
            (time, event_id.to_string(), record.to_string()),
        );
        l.see(time);
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
    /// idempotent, so replays and any interleaving of writers give the same document (up to
    /// an orphan that expired before its CreateGrant came: arrival order beyond the horizon).
    pub fn merge(&mut self, delta: &KeyLedger) -> bool {
        let before = self.clone();
        for (id, rec) in &delta.events {
            if !self.events.contains_key(id) {
                self.events.insert(id.clone(), rec.clone());
            }
            self.orphans.remove(id);
        }
        for (slot, u) in &delta.uses {
            merge_use((&mut self.uses, &mut self.tied), slot, u.clone());
        }
        for (slot, ties) in &delta.tied {
            let time = delta.uses.get(slot).map_or(i64::MIN, |u| u.0);
            for (id, rec) in ties {
                let u = (time, id.clone(), rec.clone());
                merge_use((&mut self.uses, &mut self.tied), slot, u);
            }
        }
        for (mine, theirs) in [
            (&mut self.sources, &delta.sources),
            (&mut self.flagged, &delta.flagged),
        ] {
            for (id, src) in theirs {
                mine.entry(id.clone()).or_insert_with(|| src.clone());
            }
        }
        for (id, t) in &delta.flagged_until {
            let u = self.flagged_until.entry(id.clone()).or_insert(*t);
            *u = (*u).min(*t);
        }
        if let Some(c) = delta.clock {
            self.clock = Some(self.clock.map_or(c, |m| m.max(c)));
        }
        for (id, o) in &delta.orphans {
            if !self.events.contains_key(id) {
                self.orphans.entry(id.clone()).or_insert_with(|| o.clone());
            }
        }
        self.created.extend(delta.created.iter().cloned());
        if let Some(t) = delta.watermark {
            self.see(t);
        }
        self.settle();
        *self != before
    }

    /// Raises the watermark to `time`.
    fn see(&mut self, time: i64) {
        self.watermark = Some(self.watermark.map_or(time, |w| w.max(time)));
    }

    /// Promotes orphans whose grant is now known, and forgets what the horizons passed.
    fn settle(&mut self) {
        let events = &mut self.events;
        let created = &self.created;
        self.orphans.retain(|id, (_, grant, rec)| {
            if created.contains(grant.as_str()) {
                events.insert(id.clone(), std::mem::take(rec));
                false
            } else {
                true
            }
        });
        if let Some(w) = self.watermark {
            let sources = &mut self.sources;
            self.orphans.retain(|id, (t, _, _)| {
                let keep = *t >= w.saturating_sub(ORPHAN_HORIZON_MS);
                if !keep {
                    sources.remove(id);
                }
                keep
            });
        }
        if let Some(now) = self.clock {
            let flagged = &mut self.flagged;
            self.flagged_until.retain(|id, until| {
                let keep = *until >= now;
                if !keep {
                    flagged.remove(id);
                }
                keep
            });
        }
    }

    /// Brings a ledger written before RULES.md section 7 to the current layout: drops the
    /// CreateGrant events of grants that cannot serve a profile use (`profiles`) and their
    /// removals, and records which grants the kept CreateGrants created. Nothing it drops can
    /// change a finding; the tables keep every event. Returns how many events it dropped.
    pub fn upgrade(&mut self, profiles: &crate::model::profile::Profiles) -> usize {
        if self.layout >= LAYOUT {
            return 0;
        }
        let mut foreign = BTreeSet::new();
        let mut creations: Vec<(String, String)> = Vec::new();
        let mut removals: Vec<(String, String)> = Vec::new();
        for (id, rec) in &self.events {
            let Ok(raw) = crate::read::rawjson::RawObject::parse(rec.as_bytes()) else {
                continue;
            };
            let ev = crate::model::kms::from_record(&raw);
            let Some(grant) = ev.grant.as_ref().and_then(|g| g.grant_id.clone()) else {
                continue;
            };
            match ev.event_name.as_str() {
                "CreateGrant" => {
                    if ev.succeeded() {
                        let constraint = ev.grant.as_ref().and_then(|g| g.constraint.as_ref());
                        if profiles.may_serve(constraint) {
                            self.created.insert(grant.clone());
                        } else {
                            foreign.insert(grant.clone());
                        }
                    }
                    creations.push((id.clone(), grant));
                }
                "RetireGrant" | "RevokeGrant" => removals.push((id.clone(), grant)),
                _ => {}
            }
        }
        // A grant with a kept creation stays whole, whatever its other creations.
        foreign.retain(|g| !self.created.contains(g));
        let mut dropped = 0;
        let doomed = creations
            .into_iter()
            .chain(removals)
            .filter(|(_, g)| foreign.contains(g))
            .map(|(id, _)| id);
        for id in doomed {
            if self.events.remove(&id).is_some() {
                self.sources.remove(&id);
                dropped += 1;
            }
        }
        self.layout = LAYOUT;
        dropped
    }

    /// Every record the ledger holds (events, orphans, then uses).
    pub fn records(&self) -> impl Iterator<Item = &str> {
        self.events
            .values()
            .map(String::as_str)
            .chain(self.orphans.values().map(|(_, _, r)| r.as_str()))
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
            d.add_event("k", id, 0, r, "src");
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

    const DAY: i64 = 86_400_000;

    #[test]
    fn orphans_are_promoted_by_their_creation_whatever_the_order() {
        let mut removal = LedgerDelta::default();
        removal.add_orphan("k", "r1", 5 * DAY, "g1", "rec-r1", "src-b");
        let mut creation = LedgerDelta::default();
        creation.add_event("k", "c1", 4 * DAY, "rec-c1", "src-a");
        creation.add_created("k", "g1");
        let (r, c) = (&removal.keys["k"], &creation.keys["k"]);
        let mut x = KeyLedger::default();
        x.merge(r);
        assert_eq!(x.orphans.len(), 1);
        x.merge(c);
        let mut y = KeyLedger::default();
        y.merge(c);
        y.merge(r);
        assert_eq!(x, y);
        assert!(x.orphans.is_empty());
        assert_eq!(x.events.keys().collect::<Vec<_>>(), ["c1", "r1"]);
        assert_eq!(x.sources["r1"], "src-b");
        assert!(!x.merge(r) && !x.merge(c), "replays change nothing");
    }

    #[test]
    fn orphans_expire_behind_the_watermark() {
        let mut d = LedgerDelta::default();
        d.add_orphan("k", "old", DAY, "g-old", "rec", "s");
        d.add_orphan("k", "edge", 2 * DAY, "g-edge", "rec", "s");
        let mut x = KeyLedger::default();
        x.merge(&d.keys["k"]);
        assert_eq!(x.orphans.len(), 2);
        // A use a day after the second orphan: the first is beyond the horizon, the
        // second exactly at it (kept).
        let mut later = LedgerDelta::default();
        later.add_use("k", "slot", 3 * DAY, "u", "rec-u");
        x.merge(&later.keys["k"]);
        assert_eq!(x.orphans.keys().collect::<Vec<_>>(), ["edge"]);
        assert!(!x.sources.contains_key("old") && x.sources.contains_key("edge"));
        // An orphan arriving after the horizon passed is not kept at all.
        let mut week = LedgerDelta::default();
        week.add_use("k", "slot", 9 * DAY, "u9", "rec-u9");
        x.merge(&week.keys["k"]);
        assert!(x.orphans.is_empty());
        x.merge(&d.keys["k"]);
        assert!(x.orphans.is_empty());
    }

    #[test]
    fn flags_expire_a_week_of_wall_clock_after_they_were_written() {
        let flag = |id: &str, clock: Option<i64>| {
            let mut d = LedgerDelta::default();
            d.add_flagged("k", id, "s");
            if let Some(c) = clock {
                d.stamp(c);
            }
            d.keys.remove("k").unwrap()
        };
        let mut x = KeyLedger::default();
        x.merge(&flag("f1", Some(DAY)));
        x.merge(&flag("f2", Some(3 * DAY)));
        x.merge(&flag("f0", None));
        // Six days after f1 was written, both are kept; at f1's eighth day only f2.
        x.merge(&flag("x", Some(7 * DAY)));
        assert_eq!(
            x.flagged.keys().collect::<Vec<_>>(),
            ["f0", "f1", "f2", "x"]
        );
        x.merge(&flag("y", Some(8 * DAY + 1)));
        assert_eq!(x.flagged.keys().collect::<Vec<_>>(), ["f0", "f2", "x", "y"]);
        assert!(
            !x.flagged_until.contains_key("f0"),
            "a flag without a clock is kept"
        );
        // The same merges in another order give the same ledger.
        let mut y = KeyLedger::default();
        for d in [
            flag("y", Some(8 * DAY + 1)),
            flag("x", Some(7 * DAY)),
            flag("f0", None),
            flag("f2", Some(3 * DAY)),
            flag("f1", Some(DAY)),
        ] {
            y.merge(&d);
        }
        assert_eq!(x, y);
        // Ledgers written before these fields existed still read.
        let old =
            r#"{"key":"k","events":{"e":"r"},"uses":{},"sources":{"e":"s"},"flagged":{"f":"s"}}"#;
        let mut o = KeyLedger::from_json(old.as_bytes()).unwrap();
        o.merge(&flag("z", Some(100 * DAY)));
        assert!(o.flagged.contains_key("f"));
    }

    #[test]
    fn an_older_ledger_is_upgraded_without_what_cannot_matter() {
        let grant = |id: &str, grant: &str, ctx: &str| {
            format!(
                r#"{{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventID":"{id}","eventTime":"2026-01-01T00:00:00Z","awsRegion":"us-east-1","resources":[{{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:1:key/k"}}],"requestParameters":{{"granteePrincipal":"ec2.amazonaws.com","operations":["Decrypt"],"constraints":{{"encryptionContextSubset":{ctx}}}}},"responseElements":{{"grantId":"{grant}"}}}}"#
            )
        };
        let retire = |id: &str, grant: &str| {
            format!(
                r#"{{"eventSource":"kms.amazonaws.com","eventName":"RetireGrant","eventID":"{id}","eventTime":"2026-01-02T00:00:00Z","awsRegion":"us-east-1","requestParameters":{{"grantId":"{grant}"}}}}"#
            )
        };
        let disable = r#"{"eventSource":"kms.amazonaws.com","eventName":"DisableKey","eventID":"d1","eventTime":"2026-01-03T00:00:00Z","awsRegion":"us-east-1","requestParameters":{"keyId":"arn:aws:kms:us-east-1:1:key/k"}}"#;
        let mut l = KeyLedger {
            key: "arn:aws:kms:us-east-1:1:key/k".into(),
            ..KeyLedger::default()
        };
        for (id, rec) in [
            (
                "c-ebs",
                grant("c-ebs", "g-ebs", r#"{"aws:ebs:id":"vol-1"}"#),
            ),
            ("r-ebs", retire("r-ebs", "g-ebs")),
            (
                "c-proton",
                grant(
                    "c-proton",
                    "g-p",
                    r#"{"aws:proton:template":"arn:aws:proton:us-east-1:1:service-template/t"}"#,
                ),
            ),
            ("r-proton", retire("r-proton", "g-p")),
            ("r-unknown", retire("r-unknown", "g-x")),
            ("d1", disable.to_string()),
        ] {
            l.events.insert(id.into(), rec);
            l.sources.insert(id.into(), "src".into());
        }
        let json = l.to_json();
        let mut old = KeyLedger::from_json(&json).unwrap();
        assert_eq!(old.layout, 0, "a ledger without a layout is the first one");
        let profiles = crate::model::profile::Profiles::default();
        assert_eq!(old.upgrade(&profiles), 2);
        assert_eq!(
            old.events.keys().collect::<Vec<_>>(),
            ["c-proton", "d1", "r-proton", "r-unknown"]
        );
        assert!(!old.sources.contains_key("c-ebs"));
        assert_eq!(old.created.iter().collect::<Vec<_>>(), ["g-p"]);
        assert_eq!(old.layout, LAYOUT);
        assert_eq!(old.upgrade(&profiles), 0, "once is enough");
    }

    #[test]
    fn object_names_are_one_segment() {
        assert_eq!(
            object_name("arn:aws:kms:us-east-1:1:key/abc"),
            "arn%3Aaws%3Akms%3Aus-east-1%3A1%3Akey%2Fabc.json"
        );
    }
}
