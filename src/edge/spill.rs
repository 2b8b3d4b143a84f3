//! The spill the CLI gives the timeline's key uses ([`crate::audit::timeline::Spill`]):
//! one file per sorted run in a private temporary folder (under `TMPDIR`), removed when the
//! run ends, however it ends short of a kill.

use crate::audit::timeline::Spill;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// Runs as `run-N` files in a temporary folder owned by this value.
pub struct TempSpill {
    dir: tempfile::TempDir,
}

impl TempSpill {
    /// A new, empty folder under the system's temporary folder.
    pub fn new() -> io::Result<Self> {
        Ok(TempSpill {
            dir: tempfile::Builder::new()
                .prefix("keytrail-spill-")
                .tempdir()?,
        })
    }

    fn path(&self, run: usize) -> PathBuf {
        self.dir.path().join(format!("run-{run}"))
    }
}

impl Spill for TempSpill {
    fn create(&mut self, run: usize) -> io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(File::create(self.path(run))?))
    }

    fn open(&self, run: usize) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.path(run))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_read_back_and_the_folder_goes_with_the_spill() {
        let mut s = TempSpill::new().unwrap();
        let dir = s.dir.path().to_path_buf();
        s.create(0).unwrap().write_all(b"zero").unwrap();
        s.create(1).unwrap().write_all(b"one").unwrap();
        let mut text = String::new();
        s.open(1).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "one");
        assert!(s.open(2).is_err());
        drop(s);
        assert!(!dir.exists());
    }
}
