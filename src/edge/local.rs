//! The local file-system edge: finding input files in folders, and a [`TableStore`] that
//! writes tables under an output folder.
//!
//! Tables are written into a staging folder beside the output folder and moved into place
//! only when the whole run has written them, so readers of the output folder never see half
//! a run, a run that stops early leaves it untouched, and a rerun replaces the previous
//! tables instead of mixing with them (or, in append mode, adds its own files beside them).

use crate::error::OutputError;
use crate::tables::schema::TABLES;
use crate::tables::writer::TableStore;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// Why a folder walk passed over a file by its name.
pub const NOT_A_LOG_NAME: &str = "not a *.json, *.jsonl, *.log or *.gz file";

/// Whether a file name is one keytrail reads when walking a folder.
pub fn is_log_name(name: &str) -> bool {
    [".json", ".jsonl", ".log", ".gz"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Expands inputs: a file named explicitly is always read; a folder is walked recursively
/// in name order, reading `*.json`, `*.jsonl`, `*.log` and `*.gz`. `-` (stdin) is kept as given.
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
                    reason: NOT_A_LOG_NAME.into(),
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
                reason: NOT_A_LOG_NAME.into(),
            });
        }
    }
}

/// Every file below `root` whose name ends in `.{ext}`, in path order (a table's Parquet
/// files: its partitions are folders).
pub fn files_under(root: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut stack = vec![root.to_path_buf()];
    let mut paths = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                paths.push(p);
            }
        }
    }
    paths.sort();
    Ok(paths)
}

/// How [`LocalStore::publish`] puts a run's tables into the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishMode {
    /// The run's tables replace keytrail's table folders (other files are left alone).
    Replace,
    /// The run's files are added beside the existing ones (their names are the run's own).
    Append,
}

/// What the staging folder is doing; shared with [`AbortHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StagingState {
    Writing,
    Publishing,
    Published,
    Aborted,
}

/// Writes tables under a local folder, through a staging folder beside it.
///
/// The staging folder is a sibling of the output folder (`.<name>.keytrail-staging`), so no
/// glob over the output folder (`DIR/**/*.parquet`) ever sees a file being written. Tables
/// move into place only at [`LocalStore::publish`]; until then, and whenever the run stops
/// early (an error, [`LocalStore::discard`], a drop, or [`AbortHandle::abort`] from a signal
/// handler), the output folder is exactly as it was. A replaced table is first moved into
/// the staging folder and deleted only once its successor is in place; if the process dies
/// in between, the next run moves it back.
pub struct LocalStore {
    root: PathBuf,
    staging: PathBuf,
    mode: PublishMode,
    state: Arc<Mutex<StagingState>>,
    /// The output folder did not exist before this run.
    created: bool,
}

/// Stops a run's staging from another thread (a signal handler): waits for a publish in
/// progress to end, then removes the staging folder and refuses further writes.
#[derive(Clone)]
pub struct AbortHandle {
    staging: PathBuf,
    state: Arc<Mutex<StagingState>>,
}

/// What [`AbortHandle::abort`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortOutcome {
    /// The staging folder was removed; the output folder is as it was before the run.
    Discarded,
    /// The run had already published its tables.
    AlreadyPublished,
}

impl AbortHandle {
    pub fn abort(&self) -> AbortOutcome {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *st == StagingState::Published {
            return AbortOutcome::AlreadyPublished;
        }
        *st = StagingState::Aborted;
        let _ = fs::remove_dir_all(&self.staging);
        AbortOutcome::Discarded
    }

    pub fn staging(&self) -> &Path {
        &self.staging
    }
}

fn io_err(path: &Path, e: std::io::Error) -> OutputError {
    OutputError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// The staging folder of an output folder: a hidden sibling, on the same file system so
/// that publishing is a rename.
pub fn staging_dir_for(root: &Path) -> Result<PathBuf, OutputError> {
    let abs = fs::canonicalize(root).map_err(|e| io_err(root, e))?;
    let name = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| OutputError::Io {
            path: root.display().to_string(),
            reason: "the output folder cannot be the root of the file system".into(),
        })?;
    let parent = abs.parent().unwrap_or(Path::new("/"));
    Ok(parent.join(format!(".{name}.keytrail-staging")))
}

/// The folder of keytrail's own bookkeeping inside an output folder (the append manifest):
/// outside every table folder, and never a `.parquet` file.
pub const META_DIR: &str = "_keytrail";

/// The old-tables folder inside a staging folder.
const OLD: &str = ".replaced";
/// The file naming the process that owns a staging folder.
const OWNER: &str = ".owner";

impl LocalStore {
    /// Prepares `root` (created if missing; an existing file is refused) and an empty
    /// staging folder beside it. A staging folder left by a run that died is cleaned up
    /// (tables it was replacing are moved back first); one owned by a live run is refused.
    pub fn new(root: &Path) -> Result<Self, OutputError> {
        Self::with_mode(root, PublishMode::Replace)
    }

    pub fn with_mode(root: &Path, mode: PublishMode) -> Result<Self, OutputError> {
        if root.exists() && !root.is_dir() {
            return Err(OutputError::Io {
                path: root.display().to_string(),
                reason: "exists and is not a folder".into(),
            });
        }
        let created = !root.exists();
        fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
        let staging = staging_dir_for(root)?;
        if staging.exists() {
            recover(root, &staging)?;
        }
        fs::create_dir_all(&staging).map_err(|e| io_err(&staging, e))?;
        let owner = staging.join(OWNER);
        fs::write(&owner, std::process::id().to_string()).map_err(|e| io_err(&owner, e))?;
        Ok(LocalStore {
            root: root.to_path_buf(),
            staging,
            mode,
            state: Arc::new(Mutex::new(StagingState::Writing)),
            created,
        })
    }

    /// The staging folder (outside the output folder).
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            staging: self.staging.clone(),
            state: self.state.clone(),
        }
    }

    /// Drops everything this run staged; the output folder is left as it was (and removed
    /// again if this run created it and it is still empty).
    pub fn discard(self) -> Result<(), OutputError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *st = StagingState::Aborted;
        if self.staging.exists() {
            fs::remove_dir_all(&self.staging).map_err(|e| io_err(&self.staging, e))?;
        }
        if self.created {
            let _ = fs::remove_dir(&self.root);
        }
        Ok(())
    }

    /// Stages a bookkeeping file (under [`META_DIR`]); it is published after the tables.
    pub fn stage_file(&mut self, rel: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let full = self.staging.join(META_DIR).join(rel);
        if let Some(dir) = full.parent() {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        fs::write(&full, bytes).map_err(|e| io_err(&full, e))
    }

    /// Moves the run's tables into place ([`PublishMode`]), then its bookkeeping files, then
    /// removes the staging folder.
    pub fn publish(self) -> Result<(), OutputError> {
        let state = self.state.clone();
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        if *st == StagingState::Aborted {
            return Err(OutputError::Io {
                path: self.root.display().to_string(),
                reason: "the run was interrupted; nothing was published".into(),
            });
        }
        *st = StagingState::Publishing;
        self.publish_tables()?;
        let meta = self.staging.join(META_DIR);
        if meta.is_dir() {
            let target = self.root.join(META_DIR);
            fs::create_dir_all(&target).map_err(|e| io_err(&target, e))?;
            for e in fs::read_dir(&meta).map_err(|e| io_err(&meta, e))? {
                let p = e.map_err(|e| io_err(&meta, e))?.path();
                let to = target.join(p.file_name().expect("a file name"));
                fs::rename(&p, &to).map_err(|e| io_err(&to, e))?;
            }
        }
        fs::remove_dir_all(&self.staging).map_err(|e| io_err(&self.staging, e))?;
        *st = StagingState::Published;
        Ok(())
    }

    /// Replaces each table folder, except that an append run adds its `kms_events` files
    /// beside the existing ones (the derived tables, recomputed over all of them, replace).
    fn publish_tables(&self) -> Result<(), OutputError> {
        let old = self.staging.join(OLD);
        fs::create_dir_all(&old).map_err(|e| io_err(&old, e))?;
        for t in TABLES {
            if self.mode == PublishMode::Append && t.name == "kms_events" {
                self.add_files(t.name)?;
                continue;
            }
            let target = self.root.join(t.name);
            let staged = self.staging.join(t.name);
            if target.exists() {
                fs::rename(&target, old.join(t.name)).map_err(|e| io_err(&target, e))?;
            }
            if staged.exists() {
                fs::rename(&staged, &target).map_err(|e| io_err(&target, e))?;
            }
        }
        Ok(())
    }

    fn add_files(&self, table: &str) -> Result<(), OutputError> {
        let mut stack = vec![self.staging.join(table)];
        while let Some(d) = stack.pop() {
            if !d.exists() {
                continue;
            }
            for e in fs::read_dir(&d).map_err(|e| io_err(&d, e))? {
                let p = e.map_err(|e| io_err(&d, e))?.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p.strip_prefix(&self.staging).expect("under staging");
                let target = self.root.join(rel);
                if let Some(dir) = target.parent() {
                    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
                }
                fs::rename(&p, &target).map_err(|e| io_err(&target, e))?;
            }
        }
        Ok(())
    }
}

/// Cleans up a staging folder left behind. A live owner means another run is writing the
/// same folder: refused. Otherwise tables the dead run had moved aside are moved back where
/// their successor is missing, and the rest is removed.
fn recover(root: &Path, staging: &Path) -> Result<(), OutputError> {
    if let Ok(pid) = fs::read_to_string(staging.join(OWNER)) {
        let pid = pid.trim();
        if pid != std::process::id().to_string() && Path::new("/proc").join(pid).exists() {
            return Err(OutputError::Io {
                path: root.display().to_string(),
                reason: format!(
                    "another keytrail run (process {pid}) is writing here; if none is, remove {}",
                    staging.display()
                ),
            });
        }
    }
    let old = staging.join(OLD);
    for t in TABLES {
        let (aside, target) = (old.join(t.name), root.join(t.name));
        if aside.exists() && !target.exists() {
            fs::rename(&aside, &target).map_err(|e| io_err(&target, e))?;
        }
    }
    fs::remove_dir_all(staging).map_err(|e| io_err(staging, e))
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        let st = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st == StagingState::Writing && self.staging.exists() {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

impl TableStore for LocalStore {
    type Object = BufWriter<File>;

    fn create(&mut self, path: &str) -> Result<Self::Object, OutputError> {
        // Held while touching the staging folder, so an abort cannot interleave.
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let full = self.staging.join(path);
        if *st != StagingState::Writing {
            return Err(io_err(
                &full,
                std::io::Error::new(std::io::ErrorKind::Interrupted, "the run was interrupted"),
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, bytes: &[u8]) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }

    #[test]
    fn a_run_killed_mid_publish_has_its_old_tables_moved_back() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        write(&root.join("grants/part-00000.parquet"), b"new grants");
        // The dead run had moved kms_events aside and not yet moved its successor in.
        let staging = tmp.path().join(".out.keytrail-staging");
        write(
            &staging.join(".replaced/kms_events/x.parquet"),
            b"old events",
        );
        write(&staging.join("kms_events/y.parquet"), b"half-published run");
        fs::write(staging.join(".owner"), "4294967295").unwrap();
        let store = LocalStore::new(&root).unwrap();
        assert_eq!(
            fs::read(root.join("kms_events/x.parquet")).unwrap(),
            b"old events"
        );
        assert!(!root.join("kms_events/y.parquet").exists());
        assert_eq!(
            fs::read(root.join("grants/part-00000.parquet")).unwrap(),
            b"new grants"
        );
        store.discard().unwrap();
        assert!(!staging.exists());
    }

    #[test]
    fn a_staging_folder_of_a_live_run_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        let staging = tmp.path().join(".out.keytrail-staging");
        // Process 1 is always alive.
        write(&staging.join(".owner"), b"1");
        let e = LocalStore::new(&root).err().expect("refused").to_string();
        assert!(
            e.contains("another keytrail run (process 1) is writing here"),
            "{e}"
        );
        assert!(
            staging.join(".owner").exists(),
            "the live run's staging is left alone"
        );
    }

    #[test]
    fn publish_replaces_tables_keeps_other_files_and_append_adds_event_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        write(&root.join("kms_events/a/part-00000.parquet"), b"old");
        write(&root.join("findings/part-00000.parquet"), b"old findings");
        write(&root.join("notes.txt"), b"mine");
        let mut s = LocalStore::with_mode(&root, PublishMode::Append).unwrap();
        let mut o = s.create("kms_events/a/run-1-00000.parquet").unwrap();
        o.write_all(b"new").unwrap();
        s.commit("kms_events/a/run-1-00000.parquet", o).unwrap();
        let mut f = s.create("findings/run-1-00000.parquet").unwrap();
        f.write_all(b"all findings").unwrap();
        s.commit("findings/run-1-00000.parquet", f).unwrap();
        s.stage_file("sources.jsonl", b"{}\n").unwrap();
        s.publish().unwrap();
        assert_eq!(
            fs::read(root.join("kms_events/a/part-00000.parquet")).unwrap(),
            b"old"
        );
        assert_eq!(
            fs::read(root.join("kms_events/a/run-1-00000.parquet")).unwrap(),
            b"new"
        );
        assert!(
            !root.join("findings/part-00000.parquet").exists(),
            "derived tables replaced"
        );
        assert_eq!(
            fs::read(root.join("findings/run-1-00000.parquet")).unwrap(),
            b"all findings"
        );
        assert_eq!(fs::read(root.join("notes.txt")).unwrap(), b"mine");
        assert_eq!(
            fs::read(root.join("_keytrail/sources.jsonl")).unwrap(),
            b"{}\n"
        );
        assert!(!tmp.path().join(".out.keytrail-staging").exists());
    }

    #[test]
    fn files_under_lists_one_extension_below_every_folder_in_path_order() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "b/event_date=2025-01-02/x.parquet",
            "a/event_date=2025-01-01/y.parquet",
            "a/event_date=2025-01-01/y.parquet.tmp",
            "a/notes.txt",
            "top.parquet",
        ] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"x").unwrap();
        }
        let got: Vec<String> = files_under(d.path(), "parquet")
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(d.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            got,
            [
                "a/event_date=2025-01-01/y.parquet",
                "b/event_date=2025-01-02/x.parquet",
                "top.parquet"
            ]
        );
        assert!(files_under(&d.path().join("absent"), "parquet").is_err());
    }
}
