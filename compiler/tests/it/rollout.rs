//! Rollout policies: the fleet's defaults (`fleet.yaml`) and a service's own (`rollout:`),
//! the waves the plan gives them, and the diagnostics of a wrong policy.

use compiler::model::ServiceName;

use crate::support::{compile, fleet};

fn cluster(name: &str, environment: &str, canary: bool) -> (String, String) {
    let tags = if canary {
        "tags: {canary: \"yes\"}\n"
    } else {
        ""
    };
    (
        format!("clusters/{name}.yaml"),
        format!(
            "name: {name}\nprovider: aws\nregion: us-east-1\nenvironment: {environment}\n{tags}"
        ),
    )
}

fn service(name: &str, rollout: &str) -> (String, String) {
    (
        format!("services/{name}/service.yaml"),
        format!(
            "name: {name}\nowners: {{team: t}}\nchart: {{path: ../../charts/{name}}}\n\
             selector: 'true'\nrelease: {{name: {name}, namespace: {name}}}\n{rollout}"
        ),
    )
}

const DEFAULTS: &str = "environments: [{name: prod}]\nrollout:\n  canary: 'has(cluster.tags.canary)'\n  waves: [25%, 50%]\n  maxUnavailable: 50%\n  soak: 5m\n";

#[test]
fn the_fleet_defaults_make_waves_and_a_service_overrides_them() {
    let mut files = vec![
        ("fleet.yaml".to_owned(), DEFAULTS.to_owned()),
        service("api", ""),
        service(
            "web",
            "rollout: {waves: [1], soak: 1h, autoRollback: true, environments: [dev, prod]}\n",
        ),
    ];
    for i in 0..8 {
        files.push(cluster(&format!("p{i}"), "prod", i == 5));
    }
    files.push(cluster("d0", "dev", false));
    let c = compile(&fleet(files));
    assert!(
        c.diagnostics.diagnostics.is_empty(),
        "{}",
        c.diagnostics.render_text()
    );
    let shown: Vec<String> = c
        .plan
        .rollouts
        .iter()
        .map(|r| {
            let waves: Vec<String> = r
                .waves
                .iter()
                .map(|w| {
                    let names: Vec<&str> = w.clusters.iter().map(|c| &**c).collect();
                    format!("{}/{}:{}", w.name, w.max_unavailable, names.join(","))
                })
                .collect();
            format!(
                "{} {} soak={} rollback={} {}",
                r.service,
                r.environment,
                r.soak,
                r.auto_rollback,
                waves.join(" ")
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            "api dev soak=5m rollback=false 25%/0:d0",
            "api prod soak=5m rollback=false canary/0:p5 25%/1:p0,p1 50%/1:p2,p3 100%/1:p4,p6,p7",
            "web dev soak=1h rollback=true 1/0:d0",
            "web prod soak=1h rollback=true canary/0:p5 1/0:p0 100%/3:p1,p2,p3,p4,p6,p7",
        ]
    );
    let web: Vec<Vec<&str>> = c
        .plan
        .rollouts
        .iter()
        .map(|r| r.environments.iter().map(|e| &**e).collect())
        .collect();
    assert_eq!(
        web,
        vec![vec![], vec![], vec!["dev", "prod"], vec!["dev", "prod"]]
    );
    // The waves are part of the plan's text, and read back.
    let text = c.plan.to_yaml();
    assert!(
        text.contains("rollouts:\n  - service: api\n    environment: dev\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "    autoRollback: true\n    environments:\n      - dev\n      - prod\n    waves:\n"
        ),
        "{text}"
    );
    assert_eq!(compiler::Plan::from_yaml(&text).expect("a plan"), c.plan);
    // A service's digest does not move for the fleet's defaults.
    let api = &c.fleet.services[&ServiceName::new("api")];
    assert!(api.rollout.is_none());
}

#[test]
fn without_a_policy_the_plan_has_no_rollouts_and_keeps_its_bytes() {
    let c = compile(&fleet(vec![
        cluster("p0", "prod", false),
        service("api", "rollout: {deadline: 5m}\n"),
    ]));
    assert!(
        c.diagnostics.diagnostics.is_empty(),
        "{}",
        c.diagnostics.render_text()
    );
    assert!(c.plan.rollouts.is_empty());
    assert!(!c.plan.to_yaml().contains("rollouts"));
}

#[test]
fn a_wrong_policy_is_placed_in_its_file() {
    let c = compile(&fleet(vec![
        (
            "fleet.yaml".to_owned(),
            "environments: [{name: prod}]\nrollout:\n  canary: 'cluster.tags.canary == \"yes\"'\n  soak: a while\n".to_owned(),
        ),
        cluster("p0", "prod", true),
        cluster("p1", "prod", false),
        service("api", "rollout:\n  waves: [50%, 20%, 0]\n  maxUnavailable: most\n  autoRollback: sure\n  wave: [1]\n  environments: [dev, dev]\n"),
    ]));
    insta::assert_snapshot!(c.diagnostics.render_text());
}
