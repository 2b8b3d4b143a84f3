//! Tests of the eventID set: exact membership in memory and across spilled runs, the run
//! layout on disk, the Bloom filter's false-positive rate, and spill faults reported, never silent.

use super::*;
use proptest::prelude::*;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Runs held in memory; reads use the trait's default `read_at` (from the run's start).
#[derive(Default, Clone)]
struct Memory {
    runs: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Every create fails (a full disk).
    refuse_writes: bool,
    /// Every open fails (a run removed under the process).
    refuse_reads: Arc<Mutex<bool>>,
}

struct Sink(Arc<Mutex<Vec<Vec<u8>>>>, usize);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap()[self.1].extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Spill for Memory {
    fn create(&mut self, run: usize) -> io::Result<Box<dyn Write + Send>> {
        if self.refuse_writes {
            return Err(io::Error::other("disk full"));
        }
        let mut runs = self.runs.lock().unwrap();
        assert_eq!(runs.len(), run, "runs are created in order, once");
        runs.push(Vec::new());
        Ok(Box::new(Sink(self.runs.clone(), run)))
    }
    fn open(&self, run: usize) -> io::Result<Box<dyn Read + Send>> {
        if *self.refuse_reads.lock().unwrap() {
            return Err(io::Error::other("gone"));
        }
        let bytes = self.runs.lock().unwrap()[run].clone();
        Ok(Box::new(io::Cursor::new(bytes)))
    }
}

/// A spread of digests from a counter (deterministic, uniform enough for the filter).
fn spread(i: u64) -> u128 {
    crate::pipeline::decode::digest(b"test", &i.to_le_bytes())
}

#[test]
fn without_a_spill_the_set_is_a_plain_set() {
    let mut s = Seen::default();
    assert!(s.insert(7));
    assert!(!s.insert(7));
    assert!(s.contains(&7) && !s.contains(&8));
    assert_eq!((s.runs(), s.error(), s.spill_failed()), (0, None, None));
}

#[test]
fn full_tables_become_sorted_runs_of_16_byte_digests() {
    let spill = Memory::default();
    let mut s = Seen::default();
    s.spill_to(Box::new(spill.clone()), 3);
    for d in [30u128, 10, 20, 5, 40] {
        assert!(s.insert(d));
    }
    assert_eq!(s.runs(), 1);
    let runs = spill.runs.lock().unwrap().clone();
    let want: Vec<u8> = [10u128, 20, 30]
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .collect();
    assert_eq!(runs, [want]);
    for d in [5u128, 10, 20, 30, 40] {
        assert!(s.contains(&d), "{d}");
        assert!(!s.insert(d), "{d} again");
    }
    for d in [0u128, 15, 25, 35, u128::MAX] {
        assert!(!s.contains(&d), "{d}");
    }
}

#[test]
fn a_lookup_reads_the_stretch_between_two_fences() {
    // Three fences' worth: a digest on each fence, between fences and past the last.
    let spill = Memory::default();
    let mut s = Seen::default();
    let n = FENCE * 2 + 10;
    s.spill_to(Box::new(spill), n);
    for i in 0..n as u128 {
        assert!(s.insert(i * 2));
    }
    assert_eq!(s.runs(), 1);
    for i in 0..n as u128 {
        assert!(s.contains(&(i * 2)), "{}", i * 2);
        assert!(!s.contains(&(i * 2 + 1)), "{}", i * 2 + 1);
    }
    assert!(!s.contains(&(n as u128 * 2)));
}

#[test]
fn the_filter_lets_few_absent_digests_through() {
    // 2 bytes a digest, 7 bits of a 512-bit block: about 0.1% of absent digests pass.
    let n = 100_000u64;
    let run = Run::new(0, &{
        let mut v: Vec<u128> = (0..n).map(spread).collect();
        v.sort_unstable();
        v
    });
    assert!((0..n).all(|i| run.may_hold(spread(i))), "no false negative");
    let passed = (n..2 * n).filter(|i| run.may_hold(spread(*i))).count();
    assert!(
        passed < 300,
        "{passed} of {n} absent digests passed the filter"
    );
}

#[test]
fn a_spill_that_cannot_be_written_keeps_the_digests_in_memory() {
    let mut s = Seen::default();
    let spill = Memory {
        refuse_writes: true,
        ..Memory::default()
    };
    s.spill_to(Box::new(spill), 2);
    for d in 0..10u128 {
        assert!(s.insert(d));
    }
    assert_eq!(s.runs(), 0);
    assert!(s.spill_failed().unwrap().contains("disk full"));
    assert!((0..10u128).all(|d| s.contains(&d)) && !s.contains(&10));
    assert_eq!(s.error(), None);
}

#[test]
fn a_run_that_cannot_be_read_back_is_an_error() {
    let spill = Memory::default();
    let mut s = Seen::default();
    s.spill_to(Box::new(spill.clone()), 2);
    assert!(s.insert(1) && s.insert(2));
    assert_eq!(s.runs(), 1);
    *spill.refuse_reads.lock().unwrap() = true;
    assert!(!s.contains(&1), "unreadable counts as absent");
    assert_eq!(s.error().as_deref(), Some("digest run 0: gone"));
}

proptest! {
    /// Whatever the budget, the answers are those of a set in memory: digests from a small
    /// pool (many repeats), from the edges of the range and spread ones.
    #[test]
    fn spilled_or_not_the_answers_are_a_sets(
        budget in 1usize..40,
        picks in prop::collection::vec(
            prop_oneof![0u128..60, Just(u128::MAX), Just(u128::MAX - 1), (0u64..80).prop_map(spread)],
            0..400,
        ),
    ) {
        let mut s = Seen::default();
        s.spill_to(Box::new(Memory::default()), budget);
        let mut plain = HashSet::new();
        for d in &picks {
            prop_assert_eq!(s.insert(*d), plain.insert(*d));
        }
        prop_assert_eq!(s.runs(), plain.len() / budget);
        for d in picks.iter().chain(&[61, 200, u128::MAX - 2]) {
            prop_assert_eq!(s.contains(d), plain.contains(d));
        }
        prop_assert_eq!(s.error(), None);
    }
}
