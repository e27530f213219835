//! The on-disk cache of compiled plugins: `Component::serialize` output keyed by the digest of
//! the plugin's bytes, the wasmtime version and the engine configuration, bounded in size
//! (least recently used first).
//!
//! A leaf of the crate: entries are named by the hex digest the host computes, so this module
//! knows nothing of the host. Loading native code from disk is `unsafe` in wasmtime; this is
//! the only module allowed to do it. See the SAFETY comment on [`load`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::runtime::CONFIG_TAG;

/// The bound of the cache when `FLOTILLA_PLUGIN_CACHE_MAX` does not set one: 1 GiB (a Python
/// plugin compiles to about 60 MB).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The environment variable that bounds the user's plugin cache (`HostConfig::with_user_cache`).
pub const MAX_BYTES_VAR: &str = "FLOTILLA_PLUGIN_CACHE_MAX";

/// The wasmtime version compiled artifacts are tied to (kept in step with Cargo.toml).
pub(crate) const WASMTIME_VERSION: &str = "48.0.8";

/// The cache file for a plugin (`key`: the hex SHA-256 of its bytes):
/// `<key>-wasmtime48.0.8-<config tag>.cwasm`.
pub(crate) fn path_for(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!(
        "{key}-wasmtime{WASMTIME_VERSION}-{CONFIG_TAG}.cwasm"
    ))
}

/// Loads the compiled component for `key` from the cache directory, if present and usable, and
/// marks it used now (see [`prune`]). A file wasmtime rejects (other version or configuration,
/// truncated) is ignored and removed.
#[allow(unsafe_code)]
pub(crate) fn load(engine: &Engine, dir: &Path, key: &str) -> Option<Component> {
    let path = path_for(dir, key);
    let bytes = std::fs::read(&path).ok()?;
    if let Ok(file) = std::fs::File::options().append(true).open(&path) {
        let _ = file.set_modified(SystemTime::now());
    }
    // SAFETY: `Component::deserialize` runs the native code in `bytes`, so they must be an
    // artifact produced by `Component::serialize` of a compatible engine. The cache holds only
    // our own serialized artifacts: files are written by `store` below (fully written to a
    // temporary file, then renamed into place, so a reader never sees a partial file) under a
    // name made of the SHA-256 of the plugin's bytes, the wasmtime version and our engine
    // configuration tag, and wasmtime itself checks the artifact's header (version, target,
    // engine settings) and refuses anything incompatible. The file is read into memory rather
    // than mapped (`deserialize_file`), so another process truncating or rewriting it cannot
    // pull pages from under running code. What remains trusted is the cache directory itself:
    // whoever can write there could equally replace the flotilla binary, and it lives in the
    // user's own cache.
    match unsafe { Component::deserialize(engine, &bytes) } {
        Ok(component) => Some(component),
        Err(_) => {
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}

/// Stores a compiled component under its key, then bounds the cache to `max_bytes` (the new
/// entry is kept). Best effort: a cache that cannot be written only costs a recompilation.
pub(crate) fn store(dir: &Path, key: &str, component: &Component, max_bytes: u64) {
    let Ok(bytes) = component.serialize() else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let path = path_for(dir, key);
    let tmp = dir.join(format!(
        ".{key}-{}-{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, &path).is_ok() {
        prune(dir, max_bytes, Some(&path));
        return;
    }
    let _ = std::fs::remove_file(&tmp);
}

/// What [`prune`] left and removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    pub(crate) removed_entries: u64,
    pub(crate) removed_bytes: u64,
}

/// Bounds the cache folder to `max_bytes`: the least recently used entries (by the time they
/// were last written or loaded) go first, except `keep`. Temporary files of interrupted writes
/// older than an hour are removed too. Best effort: what cannot be read or removed is left.
pub(crate) fn prune(dir: &Path, max_bytes: u64, keep: Option<&Path>) -> Pruned {
    let mut out = Pruned::default();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let used = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        if name.starts_with('.') && name.ends_with(".tmp") {
            if used < an_hour_ago && std::fs::remove_file(entry.path()).is_ok() {
                out.removed_entries += 1;
                out.removed_bytes += meta.len();
            }
            continue;
        }
        if !name.ends_with(".cwasm") {
            continue;
        }
        entries.push((used, meta.len(), entry.path()));
    }
    // Oldest first; the path breaks ties so that the order is the same on every run.
    entries.sort();
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    for (_, size, path) in entries {
        if total > max_bytes && Some(path.as_path()) != keep && std::fs::remove_file(&path).is_ok()
        {
            total -= size;
            out.removed_entries += 1;
            out.removed_bytes += size;
        } else {
            out.entries += 1;
            out.bytes += size;
        }
    }
    out
}

/// The bound set by [`MAX_BYTES_VAR`] (bytes, or with a `K`, `M`, `G`, `T` suffix, powers of
/// 1024), else [`DEFAULT_MAX_BYTES`]. A setting that is not a size is ignored.
pub(crate) fn max_bytes_from_env() -> u64 {
    std::env::var(MAX_BYTES_VAR)
        .ok()
        .and_then(|text| parse_size(&text))
        .unwrap_or(DEFAULT_MAX_BYTES)
}

/// `1234`, `500K`, `500M`, `2G` (powers of 1024; an optional `B`/`iB`), as bytes: how every
/// cache bound of Flotilla is written (`FLOTILLA_PLUGIN_CACHE_MAX`, `FLOTILLA_CACHE_MAX`).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.char_indices().last()? {
        (i, 'K' | 'k') => (&t[..i], 10),
        (i, 'M' | 'm') => (&t[..i], 20),
        (i, 'G' | 'g') => (&t[..i], 30),
        (i, 'T' | 't') => (&t[..i], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().ok()?;
    n.checked_mul(1u64 << shift)
}

/// The default cache directory: `$FLOTILLA_CACHE_DIR/plugins`, else
/// `$XDG_CACHE_HOME/flotilla/plugins`, else `$HOME/.cache/flotilla/plugins`.
pub(crate) fn default_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("FLOTILLA_CACHE_DIR") {
        return Some(dir.join("plugins"));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Some(dir.join("flotilla").join("plugins"));
    }
    var("HOME").map(|home| home.join(".cache").join("flotilla").join("plugins"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::TempDir;

    /// Writes `name` with `len` bytes, last used `age` seconds ago.
    fn entry(dir: &Path, name: &str, len: usize, age: u64) {
        let path = dir.join(name);
        std::fs::write(&path, vec![0u8; len]).expect("write");
        let file = std::fs::File::options()
            .append(true)
            .open(&path)
            .expect("open");
        file.set_modified(SystemTime::now() - Duration::from_secs(age))
            .expect("set mtime");
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn pruning_removes_the_least_recently_used_first() {
        let tmp = TempDir::new("prune");
        let dir = tmp.path();
        entry(dir, "a.cwasm", 100, 300);
        entry(dir, "b.cwasm", 100, 100);
        entry(dir, "c.cwasm", 100, 200);
        entry(dir, "notes.txt", 1000, 900);
        entry(dir, ".x-1-ThreadId(1).tmp", 50, 7200);
        entry(dir, ".y-1-ThreadId(2).tmp", 50, 10);
        let pruned = prune(dir, 250, None);
        assert_eq!(
            pruned,
            Pruned {
                entries: 2,
                bytes: 200,
                removed_entries: 2,
                removed_bytes: 150,
            }
        );
        assert_eq!(
            names(dir),
            [".y-1-ThreadId(2).tmp", "b.cwasm", "c.cwasm", "notes.txt"]
        );
        // Under the bound, nothing goes.
        assert_eq!(prune(dir, 1000, None).removed_entries, 0);
        // The entry just stored stays even when it alone is over the bound.
        let keep = dir.join("c.cwasm");
        prune(dir, 0, Some(&keep));
        assert_eq!(names(dir), [".y-1-ThreadId(2).tmp", "c.cwasm", "notes.txt"]);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1234"), Some(1234));
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size(" 2G "), Some(2 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size(""), None);
    }
}
