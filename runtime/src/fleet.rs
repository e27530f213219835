//! What the controller reads of a fleet besides what the compiler reads: its environments in
//! order (`fleet.yaml`) and the on-call webhook (`notifications.yaml`); and what a service's
//! published version holds: its folder and its chart's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use syntax::FleetFiles;

/// Where the fleet's environments are, relative to the fleet root.
pub const FLEET_FILE: &str = "fleet.yaml";
/// Where the on-call webhook is, relative to the fleet root.
pub const NOTIFICATIONS_FILE: &str = "notifications.yaml";

/// Why a fleet's runtime files are not usable.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{file}: {message}")]
    Invalid { file: &'static str, message: String },
    #[error("the fleet has no service `{service}`")]
    UnknownService { service: String },
}

/// One environment, in promotion order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: String,
    /// Deployments scheduled here are announced to the on-call channel.
    #[serde(default)]
    pub production: bool,
}

/// `fleet.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    pub environments: Vec<Environment>,
    /// The fleet's rollout defaults: the compiler reads and checks them.
    #[serde(default, rename = "rollout")]
    _rollout: Option<CheckedByTheCompiler>,
}

/// `notifications.yaml`: the on-call channel (`slack: {webhook: URL}`: production deployments
/// announced), the services' channels (`channels: {"#payments": URL}`, by `owners.slack`:
/// their stuck deployments), and the platform's pager (`pagerduty: {routingKey, url}`, the
/// PagerDuty Events API v2: platform faults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    #[serde(default)]
    pub slack: Option<Slack>,
    #[serde(default)]
    pub channels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub pagerduty: Option<PagerDuty>,
}

/// Where pages go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PagerDuty {
    pub routing_key: String,
    #[serde(default = "PagerDuty::default_url")]
    pub url: String,
}

impl PagerDuty {
    fn default_url() -> String {
        "https://events.pagerduty.com/v2/enqueue".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    pub webhook: String,
}

/// A part of a fleet file the compiler reads and checks (here, only accepted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CheckedByTheCompiler;

impl<'de> Deserialize<'de> for CheckedByTheCompiler {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| CheckedByTheCompiler)
    }
}

impl FleetConfig {
    /// Reads `fleet.yaml`; without one, the environments the clusters name, in the order
    /// `dev`, `staging`, `prod` first and then by name, `prod` being production.
    pub fn of(files: &FleetFiles, cluster_environments: &[String]) -> Result<Self, FleetError> {
        let Some(text) = files.files.get(FLEET_FILE) else {
            let known = ["dev", "staging", "prod"];
            let mut names: Vec<&String> = cluster_environments.iter().collect();
            names.sort_by_key(|n| {
                (
                    known
                        .iter()
                        .position(|k| *k == n.as_str())
                        .unwrap_or(known.len()),
                    n.as_str(),
                )
            });
            names.dedup();
            return Ok(FleetConfig {
                environments: names
                    .into_iter()
                    .map(|n| Environment {
                        name: n.clone(),
                        production: n == "prod" || n == "production",
                    })
                    .collect(),
                _rollout: None,
            });
        };
        let config: FleetConfig =
            serde_saphyr::from_str(text).map_err(|e| FleetError::Invalid {
                file: FLEET_FILE,
                message: e.to_string(),
            })?;
        let mut seen = std::collections::BTreeSet::new();
        for e in &config.environments {
            if !seen.insert(&e.name) {
                return Err(FleetError::Invalid {
                    file: FLEET_FILE,
                    message: format!("environment `{}` is named twice", e.name),
                });
            }
        }
        for c in cluster_environments {
            if !seen.contains(c) {
                return Err(FleetError::Invalid {
                    file: FLEET_FILE,
                    message: format!(
                        "a cluster is in environment `{c}`, which `environments` does not name"
                    ),
                });
            }
        }
        Ok(config)
    }

    pub fn get(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

impl Notifications {
    pub fn of(files: &FleetFiles) -> Result<Self, FleetError> {
        match files.files.get(NOTIFICATIONS_FILE) {
            None => Ok(Notifications::default()),
            Some(text) => serde_saphyr::from_str(text).map_err(|e| FleetError::Invalid {
                file: NOTIFICATIONS_FILE,
                message: e.to_string(),
            }),
        }
    }
}

/// The files of one service's version: its folder (`services/<service>/…`) and, when its chart
/// is in the fleet, the chart's folder. Text and bytes, by path from the fleet root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionFiles {
    pub files: BTreeMap<String, String>,
    /// Binary files (chart archives), base64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub blobs: BTreeMap<String, String>,
}

impl VersionFiles {
    /// The files of `service` in `files`.
    pub fn of(files: &FleetFiles, service: &str) -> Result<VersionFiles, FleetError> {
        let folder = format!("services/{service}/");
        let spec = format!("{folder}service.yaml");
        if !files.files.contains_key(&spec) {
            return Err(FleetError::UnknownService {
                service: service.to_owned(),
            });
        }
        let mut out = VersionFiles::default();
        let mut prefixes = vec![folder];
        if let Some(dir) = compiler::source::chart_dir(service, files.text(&spec)) {
            prefixes.push(format!("{dir}/"));
        }
        for prefix in &prefixes {
            for (k, v) in files.files.range(prefix.clone()..) {
                if !k.starts_with(prefix.as_str()) {
                    break;
                }
                out.files.insert(k.clone(), v.clone());
            }
            for (k, v) in files.blobs.range(prefix.clone()..) {
                if !k.starts_with(prefix.as_str()) {
                    break;
                }
                out.blobs.insert(k.clone(), encode(v));
            }
        }
        Ok(out)
    }

    /// A file's text, whether it is held as text or as bytes.
    pub fn text(&self, path: &str) -> Option<String> {
        if let Some(t) = self.files.get(path) {
            return Some(t.clone());
        }
        let bytes = decode(self.blobs.get(path)?)?;
        String::from_utf8(bytes).ok()
    }

    /// The version's digest: of every path and its bytes, in path order.
    pub fn digest(&self) -> plan::Digest {
        let mut all: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for (k, v) in &self.files {
            all.insert(k, v.as_bytes().to_vec());
        }
        for (k, v) in &self.blobs {
            all.insert(k, decode(v).unwrap_or_else(|| v.as_bytes().to_vec()));
        }
        let mut buf = Vec::new();
        for (k, v) in all {
            buf.extend_from_slice(k.as_bytes());
            buf.push(0);
            buf.extend_from_slice(v.len().to_string().as_bytes());
            buf.push(0);
            buf.extend_from_slice(&v);
        }
        plan::Digest::of(&buf)
    }

    /// Whether every path is the named service's or a chart's (what a publish may carry).
    pub fn check_paths(&self, service: &str) -> Result<(), String> {
        let folder = format!("services/{service}/");
        if !self.files.contains_key(&format!("{folder}service.yaml")) {
            return Err(format!(
                "a version of `{service}` needs {folder}service.yaml"
            ));
        }
        for path in self.files.keys().chain(self.blobs.keys()) {
            let ok = (path.starts_with(&folder) || path.starts_with("charts/"))
                && !path
                    .split('/')
                    .any(|p| p.is_empty() || p == "." || p == "..");
            if !ok {
                return Err(format!(
                    "`{path}` is neither in {folder} nor in charts/: a version holds its service's folder and its chart"
                ));
            }
        }
        for (path, b) in &self.blobs {
            if decode(b).is_none() {
                return Err(format!("`{path}` is not base64"));
            }
        }
        Ok(())
    }

    /// Adds the version's files to `files` (whose `services/<service>/` was emptied). A chart
    /// file another deployed version holds with other bytes is a conflict: its path is returned.
    pub fn add_to(&self, files: &mut FleetFiles) -> Result<(), String> {
        for (k, v) in &self.files {
            if let Some(old) = files.files.insert(k.clone(), v.clone())
                && old != *v
                && k.starts_with("charts/")
            {
                return Err(k.clone());
            }
        }
        for (k, v) in &self.blobs {
            let bytes: std::sync::Arc<[u8]> = decode(v).unwrap_or_default().into();
            if let Some(old) = files.blobs.insert(k.clone(), bytes.clone())
                && old != bytes
                && k.starts_with("charts/")
            {
                return Err(k.clone());
            }
        }
        Ok(())
    }
}

fn encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_default_to_the_clusters_in_the_usual_order() {
        let files = FleetFiles::default();
        let c = FleetConfig::of(&files, &["prod".into(), "dev".into(), "qa".into()])
            .expect("environments");
        let names: Vec<&str> = c.environments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dev", "prod", "qa"]);
        assert!(c.get("prod").expect("prod").production);
    }

    #[test]
    fn fleet_yaml_must_name_every_clusters_environment() {
        let files = FleetFiles::from_files([(
            FLEET_FILE,
            "environments: [{name: dev}, {name: prod, production: true}]\n",
        )]);
        assert!(FleetConfig::of(&files, &["dev".into()]).is_ok());
        let e = FleetConfig::of(&files, &["qa".into()]).expect_err("qa is unnamed");
        assert!(e.to_string().contains("`qa`"), "{e}");
    }

    #[test]
    fn a_version_holds_its_folder_and_its_chart() {
        let files = FleetFiles::from_files([
            (
                "services/web/service.yaml",
                "name: web\nchart: {path: ../../charts/app}\n",
            ),
            ("services/web/values.yaml", "a: 1\n"),
            ("services/webx/service.yaml", "name: webx\n"),
            ("charts/app/Chart.yaml", "name: app\n"),
            ("charts/other/Chart.yaml", "name: other\n"),
        ]);
        let v = VersionFiles::of(&files, "web").expect("a version");
        let paths: Vec<&str> = v.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "charts/app/Chart.yaml",
                "services/web/service.yaml",
                "services/web/values.yaml"
            ]
        );
        assert!(v.check_paths("web").is_ok());
        assert!(v.check_paths("api").is_err());
        let mut other = v.clone();
        other
            .files
            .insert("services/web/values.yaml".into(), "a: 2\n".into());
        assert_ne!(v.digest(), other.digest());
        assert_eq!(v.digest(), v.clone().digest());
        assert!(matches!(
            VersionFiles::of(&files, "nope"),
            Err(FleetError::UnknownService { .. })
        ));
    }
}
