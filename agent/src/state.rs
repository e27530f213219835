//! The agent's state dir: the manifests it has (`objects/<hex>`, by digest), what it applied
//! last (`applied.json`), and its refreshed credentials (`token`, `vault-secret-id`, mode
//! 0600). Every file is written whole (a temporary file renamed over), so a restart finds
//! either the old state or the new one.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use plan::Digest;
use plan::agent::Bundle;
use serde::{Deserialize, Serialize};

use crate::AgentError;

/// What was applied last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The bundle applied last (none yet: `None`).
    #[serde(default)]
    pub bundle: Option<Bundle>,
    /// Release → the manifest applied for it.
    #[serde(default)]
    pub releases: BTreeMap<String, Digest>,
    /// Unix seconds of the last full apply (the resync's clock).
    #[serde(default)]
    pub applied_at: u64,
}

/// The state dir.
#[derive(Debug, Clone)]
pub struct State {
    dir: PathBuf,
}

impl State {
    pub fn open(dir: &Path) -> Result<State, AgentError> {
        std::fs::create_dir_all(dir.join("objects")).map_err(|e| io(dir, e))?;
        Ok(State {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn object_path(&self, d: &Digest) -> PathBuf {
        self.dir.join("objects").join(d.hex())
    }

    /// A manifest the agent has, checked against its digest (a damaged file is `None`).
    pub fn object(&self, d: &Digest) -> Option<String> {
        let bytes = std::fs::read(self.object_path(d)).ok()?;
        (Digest::of(&bytes) == *d).then(|| String::from_utf8(bytes).ok())?
    }

    pub fn has(&self, d: &Digest) -> bool {
        self.object(d).is_some()
    }

    pub fn put_object(&self, d: &Digest, bytes: &[u8]) -> Result<(), AgentError> {
        write_file(&self.object_path(d), bytes, false)
    }

    /// Removes the manifests no longer named by `keep`.
    pub fn prune(&self, keep: &BTreeSet<Digest>) {
        let Ok(entries) = std::fs::read_dir(self.dir.join("objects")) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let listed = Digest::from_hex(&name).is_some_and(|d| keep.contains(&d));
            if !listed {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    pub fn applied(&self) -> Applied {
        std::fs::read(self.dir.join("applied.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, applied: &Applied) -> Result<(), AgentError> {
        let mut body = serde_json::to_vec_pretty(applied).unwrap_or_default();
        body.push(b'\n');
        write_file(&self.dir.join("applied.json"), &body, false)
    }
}

fn io(path: &Path, e: std::io::Error) -> AgentError {
    AgentError::State(format!("{}: {e}", path.display()))
}

/// Writes `bytes` to `path` whole: a temporary file beside it, synced, renamed over.
pub(crate) fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), AgentError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = options.open(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// Writes a credential (mode 0600), whole.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    write_file(path, bytes, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_checked_against_their_digest_and_pruned() {
        let tmp = tempfile::tempdir().expect("a folder");
        let state = State::open(tmp.path()).expect("state");
        let a = Digest::of(b"kind: A\n");
        let b = Digest::of(b"kind: B\n");
        state.put_object(&a, b"kind: A\n").expect("written");
        state.put_object(&b, b"kind: B\n").expect("written");
        assert_eq!(state.object(&a).as_deref(), Some("kind: A\n"));
        // A damaged copy is not trusted.
        std::fs::write(tmp.path().join("objects").join(b.hex()), "kind: C\n").expect("damage");
        assert!(!state.has(&b));
        state.prune(&[a].into_iter().collect());
        assert!(state.has(&a));
        assert!(!tmp.path().join("objects").join(b.hex()).exists());
        assert_eq!(state.applied(), Applied::default());
    }
}
