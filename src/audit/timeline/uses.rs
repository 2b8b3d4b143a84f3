//! The key uses of a timeline, read back in time order: held in memory up to a budget,
//! then written as sorted runs to a [`Spill`] the edge provides (a temporary folder) and
//! merged back on each pass, so a backfill's memory holds one run's worth of uses however
//! many the archive has. The core only writes and reads bytes; the edge owns the files.
//!
//! The order is (time, event id) with ties in push order: the stable sort the sweep used
//! when every use was in memory, so the findings are the same with or without a spill.

use super::{CallerFacts, Ids, Sym, UseItem};
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

/// Where sorted runs of uses go when the in-memory budget is spent.
pub trait Spill: Send {
    /// Starts run `run` (0, 1, ...), written once from its start.
    fn create(&mut self, run: usize) -> io::Result<Box<dyn Write + Send>>;
    /// Reads run `run` from its start (once per pass).
    fn open(&self, run: usize) -> io::Result<Box<dyn Read + Send>>;
    /// Fills `buf` from run `run` at byte `offset` (lookups in sorted runs). The default
    /// reads the run from its start; a spill to files seeks.
    fn read_at(&self, run: usize, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut r = self.open(run)?;
        io::copy(&mut r.by_ref().take(offset), &mut io::sink())?;
        r.read_exact(buf)
    }
}

/// The uses, with the per-key facts kept as they arrive so most passes need none.
#[derive(Default)]
pub struct UseLog {
    tail: Vec<UseItem>,
    /// The tail's order, computed once per pass after a push.
    order: OnceLock<Vec<u32>>,
    spill: Option<(Box<dyn Spill>, usize)>,
    runs: usize,
    /// Why spilling stopped (the uses since stay in memory).
    spill_failed: Option<String>,
    len: u64,
    keys: HashSet<Sym>,
    first_success: HashMap<Sym, (i64, String)>,
    shared: Vec<(Sym, Box<str>)>,
    /// Recent contexts, so equal ones share a map; cleared when full.
    contexts: HashMap<Arc<BTreeMap<String, String>>, ()>,
    error: Mutex<Option<String>>,
}

/// How many distinct recent contexts [`UseLog::share_context`] remembers.
const RECENT_CONTEXTS: usize = 4096;

impl std::fmt::Debug for UseLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseLog")
            .field("len", &self.len)
            .field("in_memory", &self.tail.len())
            .field("runs", &self.runs)
            .finish()
    }
}

/// The order of two uses: time, then event id.
fn key(u: &UseItem) -> (i64, &str) {
    (u.time, u.event_id.as_str())
}

impl UseLog {
    /// Spills sorted runs of `budget` uses (at least one) to `spill` from now on.
    pub fn spill_to(&mut self, spill: Box<dyn Spill>, budget: usize) {
        self.spill = Some((spill, budget.max(1)));
    }

    pub fn push(&mut self, u: UseItem) {
        self.len += 1;
        if let Some(k) = u.key {
            self.keys.insert(k);
            if u.error_code.is_none() {
                let first = self
                    .first_success
                    .entry(k)
                    .or_insert_with(|| (u.time, u.event_id.clone()));
                if key(&u) < (first.0, first.1.as_str()) {
                    *first = (u.time, u.event_id.clone());
                }
            }
        }
        if let Some(sh) = u.shared {
            self.shared.push((sh, u.event_id.as_str().into()));
        }
        self.tail.push(u);
        self.order.take();
        let full = self
            .spill
            .as_ref()
            .is_some_and(|(_, b)| self.tail.len() >= *b);
        if full && self.spill_failed.is_none() {
            if let Err(e) = self.write_run() {
                // Keep the uses in memory: the run is larger, not wrong.
                self.spill_failed = Some(format!("spilling key uses failed: {e}"));
            }
        }
    }

    fn write_run(&mut self) -> io::Result<()> {
        let Some((spill, _)) = self.spill.as_mut() else {
            return Ok(());
        };
        self.tail.sort_by(|a, b| key(a).cmp(&key(b)));
        let mut w = BufWriter::with_capacity(1 << 16, spill.create(self.runs)?);
        let mut buf = Vec::with_capacity(256);
        for u in &self.tail {
            buf.clear();
            encode(u, &mut buf);
            w.write_all(&(buf.len() as u32).to_le_bytes())?;
            w.write_all(&buf)?;
        }
        w.flush()?;
        self.runs += 1;
        self.tail.clear();
        self.tail
            .shrink_to(self.spill.as_ref().map_or(0, |(_, b)| *b));
        Ok(())
    }

    fn fail(&self, reason: String) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        e.get_or_insert(reason);
    }

    /// The first spill failure, if any: a pass that could not read a run saw only part of
    /// the uses, so the run must fail rather than report findings over part of them.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Why spilling stopped, if it did: the uses since are held in memory.
    pub fn spill_failed(&self) -> Option<&str> {
        self.spill_failed.as_deref()
    }

    /// A shared copy of `ctx`: the one a recent use holds when equal, else a new one.
    pub fn share_context(
        &mut self,
        ctx: &BTreeMap<String, String>,
    ) -> Arc<BTreeMap<String, String>> {
        if let Some((c, ())) = self.contexts.get_key_value(ctx) {
            return c.clone();
        }
        if self.contexts.len() >= RECENT_CONTEXTS {
            self.contexts.clear();
        }
        let c = Arc::new(ctx.clone());
        self.contexts.insert(c.clone(), ());
        c
    }

    /// How many uses were pushed.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many runs went to the spill.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// Every key a use named.
    pub fn keys(&self) -> impl Iterator<Item = Sym> + '_ {
        self.keys.iter().copied()
    }

    /// Per key, the (time, event id) of its first successful use.
    pub fn first_success(&self) -> impl Iterator<Item = (Sym, (i64, &str))> + '_ {
        self.first_success
            .iter()
            .map(|(k, (t, id))| (*k, (*t, id.as_str())))
    }

    /// (sharedEventID, eventID) of every use that has one, in push order.
    pub fn shared(&self) -> impl Iterator<Item = (Sym, &str)> + '_ {
        self.shared.iter().map(|(s, id)| (*s, &**id))
    }

    fn tail_order(&self) -> &[u32] {
        self.order.get_or_init(|| {
            let mut o: Vec<u32> = (0..self.tail.len() as u32).collect();
            o.sort_by(|&a, &b| key(&self.tail[a as usize]).cmp(&key(&self.tail[b as usize])));
            o
        })
    }

    /// Calls `f` with every use in order. A run that cannot be read is recorded in
    /// [`UseLog::error`] and the pass goes on without the rest of it.
    pub fn for_each(&self, mut f: impl FnMut(&UseItem)) {
        let order = self.tail_order();
        if self.runs == 0 {
            for &i in order {
                f(&self.tail[i as usize]);
            }
            return;
        }
        let Some((spill, _)) = self.spill.as_ref() else {
            return;
        };
        let mut readers = Vec::with_capacity(self.runs);
        let mut heap = BinaryHeap::with_capacity(self.runs + 1);
        for run in 0..self.runs {
            match spill.open(run) {
                Ok(r) => {
                    let mut r = RunReader::new(r);
                    let mut item = UseItem::default();
                    match r.next_into(&mut item) {
                        Ok(true) => heap.push(Head { item, src: run }),
                        Ok(false) => {}
                        Err(e) => self.fail(format!("reading spilled uses (run {run}): {e}")),
                    }
                    readers.push(r);
                }
                Err(e) => {
                    self.fail(format!("opening spilled uses (run {run}): {e}"));
                    readers.push(RunReader::new(Box::new(io::empty())));
                }
            }
        }
        let mut tail = order.iter().map(|&i| &self.tail[i as usize]);
        let tail_src = self.runs;
        if let Some(u) = tail.next() {
            heap.push(Head {
                item: u.clone(),
                src: tail_src,
            });
        }
        while let Some(Head { mut item, src }) = heap.pop() {
            f(&item);
            let more = if src == tail_src {
                tail.next().map(|u| item.clone_from(u)).is_some()
            } else {
                match readers[src].next_into(&mut item) {
                    Ok(more) => more,
                    Err(e) => {
                        self.fail(format!("reading spilled uses (run {src}): {e}"));
                        false
                    }
                }
            };
            if more {
                heap.push(Head { item, src });
            }
        }
    }
}

/// The next use of one source in the merge; the heap pops the smallest (time, id, source).
struct Head {
    item: UseItem,
    src: usize,
}

impl Head {
    fn rank(&self) -> (i64, &str, usize) {
        (self.item.time, self.item.event_id.as_str(), self.src)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    /// Reversed: `BinaryHeap` is a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.rank().cmp(&self.rank())
    }
}

struct RunReader {
    r: BufReader<Box<dyn Read + Send>>,
    buf: Vec<u8>,
}

impl RunReader {
    fn new(r: Box<dyn Read + Send>) -> Self {
        RunReader {
            r: BufReader::with_capacity(1 << 16, r),
            buf: Vec::new(),
        }
    }

    /// Reads the next use into `out`; `Ok(false)` at the end of the run.
    fn next_into(&mut self, out: &mut UseItem) -> io::Result<bool> {
        let mut len = [0u8; 4];
        match self.r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.r.read_exact(&mut self.buf)?;
        decode(&self.buf, out)
            .then_some(true)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a malformed use record"))
    }
}

fn put(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_sym(buf: &mut Vec<u8>, s: Option<Sym>) {
    put(buf, s.map_or(0, Sym::raw));
}

/// The fixed-width fields, then the event id and the context's keys and values, each
/// with its length.
fn encode(u: &UseItem, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&u.time.to_le_bytes());
    put_sym(buf, Some(u.event_name));
    put_sym(buf, Some(u.operation));
    put_sym(buf, u.key);
    put(buf, u.context.as_ref().map_or(0, |c| c.len() as u32 + 1));
    put(buf, u.identities.raw());
    for s in [
        u.principal,
        u.account,
        u.region,
        u.error_code,
        u.malformed,
        u.template,
        u.resource,
        u.shared,
        u.caller.identity_type,
        u.caller.principal_arn,
        u.caller.account,
        u.caller.invoked_by,
    ] {
        put_sym(buf, s);
    }
    buf.push(u.profile.unwrap_or(u8::MAX));
    buf.push(u8::from(u.has_constraint_key) | (u8::from(u.error_transient) << 1));
    put_str(buf, &u.event_id);
    for (k, v) in u.context.iter().flat_map(|c| c.iter()) {
        put_str(buf, k);
        put_str(buf, v);
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put(buf, s.len() as u32);
    buf.extend_from_slice(s.as_bytes());
}

/// Reads a length-prefixed string at `*at`, moving past it.
fn take_str<'b>(b: &'b [u8], at: &mut usize) -> Option<&'b str> {
    let len = u32::from_le_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
    let s = b.get(*at + 4..(*at + 4).checked_add(len)?)?;
    *at += 4 + len;
    std::str::from_utf8(s).ok()
}

/// Bytes of the fixed-width part.
const FIXED: usize = 8 + 4 * 17 + 2;

fn decode(b: &[u8], u: &mut UseItem) -> bool {
    if b.len() < FIXED {
        return false;
    }
    let word = |i: usize| u32::from_le_bytes(b[8 + 4 * i..12 + 4 * i].try_into().expect("4"));
    let sym = |i: usize| Sym::from_raw(word(i));
    let (Some(event_name), Some(operation), Some(identities)) =
        (sym(0), sym(1), Ids::from_raw(word(4)))
    else {
        return false;
    };
    let mut at = FIXED;
    let Some(id) = take_str(b, &mut at) else {
        return false;
    };
    let context = match word(3) {
        0 => None,
        n => {
            let mut c = BTreeMap::new();
            for _ in 1..n {
                let (Some(k), Some(v)) = (take_str(b, &mut at), take_str(b, &mut at)) else {
                    return false;
                };
                c.insert(k.to_string(), v.to_string());
            }
            Some(Arc::new(c))
        }
    };
    if at != b.len() {
        return false;
    }
    u.time = i64::from_le_bytes(b[..8].try_into().expect("8"));
    u.event_name = event_name;
    u.operation = operation;
    u.key = sym(2);
    u.context = context;
    u.identities = identities;
    u.principal = sym(5);
    u.account = sym(6);
    u.region = sym(7);
    u.error_code = sym(8);
    u.malformed = sym(9);
    u.template = sym(10);
    u.resource = sym(11);
    u.shared = sym(12);
    u.caller = CallerFacts {
        identity_type: sym(13),
        principal_arn: sym(14),
        account: sym(15),
        invoked_by: sym(16),
    };
    let flags = b[FIXED - 1];
    u.profile = Some(b[FIXED - 2]).filter(|&p| p != u8::MAX);
    u.has_constraint_key = flags & 1 != 0;
    u.error_transient = flags & 2 != 0;
    u.event_id.clear();
    u.event_id.push_str(id);
    true
}

#[cfg(test)]
#[path = "uses_tests.rs"]
mod tests;
