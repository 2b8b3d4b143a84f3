//! One input source as the CLI holds it: its name, its kind and its size. An archive can
//! list millions, so the path, or the bucket and key, are read back from the name.

use std::path::{Path, PathBuf};

/// One input source (about 70 bytes for a typical path).
pub struct Source {
    /// Its name in messages and in the tables' `source_file` (path, `-` or s3:// URL).
    pub name: String,
    pub kind: SourceKind,
    /// Bytes as stored (compressed), for progress and append runs; 0 for stdin.
    pub size: u64,
}

/// Where a source's bytes come from, and how to read the name.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn object(name: &str) -> Source {
        Source {
            name: name.into(),
            kind: SourceKind::Object,
            size: 0,
        }
    }

    #[test]
    fn an_object_name_gives_its_bucket_and_the_whole_key() {
        let s = object("s3://trail/AWSLogs/1/CloudTrail/us-east-1/2026/01/02/f.json.gz");
        assert_eq!(
            s.object(),
            Some((
                "trail",
                "AWSLogs/1/CloudTrail/us-east-1/2026/01/02/f.json.gz"
            ))
        );
        assert_eq!(s.path(), None);
        // A name without a key is no object to fetch.
        assert_eq!(object("s3://trail").object(), None);
    }

    #[test]
    fn a_file_is_its_path_and_only_a_file_has_one() {
        let f = Source::file(PathBuf::from("logs/a b/f.json.gz"), 7);
        assert_eq!(f.name, "logs/a b/f.json.gz");
        assert!(matches!(f.kind, SourceKind::File));
        assert_eq!(f.path(), Some(Path::new("logs/a b/f.json.gz")));
        assert_eq!((f.object(), f.size), (None, 7));
        let stdin = Source {
            name: "-".into(),
            kind: SourceKind::Stdin,
            size: 0,
        };
        assert_eq!((stdin.path(), stdin.object()), (None, None));
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_not_utf8_is_kept_whole_beside_its_shown_name() {
        use std::os::unix::ffi::OsStrExt;
        let raw = std::ffi::OsStr::from_bytes(b"logs/caf\xe9.json");
        let f = Source::file(PathBuf::from(raw), 1);
        assert_eq!(f.name, "logs/caf\u{fffd}.json");
        assert_eq!(f.path().map(|p| p.as_os_str()), Some(raw));
    }
}
