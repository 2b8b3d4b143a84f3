//! The Lambda's way through files, for the tests: each file judged against the per-key
//! ledgers the files before it left, and inputs cut into files the way CloudTrail delivers.

use super::{all_records, findings_json, testdata};
use keytrail::audit::ledger::items::{self, Item};
use keytrail::audit::ledger::{KeyLedger, LedgerDelta};
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport};
use keytrail::tables::writer::NoStore;
use serde_json::Value;
use std::collections::BTreeMap;

/// The Lambda's way through a sequence of sources (the same `Pipeline` calls as
/// `lambda::App`): each source is judged against the ledgers as the sources before it left
/// them, then its contribution is merged in. Returns every source's findings and the
/// contributions (deltas) in source order.
pub fn run_with_ledgers(sources: &[(String, Vec<u8>)]) -> (Vec<Value>, Vec<LedgerDelta>) {
    run_with_ledgers_and(sources, &[])
}

/// The Lambda's way with the state table (`KEYTRAIL_STATE_TABLE`), in memory: each source
/// reads, per key it names, every item but orphans and the orphans of the grants it creates
/// (as `dynamo::StateTable::read` queries them), and writes its items by their write rules
/// (`items::apply`, the semantics the DynamoDB edge implements), promoted orphans included.
/// Returns every source's findings.
pub fn run_with_items(sources: &[(String, Vec<u8>)]) -> Vec<Value> {
    let mut table: BTreeMap<(String, String), Item> = BTreeMap::new();
    let mut findings = Vec::new();
    for (i, (name, bytes)) in sources.iter().enumerate() {
        let mut opts = PipelineOptions {
            capture_ledger: true,
            ..PipelineOptions::default()
        };
        opts.write.file_stem = format!("src-{i}");
        let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
        let o = p.ingest(&mut NoStore, name, &bytes[..]).unwrap();
        assert!(o.failure.is_none(), "{:?}", o.failure);
        let mut promoted: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        for k in p.ledger_keys() {
            let pk = items::partition(&k);
            let prefixes: Vec<String> = p
                .created_grants(&k)
                .iter()
                .map(|g| items::orphan_prefix(g))
                .collect();
            let read = table
                .range((pk.clone(), String::new())..)
                .take_while(|((p, _), _)| *p == pk)
                .filter(|((_, sk), _)| {
                    sk.as_str() < items::ORPHAN_BOUND
                        || prefixes.iter().any(|x| sk.starts_with(x.as_str()))
                })
                .map(|(_, it)| it.clone());
            let a = items::assemble(&k, read, None);
            p.apply_ledger(&a.ledger);
            promoted.insert(k, a.promoted);
        }
        let report = p.finish(&mut NoStore).unwrap();
        findings.extend(findings_json(&report));
        for (k, l) in &report.ledger.keys {
            promoted
                .entry(k.clone())
                .or_default()
                .extend(items::items_of(l, None));
        }
        for (k, all) in promoted {
            for it in all {
                let at = (items::partition(&k), it.sort_key());
                let old = table.remove(&at);
                table.insert(at, items::apply(old, it));
            }
        }
    }
    findings
}

/// [`run_with_ledgers`] with snapshots as the baseline of every file (`KEYTRAIL_BASELINE`).
pub fn run_with_ledgers_and(
    sources: &[(String, Vec<u8>)],
    baselines: &[std::sync::Arc<keytrail::model::snapshot::Snapshot>],
) -> (Vec<Value>, Vec<LedgerDelta>) {
    let reports = ledger_path(sources, baselines);
    let findings = reports.iter().flat_map(findings_json).collect();
    (findings, reports.into_iter().map(|r| r.ledger).collect())
}

/// The ledger path's run report of each source, in source order (findings, the source's
/// ledger delta, its deferred findings).
pub fn ledger_path(
    sources: &[(String, Vec<u8>)],
    baselines: &[std::sync::Arc<keytrail::model::snapshot::Snapshot>],
) -> Vec<RunReport> {
    let mut ledgers: BTreeMap<String, KeyLedger> = BTreeMap::new();
    let mut reports = Vec::new();
    for (i, (name, bytes)) in sources.iter().enumerate() {
        let mut opts = PipelineOptions {
            capture_ledger: true,
            baselines: baselines.to_vec(),
            ..PipelineOptions::default()
        };
        opts.write.file_stem = format!("src-{i}");
        let mut p: Pipeline<NoStore> = Pipeline::new(opts, false);
        let o = p.ingest(&mut NoStore, name, &bytes[..]).unwrap();
        assert!(o.failure.is_none(), "{:?}", o.failure);
        for k in p.ledger_keys() {
            if let Some(l) = ledgers.get(&k) {
                p.apply_ledger(l);
            }
        }
        let report = p.finish(&mut NoStore).unwrap();
        for (k, l) in &report.ledger.keys {
            ledgers
                .entry(k.clone())
                .or_insert_with(|| KeyLedger {
                    key: k.clone(),
                    ..KeyLedger::default()
                })
                .merge(l);
        }
        reports.push(report);
    }
    reports
}

/// Merges deltas in the given order into one ledger per key; `sources` (which source was
/// first) is left out, as it depends on which writer won by design.
pub fn merged(deltas: &[&LedgerDelta]) -> BTreeMap<String, (Value, Value, Value)> {
    let mut out: BTreeMap<String, KeyLedger> = BTreeMap::new();
    for d in deltas {
        for (k, l) in &d.keys {
            out.entry(k.clone()).or_default().merge(l);
        }
    }
    out.into_iter()
        .map(|(k, l)| {
            (
                k,
                (
                    serde_json::to_value(&l.events).unwrap(),
                    serde_json::to_value(&l.uses).unwrap(),
                    serde_json::to_value(&l.tied).unwrap(),
                ),
            )
        })
        .collect()
}

/// testdata/trail's records in time order, cut into consecutive files at random points
/// where the next record is more than the grace window later (CloudTrail delivers a
/// period's events together), each file shuffled, and with some records delivered again
/// in the same or a later file.
pub fn chronological_files(seed: u64, files: usize, dup_every: usize) -> Vec<(String, Vec<u8>)> {
    chronological_files_of(all_records(&testdata("trail")), seed, files, dup_every)
}

/// [`chronological_files`] over any records.
pub fn chronological_files_of(
    records: Vec<Vec<u8>>,
    seed: u64,
    files: usize,
    dup_every: usize,
) -> Vec<(String, Vec<u8>)> {
    let mut records: Vec<(i64, Vec<u8>)> = records
        .into_iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r).unwrap();
            let t = v["eventTime"]
                .as_str()
                .and_then(keytrail::model::kms::parse_event_time)
                .unwrap_or(i64::MIN);
            (t, r)
        })
        .collect();
    records.sort_by_key(|(t, _)| *t);
    let grace_ms = keytrail::audit::rules::DEFAULT_GRACE_SECONDS * 1000;
    let mut cuts: Vec<usize> = (1..records.len())
        .filter(|&i| records[i - 1].0 != i64::MIN && records[i].0 - records[i - 1].0 > grace_ms)
        .collect();
    let mut rng = SplitMix(seed);
    rng.shuffle(&mut cuts);
    cuts.truncate(files.saturating_sub(1));
    cuts.sort();
    let mut chunks: Vec<Vec<&[u8]>> = vec![Vec::new(); cuts.len() + 1];
    let mut c = 0;
    for (i, (_, r)) in records.iter().enumerate() {
        while c < cuts.len() && i >= cuts[c] {
            c += 1;
        }
        chunks[c].push(r);
        if dup_every > 0 && i % dup_every == 0 {
            let later = c + (rng.next() as usize) % (chunks.len() - c);
            chunks[later].push(r);
        }
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, mut recs)| {
            rng.shuffle(&mut recs);
            (format!("file-{i}.json"), super::records_file(&recs))
        })
        .collect()
}

/// A small deterministic generator (splitmix64) with a Fisher-Yates shuffle.
pub struct SplitMix(pub u64);
impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

pub fn sorted_lines(v: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(Value::to_string).collect();
    s.sort();
    s
}
