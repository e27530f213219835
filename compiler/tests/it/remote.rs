//! Services whose chart comes from a repository (`chart: {repository, name, version}`): the
//! chart is fetched from a real HTTP server on 127.0.0.1 (a chart repository, and an OCI
//! registry for an `oci://` repository) into a scratch cache, added to the fleet's files, and
//! compiled like a local chart: pinned by name, version and digest, the same plan offline.

use std::path::PathBuf;
use std::sync::Arc;

use compiler::FleetFiles;
use compiler::remote::{self, RepositoryChart};
use helm::fetch::{ChartFetcher, sha256_hex};
use helm::testing::{Answer, ChartServer, index_yaml, package_chart};

fn archive(version: &str) -> Vec<u8> {
    package_chart(
        "web",
        version,
        &[
            ("values.yaml", "replicas: 1\n"),
            (
                "templates/deploy.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  chart: {{ .Chart.Version | quote }}\n",
            ),
        ],
    )
}

fn fleet(repository: &str) -> FleetFiles {
    FleetFiles::from_files([
        (
            "clusters/a.yaml",
            "name: a\nprovider: aws\nregion: us-east-1\nenvironment: prod\n".to_string(),
        ),
        (
            "services/web/service.yaml",
            format!(
                "name: web\nowners: {{team: t}}\nchart: {{repository: {repository}, name: web, version: 1.0.0}}\nselector: 'true'\nrelease: {{name: web, namespace: apps}}\nvalues: |\n  replicas: 3\n"
            ),
        ),
    ])
}

struct Cache(PathBuf);

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cache(test: &str) -> Cache {
    let dir = std::env::temp_dir().join(format!(
        "flotilla-compiler-remote-{}-{test}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Cache(dir)
}

/// Compiles `files`, returning the one release's chart pin and manifest.
fn compile_one(files: &FleetFiles) -> (String, String, String) {
    let compiled = compiler::compile(files);
    let (plan, manifests) = compiled
        .applicable()
        .unwrap_or_else(|| panic!("{}", compiled.diagnostics.render_text()));
    let release = &plan.clusters[0].releases[0];
    let manifest = manifests.get(&release.manifest).unwrap().to_string();
    (
        format!("{} {}", release.chart.name, release.chart.version),
        release.chart.digest.to_string(),
        manifest,
    )
}

#[test]
fn repository_charts_compile_and_compile_again_offline() {
    let server = ChartServer::start().unwrap();
    let chart = archive("1.0.0");
    server.route("/stable/web-1.0.0.tgz", Answer::ok(chart.clone()));
    server.route(
        "/stable/index.yaml",
        Answer::ok(index_yaml(&[(
            "web",
            "1.0.0",
            "web-1.0.0.tgz",
            Some(&sha256_hex(&chart)),
        )])),
    );
    let repo = format!("{}/stable", server.url());
    let cache = cache("repo");
    let fetcher = ChartFetcher::new(&cache.0);

    // Not fetched: a diagnostic, not a panic.
    let compiled = compiler::compile(&fleet(&repo));
    assert!(
        compiled
            .diagnostics
            .render_text()
            .contains("error[chart::unavailable]")
    );

    let mut files = fleet(&repo);
    let wanted = remote::repository_charts(&files);
    assert_eq!(
        wanted.keys().collect::<Vec<_>>(),
        [&RepositoryChart {
            repository: repo.clone(),
            name: "web".into(),
            version: "1.0.0".into()
        }]
    );
    remote::fetch_into(&mut files, &fetcher).unwrap();
    let (pin, digest, manifest) = compile_one(&files);
    assert_eq!(pin, "web 1.0.0");
    assert_eq!(
        manifest,
        "---\n# Source: web/templates/deploy.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  replicas: \"3\"\n  chart: \"1.0.0\"\n"
    );

    drop(server);
    let mut offline = fleet(&repo);
    remote::fetch_into(&mut offline, &fetcher).unwrap();
    assert_eq!(compile_one(&offline), (pin, digest, manifest));
}

#[test]
fn oci_repository_charts_and_fetch_failures() {
    let server = ChartServer::start().unwrap();
    server.oci_chart("charts/web", "1.0.0", &archive("1.0.0"), None);
    let cache = cache("oci");
    let fetcher = ChartFetcher::new(&cache.0).plain_http(true);
    let mut files = fleet(&format!("oci://127.0.0.1:{}/charts", server.port()));
    remote::fetch_into(&mut files, &fetcher).unwrap();
    assert_eq!(compile_one(&files).0, "web 1.0.0");

    let mut missing = fleet(&format!("oci://127.0.0.1:{}/elsewhere", server.port()));
    let e = remote::fetch_into(&mut missing, &fetcher).unwrap_err();
    assert!(e.remote);
    assert_eq!(e.services, ["services/web/service.yaml"]);
    assert!(
        e.to_string().starts_with(&format!(
            "cannot fetch chart web 1.0.0 from oci://127.0.0.1:{}/elsewhere (named by services/web/service.yaml): ",
            server.port()
        )),
        "{e}"
    );
}

/// A template of a repository chart that fails is shown at its path inside the chart (as
/// `<name>-<version>/…`), with the service's `chart:` entry as context.
#[test]
fn template_errors_of_repository_charts_name_the_file_inside_the_chart() {
    let repository = "https://charts.example.com/stable";
    let mut files = fleet(repository);
    let dir = RepositoryChart {
        repository: repository.into(),
        name: "web".into(),
        version: "1.0.0".into(),
    }
    .dir();
    for (path, text) in [
        ("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
        (
            "templates/deploy.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  host: {{ .Values.ingress.host }}\n",
        ),
    ] {
        files
            .blobs
            .insert(format!("{dir}/{path}"), Arc::from(text.as_bytes()));
    }
    let compiled = compiler::compile(&files);
    insta::assert_snapshot!(compiled.diagnostics.render_text());
}
