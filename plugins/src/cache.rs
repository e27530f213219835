//! The on-disk cache of compiled plugins: `Component::serialize` output keyed by the digest of
//! the plugin's bytes, the wasmtime version and the engine configuration.
//!
//! Loading native code from disk is `unsafe` in wasmtime; this is the only module allowed to
//! do it. See the SAFETY comment on [`load`].

use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::host::Digest;
use crate::runtime::CONFIG_TAG;

/// The wasmtime version compiled artifacts are tied to (kept in step with Cargo.toml).
pub(crate) const WASMTIME_VERSION: &str = "48.0.8";

/// The cache file for a plugin digest: `<sha256 hex>-wasmtime48.0.8-<config tag>.cwasm`.
pub(crate) fn path_for(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join(format!(
        "{}-wasmtime{WASMTIME_VERSION}-{CONFIG_TAG}.cwasm",
        digest.hex()
    ))
}

/// Loads the compiled component for `digest` from the cache directory, if present and usable.
/// A file wasmtime rejects (other version or configuration, truncated) is ignored and removed.
#[allow(unsafe_code)]
pub(crate) fn load(engine: &Engine, dir: &Path, digest: &Digest) -> Option<Component> {
    let path = path_for(dir, digest);
    let bytes = std::fs::read(&path).ok()?;
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

/// Stores a compiled component under its digest, best effort: a cache that cannot be written
/// only costs a recompilation next time.
pub(crate) fn store(dir: &Path, digest: &Digest, component: &Component) {
    let Ok(bytes) = component.serialize() else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let path = path_for(dir, digest);
    let tmp = dir.join(format!(
        ".{}-{}-{:?}.tmp",
        digest.hex(),
        std::process::id(),
        std::thread::current().id()
    ));
    if std::fs::write(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, &path).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&tmp);
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
