//! Repository charts (`chart: {repository, name, version}`) turned into files before the
//! compile: the reading step's one network edge. Each chart a service names is fetched through
//! `helm::fetch::ChartFetcher` (a chart repository's `index.yaml`, or an OCI registry for an
//! `oci://` repository, into the content-addressed chart cache, reused offline) and its
//! archive's files are added to [`FleetFiles`] under [`chart_dir`]. The core then loads and
//! pins them like a local chart: the chart digest covers their content.

use std::borrow::Cow;
use std::collections::BTreeMap;

use helm::fetch::{ChartFetcher, ChartSource, FetchError};

use crate::model::ChartRef;
use syntax::FleetFiles;

/// A chart from a repository, as a service file names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RepositoryChart {
    pub repository: String,
    pub name: String,
    pub version: String,
}

impl RepositoryChart {
    /// What the fetcher fetches: for `oci://` repositories, the reference
    /// `repository/name` (as Helm reads a dependency's `oci://` repository).
    pub fn source(&self) -> ChartSource {
        if self.repository.starts_with("oci://") {
            ChartSource::Oci {
                reference: format!("{}/{}", self.repository.trim_end_matches('/'), self.name),
                version: self.version.clone(),
            }
        } else {
            ChartSource::Repository {
                url: self.repository.clone(),
                name: self.name.clone(),
                version: self.version.clone(),
            }
        }
    }

    /// The folder its files live under in [`FleetFiles::blobs`].
    pub fn dir(&self) -> String {
        repository_dir(&self.repository, &self.name, &self.version)
    }
}

/// The folder of [`FleetFiles`] holding a chart's files: the chart's path for a local chart,
/// a name no fleet path can take (it has a `:`) for a repository chart.
pub fn chart_dir(chart: &ChartRef) -> Cow<'_, str> {
    match chart {
        ChartRef::Local { path } => Cow::Borrowed(path),
        ChartRef::Repository {
            repository,
            name,
            version,
        } => Cow::Owned(repository_dir(repository, name, version)),
    }
}

fn repository_dir(repository: &str, name: &str, version: &str) -> String {
    format!("{REPOSITORY_DIR}{repository}|{name}|{version}")
}

const REPOSITORY_DIR: &str = "repository:";

/// Whether a chart folder of [`FleetFiles`] holds a repository chart ([`chart_dir`]).
pub fn is_repository_dir(dir: &str) -> bool {
    dir.starts_with(REPOSITORY_DIR)
}

/// A repository chart that could not be fetched or unpacked, with the services naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot fetch chart {name} {version} from {} (named by {}): {reason}", redacted(.repository), .services.join(", "))]
pub struct RemoteChartError {
    pub repository: String,
    pub name: String,
    pub version: String,
    /// The service files naming the chart (`services/x/service.yaml`).
    pub services: Vec<String>,
    pub reason: String,
    pub hint: Option<String>,
    /// The fetch failed on the repository's side or the network (not the archive itself).
    pub remote: bool,
}

/// `repository` with any `user:password@` of its URL shown as `***@`.
fn redacted(repository: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = repository.split_once("://") else {
        return Cow::Borrowed(repository);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{scheme}://***@{}", &rest[at + 1..])),
        None => Cow::Borrowed(repository),
    }
}

/// The repository charts the service files name, with the files naming each. Read leniently:
/// a service file that does not load has its problems reported by the loader.
pub fn repository_charts(files: &FleetFiles) -> BTreeMap<RepositoryChart, Vec<String>> {
    let mut out: BTreeMap<RepositoryChart, Vec<String>> = BTreeMap::new();
    for (path, text) in &files.files {
        if !(path.starts_with("services/") && path.ends_with("/service.yaml")) {
            continue;
        }
        if let Some(chart) = repository_chart(text) {
            out.entry(chart).or_default().push(path.clone());
        }
    }
    out
}

/// Fetches every repository chart the services name (from the cache when it has them) and adds
/// its files to `files`. Stops at the first chart that cannot be had.
pub fn fetch_into(
    files: &mut FleetFiles,
    fetcher: &ChartFetcher,
) -> Result<(), Box<RemoteChartError>> {
    for (chart, services) in repository_charts(files) {
        let fail = |reason: String, hint: Option<String>, remote: bool| {
            Box::new(RemoteChartError {
                repository: chart.repository.clone(),
                name: chart.name.clone(),
                version: chart.version.clone(),
                services: services.clone(),
                reason,
                hint,
                remote,
            })
        };
        let fetched = fetcher
            .fetch(&chart.source())
            .map_err(|e: FetchError| fail(e.message.clone(), e.hint.clone(), !e.is_usage()))?;
        let data = std::fs::read(&fetched.path)
            .map_err(|e| fail(format!("{}: {e}", fetched.path.display()), None, false))?;
        let entries = helm::loader::archive_files(&data).map_err(|e| {
            fail(
                format!("the chart archive does not unpack: {e}"),
                None,
                false,
            )
        })?;
        let dir = chart.dir();
        for (path, bytes) in entries {
            files.blobs.insert(format!("{dir}/{path}"), bytes.into());
        }
    }
    Ok(())
}

/// `chart` of a service file when it names a repository, name and version.
fn repository_chart(text: &str) -> Option<RepositoryChart> {
    let [repository, name, version] =
        crate::source::chart_fields(text, &["repository", "name", "version"])?;
    let given = |s: &String| !s.trim().is_empty();
    (given(&repository) && given(&name) && given(&version)).then_some(RepositoryChart {
        repository,
        name,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_files_name_repository_charts() {
        let files = FleetFiles::from_files([
            (
                "services/a/service.yaml",
                "name: a\nchart:\n  repository: https://charts.example/stable\n  name: web\n  version: 1.2.3\n",
            ),
            (
                "services/b/service.yaml",
                "name: b\nchart:\n  repository: https://charts.example/stable\n  name: web\n  version: 1.2.3\n",
            ),
            (
                "services/c/service.yaml",
                "name: c\nchart:\n  path: ../../charts/c\n",
            ),
            ("services/d/service.yaml", "name: d\nchart: [\n"),
            (
                "clusters/x.yaml",
                "chart:\n  repository: r\n  name: n\n  version: v\n",
            ),
        ]);
        let found = repository_charts(&files);
        assert_eq!(found.len(), 1);
        let (chart, services) = found.iter().next().unwrap();
        assert_eq!(
            services,
            &["services/a/service.yaml", "services/b/service.yaml"]
        );
        assert_eq!(
            chart.source(),
            ChartSource::Repository {
                url: "https://charts.example/stable".into(),
                name: "web".into(),
                version: "1.2.3".into()
            }
        );
        let oci = RepositoryChart {
            repository: "oci://ghcr.io/org/charts/".into(),
            name: "web".into(),
            version: "1.0.0".into(),
        };
        assert_eq!(
            oci.source(),
            ChartSource::Oci {
                reference: "oci://ghcr.io/org/charts/web".into(),
                version: "1.0.0".into()
            }
        );
        let r = ChartRef::Repository {
            repository: oci.repository.clone(),
            name: oci.name.clone(),
            version: oci.version.clone(),
        };
        assert_eq!(chart_dir(&r), oci.dir());
        assert_eq!(
            redacted("https://u:hunter2@h.example/charts"),
            "https://***@h.example/charts"
        );
        assert_eq!(redacted("oci://h.example/c"), "oci://h.example/c");
        assert!(crate::source::normalize_chart_path("x", &oci.dir()).is_err());
    }
}
