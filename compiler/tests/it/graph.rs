//! The dependency graph: waves by longest path, cycles named from their smallest member,
//! dependencies missing on a cluster.

use crate::support::{cluster, fleet, service};

/// Diagnostic codes and messages, then each cluster's waves.
fn run(files: Vec<(String, String)>) -> String {
    let c = crate::support::compile(&fleet(files));
    let mut out: Vec<String> = c
        .diagnostics
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    for (cluster, waves) in &c.waves {
        let shown: Vec<String> = waves
            .0
            .iter()
            .map(|w| w.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .collect();
        out.push(format!("{cluster}: {}", shown.join(" | ")));
    }
    out.join("\n")
}

fn check(files: Vec<(String, String)>, expect: &str) {
    assert_eq!(run(files), expect);
}

#[test]
fn waves_are_longest_paths_from_the_roots() {
    check(
        vec![
            cluster("c1", "prod"),
            service("a", "true", &[]),
            service("b", "true", &["a"]),
            service("c", "true", &["b"]),
            service("d", "true", &["a", "c"]),
            service("e", "true", &[]),
        ],
        "c1: a e | b | c | d",
    );
}

#[test]
fn a_diamond_installs_its_sides_in_parallel() {
    check(
        vec![
            cluster("c1", "prod"),
            service("base", "true", &[]),
            service("left", "true", &["base"]),
            service("right", "true", &["base"]),
            service("top", "true", &["left", "right"]),
        ],
        "c1: base | left right | top",
    );
}

#[test]
fn each_cluster_orders_only_what_it_runs() {
    check(
        vec![
            cluster("dev", "dev"),
            cluster("prod", "prod"),
            service("base", "true", &[]),
            service("cache", r#"cluster.environment == "prod""#, &["base"]),
            service("app", "true", &["base"]),
            service("api", r#"cluster.environment == "prod""#, &["cache", "app"]),
        ],
        "dev: base | app\nprod: base | app cache | api",
    );
}

#[test]
fn a_cycle_names_every_member_from_the_smallest() {
    check(
        vec![
            cluster("c1", "prod"),
            service("z", "true", &["y"]),
            service("y", "true", &["x"]),
            service("x", "true", &["z"]),
            service("w", "true", &[]),
        ],
        "graph::cycle: dependency cycle: `x` → `z` → `y` → `x`\nc1: w",
    );
}

#[test]
fn a_tangle_of_cycles_is_one_error() {
    check(
        vec![
            cluster("c1", "prod"),
            service("a", "true", &["b", "c"]),
            service("b", "true", &["a"]),
            service("c", "true", &["a", "d"]),
            service("d", "true", &["c"]),
        ],
        "graph::cycle: dependency cycle: `a` → `b` → `a` (the cycle joins `a`, `b`, `c`, `d`)\nc1: ",
    );
}

#[test]
fn a_dependency_missing_on_a_cluster_names_both_and_the_cluster() {
    check(
        vec![
            cluster("dev", "dev"),
            cluster("prod", "prod"),
            service("db", r#"cluster.environment == "prod""#, &[]),
            service("api", "true", &["db"]),
        ],
        "graph::dependency-not-selected: `api` depends on `db`, which is not selected on cluster `dev`\n\
         dev: api\nprod: db | api",
    );
}

#[test]
fn a_self_dependency_is_a_cycle() {
    check(
        vec![cluster("c1", "prod"), service("a", "true", &["a"])],
        "graph::cycle: dependency cycle: `a` → `a`\nc1: ",
    );
}

/// `service()` with lines added to its service file.
fn service_with(name: &str, deps: &[&str], extra: &str) -> (String, String) {
    let (path, text) = service(name, "true", deps);
    (path, format!("{text}{extra}"))
}

#[test]
fn bootstrap_services_and_what_they_need_come_before_every_other_service() {
    check(
        vec![
            cluster("c1", "prod"),
            service("app", "true", &[]),
            service("dns", "true", &[]),
            service_with("cni", &["dns"], "bootstrap: true\n"),
            service("web", "true", &["app"]),
        ],
        "c1: dns | cni | app | web",
    );
}

#[test]
fn a_rollout_deadline_is_read_and_a_bad_one_is_placed() {
    let c = crate::support::compile(&fleet(vec![
        cluster("c1", "prod"),
        service_with("a", &[], "rollout: {deadline: 90s}\n"),
        service_with("b", &[], "rollout: {deadline: soon}\n"),
        service_with("c", &[], "bootstrap: yes please\n"),
    ]));
    let a = &c.fleet.services[&compiler::model::ServiceName::new("a")];
    assert_eq!(a.rollout.as_ref().map(|r| r.deadline_secs), Some(90));
    let shown: Vec<String> = c
        .diagnostics
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(
        shown
            .iter()
            .any(|d| d == "service::invalid-deadline: `soon` is not a deadline"),
        "{shown:#?}"
    );
    assert!(
        shown
            .iter()
            .any(|d| d.starts_with("yaml::type") && d.contains("bootstrap")),
        "{shown:#?}"
    );
}
