//! `SecretError`: why a secret could not be read, naming the path and key, never a value.

use std::path::PathBuf;

use crate::source::SecretPath;

/// Why a secret could not be read.
///
/// Every variant names the secret path (and the key when one is involved); the caller adds the
/// service, cluster and template position. No variant ever carries plaintext: messages from
/// Vault are its error strings (which do not echo data), and YAML errors of local files keep only
/// a line and column, because the parser's own message quotes the file.
///
/// Errors are `Clone` so one failed read can be reported at every place that uses the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The reference itself is malformed (empty path, `..` segment, empty key, …).
    #[error("invalid secret reference {path:?}: {reason}")]
    InvalidReference { path: String, reason: &'static str },

    /// Nothing is stored at the path (or its latest KV v2 version is deleted).
    #[error("secret \"{path}\" not found")]
    NotFound { path: SecretPath },

    /// The secret exists but has no such key. `available` lists the key names it has.
    #[error("secret \"{path}\" has no key \"{key}\" ({})", list_keys(available))]
    MissingKey {
        path: SecretPath,
        key: String,
        available: Vec<String>,
    },

    /// The credentials in use may not read the path (Vault's 403, an unreadable file).
    #[error("permission denied reading secret \"{path}\"{}", detail_suffix(detail))]
    PermissionDenied {
        path: SecretPath,
        detail: Option<String>,
    },

    /// Logging in to Vault failed (bad AppRole role_id/secret_id, disabled auth mount, …).
    #[error("vault login ({method}) failed before reading secret \"{path}\": {message}")]
    Auth {
        path: SecretPath,
        method: &'static str,
        message: String,
    },

    /// The backend could not be reached or kept failing (connection refused, timeouts, 5xx),
    /// after the configured retries. A remote failure: the CLI exits with code 3.
    #[error(
        "secret backend {backend} unavailable reading secret \"{path}\" after {attempts} attempt{}: {message}",
        if *attempts == 1 { "" } else { "s" }
    )]
    Unavailable {
        path: SecretPath,
        backend: String,
        attempts: u32,
        message: String,
    },

    /// The backend answered something this crate cannot use: an unexpected status, a body that
    /// is not Vault's JSON, a local file that is not a YAML map.
    #[error("invalid secret \"{path}\": {message}")]
    Malformed { path: SecretPath, message: String },

    /// A local secret file could not be read for a reason other than absence or permissions.
    #[error("reading secret \"{path}\" from {}: {message}", file.display())]
    Io {
        path: SecretPath,
        file: PathBuf,
        message: String,
    },

    /// The source is misconfigured (bad `VAULT_ADDR`, unreadable CA file, TLS verification
    /// failure, missing credentials).
    #[error("secret source configuration: {message}")]
    Config { message: String },
}

/// The class of a [`SecretError`], for callers that map errors to exit codes or diagnostics
/// codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A malformed reference: a mistake in the fleet repository.
    InvalidReference,
    /// No secret at the path.
    NotFound,
    /// No such key in an existing secret.
    MissingKey,
    /// Not allowed to read.
    PermissionDenied,
    /// Login failed.
    Auth,
    /// The backend is down or failing: the CLI's exit code 3.
    Remote,
    /// Unusable data from the backend.
    Malformed,
    /// The source's configuration is wrong (address, TLS, credentials).
    Config,
}

impl SecretError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SecretError::InvalidReference { .. } => ErrorKind::InvalidReference,
            SecretError::NotFound { .. } => ErrorKind::NotFound,
            SecretError::MissingKey { .. } => ErrorKind::MissingKey,
            SecretError::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            SecretError::Auth { .. } => ErrorKind::Auth,
            SecretError::Unavailable { .. } | SecretError::Io { .. } => ErrorKind::Remote,
            SecretError::Malformed { .. } => ErrorKind::Malformed,
            SecretError::Config { .. } => ErrorKind::Config,
        }
    }

    /// Whether this is a remote failure (backend unreachable or failing): the CLI maps it to
    /// exit code 3; every other kind is a diagnostic of the compile (exit code 1).
    pub fn is_remote(&self) -> bool {
        self.kind() == ErrorKind::Remote
    }

    /// The secret path the error is about, when there is one.
    pub fn path(&self) -> Option<&SecretPath> {
        match self {
            SecretError::NotFound { path }
            | SecretError::MissingKey { path, .. }
            | SecretError::PermissionDenied { path, .. }
            | SecretError::Auth { path, .. }
            | SecretError::Unavailable { path, .. }
            | SecretError::Malformed { path, .. }
            | SecretError::Io { path, .. } => Some(path),
            SecretError::InvalidReference { .. } | SecretError::Config { .. } => None,
        }
    }

    /// The key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            SecretError::MissingKey { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> SecretError {
        SecretError::Config {
            message: message.into(),
        }
    }
}

fn list_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        "it has no keys".to_owned()
    } else {
        format!("its keys: {}", keys.join(", "))
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!(": {d}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> SecretPath {
        SecretPath::new(p).unwrap()
    }

    fn check(err: SecretError, kind: ErrorKind, expect: &str) {
        assert_eq!(err.kind(), kind);
        assert_eq!(err.to_string(), expect);
    }

    #[test]
    fn messages() {
        check(
            SecretError::NotFound {
                path: path("secret/payments"),
            },
            ErrorKind::NotFound,
            "secret \"secret/payments\" not found",
        );
        check(
            SecretError::MissingKey {
                path: path("secret/empty"),
                key: "password".into(),
                available: vec![],
            },
            ErrorKind::MissingKey,
            "secret \"secret/empty\" has no key \"password\" (it has no keys)",
        );
        check(
            SecretError::PermissionDenied {
                path: path("secret/payments"),
                detail: Some("permission denied".into()),
            },
            ErrorKind::PermissionDenied,
            "permission denied reading secret \"secret/payments\": permission denied",
        );
        check(
            SecretError::PermissionDenied {
                path: path("secret/payments"),
                detail: None,
            },
            ErrorKind::PermissionDenied,
            "permission denied reading secret \"secret/payments\"",
        );
        check(
            SecretError::Unavailable {
                path: path("secret/payments"),
                backend: "vault at http://127.0.0.1:1/".into(),
                attempts: 1,
                message: "connection refused".into(),
            },
            ErrorKind::Remote,
            "secret backend vault at http://127.0.0.1:1/ unavailable reading secret \
             \"secret/payments\" after 1 attempt: connection refused",
        );
        check(
            SecretError::InvalidReference {
                path: "a/../b".into(),
                reason: "\"..\" segment",
            },
            ErrorKind::InvalidReference,
            "invalid secret reference \"a/../b\": \"..\" segment",
        );
    }

    #[test]
    fn only_unavailable_and_io_are_remote() {
        let e = SecretError::Unavailable {
            path: path("a/b"),
            backend: "x".into(),
            attempts: 4,
            message: "m".into(),
        };
        assert!(e.is_remote());
        assert!(e.to_string().contains("after 4 attempts"));
        assert!(!SecretError::NotFound { path: path("a/b") }.is_remote());
    }
}
