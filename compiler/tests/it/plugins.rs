//! Plugins in values templates: answers become template values, every kind of failure becomes
//! a diagnostic placed in `service.yaml` naming the plugin, the service and the clusters, the
//! persistent cache never serves an outcome of another plugin, and plans are reproducible.

use std::sync::Arc;

use compiler::chart::fake::FakeRenderer;
use compiler::{DiskCache, FleetFiles, Options};

use crate::example::example_fleet;
use crate::support::options;

/// A test guest of `plugins/fixtures/`, as component bytes.
fn fixture(name: &str) -> Arc<[u8]> {
    let path = format!(
        "{}/../plugins/fixtures/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("a fixture");
    Arc::from(wat::parse_str(&text).expect("the fixture assembles"))
}

/// Clusters `a` (prod) and `b` (dev), one service per `(name, values template)`, charts for
/// the fake renderer, and `plugins/<name>.wasm` for every `(name, fixture)`.
fn fleet(services: &[(&str, &str)], plugins: &[(&str, &str)]) -> FleetFiles {
    let mut files = vec![
        crate::support::cluster("a", "prod"),
        crate::support::cluster("b", "dev"),
    ];
    for (name, values) in services {
        let values: String = values.lines().map(|l| format!("  {l}\n")).collect();
        files.push((
            format!("services/{name}/service.yaml"),
            format!(
                "name: {name}\nowners: {{team: t}}\nchart: {{path: ../../charts/{name}}}\n\
                 selector: 'true'\nrelease: {{name: {name}, namespace: {name}}}\nvalues: |\n{values}"
            ),
        ));
        files.push((
            format!("charts/{name}/Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
        ));
    }
    let mut files = FleetFiles::from_files(files);
    for (name, wasm) in plugins {
        files
            .blobs
            .insert(format!("plugins/{name}.wasm"), fixture(wasm));
    }
    files
}

#[test]
fn answers_become_values_as_helm_reads_json() {
    let files = fleet(
        &[(
            "api",
            "request: {{ plugin \"echo\" \"10.0.0.0/8\" 20 2.5 true (list 1 \"x\") (dict \"k\" .Cluster.environment) | toJson }}\n\
             cluster: {{ (plugin \"echo\").cluster.name }}\n\
             number: {{ (plugin \"echo\" 20).args | first | kindOf }}\n\
             service: {{ (plugin \"echo\").service }}",
        )],
        &[("echo", "echo")],
    );
    let compiled = compiler::compile_with(&files, &FakeRenderer::new(), options());
    assert_eq!(compiled.diagnostics.render_text(), "");
    let manifest = |cluster: &str| {
        let plan = compiled
            .plan
            .clusters
            .iter()
            .find(|c| &*c.name == cluster)
            .expect("a cluster");
        compiled
            .manifests
            .get(&plan.releases[0].manifest)
            .unwrap_or_default()
            .to_owned()
    };
    insta::assert_snapshot!(manifest("a"));
    assert!(manifest("b").contains("cluster: b"), "{}", manifest("b"));
    // The request carries the whole cluster: every cluster renders its own values.
    assert_eq!(compiled.stats.values_rendered, 2);
}

#[test]
fn plugin_failures_are_placed_in_the_service_file() {
    let files = {
        let mut files = fleet(
            &[
                ("guest-err", "x: {{ plugin \"err\" }}"),
                ("trap", "x: {{ plugin \"trap\" 1 }}"),
                ("fuel", "a: 1\nx: {{ plugin \"spin\" }}"),
                ("timeout", "x: {{ plugin \"slow\" }}"),
                ("memory", "x: {{ plugin \"bomb\" }}"),
                ("bad-json", "x: {{ plugin \"bad-json\" | toJson }}"),
                ("typo", "x: {{ plugin \"ecoh\" .Cluster.name }}"),
                ("absent", "x: {{ plugin \"vault-lookup\" }}"),
                ("fine", "x: {{ (plugin \"echo\").cluster.name }}"),
            ],
            &[
                ("err", "err"),
                ("trap", "trap"),
                ("spin", "spin"),
                ("slow", "spin"),
                ("bomb", "memory-bomb"),
                ("bad-json", "bad-json"),
                ("echo", "echo"),
            ],
        );
        for (name, limits) in [
            ("spin", "fuel: 100000\n"),
            ("slow", "fuel: 100000000000\ntimeoutMs: 50\n"),
            ("bomb", "memoryMiB: 16\n"),
        ] {
            files
                .files
                .insert(format!("plugins/{name}.yaml"), limits.into());
        }
        files
    };
    let compiled = compiler::compile_with(&files, &FakeRenderer::new(), options());
    insta::assert_snapshot!(compiled.diagnostics.render_text());
    // The compile carried on: the service whose plugin answers is on both clusters.
    for cluster in &compiled.plan.clusters {
        let services: Vec<&str> = cluster.releases.iter().map(|r| &*r.service).collect();
        assert_eq!(services, ["fine"], "{}", cluster.name);
    }
    assert!(compiled.applicable().is_none());
}

#[test]
fn broken_plugin_files_are_reported() {
    let mut files = fleet(
        &[("api", "x: {{ plugin \"echo\" }}")],
        &[("echo", "echo"), ("Bad", "echo")],
    );
    files
        .blobs
        .insert("plugins/junk.wasm".into(), Arc::from(&b"\0asm junk"[..]));
    files
        .files
        .insert("plugins/echo.yaml".into(), "fuel: 0\n".into());
    files
        .files
        .insert("plugins/orphan.yaml".into(), "fuel: 1\n".into());
    let compiled = compiler::compile_with(&files, &FakeRenderer::new(), options());
    insta::assert_snapshot!(compiled.diagnostics.render_text());
}

#[test]
fn the_outcome_cache_is_keyed_by_the_plugins() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache = DiskCache::at(dir.path());
    let options = Options {
        cache: Some(&cache),
        ..options()
    };
    let files = fleet(
        &[
            ("api", "x: {{ (plugin \"echo\").cluster.name }}"),
            ("plain", "x: {{ .Cluster.name }}"),
        ],
        &[("echo", "echo")],
    );
    let compile = |files: &FleetFiles| compiler::compile_with(files, &FakeRenderer::new(), options);
    let cold = compile(&files);
    assert_eq!(cold.diagnostics.render_text(), "");
    assert_eq!(cold.stats.releases_cached, 0);
    let warm = compile(&files);
    assert_eq!(warm.stats.releases_cached, 4);
    assert_eq!(warm.plan.to_yaml(), cold.plan.to_yaml());

    // Other bytes (the same answers), or other limits: the plugin's outcomes are not served.
    let mut rebuilt = files.clone();
    let mut bytes = fixture("echo").to_vec();
    bytes.extend_from_slice(&[0, 4, 1, b'v', b'2', b'!']);
    rebuilt
        .blobs
        .insert("plugins/echo.wasm".into(), Arc::from(bytes));
    let after = compile(&rebuilt);
    assert_eq!(after.diagnostics.render_text(), "");
    assert_eq!(after.stats.releases_cached, 2, "only `plain` is served");
    assert_eq!(after.plan.to_yaml(), cold.plan.to_yaml());

    let mut limited = files.clone();
    limited
        .files
        .insert("plugins/echo.yaml".into(), "fuel: 5000000\n".into());
    assert_eq!(compile(&limited).stats.releases_cached, 2);
    // And back: the first outcomes are still there.
    assert_eq!(compile(&files).stats.releases_cached, 4);
}

#[test]
fn the_example_fleet_compiles_to_the_same_bytes_twice() {
    let files = example_fleet();
    let one = crate::support::compile(&files);
    assert_eq!(one.diagnostics.render_text(), "");
    // Another compile loads the plugins again (fresh memo), on other threads.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .expect("a thread pool");
    let two = pool.install(|| crate::support::compile(&files));
    assert_eq!(one.plan.to_yaml(), two.plan.to_yaml());
    assert_eq!(one.manifests, two.manifests);
    // The plugins' answers are in the manifests.
    let text: String = one.manifests.0.values().map(|m| m.to_string()).collect();
    assert!(text.contains("AWS_ENDPOINT_URL_S3"), "region-endpoints");
    assert!(text.contains("proxy-real-ip-cidr"), "cidr-allocator");
}
