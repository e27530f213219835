//! The example fleet (`examples/fleet`) compiles without a diagnostic; its selection and waves
//! are snapshotted.

use std::path::Path;
use std::sync::OnceLock;

use compiler::FleetFiles;

use crate::support::summary;

/// The plugins the example fleet's values templates call.
pub const EXAMPLE_PLUGINS: [&str; 2] = ["cidr-allocator", "region-endpoints"];

/// The example fleet, with its plugins (built by `scripts/build-example-plugins.sh`: the test
/// fails, saying so, when they are not there). The first call compiles the plugins, once.
pub fn example_fleet() -> FleetFiles {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fleet");
    for name in EXAMPLE_PLUGINS {
        let wasm = root.join("plugins").join(format!("{name}.wasm"));
        assert!(
            wasm.is_file(),
            "the example fleet's plugin {} is missing: run\n\n    \
             scripts/build-example-plugins.sh\n\n(scripts/test.sh does; it builds \
             plugins/examples/ with componentize-py and copies them into the fleet)",
            wasm.display()
        );
    }
    static WARM: OnceLock<()> = OnceLock::new();
    WARM.get_or_init(|| {
        if let Err(e) = crate::support::plugin_host().load(&root.join("plugins")) {
            panic!("the example fleet's plugins do not load: {e}");
        }
    });
    let mut files = compiler::read_dir(&root).expect("the example fleet");
    files.display_root = "examples/fleet/".into();
    files
}

#[test]
fn the_example_fleet_compiles_cleanly() {
    let compiled = crate::support::compile(&example_fleet());
    assert_eq!(compiled.diagnostics.render_text(), "");
    assert_eq!(compiled.fleet.clusters.len(), 12);
    assert_eq!(compiled.fleet.services.len(), 6);
    insta::assert_snapshot!(summary(&compiled));
}

#[test]
fn service_digests_are_stable_and_distinct() {
    let compiled = crate::support::compile(&example_fleet());
    let digests: Vec<String> = compiled
        .digests
        .iter()
        .map(|(s, d)| format!("{s} {d}"))
        .collect();
    insta::assert_snapshot!(digests.join("\n"));
    let again = crate::support::compile(&example_fleet());
    assert_eq!(compiled.digests, again.digests);
}

#[test]
fn a_changed_values_template_changes_the_digest() {
    let mut files = example_fleet();
    let before = crate::support::compile(&files).digests;
    let path = "services/ingress/service.yaml";
    let text = files.files[path].replace("replicaCount: {{", "replicaCount:  {{");
    files.files.insert(path.into(), text);
    let after = crate::support::compile(&files).digests;
    for (name, digest) in &before {
        assert_eq!(name.as_str() == "ingress", after[name] != *digest, "{name}");
    }
}

#[test]
fn select_examples_from_the_readme() {
    let files = example_fleet();
    let names = |expr: &str| -> String {
        let run = compiler::select(&files, expr, false);
        assert_eq!(run.diagnostics.render_text(), "", "{expr}");
        run.render_text()
    };
    assert_eq!(
        names(r#"cluster.provider == "gcp" && cluster.environment == "prod""#),
        "gcp-prod-euw4\ngcp-prod-usc1\n"
    );
    assert_eq!(
        names(r#"semver(cluster.metadata.kubernetesVersion).isLessThan(semver("1.29.0"))"#),
        "azure-prod-eastus\nazure-prod-westeurope\n"
    );
    assert_eq!(
        names(r#"has(cluster.tags.residency) && cluster.tags.residency == "eu""#),
        "aws-prod-euw1\nazure-prod-westeurope\ngcp-prod-euw4\n"
    );
    let explained = compiler::select(
        &files,
        r#"cluster.environment in ["staging", "prod"] && cluster.provider == "aws""#,
        true,
    );
    insta::assert_snapshot!(explained.render_text());
    insta::assert_snapshot!(
        compiler::select(
            &files,
            r#"cluster.provider == "azure" || cluster.tags.tier == "edge""#,
            true
        )
        .render_json()
    );
}

#[test]
fn templates_and_selectors_see_the_same_cluster_fields() {
    let compiled = crate::support::compile(&example_fleet());
    for cluster in compiled.fleet.clusters.values() {
        let compiler::model::Data::Map(fields) = cluster.to_data() else {
            panic!("a cluster is a map");
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        // `kubernetes` is there when the cluster declares it.
        let mut expected: Vec<&str> = compiler::targeting::check::CLUSTER_FIELDS
            .iter()
            .copied()
            .filter(|f| *f != "kubernetes" || cluster.kubernetes.is_some())
            .collect();
        expected.sort();
        assert_eq!(names, expected);
    }
    let service = &compiled.fleet.services["payments-api"];
    let data = serde_json::to_string(&service.to_data()).unwrap_or_default();
    assert_eq!(
        data,
        r##"{"chart":{"path":"charts/payments-api"},"dependsOn":["cert-manager","ingress","metrics-agent"],"name":"payments-api","owners":{"slack":"#payments-oncall","team":"payments"},"release":{"name":"payments","namespace":"payments"}}"##
    );
}
