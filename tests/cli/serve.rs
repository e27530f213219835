//! `flotilla serve` as a real process on a local folder store, driven by the CLI clients
//! (`token issue`, `publish`, `promote`, `rollback`, `status`) and a local HTTP receiver
//! standing in for the on-call Slack webhook.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::command;

/// A copy of the shop fleet with environments and the on-call webhook.
pub(super) fn fleet(webhook: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let root = tmp.path().join("fleet");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/fleets/shop"),
        &root,
    );
    std::fs::write(
        root.join("fleet.yaml"),
        "environments:\n  - name: dev\n  - name: prod\n    production: true\n",
    )
    .expect("written");
    std::fs::write(
        root.join("notifications.yaml"),
        format!("slack:\n  webhook: {webhook}\n"),
    )
    .expect("written");
    (tmp, root)
}

pub(super) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("created");
    for e in std::fs::read_dir(from).expect("readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copied");
        }
    }
}

/// A running `flotilla serve`, killed when dropped.
pub(super) struct Server {
    child: Child,
    pub(super) url: String,
    /// The server's standard error, drained so that it never blocks on a full pipe.
    log: mpsc::Receiver<String>,
}

impl Server {
    pub(super) fn start(fleet: &Path, store: &str) -> Server {
        Server::start_with(command(), fleet, store)
    }

    /// With `command` (its environment set by the caller).
    pub(super) fn start_with(command: std::process::Command, fleet: &Path, store: &str) -> Server {
        Server::start_with_args(command, fleet, store, &[])
    }

    /// With `command` and more arguments.
    pub(super) fn start_with_args(
        mut command: std::process::Command,
        fleet: &Path,
        store: &str,
        extra: &[&str],
    ) -> Server {
        let interval: &[&str] = if extra.contains(&"--interval") {
            &[]
        } else {
            &["--interval", "300ms"]
        };
        let mut child = command
            .args(["serve", "--fleet"])
            .arg(fleet)
            .args(["--store", store, "--listen", "127.0.0.1:0"])
            .args(interval)
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("flotilla serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not say where it listens within 2 minutes");
            };
            if let Some(url) = line.split("listening on ").nth(1) {
                return Server {
                    child,
                    url: url.trim().to_owned(),
                    log: rx,
                };
            }
        }
    }

    /// A client command with this server and token.
    pub(super) fn cli(&self, token: &str, args: &[&str]) -> (i32, String, String) {
        let out = command()
            .args(args)
            .env("FLOTILLA_SERVER", &self.url)
            .env("FLOTILLA_TOKEN", token)
            .output()
            .expect("flotilla runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `GET path` with `token`: status and body.
    pub(super) fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let (status, _, body) = self.http("GET", path, token, "");
        (status, serde_json::from_str(&body).unwrap_or_default())
    }

    /// One HTTP/1.1 request (`extra`: more header lines, each ending in CRLF): its status,
    /// head and body.
    pub(super) fn http(
        &self,
        method: &str,
        path: &str,
        token: &str,
        extra: &str,
    ) -> (u16, String, String) {
        let addr = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connects");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("sent");
        let mut text = String::new();
        s.read_to_string(&mut text).expect("read");
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        (status, head.to_owned(), body.to_owned())
    }

    /// The server's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The lines the server wrote to standard error since the last call.
    pub(super) fn log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }

    /// SIGKILL.
    pub(super) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn token(fleet: &Path, store: &str, user: &str, groups: &str) -> String {
    token_with(command(), fleet, store, user, groups)
}

/// A token of the store's issuer, with `command` (its environment set by the caller).
pub(super) fn token_with(
    mut command: std::process::Command,
    fleet: &Path,
    store: &str,
    user: &str,
    groups: &str,
) -> String {
    let out = command
        .args([
            "token", "issue", "--user", user, "--groups", groups, "--fleet",
        ])
        .arg(fleet)
        .args(["--store", store, "--ttl", "10m"])
        .output()
        .expect("flotilla runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A new version of web (image `tag`), published, then promoted to prod; both acknowledged.
pub(super) fn publish_and_promote(server: &Server, token: &str, fleet: &Path, tag: &str) {
    edit_web_image(fleet, tag);
    let fleet_arg = fleet.to_str().expect("UTF-8");
    let (code, _, err) = server.cli(
        token,
        &["publish", "web", "--label", tag, "--fleet", fleet_arg],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = server.cli(token, &["promote", "web", tag, "--to", "prod"]);
    assert_eq!(code, 0, "{err}");
}

/// A local HTTP receiver answering 200 to every request; the bodies it received come out of
/// the channel.
pub(super) fn receiver() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            if tx
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}

/// The text of the index a cluster's record names in a local store.
pub(super) fn staged_index(store: &Path, cluster: &str) -> Option<String> {
    let record = std::fs::read_to_string(store.join(format!("clusters/{cluster}.json"))).ok()?;
    let record: serde_json::Value = serde_json::from_str(&record).ok()?;
    let hex = record["digest"].as_str()?.strip_prefix("sha256:")?;
    std::fs::read_to_string(store.join(format!("staging/indexes/{cluster}/{hex}.yaml"))).ok()
}

/// The staged index of a cluster, and whether every object it names is there.
fn staged(store: &Path, cluster: &str) -> Option<(String, bool)> {
    let index = staged_index(store, cluster)?;
    let complete = index
        .lines()
        .filter_map(|l| l.trim().strip_prefix("manifest: sha256:"))
        .all(|hex| {
            store
                .join(format!("staging/objects/sha256/{hex}"))
                .is_file()
        });
    Some((index, complete))
}

pub(super) fn edit_web_image(fleet: &Path, tag: &str) {
    let path = fleet.join("services/web/service.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    let text = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("image:") {
                format!("  image: registry.example.com/shop/web:{tag}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, text + "\n").expect("written");
}

#[test]
fn publish_promote_rollback_with_rbac_audit_and_announcements() {
    let (hook, announcements) = receiver();
    let (_tmp, fleet) = fleet(&hook);
    let store = fleet.join("store");
    let store_arg = store.to_str().expect("a UTF-8 path");
    let server = Server::start(&fleet, store_arg);
    let admin = token(&fleet, store_arg, "pat", "platform");
    let shop = token(&fleet, store_arg, "sam", "shop");

    // The first start made the fleet as it stood the first version of every service,
    // deployed everywhere, and staged every cluster.
    let (code, out, err) = server.cli(&admin, &["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dev-eu (dev) generation 1 releases 1"),
        "{out}"
    );
    assert!(
        out.contains("prod-us (prod) generation 1 releases 2"),
        "{out}"
    );
    let (first_index, complete) = staged(&store, "prod-eu").expect("prod-eu is staged");
    assert!(complete);

    // Without a token, or with a forged one: 401, and the refusal is audited.
    assert_eq!(server.get("", "/v1/services").0, 401);
    let (code, _, err) = server.cli("not-a-token", &["promote", "web", "x", "--to", "dev"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("401"), "{err}");

    // The shop team may not read (its role has no `read`) nor publish.
    let (code, _, err) = server.cli(&shop, &["status"]);
    assert_eq!(code, 1);
    assert!(err.contains("403") && err.contains("may not read"), "{err}");

    // A new version: published by the platform team, deployed to dev at once.
    edit_web_image(&fleet, "1.5.0");
    let fleet_arg = fleet.to_str().expect("UTF-8");
    let (code, out, err) = server.cli(
        &admin,
        &[
            "publish", "web", "--label", "1.5.0", "--commit", "abc123", "--fleet", fleet_arg,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("published web 1.5.0") && out.contains("deployed to dev"),
        "{out}"
    );
    // Again, same content: nothing changes; same label, other content: 409.
    let (code, out, _) = server.cli(
        &admin,
        &["publish", "web", "--label", "1.5.0", "--fleet", fleet_arg],
    );
    assert_eq!(code, 0);
    assert!(out.starts_with("unchanged:"), "{out}");
    edit_web_image(&fleet, "1.5.1");
    let (code, _, err) = server.cli(
        &admin,
        &["publish", "web", "--label", "1.5.0", "--fleet", fleet_arg],
    );
    assert_eq!(code, 1);
    assert!(err.contains("409"), "{err}");

    // The shop team (not on call) may deploy to dev, not to prod; a refused caller learns
    // nothing about what exists (no such version: still 403).
    let (code, _, err) = server.cli(&shop, &["promote", "web", "no-such", "--to", "prod"]);
    assert_eq!(code, 1);
    assert!(err.contains("403"), "{err}");
    let (code, out, err) = server.cli(&shop, &["promote", "web", "1.5.0", "--to", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("promote web 1.5.0 → dev"), "{out}");

    // On call promotes to prod: staged, and announced.
    let oncall = token(&fleet, store_arg, "sam", "shop,shop-oncall");
    let (code, out, err) = server.cli(&oncall, &["promote", "web", "1.5.0", "--to", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("→ prod"), "{out}");
    let message = announcements
        .recv_timeout(Duration::from_secs(30))
        .expect("the prod deployment is announced");
    let message: serde_json::Value = serde_json::from_str(&message).expect("JSON");
    let f = &message["flotilla"];
    assert_eq!(f["service"], "web");
    assert_eq!(f["version"], "1.5.0");
    assert_eq!(f["environment"], "prod");
    assert_eq!(f["clusters"], 2);
    assert_eq!(f["principal"], "user:sam");
    assert_eq!(f["chart"], "app 1.0.0");
    assert!(message["text"].as_str().is_some_and(|t| t.contains("web")));
    let deadline = Instant::now() + Duration::from_secs(60);
    let promoted = loop {
        let (index, complete) = staged(&store, "prod-eu").expect("staged");
        assert!(complete, "an index names a missing object");
        if index != first_index {
            break index;
        }
        assert!(Instant::now() < deadline, "prod-eu was not restaged");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, s) = server.get(&admin, "/v1/clusters/prod-eu");
    assert_eq!(s["staged"]["generation"], 2, "{s}");

    // Rolled back: the first version again, the first bundle again.
    let (code, out, err) = server.cli(&oncall, &["rollback", "web", "--env", "prod"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("rollback web fleet-"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while staged(&store, "prod-eu").expect("staged").0 != first_index {
        assert!(Instant::now() < deadline, "prod-eu was not rolled back");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(promoted, first_index);

    // The audit log: every mutating request, refused ones included, in order.
    let (code, audit) = server.get(&admin, "/v1/audit");
    assert_eq!(code, 200);
    let records: Vec<String> = audit["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["principal"].as_str().unwrap_or("-"),
                r["action"].as_str().unwrap_or_default(),
                r["target"].as_str().unwrap_or_default(),
                r["result"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        records,
        [
            " deploy service/web@dev unauthenticated",
            "user:pat publish service/web ok",
            "user:pat publish service/web noop",
            "user:pat publish service/web conflict",
            "user:sam deploy service/web@prod denied",
            "user:sam deploy service/web@dev ok",
            "user:sam deploy service/web@prod ok",
            "user:sam deploy service/web@prod ok",
        ]
    );
    assert!(audit["records"][1]["source"] == "127.0.0.1");
    let (_, service) = server.get(&admin, "/v1/services/web");
    assert_eq!(service["deployments"]["prod"]["reason"], "rollback");
    assert_eq!(service["history"]["prod"].as_array().map(Vec::len), Some(3));
    let v150 = service["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["label"] == "1.5.0"))
        .expect("1.5.0 is listed");
    assert_eq!(v150["provenance"]["commit"], "abc123", "{service}");
    assert_eq!(v150["provenance"]["publisher"], "user:pat", "{service}");
}

#[test]
fn a_killed_server_restarts_to_the_same_bundles_and_keeps_every_deployment() {
    let (hook, _announcements) = receiver();
    let (_tmp, fleet) = fleet(&hook);
    let store = fleet.join("store");
    let store_arg = store.to_str().expect("UTF-8");
    let server = Server::start(&fleet, store_arg);
    let admin = token(&fleet, store_arg, "pat", "platform");
    publish_and_promote(&server, &admin, &fleet, "2.0.0");
    // Killed at once: the deployment was acknowledged, so it is in the store, whatever the
    // staging had done.
    server.kill();
    let server = Server::start(&fleet, store_arg);
    let (_, web) = server.get(&admin, "/v1/services/web");
    assert_eq!(web["deployments"]["prod"]["label"], "2.0.0", "{web}");
    assert_eq!(web["deployments"]["dev"]["label"], "2.0.0", "{web}");
    for cluster in ["dev-eu", "prod-eu", "prod-us"] {
        let (index, complete) = staged(&store, cluster).expect("staged");
        assert!(complete, "{cluster}: an index names a missing object");
        assert!(index.contains("web"), "{index}");
    }
    let before: Vec<String> = ["dev-eu", "prod-eu", "prod-us"]
        .iter()
        .map(|c| staged(&store, c).expect("staged").0)
        .collect();
    // Another restart changes nothing: the same bytes, the same generations.
    let (_, clusters) = server.get(&admin, "/v1/clusters");
    server.kill();
    let server = Server::start(&fleet, store_arg);
    let after: Vec<String> = ["dev-eu", "prod-eu", "prod-us"]
        .iter()
        .map(|c| staged(&store, c).expect("staged").0)
        .collect();
    assert_eq!(before, after);
    let (_, again) = server.get(&admin, "/v1/clusters");
    assert_eq!(clusters["clusters"], again["clusters"]);
}

/// moto's S3 server on a free port (installed by `scripts/install-tools.sh moto`), with a
/// bucket; stopped when dropped.
pub(super) struct Moto {
    child: Child,
    pub(super) endpoint: String,
}

impl Moto {
    pub(super) fn start(bucket: &str) -> Moto {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/moto-venv/bin");
        assert!(
            venv.join("moto_server").is_file(),
            "moto's S3 server is missing: run\n\n    scripts/install-tools.sh moto\n\n(scripts/test.sh does)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = std::process::Command::new(venv.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("moto_server did not listen within a minute");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let made = std::process::Command::new(venv.join("python"))
            .args([
                "-c",
                "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket=sys.argv[2])",
                &endpoint,
                bucket,
            ])
            .status()
            .expect("python runs");
        if !made.success() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the bucket could not be made");
        }
        Moto { child, endpoint }
    }

    /// The keys under `prefix`.
    pub(super) fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/moto-venv/bin");
        let out = std::process::Command::new(venv.join("python"))
            .args([
                "-c",
                "import sys, boto3\nc = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\nfor page in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):\n    for o in page.get('Contents', []): print(o['Key'])",
                &self.endpoint,
                bucket,
                prefix,
            ])
            .output()
            .expect("python runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_controller_keeps_its_state_and_stages_bundles_in_s3() {
    let moto = Moto::start("flotilla");
    let (hook, _announcements) = receiver();
    let (_tmp, fleet) = fleet(&hook);
    let store = "s3://flotilla/fleets/shop";
    let s3 = |c: &mut std::process::Command| {
        c.env("AWS_ENDPOINT", &moto.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
    };
    let start = || {
        let mut c = command();
        s3(&mut c);
        Server::start_with(c, &fleet, store)
    };
    let server = start();
    let mut issue = command();
    s3(&mut issue);
    let admin = token_with(issue, &fleet, store, "pat", "platform");

    publish_and_promote(&server, &admin, &fleet, "3.0.0");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, c) = server.get(&admin, "/v1/clusters/prod-eu");
        if c["staged"]["generation"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "prod-eu was not restaged: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // In the bucket: the records, the audit, the staged objects and every cluster's index.
    let keys = moto.keys("flotilla", "fleets/shop/");
    for want in [
        "fleets/shop/initialized",
        "fleets/shop/private/issuer.pk8",
        "fleets/shop/labels/web/3.0.0",
        "fleets/shop/clusters/prod-us.json",
        "fleets/shop/leases/shard-0.json",
    ] {
        assert!(keys.iter().any(|k| k == want), "{want} is not in {keys:#?}");
    }
    for cluster in ["prod-eu", "dev-eu"] {
        let prefix = format!("fleets/shop/staging/indexes/{cluster}/");
        assert!(
            keys.iter().any(|k| k.starts_with(&prefix)),
            "no index of {cluster} in {keys:#?}"
        );
    }
    assert!(keys.iter().any(|k| k.starts_with("fleets/shop/audit/")));
    assert!(
        keys.iter()
            .any(|k| k.starts_with("fleets/shop/staging/objects/sha256/"))
    );
    let (_, audit) = server.get(&admin, "/v1/audit");
    assert_eq!(
        audit["records"].as_array().map(Vec::len),
        Some(2),
        "{audit}"
    );

    // Killed and restarted on the same bucket: the deployments are there, nothing is restaged.
    let (_, clusters) = server.get(&admin, "/v1/clusters");
    server.kill();
    let server = start();
    let (_, web) = server.get(&admin, "/v1/services/web");
    assert_eq!(web["deployments"]["prod"]["label"], "3.0.0", "{web}");
    let (_, again) = server.get(&admin, "/v1/clusters");
    assert_eq!(clusters["clusters"], again["clusters"]);
}

#[test]
fn sigterm_stops_the_server_even_in_the_middle_of_a_pass() {
    let (hook, _announcements) = receiver();
    let (_tmp, fleet) = fleet(&hook);
    let store = fleet.join("store");
    let store_arg = store.to_str().expect("UTF-8");
    let mut server = Server::start(&fleet, store_arg);
    let admin = token(&fleet, store_arg, "pat", "platform");
    // The promotion wakes the loop; the stop is asked while it compiles and stages.
    publish_and_promote(&server, &admin, &fleet, "4.0.0");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("waited") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
