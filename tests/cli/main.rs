//! The `flotilla` binary, run as users run it: output, diagnostics on stderr, exit codes.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

mod agent;
mod auth;
mod dashboard;
mod diff;
mod feedback;
mod import;
mod plan;
mod plugin;
mod policy;
mod replicas;
mod review;
mod rollout;
mod secrets;
mod select;
mod serve;
mod simulate;
mod watch;

/// `flotilla` in the repository's root, with compiled plugins cached under the target folder.
fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("VAULT_ADDR")
        .env_remove("FLOTILLA_PRINCIPAL")
        .env_remove("FLOTILLA_GROUPS")
        .env("FLOTILLA_CACHE_DIR", cache_dir());
    command
}

/// Where the tests' flotilla processes cache compiled plugins (the compiler's tests use the
/// same folder), warmed once with the example fleet's plugins so that parallel tests do not
/// all compile them. Fails, saying how to build them, when they are not built.
fn cache_dir() -> &'static Path {
    static WARM: OnceLock<std::path::PathBuf> = OnceLock::new();
    WARM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("flotilla-cache");
        let fleet = Path::new(env!("CARGO_MANIFEST_DIR")).join(FLEET);
        for name in ["cidr-allocator", "region-endpoints"] {
            let wasm = fleet.join("plugins").join(format!("{name}.wasm"));
            assert!(
                wasm.is_file(),
                "the example fleet's plugin {} is missing: run\n\n    \
                 scripts/build-example-plugins.sh\n\n(scripts/test.sh does)",
                wasm.display()
            );
            let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("FLOTILLA_CACHE_DIR", &dir)
                .args(["plugin", "test", name, "--fleet", FLEET])
                .args(["--cluster", "aws-prod-use1", "--args", "10.0.0.0/8", "16"])
                .output()
                .expect("flotilla runs");
            assert!(
                out.status.code().is_some(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
}

fn flotilla(args: &[&str]) -> Output {
    command().args(args).output().expect("flotilla runs")
}

/// Exit code, stdout and stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = flotilla(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const FLEET: &str = "examples/fleet";
/// A principal the example fleet's RBAC policy lets deploy everything (`platform-admin`).
const ADMIN: &str = "group:platform";

#[test]
fn select_prints_sorted_cluster_names() {
    let (code, out, err) = run(&[
        "select",
        "--fleet",
        FLEET,
        r#"cluster.provider == "aws" && cluster.environment != "dev""#,
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "aws-prod-euw1\naws-prod-use1\naws-staging-use1\n");
}

#[test]
fn select_prints_json() {
    let (code, out, _) = run(&[
        "select",
        "--fleet",
        FLEET,
        "-o",
        "json",
        r#"cidr("172.16.0.0/12").containsIP(ip(cluster.metadata.podIP))"#,
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, "[\n  \"aws-dev-use2\",\n  \"azure-dev-westus2\"\n]\n");
}

#[test]
fn select_explains_each_clause() {
    let (code, out, _) = run(&[
        "select",
        "--fleet",
        FLEET,
        "--explain",
        r#"cluster.environment == "prod" && cluster.tags.tier == "edge""#,
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "aws-prod-use1: selected\n  true   cluster.environment == \"prod\"\n  true   cluster.tags.tier == \"edge\"\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "gcp-dev-euw1: not selected\n  false  cluster.environment == \"prod\"  <- decides\n"
        ),
        "{out}"
    );
}

#[test]
fn a_mistake_in_the_selector_is_a_diagnostic_and_exit_code_1() {
    let (code, out, err) = run(&[
        "select",
        "--fleet",
        FLEET,
        r#"cluster.regoin == "us-east-1""#,
    ]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "error[cel::unknown-field]: cluster has no field `regoin`\n  \
         ┌─ <selector>:1:9\n  │\n1 │ cluster.regoin == \"us-east-1\"\n  \
         │         ^^^^^^ unknown field\n  │\n  = help: did you mean `region`?\n\n"
    );
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(run(&["select", "--fleet", "no/such/fleet", "true"]).0, 2);
    assert_eq!(run(&["select", "--fleet", FLEET]).0, 2);
    assert_eq!(
        run(&["select", "--fleet", FLEET, "-o", "yaml", "true"]).0,
        2
    );
}
mod helm;
mod helm_fetch;
mod helm_flags;
