//! Full compiles of synthetic fleets (`compiler::synthetic`): files in memory to a plan with
//! its manifests, Helm rendering the charts.
//!
//! - `compile/cold/1000x20`: no persistent cache.
//! - `compile/warm/1000x20`: the persistent cache holds every render of an earlier compile.
//! - `compile/one-service-changed/1000x20`: warm cache, one service has a new version each
//!   iteration (its values and renders are computed; everything else comes from the cache).
//!
//! - `compile/incremental/1000x20` and `compile/incremental/10000x100`: an
//!   [`compiler::Incremental`] compiler that compiled the fleet once; each iteration gives it
//!   a new version of `svc-001` (selected on every cluster) to recompile.
//!
//! `FLOTILLA_BENCH_LARGE=1` adds `compile/cold/10000x100` (a few seconds per iteration; the
//! figures in the report come from `flotilla dev compile` on a generated fleet instead).

use std::cell::Cell;

use compiler::synthetic::{self, FleetConfig};
use compiler::{DiskCache, FleetFiles, HelmRenderer, Incremental, Options, Recompile};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn fleet(clusters: usize, services: usize) -> FleetFiles {
    synthetic::generate(FleetConfig {
        clusters,
        services,
        seed: 1,
    })
}

fn compile(files: &FleetFiles, cache: Option<&DiskCache>) -> usize {
    let c = compiler::compile_with(
        files,
        &HelmRenderer,
        Options {
            cache,
            ..Options::default()
        },
    );
    assert!(
        !c.diagnostics.has_errors(),
        "{}",
        c.diagnostics.render_text()
    );
    c.plan.release_count()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);

    let files = fleet(1000, 20);
    group.bench_function("cold/1000x20", |b| b.iter(|| compile(&files, None)));

    let dir = tempfile::tempdir().expect("a temporary folder");
    let cache = DiskCache::at(dir.path());
    compile(&files, Some(&cache));
    group.bench_function("warm/1000x20", |b| b.iter(|| compile(&files, Some(&cache))));

    let version = Cell::new(0u64);
    let changed = "services/svc-007/service.yaml";
    group.bench_function("one-service-changed/1000x20", |b| {
        b.iter_batched(
            || {
                version.set(version.get() + 1);
                let mut f = files.clone();
                let text = f.files[changed].replace(
                    "memory: 128Mi",
                    &format!("memory: {}Mi", 128 + version.get()),
                );
                f.files.insert(changed.into(), text);
                f
            },
            |f| compile(&f, Some(&cache)),
            BatchSize::LargeInput,
        )
    });

    for (clusters, services) in [(1000, 20), (10_000, 100)] {
        let mut files = fleet(clusters, services);
        let mut incremental = Incremental::new(HelmRenderer, Options::default());
        incremental.compile(files.clone());
        let path = "services/svc-001/service.yaml";
        let mut version = 0u64;
        group.bench_function(format!("incremental/{clusters}x{services}"), |b| {
            b.iter_batched(
                || {
                    version += 1;
                    if let Some(text) = files.files.get_mut(path) {
                        text.push_str(&format!("  bench: \"{version}\"\n"));
                    }
                    files.clone()
                },
                |f| {
                    let (c, how) = incremental.compile(f);
                    assert!(matches!(how, Recompile::Services(_)), "{how}");
                    c.stats.releases
                },
                BatchSize::LargeInput,
            )
        });
    }

    if std::env::var_os("FLOTILLA_BENCH_LARGE").is_some() {
        let large = fleet(10_000, 100);
        group.bench_function("cold/10000x100", |b| b.iter(|| compile(&large, None)));
    }
    group.finish();
}

criterion_group!(compile_benches, benches);
criterion_main!(compile_benches);
