//! The ledger as items: how a key's cross-file state is kept one item per fact in a
//! key-value table (DynamoDB), so writers of unrelated facts never conflict and a file reads
//! only what its events need (RULES.md section 7).
//!
//! A [`KeyLedger`] delta becomes [`Item`]s, each with a sort key within the key's partition
//! and a write rule the store applies per item:
//! - `e#<eventId>`: a grant, key-state or policy event (compact record, first source);
//!   first writer wins, so a later source delivering the same event is a duplicate delivery.
//! - `g#<grantId>`: a grant whose CreateGrant is among the events; first writer wins.
//! - `f#<eventId>`: an event that got findings, with the source that reported them and an
//!   expiry (`expires`, epoch seconds) [`super::FLAGGED_TTL_MS`] after it was written; first wins.
//! - `u#<digest of slot>`: the latest successful profile-context use of a slot (template,
//!   resource, operation, principal) with every use at that time; a newer time replaces
//!   it, the same time adds to it, an older one changes nothing.
//! - `w`: the newest event time (the orphans' horizon); the greater wins.
//! - `x#<grantId>#<eventId>`: an orphan removal, read only by a file that creates its
//!   grant (nothing else can use it), expiring [`ORPHAN_TTL_MS`] after it was written.
//!
//! Items sort so that one range (`sk < "x"`) holds everything but orphans. Assembling the
//! items read gives the same [`KeyLedger`] the document ledger merges to (orphans promoted
//! and expired, flags past their time dropped), so the rules cannot tell the stores apart.
//! Pure: the DynamoDB edge maps [`Attr`]s to attribute values and applies [`WriteRule`]s.

use super::{KeyLedger, LAYOUT, ORPHAN_HORIZON_MS};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// How long (wall-clock time after it was written) an orphan item is kept by the table's
/// TTL: twice the event-time horizon, so a CreateGrant delivered within the horizon always
/// finds it (the horizon itself is applied when assembling).
pub const ORPHAN_TTL_MS: i64 = 2 * ORPHAN_HORIZON_MS;

/// The bound of the range that holds every item but orphans (`sk < ORPHAN_BOUND`).
pub const ORPHAN_BOUND: &str = "x";

/// The longest id kept verbatim in a key; longer ones (hostile input) are digested. The
/// verbatim id is always an attribute too. DynamoDB allows 2,048 bytes of partition key and
/// 1,024 of sort key.
const MAX_VERBATIM: usize = 512;

/// One fact of a key's cross-file state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A kept grant, key-state or policy event and the source that delivered it first.
    Event {
        id: String,
        record: String,
        source: String,
    },
    /// A grant whose CreateGrant is among the events.
    Created { grant: String },
    /// An event that got findings, the source that reported them, and until when (wall-clock
    /// ms) that is remembered.
    Flag {
        id: String,
        source: String,
        until: Option<i64>,
    },
    /// The latest uses of a slot: their time and the uses at that time by eventID.
    Use {
        slot: String,
        time: i64,
        uses: BTreeMap<String, String>,
    },
    /// The newest event time the key's state has held.
    Watermark(i64),
    /// A removal of a grant no known creation names: its time, grant, record and source, and
    /// until when (wall-clock ms) the table keeps it.
    Orphan {
        id: String,
        time: i64,
        grant: String,
        record: String,
        source: String,
        until: Option<i64>,
    },
}

/// An attribute value, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    S(String),
    N(i64),
    /// A map of strings (a slot's uses by eventID).
    M(BTreeMap<String, String>),
}

/// How the store writes an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRule {
    /// Set each attribute only where the item does not have it yet (never conflicts).
    FirstWins,
    /// A use slot: replace when the stored `time` is older, add the uses to `uses` when it is
    /// the same, leave it when it is newer.
    Latest,
    /// Set `time` when the stored one is smaller (or absent).
    Max,
}

/// The partition key of a key ARN (or [`super::UNKEYED`]).
pub fn partition(key: &str) -> String {
    verbatim_or_digest(key)
}

fn verbatim_or_digest(s: &str) -> String {
    if s.len() <= MAX_VERBATIM && !s.starts_with("h:") {
        s.to_string()
    } else {
        format!("h:{}", hex(&Sha256::digest(s.as_bytes())[..16]))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The sort-key prefix of the orphans of `grant`.
pub fn orphan_prefix(grant: &str) -> String {
    format!("x#{}#", verbatim_or_digest(grant))
}

impl Item {
    /// The item's sort key within its key's partition.
    pub fn sort_key(&self) -> String {
        match self {
            Item::Event { id, .. } => format!("e#{}", verbatim_or_digest(id)),
            Item::Created { grant } => format!("g#{}", verbatim_or_digest(grant)),
            Item::Flag { id, .. } => format!("f#{}", verbatim_or_digest(id)),
            Item::Use { slot, .. } => {
                format!("u#{}", hex(&Sha256::digest(slot.as_bytes())[..16]))
            }
            Item::Watermark(_) => "w".to_string(),
            Item::Orphan { id, grant, .. } => {
                format!("{}{}", orphan_prefix(grant), verbatim_or_digest(id))
            }
        }
    }

    pub fn write_rule(&self) -> WriteRule {
        match self {
            Item::Use { .. } => WriteRule::Latest,
            Item::Watermark(_) => WriteRule::Max,
            _ => WriteRule::FirstWins,
        }
    }

    /// The item's attributes (besides its keys). `expires` (epoch seconds) is the table's
    /// TTL attribute.
    pub fn attrs(&self) -> Vec<(&'static str, Attr)> {
        let s = |v: &String| Attr::S(v.clone());
        let expires = |until: &Option<i64>| until.map(|u| ("expires", Attr::N(u.div_euclid(1000))));
        match self {
            Item::Event { id, record, source } => {
                vec![("id", s(id)), ("record", s(record)), ("source", s(source))]
            }
            Item::Created { grant } => vec![("grant", s(grant))],
            Item::Flag { id, source, until } => {
                let mut v = vec![("id", s(id)), ("source", s(source))];
                v.extend(until.map(|u| ("until", Attr::N(u))));
                v.extend(expires(until));
                v
            }
            Item::Use { slot, time, uses } => vec![
                ("slot", s(slot)),
                ("time", Attr::N(*time)),
                ("uses", Attr::M(uses.clone())),
            ],
            Item::Watermark(t) => vec![("time", Attr::N(*t))],
            Item::Orphan {
                id,
                time,
                grant,
                record,
                source,
                until,
            } => {
                let mut v = vec![
                    ("id", s(id)),
                    ("time", Attr::N(*time)),
                    ("grant", s(grant)),
                    ("record", s(record)),
                    ("source", s(source)),
                ];
                v.extend(expires(until));
                v
            }
        }
    }

    /// Reads an item back from its sort key and attributes; the error says what is wrong.
    pub fn from_attrs(sk: &str, attrs: &BTreeMap<String, Attr>) -> Result<Item, String> {
        let s = |name: &str| match attrs.get(name) {
            Some(Attr::S(v)) => Ok(v.clone()),
            _ => Err(format!(
                "item {sk:?}: attribute {name:?} missing or not a string"
            )),
        };
        let n = |name: &str| match attrs.get(name) {
            Some(Attr::N(v)) => Ok(*v),
            _ => Err(format!(
                "item {sk:?}: attribute {name:?} missing or not a number"
            )),
        };
        let opt_n = |name: &str| match attrs.get(name) {
            Some(Attr::N(v)) => Some(*v),
            _ => None,
        };
        let kind = sk.split_once('#').map_or(sk, |(k, _)| k);
        Ok(match kind {
            "e" => Item::Event {
                id: s("id")?,
                record: s("record")?,
                source: s("source")?,
            },
            "g" => Item::Created { grant: s("grant")? },
            "f" => Item::Flag {
                id: s("id")?,
                source: s("source")?,
                until: opt_n("until"),
            },
            "u" => Item::Use {
                slot: s("slot")?,
                time: n("time")?,
                uses: match attrs.get("uses") {
                    Some(Attr::M(m)) => m.clone(),
                    _ => {
                        return Err(format!(
                            "item {sk:?}: attribute \"uses\" missing or not a map"
                        ))
                    }
                },
            },
            "w" => Item::Watermark(n("time")?),
            "x" => Item::Orphan {
                id: s("id")?,
                time: n("time")?,
                grant: s("grant")?,
                record: s("record")?,
                source: s("source")?,
                until: opt_n("expires").map(|e| e.saturating_mul(1000)),
            },
            _ => return Err(format!("item {sk:?}: unknown kind")),
        })
    }
}

/// What the store holds after writing `new` over `existing` (same sort key) by its
/// [`WriteRule`]: the semantics the DynamoDB edge implements with conditional writes, and an
/// in-memory store with this function.
pub fn apply(existing: Option<Item>, new: Item) -> Item {
    let Some(old) = existing else { return new };
    match (old, new) {
        (
            Item::Use {
                slot,
                time,
                mut uses,
            },
            Item::Use {
                time: t,
                uses: more,
                ..
            },
        ) => {
            if t > time {
                return Item::Use {
                    slot,
                    time: t,
                    uses: more,
                };
            }
            if t == time {
                for (id, r) in more {
                    uses.entry(id).or_insert(r);
                }
            }
            Item::Use { slot, time, uses }
        }
        (Item::Watermark(a), Item::Watermark(b)) => Item::Watermark(a.max(b)),
        (old, _) => old,
    }
}

/// The items a ledger (a file's delta, or a whole ledger being migrated) writes. `clock_ms`
/// is the writer's wall-clock time: orphans expire [`ORPHAN_TTL_MS`] after it (kept without
/// expiry when it is unknown).
pub fn items_of(l: &KeyLedger, clock_ms: Option<i64>) -> Vec<Item> {
    let source = |id: &str| l.sources.get(id).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (id, record) in &l.events {
        out.push(Item::Event {
            id: id.clone(),
            record: record.clone(),
            source: source(id),
        });
    }
    for grant in &l.created {
        out.push(Item::Created {
            grant: grant.clone(),
        });
    }
    for (id, src) in &l.flagged {
        out.push(Item::Flag {
            id: id.clone(),
            source: src.clone(),
            until: l.flagged_until.get(id).copied(),
        });
    }
    for (slot, (time, id, record)) in &l.uses {
        let mut uses = l.tied.get(slot).cloned().unwrap_or_default();
        uses.insert(id.clone(), record.clone());
        out.push(Item::Use {
            slot: slot.clone(),
            time: *time,
            uses,
        });
    }
    out.extend(l.watermark.map(Item::Watermark));
    for (id, (time, grant, record)) in &l.orphans {
        out.push(Item::Orphan {
            id: id.clone(),
            time: *time,
            grant: grant.clone(),
            record: record.clone(),
            source: source(id),
            until: clock_ms.map(|c| c.saturating_add(ORPHAN_TTL_MS)),
        });
    }
    out
}

/// The items a file writes, by key: its delta's items and the orphans its reads promoted
/// (see [`Assembled::promoted`]).
pub fn writes(
    delta: &super::LedgerDelta,
    mut promoted: BTreeMap<String, Vec<Item>>,
    clock_ms: Option<i64>,
) -> BTreeMap<String, Vec<Item>> {
    for (k, l) in &delta.keys {
        promoted
            .entry(k.clone())
            .or_default()
            .extend(items_of(l, clock_ms));
    }
    promoted.retain(|_, v| !v.is_empty());
    promoted
}

/// The items a whole ledger of the S3 store becomes when it is migrated: brought to the
/// current layout first (returns how many events that dropped), and its flags without a time
/// kept [`super::FLAGGED_TTL_MS`] from `clock_ms`, as a function's flags are.
pub fn migration_items(
    mut l: KeyLedger,
    profiles: &crate::model::profile::Profiles,
    clock_ms: i64,
) -> (Vec<Item>, usize) {
    let dropped = l.upgrade(profiles);
    for id in l.flagged.keys() {
        l.flagged_until
            .entry(id.clone())
            .or_insert(clock_ms.saturating_add(super::FLAGGED_TTL_MS));
    }
    (items_of(&l, Some(clock_ms)), dropped)
}

/// What assembling a key's items gives: its ledger, and the orphans the items promoted
/// (their grant's creation is known now), which the writer stores as events so they outlive
/// the orphans' expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assembled {
    pub ledger: KeyLedger,
    pub promoted: Vec<Item>,
}

/// Assembles the items read for `key` into its ledger as of `clock_ms` (the reader's wall
/// clock: flags past their time are dropped, as the document ledger's merge drops them).
pub fn assemble(
    key: &str,
    items: impl IntoIterator<Item = Item>,
    clock_ms: Option<i64>,
) -> Assembled {
    let mut l = KeyLedger {
        key: key.to_string(),
        clock: clock_ms,
        layout: LAYOUT,
        ..KeyLedger::default()
    };
    let mut orphans = Vec::new();
    for item in items {
        match item {
            Item::Event { id, record, source } => {
                l.sources.insert(id.clone(), source);
                l.events.insert(id, record);
            }
            Item::Created { grant } => {
                l.created.insert(grant);
            }
            Item::Flag { id, source, until } => {
                if let Some(u) = until {
                    l.flagged_until.insert(id.clone(), u);
                }
                l.flagged.insert(id, source);
            }
            Item::Use { slot, time, uses } => {
                let mut uses = uses.into_iter().rev();
                if let Some((id, record)) = uses.next() {
                    l.uses.insert(slot.clone(), (time, id, record));
                    let tied: BTreeMap<String, String> = uses.collect();
                    if !tied.is_empty() {
                        l.tied.insert(slot, tied);
                    }
                }
            }
            Item::Watermark(t) => l.see(t),
            Item::Orphan {
                id,
                time,
                grant,
                record,
                source,
                ..
            } => orphans.push((id, time, grant, record, source)),
        }
    }
    let mut promoted = Vec::new();
    for (id, time, grant, record, source) in orphans {
        if l.events.contains_key(&id) {
            continue;
        }
        if l.created.contains(&grant) {
            promoted.push(Item::Event {
                id: id.clone(),
                record: record.clone(),
                source: source.clone(),
            });
        }
        l.sources.entry(id.clone()).or_insert(source);
        l.orphans.insert(id, (time, grant, record));
    }
    l.settle();
    Assembled {
        ledger: l,
        promoted,
    }
}

#[cfg(test)]
mod tests;
