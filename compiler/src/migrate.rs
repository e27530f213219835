//! Migration in place: the compiled manifests compared with another tool's dry run (a folder
//! of `helm template` outputs, `<cluster>/<release>.yaml`), object by object, keyed by (API
//! group, kind, namespace, name), ignoring key order, formatting and comments. Each change is
//! classified by what it means for moving a release onto Flotilla where it runs:
//!
//! - **blocks** an in-place migration: something Kubernetes will not change in place (a
//!   workload's selector, a StatefulSet's `volumeClaimTemplates`, a Service's `clusterIP`, a
//!   Job's template), a release or a workload that only one side has (a release or object name
//!   change);
//! - **rolls pods**: a workload's pod template changed (a restart, no downtime with enough
//!   replicas);
//! - **safe**: anything else.
//!
//! Secret objects' `data` and `stringData` values are compared by digest and shown as
//! `<secret sha256:…>`; the caller masks every other string it prints (`mask`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::yaml;

/// What a change means for an in-place migration (ordered: the worst is the greatest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    Safe,
    RollsPods,
    Blocks,
}

impl Class {
    pub fn describe(self) -> &'static str {
        match self {
            Class::Safe => "safe",
            Class::RollsPods => "rolls pods",
            Class::Blocks => "blocks an in-place migration",
        }
    }
}

/// An object's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectKey {
    /// The API group (`apps`; empty for the core group).
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.group.is_empty() {
            write!(f, "{}/", self.group)?;
        }
        write!(f, "{} ", self.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        f.write_str(&self.name)
    }
}

/// One field that differs: its path (`spec.template.spec.containers[name=api].image`) and
/// both values (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub theirs: Option<Value>,
    pub ours: Option<Value>,
}

/// How an object differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "change")]
pub enum ObjectChange {
    /// Only in Flotilla's manifests.
    Added { object: ObjectKey, class: Class },
    /// Only in the other tool's.
    Removed { object: ObjectKey, class: Class },
    Changed {
        object: ObjectKey,
        class: Class,
        /// Why it has its class (`spec.selector is immutable`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
        fields: Vec<FieldChange>,
    },
}

impl ObjectChange {
    pub fn class(&self) -> Class {
        match self {
            ObjectChange::Added { class, .. }
            | ObjectChange::Removed { class, .. }
            | ObjectChange::Changed { class, .. } => *class,
        }
    }
}

/// Where a release is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Both,
    /// Only in Flotilla's plan.
    Ours,
    /// Only in the other tool's output.
    Theirs,
}

/// The differences of one release on one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseDiff {
    pub cluster: String,
    pub release: String,
    pub side: Side,
    pub class: Class,
    pub objects: Vec<ObjectChange>,
}

/// The whole comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MigrationDiff {
    /// Releases compared (on both sides or one).
    pub releases: usize,
    /// Objects found identical.
    pub identical: usize,
    /// The releases that differ, by cluster then release.
    pub differences: Vec<ReleaseDiff>,
}

/// Why a dry-run output cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: document {document} is not valid YAML: {message}")]
    Yaml {
        path: String,
        document: usize,
        message: String,
    },
}

/// The other tool's output: `<cluster>/<release>.yaml` under `dir` → the file's text.
pub fn read_dry_run(dir: &Path) -> Result<BTreeMap<(String, String), String>, DiffError> {
    let read_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| DiffError::Read { path, source }
    };
    let mut out = BTreeMap::new();
    for cluster in std::fs::read_dir(dir).map_err(read_error(dir))? {
        let cluster = cluster.map_err(read_error(dir))?;
        if !cluster.path().is_dir() {
            continue;
        }
        let cluster_name = cluster.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(cluster.path()).map_err(read_error(&cluster.path()))? {
            let file = file.map_err(read_error(&cluster.path()))?;
            let name = file.file_name().to_string_lossy().into_owned();
            let Some(release) = name
                .strip_suffix(".yaml")
                .or_else(|| name.strip_suffix(".yml"))
            else {
                continue;
            };
            let text = std::fs::read_to_string(file.path()).map_err(read_error(&file.path()))?;
            out.insert((cluster_name.clone(), release.to_owned()), text);
        }
    }
    Ok(out)
}

/// The objects of a multi-document manifest, by key (Secret values replaced by digests).
pub fn objects(path: &str, text: &str) -> Result<BTreeMap<ObjectKey, Value>, DiffError> {
    let mut out = BTreeMap::new();
    for (i, doc) in crate::review::documents(text).into_iter().enumerate() {
        let parsed = yaml::parse(&doc);
        if let Some(p) = parsed.problems.first() {
            return Err(DiffError::Yaml {
                path: path.to_owned(),
                document: i + 1,
                message: p.message.clone(),
            });
        }
        let Some(root) = parsed.root else { continue };
        let mut value = yaml::to_json(&root);
        let Value::Object(map) = &value else { continue };
        let text_of = |k: &str| map.get(k).and_then(Value::as_str).unwrap_or_default();
        let kind = text_of("kind").to_owned();
        if kind.is_empty() {
            continue;
        }
        let api = text_of("apiVersion");
        let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
        let meta = map.get("metadata");
        let field = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let key = ObjectKey {
            group,
            namespace: field("namespace"),
            name: field("name"),
            kind,
        };
        if key.kind == "Secret" {
            mask_secret(&mut value);
        }
        out.insert(key, value);
    }
    Ok(out)
}

/// Replaces the values of a Secret's `data` and `stringData` with their digests.
fn mask_secret(secret: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = secret.get_mut(field) {
            for v in map.values_mut() {
                let text = match &*v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let digest = plan::Digest::of(text.as_bytes());
                *v = Value::String(format!("<secret {}>", digest.short()));
            }
        }
    }
}

/// The workloads whose pods a template describes.
const WORKLOADS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"];

/// Compares one release's objects.
pub fn diff_release(
    theirs: &BTreeMap<ObjectKey, Value>,
    ours: &BTreeMap<ObjectKey, Value>,
) -> (Vec<ObjectChange>, usize) {
    let mut out = Vec::new();
    let mut identical = 0;
    let keys: BTreeSet<&ObjectKey> = theirs.keys().chain(ours.keys()).collect();
    for key in keys {
        match (theirs.get(key), ours.get(key)) {
            (Some(a), Some(b)) if a == b => identical += 1,
            (Some(a), Some(b)) => {
                let mut fields = Vec::new();
                walk("", Some(a), Some(b), &mut fields);
                let (class, reasons) = classify(&key.kind, &fields);
                out.push(ObjectChange::Changed {
                    object: key.clone(),
                    class,
                    reasons,
                    fields,
                });
            }
            (None, Some(_)) => out.push(ObjectChange::Added {
                object: key.clone(),
                class: if WORKLOADS.contains(&key.kind.as_str()) {
                    Class::RollsPods
                } else {
                    Class::Safe
                },
            }),
            (Some(_), None) => out.push(ObjectChange::Removed {
                object: key.clone(),
                // Flotilla would delete what it does not render: a workload, its Service or
                // its claims go away (or, paired with an added one, were renamed).
                class: if WORKLOADS.contains(&key.kind.as_str())
                    || matches!(
                        key.kind.as_str(),
                        "Service" | "PersistentVolumeClaim" | "Job" | "CronJob"
                    ) {
                    Class::Blocks
                } else {
                    Class::Safe
                },
            }),
            (None, None) => {}
        }
    }
    (out, identical)
}

/// The class of a changed object from its changed fields, with the reasons.
fn classify(kind: &str, fields: &[FieldChange]) -> (Class, Vec<String>) {
    let mut class = Class::Safe;
    let mut reasons = BTreeSet::new();
    for f in fields {
        let p = f.path.as_str();
        let under = |prefix: &str| {
            p == prefix
                || p.starts_with(&format!("{prefix}."))
                || p.starts_with(&format!("{prefix}["))
        };
        let (c, why) = if WORKLOADS.contains(&kind) && under("spec.selector") {
            (Class::Blocks, "spec.selector is immutable".to_owned())
        } else if kind == "StatefulSet" && under("spec.volumeClaimTemplates") {
            (
                Class::Blocks,
                "spec.volumeClaimTemplates is immutable".to_owned(),
            )
        } else if kind == "Service" && (under("spec.clusterIP") || under("spec.clusterIPs")) {
            (Class::Blocks, "spec.clusterIP is immutable".to_owned())
        } else if kind == "Job" && (under("spec.template") || under("spec.selector")) {
            (Class::Blocks, "a Job's template is immutable".to_owned())
        } else if WORKLOADS.contains(&kind) && under("spec.template") {
            (Class::RollsPods, "the pod template changed".to_owned())
        } else {
            (Class::Safe, String::new())
        };
        class = class.max(c);
        if !why.is_empty() {
            reasons.insert(why);
        }
    }
    (class, reasons.into_iter().collect())
}

/// A path step for a mapping key: `.key`, or `["key"]` when it is not a plain word.
fn step(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

/// The `name` of every item when each is a mapping with a distinct one (containers, ports,
/// volumes, env): lists people key by name.
fn names(items: &[Value]) -> Option<Vec<&str>> {
    let names: Vec<&str> = items
        .iter()
        .map(|v| v.get("name").and_then(Value::as_str))
        .collect::<Option<_>>()?;
    let distinct: BTreeSet<&&str> = names.iter().collect();
    (distinct.len() == names.len()).then_some(names)
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (a, b) {
        (Some(x), Some(y)) if x == y => {}
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                walk(&step(path, k), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            if let (Some(nx), Some(ny)) = (names(x), names(y)) {
                let mut all: Vec<&str> = nx.clone();
                all.extend(ny.iter().filter(|n| !nx.contains(n)));
                for n in all {
                    let find = |items: &'_ [Value], ns: &[&str]| {
                        ns.iter().position(|m| *m == n).map(|i| items[i].clone())
                    };
                    let (l, r) = (find(x, &nx), find(y, &ny));
                    walk(&format!("{path}[name={n}]"), l.as_ref(), r.as_ref(), out);
                }
            } else {
                for i in 0..x.len().max(y.len()) {
                    walk(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
                }
            }
        }
        _ => out.push(FieldChange {
            path: path.to_owned(),
            theirs: a.cloned(),
            ours: b.cloned(),
        }),
    }
}

impl MigrationDiff {
    /// Compares releases: `theirs` and `ours` map (cluster, release) to a manifest.
    pub fn of(
        theirs: &BTreeMap<(String, String), String>,
        ours: &BTreeMap<(String, String), String>,
    ) -> Result<MigrationDiff, DiffError> {
        let mut out = MigrationDiff::default();
        let keys: BTreeSet<&(String, String)> = theirs.keys().chain(ours.keys()).collect();
        for key in keys {
            out.releases += 1;
            let (cluster, release) = key;
            let path = format!("{cluster}/{release}.yaml");
            let t = theirs.get(key).map(|x| objects(&path, x)).transpose()?;
            let o = ours.get(key).map(|x| objects(&path, x)).transpose()?;
            let side = match (&t, &o) {
                (Some(_), Some(_)) => Side::Both,
                (None, _) => Side::Ours,
                (_, None) => Side::Theirs,
            };
            let empty = BTreeMap::new();
            let (objects, identical) =
                diff_release(t.as_ref().unwrap_or(&empty), o.as_ref().unwrap_or(&empty));
            out.identical += identical;
            if objects.is_empty() && side == Side::Both {
                continue;
            }
            let class = if side == Side::Both {
                objects
                    .iter()
                    .map(ObjectChange::class)
                    .max()
                    .unwrap_or(Class::Safe)
            } else {
                // A release only one tool has: renamed, or not migrated.
                Class::Blocks
            };
            out.differences.push(ReleaseDiff {
                cluster: cluster.clone(),
                release: release.clone(),
                side,
                class,
                objects,
            });
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// The comparison for people; every value shown goes through `mask`.
    pub fn render(&self, mask: &dyn Fn(&str) -> String) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let show = |v: &Option<Value>| match v {
            None => "(absent)".to_owned(),
            Some(v) => mask(&v.to_string()),
        };
        let mut counts: BTreeMap<Class, usize> = BTreeMap::new();
        for r in &self.differences {
            let where_ = match r.side {
                Side::Both => String::new(),
                Side::Ours => " only in Flotilla's plan".to_owned(),
                Side::Theirs => " only in the other tool's output".to_owned(),
            };
            let _ = writeln!(
                out,
                "{}/{}:{where_} [{}]",
                r.cluster,
                r.release,
                r.class.describe()
            );
            for o in &r.objects {
                *counts.entry(o.class()).or_default() += 1;
                match o {
                    ObjectChange::Added { object, class } => {
                        let _ = writeln!(out, "  + {object} [{}]", class.describe());
                    }
                    ObjectChange::Removed { object, class } => {
                        let _ = writeln!(out, "  - {object} [{}]", class.describe());
                    }
                    ObjectChange::Changed {
                        object,
                        class,
                        reasons,
                        fields,
                    } => {
                        let why = if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", reasons.join(", "))
                        };
                        let _ = writeln!(out, "  ~ {object} [{}{why}]", class.describe());
                        for f in fields {
                            let _ = writeln!(
                                out,
                                "      {}: {} → {}",
                                f.path,
                                show(&f.theirs),
                                show(&f.ours)
                            );
                        }
                    }
                }
            }
        }
        if self.is_empty() {
            let _ = writeln!(
                out,
                "no difference: {} releases, {} objects identical",
                self.releases, self.identical
            );
        } else {
            let objects: usize = counts.values().sum();
            let by_class: Vec<String> = [Class::Blocks, Class::RollsPods, Class::Safe]
                .iter()
                .map(|c| format!("{} {}", counts.get(c).copied().unwrap_or(0), c.describe()))
                .collect();
            let _ = writeln!(
                out,
                "{} of {} releases differ ({objects} objects: {}); {} objects identical",
                self.differences.len(),
                self.releases,
                by_class.join(", "),
                self.identical
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: api}\n  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n        - name: api\n          image: api:1\n        - name: proxy\n          image: envoy:1\n";

    fn one(theirs: &str, ours: &str) -> ReleaseDiff {
        let t = BTreeMap::from([(("c".to_owned(), "api".to_owned()), theirs.to_owned())]);
        let o = BTreeMap::from([(("c".to_owned(), "api".to_owned()), ours.to_owned())]);
        let d = MigrationDiff::of(&t, &o).expect("compared");
        d.differences.into_iter().next().expect("a difference")
    }

    fn fields(r: &ReleaseDiff) -> Vec<String> {
        r.objects
            .iter()
            .flat_map(|o| match o {
                ObjectChange::Changed { fields, .. } => {
                    fields.iter().map(|f| f.path.clone()).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn order_formatting_and_comments_do_not_count() {
        let reordered = "# a comment\nkind: Deployment\napiVersion: \"apps/v1\"\nmetadata: {namespace: shop, name: api}\nspec:\n  template:\n    spec:\n      containers:\n        - {image: api:1, name: api}\n        - name: proxy\n          image: envoy:1\n    metadata: {labels: {app: api}}\n  selector: {matchLabels: {app: api}}\n  replicas: 2\n";
        let t = BTreeMap::from([(("c".to_owned(), "api".to_owned()), DEPLOYMENT.to_owned())]);
        let o = BTreeMap::from([(("c".to_owned(), "api".to_owned()), reordered.to_owned())]);
        let d = MigrationDiff::of(&t, &o).expect("compared");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.identical, 1);
    }

    #[test]
    fn an_image_rolls_pods_and_is_found_by_container_name() {
        let r = one(DEPLOYMENT, &DEPLOYMENT.replace("api:1", "api:2"));
        assert_eq!(r.class, Class::RollsPods);
        assert_eq!(
            fields(&r),
            vec!["spec.template.spec.containers[name=api].image"]
        );
    }

    #[test]
    fn a_selector_blocks_and_replicas_are_safe() {
        let r = one(
            DEPLOYMENT,
            &DEPLOYMENT.replace("  replicas: 2", "  replicas: 3"),
        );
        assert_eq!(r.class, Class::Safe);
        let r = one(
            DEPLOYMENT,
            &DEPLOYMENT.replace("matchLabels: {app: api}", "matchLabels: {app: api2}"),
        );
        assert_eq!(r.class, Class::Blocks);
        let ObjectChange::Changed { reasons, .. } = &r.objects[0] else {
            panic!("a change");
        };
        assert_eq!(reasons, &vec!["spec.selector is immutable".to_owned()]);
    }

    #[test]
    fn immutable_fields_of_services_statefulsets_and_jobs_block() {
        let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: api}\nspec:\n  clusterIP: 10.0.0.1\n  ports: [{name: http, port: 80}]\n";
        assert_eq!(
            one(svc, &svc.replace("10.0.0.1", "None")).class,
            Class::Blocks
        );
        assert_eq!(
            one(svc, &svc.replace("port: 80", "port: 8080")).class,
            Class::Safe
        );
        let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  volumeClaimTemplates:\n    - metadata: {name: data}\n      spec: {resources: {requests: {storage: 1Gi}}}\n";
        assert_eq!(one(sts, &sts.replace("1Gi", "2Gi")).class, Class::Blocks);
        let job = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  template:\n    spec: {containers: [{name: m, image: m:1}]}\n";
        assert_eq!(one(job, &job.replace("m:1", "m:2")).class, Class::Blocks);
    }

    #[test]
    fn a_renamed_workload_and_a_missing_release_block() {
        let r = one(
            DEPLOYMENT,
            &DEPLOYMENT.replace("name: api\n  namespace", "name: api-v2\n  namespace"),
        );
        assert_eq!(r.class, Class::Blocks);
        let kinds: Vec<(String, Class)> = r
            .objects
            .iter()
            .map(|o| match o {
                ObjectChange::Added { object, class } => (format!("+{object}"), *class),
                ObjectChange::Removed { object, class } => (format!("-{object}"), *class),
                ObjectChange::Changed { object, class, .. } => (format!("~{object}"), *class),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("-apps/Deployment shop/api".to_owned(), Class::Blocks),
                ("+apps/Deployment shop/api-v2".to_owned(), Class::RollsPods),
            ]
        );
        let t = BTreeMap::from([(("c".to_owned(), "old".to_owned()), DEPLOYMENT.to_owned())]);
        let d = MigrationDiff::of(&t, &BTreeMap::new()).expect("compared");
        assert_eq!(d.differences[0].side, Side::Theirs);
        assert_eq!(d.differences[0].class, Class::Blocks);
    }

    #[test]
    fn secret_values_are_compared_by_digest_and_never_shown() {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: hunter2-very-secret\n";
        let r = one(
            secret,
            &secret.replace("hunter2-very-secret", "swordfish-also-secret"),
        );
        let d = MigrationDiff {
            releases: 1,
            identical: 0,
            differences: vec![r],
        };
        let text = d.render(&|s| s.to_owned());
        assert!(text.contains("stringData.password: \"<secret "), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("swordfish"),
            "{text}"
        );
        let json = serde_json::to_string(&d).expect("JSON");
        assert!(
            !json.contains("hunter2") && !json.contains("swordfish"),
            "{json}"
        );
    }

    #[test]
    fn keys_that_are_not_words_are_quoted_in_paths() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {helm.sh/chart: app-1}\n";
        let r = one(cm, &cm.replace("app-1", "app-2"));
        assert_eq!(fields(&r), vec!["metadata.labels[\"helm.sh/chart\"]"]);
    }
}
