//! The sources an output folder already holds, for append runs (`analyze --append`).
//!
//! An append run adds the rows of new sources beside the tables already written. It skips
//! a source already ingested (same name and size; for S3, the same key and size) and names
//! its files after the set of sources it read, so a rerun over the same new sources writes
//! the same names. The manifest lives in `DIR/_keytrail/sources.jsonl`, one JSON object per
//! source, outside every table folder. Pure: text in, values out; the folder is the CLI's.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The manifest's file name, in the output folder's bookkeeping folder
/// ([`crate::edge::local::META_DIR`]).
pub const MANIFEST_FILE: &str = "sources.jsonl";

/// One source an output folder holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// The source as named on the command line's walk (path or s3:// URL).
    pub source: String,
    /// Its size in bytes when it was read.
    pub size: u64,
    /// The file stem of the run that wrote its rows.
    pub run: String,
}

/// The sources an output folder holds, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    entries: BTreeMap<String, SourceEntry>,
}

/// A manifest line that is not a source entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ManifestError {
    pub line: usize,
    pub reason: String,
}

impl Manifest {
    /// Parses the manifest text. A line that cannot be read stops the parse: an append
    /// run must not guess what the folder holds.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let e: SourceEntry = serde_json::from_str(line).map_err(|e| ManifestError {
                line: i + 1,
                reason: e.to_string(),
            })?;
            m.entries.insert(e.source.clone(), e);
        }
        Ok(m)
    }

    /// Whether a source of this name and size was already ingested.
    pub fn holds(&self, source: &str, size: u64) -> bool {
        self.entries.get(source).is_some_and(|e| e.size == size)
    }

    pub fn add(&mut self, entry: SourceEntry) {
        self.entries.insert(entry.source.clone(), entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The manifest text, one entry per line in source order.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for e in self.entries.values() {
            out.push_str(&serde_json::to_string(e).expect("entries serialise"));
            out.push('\n');
        }
        out
    }
}

/// The file stem of an append run over these sources (name and size each): `run-` and the
/// first 16 hex digits of a SHA-256 over them in name order. The same sources give the
/// same stem on every machine and toolchain.
pub fn run_stem(sources: &[(String, u64)]) -> String {
    let mut sorted: Vec<&(String, u64)> = sources.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    for (name, size) in sorted {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(size.to_le_bytes());
    }
    let d = h.finalize();
    let hex: String = d[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("run-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_size_decides() {
        let mut m = Manifest::default();
        m.add(SourceEntry {
            source: "logs/a.json.gz".into(),
            size: 120,
            run: "run-1".into(),
        });
        let back = Manifest::parse(&m.to_text()).unwrap();
        assert_eq!(back, m);
        assert!(back.holds("logs/a.json.gz", 120));
        assert!(
            !back.holds("logs/a.json.gz", 121),
            "a file that grew is new"
        );
        assert!(!back.holds("logs/b.json.gz", 120));
        let e =
            Manifest::parse("{\"source\":\"x\",\"size\":1,\"run\":\"r\"}\nnot json\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn run_stems_are_pinned_and_order_free() {
        let a = vec![("a".to_string(), 1u64), ("b".to_string(), 2)];
        let b = vec![("b".to_string(), 2u64), ("a".to_string(), 1)];
        assert_eq!(run_stem(&a), run_stem(&b));
        assert_ne!(run_stem(&a), run_stem(&[("a".to_string(), 1)]));
        // SHA-256 is pinned by its standard: this value holds on every toolchain. It is the
        // first 8 bytes of SHA-256 over the name's length, the name and the size, as given by
        // `printf '\x01\0\0\0\0\0\0\0a\x01\0\0\0\0\0\0\0' | sha256sum`.
        assert_eq!(run_stem(&[("a".to_string(), 1)]), "run-6d8db910f279b84c");
    }
}
