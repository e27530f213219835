//! Render benchmarks, side by side with Go (`bench/go-reference`, see `BENCHMARKS.md`): the
//! `helm create` starter chart with its default values, its Deployment over values sets of
//! ~10, ~2,000 and ~10,000 leaves it never reads, and a services chart that ranges over all of
//! them. Every case is set up as `go-reference` sets it up (same files, same values, same
//! top-level data, every non-partial template executed per render), so the figures compare.
//!
//! Inputs: the Helm corpus at `$FLOTILLA_HELM_CORPUS` (default `../shared/helm-corpus` beside
//! the workspace), and values from `scripts/gen-values.py SIZE` (deterministic bytes), run
//! with `python3`. `FLOTILLA_BENCH_DUMP=DIR` writes each case's rendered output to
//! `DIR/<case>.txt`, to compare with `go-reference -print -raw`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use gotemplate::funcs::encoding::from_yaml;
use gotemplate::{ExecOptions, FuncMap, Map, MapType, MissingKey, Template, Value};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The values sets of `scripts/gen-values.py`: ~10, ~2,000 and ~10,000 leaves.
const SIZES: [&str; 3] = ["small", "medium", "large"];

fn corpus() -> PathBuf {
    match std::env::var_os("FLOTILLA_HELM_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(WORKSPACE).join("../shared/helm-corpus"),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_map(text: &str, what: &str) -> Map {
    match from_yaml(text).unwrap_or_else(|e| panic!("{what}: {e}")) {
        Value::Map(m) => m,
        Value::Nil => Map::new(),
        other => panic!("{what}: a {}, not a map", other.type_name()),
    }
}

/// `scripts/gen-values.py SIZE`, parsed.
fn generated_values(size: &str) -> Map {
    let script = Path::new(WORKSPACE).join("scripts/gen-values.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(size)
        .output()
        .unwrap_or_else(|e| panic!("python3 {}: {e}", script.display()));
    assert!(out.status.success(), "gen-values.py {size} failed");
    let text = String::from_utf8(out.stdout).expect("gen-values.py prints UTF-8");
    yaml_map(&text, &format!("gen-values.py {size}"))
}

/// A chart as `go-reference` loads it: templates named `<chart>/templates/<path>`, parsed in
/// Helm's order into one set, `.Chart` with the metadata fields go-reference fills.
struct Chart {
    name: String,
    metadata: Value,
    values: Map,
    template: Template,
    /// The non-partial templates, sorted: what one render executes.
    targets: Vec<String>,
    files: Vec<(String, String)>,
}

impl Chart {
    fn load(dir: &Path, funcs: &Arc<FuncMap>) -> Chart {
        let chart = yaml_map(&read(&dir.join("Chart.yaml")), "Chart.yaml");
        let metadata = Map::new();
        for (key, field) in [
            ("name", "Name"),
            ("version", "Version"),
            ("appVersion", "AppVersion"),
            ("description", "Description"),
            ("type", "Type"),
            ("apiVersion", "APIVersion"),
            ("kubeVersion", "KubeVersion"),
            ("home", "Home"),
            ("icon", "Icon"),
        ] {
            let v = chart.get(key).filter(|v| v.as_str().is_some());
            metadata.insert(field, v.unwrap_or_else(|| Value::from("")));
        }
        let name = chart
            .get("name")
            .and_then(|v| v.as_str().map(str::to_string))
            .expect("Chart.yaml has a name");
        let values = yaml_map(&read(&dir.join("values.yaml")), "values.yaml");

        let root = dir.join("templates");
        let mut files = Vec::new();
        collect(&root, &root, &mut files);
        let mut files: Vec<(String, String)> = files
            .into_iter()
            .map(|(rel, text)| (format!("{name}/templates/{rel}"), text))
            .collect();
        // Helm's parse order: deeper paths first, then reverse name order.
        files.sort_by(|(a, _), (b, _)| {
            let depth = |s: &str| s.bytes().filter(|&c| c == b'/').count();
            depth(b).cmp(&depth(a)).then_with(|| b.cmp(a))
        });
        let template = parse_all(funcs, &files);
        let mut targets: Vec<String> = files
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !n.rsplit('/').next().unwrap_or("").starts_with('_'))
            .collect();
        targets.sort();
        Chart {
            name,
            metadata: Value::Map(metadata),
            values,
            template,
            targets,
            files,
        }
    }

    /// Helm's top-level data for one template, built per execution as go-reference does.
    fn top(&self, template_name: &str) -> Value {
        let top = Map::new().with_go_type(MapType::CHARTUTIL_VALUES);
        top.insert(
            "Values",
            Value::Map(self.values.with_go_type(MapType::CHARTUTIL_VALUES)),
        );
        top.insert("Chart", self.metadata.clone());
        let release = Map::new();
        release.insert("Name", Value::from("fleet"));
        release.insert("Namespace", Value::from("apps"));
        release.insert("IsUpgrade", Value::Bool(false));
        release.insert("IsInstall", Value::Bool(true));
        release.insert("Revision", Value::Int(1));
        release.insert("Service", Value::from("Helm"));
        top.insert("Release", Value::Map(release));
        let kube = Map::new();
        kube.insert("Version", Value::from("v1.31.0"));
        kube.insert("Major", Value::from("1"));
        kube.insert("Minor", Value::from("31"));
        let caps = Map::new();
        caps.insert("KubeVersion", Value::Map(kube));
        caps.insert("APIVersions", Value::list(vec![Value::from("v1")]));
        top.insert("Capabilities", Value::Map(caps));
        top.insert("Files", Value::Map(Map::new()));
        top.insert("Subcharts", Value::Map(Map::new()));
        let template = Map::new().with_go_type(MapType::CHARTUTIL_VALUES);
        template.insert("Name", Value::from(template_name));
        template.insert("BasePath", Value::from(format!("{}/templates", self.name)));
        top.insert("Template", Value::Map(template));
        Value::Map(top)
    }

    /// One render: every target executed, `<no value>` removed; the output bytes.
    fn render(&self, targets: &[String], options: &ExecOptions, out: &mut String) -> usize {
        let mut total = 0;
        for name in targets {
            out.clear();
            self.template
                .execute_into(name, &self.top(name), options, out)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            if out.contains("<no value>") {
                *out = out.replace("<no value>", "");
            }
            total += out.len();
        }
        total
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, read(&path)));
        }
    }
}

fn parse_all(funcs: &Arc<FuncMap>, files: &[(String, String)]) -> Template {
    let mut t = Template::new(funcs.clone());
    t.set_root_name("gotpl");
    for (name, text) in files {
        t.parse(name, text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    t
}

fn helm_options() -> ExecOptions {
    ExecOptions {
        missing_key: MissingKey::Zero,
        ..ExecOptions::default()
    }
}

/// Writes one render's output for `FLOTILLA_BENCH_DUMP`.
fn dump(case: &str, chart: &Chart, targets: &[String]) {
    let Some(dir) = std::env::var_os("FLOTILLA_BENCH_DUMP") else {
        return;
    };
    let options = helm_options();
    let mut all = String::new();
    for name in targets {
        let out = chart
            .template
            .execute(name, &chart.top(name), &options)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        all.push_str(&out.replace("<no value>", ""));
    }
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("dump directory");
    std::fs::write(dir.join(format!("{case}.txt")), all).expect("dump file");
}

fn bench_render(
    c: &mut Criterion,
    group: &str,
    id: BenchmarkId,
    chart: &Chart,
    targets: &[String],
) {
    let options = helm_options();
    let mut out = String::new();
    let bytes = chart.render(targets, &options, &mut out);
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(id, |b| {
        b.iter(|| black_box(chart.render(targets, &options, &mut out)))
    });
    g.finish();
}

fn starter(c: &mut Criterion) {
    let funcs = Arc::new(FuncMap::helm());
    let chart = Chart::load(&corpus().join("charts/starter"), &funcs);
    dump("starter", &chart, &chart.targets);
    bench_render(
        c,
        "starter",
        BenchmarkId::from_parameter("render"),
        &chart,
        &chart.targets,
    );
    let mut g = c.benchmark_group("starter");
    g.bench_function("parse", |b| {
        b.iter(|| black_box(parse_all(&funcs, &chart.files)))
    });
    g.finish();
}

/// The starter's Deployment, its default values plus a generated values set it never reads:
/// the render time must not grow with the set.
fn deployment_untouched(c: &mut Criterion) {
    let funcs = Arc::new(FuncMap::helm());
    let mut chart = Chart::load(&corpus().join("charts/starter"), &funcs);
    let defaults = chart.values.clone();
    let target = vec![format!("{}/templates/deployment.yaml", chart.name)];
    for size in SIZES {
        let values = defaults.shallow_copy();
        for (k, v) in generated_values(size).entries() {
            values.insert(k, v);
        }
        chart.values = values;
        dump(&format!("deployment-untouched-{size}"), &chart, &target);
        bench_render(
            c,
            "deployment-untouched",
            BenchmarkId::from_parameter(size),
            &chart,
            &target,
        );
    }
}

/// `bench/go-reference/testdata/services`: one document per enabled service of a generated
/// values set (range, with, include, toYaml, quote over every service).
fn services(c: &mut Criterion) {
    let funcs = Arc::new(FuncMap::helm());
    let dir = Path::new(WORKSPACE).join("bench/go-reference/testdata/services");
    let mut chart = Chart::load(&dir, &funcs);
    let targets = chart.targets.clone();
    for size in SIZES {
        chart.values = generated_values(size);
        dump(&format!("services-{size}"), &chart, &targets);
        bench_render(
            c,
            "services",
            BenchmarkId::from_parameter(size),
            &chart,
            &targets,
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = starter, deployment_untouched, services
}
criterion_main!(benches);
