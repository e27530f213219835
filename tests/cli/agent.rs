//! `flotilla agent` as a real process against a real `flotilla serve`: a cluster registered
//! through the provisioner, its agent pulling, applying (the `dir` applier) and reporting,
//! restarted without applying again, following a promotion by long poll, and refused once
//! deregistered. Then the same with identities from a live OpenBao: AppRole, the identity
//! token with the `cluster` claim, and one cluster's token refused on another's bundle.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::command;
use super::serve::{Server, edit_web_image, fleet, token_with};

/// A running `flotilla agent`, killed when dropped; its standard error is collected.
pub(super) struct Agent {
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Agent {
    fn start(server: &Server, cluster: &str, state: &Path, credentials: &[&str]) -> Agent {
        Agent::start_with(command(), server, cluster, state, credentials)
    }

    fn start_with(
        command: std::process::Command,
        server: &Server,
        cluster: &str,
        state: &Path,
        credentials: &[&str],
    ) -> Agent {
        Agent::start_applier(
            command,
            server,
            cluster,
            state,
            &[&["--applier", "dir"], credentials].concat(),
        )
    }

    pub(super) fn start_applier(
        mut command: std::process::Command,
        server: &Server,
        cluster: &str,
        state: &Path,
        args: &[&str],
    ) -> Agent {
        let poll: &[&str] = if args.contains(&"--poll-wait") {
            &[]
        } else {
            &["--poll-wait", "2s"]
        };
        let mut child = command
            .args(["agent", "--cluster", cluster, "--server", &server.url])
            .args(poll)
            .arg("--state")
            .arg(state)
            .args(args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("flotilla agent starts");
        let mut stderr = child.stderr.take().expect("stderr");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Agent { child, log }
    }

    pub(super) fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits (at most a minute) until the log holds `text`.
    pub(super) fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the agent never said {text:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(super) fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path`: status, `ETag`, body.
pub(super) fn request(
    server: &Server,
    path: &str,
    token: &str,
    extra: &str,
) -> (u16, String, String) {
    let (status, head, body) = server.http("GET", path, token, extra);
    let etag = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("etag:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, etag, body)
}

/// `POST path` with an empty body: status and body.
fn post(server: &Server, path: &str, token: &str) -> (u16, String) {
    let (status, _, body) = server.http("POST", path, token, "");
    (status, body)
}

pub(super) fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "{what} within a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(super) fn register(server: &Server, admin: &str, args: &[&str], out: &Path) -> Value {
    let out_arg = out.to_str().expect("UTF-8");
    let mut all = vec!["clusters", "register"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--credentials-out", out_arg]);
    let (code, stdout, err) = server.cli(admin, &all);
    assert_eq!(code, 0, "{stdout}{err}");
    let creds: Value =
        serde_json::from_str(&std::fs::read_to_string(out).expect("credentials written"))
            .expect("JSON credentials");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out).expect("there").permissions().mode();
        assert_eq!(mode & 0o077, 0, "credentials are private");
    }
    assert!(!stdout.contains("eyJ"), "no token printed: {stdout}");
    creds
}

pub(super) fn agent_token(fleet: &Path, store: &str, cluster: &str) -> String {
    let out = command()
        .args([
            "token",
            "issue",
            "--cluster",
            cluster,
            "--ttl",
            "10m",
            "--fleet",
        ])
        .arg(fleet)
        .args(["--store", store])
        .output()
        .expect("flotilla runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn a_registered_cluster_s_agent_pulls_applies_reports_restarts_and_is_refused_once_deregistered() {
    let (tmp, root) = fleet("http://127.0.0.1:9/unused");
    // worker runs in dev on clusters with enough nodes: a selector that fails on a cluster
    // without that metadata.
    std::fs::write(
        root.join("clusters/dev-eu.yaml"),
        "name: dev-eu\nprovider: aws\nregion: eu-west-1\nenvironment: dev\nmetadata: {nodes: 3}\n",
    )
    .expect("written");
    let worker = root.join("services/worker/service.yaml");
    let text = std::fs::read_to_string(&worker).expect("read").replace(
        "selector: 'cluster.environment == \"prod\"'",
        "selector: 'cluster.environment == \"prod\" || cluster.metadata.nodes > 2'",
    );
    std::fs::write(&worker, text).expect("written");
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    let server = Server::start(&root, store);
    let admin = token_with(command(), &root, store, "ops", "platform");
    let reader = token_with(command(), &root, store, "eve", "shop");

    // Registration is `manage-clusters`: refused to the shop team, audited.
    let creds = tmp.path().join("edge.json");
    let (code, _, err) = server.cli(
        &reader,
        &[
            "clusters",
            "register",
            "edge-1",
            "--environment",
            "dev",
            "--credentials-out",
            "x.json",
        ],
    );
    assert_eq!(code, 1, "{err}");
    // A cluster its environment cannot compile with is refused, with the diagnostics.
    let (code, _, err) = server.cli(
        &admin,
        &[
            "clusters",
            "register",
            "edge-1",
            "--environment",
            "dev",
            "--provider",
            "aws",
            "--region",
            "eu-west-1",
            "--credentials-out",
            "x.json",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("does not compile with this cluster") && err.contains("nodes"),
        "{err}"
    );
    let creds_json = register(
        &server,
        &admin,
        &[
            "edge-1",
            "--environment",
            "dev",
            "--provider",
            "aws",
            "--region",
            "eu-west-1",
            "--tag",
            "tier=edge",
            "--meta",
            "nodes=3",
        ],
        &creds,
    );
    assert_eq!(creds_json["kind"], "token");

    let state = tmp.path().join("agent");
    let creds_arg = ["--token-file", creds.to_str().expect("UTF-8")];
    let agent = Agent::start(&server, "edge-1", &state, &creds_arg);
    agent.wait_for("applied generation 1");
    let out = state.join("manifests");
    let files = manifests(&out);
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert!(names.contains(&"web.yaml".to_owned()), "{names:?}");
    let web = std::fs::read_to_string(out.join("web.yaml")).expect("written");
    assert!(web.contains("kind: Deployment"), "{web}");

    // The status endpoint holds its report: every release Ready, the generation applied.
    wait_until("the agent's report", || {
        let (status, body) = server.get(&admin, "/v1/clusters/edge-1/status");
        status == 200
            && body["report"]["generation"] == 1
            && body["report"]["releases"]
                .as_array()
                .is_some_and(|r| r.len() == names.len() && r.iter().all(|x| x["phase"] == "Ready"))
    });

    // The bundle answers with its digest as ETag, and 304 for that digest.
    let token = agent_token(&root, store, "edge-1");
    let (status, etag, body) = request(&server, "/v1/clusters/edge-1/bundle", &token, "");
    assert_eq!(status, 200, "{body}");
    let bundle: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        etag,
        format!("\"{}\"", bundle["digest"].as_str().expect("a digest"))
    );
    assert!(
        bundle["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    let (status, _, _) = request(
        &server,
        "/v1/clusters/edge-1/bundle",
        &token,
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(status, 304);
    // Another cluster's token gets neither the bundle nor an object, even knowing its digest.
    let other = agent_token(&root, store, "dev-eu");
    let digest = bundle["releases"][0]["manifest"]
        .as_str()
        .expect("a digest");
    let (status, _, body) = request(&server, "/v1/clusters/edge-1/bundle", &other, "");
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("sha256:"), "nothing served: {body}");
    let (status, _, body) = request(
        &server,
        &format!("/v1/clusters/edge-1/objects/{digest}"),
        &other,
        "",
    );
    assert_eq!(status, 403, "{body}");
    // dev-eu runs web too, but with its own values: its path does not serve edge-1's object.
    let (status, _, _) = request(
        &server,
        &format!("/v1/clusters/dev-eu/objects/{digest}"),
        &other,
        "",
    );
    let dev_eu: Value =
        serde_json::from_str(&request(&server, "/v1/clusters/dev-eu/bundle", &other, "").2)
            .expect("JSON");
    let listed = dev_eu["releases"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x["manifest"] == digest));
    assert_eq!(status, if listed { 200 } else { 404 });
    // A built-in token is refreshed by its holder, for its own cluster only.
    let (status, body) = post(&server, "/v1/clusters/edge-1/token", &token);
    assert_eq!(status, 200, "{body}");
    let fresh: Value = serde_json::from_str(&body).expect("JSON");
    let fresh = fresh["token"].as_str().expect("a token");
    assert_eq!(
        request(&server, "/v1/clusters/edge-1/bundle", fresh, "").0,
        200
    );
    assert_eq!(post(&server, "/v1/clusters/edge-1/token", &other).0, 403);
    // An API token is not an agent token, nor the reverse.
    let (status, _, _) = request(&server, "/v1/clusters/edge-1/bundle", &admin, "");
    assert_eq!(status, 401);
    let (status, _) = server.get(&token, "/v1/services");
    assert_eq!(status, 401);

    // A restart applies nothing that did not change.
    let before: Vec<_> = files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .and_then(|m| m.modified())
                .expect("a time")
        })
        .collect();
    let log = agent.stop();
    assert_eq!(log.matches("applied generation 1 (").count(), 1, "{log}");
    // Restarted with a short resync: drift is corrected.
    let resync_args = [creds_arg[0], creds_arg[1], "--resync", "2s"];
    let agent = Agent::start(&server, "edge-1", &state, &resync_args);
    agent.wait_for("last applied generation 1");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !agent.log().contains("applied generation 1 ("),
        "{}",
        agent.log()
    );
    let after: Vec<_> = files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .and_then(|m| m.modified())
                .expect("a time")
        })
        .collect();
    assert_eq!(before, after, "no file written again");

    // A new version deployed to dev reaches the agent by its long poll.
    let web_digest = |b: &Value| {
        b["releases"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["service"] == "web"))
            .and_then(|x| x["manifest"].as_str())
            .map(str::to_owned)
            .expect("web in the bundle")
    };
    let first_web = web_digest(&bundle);
    edit_web_image(&root, "2.0.0");
    let fleet_arg = root.to_str().expect("UTF-8");
    let (code, _, err) = server.cli(
        &admin,
        &["publish", "web", "--label", "2.0.0", "--fleet", fleet_arg],
    );
    assert_eq!(code, 0, "{err}");
    agent.wait_for("applied generation 2 (");
    assert!(
        agent.log().contains("1 changed, 0 removed"),
        "{}",
        agent.log()
    );
    let web = std::fs::read_to_string(out.join("web.yaml")).expect("written");
    assert!(web.contains("shop/web:2.0.0"), "{web}");
    // Drift (someone edits what the agent wrote) is undone by the resync.
    std::fs::write(out.join("web.yaml"), "drifted\n").expect("written");
    wait_until("the resync restores web.yaml", || {
        std::fs::read_to_string(out.join("web.yaml")).is_ok_and(|t| t.contains("shop/web:2.0.0"))
    });
    // The previous bundle's objects stay readable (an agent may still be applying it); the
    // one before that is gone.
    let object = |d: &str| {
        request(
            &server,
            &format!("/v1/clusters/edge-1/objects/{d}"),
            &token,
            "",
        )
        .0
    };
    assert_eq!(object(&first_web), 200, "an object of the previous bundle");
    edit_web_image(&root, "3.0.0");
    let (code, _, err) = server.cli(
        &admin,
        &["publish", "web", "--label", "3.0.0", "--fleet", fleet_arg],
    );
    assert_eq!(code, 0, "{err}");
    agent.wait_for("applied generation 3 (");
    assert_eq!(object(&first_web), 404, "two bundles ago");

    // Listed with its identity; then deregistered: refused from now on, audited.
    let (code, text, err) = server.cli(&admin, &["clusters", "identity"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("edge-1") && l.contains("registered")),
        "{text}"
    );
    let (code, _, err) = server.cli(&admin, &["clusters", "deregister", "edge-1"]);
    assert_eq!(code, 0, "{err}");
    let (status, _, body) = request(&server, "/v1/clusters/edge-1/bundle", &token, "");
    assert_eq!(status, 403, "{body}");
    agent.wait_for("refused this agent (403)");
    let (_, audit) = server.get(&admin, "/v1/audit");
    let records = audit["records"].as_array().cloned().unwrap_or_default();
    for (action, result) in [
        ("register", "denied"),
        ("register", "ok"),
        ("deregister", "ok"),
        ("agent", "denied"),
    ] {
        assert!(
            records
                .iter()
                .any(|r| r["action"] == action && r["result"] == result),
            "{action} {result} audited: {audit}"
        );
    }
    assert!(
        !audit
            .to_string()
            .contains(creds_json["token"].as_str().unwrap_or("-")),
        "no credential audited"
    );
    let (_, _, metrics) = request(&server, "/metrics", &admin, "");
    assert!(
        metrics.contains("flotilla_agent_refusals_total{reason=\"deregistered\"}"),
        "{metrics}"
    );
}

#[test]
fn agents_log_in_to_openbao_and_each_cluster_reads_only_its_own_bundle() {
    let bao = match secrets::testing::OpenBao::start() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let (tmp, root) = fleet("http://127.0.0.1:9/unused");
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    let mut serve = command();
    serve.env("VAULT_TOKEN", secrets::testing::ROOT_TOKEN);
    let server = Server::start_with_args(serve, &root, store, &["--vault-addr", bao.address()]);
    let admin = token_with(command(), &root, store, "ops", "platform");

    let a = register(
        &server,
        &admin,
        &[
            "edge-a",
            "--environment",
            "dev",
            "--provider",
            "aws",
            "--region",
            "eu-west-1",
        ],
        &tmp.path().join("a.json"),
    );
    let b = register(
        &server,
        &admin,
        &[
            "edge-b",
            "--environment",
            "dev",
            "--provider",
            "gcp",
            "--region",
            "europe-west4",
        ],
        &tmp.path().join("b.json"),
    );
    assert_eq!(a["kind"], "vault-approle");
    let role_a = a["vault"]["roleId"].as_str().expect("a role id").to_owned();
    assert!(
        a["vault"]["wrappedSecretId"]
            .as_str()
            .is_some_and(|w| !w.is_empty())
    );

    // The agent unwraps its secret id, logs in, gets its identity token and pulls.
    let state = tmp.path().join("agent-a");
    let a_file = tmp.path().join("a.json");
    let agent = Agent::start(
        &server,
        "edge-a",
        &state,
        &[
            "--vault-addr",
            bao.address(),
            "--vault-role-id",
            &role_a,
            "--vault-secret-id-file",
            a_file.to_str().expect("UTF-8"),
        ],
    );
    agent.wait_for("applied generation 1");
    assert!(state.join("manifests/web.yaml").is_file());
    // The wrapping token was used once: unwrapping it again fails.
    let wrapped = a["vault"]["wrappedSecretId"].as_str().expect("wrapped");
    assert!(
        bao.api_as(wrapped, "POST", "sys/wrapping/unwrap", None)
            .is_err()
    );

    // edge-a's own identity token, as its agent gets it.
    let secret_id = std::fs::read_to_string(state.join("vault-secret-id")).expect("kept");
    let login = bao
        .api(
            "POST",
            "auth/flotilla-agents/login",
            Some(serde_json::json!({"role_id": role_a, "secret_id": secret_id.trim()})),
        )
        .expect("edge-a logs in");
    let vault_token = login["auth"]["client_token"].as_str().expect("a token");
    let jwt = bao
        .api_as(
            vault_token,
            "GET",
            "identity/oidc/token/flotilla-agent",
            None,
        )
        .expect("an identity token");
    let jwt = jwt["data"]["token"].as_str().expect("a JWT").to_owned();
    let claims = jwt.split('.').nth(1).expect("a payload");
    let claims: Value = serde_json::from_slice(&base64_url(claims)).expect("JSON claims");
    assert_eq!(claims["cluster"], "edge-a");
    // Its token cannot read the platform's secrets or another role's token.
    assert!(
        bao.api_as(vault_token, "GET", "secret/data/anything", None)
            .is_err()
    );

    let (status, _, body) = request(&server, "/v1/clusters/edge-a/bundle", &jwt, "");
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = request(&server, "/v1/clusters/edge-b/bundle", &jwt, "");
    assert_eq!(status, 403, "{body}");
    // An object of edge-b's, asked for on edge-b's path with edge-a's token.
    let b_token = {
        let unwrapped = bao
            .api_as(
                b["vault"]["wrappedSecretId"].as_str().expect("wrapped"),
                "POST",
                "sys/wrapping/unwrap",
                None,
            )
            .expect("unwrapped");
        let login = bao
            .api(
                "POST",
                "auth/flotilla-agents/login",
                Some(serde_json::json!({"role_id": b["vault"]["roleId"], "secret_id": unwrapped["data"]["secret_id"]})),
            )
            .expect("edge-b logs in");
        let t = bao
            .api_as(
                login["auth"]["client_token"].as_str().expect("a token"),
                "GET",
                "identity/oidc/token/flotilla-agent",
                None,
            )
            .expect("a token");
        t["data"]["token"].as_str().expect("a JWT").to_owned()
    };
    let (status, _, body) = request(&server, "/v1/clusters/edge-b/bundle", &b_token, "");
    assert_eq!(status, 200, "{body}");
    let b_bundle: Value = serde_json::from_str(&body).expect("JSON");
    let b_digest = b_bundle["releases"][0]["manifest"]
        .as_str()
        .expect("a digest");
    let (status, _, body) = request(
        &server,
        &format!("/v1/clusters/edge-b/objects/{b_digest}"),
        &jwt,
        "",
    );
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = request(
        &server,
        &format!("/v1/clusters/edge-b/objects/{b_digest}"),
        &b_token,
        "",
    );
    assert_eq!(status, 200);
    assert!(body.contains("kind:"), "{body}");

    // Deregistered: its token refused, its role gone from Vault.
    let (code, _, err) = server.cli(&admin, &["clusters", "deregister", "edge-a"]);
    assert_eq!(code, 0, "{err}");
    let (status, _, _) = request(&server, "/v1/clusters/edge-a/bundle", &jwt, "");
    assert_eq!(status, 403);
    assert!(
        bao.api(
            "POST",
            "auth/flotilla-agents/login",
            Some(serde_json::json!({"role_id": role_a, "secret_id": secret_id.trim()})),
        )
        .is_err(),
        "the role is revoked"
    );
    drop(agent);
}

fn base64_url(text: &str) -> Vec<u8> {
    // A small decoder for the test (URL-safe alphabet, no padding).
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let Some(v) = alphabet.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn the_kube_applier_server_side_applies_a_bundle_to_an_api_server_and_reports_ready() {
    let api = agent::testing::FakeKube::start().expect("the fake API server starts");
    let (tmp, root) = fleet("http://127.0.0.1:9/unused");
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    let server = Server::start(&root, store);
    let admin = token_with(command(), &root, store, "ops", "platform");
    let token_file = tmp.path().join("token");
    std::fs::write(&token_file, agent_token(&root, store, "dev-eu")).expect("written");
    let agent = Agent::start_applier(
        command(),
        &server,
        "dev-eu",
        &tmp.path().join("agent"),
        &[
            "--applier",
            "kube",
            "--kubeconfig",
            api.kubeconfig().to_str().expect("UTF-8"),
            "--token-file",
            token_file.to_str().expect("UTF-8"),
        ],
    );
    agent.wait_for("applied generation 1");
    let log = api.take_log();
    let deployment = log
        .iter()
        .find(|l| l.starts_with("PATCH /apis/apps/v1/namespaces/") && l.contains("/deployments/"))
        .unwrap_or_else(|| panic!("a Deployment applied: {log:#?}"));
    assert!(deployment.contains("fieldManager=flotilla"), "{deployment}");
    assert!(
        log.iter()
            .any(|l| l.starts_with("PATCH /api/v1/namespaces/")
                && l.contains("/configmaps/flotilla-inventory-")),
        "{log:#?}"
    );
    wait_until("Ready reported from the API server's objects", || {
        let (_, body) = server.get(&admin, "/v1/clusters/dev-eu/status");
        body["report"]["applier"] == "kube"
            && body["report"]["releases"]
                .as_array()
                .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x["phase"] == "Ready"))
    });
}
