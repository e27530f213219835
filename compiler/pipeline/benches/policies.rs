//! What policies add to a plan: 10 manifest rules over N rendered objects (per-object cost),
//! the conversion of objects to CEL alone, RBAC `check_deployments` over a 1,000-cluster ×
//! 100-service selection, and `check_plan` against the compile of a synthetic fleet
//! (`compiler::synthetic`, 200 clusters × 100 services) in the same process.
//!
//! `cargo bench -p pipeline --bench policies`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use policies::manifests::{self, Release};
use policies::{Principal, expr};
use syntax::FleetFiles;
use syntax::model::{ClusterName, ClusterSpec};

/// The five ready-made rules and five more of the kinds users write, as the text of one
/// rules file each.
fn rule_texts() -> Vec<String> {
    let mut texts = Vec::new();
    for file in [
        "prod-readiness",
        "pinned-images",
        "resource-limits",
        "no-privileged",
        "no-host-path",
    ] {
        let path = format!(
            "{}/../../policies/rules/{file}.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let rule = std::fs::read_to_string(path).expect("a ready-made rule");
        let body = rule.split_once("rules:\n").expect("a rules file").1;
        texts.push(body.to_owned());
    }
    let more = r#"  - name: release-namespace
    match: 'has(object.metadata.namespace)'
    validate: 'object.metadata.namespace == release.namespace'
    message: '{{object.kind}} {{object.metadata.name}} is outside {{release.namespace}}'
    action: warn
  - name: name-label
    match: 'object.kind in ["Deployment", "Service", "ConfigMap"]'
    validate: 'has(object.metadata.labels) && object.metadata.labels["app.kubernetes.io/name"] == release.service'
  - name: replicas
    match: 'object.kind == "Deployment" && cluster.environment == "prod"'
    validate: 'object.spec.replicas >= 2'
  - name: no-secrets
    match: 'object.kind == "Secret"'
    validate: 'false'
  - name: ingress-host
    match: 'object.kind == "Ingress"'
    validate: 'object.spec.rules.all(r, r.host.endsWith(".example.com"))'
"#;
    for chunk in more.split("  - name: ").filter(|c| !c.trim().is_empty()) {
        texts.push(format!("  - name: {chunk}"));
    }
    texts
}

fn load(texts: &[String]) -> policies::ManifestRules {
    let text = format!("rules:\n{}", texts.concat());
    let (rules, report) = policies::rules_from_text("bench.yaml", &text);
    assert!(report.diagnostics.is_empty(), "{}", report.render_text());
    assert_eq!(rules.rules.len(), texts.len());
    rules
}

/// A release's worth of objects, cycled: Deployment, Service, ConfigMap, ServiceAccount,
/// Ingress.
fn objects(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let name = format!("app-{i}");
            let meta = serde_json::json!({
                "name": name,
                "namespace": "shop",
                "labels": {"app.kubernetes.io/name": "shop", "app.kubernetes.io/instance": "shop-web"},
            });
            match i % 5 {
                0 => serde_json::json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                    "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": name}}, "spec": {
                        "containers": [
                            {"name": "web", "image": "registry.example.com/shop/web:1.4.0",
                             "ports": [{"containerPort": 8080}],
                             "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                             "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}},
                            {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0",
                             "readinessProbe": {"tcpSocket": {"port": 9901}},
                             "resources": {"limits": {"cpu": "200m", "memory": "128Mi"}}}
                        ],
                        "volumes": [{"name": "config", "configMap": {"name": "shop"}}]
                    }}}
                }),
                1 => serde_json::json!({
                    "apiVersion": "v1", "kind": "Service", "metadata": meta,
                    "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": name}}
                }),
                2 => serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                    "data": {"config.yaml": "listen: 8080\nlog: info\n".repeat(20)}
                }),
                3 => serde_json::json!({
                    "apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta
                }),
                _ => serde_json::json!({
                    "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
                    "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [
                        {"path": "/", "pathType": "Prefix",
                         "backend": {"service": {"name": name, "port": {"number": 80}}}}]}}]}
                }),
            }
        })
        .collect()
}

fn cluster() -> ClusterSpec {
    ClusterSpec {
        name: ClusterName::new("prod-1"),
        provider: "aws".into(),
        region: "us-east-1".into(),
        environment: "prod".into(),
        tags: [("tier".to_owned(), "edge".to_owned())].into(),
        metadata: Default::default(),
        kubernetes: None,
        file: "clusters/prod-1.yaml".into(),
    }
}

fn manifest_rules(c: &mut Criterion) {
    let texts = rule_texts();
    let rules = load(&texts);
    assert_eq!(rules.rules.len(), 10);
    let cluster = cluster();
    let release = Release {
        name: "shop-web".into(),
        namespace: "shop".into(),
        service: "shop".into(),
    };
    let mut group = c.benchmark_group("manifests");
    for n in [100usize, 1000] {
        let objects = objects(n);
        assert!(manifests::evaluate(&rules, &cluster, &release, &objects).is_empty());
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("10-rules/{n}-objects"), |b| {
            b.iter(|| manifests::evaluate(black_box(&rules), &cluster, &release, &objects))
        });
        group.bench_function(format!("to-cel/{n}-objects"), |b| {
            b.iter(|| {
                for o in &objects {
                    black_box(expr::json_val(black_box(o)).is_ok());
                }
            })
        });
    }
    // Each rule alone, to see which cost what.
    let objects = objects(1000);
    for (text, rule) in texts.iter().zip(&rules.rules) {
        let one = load(std::slice::from_ref(text));
        group.throughput(Throughput::Elements(1000));
        group.bench_function(format!("one-rule/{}/1000-objects", rule.name), |b| {
            b.iter(|| manifests::evaluate(black_box(&one), &cluster, &release, &objects))
        });
    }
    group.finish();
}

/// A fleet of `clusters` clusters and `services` services selected everywhere, with
/// `policies/rbac.yaml`.
fn fleet(clusters: usize, services: usize) -> FleetFiles {
    let mut files = Vec::new();
    for i in 0..clusters {
        let env = ["dev", "staging", "prod"][i % 3];
        files.push((
            format!("clusters/c{i}.yaml"),
            format!("name: c{i}\nprovider: aws\nregion: r{}\nenvironment: {env}\ntags: {{tier: edge}}\n", i % 7),
        ));
    }
    for s in 0..services {
        let team = ["payments", "search", "platform", "data"][s % 4];
        files.push((
            format!("services/s{s}/service.yaml"),
            format!(
                "name: s{s}\nowners: {{team: {team}}}\nchart: {{path: ../../charts/s}}\nselector: 'true'\nrelease: {{name: s{s}, namespace: s{s}}}\n"
            ),
        ));
    }
    files.push((
        "policies/rbac.yaml".into(),
        r#"roles:
  - name: owner
    allow:
      - actions: [deploy]
        when: 'service.team in principal.groups && (cluster.environment != "prod" || (service.team + "-oncall") in principal.groups)'
  - name: edge
    allow:
      - actions: [deploy]
        services: ["s1*", "s2?"]
        clusters: ["c*"]
        when: 'cluster.tags.tier == "edge"'
bindings:
  - role: owner
    subjects: ["group:payments", "group:search", "group:platform", "group:data"]
  - role: edge
    subjects: ["group:edge"]
"#
        .into(),
    ));
    FleetFiles::from_files(files)
}

fn rbac(c: &mut Criterion) {
    let files = fleet(1000, 100);
    // Loaded, and every service selected everywhere (no charts: nothing is rendered).
    let mut diags = syntax::diag::Diags::new(&files);
    let fleet = compiler::load::load(&files, &mut diags);
    assert!(!diags.finish().has_errors());
    let selection = syntax::model::Selection {
        clusters: fleet
            .clusters
            .keys()
            .map(|c| (c.clone(), fleet.services.keys().cloned().collect()))
            .collect(),
    };
    let loaded = policies::load(&files);
    assert!(!loaded.diagnostics.has_errors());
    let principal = Principal::parse(
        "user:alice",
        &["payments".into(), "payments-oncall".into(), "edge".into()],
    )
    .expect("a principal");
    let mut group = c.benchmark_group("rbac");
    group.sample_size(10);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("check-deployments/1000-clusters-x-100-services", |b| {
        b.iter(|| policies::check_deployments(&loaded.policies, &principal, &fleet, &selection))
    });
    group.finish();
}

/// The compile of a synthetic fleet, and what `check_plan` (the 10 rules and RBAC) adds to it.
fn synthetic(c: &mut Criterion) {
    let mut files = compiler::synthetic::generate(compiler::synthetic::FleetConfig {
        clusters: 200,
        services: 100,
        seed: 1,
    });
    let texts = rule_texts();
    files.files.insert(
        policies::MANIFESTS_FILE.into(),
        format!("rules:\n{}", texts.concat()),
    );
    files.files.insert(
        policies::RBAC_FILE.into(),
        r#"roles:
  - name: owner
    allow:
      - actions: [deploy]
        when: 'service.team in principal.groups || cluster.environment != "prod"'
  - name: admin
    allow: [{actions: [deploy]}]
bindings:
  - role: owner
    subjects: ["group:payments"]
  - role: admin
    subjects: ["group:platform"]
"#
        .into(),
    );
    let compiled = compiler::compile(&files);
    assert!(
        !compiled.diagnostics.has_errors(),
        "{}",
        compiled.diagnostics.render_text()
    );
    let loaded = policies::load(&files);
    assert!(
        !loaded.diagnostics.has_errors(),
        "{}",
        loaded.diagnostics.render_text()
    );
    let (plan, manifests) = compiled.applicable().expect("applicable");
    let principal = Principal::parse("user:alice", &["payments".into()]).expect("a principal");
    let check = policies::check_plan(
        &loaded.policies,
        Some(&principal),
        &compiled.fleet,
        &compiled.selection,
        plan,
        manifests,
    );
    eprintln!(
        "synthetic 200x100: {} releases, {} distinct manifests, {} manifest checks run, {} violations, {} denials",
        plan.release_count(),
        manifests.0.len(),
        check.manifests_checked,
        check.violations.len(),
        check.denials.len()
    );
    let mut by_rule: std::collections::BTreeMap<&str, usize> = Default::default();
    for v in &check.violations {
        *by_rule.entry(&*v.rule).or_default() += 1;
    }
    eprintln!("violations by rule: {by_rule:?}");
    let mut group = c.benchmark_group("synthetic-200x100");
    group.sample_size(10);
    group.bench_function("parse-manifests", |b| {
        b.iter(|| {
            for m in manifests.0.values() {
                black_box(manifests::split_documents(m).ok());
            }
        })
    });
    group.bench_function("compile", |b| {
        b.iter(|| compiler::compile(black_box(&files)))
    });
    group.bench_function("check-plan", |b| {
        b.iter(|| {
            policies::check_plan(
                &loaded.policies,
                Some(&principal),
                &compiled.fleet,
                &compiled.selection,
                plan,
                manifests,
            )
        })
    });
    group.bench_function("check-plan-manifests-only", |b| {
        b.iter(|| {
            policies::check_plan(
                &loaded.policies,
                None,
                &compiled.fleet,
                &compiled.selection,
                plan,
                manifests,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, manifest_rules, rbac, synthetic);
criterion_main!(benches);
