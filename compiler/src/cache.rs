//! The persistent cache (`<fleet>/.flotilla/cache/`): what was computed by an earlier compile,
//! keyed by the digests of everything it depends on, so that a recompile after a small change
//! redoes only what the change touched.
//!
//! Entries are immutable, content-addressed files written atomically (a temporary file renamed
//! into place), so concurrent compiles and interrupted writes never leave a torn entry; a
//! missing, unreadable or malformed entry is a miss. The cache is an optimisation only: a
//! compile with it gives the same bytes as one without.

use crate::model::Digest;
use std::path::{Path, PathBuf};

/// The cache format; bump it to orphan every entry written by an older layout.
const LAYOUT: &str = "v1";

/// A cache folder on disk.
#[derive(Debug, Clone)]
pub struct DiskCache {
    root: PathBuf,
}

impl DiskCache {
    /// The cache of a fleet repository: `<fleet>/.flotilla/cache/`.
    pub fn for_fleet(fleet: &Path) -> DiskCache {
        DiskCache::at(fleet.join(".flotilla").join("cache"))
    }

    /// A cache in any folder (created on first write).
    pub fn at(root: impl Into<PathBuf>) -> DiskCache {
        DiskCache {
            root: root.into().join(LAYOUT),
        }
    }

    fn path(&self, kind: &str, key: &Digest) -> PathBuf {
        let hex = key.hex();
        self.root.join(kind).join(&hex[..2]).join(&hex[2..])
    }

    /// Reads an entry.
    pub fn read(&self, kind: &str, key: &Digest) -> Option<Vec<u8>> {
        std::fs::read(self.path(kind, key)).ok()
    }

    /// Writes an entry (best effort: a cache that cannot be written is not an error).
    pub fn write(&self, kind: &str, key: &Digest, bytes: &[u8]) {
        let path = self.path(kind, key);
        if path.exists() {
            return;
        }
        let Some(dir) = path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
            use std::io::Write as _;
            if tmp.write_all(bytes).is_ok() {
                let _ = tmp.persist(&path);
            }
        }
    }

    /// Writes an entry, replacing an earlier one atomically (for entries that grow, such as a
    /// service version's outcomes).
    pub fn replace(&self, kind: &str, key: &Digest, bytes: &[u8]) {
        let path = self.path(kind, key);
        let Some(dir) = path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
            use std::io::Write as _;
            if tmp.write_all(bytes).is_ok() {
                let _ = tmp.persist(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_are_replaced() {
        let Ok(dir) = tempfile::tempdir() else {
            return;
        };
        let cache = DiskCache::at(dir.path());
        let key = Digest::of(b"key");
        assert_eq!(cache.read("k", &key), None);
        cache.write("k", &key, b"one");
        cache.write("k", &key, b"two");
        assert_eq!(cache.read("k", &key).as_deref(), Some(&b"one"[..]));
        cache.replace("k", &key, b"three");
        assert_eq!(cache.read("k", &key).as_deref(), Some(&b"three"[..]));
    }
}
