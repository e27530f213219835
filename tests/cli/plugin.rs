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

/// The plugin author's journey, as the README tells it, with what the user sees snapshotted:
/// scaffold a Python plugin, build it from a relative path, try it, use it in a fleet, then
/// make it raise an exception and print to stderr. Needs componentize-py, which
/// scripts/test.sh installs into .tools/bin before the tests run; flotilla is pointed at it
/// with FLOTILLA_COMPONENTIZE_PY, as a user outside the checkout would.
#[test]
fn the_plugin_journey() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let componentize_py = root.join(".tools").join("bin").join("componentize-py");
    assert!(
        componentize_py.is_file(),
        "componentize-py is not in .tools/bin: run `scripts/install-tools.sh plugin-tools` \
         (scripts/test.sh does)"
    );
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-plugin-journey");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("mkdir");
    let tmp_text = tmp.to_string_lossy().into_owned();
    // A cache of compiled plugins of its own, so that the first use is a first use.
    let cache = tmp.join("cache");
    let flotilla = |args: &[&str]| {
        let out = super::command()
            .current_dir(&tmp)
            .env("FLOTILLA_CACHE_DIR", &cache)
            .env("FLOTILLA_COMPONENTIZE_PY", &componentize_py)
            .args(args)
            .output()
            .expect("flotilla runs");
        let shown = |bytes: &[u8]| clean(&String::from_utf8_lossy(bytes), &tmp_text);
        (
            out.status.code().unwrap_or(-1),
            shown(&out.stdout),
            shown(&out.stderr),
        )
    };
    let mut journey = String::new();

    // new
    let code = step(
        &mut journey,
        "flotilla plugin new hello --lang python --dir plugins-src",
        flotilla(&[
            "plugin",
            "new",
            "hello",
            "--lang",
            "python",
            "--dir",
            "plugins-src",
        ]),
    );
    assert_eq!(code, 0, "{journey}");
    let plugin = tmp.join("plugins-src").join("hello");
    let ignored = std::fs::read_to_string(plugin.join(".gitignore")).expect(".gitignore");
    assert!(ignored.contains("/out/") && ignored.contains("__pycache__/"));
    // The author makes it talk, and fail on one argument.
    let app = std::fs::read_to_string(plugin.join("app.py")).expect("app.py");
    let app = app.replace("import json\n", "import json\nimport sys\n").replace(
        "    args = req.get(\"args\") or []\n",
        "    args = req.get(\"args\") or []\n    \
         print(\"answering\", req.get(\"service\"), \"on\", cluster.get(\"name\"), file=sys.stderr)\n    \
         if args == [\"boom\"]:\n        \
         return {\"ratio\": 1 / 0}\n",
    );
    std::fs::write(plugin.join("app.py"), app).expect("app.py");

    // build, from a relative path
    let code = step(
        &mut journey,
        "flotilla plugin build plugins-src/hello",
        flotilla(&["plugin", "build", "plugins-src/hello"]),
    );
    assert_eq!(code, 0, "{journey}");
    assert!(plugin.join("out").join("hello.wasm").is_file(), "{journey}");
    assert!(!plugin.join("plugins-src").exists(), "{journey}");

    // test: the first use compiles it, once
    let cluster = root.join("examples/fleet/clusters/azure-prod-eastus.yaml");
    let cluster = cluster.to_string_lossy().into_owned();
    let test = |args: &[&str]| {
        let mut all = vec![
            "plugin",
            "test",
            "plugins-src/hello",
            "--cluster",
            &cluster,
            "--service",
            "api",
            "--args",
        ];
        all.extend_from_slice(args);
        flotilla(&all)
    };
    let code = step(
        &mut journey,
        "flotilla plugin test plugins-src/hello --cluster azure-prod-eastus.yaml --service api --args x '{\"n\": 1}'",
        test(&["x", "{\"n\": 1}"]),
    );
    assert_eq!(code, 0, "{journey}");
    let code = step(
        &mut journey,
        "flotilla plugin test plugins-src/hello … --args x (compiled code from the cache)",
        test(&["x"]),
    );
    assert_eq!(code, 0, "{journey}");

    // use it in a fleet
    let fleet = tmp.join("fleet");
    for dir in ["clusters", "services/api", "charts/api", "plugins"] {
        std::fs::create_dir_all(fleet.join(dir)).expect("mkdir");
    }
    std::fs::copy(
        root.join("examples/fleet/clusters/azure-prod-eastus.yaml"),
        fleet.join("clusters/azure-prod-eastus.yaml"),
    )
    .expect("copied");
    std::fs::copy(
        plugin.join("out/hello.wasm"),
        fleet.join("plugins/hello.wasm"),
    )
    .expect("copied");
    std::fs::write(
        fleet.join("charts/api/Chart.yaml"),
        "apiVersion: v2\nname: api\nversion: 0.1.0\n",
    )
    .expect("written");
    let service = |arg: &str| {
        format!(
            "name: api\nowners: {{team: t}}\nchart: {{path: ../../charts/api}}\nselector: 'true'\n\
             release: {{name: api, namespace: api}}\nvalues: |\n  \
             hello: {{{{ (plugin \"hello\" \"{arg}\").service }}}}\n"
        )
    };
    std::fs::write(fleet.join("services/api/service.yaml"), service("x")).expect("written");
    let code = step(
        &mut journey,
        "flotilla plan --fleet fleet --out plan",
        flotilla(&["plan", "--fleet", "fleet", "--out", "plan"]),
    );
    assert_eq!(code, 0, "{journey}");

    // raise an exception: in `plugin test`, and in a compile
    let code = step(
        &mut journey,
        "flotilla plugin test plugins-src/hello … --args boom",
        test(&["boom"]),
    );
    assert_eq!(code, 1, "{journey}");
    std::fs::write(fleet.join("services/api/service.yaml"), service("boom")).expect("written");
    let code = step(
        &mut journey,
        "flotilla plan --fleet fleet --out plan (the plugin raises)",
        flotilla(&["plan", "--fleet", "fleet", "--out", "plan"]),
    );
    assert_eq!(code, 1, "{journey}");

    insta::assert_snapshot!("plugin_journey", journey);
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `text` with the temporary folder, digests of plugins and the measured fuel and time
/// replaced by placeholders.
/// Adds one command and what it printed to the journey; returns its exit code.
fn step(journey: &mut String, title: &str, (code, out, err): (i32, String, String)) -> i32 {
    journey.push_str(&format!(
        "$ {title}\n[exit {code}]\n--- stdout\n{out}--- stderr\n{err}\n"
    ));
    code
}

fn clean(text: &str, tmp: &str) -> String {
    let text = text.replace(tmp, "[TMP]");
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("fuel: ") {
            let limits = line.split(" of ").skip(1).collect::<Vec<_>>();
            let fuel_limit = limits.first().and_then(|l| l.split(' ').next());
            let time_limit = limits.get(1).map(|l| l.trim_end());
            out.push_str(&format!(
                "fuel: [FUEL] of {} ([P]%), time: [T] ms of {}\n",
                fuel_limit.unwrap_or("?"),
                time_limit.unwrap_or("?")
            ));
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("sha256:") {
            let (before, after) = rest.split_at(at + "sha256:".len());
            out.push_str(before);
            let hex = after.bytes().take_while(|b| b.is_ascii_hexdigit()).count();
            if hex > 0 {
                out.push_str("[DIGEST]");
            }
            rest = &after[hex..];
        }
        out.push_str(rest);
    }
    out
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
