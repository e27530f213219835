//! `flotilla helm template` with the flags of Helm 3.17's `helm template`, on the chart in
//! `tests/cli/helm_flags/`: for every case of `cases.tsv`, stdout and stderr are byte for byte
//! what the real helm 3.17.3 printed (`goldens/`, made by `regenerate.sh`; helm is not needed
//! to run the tests), and the exit code is the documented one (2 for usage mistakes, where
//! helm exits 1). Flags that need a cluster or the network are refused with a message naming
//! the flag.

use std::path::{Path, PathBuf};
use std::process::Command;

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/helm_flags")
}

/// `flotilla helm template ARGS...` from the fixture folder: exit code, stdout, stderr.
fn template(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .current_dir(folder())
        .args(["helm", "template"])
        .args(args)
        .output()
        .expect("flotilla runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn golden(name: &str, stream: &str) -> String {
    let path = folder().join("goldens").join(format!("{name}.{stream}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_case_prints_what_helm_printed() {
    let cases = std::fs::read_to_string(folder().join("cases.tsv")).expect("cases.tsv");
    let mut checked = 0;
    for line in cases
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let (name, code, args) = (fields[0], fields[1], &fields[2..]);
        let code: i32 = code.parse().expect("an exit code");
        let (got_code, out, err) = template(args);
        assert_eq!(out, golden(name, "stdout"), "{name}: stdout");
        if name.starts_with("debug-") {
            // Helm's debug lines carry Go source positions, timestamps and a stack trace:
            // the same lines without them, and the same error.
            let want = golden(name, "stderr");
            let error = want
                .lines()
                .find(|l| l.starts_with("Error: "))
                .expect("helm's error line");
            assert!(
                err.starts_with("[debug] Original chart version: \"\"\n[debug] CHART PATH: /"),
                "{name}: {err}"
            );
            assert!(err.ends_with(&format!("\n\n{error}\n")), "{name}: {err}");
        } else {
            assert_eq!(err, golden(name, "stderr"), "{name}: stderr");
        }
        assert_eq!(got_code, code, "{name}: exit code");
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} cases");
}

#[test]
fn flags_that_need_a_cluster_or_the_network_are_refused_by_name() {
    let mut all = String::new();
    for args in [
        &["fleet", "flags", "--validate"][..],
        &["fleet", "flags", "--dry-run=server"],
        &["fleet", "flags", "--enable-dns"],
        &["fleet", "flags", "--verify"],
        &["fleet", "needs-deps", "--dependency-update"],
        &[
            "web",
            "podinfo",
            "--repo",
            "https://charts.example.invalid",
            "--username",
            "me",
            "--password",
            "secret",
        ],
    ] {
        let (code, out, err) = template(args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        all.push_str(&format!(
            "$ flotilla helm template {}\n{err}",
            args.join(" ")
        ));
    }
    insta::assert_snapshot!("refused_flags", all);
}

#[test]
fn the_usage_line_is_helms_and_typos_get_the_right_suggestion() {
    let (code, out, _) = template(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Usage: flotilla helm template [NAME] [CHART] [flags]\n"),
        "{out}"
    );
    let (code, _, err) = template(&["fleet", "flags", "--skip-crd"]);
    assert_eq!(code, 2);
    assert!(err.contains("--skip-crds"), "{err}");
    assert!(!err.contains("--skip-tests"), "{err}");
}
