//! The fleet as the rest of the compiler sees it: what users write (`*Spec`), the names that
//! identify things (newtype ids), what was selected where, and in which order it installs.
//!
//! Everything here is plain data, ordered (sorted maps) so that anything derived from it is
//! deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        /// Shared text: names are cloned into every cluster's selection and waves.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// Wraps a name; the loader validates names before it makes them.
            pub fn new(name: impl Into<String>) -> $name {
                $name(std::sync::Arc::from(name.into()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A cluster's name: its file name under `clusters/` and its identity everywhere.
    ClusterName
);
name_type!(
    /// A service's name: its folder under `services/`.
    ServiceName
);

/// The whole fleet repository, loaded and validated. Files that had errors contribute what
/// could be read of them (a cluster or service with an invalid field is still present when its
/// name is known, so later phases report their own problems too).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fleet {
    pub clusters: BTreeMap<ClusterName, ClusterSpec>,
    pub services: BTreeMap<ServiceName, ServiceSpec>,
    /// The fleet's rollout defaults (`rollout:` of `fleet.yaml`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// `clusters/<name>.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterSpec {
    pub name: ClusterName,
    pub provider: String,
    pub region: String,
    pub environment: String,
    pub tags: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, Data>,
    /// What charts see as `.Capabilities` (Helm's `--kube-version`, `--api-versions`), when
    /// the cluster declares it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<Kubernetes>,
    /// The file it was read from, relative to the fleet root.
    #[serde(skip)]
    pub file: String,
}

/// A cluster's `kubernetes:`: its version and the API versions it serves beyond the built-in
/// ones, as charts see them in `.Capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Kubernetes {
    /// As written (`1.31`, `v1.31.2`); charts see it normalised (`v1.31.2`).
    pub version: String,
    #[serde(rename = "apiVersions", skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
}

/// `services/<name>/service.yaml`: one immutable version of a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceSpec {
    pub name: ServiceName,
    pub owners: Owners,
    pub chart: ChartRef,
    /// Where the chart is given in the service file (`chart:` and its value).
    #[serde(skip)]
    pub chart_span: Range<usize>,
    pub selector: Embedded,
    #[serde(rename = "dependsOn")]
    pub depends_on: Vec<Dependency>,
    pub release: ReleaseSpec,
    /// A Go template rendered once per cluster (with `.Cluster` and `.Service`) into YAML
    /// values for the chart. Empty when the service gives none.
    pub values: Embedded,
    /// YAML fragments read from secrets and merged under the rendered values, in order.
    /// Left out of the canonical spec when empty, so digests of services without it are
    /// unchanged.
    #[serde(rename = "valuesFrom", skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesFrom>,
    /// `rollout: {deadline: 10m}`: how long a release may take to be Ready before its
    /// deployment counts as stuck (the runtime's default when absent). Left out of the
    /// canonical spec when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// `bootstrap: true`: installed before every service that is not (a new cluster's
    /// foundations), in its own waves first. Left out of the canonical spec when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bootstrap: bool,
    /// The file it was read from, relative to the fleet root.
    #[serde(skip)]
    pub file: String,
}

/// A service's rollout settings (`rollout:` of its `service.yaml`), or the fleet's defaults
/// (`rollout:` of `fleet.yaml`). A field left out takes the fleet's default. Fields absent
/// are left out of the canonical spec, so digests of services without them are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// As written (`10m`); empty when absent.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deadline: String,
    /// 0 when absent (the runtime's default).
    #[serde(skip)]
    pub deadline_secs: u64,
    /// A CEL selector: the clusters that take a new version first, as their own wave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Embedded>,
    /// The share of the other clusters the version has reached after each wave, in order
    /// (cumulative: `[10%, 50%]` makes waves of 10%, 40% and the rest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<Amount>,
    /// Failed or stuck clusters a wave tolerates (a count, or a share of the wave).
    #[serde(rename = "maxUnavailable", skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Amount>,
    /// How long a wave stays Ready before the next one starts, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soak: Option<String>,
    /// A halted rollout puts the environment back on the version it replaced.
    #[serde(rename = "autoRollback", skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
    /// The environments a version is promoted through, in order (default: `fleet.yaml`'s).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
}

/// A number of clusters, or a share of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(u32),
    Percent(u32),
}

impl Amount {
    /// How many of `n` clusters: a share rounds up for waves (`up`) and down for the
    /// failures tolerated.
    pub fn of(self, n: usize, up: bool) -> usize {
        match self {
            Amount::Count(c) => (c as usize).min(n),
            Amount::Percent(p) => {
                let p = p.min(100) as usize;
                if up {
                    (n * p).div_ceil(100)
                } else {
                    n * p / 100
                }
            }
        }
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::Count(c) => write!(f, "{c}"),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Amount::Count(c) => s.serialize_u32(*c),
            Amount::Percent(_) => s.collect_str(self),
        }
    }
}

impl Rollout {
    /// These settings, each absent one taken from `defaults`.
    pub fn or(&self, defaults: Option<&Rollout>) -> Rollout {
        let Some(d) = defaults else {
            return self.clone();
        };
        Rollout {
            deadline: if self.deadline.is_empty() {
                d.deadline.clone()
            } else {
                self.deadline.clone()
            },
            deadline_secs: if self.deadline.is_empty() {
                d.deadline_secs
            } else {
                self.deadline_secs
            },
            canary: self.canary.clone().or_else(|| d.canary.clone()),
            waves: if self.waves.is_empty() {
                d.waves.clone()
            } else {
                self.waves.clone()
            },
            max_unavailable: self.max_unavailable.or(d.max_unavailable),
            soak: self.soak.clone().or_else(|| d.soak.clone()),
            auto_rollback: self.auto_rollback.or(d.auto_rollback),
            environments: if self.environments.is_empty() {
                d.environments.clone()
            } else {
                self.environments.clone()
            },
        }
    }

    /// Whether a new version goes out in waves (a canary, waves or a soak time is set).
    pub fn progressive(&self) -> bool {
        self.canary.is_some() || !self.waves.is_empty() || self.soak.is_some()
    }
}

/// One entry of `valuesFrom`: `{vault: {path: secret/payments/helm, key: values.yaml}}`, a key
/// of a secret holding a YAML mapping of values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValuesFrom {
    pub vault: VaultKey,
    /// Where the entry is written in the service file.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// A key of a secret, as written in `service.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultKey {
    pub path: String,
    pub key: String,
}

impl ServiceSpec {
    pub fn dependencies(&self) -> impl Iterator<Item = &ServiceName> {
        self.depends_on.iter().map(|d| &d.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owners {
    pub team: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One entry of `dependsOn`, with where it was written (for diagnostics about it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Dependency {
    pub name: ServiceName,
    #[serde(skip)]
    pub span: Range<usize>,
}

/// Where a service's chart comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChartRef {
    /// A chart in the fleet repository; `path` is relative to the fleet root, normalized
    /// (`services/x/../../charts/y` is `charts/y`).
    Local { path: String },
    /// A chart from a Helm repository, at an exact version.
    Repository {
        repository: String,
        name: String,
        version: String,
    },
}

/// The Helm release a service installs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseSpec {
    pub name: String,
    pub namespace: String,
    /// Where `release:` is written in the service file.
    #[serde(skip)]
    pub span: Range<usize>,
}

/// A text written inside a YAML file (a CEL selector, a values template), with the way back
/// from a position in the text to the position in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Embedded {
    pub text: String,
    /// The file, relative to the fleet root.
    #[serde(skip)]
    pub file: String,
    /// Byte span of the whole YAML scalar in the file.
    #[serde(skip)]
    pub span: Range<usize>,
    /// File byte offset of every byte of `text` and of its end; empty when the text could not
    /// be aligned with its source (then positions fall back to `span.start`).
    #[serde(skip)]
    pub offsets: Vec<usize>,
}

impl Embedded {
    /// Text that was not written in any file (a selector given on the command line).
    pub fn detached(text: impl Into<String>, file: impl Into<String>) -> Embedded {
        let text = text.into();
        let offsets = (0..=text.len()).collect();
        Embedded {
            span: 0..text.len(),
            text,
            file: file.into(),
            offsets,
        }
    }

    /// The file byte range of a byte range of the text.
    pub fn file_range(&self, range: Range<usize>) -> Range<usize> {
        match (self.offsets.get(range.start), self.offsets.get(range.end)) {
            (Some(&s), Some(&e)) => s..e.max(s),
            (Some(&s), None) => s..s,
            _ => self.span.start..self.span.start,
        }
    }
}

impl Kubernetes {
    /// `{version: …, apiVersions: […]}` as values templates and CEL see it.
    pub fn to_data(&self) -> Data {
        let mut m = BTreeMap::new();
        m.insert("version".into(), Data::String(self.version.clone()));
        m.insert(
            "apiVersions".into(),
            Data::List(
                self.api_versions
                    .iter()
                    .map(|v| Data::String(v.clone()))
                    .collect(),
            ),
        );
        Data::Map(m)
    }
}

impl ClusterSpec {
    /// The cluster as values templates see it (`.Cluster`): the same fields as CEL's `cluster`.
    pub fn to_data(&self) -> Data {
        let mut m = BTreeMap::new();
        m.insert("name".into(), Data::String(self.name.as_str().to_owned()));
        m.insert("provider".into(), Data::String(self.provider.clone()));
        m.insert("region".into(), Data::String(self.region.clone()));
        m.insert("environment".into(), Data::String(self.environment.clone()));
        m.insert(
            "tags".into(),
            Data::Map(
                self.tags
                    .iter()
                    .map(|(k, v)| (k.clone(), Data::String(v.clone())))
                    .collect(),
            ),
        );
        m.insert("metadata".into(), Data::Map(self.metadata.clone()));
        if let Some(k) = &self.kubernetes {
            m.insert("kubernetes".into(), k.to_data());
        }
        Data::Map(m)
    }
}

impl ServiceSpec {
    /// The service as values templates see it (`.Service`): `name`, `owners`, `release`,
    /// `chart` and `dependsOn`, with the field names users write.
    pub fn to_data(&self) -> Data {
        let s = |v: &str| Data::String(v.to_owned());
        let mut owners = BTreeMap::new();
        owners.insert("team".into(), s(&self.owners.team));
        if let Some(slack) = &self.owners.slack {
            owners.insert("slack".into(), s(slack));
        }
        if let Some(email) = &self.owners.email {
            owners.insert("email".into(), s(email));
        }
        let mut release = BTreeMap::new();
        release.insert("name".into(), s(&self.release.name));
        release.insert("namespace".into(), s(&self.release.namespace));
        let mut chart = BTreeMap::new();
        match &self.chart {
            ChartRef::Local { path } => {
                chart.insert("path".into(), s(path));
            }
            ChartRef::Repository {
                repository,
                name,
                version,
            } => {
                chart.insert("repository".into(), s(repository));
                chart.insert("name".into(), s(name));
                chart.insert("version".into(), s(version));
            }
        }
        let mut m = BTreeMap::new();
        m.insert("name".into(), s(self.name.as_str()));
        m.insert("owners".into(), Data::Map(owners));
        m.insert("release".into(), Data::Map(release));
        m.insert("chart".into(), Data::Map(chart));
        m.insert(
            "dependsOn".into(),
            Data::List(self.dependencies().map(|d| s(d.as_str())).collect()),
        );
        Data::Map(m)
    }
}

/// Free-form data (cluster metadata): what YAML can say, with sorted maps.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Data {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Data>),
    Map(BTreeMap<String, Data>),
}

/// A content address: `sha256:<hex>`.
pub use plan::Digest;

/// Which services each cluster runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// Every cluster of the fleet, with the (possibly empty) set of services selected on it.
    pub clusters: BTreeMap<ClusterName, BTreeSet<ServiceName>>,
}

impl Selection {
    pub fn services_on(&self, cluster: &str) -> impl Iterator<Item = &ServiceName> {
        self.clusters.get(cluster).into_iter().flatten()
    }

    /// The clusters a service is selected on, sorted.
    pub fn clusters_of(&self, service: &str) -> Vec<&ClusterName> {
        self.clusters
            .iter()
            .filter(|(_, s)| s.contains(service))
            .map(|(c, _)| c)
            .collect()
    }
}

/// A cluster's services in installation order: wave `i` holds the services whose longest chain
/// of dependencies (among the services selected on the cluster) has length `i`; the services of
/// a wave can install in parallel once the previous waves are ready. Each wave is sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Waves(pub Vec<Vec<ServiceName>>);

impl Waves {
    /// All services, dependencies first.
    pub fn order(&self) -> impl Iterator<Item = &ServiceName> {
        self.0.iter().flatten()
    }
}

/// The digest of what `reads` reads of a cluster's data: equal digests mean the template
/// renders equal values on the two clusters.
pub fn projection(reads: &[Vec<String>], cluster: &Data) -> Digest {
    let mut h = Sha256::new();
    h.update(b"flotilla.projection/v1\0");
    for chain in reads {
        h.update((chain.len() as u64).to_le_bytes());
        let mut at = Some(cluster);
        for field in chain {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
            // A missing key is nil; a field of something that is not a map is an error that
            // names its type, so that value is what counts.
            match at {
                Some(Data::Map(m)) => at = m.get(field),
                _ => break,
            }
        }
        match at {
            Some(v) => hash_data(&mut h, v, 0),
            None => h.update([b'?']),
        }
    }
    Digest(h.finalize().into())
}

fn hash_data(h: &mut Sha256, d: &Data, depth: usize) {
    let put = |h: &mut Sha256, tag: u8, bytes: &[u8]| {
        h.update([tag]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    if depth > 128 {
        h.update([b'!']);
        return;
    }
    match d {
        Data::Null => h.update([b'z']),
        Data::Bool(b) => h.update([b'b', u8::from(*b)]),
        Data::Int(i) => put(h, b'i', &i.to_le_bytes()),
        Data::Float(f) => put(h, b'f', &f.to_bits().to_le_bytes()),
        Data::String(s) => put(h, b's', s.as_bytes()),
        Data::List(items) => {
            put(h, b'l', &(items.len() as u64).to_le_bytes());
            for i in items {
                hash_data(h, i, depth + 1);
            }
        }
        Data::Map(m) => {
            put(h, b'm', &(m.len() as u64).to_le_bytes());
            for (k, v) in m {
                put(h, b'k', k.as_bytes());
                hash_data(h, v, depth + 1);
            }
        }
    }
}
