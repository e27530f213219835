//! The persistent cache (`<fleet>/.flotilla/cache/`): what was computed by an earlier compile,
//! keyed by the digests of everything it depends on, so that a recompile after a small change
//! redoes only what the change touched.
//!
//! Entries are immutable, content-addressed files written atomically (a temporary file renamed
//! into place), so concurrent compiles and interrupted writes never leave a torn entry; a
//! missing, unreadable or malformed entry is a miss. The cache is an optimisation only: a
//! compile with it gives the same bytes as one without.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::Digest;

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

    /// A manifest by its digest (checked, so a damaged entry is a miss).
    pub fn manifest(&self, digest: &Digest) -> Option<Arc<str>> {
        let text = String::from_utf8(self.read("manifests", digest)?).ok()?;
        (Digest::of(text.as_bytes()) == *digest).then(|| Arc::from(text))
    }

    /// The manifest a render key produced earlier: its digest and text (checked against the
    /// digest, so a damaged entry is a miss).
    pub fn manifest_for(&self, key: &Digest) -> Option<(Digest, Arc<str>)> {
        let digest: Digest = String::from_utf8(self.read("renders", key)?)
            .ok()?
            .parse()
            .ok()?;
        Some((digest, self.manifest(&digest)?))
    }

    /// Records the manifest a render key produced.
    pub fn store_manifest(&self, key: &Digest, digest: &Digest, text: &str) {
        self.write("manifests", digest, text.as_bytes());
        self.write("renders", key, digest.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().ok();
        let Some(dir) = dir else {
            return;
        };
        let cache = DiskCache::at(dir.path());
        let key = Digest::of(b"key");
        assert_eq!(cache.manifest_for(&key), None);
        let digest = Digest::of(b"kind: A\n");
        cache.store_manifest(&key, &digest, "kind: A\n");
        assert_eq!(
            cache.manifest_for(&key),
            Some((digest, Arc::from("kind: A\n")))
        );
        let _ = std::fs::write(cache.path("manifests", &digest), "kind: B\n");
        assert_eq!(cache.manifest_for(&key), None);
    }
}
