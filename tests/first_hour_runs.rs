//! A new user's first hour, end to end through the `keytrail` binary, continued: append runs
//! over overlapping inputs (each eventID once, the findings of one run), findings on a
//! folder of tables, the summary and its skipped-file counts, the filters against the
//! unfiltered run, and lookup-events output as input. The shared helpers are in
//! `tests/common/first_hour.rs`.

mod common;

use common::first_hour::*;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The eventIDs of a folder's kms_events table, with their counts.
fn event_ids(out: &Path) -> BTreeMap<String, usize> {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut ids = BTreeMap::new();
    for f in parquet_files(&out.join("kms_events")) {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            let b = b.unwrap();
            let col = b
                .column_by_name("event_id")
                .unwrap()
                .as_string::<i32>()
                .clone();
            for i in 0..col.len() {
                if col.is_valid(i) {
                    *ids.entry(col.value(i).to_string()).or_insert(0) += 1;
                }
            }
        }
    }
    ids
}

/// The distinct key ARNs of a folder's kms_events table ("" for rows without one).
fn key_arns(out: &Path) -> std::collections::BTreeSet<String> {
    use arrow::array::{Array, AsArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut keys = std::collections::BTreeSet::new();
    for f in parquet_files(&out.join("kms_events")) {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            let b = b.unwrap();
            let col = b
                .column_by_name("key_arn")
                .unwrap()
                .as_string::<i32>()
                .clone();
            for i in 0..col.len() {
                keys.insert(if col.is_valid(i) {
                    col.value(i).to_string()
                } else {
                    String::new()
                });
            }
        }
    }
    keys
}

fn findings_lines(args: &[&str]) -> Vec<String> {
    let o = keytrail(args);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        stderr(&o)
    );
    let mut v: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn append_twice_over_overlapping_inputs_equals_one_run_over_the_union() {
    let tmp = tempfile::tempdir().unwrap();
    let (files, _, _) = keytrail::edge::local::collect_inputs(&[testdata("trail")]);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // A holds files 0..100, B files 60..end: 40 files in both.
    for (i, f) in files.iter().enumerate() {
        let name = format!("{i:03}-{}", f.path.file_name().unwrap().to_string_lossy());
        if i < 100 {
            std::fs::copy(&f.path, a.join(&name)).unwrap();
        }
        if i >= 60 {
            std::fs::copy(&f.path, b.join(&name)).unwrap();
        }
    }
    let out = tmp.path().join("daily");
    let o_s = out.to_str().unwrap();
    for day in [&a, &b] {
        let o = keytrail(&["analyze", day.to_str().unwrap(), "--out", o_s, "--append"]);
        assert_exit(&o, 0);
    }
    // Filters would hide rows and findings of an append run: refused, nothing changed.
    let before = snapshot(&out);
    let o = keytrail(&[
        "analyze",
        b.to_str().unwrap(),
        "--out",
        o_s,
        "--append",
        "--key",
        "k",
    ]);
    assert_exit(&o, 3);
    assert!(
        stderr(&o).contains("--append cannot be combined with --key"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&out), before);
    // The same day again: nothing new, nothing changed.
    let before = snapshot(&out);
    let o = keytrail(&["analyze", b.to_str().unwrap(), "--out", o_s, "--append"]);
    assert_exit(&o, 0);
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("nothing new"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(snapshot(&out), before);

    // A manifest keytrail cannot read stops an append run before it changes anything.
    let manifest = out.join("_keytrail/sources.jsonl");
    let good = std::fs::read(&manifest).unwrap();
    std::fs::write(
        &manifest,
        b"{\"source\":\"x\",\"size\":1,\"run\":\"r\"}\nnot json\n",
    )
    .unwrap();
    let before = snapshot(&out);
    let o = keytrail(&["analyze", b.to_str().unwrap(), "--out", o_s, "--append"]);
    assert_exit(&o, 3);
    assert!(
        stderr(&o).starts_with(&format!("error: {}: line 2: ", manifest.display())),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&out), before);
    std::fs::write(&manifest, good).unwrap();
    // A filtered run records no source, so a later --append reads them all again.
    let filtered = tmp.path().join("filtered");
    let f_s = filtered.to_str().unwrap();
    let o = keytrail(&[
        "analyze",
        a.to_str().unwrap(),
        "--out",
        f_s,
        "--since",
        "2025-03-05",
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        std::fs::read_to_string(filtered.join("_keytrail/sources.jsonl")).unwrap(),
        ""
    );
    let o = keytrail(&["analyze", a.to_str().unwrap(), "--out", f_s, "--append"]);
    assert_exit(&o, 0);
    assert!(!String::from_utf8_lossy(&o.stdout).starts_with("nothing new"));

    let whole = tmp.path().join("whole");
    let o = analyze_to(&testdata("trail"), &whole, &[]);
    assert_exit(&o, 0);
    let (ids, whole_ids) = (event_ids(&out), event_ids(&whole));
    assert!(
        ids.values().all(|&n| n == 1),
        "an eventID twice: {:?}",
        ids.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        whole_ids.keys().collect::<Vec<_>>()
    );
    // The findings: from the appended tables, from the findings table, and from the logs.
    let from_logs = findings_lines(&[
        "findings",
        testdata("trail").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(from_logs.len(), expected_findings().len());
    assert_eq!(
        findings_lines(&["findings", "--tables", o_s, "--format", "json"]),
        from_logs
    );
    // The derived findings table was recomputed over the whole history, not the last day.
    let findings_rows: usize = parquet_files(&out.join("findings"))
        .iter()
        .map(|f| {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(f).unwrap(),
            )
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum::<usize>()
        })
        .sum();
    assert_eq!(findings_rows, expected_findings().len());
}

#[test]
fn findings_on_a_folder_of_tables_recomputes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = good_run(tmp.path());
    let o = keytrail(&["findings", out.to_str().unwrap(), "--format", "json"]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("holds keytrail tables: recomputing the findings from them"));
    let mut got: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    got.sort();
    assert_eq!(
        got,
        findings_lines(&[
            "findings",
            "--tables",
            out.to_str().unwrap(),
            "--format",
            "json"
        ])
    );
    assert_eq!(got.len(), expected_findings().len());
    // analyze on it stops with the hint, and changes nothing.
    let o = keytrail(&[
        "analyze",
        out.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("keytrail findings --tables"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_summary_says_how_to_list_the_findings_and_counts_skipped_files() {
    let tmp = tempfile::tempdir().unwrap();
    let input = new_dir(tmp.path(), "in");
    let plain = trail_log_files().remove(0);
    // A log named *.log is read; a README beside it is skipped and counted.
    let bytes = std::fs::read(&plain).unwrap();
    std::fs::write(input.join("trail.log"), &bytes).unwrap();
    std::fs::write(input.join("README.txt"), b"not a log").unwrap();
    let out = tmp.path().join("out");
    let o = analyze_to(&input, &out, &[]);
    assert_exit(&o, 0);
    let s = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(
        s.starts_with("files: 1 read, 1 skipped (1 by name, 0 digest or insight)"),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "(list them: keytrail findings --tables {})",
            out.display()
        )),
        "{s}"
    );
    assert!(stderr(&o).contains("README.txt: not a *.json, *.jsonl, *.log or *.gz file"));
    // --quiet drops the note.
    let o = analyze_to(&input, &out, &["--quiet"]);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn filters_restrict_the_input_by_key_and_the_output_by_time_rule_and_severity() {
    let t = testdata("trail");
    let t = t.to_str().unwrap();
    let all: Vec<serde_json::Value> = findings_lines(&["findings", t, "--format", "json"])
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["findings", t, "--format", "json"];
        args.extend_from_slice(extra);
        findings_lines(&args)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let sorted = |mut v: Vec<serde_json::Value>| {
        v.sort_by_key(|f| f.to_string());
        v
    };
    // A key's findings are the same whether or not the other keys were read.
    let key = all[0]["key_arn"].as_str().unwrap().to_string();
    let key_id = key.rsplit('/').next().unwrap().to_string();
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["key_arn"] == key.as_str())
        .cloned()
        .collect();
    assert!(!want.is_empty() && want.len() < all.len());
    assert_eq!(sorted(lines(&["--key", &key])), sorted(want.clone()));
    assert_eq!(sorted(lines(&["--key", &key_id])), sorted(want));
    let account = key.split(':').nth(4).unwrap().to_string();
    let want: Vec<_> = all
        .iter()
        .filter(|f| {
            f["key_arn"]
                .as_str()
                .is_some_and(|k| k.split(':').nth(4) == Some(account.as_str()))
        })
        .cloned()
        .collect();
    assert_eq!(sorted(lines(&["--account", &account])), sorted(want));
    // Filtering by key restricts the input: other keys' events are not in the tables.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = keytrail(&["analyze", t, "--out", out.to_str().unwrap(), "--key", &key]);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stdout).contains("KMS events left out"));
    let keys = key_arns(&out);
    assert!(keys.contains(&key), "{keys:?}");
    assert!(keys.iter().all(|k| k == &key || k.is_empty()), "{keys:?}");
    // --since keeps the history before it: the findings after T are those of the full run,
    // among them the use at 10:30:00 that a DisableKey at 10:20 (before T) explains.
    let since = "2025-03-04T10:30:00Z";
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["event_time"].as_str().unwrap() >= since)
        .cloned()
        .collect();
    assert!(!want.is_empty() && want.len() < all.len());
    assert!(want
        .iter()
        .any(|f| f["event_id"].as_str().unwrap().starts_with("02000012-")
            && f["rule"] == "use-after-key-disabled"));
    assert_eq!(sorted(lines(&["--since", since])), sorted(want));
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["event_time"].as_str().unwrap() < "2025-03-05")
        .cloned()
        .collect();
    assert_eq!(sorted(lines(&["--until", "2025-03-04"])), sorted(want));
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["rule"] == "denied-by-key-state")
        .cloned()
        .collect();
    assert_eq!(
        sorted(lines(&["--rule", "denied-by-key-state"])),
        sorted(want)
    );
    let want: Vec<_> = all
        .iter()
        .filter(|f| f["severity"] != "low")
        .cloned()
        .collect();
    assert_eq!(sorted(lines(&["--severity", "medium"])), sorted(want));
}

#[test]
fn lookup_events_output_yields_its_kms_events() {
    // `aws cloudtrail lookup-events` output: three KMS events and one of another service,
    // over two concatenated pages (see the fixture).
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let input = testdata("formats/lookup-events.json");
    let o = analyze_to(&input, &out, &[]);
    assert_exit(&o, 0);
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(
        s.contains("records: 4 (0 invalid, 1 other services, 0 insight); KMS records 3"),
        "{s}"
    );
    let ids: Vec<String> = event_ids(&out).into_keys().collect();
    assert_eq!(
        ids,
        [
            "91000001-6a2e-4c1b-8f3d-2b7e9c0a4d15",
            "91000002-b4c7-4e9a-a1f0-5d3e8c2b7a61",
            "91000003-2f6d-4a8e-b3c9-7e1a4d0b5c28"
        ]
    );
}
