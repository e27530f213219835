//! The ready-made rules (`policies/rules/*.yaml`) on their fixtures
//! (`tests/rules/<rule>/fires*.yaml`, `passes*.yaml`): every object of a `fires` file violates
//! the rule, no object of a `passes` file does. A fixture's first line may say
//! `# cluster: dev` (the default is prod).

use policies::manifests::{self, Release};

use crate::support::{cluster, crate_dir};

#[test]
fn ready_made_rules_fire_and_pass_on_their_fixtures() {
    let mut report = String::new();
    let mut rule_files: Vec<_> = std::fs::read_dir(crate_dir().join("rules"))
        .expect("rules/ exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    rule_files.sort();
    assert_eq!(rule_files.len(), 5);
    for path in rule_files {
        let name = path
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable");
        let (rules, diagnostics) = policies::rules_from_text(&format!("rules/{name}.yaml"), &text);
        assert!(
            diagnostics.diagnostics.is_empty(),
            "{}",
            diagnostics.render_text()
        );
        assert_eq!(rules.rules.len(), 1, "{name}");
        assert_eq!(
            rules.rules[0].name, name,
            "a rule file is named after its rule"
        );
        let fixtures = crate_dir().join("tests/rules").join(&name);
        let mut cases: Vec<_> = std::fs::read_dir(&fixtures)
            .unwrap_or_else(|_| panic!("{name} has fixtures"))
            .flatten()
            .map(|e| e.path())
            .collect();
        cases.sort();
        let (mut fires, mut passes) = (0, 0);
        for case in cases {
            let file = case
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&case).expect("readable");
            let env = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# cluster: "))
                .unwrap_or("prod");
            let objects = manifests::split_documents(&text).expect("valid YAML");
            let release = Release {
                name: "app".into(),
                namespace: "app".into(),
                service: "app".into(),
            };
            let c = cluster(&format!("{env}-1"), env);
            let violations = manifests::evaluate(&rules, &c, &release, &objects);
            if file.starts_with("fires") {
                fires += 1;
                assert_eq!(
                    violations.len(),
                    objects.len(),
                    "{name}/{file}: every object violates: {violations:#?}"
                );
                report.push_str(&format!("== {name}/{file}\n"));
                report.push_str(&manifests::render_text(&violations));
            } else {
                passes += 1;
                assert!(violations.is_empty(), "{name}/{file}: {violations:#?}");
            }
        }
        assert!(fires > 0 && passes > 0, "{name} needs both fixtures");
    }
    insta::assert_snapshot!(report);
}
