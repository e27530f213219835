//! The agent runs in every cluster: it depends on the plan's types and an HTTP client, never
//! on the compiler, the template engine, the policies or wasmtime. And the policy crate stays
//! free of the compiler and its runtime dependencies.

use std::process::Command;

fn normal_deps(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn crates(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn the_agent_holds_no_compiler() {
    let tree = normal_deps("agent");
    let names = crates(&tree);
    assert!(names.contains(&"plan"), "{tree}");
    for banned in [
        "compiler",
        "pipeline",
        "gotemplate",
        "helm",
        "policies",
        "secrets",
        "wasmtime",
        "runtime",
        "cel",
    ] {
        assert!(
            !names.contains(&banned),
            "the agent depends on {banned}:\n{tree}"
        );
    }
}

#[test]
fn the_policies_hold_no_compiler_nor_its_runtime() {
    let tree = normal_deps("policies");
    let names = crates(&tree);
    for banned in ["compiler", "wasmtime", "reqwest", "tokio"] {
        assert!(
            !names.contains(&banned),
            "policies depend on {banned}:\n{tree}"
        );
    }
}
