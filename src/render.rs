//! Rendering findings for people and programs: an aligned table, JSON Lines and CSV.
//!
//! Every string that came from a log is made safe for a terminal first: control
//! characters (including ESC, so no escape sequence can reach the terminal) and Unicode
//! bidirectional controls are shown as `\u{..}` escapes. JSON output escapes C0 control
//! characters by construction. The table stays within 120 columns: long cells are cut and messages
//! wrapped (the JSON and CSV keep every character), so one huge value cannot widen every row.

use crate::audit::rules::{format_time, Finding};
use crate::text::{fit, sanitize};
use std::io::{self, Write};

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
        "rule,severity,authorization,event_id,event_time,event_name,key_arn,account_id,region,principal,proton_template,proton_resource,related_event_ids,message,advice"
    )?;
    for f in findings {
        let cells = [
            f.rule.as_str().to_string(),
            f.severity.as_str().to_string(),
            f.authorization
                .map(|a| a.as_str())
                .unwrap_or_default()
                .to_string(),
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
            f.advice.clone(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// Widest line of the findings table, in characters.
pub const TABLE_WIDTH: usize = 120;
const INDENT: &str = "    ";

/// Splits `text` into lines of at most `width` characters, at spaces where it can and
/// inside a word (an ARN) where it must.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut cur_len = 0;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let sep = usize::from(cur_len > 0);
        if cur_len + sep + word.len() <= width {
            if sep == 1 {
                cur.push(' ');
            }
            cur.extend(word.iter());
            cur_len += sep + word.len();
            continue;
        }
        if cur_len > 0 {
            lines.push(std::mem::take(&mut cur));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        cur_len = word.len();
        cur = word.into_iter().collect();
    }
    if cur_len > 0 || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A readable table within [`TABLE_WIDTH`] columns: one line per finding (severity, rule,
/// time, event, event id), then its key, template and resource, and its message wrapped
/// below, indented.
pub fn write_table(out: &mut dyn Write, findings: &[Finding]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
    let rows: Vec<[String; 5]> = findings
        .iter()
        .map(|f| {
            [
                f.severity.as_str().to_uppercase(),
                fit(f.rule.as_str().to_string(), 30),
                format_time(f.event_time),
                fit(sanitize(&f.event_name), 22),
                sanitize(&f.event_id),
            ]
        })
        .collect();
    let header = ["SEVERITY", "RULE", "TIME", "EVENT", "EVENT ID"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r).take(4) {
            *w = (*w).max(c.chars().count());
        }
    }
    // The event id (36 characters for CloudTrail's UUIDs) is kept whole; the event name
    // gets what is left.
    let id_width = rows
        .iter()
        .map(|r| r[4].chars().count())
        .max()
        .unwrap_or(0)
        .max(8);
    let id_width = id_width.min(TABLE_WIDTH / 3);
    let fixed: usize = widths[..3].iter().map(|w| w + 2).sum();
    widths[3] = widths[3].min(TABLE_WIDTH.saturating_sub(fixed + 2 + id_width).max(8));
    widths[4] = TABLE_WIDTH.saturating_sub(fixed + widths[3] + 2).max(8);
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{:<w$}", fit(c.clone(), w)))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&header.map(String::from)))?;
    let body = TABLE_WIDTH - INDENT.len();
    for (r, f) in rows.iter().zip(findings) {
        writeln!(out, "{}", line(r))?;
        let long_id = (r[4].chars().count() > widths[4]).then(|| f.event_id.clone());
        for (label, value) in [
            ("event id", &long_id),
            ("key", &f.key_arn),
            ("template", &f.proton_template),
            ("resource", &f.proton_resource),
        ] {
            let Some(v) = value else { continue };
            let v = clip(sanitize(v), MAX_CELL_CHARS);
            for (n, l) in wrap(&v, body - 10).iter().enumerate() {
                let label = if n == 0 { label } else { "" };
                writeln!(out, "{INDENT}{label:<10}{l}")?;
            }
        }
        for l in wrap(&clip(sanitize(&f.message), MAX_MESSAGE_CHARS), body) {
            writeln!(out, "{INDENT}{l}")?;
        }
        let advice = format!("advice: {}", f.advice);
        for l in wrap(&clip(sanitize(&advice), MAX_MESSAGE_CHARS), body) {
            writeln!(out, "{INDENT}{l}")?;
        }
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
            rule: crate::audit::rules::Rule::UseWithoutGrant,
            severity: crate::audit::rules::Rule::UseWithoutGrant.severity(),
            authorization: None,
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
            advice: huge.clone(),
        };
        let mut out = Vec::new();
        write_table(&mut out, &[f("a"), f("b")]).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= TABLE_WIDTH, "{}", line.len());
        }
        // The key is cut at MAX_CELL_CHARS (then wrapped), the message at MAX_MESSAGE_CHARS.
        let unwrapped: String = text
            .lines()
            .map(|l| {
                l.trim_start_matches(INDENT)
                    .trim_start_matches("key")
                    .trim_start()
            })
            .collect::<String>()
            .replace(' ', "");
        assert!(unwrapped.contains(&format!(
            "{}...({}morecharacters)",
            "é".repeat(MAX_CELL_CHARS),
            (1 << 20) - MAX_CELL_CHARS
        )));
        // Two findings, each a message and an advice cut at MAX_MESSAGE_CHARS.
        assert!(text.lines().count() < 2 * (4 + 2 * MAX_MESSAGE_CHARS / 100));
        let mut csv = Vec::new();
        write_csv(&mut csv, &[f("a")]).unwrap();
        assert!(csv.len() > 2 * huge.len(), "CSV keeps every character");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_inside_long_words() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
        assert_eq!(wrap("ab cdefgh", 4), vec!["ab", "cdef", "gh"]);
        assert_eq!(fit("abcdef".into(), 4), "abc…");
    }
}
