//! The incremental compiler gives, after every kind of change, what a whole compile of the
//! same files gives; and it redoes only the changed services when only their versions changed.

use compiler::incremental::FullReason;
use compiler::model::{ClusterName, ServiceName};
use compiler::synthetic::{FleetConfig, generate};
use compiler::{Compilation, FleetFiles, HelmRenderer, Incremental, Recompile};

use crate::support;

/// Everything a compilation holds that a user or a later stage sees.
fn assert_same(incremental: &Compilation, files: &FleetFiles) {
    let whole = support::compile(files);
    let (a, b) = (incremental.plan.to_yaml(), whole.plan.to_yaml());
    if a != b {
        let diff = similar::TextDiff::from_lines(&b, &a);
        let shown = diff
            .unified_diff()
            .context_radius(8)
            .header("whole compile", "incremental")
            .to_string();
        let shown: String = shown.lines().take(80).collect::<Vec<_>>().join("\n");
        panic!("the plans differ:\n{shown}");
    }
    assert_eq!(incremental.plan, whole.plan);
    assert_eq!(incremental.manifests, whole.manifests);
    assert_eq!(incremental.digests, whole.digests);
    assert_eq!(incremental.fleet, whole.fleet);
    assert_eq!(incremental.selection, whole.selection);
    assert_eq!(incremental.waves, whole.waves);
    assert_eq!(
        incremental.diagnostics.render_text(),
        whole.diagnostics.render_text()
    );
    assert_eq!(incremental.stats.releases, whole.stats.releases);
}

fn service_path(name: &str) -> String {
    format!("services/{name}/service.yaml")
}

/// Replaces `from` by `to` in a file, which must contain it.
fn edit(files: &mut FleetFiles, path: &str, from: &str, to: &str) {
    let text = files.files.get_mut(path).expect("the file exists");
    assert!(text.contains(from), "{path} has no {from:?}");
    *text = text.replacen(from, to, 1);
}

/// Appends a line to a service's values template (its last field).
fn new_version(files: &mut FleetFiles, name: &str, line: &str) {
    let text = files
        .files
        .get_mut(&service_path(name))
        .expect("the service exists");
    text.push_str(&format!("  {line}\n"));
}

#[test]
fn recompiles_equal_whole_compiles_after_every_kind_of_change() {
    every_kind_of_change(support::options());
}

#[test]
fn recompiles_with_a_persistent_cache_equal_whole_compiles() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache = compiler::DiskCache::at(dir.path());
    every_kind_of_change(compiler::Options {
        cache: Some(&cache),
        ..support::options()
    });
}

fn every_kind_of_change(options: compiler::Options<'_>) {
    let mut files = generate(FleetConfig {
        clusters: 60,
        services: 12,
        seed: 7,
    });
    let mut compiler = Incremental::new(HelmRenderer, options);
    let step = |compiler: &mut Incremental<'_, HelmRenderer>, files: &FleetFiles| {
        let (compilation, how) = compiler.compile(files.clone());
        eprintln!("recompile: {how}");
        assert_same(compilation, files);
        how
    };

    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Full(FullReason::First)
    );
    assert_eq!(step(&mut compiler, &files), Recompile::Unchanged);

    // A new version of one service, then of two: only they are rendered again.
    let before = files.clone();
    new_version(&mut files, "svc-001", "note: one");
    let svc = |names: &[&str]| {
        Recompile::Services(
            names
                .iter()
                .map(|n| compiler::model::ServiceName::new(*n))
                .collect(),
        )
    };
    assert_eq!(step(&mut compiler, &files), svc(&["svc-001"]));
    let stats = compiler.last().expect("compiled").stats.clone();
    assert!(stats.values_rendered > 0 && stats.values_rendered < stats.releases);
    new_version(&mut files, "svc-001", "other: two");
    new_version(&mut files, "svc-007", "note: three");
    assert_eq!(step(&mut compiler, &files), svc(&["svc-001", "svc-007"]));

    // Back to the first versions: the manifests only the newer ones used are gone.
    files = before.clone();
    assert_eq!(step(&mut compiler, &files), svc(&["svc-001", "svc-007"]));

    // A version that fails on some clusters: its releases leave those plans, with the same
    // diagnostics as a whole compile; the next compile is whole.
    new_version(
        &mut files,
        "svc-003",
        r#"broken: {{ if eq .Cluster.environment "prod" }}{{ fail "no prod" }}{{ end }}"#,
    );
    assert_eq!(step(&mut compiler, &files), svc(&["svc-003"]));
    assert!(compiler.last().expect("compiled").diagnostics.has_errors());
    files = before.clone();
    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Full(FullReason::Diagnostics)
    );

    // Selectors, dependencies and releases that change: selection and order are redone, only
    // the new versions are rendered.
    let retargeted = |services: &[&str], removed: &[&str]| Recompile::Retargeted {
        services: services.iter().map(|n| ServiceName::new(*n)).collect(),
        removed: removed.iter().map(|n| ServiceName::new(*n)).collect(),
        clusters: Vec::new(),
        removed_clusters: Vec::new(),
    };
    let changes: [(&str, &str, &str); 4] = [
        // Narrower.
        (
            "svc-007",
            "selector: 'cluster.tags.team == \"search\"'",
            "selector: 'cluster.tags.team == \"search\" && cluster.environment == \"prod\"'",
        ),
        // Wider.
        (
            "svc-005",
            "selector: 'cluster.environment != \"dev\" && cluster.provider == \"aws\"'",
            "selector: 'true'",
        ),
        // Fewer dependencies: the waves of the services after it move.
        ("svc-003", "dependsOn: [svc-002]", "dependsOn: []"),
        // Another release name.
        (
            "svc-006",
            "release: {name: svc-006",
            "release: {name: other-006",
        ),
    ];
    for (service, from, to) in changes {
        edit(&mut files, &service_path(service), from, to);
        assert_eq!(step(&mut compiler, &files), retargeted(&[service], &[]));
        assert!(!compiler.last().expect("compiled").diagnostics.has_errors());
    }
    // Two at once.
    edit(
        &mut files,
        &service_path("svc-003"),
        "dependsOn: []",
        "dependsOn: [svc-002]",
    );
    new_version(&mut files, "svc-001", "two: at once");
    assert_eq!(
        step(&mut compiler, &files),
        retargeted(&["svc-001", "svc-003"], &[])
    );
    // A service added, then removed.
    let mut added = files.clone();
    let text = added.files[&service_path("svc-004")]
        .replace("name: svc-004", "name: svc-100")
        .replace("{name: svc-004", "{name: svc-100");
    added.files.insert(service_path("svc-100"), text);
    assert_eq!(step(&mut compiler, &added), retargeted(&["svc-100"], &[]));
    assert_eq!(step(&mut compiler, &files), retargeted(&[], &["svc-100"]));

    // Graph errors come out as a whole compile gives them: a dependency no longer selected
    // where its dependents are, then a cycle; the compile after each is whole.
    let good = files.clone();
    for (from, to) in [
        (
            "selector: 'true'",
            "selector: 'cluster.environment == \"prod\"'",
        ),
        ("dependsOn: []", "dependsOn: [svc-004]"),
    ] {
        let mut broken = good.clone();
        edit(&mut broken, &service_path("svc-000"), from, to);
        assert_eq!(step(&mut compiler, &broken), retargeted(&["svc-000"], &[]));
        assert!(compiler.last().expect("compiled").diagnostics.has_errors());
        assert_eq!(
            step(&mut compiler, &good),
            Recompile::Full(FullReason::Diagnostics)
        );
    }

    // Selectors that do not compile or fail on a cluster: compiled whole, which reports them.
    for selector in [
        "selector: 'cluster.environment =='",
        "selector: 'cluster.metadata.nope == 1'",
    ] {
        let mut broken = good.clone();
        edit(
            &mut broken,
            &service_path("svc-007"),
            "selector: 'cluster.tags.team == \"search\" && cluster.environment == \"prod\"'",
            selector,
        );
        assert_eq!(
            step(&mut compiler, &broken),
            Recompile::Full(FullReason::ServiceProblems)
        );
        assert!(compiler.last().expect("compiled").diagnostics.has_errors());
        assert_eq!(
            step(&mut compiler, &good),
            Recompile::Full(FullReason::Diagnostics)
        );
    }

    // Clusters that change, appear or go: every selector runs on them, they are rendered
    // whole, the other clusters keep their releases.
    let clusters = |changed: &[&str], removed: &[&str]| Recompile::Retargeted {
        services: Vec::new(),
        removed: Vec::new(),
        clusters: changed.iter().map(|n| ClusterName::new(*n)).collect(),
        removed_clusters: removed.iter().map(|n| ClusterName::new(*n)).collect(),
    };
    let names: Vec<String> = files
        .files
        .keys()
        .filter_map(|k| k.strip_prefix("clusters/")?.strip_suffix(".yaml"))
        .map(str::to_owned)
        .collect();
    let dev = names
        .iter()
        .find(|n| n.contains("-dev-"))
        .expect("a dev cluster");
    let path = |name: &str| format!("clusters/{name}.yaml");
    // Data no selector or template reads.
    edit(&mut files, &path(dev), "nodes: ", "nodes: 1");
    assert_eq!(step(&mut compiler, &files), clusters(&[dev], &[]));
    // Data that selectors and templates read.
    edit(
        &mut files,
        &path(dev),
        "environment: dev",
        "environment: prod",
    );
    assert_eq!(step(&mut compiler, &files), clusters(&[dev], &[]));
    // A new cluster, then gone again, with a new version of a service at the same time.
    let mut added = files.clone();
    let text = added.files[&path(dev)].replacen(&format!("name: {dev}"), "name: zz-new", 1);
    added.files.insert(path("zz-new"), text);
    new_version(&mut added, "svc-002", "with: a cluster");
    let how = step(&mut compiler, &added);
    assert_eq!(
        how,
        Recompile::Retargeted {
            services: vec![ServiceName::new("svc-002")],
            removed: Vec::new(),
            clusters: vec![ClusterName::new("zz-new")],
            removed_clusters: Vec::new(),
        }
    );
    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Retargeted {
            services: vec![ServiceName::new("svc-002")],
            removed: Vec::new(),
            clusters: Vec::new(),
            removed_clusters: vec![ClusterName::new("zz-new")],
        }
    );
    // A cluster file that does not load, and data longer than the selectors were checked
    // against, are compiled whole.
    let mut broken = files.clone();
    edit(&mut broken, &path(dev), "provider:", "providr:");
    assert_eq!(
        step(&mut compiler, &broken),
        Recompile::Full(FullReason::ClusterProblems)
    );
    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Full(FullReason::Diagnostics)
    );
    let mut long = files.clone();
    let text = format!("{}  notes: {}\n", long.files[&path(dev)], "x".repeat(5000));
    // `metadata:` is the last field of a generated cluster.
    assert!(long.files[&path(dev)].contains("\nmetadata:\n"));
    long.files.insert(path(dev), text);
    assert_eq!(
        step(&mut compiler, &long),
        Recompile::Full(FullReason::Bounds)
    );
    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Full(FullReason::Bounds)
    );

    // Other files (charts, plugins) are compiled whole.
    let chart = files
        .files
        .keys()
        .find(|k| k.starts_with("charts/"))
        .cloned()
        .expect("a chart file");
    files
        .files
        .entry(chart.clone())
        .or_default()
        .push_str("\n# edited\n");
    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Full(FullReason::File(chart))
    );

    // A changed service file with problems is compiled whole, which reports them.
    new_version(&mut files, "svc-005", "x: 1");
    edit(&mut files, &service_path("svc-005"), "owners:", "ownerz:");
    assert_eq!(
        step(&mut compiler, &files),
        Recompile::Full(FullReason::ServiceProblems)
    );
}

#[test]
fn a_fleet_that_reads_secrets_is_compiled_whole() {
    let mut files = support::fleet(vec![
        support::cluster("a", "dev"),
        support::service("s", "true", &[]),
    ]);
    edit(
        &mut files,
        &service_path("s"),
        "release:",
        "values: |\n  password: {{ vault \"app/db\" \"password\" }}\nrelease:",
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir_all(dir.path().join("app")).expect("mkdir");
    std::fs::write(
        dir.path().join("app/db.yaml"),
        "password: correct-horse-battery\n",
    )
    .expect("write");
    let source: std::sync::Arc<dyn secrets::SecretSource> =
        std::sync::Arc::new(secrets::LocalSource::new(dir.path()));
    let options = compiler::Options {
        secrets: Some(&source),
        ..support::options()
    };
    let mut compiler = Incremental::new(HelmRenderer, options);
    let (first, _) = compiler.compile(files.clone());
    assert!(
        !first.diagnostics.has_errors(),
        "{}",
        first.diagnostics.render_text()
    );
    new_version(&mut files, "s", "x: 1");
    let (_, how) = compiler.compile(files);
    assert_eq!(how, Recompile::Full(FullReason::Secrets));
}
