//! The `keytrail` command line: a thin shell over [`keytrail::pipeline::Pipeline`].
//!
//! Layout of this binary:
//! - `main.rs`: the flags, and running one command;
//! - `options.rs`: flags turned into pipeline options (profiles, filters, AWS settings);
//! - `ingest.rs`: feeding inputs (files, folders, stdin, S3, tables) to the pipeline;
//! - `source.rs`: one input source (its name, kind and size);
//! - `outputs.rs`: opening, publishing or discarding the output (folder or S3);
//! - `progress.rs`: the progress bar (bytes, rate, ETA, phases);
//! - `interrupt.rs`: Ctrl-C and SIGTERM (the staging is removed, the output untouched);
//! - `summary.rs`: what `analyze` prints at the end;
//! - `snapshot.rs`: `keytrail snapshot` (today's keys through the KMS API, and `--check`);
//! - `state.rs`: `keytrail state migrate` (the Lambda's S3 ledgers into its state table);
//! - `exit.rs`: the exit statuses and the one-line error.

/// mimalloc: a tenth of a run went to glibc malloc and free, more across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod exit;
mod ingest;
mod interrupt;
mod options;
mod outputs;
mod progress;
mod snapshot;
mod source;
mod state;
mod summary;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use keytrail::audit::rules::{Finding, Severity};
use keytrail::render;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Audit AWS KMS key use from CloudTrail logs: Parquet tables for Athena, and findings
/// that correlate key use with grant history and key state (AWS Proton built in).
#[derive(Parser)]
#[command(name = "keytrail", version, about, long_about = None)]
#[command(after_help = exit::HELP)]
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
        /// Folder (or s3://bucket/prefix) to write the tables into (kms_events, proton_usage,
        /// grants, key_states, findings). In a folder, keytrail's table folders are replaced
        /// when the run completes (or added to, with --append); a run that reads no record
        /// leaves them untouched.
        #[arg(long, value_name = "DIR")]
        out: String,
        /// Add the new sources' rows beside the tables already in DIR instead of replacing
        /// them: sources already ingested (same name and size) are skipped, eventIDs already
        /// in DIR are not written again, and the derived tables (grants, key_states,
        /// proton_usage, findings) are recomputed over everything DIR then holds.
        #[arg(long)]
        append: bool,
    },
    /// Read CloudTrail logs (or keytrail's tables) and print the findings.
    Findings {
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Only findings of these rules (comma-separated or repeated).
        #[arg(long, value_name = "RULE", value_delimiter = ',')]
        rule: Vec<String>,
        /// Only findings at or above this severity.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        severity: Option<Level>,
    },
    /// Record today's keys of one account and region (state, key policy, grants, aliases)
    /// into a JSON file through the KMS API, or read a snapshot back with --check.
    Snapshot(snapshot::SnapshotArgs),
    /// The Lambda's cross-file state: `migrate` moves S3 ledgers into the state table.
    State(state::StateArgs),
    /// Print the schema of the tables keytrail writes, and of the one its scheduled Athena
    /// query writes (from the one definition in the code).
    Schema {
        /// markdown (the README's column reference), json, or glue (template.yaml's tables).
        #[arg(long, value_enum, default_value_t = SchemaFormat::Markdown)]
        format: SchemaFormat,
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
}

#[derive(Args)]
struct Common {
    /// Log files or folders (walked recursively, reading *.json, *.jsonl, *.log and *.gz),
    /// or s3://bucket/prefix (every object under it, fetched a few at a time); `-` reads
    /// stdin. Gzip or plain; {"Records":[...]}, a JSON array, JSON Lines, one record,
    /// `aws cloudtrail lookup-events` output or CloudTrail Lake query results.
    #[arg(value_name = "INPUT", required_unless_present = "tables")]
    inputs: Vec<String>,
    /// Recompute findings from tables keytrail wrote (a folder or s3://bucket/prefix holding
    /// kms_events/), whatever order they were ingested in.
    #[arg(long, value_name = "LOCATION")]
    tables: Option<String>,
    /// TOML file of extra encryption-context profiles ([[profile]] tables with name,
    /// template_key, resource_key and optional constraint_key, arn_service, template_types).
    #[arg(long, value_name = "FILE")]
    profiles: Option<PathBuf>,
    /// Consistency window in seconds: grants and key states are given this long to take
    /// effect and to disappear.
    #[arg(long, value_name = "SECONDS", default_value_t = keytrail::audit::rules::DEFAULT_GRACE_SECONDS)]
    grace: i64,
    /// A snapshot of today's keys (`keytrail snapshot` output, or a folder of `aws kms`
    /// outputs) as a baseline: its grants cover uses whose CreateGrant predates the input,
    /// its policy decides uses no policy event explains, and grants or states the input
    /// contradicts become findings (repeatable).
    #[arg(long, value_name = "FILE")]
    baseline: Vec<PathBuf>,
    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Level>,
    /// Only events at or after this time (RFC 3339, or a date: its first instant, UTC).
    /// Restricts the rows and findings written and printed, not the history the rules read.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only events before this time (RFC 3339, or a date: up to the end of that day, UTC).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only keys of this account (repeatable). Restricts the input: findings for the keys
    /// kept are unchanged.
    #[arg(long, value_name = "ACCOUNT_ID")]
    account: Vec<String>,
    /// Only keys in this region (repeatable). Restricts the input, like --account.
    #[arg(long, value_name = "REGION")]
    event_region: Vec<String>,
    /// Only this key (ARN or key id; repeatable). Restricts the input, like --account.
    #[arg(long, value_name = "KEY")]
    key: Vec<String>,
    /// AWS region for s3:// locations (default: AWS_REGION or the profile's region).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS named profile for s3:// locations (default: AWS_PROFILE or `default`).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
    /// No progress bar and no `note:` lines (errors and results still print).
    #[arg(long, short)]
    quiet: bool,
    /// Threads decoding local files (0: one per core). Output is the same for any count.
    #[arg(long, default_value_t = 0, value_name = "N")]
    threads: usize,
    /// Stop reading a source after this many decompressed bytes (a gzip-bomb guard).
    #[arg(long, value_name = "BYTES", default_value_t = keytrail::read::logfile::DEFAULT_MAX_SOURCE_BYTES)]
    max_source_bytes: u64,
    /// Stop reading a gzip source that decompresses to more than RATIO times its compressed
    /// size, judged from 64 MiB on (CloudTrail logs compress 10 to 30 times; 0: no limit).
    #[arg(long, value_name = "RATIO", default_value_t = keytrail::read::logfile::DEFAULT_MAX_INFLATION)]
    max_inflation: u64,
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
    /// The Glue tables of template.yaml.
    Glue,
    /// The Athena DDL of every table (queries/ddl/).
    Ddl,
}

#[derive(Clone, Copy, ValueEnum)]
enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    fn severity(self) -> Severity {
        match self {
            Level::High => Severity::High,
            Level::Medium => Severity::Medium,
            Level::Low => Severity::Low,
        }
    }
}

fn main() -> ExitCode {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // The SDK's own warnings (long, multi-line) stay off unless KEYTRAIL_LOG asks for them:
    // keytrail reports AWS problems itself, in one line.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYTRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off,keytrail=warn")),
        )
        .with_ansi(color)
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit::usage(e),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => exit::fatal(e),
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Analyze {
            common,
            out,
            append,
        } => outputs::analyze(&common, &out, append),
        Command::Findings {
            common,
            format,
            rule,
            severity,
        } => {
            let known: Vec<&str> = keytrail::audit::rules::Rule::ALL
                .iter()
                .map(|r| r.as_str())
                .collect();
            for r in &rule {
                anyhow::ensure!(
                    known.contains(&r.as_str()),
                    "--rule {r}: no such rule (rules: {})",
                    known.join(", ")
                );
            }
            let run = ingest::findings_only(&common)?;
            let shown: Vec<Finding> = run
                .report
                .findings
                .iter()
                .filter(|f| rule.is_empty() || rule.iter().any(|r| r == f.rule.as_str()))
                .filter(|f| severity.is_none_or(|s| f.severity >= s.severity()))
                .cloned()
                .collect();
            let mut stdout = std::io::stdout().lock();
            match format {
                Format::Table => render::write_table(&mut stdout, &shown)?,
                Format::Json => render::write_json(&mut stdout, &shown)?,
                Format::Csv => render::write_csv(&mut stdout, &shown)?,
            }
            stdout.flush()?;
            Ok(exit::status(&common, &shown, run.input_failed))
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
            let cfg = keytrail_corpus::CorpusConfig {
                seed,
                target_bytes: size_mb * 1_000_000,
                kms_share,
                large_file_bytes: large_file_mb * 1_000_000,
                ..Default::default()
            };
            let st = keytrail_corpus::write_corpus(&cfg, &out)
                .with_context(|| format!("{}: cannot write corpus", out.display()))?;
            writeln!(
                std::io::stdout().lock(),
                "generated {} files, {} records ({} KMS), {} MB uncompressed, {} MB gzip, under {}",
                st.files,
                st.records,
                st.kms_records,
                st.uncompressed_bytes / 1_000_000,
                st.compressed_bytes / 1_000_000,
                out.display()
            )?;
            Ok(exit::OK)
        }
        Command::Snapshot(args) => snapshot::run(&args),
        Command::State(args) => state::run(&args),
        Command::Schema { format } => {
            let mut o = std::io::stdout().lock();
            match format {
                SchemaFormat::Markdown => write!(o, "{}", keytrail::tables::schema::markdown())?,
                SchemaFormat::Glue => {
                    write!(o, "{}", keytrail::tables::schema::glue_tables_yaml())?
                }
                SchemaFormat::Ddl => {
                    for t in keytrail::tables::schema::catalog() {
                        writeln!(o, "{}", keytrail::tables::schema::athena_ddl(&t))?;
                    }
                }
                SchemaFormat::Json => writeln!(
                    o,
                    "{}",
                    serde_json::to_string_pretty(&keytrail::tables::schema::json())?
                )?,
            }
            o.flush()?;
            Ok(exit::OK)
        }
    }
}
