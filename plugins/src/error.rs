//! Errors as data: what went wrong loading a plugin folder, and what went wrong in one call.

use std::fmt;
use std::path::PathBuf;

/// One plugin call failed. Names the plugin (and the digest of its bytes); the caller adds the
/// service, the cluster and the template position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PluginError {
    /// The plugin's name (`plugins/<name>.wasm`).
    pub plugin: String,
    /// `sha256:` and the first 12 hex digits of the plugin's bytes, when it was loaded.
    pub digest: Option<String>,
    pub kind: ErrorKind,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "from plugin {:?}", self.plugin)?;
        if let Some(digest) = &self.digest {
            write!(f, " ({digest})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// What kind of failure a [`PluginError`] is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// No plugin of that name was loaded.
    #[error("no such plugin (the fleet's plugins are: {})", list_or_none(.known))]
    NotFound { known: Vec<String> },
    /// The plugin returned its `err` branch: the message is the plugin's own.
    #[error("{0}")]
    Guest(String),
    /// The plugin trapped (`unreachable`, a bad memory access, a stack overflow, an exit).
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin used up its fuel (deterministic CPU budget).
    #[error("ran out of fuel after {fuel} units (raise `fuel` in its limits file)")]
    OutOfFuel { fuel: u64 },
    /// The plugin ran longer than its wall-clock budget.
    #[error("timed out after {ms} ms (raise `timeoutMs` in its limits file)")]
    Timeout { ms: u64 },
    /// The plugin tried to grow its memory past its limit.
    #[error("exceeded its memory limit of {mib} MiB (raise `memoryMiB` in its limits file)")]
    MemoryLimit { mib: u64 },
    /// The plugin's `ok` text was longer than `maxOutputBytes`.
    #[error("returned {len} bytes, more than its limit of {limit} (`maxOutputBytes`)")]
    OutputTooLarge { len: usize, limit: usize },
    /// The plugin's `ok` text is not JSON.
    #[error("returned invalid JSON: {0}")]
    BadJson(String),
    /// The request could not be encoded as JSON.
    #[error("could not encode the request: {0}")]
    BadRequest(String),
    /// The plugin could not be instantiated (a start function failed, pool exhausted, …).
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// A plugin file of a fleet's `plugins/` folder could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub kind: LoadErrorKind,
}

/// What kind of failure a [`LoadError`] is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadErrorKind {
    #[error("{0}")]
    Io(String),
    /// The limits file does not parse or holds an out-of-range value.
    #[error("bad limits file: {0}")]
    Limits(String),
    /// The file is not a valid WebAssembly component.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component does not implement the contract, or imports what the host does not offer.
    #[error("does not implement flotilla:plugin/resolver@{version}: {0}", version = crate::CONTRACT_VERSION)]
    Contract(String),
    /// A plugin name must be lowercase letters, digits, `-` and `_`, starting with a letter.
    #[error("bad plugin name {0:?} (use lowercase letters, digits, `-` and `_`)")]
    BadName(String),
    /// A limits file with no plugin beside it.
    #[error("limits file without a plugin (expected {0})")]
    Orphan(String),
    /// The host's engine could not be set up.
    #[error("the plugin host could not start: {0}")]
    Host(String),
}

/// All the load errors of one `plugins/` folder (every broken file is reported, not only the
/// first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Shortens a guest-provided message to at most `max` bytes, on a character boundary.
pub(crate) fn truncate_message(mut msg: String, max: usize) -> String {
    if msg.len() > max {
        let mut cut = max;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
        msg.push_str("… (truncated)");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: PluginError, expect: &str) {
        assert_eq!(err.to_string(), expect);
    }

    fn named(kind: ErrorKind) -> PluginError {
        PluginError {
            plugin: "netalloc".into(),
            digest: Some("sha256:0123456789ab".into()),
            kind,
        }
    }

    #[test]
    fn messages() {
        check(
            named(ErrorKind::Guest("no free subnet".into())),
            "from plugin \"netalloc\" (sha256:0123456789ab): no free subnet",
        );
        check(
            named(ErrorKind::OutOfFuel { fuel: 1000 }),
            "from plugin \"netalloc\" (sha256:0123456789ab): ran out of fuel after 1000 units \
             (raise `fuel` in its limits file)",
        );
        check(
            PluginError {
                plugin: "nope".into(),
                digest: None,
                kind: ErrorKind::NotFound { known: vec![] },
            },
            "from plugin \"nope\": no such plugin (the fleet's plugins are: none)",
        );
        check(
            PluginError {
                plugin: "nope".into(),
                digest: None,
                kind: ErrorKind::NotFound {
                    known: vec!["a".into(), "b".into()],
                },
            },
            "from plugin \"nope\": no such plugin (the fleet's plugins are: a, b)",
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_message("héllo".into(), 2), "h… (truncated)");
        assert_eq!(truncate_message("héllo".into(), 3), "hé… (truncated)");
        assert_eq!(truncate_message("hello".into(), 5), "hello");
        assert_eq!(truncate_message(String::new(), 0), "");
    }
}
