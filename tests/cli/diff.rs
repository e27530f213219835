//! `flotilla diff` on the shop fleet against the real `helm template` outputs of its releases
//! (`tests/cli/fleets/shop-helm/`, written by `scripts/regen-migration-goldens.sh`): identical
//! when nothing changed; each kind of change found and classified on crafted inputs; secret
//! values never printed.

use std::path::Path;

use super::plan::{Temp, copy_dir};
use super::run;

/// A copy of the shop fleet and of helm's outputs for it.
fn copies(t: &Temp) -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/fleets");
    copy_dir(&root.join("shop"), &t.0.join("fleet"));
    copy_dir(&root.join("shop-helm"), &t.0.join("helm"));
    (t.path("fleet"), t.path("helm"))
}

fn edit(path: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{path} has {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).expect("written");
}

#[test]
fn the_shop_fleet_renders_what_helm_rendered() {
    let (code, out, err) = run(&[
        "diff",
        "--fleet",
        "tests/cli/fleets/shop",
        "--against",
        "tests/cli/fleets/shop-helm",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "no difference: 5 releases, 10 objects identical\n");
}

#[test]
fn each_kind_of_change_is_found_and_classified() {
    let t = Temp::new();
    let (fleet, helm) = copies(&t);
    // Flotilla's side: a new image for web (its pods roll).
    edit(
        &format!("{fleet}/services/web/service.yaml"),
        "web:1.4.0",
        "web:1.5.0",
    );
    // The other tool's side: a worker whose selector differs (immutable), a ConfigMap and a
    // Secret Flotilla does not render, and a release Flotilla does not have.
    edit(
        &format!("{helm}/prod-us/worker.yaml"),
        "matchLabels: {app: worker}",
        "matchLabels: {app: worker, tier: jobs}",
    );
    let extra = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: worker-env\n  namespace: shop\ndata: {MODE: batch}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: worker-db\n  namespace: shop\nstringData:\n  password: plaintext-db-password-Jm52\n";
    let path = format!("{helm}/prod-eu/worker.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("{text}{extra}")).expect("written");
    std::fs::write(
        format!("{helm}/dev-eu/legacy-cron.yaml"),
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: legacy, namespace: shop}\nspec: {schedule: '@daily'}\n",
    )
    .expect("written");

    let (code, out, err) = run(&["diff", "--fleet", &fleet, "--against", &helm]);
    assert_eq!(code, 1, "{err}");
    assert!(!out.contains("plaintext-db-password-Jm52"), "{out}");
    insta::assert_snapshot!("classified", out);

    let (code, json, _) = run(&["diff", "--fleet", &fleet, "--against", &helm, "-o", "json"]);
    assert_eq!(code, 1);
    assert!(!json.contains("plaintext-db-password-Jm52"), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let classes: Vec<(String, String)> = v["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                format!(
                    "{}/{}",
                    d["cluster"].as_str().unwrap_or(""),
                    d["release"].as_str().unwrap_or("")
                ),
                d["class"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        [
            ("dev-eu/legacy-cron", "blocks"),
            ("dev-eu/web", "rolls-pods"),
            ("prod-eu/web", "rolls-pods"),
            ("prod-eu/worker", "safe"),
            ("prod-us/web", "rolls-pods"),
            ("prod-us/worker", "blocks"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );

    // Filters: one service, one cluster.
    let (code, out, _) = run(&[
        "diff",
        "--fleet",
        &fleet,
        "--against",
        &helm,
        "--service",
        "worker",
        "--cluster",
        "prod-us",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("prod-us/worker: [blocks an in-place migration]\n"),
        "{out}"
    );
    assert!(out.ends_with("1 of 1 releases differ (1 objects: 1 blocks an in-place migration, 0 rolls pods, 0 safe); 1 objects identical\n"), "{out}");
    let (code, _, err) = run(&[
        "diff",
        "--fleet",
        &fleet,
        "--against",
        &helm,
        "--service",
        "wbe",
    ]);
    assert_eq!(
        (code, err.as_str()),
        (2, "error: no service `wbe` in the plan\n")
    );
}

#[test]
fn a_missing_dry_run_is_a_usage_error() {
    let (code, _, err) = run(&[
        "diff",
        "--fleet",
        "tests/cli/fleets/shop",
        "--against",
        "tests/cli/fleets/no-such-folder",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error: --against: cannot read"), "{err}");
}

#[test]
fn render_shows_one_release_with_its_secrets_masked() {
    let t = Temp::new();
    let (fleet, _) = copies(&t);
    std::fs::create_dir_all(format!("{fleet}/secrets/secret")).expect("created");
    std::fs::write(
        format!("{fleet}/secrets/secret/shop.yaml"),
        "db-password: render-db-password-Qz19\n",
    )
    .expect("written");
    let path = format!("{fleet}/services/web/service.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        format!("{text}  password: {{{{ vault \"secret/shop\" \"db-password\" | quote }}}}\n"),
    )
    .expect("written");

    let (code, out, err) = run(&["render", "web", "--cluster", "prod-eu", "--fleet", &fleet]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("render-db-password-Qz19"), "{out}");
    let out = out.replace(&fleet, "[FLEET]");
    insta::assert_snapshot!("render_masked", out);

    let (code, values, _) = run(&[
        "render",
        "web",
        "--cluster",
        "dev-eu",
        "--fleet",
        &fleet,
        "--values-only",
        "--reveal-secrets",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        values,
        "image: registry.example.com/shop/web:1.4.0\npassword: render-db-password-Qz19\nreplicas: 1\n"
    );
    let (code, _, err) = run(&["render", "worker", "--cluster", "dev-eu", "--fleet", &fleet]);
    assert_eq!(code, 2);
    assert!(err.contains("`worker` does not run on `dev-eu`"), "{err}");
}

#[test]
fn render_and_diff_work_on_the_example_fleet() {
    let t = Temp::new();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet"),
        &t.0.join("fleet"),
    );
    let fleet = t.path("fleet");
    // A release with a Vault secret and a plugin's values: its values, masked.
    let (code, out, err) = run(&[
        "render",
        "payments-api",
        "--cluster",
        "aws-prod-use1",
        "--fleet",
        &fleet,
        "--values-only",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("demo-db-password-7Qx9"), "{out}");
    insta::assert_snapshot!("render_example_fleet_values", out);

    // The fleet's own plan, exported as another tool's dry run (`<cluster>/<release>.yaml`),
    // is identical to what it compiles.
    let (code, _, err) = run(&[
        "plan",
        "--fleet",
        &fleet,
        "--out",
        &t.path("plan"),
        "--as",
        "user:pat",
        "--groups",
        "platform",
    ]);
    assert_eq!(code, 0, "{err}");
    for cluster in std::fs::read_dir(t.0.join("fleet/clusters"))
        .expect("clusters")
        .flatten()
    {
        let name = cluster
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".yaml")
            .to_owned();
        let exported = t.0.join("exported").join(&name);
        let (code, _, err) = run(&[
            "bundle",
            "export",
            "--bundle",
            &t.path("plan"),
            "--cluster",
            &name,
            "--out",
            exported.to_str().expect("UTF-8"),
        ]);
        assert_eq!(code, 0, "{err}");
        let dry = t.0.join("dry").join(&name);
        std::fs::create_dir_all(&dry).expect("created");
        for f in std::fs::read_dir(&exported).expect("exported").flatten() {
            // `<wave>-<release>.yaml` → `<release>.yaml`
            let file = f.file_name().to_string_lossy().into_owned();
            let release = file.split_once('-').map_or(file.as_str(), |(_, r)| r);
            std::fs::copy(f.path(), dry.join(release)).expect("copied");
        }
    }
    let (code, out, err) = run(&["diff", "--fleet", &fleet, "--against", &t.path("dry")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("no difference"), "{out}");
    assert!(!out.contains("demo-db-password-7Qx9") && !err.contains("demo-db-password-7Qx9"));
}
