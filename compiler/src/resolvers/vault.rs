//! Secrets in values: `{{ vault PATH KEY }}` (one key of a secret, as a string),
//! `{{ vaultYaml PATH KEY }}` (a key holding a YAML mapping, as a map) and
//! `valuesFrom: [{vault: {path, key}}]` (such mappings merged under the rendered values).
//!
//! A compile reads secrets through one [`Secrets`]: a `ReadOnce` over the configured
//! `SecretSource` (each path read once per compile, the paths known ahead prefetched
//! concurrently) and the [`Taint`] of every plaintext read, from which the compile's
//! `Redactor` is made. Every scalar of a YAML fragment is tainted, not only the fragment's
//! text. A render's [`SecretScope`] records whether it read a secret (its outcome is then not
//! persisted) and the first secret error (for the diagnostic's code and exit status).

use std::sync::{Arc, LazyLock, Mutex};

use gotemplate::funcs::encoding;
use gotemplate::{Func, FuncError, FuncMap, Map, Ty, Value};
use secrets::{ErrorKind, SecretError, SecretRef, SecretSource, SecretValue, Taint};

use crate::model::ValuesFrom;
use crate::resolvers::Scope;

/// The diagnostic code of a secret backend that could not be reached: exit code 3.
pub const REMOTE_CODE: &str = "secrets::unavailable";

/// The diagnostic code for a secret that could not be read, by the class of its error.
pub fn code_of(error: &SecretError) -> &'static str {
    match error.kind() {
        ErrorKind::Remote => REMOTE_CODE,
        ErrorKind::NotFound => "secrets::not-found",
        ErrorKind::MissingKey => "secrets::missing-key",
        ErrorKind::PermissionDenied => "secrets::permission-denied",
        ErrorKind::Auth => "secrets::auth",
        ErrorKind::InvalidReference => "secrets::invalid-reference",
        ErrorKind::Malformed => "secrets::malformed",
        ErrorKind::Config => "secrets::config",
    }
}

/// What a user can do about a secret that could not be read.
pub fn help_of(error: &SecretError) -> String {
    match error.kind() {
        ErrorKind::Remote => "the secret backend is unreachable or failing: check VAULT_ADDR and \
                              the server, then run again"
            .into(),
        ErrorKind::NotFound => "check the path: the mount first, then the secret \
                                (`secret/payments`); with the local source it is the file \
                                `secrets/<path>.yaml` of the fleet"
            .into(),
        ErrorKind::MissingKey => "check the key's spelling against the keys the secret has".into(),
        ErrorKind::PermissionDenied => "the credentials in use (VAULT_TOKEN or the AppRole) need \
                                        a policy granting `read` on this path"
            .into(),
        ErrorKind::Auth => "check VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID".into(),
        ErrorKind::InvalidReference => {
            "a secret path is the mount then the secret, separated by '/': `secret/payments`".into()
        }
        ErrorKind::Malformed | ErrorKind::Config => {
            "check the secret source's configuration (VAULT_ADDR, VAULT_CACERT, --secrets)".into()
        }
    }
}

/// The secrets of one compile: where they are read from, once each, and the taint of what was
/// read.
pub struct Secrets {
    source: Option<secrets::ReadOnce<Arc<dyn SecretSource>>>,
    taint: Mutex<Taint>,
    /// Keys read whose values are too short to be masked (`path#key`).
    short: Mutex<std::collections::BTreeSet<String>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("configured", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// Secrets from `source`, each path read at most once; `None` when no source is
    /// configured (every read is then an error saying so).
    pub fn new(source: Option<Arc<dyn SecretSource>>) -> Secrets {
        Secrets {
            source: source.map(secrets::ReadOnce::new),
            taint: Mutex::new(Taint::new()),
            short: Mutex::new(std::collections::BTreeSet::new()),
        }
    }

    /// Reads, concurrently when the source can, the distinct paths of `refs`; failures are
    /// remembered and reported where the secrets are used.
    pub fn prefetch(&self, refs: &[SecretRef]) {
        if let Some(source) = &self.source
            && !refs.is_empty()
        {
            source.prefetch(refs);
        }
    }

    /// Reads one key and taints its value.
    fn read(&self, secret: &SecretRef) -> Result<SecretValue, SecretError> {
        let Some(source) = &self.source else {
            return Err(SecretError::Config {
                message: format!(
                    "no secret source is configured, so secret \"{}\" cannot be read",
                    secret.path
                ),
            });
        };
        let value = source.read(secret)?;
        let length = value.expose().len();
        if length > 0 && length < secrets::redact::MIN_REDACTED {
            self.short
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(secret.to_string());
        }
        self.lock().insert_value(&value);
        Ok(value)
    }

    /// The keys read whose values are shorter than `secrets::redact::MIN_REDACTED` bytes, so
    /// that output cannot mask them (`path#key`, sorted).
    pub fn too_short(&self) -> Vec<String> {
        self.short
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Taint> {
        self.taint.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything read so far, in its redaction forms.
    pub fn taint(&self) -> Taint {
        self.lock().clone()
    }
}

/// What one render did with secrets.
#[derive(Debug, Default)]
struct Record {
    read: bool,
    error: Option<SecretError>,
}

/// One render's access to the compile's secrets.
#[derive(Debug)]
pub struct SecretScope {
    secrets: Arc<Secrets>,
    record: Mutex<Record>,
}

/// Why a secret could not be used as values.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Secret(SecretError),
    /// The key's value is not a YAML mapping. Only a line is given: the parser's own message
    /// would quote the secret.
    #[error("secret \"{path}\" key \"{key}\" is not a YAML mapping of values{}", line_suffix(*.line))]
    NotYaml {
        path: String,
        key: String,
        line: Option<usize>,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|n| format!(" (error at line {n})"))
        .unwrap_or_default()
}

impl ReadError {
    /// The secret error underneath, if it is one.
    pub fn secret_error(&self) -> Option<&SecretError> {
        match self {
            ReadError::Secret(e) => Some(e),
            ReadError::NotYaml { .. } => None,
        }
    }
}

impl SecretScope {
    pub fn new(secrets: Arc<Secrets>) -> SecretScope {
        SecretScope {
            secrets,
            record: Mutex::new(Record::default()),
        }
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the render read (or tried to read) a secret.
    pub fn read_any(&self) -> bool {
        self.record().read
    }

    /// The first secret error of the render.
    pub fn error(&self) -> Option<SecretError> {
        self.record().error.clone()
    }

    /// One key of a secret, as text.
    pub fn value(&self, path: &str, key: &str) -> Result<SecretValue, SecretError> {
        self.record().read = true;
        let result = SecretRef::new(path, key).and_then(|r| self.secrets.read(&r));
        if let Err(e) = &result {
            let mut record = self.record();
            if record.error.is_none() {
                record.error = Some(e.clone());
            }
        }
        result
    }

    /// A key holding a YAML mapping, as a map; every scalar in it is tainted.
    pub fn fragment(&self, path: &str, key: &str) -> Result<Map, ReadError> {
        let value = self.value(path, key).map_err(ReadError::Secret)?;
        let map =
            encoding::from_yaml_map(value.expose(), "map[string]interface {}").map_err(|e| {
                ReadError::NotYaml {
                    path: path.trim_matches('/').to_owned(),
                    key: key.to_owned(),
                    line: e.line,
                }
            })?;
        let mut taint = self.secrets.lock();
        taint_leaves(&Value::Map(map.clone()), &mut taint);
        Ok(map)
    }

    /// The fragments of `valuesFrom`, in order; the failing entry's index otherwise.
    pub fn values_from(&self, entries: &[ValuesFrom]) -> Result<Vec<Map>, (usize, ReadError)> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                self.fragment(&e.vault.path, &e.vault.key)
                    .map_err(|err| (i, err))
            })
            .collect()
    }
}

/// Taints every scalar leaf of a fragment (strings and numbers, as templates print them).
fn taint_leaves(value: &Value, taint: &mut Taint) {
    let mut stack = vec![value.clone()];
    let mut seen = 0usize;
    while let Some(v) = stack.pop() {
        seen += 1;
        if seen > 1_000_000 {
            return;
        }
        match v {
            Value::String(s) => taint.insert_derived(&s),
            Value::Int(i) => taint.insert_derived(&i.to_string()),
            Value::Float(f) => {
                taint.insert_derived(&gotemplate::gofmt::format_value(&Value::Float(f)))
            }
            Value::List(items) => stack.extend(items.iter().cloned()),
            Value::Map(m) => stack.extend(m.entries().into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// The values a chart gets: the `valuesFrom` fragments merged in order, then the rendered
/// values over them, as Helm merges several `-f` files (maps key by key, anything else
/// replaced by the later source). The rendered values win; a later fragment wins over an
/// earlier one.
pub fn merge_under(rendered: &Map, fragments: &[Map]) -> Map {
    if fragments.is_empty() {
        return rendered.clone();
    }
    let mut base = Map::new();
    for f in fragments {
        base = helm::values::merge_maps(&base, f);
    }
    helm::values::merge_maps(&base, rendered)
}

/// Adds `vault` and `vaultYaml`.
pub fn register(funcs: &mut FuncMap) {
    funcs.insert(
        "vault",
        Func::new(&[Ty::String, Ty::String], None, |ctx, args| {
            let scope = Scope::of(ctx).ok_or_else(unavailable)?;
            let (path, key) = path_and_key(args)?;
            let value = scope
                .secrets
                .value(path, key)
                .map_err(|e| FuncError::new(e.to_string()))?;
            Ok(Value::string(value.expose()))
        }),
    );
    funcs.insert(
        "vaultYaml",
        Func::new(&[Ty::String, Ty::String], None, |ctx, args| {
            let scope = Scope::of(ctx).ok_or_else(unavailable)?;
            let (path, key) = path_and_key(args)?;
            let map = scope
                .secrets
                .fragment(path, key)
                .map_err(|e| FuncError::new(e.to_string()))?;
            Ok(Value::Map(map))
        }),
    );
}

fn unavailable() -> FuncError {
    FuncError::new("secrets can only be read in a service's values template")
}

fn path_and_key(args: &[Value]) -> Result<(&str, &str), FuncError> {
    match args {
        [path, key] => match (path.as_str(), key.as_str()) {
            (Some(p), Some(k)) => Ok((p, k)),
            _ => Err(FuncError::new("expected a secret path and a key")),
        },
        _ => Err(FuncError::new("expected a secret path and a key")),
    }
}

/// The `vault`/`vaultYaml` calls of a template whose path and key are literals: what can be
/// prefetched before rendering. Other calls are read when they run.
pub fn literal_refs(template: &str) -> Vec<SecretRef> {
    static CALL: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r#"\bvault(?:Yaml)?\s+"((?:[^"\\\n]|\\.)*)"\s+"((?:[^"\\\n]|\\.)*)""#)
            .ok()
    });
    let Some(call) = CALL.as_ref() else {
        return Vec::new();
    };
    call.captures_iter(template)
        .filter_map(|c| SecretRef::new(c.get(1)?.as_str(), c.get(2)?.as_str()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use gotemplate::{ExecOptions, Template};
    use secrets::{Secret, SecretPath};

    /// An in-memory source.
    struct Memory(BTreeMap<&'static str, BTreeMap<&'static str, &'static str>>);

    impl SecretSource for Memory {
        fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
            let keys = self
                .0
                .get(path.as_str())
                .ok_or_else(|| SecretError::NotFound { path: path.clone() })?;
            Ok(Arc::new(Secret::new(
                path.clone(),
                keys.iter()
                    .map(|(k, v)| ((*k).to_owned(), SecretValue::from(*v)))
                    .collect(),
            )))
        }
    }

    fn secrets() -> Arc<Secrets> {
        let source = Memory(BTreeMap::from([
            (
                "secret/payments",
                BTreeMap::from([("password", "PLAIN-pw"), ("user", "pay")]),
            ),
            (
                "secret/payments/helm",
                BTreeMap::from([
                    (
                        "values.yaml",
                        "replicas: 3\nimage: {tag: PLAIN-tag}\nport: 8443\n",
                    ),
                    ("broken", "a: [PLAIN-broken\n"),
                    ("list", "- PLAIN-item\n"),
                ]),
            ),
        ]));
        Arc::new(Secrets::new(Some(Arc::new(source))))
    }

    fn render(text: &str, secrets: &Arc<Secrets>) -> Result<String, String> {
        let mut funcs = FuncMap::helm();
        register(&mut funcs);
        let mut t = Template::new(Arc::new(funcs));
        t.parse("t", text).map_err(|e| e.to_string())?;
        let options = ExecOptions {
            extension: Some(Arc::new(Scope::new(
                crate::resolvers::RenderScope {
                    cluster: Arc::new(serde_json::Value::Null),
                    service: Arc::from("test"),
                },
                secrets,
            ))),
            ..ExecOptions::default()
        };
        t.execute("t", &Value::Nil, &options)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn functions_read_keys_and_fragments() {
        let s = secrets();
        let check = |text: &str, expect: Result<&str, &str>| {
            let expect = expect.map(str::to_owned).map_err(str::to_owned);
            assert_eq!(render(text, &s), expect, "{text}");
        };
        check(
            r#"{{ vault "secret/payments" "password" }}"#,
            Ok("PLAIN-pw"),
        );
        check(
            r#"{{ vault "secret/payments" "password" | b64enc }}"#,
            Ok("UExBSU4tcHc="),
        );
        check(
            r#"{{ vaultYaml "secret/payments/helm" "values.yaml" | toYaml }}"#,
            Ok("image:\n  tag: PLAIN-tag\nport: 8443\nreplicas: 3"),
        );
        check(
            r#"{{ (vaultYaml "secret/payments/helm" "values.yaml").image.tag }}"#,
            Ok("PLAIN-tag"),
        );
        check(
            r#"{{ vault "secret/nope" "k" }}"#,
            Err(
                "template: t:1:3: executing \"t\" at <vault \"secret/nope\" \"k\">: error calling vault: secret \"secret/nope\" not found",
            ),
        );
        check(
            r#"{{ vault "secret/payments" "pasword" }}"#,
            Err(
                "template: t:1:3: executing \"t\" at <vault \"secret/payments\" \"pasword\">: error calling vault: secret \"secret/payments\" has no key \"pasword\" (its keys: password, user)",
            ),
        );
        check(
            r#"{{ vaultYaml "secret/payments/helm" "broken" }}"#,
            Err(
                "template: t:1:3: executing \"t\" at <vaultYaml \"secret/payments/helm\" \"broken\">: error calling vaultYaml: secret \"secret/payments/helm\" key \"broken\" is not a YAML mapping of values (error at line 2)",
            ),
        );
        check(
            r#"{{ vaultYaml "secret/payments/helm" "list" }}"#,
            Err(
                "template: t:1:3: executing \"t\" at <vaultYaml \"secret/payments/helm\" \"list\">: error calling vaultYaml: secret \"secret/payments/helm\" key \"list\" is not a YAML mapping of values",
            ),
        );
        check(
            r#"{{ vault "secret/../x" "k" }}"#,
            Err(
                "template: t:1:3: executing \"t\" at <vault \"secret/../x\" \"k\">: error calling vault: invalid secret reference \"secret/../x\": \".\" or \"..\" path segment",
            ),
        );
        // Everything read is tainted: the value, its base64, and every scalar of a fragment.
        let r = s.taint().redactor();
        let shown = r.redact("PLAIN-pw UExBSU4tcHc= PLAIN-tag 8443 3 pay");
        assert!(!shown.contains("PLAIN"), "{shown}");
        assert!(!shown.contains("8443"), "{shown}");
        assert!(shown.ends_with(" 3 pay"), "{shown}");
    }

    #[test]
    fn without_a_scope_or_a_source_reads_fail() {
        let mut funcs = FuncMap::helm();
        register(&mut funcs);
        let mut t = Template::new(Arc::new(funcs));
        t.parse("t", r#"{{ vault "a/b" "c" }}"#).unwrap();
        let err = t
            .execute("t", &Value::Nil, &ExecOptions::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("secrets can only be read in a service's values template"),
            "{err}"
        );
        let none = Arc::new(Secrets::new(None));
        assert_eq!(
            render(r#"{{ vault "a/b" "c" }}"#, &none).unwrap_err(),
            "template: t:1:3: executing \"t\" at <vault \"a/b\" \"c\">: error calling vault: secret source configuration: no secret source is configured, so secret \"a/b\" cannot be read"
        );
    }

    #[test]
    fn fragments_merge_under_the_rendered_values() {
        let map = |yaml: &str| encoding::from_yaml_map(yaml, "map").unwrap();
        let merged = merge_under(
            &map("a: rendered\nnested: {x: 1}\n"),
            &[
                map("a: first\nb: first\nnested: {w: 1, z: 1}\nc: first\n"),
                map("b: second\nnested: {z: 2}\n"),
            ],
        );
        assert_eq!(
            encoding::to_yaml(&Value::Map(merged)).unwrap(),
            "a: rendered\nb: second\nc: first\nnested:\n  w: 1\n  x: 1\n  z: 2\n"
        );
    }

    #[test]
    fn literal_calls_are_found_for_prefetching() {
        let refs = literal_refs(
            r#"a: {{ vault "secret/a" "k" }}
b: {{ vaultYaml  "secret/b" "v.yaml" | toYaml }}
c: {{ vault (printf "secret/%s" .Cluster.name) "k" }}
d: {{ vault "bad/../path" "k" }}"#,
        );
        let shown: Vec<String> = refs.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["secret/a#k", "secret/b#v.yaml"]);
    }
}
