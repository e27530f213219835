//! Loading: from the fleet's files to a validated [`Fleet`], with a diagnostic for every
//! problem (unknown, duplicate, missing and mistyped fields, names that do not match their
//! files, duplicate names, unknown dependencies, invalid release names, chart sources).
//!
//! The fields each file may have are declared once, in [`CLUSTER_FIELDS`] and
//! [`SERVICE_FIELDS`]; the JSON Schemas under `schemas/` are checked against them.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::ops::Range;

use crate::model::{
    Amount, ChartRef, ClusterName, ClusterSpec, Data, Dependency, Embedded, Fleet, Kubernetes,
    Owners, ReleaseSpec, Rollout, ServiceName, ServiceSpec, ValuesFrom, VaultKey,
};
use crate::yaml::{self, Kind, Node};
use syntax::FleetFiles;
use syntax::diag::{Diags, suggest};
pub use syntax::fields::field_paths;
use syntax::fields::{FieldDef, Fields, field};

/// The fields of `clusters/<name>.yaml`.
pub const CLUSTER_FIELDS: &[FieldDef] = &[
    field("name", true),
    field("provider", true),
    field("region", true),
    field("environment", true),
    field("tags", false),
    field("metadata", false),
    FieldDef {
        name: "kubernetes",
        required: false,
        fields: KUBERNETES_FIELDS,
    },
];

const KUBERNETES_FIELDS: &[FieldDef] = &[field("version", true), field("apiVersions", false)];

const OWNERS_FIELDS: &[FieldDef] = &[
    field("team", true),
    field("slack", false),
    field("email", false),
];
const CHART_FIELDS: &[FieldDef] = &[
    field("path", false),
    field("repository", false),
    field("name", false),
    field("version", false),
];
const RELEASE_FIELDS: &[FieldDef] = &[field("name", true), field("namespace", true)];

/// The fields of `services/<name>/service.yaml`.
pub const SERVICE_FIELDS: &[FieldDef] = &[
    field("name", true),
    FieldDef {
        name: "owners",
        required: true,
        fields: OWNERS_FIELDS,
    },
    FieldDef {
        name: "chart",
        required: true,
        fields: CHART_FIELDS,
    },
    field("selector", true),
    field("dependsOn", false),
    FieldDef {
        name: "release",
        required: true,
        fields: RELEASE_FIELDS,
    },
    field("values", false),
    field("valuesFrom", false),
    FieldDef {
        name: "rollout",
        required: false,
        fields: ROLLOUT_FIELDS,
    },
    field("bootstrap", false),
];

/// The fields of `rollout:`, in a service file and in `fleet.yaml`.
pub const ROLLOUT_FIELDS: &[FieldDef] = &[
    field("deadline", false),
    field("canary", false),
    field("waves", false),
    field("maxUnavailable", false),
    field("soak", false),
    field("autoRollback", false),
    field("environments", false),
];

/// The fleet file (`fleet.yaml`): its environments in promotion order (the runtime's) and
/// the fleet's rollout defaults.
pub const FLEET_FILE: &str = "fleet.yaml";

/// The fields of `fleet.yaml`.
pub const FLEET_FIELDS: &[FieldDef] = &[
    field("environments", false),
    FieldDef {
        name: "rollout",
        required: false,
        fields: ROLLOUT_FIELDS,
    },
];

/// The fields of an entry of `valuesFrom`, and of its `vault`.
const VALUES_FROM_FIELDS: &[FieldDef] = &[field("vault", true)];
const VAULT_KEY_FIELDS: &[FieldDef] = &[field("path", true), field("key", true)];

/// Loads and validates every cluster and service; problems go to `diags`.
pub fn load(files: &FleetFiles, diags: &mut Diags<'_>) -> Fleet {
    let mut fleet = Fleet::default();
    report_unreadable(files, diags);
    load_clusters(files, diags, &mut fleet);
    load_services(files, diags, &mut fleet);
    fleet.rollout = load_fleet_defaults(files, diags);
    fleet
}

/// The rollout defaults of `fleet.yaml`, when it has some.
pub(crate) fn load_fleet_defaults(files: &FleetFiles, diags: &mut Diags<'_>) -> Option<Rollout> {
    let text = files.files.get(FLEET_FILE)?;
    let mut cx = FileCx::new(FLEET_FILE, text, diags);
    let root = cx.0.root()?;
    if matches!(root.kind, Kind::Null) {
        return None;
    }
    let fields = cx.fields(&root, FLEET_FIELDS, FLEET_FILE)?;
    let e = fields.get("rollout")?;
    cx.rollout(&e.value).filter(|r| *r != Rollout::default())
}

fn report_unreadable(files: &FleetFiles, diags: &mut Diags<'_>) {
    for (path, reason) in &files.unreadable {
        diags.add_text(&files.display_name(path), "");
        diags.error_at(
            "fleet::unreadable",
            format!("cannot read {path}: {reason}"),
            &files.display_name(path),
            0..0,
            "here",
            None,
        );
    }
}

/// The cluster files (`clusters/<name>.yaml`), with the name they are filed under.
fn cluster_files(files: &FleetFiles) -> Vec<(&str, &str)> {
    files
        .files
        .range::<str, _>((Bound::Included("clusters/"), Bound::Excluded("clusters0")))
        .filter_map(|(path, _)| {
            let rest = path.strip_prefix("clusters/")?;
            let stem = rest
                .strip_suffix(".yaml")
                .or_else(|| rest.strip_suffix(".yml"))?;
            (!stem.contains('/')).then_some((path.as_str(), stem))
        })
        .collect()
}

/// The service files (`services/<dir>/service.yaml`), with the folder they are filed under.
pub(crate) fn service_files(files: &FleetFiles) -> Vec<(&str, &str)> {
    files
        .files
        .range::<str, _>((Bound::Included("services/"), Bound::Excluded("services0")))
        .filter_map(|(path, _)| {
            let dir = path
                .strip_prefix("services/")?
                .strip_suffix("/service.yaml")?;
            (!dir.contains('/')).then_some((path.as_str(), dir))
        })
        .collect()
}

/// Loads and validates the cluster files into `fleet.clusters`.
fn load_clusters(files: &FleetFiles, diags: &mut Diags<'_>, fleet: &mut Fleet) {
    load_clusters_reusing(files, diags, fleet, &mut |_| None);
}

/// Loads the cluster files into `fleet.clusters` as [`load`] does, except that a file for
/// which `earlier` gives the cluster it read before (the incremental compiler's, for files
/// that did not change) is not read again. Only for files whose earlier read had no problems:
/// a duplicate name reported against such a cluster has no position in its file.
pub(crate) fn load_clusters_reusing(
    files: &FleetFiles,
    diags: &mut Diags<'_>,
    fleet: &mut Fleet,
    earlier: &mut dyn FnMut(&str) -> Option<ClusterSpec>,
) {
    let mut cluster_origin: BTreeMap<ClusterName, (String, Range<usize>)> = BTreeMap::new();
    for (path, stem) in cluster_files(files) {
        let read = match earlier(path) {
            Some(spec) => Some((spec, 0..0)),
            None => FileCx::new(path, files.text(path), diags).cluster(stem),
        };
        let Some((spec, name_span)) = read else {
            continue;
        };
        if let Some((first, first_span)) = cluster_origin.get(&spec.name) {
            let primary = diags.label(path, name_span, "declared again here");
            let note = diags.note(first, first_span.clone(), "first declared here");
            diags.push(
                diagnostics::Diagnostic::error(
                    "cluster::duplicate",
                    format!("two clusters are named `{}`", spec.name),
                )
                .with_help("cluster names are unique in a fleet; rename one"),
                vec![primary, note],
            );
            continue;
        }
        cluster_origin.insert(spec.name.clone(), (path.to_owned(), name_span));
        fleet.clusters.insert(spec.name.clone(), spec);
    }
}

/// Loads and validates the service files into `fleet.services` (which starts empty), and
/// checks that their dependencies name services of the fleet. Unreadable service files are
/// not reported here ([`load`] reports every unreadable file).
pub(crate) fn load_services(files: &FleetFiles, diags: &mut Diags<'_>, fleet: &mut Fleet) {
    let mut service_origin: BTreeMap<ServiceName, (String, Range<usize>)> = BTreeMap::new();
    // Services whose file exists but did not load: their dependents are not told the service
    // does not exist (its own problems are reported).
    let mut broken: Vec<String> = files
        .unreadable
        .keys()
        .filter_map(|p| p.strip_prefix("services/")?.strip_suffix("/service.yaml"))
        .map(str::to_owned)
        .collect();
    for (path, dir) in service_files(files) {
        let mut cx = FileCx::new(path, files.text(path), diags);
        let Some((spec, name_span)) = cx.service(dir) else {
            broken.push(dir.to_owned());
            if let Some(n) = declared_name(files.text(path)) {
                broken.push(n);
            }
            continue;
        };
        if let Some((first, first_span)) = service_origin.get(&spec.name) {
            let primary = diags.label(path, name_span, "declared again here");
            let note = diags.note(first, first_span.clone(), "first declared here");
            diags.push(
                diagnostics::Diagnostic::error(
                    "service::duplicate",
                    format!("two services are named `{}`", spec.name),
                )
                .with_help("service names are unique in a fleet; rename one"),
                vec![primary, note],
            );
            continue;
        }
        service_origin.insert(spec.name.clone(), (path.to_owned(), name_span));
        fleet.services.insert(spec.name.clone(), spec);
    }

    // Dependencies must name services of the fleet.
    let names: Vec<&str> = fleet.services.keys().map(ServiceName::as_str).collect();
    for spec in fleet.services.values() {
        for dep in &spec.depends_on {
            if fleet.services.contains_key(&dep.name)
                || broken.iter().any(|b| b == dep.name.as_str())
            {
                continue;
            }
            let help = match suggest(dep.name.as_str(), names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the fleet has no folder services/{}/", dep.name),
            };
            diags.error_at(
                "service::unknown-dependency",
                format!(
                    "`{}` depends on `{}`, which is not a service of the fleet",
                    spec.name, dep.name
                ),
                &spec.file,
                dep.span.clone(),
                "unknown service",
                Some(help),
            );
        }
    }
}

/// The `name:` a service file declares, read leniently (for files that did not load).
fn declared_name(text: &str) -> Option<String> {
    let root = yaml::parse(text).root?;
    let Kind::Map(entries) = root.kind else {
        return None;
    };
    entries
        .iter()
        .find(|e| e.key.as_str() == Some("name"))
        .and_then(|e| e.value.as_str().map(str::to_owned))
}

/// Validation of one cluster or service file: the shared reader of fixed fields, and what
/// only fleet files have (names, DNS labels, charts, values sources).
struct FileCx<'a, 'f>(syntax::fields::FileCx<'a, 'f>);

impl<'a, 'f> FileCx<'a, 'f> {
    fn new(file: &'a str, text: &'a str, diags: &'a mut Diags<'f>) -> Self {
        FileCx(syntax::fields::FileCx { file, text, diags })
    }
}

impl<'a, 'f> std::ops::Deref for FileCx<'a, 'f> {
    type Target = syntax::fields::FileCx<'a, 'f>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for FileCx<'_, '_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl FileCx<'_, '_> {
    /// Parses the file; reports YAML problems, and an empty file.
    fn root(&mut self) -> Option<Node> {
        let root = self.0.root();
        if root.is_none() && self.text.trim().is_empty() {
            let file = self.file;
            self.error(
                "yaml::empty",
                format!("{file} is empty"),
                0..0,
                "expected a mapping",
                None,
            );
        }
        root
    }

    /// A string field.
    fn string(&mut self, fields: &Fields<'_>, name: &str, what: &str) -> Option<String> {
        let e = fields.get(name)?;
        self.0.string(&e.value, &format!("`{name}` of {what}"))
    }

    /// A required, non-empty string field (its absence was reported by `fields`).
    fn name_like(&mut self, fields: &Fields<'_>, name: &str, what: &str) -> Option<String> {
        let s = self.string(fields, name, what)?;
        if s.trim().is_empty() {
            let span = fields.get(name).map_or(0..0, |e| e.value.span.clone());
            self.error(
                "yaml::empty",
                format!("`{name}` of {what} is empty"),
                span,
                "empty",
                None,
            );
            return None;
        }
        Some(s)
    }

    /// Reports a name that is not a DNS-1123 label; returns whether it is one.
    fn dns_label(
        &mut self,
        code: &str,
        what: &str,
        value: &str,
        span: Range<usize>,
        max: usize,
    ) -> bool {
        match dns1123_label(value, max) {
            Ok(()) => true,
            Err(why) => {
                self.error(
                    code,
                    format!("invalid {what} `{value}`: {why}"),
                    span,
                    "not a DNS-1123 label",
                    Some(
                        "use lower case letters, digits and '-', starting and ending with a \
                         letter or digit (e.g. 'my-name' or '123-abc')"
                            .into(),
                    ),
                );
                false
            }
        }
    }

    fn cluster(&mut self, stem: &str) -> Option<(ClusterSpec, Range<usize>)> {
        let root = self.root()?;
        let fields = self.fields(&root, CLUSTER_FIELDS, "a cluster")?;
        let name = self.name_like(&fields, "name", "the cluster");
        let name_span = fields
            .get("name")
            .map_or(root.span.start..root.span.start, |e| e.value.span.clone());
        let provider = self.name_like(&fields, "provider", "the cluster");
        let region = self.name_like(&fields, "region", "the cluster");
        let environment = self.name_like(&fields, "environment", "the cluster");
        let mut tags = BTreeMap::new();
        if let Some(e) = fields.get("tags") {
            match &e.value.kind {
                Kind::Map(entries) => {
                    for t in entries {
                        let Some(k) = t.key.as_str() else {
                            self.wrong_type(&t.key, "a string", "a tag name");
                            continue;
                        };
                        match &t.value.kind {
                            Kind::Str(v) => {
                                tags.insert(k.to_owned(), v.clone());
                            }
                            _ => self.wrong_type(&t.value, "a string", &format!("tag `{k}`")),
                        }
                    }
                }
                Kind::Null => {}
                _ => self.wrong_type(&e.value, "a mapping", "`tags`"),
            }
        }
        let mut metadata = BTreeMap::new();
        if let Some(e) = fields.get("metadata") {
            match &e.value.kind {
                Kind::Map(entries) => {
                    for m in entries {
                        let Some(k) = m.key.as_str() else {
                            self.wrong_type(&m.key, "a string", "a metadata key");
                            continue;
                        };
                        if let Some(v) = self.data(&m.value) {
                            metadata.insert(k.to_owned(), v);
                        }
                    }
                }
                Kind::Null => {}
                _ => self.wrong_type(&e.value, "a mapping", "`metadata`"),
            }
        }
        let kubernetes = match fields.get("kubernetes") {
            Some(e) => self.kubernetes(&e.value),
            None => None,
        };

        // Identity: the declared name when it is valid, else the file's.
        let mut identity = None;
        if let Some(n) = &name
            && self.dns_label(
                "cluster::invalid-name",
                "cluster name",
                n,
                name_span.clone(),
                63,
            )
        {
            identity = Some(n.clone());
            if n != stem {
                self.error(
                    "cluster::name-mismatch",
                    format!("cluster `{n}` is declared in clusters/{stem}.yaml"),
                    name_span.clone(),
                    format!("the file name says `{stem}`"),
                    Some(format!(
                        "a cluster file is named after its cluster: rename the file to \
                         clusters/{n}.yaml, or set `name: {stem}`"
                    )),
                );
            }
        }
        if identity.is_none() && name.is_none() && dns1123_label(stem, 63).is_ok() {
            identity = Some(stem.to_owned());
        }
        let identity = identity?;
        Some((
            ClusterSpec {
                name: ClusterName::new(identity),
                provider: provider.unwrap_or_default(),
                region: region.unwrap_or_default(),
                environment: environment.unwrap_or_default(),
                tags,
                metadata,
                kubernetes,
                file: self.file.to_owned(),
            },
            name_span,
        ))
    }

    /// A cluster's `kubernetes:` (`version`, `apiVersions`), checked as Helm checks
    /// `--kube-version` and `--api-versions`.
    fn kubernetes(&mut self, node: &Node) -> Option<Kubernetes> {
        if matches!(node.kind, Kind::Null) {
            return None;
        }
        let fields = self.fields(node, KUBERNETES_FIELDS, "`kubernetes`")?;
        let version = self
            .name_like(&fields, "version", "`kubernetes`")
            .and_then(|v| match helm::objects::KubeVersion::parse(&v) {
                // As CEL's `semver()` reads it: `1.31` is `1.31.0`, no `v`.
                Ok(k) => Some(k.version.trim_start_matches('v').to_owned()),
                Err(e) => {
                    let span = fields.get("version").map_or(0..0, |e| e.value.span.clone());
                    self.error(
                        "cluster::kube-version",
                        format!("invalid Kubernetes version {v:?}: {e}"),
                        span,
                        "not a version",
                        Some(
                            "write it as Helm's --kube-version takes it, e.g. \"1.31\" or \"v1.31.2\""
                                .into(),
                        ),
                    );
                    None
                }
            });
        let mut api_versions = Vec::new();
        if let Some(e) = fields.get("apiVersions") {
            match &e.value.kind {
                Kind::Seq(items) => {
                    for item in items {
                        match &item.kind {
                            Kind::Str(v) if !v.trim().is_empty() => api_versions.push(v.clone()),
                            Kind::Str(_) => self.error(
                                "yaml::empty",
                                "an API version is empty",
                                item.span.clone(),
                                "empty",
                                Some("API versions are written `group/version`, e.g. `monitoring.coreos.com/v1`".into()),
                            ),
                            _ => self.wrong_type(item, "a string", "an API version"),
                        }
                    }
                }
                Kind::Null => {}
                _ => self.wrong_type(&e.value, "a list", "`apiVersions`"),
            }
        }
        let version = version?;
        api_versions.sort();
        api_versions.dedup();
        Some(Kubernetes {
            version,
            api_versions,
        })
    }

    fn data(&mut self, node: &Node) -> Option<Data> {
        Some(match &node.kind {
            Kind::Null => Data::Null,
            Kind::Bool(b) => Data::Bool(*b),
            Kind::Int(i) => Data::Int(*i),
            Kind::Float(f) => Data::Float(*f),
            Kind::Str(s) => Data::String(s.clone()),
            Kind::Seq(items) => Data::List(items.iter().filter_map(|n| self.data(n)).collect()),
            Kind::Map(entries) => {
                let mut out = BTreeMap::new();
                for e in entries {
                    let Some(k) = e.key.as_str() else {
                        self.wrong_type(&e.key, "a string", "a metadata key");
                        continue;
                    };
                    if let Some(v) = self.data(&e.value) {
                        out.insert(k.to_owned(), v);
                    }
                }
                Data::Map(out)
            }
        })
    }

    fn service(&mut self, dir: &str) -> Option<(ServiceSpec, Range<usize>)> {
        let root = self.root()?;
        let fields = self.fields(&root, SERVICE_FIELDS, "a service")?;
        let name = self.name_like(&fields, "name", "the service");
        let name_span = fields
            .get("name")
            .map_or(root.span.start..root.span.start, |e| e.value.span.clone());

        let owners = fields.get("owners").and_then(|e| {
            let f = self.fields(&e.value, OWNERS_FIELDS, "`owners`")?;
            let team = self.name_like(&f, "team", "`owners`");
            let slack = self.string(&f, "slack", "`owners`");
            let email = self.string(&f, "email", "`owners`");
            Some(Owners {
                team: team?,
                slack,
                email,
            })
        });
        let chart = fields.get("chart").and_then(|e| self.chart(&e.value, dir));
        let chart_span = fields
            .get("chart")
            .map_or(0..0, |e| e.key.span.start..e.value.span.end);
        let selector = fields.get("selector").and_then(|e| match &e.value.kind {
            Kind::Str(s) if !s.trim().is_empty() => Some(self.embedded(&e.value, s.clone())),
            Kind::Str(_) => {
                self.error(
                    "yaml::empty",
                    "the selector is empty",
                    e.value.span.clone(),
                    "empty",
                    Some("select every cluster with `selector: 'true'`".into()),
                );
                None
            }
            Kind::Bool(b) => {
                self.wrong_type(&e.value, "a string", "`selector`");
                let _ = b;
                None
            }
            _ => {
                self.wrong_type(&e.value, "a string", "`selector`");
                None
            }
        });
        let mut depends_on = Vec::new();
        if let Some(e) = fields.get("dependsOn") {
            match &e.value.kind {
                Kind::Seq(items) => {
                    for item in items {
                        let Some(dep) = item.as_str() else {
                            self.wrong_type(item, "a string", "an entry of `dependsOn`");
                            continue;
                        };
                        if depends_on
                            .iter()
                            .any(|d: &Dependency| d.name.as_str() == dep)
                        {
                            let file = self.file;
                            self.diags.warning_at(
                                "service::duplicate-dependency",
                                format!("`{dep}` is listed twice in `dependsOn`"),
                                file,
                                item.span.clone(),
                                "listed again here",
                                Some("remove one".into()),
                            );
                            continue;
                        }
                        depends_on.push(Dependency {
                            name: ServiceName::new(dep),
                            span: item.span.clone(),
                        });
                    }
                }
                Kind::Null => {}
                _ => self.wrong_type(&e.value, "a list", "`dependsOn`"),
            }
        }
        let release = fields.get("release").and_then(|e| {
            let f = self.fields(&e.value, RELEASE_FIELDS, "`release`")?;
            let name = self.name_like(&f, "name", "`release`")?;
            let namespace = self.name_like(&f, "namespace", "`release`")?;
            let mut ok = true;
            if let Err(why) = release_name(&name) {
                let span = f.get("name").map_or(0..0, |e| e.value.span.clone());
                self.error(
                    "release::invalid-name",
                    format!("invalid release name `{name}`: {why}"),
                    span,
                    "not a valid Helm release name",
                    Some(
                        "a release name is a DNS-1123 subdomain of at most 53 characters: \
                         lower case letters, digits, '-' and '.'"
                            .into(),
                    ),
                );
                ok = false;
            }
            let ns_span = f.get("namespace").map_or(0..0, |e| e.value.span.clone());
            ok &= self.dns_label(
                "release::invalid-namespace",
                "namespace",
                &namespace,
                ns_span,
                63,
            );
            ok.then_some(ReleaseSpec {
                name,
                namespace,
                span: e.key.span.clone(),
            })
        });
        let values = match fields.get("values") {
            None => None,
            Some(e) => match &e.value.kind {
                Kind::Str(s) => Some(self.embedded(&e.value, s.clone())),
                Kind::Null => None,
                _ => {
                    self.error(
                        "yaml::type",
                        format!("`values` must be a string, found {}", e.value.kind_name()),
                        e.value.span.clone(),
                        "expected a Go template",
                        Some(
                            "values is a Go template that renders to YAML: write `values: |` \
                             and the template indented below it"
                                .into(),
                        ),
                    );
                    None
                }
            },
        };
        let values_from = fields
            .get("valuesFrom")
            .map(|e| self.values_from(&e.value))
            .unwrap_or(Some(Vec::new()));
        let rollout = match fields.get("rollout") {
            None => Some(None),
            Some(e) => self
                .rollout(&e.value)
                .map(|r| (r != Rollout::default()).then_some(r)),
        };
        let bootstrap = match fields.get("bootstrap") {
            None => Some(false),
            Some(e) => match &e.value.kind {
                Kind::Bool(b) => Some(*b),
                _ => {
                    self.wrong_type(&e.value, "true or false", "`bootstrap`");
                    None
                }
            },
        };

        let mut identity = None;
        if let Some(n) = &name
            && self.dns_label(
                "service::invalid-name",
                "service name",
                n,
                name_span.clone(),
                63,
            )
        {
            identity = Some(n.clone());
            if n != dir {
                self.error(
                    "service::name-mismatch",
                    format!("service `{n}` is declared in services/{dir}/"),
                    name_span.clone(),
                    format!("the folder name says `{dir}`"),
                    Some(format!(
                        "a service folder is named after its service: rename the folder to \
                         services/{n}/, or set `name: {dir}`"
                    )),
                );
            }
        }
        if identity.is_none() && name.is_none() && dns1123_label(dir, 63).is_ok() {
            identity = Some(dir.to_owned());
        }
        let identity = identity?;
        // A service whose parts failed is left out; its problems are reported.
        let spec = ServiceSpec {
            name: ServiceName::new(identity),
            owners: owners?,
            chart: chart?,
            chart_span,
            selector: selector?,
            depends_on,
            release: release?,
            values: values.unwrap_or_else(|| Embedded {
                text: String::new(),
                file: self.file.to_owned(),
                span: root.span.start..root.span.start,
                offsets: Vec::new(),
            }),
            values_from: values_from?,
            rollout: rollout?,
            bootstrap: bootstrap?,
            file: self.file.to_owned(),
        };
        Some((spec, name_span))
    }

    /// `rollout:` settings; a field that is wrong is reported and left out. `None` when it is
    /// not a mapping.
    fn rollout(&mut self, node: &Node) -> Option<Rollout> {
        let f = self.fields(node, ROLLOUT_FIELDS, "`rollout`")?;
        let mut out = Rollout::default();
        if let Some(e) = f.get("deadline")
            && let Some(text) = self.string(&f, "deadline", "`rollout`")
        {
            match plan::parse_duration(&text) {
                Ok(d) if !d.is_zero() => {
                    out.deadline = text;
                    out.deadline_secs = d.as_secs().max(1);
                }
                _ => self.error(
                    "service::invalid-deadline",
                    format!("`{text}` is not a deadline"),
                    e.value.span.clone(),
                    "not a duration",
                    Some("write a duration such as `90s`, `10m` or `1h`".into()),
                ),
            }
        }
        if let Some(e) = f.get("canary")
            && let Some(text) = self.0.non_empty(&e.value, "`canary` of `rollout`")
        {
            out.canary = Some(self.embedded(&e.value, text));
        }
        if let Some(e) = f.get("soak")
            && let Some(text) = self.string(&f, "soak", "`rollout`")
        {
            match plan::parse_duration(&text) {
                Ok(_) => out.soak = Some(text),
                Err(_) => self.error(
                    "rollout::invalid-soak",
                    format!("`{text}` is not a soak time"),
                    e.value.span.clone(),
                    "not a duration",
                    Some("write a duration such as `0s`, `10m` or `1h`".into()),
                ),
            }
        }
        if let Some(e) = f.get("autoRollback") {
            match e.value.kind {
                Kind::Bool(b) => out.auto_rollback = Some(b),
                _ => self.wrong_type(&e.value, "true or false", "`autoRollback` of `rollout`"),
            }
        }
        if let Some(e) = f.get("environments")
            && let Some(items) = self.0.list(&e.value, "`environments` of `rollout`")
        {
            let mut seen = BTreeMap::new();
            for item in items {
                let Some(name) = self.0.non_empty(item, "an environment") else {
                    continue;
                };
                if self.first_definition(
                    &mut seen,
                    &name,
                    item.span.clone(),
                    "rollout::duplicate-environment",
                    "environment",
                ) {
                    out.environments.push(name);
                }
            }
        }
        if let Some(e) = f.get("maxUnavailable") {
            out.max_unavailable = self.amount(&e.value, true, "`maxUnavailable` of `rollout`");
        }
        if let Some(e) = f.get("waves")
            && let Some(items) = self.0.list(&e.value, "`waves` of `rollout`")
        {
            let mut last: [Option<u32>; 2] = [None, None];
            for item in items {
                let Some(a) = self.amount(item, false, "a wave") else {
                    continue;
                };
                let (slot, n) = match a {
                    Amount::Count(n) => (0, n),
                    Amount::Percent(n) => (1, n),
                };
                if last[slot].is_some_and(|l| n <= l) {
                    self.error(
                        "rollout::invalid-waves",
                        format!("wave `{a}` does not reach further than the wave before it"),
                        item.span.clone(),
                        "not more than the wave before",
                        Some(
                            "waves are cumulative: each gives the share of the clusters the \
                             version has reached after it, e.g. `[10%, 50%]`"
                                .into(),
                        ),
                    );
                    continue;
                }
                last[slot] = Some(n);
                out.waves.push(a);
            }
        }
        Some(out)
    }

    /// A number of clusters (`3`) or a share of them (`25%`); zero allowed when `zero`.
    fn amount(&mut self, node: &Node, zero: bool, what: &str) -> Option<Amount> {
        let parsed = match &node.kind {
            Kind::Int(n) => u32::try_from(*n).ok().map(Amount::Count),
            Kind::Str(s) => match s.trim().strip_suffix('%') {
                Some(p) => p
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|p| *p <= 100)
                    .map(Amount::Percent),
                None => s.trim().parse::<u32>().ok().map(Amount::Count),
            },
            _ => None,
        };
        match parsed {
            Some(Amount::Count(0) | Amount::Percent(0)) if !zero => {
                self.error(
                    "rollout::invalid-amount",
                    format!("{what} must reach at least one cluster"),
                    node.span.clone(),
                    "zero",
                    None,
                );
                None
            }
            Some(a) => Some(a),
            None => {
                self.error(
                    "rollout::invalid-amount",
                    format!("{what} must be a number of clusters or a percentage"),
                    node.span.clone(),
                    "expected a count or a percentage",
                    Some("write a count such as `2` or a percentage such as `25%`".into()),
                );
                None
            }
        }
    }

    /// `valuesFrom`: a list of `{vault: {path, key}}`; `None` when an entry is wrong (reported).
    fn values_from(&mut self, node: &Node) -> Option<Vec<ValuesFrom>> {
        let items = match &node.kind {
            Kind::Seq(items) => items,
            Kind::Null => return Some(Vec::new()),
            _ => {
                self.wrong_type(node, "a list", "`valuesFrom`");
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            let entry = self
                .fields(item, VALUES_FROM_FIELDS, "an entry of `valuesFrom`")
                .and_then(|f| {
                    let vault = f.get("vault")?;
                    let v = self.fields(&vault.value, VAULT_KEY_FIELDS, "`vault`")?;
                    let path = self.name_like(&v, "path", "`vault`");
                    let key = self.name_like(&v, "key", "`vault`");
                    let path = path?;
                    if let Err(e) = secrets::SecretPath::new(&path) {
                        let span = v.get("path").map_or(0..0, |e| e.value.span.clone());
                        self.error(
                            "secrets::invalid-reference",
                            e.to_string(),
                            span,
                            "not a secret path",
                            Some(
                                "a secret path is the mount then the secret, separated by '/': \
                                 `secret/payments/helm`"
                                    .into(),
                            ),
                        );
                        return None;
                    }
                    Some(ValuesFrom {
                        vault: VaultKey { path, key: key? },
                        span: item.span.clone(),
                    })
                });
            match entry {
                Some(e) => out.push(e),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn chart(&mut self, node: &Node, dir: &str) -> Option<ChartRef> {
        let f = self.fields(node, CHART_FIELDS, "`chart`")?;
        let path = self.string(&f, "path", "`chart`");
        let repository = self.string(&f, "repository", "`chart`");
        let name = self.string(&f, "name", "`chart`");
        let version = self.string(&f, "version", "`chart`");
        let key_span = |k: &str| f.get(k).map(|e| e.key.span.clone());
        match (f.contains_key("path"), f.contains_key("repository")) {
            (true, true) => {
                let file = self.file;
                let p =
                    self.diags
                        .label(file, key_span("path").unwrap_or_default(), "a local chart");
                let r = self.diags.label(
                    file,
                    key_span("repository").unwrap_or_default(),
                    "a repository chart",
                );
                self.diags.push(
                    diagnostics::Diagnostic::error(
                        "chart::source",
                        "the chart gives both `path` and `repository`",
                    )
                    .with_help("a chart comes either from the fleet (`path`) or from a Helm repository (`repository`, `name`, `version`); keep one"),
                    vec![p, r],
                );
                None
            }
            (false, false) => {
                self.error(
                    "chart::source",
                    "the chart gives neither `path` nor `repository`",
                    node.span.clone(),
                    "no chart source",
                    Some("give `path: ../../charts/<name>` for a chart in the fleet, or `repository`, `name` and `version` for a chart from a Helm repository".into()),
                );
                None
            }
            (true, false) => {
                for extra in ["name", "version"] {
                    if let Some(span) = key_span(extra) {
                        self.error(
                            "chart::source",
                            format!("`{extra}` belongs with `repository`, not with `path`"),
                            span,
                            "not used with `path`",
                            Some(format!(
                                "a local chart's {extra} is in its Chart.yaml; remove it here"
                            )),
                        );
                    }
                }
                let path = path?;
                let span = f.get("path").map_or(0..0, |e| e.value.span.clone());
                match normalize_chart_path(dir, &path) {
                    Ok(p) => Some(ChartRef::Local { path: p }),
                    Err(why) => {
                        self.error(
                            "chart::path",
                            format!("invalid chart path `{path}`: {why}"),
                            span,
                            "here",
                            Some("give a path relative to the service folder, inside the fleet, e.g. ../../charts/<name>".into()),
                        );
                        None
                    }
                }
            }
            (false, true) => {
                for (k, v) in [("name", &name), ("version", &version)] {
                    if !f.contains_key(k) {
                        self.error(
                            "yaml::missing-field",
                            format!("`chart` has no `{k}`"),
                            node.span.start..node.span.start,
                            format!("`{k}` is required with `repository`"),
                            None,
                        );
                    } else if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                        let span = f.get(k).map_or(0..0, |e| e.value.span.clone());
                        self.error(
                            "yaml::empty",
                            format!("`{k}` of `chart` is empty"),
                            span,
                            "empty",
                            None,
                        );
                    }
                }
                let repository = repository?;
                let rspan = f.get("repository").map_or(0..0, |e| e.value.span.clone());
                if !["https://", "http://", "oci://"]
                    .iter()
                    .any(|p| repository.starts_with(p))
                {
                    self.error(
                        "chart::repository",
                        format!("invalid chart repository `{repository}`"),
                        rspan,
                        "not a repository URL",
                        Some("give an https://, http:// or oci:// URL".into()),
                    );
                    return None;
                }
                let version = version?;
                let vspan = f.get("version").map_or(0..0, |e| e.value.span.clone());
                if semver::Version::parse(&version).is_err() {
                    self.error(
                        "chart::version",
                        format!("invalid chart version `{version}`"),
                        vspan,
                        "not an exact semantic version",
                        Some("a service version pins its chart: give an exact version such as 1.2.3 (no ranges, no leading `v`)".into()),
                    );
                    return None;
                }
                Some(ChartRef::Repository {
                    repository,
                    name: name.filter(|n| !n.trim().is_empty())?,
                    version,
                })
            }
        }
    }
}

/// `dir`'s chart path resolved from `services/<dir>/`, relative to the fleet root.
pub fn normalize_chart_path(dir: &str, path: &str) -> Result<String, String> {
    if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        return Err("it must be a relative path with `/` separators".into());
    }
    let mut parts: Vec<&str> = vec!["services", dir];
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("it leads outside the fleet repository".into());
                }
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Err("it names the fleet repository itself".into());
    }
    Ok(parts.join("/"))
}

/// Kubernetes' RFC 1123 label: at most `max` characters of `[a-z0-9-]`, starting and ending
/// with an alphanumeric character.
pub fn dns1123_label(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > max {
        return Err(format!("it is longer than {max} characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("it contains {c:?}"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Helm's release name rule: a DNS-1123 subdomain of at most 53 characters.
pub fn release_name(s: &str) -> Result<(), String> {
    if s.len() > 53 {
        return Err("it is longer than 53 characters".into());
    }
    for label in s.split('.') {
        dns1123_label(label, 63)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_paths_resolve_from_the_service_folder() {
        let check = |path: &str, expect: Result<&str, &str>| {
            assert_eq!(
                normalize_chart_path("api", path),
                expect.map(str::to_owned).map_err(str::to_owned),
                "{path}"
            );
        };
        check("../../charts/api", Ok("charts/api"));
        check("./chart", Ok("services/api/chart"));
        check("../../../x", Err("it leads outside the fleet repository"));
        check(
            "/abs",
            Err("it must be a relative path with `/` separators"),
        );
        check("../..", Err("it names the fleet repository itself"));
    }

    #[test]
    fn names_follow_kubernetes() {
        assert_eq!(dns1123_label("a-1", 63), Ok(()));
        assert_eq!(dns1123_label("A", 63), Err("it contains 'A'".into()));
        assert_eq!(
            dns1123_label("-a", 63),
            Err("it must start and end with a letter or digit".into())
        );
        assert_eq!(release_name("a.b-c"), Ok(()));
        assert_eq!(release_name("a..b"), Err("it is empty".into()));
        assert_eq!(
            release_name(&"a".repeat(54)),
            Err("it is longer than 53 characters".into())
        );
    }

    #[test]
    fn field_paths_cover_nested_fields() {
        let paths = field_paths(SERVICE_FIELDS);
        assert!(paths.contains(&"chart.repository".to_owned()));
        assert!(paths.contains(&"release.namespace".to_owned()));
    }
}
