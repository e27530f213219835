//! `flotilla plan`, `flotilla review` and `flotilla dev` run as users run them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{ADMIN, FLEET, run};

/// A temporary folder, removed on drop.
pub(crate) struct Temp(pub(crate) PathBuf);

impl Temp {
    pub(crate) fn new() -> Temp {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flotilla-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        Temp(dir)
    }

    pub(crate) fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("created");
    for entry in std::fs::read_dir(from).expect("listed").flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == ".flotilla" {
            continue;
        }
        if path.is_dir() {
            copy_dir(&path, &to.join(name));
        } else {
            std::fs::copy(&path, to.join(name)).expect("copied");
        }
    }
}

/// The example fleet, copied into a temporary folder (so caches and accepted plans land there).
pub(crate) fn example_copy(t: &Temp) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(FLEET);
    copy_dir(&root, &t.0.join("fleet"));
    t.path("fleet")
}

/// Every file under `dir` with its bytes, sorted.
pub(crate) fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{rel}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.push((name, std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out
}

#[test]
fn plan_writes_the_bundle() {
    let t = Temp::new();
    let out = t.path("plan");
    let (code, stdout, err) = run(&[
        "plan",
        "--fleet",
        FLEET,
        "--out",
        &out,
        "--no-cache",
        "--as",
        ADMIN,
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!("wrote {out}: 12 clusters, 48 releases, 48 distinct manifests\n")
    );
    let files = tree(Path::new(&out));
    // plan.yaml, redactions.json, the 48 manifests once each, an index per cluster.
    assert_eq!(files.len(), 2 + 48 + 12);
    assert_eq!(
        files
            .iter()
            .filter(|(n, _)| n.starts_with("objects/sha256/"))
            .count(),
        48
    );
    let index = files
        .iter()
        .find(|(n, _)| n == "clusters/gcp-prod-usc1.yaml")
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .unwrap_or_default();
    assert!(
        index.starts_with("apiVersion: flotilla.dev/v1alpha1\nkind: ClusterIndex\ncluster: gcp-prod-usc1\ndigest: sha256:"),
        "{index}"
    );
    assert!(
        index.contains("  - release: search\n    service: search-api\n    wave: 2\n"),
        "{index}"
    );
    let snapshot = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/example-plan.snap"),
    )
    .unwrap_or_default();
    let plan = std::fs::read_to_string(Path::new(&out).join("plan.yaml")).unwrap_or_default();
    assert_eq!(
        snapshot.splitn(3, "---\n").nth(2).unwrap_or("").trim_end(),
        plan.trim_end()
    );
}

#[test]
fn plan_gives_the_same_bytes_on_one_thread_or_many() {
    let t = Temp::new();
    let mut trees = Vec::new();
    for threads in ["1", "4"] {
        let out = t.path(&format!("plan-{threads}"));
        let status = super::command()
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "plan",
                "--fleet",
                FLEET,
                "--out",
                &out,
                "--no-cache",
                "--as",
                ADMIN,
            ])
            .output()
            .expect("flotilla runs");
        assert!(status.status.success());
        trees.push(tree(Path::new(&out)));
    }
    assert!(trees[0] == trees[1]);
}

#[test]
fn a_broken_fleet_writes_nothing_and_keeps_the_old_plan() {
    let t = Temp::new();
    let fleet = example_copy(&t);
    let out = t.path("plan");
    assert_eq!(
        run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]).0,
        0
    );
    let before = tree(Path::new(&out));

    let service = Path::new(&fleet).join("services/ingress/service.yaml");
    let text = std::fs::read_to_string(&service).unwrap_or_default();
    std::fs::write(
        &service,
        text.replace(
            "replicaCount:",
            "replicaCount: {{ .Cluster.metadata.nope.x }}",
        ),
    )
    .expect("written");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        err.contains("error[template::exec]: the values of `ingress` failed on clusters"),
        "{err}"
    );
    assert!(err.contains("services/ingress/service.yaml:"), "{err}");
    assert!(tree(Path::new(&out)) == before);
    // No staging folder is left beside the plan.
    let names: Vec<String> = std::fs::read_dir(&t.0)
        .expect("listed")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["fleet", "plan"]);

    // Nothing is created either when there was no plan.
    let fresh = t.path("fresh");
    assert_eq!(
        run(&["plan", "--fleet", &fleet, "--out", &fresh, "--as", ADMIN]).0,
        1
    );
    assert!(!Path::new(&fresh).exists());
}

/// A chart template that fails on some clusters is reported in the chart's file, at the line
/// and column of the failing action, naming the service, the clusters and the values.
#[test]
fn chart_template_errors_point_into_the_chart() {
    let t = Temp::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/fleets/shop");
    let fleet = t.0.join("fleet");
    copy_dir(&root, &fleet);
    // The chart now requires a port, which `web` sets in prod only and `worker` never does.
    let template = fleet.join("charts/app/templates/deployment.yaml");
    let text = std::fs::read_to_string(&template).unwrap_or_default();
    std::fs::write(
        &template,
        text.replace(
            "          image: {{ .Values.image }}\n",
            "          image: {{ .Values.image }}\n          ports: [{containerPort: {{ required \"a port is required\" .Values.port }}}]\n",
        ),
    )
    .expect("written");
    let service = fleet.join("services/web/service.yaml");
    let text = std::fs::read_to_string(&service).unwrap_or_default();
    std::fs::write(
        &service,
        format!("{text}  {{{{- if eq .Cluster.environment \"prod\" }}}}\n  port: 8080\n  {{{{- end }}}}\n"),
    )
    .expect("written");

    let out = t.path("plan");
    let fleet = t.path("fleet");
    let (code, stdout, err) = run(&[
        "plan",
        "--fleet",
        &fleet,
        "--out",
        &out,
        "--as",
        ADMIN,
        "--no-cache",
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(!Path::new(&out).exists());
    insta::assert_snapshot!("chart_template_error", err.replace(&t.path(""), "[TMP]/"));
}

#[test]
fn plan_usage_errors_exit_with_2() {
    let t = Temp::new();
    assert_eq!(
        run(&["plan", "--fleet", "no/such/fleet", "--out", &t.path("p")]).0,
        2
    );
    assert_eq!(run(&["plan", "--fleet", FLEET]).0, 2);
    // A folder that is not a plan bundle is not replaced.
    std::fs::write(t.0.join("notes.txt"), "mine").expect("written");
    let (code, _, err) = run(&[
        "plan",
        "--fleet",
        FLEET,
        "--out",
        &t.path(""),
        "--no-cache",
        "--as",
        ADMIN,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("it is not a plan bundle"), "{err}");
}

#[test]
fn review_accepts_rejects_and_checks() {
    let t = Temp::new();
    let fleet = example_copy(&t);
    let review = |flag: &str| run(&["review", "--fleet", &fleet, flag]);

    // Nothing accepted yet: everything is new.
    let (code, out, _) = review("--check");
    assert_eq!(code, 1);
    assert!(
        out.ends_with("48 releases added, 0 removed, 0 changed, on 12 clusters\n"),
        "{out}"
    );
    let (code, out, _) = review("--accept");
    assert_eq!(code, 0);
    assert!(
        out.ends_with(&format!("accepted: {fleet}/.flotilla/accepted\n")),
        "{out}"
    );
    let (code, out, _) = review("--check");
    assert_eq!(
        (code, out.as_str()),
        (0, "no changes: the plan is the accepted one\n")
    );

    // A change: shown, rejected (the accepted plan stays), then accepted.
    let service = Path::new(&fleet).join("services/cert-manager/service.yaml");
    let text = std::fs::read_to_string(&service).unwrap_or_default();
    std::fs::write(&service, text.replace("3{{ else }}1", "5{{ else }}1")).expect("written");
    let (code, out, _) = review("--check");
    assert_eq!(code, 1);
    assert!(out.contains("~ cert-manager on "), "{out}");
    assert!(
        out.contains("    -  replicas: 3\n    +  replicas: 5\n"),
        "{out}"
    );
    let accepted = tree(&Path::new(&fleet).join(".flotilla/accepted"));
    let (code, out, _) = review("--reject");
    assert_eq!(code, 0);
    assert!(
        out.contains("rejected: the accepted plan is unchanged"),
        "{out}"
    );
    let mut after = tree(&Path::new(&fleet).join(".flotilla/accepted"));
    after.retain(|(name, _)| name != "rejected.json");
    assert!(after == accepted);
    assert_eq!(review("--accept").0, 0);
    assert_eq!(review("--check").0, 0);
    // Without a decision and without a terminal, nothing is accepted.
    std::fs::write(&service, text).expect("written");
    let (code, out, _) = run(&["review", "--fleet", &fleet]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with(
            "not accepted: run with --accept [SERVICE…] to accept, --check to fail on changes\n"
        ),
        "{out}"
    );
    assert_eq!(review("--check").0, 1);
    // Two decisions are a usage error.
    assert_eq!(
        run(&["review", "--fleet", &fleet, "--accept", "--reject"]).0,
        2
    );
}

#[test]
fn dev_gen_fleet_writes_a_fleet_that_compiles() {
    let t = Temp::new();
    let (a, b) = (t.path("a"), t.path("b"));
    for out in [&a, &b] {
        let (code, stdout, _) = run(&[
            "dev",
            "gen-fleet",
            "--clusters",
            "30",
            "--services",
            "12",
            "--out",
            out,
        ]);
        assert_eq!(code, 0);
        assert_eq!(stdout, format!("wrote {out}: 30 clusters, 12 services\n"));
    }
    assert!(tree(Path::new(&a)) == tree(Path::new(&b)));
    let (code, stdout, err) = run(&["plan", "--fleet", &a, "--out", &t.path("plan")]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(stdout.contains(": 30 clusters, "), "{stdout}");
    // An existing folder is not overwritten.
    assert_eq!(
        run(&[
            "dev",
            "gen-fleet",
            "--clusters",
            "1",
            "--services",
            "1",
            "--out",
            &a
        ])
        .0,
        2
    );
    let (code, stdout, _) = run(&["dev", "compile", "--fleet", &a]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("compiled in "), "{stdout}");
}

#[test]
fn bundle_export_writes_one_clusters_manifests() {
    let t = Temp::new();
    let out = t.path("plan");
    let (code, _, err) = run(&[
        "plan",
        "--fleet",
        FLEET,
        "--out",
        &out,
        "--no-cache",
        "--as",
        ADMIN,
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    let exported = t.path("export");
    let export = |cluster: &str| {
        run(&[
            "bundle",
            "export",
            "--bundle",
            &out,
            "--cluster",
            cluster,
            "--out",
            &exported,
        ])
    };
    let (code, stdout, err) = export("gcp-prod-usc1");
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        stdout.starts_with(&format!(
            "wrote {exported}: 5 manifests of cluster gcp-prod-usc1 (bundle sha256:"
        )),
        "{stdout}"
    );
    let files = tree(Path::new(&exported));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "00-cert-manager.yaml",
            "00-external-dns.yaml",
            "01-ingress.yaml",
            "01-metrics-agent.yaml",
            "02-search.yaml"
        ]
    );
    // Each file is the object the cluster's index names.
    for (_, bytes) in &files {
        let digest = plan::Digest::of(bytes);
        let object = Path::new(&out).join(format!("objects/sha256/{}", digest.hex()));
        assert_eq!(std::fs::read(object).ok().as_ref(), Some(bytes));
    }
    // Again, over the earlier export: replaced.
    assert_eq!(export("aws-dev-use2").0, 0);
    assert!(!Path::new(&exported).join("02-search.yaml").exists());

    // A cluster the bundle does not have.
    let (code, stdout, err) = export("gcp-prod-usc2");
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        err,
        "error: the bundle has no cluster `gcp-prod-usc2`: did you mean `gcp-prod-usc1`?\n"
    );
    // Not a bundle.
    let (code, _, err) = run(&[
        "bundle",
        "export",
        "--bundle",
        FLEET,
        "--cluster",
        "a",
        "--out",
        &exported,
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("error: {FLEET} is not a plan bundle: it has no plan.yaml\n")
    );
}

#[test]
fn a_panic_is_reported_as_a_bug() {
    let (code, stdout, err) = run(&["dev", "panic"]);
    assert_eq!((code, stdout.as_str()), (101, ""));
    let mut lines = err.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with(
            "error: flotilla panicked: a panic asked for by `flotilla dev panic` at src/commands/dev.rs:"
        ),
        "{err}"
    );
    assert_eq!(
        lines.next(),
        Some(
            "note: this is a bug in flotilla, please report it with the command you ran (and `flotilla --version`)"
        )
    );
    assert_eq!(lines.next(), None, "{err}");
    // The subcommand is not in the help.
    let (_, help, _) = run(&["dev", "--help"]);
    assert!(
        help.contains("gen-fleet") && !help.contains("panic"),
        "{help}"
    );
}
