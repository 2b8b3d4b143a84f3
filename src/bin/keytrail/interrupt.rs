//! SIGINT (Ctrl-C), SIGTERM and SIGHUP: the run's staging is removed, one line says what
//! became of the output, and the process exits with 128 + the signal. A local publish in
//! progress is finished first (it holds the staging lock), so the output folder holds
//! either the old tables or the new ones, never a mix.

use keytrail::edge::local::{AbortHandle, AbortOutcome};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What an interruption must clean up.
pub enum Cleanup {
    /// A local output folder's staging.
    Local { handle: AbortHandle, out: String },
    /// The local folder holding S3 objects not yet uploaded.
    Upload { staging: PathBuf, out: String },
}

static CLEANUP: Mutex<Option<Cleanup>> = Mutex::new(None);
static UPLOADING: AtomicBool = AtomicBool::new(false);

/// Starts the thread that waits for the signals.
pub fn install() -> anyhow::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                on_signal(sig);
            }
        })?;
    Ok(())
}

/// Registers what to clean up from now on.
pub fn guard(c: Cleanup) {
    *CLEANUP.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
}

/// The upload to S3 has begun (objects become visible one by one).
pub fn uploading() {
    UPLOADING.store(true, Ordering::SeqCst);
}

fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

fn on_signal(sig: i32) -> ! {
    let what = match CLEANUP.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(Cleanup::Local { handle, out }) => match handle.abort() {
            AbortOutcome::Discarded => format!("nothing was written; {out} is as it was"),
            AbortOutcome::AlreadyPublished => format!("the tables were already written to {out}"),
        },
        Some(Cleanup::Upload { staging, out }) => {
            let _ = std::fs::remove_dir_all(&staging);
            if UPLOADING.load(Ordering::SeqCst) {
                format!("the upload to {out} was cut short; rerun the same command to complete it (object names are deterministic)")
            } else {
                format!("nothing was uploaded to {out}")
            }
        }
        None => "nothing was written".to_string(),
    };
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        // Clears the progress bar's line.
        eprint!("\r\x1b[2K");
    }
    eprintln!(
        "interrupted by {}: {}",
        name(sig),
        keytrail::text::sanitize(&what)
    );
    std::process::exit(128 + sig);
}
