//! Parallel ingest: sources decoded on several threads while the calling thread applies
//! them one by one, in input order, so the tables and findings do not depend on the thread
//! count. The caller opens each source (the CLI opens files; a test hands in byte slices),
//! so this stays free of I/O of its own.
//!
//! Memory is bounded twice: each source's channel holds a few chunks of decoded records,
//! and no thread starts a source more than `2 * threads` sources ahead of the one being
//! applied (small sources fit whole in their channel, so without that window the decoders
//! would race ahead of a large one).

use super::decode::{decode_source, read_options_for, Decoded};
use super::{Pipeline, RunStats, SourceOutcome};
use crate::error::{InputError, InputErrorKind, OutputError};
use crate::read::logfile::{skip_reason_for_name, ReadSummary, SkipReason};
use crate::tables::writer::TableStore;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Condvar, Mutex};

/// Decoded records sent per message.
const CHUNK: usize = 1024;
/// Messages a source's channel holds.
const CHANNEL_CHUNKS: usize = 4;

/// What happened to one source, in input order.
#[derive(Debug)]
pub enum Ingested {
    /// Read (or skipped by name): what it gave.
    Outcome(SourceOutcome),
    /// The caller's `open` failed with this message; nothing was read.
    OpenFailed(String),
}

/// What a decoding thread sends for one source.
enum Msg {
    Chunk(Vec<Decoded>),
    Done(Result<ReadSummary, InputError>),
    Skipped(SkipReason),
    OpenFailed(String),
}

/// The error a decoder's panic becomes, with the panic's message.
fn panicked(source: &str, panic: &(dyn std::any::Any + Send)) -> InputError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    InputError::new(
        source,
        crate::error::Location::default(),
        InputErrorKind::Internal(crate::text::one_line(&message)),
    )
}

/// Ingests `names` (source names, as in messages and `source_file`) into `pipeline` with
/// `threads` decoding threads: `open(i)` gives source `i`'s reader; `done(i, what, stats)` is
/// called for each source in input order once it is applied. The result is the same as
/// ingesting the sources one after another, for any thread count.
pub fn ingest_in_order<S, R, O, D>(
    pipeline: &mut Pipeline<S>,
    store: &mut S,
    names: &[&str],
    threads: usize,
    open: O,
    mut done: D,
) -> Result<(), OutputError>
where
    S: TableStore,
    R: Read,
    O: Fn(usize) -> std::io::Result<R> + Sync,
    D: FnMut(usize, Ingested, &RunStats),
{
    let threads = threads.max(1);
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..names.len())
        .map(|_| sync_channel::<Msg>(CHANNEL_CHUNKS))
        .unzip();
    let next = AtomicUsize::new(0);
    let window = 2 * threads;
    let applied = Mutex::new(0usize);
    let advanced = Condvar::new();
    let read_opts = pipeline.options().read.clone();
    // Owned by the applying loop: if it stops early, dropping the receivers unblocks the
    // decoding threads so the scope can end.
    let mut receivers = Some(receivers);
    std::thread::scope(|scope| {
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
                let name = names[i];
                if let Some(reason) = skip_reason_for_name(name) {
                    let _ = tx.send(Msg::Skipped(reason));
                    continue;
                }
                let reader = match open(i) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Msg::OpenFailed(e.to_string()));
                        continue;
                    }
                };
                let opts = read_options_for(name, &read_opts);
                let mut buf = Vec::with_capacity(CHUNK);
                // A panic while decoding (a bug) fails this source with a one-line error,
                // like a corrupt file, instead of stopping every other source: what was
                // decoded before it is applied, nothing after it. The sink only buffers
                // and sends, so no state is left half-changed by the unwind.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    decode_source(name, reader, &opts, false, &mut |d| {
                        buf.push(d);
                        if buf.len() == CHUNK {
                            let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK));
                            let _ = tx.send(Msg::Chunk(full));
                        }
                    })
                }))
                .unwrap_or_else(|panic| Err(panicked(name, &*panic)));
                if !buf.is_empty() {
                    let _ = tx.send(Msg::Chunk(buf));
                }
                let _ = tx.send(Msg::Done(result));
            });
        }
        let mut apply_all = || -> Result<(), OutputError> {
            for (i, rx) in receivers.iter().enumerate() {
                let name = names[i];
                let mut applier = pipeline.begin_source(name);
                let what = loop {
                    match rx.recv() {
                        Ok(Msg::Chunk(items)) => {
                            for d in items {
                                applier.apply(store, d)?;
                            }
                        }
                        Ok(Msg::Done(result)) => break Ingested::Outcome(applier.finish(result)),
                        Ok(Msg::Skipped(reason)) => {
                            drop(applier);
                            break Ingested::Outcome(pipeline.skip(name, reason));
                        }
                        Ok(Msg::OpenFailed(e)) => break Ingested::OpenFailed(e),
                        // Its decoding thread is gone without a word (a panic outside
                        // decoding): the scope re-raises that panic.
                        Err(_) => return Ok(()),
                    }
                };
                done(i, what, pipeline.stats());
                *applied.lock().expect("lock") = i + 1;
                advanced.notify_all();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::PipelineOptions;
    use crate::tables::writer::NoStore;

    fn record(i: usize, name: &str) -> String {
        format!(
            r#"{{"eventVersion":"1.08","eventID":"e{i}","eventTime":"2025-01-0{d}T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{{"type":"AWSService","invokedBy":"proton.amazonaws.com"}},"resources":[{{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k1"}}]}}"#,
            d = 1 + i % 9
        )
    }

    fn sources() -> Vec<(String, Vec<u8>)> {
        (0..9)
            .map(|f| {
                let recs: Vec<String> = (0..(f * 7 + 1))
                    .map(|r| record(f * 100 + r, if r % 3 == 0 { "Decrypt" } else { "Encrypt" }))
                    .collect();
                let body = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
                (format!("f{f}.json"), body.into_bytes())
            })
            .chain([(
                "111122223333_CloudTrail-Digest_us-east-1_x.json".to_string(),
                b"{}".to_vec(),
            )])
            .chain([("missing.json".to_string(), Vec::new())])
            .collect()
    }

    /// A reader that gives `good` bytes, then panics if `panics` (a stand-in for a
    /// decoder bug).
    struct PanicsAfter<'a> {
        good: &'a [u8],
        panics: bool,
    }

    impl Read for PanicsAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.good.is_empty() && self.panics {
                panic!("boom at the end\nof f{}", 3);
            }
            self.good.read(buf)
        }
    }

    /// Ingests [`sources`] with `threads` threads, the reader of source `panic_at` panicking
    /// where its closing `]}` would be; a line per source, in the order they were applied.
    fn run(threads: usize, panic_at: Option<usize>) -> (Vec<String>, RunStats) {
        let src = sources();
        let names: Vec<&str> = src.iter().map(|(n, _)| n.as_str()).collect();
        let mut p = Pipeline::<NoStore>::new(PipelineOptions::default(), false);
        let mut log = Vec::new();
        ingest_in_order(
            &mut p,
            &mut NoStore,
            &names,
            threads,
            |i| match src[i].0.as_str() {
                "missing.json" => Err(std::io::Error::other("gone")),
                _ if panic_at == Some(i) => Ok(PanicsAfter {
                    good: &src[i].1[..src[i].1.len() - 2],
                    panics: true,
                }),
                _ => Ok(PanicsAfter {
                    good: &src[i].1[..],
                    panics: false,
                }),
            },
            |i, what, stats| {
                let line = match what {
                    Ingested::Outcome(o) => format!(
                        "{i} {} kms={} skipped={}{}",
                        o.source,
                        stats.kms_events,
                        o.skipped.is_some(),
                        o.failure
                            .map(|e| format!(" failed: {e}"))
                            .unwrap_or_default()
                    ),
                    Ingested::OpenFailed(e) => format!("{i} open failed: {e}"),
                };
                log.push(line);
            },
        )
        .unwrap();
        (log, p.stats().clone())
    }

    #[test]
    fn a_panic_while_decoding_fails_that_source_only() {
        for threads in [1, 3] {
            let (log, stats) = run(threads, Some(3));
            // f3 (22 records, f0..f2 holding 1 + 8 + 15) fails with the panic's message on
            // one line; its records were whole before the panic and are kept, as for a file
            // cut after its last record, and every other source goes on.
            assert_eq!(
                log[3],
                "3 f3.json kms=46 skipped=false failed: f3.json: whole file: decoding stopped by an internal error (a keytrail bug; please report it): boom at the end of f3",
                "{threads} threads"
            );
            assert_eq!(log.len(), 11, "{threads} threads");
            assert_eq!(log[10], "10 open failed: gone");
            let mut others = log.iter().enumerate().filter(|(i, _)| ![3, 10].contains(i));
            assert!(others.all(|(_, l)| !l.contains("failed")), "{log:#?}");
            assert_eq!(stats.kms_events, 261, "{threads} threads");
        }
    }

    #[test]
    fn any_thread_count_applies_in_input_order_with_the_same_result() {
        let (one, stats) = run(1, None);
        // Files f0..f8 hold 1, 8, 15, ... 57 records (261 in all), every one a KMS call
        // with its own eventID; the digest file is skipped by name; missing.json fails to open.
        assert_eq!(one.len(), 11);
        assert_eq!(one[0], "0 f0.json kms=1 skipped=false");
        assert_eq!(one[8], "8 f8.json kms=261 skipped=false");
        assert_eq!(
            one[9],
            "9 111122223333_CloudTrail-Digest_us-east-1_x.json kms=261 skipped=true"
        );
        assert_eq!(one[10], "10 open failed: gone");
        assert_eq!(stats.kms_events, 261);
        for threads in [2, 3, 8] {
            assert_eq!(
                run(threads, None),
                (one.clone(), stats.clone()),
                "{threads} threads"
            );
        }
    }
}
