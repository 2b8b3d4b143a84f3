//! Helpers of the first-hour tests (`tests/first_hour*.rs`): a run's stderr as text, a
//! byte-for-byte snapshot of an output folder, and a good run's tables to start from.

use super::{analyze_to, assert_exit, files_under, testdata};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir` (relative path and bytes), staging and bookkeeping included.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// A folder holding a good run's tables, and its contents.
pub fn good_run(tmp: &Path) -> (PathBuf, BTreeMap<PathBuf, Vec<u8>>) {
    let out = tmp.join("out");
    let o = analyze_to(&testdata("trail"), &out, &[]);
    assert_exit(&o, 0);
    let snap = snapshot(&out);
    assert_eq!(
        snap.keys()
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .count(),
        179,
        "the sample run writes 179 Parquet files"
    );
    (out, snap)
}
