//! The real [`ChartRenderer`]: Helm's, from the `helm` crate. A release's manifest is what
//! `helm template RELEASE CHART --namespace NS --include-crds -f values` prints (Helm 3.17,
//! with the cluster's `kubernetes:` as `--kube-version` and `--api-versions` when it declares
//! it, else Helm's defaults; no hooks skipped).

use gotemplate::Map;
use helm::ignore::Rules;
use helm::{Chart, TemplateOptions};

use crate::chart::{ChartError, ChartFiles, ChartMeta, ChartRenderer, ReleaseRef};

/// Renders charts as `helm template` does.
#[derive(Debug, Default, Clone, Copy)]
pub struct HelmRenderer;

impl ChartRenderer for HelmRenderer {
    type Chart = Chart;

    fn id(&self) -> &str {
        concat!("helm-3.17/flotilla-", env!("CARGO_PKG_VERSION"))
    }

    fn load(&self, files: &ChartFiles) -> Result<(Chart, ChartMeta), ChartError> {
        let mut rules = match files.get(".helmignore") {
            Some(text) => Rules::parse(&String::from_utf8_lossy(text))?,
            None => Rules::empty(),
        };
        rules.add_defaults();
        let kept: Vec<(String, Vec<u8>)> = files
            .iter()
            .filter(|(path, _)| !ignored(&rules, path))
            .map(|(path, data)| (path.clone(), trim_bom(data).to_vec()))
            .collect();
        let chart = helm::loader::load_files(kept, 0)?;
        match chart.metadata.chart_type.as_str() {
            "" | "application" => {}
            other => {
                return Err(ChartError::NotInstallable {
                    kind: other.to_owned(),
                });
            }
        }
        helm::dependencies::check_dependencies(&chart)?;
        let meta = ChartMeta {
            name: chart.metadata.name.clone(),
            version: chart.metadata.version.clone(),
        };
        Ok((chart, meta))
    }

    fn render(
        &self,
        chart: &Chart,
        values: &Map,
        release: ReleaseRef<'_>,
    ) -> Result<String, ChartError> {
        let mut opts = TemplateOptions {
            release_name: release.name.to_owned(),
            namespace: release.namespace.to_owned(),
            include_crds: true,
            ..TemplateOptions::default()
        };
        if let Some(k) = release.kubernetes {
            opts.kube_version = Some(k.version.clone());
            opts.api_versions = k.api_versions.clone();
        }
        Ok(helm::action::template(chart, values, &opts)?.stdout)
    }
}

/// Whether `.helmignore` leaves a file out: the file itself or one of its folders.
fn ignored(rules: &Rules, path: &str) -> bool {
    let mut at = 0;
    while let Some(i) = path[at..].find('/') {
        let dir = &path[..at + i];
        if rules.ignore(dir, true) {
            return true;
        }
        at += i + 1;
    }
    rules.ignore(path, false)
}

/// Helm drops a UTF-8 byte order mark at the start of chart files.
fn trim_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data)
}
