//! Hostile strings that reach a terminal: escape sequences, bidi overrides, NUL and 1 MB
//! strings in the fields of the findings table, and an escape sequence in a file name on
//! stderr. Through the `keytrail` binary: no raw control character reaches the terminal,
//! cells are cut and lines stay bounded, CSV and JSON keep every character escaped, and the
//! tables keep the values as they were. The shared helpers are in `tests/common/hostile.rs`.

mod common;

use common::hostile::*;
use common::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Terminal escapes and huge strings in the findings table
// ---------------------------------------------------------------------------------------

#[test]
fn findings_table_escapes_controls_and_bounds_lines() {
    let evil = "\u{1b}[31mRED\u{1b}]0;title\u{7}\rCR\u{8}BS\u{202e}RLO\u{0}NUL\u{2067}RLI\u{200f}RLM\u{9b}CSI\u{7f}DEL\u{2028}LS";
    let mut hostile = kms_record(&format!("evil-{evil}"));
    hostile["userIdentity"] =
        json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{evil}")});
    hostile["resources"][0]["ARN"] =
        json!(format!("arn:aws:kms:us-east-1:111122223333:key/{evil}"));
    hostile["requestParameters"]["encryptionContext"] = json!({
        "aws:proton:template": format!("arn:aws:proton:us-east-1:111122223333:service-template/{evil}"),
        "aws:proton:resource": format!("arn:aws:proton:us-east-1:111122223333:service/{evil}")
    });
    // 1 MB strings: an event id of ESCs, a key ARN, a caller ARN. (Before cells were cut,
    // a cell wider than 65,535 characters made the table's `{:<w$}` padding panic: exit 101
    // and no output at all.)
    let mut long = kms_record(&"\u{1b}".repeat(1 << 20));
    long["eventTime"] = json!("2026-01-01T00:00:01Z");
    long["resources"][0]["ARN"] = json!(format!(
        "arn:aws:kms:us-east-1:111122223333:key/{}",
        "k".repeat(1 << 20)
    ));
    long["userIdentity"] = json!({"type": "IAMUser", "arn": format!("arn:aws:iam::111122223333:user/{}", "\u{202e}".repeat(1 << 20))});
    let doc = serde_json::to_vec(&json!({"Records": [hostile, long]})).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let hostile_path = tmp.path().join("hostile.json");
    std::fs::write(&hostile_path, &doc).unwrap();
    // A broken file whose name holds an escape sequence: the stderr line is escaped too.
    let bad_name = tmp.path().join("bad\u{1b}[2J.json");
    std::fs::write(&bad_name, b"{\"Records\":[").unwrap();

    let o = keytrail(&[
        "findings",
        hostile_path.to_str().unwrap(),
        &good_name(),
        bad_name.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let errors = error_lines(&o);
    assert_eq!(
        errors,
        [format!(
            "error: {}/bad\\u{{1b}}[2J.json: line 1, column 13: invalid JSON: unexpected end of input",
            tmp.path().display()
        )]
    );
    assert!(!o.stderr.contains(&0x1b));

    let table = String::from_utf8(o.stdout).unwrap();
    for (c, what) in [
        ('\u{1b}', "ESC"),
        ('\u{7}', "BEL"),
        ('\r', "CR"),
        ('\u{8}', "BS"),
        ('\u{0}', "NUL"),
        ('\u{7f}', "DEL"),
        ('\u{9b}', "CSI"),
        ('\u{202e}', "RLO"),
        ('\u{2067}', "RLI"),
        ('\u{200f}', "RLM"),
        ('\u{2028}', "LS"),
    ] {
        assert!(!table.contains(c), "raw {what} in the table");
    }
    // The event id is longer than its column: it is repeated whole on a detail line, wrapped.
    let joined: String = table
        .lines()
        .map(|l| l.trim_start().trim_start_matches("event id").trim_start())
        .collect();
    assert!(joined.contains("evil-\\u{1b}[31mRED\\u{1b}]0;title\\u{7}\\u{d}CR\\u{8}BS\\u{202e}RLO\\u{0}NUL\\u{2067}RLI\\u{200f}RLM\\u{9b}CSI\\u{7f}DEL\\u{2028}LS"), "{}", &table[..table.len().min(2000)]);
    // Three findings (the good one, the escapes, the 1 MB strings): a header, then each
    // finding's line and its indented details, none wider than 120 columns however long
    // the values.
    let lines: Vec<&str> = table.lines().collect();
    let heads = lines.iter().skip(1).filter(|l| !l.starts_with(' ')).count();
    assert_eq!(
        heads,
        3,
        "{:?}",
        lines
            .iter()
            .map(|l| &l[..l.len().min(120)])
            .collect::<Vec<_>>()
    );
    let longest = lines.iter().map(|l| l.chars().count()).max().unwrap();
    println!(
        "table: {} bytes, {} lines, longest line {longest} characters",
        table.len(),
        lines.len()
    );
    assert!(longest <= 120, "{longest}");
    assert!(lines.len() < 400, "{}", lines.len());
    assert!(table.contains(GOOD_EVENT_ID));
    let flat = table.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(" more characters)"));

    // CSV keeps every character, escaped; JSON escapes the C0 controls by construction.
    let csv = keytrail(&[
        "findings",
        hostile_path.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(csv.status.code(), Some(0));
    assert!(!csv.stdout.contains(&0x1b) && !csv.stdout.contains(&b'\r'));
    assert!(csv.stdout.len() > 3 << 20, "the 1 MB values are all there");
    let json_out = keytrail(&[
        "findings",
        hostile_path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(json_out.status.code(), Some(0));
    assert!(!json_out.stdout.contains(&0x1b) && !json_out.stdout.contains(&b'\r'));

    // analyze: the summary prints counts, not log strings; the tables keep the values as is.
    let out = tmp.path().join("out");
    let o = keytrail(&[
        "analyze",
        hostile_path.to_str().unwrap(),
        &good_name(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert!(!o.stdout.contains(&0x1b));
    let events = table_events(&out);
    assert!(ids(&events).contains(&format!("evil-{evil}")));
    assert!(ids(&events).contains(&"\u{1b}".repeat(1 << 20)));
    assert_eq!(events.len(), 3);
}
