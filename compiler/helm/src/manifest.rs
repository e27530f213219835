//! Rendered files into manifests and hooks, as Helm's `releaseutil` does: splitting at `---`,
//! reading each document's head (`apiVersion`, `kind`, `metadata.name`,
//! `metadata.annotations`), separating hooks, and sorting by kind in install order.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use gotemplate::Value;
use regex::Regex;

use crate::error::HelmError;
use crate::gostr::path_base;

/// Go's `(?:^|\s*\n)---\s*` (with Go's ASCII `\s`).
static SEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\t\n\f\r ]*\n)---[\t\n\f\r ]*").unwrap_or_else(|e| panic!("{e}"))
});

/// `releaseutil.SplitManifests`, in document order: the non-empty documents, trimmed.
pub fn split_manifests(big: &str) -> Vec<String> {
    let big = big.trim();
    go_split(&SEP, big)
        .into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_string())
        .collect()
}

/// `regexp.Regexp.Split(s, -1)`.
fn go_split<'a>(re: &Regex, s: &'a str) -> Vec<&'a str> {
    if s.is_empty() {
        return vec![""];
    }
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for m in re.find_iter(s) {
        end = m.start();
        if m.end() != 0 {
            out.push(&s[beg..end]);
        }
        beg = m.end();
    }
    if end != s.len() {
        out.push(&s[beg..]);
    }
    out
}

/// The order kinds are installed in (`releaseutil.InstallOrder`).
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// `SimpleHead`: what Helm reads of each document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    pub version: String,
    pub kind: String,
    pub name: String,
    /// `None` when the document has no `metadata`.
    pub has_metadata: bool,
    pub annotations: BTreeMap<String, String>,
}

/// A rendered document that is not a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The template it came from (`chart/templates/x.yaml`).
    pub name: String,
    pub content: String,
    pub head: Head,
}

/// A document annotated with `helm.sh/hook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    pub kind: String,
    pub path: String,
    pub manifest: String,
    pub events: Vec<String>,
    pub weight: i64,
    pub delete_policies: Vec<String>,
}

impl Hook {
    pub fn is_test(&self) -> bool {
        self.events.iter().any(|e| e == "test")
    }
}

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
];

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Float(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "array",
        _ => "object",
    }
}

fn head_error(path: &str, message: &str) -> HelmError {
    HelmError::Render(format!("YAML parse error on {path}: {message}"))
}

fn type_error(path: &str, v: &Value, field: &str, ty: &str) -> HelmError {
    head_error(
        path,
        &format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field {field} of type {ty}",
            json_kind(v)
        ),
    )
}

/// A scalar bound for a Go string field (`sigs.k8s.io/yaml` turns numbers and booleans into
/// strings first).
fn string_field(path: &str, v: &Value, field: &str) -> Result<String, HelmError> {
    match v {
        Value::Nil => Ok(String::new()),
        Value::String(s) => Ok(s.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(crate::chart::yaml_number_as_string(*f)),
        other => Err(type_error(path, other, field, "string")),
    }
}

/// Reads a document's head as `yaml.Unmarshal(doc, &SimpleHead{})` would.
pub fn parse_head(path: &str, doc: &str) -> Result<Head, HelmError> {
    let v = gotemplate::funcs::encoding::from_yaml(doc)
        .map_err(|e| head_error(path, &crate::chart::yaml_message(&e.message)))?;
    let mut head = Head::default();
    let root = match v {
        Value::Nil => return Ok(head),
        Value::Map(m) => m,
        other => {
            return Err(head_error(
                path,
                &format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type releaseutil.SimpleHead",
                    json_kind(&other)
                ),
            ));
        }
    };
    let field = |name: &str| {
        root.get(name).unwrap_or_else(|| {
            root.with(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Value::Nil)
            })
        })
    };
    head.version = string_field(path, &field("apiVersion"), "SimpleHead.apiVersion")?;
    head.kind = string_field(path, &field("kind"), "SimpleHead.kind")?;
    match field("metadata") {
        Value::Nil => {}
        Value::Map(md) => {
            head.has_metadata = true;
            let get = |name: &str| {
                md.get(name).unwrap_or_else(|| {
                    md.with(|m| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.clone())
                            .unwrap_or(Value::Nil)
                    })
                })
            };
            head.name = string_field(path, &get("name"), ".metadata.name")?;
            match get("annotations") {
                Value::Nil => {}
                Value::Map(a) => {
                    for (k, v) in a.entries() {
                        let s = string_field(path, &v, ".metadata.annotations")?;
                        head.annotations.insert(k, s);
                    }
                }
                other => {
                    return Err(type_error(
                        path,
                        &other,
                        ".metadata.annotations",
                        "map[string]string",
                    ));
                }
            }
        }
        other => {
            return Err(type_error(
                path,
                &other,
                "SimpleHead.metadata",
                "struct { Name string \"json:\\\"name\\\"\"; Annotations map[string]string \"json:\\\"annotations\\\"\" }",
            ));
        }
    }
    Ok(head)
}

/// How many document heads each thread remembers (about 1 KiB each beside its document).
const HEAD_MEMO_ENTRIES: usize = 4096;

thread_local! {
    /// Heads of documents this thread read before, by the document's text: charts rendered
    /// for many values sets print many identical documents (a CRD, a Service that depends only
    /// on the release name), and reading a head is a full YAML parse. Only successful reads
    /// are kept (an error names the template path, which the text does not determine).
    static HEAD_MEMO: std::cell::RefCell<std::collections::HashMap<Box<str>, Head>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`parse_head`], answered from this thread's memo when the same text was read before.
fn parse_head_memo(path: &str, doc: &str) -> Result<Head, HelmError> {
    if let Some(head) = HEAD_MEMO.with(|m| m.borrow().get(doc).cloned()) {
        return Ok(head);
    }
    let head = parse_head(path, doc)?;
    HEAD_MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= HEAD_MEMO_ENTRIES {
            m.clear();
        }
        m.insert(doc.into(), head.clone());
    });
    Ok(head)
}

/// `releaseutil.SortManifests` with `InstallOrder`: the hooks and the manifests of rendered
/// files (partials and blank files skipped), each sorted stably by kind.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Hook>, Vec<Manifest>), HelmError> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        if path_base(path).starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head = parse_head_memo(path, &doc)?;
            let Some(hook_types) = head.annotations.get("helm.sh/hook").cloned() else {
                generic.push(Manifest {
                    name: path.clone(),
                    content: doc,
                    head,
                });
                continue;
            };
            let weight = head
                .annotations
                .get("helm.sh/hook-weight")
                .and_then(|w| go_atoi(w))
                .unwrap_or(0);
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                let event = if t == "test-success" {
                    "test".to_string()
                } else {
                    t
                };
                if !HOOK_EVENTS.contains(&event.as_str()) {
                    unknown = true;
                    break;
                }
                events.push(event);
            }
            if unknown {
                // "info: skipping unknown hook"
                continue;
            }
            let delete_policies = head
                .annotations
                .get("helm.sh/hook-delete-policy")
                .map(|p| p.split(',').map(|s| s.trim().to_lowercase()).collect())
                .unwrap_or_default();
            hooks.push(Hook {
                name: head.name.clone(),
                kind: head.kind.clone(),
                path: path.clone(),
                manifest: doc,
                events,
                weight,
                delete_policies,
            });
        }
    }
    sort_by_kind(&mut hooks, |h| &h.kind);
    sort_by_kind(&mut generic, |m| &m.head.kind);
    Ok((hooks, generic))
}

/// `strconv.Atoi`.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `lessByKind`: known kinds in install order, then unknown kinds alphabetically; stable.
fn sort_by_kind<T>(items: &mut [T], kind: impl Fn(&T) -> &str) {
    let rank = |k: &str| INSTALL_ORDER.iter().position(|o| *o == k);
    items.sort_by(|a, b| {
        let (ka, kb) = (kind(a), kind(b));
        match (rank(ka), rank(kb)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => ka.cmp(kb),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_split(input: &str, expect: &[&str]) {
        assert_eq!(split_manifests(input), expect, "{input:?}");
    }

    #[test]
    fn splitting_follows_helm() {
        check_split("a: 1\n---\nb: 2\n", &["a: 1", "b: 2"]);
        // The first separator eats the newline the second one would need (as in Go).
        check_split("---\na: 1\n---\n---\nb: 2", &["a: 1", "---\nb: 2"]);
        check_split("\n\n---\n# Source: x\na: 1\n", &["# Source: x\na: 1"]);
        // `---` glued to text still splits (a Helm quirk).
        check_split("a: 1\n---b: 2", &["a: 1", "b: 2"]);
        // A `---` inside a line does not.
        check_split("a: x---y", &["a: x---y"]);
        check_split("", &[]);
        check_split("  \n", &[]);
    }

    #[test]
    fn remembered_heads_are_the_heads_read() {
        let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    helm.sh/hook: pre-install";
        for _ in 0..3 {
            assert_eq!(
                parse_head_memo("c/templates/a.yaml", doc).unwrap(),
                parse_head("c/templates/a.yaml", doc).unwrap()
            );
        }
        // A failure is not remembered: each read names its own template.
        let bad = "kind: [x";
        for path in ["c/templates/x.yaml", "c/templates/y.yaml"] {
            let memo = parse_head_memo(path, bad).unwrap_err().to_string();
            assert_eq!(memo, parse_head(path, bad).unwrap_err().to_string());
            assert!(memo.contains(path), "{memo}");
        }
    }

    #[test]
    fn kinds_sort_in_install_order() {
        let mut kinds = vec![
            "Deployment",
            "Zed",
            "Service",
            "Alpha",
            "Namespace",
            "Service",
        ];
        sort_by_kind(&mut kinds, |k| k);
        assert_eq!(
            kinds,
            [
                "Namespace",
                "Service",
                "Service",
                "Deployment",
                "Alpha",
                "Zed"
            ]
        );
    }
}
