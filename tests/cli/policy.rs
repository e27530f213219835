//! The fleet's policies as `flotilla plan --as`, `flotilla check` and `flotilla review` enforce
//! them, on the fleet of `tests/cli/fleets/shop/`: RBAC denials and `deny` rules refuse the plan
//! (nothing written), `warn` rules are printed and kept in `plan.yaml`.

use std::path::Path;
use std::process::Command;

use super::plan::{Temp, copy_dir, tree};
use super::{ADMIN, FLEET, run};

/// Rules for the shop fleet: `worker` runs `:latest` in prod and sets no resource requests,
/// with one replica.
const PINNED: &str = r#"  - name: pinned-images
    match: 'object.kind == "Deployment"'
    validate: 'object.spec.template.spec.containers.all(c, !c.image.endsWith(":latest"))'
    message: '{{object.metadata.name}} runs {{object.spec.template.spec.containers[0].image}}'
"#;
const REPLICAS: &str = r#"  - name: prod-replicas
    match: 'object.kind == "Deployment" && cluster.environment == "prod"'
    validate: 'object.spec.replicas >= 2'
    action: deny
"#;
const REQUESTS: &str = r#"  - name: resource-requests
    match: 'object.kind == "Deployment"'
    validate: 'object.spec.template.spec.containers.all(c, has(c.resources) && has(c.resources.requests))'
    message: '{{object.metadata.name}} on {{cluster.name}} requests nothing'
    action: warn
"#;

/// A copy of the shop fleet with these manifest rules (none when empty).
fn shop(t: &Temp, rules: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/fleets/shop");
    let fleet = t.0.join("fleet");
    copy_dir(&root, &fleet);
    if !rules.is_empty() {
        std::fs::write(
            fleet.join("policies/manifests.yaml"),
            format!("rules:\n{}", rules.concat()),
        )
        .expect("written");
    }
    t.path("fleet")
}

/// Output with the temporary folder's path replaced by `[TMP]`.
fn clean(t: &Temp, text: &str) -> String {
    text.replace(&t.path(""), "[TMP]/")
}

/// The names in the temporary folder, sorted.
fn names(t: &Temp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&t.0)
        .expect("listed")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_principal_who_may_not_deploy_is_refused_and_nothing_is_written() {
    let t = Temp::new();
    let fleet = shop(&t, &[]);
    let out = t.path("plan");
    let (code, stdout, err) = run(&[
        "plan", "--fleet", &fleet, "--out", &out, "--as", "user:ann", "--groups", "shop",
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!("rbac_refusal", clean(&t, &err));
    // No plan, and no staging folder beside it.
    assert!(!Path::new(&out).exists());
    assert_eq!(names(&t), ["fleet"]);
    // On call, she may.
    let (code, stdout, err) = run(&[
        "plan",
        "--fleet",
        &fleet,
        "--out",
        &out,
        "--as",
        "user:ann",
        "--groups",
        "shop,shop-oncall",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!("wrote {out}: 3 clusters, 5 releases, 3 distinct manifests\n")
    );
}

#[test]
fn deny_rules_refuse_the_plan_with_every_violation() {
    let t = Temp::new();
    let fleet = shop(&t, &[PINNED, REPLICAS, REQUESTS]);
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!("deny_refusal", clean(&t, &err));
    assert!(!Path::new(&out).exists());
    assert_eq!(names(&t), ["fleet"]);

    // An existing plan is kept as it was.
    let fleet_ok = Path::new(&fleet);
    std::fs::remove_file(fleet_ok.join("policies/manifests.yaml")).expect("removed");
    assert_eq!(
        run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]).0,
        0
    );
    let before = tree(Path::new(&out));
    std::fs::write(
        fleet_ok.join("policies/manifests.yaml"),
        format!("rules:\n{PINNED}"),
    )
    .expect("written");
    assert_eq!(
        run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]).0,
        1
    );
    assert!(tree(Path::new(&out)) == before);
    assert_eq!(names(&t), ["fleet", "plan"]);
}

#[test]
fn warn_rules_are_printed_and_kept_in_the_plan() {
    let t = Temp::new();
    let fleet = shop(&t, &[REQUESTS]);
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stdout,
        format!("wrote {out}: 3 clusters, 5 releases, 3 distinct manifests\n")
    );
    insta::assert_snapshot!("warnings_printed", clean(&t, &err));
    let plan = std::fs::read_to_string(Path::new(&out).join("plan.yaml")).unwrap_or_default();
    let warnings = plan.split_once("\nwarnings:\n").map(|(_, w)| w);
    insta::assert_snapshot!("warnings_in_plan", warnings.unwrap_or("<none>"));
    // The bundle reads back (the plan's invariants hold), and a review sees the same plan.
    let (code, _, err) = run(&["review", "--fleet", &fleet, "--accept"]);
    assert_eq!(code, 0, "{err}");
    let accepted = std::fs::read_to_string(Path::new(&fleet).join(".flotilla/accepted/plan.yaml"))
        .unwrap_or_default();
    assert_eq!(accepted, plan);
    let (code, stdout, _) = run(&["review", "--fleet", &fleet, "--check"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "no changes: the plan is the accepted one\n")
    );
    // The same bytes on one thread or many.
    let mut trees = Vec::new();
    for threads in ["1", "3"] {
        let dir = t.path(&format!("plan-{threads}"));
        let status = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .env("RAYON_NUM_THREADS", threads)
            .env_remove("FLOTILLA_GROUPS")
            .env("FLOTILLA_PRINCIPAL", ADMIN)
            .args(["plan", "--fleet", &fleet, "--out", &dir, "--no-cache"])
            .output()
            .expect("flotilla runs");
        assert!(status.status.success());
        trees.push(tree(Path::new(&dir)));
    }
    assert!(trees[0] == trees[1]);
    assert!(trees[0] == tree(Path::new(&out)));
}

#[test]
fn rbac_needs_a_principal_from_the_flags_or_the_environment() {
    let t = Temp::new();
    let fleet = shop(&t, &[]);
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        clean(&t, &err),
        "error: [TMP]/fleet/policies/rbac.yaml denies what no rule allows: say who deploys with \
         `--as user:NAME --groups GROUP,…` (or FLOTILLA_PRINCIPAL and FLOTILLA_GROUPS)\n"
    );
    assert!(!Path::new(&out).exists());
    let (code, _, err) = run(&["check", "--fleet", &fleet]);
    assert_eq!(code, 2, "{err}");
    // Groups without a principal, a malformed principal.
    let (code, _, err) = run(&["check", "--fleet", &fleet, "--groups", "shop"]);
    assert_eq!(code, 2);
    assert!(err.contains("--groups names the groups"), "{err}");
    let (code, _, err) = run(&["check", "--fleet", &fleet, "--as", "ann"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: invalid --as or --groups: "),
        "{err}"
    );
    // From the environment.
    let from_env = |groups: &str| {
        Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .env("FLOTILLA_PRINCIPAL", "user:ann")
            .env("FLOTILLA_GROUPS", groups)
            .args(["check", "--fleet", &fleet])
            .output()
            .expect("flotilla runs")
    };
    assert_eq!(from_env("shop").status.code(), Some(1));
    // The environment's groups never go to a principal named with --as.
    let named = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env_remove("FLOTILLA_PRINCIPAL")
        .env("FLOTILLA_GROUPS", "shop,shop-oncall")
        .args(["check", "--fleet", &fleet, "--as", "user:bob"])
        .output()
        .expect("flotilla runs");
    assert_eq!(named.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&named.stderr).contains("denied: user:bob may not deploy `web`"),
        "{named:?}"
    );
    // --groups goes with FLOTILLA_PRINCIPAL.
    let mixed = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env("FLOTILLA_PRINCIPAL", "user:ann")
        .env("FLOTILLA_GROUPS", "nobody")
        .args(["check", "--fleet", &fleet, "--groups", "shop,shop-oncall"])
        .output()
        .expect("flotilla runs");
    assert_eq!(mixed.status.code(), Some(0), "{mixed:?}");
    let ok = from_env("shop,shop-oncall");
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        "policies pass: 3 clusters, 5 releases; user:ann may deploy every release; no manifest \
         rules, 0 warnings\n"
    );
    // A policy that allows by default needs no principal; no policy either.
    let rbac = Path::new(&fleet).join("policies/rbac.yaml");
    let text = std::fs::read_to_string(&rbac).unwrap_or_default();
    std::fs::write(&rbac, text.replace("default: deny", "default: allow")).expect("written");
    let (code, stdout, _) = run(&["check", "--fleet", &fleet]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            "policies pass: 3 clusters, 5 releases; no principal, and the RBAC policy allows by \
             default; no manifest rules, 0 warnings\n"
        )
    );
    std::fs::remove_file(&rbac).expect("removed");
    let (code, stdout, _) = run(&["check", "--fleet", &fleet]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            0,
            "policies pass: 3 clusters, 5 releases; no RBAC policy; no manifest rules, 0 warnings\n"
        )
    );
}

#[test]
fn check_reports_and_writes_no_plan() {
    let t = Temp::new();
    let fleet = shop(&t, &[PINNED, REQUESTS]);
    let (code, stdout, err) = run(&[
        "check",
        "--fleet",
        &fleet,
        "--as",
        "user:ann",
        "--groups",
        "shop",
        "--no-cache",
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!("check_refusal", clean(&t, &err));
    std::fs::write(
        Path::new(&fleet).join("policies/manifests.yaml"),
        format!("rules:\n{REQUESTS}"),
    )
    .expect("written");
    let (code, stdout, err) = run(&["check", "--fleet", &fleet, "--as", ADMIN, "--no-cache"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stdout,
        "policies pass: 3 clusters, 5 releases; group:platform may deploy every release; 1 \
         manifest rule, 2 warnings\n"
    );
    assert!(err.ends_with("note: 2 violations of rules with `action: warn`; the plan keeps them under `warnings:`\n"), "{err}");
    // Nothing written: the fleet is as it was copied.
    assert_eq!(names(&t), ["fleet"]);
    assert!(!Path::new(&fleet).join(".flotilla").exists());
}

#[test]
fn malformed_policies_are_positioned_diagnostics() {
    let t = Temp::new();
    let broken = r#"  - name: typo
    match: 'object.kind == "Deployment"'
    validate: 'object.spec.replicas >= '
    actoin: warn
"#;
    let fleet = shop(&t, &[broken]);
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    insta::assert_snapshot!("malformed_rules", clean(&t, &err));
    assert!(!Path::new(&out).exists());
    let (code, _, _) = run(&["check", "--fleet", &fleet, "--as", ADMIN]);
    assert_eq!(code, 1);
}

#[test]
fn review_applies_the_manifest_rules() {
    let t = Temp::new();
    let fleet = shop(&t, &[PINNED]);
    let (code, stdout, err) = run(&["review", "--fleet", &fleet, "--accept"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        err.contains("deny[pinned-images]: worker runs registry.example.com/shop/worker:latest\n"),
        "{err}"
    );
    assert!(!Path::new(&fleet).join(".flotilla/accepted").exists());
}

#[test]
fn the_example_fleet_passes_its_policies() {
    let (code, stdout, err) = run(&[
        "check",
        "--fleet",
        FLEET,
        "--as",
        "user:pat",
        "--groups",
        "platform",
        "--no-cache",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "policies pass: 12 clusters, 48 releases; user:pat may deploy every release; 5 manifest \
         rules, 0 warnings\n"
    );
}
