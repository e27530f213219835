//! The `SecretSource` trait the compiler takes as an input, and the references it reads:
//! `SecretPath` (one secret, all its keys) and `SecretRef` (one key of it).

use std::fmt;
use std::sync::Arc;

use crate::error::SecretError;
use crate::value::{Secret, SecretValue};

/// Where a secret lives: slash-separated segments, mount first (`secret/payments`,
/// `kv1/legacy/db`). Leading and trailing slashes are dropped; empty, `.` and `..` segments,
/// backslashes and control characters are refused, so a path maps safely onto a URL and onto a
/// file under a root folder.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretPath(Arc<str>);

impl SecretPath {
    /// Validates and normalizes `path`.
    pub fn new(path: &str) -> Result<SecretPath, SecretError> {
        let invalid = |reason| SecretError::InvalidReference {
            path: path.to_owned(),
            reason,
        };
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            return Err(invalid("empty path"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid("control character in path"));
        }
        if trimmed.contains('\\') {
            return Err(invalid("backslash in path"));
        }
        for segment in trimmed.split('/') {
            match segment {
                "" => return Err(invalid("empty path segment")),
                "." | ".." => return Err(invalid("\".\" or \"..\" path segment")),
                _ => {}
            }
        }
        Ok(SecretPath(Arc::from(trimmed)))
    }

    /// The normalized path, without leading or trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's segments, mount first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for SecretPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One key of one secret: what `{{ vault "secret/payments" "password" }}` and
/// `valuesFrom: [{vault: {path: …, key: …}}]` name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    /// The secret.
    pub path: SecretPath,
    /// The key within it.
    pub key: String,
}

impl SecretRef {
    /// Validates `path` (see [`SecretPath::new`]) and `key` (not empty).
    pub fn new(path: &str, key: &str) -> Result<SecretRef, SecretError> {
        let path = SecretPath::new(path)?;
        if key.is_empty() {
            return Err(SecretError::InvalidReference {
                path: path.to_string(),
                reason: "empty key",
            });
        }
        Ok(SecretRef {
            path,
            key: key.to_owned(),
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.path, self.key)
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretRef({:?}, {:?})", self.path, self.key)
    }
}

/// A place secrets are read from: Vault/OpenBao ([`crate::VaultSource`]), a local folder
/// ([`crate::LocalSource`]), or a decorator around one ([`crate::ReadOnce`],
/// [`crate::Counting`]).
///
/// The API is synchronous and `Send + Sync`, so the compiler's rayon threads and the template
/// engine's (synchronous) functions call it directly; a backend that needs async I/O owns its
/// runtime (see `VaultSource`). The unit of reading is a whole secret path, because one Vault
/// read returns every key of a secret.
///
/// A compile wraps its source in [`crate::ReadOnce`] and prefetches the references it knows
/// ahead of time: each path is then read once, concurrently, however many clusters use it.
pub trait SecretSource: Send + Sync {
    /// Reads every key of the secret at `path`.
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError>;

    /// Reads several secrets, results in the order of `paths`. Backends that can, read them
    /// concurrently; the default reads one after another.
    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        paths.iter().map(|p| self.fetch(p)).collect()
    }

    /// Reads one key of one secret.
    fn read(&self, secret: &SecretRef) -> Result<SecretValue, SecretError> {
        self.fetch(&secret.path)?.get(&secret.key).cloned()
    }
}

impl<S: SecretSource + ?Sized> SecretSource for &S {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        (**self).fetch(path)
    }
    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        (**self).fetch_many(paths)
    }
}

impl<S: SecretSource + ?Sized> SecretSource for Box<S> {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        (**self).fetch(path)
    }
    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        (**self).fetch_many(paths)
    }
}

impl<S: SecretSource + ?Sized> SecretSource for Arc<S> {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        (**self).fetch(path)
    }
    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        (**self).fetch_many(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<&str, &str>) {
        let got = SecretPath::new(input)
            .map(|p| p.to_string())
            .map_err(|e| e.to_string());
        let expect = expect.map(str::to_owned).map_err(str::to_owned);
        assert_eq!(got, expect, "{input:?}");
    }

    #[test]
    fn paths() {
        check("secret/payments", Ok("secret/payments"));
        check("/secret/payments/", Ok("secret/payments"));
        check("secret", Ok("secret"));
        check("a b/ü-ñ", Ok("a b/ü-ñ"));
        check("", Err("invalid secret reference \"\": empty path"));
        check("///", Err("invalid secret reference \"///\": empty path"));
        check(
            "secret//payments",
            Err("invalid secret reference \"secret//payments\": empty path segment"),
        );
        check(
            "secret/../etc/passwd",
            Err("invalid secret reference \"secret/../etc/passwd\": \".\" or \"..\" path segment"),
        );
        check(
            "./x",
            Err("invalid secret reference \"./x\": \".\" or \"..\" path segment"),
        );
        check(
            "a\\b",
            Err("invalid secret reference \"a\\\\b\": backslash in path"),
        );
        check(
            "a\0b",
            Err("invalid secret reference \"a\\0b\": control character in path"),
        );
    }

    #[test]
    fn refs() {
        let r = SecretRef::new("/secret/payments", "password").unwrap();
        assert_eq!(r.to_string(), "secret/payments#password");
        assert_eq!(
            format!("{r:?}"),
            "SecretRef(\"secret/payments\", \"password\")"
        );
        assert_eq!(
            SecretRef::new("secret/payments", "")
                .unwrap_err()
                .to_string(),
            "invalid secret reference \"secret/payments\": empty key"
        );
    }
}
