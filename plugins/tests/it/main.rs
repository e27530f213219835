//! Integration tests: the Python example plugins (built by `plugins/examples/build.sh`) run in
//! the host as a fleet would use them, and the authoring tools.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plugins::{ErrorKind, HostConfig, Lang, PluginHost, Plugins, Request};
use serde_json::{Value, json};

/// The examples' output folder, laid out like a fleet's `plugins/`.
fn examples_out() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("out")
}

/// The built examples, loaded once (compiled components are cached under the target dir).
/// Fails loudly, with the commands to run, when they are not built.
fn examples() -> &'static Plugins {
    static PLUGINS: OnceLock<Plugins> = OnceLock::new();
    PLUGINS.get_or_init(|| {
        let out = examples_out();
        for name in ["cidr-allocator", "region-endpoints"] {
            let wasm = out.join(format!("{name}.wasm"));
            assert!(
                wasm.is_file(),
                "the example plugin {} is not built: run\n\n    \
                 scripts/install-plugin-tools.sh && plugins/examples/build.sh\n\n\
                 (CI does; each example takes about 5 s to build)",
                wasm.display()
            );
        }
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache");
        let host = PluginHost::new(HostConfig {
            cache_dir: Some(cache),
            ..HostConfig::default()
        });
        match host.load(&out) {
            Ok(plugins) => plugins,
            Err(e) => panic!("loading the examples: {e}"),
        }
    })
}

fn call(plugin: &str, cluster: Value, args: &[Value]) -> Result<Value, String> {
    let request = Request {
        cluster: &cluster,
        service: "api",
        args,
    };
    examples().call(plugin, &request).map_err(|e| match e.kind {
        ErrorKind::Guest(message) => message,
        other => format!("not a guest error: {other}"),
    })
}

fn check(plugin: &str, cluster: Value, args: &[Value], expect: Result<Value, &str>) {
    let got = call(plugin, cluster.clone(), args);
    let want = expect.map_err(str::to_string);
    assert_eq!(got, want, "{plugin} on {cluster} with {args:?}");
}

#[test]
fn cidr_allocator() {
    let pool = json!("10.128.0.0/9");
    check(
        "cidr-allocator",
        json!({"name": "eu-1", "index": 1}),
        &[pool.clone(), json!(20)],
        Ok(json!({"cidr": "10.128.16.0/20", "gateway": "10.128.16.1", "index": 1})),
    );
    check(
        "cidr-allocator",
        json!({"name": "eu-1", "index": 0}),
        &[json!("192.168.0.0/16"), json!("24")],
        Ok(json!({"cidr": "192.168.0.0/24", "gateway": "192.168.0.1", "index": 0})),
    );
    check(
        "cidr-allocator",
        json!({"name": "eu-1"}),
        std::slice::from_ref(&pool),
        Err("expected 2 arguments (pool, prefix length), got 1"),
    );
    check(
        "cidr-allocator",
        json!({"name": "eu-1"}),
        &[pool.clone(), json!(8)],
        Err("prefix length 8 does not fit in pool 10.128.0.0/9 (must be between 9 and 32)"),
    );
    check(
        "cidr-allocator",
        json!({"index": 4096}),
        &[pool.clone(), json!(20)],
        Err("cluster index 4096 is outside the pool's 2048 subnets"),
    );
    check(
        "cidr-allocator",
        json!({}),
        &[pool.clone(), json!(20)],
        Err("the cluster has neither an integer `index` nor a `name`"),
    );
    // By name: a stable hash (FNV-1a 64) of the name picks the subnet.
    let by_name = call(
        "cidr-allocator",
        json!({"name": "us-east-2"}),
        &[pool.clone(), json!(20)],
    );
    let by_name = by_name.expect("allocate by name");
    assert_eq!(by_name["index"], json!(fnv1a(b"us-east-2") % 2048));
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn region_endpoints() {
    let aws = json!({"name": "eu-1", "provider": "aws", "region": "eu-west-1"});
    check(
        "region-endpoints",
        aws.clone(),
        &[json!("s3"), json!("sts")],
        Ok(
            json!({"s3": "https://s3.eu-west-1.amazonaws.com", "sts": "https://sts.eu-west-1.amazonaws.com"}),
        ),
    );
    check(
        "region-endpoints",
        json!({"provider": "azure", "region": "westeurope-2"}),
        &[],
        Ok(json!({
            "acr": "https://westeurope-2.data.azurecr.io",
            "blob": "https://westeurope-2.blob.core.windows.net",
        })),
    );
    check(
        "region-endpoints",
        aws.clone(),
        &[json!("gcs")],
        Err("aws has no service 'gcs' (known: ec2, ecr, s3, sts)"),
    );
    check(
        "region-endpoints",
        json!({"name": "x", "provider": "ibm"}),
        &[],
        Err("unknown provider 'ibm' (known: aws, azure, gcp)"),
    );
    check(
        "region-endpoints",
        json!({"name": "x", "provider": "gcp", "region": "Europe West"}),
        &[],
        Err("cluster 'x' has no valid `region`: 'Europe West'"),
    );
}

#[test]
fn examples_are_limited_and_measured() {
    let plugins = examples();
    let cidr = plugins.get("cidr-allocator").expect("cidr-allocator");
    // examples/cidr-allocator/limits.yaml is copied beside the wasm by build.sh.
    assert_eq!(cidr.limits().memory_mib(), 64);
    let report = cidr.call_report(
        r#"{"args":["10.0.0.0/8",16],"cluster":{"name":"a","index":3},"service":"api"}"#,
    );
    assert_eq!(
        report.result.ok(),
        Some(json!({"cidr": "10.3.0.0/16", "gateway": "10.3.0.1", "index": 3}))
    );
    assert!(
        report.fuel_used > 0 && report.fuel_used < cidr.limits().fuel,
        "{}",
        report.fuel_used
    );
    // json's JSONDecodeError is a ValueError, which the example turns into `err`.
    let bad = cidr.call_report("not json");
    assert_eq!(
        bad.result.map_err(|e| e.kind),
        Err(ErrorKind::Guest(
            "Expecting value: line 1 column 1 (char 0)".into()
        ))
    );
}

#[test]
fn scaffolded_python_plugins_build_and_run() {
    let componentize_py =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/componentize-py");
    assert!(
        componentize_py.is_file(),
        "componentize-py is not installed: run scripts/install-plugin-tools.sh (CI does)"
    );
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let fresh = tmp.join("scaffold-new");
    let _ = std::fs::remove_dir_all(&fresh);
    let root = plugins::new_plugin("hello", Lang::Python, &fresh).expect("scaffold");
    assert!(matches!(
        plugins::new_plugin("hello", Lang::Python, &fresh),
        Err(plugins::AuthorError::Exists(_))
    ));
    assert!(matches!(
        plugins::new_plugin("Hello", Lang::Python, &fresh),
        Err(plugins::AuthorError::BadName(_))
    ));

    // componentize-py's output differs from build to build, and compiling an 18 MB component
    // takes a minute in a debug build: reuse the last build while the scaffold is unchanged.
    let kept = tmp.join("scaffold").join("hello");
    let same = |rel: &str| std::fs::read(root.join(rel)).ok() == std::fs::read(kept.join(rel)).ok();
    let built = kept.join("out").join("hello.wasm");
    let wasm = if same("app.py") && same("wit/resolver.wit") && built.is_file() {
        built
    } else {
        let _ = std::fs::remove_dir_all(&kept);
        std::fs::create_dir_all(tmp.join("scaffold")).expect("mkdir");
        std::fs::rename(&root, &kept).expect("keep scaffold");
        let config = plugins::BuildConfig {
            componentize_py,
            ..plugins::BuildConfig::default()
        };
        plugins::build_plugin(&kept, &config).expect("build")
    };
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache");
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(cache),
        ..HostConfig::default()
    });
    let cluster = r#"{"name": "eu-1"}"#;
    let report = plugins::test_plugin_with(&host, &wasm, cluster, &[json!("x")]).expect("test");
    assert_eq!(
        report.result.ok(),
        Some(json!({"cluster": "eu-1", "service": "test", "args": ["x"]}))
    );
    assert!(report.fuel_used > 0);
    let report = plugins::test_plugin_with(&host, &wasm, cluster, &[]).expect("test");
    assert_eq!(
        report.result.map_err(|e| e.kind),
        Err(ErrorKind::Guest("expected at least one argument".into()))
    );
}

#[test]
fn scaffolded_rust_plugins_build_where_the_target_is_installed() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scaffold-rust");
    let _ = std::fs::remove_dir_all(&tmp);
    let root = plugins::new_plugin("hello-rs", Lang::Rust, &tmp).expect("scaffold");
    match plugins::build_plugin(&root, &plugins::BuildConfig::default()) {
        // This project's machines have no wasm32-wasip2 standard library.
        Err(plugins::AuthorError::TargetMissing) => {}
        Ok(wasm) => {
            let host = PluginHost::new(HostConfig::default());
            let report =
                plugins::test_plugin_with(&host, &wasm, r#"{"name": "eu-1"}"#, &[json!(1)])
                    .expect("test");
            assert_eq!(
                report.result.ok(),
                Some(json!({"cluster": "eu-1", "service": "test", "args": [1]}))
            );
        }
        Err(e) => panic!("building the Rust scaffold: {e}"),
    }
}
