//! Helpers shared by the tests: small fleets in memory, and a summary of a compilation.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use compiler::{Compilation, FleetFiles, HelmRenderer, Options};
use plugins::{HostConfig, PluginHost};

/// The tests' plugin host: compiled plugins are cached under the target folder (the CLI's
/// tests use the same folder), so that the example fleet's Python plugins compile once.
pub fn plugin_host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| {
        PluginHost::new(HostConfig {
            cache_dir: Some(
                Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join("flotilla-cache")
                    .join("plugins"),
            ),
            ..HostConfig::default()
        })
    })
}

/// Compile options with the tests' plugin host.
pub fn options() -> Options<'static> {
    Options {
        plugin_host: Some(plugin_host()),
        ..Options::default()
    }
}

/// Compiles with Helm's renderer and the tests' plugin host.
pub fn compile(files: &FleetFiles) -> Compilation {
    compiler::compile_with(files, &HelmRenderer, options())
}

/// A cluster file.
pub fn cluster(name: &str, environment: &str) -> (String, String) {
    (
        format!("clusters/{name}.yaml"),
        format!("name: {name}\nprovider: aws\nregion: us-east-1\nenvironment: {environment}\n"),
    )
}

/// A service file with a selector and dependencies.
pub fn service(name: &str, selector: &str, deps: &[&str]) -> (String, String) {
    (
        format!("services/{name}/service.yaml"),
        format!(
            "name: {name}\nowners: {{team: t}}\nchart: {{path: ../../charts/{name}}}\n\
             selector: '{selector}'\ndependsOn: [{}]\nrelease: {{name: {name}, namespace: {name}}}\n",
            deps.join(", ")
        ),
    )
}

/// A fleet of these files, with a stub chart for every service whose chart has no files.
pub fn fleet(files: Vec<(String, String)>) -> FleetFiles {
    let mut files = FleetFiles::from_files(files);
    add_stub_charts(&mut files);
    files
}

/// Adds `Chart.yaml` to every chart folder a service names, when the fleet has no chart at
/// all: fixtures that are about selection and ordering need not write charts.
pub fn add_stub_charts(files: &mut FleetFiles) {
    if !files.blobs.is_empty() || files.files.keys().any(|k| k.starts_with("charts/")) {
        return;
    }
    for dir in compiler::source::chart_dirs(files) {
        if compiler::source::chart_files(files, &dir).is_empty() {
            let name = dir.rsplit('/').next().unwrap_or("chart");
            files.files.insert(
                format!("{dir}/Chart.yaml"),
                format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
            );
        }
    }
}

/// Diagnostics, selection and waves, as text.
pub fn summary(c: &Compilation) -> String {
    let mut out = String::new();
    let text = c.diagnostics.render_text();
    if !text.is_empty() {
        out.push_str(&text);
    }
    out.push_str("== selection and waves\n");
    for (cluster, waves) in &c.waves {
        let shown: Vec<String> = waves
            .0
            .iter()
            .map(|w| {
                format!(
                    "[{}]",
                    w.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
                )
            })
            .collect();
        let shown = if shown.is_empty() {
            "(nothing)".to_owned()
        } else {
            shown.join(" ")
        };
        let _ = writeln!(out, "{cluster}: {shown}");
    }
    out
}
