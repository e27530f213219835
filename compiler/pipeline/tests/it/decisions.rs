//! Allow/deny decisions, as a table: who, what, where, and which role and rule decided.

use policies::rbac::DecidedBy;
use policies::{Action, Policies, Principal, Service};
use syntax::diag::Diags;
use syntax::model::Fleet;

use crate::support::{crate_dir, read_tree};

fn fixture() -> (Fleet, Policies) {
    let files = read_tree(&crate_dir().join("tests/cases/decisions"));
    let mut diags = Diags::new(&files);
    let fleet = compiler::load::load(&files, &mut diags);
    let policies = policies::load_into(&files, &mut diags);
    let report = diags.finish();
    assert!(!report.has_errors(), "{}", report.render_text());
    (fleet, policies)
}

/// `request` is `SUBJECT[+group,group] ACTION [SERVICE] [@CLUSTER]`; `expect` is
/// `allow ROLE#RULE` or `deny`, then optionally `: ` and a part of the reason.
fn check(fleet: &Fleet, policies: &Policies, request: &str, expect: &str) {
    let mut words = request.split_whitespace();
    let who = words.next().expect("a subject");
    let (subject, groups) = match who.split_once('+') {
        Some((s, g)) => (s, g.split(',').map(str::to_owned).collect::<Vec<_>>()),
        None => (who, Vec::new()),
    };
    let principal = Principal::parse(subject, &groups).expect("a valid subject");
    let action: Action = words.next().expect("an action").parse().expect("an action");
    let mut service = Service::named("");
    let mut cluster = None;
    for w in words {
        match w.strip_prefix('@') {
            Some(c) => cluster = Some(fleet.clusters.get(c).expect("a fixture cluster")),
            None => {
                service = fleet
                    .services
                    .get(w)
                    .map_or_else(|| Service::named(w), Service::from)
            }
        }
    }
    let d = policies.allowed(&principal, action, &service, cluster);
    let head = match &d.by {
        DecidedBy::Rule { role, rule, .. } => format!("allow {role}#{rule}"),
        DecidedBy::Default { .. } if d.allowed => "allow (default)".to_owned(),
        DecidedBy::Default { .. } => "deny".to_owned(),
        DecidedBy::NoPolicy => "allow (no policy)".to_owned(),
    };
    let (want_head, want_reason) = match expect.split_once(": ") {
        Some((h, r)) => (h, Some(r)),
        None => (expect, None),
    };
    assert_eq!(head, want_head, "{request}: {}", d.reason);
    if let Some(r) = want_reason {
        assert!(
            d.reason.contains(r),
            "{request}: {:?} lacks {r:?}",
            d.reason
        );
    }
}

#[test]
fn decisions() {
    let (fleet, p) = fixture();
    let rows: &[(&str, &str)] = &[
        // Bindings by user and by group.
        (
            "user:alice deploy payments-api @dev-aws",
            "allow payments-deployer#1",
        ),
        (
            "user:alice deploy payments-api @stage-aws",
            "allow payments-deployer#1",
        ),
        (
            "user:alice deploy payments-api @prod-aws",
            "deny: role `payments-deployer` (rule 1) allows `deploy` of `payments-api` only when",
        ),
        (
            "user:alice+payments-oncall deploy payments-api @prod-aws",
            "allow payments-deployer#1",
        ),
        (
            "user:bob+payments deploy payments-api @dev-aws",
            "allow payments-deployer#1",
        ),
        (
            "user:bob+payments,payments-oncall deploy payments-api @prod-aws",
            "allow payments-deployer#1",
        ),
        // The second binding of the same role is used too.
        (
            "user:carol deploy payments-api @dev-aws",
            "allow payments-deployer#1",
        ),
        // Globs on clusters and services.
        (
            "user:alice deploy payments-api @prod-gcp",
            "deny: no role bound to `user:alice` allows `deploy` of `payments-api`",
        ),
        (
            "user:alice deploy search-api @dev-aws",
            "deny: no role bound to `user:alice` allows",
        ),
        // Owners: `service.team in principal.groups`.
        ("user:dan+search publish search-api", "allow owner#1"),
        ("user:dan+search read search-api", "allow owner#1"),
        (
            "user:dan+search deploy search-api @dev-aws",
            "allow owner#2",
        ),
        (
            "user:dan+search deploy search-api @stage-aws",
            "allow owner#2",
        ),
        (
            "user:dan+search deploy search-api @prod-aws",
            "deny: role `owner` (rule 2)",
        ),
        (
            "user:dan+search publish payments-api",
            "deny: role `owner` (rule 1) allows `publish` of `payments-api` only when",
        ),
        (
            "user:dan+search publish new-service",
            "deny: role `owner` (rule 1)",
        ),
        (
            "user:erin+platform deploy ingress @dev-aws",
            "allow owner#2",
        ),
        ("user:erin+platform deploy ingress @prod-gcp", "deny"),
        // Payments owners may publish payments, and deploy through payments-deployer.
        ("user:bob+payments publish payments-api", "allow owner#1"),
        // Nothing bound: default deny.
        (
            "user:mallory deploy ingress @dev-aws",
            "deny: no role is bound to `user:mallory`; the default is deny",
        ),
        (
            "user:mallory read ingress",
            "deny: no role is bound to `user:mallory`",
        ),
        (
            "group:nobody read ingress",
            "deny: no role is bound to `group:nobody`",
        ),
        // A user named like a group is not the group.
        ("user:payments deploy payments-api @dev-aws", "deny"),
        // A group acting as itself.
        (
            "group:payments deploy payments-api @dev-aws",
            "allow payments-deployer#1",
        ),
        ("group:ci publish ingress", "allow ci#1"),
        ("group:ci publish metrics", "allow ci#1"),
        (
            "group:ci publish search-api",
            "deny: no role bound to `group:ci` allows `publish` of `search-api`",
        ),
        ("group:ci read search-api", "allow ci#2"),
        ("user:bot+ci publish ingress", "allow ci#1"),
        // Admin: no conditions, every action, with or without service and cluster.
        ("user:root manage-clusters @prod-gcp", "allow admin#1"),
        ("user:root manage-clusters", "allow admin#1"),
        ("user:root deploy payments-api @prod-aws", "allow admin#1"),
        ("user:root publish anything", "allow admin#1"),
        // Actions a rule does not list.
        ("user:alice manage-clusters @dev-aws", "deny"),
        ("user:alice read payments-api", "deny"),
        ("user:dan+search manage-clusters", "deny"),
        // CEL on tags and principal kind; `clusters` globs without a cluster.
        (
            "user:ann+audit read payments-api @prod-aws",
            "allow pci-auditor#1",
        ),
        (
            "user:ann+audit read payments-api @prod-gcp",
            "deny: role `pci-auditor` (rule 1) allows `read` of `payments-api` only when",
        ),
        (
            "user:ann+audit read payments-api @dev-aws",
            "deny: no role bound to `user:ann` allows",
        ),
        ("user:ann+audit read payments-api", "deny"),
        (
            "group:audit read payments-api @prod-aws",
            "deny: role `pci-auditor` (rule 1)",
        ),
        // A `when` that fails (missing metadata) allows nothing, and says why.
        (
            "user:sam+sre deploy ingress @prod-gcp",
            "allow freeze-breaker#1",
        ),
        (
            "user:sam+sre deploy ingress @prod-aws",
            "deny: role `freeze-breaker` (rule 1) allows `deploy` of `ingress` only when",
        ),
        (
            "user:sam+sre deploy ingress @dev-aws",
            "deny: the `when` of role `freeze-breaker` (rule 1) failed: no such key: freeze",
        ),
        (
            "user:sam+sre deploy ingress",
            "deny: the `when` of role `freeze-breaker` (rule 1) failed: it reads `cluster`, and the request names no cluster",
        ),
        // Role order: freeze-breaker is tried before admin; first allowing rule wins.
        (
            "user:root+sre deploy ingress @prod-gcp",
            "allow freeze-breaker#1",
        ),
        ("user:root+sre deploy ingress @dev-aws", "allow admin#1"),
    ];
    for (request, expect) in rows {
        check(&fleet, &p, request, expect);
    }
}

#[test]
fn no_policy_allows_everything_and_default_allow_is_honoured() {
    let files = syntax::FleetFiles::from_files([(
        "policies/rbac.yaml",
        "roles: [{name: r, allow: [{actions: [read]}]}]\nbindings: [{role: r, subjects: [\"user:a\"]}]\ndefault: allow\n",
    )]);
    let loaded = policies::load(&files);
    assert!(loaded.diagnostics.diagnostics.is_empty());
    let fleet = Fleet::default();
    check(&fleet, &loaded.policies, "user:a read x", "allow r#1");
    check(
        &fleet,
        &loaded.policies,
        "user:b deploy x",
        "allow (default): no role is bound to `user:b`; the default is allow",
    );
    let none = Policies::default();
    check(&fleet, &none, "user:b deploy x", "allow (no policy)");
}

/// `check_deployments` (which binds values once and shares decisions between clusters that
/// agree on what the rules read) says what deciding each request alone says.
#[test]
fn check_deployments_agrees_with_single_decisions() {
    let (fleet, p) = fixture();
    let selection = syntax::model::Selection {
        clusters: fleet
            .clusters
            .keys()
            .map(|c| (c.clone(), fleet.services.keys().cloned().collect()))
            .collect(),
    };
    for (subject, groups) in [
        ("user:alice", vec![]),
        ("user:bob", vec!["payments".to_owned()]),
        (
            "user:dan",
            vec!["search".to_owned(), "payments-oncall".to_owned()],
        ),
        ("user:sam", vec!["sre".to_owned()]),
        ("user:root", vec![]),
        ("group:ci", vec![]),
    ] {
        let principal = Principal::parse(subject, &groups).expect("a subject");
        let mut expect: Vec<String> = Vec::new();
        for (cluster, services) in &selection.clusters {
            for s in services {
                let service = Service::from(&fleet.services[s]);
                let d = p.allowed(
                    &principal,
                    Action::Deploy,
                    &service,
                    fleet.clusters.get(cluster),
                );
                if !d.allowed {
                    expect.push(format!("{s} {cluster}: {}", d.reason));
                }
            }
        }
        expect.sort();
        let mut got: Vec<String> = policies::check_deployments(&p, &principal, &fleet, &selection)
            .iter()
            .flat_map(|d| {
                d.clusters
                    .iter()
                    .map(move |c| format!("{} {c}: {}", d.service, d.reason))
            })
            .collect();
        got.sort();
        assert_eq!(got, expect, "{subject}");
    }
}
