//! What `analyze` prints when it is done: files, records, KMS events, findings by rule, the
//! files written, and what to do next.

use keytrail::audit::rules::Severity;
use keytrail::pipeline::RunReport;
use keytrail::text::sanitize;
use std::io::Write;

pub fn print(
    r: &RunReport,
    out: &str,
    skipped_by_name: u64,
    already_in: usize,
) -> std::io::Result<()> {
    let s = &r.stats;
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "files: {} read, {} skipped ({} by name, {} digest or insight), {} failed ({} MB decompressed){}",
        s.files_read,
        skipped_by_name + s.files_skipped,
        skipped_by_name,
        s.files_skipped,
        s.files_failed,
        s.bytes / 1_000_000,
        if already_in > 0 {
            format!("; {already_in} already in {} and not read again", sanitize(out))
        } else {
            String::new()
        }
    )?;
    writeln!(
        o,
        "records: {} ({} invalid, {} other services, {} insight); KMS records {}, distinct KMS calls {}, duplicates dropped {}",
        s.records, s.records_invalid, s.other_service_records, s.insight_records, s.kms_records, s.kms_events, s.duplicates
    )?;
    writeln!(
        o,
        "KMS calls: {} key use, {} grant, {} key state, {} other; {} without a usable time; {} key uses with an unresolved key",
        s.key_use_events, s.grant_events, s.key_state_events, s.other_kms_events, r.timeline.without_time, r.timeline.unresolved_key_uses
    )?;
    if s.copies_folded > 0 {
        writeln!(
            o,
            "cross-account copies: {} events are another account's copy of a call (same sharedEventID), counted once",
            s.copies_folded
        )?;
    }
    if s.filtered_out > 0 {
        writeln!(o, "filters: {} KMS events left out", s.filtered_out)?;
    }
    if s.existing_events > 0 {
        writeln!(
            o,
            "history: {} KMS events already in {} judged with this run's",
            s.existing_events,
            sanitize(out)
        )?;
    }
    writeln!(
        o,
        "findings: {} (list them: keytrail findings --tables {})",
        r.findings.len(),
        sanitize(out)
    )?;
    for (rule, n) in r.findings_by_rule() {
        // Severities per situation: "high" or, for rules that gave several, "3 high, 1 low".
        let by: Vec<(Severity, usize)> = [Severity::High, Severity::Medium, Severity::Low]
            .into_iter()
            .map(|s| {
                (
                    s,
                    r.findings
                        .iter()
                        .filter(|f| f.rule == rule && f.severity == s)
                        .count(),
                )
            })
            .filter(|(_, c)| *c > 0)
            .collect();
        let severities = match by.as_slice() {
            [] => rule.severity().as_str().to_string(),
            [(s, _)] => s.as_str().to_string(),
            many => many
                .iter()
                .map(|(s, c)| format!("{c} {}", s.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        writeln!(o, "  {:<30} {:>6}  {severities}", rule.as_str(), n)?;
    }
    let rows: u64 = r.files.iter().map(|f| f.rows).sum();
    writeln!(
        o,
        "wrote {} files ({} rows) under {}",
        r.files.len(),
        rows,
        sanitize(out)
    )?;
    o.flush()
}
