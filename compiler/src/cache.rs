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

    /// Reads an entry, and marks it used now (see [`DiskCache::prune`]).
    pub fn read(&self, kind: &str, key: &Digest) -> Option<Vec<u8>> {
        let path = self.path(kind, key);
        let bytes = std::fs::read(&path).ok()?;
        if let Ok(file) = std::fs::File::options().append(true).open(&path) {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
        Some(bytes)
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

/// The bound of a fleet's cache when `FLOTILLA_CACHE_MAX` does not set one: 2 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;

/// What [`DiskCache::prune`] found and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Entries and bytes left.
    pub entries: u64,
    pub bytes: u64,
    /// Entries and bytes removed.
    pub removed_entries: u64,
    pub removed_bytes: u64,
}

impl DiskCache {
    /// Bounds the cache to `max_bytes`: the least recently used entries (by the time they were
    /// last written or read) go first. Folders of older cache layouts (`v0`, … beside the
    /// current one) and temporary files left by interrupted writes are removed too. Best
    /// effort, like every cache operation: what cannot be read or removed is left.
    pub fn prune(&self, max_bytes: u64) -> Pruned {
        let mut out = Pruned::default();
        if let (Some(parent), Some(current)) = (self.root.parent(), self.root.file_name()) {
            for dir in read_dir(parent) {
                let name = dir.file_name();
                let old_layout = name
                    .to_str()
                    .and_then(|n| n.strip_prefix('v'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if old_layout && name != current && dir.path().is_dir() {
                    let _ = std::fs::remove_dir_all(dir.path());
                }
            }
        }
        let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for kind in read_dir(&self.root) {
            for shard in read_dir(&kind.path()) {
                for entry in read_dir(&shard.path()) {
                    let Ok(meta) = entry.metadata() else {
                        continue;
                    };
                    if !meta.is_file() {
                        continue;
                    }
                    let used = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                    let temporary = entry.file_name().to_string_lossy().starts_with(".tmp");
                    if temporary {
                        if used < an_hour_ago && std::fs::remove_file(entry.path()).is_ok() {
                            out.removed_entries += 1;
                            out.removed_bytes += meta.len();
                        }
                        continue;
                    }
                    entries.push((used, meta.len(), entry.path()));
                }
            }
        }
        // Oldest first; the path breaks ties so that the order is the same on every run.
        entries.sort();
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        let mut entries = entries.into_iter();
        while total > max_bytes {
            let Some((_, size, path)) = entries.next() else {
                break;
            };
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
                out.removed_entries += 1;
                out.removed_bytes += size;
            }
        }
        for (_, size, _) in entries {
            out.entries += 1;
            out.bytes += size;
        }
        out
    }
}

/// A `FLOTILLA_CACHE_MAX` that is not a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FLOTILLA_CACHE_MAX={text:?} is not a size (e.g. 500M, 2G)")]
pub struct CacheMaxError {
    pub text: String,
}

/// The bound set by `FLOTILLA_CACHE_MAX` (bytes, or with a `K`, `M`, `G` suffix, powers of
/// 1024), else [`DEFAULT_MAX_BYTES`]; an unreadable setting is an error naming it.
pub fn max_bytes_from_env() -> Result<u64, CacheMaxError> {
    match std::env::var("FLOTILLA_CACHE_MAX") {
        Ok(text) => parse_size(&text).ok_or(CacheMaxError { text }),
        Err(_) => Ok(DEFAULT_MAX_BYTES),
    }
}

/// Sizes are written as the plugin cache's bound is (`500M`, `2G`, …).
pub use plugins::parse_size;

fn read_dir(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    std::fs::read_dir(dir).into_iter().flatten().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_are_replaced() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let cache = DiskCache::at(dir.path());
        let key = Digest::of(b"key");
        assert_eq!(cache.read("k", &key), None);
        cache.write("k", &key, b"one");
        cache.write("k", &key, b"two");
        assert_eq!(cache.read("k", &key).as_deref(), Some(&b"one"[..]));
        cache.replace("k", &key, b"three");
        assert_eq!(cache.read("k", &key).as_deref(), Some(&b"three"[..]));
    }

    fn set_used(cache: &DiskCache, key: &Digest, seconds_ago: u64) {
        let path = cache.path("k", key);
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(
            std::time::SystemTime::now() - std::time::Duration::from_secs(seconds_ago),
        )
        .unwrap();
    }

    #[test]
    fn pruning_removes_the_least_recently_used_first() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let cache = DiskCache::at(dir.path());
        let keys: Vec<Digest> = (0..4u8).map(|i| Digest::of(&[i])).collect();
        for (i, key) in keys.iter().enumerate() {
            cache.write("k", key, &[0u8; 100]);
            set_used(&cache, key, 1000 - i as u64 * 100);
        }
        // Reading the oldest makes it the most recently used.
        assert!(cache.read("k", &keys[0]).is_some());
        let pruned = cache.prune(250);
        assert_eq!(
            pruned,
            Pruned {
                entries: 2,
                bytes: 200,
                removed_entries: 2,
                removed_bytes: 200
            }
        );
        assert!(cache.read("k", &keys[0]).is_some());
        assert!(cache.read("k", &keys[1]).is_none());
        assert!(cache.read("k", &keys[2]).is_none());
        assert!(cache.read("k", &keys[3]).is_some());
        // Under the bound, nothing goes.
        assert_eq!(cache.prune(250).removed_entries, 0);
    }

    #[test]
    fn pruning_removes_older_layouts_and_nothing_else() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for name in ["v0", "vx", "notes"] {
            std::fs::create_dir_all(dir.path().join(name).join("k")).unwrap();
        }
        let cache = DiskCache::at(dir.path());
        cache.write("k", &Digest::of(b"a"), b"a");
        cache.prune(DEFAULT_MAX_BYTES);
        assert!(!dir.path().join("v0").exists());
        assert!(dir.path().join("vx").exists());
        assert!(dir.path().join("notes").exists());
        assert!(cache.read("k", &Digest::of(b"a")).is_some());
    }

    #[test]
    fn sizes() {
        for (text, bytes) in [
            ("1234", Some(1234)),
            ("500K", Some(500 << 10)),
            ("500M", Some(500 << 20)),
            ("2G", Some(2 << 30)),
            ("2GiB", Some(2 << 30)),
            (" 1 g ", Some(1 << 30)),
            ("", None),
            ("G", None),
            ("-1", None),
            ("1.5G", None),
            ("99999999999T", None),
        ] {
            assert_eq!(parse_size(text), bytes, "{text:?}");
        }
    }
}
