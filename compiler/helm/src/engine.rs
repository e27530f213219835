//! Helm's template engine around `gotemplate` (`pkg/engine`): every template of the chart
//! and its subcharts in one set, parsed in Helm's order, each executed with its own chart's
//! scope (`.Values`, `.Chart`, `.Files`, `.Subcharts`, `.Template`), `missingkey=zero`, and
//! `<no value>` removed from the output.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use gotemplate::funcs::Timestamp;
use gotemplate::{ExecOptions, FuncMap, Limits, Map, MissingKey, Template, Value};
use sha2::{Digest, Sha256};

use crate::chart::Chart;
use crate::error::HelmError;
use crate::gostr::{path_base, path_join};
use crate::objects::{ChartObject, Files};
use crate::values::table;

static FUNCS: LazyLock<Arc<FuncMap>> = LazyLock::new(|| Arc::new(FuncMap::helm()));

/// Parsed template sets by the SHA-256 of their (name, text) list in parse order: a chart
/// rendered many times (many values sets) is parsed once per process. Parsing (and dropping
/// the trees) is half the time of a render of a chart like podinfo; executing a shared set is
/// read-only.
static PARSED: LazyLock<Mutex<HashMap<[u8; 32], Template>>> = LazyLock::new(Default::default);

/// Sets kept in [`PARSED`] (all are dropped when it is full).
const PARSED_MAX: usize = 32;

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

struct Renderable<'a> {
    /// Borrowed from the chart unless it is not UTF-8 (a render then copies no template text).
    text: std::borrow::Cow<'a, str>,
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
    let set = parse_set(&keys, &templates)?;

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
            .map_err(|e| cleanup_exec_error(name, e))?;
        rendered.insert(name.clone(), out.replace("<no value>", ""));
    }
    Ok(rendered)
}

/// The chart's templates parsed into one set, in Helm's order (from [`PARSED`] when the same
/// texts were parsed before).
fn parse_set(
    keys: &[String],
    templates: &BTreeMap<String, Renderable<'_>>,
) -> Result<Template, HelmError> {
    let mut h = Sha256::new();
    for name in keys {
        let text = templates[name].text.as_bytes();
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text);
    }
    let digest: [u8; 32] = h.finalize().into();
    if let Some(set) = PARSED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&digest)
    {
        return Ok(set.clone());
    }
    let mut set = Template::new(FUNCS.clone());
    // Helm's root template is `template.New("gotpl")`: the name appears in "no template ...
    // associated with template" errors and is the name `tpl` parses its text as.
    set.set_root_name("gotpl");
    for name in keys {
        set.parse(name, &templates[name].text)
            .map_err(|e| cleanup_parse_error(name, e))?;
    }
    let mut parsed = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if parsed.len() >= PARSED_MAX {
        parsed.clear();
    }
    parsed.insert(digest, set.clone());
    Ok(set)
}

/// `recAllTpls`: collects the chart's templates with their scope, recursing into subcharts.
fn rec_all_templates<'a>(
    c: &'a Chart,
    templates: &mut BTreeMap<String, Renderable<'a>>,
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
                text: String::from_utf8_lossy(&t.data),
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

/// `cleanupParseError`: Helm's wording, with the parser's error kept as the source.
fn cleanup_parse_error(filename: &str, error: gotemplate::ParseError) -> HelmError {
    let text = error.to_string();
    let tokens: Vec<&str> = text.split(": ").collect();
    let message = if tokens.len() == 1 {
        format!("parse error in ({filename}): {text}")
    } else {
        format!(
            "parse error at ({}): {}",
            tokens[1],
            tokens[tokens.len() - 1]
        )
    };
    HelmError::TemplateParse {
        message,
        source: Box::new(error),
    }
}

const WARN_START: &str = "HELM_ERR_START";
const WARN_END: &str = "HELM_ERR_END";

/// `cleanupExecError`: `required` and `fail` messages become
/// `execution error at (file:line:col): message`; the engine's error is kept as the source.
fn cleanup_exec_error(filename: &str, error: gotemplate::ExecError) -> HelmError {
    let message = cleanup_exec_message(filename, &error.to_string());
    HelmError::TemplateExec {
        message,
        source: Box::new(error),
    }
}

fn cleanup_exec_message(filename: &str, message: &str) -> String {
    let tokens: Vec<&str> = message.splitn(3, ": ").collect();
    if tokens.len() != 3 {
        return format!("execution error in ({filename}): {message}");
    }
    let location = tokens[1];
    // Greedy `HELM_ERR_START((?s).*)HELM_ERR_END`: first start, last end.
    if let Some(start) = tokens[2].find(WARN_START) {
        let rest = &tokens[2][start + WARN_START.len()..];
        if let Some(end) = rest.rfind(WARN_END) {
            return format!("execution error at ({location}): {}", &rest[..end]);
        }
    }
    message.to_string()
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
        let m = cleanup_exec_message(
            "c/templates/x.yaml",
            "template: c/templates/x.yaml:3:4: executing \"c/templates/x.yaml\" at <required \"a\" .Values.a>: error calling required: HELM_ERR_STARTa is requiredHELM_ERR_END",
        );
        assert_eq!(
            m,
            "execution error at (c/templates/x.yaml:3:4): a is required"
        );
        let m = cleanup_exec_message(
            "c/templates/x.yaml",
            "template: c/templates/x.yaml:1:2: executing \"c/templates/x.yaml\" at <.Values.a.b>: nil pointer evaluating interface {}.b",
        );
        assert!(m.starts_with("template: c/templates/x.yaml:1:2: executing"));
        let m = cleanup_exec_message("c/x", "boom");
        assert_eq!(m, "execution error in (c/x): boom");
    }

    #[test]
    fn exec_errors_keep_the_engine_error_as_their_source() {
        let mut set = Template::new(FUNCS.clone());
        set.parse(
            "c/templates/x.yaml",
            "a: 1\nb: {{ required \"b is required\" .b }}\n",
        )
        .unwrap();
        let err = set
            .execute(
                "c/templates/x.yaml",
                &Value::Map(Map::new()),
                &ExecOptions::default(),
            )
            .unwrap_err();
        let e = cleanup_exec_error("c/templates/x.yaml", err);
        assert_eq!(
            e.to_string(),
            "execution error at (c/templates/x.yaml:2:6): b is required"
        );
        let HelmError::TemplateExec { source, .. } = &e else {
            panic!("not a template error: {e:?}");
        };
        assert_eq!(source.location(), Some(("c/templates/x.yaml", 2, 6)));
        let chained = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(chained, Some(source.to_string()));
    }

    #[test]
    fn parse_errors_are_cleaned_up_as_helm_does() {
        let e = cleanup_parse_error(
            "c/templates/x.yaml",
            gotemplate::ParseError {
                name: "c/templates/x.yaml".into(),
                line: 7,
                message: "function \"nope\" not defined".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "parse error at (c/templates/x.yaml:7): function \"nope\" not defined"
        );
        assert!(matches!(e, HelmError::TemplateParse { ref source, .. } if source.line == 7));
    }

    #[test]
    fn parsed_sets_are_reused_only_for_the_same_texts() {
        let set = |pairs: &[(&str, &str)]| {
            let mut m = BTreeMap::new();
            for (name, text) in pairs {
                m.insert(
                    name.to_string(),
                    Renderable {
                        text: std::borrow::Cow::Borrowed(*text),
                        vals: Map::new(),
                        base_path: String::new(),
                    },
                );
            }
            let keys = sort_templates(&m);
            let out = parse_set(&keys, &m).map(|t| {
                t.execute(&keys[0], &Value::Nil, &ExecOptions::default())
                    .unwrap_or_else(|e| e.to_string())
            });
            out.map_err(|e| e.to_string())
        };
        let a = [("cache-test/templates/a.yaml", "{{ 1 }}")];
        assert_eq!(set(&a).as_deref(), Ok("1"));
        assert_eq!(set(&a).as_deref(), Ok("1"));
        let b = [("cache-test/templates/a.yaml", "{{ 2 }}")];
        assert_eq!(set(&b).as_deref(), Ok("2"));
        let renamed = [("cache-test/templates/b.yaml", "{{ 1 }}")];
        assert_eq!(set(&renamed).as_deref(), Ok("1"));
        // A parse error is reported every time (never cached).
        let bad = [("cache-test/templates/a.yaml", "{{ 1 ")];
        for _ in 0..2 {
            assert_eq!(
                set(&bad),
                Err("parse error at (cache-test/templates/a.yaml:1): unclosed action".to_string())
            );
        }
    }
}
