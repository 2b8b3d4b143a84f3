//! Tests of the use log: a spilled use reads back whole, passes are one stable sort
//! whatever the budget, and spill faults are reported or absorbed, never silent.

use super::*;
use proptest::prelude::*;

/// A spill in memory.
#[derive(Default)]
pub struct MemorySpill {
    runs: Vec<std::sync::Arc<Mutex<Vec<u8>>>>,
}

struct SharedBuf(std::sync::Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Spill for MemorySpill {
    fn create(&mut self, run: usize) -> io::Result<Box<dyn Write + Send>> {
        let buf = std::sync::Arc::new(Mutex::new(Vec::new()));
        if self.runs.len() <= run {
            self.runs.resize_with(run + 1, Default::default);
        }
        self.runs[run] = buf.clone();
        Ok(Box::new(SharedBuf(buf)))
    }

    fn open(&self, run: usize) -> io::Result<Box<dyn Read + Send>> {
        let buf = self.runs.get(run).ok_or(io::ErrorKind::NotFound)?;
        let bytes = buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(Box::new(io::Cursor::new(bytes)))
    }
}

fn sym(n: u32) -> Option<Sym> {
    Sym::from_raw(n)
}

/// A use marked by its push number (in `principal`), so order and stability show.
fn item(time: i64, id: &str, n: u32) -> UseItem {
    UseItem {
        time,
        event_id: id.to_string(),
        principal: sym(n + 1),
        ..UseItem::default()
    }
}

fn seen(log: &UseLog) -> Vec<(i64, String, u32)> {
    let mut out = Vec::new();
    log.for_each(|u| out.push((u.time, u.event_id.clone(), u.principal.unwrap().raw() - 1)));
    out
}

/// Every field, set to a distinct value, survives a spill.
#[test]
fn a_spilled_use_reads_back_whole() {
    let u = UseItem {
        time: -1_234_567_890_123,
        event_id: "e-é-1".into(),
        event_name: sym(2).unwrap(),
        operation: sym(3).unwrap(),
        key: sym(4),
        context: Some(Arc::new(BTreeMap::from([
            ("aws:proton:template".to_string(), "t".to_string()),
            ("é".to_string(), String::new()),
        ]))),
        identities: Ids::from_raw(6).unwrap(),
        principal: sym(7),
        account: sym(8),
        region: sym(9),
        error_code: sym(10),
        profile: Some(11),
        has_constraint_key: true,
        malformed: sym(12),
        template: sym(13),
        resource: sym(14),
        shared: sym(15),
        error_transient: true,
        caller: CallerFacts {
            identity_type: sym(16),
            principal_arn: sym(17),
            account: sym(18),
            invoked_by: None,
        },
    };
    let mut buf = Vec::new();
    encode(&u, &mut buf);
    assert_eq!(buf.len(), FIXED + 5 * 4 + "e-é-1".len() + 19 + 1 + 2);
    let mut back = UseItem::default();
    assert!(decode(&buf, &mut back));
    assert_eq!(format!("{back:?}"), format!("{u:?}"));
    // Absent values read back absent; a short or non-UTF-8 record is refused.
    let blank = UseItem::default();
    buf.clear();
    encode(&blank, &mut buf);
    assert!(decode(&buf, &mut back));
    assert_eq!(format!("{back:?}"), format!("{blank:?}"));
    assert!(!decode(&buf[..FIXED - 1], &mut back));
    buf.push(0xff);
    assert!(!decode(&buf, &mut back), "trailing bytes");
    buf.truncate(FIXED);
    buf.extend_from_slice(&[1, 0, 0, 0, 0xff]);
    assert!(!decode(&buf, &mut back), "an id that is not UTF-8");
}

#[test]
fn equal_recent_contexts_share_one_map() {
    let mut log = UseLog::default();
    let c = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let a = log.share_context(&c);
    let b = log.share_context(&c.clone());
    assert!(Arc::ptr_eq(&a, &b));
    for i in 0..RECENT_CONTEXTS {
        log.share_context(&BTreeMap::from([(i.to_string(), String::new())]));
    }
    let d = log.share_context(&c);
    assert_eq!(d, a);
    assert!(log.contexts.len() <= RECENT_CONTEXTS);
}

#[test]
fn per_key_facts_are_kept_as_uses_arrive() {
    let mut log = UseLog::default();
    log.spill_to(Box::new(MemorySpill::default()), 2);
    let with = |time, id: &str, key: u32, failed: bool, shared: Option<u32>| UseItem {
        time,
        event_id: id.into(),
        key: sym(key),
        error_code: if failed { sym(99) } else { None },
        shared: shared.and_then(sym),
        ..UseItem::default()
    };
    log.push(with(5, "b", 1, false, None));
    log.push(with(3, "z", 1, true, Some(7)));
    log.push(with(5, "a", 1, false, None));
    log.push(with(9, "c", 2, false, Some(7)));
    assert_eq!((log.len(), log.runs()), (4, 2));
    let mut keys: Vec<u32> = log.keys().map(Sym::raw).collect();
    keys.sort();
    assert_eq!(keys, [1, 2]);
    let mut first: Vec<(u32, (i64, &str))> =
        log.first_success().map(|(k, v)| (k.raw(), v)).collect();
    first.sort();
    // The failed use at 3 is not a success; of the two at 5, id "a" comes first.
    assert_eq!(first, [(1, (5, "a")), (2, (9, "c"))]);
    let shared: Vec<(u32, &str)> = log.shared().map(|(s, id)| (s.raw(), id)).collect();
    assert_eq!(shared, [(7, "z"), (7, "c")]);
    assert!(log.error().is_none());
}

/// A spill that loses a run makes the pass partial, and says so.
#[test]
fn an_unreadable_run_is_an_error_not_a_silent_gap() {
    struct Forgetful;
    impl Spill for Forgetful {
        fn create(&mut self, _: usize) -> io::Result<Box<dyn Write + Send>> {
            Ok(Box::new(io::sink()))
        }
        fn open(&self, run: usize) -> io::Result<Box<dyn Read + Send>> {
            Err(io::Error::other(format!("run {run} is gone")))
        }
    }
    let mut log = UseLog::default();
    log.spill_to(Box::new(Forgetful), 1);
    log.push(item(1, "a", 0));
    log.push(item(2, "b", 1));
    assert_eq!(seen(&log), []);
    let e = log.error().expect("an error");
    assert!(e.contains("run 0 is gone"), "{e}");
}

/// A spill that cannot be written keeps the uses in memory.
#[test]
fn a_failed_spill_keeps_the_uses_in_memory() {
    struct Full;
    impl Spill for Full {
        fn create(&mut self, _: usize) -> io::Result<Box<dyn Write + Send>> {
            Err(io::Error::other("disk full"))
        }
        fn open(&self, _: usize) -> io::Result<Box<dyn Read + Send>> {
            unreachable!("nothing was written")
        }
    }
    let mut log = UseLog::default();
    log.spill_to(Box::new(Full), 1);
    log.push(item(2, "b", 0));
    log.push(item(1, "a", 1));
    assert_eq!(seen(&log), [(1, "a".into(), 1), (2, "b".into(), 0)]);
    assert!(log.error().is_none());
    assert!(log.spill_failed().unwrap().contains("disk full"));
}

proptest! {
    /// With any budget, every pass yields the uses in the order of one stable sort by
    /// (time, id) of all of them, and a second pass yields the same.
    #[test]
    fn passes_are_one_stable_sort_whatever_the_budget(
        uses in proptest::collection::vec((0i64..6, 0u8..4), 0..60),
        budget in 1usize..9,
        spill in any::<bool>(),
    ) {
        let mut log = UseLog::default();
        if spill {
            log.spill_to(Box::new(MemorySpill::default()), budget);
        }
        let mut want = Vec::new();
        for (n, (t, id)) in uses.iter().enumerate() {
            let id = ["", "a", "ab", "b"][*id as usize];
            log.push(item(*t, id, n as u32));
            want.push((*t, id.to_string(), n as u32));
        }
        want.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        prop_assert_eq!(seen(&log), want.clone());
        prop_assert_eq!(seen(&log), want);
        if spill {
            prop_assert_eq!(log.runs(), uses.len() / budget);
        }
        prop_assert!(log.error().is_none());
    }
}
