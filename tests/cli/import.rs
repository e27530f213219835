//! `flotilla import helm-values` on a repository of per-cluster Helm values
//! (`tests/cli/fleets/shop-values`: four releases on three charts, twelve clusters), checked
//! against the real `helm template` outputs of its releases (`tests/cli/fleets/shop-values-helm`,
//! written by `scripts/regen-import-goldens.sh`): the imported fleet renders exactly what Helm
//! rendered; what cannot be exact is reported with why; bad input writes nothing; secret
//! values are never printed.

use std::path::Path;

use super::plan::{Temp, copy_dir, tree};
use super::run;

const REPO: &str = "tests/cli/fleets/shop-values";
const GOLDENS: &str = "tests/cli/fleets/shop-values-helm";

/// Every database password of the repository (`api/<cluster>.yaml`) ends with this.
fn assert_no_secret(text: &str) {
    assert!(
        !text.contains("Xk29qLm4"),
        "a secret value is shown:\n{text}"
    );
}

fn import(out: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["import", "helm-values", REPO, "--out", out];
    args.extend_from_slice(extra);
    run(&args)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A copy of the values repository, to edit (its path).
fn repo_copy(t: &Temp) -> String {
    let repo = t.path("repo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(REPO),
        Path::new(&repo),
    );
    repo
}

#[test]
fn an_imported_repository_renders_what_helm_rendered() {
    let t = Temp::new();
    let out = t.path("fleet");
    let (code, report, err) = import(&out, &[]);
    assert_eq!(code, 0, "{report}{err}");
    assert_no_secret(&report);
    assert_no_secret(&err);
    insta::assert_snapshot!("import_report", report.replace(&out, "[OUT]"));
    let mut services = String::new();
    for s in ["api", "cache", "web", "worker"] {
        let text = read(&format!("{out}/services/{s}/service.yaml"));
        assert_no_secret(&text);
        services.push_str(&format!("=== services/{s}/service.yaml\n{text}"));
    }
    insta::assert_snapshot!("import_services", services);
    assert_eq!(
        read(&format!("{out}/clusters/edge-us.yaml")),
        "name: edge-us\nprovider: azure\nregion: eastus\nenvironment: prod\ntags:\n  tier: edge\n"
    );
    // The passwords moved to the fleet's local secrets, one file per cluster.
    assert!(
        read(&format!("{out}/secrets/secret/api/prod-us-1.yaml"))
            .contains("\"db.password\": \"pw-prod-us-1-Xk29qLm4\"\n")
    );

    // The fleet, against the real helm's outputs of the originals: identical.
    let (code, diff, err) = run(&["diff", "--fleet", &out, "--against", GOLDENS]);
    assert_eq!(code, 0, "{diff}{err}");
    assert_eq!(diff, "no difference: 34 releases, 82 objects identical\n");

    // One release's dry run, its password masked.
    let (code, render, err) = run(&["render", "api", "--cluster", "staging-us", "--fleet", &out]);
    assert_eq!(code, 0, "{err}");
    assert_no_secret(&render);
    insta::assert_snapshot!("import_render", render);

    // JSON: the same, secrets masked.
    let again = t.path("again");
    let (code, json, _) = import(&again, &["-o", "json"]);
    assert_eq!(code, 0);
    assert_no_secret(&json);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["services"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["diff"]["differences"].as_array().map(Vec::len), Some(0));

    // Deterministic: the same bytes every time.
    // (`diff` and `render` above left their cache in the first one's `.flotilla/`.)
    let files = |dir: &str| -> Vec<(String, Vec<u8>)> {
        tree(Path::new(dir))
            .into_iter()
            .filter(|(path, _)| !path.starts_with(".flotilla/"))
            .collect()
    };
    assert_eq!(files(&out), files(&again));
    assert_eq!(files(&out).len(), 42);

    // A previous import is replaced only when asked; nothing else is ever replaced.
    let (code, _, err) = import(&out, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("holds a previous import"), "{err}");
    assert!(err.contains("--force"), "{err}");
    std::fs::write(format!("{out}/services/web/service.yaml"), "edited").expect("written");
    let (code, _, err) = import(&out, &["--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(read(&format!("{out}/services/web/service.yaml")).starts_with("# Imported"));
    let mine = t.path("mine");
    std::fs::create_dir_all(&mine).expect("created");
    std::fs::write(format!("{mine}/notes.txt"), "mine").expect("written");
    let (code, _, err) = import(&mine, &["--force"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("is not empty and was not written by an import"),
        "{err}"
    );
    assert_eq!(read(&format!("{mine}/notes.txt")), "mine");
    // No staging folder left behind.
    let left: Vec<String> = std::fs::read_dir(&t.0)
        .expect("listed")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn changes_after_an_import_are_found_and_classified() {
    let t = Temp::new();
    let out = t.path("fleet");
    let (code, _, err) = import(&out, &[]);
    assert_eq!(code, 0, "{err}");
    let edit = |path: &str, from: &str, to: &str| {
        let path = format!("{out}/{path}");
        let text = read(&path);
        assert!(text.contains(from), "{path} has {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("written");
    };
    // Safe: web's replicas in staging. Rolls pods: the api's image. Blocks: the cache's volume
    // size (a StatefulSet's claims are immutable). And a password changed on one cluster.
    edit(
        "services/web/service.yaml",
        "else if eq .Cluster.environment \"staging\" }}2",
        "else if eq .Cluster.environment \"staging\" }}4",
    );
    edit("services/api/service.yaml", "tag: 2.3.0", "tag: 2.4.0");
    edit("services/cache/service.yaml", "size: 20Gi", "size: 30Gi");
    edit(
        "secrets/secret/api/edge-eu.yaml",
        "pw-edge-eu-Xk29qLm4",
        "pw-edge-eu-Xk29qLm4-rotated",
    );
    let (code, diff, err) = run(&["diff", "--fleet", &out, "--against", GOLDENS]);
    assert_eq!(code, 1, "{err}");
    assert_no_secret(&diff);
    insta::assert_snapshot!("import_changes_classified", diff);
}

#[test]
fn a_chart_that_renders_randomly_is_reported_with_why() {
    let t = Temp::new();
    let repo = repo_copy(&t);
    std::fs::write(
        format!("{repo}/charts/cache/templates/auth.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-auth\ndata:\n  session: {{ randAlphaNum 24 | quote }}\n",
    )
    .expect("written");
    let out = t.path("fleet");
    let (code, report, err) = run(&["import", "helm-values", &repo, "--out", &out]);
    assert_eq!(code, 1, "{report}{err}");
    assert_no_secret(&report);
    let why = report
        .split("\nnot byte-identical with helm:\n")
        .nth(1)
        .unwrap_or_default();
    assert_eq!(
        why,
        "  cache: chart `cache` calls `randAlphaNum` in templates/auth.yaml: helm renders it differently on every run, so what it renders cannot match what is deployed (give the value it generates in the values)\n"
    );
    // Flotilla's engine is seeded: the fleet and the originals agree with each other, not with
    // what helm rendered when it deployed (exit 1).
    assert!(
        report.contains("no difference: 34 releases, 88 objects identical"),
        "{report}"
    );
    // Written all the same, for the user to fix.
    assert!(Path::new(&format!("{out}/services/cache/service.yaml")).is_file());
}

#[test]
fn bad_input_is_shown_where_it_is_and_nothing_is_written() {
    let t = Temp::new();
    let repo = repo_copy(&t);
    std::fs::write(
        format!("{repo}/web/prod-eu-1.yaml"),
        "replicas: 3\nresources: {limits: [cpu\n",
    )
    .expect("written");
    std::fs::write(format!("{repo}/web/prod-eu-3.yaml"), "replicas: 3\n").expect("written");
    let out = t.path("fleet");
    let (code, stdout, err) = run(&["import", "helm-values", &repo, "--out", &out]);
    assert_eq!(code, 2, "{stdout}{err}");
    assert_eq!(stdout, "");
    insta::assert_snapshot!(
        "import_bad_input",
        err.replace(&repo, "[REPO]").replace(&out, "[OUT]")
    );
    assert!(!Path::new(&out).exists());
    let left: Vec<_> = std::fs::read_dir(&t.0)
        .expect("listed")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("repo")]);

    let (code, _, err) = run(&[
        "import",
        "helm-values",
        "tests/cli/fleets/no-such-repo",
        "--out",
        &out,
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("error: cannot read tests/cli/fleets/no-such-repo/inventory.yaml"),
        "{err}"
    );
}
