//! `flotilla plugin new|build|test` run as plugin authors run them, and a fleet's plugins
//! failing in `flotilla plan`.

use std::path::Path;

use super::{FLEET, run};

#[test]
fn plugin_test_calls_a_fleet_plugin_on_a_cluster() {
    let (code, out, err) = run(&[
        "plugin",
        "test",
        "cidr-allocator",
        "--fleet",
        FLEET,
        "--cluster",
        "aws-prod-use1",
        "--service",
        "ingress",
        "--args",
        "10.128.0.0/9",
        "20",
    ]);
    assert_eq!(code, 0, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let cidr = answer["cidr"].as_str().unwrap_or_default();
    assert!(cidr.starts_with("10.") && cidr.ends_with("/20"), "{out}");
    // The limits are the fleet's (plugins/cidr-allocator.yaml).
    assert!(err.contains("fuel: "), "{err}");
    assert!(err.contains(" of 200000000 ("), "{err}");
    assert!(
        err.contains("time: ") && err.contains(" of 2000 ms"),
        "{err}"
    );

    // A cluster file works as well as a cluster name, and the answer is the same.
    let (code, again, _) = run(&[
        "plugin",
        "test",
        "examples/fleet/plugins/cidr-allocator.wasm",
        "--cluster",
        "examples/fleet/clusters/aws-prod-use1.yaml",
        "--args",
        "10.128.0.0/9",
        "20",
    ]);
    assert_eq!((code, again), (0, out));
}

#[test]
fn plugin_test_reports_the_plugins_error() {
    let (code, out, err) = run(&[
        "plugin",
        "test",
        "cidr-allocator",
        "--fleet",
        FLEET,
        "--cluster",
        "gcp-prod-euw4",
        "--args",
        "10.128.0.0/9",
        "8",
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with("error: from plugin \"cidr-allocator\" (sha256:"),
        "{err}"
    );
    assert!(
        err.contains("prefix length 8 does not fit in pool 10.128.0.0/9"),
        "{err}"
    );
    assert!(err.contains("fuel: "), "{err}");
}

#[test]
fn plugin_test_usage_errors() {
    let (code, _, err) = run(&[
        "plugin",
        "test",
        "nope",
        "--fleet",
        FLEET,
        "--cluster",
        "aws-prod-use1",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "error: no plugin at examples/fleet/plugins/nope.wasm (build it with `flotilla plugin \
         build DIR`)\n"
    );
    let (code, _, err) = run(&[
        "plugin",
        "test",
        "cidr-allocator",
        "--fleet",
        FLEET,
        "--cluster",
        "mars-1",
    ]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: no cluster file mars-1"), "{err}");
    let (code, _, err) = run(&["plugin", "new", "Bad", "--lang", "python"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: bad plugin name \"Bad\""), "{err}");
}

/// Scaffolds, builds and runs a Python plugin: needs componentize-py, which scripts/test.sh
/// installs into .tools/bin before the tests run.
#[test]
fn a_new_python_plugin_builds_and_answers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = root.join(".tools").join("bin");
    assert!(
        tools.join("componentize-py").is_file(),
        "componentize-py is not in .tools/bin: run `scripts/install-tools.sh plugin-tools` \
         (scripts/test.sh does)"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-new");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.to_string_lossy().into_owned();
    let (code, out, err) = run(&[
        "plugin", "new", "hello", "--lang", "python", "--dir", &dir_text,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("created {dir_text}/hello\n")),
        "{out}"
    );
    let plugin = dir.join("hello");
    let plugin_text = plugin.to_string_lossy().into_owned();

    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let built = super::command()
        .env("PATH", path)
        .args(["plugin", "build", &plugin_text])
        .output()
        .expect("flotilla runs");
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&built.stdout),
        format!("built {plugin_text}/out/hello.wasm\n")
    );

    let (code, out, err) = run(&[
        "plugin",
        "test",
        &plugin_text,
        "--cluster",
        "examples/fleet/clusters/azure-prod-eastus.yaml",
        "--service",
        "api",
        "--args",
        "x",
        "{\"n\": 1}",
    ]);
    assert_eq!(code, 0, "{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(
        answer,
        serde_json::json!({"cluster": "azure-prod-eastus", "service": "api", "args": ["x", {"n": 1}]})
    );
    let (code, _, err) = run(&[
        "plugin",
        "test",
        &plugin_text,
        "--cluster",
        "examples/fleet/clusters/azure-prod-eastus.yaml",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("expected at least one argument"), "{err}");
}

/// A plan whose plugin fails names the plugin, the service, the cluster and the template
/// position, and writes nothing.
#[test]
fn a_failing_plugin_fails_the_plan() {
    let t = std::env::temp_dir().join(format!("flotilla-cli-plugin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&t);
    let fleet = t.join("fleet");
    std::fs::create_dir_all(fleet.join("clusters")).expect("mkdir");
    std::fs::create_dir_all(fleet.join("services/api")).expect("mkdir");
    std::fs::create_dir_all(fleet.join("services/web")).expect("mkdir");
    std::fs::create_dir_all(fleet.join("charts/api")).expect("mkdir");
    std::fs::create_dir_all(fleet.join("plugins")).expect("mkdir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(FLEET);
    std::fs::copy(
        example.join("clusters/aws-prod-use1.yaml"),
        fleet.join("clusters/aws-prod-use1.yaml"),
    )
    .expect("copied");
    std::fs::copy(
        example.join("plugins/region-endpoints.wasm"),
        fleet.join("plugins/region-endpoints.wasm"),
    )
    .expect("copied");
    std::fs::write(
        fleet.join("charts/api/Chart.yaml"),
        "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    )
    .expect("written");
    std::fs::write(
        fleet.join("services/api/service.yaml"),
        "name: api\nowners: {team: t}\nchart: {path: ../../charts/api}\nselector: 'true'\n\
         release: {name: api, namespace: api}\nvalues: |\n  a: 1\n  \
         s3: {{ (plugin \"region-endpoints\" \"gcs\").gcs }}\n",
    )
    .expect("written");
    std::fs::write(
        fleet.join("services/web/service.yaml"),
        "name: web\nowners: {team: t}\nchart: {path: ../../charts/api}\nselector: 'true'\n\
         release: {name: web, namespace: web}\nvalues: |\n  b: {{ plugin \"region-endpoint\" }}\n",
    )
    .expect("written");
    let out = t.join("plan").to_string_lossy().into_owned();
    let fleet_text = fleet.to_string_lossy().into_owned();
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet_text, "--out", &out]);
    let _ = std::fs::remove_dir_all(&t);
    assert_eq!((code, stdout.as_str()), (1, ""), "{err}");
    let err = err.replace(&fleet_text, "FLEET");
    assert!(
        err.contains(
            "error[template::exec]: the values of `api` failed on cluster `aws-prod-use1`: \
             template: api/values:2:"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "executing \"api/values\" at <plugin \"region-endpoints\" \"gcs\">: error calling \
             plugin: from plugin \"region-endpoints\" (sha256:"
        ),
        "{err}"
    );
    assert!(
        err.contains("aws has no service 'gcs' (known: ec2, ecr, s3, sts)"),
        "{err}"
    );
    assert!(err.contains("FLEET/services/api/service.yaml:8:"), "{err}");
    assert!(
        err.contains(
            "there is no plugin \"region-endpoint\" in this fleet (no plugins/region-endpoint.wasm): \
             did you mean \"region-endpoints\"?"
        ),
        "{err}"
    );
    assert!(err.contains("flotilla plugin build DIR"), "{err}");
}
