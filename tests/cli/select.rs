//! Selector and values-template mistakes as users meet them in `flotilla select` and
//! `flotilla plan`: the caret under the failing part, the advice for that kind of mistake, one
//! diagnostic per distinct failure, and the exit code.

use std::path::Path;

use super::plan::{Temp, copy_dir};
use super::run;

/// The shop fleet (`tests/cli/fleets/shop/`) without its RBAC policy, with tags and metadata on
/// its clusters; `web`'s selector and values replaced when given.
fn fleet(t: &Temp, selector: Option<&str>, values: Option<&str>) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/fleets/shop");
    let fleet = t.0.join("fleet");
    copy_dir(&root, &fleet);
    // No RBAC policy: these plans are refused for their selectors and values, not their author.
    std::fs::remove_file(fleet.join("policies/rbac.yaml")).expect("removed");
    let clusters = [
        ("dev-eu", "eu-west-1", "dev", "\"1.30\"", "3"),
        ("prod-eu", "eu-west-1", "prod", "\"1.31.2\"", "\"12\""),
        ("prod-us", "us-east-1", "prod", "\"v1.29\"", "12"),
    ];
    for (name, region, env, version, nodes) in clusters {
        let text = format!(
            "name: {name}\nprovider: aws\nregion: {region}\nenvironment: {env}\n\
             tags:\n  team: shop\n  tier: web\n\
             metadata:\n  kubernetesVersion: {version}\n  nodes: {nodes}\n"
        );
        std::fs::write(fleet.join(format!("clusters/{name}.yaml")), text).expect("written");
    }
    let web = fleet.join("services/web/service.yaml");
    let mut text = std::fs::read_to_string(&web).expect("read");
    if let Some(s) = selector {
        text = text.replace("selector: 'true'\n", s);
    }
    if let Some(v) = values {
        let at = text.find("values: |").expect("web has values");
        text = format!("{}{v}", &text[..at]);
    }
    std::fs::write(&web, text).expect("written");
    t.path("fleet")
}

/// Output with the temporary folder's path replaced by `[TMP]`.
fn clean(t: &Temp, text: &str) -> String {
    text.replace(&t.path(""), "[TMP]/")
}

#[test]
fn a_mistyped_tag_key_says_which_keys_the_fleet_has() {
    let t = Temp::new();
    let fleet = fleet(&t, None, None);
    let (code, out, err) = run(&["select", "--fleet", &fleet, "cluster.tags.teem == \"shop\""]);
    assert_eq!((code, out.as_str()), (1, ""));
    insta::assert_snapshot!("select_tag_typo", clean(&t, &err));
}

#[test]
fn a_type_error_on_metadata_points_at_the_comparison() {
    let t = Temp::new();
    let fleet = fleet(&t, None, None);
    let (code, out, err) = run(&[
        "select",
        "--fleet",
        &fleet,
        "cluster.environment == \"prod\" && cluster.metadata.nodes > 10",
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    insta::assert_snapshot!("select_type_error", clean(&t, &err));
}

#[test]
fn operators_from_other_languages_are_named_in_cel() {
    let t = Temp::new();
    let fleet = fleet(&t, None, None);
    let (code, out, err) = run(&[
        "select",
        "--fleet",
        &fleet,
        "cluster.environment = \"prod\" and not cluster.region.startsWith(\"us\")",
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    insta::assert_snapshot!("select_foreign_operators", clean(&t, &err));
    let (code, _, err) = run(&["select", "--fleet", &fleet, "cluster.name.startsWith(\"x\""]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("select_unclosed", clean(&t, &err));
}

#[test]
fn literal_regexes_and_versions_are_checked_before_running() {
    let t = Temp::new();
    let fleet = fleet(&t, None, None);
    let (code, out, err) = run(&[
        "select",
        "--fleet",
        &fleet,
        "cluster.region.matches(\"^(eu\") || semver(\"1.x\").major() == 1",
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    insta::assert_snapshot!("select_literals", clean(&t, &err));
}

#[test]
fn explain_exits_1_when_a_cluster_failed() {
    let t = Temp::new();
    let fleet = fleet(&t, None, None);
    let (code, out, err) = run(&[
        "select",
        "--explain",
        "--fleet",
        &fleet,
        "cluster.metadata.nodes >= 3",
    ]);
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!(
        "select_explain_failure",
        format!("{out}---\n{}", clean(&t, &err))
    );
    let (code, _, _) = run(&["select", "--explain", "--fleet", &fleet, "true"]);
    assert_eq!(code, 0);
}

#[test]
fn a_plan_with_a_failing_selector_tells_each_failure_once() {
    let t = Temp::new();
    let selector = "selector: |\n  cluster.environment == \"staging\" ||\n    semver(cluster.metadata.kubernetesVersion).minor() >= 30\n";
    let fleet = fleet(&t, Some(selector), None);
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{err}");
    insta::assert_snapshot!("plan_bad_selector", clean(&t, &err));
}

#[test]
fn a_mistyped_cluster_field_in_values_says_which_field() {
    let t = Temp::new();
    let values = "values: |\n  image: registry.example.com/shop/web:1.4.0\n  color: {{ .Cluster.metdata.color }}\n";
    let fleet = fleet(&t, None, Some(values));
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{err}");
    insta::assert_snapshot!("plan_values_cluster_typo", clean(&t, &err));
}
