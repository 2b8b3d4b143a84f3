//! One input source as the CLI holds it: its name, its kind and its size. An archive can
//! list millions, so the path, or the bucket and key, are read back from the name.

use std::path::{Path, PathBuf};

/// One input source. An archive can list millions, so a source is its name and size: the
/// path or the bucket and key are read back from the name rather than kept twice.
pub struct Source {
    /// Its name in messages and in the tables' `source_file` (path, `-` or s3:// URL).
    pub name: String,
    pub kind: SourceKind,
    /// Bytes as stored (compressed), for progress and append runs; 0 for stdin.
    pub size: u64,
}

pub enum SourceKind {
    /// A local file whose path is the name.
    File,
    /// A local file whose path is not UTF-8 (the name shows it with replacement characters).
    OtherFile(PathBuf),
    Stdin,
    /// An S3 object; the name is `s3://bucket/key`.
    Object,
}

impl Source {
    /// A local file.
    pub fn file(path: PathBuf, size: u64) -> Source {
        match path.into_os_string().into_string() {
            Ok(mut name) => {
                name.shrink_to_fit();
                Source {
                    name,
                    kind: SourceKind::File,
                    size,
                }
            }
            Err(raw) => {
                let path = PathBuf::from(raw);
                Source {
                    name: path.display().to_string(),
                    kind: SourceKind::OtherFile(path),
                    size,
                }
            }
        }
    }

    /// The local path, for a file.
    pub fn path(&self) -> Option<&Path> {
        match &self.kind {
            SourceKind::File => Some(Path::new(&self.name)),
            SourceKind::OtherFile(p) => Some(p),
            _ => None,
        }
    }

    /// The bucket and key, for an S3 object (a bucket name holds no `/`).
    pub fn object(&self) -> Option<(&str, &str)> {
        match self.kind {
            SourceKind::Object => self.name.strip_prefix("s3://")?.split_once('/'),
            _ => None,
        }
    }
}
