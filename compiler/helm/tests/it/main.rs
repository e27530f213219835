//! Conformance: every case of the Helm corpus (`$FLOTILLA_HELM_CORPUS`, by default
//! `shared/helm-corpus` beside the repository) rendered through the library must equal the
//! real `helm template` output byte for byte, or fail with the same error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use helm::action::{self, TemplateOptions, ValueOptions};
use helm::{HelmError, RenderCache, TemplateOutput};

fn corpus_root() -> PathBuf {
    match std::env::var_os("FLOTILLA_HELM_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus"),
    }
}

/// A case file: flat `key: value` lines, lists in flow style.
#[derive(Debug, Default)]
struct Case {
    chart: String,
    release: String,
    namespace: String,
    kube_version: Option<String>,
    api_versions: Vec<String>,
    values_files: Vec<String>,
    include_crds: bool,
    skip_tests: bool,
}

fn flow_list(v: &str) -> Vec<String> {
    v.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn parse_case(text: &str) -> Case {
    let mut c = Case {
        release: "release-name".into(),
        namespace: "default".into(),
        ..Case::default()
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.split(" #").next().unwrap_or("").trim();
        match k.trim() {
            "chart" => c.chart = v.to_string(),
            "release" => c.release = v.to_string(),
            "namespace" => c.namespace = v.to_string(),
            "kubeVersion" => c.kube_version = Some(v.to_string()),
            "apiVersions" => c.api_versions = flow_list(v),
            "valuesFiles" => c.values_files = flow_list(v),
            "includeCrds" => c.include_crds = v == "true",
            "skipTests" => c.skip_tests = v == "true",
            _ => {}
        }
    }
    c
}

/// Renders a case as `helm template` would run it from the corpus folder.
fn render(root: &Path, case: &Case, cache: &RenderCache) -> Result<TemplateOutput, HelmError> {
    let opts = TemplateOptions {
        release_name: case.release.clone(),
        namespace: case.namespace.clone(),
        kube_version: case.kube_version.clone(),
        api_versions: case.api_versions.clone(),
        include_crds: case.include_crds,
        skip_tests: case.skip_tests,
        ..TemplateOptions::default()
    };
    let mut values = ValueOptions::default();
    for f in &case.values_files {
        let data =
            std::fs::read(root.join(f)).map_err(|e| HelmError::Io(format!("open {f}: {e}")))?;
        values.values_files.push((f.clone(), data));
    }
    action::parse_kube_version(&opts)?;
    let user_values = action::merge_user_values(&values)?;
    let chart = action::load_installable(&root.join(&case.chart))?;
    cache.template(&chart, &user_values, &opts)
}

/// The first lines where two texts differ, with a little context.
fn first_diff(expect: &str, got: &str) -> String {
    let e: Vec<&str> = expect.split('\n').collect();
    let g: Vec<&str> = got.split('\n').collect();
    let at = e
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(e.len().min(g.len()));
    let mut out = format!(
        "    first difference at line {} (expected {} lines, got {})\n",
        at + 1,
        e.len(),
        g.len()
    );
    let from = at.saturating_sub(2);
    for i in from..(at + 4) {
        if let Some(l) = e.get(i) {
            let _ = writeln!(out, "    -{:>5} {l}", i + 1);
        }
        if let Some(l) = g.get(i) {
            let _ = writeln!(out, "    +{:>5} {l}", i + 1);
        }
    }
    out
}

/// The `Error: ...` part of Helm's stderr (warnings printed before it are not the cause).
fn error_part(stderr: &str) -> &str {
    match stderr.find("Error: ") {
        Some(i) => &stderr[i..],
        None => stderr,
    }
}

#[test]
fn helm_corpus_renders_byte_for_byte() {
    let root = corpus_root();
    let cases_dir = root.join("cases");
    let Ok(entries) = std::fs::read_dir(&cases_dir) else {
        // Third-party test data that stays outside the project: required where it must be
        // (CI, or a corpus named explicitly), skipped with one line elsewhere.
        let required = std::env::var("CI").is_ok_and(|v| v == "true")
            || std::env::var_os("FLOTILLA_HELM_CORPUS").is_some();
        assert!(
            !required,
            "\n\n*** The Helm conformance corpus is missing: {} does not exist. ***\n\
             *** Set FLOTILLA_HELM_CORPUS to the corpus folder (CI always has it). ***\n\n",
            cases_dir.display()
        );
        eprintln!(
            "skipped: the Helm conformance corpus ({}) is not beside the checkout; set \
             FLOTILLA_HELM_CORPUS=DIR to run it",
            cases_dir.display()
        );
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".yaml").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no cases in {}", cases_dir.display());

    let cache = RenderCache::new();
    let mut failures = Vec::new();
    let mut report = String::new();
    for name in &names {
        let text = std::fs::read_to_string(cases_dir.join(format!("{name}.yaml")))
            .unwrap_or_else(|e| panic!("reading case {name}: {e}"));
        let case = parse_case(&text);
        let golden = root.join("golden").join(format!("{name}.yaml"));
        let golden_err = root.join("golden").join(format!("{name}.error.txt"));
        let result = render(&root, &case, &cache);
        let verdict = if let Ok(expect) = std::fs::read_to_string(&golden) {
            match &result {
                Ok(out) if out.stdout == expect => Ok(()),
                Ok(out) => Err(first_diff(&expect, &out.stdout)),
                Err(e) => Err(format!("    unexpected error: {}", e.helm_output())),
            }
        } else if let Ok(expect) = std::fs::read_to_string(&golden_err) {
            match &result {
                Err(e) if e.helm_output() == error_part(&expect) => Ok(()),
                Err(e) => Err(format!(
                    "    wrong error:\n    expected: {:?}\n    got:      {:?}\n",
                    error_part(&expect),
                    e.helm_output()
                )),
                Ok(_) => Err(format!(
                    "    rendered, but Helm fails with: {}",
                    error_part(&expect)
                )),
            }
        } else {
            Err("    no golden output".to_string())
        };
        match verdict {
            Ok(()) => {
                let _ = writeln!(report, "PASS {name}");
            }
            Err(why) => {
                let _ = writeln!(report, "FAIL {name}\n{why}");
                failures.push(name.clone());
            }
        }
    }
    let _ = writeln!(
        report,
        "\n{} of {} corpus cases byte-identical",
        names.len() - failures.len(),
        names.len()
    );
    println!("{report}");
    assert!(failures.is_empty(), "failing corpus cases: {failures:?}");
}

#[test]
fn case_files_parse() {
    let c = parse_case(
        "chart: charts/x\nrelease: fleet\nnamespace: apps\nkubeVersion: 1.31.0\napiVersions: [a/v1, b/v2]\nvaluesFiles: []\nincludeCrds: true\nskipTests: true                # why\n",
    );
    assert_eq!(c.chart, "charts/x");
    assert_eq!(c.api_versions, ["a/v1", "b/v2"]);
    assert!(c.values_files.is_empty());
    assert!(c.include_crds && c.skip_tests);
}

mod charts;
mod engine_cases;
mod fetch;
