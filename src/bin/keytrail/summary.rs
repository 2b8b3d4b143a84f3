//! What `analyze` prints when it is done: files, records, KMS events, findings by rule, the
//! files written, and what to do next.

use keytrail::pipeline::RunReport;
use keytrail::report::sanitize;
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
        "records: {} ({} invalid, {} other services, {} insight); KMS records {}, distinct KMS events {}, duplicates dropped {}",
        s.records, s.records_invalid, s.other_service_records, s.insight_records, s.kms_records, s.kms_events, s.duplicates
    )?;
    writeln!(
        o,
        "KMS events: {} key use, {} grant, {} key state, {} other; {} without a usable time; {} key uses with an unresolved key",
        s.key_use_events, s.grant_events, s.key_state_events, s.other_kms_events, r.timeline.without_time, r.timeline.unresolved_key_uses
    )?;
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
        writeln!(
            o,
            "  {:<30} {:>6}  {}",
            rule.as_str(),
            n,
            rule.severity().as_str()
        )?;
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
