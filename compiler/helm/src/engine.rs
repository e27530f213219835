//! Helm's template engine around `gotemplate` (`pkg/engine`): every template of the chart
//! and its subcharts in one set, parsed in Helm's order, each executed with its own chart's
//! scope (`.Values`, `.Chart`, `.Files`, `.Subcharts`, `.Template`), `missingkey=zero`, and
//! `<no value>` removed from the output.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use gotemplate::funcs::Timestamp;
use gotemplate::{ExecOptions, FuncMap, Limits, Map, MissingKey, Template, Value};

use crate::chart::Chart;
use crate::error::HelmError;
use crate::gostr::{path_base, path_join};
use crate::objects::{ChartObject, Files};
use crate::values::table;

static FUNCS: LazyLock<Arc<FuncMap>> = LazyLock::new(|| Arc::new(FuncMap::helm()));

/// What one render may vary besides its inputs: the generator seed and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    pub seed: u64,
    pub now: Timestamp,
    pub limits: Limits,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            seed: 0,
            now: Timestamp {
                unix_seconds: 0,
                nanos: 0,
            },
            limits: Limits::default(),
        }
    }
}

struct Renderable {
    text: String,
    vals: Map,
    base_path: String,
}

/// `engine.Render`: the rendered text of every non-partial template, by template path.
/// `top` holds `Release`, `Capabilities` and `Values` as `chartutil.ToRenderValues` made them.
pub fn render(
    chart: &Chart,
    top: &Map,
    options: &EngineOptions,
) -> Result<BTreeMap<String, String>, HelmError> {
    let mut templates = BTreeMap::new();
    rec_all_templates(chart, &mut templates, top, chart.name(), true, 0)?;
    let keys = sort_templates(&templates);

    let mut set = Template::new(FUNCS.clone());
    // Helm's root template is `template.New("gotpl")`: the name appears in "no template ...
    // associated with template" errors and is the name `tpl` parses its text as.
    set.set_root_name("gotpl");
    for name in &keys {
        let r = &templates[name];
        set.parse(name, &r.text)
            .map_err(|e| cleanup_parse_error(name, &e.to_string()))?;
    }

    // The update keeps options added to the engine later at their defaults.
    #[allow(clippy::needless_update)]
    let exec = ExecOptions {
        missing_key: MissingKey::Zero,
        limits: options.limits,
        seed: options.seed,
        now: options.now,
        ..ExecOptions::default()
    };
    let mut rendered = BTreeMap::new();
    for name in &keys {
        if path_base(name).starts_with('_') {
            continue;
        }
        let r = &templates[name];
        let tmpl = Map::new();
        tmpl.insert("Name", Value::from(name.as_str()));
        tmpl.insert("BasePath", Value::from(r.base_path.as_str()));
        r.vals.insert("Template", Value::Map(tmpl));
        let out = set
            .execute(name, &Value::Map(r.vals.clone()), &exec)
            .map_err(|e| cleanup_exec_error(name, &e.to_string()))?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    Ok(rendered)
}

/// `recAllTpls`: collects the chart's templates with their scope, recursing into subcharts.
fn rec_all_templates(
    c: &Chart,
    templates: &mut BTreeMap<String, Renderable>,
    vals: &Map,
    full_path: &str,
    is_root: bool,
    depth: usize,
) -> Result<Map, HelmError> {
    if depth > 64 {
        return Err(HelmError::Render("subcharts nest too deeply".into()));
    }
    let sub_charts = Map::new();
    let next = Map::new();
    next.insert(
        "Chart",
        Value::Object(Arc::new(ChartObject {
            metadata: c.metadata.clone(),
            is_root,
        })),
    );
    next.insert("Files", Value::Object(Arc::new(Files::new(&c.files))));
    next.insert("Release", vals.get("Release").unwrap_or_default());
    next.insert("Capabilities", vals.get("Capabilities").unwrap_or_default());
    next.insert("Values", Value::Map(Map::new()));
    next.insert("Subcharts", Value::Map(sub_charts.clone()));
    if is_root {
        next.insert("Values", vals.get("Values").unwrap_or_default());
    } else if let Ok(vs) = table(vals, &format!("Values.{}", c.name())) {
        next.insert("Values", Value::Map(vs));
    }
    for child in &c.dependencies {
        let child_path = format!("{full_path}/charts/{}", child.name());
        let scope = rec_all_templates(child, templates, &next, &child_path, false, depth + 1)?;
        sub_charts.insert(child.name(), Value::Map(scope));
    }
    let library = c.metadata.chart_type.eq_ignore_ascii_case("library");
    for t in &c.templates {
        if library && !path_base(&t.name).starts_with('_') {
            continue;
        }
        templates.insert(
            path_join(&[full_path, &t.name]),
            Renderable {
                text: String::from_utf8_lossy(&t.data).into_owned(),
                vals: next.clone(),
                base_path: path_join(&[full_path, "templates"]),
            },
        );
    }
    Ok(next)
}

/// `sortTemplates`: deeper paths first, then reverse lexical order.
fn sort_templates<T>(templates: &BTreeMap<String, T>) -> Vec<String> {
    let mut keys: Vec<String> = templates.keys().cloned().collect();
    keys.sort_by(|a, b| {
        let (ca, cb) = (a.matches('/').count(), b.matches('/').count());
        cb.cmp(&ca).then_with(|| b.cmp(a))
    });
    keys
}

/// `cleanupParseError`.
fn cleanup_parse_error(filename: &str, message: &str) -> HelmError {
    let tokens: Vec<&str> = message.split(": ").collect();
    if tokens.len() == 1 {
        return HelmError::Render(format!("parse error in ({filename}): {message}"));
    }
    let location = tokens[1];
    let msg = tokens[tokens.len() - 1];
    HelmError::Render(format!("parse error at ({location}): {msg}"))
}

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// `cleanupExecError`: `required` and `fail` messages become
/// `execution error at (file:line:col): message`.
fn cleanup_exec_error(filename: &str, message: &str) -> HelmError {
    let tokens: Vec<&str> = message.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return HelmError::Render(format!("execution error in ({filename}): {message}"));
    }
    let location = tokens[1];
    // Greedy `HELM_ERR_START((?s).*)HELM_ERR_END`: first start, last end.
    if let Some(start) = tokens[2].find(WARN_START) {
        let rest = &tokens[2][start + WARN_START.len()..];
        if let Some(end) = rest.rfind(WARN_END) {
            return HelmError::Render(format!("execution error at ({location}): {}", &rest[..end]));
        }
    }
    HelmError::Render(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_sort_deepest_first_then_reverse_lexical() {
        let mut m = BTreeMap::new();
        for k in [
            "top/templates/a.yaml",
            "top/templates/_helpers.tpl",
            "top/charts/sub/templates/x.yaml",
            "top/templates/b.yaml",
            "top/templates/tests/t.yaml",
        ] {
            m.insert(k.to_string(), ());
        }
        assert_eq!(
            sort_templates(&m),
            [
                "top/charts/sub/templates/x.yaml",
                "top/templates/tests/t.yaml",
                "top/templates/b.yaml",
                "top/templates/a.yaml",
                "top/templates/_helpers.tpl",
            ]
        );
    }

    #[test]
    fn exec_errors_are_cleaned_up_as_helm_does() {
        let e = cleanup_exec_error(
            "c/templates/x.yaml",
            "template: c/templates/x.yaml:3:4: executing \"c/templates/x.yaml\" at <required \"a\" .Values.a>: error calling required: HELM_ERR_STARTa is requiredHELM_ERR_END",
        );
        assert_eq!(
            e.to_string(),
            "execution error at (c/templates/x.yaml:3:4): a is required"
        );
        let e = cleanup_exec_error(
            "c/templates/x.yaml",
            "template: c/templates/x.yaml:1:2: executing \"c/templates/x.yaml\" at <.Values.a.b>: nil pointer evaluating interface {}.b",
        );
        assert!(
            e.to_string()
                .starts_with("template: c/templates/x.yaml:1:2: executing")
        );
        let e = cleanup_exec_error("c/x", "boom");
        assert_eq!(e.to_string(), "execution error in (c/x): boom");
    }

    #[test]
    fn parse_errors_are_cleaned_up_as_helm_does() {
        let e = cleanup_parse_error(
            "c/templates/x.yaml",
            "template: c/templates/x.yaml:7: function \"nope\" not defined",
        );
        assert_eq!(
            e.to_string(),
            "parse error at (c/templates/x.yaml:7): function \"nope\" not defined"
        );
    }
}
