//! Secret plaintext that never prints itself: `SecretValue`, its `Digest`, and `Secret` (the keys
//! of one secret path).

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

use crate::error::SecretError;
use crate::source::SecretPath;

// The SHA-256 of a secret's plaintext (the workspace's one digest type). Safe to print, store
// and compare: plans record it so a change of a secret shows as a change of digest, never as
// text. A digest of a low-entropy secret (a short password) can be brute-forced, so digests
// belong in plans and logs read by the people who may know the secret's existence, not in
// public.
pub use plan::Digest;

/// The plaintext of one key of a secret.
///
/// It never prints itself: `Debug` and `Display` show `<secret sha256:0123456789ab>` (see
/// [`Digest`]). The plaintext is reachable only through [`SecretValue::expose`], and the memory
/// holding it is zeroed when the value is dropped (clones are independent, each zeroed).
/// There is deliberately no `Serialize`, `Deref` or `AsRef<str>`.
#[derive(Clone)]
pub struct SecretValue {
    plain: Zeroizing<String>,
    digest: Digest,
}

impl SecretValue {
    /// Wraps a plaintext. The string is moved, not copied.
    pub fn new(plain: String) -> SecretValue {
        let digest = Digest::of(plain.as_bytes());
        SecretValue {
            plain: Zeroizing::new(plain),
            digest,
        }
    }

    /// The plaintext. Every use is a deliberate, greppable act.
    pub fn expose(&self) -> &str {
        &self.plain
    }

    /// The SHA-256 of the plaintext.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

impl From<String> for SecretValue {
    fn from(plain: String) -> SecretValue {
        SecretValue::new(plain)
    }
}

impl From<&str> for SecretValue {
    fn from(plain: &str) -> SecretValue {
        SecretValue::new(plain.to_owned())
    }
}

impl PartialEq for SecretValue {
    fn eq(&self, other: &SecretValue) -> bool {
        self.digest == other.digest && *self.plain == *other.plain
    }
}

impl Eq for SecretValue {}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<secret sha256:{}>", self.digest.short())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Every key of one secret path (one Vault read, one local file): what a source fetches.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    path: SecretPath,
    keys: BTreeMap<String, SecretValue>,
}

impl Secret {
    /// A secret at `path` with these keys.
    pub fn new(path: SecretPath, keys: BTreeMap<String, SecretValue>) -> Secret {
        Secret { path, keys }
    }

    /// Where it was read from.
    pub fn path(&self) -> &SecretPath {
        &self.path
    }

    /// The value of `key`, or [`SecretError::MissingKey`] naming the key and listing the keys
    /// the secret does have (names only).
    pub fn get(&self, key: &str) -> Result<&SecretValue, SecretError> {
        self.keys.get(key).ok_or_else(|| SecretError::MissingKey {
            path: self.path.clone(),
            key: key.to_owned(),
            available: self.keys.keys().cloned().collect(),
        })
    }

    /// The key names, sorted.
    pub fn key_names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the secret has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("path", &self.path)
            .field("keys", &self.keys)
            .finish()
    }
}

/// Turns one JSON value of a secret's data into its plaintext: a string is itself, null is the
/// empty string, anything else (number, boolean, list, map) is its compact JSON text, which is
/// also valid YAML.
pub(crate) fn plaintext_of_json(value: serde_json::Value) -> SecretValue {
    match value {
        serde_json::Value::String(s) => SecretValue::new(s),
        serde_json::Value::Null => SecretValue::new(String::new()),
        other => SecretValue::new(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_display(plain: &str, expect: &str) {
        let v = SecretValue::from(plain);
        assert_eq!(v.to_string(), expect);
        assert_eq!(format!("{v:?}"), expect);
        assert_eq!(format!("{v:#?}"), expect);
        assert_eq!(v.expose(), plain);
    }

    #[test]
    fn values_print_their_digest_only() {
        // sha256("hunter2") = f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7
        check_display("hunter2", "<secret sha256:f52fbd32b2b3>");
        // sha256("") = e3b0c442 98fc1c14 ...
        check_display("", "<secret sha256:e3b0c44298fc>");
    }

    #[test]
    fn digest_full_and_short() {
        let d = Digest::of(b"hunter2");
        assert_eq!(
            d.to_string(),
            "sha256:f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7"
        );
        assert_eq!(d.short(), "f52fbd32b2b3");
        assert_eq!(Digest::from_hex(&d.hex()), Some(d));
        assert_eq!(Digest::from_hex("f52f"), None);
        assert_eq!(Digest::from_hex(&"g".repeat(64)), None);
        assert_eq!(d.hex().len(), 64);
    }

    #[test]
    fn secret_debug_hides_values() {
        let path = SecretPath::new("secret/payments").unwrap();
        let keys = BTreeMap::from([("password".to_owned(), SecretValue::from("hunter2"))]);
        let s = Secret::new(path, keys);
        let dbg = format!("{s:?} {s:#?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("password"), "{dbg}");
    }

    #[test]
    fn missing_key_lists_names_not_values() {
        let path = SecretPath::new("secret/payments").unwrap();
        let keys = BTreeMap::from([
            ("password".to_owned(), SecretValue::from("hunter2")),
            ("user".to_owned(), SecretValue::from("pay")),
        ]);
        let err = Secret::new(path, keys).get("pasword").unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret \"secret/payments\" has no key \"pasword\" (its keys: password, user)"
        );
    }

    #[test]
    fn json_plaintexts() {
        let check = |json: &str, expect: &str| {
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(plaintext_of_json(v).expose(), expect, "{json}");
        };
        check(r#""hunter2""#, "hunter2");
        check(r#""multi\nline\n""#, "multi\nline\n");
        check("5432", "5432");
        check("1.5", "1.5");
        check("true", "true");
        check("null", "");
        check(r#"{ "a": [1, "x"] }"#, r#"{"a":[1,"x"]}"#);
    }
}
