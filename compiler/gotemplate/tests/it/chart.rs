//! A conformance case as Helm sees it: a tiny chart loaded into the data Helm gives templates,
//! and its templates in the order Helm parses them.

use std::fs;
use std::path::{Path, PathBuf};

use gotemplate::funcs::encoding::from_yaml;
use gotemplate::{Map, MapType, Value};

use crate::files::CaseFiles;

/// The release every golden was rendered as (`helm install fleet <chart> --namespace apps`).
pub const RELEASE_NAME: &str = "fleet";
pub const RELEASE_NAMESPACE: &str = "apps";

/// What `scripts/fake-kube-discovery.py` reports, hence what `.Capabilities` held for helm.
const KUBE_VERSION: &str = "v1.31.0";
const KUBE_MAJOR: &str = "1";
const KUBE_MINOR: &str = "31";

/// The helm binary that rendered the goldens.
const HELM_VERSION: &str = "v3.17.3";
const HELM_GIT_COMMIT: &str = "e4da49785aa6e6ee2b86efd5dd9e43400318262b";
const HELM_GO_VERSION: &str = "go1.23.7";

/// Chart.yaml keys and the `chart.Metadata` field names templates see them under, with the
/// zero value of each field for when the key is absent.
const METADATA_FIELDS: &[(&str, &str, Zero)] = &[
    ("name", "Name", Zero::String),
    ("home", "Home", Zero::String),
    ("sources", "Sources", Zero::Nil),
    ("version", "Version", Zero::String),
    ("description", "Description", Zero::String),
    ("keywords", "Keywords", Zero::Nil),
    ("maintainers", "Maintainers", Zero::Nil),
    ("icon", "Icon", Zero::String),
    ("apiVersion", "APIVersion", Zero::String),
    ("condition", "Condition", Zero::String),
    ("tags", "Tags", Zero::String),
    ("appVersion", "AppVersion", Zero::String),
    ("deprecated", "Deprecated", Zero::Bool),
    ("annotations", "Annotations", Zero::Nil),
    ("kubeVersion", "KubeVersion", Zero::String),
    ("dependencies", "Dependencies", Zero::Nil),
    ("type", "Type", Zero::String),
];

#[derive(Clone, Copy)]
enum Zero {
    String,
    Bool,
    Nil,
}

/// One template file of the chart.
#[derive(Debug, Clone)]
pub struct TemplateFile {
    /// `<chart>/templates/<path>`, as Helm names it.
    pub name: String,
    pub text: String,
}

/// A loaded case chart.
#[derive(Debug)]
pub struct CaseChart {
    pub chart_name: String,
    /// `.Chart`
    pub metadata: Value,
    /// `.Values`
    pub values: Value,
    /// Every file under `templates/`, in Helm's parse order.
    pub templates: Vec<TemplateFile>,
    /// `.Files`: the files under `files/` (Helm sees every other file of the chart too; the
    /// cases only look under `files/`).
    pub files: CaseFiles,
}

impl CaseChart {
    pub fn load(dir: &Path) -> Result<CaseChart, String> {
        let chart_yaml = read(&dir.join("Chart.yaml"))?;
        let chart = from_yaml(&chart_yaml).map_err(|e| format!("Chart.yaml: {e}"))?;
        let chart = chart
            .as_map()
            .ok_or_else(|| "Chart.yaml is not a map".to_string())?
            .clone();
        let chart_name = chart
            .get("name")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| "Chart.yaml has no name".to_string())?;
        let metadata = Map::new();
        for (key, field, zero) in METADATA_FIELDS {
            let value = chart.get(key).unwrap_or(match zero {
                Zero::String => Value::from(""),
                Zero::Bool => Value::Bool(false),
                Zero::Nil => Value::Nil,
            });
            metadata.insert(*field, value);
        }

        let values_path = dir.join("values.yaml");
        let values = if values_path.exists() {
            from_yaml(&read(&values_path)?).map_err(|e| format!("values.yaml: {e}"))?
        } else {
            Value::Nil
        };
        let values = match values {
            // An empty values.yaml is an empty map for Helm.
            Value::Nil => Value::Map(Map::new()),
            Value::Map(m) => Value::Map(m),
            other => return Err(format!("values.yaml is a {}, not a map", other.type_name())),
        };

        let templates_dir = dir.join("templates");
        let mut files = Vec::new();
        collect_files(&templates_dir, &templates_dir, &mut files)?;
        let mut templates = Vec::new();
        for (rel, path) in files {
            let name = format!("{chart_name}/templates/{rel}");
            templates.push(TemplateFile {
                name,
                text: read(&path)?,
            });
        }
        sort_like_helm(&mut templates);
        let notes = notes_name(&chart_name);
        if !templates.iter().any(|t| t.name == notes) {
            return Err("no templates/NOTES.txt".into());
        }
        // Helm would render any other non-partial file as a manifest, which these cases avoid.
        if let Some(t) = templates
            .iter()
            .find(|t| t.name != notes && !is_partial(&t.name))
        {
            return Err(format!(
                "{} is neither NOTES.txt nor a partial (_*.tpl)",
                t.name
            ));
        }
        let mut files = CaseFiles::default();
        let files_dir = dir.join("files");
        if files_dir.is_dir() {
            let mut found = Vec::new();
            collect_files(&files_dir, &files_dir, &mut found)?;
            for (rel, path) in found {
                let data = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                files.0.insert(format!("files/{rel}"), data);
            }
        }
        Ok(CaseChart {
            chart_name,
            metadata: Value::Map(metadata),
            values,
            templates,
            files,
        })
    }

    /// The name of the template under test.
    pub fn notes(&self) -> String {
        notes_name(&self.chart_name)
    }

    /// The top-level data Helm executes a template of this chart with (its
    /// `chartutil.ToRenderValues` plus the `.Template` the engine adds).
    pub fn render_data(&self, template_name: &str) -> Value {
        // `.`, `.Values` and `.Template` are `chartutil.Values`; the rest plain maps.
        let top = Map::new().with_go_type(MapType::CHARTUTIL_VALUES);
        let values = match &self.values {
            Value::Map(m) => Value::Map(m.with_go_type(MapType::CHARTUTIL_VALUES)),
            other => other.clone(),
        };
        top.insert("Values", values);
        top.insert("Chart", self.metadata.clone());

        let release = Map::new();
        release.insert("Name", Value::from(RELEASE_NAME));
        release.insert("Namespace", Value::from(RELEASE_NAMESPACE));
        release.insert("IsUpgrade", Value::Bool(false));
        release.insert("IsInstall", Value::Bool(true));
        release.insert("Revision", Value::Int(1));
        release.insert("Service", Value::from("Helm"));
        top.insert("Release", Value::Map(release));

        let kube = Map::new();
        kube.insert("Version", Value::from(KUBE_VERSION));
        kube.insert("Major", Value::from(KUBE_MAJOR));
        kube.insert("Minor", Value::from(KUBE_MINOR));
        let helm = Map::new();
        helm.insert("Version", Value::from(HELM_VERSION));
        helm.insert("GitCommit", Value::from(HELM_GIT_COMMIT));
        helm.insert("GitTreeState", Value::from("clean"));
        helm.insert("GoVersion", Value::from(HELM_GO_VERSION));
        let caps = Map::new();
        caps.insert("KubeVersion", Value::Map(kube));
        caps.insert("APIVersions", Value::list(vec![Value::from("v1")]));
        caps.insert("HelmVersion", Value::Map(helm));
        top.insert("Capabilities", Value::Map(caps));

        top.insert(
            "Files",
            Value::Object(std::sync::Arc::new(self.files.clone())),
        );
        top.insert("Subcharts", Value::Map(Map::new()));

        let template = Map::new().with_go_type(MapType::CHARTUTIL_VALUES);
        template.insert("Name", Value::from(template_name));
        template.insert(
            "BasePath",
            Value::from(format!("{}/templates", self.chart_name)),
        );
        top.insert("Template", Value::Map(template));
        Value::Map(top)
    }
}

fn notes_name(chart: &str) -> String {
    format!("{chart}/templates/NOTES.txt")
}

/// Helm renders no file whose base name starts with `_`.
pub fn is_partial(name: &str) -> bool {
    name.rsplit('/')
        .next()
        .is_some_and(|base| base.starts_with('_'))
}

/// Helm's `sortTemplates`: deeper paths first; among equal depths, reverse byte order. A later
/// `define` of a name replaces an earlier one, so the order is observable.
pub fn sort_like_helm(templates: &mut [TemplateFile]) {
    templates.sort_by(|a, b| {
        let depth = |s: &str| s.bytes().filter(|&c| c == b'/').count();
        depth(&b.name)
            .cmp(&depth(&a.name))
            .then_with(|| b.name.as_bytes().cmp(a.name.as_bytes()))
    });
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .map_err(|e| e.to_string())?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(names: &[&str]) -> Vec<String> {
        let mut t: Vec<TemplateFile> = names
            .iter()
            .map(|n| TemplateFile {
                name: n.to_string(),
                text: String::new(),
            })
            .collect();
        sort_like_helm(&mut t);
        t.into_iter().map(|t| t.name).collect()
    }

    #[test]
    fn helm_parses_deeper_paths_first_then_reverse_order() {
        assert_eq!(
            order(&[
                "c/templates/NOTES.txt",
                "c/templates/_aaa.tpl",
                "c/templates/sub/_x.tpl",
                "c/templates/_helpers.tpl",
            ]),
            [
                "c/templates/sub/_x.tpl",
                "c/templates/_helpers.tpl",
                "c/templates/_aaa.tpl",
                "c/templates/NOTES.txt",
            ]
        );
    }

    #[test]
    fn partials_start_with_underscore() {
        assert!(is_partial("c/templates/_helpers.tpl"));
        assert!(is_partial("c/templates/sub/_x.tpl"));
        assert!(!is_partial("c/templates/NOTES.txt"));
        assert!(!is_partial("c/_templates/x.yaml"));
    }
}
