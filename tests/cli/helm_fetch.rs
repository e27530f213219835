//! `flotilla helm template` on charts that are not local: `--repo URL NAME`, `oci://…` and a
//! `.tgz` URL, served by a real HTTP server on 127.0.0.1 (`helm::testing::ChartServer`), cached
//! in a scratch `FLOTILLA_CHART_CACHE`; fetch failures exit with 3 and a hint.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use helm::fetch::sha256_hex;
use helm::testing::{Answer, ChartServer, index_yaml, package_chart};

/// A scratch chart cache, removed when dropped.
struct Cache(PathBuf);

impl Cache {
    fn new(test: &str) -> Cache {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flotilla-cli-fetch-{}-{}-{test}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Cache(dir)
    }

    /// `flotilla helm template ARGS...` with this cache: exit code, stdout, stderr.
    fn template(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .env("FLOTILLA_CHART_CACHE", &self.0)
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
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chart(version: &str) -> Vec<u8> {
    package_chart(
        "demo",
        version,
        &[(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\ndata:\n  version: {{ .Chart.Version | quote }}\n",
        )],
    )
}

fn expected(version: &str) -> String {
    format!(
        "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: apps\ndata:\n  version: \"{version}\"\n"
    )
}

/// A repository at `/repo` with demo 1.0.0 and 1.1.0 (digests in the index).
fn repository(server: &ChartServer) {
    let (a, b) = (chart("1.0.0"), chart("1.1.0"));
    let (da, db) = (sha256_hex(&a), sha256_hex(&b));
    server.route("/repo/demo-1.0.0.tgz", Answer::ok(a));
    server.route("/repo/demo-1.1.0.tgz", Answer::ok(b));
    server.route(
        "/repo/index.yaml",
        Answer::ok(index_yaml(&[
            ("demo", "1.0.0", "demo-1.0.0.tgz", Some(&da)),
            ("demo", "1.1.0", "demo-1.1.0.tgz", Some(&db)),
        ])),
    );
}

#[test]
fn repo_chart_renders_then_comes_from_the_cache_offline() {
    let server = ChartServer::start().unwrap();
    repository(&server);
    let cache = Cache::new("repo");
    let repo = format!("{}/repo", server.url());
    let args = [
        "web",
        "demo",
        "--repo",
        &repo,
        "--version",
        "1.0.0",
        "-n",
        "apps",
    ];
    assert_eq!(cache.template(&args), (0, expected("1.0.0"), String::new()));
    // Without a version: the latest.
    let (code, out, _) = cache.template(&["web", "demo", "--repo", &repo, "-n", "apps"]);
    assert_eq!((code, out), (0, expected("1.1.0")));

    drop(server);
    assert_eq!(cache.template(&args), (0, expected("1.0.0"), String::new()));
}

#[test]
fn fetch_failures_exit_with_3_and_a_hint() {
    let server = ChartServer::start().unwrap();
    repository(&server);
    let cache = Cache::new("failures");
    let repo = format!("{}/repo", server.url());

    let (code, out, err) = cache.template(&["demo", "--repo", &repo, "--version", "^2"]);
    assert_eq!((code, out.as_str()), (3, ""));
    assert_eq!(
        err,
        format!(
            "Error: chart \"demo\" version \"^2\" not found in {repo} repository\nhint: the repository has demo 1.1.0, 1.0.0\n"
        )
    );

    let (code, _, err) = cache.template(&["demo", "--repo", &format!("{repo}/nope")]);
    assert_eq!(code, 3);
    assert!(
        err.contains("/repo/nope/index.yaml : 404 Not Found\n"),
        "{err}"
    );

    server.route("/repo/demo-1.1.0.tgz", Answer::ok(chart("9.9.9")));
    let (code, _, err) = cache.template(&["demo", "--repo", &repo, "--version", "1.1.0"]);
    assert_eq!(code, 3);
    assert!(err.starts_with("Error: digest mismatch for "), "{err}");

    let url = server.url();
    drop(server);
    // A repository never fetched before: no index in the cache either.
    let (code, _, err) = cache.template(&["demo", "--repo", &format!("{url}/other")]);
    assert_eq!(code, 3);
    assert!(err.starts_with("Error: looks like"), "{err}");
    assert!(
        err.contains(&format!(
            "\nhint: offline? charts already fetched at an exact version are reused from {}\n",
            cache.0.display()
        )),
        "{err}"
    );
}

#[test]
fn oci_and_tgz_url_charts() {
    let server = ChartServer::start().unwrap();
    server.oci_chart(
        "charts/demo",
        "2.0.0",
        &chart("2.0.0"),
        Some("anonymous-token"),
    );
    server.route("/dl/demo-3.0.0.tgz", Answer::ok(chart("3.0.0")));
    let cache = Cache::new("oci");
    let reference = format!("oci://127.0.0.1:{}/charts/demo", server.port());
    let (code, out, err) = cache.template(&[
        "web",
        &reference,
        "--version",
        "2.0.0",
        "--plain-http",
        "-n",
        "apps",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, expected("2.0.0"));

    let url = format!("{}/dl/demo-3.0.0.tgz", server.url());
    assert_eq!(
        cache.template(&["web", &url, "-n", "apps"]),
        (0, expected("3.0.0"), String::new())
    );

    let (code, _, err) = cache.template(&[&reference, "--version", "7.0.0", "--plain-http"]);
    assert_eq!(code, 3);
    assert!(err.contains(":7.0.0: not found"), "{err}");
}

#[test]
fn repository_names_and_bad_references_are_usage_errors() {
    let cache = Cache::new("usage");
    let (code, _, err) = cache.template(&["bitnami/nginx"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("give the repository's URL with --repo URL"),
        "{err}"
    );
    let (code, _, err) = cache.template(&["oci://registry.example/Bad/Name"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("Error: invalid OCI reference"), "{err}");
}

/// `flotilla plan` on a fleet whose service names `chart: {repository, name, version}`.
fn plan(cache: &Cache, fleet: &std::path::Path, out: &std::path::Path) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env("FLOTILLA_CHART_CACHE", &cache.0)
        .args(["plan", "--no-cache", "--fleet"])
        .arg(fleet)
        .arg("--out")
        .arg(out)
        .output()
        .expect("flotilla runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write_fleet(root: &std::path::Path, repository: &str) {
    let write = |p: &str, text: String| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "clusters/a.yaml",
        "name: a\nprovider: aws\nregion: us-east-1\nenvironment: prod\n".into(),
    );
    write(
        "services/web/service.yaml",
        format!(
            "name: web\nowners: {{team: t}}\nchart: {{repository: {repository}, name: demo, version: 1.1.0}}\nselector: 'true'\nrelease: {{name: web, namespace: apps}}\n"
        ),
    );
}

#[test]
fn plan_fetches_repository_charts_and_replays_them_offline() {
    let server = ChartServer::start().unwrap();
    repository(&server);
    let cache = Cache::new("plan");
    let fleet = cache.0.with_extension("fleet");
    let _cleanup = Cache(fleet.clone());
    write_fleet(&fleet, &format!("{}/repo", server.url()));
    let (out1, out2) = (fleet.join("out1"), fleet.join("out2"));

    let (code, _, err) = plan(&cache, &fleet, &out1);
    assert_eq!((code, err.as_str()), (0, ""));
    let exported = fleet.join("export");
    let (code, _, err) = crate::run(&[
        "bundle",
        "export",
        "--bundle",
        &out1.to_string_lossy(),
        "--cluster",
        "a",
        "--out",
        &exported.to_string_lossy(),
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    let manifest = std::fs::read_to_string(exported.join("00-web.yaml")).unwrap();
    assert!(manifest.contains("version: \"1.1.0\""), "{manifest}");

    let url = server.url();
    drop(server);
    let (code, _, err) = plan(&cache, &fleet, &out2);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        std::fs::read(out1.join("plan.yaml")).unwrap(),
        std::fs::read(out2.join("plan.yaml")).unwrap()
    );

    // Another repository, never fetched, while the server is down: exit 3, nothing written.
    write_fleet(&fleet, &format!("{url}/other"));
    let out3 = fleet.join("out3");
    let (code, _, err) = plan(&cache, &fleet, &out3);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.starts_with(&format!(
            "error: cannot fetch chart demo 1.1.0 from {url}/other (named by services/web/service.yaml): "
        )),
        "{err}"
    );
    assert!(err.contains("  = hint: offline?"), "{err}");
    assert!(!out3.exists());
}
