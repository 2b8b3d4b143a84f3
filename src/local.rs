//! The local file-system edge: finding input files in folders, and a [`TableStore`] that
//! writes tables under an output folder.
//!
//! Tables are written into a staging folder and moved into place only when the whole run
//! has written them, so readers of the output folder never see half a run, and a rerun
//! replaces the previous tables instead of mixing with them.

use crate::error::OutputError;
use crate::output::TableStore;
use crate::schema::TABLES;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// An input file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
}

/// A file a folder walk passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// Whether a file name is one keytrail reads when walking a folder.
pub fn is_log_name(name: &str) -> bool {
    name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".gz")
}

/// Expands inputs: a file named explicitly is always read; a folder is walked recursively
/// in name order, reading `*.json`, `*.jsonl` and `*.gz`. `-` (stdin) is kept as given.
/// Paths that do not exist are returned as errors (one line each).
pub fn collect_inputs(inputs: &[PathBuf]) -> (Vec<InputFile>, Vec<SkippedFile>, Vec<String>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut errors = Vec::new();
    for p in inputs {
        if p.as_os_str() == "-" {
            files.push(InputFile { path: p.clone() });
            continue;
        }
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut skipped, &mut errors),
            Ok(_) => files.push(InputFile { path: p.clone() }),
            Err(e) => errors.push(format!("{}: cannot read: {e}", p.display())),
        }
    }
    (files, skipped, errors)
}

fn walk(
    dir: &Path,
    files: &mut Vec<InputFile>,
    skipped: &mut Vec<SkippedFile>,
    errors: &mut Vec<String>,
) {
    let mut entries: Vec<(String, PathBuf, fs::FileType)> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| match e {
                Ok(e) => Some(e),
                Err(err) => {
                    errors.push(format!("{}: cannot list: {err}", dir.display()));
                    None
                }
            })
            .filter_map(|e| {
                let ft = e.file_type().ok()?;
                Some((e.file_name().to_string_lossy().into_owned(), e.path(), ft))
            })
            .collect(),
        Err(e) => {
            errors.push(format!("{}: cannot list: {e}", dir.display()));
            return;
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path, ft) in entries {
        if ft.is_dir() {
            walk(&path, files, skipped, errors);
        } else if ft.is_symlink() {
            // Followed only to files: a symlinked folder could loop.
            match fs::metadata(&path) {
                Ok(m) if m.is_file() && is_log_name(&name) => files.push(InputFile { path }),
                Ok(m) if m.is_file() => skipped.push(SkippedFile {
                    path,
                    reason: "not a *.json, *.jsonl or *.gz file".into(),
                }),
                _ => skipped.push(SkippedFile {
                    path,
                    reason: "symbolic link to a folder or to nothing".into(),
                }),
            }
        } else if is_log_name(&name) {
            files.push(InputFile { path });
        } else {
            skipped.push(SkippedFile {
                path,
                reason: "not a *.json, *.jsonl or *.gz file".into(),
            });
        }
    }
}

/// Writes tables under a local folder, through a staging folder.
pub struct LocalStore {
    root: PathBuf,
    staging: PathBuf,
}

fn io_err(path: &Path, e: std::io::Error) -> OutputError {
    OutputError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl LocalStore {
    /// Prepares `root` (created if missing) and an empty staging folder inside it.
    pub fn new(root: &Path) -> Result<Self, OutputError> {
        fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
        let staging = root.join(".keytrail-staging");
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
        }
        fs::create_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
        Ok(LocalStore {
            root: root.to_path_buf(),
            staging,
        })
    }

    /// Moves every table written into place, replacing the previous run's.
    pub fn publish(self) -> Result<(), OutputError> {
        for t in TABLES {
            let target = self.root.join(t.name);
            let staged = self.staging.join(t.name);
            if target.exists() {
                fs::remove_dir_all(&target).map_err(|e| io_err(&target, e))?;
            }
            if staged.exists() {
                fs::rename(&staged, &target).map_err(|e| io_err(&target, e))?;
            }
        }
        fs::remove_dir_all(&self.staging).map_err(|e| io_err(&self.staging, e))
    }
}

impl TableStore for LocalStore {
    type Object = BufWriter<File>;

    fn create(&mut self, path: &str) -> Result<Self::Object, OutputError> {
        let full = self.staging.join(path);
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        let f = File::create(&full).map_err(|e| io_err(&full, e))?;
        Ok(BufWriter::with_capacity(64 << 10, f))
    }

    fn commit(&mut self, path: &str, mut object: Self::Object) -> Result<(), OutputError> {
        let full = self.staging.join(path);
        object.flush().map_err(|e| io_err(&full, e))?;
        Ok(())
    }
}

/// A store that discards everything (for runs that only compute findings).
#[derive(Debug, Default)]
pub struct NoStore;

impl TableStore for NoStore {
    type Object = std::io::Sink;
    fn create(&mut self, _path: &str) -> Result<Self::Object, OutputError> {
        Ok(std::io::sink())
    }
    fn commit(&mut self, _path: &str, _object: Self::Object) -> Result<(), OutputError> {
        Ok(())
    }
}
