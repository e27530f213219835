//! The Go values Helm hands to templates that are not plain maps: `.Files`, `.Chart`,
//! `.Capabilities` (with `KubeVersion`, `APIVersions` and `HelmVersion`), as
//! [`gotemplate::Object`]s with Helm's fields, methods and printing.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::funcs::FuncError;
use gotemplate::{ListType, Map, Object, Value};

use crate::chart::{Dependency, File, Maintainer, Metadata};
use crate::glob::Glob;
use crate::gostr::path_base;

fn arity(name: &str, args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() != want {
        return Err(FuncError::new(format!(
            "wrong number of args for {name}: want {want} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn string_arg<'a>(name: &str, args: &'a [Value], i: usize) -> Result<&'a str, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Nil) | None => Err(FuncError::new(format!(
            "invalid value; expected string for {name}"
        ))),
        Some(other) => Err(FuncError::new(format!(
            "wrong type for value; expected string; got {}",
            other.type_name()
        ))),
    }
}

/// Go's `[]byte`: a `[]uint8` list of byte values (`%v` prints `[104 105]`, `%s` the text).
fn bytes_value(data: &[u8]) -> Value {
    Value::typed_list(
        data.iter().map(|b| Value::Int(i64::from(*b))).collect(),
        ListType::Byte,
    )
}

fn strings_value(items: &[String]) -> Value {
    Value::list(items.iter().map(|s| Value::from(s.as_str())).collect())
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `base64.StdEncoding.EncodeToString`.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = |shift: u32| BASE64[((n >> shift) & 63) as usize] as char;
        out.push(idx(18));
        out.push(idx(12));
        out.push(if chunk.len() > 1 { idx(6) } else { '=' });
        out.push(if chunk.len() > 2 { idx(0) } else { '=' });
    }
    out
}

/// `toYAML` as Helm's engine defines it: the YAML of a value without its final newline, or
/// "" when it cannot be printed.
fn to_yaml_trimmed(v: &Value) -> String {
    match gotemplate::funcs::encoding::to_yaml(v) {
        Ok(s) => s.strip_suffix('\n').map(str::to_string).unwrap_or(s),
        Err(_) => String::new(),
    }
}

/// `.Files`: the chart's non-template files (`engine.files`, a `map[string][]byte`).
#[derive(Debug, Clone, Default)]
pub struct Files {
    files: BTreeMap<String, Arc<[u8]>>,
}

impl Files {
    pub fn new(from: &[File]) -> Files {
        Files {
            files: from
                .iter()
                .map(|f| (f.name.clone(), f.data.clone()))
                .collect(),
        }
    }

    fn get_bytes(&self, name: &str) -> &[u8] {
        self.files.get(name).map_or(&[], |d| d)
    }

    fn glob(&self, pattern: &str) -> Files {
        let g = Glob::compile(pattern).or_else(|_| Glob::compile("**")).ok();
        Files {
            files: self
                .files
                .iter()
                .filter(|(name, _)| g.as_ref().is_some_and(|g| g.matches(name)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    fn as_config(&self) -> String {
        let m = Map::new();
        for (k, v) in &self.files {
            m.insert(
                path_base(k),
                Value::from(String::from_utf8_lossy(v).into_owned()),
            );
        }
        to_yaml_trimmed(&Value::Map(m))
    }

    fn as_secrets(&self) -> String {
        let m = Map::new();
        for (k, v) in &self.files {
            m.insert(path_base(k), Value::from(base64_encode(v)));
        }
        to_yaml_trimmed(&Value::Map(m))
    }

    fn lines(&self, path: &str) -> Result<Value, FuncError> {
        let Some(data) = self.files.get(path) else {
            return Ok(Value::typed_list(Vec::new(), ListType::String));
        };
        let s = String::from_utf8_lossy(data);
        if s.is_empty() {
            // Go indexes s[len(s)-1] and panics.
            return Err(FuncError::new("runtime error: index out of range [-1]"));
        }
        let s = s.strip_suffix('\n').unwrap_or(&s);
        Ok(Value::typed_list(
            s.split('\n').map(Value::from).collect(),
            ListType::String,
        ))
    }
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "engine.files"
    }

    fn kind_name(&self) -> &'static str {
        "map"
    }

    fn truthy(&self) -> bool {
        !self.files.is_empty()
    }

    fn field(&self, name: &str) -> Option<Value> {
        // A map type: `.Files.name` indexes it.
        Some(self.files.get(name).map_or(Value::Nil, |d| bytes_value(d)))
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        let r = match name {
            "Get" => arity(name, args, 1).and_then(|()| {
                let n = string_arg(name, args, 0)?;
                Ok(Value::from(
                    String::from_utf8_lossy(self.get_bytes(n)).into_owned(),
                ))
            }),
            "GetBytes" => arity(name, args, 1).and_then(|()| {
                let n = string_arg(name, args, 0)?;
                Ok(bytes_value(self.get_bytes(n)))
            }),
            "Glob" => arity(name, args, 1).and_then(|()| {
                let p = string_arg(name, args, 0)?;
                Ok(Value::Object(Arc::new(self.glob(p))))
            }),
            "AsConfig" => arity(name, args, 0).map(|()| Value::from(self.as_config())),
            "AsSecrets" => arity(name, args, 0).map(|()| Value::from(self.as_secrets())),
            "Lines" => arity(name, args, 1).and_then(|()| {
                let p = string_arg(name, args, 0)?;
                self.lines(p)
            }),
            _ => return None,
        };
        Some(r)
    }

    fn go_string(&self) -> String {
        let parts: Vec<String> = self
            .files
            .iter()
            .map(|(k, v)| {
                let bytes: Vec<String> = v.iter().map(|b| b.to_string()).collect();
                format!("{k}:[{}]", bytes.join(" "))
            })
            .collect();
        format!("map[{}]", parts.join(" "))
    }

    fn to_data(&self) -> Option<Value> {
        let m = Map::new();
        for (k, v) in &self.files {
            m.insert(k.clone(), Value::from(base64_encode(v)));
        }
        Some(Value::Map(m))
    }

    /// `range $path, $bytes := .Files.Glob "…"`: the paths sorted, each with its `[]byte`.
    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.files
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), bytes_value(v)))
                .collect(),
        )
    }
}

/// `.Chart`: `struct { chart.Metadata; IsRoot bool }`.
#[derive(Debug, Clone)]
pub struct ChartObject {
    pub metadata: Metadata,
    pub is_root: bool,
}

fn maintainer_object(m: &Maintainer) -> Value {
    Value::Object(Arc::new(MaintainerObject(m.clone())))
}

fn dependency_object(d: &Dependency) -> Value {
    Value::Object(Arc::new(DependencyObject(d.clone())))
}

impl ChartObject {
    fn metadata_field(md: &Metadata, name: &str) -> Option<Value> {
        Some(match name {
            "Name" => Value::from(md.name.as_str()),
            "Home" => Value::from(md.home.as_str()),
            "Sources" => strings_value(&md.sources),
            "Version" => Value::from(md.version.as_str()),
            "Description" => Value::from(md.description.as_str()),
            "Keywords" => strings_value(&md.keywords),
            "Maintainers" => Value::list(md.maintainers.iter().map(maintainer_object).collect()),
            "Icon" => Value::from(md.icon.as_str()),
            "APIVersion" => Value::from(md.api_version.as_str()),
            "Condition" => Value::from(md.condition.as_str()),
            "Tags" => Value::from(md.tags.as_str()),
            "AppVersion" => Value::from(md.app_version.as_str()),
            "Deprecated" => Value::Bool(md.deprecated),
            "Annotations" => Value::Map(
                md.annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect(),
            ),
            "KubeVersion" => Value::from(md.kube_version.as_str()),
            "Dependencies" => Value::list(
                md.dependencies
                    .iter()
                    .flatten()
                    .map(dependency_object)
                    .collect(),
            ),
            "Type" => Value::from(md.chart_type.as_str()),
            _ => return None,
        })
    }

    /// The JSON view (`json` tags with `omitempty`), plus the promoted `IsRoot`.
    fn data(md: &Metadata) -> Map {
        let m = Map::new();
        let put_str = |k: &str, v: &str| {
            if !v.is_empty() {
                m.insert(k, Value::from(v));
            }
        };
        put_str("name", &md.name);
        put_str("home", &md.home);
        if !md.sources.is_empty() {
            m.insert("sources", strings_value(&md.sources));
        }
        put_str("version", &md.version);
        put_str("description", &md.description);
        if !md.keywords.is_empty() {
            m.insert("keywords", strings_value(&md.keywords));
        }
        if !md.maintainers.is_empty() {
            m.insert(
                "maintainers",
                Value::list(
                    md.maintainers
                        .iter()
                        .map(|x| Value::Map(MaintainerObject(x.clone()).data()))
                        .collect(),
                ),
            );
        }
        put_str("icon", &md.icon);
        put_str("apiVersion", &md.api_version);
        put_str("condition", &md.condition);
        put_str("tags", &md.tags);
        put_str("appVersion", &md.app_version);
        if md.deprecated {
            m.insert("deprecated", Value::Bool(true));
        }
        if !md.annotations.is_empty() {
            m.insert(
                "annotations",
                Value::Map(
                    md.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect(),
                ),
            );
        }
        put_str("kubeVersion", &md.kube_version);
        if let Some(deps) = md.dependencies.as_ref().filter(|d| !d.is_empty()) {
            m.insert(
                "dependencies",
                Value::list(
                    deps.iter()
                        .map(|d| Value::Map(DependencyObject(d.clone()).data()))
                        .collect(),
                ),
            );
        }
        put_str("type", &md.chart_type);
        m
    }
}

fn go_strings(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

impl Object for ChartObject {
    fn type_name(&self) -> &str {
        "struct { chart.Metadata; IsRoot bool }"
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "IsRoot" => Some(Value::Bool(self.is_root)),
            // The embedded struct itself.
            "Metadata" => Some(Value::Object(Arc::new(MetadataObject(
                self.metadata.clone(),
            )))),
            _ => ChartObject::metadata_field(&self.metadata, name),
        }
    }

    fn go_string(&self) -> String {
        format!(
            "{{{} {}}}",
            MetadataObject(self.metadata.clone()).go_string(),
            self.is_root
        )
    }

    fn to_data(&self) -> Option<Value> {
        let m = ChartObject::data(&self.metadata);
        m.insert("IsRoot", Value::Bool(self.is_root));
        Some(Value::Map(m))
    }
}

/// `chart.Metadata` on its own (the embedded field of `.Chart`).
#[derive(Debug, Clone)]
pub struct MetadataObject(pub Metadata);

impl Object for MetadataObject {
    fn type_name(&self) -> &str {
        "chart.Metadata"
    }

    fn field(&self, name: &str) -> Option<Value> {
        ChartObject::metadata_field(&self.0, name)
    }

    fn go_string(&self) -> String {
        let md = &self.0;
        let maintainers: Vec<String> = md
            .maintainers
            .iter()
            .map(|_| "0xc000000000".to_string())
            .collect();
        let annotations: Vec<String> = md
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        let deps: Vec<String> = md
            .dependencies
            .iter()
            .flatten()
            .map(|_| "0xc000000000".to_string())
            .collect();
        format!(
            "{{{} {} {} {} {} {} {} {} {} {} {} {} {} map[{}] {} {} {}}}",
            md.name,
            md.home,
            go_strings(&md.sources),
            md.version,
            md.description,
            go_strings(&md.keywords),
            go_strings(&maintainers),
            md.icon,
            md.api_version,
            md.condition,
            md.tags,
            md.app_version,
            md.deprecated,
            annotations.join(" "),
            md.kube_version,
            go_strings(&deps),
            md.chart_type
        )
    }

    fn to_data(&self) -> Option<Value> {
        Some(Value::Map(ChartObject::data(&self.0)))
    }
}

/// `*chart.Maintainer`.
#[derive(Debug, Clone)]
struct MaintainerObject(Maintainer);

impl MaintainerObject {
    fn data(&self) -> Map {
        let m = Map::new();
        for (k, v) in [
            ("name", &self.0.name),
            ("email", &self.0.email),
            ("url", &self.0.url),
        ] {
            if !v.is_empty() {
                m.insert(k, Value::from(v.as_str()));
            }
        }
        m
    }
}

impl Object for MaintainerObject {
    fn type_name(&self) -> &str {
        "*chart.Maintainer"
    }

    fn kind_name(&self) -> &'static str {
        "ptr"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Name" => Value::from(self.0.name.as_str()),
            "Email" => Value::from(self.0.email.as_str()),
            "URL" => Value::from(self.0.url.as_str()),
            _ => return None,
        })
    }

    fn go_string(&self) -> String {
        format!("&{{{} {} {}}}", self.0.name, self.0.email, self.0.url)
    }

    fn to_data(&self) -> Option<Value> {
        Some(Value::Map(self.data()))
    }
}

/// `*chart.Dependency`.
#[derive(Debug, Clone)]
struct DependencyObject(Dependency);

impl DependencyObject {
    fn data(&self) -> Map {
        let d = &self.0;
        let m = Map::new();
        m.insert("name", Value::from(d.name.as_str()));
        if !d.version.is_empty() {
            m.insert("version", Value::from(d.version.as_str()));
        }
        m.insert("repository", Value::from(d.repository.as_str()));
        if !d.condition.is_empty() {
            m.insert("condition", Value::from(d.condition.as_str()));
        }
        if !d.tags.is_empty() {
            m.insert("tags", strings_value(&d.tags));
        }
        if d.enabled {
            m.insert("enabled", Value::Bool(true));
        }
        if !d.import_values.is_empty() {
            m.insert("import-values", Value::list(d.import_values.clone()));
        }
        if !d.alias.is_empty() {
            m.insert("alias", Value::from(d.alias.as_str()));
        }
        m
    }
}

impl Object for DependencyObject {
    fn type_name(&self) -> &str {
        "*chart.Dependency"
    }

    fn kind_name(&self) -> &'static str {
        "ptr"
    }

    fn field(&self, name: &str) -> Option<Value> {
        let d = &self.0;
        Some(match name {
            "Name" => Value::from(d.name.as_str()),
            "Version" => Value::from(d.version.as_str()),
            "Repository" => Value::from(d.repository.as_str()),
            "Condition" => Value::from(d.condition.as_str()),
            "Tags" => strings_value(&d.tags),
            "Enabled" => Value::Bool(d.enabled),
            "ImportValues" => Value::list(d.import_values.clone()),
            "Alias" => Value::from(d.alias.as_str()),
            _ => return None,
        })
    }

    fn go_string(&self) -> String {
        let d = &self.0;
        format!(
            "&{{{} {} {} {} {} {} {:?} {}}}",
            d.name,
            d.version,
            d.repository,
            d.condition,
            go_strings(&d.tags),
            d.enabled,
            d.import_values,
            d.alias
        )
    }

    fn to_data(&self) -> Option<Value> {
        Some(Value::Map(self.data()))
    }
}

/// `chartutil.KubeVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    pub version: String,
    pub major: String,
    pub minor: String,
}

impl KubeVersion {
    /// `chartutil.ParseKubeVersion`: `1.31` becomes `v1.31.0`.
    pub fn parse(version: &str) -> Result<KubeVersion, crate::semver::SemverError> {
        let sv = crate::semver::parse_version(version)?;
        Ok(KubeVersion {
            version: format!("v{}", sv.to_canonical()),
            major: sv.major.to_string(),
            minor: sv.minor.to_string(),
        })
    }
}

impl Default for KubeVersion {
    /// What Helm 3.17.3 (built against client-go v0.32) assumes without `--kube-version`.
    fn default() -> Self {
        KubeVersion {
            version: "v1.32.0".into(),
            major: "1".into(),
            minor: "32".into(),
        }
    }
}

impl Object for KubeVersion {
    fn type_name(&self) -> &str {
        "chartutil.KubeVersion"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" => Value::from(self.version.as_str()),
            "Major" => Value::from(self.major.as_str()),
            "Minor" => Value::from(self.minor.as_str()),
            _ => return None,
        })
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        match name {
            "String" | "GitVersion" => {
                Some(arity(name, args, 0).map(|()| Value::from(self.version.as_str())))
            }
            _ => None,
        }
    }

    fn go_string(&self) -> String {
        self.version.clone()
    }

    fn to_data(&self) -> Option<Value> {
        let m = Map::new();
        m.insert("Version", Value::from(self.version.as_str()));
        m.insert("Major", Value::from(self.major.as_str()));
        m.insert("Minor", Value::from(self.minor.as_str()));
        Some(Value::Map(m))
    }
}

/// `chartutil.VersionSet`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionSet(pub Vec<String>);

/// The API versions client-go v0.32's scheme registers (plus apiextensions), which
/// `helm template` assumes are served, in the order Helm 3.17.3 lists them.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1alpha1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

impl Object for VersionSet {
    fn type_name(&self) -> &str {
        "chartutil.VersionSet"
    }

    fn kind_name(&self) -> &'static str {
        "slice"
    }

    fn truthy(&self) -> bool {
        !self.0.is_empty()
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        match name {
            "Has" => Some(arity(name, args, 1).and_then(|()| {
                let v = string_arg(name, args, 0)?;
                Ok(Value::Bool(self.0.iter().any(|x| x == v)))
            })),
            _ => None,
        }
    }

    fn go_string(&self) -> String {
        go_strings(&self.0)
    }

    fn to_data(&self) -> Option<Value> {
        Some(strings_value(&self.0))
    }
}

/// `version.BuildInfo` of the Helm being imitated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmVersion {
    pub version: String,
    pub git_commit: String,
    pub git_tree_state: String,
    pub go_version: String,
}

impl Default for HelmVersion {
    fn default() -> Self {
        HelmVersion {
            version: "v3.17.3".into(),
            git_commit: "e4da49785aa6e6ee2b86efd5dd9e43400318262b".into(),
            git_tree_state: "clean".into(),
            go_version: "go1.23.7".into(),
        }
    }
}

impl Object for HelmVersion {
    fn type_name(&self) -> &str {
        "version.BuildInfo"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" => Value::from(self.version.as_str()),
            "GitCommit" => Value::from(self.git_commit.as_str()),
            "GitTreeState" => Value::from(self.git_tree_state.as_str()),
            "GoVersion" => Value::from(self.go_version.as_str()),
            _ => return None,
        })
    }

    fn go_string(&self) -> String {
        format!(
            "{{{} {} {} {}}}",
            self.version, self.git_commit, self.git_tree_state, self.go_version
        )
    }

    fn to_data(&self) -> Option<Value> {
        let m = Map::new();
        for (k, v) in [
            ("version", &self.version),
            ("git_commit", &self.git_commit),
            ("git_tree_state", &self.git_tree_state),
            ("go_version", &self.go_version),
        ] {
            if !v.is_empty() {
                m.insert(k, Value::from(v.as_str()));
            }
        }
        Some(Value::Map(m))
    }
}

/// `*chartutil.Capabilities`.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub kube_version: KubeVersion,
    pub api_versions: VersionSet,
    pub helm_version: HelmVersion,
}

impl Capabilities {
    /// `helm template`'s capabilities: the defaults, the given Kubernetes version, and the
    /// extra API versions after the default ones.
    pub fn for_template(kube_version: Option<KubeVersion>, extra_apis: &[String]) -> Capabilities {
        let mut apis: Vec<String> = DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect();
        apis.extend(extra_apis.iter().cloned());
        Capabilities {
            kube_version: kube_version.unwrap_or_default(),
            api_versions: VersionSet(apis),
            helm_version: HelmVersion::default(),
        }
    }
}

impl Object for Capabilities {
    fn type_name(&self) -> &str {
        "*chartutil.Capabilities"
    }

    fn kind_name(&self) -> &'static str {
        "ptr"
    }

    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "KubeVersion" => Value::Object(Arc::new(self.kube_version.clone())),
            "APIVersions" => Value::Object(Arc::new(self.api_versions.clone())),
            "HelmVersion" => Value::Object(Arc::new(self.helm_version.clone())),
            _ => return None,
        })
    }

    fn go_string(&self) -> String {
        format!(
            "&{{{{{} {} {}}} {} {}}}",
            self.kube_version.version,
            self.kube_version.major,
            self.kube_version.minor,
            self.api_versions.go_string(),
            self.helm_version.go_string()
        )
    }

    fn to_data(&self) -> Option<Value> {
        let m = Map::new();
        m.insert(
            "KubeVersion",
            self.kube_version.to_data().unwrap_or_default(),
        );
        m.insert(
            "APIVersions",
            self.api_versions.to_data().unwrap_or_default(),
        );
        m.insert(
            "HelmVersion",
            self.helm_version.to_data().unwrap_or_default(),
        );
        Some(Value::Map(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Files {
        Files::new(&[
            File::new("config/a.conf", b"alpha\nbeta\n".to_vec()),
            File::new("config/sub/b.conf", b"x".to_vec()),
            File::new("empty.txt", Vec::new()),
        ])
    }

    fn call(o: &dyn Object, name: &str, args: &[Value]) -> Value {
        o.call_method(name, args)
            .unwrap_or_else(|| panic!("no method {name}"))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn files_methods() {
        let f = files();
        assert_eq!(
            call(&f, "Get", &["config/a.conf".into()]),
            Value::from("alpha\nbeta\n")
        );
        assert_eq!(call(&f, "Get", &["missing".into()]), Value::from(""));
        assert_eq!(
            call(&f, "Lines", &["config/a.conf".into()]),
            Value::typed_list(vec!["alpha".into(), "beta".into()], ListType::String)
        );
        assert_eq!(
            call(&f, "Lines", &["missing".into()]).type_name(),
            "[]string"
        );
        assert_eq!(
            call(&f, "GetBytes", &["config/sub/b.conf".into()]),
            Value::typed_list(vec![Value::Int(120)], ListType::Byte)
        );
        assert!(
            f.call_method("Lines", &["empty.txt".into()])
                .unwrap()
                .is_err()
        );
        let Value::Object(g) = call(&f, "Glob", &["config/*".into()]) else {
            panic!("Glob returns files");
        };
        assert_eq!(
            g.go_string(),
            "map[config/a.conf:[97 108 112 104 97 10 98 101 116 97 10]]"
        );
        // `range` walks a `map[string][]byte`: sorted paths, `[]byte` contents.
        let Value::Object(all) = call(&f, "Glob", &["**".into()]) else {
            panic!("Glob returns files");
        };
        let entries = all.range_entries().expect("files are iterable");
        let keys: Vec<Value> = entries.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(
            keys,
            ["config/a.conf", "config/sub/b.conf", "empty.txt"].map(Value::from)
        );
        assert_eq!(entries[1].1.type_name(), "[]uint8");
        assert_eq!(
            f.call_method("Get", &[]).unwrap().unwrap_err().message,
            "wrong number of args for Get: want 1 got 0"
        );
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn capabilities() {
        let kv = KubeVersion::parse("1.31").unwrap();
        assert_eq!(kv.version, "v1.31.0");
        assert_eq!(kv.minor, "31");
        let caps = Capabilities::for_template(Some(kv), &["monitoring.coreos.com/v1".into()]);
        let Some(Value::Object(apis)) = caps.field("APIVersions") else {
            panic!("APIVersions is an object");
        };
        assert_eq!(call(&*apis, "Has", &["apps/v1".into()]), Value::Bool(true));
        assert_eq!(
            call(&*apis, "Has", &["monitoring.coreos.com/v1".into()]),
            Value::Bool(true)
        );
        assert_eq!(
            call(&*apis, "Has", &["apiregistration.k8s.io/v1".into()]),
            Value::Bool(false)
        );
        let Some(Value::Object(kv)) = caps.field("KubeVersion") else {
            panic!("KubeVersion is an object");
        };
        assert_eq!(call(&*kv, "GitVersion", &[]), Value::from("v1.31.0"));
        assert_eq!(kv.go_string(), "v1.31.0");
    }
}
