//! The items agree with the document ledger: written in any order, by their write rules,
//! and assembled, they give what merging the same deltas gives.

use super::*;
use crate::audit::ledger::LedgerDelta;
use proptest::prelude::*;

const HOUR: i64 = 3_600_000;

/// One fact a file may contribute, as small numbers (ids, slots and grants from tiny sets,
/// so facts collide as they do when files repeat events). An event's time, grant, record
/// and first source follow from its id, as they do in CloudTrail.
#[derive(Debug, Clone)]
enum Fact {
    Event(u8),
    Orphan(u8),
    Created(u8),
    Flag(u8),
    Use(u8, i64, u8),
}

fn fact() -> impl Strategy<Value = Fact> {
    prop_oneof![
        (0u8..6).prop_map(Fact::Event),
        (6u8..12).prop_map(Fact::Orphan),
        (0u8..4).prop_map(Fact::Created),
        (0u8..12).prop_map(Fact::Flag),
        (0u8..3, 0i64..4, 20u8..30).prop_map(|(s, t, i)| Fact::Use(s, t * HOUR, i)),
    ]
}

fn time(id: u8) -> i64 {
    // Within the orphans' horizon: beyond it the document ledger forgets an orphan for good
    // while the table may still promote it (RULES.md section 7).
    (id as i64 * 5 % 23) * HOUR
}

fn delta(facts: &[Fact], clock: i64) -> KeyLedger {
    let mut d = LedgerDelta::default();
    for f in facts {
        match *f {
            Fact::Event(i) => d.add_event(
                "k",
                &format!("e{i}"),
                time(i),
                &format!("r{i}"),
                &format!("s{i}"),
            ),
            Fact::Orphan(i) => d.add_orphan(
                "k",
                &format!("e{i}"),
                time(i),
                &format!("g{}", i % 4),
                &format!("r{i}"),
                &format!("s{i}"),
            ),
            Fact::Created(g) => d.add_created("k", &format!("g{g}")),
            Fact::Flag(i) => d.add_flagged("k", &format!("e{i}"), &format!("s{i}")),
            Fact::Use(s, t, i) => d.add_use(
                "k",
                &format!("slot{s}"),
                t,
                &format!("u{i}"),
                &format!("r{i}"),
            ),
        }
    }
    d.stamp(clock);
    d.keys.remove("k").unwrap_or_default()
}

/// An in-memory table: items by sort key, written by [`apply`].
fn write_all(table: &mut BTreeMap<String, Item>, items: Vec<Item>) {
    for it in items {
        let sk = it.sort_key();
        let old = table.remove(&sk);
        table.insert(sk, apply(old, it));
    }
}

/// The fields both stores must agree on (the clock is the reader's in the table).
fn comparable(mut l: KeyLedger) -> KeyLedger {
    l.clock = None;
    l.layout = LAYOUT;
    l
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn items_in_any_order_assemble_to_the_merged_ledger(
        files in prop::collection::vec(prop::collection::vec(fact(), 0..8), 1..6),
        order in any::<u64>(),
    ) {
        let clock = 1_000 * HOUR;
        let deltas: Vec<KeyLedger> = files.iter().map(|f| delta(f, clock)).collect();
        let mut merged = KeyLedger { key: "k".into(), ..KeyLedger::default() };
        for d in &deltas {
            merged.merge(d);
        }
        // Every item of every file, written in a shuffled order, as concurrent writers would.
        let mut items: Vec<Item> = deltas.iter().flat_map(|d| items_of(d, Some(clock))).collect();
        let mut s = order;
        for i in (1..items.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            items.swap(i, (s >> 33) as usize % (i + 1));
        }
        let mut table = BTreeMap::new();
        write_all(&mut table, items);
        let got = assemble("k", table.into_values(), Some(clock));
        prop_assert_eq!(comparable(got.ledger), comparable(merged));
    }
}

#[test]
fn every_item_reads_back_from_its_attributes() {
    let mut d = delta(
        &[
            Fact::Event(1),
            Fact::Orphan(7),
            Fact::Created(2),
            Fact::Flag(1),
            Fact::Use(0, HOUR, 21),
            Fact::Use(0, HOUR, 22),
        ],
        5 * HOUR,
    );
    d.tied.get("slot0").expect("a tie at one time");
    d.sources.insert("e7".into(), "s7".into());
    let items = items_of(&d, Some(5 * HOUR));
    assert_eq!(
        items.len(),
        6,
        "event, created, flag, use, watermark, orphan: {items:?}"
    );
    for it in items {
        let attrs: BTreeMap<String, Attr> = it
            .attrs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(Item::from_attrs(&it.sort_key(), &attrs), Ok(it.clone()));
    }
}

#[test]
fn sort_keys_keep_orphans_out_of_the_main_range_and_bound_their_length() {
    let long = "g".repeat(5000);
    let o = Item::Orphan {
        id: "e".into(),
        time: 0,
        grant: long.clone(),
        record: "r".into(),
        source: "s".into(),
        until: None,
    };
    let sk = o.sort_key();
    assert!(sk.as_str() >= ORPHAN_BOUND && sk.starts_with(&orphan_prefix(&long)));
    assert!(sk.len() < 100, "{sk}");
    for it in [
        Item::Event {
            id: long.clone(),
            record: "r".into(),
            source: "s".into(),
        },
        Item::Created {
            grant: long.clone(),
        },
        Item::Flag {
            id: long.clone(),
            source: "s".into(),
            until: None,
        },
        Item::Use {
            slot: long.clone(),
            time: 0,
            uses: BTreeMap::new(),
        },
        Item::Watermark(0),
    ] {
        let sk = it.sort_key();
        assert!(sk.as_str() < ORPHAN_BOUND && sk.len() < 100, "{sk}");
    }
    assert_eq!(
        partition("arn:aws:kms:us-east-1:1:key/k"),
        "arn:aws:kms:us-east-1:1:key/k"
    );
    assert!(partition(&long).starts_with("h:") && partition(&long).len() == 34);
    // A key that looks like a digest is digested too, so it cannot collide with one.
    assert!(partition("h:0011").len() == 34);
}

#[test]
fn an_orphan_whose_grant_is_known_is_promoted_and_one_past_the_horizon_expires() {
    let items = vec![
        Item::Created { grant: "g1".into() },
        Item::Watermark(3 * ORPHAN_HORIZON_MS),
        Item::Orphan {
            id: "r1".into(),
            time: 3 * ORPHAN_HORIZON_MS - HOUR,
            grant: "g1".into(),
            record: "rec1".into(),
            source: "s".into(),
            until: None,
        },
        Item::Orphan {
            id: "r2".into(),
            time: HOUR,
            grant: "g2".into(),
            record: "rec2".into(),
            source: "s".into(),
            until: None,
        },
        Item::Orphan {
            id: "r3".into(),
            time: 3 * ORPHAN_HORIZON_MS - HOUR,
            grant: "g3".into(),
            record: "rec3".into(),
            source: "s".into(),
            until: None,
        },
    ];
    let a = assemble("k", items, None);
    assert_eq!(a.ledger.events.get("r1").map(String::as_str), Some("rec1"));
    assert_eq!(
        a.promoted,
        vec![Item::Event {
            id: "r1".into(),
            record: "rec1".into(),
            source: "s".into()
        }]
    );
    assert_eq!(
        a.ledger.orphans.keys().collect::<Vec<_>>(),
        vec!["r3"],
        "r2 is past the horizon"
    );
    assert!(!a.ledger.sources.contains_key("r2"));
}

#[test]
fn a_flag_past_its_time_is_not_read_and_uses_keep_the_newest_time() {
    let items = vec![
        Item::Flag {
            id: "old".into(),
            source: "s".into(),
            until: Some(10),
        },
        Item::Flag {
            id: "new".into(),
            source: "s".into(),
            until: Some(30),
        },
    ];
    let a = assemble("k", items, Some(20));
    assert_eq!(a.ledger.flagged.keys().collect::<Vec<_>>(), vec!["new"]);
    let u = |t: i64, id: &str| Item::Use {
        slot: "s".into(),
        time: t,
        uses: [(id.to_string(), format!("r-{id}"))].into(),
    };
    let mut x = apply(None, u(5, "a"));
    x = apply(Some(x), u(3, "old"));
    x = apply(Some(x), u(5, "b"));
    assert_eq!(
        x,
        Item::Use {
            slot: "s".into(),
            time: 5,
            uses: [("a".into(), "r-a".into()), ("b".into(), "r-b".into())].into()
        }
    );
    x = apply(Some(x), u(9, "c"));
    assert_eq!(x, u(9, "c"));
    assert_eq!(
        apply(Some(Item::Watermark(4)), Item::Watermark(2)),
        Item::Watermark(4)
    );
}
