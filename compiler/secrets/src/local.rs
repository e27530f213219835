//! `LocalSource`: secrets from a folder of YAML files, the default for laptops and demos.
//!
//! The secret at path `secret/payments` is the file `<root>/secret/payments.yaml`, a YAML map of
//! keys:
//!
//! ```yaml
//! password: hunter2
//! pin: 0012              # scalars are read as written: "0012", not 12
//! values.yaml: |         # a YAML fragment for `vaultYaml` / `valuesFrom`
//!   replicas: 2
//! ```
//!
//! Scalars keep their text exactly as written (`0012`, `yes`, `1.50`); an empty value or `~` is
//! the empty string. A value that is itself a map or list is read as its JSON text (valid YAML);
//! in a file holding such a value, the other scalars are read as YAML values (`0012` becomes
//! `12`), so quote them there.

use std::collections::BTreeMap;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::SecretError;
use crate::source::{SecretPath, SecretSource};
use crate::value::{Secret, SecretValue, plaintext_of_json};

/// Largest secret file read, in bytes.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// Secrets from `<root>/<path>.yaml` files. No I/O happens until a secret is fetched.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
}

impl LocalSource {
    /// Secrets under `root`.
    pub fn new(root: impl Into<PathBuf>) -> LocalSource {
        LocalSource { root: root.into() }
    }

    /// The folder secrets are read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding the secret at `path`.
    pub fn file_of(&self, path: &SecretPath) -> PathBuf {
        let mut file = self.root.clone();
        let mut segments = path.segments().peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_some() {
                file.push(segment);
            } else {
                file.push(format!("{segment}.yaml"));
            }
        }
        file
    }
}

impl SecretSource for LocalSource {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        let file = self.file_of(path);
        let io_error = |e: std::io::Error| match e.kind() {
            IoKind::NotFound | IoKind::NotADirectory => {
                SecretError::NotFound { path: path.clone() }
            }
            IoKind::PermissionDenied => SecretError::PermissionDenied {
                path: path.clone(),
                detail: Some(format!("cannot read {}", file.display())),
            },
            _ => SecretError::Io {
                path: path.clone(),
                file: file.clone(),
                message: e.to_string(),
            },
        };
        let meta = std::fs::metadata(&file).map_err(io_error)?;
        if meta.is_dir() {
            return Err(SecretError::NotFound { path: path.clone() });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(SecretError::Malformed {
                path: path.clone(),
                message: format!("{} is larger than {MAX_FILE_BYTES} bytes", file.display()),
            });
        }
        let bytes = Zeroizing::new(std::fs::read(&file).map_err(io_error)?);
        let text = std::str::from_utf8(&bytes).map_err(|_| SecretError::Malformed {
            path: path.clone(),
            message: format!("{} is not UTF-8", file.display()),
        })?;
        let keys = parse_keys(text).map_err(|message| SecretError::Malformed {
            path: path.clone(),
            message: format!("{}: {message}", file.display()),
        })?;
        Ok(Arc::new(Secret::new(path.clone(), keys)))
    }
}

/// Parses a secret file. The error is a line and column only: the YAML parser's own message
/// quotes the input, which is secret.
fn parse_keys(text: &str) -> Result<BTreeMap<String, SecretValue>, String> {
    // First as a map of scalars, keeping each scalar's text as written.
    if let Ok(flat) = serde_saphyr::from_str::<BTreeMap<String, Option<String>>>(text) {
        return Ok(flat
            .into_iter()
            .map(|(k, v)| (k, SecretValue::new(v.unwrap_or_default())))
            .collect());
    }
    match serde_saphyr::from_str::<BTreeMap<String, serde_json::Value>>(text) {
        Ok(nested) => Ok(nested
            .into_iter()
            .map(|(k, v)| (k, plaintext_of_json(v)))
            .collect()),
        Err(e) => Err(match e.location() {
            Some(at) => format!(
                "not a YAML map of keys (error at line {}, column {})",
                at.line(),
                at.column()
            ),
            None => "not a YAML map of keys".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, expect: &[(&str, &str)]) {
        let keys = parse_keys(yaml).unwrap_or_else(|e| panic!("{yaml:?}: {e}"));
        let got: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(got, expect, "{yaml:?}");
    }

    fn check_err(yaml: &str, expect: &str) {
        let err = parse_keys(yaml).unwrap_err();
        assert_eq!(err, expect, "{yaml:?}");
    }

    #[test]
    fn scalars_keep_their_text() {
        check("password: hunter2\n", &[("password", "hunter2")]);
        check(
            "a: 0012\nb: yes\nc: 1.50\nd: 0x1F\ne: .inf\nf: true\n",
            &[
                ("a", "0012"),
                ("b", "yes"),
                ("c", "1.50"),
                ("d", "0x1F"),
                ("e", ".inf"),
                ("f", "true"),
            ],
        );
        check(
            "a: ~\nb:\nc: null\nd: ''\n",
            &[("a", ""), ("b", ""), ("c", ""), ("d", "")],
        );
        check("q: \"two\\nlines\"\n", &[("q", "two\nlines")]);
        check(
            "values.yaml: |\n  replicas: 2\n  image: x\n",
            &[("values.yaml", "replicas: 2\nimage: x\n")],
        );
        check("", &[]);
        check("# only a comment\n", &[]);
    }

    #[test]
    fn nested_values_are_json() {
        check(
            "cfg: {x: 1}\nlist: [a, 2]\npin: 0012\n",
            &[("cfg", "{\"x\":1}"), ("list", "[\"a\",2]"), ("pin", "12.0")],
        );
    }

    #[test]
    fn errors_never_quote_the_file() {
        check_err(
            "password: [hunter2\n",
            "not a YAML map of keys (error at line 1, column 11)",
        );
        check_err(
            "- hunter2\n",
            "not a YAML map of keys (error at line 1, column 1)",
        );
        check_err(
            "a: hunter2\na: hunter3\n",
            "not a YAML map of keys (error at line 2, column 1)",
        );
        check_err(
            "hunter2",
            "not a YAML map of keys (error at line 1, column 1)",
        );
    }

    fn source() -> (tempfile::TempDir, LocalSource) {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let file = dir.path().join(rel);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        };
        write("secret/payments.yaml", "password: hunter2\nuser: pay\n");
        write(
            "secret/payments/helm.yaml",
            "values.yaml: |\n  replicas: 2\n",
        );
        write("secret/broken.yaml", "password: [hunter2\n");
        std::fs::create_dir_all(dir.path().join("secret/dir.yaml")).unwrap();
        let src = LocalSource::new(dir.path());
        (dir, src)
    }

    fn read(src: &LocalSource, path: &str, key: &str) -> Result<String, String> {
        let r = crate::SecretRef::new(path, key).map_err(|e| e.to_string())?;
        src.read(&r)
            .map(|v| v.expose().to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_files_under_root() {
        let (_dir, src) = source();
        assert_eq!(
            read(&src, "secret/payments", "password"),
            Ok("hunter2".into())
        );
        assert_eq!(read(&src, "/secret/payments/", "user"), Ok("pay".into()));
        assert_eq!(
            read(&src, "secret/payments/helm", "values.yaml"),
            Ok("replicas: 2\n".into())
        );
        assert_eq!(
            read(&src, "secret/payments", "pasword"),
            Err(
                "secret \"secret/payments\" has no key \"pasword\" (its keys: password, user)"
                    .into()
            )
        );
        assert_eq!(
            read(&src, "secret/nope", "k"),
            Err("secret \"secret/nope\" not found".into())
        );
        assert_eq!(
            read(&src, "nomount/deep/path", "k"),
            Err("secret \"nomount/deep/path\" not found".into())
        );
        assert_eq!(
            read(&src, "secret/dir", "k"),
            Err("secret \"secret/dir\" not found".into())
        );
        let broken = read(&src, "secret/broken", "password").unwrap_err();
        assert!(
            broken.starts_with("invalid secret \"secret/broken\": "),
            "{broken}"
        );
        assert!(
            broken.ends_with("broken.yaml: not a YAML map of keys (error at line 1, column 11)")
        );
        assert!(!broken.contains("hunter2"));
        assert_eq!(
            read(&src, "secret/../x", "k"),
            Err("invalid secret reference \"secret/../x\": \".\" or \"..\" path segment".into())
        );
    }
}
