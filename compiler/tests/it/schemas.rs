//! The JSON Schemas under `schemas/` agree with the loader: the same fields, and the example
//! fleet validates against them.

use std::collections::BTreeSet;
use std::path::Path;

use compiler::load::{CLUSTER_FIELDS, FLEET_FIELDS, SERVICE_FIELDS, field_paths};
use serde_json::Value;
use syntax::yaml;

use crate::example::example_fleet;

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the schema exists");
    serde_json::from_str(&text).expect("the schema is JSON")
}

fn yaml_json(text: &str) -> Value {
    yaml::to_json(&yaml::parse(text).root.expect("a YAML document"))
}

/// Property paths of a schema (`chart.path`, ...), through nested object properties.
fn schema_paths(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, sub) in props {
        let path = format!("{prefix}{name}");
        out.insert(path.clone());
        schema_paths(sub, &format!("{path}."), out);
    }
}

#[test]
fn schemas_name_every_field_the_loader_knows() {
    for (file, fields) in [
        ("cluster.schema.json", CLUSTER_FIELDS),
        ("service.schema.json", SERVICE_FIELDS),
        ("fleet.schema.json", FLEET_FIELDS),
    ] {
        let mut in_schema = BTreeSet::new();
        schema_paths(&schema(file), "", &mut in_schema);
        let in_loader: BTreeSet<String> = field_paths(fields).into_iter().collect();
        assert_eq!(in_schema, in_loader, "{file}");
    }
}

#[test]
fn schemas_are_valid_draft_2020_12() {
    for file in [
        "cluster.schema.json",
        "service.schema.json",
        "fleet.schema.json",
    ] {
        let s = schema(file);
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        jsonschema::draft202012::meta::validate(&s).expect("a valid schema");
    }
}

#[test]
fn the_example_fleet_validates() {
    let clusters = jsonschema::validator_for(&schema("cluster.schema.json")).expect("compiles");
    let services = jsonschema::validator_for(&schema("service.schema.json")).expect("compiles");
    let fleet = jsonschema::validator_for(&schema("fleet.schema.json")).expect("compiles");
    let files = example_fleet();
    let mut seen = 0;
    for (path, text) in &files.files {
        // Plugin limits files are checked by the plugin host, against no schema here.
        if path.starts_with("plugins/") {
            continue;
        }
        let validator = if path.starts_with("clusters/") {
            &clusters
        } else if path == "fleet.yaml" {
            &fleet
        } else {
            &services
        };
        let errors: Vec<String> = validator
            .iter_errors(&yaml_json(text))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{path}: {errors:?}");
        seen += 1;
    }
    assert_eq!(seen, 19);
}

/// What the loader rejects, the schema rejects too (for what a schema can say).
#[test]
fn the_schemas_reject_what_the_loader_rejects() {
    let services = jsonschema::validator_for(&schema("service.schema.json")).expect("compiles");
    let clusters = jsonschema::validator_for(&schema("cluster.schema.json")).expect("compiles");
    let base = "name: x\nowners: {team: t}\nselector: 'true'\nrelease: {name: x, namespace: x}\n";
    let check = |extra: &str, valid: bool| {
        let doc = yaml_json(&format!("{base}{extra}"));
        assert_eq!(services.is_valid(&doc), valid, "{extra}");
    };
    check("chart: {path: ../../charts/x}", true);
    check(
        "chart: {repository: https://c.example.com, name: x, version: 1.2.3}",
        true,
    );
    check(
        "chart: {path: ../../charts/x, repository: https://c.example.com}",
        false,
    );
    check("chart: {}", false);
    check("chart: {repository: https://c.example.com, name: x}", false);
    check(
        "chart: {repository: https://c.example.com, name: x, version: v1.2}",
        false,
    );
    check("chart: {path: ../../charts/x}\ndependson: [y]", false);
    check("chart: {path: ../../charts/x}\nvalues: {a: 1}", false);
    check(
        "chart: {path: ../../charts/x}\nrollout: {canary: 'true', waves: [25%, 3], maxUnavailable: 1, soak: 10m, autoRollback: true}",
        true,
    );
    check(
        "chart: {path: ../../charts/x}\nrollout: {waves: [most]}",
        false,
    );
    check(
        "chart: {path: ../../charts/x}\nrollout: {soak: a while}",
        false,
    );
    check(
        "chart: {path: ../../charts/x}\nrollout: {autoRollback: sure}",
        false,
    );
    let cluster = |text: &str| clusters.is_valid(&yaml_json(text));
    assert!(cluster(
        "name: a\nprovider: aws\nregion: r\nenvironment: prod\ntags: {pci: \"true\"}"
    ));
    assert!(!cluster(
        "name: a\nprovider: aws\nregion: r\nenvironment: prod\ntags: {pci: true}"
    ));
    assert!(!cluster(
        "name: A\nprovider: aws\nregion: r\nenvironment: prod"
    ));
    assert!(!cluster(
        "name: a\nprovider: aws\nregoin: r\nenvironment: prod"
    ));
}
