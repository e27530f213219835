//! Runs of the pipeline on small fleets on disk: what each choice of policies gives, refusals,
//! warnings kept in the plan, errors and their kinds, secrets masked.

use std::path::{Path, PathBuf};

use compiler::synthetic::{self, FleetConfig};
use pipeline::{
    CacheMode, Environment, ErrorKind, PipelineError, Policies, PrincipalSpec, Request, Status,
};

/// A synthetic fleet written to a temporary folder, with these extra files.
fn fleet(extra: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path().join("fleet");
    let files = synthetic::generate(FleetConfig {
        clusters: 6,
        services: 4,
        seed: 5,
    });
    synthetic::write(&files, &root).expect("written");
    for (path, text) in extra {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("created");
        std::fs::write(path, text).expect("written");
    }
    (dir, root)
}

fn env(root: &Path) -> Environment {
    let source = pipeline::SecretsChoice::Local(root.join("secrets"))
        .open()
        .expect("a source");
    Environment::new(root, CacheMode::Off, source)
}

fn run(root: &Path, policies: Policies) -> Result<pipeline::Outcome, PipelineError> {
    let env = env(root);
    pipeline::run(&Request {
        fleet: root,
        env: &env,
        policies: &policies,
        progress: None,
    })
}

const DENY_SERVICES: &str = "rules:\n  - name: no-services\n    match: 'object.kind == \"Service\"'\n    validate: 'false'\n    message: 'Service {{object.metadata.name}} is not allowed'\n    action: deny\n";

#[test]
fn a_clean_fleet_may_be_written() {
    let (_dir, root) = fleet(&[]);
    for policies in [
        Policies::None,
        Policies::ManifestRules,
        Policies::All(PrincipalSpec::default()),
    ] {
        let outcome = run(&root, policies.clone()).expect("ran");
        assert_eq!(outcome.status(), Status::Writable, "{policies:?}");
        let (plan, manifests, redactions) = outcome.writable().expect("writable");
        assert!(plan.release_count() > 0);
        assert!(!manifests.0.is_empty());
        assert!(redactions.is_empty());
        assert_eq!(outcome.findings, "");
        assert_eq!((outcome.has_rbac, outcome.rules), (false, 0));
    }
}

#[test]
fn deny_violations_refuse_the_plan() {
    let (_dir, root) = fleet(&[("policies/manifests.yaml", DENY_SERVICES)]);
    let outcome = run(&root, Policies::ManifestRules).expect("ran");
    assert_eq!(outcome.status(), Status::Refused);
    assert!(outcome.writable().is_none());
    let refusal = outcome.refusal.as_ref().expect("refused");
    assert!(refusal.deny_violations > 0);
    assert_eq!(refusal.denied_services, 0);
    assert_eq!(
        refusal.text,
        format!(
            "error: the fleet's policies refuse the plan: {} violations of rules with `action: deny`\n",
            refusal.deny_violations
        )
    );
    assert!(
        outcome.findings.contains("is not allowed"),
        "{}",
        outcome.findings
    );
    assert!(outcome.compilation.plan.warnings.is_empty());
    // Without policies, the same fleet may be written.
    assert_eq!(
        run(&root, Policies::None).expect("ran").status(),
        Status::Writable
    );
}

#[test]
fn warn_violations_stay_with_the_plan() {
    let rules = DENY_SERVICES.replace("action: deny", "action: warn");
    let (_dir, root) = fleet(&[("policies/manifests.yaml", &rules)]);
    let outcome = run(&root, Policies::ManifestRules).expect("ran");
    assert_eq!(outcome.status(), Status::Writable);
    assert_eq!(outcome.rules, 1);
    let warnings = &outcome.compilation.plan.warnings;
    assert!(!warnings.is_empty());
    assert!(warnings.iter().all(|w| &*w.rule == "no-services"));
    assert!(outcome.compilation.plan.to_yaml().contains("\nwarnings:\n"));
}

#[test]
fn broken_policy_files_are_diagnostics() {
    let (_dir, root) = fleet(&[("policies/manifests.yaml", "rules: [{name: x}]\n")]);
    let outcome = run(&root, Policies::ManifestRules).expect("ran");
    assert_eq!(outcome.status(), Status::Diagnostics);
    assert!(outcome.policy_diagnostics.has_errors());
    assert_eq!(outcome.findings, "");
}

#[test]
fn rbac_that_denies_by_default_needs_a_principal() {
    let rbac = "roles:\n  - name: admin\n    allow:\n      - actions: [deploy]\nbindings:\n  - role: admin\n    subjects: [\"group:ops\"]\n";
    let (_dir, root) = fleet(&[("policies/rbac.yaml", rbac)]);
    let err = run(&root, Policies::All(PrincipalSpec::default())).map(|_| ());
    let err = err.expect_err("a principal is required");
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(
        err.to_string().ends_with("policies/rbac.yaml denies what no rule allows: say who deploys with `--as user:NAME --groups GROUP,…` (or FLOTILLA_PRINCIPAL and FLOTILLA_GROUPS)"),
        "{err}"
    );
    // Someone the policy lets deploy.
    let ops = PrincipalSpec {
        subject: Some("user:ann".into()),
        groups: vec!["ops".into()],
    };
    let outcome = run(&root, Policies::All(ops)).expect("ran");
    assert_eq!(outcome.status(), Status::Writable);
    assert_eq!(
        outcome.principal.map(|p| p.to_string()).as_deref(),
        Some("user:ann")
    );
    // Someone it does not.
    let dev = PrincipalSpec {
        subject: Some("user:bob".into()),
        groups: vec![],
    };
    let outcome = run(&root, Policies::All(dev)).expect("ran");
    assert_eq!(outcome.status(), Status::Refused);
    let refusal = outcome.refusal.expect("refused");
    assert!(refusal.denied_services > 0 && refusal.denied_clusters > 0);
    assert!(
        refusal
            .text
            .starts_with("error: the fleet's policies refuse the plan: user:bob may not deploy"),
        "{}",
        refusal.text
    );
    assert!(refusal.text.contains("help: `flotilla auth can-i deploy"));
}

#[test]
fn a_folder_that_is_not_a_fleet_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let err = run(dir.path(), Policies::None)
        .map(|_| ())
        .expect_err("not a fleet");
    assert_eq!(err.kind(), ErrorKind::Usage);
    assert!(matches!(err, PipelineError::Fleet(_)));
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn secrets_are_masked_and_their_spans_kept() {
    let secret = "s3cr3t-value-for-tests";
    let service = "name: vaulted\nowners: {team: t}\nchart: {path: ../../charts/vaulted}\nselector: 'true'\nrelease: {name: vaulted, namespace: v}\nvalues: |\n  password: {{ vault \"secret/app\" \"password\" }}\n";
    let chart = "apiVersion: v2\nname: vaulted\nversion: 0.1.0\n";
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: vaulted\ndata:\n  password: {{ .Values.password | quote }}\n";
    let (_dir, root) = fleet(&[
        ("services/vaulted/service.yaml", service),
        ("charts/vaulted/Chart.yaml", chart),
        ("charts/vaulted/templates/cm.yaml", template),
        ("secrets/secret/app.yaml", &format!("password: {secret}\n")),
    ]);
    let outcome = run(&root, Policies::None).expect("ran");
    assert_eq!(
        outcome.compilation.diagnostics.render_text(),
        "",
        "the fleet compiles"
    );
    let (_, manifests, redactions) = outcome.writable().expect("writable");
    assert!(manifests.0.values().any(|m| m.contains(secret)));
    assert!(!redactions.is_empty());

    // A rule whose message quotes the secret: the findings show its digest.
    let rules = "rules:\n  - name: quoted\n    match: 'object.kind == \"ConfigMap\"'\n    validate: 'false'\n    message: 'value {{object.data.password}}'\n    action: warn\n";
    std::fs::create_dir_all(root.join("policies")).expect("created");
    std::fs::write(root.join("policies/manifests.yaml"), rules).expect("written");
    let outcome = run(&root, Policies::ManifestRules).expect("ran");
    assert_eq!(outcome.status(), Status::Writable);
    assert!(!outcome.findings.is_empty());
    assert!(!outcome.findings.contains(secret), "{}", outcome.findings);
    assert!(
        outcome.findings.contains("<secret sha256:"),
        "{}",
        outcome.findings
    );
    let plan = outcome.compilation.plan.to_yaml();
    assert!(!plan.contains(secret));
    assert!(plan.contains("<secret sha256:"));
}
