//! The chart model (`chart.Chart`, `chart.Metadata`, `chart.Dependency`) and how Helm decodes
//! and validates `Chart.yaml`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{Map, Value};

use crate::error::HelmError;
use crate::gostr;
use crate::semver;

/// A file of a chart: its slash-separated path inside the chart and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub data: Arc<[u8]>,
}

impl File {
    pub fn new(name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> File {
        File {
            name: name.into(),
            data: data.into(),
        }
    }
}

/// `chart.Maintainer`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// `chart.Dependency`: an entry of `dependencies:` in `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dependency {
    pub name: String,
    pub version: String,
    pub repository: String,
    pub condition: String,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub import_values: Vec<Value>,
    pub alias: String,
}

/// `chart.Metadata`: the contents of `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    pub name: String,
    pub home: String,
    pub sources: Vec<String>,
    pub version: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub maintainers: Vec<Maintainer>,
    pub icon: String,
    pub api_version: String,
    pub condition: String,
    pub tags: String,
    pub app_version: String,
    pub deprecated: bool,
    pub annotations: BTreeMap<String, String>,
    pub kube_version: String,
    /// `None` when `Chart.yaml` has no `dependencies:` (Go's nil slice, which Helm treats
    /// differently from an empty list).
    pub dependencies: Option<Vec<Dependency>>,
    pub chart_type: String,
}

/// A loaded chart with its subcharts.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub metadata: Metadata,
    /// Every file as loaded, in load order (`Chart.Raw`).
    pub raw: Vec<File>,
    pub templates: Vec<File>,
    /// The parsed `values.yaml` (empty when there is none).
    pub values: Map,
    /// `values.schema.json`, when present.
    pub schema: Option<Arc<[u8]>>,
    /// Every other file: what `.Files` sees, plus `crds/`.
    pub files: Vec<File>,
    pub dependencies: Vec<Chart>,
}

impl Chart {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The CRD files of this chart and its subcharts (`Chart.CRDObjects`), with the path
    /// printed in `# Source:` lines.
    pub fn crd_objects(&self, full_path: &str) -> Vec<(String, File)> {
        let mut out = Vec::new();
        for f in &self.files {
            if f.name.starts_with("crds/") && has_manifest_extension(&f.name) {
                out.push((format!("{full_path}/{}", f.name), f.clone()));
            }
        }
        for dep in &self.dependencies {
            out.extend(dep.crd_objects(&format!("{full_path}/charts/{}", dep.name())));
        }
        out
    }

    /// A deep copy whose values are detached from this chart's.
    pub fn deep_clone(&self) -> Chart {
        Chart {
            metadata: self.metadata.clone(),
            raw: self.raw.clone(),
            templates: self.templates.clone(),
            values: self.values.deep_copy(),
            schema: self.schema.clone(),
            files: self.files.clone(),
            dependencies: self.dependencies.iter().map(Chart::deep_clone).collect(),
        }
    }
}

fn has_manifest_extension(name: &str) -> bool {
    let ext = gostr::path_ext(name);
    ext.eq_ignore_ascii_case(".yaml")
        || ext.eq_ignore_ascii_case(".yml")
        || ext.eq_ignore_ascii_case(".json")
}

/// How a Go struct field receives a JSON value: `sigs.k8s.io/yaml` first turns numbers and
/// booleans bound for string fields into strings, then `encoding/json` decodes.
struct Decoder<'a> {
    file: &'a str,
}

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

impl Decoder<'_> {
    fn type_error(&self, v: &Value, strukt: &str, field: &str, ty: &str) -> HelmError {
        HelmError::Load(format!(
            "cannot load {}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field {strukt}.{field} of type {ty}",
            self.file,
            json_kind(v)
        ))
    }

    fn string(&self, v: &Value, strukt: &str, field: &str) -> Result<String, HelmError> {
        match v {
            Value::Nil => Ok(String::new()),
            Value::String(s) => Ok(s.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(yaml_number_as_string(*f)),
            other => Err(self.type_error(other, strukt, field, "string")),
        }
    }

    fn strings(&self, v: &Value, strukt: &str, field: &str) -> Result<Vec<String>, HelmError> {
        match v {
            Value::Nil => Ok(Vec::new()),
            Value::List(items) => items
                .iter()
                .map(|i| self.string(i, strukt, field))
                .collect(),
            other => Err(self.type_error(other, strukt, field, "[]string")),
        }
    }

    fn boolean(&self, v: &Value, strukt: &str, field: &str) -> Result<bool, HelmError> {
        match v {
            Value::Nil => Ok(false),
            Value::Bool(b) => Ok(*b),
            other => Err(self.type_error(other, strukt, field, "bool")),
        }
    }

    /// The value of a struct field: an exact key first, then a case-insensitive one, as
    /// `encoding/json` matches fields.
    fn field(map: &Map, name: &str) -> Value {
        if let Some(v) = map.get(name) {
            return v;
        }
        map.with(|m| {
            m.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Nil)
        })
    }

    fn metadata(&self, root: &Value, md: &mut Metadata) -> Result<(), HelmError> {
        let map = match root {
            Value::Nil => return Ok(()),
            Value::Map(m) => m,
            other => {
                return Err(HelmError::Load(format!(
                    "cannot load {}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type chart.Metadata",
                    self.file,
                    json_kind(other)
                )));
            }
        };
        let f = |name: &str| Decoder::field(map, name);
        let s = "Metadata";
        macro_rules! set_string {
            ($field:ident, $key:literal) => {
                let v = f($key);
                if !v.is_nil() {
                    md.$field = self.string(&v, s, $key)?;
                }
            };
        }
        set_string!(name, "name");
        set_string!(home, "home");
        set_string!(version, "version");
        set_string!(description, "description");
        set_string!(icon, "icon");
        set_string!(api_version, "apiVersion");
        set_string!(condition, "condition");
        set_string!(tags, "tags");
        set_string!(app_version, "appVersion");
        set_string!(kube_version, "kubeVersion");
        set_string!(chart_type, "type");
        let v = f("sources");
        if !v.is_nil() {
            md.sources = self.strings(&v, s, "sources")?;
        }
        let v = f("keywords");
        if !v.is_nil() {
            md.keywords = self.strings(&v, s, "keywords")?;
        }
        let v = f("deprecated");
        if !v.is_nil() {
            md.deprecated = self.boolean(&v, s, "deprecated")?;
        }
        match f("annotations") {
            Value::Nil => {}
            Value::Map(m) => {
                for (k, v) in m.entries() {
                    let value = self.string(&v, s, "annotations")?;
                    md.annotations.insert(k, value);
                }
            }
            other => {
                return Err(self.type_error(&other, s, "annotations", "map[string]string"));
            }
        }
        match f("maintainers") {
            Value::Nil => {}
            Value::List(items) => {
                md.maintainers.clear();
                for item in items.iter() {
                    match item {
                        // A null entry: Validate reports it.
                        Value::Nil => {
                            return Err(HelmError::Validation(
                                "maintainers must not contain empty or null nodes".into(),
                            ));
                        }
                        Value::Map(m) => {
                            let g = |n: &str| Decoder::field(m, n);
                            md.maintainers.push(Maintainer {
                                name: self.string(&g("name"), "Maintainer", "name")?,
                                email: self.string(&g("email"), "Maintainer", "email")?,
                                url: self.string(&g("url"), "Maintainer", "url")?,
                            });
                        }
                        other => {
                            return Err(self.type_error(
                                other,
                                s,
                                "maintainers",
                                "chart.Maintainer",
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(self.type_error(&other, s, "maintainers", "[]*chart.Maintainer"));
            }
        }
        match f("dependencies") {
            Value::Nil => {}
            Value::List(items) => {
                let mut deps = Vec::with_capacity(items.len());
                for item in items.iter() {
                    deps.push(self.dependency(item)?);
                }
                md.dependencies = Some(deps);
            }
            other => {
                return Err(self.type_error(&other, s, "dependencies", "[]*chart.Dependency"));
            }
        }
        Ok(())
    }

    fn dependency(&self, item: &Value) -> Result<Dependency, HelmError> {
        let m = match item {
            Value::Map(m) => m,
            Value::Nil => {
                return Err(HelmError::Validation(
                    "dependencies must not contain empty or null nodes".into(),
                ));
            }
            other => {
                return Err(self.type_error(other, "Metadata", "dependencies", "chart.Dependency"));
            }
        };
        let g = |n: &str| Decoder::field(m, n);
        let s = "Dependency";
        let import_values = match g("import-values") {
            Value::Nil => Vec::new(),
            Value::List(items) => items.to_vec(),
            other => return Err(self.type_error(&other, s, "import-values", "[]interface {}")),
        };
        Ok(Dependency {
            name: self.string(&g("name"), s, "name")?,
            version: self.string(&g("version"), s, "version")?,
            repository: self.string(&g("repository"), s, "repository")?,
            condition: self.string(&g("condition"), s, "condition")?,
            tags: self.strings(&g("tags"), s, "tags")?,
            enabled: self.boolean(&g("enabled"), s, "enabled")?,
            import_values,
            alias: self.string(&g("alias"), s, "alias")?,
        })
    }
}

/// A YAML number bound for a Go string field, as `sigs.k8s.io/yaml` converts it: integers in
/// decimal, floats with `strconv.FormatFloat(f, 'g', -1, 32)` (so `1.10` becomes `"1.1"`).
pub fn yaml_number_as_string(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        // go-yaml decoded it as an int (the values model no longer tells the two apart).
        return format!("{}", f as i64);
    }
    gostr::format_float32_g(f as f32)
}

/// The text of a `sigs.k8s.io/yaml` failure: the reader's message, with the
/// `error converting YAML to JSON: ` prefix `sigs.k8s.io/yaml` adds to syntax errors when the
/// reader did not include it.
pub fn yaml_message(message: &str) -> String {
    if message.starts_with("error converting YAML to JSON")
        || message.starts_with("error unmarshaling JSON")
    {
        message.to_string()
    } else {
        format!("error converting YAML to JSON: {message}")
    }
}

/// Decodes `Chart.yaml` (or the deprecated `requirements.yaml`) onto `md`.
pub fn decode_metadata(file: &str, text: &[u8], md: &mut Metadata) -> Result<(), HelmError> {
    let text = String::from_utf8_lossy(text);
    let root = gotemplate::funcs::encoding::from_yaml(&text).map_err(|e| {
        HelmError::Load(format!("cannot load {file}: {}", yaml_message(&e.message)))
    })?;
    Decoder { file }.metadata(&root, md)
}

/// `sanitizeString`: whitespace becomes a space, unprintable characters go.
fn sanitize(s: &mut String) {
    if s.chars()
        .all(|c| c == ' ' || (!c.is_whitespace() && !c.is_control()))
    {
        return;
    }
    *s = s
        .chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() || is_unprintable(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect();
}

fn is_unprintable(c: char) -> bool {
    // Go's unicode.IsPrint excludes format characters and unassigned code points; these are
    // the format characters seen in practice.
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}')
}

/// `Metadata.Validate`, including its sanitizing of strings.
pub fn validate_metadata(md: &mut Metadata) -> Result<(), HelmError> {
    for s in [
        &mut md.name,
        &mut md.description,
        &mut md.home,
        &mut md.icon,
        &mut md.condition,
        &mut md.tags,
        &mut md.app_version,
        &mut md.kube_version,
    ] {
        sanitize(s);
    }
    for s in md.sources.iter_mut().chain(md.keywords.iter_mut()) {
        sanitize(s);
    }
    let invalid = |m: String| Err(HelmError::Validation(m));
    if md.api_version.is_empty() {
        return invalid("chart.metadata.apiVersion is required".into());
    }
    if md.name.is_empty() {
        return invalid("chart.metadata.name is required".into());
    }
    if md.name != gostr::path_base(&md.name) {
        return invalid(format!("chart.metadata.name {:?} is invalid", md.name));
    }
    if md.version.is_empty() {
        return invalid("chart.metadata.version is required".into());
    }
    if semver::parse_version(&md.version).is_err() {
        return invalid(format!(
            "chart.metadata.version {:?} is invalid",
            md.version
        ));
    }
    if !matches!(md.chart_type.as_str(), "" | "application" | "library") {
        return invalid("chart.metadata.type must be application or library".into());
    }
    for m in &mut md.maintainers {
        sanitize(&mut m.name);
        sanitize(&mut m.email);
        sanitize(&mut m.url);
    }
    let mut seen = std::collections::HashSet::new();
    for d in md.dependencies.iter_mut().flatten() {
        sanitize(&mut d.name);
        sanitize(&mut d.version);
        sanitize(&mut d.repository);
        sanitize(&mut d.condition);
        for t in &mut d.tags {
            sanitize(t);
        }
        if !d.alias.is_empty()
            && !d
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return invalid(format!(
                "dependency {:?} has disallowed characters in the alias",
                d.name
            ));
        }
        let key = if d.alias.is_empty() {
            &d.name
        } else {
            &d.alias
        };
        if !seen.insert(key.clone()) {
            return invalid(format!(
                "more than one dependency with name or alias {key:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_bound_for_strings_print_as_sigs_yaml_does() {
        assert_eq!(yaml_number_as_string(1.0), "1");
        // The classic surprise: appVersion 1.10 becomes "1.1".
        assert_eq!(yaml_number_as_string(1.10), "1.1");
        assert_eq!(yaml_number_as_string(0.1), "0.1");
        assert_eq!(yaml_number_as_string(2.5e-7), "2.5e-07");
    }

    #[test]
    fn validation_rejects_bad_metadata() {
        let mut md = Metadata {
            api_version: "v2".into(),
            name: "a/b".into(),
            version: "1.0.0".into(),
            ..Metadata::default()
        };
        let err = validate_metadata(&mut md).unwrap_err();
        assert_eq!(
            err.to_string(),
            "validation: chart.metadata.name \"a/b\" is invalid"
        );
        md.name = "ok".into();
        md.version = "one".into();
        assert_eq!(
            validate_metadata(&mut md).unwrap_err().to_string(),
            "validation: chart.metadata.version \"one\" is invalid"
        );
        md.version = "1.0.0".into();
        md.chart_type = "plugin".into();
        assert_eq!(
            validate_metadata(&mut md).unwrap_err().to_string(),
            "validation: chart.metadata.type must be application or library"
        );
    }

    #[test]
    fn duplicate_aliases_are_rejected() {
        let dep = |name: &str, alias: &str| Dependency {
            name: name.into(),
            alias: alias.into(),
            ..Dependency::default()
        };
        let mut md = Metadata {
            api_version: "v2".into(),
            name: "ok".into(),
            version: "1.0.0".into(),
            dependencies: Some(vec![dep("a", "x"), dep("b", "x")]),
            ..Metadata::default()
        };
        assert_eq!(
            validate_metadata(&mut md).unwrap_err().to_string(),
            "validation: more than one dependency with name or alias \"x\""
        );
        md.dependencies = Some(vec![dep("a", "no.dots")]);
        assert_eq!(
            validate_metadata(&mut md).unwrap_err().to_string(),
            "validation: dependency \"a\" has disallowed characters in the alias"
        );
    }
}
