//! `analyze`: the run from inputs to published tables, into a local folder or S3.
//!
//! Nothing a user already had is lost: tables are staged outside the output (a sibling
//! folder, or local temporary files for S3), published only when the run read at least one
//! source to its end and saw at least one record, and discarded on any error or signal.

use crate::ingest::{self, Fed};
use crate::interrupt::{self, Cleanup};
use crate::source::Source;
use crate::{exit, options, summary, Common};
use anyhow::{anyhow, Result};
use keytrail::edge::local::{LocalStore, PublishMode};
use keytrail::edge::manifest::{run_stem, Manifest, SourceEntry, MANIFEST_FILE};
use keytrail::edge::s3::{S3Store, S3Url};
use keytrail::pipeline::{Pipeline, PipelineOptions, RunReport};
use std::path::Path;

pub fn analyze(common: &Common, out: &str, append: bool) -> Result<u8> {
    if let Some(dir) = common.inputs.iter().find(|i| ingest::is_tables_dir(i)) {
        anyhow::bail!(
            "{dir} holds keytrail tables, not CloudTrail logs: `keytrail findings --tables {dir}` recomputes the findings from them"
        );
    }
    let opts = options::pipeline_options(common)?;
    interrupt::install()?;
    if out.starts_with("s3://") {
        let url = S3Url::parse(out)
            .ok_or_else(|| anyhow!("--out {out}: not an s3://bucket/prefix location"))?;
        anyhow::ensure!(
            !append,
            "--append is for local folders: an s3:// output already keeps each run's files side by side (their names come from the sources read)"
        );
        return analyze_s3(common, out, url, opts);
    }
    anyhow::ensure!(
        !append || (opts.filter.is_empty() && opts.window.is_unbounded()),
        "--append cannot be combined with --key, --account, --event-region, --since or --until: \
         the sources would be marked as ingested with part of their rows, and the derived tables \
         recomputed over part of the history"
    );
    analyze_local(common, out, append, opts)
}

/// Sources an append run has not ingested yet.
fn new_sources(sources: Vec<Source>, manifest: &Manifest) -> (Vec<Source>, usize) {
    let before = sources.len();
    let new: Vec<Source> = sources
        .into_iter()
        .filter(|s| s.name == "-" || !manifest.holds(&s.name, s.size))
        .collect();
    let held = before - new.len();
    (new, held)
}

fn stem_of(sources: &[Source]) -> String {
    let list: Vec<(String, u64)> = sources.iter().map(|s| (s.name.clone(), s.size)).collect();
    run_stem(&list)
}

/// Refuses to publish a run that read nothing: the output is left as it was.
fn check_read(fed: &Fed, pipeline_records: u64, out: &str) -> Result<()> {
    if fed.complete == 0 || pipeline_records == 0 {
        let why = if fed.complete == 0 {
            "no input could be read to its end"
        } else {
            "the inputs held no CloudTrail record"
        };
        anyhow::bail!("{why}; {out} was left as it was");
    }
    Ok(())
}

fn analyze_local(
    common: &Common,
    out: &str,
    append: bool,
    mut opts: PipelineOptions,
) -> Result<u8> {
    let root = Path::new(out);
    anyhow::ensure!(
        !root.exists() || root.is_dir(),
        "--out {out}: exists and is not a folder (nothing was read or written)"
    );
    let mode = if append {
        PublishMode::Append
    } else {
        PublishMode::Replace
    };
    let mut store = LocalStore::with_mode(root, mode)?;
    interrupt::guard(Cleanup::Local {
        handle: store.abort_handle(),
        out: out.to_string(),
    });
    let mut manifest = Manifest::default();
    let manifest_file = root
        .join(keytrail::edge::local::META_DIR)
        .join(MANIFEST_FILE);
    if append && manifest_file.exists() {
        let text = std::fs::read_to_string(&manifest_file)
            .map_err(|e| anyhow!("{}: cannot read: {e}", manifest_file.display()))?;
        manifest =
            Manifest::parse(&text).map_err(|e| anyhow!("{}: {e}", manifest_file.display()))?;
    }
    let edge = options::s3_edge(common, &common.inputs, common.tables.as_deref())?;
    let s3 = edge.as_ref().map(|(rt, client)| (rt, client));
    let resolved = ingest::resolve(&common.inputs, common.quiet, s3)?;
    let (sources, held) = if append {
        new_sources(resolved.sources, &manifest)
    } else {
        (resolved.sources, 0)
    };
    if append && sources.is_empty() && common.tables.is_none() && held > 0 {
        store.discard()?;
        println!("nothing new: all {held} sources are already in {out}; its tables are unchanged");
        return Ok(if resolved.failed {
            exit::INPUT_ERRORS
        } else {
            exit::OK
        });
    }
    opts.write.file_stem = if append {
        stem_of(&sources)
    } else {
        "part".into()
    };
    let stem = opts.write.file_stem.clone();
    // A filtered run wrote part of its sources' rows: it records no source as ingested, so
    // a later --append reads them again (eventIDs already written are not written twice).
    let record_sources = opts.filter.is_empty() && opts.window.is_unbounded();
    let mut pipeline = Pipeline::new(opts, true);
    ingest::spill_to_disk(&mut pipeline, common.quiet);
    if append {
        ingest::feed_existing(&mut pipeline, root, common.quiet)?;
    }
    let (fed, progress) = ingest::read_all(
        common,
        &mut pipeline,
        &mut store,
        common.tables.as_deref(),
        &sources,
        s3,
        resolved.failed,
    )?;
    if let Err(e) = check_read(&fed, pipeline.stats().records, out) {
        progress.finish();
        store.discard()?;
        if append && !fed.input_failed {
            // Only digest or insight files were new: nothing to add.
            println!("nothing new: the {} new sources held no CloudTrail record; the tables in {out} are unchanged", sources.len());
            return Ok(exit::OK);
        }
        return Err(e);
    }
    progress.phase("writing tables");
    let report = pipeline.finish(&mut store)?;
    ingest::note_spill(&report, common.quiet);
    if !append {
        manifest = Manifest::default();
    }
    for (s, _) in sources
        .iter()
        .zip(&fed.completed)
        .filter(|(s, done)| record_sources && **done && s.name != "-")
    {
        manifest.add(SourceEntry {
            source: s.name.clone(),
            size: s.size,
            run: stem.clone(),
        });
    }
    store.stage_file(MANIFEST_FILE, manifest.to_text().as_bytes())?;
    progress.phase("publishing");
    store.publish()?;
    progress.finish();
    summary::print(&report, out, resolved.skipped_by_name, held)?;
    Ok(exit::status(common, &report.findings, fed.input_failed))
}

fn analyze_s3(common: &Common, out: &str, url: S3Url, mut opts: PipelineOptions) -> Result<u8> {
    let rt = options::runtime()?;
    let client = options::s3_client(common, &rt)?;
    let staging = tempfile::Builder::new()
        .prefix("keytrail-upload-")
        .tempdir()?;
    interrupt::guard(Cleanup::Upload {
        staging: staging.path().to_path_buf(),
        out: out.to_string(),
    });
    let mut store = S3Store::deferred(client.clone(), url, rt.handle().clone(), staging.path());
    let s3 = Some((&rt, &client));
    let resolved = ingest::resolve(&common.inputs, common.quiet, s3)?;
    opts.write.file_stem = stem_of(&resolved.sources);
    let mut pipeline = Pipeline::new(opts, true);
    ingest::spill_to_disk(&mut pipeline, common.quiet);
    let (fed, progress) = ingest::read_all(
        common,
        &mut pipeline,
        &mut store,
        common.tables.as_deref(),
        &resolved.sources,
        s3,
        resolved.failed,
    )?;
    if let Err(e) = check_read(&fed, pipeline.stats().records, out) {
        progress.finish();
        return Err(e);
    }
    progress.phase("writing tables");
    let report: RunReport = pipeline.finish(&mut store)?;
    ingest::note_spill(&report, common.quiet);
    progress.phase(&format!("uploading {} files", store.staged_files()));
    interrupt::uploading();
    store.publish()?;
    progress.finish();
    summary::print(&report, out, resolved.skipped_by_name, 0)?;
    Ok(exit::status(common, &report.findings, fed.input_failed))
}
