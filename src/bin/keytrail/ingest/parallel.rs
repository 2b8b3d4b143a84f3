//! Decoding local files on several threads while one thread applies the results file by
//! file, in input order, so the output does not depend on the thread count.

use super::{note_outcome, Fed, Source, SourceKind};
use crate::progress::Progress;
use anyhow::Result;
use keytrail::pipeline::Pipeline;
use keytrail::tables::writer::TableStore;
use keytrail::text::sanitize;

/// What a decoding thread sends for one file.
enum FileMsg {
    Chunk(Vec<keytrail::pipeline::decode::Decoded>),
    Done(Result<keytrail::read::logfile::ReadSummary, keytrail::error::InputError>),
    Skipped(keytrail::read::logfile::SkipReason),
    OpenFailed(String),
}

/// Memory is bounded twice: each file's channel holds a few chunks, and no thread starts a
/// file more than `2 * threads` files ahead of the one being applied (small files fit whole
/// in their channel, so without that window the decoders would race ahead of a large file).
pub fn feed_files<S: TableStore>(
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    files: &[&Source],
    threads: usize,
    progress: &Progress,
    fed: &mut Fed,
    quiet: bool,
) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::sync_channel;
    const CHUNK: usize = 1024;
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..files.len()).map(|_| sync_channel::<FileMsg>(4)).unzip();
    let next = AtomicUsize::new(0);
    let window = 2 * threads;
    let applied = std::sync::Mutex::new(0usize);
    let advanced = std::sync::Condvar::new();
    let read_opts = pipeline.options().read.clone();
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
                let name = &files[i].name;
                if let Some(reason) = keytrail::read::logfile::skip_reason_for_name(name) {
                    let _ = tx.send(FileMsg::Skipped(reason));
                    continue;
                }
                let SourceKind::File(path) = &files[i].kind else {
                    unreachable!("only files are decoded in parallel")
                };
                let file = match std::fs::File::open(path) {
                    Ok(f) => progress.reader(f),
                    Err(e) => {
                        let _ = tx.send(FileMsg::OpenFailed(e.to_string()));
                        continue;
                    }
                };
                let opts = keytrail::pipeline::decode::read_options_for(name, &read_opts);
                let mut buf = Vec::with_capacity(CHUNK);
                let result =
                    keytrail::pipeline::decode::decode_source(name, file, &opts, false, &mut |d| {
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
                let name = &files[i].name;
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
                                eprintln!("error: {}: cannot open: {e}", sanitize(name))
                            });
                            fed.input_failed = true;
                            break None;
                        }
                        Err(_) => anyhow::bail!("{name}: decoding thread stopped"),
                    }
                };
                if let Some(o) = outcome {
                    note_outcome(progress, &o, fed, quiet);
                }
                *applied.lock().expect("lock") = i + 1;
                advanced.notify_all();
                progress.file_done(pipeline.stats().kms_events);
            }
            Ok(())
        };
        let result = apply_all();
        // Release the decoders whatever happened, so the scope can end.
        drop(receivers);
        *applied.lock().expect("lock") = usize::MAX / 2;
        advanced.notify_all();
        result
    })
}
