//! The eventIDs a run has seen, as 128-bit digests, in bounded memory.
//!
//! Dedupe on eventID is exact over the whole run, so a plain set grows with the number of
//! events (about 34 bytes each in a hash table, twice that while it grows). [`Seen`] keeps
//! the newest digests in a table of fixed size and, once a [`Spill`] is given, writes each
//! full table out as a sorted run of 16-byte digests. A run keeps in memory a blocked Bloom
//! filter (2 bytes a digest) and every 256th digest, so a lookup costs one cache line per
//! run and, only when a filter says "maybe", one read of at most 4 KiB from that run.
//!
//! The answers are exactly those of a set in memory. A run that cannot be read back makes
//! [`Seen::error`] say why (the pipeline then fails before it publishes anything); a run
//! that cannot be written leaves its digests, and the later ones, in memory
//! ([`Seen::spill_failed`]).

use crate::audit::timeline::Spill;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufWriter, Write};
use std::sync::OnceLock;

/// Digests per fence: a lookup in a run reads at most this many (16 bytes each).
const FENCE: usize = 256;
/// Bloom filter bits per digest (in 512-bit blocks, 7 bits set per digest).
const BLOOM_BITS: usize = 16;

/// The set of digests seen.
#[derive(Default)]
pub struct Seen {
    mem: HashSet<u128, BuildHasherDefault<DigestHasher>>,
    /// Digests held in memory before a run is spilled (unbounded without a spill).
    budget: Option<usize>,
    spill: Option<Box<dyn Spill>>,
    runs: Vec<Run>,
    spill_failed: Option<String>,
    error: OnceLock<String>,
}

/// A sorted run on the spill.
struct Run {
    id: usize,
    len: usize,
    /// Every [`FENCE`]th digest of the run, from its first.
    fences: Vec<u128>,
    bloom: Vec<[u64; 8]>,
}

impl Seen {
    /// Spills a sorted run to `spill` each time `budget` digests are held (at least 1).
    pub fn spill_to(&mut self, spill: Box<dyn Spill>, budget: usize) {
        let budget = budget.max(1);
        self.mem.reserve(budget.saturating_sub(self.mem.len()));
        self.budget = Some(budget);
        self.spill = Some(spill);
        if self.mem.len() >= budget {
            self.spill_mem();
        }
    }

    /// Adds `d`; false when it was already seen.
    pub fn insert(&mut self, d: u128) -> bool {
        if self.contains(&d) {
            return false;
        }
        self.mem.insert(d);
        if self.budget.is_some_and(|b| self.mem.len() >= b) {
            self.spill_mem();
        }
        true
    }

    /// Whether `d` was seen. A run that cannot be read counts as not holding it, and
    /// [`Seen::error`] says so.
    pub fn contains(&self, d: &u128) -> bool {
        if self.mem.contains(d) {
            return true;
        }
        let Some(spill) = self.spill.as_deref() else {
            return false;
        };
        self.runs.iter().any(|run| {
            run.may_hold(*d)
                && run.holds(spill, *d).unwrap_or_else(|e| {
                    let _ = self.error.set(format!("digest run {}: {e}", run.id));
                    false
                })
        })
    }

    /// Runs spilled so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Why a spilled run could not be read back, if one could not.
    pub fn error(&self) -> Option<String> {
        self.error.get().cloned()
    }

    /// Why spilling stopped, if it did (the digests since stay in memory).
    pub fn spill_failed(&self) -> Option<&str> {
        self.spill_failed.as_deref()
    }

    fn spill_mem(&mut self) {
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        let mut sorted: Vec<u128> = self.mem.drain().collect();
        sorted.sort_unstable();
        let id = self.runs.len();
        let written = spill.create(id).and_then(|w| {
            let mut w = BufWriter::with_capacity(1 << 16, w);
            for d in &sorted {
                w.write_all(&d.to_le_bytes())?;
            }
            w.into_inner().map_err(|e| e.into_error())?.flush()
        });
        match written {
            Ok(()) => self.runs.push(Run::new(id, &sorted)),
            Err(e) => {
                self.spill_failed = Some(format!("spilling eventID digests failed: {e}"));
                self.budget = None;
                self.mem.extend(sorted);
            }
        }
    }
}

impl Run {
    fn new(id: usize, sorted: &[u128]) -> Run {
        let blocks = sorted.len().div_ceil(512 / BLOOM_BITS).max(1);
        let mut bloom = vec![[0u64; 8]; blocks];
        for d in sorted {
            let block = &mut bloom[block_of(*d, blocks)];
            for (word, bit) in bits_of(*d) {
                block[word] |= bit;
            }
        }
        Run {
            id,
            len: sorted.len(),
            fences: sorted.iter().step_by(FENCE).copied().collect(),
            bloom,
        }
    }

    fn may_hold(&self, d: u128) -> bool {
        let block = &self.bloom[block_of(d, self.bloom.len())];
        bits_of(d).all(|(word, bit)| block[word] & bit != 0)
    }

    /// Reads the one stretch of the run between two fences that could hold `d`.
    fn holds(&self, spill: &dyn Spill, d: u128) -> std::io::Result<bool> {
        let stretch = match self.fences.partition_point(|f| *f <= d) {
            0 => return Ok(false),
            n => n - 1,
        };
        let start = stretch * FENCE;
        let count = FENCE.min(self.len - start);
        let mut buf = vec![0u8; count * 16];
        spill.read_at(self.id, (start * 16) as u64, &mut buf)?;
        let at = |i: usize| u128::from_le_bytes(buf[i * 16..i * 16 + 16].try_into().unwrap());
        let (mut lo, mut hi) = (0, count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match at(mid).cmp(&d) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(true),
            }
        }
        Ok(false)
    }
}

/// The filter block of a digest: its high half, mapped onto `blocks` by multiply-shift.
fn block_of(d: u128, blocks: usize) -> usize {
    ((u128::from((d >> 64) as u64) * blocks as u128) >> 64) as usize
}

/// The 7 bits a digest sets in its block: 9 bits of its low half each (word and bit).
fn bits_of(d: u128) -> impl Iterator<Item = (usize, u64)> {
    let lo = d as u64;
    (0..7).map(move |i| {
        let v = (lo >> (9 * i)) & 511;
        ((v >> 6) as usize, 1u64 << (v & 63))
    })
}

/// The digests are already uniform hashes: the table uses their low half as is, instead of
/// hashing them again.
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, d: u128) {
        self.0 = d as u64;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by u128 keys; a plain FNV-1a keeps any other key correct.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

#[cfg(test)]
#[path = "seen_tests.rs"]
mod tests;
