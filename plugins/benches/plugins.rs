//! Plugin host costs: a call on a reused instance, a call in a fresh sandbox (what the compiler
//! does), a memoised call, compiling a plugin, and loading it from the disk cache. Uses the WAT
//! echo guest, and the Python examples when `plugins/examples/build.sh` has built them.
//!
//! `cargo bench -p plugins --bench plugins`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use plugins::{HostConfig, Limits, LoadedFrom, PluginHost, Request};

const REQUEST: &str =
    r#"{"args":["10.128.0.0/9",20],"cluster":{"index":1,"name":"eu-1"},"service":"api"}"#;

fn echo_wasm() -> Vec<u8> {
    wat::parse_str(include_str!("../fixtures/echo.wat")).expect("echo fixture")
}

fn cache_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flotilla-plugins-bench-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn bench_guest(c: &mut Criterion, label: &str, wasm: &[u8], compile: bool) {
    let mut group = c.benchmark_group(label);
    let host = PluginHost::new(HostConfig::default());
    let plugin = host
        .load_bytes(label, wasm, Limits::default())
        .expect("load");

    let mut instance = plugin.instance().expect("instance");
    group.bench_function("call, reused instance", |b| {
        b.iter(|| black_box(instance.call_json(black_box(REQUEST)).expect("call")))
    });
    drop(instance);

    group.bench_function(
        "call, fresh instance (new store + instantiate + call)",
        |b| b.iter(|| black_box(plugin.call_report(black_box(REQUEST)).result.expect("call"))),
    );

    let cluster = serde_json::json!({"index": 1, "name": "eu-1"});
    let args = [serde_json::json!("10.128.0.0/9"), serde_json::json!(20)];
    let request = Request {
        cluster: &cluster,
        service: "api",
        args: &args,
    };
    group.bench_function("call, memoised", |b| {
        b.iter(|| black_box(plugin.call(black_box(&request)).expect("call")))
    });

    if compile {
        group.sample_size(10);
        group.bench_function("load, compile", |b| {
            b.iter(|| {
                let host = PluginHost::new(HostConfig::default());
                black_box(
                    host.load_bytes(label, wasm, Limits::default())
                        .expect("compile"),
                )
            })
        });
    }

    let dir = cache_dir(label);
    let config = HostConfig {
        cache_dir: Some(dir.clone()),
        ..HostConfig::default()
    };
    let warm = PluginHost::new(config.clone()).load_bytes(label, wasm, Limits::default());
    assert_eq!(
        warm.map(|p| p.loaded_from()).ok(),
        Some(LoadedFrom::Compiled)
    );
    group.bench_function("load, disk cache", |b| {
        b.iter(|| {
            let host = PluginHost::new(config.clone());
            let plugin = host
                .load_bytes(label, wasm, Limits::default())
                .expect("load");
            assert_eq!(plugin.loaded_from(), LoadedFrom::DiskCache);
            black_box(plugin)
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn echo(c: &mut Criterion) {
    bench_guest(c, "wat-echo", &echo_wasm(), true);
}

fn python(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/out/cidr-allocator.wasm");
    let Ok(wasm) = std::fs::read(&path) else {
        eprintln!(
            "skipping the Python benchmarks: run scripts/install-plugin-tools.sh && plugins/examples/build.sh"
        );
        return;
    };
    // One compile of an 18 MB Python component takes seconds: timed once, not sampled.
    let started = Instant::now();
    let host = PluginHost::new(HostConfig::default());
    host.load_bytes("cidr-allocator", &wasm, Limits::default())
        .expect("compile");
    eprintln!(
        "python/cidr-allocator: load, compile (once): {:?}",
        started.elapsed()
    );
    bench_guest(c, "python-cidr-allocator", &wasm, false);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = echo, python
}
criterion_main!(benches);
