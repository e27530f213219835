//! The JSON Schemas `schemas/rbac.schema.json` and `schemas/manifests.schema.json` agree with
//! the loader (the same fields), and the policies we ship validate against them.

use std::collections::BTreeSet;

use policies::manifests::MANIFEST_FIELDS;
use policies::rbac::RBAC_FIELDS;
use serde_json::Value;
use syntax::fields::FieldDef;

use crate::support::crate_dir;

fn schema(name: &str) -> Value {
    let path = crate_dir().join("../schemas").join(name);
    let text = std::fs::read_to_string(&path).expect("the schema exists");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// Field paths of the loader's declarations; lists of mappings declare their items' fields.
fn loader_paths(defs: &[FieldDef], prefix: &str, out: &mut BTreeSet<String>) {
    for d in defs {
        let path = format!("{prefix}{}", d.name);
        out.insert(path.clone());
        loader_paths(d.fields, &format!("{path}."), out);
    }
}

/// Property paths of a schema, through object properties and array items.
fn schema_paths(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    let schema = schema.get("items").unwrap_or(schema);
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
    for (file, defs) in [
        ("rbac.schema.json", RBAC_FIELDS),
        ("manifests.schema.json", MANIFEST_FIELDS),
    ] {
        let s = schema(file);
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        jsonschema::draft202012::meta::validate(&s).expect("a valid schema");
        let mut in_schema = BTreeSet::new();
        schema_paths(&s, "", &mut in_schema);
        let mut in_loader = BTreeSet::new();
        loader_paths(defs, "", &mut in_loader);
        assert_eq!(in_schema, in_loader, "{file}");
    }
}

fn yaml(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("readable");
    let mut docs = policies::manifests::split_documents(&text).expect("YAML");
    assert_eq!(docs.len(), 1, "{}", path.display());
    docs.remove(0)
}

#[test]
fn shipped_policies_validate() {
    let rbac = jsonschema::validator_for(&schema("rbac.schema.json")).expect("compiles");
    let rules = jsonschema::validator_for(&schema("manifests.schema.json")).expect("compiles");
    let root = crate_dir().join("..");
    let mut checked = 0;
    let mut manifests = vec![root.join("examples/fleet/policies/manifests.yaml")];
    for e in std::fs::read_dir(crate_dir().join("rules"))
        .expect("rules/")
        .flatten()
    {
        manifests.push(e.path());
    }
    for path in manifests {
        let errors: Vec<String> = rules
            .iter_errors(&yaml(&path))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        checked += 1;
    }
    for path in [
        root.join("examples/fleet/policies/rbac.yaml"),
        root.join("compiler/pipeline/tests/cases/decisions/policies/rbac.yaml"),
    ] {
        let errors: Vec<String> = rbac
            .iter_errors(&yaml(&path))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        checked += 1;
    }
    assert_eq!(checked, 8);
}

#[test]
fn schemas_refuse_what_the_loader_refuses() {
    let rbac = jsonschema::validator_for(&schema("rbac.schema.json")).expect("compiles");
    let bad = [
        serde_json::json!({"roles": [{"name": "r", "allow": [{"actions": ["destroy"]}]}]}),
        serde_json::json!({"bindings": [{"role": "r", "subjects": ["alice"]}]}),
        serde_json::json!({"bindings": [{"role": "r", "subjects": []}]}),
        serde_json::json!({"default": "maybe"}),
        serde_json::json!({"roles": [{"name": "r", "allow": [{"actions": ["read"], "service": ["x"]}]}]}),
    ];
    for b in bad {
        assert!(!rbac.is_valid(&b), "{b}");
    }
}
