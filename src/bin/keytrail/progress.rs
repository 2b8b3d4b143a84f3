//! The progress bar: bytes read (of the compressed input, as stored), rate, ETA and files,
//! redrawn several times a second even inside one large file, with a visible phase once
//! the tables are being written. Off when stderr is not a terminal, or with
//! `--no-progress` / `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The run's progress, shared by the threads reading its inputs.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    files_total: u64,
    files_done: Arc<AtomicU64>,
}

const READING: &str =
    "{spinner} [{elapsed_precise}] {bar:24} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}";
const PHASE: &str = "{spinner} [{elapsed_precise}] {msg}";

impl Progress {
    /// A bar over `total_bytes` in `files` files; hidden unless `visible`.
    pub fn new(visible: bool, total_bytes: u64, files: u64) -> Progress {
        let bar = if visible {
            let bar = ProgressBar::with_draw_target(
                Some(total_bytes),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(ProgressStyle::with_template(READING).expect("valid template"));
            // Redraws (clock, rate) even while no byte arrives.
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        } else {
            ProgressBar::hidden()
        };
        let p = Progress {
            bar,
            files_total: files,
            files_done: Arc::new(AtomicU64::new(0)),
        };
        p.set_events(0);
        p
    }

    /// Counts the bytes read through `r`.
    pub fn reader<R: Read>(&self, r: R) -> Counting<R> {
        Counting {
            inner: r,
            bar: self.bar.clone(),
        }
    }

    /// A file finished; `kms_events` is the run's count so far.
    pub fn file_done(&self, kms_events: u64) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.set_events(kms_events);
    }

    fn set_events(&self, kms_events: u64) {
        self.bar.set_message(format!(
            "files {}/{}, {} KMS events",
            self.files_done.load(Ordering::Relaxed),
            self.files_total,
            kms_events
        ));
    }

    /// Switches to a phase with no byte count ("writing tables", "uploading").
    pub fn phase(&self, what: &str) {
        self.bar
            .set_style(ProgressStyle::with_template(PHASE).expect("valid template"));
        self.bar.set_message(what.to_string());
    }

    /// Runs `f` with the bar out of the way (for a line on stderr).
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        self.bar.suspend(f)
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A reader that adds what it reads to the bar.
pub struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
