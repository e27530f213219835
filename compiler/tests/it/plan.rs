//! Plans: the example fleet's plan and manifest listing (snapshots under `snapshots/` at the
//! repository root), determinism whatever the thread count, the persistent cache, reviews, and
//! hostile fleets. Bundles on disk are the bundle crate's tests.

use std::fmt::Write as _;
use std::path::Path;

use compiler::chart::fake::FakeRenderer;
use compiler::{Compilation, DiskCache, FleetFiles, HelmRenderer, Options};

use crate::example::example_fleet;
use crate::support::fleet;

fn compile_on(threads: usize, files: &FleetFiles) -> Compilation {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| crate::support::compile(files))
}

/// Every release's manifest path, digest and kinds of objects.
fn listing(c: &Compilation) -> String {
    let mut out = String::new();
    for cluster in &c.plan.clusters {
        for r in &cluster.releases {
            let text = c.manifests.get(&r.manifest).unwrap_or("");
            let mut kinds: Vec<&str> = text
                .lines()
                .filter_map(|l| l.strip_prefix("kind: "))
                .collect();
            kinds.sort_unstable();
            let _ = writeln!(
                out,
                "{} {} {} lines: {}",
                r.manifest_path(&cluster.name),
                r.manifest.short(),
                text.lines().count(),
                kinds.join(", ")
            );
        }
    }
    out
}

#[test]
fn the_example_plan() {
    let compiled = crate::support::compile(&example_fleet());
    assert_eq!(compiled.diagnostics.render_text(), "");
    assert!(compiled.applicable().is_some());
    insta::with_settings!({
        snapshot_path => "../../../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("example-plan", compiled.plan.to_yaml());
        insta::assert_snapshot!("example-manifests", listing(&compiled));
    });
}

#[test]
fn plans_are_the_same_bytes_whatever_the_thread_count() {
    let files = example_fleet();
    let one = compile_on(1, &files);
    for threads in [2, 3, 8] {
        let other = compile_on(threads, &files);
        assert_eq!(
            one.plan.to_yaml(),
            other.plan.to_yaml(),
            "{threads} threads"
        );
        assert_eq!(one.manifests, other.manifests, "{threads} threads");
        // Secrets are read in whatever order the threads reach them: what is stored of them
        // does not depend on it.
        let spans =
            |c: &Compilation| compiler::redact::Redactions::of(&c.manifests, &c.redactor).to_json();
        assert_eq!(spans(&one), spans(&other), "{threads} threads");
        assert_eq!(
            one.diagnostics.render_text(),
            other.diagnostics.render_text()
        );
    }
    // And with errors: the diagnostics come in the same order too.
    let broken = crate::support::fleet(vec![
        crate::support::cluster("a", "prod"),
        crate::support::cluster("b", "dev"),
        crate::support::cluster("c", "dev"),
        (
            "services/x/service.yaml".into(),
            "name: x\nowners: {team: t}\nchart: {path: ../../charts/x}\nselector: 'true'\n\
             release: {name: x, namespace: x}\nvalues: |\n  a: {{ fail .Cluster.name }}\n"
                .into(),
        ),
    ]);
    let one = compile_on(1, &broken);
    let four = compile_on(4, &broken);
    assert_eq!(
        one.diagnostics.render_text(),
        four.diagnostics.render_text()
    );
    assert_eq!(one.diagnostics.diagnostics.len(), 3);
}

#[test]
fn identical_renders_happen_once() {
    // Two clusters whose values render the same share one render.
    let files = fleet(vec![
        crate::support::cluster("a", "prod"),
        crate::support::cluster("b", "prod"),
        crate::support::cluster("c", "dev"),
        (
            "services/x/service.yaml".into(),
            "name: x\nowners: {team: t}\nchart: {path: ../../charts/x}\nselector: 'true'\n\
             release: {name: x, namespace: x}\nvalues: |\n  env: {{ .Cluster.environment }}\n"
                .into(),
        ),
    ]);
    let renderer = FakeRenderer::new();
    let compiled = compiler::compile_with(&files, &renderer, Options::default());
    assert_eq!(compiled.diagnostics.render_text(), "");
    // Two clusters in prod: the template reads only `.Cluster.environment`, so it runs twice.
    assert_eq!(compiled.stats.values_rendered, 2);
    assert_eq!(compiled.stats.values_reused, 1);
    assert_eq!(compiled.stats.chart_renders, 2);
    assert_eq!(compiled.stats.render_hits, 0);
    assert_eq!(renderer.renders(), 2);
    assert_eq!(compiled.manifests.0.len(), 2);

    // A template that reads the name runs on every cluster, but equal values render once.
    let text = files.files["services/x/service.yaml"].replace(
        "env: {{ .Cluster.environment }}",
        "named: {{ ne .Cluster.name \"\" }}",
    );
    let mut files = files;
    files.files.insert("services/x/service.yaml".into(), text);
    let renderer = FakeRenderer::new();
    let compiled = compiler::compile_with(&files, &renderer, Options::default());
    assert_eq!(compiled.stats.values_rendered, 3);
    assert_eq!(compiled.stats.chart_renders, 1);
    assert_eq!(compiled.stats.render_hits, 2);
    assert_eq!(renderer.renders(), 1);
}

#[test]
fn the_persistent_cache_gives_the_same_plan() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache = DiskCache::at(dir.path());
    let files = example_fleet();
    let options = Options {
        cache: Some(&cache),
        ..crate::support::options()
    };
    let cold = compiler::compile_with(&files, &HelmRenderer, options);
    assert_eq!(cold.stats.releases_cached, 0);
    let warm = compiler::compile_with(&files, &HelmRenderer, options);
    // Renders that read secrets (payments-api's) are never persisted: they are redone, so
    // a changed secret can never be served stale, and no plaintext reaches the cache.
    let payments = warm.selection.clusters_of("payments-api").len() as u64;
    assert!(payments > 0);
    assert_eq!(warm.stats.values_rendered, payments);
    assert_eq!(warm.stats.releases_cached, warm.stats.releases - payments);
    assert_eq!(cold.plan.to_yaml(), warm.plan.to_yaml());
    assert_eq!(cold.manifests, warm.manifests);
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        for plain in crate::secrets::EXAMPLE_PLAINTEXTS {
            for form in crate::secrets::forms(plain) {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{} holds a secret",
                    entry.display()
                );
            }
        }
    }

    // A new version of one service renders that service only; what its renders share with
    // the old version comes from the render cache.
    let mut changed = files.clone();
    let p = "services/ingress/service.yaml";
    let text = changed.files[p].replace(
        "use-forwarded-headers: \"true\"",
        "use-forwarded-headers: \"false\"",
    );
    changed.files.insert(p.into(), text);
    let after = compiler::compile_with(&changed, &HelmRenderer, options);
    let ingress = after.selection.clusters_of("ingress").len() as u64;
    assert_eq!(
        after.stats.releases_cached,
        after.stats.releases - ingress - payments
    );
    assert!(after.stats.values_rendered <= ingress + payments);
    assert_eq!(
        after.plan.to_yaml(),
        crate::support::compile(&changed).plan.to_yaml()
    );

    // A damaged cache is a miss, never a wrong plan: entries cut short, and entries whose
    // manifests were edited.
    let entries = walk(dir.path());
    assert!(!entries.is_empty());
    for (i, entry) in entries.iter().enumerate() {
        let mut bytes = std::fs::read(entry).expect("read");
        if i % 2 == 0 {
            bytes.truncate(bytes.len() / 2);
        } else if let Some(at) = bytes.windows(5).position(|w| w == b"kind:") {
            bytes[at] = b'K';
        }
        std::fs::write(entry, bytes).expect("written");
    }
    let damaged = compiler::compile_with(&files, &HelmRenderer, options);
    assert_eq!(damaged.plan.to_yaml(), cold.plan.to_yaml());
    assert_eq!(damaged.manifests, cold.manifests);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_review_shows_added_removed_and_changed_releases() {
    let before = crate::support::compile(&example_fleet());
    let mut files = example_fleet();
    // payments-api scales differently in prod; search-api leaves; cert-manager is unchanged.
    let p = "services/payments-api/service.yaml";
    let text = files.files[p].replace("6{{ else }}2", "8{{ else }}2");
    files.files.insert(p.into(), text);
    let s = "services/search-api/service.yaml";
    let text = files.files[s].replace("cluster.tags.team == \"search\"", "false");
    files.files.insert(s.into(), text);
    let after = crate::support::compile(&files);
    assert_eq!(after.diagnostics.render_text(), "");
    let review = compiler::review::review(
        Some((&before.plan, &before.manifests)),
        (&after.plan, &after.manifests),
    );
    insta::assert_snapshot!(review.render_text());
    assert!(
        compiler::review::review(
            Some((&after.plan, &after.manifests)),
            (&after.plan, &after.manifests)
        )
        .is_empty()
    );
    let first = compiler::review::review(None, (&after.plan, &after.manifests));
    assert_eq!(first.counts(), (after.plan.release_count(), 0, 0));
}

/// Fleets written to break things: the compiler reports them and never panics.
#[test]
fn hostile_fleets_never_panic() {
    let service = |name: &str, chart: &str, values: &str| {
        (
            format!("services/{name}/service.yaml"),
            format!(
                "name: {name}\nowners: {{team: t}}\nchart: {{path: {chart}}}\nselector: 'true'\n\
                 release: {{name: {name}, namespace: n}}\nvalues: |\n{values}\n"
            ),
        )
    };
    let deep = format!("  a: {}1{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<Vec<(String, String)>> = vec![
        vec![service("a", "../../charts/a", "  {{ template \"x\" . }}{{ define \"x\" }}{{ template \"x\" . }}{{ end }}")],
        vec![service("a", "../../charts/a", &deep)],
        vec![service("a", "../../charts/a", "  a: {{ range $i := until 100000000 }}x{{ end }}")],
        vec![service("a", "../../charts/a", "  {{ .Cluster.name.x.y }}")],
        vec![service("a", "../../charts/a", "  a: &a [*a]")],
        vec![service("a", "../../charts/a", "  {{")],
        vec![
            service("a", "../../charts/a", "  a: 1"),
            ("charts/a/Chart.yaml".into(), "{{{{ not yaml".into()),
        ],
        vec![
            service("a", "../../charts/a", "  a: 1"),
            ("charts/a/Chart.yaml".into(), "apiVersion: v2\nname: a\nversion: 1.0.0\n".into()),
            ("charts/a/templates/x.yaml".into(), "{{ include \"x\" . }}{{ define \"x\" }}{{ include \"x\" . }}{{ end }}".into()),
        ],
        vec![
            service("a", "../../charts/a", "  a: 1"),
            ("charts/a/Chart.yaml".into(), "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies: [{name: b, version: 1.0.0}]\n".into()),
        ],
        vec![
            service("a", "../../charts/a", "  a: 1"),
            ("charts/a/Chart.yaml".into(), "apiVersion: v2\nname: a\nversion: 1.0.0\n".into()),
            ("charts/a/templates/x.yaml".into(), "kind: [unclosed\n".into()),
            ("charts/a/values.schema.json".into(), "{\"type\": \"string\"}".into()),
        ],
        vec![service("a", "..", "  a: 1")],
        vec![service("a", ".", "  a: 1")],
    ];
    for (i, extra) in cases.into_iter().enumerate() {
        let mut files = vec![crate::support::cluster("c", "prod")];
        files.extend(extra);
        let mut fleet = FleetFiles::from_files(files);
        fleet.blobs.insert(
            "charts/a/binary.bin".into(),
            vec![0u8, 0xff, 0xfe, 0x80].into(),
        );
        let compiled = crate::support::compile(&fleet);
        assert!(
            compiled.diagnostics.has_errors(),
            "case {i} compiled without errors"
        );
        assert!(compiled.applicable().is_none());
    }
}

#[test]
fn charts_see_the_kubernetes_of_their_cluster() {
    let cluster = |name: &str, kubernetes: &str| {
        (
            format!("clusters/{name}.yaml"),
            format!(
                "name: {name}\nprovider: aws\nregion: us-east-1\nenvironment: prod\n{kubernetes}"
            ),
        )
    };
    let files = FleetFiles::from_files(vec![
        cluster("old", "kubernetes: {version: \"1.29\"}\n"),
        cluster(
            "new-a",
            "kubernetes: {version: v1.31.2, apiVersions: [monitoring.coreos.com/v1]}\n",
        ),
        cluster(
            "new-b",
            "kubernetes: {version: 1.31.2, apiVersions: [monitoring.coreos.com/v1]}\n",
        ),
        cluster("unset", ""),
        (
            "services/x/service.yaml".into(),
            "name: x\nowners: {team: t}\nchart: {path: ../../charts/x}\nselector: 'true'\n\
             release: {name: x, namespace: x}\nvalues: |\n  a: 1\n"
                .into(),
        ),
        (
            "charts/x/Chart.yaml".into(),
            "apiVersion: v2\nname: x\nversion: 0.1.0\nkubeVersion: \">=1.20.0-0\"\n".into(),
        ),
        (
            "charts/x/templates/cm.yaml".into(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  \
             kube: {{ .Capabilities.KubeVersion | quote }}\n  \
             monitoring: {{ .Capabilities.APIVersions.Has \"monitoring.coreos.com/v1\" | quote }}\n"
                .into(),
        ),
    ]);
    let compiled = compiler::compile_with(&files, &HelmRenderer, Options::default());
    assert_eq!(compiled.diagnostics.render_text(), "");
    let manifest = |cluster: &str| {
        let c = compiled
            .plan
            .clusters
            .iter()
            .find(|c| &*c.name == cluster)
            .expect("the cluster is in the plan");
        compiled
            .manifests
            .get(&c.releases[0].manifest)
            .expect("its manifest")
            .to_owned()
    };
    assert!(manifest("old").contains("kube: \"v1.29.0\"\n  monitoring: \"false\""));
    assert!(manifest("new-a").contains("kube: \"v1.31.2\"\n  monitoring: \"true\""));
    assert_eq!(manifest("new-a"), manifest("new-b"));
    // Helm's default without `kubernetes:`.
    assert!(manifest("unset").contains("kube: \"v1.32.0\"\n  monitoring: \"false\""));
    // The same values on every cluster; the chart renders once per distinct Kubernetes.
    assert_eq!(compiled.stats.chart_renders, 3);
    assert_eq!(compiled.manifests.0.len(), 3);
}
