//! Exit statuses, and the one line an error becomes.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success (also when stdout is closed early, as by `| head`) |
//! | 1 | `--fail-on` was given and a finding at or above it exists |
//! | 2 | some input could not be read; everything else was processed and written |
//! | 3 | nothing was done: a usage or configuration error, an unusable output location, or no input record read (the output is untouched) |
//! | 130, 143 | interrupted by SIGINT or SIGTERM (128 + the signal); the output is untouched |
//!
//! 2 wins over 1.

use crate::{Common, Level};
use keytrail::audit::rules::Finding;
use keytrail::text::one_line;
use std::process::ExitCode;

pub const OK: u8 = 0;
pub const FAIL_ON: u8 = 1;
pub const INPUT_ERRORS: u8 = 2;
pub const NOTHING_DONE: u8 = 3;

/// The statuses, for `--help`.
pub const HELP: &str = "Exit status: 0 success; 1 --fail-on threshold reached; 2 some input \
unreadable (the rest was processed and written); 3 nothing was done (usage, configuration or \
output location error, or no record read: existing tables untouched); 130/143 interrupted.";

/// The status of a run that completed.
pub fn status(common: &Common, findings: &[Finding], input_failed: bool) -> u8 {
    if input_failed {
        INPUT_ERRORS
    } else if common
        .fail_on
        .is_some_and(|t: Level| findings.iter().any(|f| f.severity >= t.severity()))
    {
        FAIL_ON
    } else {
        OK
    }
}

/// A command line clap could not parse (or `--help`, `--version`).
pub fn usage(e: clap::Error) -> ExitCode {
    let code = if e.use_stderr() { NOTHING_DONE } else { OK };
    let _ = e.print();
    ExitCode::from(code)
}

/// Whether an error is a closed stdout (a reader such as `head` went away).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// An error that stopped the command: one line on stderr and [`NOTHING_DONE`]; a closed
/// stdout ends quietly with [`OK`].
pub fn fatal(e: anyhow::Error) -> ExitCode {
    if is_broken_pipe(&e) {
        return ExitCode::from(OK);
    }
    eprintln!("error: {}", one_line(&format!("{e:#}")));
    ExitCode::from(NOTHING_DONE)
}
