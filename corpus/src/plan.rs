//! Planning a corpus (the file list, deterministic by seed), streaming one planned file's
//! gzip bytes, and writing a whole corpus under a folder in the AWS key layout (the only
//! file system access of the crate).

use crate::format::*;
use crate::world::*;
use crate::{CorpusConfig, CorpusFile, CorpusStats, Duplicate, PlannedFile};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

// ---------------------------------------------------------------------------------------
// Planning

/// Delivery of the setup files, after the corpus start.
pub(crate) const SETUP_DELIVERY_MS: i64 = 15 * 60_000;
/// Earliest delivery of the other files: their events (up to an hour before delivery)
/// come after the setup grants by more than the five minutes grants take to apply.
pub(crate) const FIRST_DELIVERY_MS: i64 = SETUP_DELIVERY_MS + 60 * 60_000;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Setup,
    Small,
    Large,
}

pub(crate) const SMALL_MIN_BYTES: u64 = 10 << 10;
pub(crate) const SMALL_MAX_BYTES: u64 = 2 << 20;
/// `{"Records":[` and `]}`.
pub(crate) const WRAPPER_BYTES: u64 = 14;
/// Duplicates per million records.
pub(crate) const DUPLICATES_PER_MILLION: u64 = 1000;
/// How many earlier files of a stream a duplicate may come from.
pub(crate) const DUP_LOOKBACK: usize = 4;

/// Plans the file list (deterministic by seed): many small files (5–500 records, rarely up
/// to 2 MB uncompressed) and, if `large_file_bytes > 0`, a few large ones: one of
/// `large_file_bytes` (capped at `target_bytes`), plus one of a quarter and one of a
/// sixteenth of it when they are larger than a small file and all large files stay within
/// half the target. Each account and region also gets a small setup file first (see
/// [`PlannedFile::setup`]). Files are sorted by delivery time; about 0.1% of records are
/// planned again, as duplicates, in a later file of the same account and region.
pub fn plan(cfg: &CorpusConfig) -> Vec<PlannedFile> {
    if cfg.target_bytes == 0 {
        return Vec::new();
    }
    let ctx = Ctx::new(cfg);
    let avg = ctx.average_record_bytes(cfg.start_time_ms + 3_600_000);
    let mut rng = Rng::new(hash2(cfg.seed, SALT_PLAN));
    let n_acct = ctx.accounts.len() as u64;
    let n_reg = ctx.regions.len() as u64;
    let first_minute = FIRST_DELIVERY_MS / 60_000;
    let minutes = (u64::from(cfg.days.max(1)) * 1440)
        .saturating_sub(first_minute as u64)
        .max(1);
    let start_minute_ms = cfg.start_time_ms.div_euclid(60_000) * 60_000;
    let records_for = |bytes: u64| (bytes.saturating_sub(WRAPPER_BYTES) / avg).max(1);

    // (delivery_ms, account, region, records, kind)
    let mut specs: Vec<(i64, u32, u32, u64, Kind)> = Vec::new();
    let draw_place = |rng: &mut Rng| {
        let minute = first_minute + rng.below(minutes) as i64;
        (
            start_minute_ms + minute * 60_000,
            rng.below(n_acct) as u32,
            rng.below(n_reg) as u32,
        )
    };
    let mut budget = cfg.target_bytes;
    for a in 0..n_acct as u32 {
        for r in 0..n_reg as u32 {
            let at = start_minute_ms + SETUP_DELIVERY_MS;
            specs.push((at, a, r, SETUP_GRANTS, Kind::Setup));
            budget = budget.saturating_sub(WRAPPER_BYTES + SETUP_GRANTS * avg);
        }
    }
    if cfg.large_file_bytes > 0 {
        let mut sizes = vec![cfg.large_file_bytes.min(cfg.target_bytes)];
        for div in [4, 16] {
            let s = cfg.large_file_bytes / div;
            if s > SMALL_MAX_BYTES && sizes.iter().sum::<u64>() + s <= cfg.target_bytes / 2 {
                sizes.push(s);
            }
        }
        for s in sizes {
            let n = records_for(s);
            let (t, a, r) = draw_place(&mut rng);
            specs.push((t, a, r, n, Kind::Large));
            budget = budget.saturating_sub(WRAPPER_BYTES + n * avg);
        }
    }
    let min_n = SMALL_MIN_BYTES.div_ceil(avg).max(5);
    let max_n = (SMALL_MAX_BYTES / avg).max(min_n);
    let mut last_small: Option<usize> = None;
    while budget > WRAPPER_BYTES + avg / 2 {
        // Buckets of record counts (integer-only, so plans agree across platforms).
        let (lo, hi) = match rng.weighted(&[15, 25, 22, 18, 13, 7]) {
            0 => (min_n, 20),
            1 => (20, 50),
            2 => (50, 100),
            3 => (100, 200),
            4 => (200, 500),
            _ => (500, max_n),
        };
        let (lo, hi) = (lo.max(min_n).min(max_n), hi.max(min_n).min(max_n));
        let mut n = rng.range(lo, hi);
        let cap = (budget - WRAPPER_BYTES) / avg;
        if n >= cap {
            n = cap.max(1);
            // A remainder too small for a file of its own goes to the previous one.
            if let (true, Some(i)) = (n < min_n, last_small) {
                specs[i].3 += n;
                break;
            }
        }
        let (t, a, r) = draw_place(&mut rng);
        last_small = Some(specs.len());
        specs.push((t, a, r, n, Kind::Small));
        budget = budget.saturating_sub(WRAPPER_BYTES + n * avg);
    }
    specs.sort_by_key(|s| (s.0, s.1, s.2));

    // Keys, record numbers and duplicates.
    let mut files = Vec::with_capacity(specs.len());
    let mut next_record = 0u64;
    // Per stream: (first_record, new_records, delivery_ms) of its latest files.
    let mut history: Vec<Vec<(u64, u64, i64)>> = vec![Vec::new(); (n_acct * n_reg) as usize];
    let mut repeated = std::collections::HashSet::new();
    // Error diffusion from a random start: the rate is met exactly.
    let mut dup_credit = rng.below(1_000_000);
    for (delivery_ms, a, r, n, kind) in specs {
        let account = &ctx.accounts[a as usize];
        let region = ctx.regions[r as usize];
        let t = tm(delivery_ms);
        let mut key = String::with_capacity(160);
        let _ = write!(
            key,
            "AWSLogs/{account}/CloudTrail/{region}/{:04}/{:02}/{:02}/{account}_CloudTrail_{region}_{:04}{:02}{:02}T{:02}{:02}Z_",
            t.year, t.month, t.day, t.year, t.month, t.day, t.hour, t.minute
        );
        push_chars(&mut key, &mut rng, ALNUM, 16);
        key.push_str(".json.gz");

        let stream = &mut history[(a as u64 * n_reg + r as u64) as usize];
        let mut duplicates = Vec::new();
        if kind == Kind::Setup {
            files.push(PlannedFile {
                key,
                account_index: a,
                region_index: r,
                delivery_ms,
                first_record: next_record,
                new_records: n,
                duplicates,
                large: false,
                setup: true,
            });
            next_record += n;
            continue;
        }
        dup_credit += n * DUPLICATES_PER_MILLION;
        let mut want = dup_credit / 1_000_000;
        dup_credit %= 1_000_000;
        let available: u64 = stream.iter().map(|s| s.1).sum();
        want = want.min(available / 2);
        let mut tries = 0;
        while (duplicates.len() as u64) < want && tries < want * 4 + 8 {
            tries += 1;
            let (first, count, origin) = stream[rng.below(stream.len() as u64) as usize];
            let record = first + rng.below(count);
            if repeated.insert(record) {
                duplicates.push(Duplicate {
                    record,
                    origin_delivery_ms: origin,
                    before: rng.below(n + 1),
                });
            }
        }
        duplicates.sort_by_key(|d| (d.before, d.record));

        stream.push((next_record, n, delivery_ms));
        if stream.len() > DUP_LOOKBACK {
            stream.remove(0);
        }
        files.push(PlannedFile {
            key,
            account_index: a,
            region_index: r,
            delivery_ms,
            first_record: next_record,
            new_records: n,
            duplicates,
            large: kind == Kind::Large,
            setup: false,
        });
        next_record += n;
    }
    files
}

// ---------------------------------------------------------------------------------------
// Writing

/// Bytes of JSON gathered before they go to the compressor.
pub(crate) const CHUNK: usize = 64 << 10;

/// Writes one planned file's gzip bytes to `out`, streaming (records are generated one by
/// one into a small buffer that is flushed to the compressor every 64 KiB).
pub fn write_file(
    cfg: &CorpusConfig,
    file: &PlannedFile,
    out: &mut dyn Write,
) -> io::Result<CorpusFile> {
    let ctx = Ctx::new(cfg);
    let acct = file.account_index as usize;
    let reg = file.region_index as usize;
    let mut enc = GzEncoder::new(out, Compression::fast());
    let mut buf = String::with_capacity(CHUNK + 8192);
    let mut bytes = 0u64;
    let mut kms = 0u64;
    let mut written = 0u64;
    let mut dups = file.duplicates.iter().peekable();
    buf.push_str("{\"Records\":[");
    // The records in file order: (record number, delivery time it derives from).
    let order = (0..=file.new_records).flat_map(|i| {
        let mut dup_here = Vec::new();
        while let Some(d) = dups.next_if(|d| d.before <= i) {
            dup_here.push((d.record, d.origin_delivery_ms, None));
        }
        let own =
            (i < file.new_records).then_some((file.first_record + i, file.delivery_ms, Some(i)));
        dup_here.into_iter().chain(own)
    });
    for (idx, delivery_ms, own) in order {
        if written > 0 {
            buf.push(',');
        }
        written += 1;
        match own {
            Some(j) if file.setup => {
                ctx.setup_record(&mut buf, idx, acct, reg, j, delivery_ms);
                kms += 1;
            }
            _ => kms += u64::from(ctx.record(&mut buf, idx, acct, reg, delivery_ms)),
        }
        if buf.len() >= CHUNK {
            enc.write_all(buf.as_bytes())?;
            bytes += buf.len() as u64;
            buf.clear();
        }
    }
    buf.push_str("]}");
    enc.write_all(buf.as_bytes())?;
    bytes += buf.len() as u64;
    enc.finish()?;
    Ok(CorpusFile {
        key: file.key.clone(),
        records: written,
        uncompressed_bytes: bytes,
        kms_records: kms,
    })
}

/// Counts the bytes written through it.
pub(crate) struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the whole corpus under `dir` (creating folders), on a few threads, returning
/// totals.
pub fn write_corpus(cfg: &CorpusConfig, dir: &Path) -> io::Result<CorpusStats> {
    let files = plan(cfg);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16)
        .min(files.len().max(1));
    let work = || -> io::Result<CorpusStats> {
        let mut st = CorpusStats::default();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(file) = files.get(i) else {
                return Ok(st);
            };
            let path = dir.join(&file.key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut out = Counting {
                inner: io::BufWriter::with_capacity(256 << 10, std::fs::File::create(&path)?),
                bytes: 0,
            };
            let f = write_file(cfg, file, &mut out)?;
            out.flush()?;
            st.files += 1;
            st.records += f.records;
            st.kms_records += f.kms_records;
            st.uncompressed_bytes += f.uncompressed_bytes;
            st.compressed_bytes += out.bytes;
        }
    };
    let results: Vec<io::Result<CorpusStats>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("corpus writer panicked")))
            })
            .collect()
    });
    let mut total = CorpusStats::default();
    for r in results {
        let st = r?;
        total.files += st.files;
        total.records += st.records;
        total.kms_records += st.kms_records;
        total.uncompressed_bytes += st.uncompressed_bytes;
        total.compressed_bytes += st.compressed_bytes;
    }
    Ok(total)
}
