//! The `keytrail` command line: a thin shell over [`keytrail::pipeline::Pipeline`].

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use keytrail::local::{collect_inputs, LocalStore, NoStore};
use keytrail::output::TableStore;
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport, SourceOutcome};
use keytrail::profile::Profiles;
use keytrail::report;
use keytrail::rules::{Finding, Severity};
use keytrail::s3::{S3Store, S3Url};
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
        /// Folder (or s3://bucket/prefix) to write the tables into (kms_events, proton_usage,
        /// grants, key_states, findings). In a folder, keytrail's table folders are replaced
        /// when the run completes.
        #[arg(long, value_name = "DIR")]
        out: String,
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
        /// markdown (the README's column reference), json, or glue (template.yaml's tables).
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
    /// Log files or folders (walked recursively, reading *.json, *.jsonl and *.gz), or
    /// s3://bucket/prefix (every object under it, fetched a few at a time); `-` reads stdin.
    /// Gzip, multi-member gzip or plain; {"Records":[...]}, a JSON array, JSON Lines or one
    /// record.
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
    #[arg(long, value_name = "SECONDS", default_value_t = keytrail::rules::DEFAULT_GRACE_SECONDS)]
    grace: i64,
    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    no_progress: bool,
    /// Threads decoding local files (0: one per core). Output is the same for any count.
    #[arg(long, default_value_t = 0, value_name = "N")]
    threads: usize,
    /// Stop reading a source after this many decompressed bytes (a gzip-bomb guard).
    #[arg(long, value_name = "BYTES", default_value_t = keytrail::logfile::DEFAULT_MAX_SOURCE_BYTES)]
    max_source_bytes: u64,
    /// Stop reading a gzip source that decompresses to more than RATIO times its compressed
    /// size, judged from 64 MiB on (CloudTrail logs compress 10 to 30 times; 0: no limit).
    #[arg(long, value_name = "RATIO", default_value_t = keytrail::logfile::DEFAULT_MAX_INFLATION)]
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
            let (report, input_failed) = if let Some(url) = S3Url::parse(&out) {
                let rt = runtime()?;
                let client = rt.block_on(keytrail::s3::client())?;
                let mut store = S3Store::new(client, url, rt.handle().clone());
                ingest_all(&common, &mut store, true, Some(&rt))?
            } else {
                let mut store = LocalStore::new(std::path::Path::new(&out))?;
                let r = ingest_all(&common, &mut store, true, None)?;
                store.publish()?;
                r
            };
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
                SchemaFormat::Glue => print!("{}", keytrail::schema::glue_tables_yaml()),
                SchemaFormat::Ddl => {
                    for t in keytrail::schema::TABLES {
                        println!("{}", keytrail::schema::athena_ddl(&t));
                    }
                }
                SchemaFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&keytrail::schema::json())?
                ),
            }
            Ok(0)
        }
        Command::Findings { common, format } => {
            let (report, input_failed) = ingest_all(&common, &mut NoStore, false, None)?;
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// How many S3 objects are fetched ahead of the one being read.
const PARALLEL_GETS: usize = 4;

fn ingest_all<S: TableStore>(
    common: &Common,
    store: &mut S,
    write_tables: bool,
    rt: Option<&tokio::runtime::Runtime>,
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
    let mut opts = PipelineOptions {
        grace_seconds: common.grace,
        profiles,
        ..PipelineOptions::default()
    };
    opts.read.max_source_bytes = common.max_source_bytes;
    opts.read.max_inflation = common.max_inflation;
    let needs_s3 = common.inputs.iter().any(|i| i.starts_with("s3://"))
        || common
            .tables
            .as_deref()
            .is_some_and(|t| t.starts_with("s3://"));
    let own_rt;
    let rt = match (rt, needs_s3) {
        (Some(rt), _) => Some(rt),
        (None, true) => {
            own_rt = runtime()?;
            Some(&own_rt)
        }
        (None, false) => None,
    };
    let client = match rt {
        Some(rt) if needs_s3 => Some(rt.block_on(keytrail::s3::client())?),
        _ => None,
    };
    let mut pipeline = Pipeline::new(opts, write_tables);
    let mut failed = false;

    if let Some(loc) = &common.tables {
        failed |= ingest_tables(&mut pipeline, store, loc, rt, client.as_ref())?;
    }

    let local: Vec<PathBuf> = common
        .inputs
        .iter()
        .filter(|i| !i.starts_with("s3://"))
        .map(PathBuf::from)
        .collect();
    let (files, skipped, errors) = collect_inputs(&local);
    failed |= !errors.is_empty();
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
    let mut objects = Vec::new();
    for url in common.inputs.iter().filter(|i| i.starts_with("s3://")) {
        let (rt, client) = (rt.expect("runtime"), client.as_ref().expect("client"));
        let loc = S3Url::parse(url)
            .with_context(|| format!("{url}: not an s3://bucket/prefix location"))?;
        let listed = rt.block_on(keytrail::s3::list(client, &loc.bucket, &loc.prefix))?;
        for (key, _) in listed {
            let name = key.rsplit('/').next().unwrap_or(&key);
            if key == loc.prefix || keytrail::local::is_log_name(name) {
                objects.push((loc.bucket.clone(), key));
            } else {
                eprintln!(
                    "note: skipped s3://{}/{}: not a *.json, *.jsonl or *.gz object",
                    loc.bucket,
                    report::sanitize(&key)
                );
            }
        }
    }
    let total = files.len() + objects.len();
    let progress = if !common.no_progress && std::io::stderr().is_terminal() && total > 1 {
        let bar = ProgressBar::new(total as u64);
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
    let threads = match common.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if threads > 1 && files.len() > 1 && files.iter().all(|f| f.path.as_os_str() != "-") {
        failed |= ingest_files_parallel(&mut pipeline, store, &files, threads, &progress)?;
    } else {
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
    }
    if !objects.is_empty() {
        let (rt, client) = (rt.expect("runtime"), client.clone().expect("client"));
        // Bounded parallel GETs: a few objects are fetched ahead while one is read.
        let mut fetched = futures::stream::iter(objects.into_iter().map(|(bucket, key)| {
            let client = client.clone();
            async move {
                let url = format!("s3://{bucket}/{key}");
                let got = keytrail::s3::get_small(&client, &bucket, &key).await;
                (url, got)
            }
        }))
        .buffered(PARALLEL_GETS);
        while let Some((url, got)) = rt.block_on(fetched.next()) {
            match got {
                Ok(Some((bytes, _))) => {
                    let outcome = pipeline.ingest(store, &url, &bytes[..])?;
                    failed |= report_outcome(&progress, &outcome);
                }
                Ok(None) => {
                    progress.suspend(|| {
                        eprintln!("error: {}: object not found", report::sanitize(&url))
                    });
                    failed = true;
                }
                Err(e) => {
                    progress.suspend(|| eprintln!("error: {}", report::sanitize(&e.to_string())));
                    failed = true;
                }
            }
            progress.inc(1);
            progress.set_message(format!("{} KMS events", pipeline.stats().kms_events));
        }
    }
    progress.finish_and_clear();
    let report = pipeline.finish(store)?;
    Ok((report, failed))
}

/// What a decoding thread sends for one file.
enum FileMsg {
    Chunk(Vec<keytrail::decode::Decoded>),
    Done(Result<keytrail::logfile::ReadSummary, keytrail::error::InputError>),
    Skipped(keytrail::logfile::SkipReason),
    OpenFailed(String),
}

/// Decodes files on `threads` threads while this thread applies the results file by file,
/// in input order, so the output does not depend on the thread count. Memory is bounded
/// twice: each file's channel holds a few chunks, and no thread starts a file more than
/// `2 * threads` files ahead of the one being applied (small files fit whole in their
/// channel, so without that window the decoders would race ahead of a large file).
fn ingest_files_parallel<S: TableStore>(
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    files: &[keytrail::local::InputFile],
    threads: usize,
    progress: &ProgressBar,
) -> Result<bool> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::sync_channel;
    const CHUNK: usize = 1024;
    let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..files.len()).map(|_| sync_channel::<FileMsg>(4)).unzip();
    let next = AtomicUsize::new(0);
    let window = 2 * threads;
    let applied = std::sync::Mutex::new(0usize);
    let advanced = std::sync::Condvar::new();
    let read_opts = pipeline.options().read.clone();
    let mut failed = false;
    // Owned by the applying loop: if it stops early, dropping the receivers unblocks the
    // decoding threads so the scope can end.
    let mut receivers = Some(receivers);
    std::thread::scope(|scope| -> Result<()> {
        let receivers = receivers.take().expect("taken once");
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(tx) = senders.get(i) else { return };
                {
                    let mut done = applied.lock().expect("lock");
                    while i >= *done + window {
                        done = advanced.wait(done).expect("lock");
                    }
                }
                let name = &names[i];
                if let Some(reason) = keytrail::logfile::skip_reason_for_name(name) {
                    let _ = tx.send(FileMsg::Skipped(reason));
                    continue;
                }
                let file = match std::fs::File::open(&files[i].path) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = tx.send(FileMsg::OpenFailed(e.to_string()));
                        continue;
                    }
                };
                let opts = keytrail::decode::read_options_for(name, &read_opts);
                let mut buf = Vec::with_capacity(CHUNK);
                let result = keytrail::decode::decode_source(name, file, &opts, false, &mut |d| {
                    buf.push(d);
                    if buf.len() == CHUNK {
                        let _ = tx.send(FileMsg::Chunk(std::mem::replace(
                            &mut buf,
                            Vec::with_capacity(CHUNK),
                        )));
                    }
                });
                if !buf.is_empty() {
                    let _ = tx.send(FileMsg::Chunk(buf));
                }
                let _ = tx.send(FileMsg::Done(result));
            });
        }
        let mut apply_all = || -> Result<()> {
            for (i, rx) in receivers.iter().enumerate() {
                let name = &names[i];
                let mut applier = pipeline.begin_source(name);
                let outcome = loop {
                    match rx.recv() {
                        Ok(FileMsg::Chunk(items)) => {
                            for d in items {
                                applier.apply(store, d)?;
                            }
                        }
                        Ok(FileMsg::Done(result)) => break Some(applier.finish(result)),
                        Ok(FileMsg::Skipped(reason)) => {
                            drop(applier);
                            break Some(pipeline.skip(name, reason));
                        }
                        Ok(FileMsg::OpenFailed(e)) => {
                            progress.suspend(|| {
                                eprintln!("error: {}: cannot open: {e}", report::sanitize(name))
                            });
                            failed = true;
                            break None;
                        }
                        Err(_) => anyhow::bail!("{name}: decoding thread stopped"),
                    }
                };
                if let Some(o) = outcome {
                    failed |= report_outcome(progress, &o);
                }
                *applied.lock().expect("lock") = i + 1;
                advanced.notify_all();
                progress.inc(1);
                progress.set_message(format!("{} KMS events", pipeline.stats().kms_events));
            }
            Ok(())
        };
        let result = apply_all();
        // Release the decoders whatever happened, so the scope can end.
        drop(receivers);
        *applied.lock().expect("lock") = usize::MAX / 2;
        advanced.notify_all();
        result
    })?;
    Ok(failed)
}

/// Reads keytrail's own kms_events tables back into the pipeline; tells whether a file failed.
fn ingest_tables<S: TableStore>(
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    loc: &str,
    rt: Option<&tokio::runtime::Runtime>,
    client: Option<&aws_sdk_s3::Client>,
) -> Result<bool> {
    let mut failed = false;
    let mut files: Vec<(String, bytes::Bytes)> = Vec::new();
    if let Some(url) = S3Url::parse(loc) {
        let (rt, client) = (rt.expect("runtime"), client.expect("client"));
        let prefix = url.key("kms_events/");
        for (key, _) in rt.block_on(keytrail::s3::list(client, &url.bucket, &prefix))? {
            if !key.ends_with(".parquet") {
                continue;
            }
            match rt.block_on(keytrail::s3::get_small(client, &url.bucket, &key))? {
                Some((b, _)) => files.push((format!("s3://{}/{key}", url.bucket), b.into())),
                None => failed = true,
            }
        }
    } else {
        let root = PathBuf::from(loc).join("kms_events");
        anyhow::ensure!(
            root.is_dir(),
            "{}: no kms_events table there",
            root.display()
        );
        let mut stack = vec![root];
        let mut paths = Vec::new();
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d)? {
                let p = e?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet") {
                    paths.push(p);
                }
            }
        }
        paths.sort();
        for p in paths {
            files.push((p.display().to_string(), std::fs::read(&p)?.into()));
        }
    }
    for (name, bytes) in files {
        match keytrail::readback::read_events(&name, bytes) {
            Ok(events) => pipeline.ingest_events(store, &name, events)?,
            Err(e) => {
                eprintln!("error: {}", report::sanitize(&e.to_string()));
                failed = true;
            }
        }
    }
    Ok(failed)
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

fn print_summary(r: &RunReport, out: &str) -> Result<()> {
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
        report::sanitize(out)
    )?;
    Ok(())
}
