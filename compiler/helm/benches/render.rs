//! Render benchmarks on the corpus chart `podinfo` (`$FLOTILLA_HELM_CORPUS`, by default
//! `shared/helm-corpus` beside the repository): loading the chart, one render of one fleet
//! variant, 1,000 variants through a [`RenderCache`], and 1,000 requests of which only 10
//! are distinct (990 cache hits), and the cache's keys. `cargo bench -p helm --bench render`.

#[path = "../examples/helm_variants/values.rs"]
mod values;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use helm::action::{self, TemplateOptions, ValueOptions};
use helm::{Chart, RenderCache};

fn corpus_chart() -> Option<PathBuf> {
    let root = match std::env::var_os("FLOTILLA_HELM_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus"),
    };
    let chart = root.join(values::CHART);
    chart.is_dir().then_some(chart)
}

/// The corpus case `podinfo-default`'s flags, as `scripts/bench-helm.sh` passes them.
fn opts() -> TemplateOptions {
    TemplateOptions {
        release_name: "fleet".into(),
        namespace: "apps".into(),
        kube_version: Some("1.31.0".into()),
        api_versions: vec![
            "monitoring.coreos.com/v1".into(),
            "autoscaling/v2".into(),
            "gateway.networking.k8s.io/v1".into(),
        ],
        include_crds: true,
        skip_tests: true,
        ..TemplateOptions::default()
    }
}

/// `-f cluster-NNNN.yaml` read and merged, as each `helm template` run does.
fn user_values(i: usize, text: &str) -> gotemplate::Map {
    let v = ValueOptions {
        values_files: vec![(values::file_name(i), text.as_bytes().to_vec())],
        ..ValueOptions::default()
    };
    action::merge_user_values(&v).expect("variant values parse")
}

/// Renders `requests` requests, request `r` with the values of variant `r % distinct`.
fn render_requests(chart: &Chart, texts: &[String], requests: usize, distinct: usize) -> u64 {
    let cache = RenderCache::new();
    let opts = opts();
    let digest = helm::cache::chart_digest(chart);
    let mut bytes = 0;
    for r in 0..requests {
        let i = r % distinct;
        let out = cache
            .template_with_digest(chart, &digest, &user_values(i, &texts[i]), &opts)
            .expect("variant renders");
        bytes += out.stdout.len() as u64;
    }
    assert_eq!(cache.renders() as usize, distinct.min(requests));
    bytes
}

fn benches(c: &mut Criterion) {
    let Some(path) = corpus_chart() else {
        eprintln!("render bench: the Helm corpus is missing; set FLOTILLA_HELM_CORPUS");
        return;
    };
    let texts: Vec<String> = (0..1000).map(values::variant).collect();
    let opts = opts();

    c.bench_function("podinfo/load", |b| {
        b.iter(|| action::load_installable(black_box(&path)).expect("podinfo loads"))
    });
    let chart = action::load_installable(&path).expect("podinfo loads");
    c.bench_function("podinfo/values_parse_and_merge", |b| {
        b.iter(|| user_values(42, black_box(&texts[42])))
    });
    let v = user_values(42, &texts[42]);
    c.bench_function("podinfo/render_one_variant", |b| {
        b.iter(|| action::template(&chart, black_box(&v), &opts).expect("renders"))
    });
    c.bench_function("podinfo/cache_key_chart_digest", |b| {
        b.iter(|| helm::cache::chart_digest(black_box(&chart)))
    });
    c.bench_function("podinfo/cache_key_values_digest", |b| {
        b.iter(|| helm::cache::values_digest(black_box(&v)))
    });
    let warm = RenderCache::new();
    let _ = warm.template(&chart, &v, &opts);
    let digest = helm::cache::chart_digest(&chart);
    c.bench_function("podinfo/cache_hit", |b| {
        b.iter(|| {
            warm.template_with_digest(&chart, &digest, black_box(&v), &opts)
                .expect("renders")
        })
    });
    c.bench_function("podinfo/cache_hit_rehashing_the_chart", |b| {
        b.iter(|| {
            warm.template(&chart, black_box(&v), &opts)
                .expect("renders")
        })
    });

    let mut group = c.benchmark_group("podinfo/1000");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Elements(1000));
    group.bench_function("distinct_variants_through_cache", |b| {
        b.iter(|| render_requests(&chart, &texts, 1000, 1000))
    });
    group.bench_function("requests_10_distinct_through_cache", |b| {
        b.iter(|| render_requests(&chart, &texts, 1000, 10))
    });
    group.finish();
}

criterion_group!(render, benches);
criterion_main!(render);
