//! Rendering findings for people and programs: an aligned table, JSON Lines and CSV.
//!
//! Every string that came from a log is made safe for a terminal first: control
//! characters (including ESC, so no escape sequence can reach the terminal) and Unicode
//! bidirectional controls are shown as `\u{..}` escapes. JSON output escapes C0 control
//! characters by construction. In the table, a cell or message longer than a screenful is
//! cut (the JSON and CSV keep every character), so one huge value cannot widen every row.

use crate::rules::{format_time, Finding};
use std::io::{self, Write};

/// Makes a log-supplied string safe to print: control characters, line and paragraph
/// separators and bidirectional controls (which can reorder what a terminal shows) become
/// `\u{XX}`.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control()
            || matches!(
                c,
                '\u{2028}'
                    | '\u{2029}'
                    | '\u{061c}'
                    | '\u{200e}'
                    | '\u{200f}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}'
            )
        {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(sanitize).unwrap_or_else(|| "-".into())
}

/// Longest table cell, and longest message line, in characters. Cells are padded with
/// `{:<w$}`, which panics for a width over `u16::MAX`: one 64 KB event id or key ARN in a
/// log used to crash `findings` before it printed anything.
const MAX_CELL_CHARS: usize = 256;
const MAX_MESSAGE_CHARS: usize = 4096;

/// Cuts `s` to `max` characters, saying how many were left out.
fn clip(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some((end, _)) => {
            let rest = s[end..].chars().count();
            format!("{}... ({rest} more characters)", &s[..end])
        }
    }
}

/// One JSON object per line, fields in the documented order.
pub fn write_json(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    for f in findings {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    let s = sanitize(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// CSV with a header; `related_event_ids` joined by `;`.
pub fn write_csv(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    writeln!(
        out,
        "rule,severity,event_id,event_time,event_name,key_arn,account_id,region,principal,proton_template,proton_resource,related_event_ids,message"
    )?;
    for f in findings {
        let cells = [
            f.rule.as_str().to_string(),
            f.severity.as_str().to_string(),
            f.event_id.clone(),
            format_time(f.event_time),
            f.event_name.clone(),
            f.key_arn.clone().unwrap_or_default(),
            f.account_id.clone().unwrap_or_default(),
            f.region.clone().unwrap_or_default(),
            f.principal.clone().unwrap_or_default(),
            f.proton_template.clone().unwrap_or_default(),
            f.proton_resource.clone().unwrap_or_default(),
            f.related_event_ids.join(";"),
            f.message.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// A readable table: one line per finding, then its message indented below.
pub fn write_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
    let rows: Vec<[String; 6]> = findings
        .iter()
        .map(|f| {
            [
                f.severity.as_str().to_uppercase(),
                f.rule.as_str().to_string(),
                format_time(f.event_time),
                clip(sanitize(&f.event_name), MAX_CELL_CHARS),
                clip(sanitize(&f.event_id), MAX_CELL_CHARS),
                clip(opt(&f.key_arn), MAX_CELL_CHARS),
            ]
        })
        .collect();
    let header = ["SEVERITY", "RULE", "TIME", "EVENT", "EVENT ID", "KEY"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&header.map(String::from)))?;
    for (r, f) in rows.iter().zip(findings) {
        writeln!(out, "{}", line(r))?;
        writeln!(out, "    {}", clip(sanitize(&f.message), MAX_MESSAGE_CHARS))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_neutralised() {
        assert_eq!(
            sanitize("a\u{1b}[31mred\u{7}\n"),
            "a\\u{1b}[31mred\\u{7}\\u{a}"
        );
        assert_eq!(sanitize("plain ARN:/x"), "plain ARN:/x");
        assert_eq!(
            sanitize("a\u{202e}b\u{2067}c\u{200f}d\u{61c}e\u{9b}f"),
            "a\\u{202e}b\\u{2067}c\\u{200f}d\\u{61c}e\\u{9b}f"
        );
        assert_eq!(sanitize("é中🙂"), "é中🙂");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn huge_values_are_cut_in_the_table_not_a_panic() {
        assert_eq!(clip("abc".into(), 3), "abc");
        assert_eq!(clip("abcdé".into(), 3), "abc... (2 more characters)");
        let huge = "é".repeat(1 << 20);
        let f = |event_id: &str| Finding {
            rule: crate::rules::Rule::UseWithoutGrant,
            severity: crate::rules::Rule::UseWithoutGrant.severity(),
            event_id: event_id.into(),
            event_time: 0,
            event_name: "Decrypt".into(),
            key_arn: Some(huge.clone()),
            account_id: None,
            region: None,
            principal: None,
            proton_template: None,
            proton_resource: None,
            related_event_ids: vec![],
            message: huge.clone(),
        };
        let mut out = Vec::new();
        write_table(&mut out, &[f("a"), f("b")]).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 5);
        for line in text.lines() {
            assert!(line.chars().count() < 4200, "{}", line.len());
        }
        assert!(text.contains(&format!(
            "{}... ({} more characters)",
            "é".repeat(MAX_CELL_CHARS),
            (1 << 20) - MAX_CELL_CHARS
        )));
        let mut csv = Vec::new();
        write_csv(&mut csv, &[f("a")]).unwrap();
        assert!(csv.len() > 2 * huge.len(), "CSV keeps every character");
    }
}
