//! Parallel ingest: sources framed on several threads, their records decoded by every
//! thread (the applying one too), and applied one by one by the calling thread, in input
//! order, so the tables and findings do not depend on the thread count. The caller opens
//! each source (the CLI opens files; a test hands in byte slices), so this stays free of
//! I/O of its own.
//!
//! A source is framed (gunzip, record boundaries) by one thread, which copies its records
//! into chunks and puts each chunk on a shared queue; any thread decodes a queued chunk,
//! so one large file is decoded on every core instead of one. The applying thread, when the
//! next chunk in order is not decoded yet, decodes queued chunks itself instead of waiting.
//!
//! Memory is bounded twice: each source's channel holds a few chunks, and no thread starts
//! a source more than `16 * threads` sources ahead of the one being applied (small sources
//! fit whole in their channel, so without that window the framers would race ahead of a
//! large one). A chunk holds at most [`CHUNK`] records and about [`CHUNK_BYTES`] bytes.

use super::decode::{decode_record, read_options_for, Decoded};
use super::{Pipeline, RunStats, SourceOutcome};
use crate::error::{InputError, InputErrorKind, OutputError};
use crate::read::logfile::{
    self, skip_reason_for_name, ReadSummary, RecordPos, RecordSink, SkipReason,
};
use crate::tables::writer::TableStore;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Condvar, Mutex};

/// Records per chunk.
const CHUNK: usize = 1024;
/// Record bytes per chunk, about (a chunk is closed once it holds this many).
const CHUNK_BYTES: usize = 2 << 20;
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

/// One framed record, or a problem framing one, in source order.
enum Raw {
    Record(RecordPos, std::ops::Range<usize>),
    Error(InputError),
}

/// Framed records waiting to be decoded: their bytes, and where each one is.
struct Job {
    source: usize,
    bytes: Vec<u8>,
    entries: Vec<Raw>,
    result: SyncSender<Decodes>,
}

/// A decoded chunk: its records in order, and the panic that stopped it, if one did.
type Decodes = (Vec<Decoded>, Option<InputError>);

/// What a framing thread sends for one source.
enum Msg {
    /// A chunk, decoded on whichever thread takes its job.
    Chunk(Receiver<Decodes>),
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

/// What the threads share: the queue of chunks to decode and how far applying got.
struct Shared {
    jobs: VecDeque<Job>,
    applied: usize,
}

struct Work<'a> {
    names: &'a [&'a str],
    state: Mutex<Shared>,
    /// Signalled when a job is queued or a source is applied.
    changed: Condvar,
}

impl Work<'_> {
    fn queue(&self, job: Job) {
        self.state.lock().expect("lock").jobs.push_back(job);
        self.changed.notify_one();
    }

    fn take(&self) -> Option<Job> {
        self.state.lock().expect("lock").jobs.pop_front()
    }

    /// A queued job, when more than `keep` are queued.
    fn take_beyond(&self, keep: usize) -> Option<Job> {
        let mut state = self.state.lock().expect("lock");
        if state.jobs.len() > keep {
            state.jobs.pop_front()
        } else {
            None
        }
    }

    /// Decodes queued chunks until `ready` holds of the shared state (checked whenever the
    /// queue is empty).
    fn help_until(&self, ready: impl Fn(&Shared) -> bool) {
        let mut state = self.state.lock().expect("lock");
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                self.run(job);
                state = self.state.lock().expect("lock");
            } else if ready(&state) {
                return;
            } else {
                state = self.changed.wait(state).expect("lock");
            }
        }
    }

    /// Decodes `job` and sends the result to whoever applies it. A panic while decoding (a
    /// bug) stops the chunk there with a one-line error; what came before it is kept.
    fn run(&self, job: Job) {
        let name = self.names[job.source];
        let mut out = Vec::with_capacity(job.entries.len());
        let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for entry in job.entries {
                out.push(match entry {
                    Raw::Record(pos, range) => decode_record(name, pos, &job.bytes[range], false),
                    Raw::Error(e) => Decoded::Invalid(e),
                });
            }
        }))
        .err()
        .map(|panic| panicked(name, &*panic));
        // The applier is gone when it stopped early or failed this source: nothing to do.
        let _ = job.result.send((out, stopped));
    }
}

/// A framing thread's sink: copies records into chunks and queues each full chunk.
struct Framer<'w, 'a> {
    work: &'w Work<'a>,
    source: usize,
    tx: &'w SyncSender<Msg>,
    threads: usize,
    bytes: Vec<u8>,
    entries: Vec<Raw>,
}

impl Framer<'_, '_> {
    fn flush(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        let (result, rx) = sync_channel(1);
        let job = Job {
            source: self.source,
            bytes: std::mem::replace(&mut self.bytes, Vec::with_capacity(CHUNK_BYTES / 4)),
            entries: std::mem::replace(&mut self.entries, Vec::with_capacity(CHUNK)),
            result,
        };
        // Queued before it is announced: an applier that finds the queue empty knows its
        // chunk is being decoded, so waiting for it cannot wait for nobody.
        self.work.queue(job);
        let _ = self.tx.send(Msg::Chunk(rx));
        // Framing runs ahead of decoding: help decode before framing more.
        while let Some(job) = self.work.take_beyond(self.threads) {
            self.work.run(job);
        }
    }

    fn push(&mut self, entry: Raw) {
        self.entries.push(entry);
        if self.entries.len() == CHUNK || self.bytes.len() >= CHUNK_BYTES {
            self.flush();
        }
    }
}

impl RecordSink for Framer<'_, '_> {
    fn record(&mut self, pos: RecordPos, bytes: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        self.push(Raw::Record(pos, start..self.bytes.len()));
    }
    fn record_error(&mut self, error: InputError) {
        self.push(Raw::Error(error));
    }
}

/// Ingests `names` (source names, as in messages and `source_file`) into `pipeline` with
/// `threads` framing threads (and every thread decoding): `open(i)` gives source `i`'s
/// reader; `done(i, what, stats)` is called for each source in input order once it is
/// applied. The result is the same as ingesting the sources one after another, for any
/// thread count.
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
    let window = 16 * threads;
    let work = Work {
        names,
        state: Mutex::new(Shared {
            jobs: VecDeque::new(),
            applied: 0,
        }),
        changed: Condvar::new(),
    };
    let read_opts = pipeline.options().read.clone();
    // Owned by the applying loop: if it stops early, dropping the receivers unblocks the
    // framing threads so the scope can end.
    let mut receivers = Some(receivers);
    std::thread::scope(|scope| {
        let receivers = receivers.take().expect("taken once");
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(tx) = senders.get(i) else {
                    // No source left to frame: decode what others queue until the end.
                    work.help_until(|state| state.applied >= names.len());
                    return;
                };
                // Wait for the window, decoding queued chunks meanwhile.
                work.help_until(|state| i < state.applied + window);
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
                let mut framer = Framer {
                    work: &work,
                    source: i,
                    tx,
                    threads,
                    bytes: Vec::with_capacity(CHUNK_BYTES / 4),
                    entries: Vec::with_capacity(CHUNK),
                };
                // A panic while framing (a bug) fails this source with a one-line error,
                // like a corrupt file, instead of stopping every other source: what was
                // framed before it is applied, nothing after it. The sink only buffers and
                // queues, so no state is left half-changed by the unwind.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    logfile::read_log(name, reader, &opts, &mut framer)
                }))
                .unwrap_or_else(|panic| Err(panicked(name, &*panic)));
                framer.flush();
                let _ = tx.send(Msg::Done(result));
            });
        }
        let mut apply_all = || -> Result<(), OutputError> {
            for (i, rx) in receivers.iter().enumerate() {
                let name = names[i];
                let mut applier = pipeline.begin_source(name);
                let what = loop {
                    match rx.recv() {
                        Ok(Msg::Chunk(chunk)) => {
                            let (items, stopped) = loop {
                                match chunk.try_recv() {
                                    Ok(decoded) => break decoded,
                                    // Not decoded yet: decode a queued chunk meanwhile.
                                    Err(TryRecvError::Empty) => match work.take() {
                                        Some(job) => work.run(job),
                                        None => match chunk.recv() {
                                            Ok(decoded) => break decoded,
                                            Err(_) => return Ok(()),
                                        },
                                    },
                                    Err(TryRecvError::Disconnected) => return Ok(()),
                                }
                            };
                            for d in items {
                                applier.apply(store, d)?;
                            }
                            if let Some(e) = stopped {
                                // The rest of the source is not applied (its framer
                                // still ends it, so it is drained).
                                while let Ok(m) = rx.recv() {
                                    if matches!(m, Msg::Done(_)) {
                                        break;
                                    }
                                }
                                break Ingested::Outcome(applier.finish(Err(e)));
                            }
                        }
                        Ok(Msg::Done(result)) => break Ingested::Outcome(applier.finish(result)),
                        Ok(Msg::Skipped(reason)) => {
                            drop(applier);
                            break Ingested::Outcome(pipeline.skip(name, reason));
                        }
                        Ok(Msg::OpenFailed(e)) => break Ingested::OpenFailed(e),
                        // Its framing thread is gone without a word (a panic outside
                        // framing): the scope re-raises that panic.
                        Err(_) => return Ok(()),
                    }
                };
                done(i, what, pipeline.stats());
                work.state.lock().expect("lock").applied = i + 1;
                work.changed.notify_all();
            }
            Ok(())
        };
        let result = apply_all();
        // Release the framers whatever happened, so the scope can end.
        drop(receivers);
        work.state.lock().expect("lock").applied = usize::MAX / 2;
        work.changed.notify_all();
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
    fn a_source_of_many_chunks_is_decoded_on_every_thread_in_order() {
        // One source of 2,600 records (three chunks) between two small ones, with a record
        // that is not an object in its middle: the counts, the error's place and the
        // findings are the same at every thread count.
        let big: Vec<String> = (0..2600)
            .map(|r| {
                if r == 1500 {
                    "7".to_string()
                } else {
                    record(5000 + r, if r % 2 == 0 { "Decrypt" } else { "Encrypt" })
                }
            })
            .collect();
        let src = [
            (
                "a.json".to_string(),
                format!(r#"{{"Records":[{}]}}"#, record(1, "Decrypt")),
            ),
            (
                "big.json".to_string(),
                format!(r#"{{"Records":[{}]}}"#, big.join(",")),
            ),
            (
                "c.json".to_string(),
                format!(r#"{{"Records":[{}]}}"#, record(2, "Encrypt")),
            ),
        ];
        let names: Vec<&str> = src.iter().map(|(n, _)| n.as_str()).collect();
        let run = |threads: usize| {
            let mut p = Pipeline::<NoStore>::new(PipelineOptions::default(), false);
            let mut log = Vec::new();
            ingest_in_order(
                &mut p,
                &mut NoStore,
                &names,
                threads,
                |i| Ok(src[i].1.as_bytes()),
                |i, what, stats| {
                    if let Ingested::Outcome(o) = what {
                        let errors: Vec<String> =
                            o.record_errors.iter().map(|e| e.to_string()).collect();
                        log.push(format!("{i} kms={} {errors:?}", stats.kms_events));
                    }
                },
            )
            .unwrap();
            let findings = p.finish(&mut NoStore).unwrap().findings.len();
            (log, findings)
        };
        let (log, findings) = run(1);
        assert_eq!(log[0], "0 kms=1 []");
        assert!(
            log[1].starts_with("1 kms=2600 [\"big.json: record 1500,"),
            "{log:?}"
        );
        assert_eq!(log[2], "2 kms=2601 []");
        for threads in [2, 3, 8] {
            assert_eq!(run(threads), (log.clone(), findings), "{threads} threads");
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
