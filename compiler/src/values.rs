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
        let data = Map::new();
        data.insert("Cluster", cluster.deep_copy());
        data.insert("Service", service.deep_copy());
        let options = ExecOptions {
            missing_key: MissingKey::Zero,
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
