//! Charts fetched from a chart repository, an OCI registry and a URL, served by a real HTTP
//! server on 127.0.0.1 (`helm::testing::ChartServer`), into a scratch cache; each fetched
//! archive is rendered to prove it is the chart that was served.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use helm::action::{self, TemplateOptions, ValueOptions};
use helm::fetch::{ChartFetcher, ChartSource, FetchErrorKind, sha256_hex};
use helm::testing::{Answer, ChartServer, index_yaml, package_chart};

/// A scratch cache folder, removed when dropped.
struct Cache(PathBuf);

impl Cache {
    fn new(test: &str) -> Cache {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flotilla-fetch-{}-{}-{test}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Cache(dir)
    }

    fn fetcher(&self) -> ChartFetcher {
        ChartFetcher::new(&self.0)
    }

    /// Files left under the cache whose name says they were never finished.
    fn temp_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.0.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if e.file_name().to_string_lossy().starts_with(".tmp") {
                    out.push(p.display().to_string());
                }
            }
        }
        out
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A chart whose output names its version.
fn chart(version: &str) -> Vec<u8> {
    package_chart(
        "demo",
        version,
        &[
            ("values.yaml", "greeting: hello\n"),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting }}\n",
            ),
        ],
    )
}

/// What `helm template demo ARCHIVE` prints for [`chart`].
fn rendered(archive: &std::path::Path) -> String {
    let opts = TemplateOptions {
        release_name: "demo".into(),
        ..TemplateOptions::default()
    };
    let path = archive.to_str().unwrap();
    action::run(path, &ValueOptions::default(), &opts)
        .unwrap()
        .stdout
}

fn expected(version: &str) -> String {
    format!(
        "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  version: \"{version}\"\n  greeting: hello\n"
    )
}

/// A repository with demo 1.0.0, 1.2.0, 1.10.0 and 2.0.0-rc.1 (digests given for all but
/// 1.0.0, whose archive is served from another folder through an absolute URL).
fn repository(server: &ChartServer) {
    let mut entries = Vec::new();
    let versions = ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"];
    let mut owned = Vec::new();
    for v in versions {
        let archive = chart(v);
        let digest = sha256_hex(&archive);
        let url = if v == "1.0.0" {
            format!("{}/elsewhere/demo-{v}.tgz", server.url())
        } else {
            format!("charts/demo-{v}.tgz")
        };
        let path = if v == "1.0.0" {
            format!("/elsewhere/demo-{v}.tgz")
        } else {
            format!("/repo/charts/demo-{v}.tgz")
        };
        server.route(&path, Answer::ok(archive));
        owned.push((v, url, (v != "1.0.0").then_some(digest)));
    }
    for (v, url, digest) in &owned {
        entries.push(("demo", *v, url.as_str(), digest.as_deref()));
    }
    server.route("/repo/index.yaml", Answer::ok(index_yaml(&entries)));
}

fn repo_source(server: &ChartServer, version: &str) -> ChartSource {
    ChartSource::Repository {
        url: format!("{}/repo", server.url()),
        name: "demo".into(),
        version: version.into(),
    }
}

#[test]
fn repository_exact_version_then_cache_without_the_server() {
    let server = ChartServer::start().unwrap();
    repository(&server);
    let cache = Cache::new("exact");
    let fetched = cache
        .fetcher()
        .fetch(&repo_source(&server, "1.2.0"))
        .unwrap();
    assert!(!fetched.cached);
    assert_eq!(fetched.version.as_deref(), Some("1.2.0"));
    assert_eq!(fetched.digest, sha256_hex(&chart("1.2.0")));
    assert!(fetched.path.starts_with(&cache.0));
    assert_eq!(rendered(&fetched.path), expected("1.2.0"));
    assert_eq!(
        server.requests(),
        ["/repo/index.yaml", "/repo/charts/demo-1.2.0.tgz"]
    );

    // The server gone, the exact version comes from the cache.
    let url = server.url();
    drop(server);
    let source = ChartSource::Repository {
        url: format!("{url}/repo"),
        name: "demo".into(),
        version: "1.2.0".into(),
    };
    let again = cache.fetcher().fetch(&source).unwrap();
    assert!(again.cached);
    assert_eq!(again.path, fetched.path);
    // A range, offline, is resolved against the last index fetched.
    let range = ChartSource::Repository {
        url: format!("{url}/repo"),
        name: "demo".into(),
        version: "~1.2".into(),
    };
    let offline = cache.fetcher().fetch(&range).unwrap();
    assert_eq!(offline.version.as_deref(), Some("1.2.0"));
    assert!(offline.warning.unwrap().contains("cannot be reached"));
    assert!(cache.temp_files().is_empty());
}

#[test]
fn repository_ranges_pick_the_highest_stable_match() {
    let server = ChartServer::start().unwrap();
    repository(&server);
    let cache = Cache::new("range");
    let f = cache.fetcher();
    let pick = |v: &str| f.fetch(&repo_source(&server, v)).unwrap();
    assert_eq!(pick("").version.as_deref(), Some("1.10.0"));
    assert_eq!(pick("^1.0.0").version.as_deref(), Some("1.10.0"));
    assert_eq!(pick("~1.2").version.as_deref(), Some("1.2.0"));
    assert_eq!(pick(">0.0.0-0").version.as_deref(), Some("2.0.0-rc.1"));
    // An absolute URL in the index; no digest to check.
    let one = pick("1.0.0");
    assert_eq!(rendered(&one.path), expected("1.0.0"));
    assert!(
        server
            .requests()
            .contains(&"/elsewhere/demo-1.0.0.tgz".to_string())
    );
    // A range whose pick is cached downloads the index only.
    let before = server.requests().len();
    assert!(pick("~1.2").cached);
    assert_eq!(
        server.requests()[before..],
        ["/repo/index.yaml".to_string()]
    );
}

#[test]
fn repository_failures_are_clear() {
    let server = ChartServer::start().unwrap();
    repository(&server);
    let cache = Cache::new("failures");
    let f = cache.fetcher();

    let e = f.fetch(&repo_source(&server, "^3")).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::NotFound);
    assert_eq!(
        e.message,
        format!(
            "chart \"demo\" version \"^3\" not found in {}/repo repository",
            server.url()
        )
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("the repository has demo 2.0.0-rc.1, 1.10.0, 1.2.0, 1.0.0")
    );

    let missing = ChartSource::Repository {
        url: format!("{}/nothing-here", server.url()),
        name: "demo".into(),
        version: "1.0.0".into(),
    };
    let e = f.fetch(&missing).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Status(404));
    assert_eq!(
        e.message,
        format!(
            "looks like \"{0}/nothing-here\" is not a valid chart repository or cannot be reached: failed to fetch {0}/nothing-here/index.yaml : 404 Not Found",
            server.url()
        )
    );

    let e = f.fetch(&repo_source(&server, ">>1")).unwrap_err();
    assert!(e.is_usage(), "{e:?}");

    // Digest mismatch: the archive changed after the index was written; nothing cached.
    server.route("/repo/charts/demo-1.2.0.tgz", Answer::ok(chart("6.6.6")));
    let e = f.fetch(&repo_source(&server, "1.2.0")).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Digest);
    assert!(e.message.starts_with("digest mismatch for "), "{e}");
    let cached = std::fs::read_dir(cache.0.join("sha256")).map_or(0, |d| d.count());
    assert_eq!(cached, 0);
}

#[test]
fn server_down_is_unreachable_with_an_offline_hint() {
    let server = ChartServer::start().unwrap();
    let url = server.url();
    drop(server);
    let cache = Cache::new("down");
    let source = ChartSource::Repository {
        url: format!("{url}/repo"),
        name: "demo".into(),
        version: "1.2.0".into(),
    };
    let e = cache.fetcher().fetch(&source).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Unreachable);
    assert!(
        e.message.starts_with(&format!(
            "looks like \"{url}/repo\" is not a valid chart repository or cannot be reached: failed to fetch {url}/repo/index.yaml : "
        )),
        "{e}"
    );
    let hint = e.hint.unwrap();
    assert!(hint.starts_with("offline?"), "{hint}");
    assert!(hint.contains(&cache.0.display().to_string()), "{hint}");
}

#[test]
fn a_tgz_url_is_downloaded_once() {
    let server = ChartServer::start().unwrap();
    server.route("/dl/demo-3.1.4.tgz", Answer::ok(chart("3.1.4")));
    let cache = Cache::new("url");
    let source = ChartSource::Url(format!("{}/dl/demo-3.1.4.tgz", server.url()));
    let first = cache.fetcher().fetch(&source).unwrap();
    assert_eq!(rendered(&first.path), expected("3.1.4"));
    let second = cache.fetcher().fetch(&source).unwrap();
    assert!(second.cached);
    assert_eq!(server.requests().len(), 1);

    let gone = ChartSource::Url(format!("{}/dl/nope.tgz", server.url()));
    let e = cache.fetcher().fetch(&gone).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Status(404));
}

#[test]
fn oci_with_the_anonymous_token_flow() {
    let server = ChartServer::start().unwrap();
    let archive = chart("0.4.2");
    server.oci_chart("charts/demo", "0.4.2", &archive, Some("s3cr3t"));
    let cache = Cache::new("oci");
    let f = cache.fetcher().plain_http(true);
    let reference = format!("oci://127.0.0.1:{}/charts/demo", server.port());
    let source = ChartSource::Oci {
        reference: reference.clone(),
        version: "0.4.2".into(),
    };
    let fetched = f.fetch(&source).unwrap();
    assert_eq!(fetched.digest, sha256_hex(&archive));
    assert_eq!(rendered(&fetched.path), expected("0.4.2"));
    let digest = sha256_hex(&archive);
    assert_eq!(
        server.requests(),
        [
            "/v2/charts/demo/manifests/0.4.2".to_string(),
            "/token".into(),
            "/v2/charts/demo/manifests/0.4.2".into(),
            format!("/v2/charts/demo/blobs/sha256:{digest}"),
        ]
    );
    // Cached: no request at all.
    let before = server.requests().len();
    assert!(f.fetch(&source).unwrap().cached);
    assert_eq!(server.requests().len(), before);
    // The tag in the reference.
    let tagged = ChartSource::Oci {
        reference: format!("{reference}:0.4.2"),
        version: String::new(),
    };
    assert_eq!(f.fetch(&tagged).unwrap().digest, digest);
}

#[test]
fn oci_ranges_tags_and_failures() {
    let server = ChartServer::start().unwrap();
    server.oci_chart("charts/demo", "1.1.0", &chart("1.1.0"), None);
    server.oci_chart(
        "charts/demo",
        "1.2.0_build.5",
        &chart("1.2.0+build.5"),
        None,
    );
    server.oci_tags(
        "charts/demo",
        &["1.0.0", "1.1.0", "1.2.0_build.5", "2.0.0-beta", "latest"],
    );
    let cache = Cache::new("oci-range");
    let f = cache.fetcher().plain_http(true);
    let reference = format!("oci://127.0.0.1:{}/charts/demo", server.port());
    let oci = |v: &str| ChartSource::Oci {
        reference: reference.clone(),
        version: v.into(),
    };
    let latest = f.fetch(&oci("")).unwrap();
    assert_eq!(latest.version.as_deref(), Some("1.2.0+build.5"));
    assert_eq!(rendered(&latest.path), expected("1.2.0+build.5"));
    assert_eq!(
        f.fetch(&oci("~1.1")).unwrap().version.as_deref(),
        Some("1.1.0")
    );

    let e = f.fetch(&oci("^5")).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::NotFound);
    let e = f.fetch(&oci("9.9.9")).unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::NotFound);
    assert_eq!(
        e.message,
        format!("127.0.0.1:{}/charts/demo:9.9.9: not found", server.port())
    );
    let e = f
        .fetch(&ChartSource::Oci {
            reference: format!("{reference}:1.1.0"),
            version: "1.2.0".into(),
        })
        .unwrap_err();
    assert!(e.is_usage());
    let e = f
        .fetch(&ChartSource::Oci {
            reference: "oci://registry.example/Upper/Case".into(),
            version: String::new(),
        })
        .unwrap_err();
    assert!(e.is_usage());

    // A corrupted blob is refused and not cached.
    let other = chart("1.3.0");
    server.oci_chart("charts/bad", "1.3.0", &other, None);
    server.route(
        &format!("/v2/charts/bad/blobs/sha256:{}", sha256_hex(&other)),
        Answer::ok(chart("6.6.6")),
    );
    let e = f
        .fetch(&ChartSource::Oci {
            reference: format!("oci://127.0.0.1:{}/charts/bad", server.port()),
            version: "1.3.0".into(),
        })
        .unwrap_err();
    assert_eq!(e.kind, FetchErrorKind::Digest);
    assert!(
        !cache
            .0
            .join(format!("sha256/{}.tgz", sha256_hex(&other)))
            .exists()
    );
}
