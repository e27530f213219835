//! Charts as the compiler sees them: a chart's files and their digest, and the
//! [`ChartRenderer`] that loads a chart and renders it with a release's values (the real one is
//! Helm's, in the `helm` crate; tests use [`fake::FakeRenderer`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::Map;
use sha2::{Digest as _, Sha256};

use crate::model::Digest;

/// A chart's files by path relative to the chart folder (`Chart.yaml`, `templates/x.yaml`),
/// with `/` separators, sorted.
pub type ChartFiles = BTreeMap<String, Arc<[u8]>>;

/// The digest of a chart: sha256 over its files in sorted path order, each as its path and its
/// bytes, both length-prefixed (so that no two charts share an encoding).
pub fn chart_digest(files: &ChartFiles) -> Digest {
    let mut h = Sha256::new();
    h.update(b"flotilla.chart/v1\0");
    h.update((files.len() as u64).to_le_bytes());
    for (path, data) in files {
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    }
    Digest(h.finalize().into())
}

/// `Chart.yaml`'s name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartMeta {
    pub name: String,
    pub version: String,
}

/// The release a chart is rendered for (`.Release.Name`, `.Release.Namespace`) and the
/// cluster's Kubernetes as `.Capabilities` shows it (`None`: Helm's default version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReleaseRef<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub kubernetes: Option<&'a crate::model::Kubernetes>,
}

/// Why a chart did not load or render. `Display` is what the user is shown after the service
/// and the chart are named (Helm's own words for Helm's renderer).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChartError {
    /// No file at all at the chart's path.
    #[error("there is no chart at {path}")]
    Missing { path: String },
    /// A chart whose `type` Helm does not install (a library chart).
    #[error("{kind} charts are not installable")]
    NotInstallable { kind: String },
    /// Helm could not load or render the chart; a template that failed keeps the engine's
    /// error (template, line, column, action) as the source.
    #[error(transparent)]
    Helm(#[from] helm::HelmError),
    /// A renderer's own failure that is none of the above (the test renderer's).
    #[error("{0}")]
    Renderer(String),
}

/// A chart template that failed, as the template engine reported it. Template names are the
/// renderer's: the chart's name, then the file's path inside the chart
/// (`web/templates/deployment.yaml`, `web/charts/db/templates/secret.yaml`).
#[derive(Debug, Clone, Copy)]
pub enum TemplateFailure<'a> {
    Parse(&'a gotemplate::ParseError),
    Exec(&'a gotemplate::ExecError),
}

impl ChartError {
    /// The template that failed, when the failure is a template's.
    pub fn template(&self) -> Option<TemplateFailure<'_>> {
        match self {
            ChartError::Helm(helm::HelmError::TemplateParse { source, .. }) => {
                Some(TemplateFailure::Parse(source))
            }
            ChartError::Helm(helm::HelmError::TemplateExec { source, .. }) => {
                Some(TemplateFailure::Exec(source))
            }
            _ => None,
        }
    }
}

/// Loads and renders charts. Implementations are pure: the same chart files, values and
/// release give the same manifest, on any thread.
pub trait ChartRenderer: Sync {
    /// A loaded chart, shared by the threads that render it.
    type Chart: Send + Sync;

    /// Names the renderer and its version: part of every render's cache key, so that a
    /// renderer that renders differently never reads another's cached manifests.
    fn id(&self) -> &str;

    /// Loads a chart from its files.
    fn load(&self, files: &ChartFiles) -> Result<(Self::Chart, ChartMeta), ChartError>;

    /// Renders the chart with `values` (the rendered values template, which the renderer
    /// coalesces over the chart's defaults as Helm does) into the release's manifest: what
    /// `helm template` prints. A template that fails is a [`ChartError::template`], which the
    /// compiler places in the chart's file.
    fn render(
        &self,
        chart: &Self::Chart,
        values: &Map,
        release: ReleaseRef<'_>,
    ) -> Result<String, ChartError>;
}

/// A renderer for tests and tools: no Helm, predictable output.
pub mod fake {
    use std::sync::atomic::{AtomicU64, Ordering};

    use gotemplate::Value;
    use gotemplate::funcs::encoding;

    use super::*;

    /// Loads any chart with a `Chart.yaml` that names it, and renders a release as one
    /// ConfigMap holding the chart's `values.yaml` and the values as YAML. Values with
    /// `fail: <message>` fail to render with that message. Counts its renders.
    #[derive(Debug, Default)]
    pub struct FakeRenderer {
        renders: AtomicU64,
    }

    impl FakeRenderer {
        pub fn new() -> FakeRenderer {
            FakeRenderer::default()
        }

        /// How many renders ran.
        pub fn renders(&self) -> u64 {
            self.renders.load(Ordering::Relaxed)
        }
    }

    /// What a chart loaded by the fake renderer keeps.
    #[derive(Debug)]
    pub struct FakeChart {
        name: String,
        defaults: String,
    }

    impl ChartRenderer for FakeRenderer {
        type Chart = FakeChart;

        fn id(&self) -> &str {
            "fake/1"
        }

        fn load(&self, files: &ChartFiles) -> Result<(FakeChart, ChartMeta), ChartError> {
            let fail = |m: &str| ChartError::Renderer(m.to_owned());
            let chart_yaml = files
                .get("Chart.yaml")
                .ok_or_else(|| fail("Chart.yaml file is missing"))?;
            let meta =
                encoding::from_yaml_map(&String::from_utf8_lossy(chart_yaml), "chart.Metadata")
                    .map_err(|e| fail(&e.message))?;
            let field = |k: &str| meta.get(k).and_then(|v| v.as_str().map(str::to_owned));
            let name =
                field("name").ok_or_else(|| fail("validation: chart.metadata.name is required"))?;
            let version = field("version")
                .ok_or_else(|| fail("validation: chart.metadata.version is required"))?;
            let defaults = files
                .get("values.yaml")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            Ok((
                FakeChart {
                    name: name.clone(),
                    defaults,
                },
                ChartMeta { name, version },
            ))
        }

        fn render(
            &self,
            chart: &FakeChart,
            values: &Map,
            release: ReleaseRef<'_>,
        ) -> Result<String, ChartError> {
            self.renders.fetch_add(1, Ordering::Relaxed);
            if let Some(Value::String(message)) = values.get("fail") {
                return Err(ChartError::Renderer(message.to_string()));
            }
            let values = encoding::to_yaml(&Value::Map(values.clone()))
                .map_err(|e| ChartError::Renderer(e.message))?;
            let indent = |text: &str| {
                text.lines()
                    .map(|l| format!("    {l}\n"))
                    .collect::<String>()
            };
            Ok(format!(
                "---\n# Source: {chart}/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n  defaults.yaml: |\n{defaults}  values.yaml: |\n{values}",
                chart = chart.name,
                name = release.name,
                namespace = release.namespace,
                defaults = indent(&chart.defaults),
                values = indent(&values),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> ChartFiles {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Arc::from(v.as_bytes())))
            .collect()
    }

    #[test]
    fn chart_digests_cover_paths_and_contents() {
        let a = chart_digest(&files(&[("Chart.yaml", "name: a"), ("values.yaml", "")]));
        let renamed = chart_digest(&files(&[("Chart.yaml", "name: a"), ("values.yml", "")]));
        let edited = chart_digest(&files(&[("Chart.yaml", "name: b"), ("values.yaml", "")]));
        // Moving bytes from one file to the next changes the digest too.
        let shifted = chart_digest(&files(&[("Chart.yaml", "name: "), ("values.yaml", "a")]));
        assert_ne!(a, renamed);
        assert_ne!(a, edited);
        assert_ne!(a, shifted);
        assert_eq!(
            a,
            chart_digest(&files(&[("values.yaml", ""), ("Chart.yaml", "name: a")]))
        );
    }
}
