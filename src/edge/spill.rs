//! The spill the CLI gives the timeline's key uses and the pipeline's eventID digests
//! ([`crate::audit::timeline::Spill`]): one file per sorted run in a private temporary
//! folder (under `TMPDIR`), removed when the run ends, however it ends short of a kill.

use crate::audit::timeline::Spill;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// Files kept open for [`Spill::read_at`]; beyond it they are all closed.
const OPEN_FILES: usize = 64;

/// Runs as `run-N` files in a temporary folder owned by this value.
pub struct TempSpill {
    dir: tempfile::TempDir,
    /// Runs opened for lookups, by run.
    open: Mutex<HashMap<usize, File>>,
}

impl TempSpill {
    /// A new, empty folder under the system's temporary folder.
    pub fn new() -> io::Result<Self> {
        Ok(TempSpill {
            dir: tempfile::Builder::new()
                .prefix("keytrail-spill-")
                .tempdir()?,
            open: Mutex::default(),
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

    fn read_at(&self, run: usize, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if !open.contains_key(&run) && open.len() >= OPEN_FILES {
            open.clear();
        }
        let file = match open.entry(run) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(File::open(self.path(run))?),
        };
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
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
        let mut two = [0u8; 2];
        s.read_at(0, 1, &mut two).unwrap();
        assert_eq!(&two, b"er");
        s.read_at(1, 0, &mut two).unwrap();
        assert_eq!(&two, b"on");
        assert!(s.read_at(1, 2, &mut two).is_err(), "past the end");
        assert!(s.read_at(2, 0, &mut two).is_err(), "no such run");
        drop(s);
        assert!(!dir.exists());
    }
}
