//! The `keytrail` command line: a thin shell over [`keytrail::pipeline::Pipeline`].

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use keytrail::local::{collect_inputs, LocalStore, NoStore};
use keytrail::output::TableStore;
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport, SourceOutcome};
use keytrail::profile::Profiles;
use keytrail::report;
use keytrail::rules::{Finding, Severity};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Audit AWS KMS key use from CloudTrail logs: Parquet tables for Athena, and findings
/// that correlate key use with grant history and key state (AWS Proton built in).
#[derive(Parser)]
#[command(name = "keytrail", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read CloudTrail logs, write the Parquet tables under --out and print a summary.
    Analyze {
        #[command(flatten)]
        common: Common,
        /// Folder to write the tables into (kms_events, proton_usage, grants, key_states,
        /// findings). keytrail's table folders in it are replaced when the run completes.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Generate a synthetic CloudTrail corpus (AWS key layout, .json.gz, deterministic by
    /// seed) for benchmarks and memory tests.
    Gen {
        /// Folder to write the corpus into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Uncompressed size to aim for, in MB.
        #[arg(long, default_value_t = 1024)]
        size_mb: u64,
        /// Random seed: the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Fraction of records that are KMS events.
        #[arg(long, default_value_t = 0.7)]
        kms_share: f64,
        /// Size of the largest single file, in MB (0: no large files).
        #[arg(long, default_value_t = 256)]
        large_file_mb: u64,
    },
    /// Print the schema of the tables keytrail writes (from the one definition in the code).
    Schema {
        /// markdown (the README's column reference) or json.
        #[arg(long, value_enum, default_value_t = SchemaFormat::Markdown)]
        format: SchemaFormat,
    },
    /// Read CloudTrail logs and print the findings.
    Findings {
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Args)]
struct Common {
    /// Log files or folders (walked recursively, reading *.json, *.jsonl and *.gz); `-` reads
    /// stdin. Gzip, multi-member gzip or plain; {"Records":[...]}, a JSON array, JSON Lines
    /// or one record.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// TOML file of extra encryption-context profiles ([[profile]] tables with name,
    /// template_key, resource_key and optional constraint_key, arn_service, template_types).
    #[arg(long, value_name = "FILE")]
    profiles: Option<PathBuf>,
    /// Consistency window in seconds: grants and key states are given this long to take
    /// effect and to disappear.
    #[arg(long, value_name = "SECONDS", default_value_t = keytrail::rules::DEFAULT_GRACE_SECONDS)]
    grace: i64,
    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaFormat {
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    High,
    Medium,
    Low,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::High => Severity::High,
            FailOn::Medium => Severity::Medium,
            FailOn::Low => Severity::Low,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYTRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Analyze { common, out } => {
            let mut store = LocalStore::new(&out)?;
            let (report, input_failed) = ingest_all(&common, &mut store, true)?;
            store.publish()?;
            print_summary(&report, &out)?;
            Ok(exit_code(&common, &report.findings, input_failed))
        }
        Command::Gen {
            out,
            size_mb,
            seed,
            kms_share,
            large_file_mb,
        } => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&kms_share),
                "--kms-share must be between 0 and 1"
            );
            let cfg = keytrail::corpus::CorpusConfig {
                seed,
                target_bytes: size_mb * 1_000_000,
                kms_share,
                large_file_bytes: large_file_mb * 1_000_000,
                ..Default::default()
            };
            let st = keytrail::corpus::write_corpus(&cfg, &out)
                .with_context(|| format!("{}: cannot write corpus", out.display()))?;
            println!(
                "generated {} files, {} records ({} KMS), {} MB uncompressed, {} MB gzip, under {}",
                st.files,
                st.records,
                st.kms_records,
                st.uncompressed_bytes / 1_000_000,
                st.compressed_bytes / 1_000_000,
                out.display()
            );
            Ok(0)
        }
        Command::Schema { format } => {
            match format {
                SchemaFormat::Markdown => print!("{}", keytrail::schema::markdown()),
                SchemaFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&keytrail::schema::json())?
                ),
            }
            Ok(0)
        }
        Command::Findings { common, format } => {
            let (report, input_failed) = ingest_all(&common, &mut NoStore, false)?;
            let mut stdout = std::io::stdout().lock();
            match format {
                Format::Table => report::write_table(&mut stdout, &report.findings)?,
                Format::Json => report::write_json(&mut stdout, &report.findings)?,
                Format::Csv => report::write_csv(&mut stdout, &report.findings)?,
            }
            stdout.flush()?;
            Ok(exit_code(&common, &report.findings, input_failed))
        }
    }
}

fn exit_code(common: &Common, findings: &[Finding], input_failed: bool) -> u8 {
    if input_failed {
        2
    } else if common
        .fail_on
        .is_some_and(|t| findings.iter().any(|f| f.severity >= t.severity()))
    {
        1
    } else {
        0
    }
}

fn ingest_all<S: TableStore>(
    common: &Common,
    store: &mut S,
    write_tables: bool,
) -> Result<(RunReport, bool)> {
    let profiles = match &common.profiles {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read profiles", p.display()))?;
            Profiles::with_toml(&text, &p.display().to_string())?
        }
        None => Profiles::default(),
    };
    anyhow::ensure!(common.grace >= 0, "--grace must be 0 or more seconds");
    let opts = PipelineOptions {
        grace_seconds: common.grace,
        profiles,
        ..PipelineOptions::default()
    };
    let mut pipeline = Pipeline::new(opts, write_tables);
    let (files, skipped, errors) = collect_inputs(&common.inputs);
    let mut failed = !errors.is_empty();
    for e in &errors {
        eprintln!("error: {}", report::sanitize(e));
    }
    for s in &skipped {
        eprintln!(
            "note: skipped {}: {}",
            report::sanitize(&s.path.display().to_string()),
            s.reason
        );
    }
    let progress = if !common.no_progress && std::io::stderr().is_terminal() && files.len() > 1 {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files, {msg}",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    for f in &files {
        let name = f.path.display().to_string();
        let outcome = if name == "-" {
            pipeline.ingest(store, "-", std::io::stdin().lock())?
        } else {
            match std::fs::File::open(&f.path) {
                Ok(file) => pipeline.ingest(store, &name, file)?,
                Err(e) => {
                    progress.suspend(|| {
                        eprintln!("error: {}: cannot open: {e}", report::sanitize(&name))
                    });
                    failed = true;
                    continue;
                }
            }
        };
        failed |= report_outcome(&progress, &outcome);
        progress.inc(1);
        progress.set_message(format!("{} KMS events", pipeline.stats().kms_events));
    }
    progress.finish_and_clear();
    let report = pipeline.finish(store)?;
    Ok((report, failed))
}

/// Prints a source's problems and notes; tells whether input could not be read.
fn report_outcome(progress: &ProgressBar, o: &SourceOutcome) -> bool {
    progress.suspend(|| {
        if let Some(reason) = o.skipped {
            eprintln!(
                "note: skipped {}: {}",
                report::sanitize(&o.source),
                reason.as_str()
            );
        }
        for e in &o.record_errors {
            eprintln!("error: {}", report::sanitize(&e.to_string()));
        }
        if let Some(e) = &o.failure {
            eprintln!("error: {}", report::sanitize(&e.to_string()));
        }
    });
    o.failure.is_some() || !o.record_errors.is_empty()
}

fn print_summary(r: &RunReport, out: &std::path::Path) -> Result<()> {
    let s = &r.stats;
    let mut o = std::io::stdout().lock();
    writeln!(
        o,
        "files: {} read, {} skipped, {} failed ({} MB decompressed)",
        s.files_read,
        s.files_skipped,
        s.files_failed,
        s.bytes / 1_000_000
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
    writeln!(o, "findings: {}", r.findings.len())?;
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
        report::sanitize(&out.display().to_string())
    )?;
    Ok(())
}
