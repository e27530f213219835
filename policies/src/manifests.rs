//! Rules over rendered manifests (`policies/manifests.yaml`): for every Kubernetes object a
//! release renders on a cluster, each rule whose `match` holds must `validate`, or the object
//! violates it; a `deny` violation stops the plan, a `warn` one is reported.
//!
//! An expression that fails to evaluate (a missing field not guarded with `has()`, an object
//! too large for the rule's cost limit) counts as a violation carrying the error: rules fail
//! closed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use cel::Value;
use serde::Serialize;
use syntax::fields::FieldDef;
use syntax::model::{ClusterSpec, Embedded};
use syntax::yaml::Node;
use targeting::{self, Outcome};

use crate::expr::{self, Expr, Frame, Place};
use crate::yaml_cx::{CelFields as _, Cx, first_definition};

/// What a violation does to the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// The plan is refused.
    Deny,
    /// The plan goes on; the violation is reported.
    Warn,
}

impl fmt::Display for RuleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleAction::Deny => "deny",
            RuleAction::Warn => "warn",
        })
    }
}

/// `policies/manifests.yaml`, loaded.
#[derive(Debug, Default)]
pub struct ManifestRules {
    /// The file it was read from, relative to the fleet root.
    pub file: String,
    pub rules: Vec<Rule>,
    /// What the rules read of `cluster` and `release`, found once.
    reads: std::sync::OnceLock<Reads>,
}

#[derive(Debug)]
pub struct Rule {
    pub name: String,
    /// `None`: every object.
    pub matches: Option<Expr>,
    /// The kinds `matches` can hold for ([`Expr::object_kinds`]): other objects skip the rule
    /// without running it.
    pub kinds: Option<BTreeSet<String>>,
    pub validate: Expr,
    /// `None`: a message naming the rule.
    pub message: Option<Message>,
    pub action: RuleAction,
    pub span: Range<usize>,
}

/// A message with `{{ expression }}` parts.
#[derive(Debug)]
pub struct Message {
    pub parts: Vec<Part>,
}

#[derive(Debug)]
pub enum Part {
    Text(String),
    Expr(Expr),
}

const fn field(name: &'static str, required: bool) -> FieldDef {
    FieldDef {
        name,
        required,
        fields: &[],
    }
}

/// The fields of a rule.
pub const RULE_FIELDS: &[FieldDef] = &[
    field("name", true),
    field("match", false),
    field("validate", true),
    field("message", false),
    field("action", false),
];

/// The fields of `policies/manifests.yaml` (for lists, `fields` are those of each item).
pub const MANIFEST_FIELDS: &[FieldDef] = &[FieldDef {
    name: "rules",
    required: false,
    fields: RULE_FIELDS,
}];

/// Reads `policies/manifests.yaml` (or a rules file of `policies/rules/`); problems go to the
/// report.
pub(crate) fn load(cx: &mut Cx<'_, '_>) -> ManifestRules {
    let mut out = ManifestRules {
        file: cx.file.to_owned(),
        ..ManifestRules::default()
    };
    let Some(root) = cx.root() else {
        return out;
    };
    let Some(fields) = cx.fields(&root, MANIFEST_FIELDS, "the manifest rules") else {
        return out;
    };
    let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    if let Some(e) = fields.get("rules")
        && let Some(items) = cx.list(&e.value, "`rules`")
    {
        for item in items {
            if let Some(rule) = rule(cx, item, &mut seen) {
                out.rules.push(rule);
            }
        }
    }
    out
}

fn rule(
    cx: &mut Cx<'_, '_>,
    node: &Node,
    seen: &mut BTreeMap<String, Range<usize>>,
) -> Option<Rule> {
    let f = cx.fields(node, RULE_FIELDS, "a rule")?;
    let name_node = &f.get("name")?.value;
    let name = cx.non_empty(name_node, "the rule's `name`")?;
    let mut ok = first_definition(
        cx,
        seen,
        &name,
        name_node.span.clone(),
        "manifests::duplicate-rule",
        "rule",
    );
    let matches = match f.get("match") {
        Some(e) => {
            let m = cx.cel(&e.value, Place::Match, "`match`");
            ok &= m.is_some();
            m
        }
        None => None,
    };
    let validate = f
        .get("validate")
        .and_then(|e| cx.cel(&e.value, Place::Validate, "`validate`"));
    let message = match f.get("message") {
        Some(e) => {
            let m = cx
                .string(&e.value, "`message`")
                .and_then(|text| message(cx, &e.value, text));
            ok &= m.is_some();
            m
        }
        None => None,
    };
    let action = match f.get("action") {
        None => RuleAction::Deny,
        Some(e) => match e.value.as_str() {
            Some("deny") => RuleAction::Deny,
            Some("warn") => RuleAction::Warn,
            _ => {
                cx.error(
                    "manifests::action",
                    format!(
                        "`action` must be `deny` or `warn`, found `{}`",
                        cx.text.get(e.value.span.clone()).unwrap_or("").trim()
                    ),
                    e.value.span.clone(),
                    "not deny or warn",
                    Some("`deny` refuses the plan, `warn` reports and goes on".into()),
                );
                ok = false;
                RuleAction::Deny
            }
        },
    };
    let validate = validate?;
    let kinds = matches.as_ref().and_then(Expr::object_kinds);
    ok.then_some(Rule {
        name,
        kinds,
        matches,
        validate,
        message,
        action,
        span: name_node.span.clone(),
    })
}

/// Splits a message into text and `{{ expression }}` parts, compiling each expression.
fn message(cx: &mut Cx<'_, '_>, node: &Node, text: String) -> Option<Message> {
    let embedded: Embedded = cx.embedded(node, text);
    let text = embedded.text.as_str();
    let mut parts = Vec::new();
    let mut ok = true;
    let mut rest = 0usize;
    while let Some(open) = text[rest..].find("{{").map(|i| rest + i) {
        if open > rest {
            parts.push(Part::Text(text[rest..open].to_owned()));
        }
        let inner_start = open + 2;
        let Some(close) = text[inner_start..].find("}}").map(|i| inner_start + i) else {
            cx.error(
                "manifests::message",
                "`{{` is never closed with `}}`",
                embedded.file_range(open..open + 2),
                "opened here",
                Some(
                    "write `{{ object.metadata.name }}`, or `{{ \"{{\" }}` for a literal `{{`"
                        .into(),
                ),
            );
            return None;
        };
        let inner = &text[inner_start..close];
        let lead = inner.len() - inner.trim_start().len();
        let range = inner_start + lead..inner_start + inner.trim_end().len();
        if range.is_empty() {
            cx.error(
                "manifests::message",
                "`{{ }}` holds no expression",
                embedded.file_range(open..close + 2),
                "empty",
                Some("put a CEL expression inside, e.g. `{{ object.metadata.name }}`".into()),
            );
            ok = false;
        } else {
            match cx.cel_in(&embedded, range, Place::Message) {
                Some(e) => parts.push(Part::Expr(e)),
                None => ok = false,
            }
        }
        rest = close + 2;
    }
    if rest < text.len() {
        parts.push(Part::Text(text[rest..].to_owned()));
    }
    ok.then_some(Message { parts })
}

/// What a rule set reads of `cluster` and `release`: field names, or `None` for all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Reads {
    cluster: Option<BTreeSet<String>>,
    release: Option<BTreeSet<String>>,
}

impl ManifestRules {
    fn reads(&self) -> &Reads {
        self.reads.get_or_init(|| {
            let fields = |var: &str| -> Option<BTreeSet<String>> {
                let mut all = BTreeSet::new();
                for rule in &self.rules {
                    let exprs = rule
                        .matches
                        .iter()
                        .chain(std::iter::once(&rule.validate))
                        .chain(rule.message.iter().flat_map(|m| {
                            m.parts.iter().filter_map(|p| match p {
                                Part::Expr(e) => Some(e),
                                Part::Text(_) => None,
                            })
                        }));
                    for e in exprs {
                        all.extend(e.field_reads(var)?);
                    }
                }
                Some(all)
            };
            Reads {
                cluster: fields("cluster"),
                release: fields("release"),
            }
        })
    }

    /// What the rules read of a cluster, as a text: two clusters with the same key get the
    /// same violations on the same objects and release (but for the cluster's name in them).
    pub fn cluster_key(&self, cluster: &ClusterSpec) -> String {
        cluster_projection(cluster, &self.reads().cluster)
    }

    /// What the rules read of a release, as a text (see [`ManifestRules::cluster_key`]).
    pub fn release_key(&self, release: &Release) -> String {
        let value = |f: &str| match f {
            "name" => release.name.as_str(),
            "namespace" => release.namespace.as_str(),
            "service" => release.service.as_str(),
            _ => "",
        };
        let mut key = String::new();
        match &self.reads().release {
            None => {
                for f in ["name", "namespace", "service"] {
                    key.push_str(&format!("{f}={:?};", value(f)));
                }
            }
            Some(fields) => {
                for f in fields {
                    key.push_str(&format!("{f}={:?};", value(f)));
                }
            }
        }
        key
    }

    /// Both keys: the plan step memoizes violations by it and the manifest (or object).
    pub fn inputs_key(&self, cluster: &ClusterSpec, release: &Release) -> String {
        format!(
            "{}|{}",
            self.cluster_key(cluster),
            self.release_key(release)
        )
    }
}

/// The fields `fields` of a cluster as CEL sees it (all of it for `None`), as a text.
pub(crate) fn cluster_projection(
    cluster: &ClusterSpec,
    fields: &Option<BTreeSet<String>>,
) -> String {
    let data = cluster.to_data();
    let syntax::model::Data::Map(map) = &data else {
        return String::new();
    };
    match fields {
        None => serde_json::to_string(&data).unwrap_or_default(),
        Some(fields) => {
            let mut key = String::new();
            for f in fields {
                let value = map
                    .get(f)
                    .and_then(|v| serde_json::to_string(v).ok())
                    .unwrap_or_default();
                key.push_str(&format!("{f}={value};"));
            }
            key
        }
    }
}

/// The release a set of objects was rendered for, as CEL sees it: `release.name`,
/// `release.namespace`, `release.service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    pub service: String,
}

/// One object that broke one rule. Its texts are shared: the violations of a plan repeat the
/// same few names and messages over many clusters and releases.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Violation {
    pub cluster: Arc<str>,
    pub release: Arc<str>,
    pub kind: Arc<str>,
    /// `metadata.namespace`, empty when the object does not set it.
    pub namespace: Arc<str>,
    pub name: Arc<str>,
    pub rule: Arc<str>,
    pub action: RuleAction,
    pub service: Arc<str>,
    pub message: Arc<str>,
}

/// Checks every object against every rule. The result is sorted by cluster, release, object
/// kind, namespace and name, then rule.
pub fn evaluate(
    rules: &ManifestRules,
    cluster: &ClusterSpec,
    release: &Release,
    objects: &[serde_json::Value],
) -> Vec<Violation> {
    if rules.rules.is_empty() {
        return Vec::new();
    }
    let inputs = Inputs::new(cluster, release);
    let mut out = Vec::new();
    inputs.with_frame(|frame| {
        for object in objects {
            evaluate_object(rules, &inputs, frame, object, &mut out);
        }
    });
    out.sort();
    out
}

/// The CEL values of a cluster and a release, built once for all their objects (crate
/// plumbing, public for `check_plan`).
pub struct Inputs<'a> {
    cluster: &'a ClusterSpec,
    release: &'a Release,
    cluster_value: Value,
    release_value: Value,
    bound: u64,
}

impl<'a> Inputs<'a> {
    pub fn new(cluster: &'a ClusterSpec, release: &'a Release) -> Inputs<'a> {
        Inputs {
            cluster,
            release,
            cluster_value: targeting::cluster_value(cluster),
            release_value: expr::record(&[
                ("name", expr::string(&release.name)),
                ("namespace", expr::string(&release.namespace)),
                ("service", expr::string(&release.service)),
            ]),
            bound: crate::rbac::cluster_bound(cluster),
        }
    }
}

fn text_at<'v>(object: &'v serde_json::Value, path: &[&str]) -> Option<&'v str> {
    let mut v = object;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

/// Checks one object, in a frame holding `cluster` and `release`.
impl Inputs<'_> {
    /// Runs `f` in a frame holding `cluster` and `release`.
    pub fn with_frame<R>(&self, f: impl FnOnce(&Frame<'_, 'static>) -> R) -> R {
        let vars: [(&str, &Value); 2] = [
            ("cluster", &self.cluster_value),
            ("release", &self.release_value),
        ];
        expr::with_frame(&vars, f)
    }
}

pub(crate) fn evaluate_object(
    rules: &ManifestRules,
    inputs: &Inputs<'_>,
    frame: &Frame<'_, 'static>,
    object: &serde_json::Value,
    out: &mut Vec<Violation>,
) {
    // Rules whose `match` says plainly it is for other kinds are skipped unrun; an object no
    // rule applies to is not even converted.
    let kind = object.get("kind").and_then(serde_json::Value::as_str);
    let applicable: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| match (&r.kinds, kind) {
            (Some(kinds), Some(k)) => kinds.contains(k),
            _ => true,
        })
        .collect();
    if applicable.is_empty() {
        return;
    }
    let violation = |rule: &Rule, message: String| Violation {
        cluster: inputs.cluster.name.as_str().into(),
        release: inputs.release.name.as_str().into(),
        service: inputs.release.service.as_str().into(),
        kind: text_at(object, &["kind"]).unwrap_or("<no kind>").into(),
        namespace: text_at(object, &["metadata", "namespace"])
            .unwrap_or("")
            .into(),
        name: text_at(object, &["metadata", "name"])
            .unwrap_or("<no name>")
            .into(),
        rule: rule.name.as_str().into(),
        action: rule.action,
        message: message.into(),
    };
    frame.with_object(object, |bound| {
        let (frame, object_bound) = match bound {
            Ok(b) => b,
            Err(e) => {
                for rule in applicable {
                    out.push(violation(
                        rule,
                        format!("rule `{}` could not be evaluated: {e}", rule.name),
                    ));
                }
                return;
            }
        };
        let bound = inputs.bound.max(object_bound);
        for rule in applicable {
            let default = || default_message(rule, object);
            check_rule(rule, frame, bound, &default, &mut |m| {
                out.push(violation(rule, m))
            });
        }
    });
}

/// Runs one rule on the object bound in `frame`; `push` receives the violation's message.
fn check_rule(
    rule: &Rule,
    frame: &Frame<'_, '_>,
    bound: u64,
    default_message: &dyn Fn() -> String,
    push: &mut dyn FnMut(String),
) {
    {
        if let Some(m) = &rule.matches {
            match frame.eval_bool(m, bound) {
                Outcome::Selected => {}
                Outcome::NotSelected => return,
                Outcome::Error(e) => {
                    push(format!("the `match` of rule `{}` failed: {e}", rule.name));
                    return;
                }
            }
        }
        match frame.eval_bool(&rule.validate, bound) {
            Outcome::Selected => {}
            Outcome::NotSelected => push(match &rule.message {
                Some(m) => interpolate(m, frame, bound),
                None => default_message(),
            }),
            Outcome::Error(e) => push(format!(
                "the `validate` of rule `{}` failed: {e}",
                rule.name
            )),
        }
    }
}

fn default_message(rule: &Rule, object: &serde_json::Value) -> String {
    format!(
        "{} {} violates rule `{}`",
        text_at(object, &["kind"]).unwrap_or("object"),
        text_at(object, &["metadata", "name"]).unwrap_or("<no name>"),
        rule.name
    )
}

fn interpolate(m: &Message, frame: &Frame<'_, '_>, bound: u64) -> String {
    let mut out = String::new();
    for part in &m.parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Expr(e) => match frame.eval_value(e, bound) {
                Ok(v) => out.push_str(&expr::display(&v)),
                Err(err) => out.push_str(&format!("<{}: {err}>", e.text)),
            },
        }
    }
    out
}

/// Violations as text, one per line with where it happened below.
pub fn render_text(violations: &[Violation]) -> String {
    let mut out = String::new();
    for v in violations {
        let ns = if v.namespace.is_empty() {
            String::new()
        } else {
            format!("{}/", v.namespace)
        };
        out.push_str(&format!(
            "{}[{}]: {}\n  on cluster {}, release {} ({}), {} {ns}{}\n",
            v.action, v.rule, v.message, v.cluster, v.release, v.service, v.kind, v.name
        ));
    }
    out
}

/// Violations as a JSON array.
pub fn render_json(violations: &[Violation]) -> String {
    let mut s = serde_json::to_string_pretty(violations)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// Splits the output of `helm template` (YAML documents separated by `---` lines) into JSON
/// objects, skipping empty documents; a document that is not valid YAML gives an error naming
/// its index.
pub fn split_documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut out = Vec::new();
    for (i, doc) in document_texts(text).into_iter().enumerate() {
        if let Some(v) = parse_document(doc).map_err(|e| format!("document {}: {e}", i + 1))? {
            out.push(v);
        }
    }
    Ok(out)
}

/// The texts of the YAML documents of a stream (split at `---` lines), unparsed.
pub fn document_texts(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0usize;
    // Only lines that start with `---` can separate documents: found by a fast search.
    for at in memchr::memmem::find_iter(bytes, b"---") {
        if at < start || (at > 0 && bytes.get(at - 1) != Some(&b'\n')) {
            continue;
        }
        let end = bytes
            .get(at..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
            .map_or(bytes.len(), |i| at + i + 1);
        let bare = text.get(at..end).unwrap_or("").trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            out.push(text.get(start..at).unwrap_or(""));
            start = end;
        }
    }
    out.push(text.get(start..).unwrap_or(""));
    out
}

/// One YAML document as a JSON value; `None` when it is empty (or only comments).
pub fn parse_document(doc: &str) -> Result<Option<serde_json::Value>, String> {
    match crate::block_yaml::parse(doc) {
        Some(read) => Ok(read),
        None => parse_document_fully(doc),
    }
}

/// [`parse_document`] with the full YAML reader alone.
pub(crate) fn parse_document_fully(doc: &str) -> Result<Option<serde_json::Value>, String> {
    let parsed = syntax::yaml::parse(doc);
    if let Some(p) = parsed.problems.first() {
        return Err(p.message.clone());
    }
    Ok(parsed
        .root
        .filter(|root| !matches!(root.kind, syntax::yaml::Kind::Null))
        .map(|root| node_json(&root, 0)))
}

fn node_json(node: &Node, depth: usize) -> serde_json::Value {
    use syntax::yaml::Kind;
    if depth > expr::MAX_OBJECT_DEPTH {
        return serde_json::Value::Null;
    }
    match &node.kind {
        Kind::Null | Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) | Kind::Str(_) => {
            crate::block_yaml::scalar_json(&node.kind)
        }
        Kind::Seq(items) => {
            serde_json::Value::Array(items.iter().map(|i| node_json(i, depth + 1)).collect())
        }
        Kind::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|e| {
                    (
                        syntax::yaml::key_text(&e.key),
                        node_json(&e.value, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_at_separator_lines() {
        let text = "a: 1\n---\nb: ---\n--- # two\n----\n---x: 1\n  ---\n---  \n\n---";
        assert_eq!(
            document_texts(text),
            ["a: 1\n", "b: ---\n", "----\n---x: 1\n  ---\n", "\n", ""]
        );
        assert_eq!(document_texts("---\na: 1\n"), ["", "a: 1\n"]);
        assert_eq!(document_texts(""), [""]);
        assert_eq!(document_texts("a: 1"), ["a: 1"]);
    }
}
