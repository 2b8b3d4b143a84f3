//! Rendering findings for people and programs: an aligned table, JSON Lines and CSV.
//!
//! Every string that came from a log is made safe for a terminal first: control
//! characters (including ESC, so no escape sequence can reach the terminal) are shown as
//! `\u{..}` escapes. JSON output escapes them by construction.

use crate::rules::{format_time, Finding};
use std::io::{self, Write};

/// Makes a log-supplied string safe to print: control characters become `\u{XX}`.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202e}' | '\u{202d}') {
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
                sanitize(&f.event_name),
                sanitize(&f.event_id),
                opt(&f.key_arn),
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
        writeln!(out, "    {}", sanitize(&f.message))?;
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
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
