//! Feeding inputs to the pipeline: local files and folders (decoded on several threads by
//! `keytrail::pipeline::parallel`, applied in input order), stdin,
//! S3 objects (a few fetched ahead), and keytrail's own tables read back.

use crate::options;
use crate::progress::Progress;
use crate::source::{Source, SourceKind};
use crate::Common;
use anyhow::{Context, Result};
use futures::StreamExt;
use keytrail::edge::local::collect_inputs;
use keytrail::edge::s3::S3Url;
use keytrail::pipeline::parallel::{ingest_in_order, Ingested};
use keytrail::pipeline::{Pipeline, RunReport, SourceOutcome};
use keytrail::tables::reader::{open_events, EventBatches, ReadbackError};
use keytrail::tables::writer::NoStore;
use keytrail::tables::writer::TableStore;
use keytrail::text::sanitize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The S3 edge of a command, when it has one.
pub type S3<'a> = Option<(&'a tokio::runtime::Runtime, &'a aws_sdk_s3::Client)>;

/// The inputs, expanded.
pub struct Resolved {
    pub sources: Vec<Source>,
    /// Files and objects a walk or listing passed over by their name.
    pub skipped_by_name: u64,
    /// Some input could not be found or listed.
    pub failed: bool,
}

/// Whether `p` is a folder of keytrail's own tables.
pub fn is_tables_dir(p: &str) -> bool {
    !p.starts_with("s3://") && Path::new(p).join("kms_events").is_dir()
}

/// Expands the inputs: walks folders, lists S3 prefixes, and says what it skipped.
pub fn resolve(inputs: &[String], quiet: bool, s3: S3<'_>) -> Result<Resolved> {
    let note = |line: String| {
        if !quiet {
            eprintln!("note: {}", sanitize(&line));
        }
    };
    let local: Vec<PathBuf> = inputs
        .iter()
        .filter(|i| !i.starts_with("s3://"))
        .map(PathBuf::from)
        .collect();
    let (files, skipped, errors) = collect_inputs(&local);
    for e in &errors {
        eprintln!("error: {}", sanitize(e));
    }
    for s in &skipped {
        note(format!("skipped {}: {}", s.path.display(), s.reason));
    }
    let mut sources: Vec<Source> = files
        .into_iter()
        .map(|f| {
            if f.path.as_os_str() == "-" {
                Source {
                    name: "-".into(),
                    kind: SourceKind::Stdin,
                    size: 0,
                }
            } else {
                let size = std::fs::metadata(&f.path).map_or(0, |m| m.len());
                Source::file(f.path, size)
            }
        })
        .collect();
    let mut skipped_by_name = skipped.len() as u64;
    for url in inputs.iter().filter(|i| i.starts_with("s3://")) {
        let (rt, client) = s3.expect("an S3 client for s3:// inputs");
        let loc = S3Url::parse(url)
            .ok_or_else(|| anyhow::anyhow!("{url}: not an s3://bucket/prefix location"))?;
        let listed = rt.block_on(keytrail::edge::s3::list(client, &loc.bucket, &loc.prefix))?;
        for (key, size) in listed {
            let name = key.rsplit('/').next().unwrap_or(&key);
            if key == loc.prefix || keytrail::edge::local::is_log_name(name) {
                sources.push(Source {
                    name: format!("s3://{}/{key}", loc.bucket),
                    kind: SourceKind::Object,
                    size: size.max(0) as u64,
                });
            } else {
                skipped_by_name += 1;
                note(format!(
                    "skipped s3://{}/{key}: {}",
                    loc.bucket,
                    keytrail::edge::local::NOT_A_LOG_NAME
                ));
            }
        }
    }
    Ok(Resolved {
        sources,
        skipped_by_name,
        failed: !errors.is_empty(),
    })
}

/// What feeding the sources found.
#[derive(Debug, Default)]
pub struct Fed {
    /// Some source (or record) could not be read.
    pub input_failed: bool,
    /// Sources read to their end (not skipped).
    pub complete: u64,
    /// By source index, whether it was fully handled: read to its end, or skipped by its
    /// content (digest and insight files). An append run does not read them again.
    pub completed: Vec<bool>,
    /// Table files read back that predate columns the rules read.
    pub older_tables: u64,
}

/// How many S3 objects are fetched ahead of the one being read.
const PARALLEL_GETS: usize = 4;

/// Feeds every source to the pipeline, in order.
pub fn feed<S: TableStore>(
    common: &Common,
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    sources: &[Source],
    progress: &Progress,
    s3: S3<'_>,
) -> Result<Fed> {
    let mut fed = Fed {
        completed: vec![false; sources.len()],
        ..Fed::default()
    };
    let threads = match common.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Local files and stdin first, then S3 objects: (index in `sources`, source).
    let files: Vec<(usize, &Source)> = sources
        .iter()
        .enumerate()
        .filter(|(_, s)| !matches!(s.kind, SourceKind::Object))
        .collect();
    let all_files = files.iter().all(|(_, s)| s.path().is_some());
    if threads > 1 && files.len() > 1 && all_files {
        let names: Vec<&str> = files.iter().map(|(_, f)| f.name.as_str()).collect();
        let open = |i: usize| {
            let path = files[i]
                .1
                .path()
                .expect("only files are decoded in parallel");
            std::fs::File::open(path).map(|f| progress.reader(f))
        };
        ingest_in_order(pipeline, store, &names, threads, open, |i, what, stats| {
            let (at, f) = files[i];
            match what {
                Ingested::Outcome(o) => note_outcome(progress, &o, at, &mut fed, common.quiet),
                Ingested::OpenFailed(e) => {
                    progress
                        .suspend(|| eprintln!("error: {}: cannot open: {e}", sanitize(&f.name)));
                    fed.input_failed = true;
                }
            }
            progress.file_done(stats.kms_events);
        })?;
    } else {
        for &(at, f) in &files {
            let outcome = match f.path() {
                None => pipeline.ingest(store, "-", progress.reader(std::io::stdin().lock()))?,
                Some(path) => match std::fs::File::open(path) {
                    Ok(file) => pipeline.ingest(store, &f.name, progress.reader(file))?,
                    Err(e) => {
                        progress.suspend(|| {
                            eprintln!("error: {}: cannot open: {e}", sanitize(&f.name))
                        });
                        fed.input_failed = true;
                        continue;
                    }
                },
            };
            note_outcome(progress, &outcome, at, &mut fed, common.quiet);
            progress.file_done(pipeline.stats().kms_events);
        }
    }
    let objects: Vec<(usize, &Source)> = sources
        .iter()
        .enumerate()
        .filter(|(_, s)| s.object().is_some())
        .collect();
    if !objects.is_empty() {
        let (rt, client) = s3.expect("an S3 client for s3:// inputs");
        // Bounded parallel GETs: a few objects are fetched ahead while one is read.
        let mut fetched = futures::stream::iter(objects.into_iter().map(|(at, s)| {
            let client = client.clone();
            async move {
                let (bucket, key) = s.object().expect("filtered above");
                let got = keytrail::edge::s3::get_small(&client, bucket, key).await;
                (at, s, got)
            }
        }))
        .buffered(PARALLEL_GETS);
        while let Some((at, s, got)) = rt.block_on(fetched.next()) {
            let url = &s.name;
            match got {
                Ok(Some((bytes, _))) => {
                    let outcome = pipeline.ingest(store, url, progress.reader(&bytes[..]))?;
                    note_outcome(progress, &outcome, at, &mut fed, common.quiet);
                }
                Ok(None) => {
                    progress.suspend(|| eprintln!("error: {}: object not found", sanitize(url)));
                    fed.input_failed = true;
                }
                Err(e) => {
                    progress.suspend(|| eprintln!("error: {}", sanitize(&e.to_string())));
                    fed.input_failed = true;
                }
            }
            progress.file_done(pipeline.stats().kms_events);
        }
    }
    Ok(fed)
}

/// Prints a source's problems and notes, and counts it (`at`: its index in the sources).
pub fn note_outcome(progress: &Progress, o: &SourceOutcome, at: usize, fed: &mut Fed, quiet: bool) {
    progress.suspend(|| {
        if let Some(reason) = o.skipped {
            if !quiet {
                eprintln!("note: skipped {}: {}", sanitize(&o.source), reason.as_str());
            }
        }
        for e in &o.record_errors {
            eprintln!("error: {}", sanitize(&e.to_string()));
        }
        if let Some(e) = &o.failure {
            eprintln!("error: {}", sanitize(&e.to_string()));
        }
    });
    if o.failure.is_some() || !o.record_errors.is_empty() {
        fed.input_failed = true;
    }
    if o.failure.is_none() {
        fed.completed[at] = true;
        if o.skipped.is_none() {
            fed.complete += 1;
        }
    }
}

/// One `kms_events` file to read back: a local path or an S3 object, fetched only when
/// its turn comes so memory holds one file (local files are read in place).
enum TableFile {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl TableFile {
    fn name(&self) -> String {
        match self {
            TableFile::Local(p) => p.display().to_string(),
            TableFile::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// Opens the file's event batches; `Ok(None)` when the object has gone since listing.
    fn open(&self, s3: S3<'_>) -> Result<Option<Result<EventBatches, ReadbackError>>> {
        let name = self.name();
        Ok(Some(match self {
            TableFile::Local(p) => {
                let file = std::fs::File::open(p).with_context(|| format!("{name}: open"))?;
                open_events(&name, file)
            }
            TableFile::S3 { bucket, key } => {
                let (rt, client) = s3.expect("an S3 client for s3:// tables");
                match rt.block_on(keytrail::edge::s3::get_small(client, bucket, key))? {
                    Some((b, _)) => open_events(&name, bytes::Bytes::from(b)),
                    None => return Ok(None),
                }
            }
        }))
    }
}

/// The table files under `loc` (a folder or s3://bucket/prefix holding `kms_events/`),
/// in name order, not yet read.
fn table_files(loc: &str, s3: S3<'_>) -> Result<Vec<TableFile>> {
    let mut files = Vec::new();
    if let Some(url) = S3Url::parse(loc) {
        let (rt, client) = s3.expect("an S3 client for s3:// tables");
        let prefix = url.key("kms_events/");
        for (key, _) in rt.block_on(keytrail::edge::s3::list(client, &url.bucket, &prefix))? {
            if key.ends_with(".parquet") {
                files.push(TableFile::S3 {
                    bucket: url.bucket.clone(),
                    key,
                });
            }
        }
    } else {
        let root = PathBuf::from(loc).join("kms_events");
        anyhow::ensure!(
            root.is_dir(),
            "{}: no kms_events table there",
            root.display()
        );
        for p in keytrail::edge::local::files_under(&root, "parquet")? {
            files.push(TableFile::Local(p));
        }
    }
    Ok(files)
}

/// The events of `batches` one after another, stopping at the first bad batch, which
/// lands in `failure`.
fn flatten<'a>(
    batches: &'a mut EventBatches,
    failure: &'a mut Option<ReadbackError>,
) -> impl Iterator<Item = keytrail::model::kms::KmsEvent> + 'a {
    batches
        .map_while(|b| b.map_err(|e| *failure = Some(e)).ok())
        .flatten()
}

/// Reads keytrail's own kms_events tables back into the pipeline as input (`--tables`),
/// a file and a batch at a time. A file that goes bad part way has its earlier batches
/// judged and the run reports the error and fails.
pub fn feed_tables<S: TableStore>(
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    loc: &str,
    s3: S3<'_>,
    fed: &mut Fed,
) -> Result<()> {
    for file in table_files(loc, s3)? {
        let mut batches = match file.open(s3)? {
            None => {
                fed.input_failed = true;
                continue;
            }
            Some(Err(e)) => {
                eprintln!("error: {}", sanitize(&e.to_string()));
                fed.input_failed = true;
                continue;
            }
            Some(Ok(b)) => b,
        };
        let mut failure = None;
        pipeline.ingest_events(store, &file.name(), flatten(&mut batches, &mut failure))?;
        fed.older_tables += !batches.missing_columns.is_empty() as u64;
        match failure {
            None => fed.complete += 1,
            Some(e) => {
                eprintln!("error: {}", sanitize(&e.to_string()));
                fed.input_failed = true;
            }
        }
    }
    Ok(())
}

/// Reads the tables already in an output folder into the pipeline's history (an append
/// run). A file that cannot be read stops the run: appending beside tables keytrail cannot
/// read would give findings over part of the history.
pub fn feed_existing<S: TableStore>(
    pipeline: &mut Pipeline<S>,
    dir: &Path,
    quiet: bool,
) -> Result<()> {
    if !dir.join("kms_events").is_dir() {
        return Ok(());
    }
    let mut older = 0;
    for file in table_files(&dir.display().to_string(), None)? {
        let Some(opened) = file.open(None)? else {
            continue;
        };
        let mut batches = opened?;
        let mut failure = None;
        pipeline.ingest_existing(&file.name(), flatten(&mut batches, &mut failure));
        if let Some(e) = failure {
            return Err(e.into());
        }
        older += !batches.missing_columns.is_empty() as u64;
    }
    if !quiet {
        note_older_tables(older);
    }
    Ok(())
}

/// Key uses held in memory before the timeline spills a sorted run (about 40 MB of them).
const USE_BUDGET: usize = 1 << 18;

/// EventID digests held in memory before a sorted run is spilled: 7/8 of 2^19, what a hash
/// table of 2^19 slots (about 9 MB) holds.
const SEEN_BUDGET: usize = 7 << 16;

/// Gives the pipeline temporary folders (under `TMPDIR`) to spill key uses and eventID
/// digests to, so the memory of a backfill does not grow with its number of events; without
/// them the run holds every use and digest. `KEYTRAIL_SPILL_BUDGET` sets another budget for
/// both (the tests spill every few events).
pub fn spill_to_disk<S: TableStore>(pipeline: &mut Pipeline<S>, quiet: bool) {
    let budget: Option<usize> = std::env::var("KEYTRAIL_SPILL_BUDGET")
        .ok()
        .and_then(|v| v.parse().ok());
    let spills = keytrail::edge::spill::TempSpill::new()
        .and_then(|uses| Ok((uses, keytrail::edge::spill::TempSpill::new()?)));
    match spills {
        Ok((uses, seen)) => {
            pipeline.spill_uses(Box::new(uses), budget.unwrap_or(USE_BUDGET));
            pipeline.spill_seen(Box::new(seen), budget.unwrap_or(SEEN_BUDGET));
        }
        Err(e) if !quiet => eprintln!(
            "note: no temporary folder to spill to ({}): key uses and eventIDs are all held in memory",
            sanitize(&e.to_string())
        ),
        Err(_) => {}
    }
}

/// Logs what went to disk, and says when spilling failed.
pub fn note_spill(report: &RunReport, quiet: bool) {
    tracing::debug!(
        runs = report.spilled_runs,
        digest_runs = report.spilled_digest_runs,
        "spilled"
    );
    if let (Some(why), false) = (&report.spill_failed, quiet) {
        eprintln!("note: {}: what followed was held in memory", sanitize(why));
    }
}

/// Says once that some tables predate columns the rules read, and what follows.
pub fn note_older_tables(files: u64) {
    if files > 0 {
        eprintln!(
            "note: {files} kms_events file(s) were written by an earlier keytrail and lack {}: the rules treat those facts as unknown (cross-account copies count twice, grants to service principals cover nothing, imported key material and custom key stores are not followed); for exact findings, run analyze again over the logs",
            keytrail::tables::reader::LATER_COLUMNS.join(", ")
        );
    }
}

/// A `findings` run: the report and whether input failed.
pub struct FindingsRun {
    pub report: RunReport,
    pub input_failed: bool,
}

/// Reads the inputs (or tables) and computes the findings, writing nothing.
pub fn findings_only(common: &Common) -> Result<FindingsRun> {
    let mut tables = common.tables.clone();
    let mut inputs = common.inputs.clone();
    if let Some(dir) = inputs.iter().find(|i| is_tables_dir(i)) {
        anyhow::ensure!(
            tables.is_none() && inputs.len() == 1,
            "{dir} holds keytrail tables, not CloudTrail logs: pass it alone, as `--tables {dir}`"
        );
        if !common.quiet {
            eprintln!(
                "note: {} holds keytrail tables: recomputing the findings from them (as --tables {})",
                sanitize(dir),
                sanitize(dir)
            );
        }
        tables = inputs.pop();
    }
    let opts = options::pipeline_options(common)?;
    let edge = options::s3_edge(common, &inputs, tables.as_deref())?;
    let s3 = edge.as_ref().map(|(rt, client)| (rt, client));
    let mut pipeline: Pipeline<NoStore> = Pipeline::new(opts, false);
    spill_to_disk(&mut pipeline, common.quiet);
    let resolved = resolve(&inputs, common.quiet, s3)?;
    let (fed, progress) = read_all(
        common,
        &mut pipeline,
        &mut NoStore,
        tables.as_deref(),
        &resolved.sources,
        s3,
        resolved.failed,
    )?;
    progress.finish();
    let report = pipeline.finish(&mut NoStore)?;
    note_spill(&report, common.quiet);
    if report.stats.records == 0 && !common.quiet {
        eprintln!(
            "note: {}",
            no_records_note(&report, resolved.skipped_by_name)
        );
    }
    Ok(FindingsRun {
        report,
        input_failed: fed.input_failed,
    })
}

/// Feeds the tables (`--tables`, when given) and the sources to the pipeline, under a
/// progress bar (returned, so the caller can show its later phases).
#[allow(clippy::too_many_arguments)]
pub fn read_all<S: TableStore>(
    common: &Common,
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    tables: Option<&str>,
    sources: &[Source],
    s3: S3<'_>,
    listing_failed: bool,
) -> Result<(Fed, Progress)> {
    let mut fed = Fed {
        input_failed: listing_failed,
        ..Fed::default()
    };
    if let Some(loc) = tables {
        feed_tables(pipeline, store, loc, s3, &mut fed)?;
        if !common.quiet {
            note_older_tables(fed.older_tables);
        }
    }
    let progress = Progress::new(
        visible(common, sources),
        sources.iter().map(|s| s.size).sum(),
        sources.len() as u64,
    );
    let more = feed(common, pipeline, store, sources, &progress, s3)?;
    fed.input_failed |= more.input_failed;
    fed.complete += more.complete;
    fed.completed = more.completed;
    Ok((fed, progress))
}

/// Whether to show the progress bar.
pub fn visible(common: &Common, sources: &[Source]) -> bool {
    !common.no_progress && !common.quiet && std::io::stderr().is_terminal() && !sources.is_empty()
}

/// Why a run saw no record, in words.
pub fn no_records_note(report: &RunReport, skipped_by_name: u64) -> String {
    let s = &report.stats;
    format!(
        "the inputs held no CloudTrail record ({} files read, {} skipped by name, {} skipped as digest or insight files, {} failed)",
        s.files_read, skipped_by_name, s.files_skipped, s.files_failed
    )
}
