//! Values: a service's `values` template, parsed once and rendered on every cluster it is
//! selected on, as Helm renders a chart template (`gotpl` root, Helm's functions,
//! `missingkey=zero`, `<no value>` removed), then read as YAML into the values the chart is
//! rendered with.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::funcs::encoding;
use gotemplate::{ExecError, ExecOptions, FuncMap, Map, MissingKey, ParseError, Template, Value};
use sha2::{Digest as _, Sha256};

use crate::model::{Data, Digest, ServiceSpec};

/// A service's values template, parsed.
#[derive(Debug, Clone)]
pub struct ValuesTemplate {
    template: Template,
    name: String,
}

/// Why a values template failed on a cluster.
#[derive(Debug, Clone)]
pub enum ValuesError {
    /// The template failed while executing.
    Exec(Box<ExecError>),
    /// What it printed is not a YAML mapping.
    Yaml {
        message: String,
        /// The line of the rendered text the YAML reader stopped at, when it says.
        line: Option<(usize, String)>,
    },
}

/// The name a service's values template is parsed under (it appears in Go's messages).
pub fn template_name(service: &str) -> String {
    format!("{service}/values")
}

impl ValuesTemplate {
    /// Parses the service's values template.
    pub fn parse(spec: &ServiceSpec, funcs: &Arc<FuncMap>) -> Result<ValuesTemplate, ParseError> {
        let name = template_name(spec.name.as_str());
        let mut template = Template::new(funcs.clone());
        template.set_root_name("gotpl");
        template.parse(&name, &spec.values.text)?;
        Ok(ValuesTemplate { template, name })
    }

    /// Renders the template with `.Cluster` and `.Service` and reads the output as YAML.
    /// `cluster` and `service` are copied first: a template that mutates its data (`set`)
    /// changes only its own copy.
    pub fn render(&self, cluster: &Value, service: &Value) -> Result<Map, ValuesError> {
        self.render_with(cluster, service, None)
    }

    /// [`ValuesTemplate::render`], with the embedder's extension for this render (the
    /// `resolvers::Scope` the `vault` functions read through).
    pub fn render_with(
        &self,
        cluster: &Value,
        service: &Value,
        extension: Option<Arc<dyn std::any::Any + Send + Sync>>,
    ) -> Result<Map, ValuesError> {
        let data = Map::new();
        data.insert("Cluster", cluster.deep_copy());
        data.insert("Service", service.deep_copy());
        let options = ExecOptions {
            missing_key: MissingKey::Zero,
            extension,
            ..ExecOptions::default()
        };
        let mut out = self
            .template
            .execute(&self.name, &Value::Map(data), &options)
            .map_err(|e| ValuesError::Exec(Box::new(e)))?;
        // Helm removes what a missing value printed.
        if out.contains("<no value>") {
            out = out.replace("<no value>", "");
        }
        encoding::from_yaml_map(&out, "map[string]interface {}").map_err(|e| {
            let line = e.line.map(|n| {
                let text = out.lines().nth(n.saturating_sub(1)).unwrap_or("");
                (n, text.to_owned())
            });
            ValuesError::Yaml {
                message: e.message,
                line,
            }
        })
    }
}

/// What of `.Cluster` a values template reads, as far as its text tells: the field chains
/// after `.Cluster` (`["metadata", "dnsZone"]`; an empty chain is the whole cluster), or
/// everything when the template can reach the data another way (a bare `.` or `$`, which can
/// hand the whole root to a function), calls a function that is given the whole cluster
/// (`plugin`, or `tpl`, whose text may call it), or its actions cannot be scanned.
///
/// Sound because, in a Go template, data is reached only from the root: through `.Cluster`
/// (written as such, possibly after `$`), or through a bare `.`/`$` holding the root, and
/// the only function that sees the cluster without being handed it is `plugin`. Two clusters
/// whose chains lead to the same values therefore render the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    Chains(Vec<Vec<String>>),
    Everything,
}

/// Scans a template's actions for what it reads of `.Cluster`.
pub fn cluster_reads(text: &str) -> Reads {
    let mut chains: Vec<Vec<String>> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let action = &rest[open + 2..];
        let Some(len) = scan_action(action, &mut chains) else {
            return Reads::Everything;
        };
        rest = &action[len..];
    }
    chains.sort();
    chains.dedup();
    Reads::Chains(chains)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Functions that read the whole cluster: `plugin` sends it to the plugin, and `tpl` runs a
/// text that may call `plugin`.
const READ_EVERYTHING: [&str; 2] = [crate::resolvers::plugin::FUNCTION, "tpl"];

/// Scans one action (after its `{{`), recording `.Cluster` chains; returns the length up to
/// and including its `}}`, or `None` when it reads the root whole or cannot be scanned.
fn scan_action(action: &str, chains: &mut Vec<Vec<String>>) -> Option<usize> {
    let b = action.as_bytes();
    let mut i = 0;
    // A comment action: `{{/* … */}}`, possibly with trim markers.
    let start = action.trim_start_matches(['-', ' ']);
    if start.starts_with("/*") {
        let skip = b.len() - start.len();
        let end = start.find("*/")?;
        let after = &start[end + 2..];
        let close = after.find("}}")?;
        return Some(skip + end + 2 + close + 2);
    }
    while i < b.len() {
        match b[i] {
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i + 2),
            b'"' | b'\'' => {
                let quote = b[i];
                i += 1;
                loop {
                    match b.get(i)? {
                        b'\\' => i += 2,
                        c if *c == quote => break,
                        b'\n' => return None,
                        _ => i += 1,
                    }
                }
                i += 1;
            }
            b'`' => {
                i += 1 + action[i + 1..].find('`')? + 1;
            }
            b'$' => {
                match b.get(i + 1) {
                    Some(&c) if is_ident(c) || c == b'.' => {}
                    _ => return None,
                }
                // A variable's name.
                i += 1;
                while b.get(i).is_some_and(|&c| is_ident(c)) {
                    i += 1;
                }
            }
            c if is_ident(c) => {
                // A function name, keyword, number or the field after a `)`/`]`/name.
                let end = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
                let after_dot = i > 0 && b[i - 1] == b'.';
                if !after_dot && READ_EVERYTHING.contains(&&action[i..end]) {
                    return None;
                }
                i = end;
            }
            b'.' => {
                let prev = if i == 0 { b' ' } else { b[i - 1] };
                if is_ident(prev) || prev == b')' || prev == b']' {
                    // A field of something else, or a number's point.
                    i += 1;
                    continue;
                }
                let name_end = (i + 1..b.len())
                    .find(|&j| !is_ident(b[j]))
                    .unwrap_or(b.len());
                let name = &action[i + 1..name_end];
                if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
                    if name.is_empty() {
                        return None;
                    }
                    i = name_end;
                    continue;
                }
                i = name_end;
                if name == "Cluster" {
                    let mut chain = Vec::new();
                    while b.get(i) == Some(&b'.') {
                        let end = (i + 1..b.len())
                            .find(|&j| !is_ident(b[j]))
                            .unwrap_or(b.len());
                        if end == i + 1 {
                            break;
                        }
                        chain.push(action[i + 1..end].to_owned());
                        i = end;
                    }
                    chains.push(chain);
                }
            }
            _ => i += 1,
        }
    }
    None
}

pub use syntax::model::projection;

/// The fields a template reads of `.Cluster` that no cluster has (`.Cluster.metdata`): the
/// byte range of each such field's name in `text`, and the name. Only the actions are read
/// (`{{ … }}`), not their string literals.
pub fn unknown_cluster_fields(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let fields = crate::targeting::check::CLUSTER_FIELDS;
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(open) = text[i..].find("{{") {
        let start = i + open + 2;
        let end = text[start..].find("}}").map_or(b.len(), |e| start + e);
        let mut j = start;
        let mut quote: Option<u8> = None;
        while j < end {
            let c = b[j];
            match quote {
                Some(q) if c == b'\\' && q != b'`' => j += 1,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if matches!(c, b'"' | b'\'' | b'`') => quote = Some(c),
                None if text[j..end].starts_with(".Cluster.")
                    && (j == 0 || !is_ident(b[j - 1])) =>
                {
                    let name_start = j + ".Cluster.".len();
                    let name_end = (name_start..end).find(|&k| !is_ident(b[k])).unwrap_or(end);
                    let name = &text[name_start..name_end];
                    if !name.is_empty() && !fields.contains(&name) {
                        out.push((name_start..name_end, name.to_owned()));
                    }
                    j = name_end;
                    continue;
                }
                None => {}
            }
            j += 1;
        }
        i = end;
    }
    out
}

/// Data (cluster metadata, `.Cluster`, `.Service`) as a template value. YAML integers stay
/// integers (they are not Helm values, which would be float64), so that `eq .Cluster.x 3` and
/// printing behave as written.
pub fn data_value(d: &Data) -> Value {
    match d {
        Data::Null => Value::Nil,
        Data::Bool(b) => Value::Bool(*b),
        Data::Int(i) => Value::Int(*i),
        Data::Float(f) => Value::Float(*f),
        Data::String(s) => Value::string(s.as_str()),
        Data::List(items) => Value::list(items.iter().map(data_value).collect()),
        Data::Map(m) => Value::Map(Map::from_btree(
            m.iter().map(|(k, v)| (k.clone(), data_value(v))).collect(),
        )),
    }
}

/// The digest of a values tree, exact about types (`1`, `1.0` and `"1"` differ, as they can
/// render differently) and independent of how the YAML was written (key order, comments,
/// quoting). Iterative: deep values cannot overflow the stack.
pub fn values_digest(values: &Map) -> Digest {
    let mut h = Sha256::new();
    h.update(b"flotilla.values/v1\0");
    let mut stack: Vec<Value> = vec![Value::Map(values.clone())];
    let put = |h: &mut Sha256, tag: u8, bytes: &[u8]| {
        h.update([tag]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    while let Some(v) = stack.pop() {
        match v {
            Value::Nil => h.update([b'z']),
            Value::Bool(b) => h.update([b'b', u8::from(b)]),
            Value::Int(i) => put(&mut h, b'i', &i.to_le_bytes()),
            Value::Float(f) => put(&mut h, b'f', &f.to_bits().to_le_bytes()),
            Value::String(s) => put(&mut h, b's', s.as_bytes()),
            Value::List(items) => {
                put(&mut h, b'l', &(items.len() as u64).to_le_bytes());
                stack.extend(items.iter().rev().cloned());
            }
            Value::Map(m) => {
                let entries: Vec<(String, Value)> = m.with(|e: &BTreeMap<String, Value>| {
                    e.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                });
                put(&mut h, b'm', &(entries.len() as u64).to_le_bytes());
                // Keys are hashed now, values as they are popped: push them in reverse, each
                // behind a marker holding its key.
                for (k, _) in &entries {
                    put(&mut h, b'k', k.as_bytes());
                }
                stack.extend(entries.into_iter().rev().map(|(_, v)| v));
            }
            other => put(&mut h, b'o', other.type_name().as_bytes()),
        }
    }
    Digest(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_cluster_fields_are_found_in_actions_only() {
        let text = "a: {{ .Cluster.metdata.color }}\n.Cluster.nope\n\
                    b: {{ $.Cluster.Region | quote }} {{ \".Cluster.x\" }} {{ .Cluster.tags.team }}";
        let found = unknown_cluster_fields(text);
        let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["metdata", "Region"]);
        assert_eq!(&text[found[0].0.clone()], "metdata");
        assert!(unknown_cluster_fields("{{ .Cluster.name }}{{ .Cluster }}").is_empty());
    }

    #[test]
    fn reads_are_the_cluster_chains_or_everything() {
        let check = |text: &str, expect: Option<&[&str]>| {
            let got = match cluster_reads(text) {
                Reads::Everything => None,
                Reads::Chains(c) => Some(c.iter().map(|c| c.join(".")).collect::<Vec<_>>()),
            };
            let expect = expect.map(|e| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
            assert_eq!(got, expect, "{text}");
        };
        check("a: 1", Some(&[]));
        check("a: {{ .Cluster.name }}.example.com", Some(&["name"]));
        check(
            "{{- if eq .Cluster.environment \"prod\" }}3{{ else }}{{ $.Cluster.tags.tier }}{{ end -}}",
            Some(&["environment", "tags.tier"]),
        );
        check(
            "{{ index .Cluster.tags \"x\" | default \"\" }}",
            Some(&["tags"]),
        );
        check(
            "{{ with .Cluster.metadata }}{{ .dnsZone }}{{ end }}",
            Some(&["metadata"]),
        );
        check("{{ toYaml .Cluster }}", Some(&[""]));
        check(
            "{{ .Service.name }} {{ 3.5 }} {{ $x := 1 }}{{ $x }}",
            Some(&[]),
        );
        check(
            "{{ \"}} .Cluster.fake\" }}{{ .Cluster.region }}",
            Some(&["region"]),
        );
        check("{{/* {{ . }} */}}{{ .Cluster.name }}", Some(&["name"]));
        // Ways to reach the root whole: every field may matter.
        check(
            "{{ range .Cluster.metadata.zones }}- {{ . }}{{ end }}",
            None,
        );
        check("{{ toYaml . }}", None);
        check("{{ index . \"Cluster\" }}", None);
        check("{{ $ }}", None);
        check("{{ include \"x\" $ }}", None);
        check("{{ .Cluster.name", None);
        // Functions that are given the whole cluster.
        check("a: {{ plugin \"cidr\" 20 | toJson }}", None);
        check("{{ .Service.name | plugin }}", None);
        check("{{- (plugin \"x\").cidr }}", None);
        check("{{ tpl .Service.owners.team .Service }}", None);
        // The same words as data, fields, variables or inside strings are not calls.
        check(
            "plugin: {{ .Cluster.metadata.plugin }} {{ $plugin := 1 }}{{ $plugin }} {{ \"plugin\" }}",
            Some(&["metadata.plugin"]),
        );
        check("{{ .Service.tpl }}{{ pluginx 1 }}", Some(&[]));
        check("{{ \"unterminated }}", None);
    }

    #[test]
    fn projections_see_only_the_chains() {
        let cluster = |env: &str, name: &str| {
            Data::Map(
                [
                    ("environment".to_owned(), Data::String(env.into())),
                    ("name".to_owned(), Data::String(name.into())),
                ]
                .into_iter()
                .collect(),
            )
        };
        let env = vec![vec!["environment".to_owned()]];
        assert_eq!(
            projection(&env, &cluster("prod", "a")),
            projection(&env, &cluster("prod", "b"))
        );
        assert_ne!(
            projection(&env, &cluster("prod", "a")),
            projection(&env, &cluster("dev", "a"))
        );
        let missing = vec![vec!["metadata".to_owned(), "x".to_owned()]];
        assert_eq!(
            projection(&missing, &cluster("prod", "a")),
            projection(&missing, &cluster("dev", "b"))
        );
        let whole = vec![vec![]];
        assert_ne!(
            projection(&whole, &cluster("prod", "a")),
            projection(&whole, &cluster("prod", "b"))
        );
    }

    fn digest_of(yaml: &str) -> Digest {
        values_digest(&encoding::from_yaml_map(yaml, "map").unwrap_or_default())
    }

    #[test]
    fn digests_ignore_spelling_but_not_types() {
        assert_eq!(
            digest_of("a: 1\nb: x\n"),
            digest_of("b: 'x'   # comment\na: 1")
        );
        assert_ne!(digest_of("a: 1"), digest_of("a: '1'"));
        assert_ne!(digest_of("a: [1, 2]"), digest_of("a: [2, 1]"));
        assert_ne!(digest_of("a: {b: 1}"), digest_of("a: {c: 1}"));
        assert_ne!(digest_of("a: {b: 1}"), digest_of("a: {b: 2}"));
        assert_ne!(digest_of("a: [[], 1]"), digest_of("a: [[1]]"));
        assert_ne!(digest_of("a: null"), digest_of("{}"));
    }

    #[test]
    fn integers_and_floats_differ() {
        let a = Map::new();
        a.insert("x", Value::Int(1));
        let b = Map::new();
        b.insert("x", Value::Float(1.0));
        assert_ne!(values_digest(&a), values_digest(&b));
    }
}
