//! The example fleet's policies (`examples/fleet/policies/`): they load without a diagnostic,
//! decide as their comments say, `check_deployments` reports denials per service and reason,
//! and the manifests the example's plan renders pass the manifest rules.

use policies::{Action, Principal, Service};

use crate::support::crate_dir;

fn example() -> syntax::FleetFiles {
    let root = crate_dir().join("../../examples/fleet");
    let mut files = compiler::read_dir(&root).expect("the example fleet");
    files.display_root.clear();
    policies::read_files(&root, &mut files);
    files
}

#[test]
fn the_example_policies_load_cleanly() {
    let files = example();
    assert!(files.files.contains_key(policies::RBAC_FILE));
    assert!(files.files.contains_key(policies::MANIFESTS_FILE));
    let loaded = policies::load(&files);
    assert!(
        loaded.diagnostics.diagnostics.is_empty(),
        "{}",
        loaded.diagnostics.render_text()
    );
    let rbac = loaded.policies.rbac.expect("rbac.yaml");
    assert_eq!(rbac.roles.len(), 4);
    assert_eq!(
        loaded
            .policies
            .manifests
            .expect("manifests.yaml")
            .rules
            .len(),
        5
    );
}

#[test]
fn the_example_decides_as_documented() {
    let files = example();
    let compiled = compiler::compile(&files);
    let loaded = policies::load(&files);
    let fleet = &compiled.fleet;
    let ask = |who: &str, groups: &[&str], action: Action, service: &str, cluster: Option<&str>| {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        let p = Principal::parse(who, &groups).expect("a subject");
        let s = fleet
            .services
            .get(service)
            .map_or_else(|| Service::named(service), Service::from);
        let c = cluster.map(|c| fleet.clusters.get(c).expect("an example cluster"));
        loaded.policies.allowed(&p, action, &s, c).allowed
    };
    use Action::*;
    assert!(ask(
        "user:alice",
        &["payments", "payments-oncall"],
        Deploy,
        "payments-api",
        Some("aws-prod-use1")
    ));
    assert!(!ask(
        "user:bob",
        &["payments"],
        Deploy,
        "payments-api",
        Some("aws-prod-use1")
    ));
    assert!(ask(
        "user:bob",
        &["payments"],
        Deploy,
        "payments-api",
        Some("aws-staging-use1")
    ));
    // alice is bound to payments-deployer herself, which is for AWS clusters only.
    assert!(ask(
        "user:alice",
        &[],
        Deploy,
        "payments-api",
        Some("aws-dev-use2")
    ));
    assert!(!ask(
        "user:alice",
        &[],
        Deploy,
        "payments-api",
        Some("gcp-dev-euw1")
    ));
    assert!(ask(
        "user:sue",
        &["search"],
        Deploy,
        "search-api",
        Some("gcp-staging-usc1")
    ));
    assert!(!ask(
        "user:sue",
        &["search"],
        Deploy,
        "search-api",
        Some("gcp-prod-euw4")
    ));
    assert!(ask(
        "user:sue",
        &["search", "search-oncall"],
        Deploy,
        "search-api",
        Some("gcp-prod-euw4")
    ));
    assert!(ask("user:sue", &["search"], Publish, "search-api", None));
    assert!(!ask("user:sue", &["search"], Publish, "payments-api", None));
    assert!(ask(
        "user:pat",
        &["platform"],
        ManageClusters,
        "",
        Some("azure-prod-eastus")
    ));
    assert!(ask(
        "user:eve",
        &["engineering"],
        Read,
        "payments-api",
        None
    ));
    assert!(!ask(
        "user:eve",
        &["engineering"],
        Deploy,
        "payments-api",
        Some("aws-dev-use2")
    ));
}

#[test]
fn check_deployments_groups_denials_by_service_and_reason() {
    let files = example();
    let compiled = compiler::compile(&files);
    assert!(
        !compiled.diagnostics.has_errors(),
        "{}",
        compiled.diagnostics.render_text()
    );
    let loaded = policies::load(&files);
    let check = |who: &str, groups: &[&str]| {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        let p = Principal::parse(who, &groups).expect("a subject");
        policies::check_deployments(&loaded.policies, &p, &compiled.fleet, &compiled.selection)
            .iter()
            .map(|d| format!("{d}\n"))
            .collect::<String>()
    };
    assert_eq!(check("user:pat", &["platform"]), "");
    insta::assert_snapshot!(
        "payments_oncall",
        check("user:alice", &["payments", "payments-oncall"])
    );
    insta::assert_snapshot!("search", check("user:sue", &["search"]));
}

#[test]
fn the_example_plan_passes_its_manifest_rules() {
    let files = example();
    let compiled = compiler::compile(&files);
    let (plan, manifests) = compiled
        .applicable()
        .unwrap_or_else(|| panic!("{}", compiled.diagnostics.render_text()));
    let loaded = policies::load(&files);
    let admin = Principal::parse("user:pat", &["platform".to_owned()]).expect("a subject");
    let check = policies::check_plan(
        &loaded.policies,
        Some(&admin),
        &compiled.fleet,
        &compiled.selection,
        plan,
        manifests,
    );
    assert!(
        check
            .violations
            .iter()
            .all(|v| v.action == policies::RuleAction::Warn),
        "{}",
        check.render_text(Some(&admin))
    );
    assert!(!check.refused(), "{}", check.render_text(Some(&admin)));
    // Every object of every release was checked, most of them through the memo.
    let objects: usize = plan
        .clusters
        .iter()
        .flat_map(|c| &c.releases)
        .map(|r| {
            policies::manifests::document_texts(manifests.get(&r.manifest).unwrap_or("")).len()
        })
        .sum();
    assert!(check.manifests_checked > 0);
    assert!(
        check.manifests_checked * 2 < objects,
        "{} of {objects}",
        check.manifests_checked
    );
    // The example's charts satisfy even its `warn` rules.
    assert_eq!(check.render_text(Some(&admin)), "");
    assert!(check.plan_warnings().is_empty());
}

#[test]
fn warn_violations_are_the_plans_sorted_warnings() {
    let files = example();
    let compiled = compiler::compile(&files);
    let (plan, manifests) = compiled.applicable().expect("the example compiles");
    let rules = "rules:\n  - name: z-one-replica\n    match: 'object.kind == \"Deployment\"'\n    validate: 'false'\n    message: '{{object.metadata.name}}'\n    action: warn\n  - name: a-no-services\n    match: 'object.kind == \"Service\"'\n    validate: 'false'\n    action: warn\n";
    let mut files = files.clone();
    files
        .files
        .insert(policies::MANIFESTS_FILE.into(), rules.into());
    let loaded = policies::load(&files);
    assert!(loaded.diagnostics.diagnostics.is_empty());
    let check = policies::check_plan(
        &loaded.policies,
        None,
        &compiled.fleet,
        &compiled.selection,
        plan,
        manifests,
    );
    assert!(!check.refused());
    let warnings = check.plan_warnings();
    assert_eq!(warnings.len(), check.violations.len());
    assert!(warnings.windows(2).all(|w| w[0] < w[1]));
    let objects = |kind: &str| {
        plan.clusters
            .iter()
            .flat_map(|c| &c.releases)
            .flat_map(|r| {
                policies::manifests::split_documents(manifests.get(&r.manifest).unwrap_or(""))
                    .unwrap_or_default()
            })
            .filter(|o| o["kind"] == kind)
            .count()
    };
    let count = |rule: &str| warnings.iter().filter(|w| &*w.rule == rule).count();
    assert_eq!(count("z-one-replica"), objects("Deployment"));
    assert_eq!(count("a-no-services"), objects("Service"));
    // Plans keep them in this order: the plan reads back.
    let mut with = plan.clone();
    with.warnings = warnings;
    assert_eq!(plan::Plan::from_yaml(&with.to_yaml()).ok(), Some(with));
}

#[test]
fn a_plan_with_a_broken_release_is_refused() {
    let files = example();
    let compiled = compiler::compile(&files);
    let (plan, manifests) = compiled.applicable().expect("the example compiles");
    let rules = "rules:\n  - name: no-deployments-in-prod\n    match: 'object.kind == \"Deployment\" && cluster.environment == \"prod\"'\n    validate: 'false'\n    message: '{{object.metadata.name}} on {{cluster.name}}'\n";
    let mut files = files.clone();
    files
        .files
        .insert(policies::MANIFESTS_FILE.into(), rules.into());
    let loaded = policies::load(&files);
    assert!(
        loaded.diagnostics.diagnostics.is_empty(),
        "{}",
        loaded.diagnostics.render_text()
    );
    let check = policies::check_plan(
        &loaded.policies,
        None,
        &compiled.fleet,
        &compiled.selection,
        plan,
        manifests,
    );
    assert!(check.refused());
    assert!(check.denials.is_empty());
    // The message reads `cluster.name`: no two clusters share a check.
    let prod = compiled
        .fleet
        .clusters
        .values()
        .filter(|c| c.environment == "prod")
        .count();
    assert!(check.violations.len() >= prod, "{check:?}");
    assert!(
        check
            .violations
            .iter()
            .all(|v| v.message.ends_with(&format!("on {}", v.cluster))),
        "{check:?}"
    );
}

#[test]
fn check_plan_gives_the_same_result_on_one_thread_or_many() {
    let files = example();
    let compiled = compiler::compile(&files);
    let (plan, manifests) = compiled.applicable().expect("the example compiles");
    let rules = "rules:\n  - name: prod-replicas\n    match: 'object.kind == \"Deployment\" && cluster.environment == \"prod\"'\n    validate: 'object.spec.replicas >= 3'\n    message: '{{object.metadata.name}} on {{cluster.name}}: {{object.spec.replicas}}'\n  - name: named\n    validate: 'object.metadata.name.startsWith(release.name)'\n    action: warn\n";
    let mut files = files.clone();
    files
        .files
        .insert(policies::MANIFESTS_FILE.into(), rules.into());
    let loaded = policies::load(&files);
    assert!(loaded.diagnostics.diagnostics.is_empty());
    let sue = Principal::parse("user:sue", &["search".to_owned()]).expect("a subject");
    let check = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            policies::check_plan(
                &loaded.policies,
                Some(&sue),
                &compiled.fleet,
                &compiled.selection,
                plan,
                manifests,
            )
        })
    };
    let one = check(1);
    assert!(
        one.violations
            .iter()
            .any(|v| v.action == policies::RuleAction::Deny)
    );
    assert!(
        one.violations
            .iter()
            .any(|v| v.action == policies::RuleAction::Warn)
    );
    assert!(!one.denials.is_empty());
    assert!(one.violations.is_sorted());
    for threads in [2, 4] {
        let many = check(threads);
        assert_eq!(many, one);
        assert_eq!(many.manifests_checked, one.manifests_checked);
    }
}

#[test]
fn the_benchmark_rules_load_cleanly() {
    let path = crate_dir().join("../../bench/policies/manifests.yaml");
    let text = std::fs::read_to_string(&path).expect("bench/policies/manifests.yaml");
    let (rules, report) = policies::rules_from_text("bench/policies/manifests.yaml", &text);
    assert!(report.diagnostics.is_empty(), "{}", report.render_text());
    assert_eq!(rules.rules.len(), 10);
}

#[test]
fn releases_whose_manifest_is_missing_or_unreadable_get_one_deny_violation_each() {
    let files = example();
    let compiled = compiler::compile(&files);
    let (plan, manifests) = compiled.applicable().expect("the example compiles");
    let loaded = policies::load(&files);
    let mut manifests = manifests.clone();
    let mut digests = manifests.0.keys().cloned();
    let missing = digests.next().expect("a manifest");
    let broken = digests.next().expect("two manifests");
    manifests.0.remove(&missing);
    manifests
        .0
        .insert(broken, "kind: ConfigMap\n---\nkind: [unclosed\n".into());
    let check = policies::check_plan(
        &loaded.policies,
        None,
        &compiled.fleet,
        &compiled.selection,
        plan,
        &manifests,
    );
    assert!(check.refused());
    assert!(check.violations.is_sorted());
    for (digest, message) in [
        (missing, "the manifest is missing from the plan"),
        (broken, "the release's manifest could not be read: "),
    ] {
        let releases: Vec<(&str, &str)> = plan
            .clusters
            .iter()
            .flat_map(|c| c.releases.iter().map(move |r| (c, r)))
            .filter(|(_, r)| r.manifest == digest)
            .map(|(c, r)| (&*c.name, &*r.name))
            .collect();
        assert!(!releases.is_empty());
        for (cluster, release) in releases {
            let found: Vec<_> = check
                .violations
                .iter()
                .filter(|v| &*v.cluster == cluster && &*v.release == release)
                .collect();
            assert_eq!(found.len(), 1, "{found:?}");
            let v = found[0];
            assert_eq!(&*v.rule, "<manifest>");
            assert_eq!(v.action, policies::RuleAction::Deny);
            assert!(v.message.starts_with(message), "{v:?}");
            assert!(v.kind.is_empty() && v.name.is_empty() && v.namespace.is_empty());
        }
    }
}
