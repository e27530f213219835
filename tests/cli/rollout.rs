//! Progressive rollouts end to end: a real `flotilla serve` on a manual clock (soak times pass
//! when the test says, never by sleeping), `sim` agents as real processes, and local HTTP
//! receivers for the on-call channel and the service's channel.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::agent::{Agent, wait_until};
use super::command;
use super::feedback::sim_agent;
use super::serve::{Server, edit_web_image, fleet, receiver, token};

/// The shop fleet in three environments, a canary cluster in each, waves of 50% then the
/// rest, a 10-minute soak and rollback on failure (the fleet's defaults in `fleet.yaml`); web
/// tells `#shop`, a receiver.
fn rollout_fleet(on_call: &str, channel: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, root) = fleet(on_call);
    std::fs::write(
        root.join("fleet.yaml"),
        "environments:\n  - name: dev\n  - name: staging\n  - name: prod\n    production: true\n\
         rollout:\n  canary: 'has(cluster.tags.canary) && cluster.tags.canary == \"true\"'\n  waves: [\"50%\"]\n  soak: 10m\n  autoRollback: true\n",
    )
    .expect("written");
    std::fs::write(
        root.join("notifications.yaml"),
        format!("slack:\n  webhook: {on_call}\nchannels:\n  \"#shop\": {channel}\n"),
    )
    .expect("written");
    for (name, env, canary) in [
        ("dev-eu", "dev", true),
        ("dev-us", "dev", false),
        ("staging-eu", "staging", true),
        ("staging-us", "staging", false),
        ("prod-eu", "prod", true),
        ("prod-us", "prod", false),
        ("prod-ap", "prod", false),
    ] {
        let tags = if canary {
            "tags: {canary: \"true\"}\n"
        } else {
            ""
        };
        std::fs::write(
            root.join(format!("clusters/{name}.yaml")),
            format!("name: {name}\nprovider: aws\nregion: eu-west-1\nenvironment: {env}\n{tags}"),
        )
        .expect("written");
    }
    // Only web rolls out here (worker would double every wait).
    std::fs::remove_dir_all(root.join("services/worker")).expect("removed");
    let path = root.join("services/web/service.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        text.replace(
            "owners: {team: shop}",
            "owners: {team: shop, slack: \"#shop\"}",
        ),
    )
    .expect("written");
    (tmp, root)
}

struct Rig {
    server: Server,
    fleet: PathBuf,
    store: PathBuf,
    admin: String,
    _agents: Vec<Agent>,
}

impl Rig {
    fn start(fleet: PathBuf, clusters: &[&str], faults: &[&str]) -> Rig {
        let store = fleet.join("store");
        let store_arg = store.to_str().expect("UTF-8").to_owned();
        let server = Server::start_with_args(
            command(),
            &fleet,
            &store_arg,
            &[
                "--clock",
                "manual",
                "--heartbeat",
                "2s",
                "--interval",
                "200ms",
            ],
        );
        let admin = token(&fleet, &store_arg, "pat", "platform");
        let mut agents = Vec::new();
        for cluster in clusters {
            let state = fleet.join(format!("agent-{cluster}"));
            let faults: Vec<&str> = faults.iter().flat_map(|f| ["--sim-fault", *f]).collect();
            agents.push(sim_agent(
                &server, &fleet, &store_arg, cluster, &state, &faults,
            ));
        }
        Rig {
            server,
            fleet,
            store,
            admin,
            _agents: agents,
        }
    }

    /// `kill -9` of the server, and a new one on the same store (the agents keep the old
    /// address: they are stopped too).
    fn restart(&mut self) {
        self._agents.clear();
        let store = self.store.to_str().expect("UTF-8").to_owned();
        self.server = Server::start_with_args(
            command(),
            &self.fleet,
            &store,
            &[
                "--clock",
                "manual",
                "--heartbeat",
                "2s",
                "--interval",
                "200ms",
            ],
        );
    }

    fn store_arg(&self) -> &str {
        self.store.to_str().expect("UTF-8")
    }

    /// The rollout of web in `env`, as the API shows it.
    fn rollout(&self, env: &str) -> Option<Value> {
        let (status, v) = self.server.get(
            &self.admin,
            &format!("/v1/services/web/rollout?environment={env}"),
        );
        assert_eq!(status, 200, "{v}");
        v["rollouts"].as_array()?.first().cloned()
    }

    fn state(&self, env: &str) -> String {
        self.rollout(env)
            .and_then(|r| r["state"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn wait_state(&self, env: &str, state: &str) {
        wait_until(&format!("web's rollout in {env} {state}"), || {
            self.state(env) == state
        });
    }

    /// Waits for two more passes of the loop (each followed by a rollout step).
    fn two_passes(&self) {
        let count = || {
            let (_, _, body) = self.server.http("GET", "/metrics", &self.admin, "");
            body.lines()
                .find_map(|l| l.strip_prefix("flotilla_reconcile_duration_seconds_count "))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        let start = count();
        wait_until("two loop passes", || count() >= start + 2);
    }

    fn advance(&self, by: &str) {
        let (status, body) = post_json(
            &self.server,
            &self.admin,
            "/v1/clock",
            &format!("{{\"advance\": \"{by}\"}}"),
        );
        assert_eq!(status, 200, "{body}");
    }

    /// The image web's staged manifest on `cluster` names.
    fn image(&self, cluster: &str) -> String {
        staged_image(&self.store, cluster).unwrap_or_default()
    }

    fn publish(&self, tag: &str) {
        edit_web_image(&self.fleet, tag);
        let fleet = self.fleet.to_str().expect("UTF-8");
        let (code, out, err) = self.server.cli(
            &self.admin,
            &["publish", "web", "--label", tag, "--fleet", fleet],
        );
        assert_eq!(code, 0, "{out}{err}");
    }

    /// Every agent of `clusters` reports web Ready on its current bundle.
    fn wait_ready(&self, clusters: &[&str]) {
        for c in clusters {
            wait_until(&format!("web Ready on {c}"), || {
                let (_, v) = self
                    .server
                    .get(&self.admin, &format!("/v1/clusters/{c}/status"));
                v["report"]["releases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["service"] == "web" && r["phase"] == "Ready")
            });
        }
    }
}

/// `POST path` with a JSON body: status and body.
fn post_json(server: &Server, token: &str, path: &str, body: &str) -> (u16, String) {
    let addr = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connects");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("sent");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

/// The image of web's manifest in the staged index of `cluster`.
fn staged_image(store: &Path, cluster: &str) -> Option<String> {
    let index = super::serve::staged_index(store, cluster)?;
    let mut in_web = false;
    let mut hex = None;
    for line in index.lines() {
        let l = line.trim().trim_start_matches("- ");
        if let Some(r) = l.strip_prefix("release: ") {
            in_web = r == "web";
        }
        if in_web && let Some(h) = l.strip_prefix("manifest: sha256:") {
            hex = Some(h.to_owned());
            break;
        }
    }
    let object =
        std::fs::read_to_string(store.join(format!("staging/objects/sha256/{}", hex?))).ok()?;
    object
        .lines()
        .find_map(|l| l.trim().strip_prefix("image: "))
        .map(|i| i.trim_matches('"').to_owned())
}

/// The messages a receiver got so far whose `flotilla.event` is `event`.
fn drain(rx: &mpsc::Receiver<String>, event: &str, into: &mut Vec<Value>) -> usize {
    while let Ok(body) = rx.recv_timeout(Duration::from_millis(50)) {
        let v: Value = serde_json::from_str(&body).expect("a JSON message");
        into.push(v);
    }
    into.iter()
        .filter(|v| v["flotilla"]["event"] == event)
        .count()
}

const V1: &str = "registry.example.com/shop/web:1.4.0";
const V2: &str = "registry.example.com/shop/web:2.0";

#[test]
fn a_healthy_version_walks_dev_staging_prod_in_waves_honouring_soak_times() {
    let (on_call, announcements) = receiver();
    let (channel, _channel_messages) = receiver();
    let (_tmp, fleet) = rollout_fleet(&on_call, &channel);
    let all = [
        "dev-eu",
        "dev-us",
        "staging-eu",
        "staging-us",
        "prod-eu",
        "prod-us",
        "prod-ap",
    ];
    let rig = Rig::start(fleet, &all, &[]);
    rig.wait_ready(&all);

    // The plan shows the waves (what `flotilla plan` prints, the server's rollout).
    let out = command()
        .args([
            "plan", "--as", "user:pat", "--groups", "platform", "--fleet",
        ])
        .arg(&rig.fleet)
        .args(["--out"])
        .arg(rig.fleet.join("bundle"))
        .output()
        .expect("flotilla runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = std::fs::read_to_string(rig.fleet.join("bundle/plan.yaml")).expect("a plan");
    assert!(
        plan.contains(
            "  - service: web\n    environment: prod\n    soak: \"10m\"\n    autoRollback: true\n    waves:\n      - name: canary\n        maxUnavailable: 0\n        clusters:\n          - prod-eu\n      - name: \"50%\"\n        maxUnavailable: 0\n        clusters:\n          - prod-ap\n      - name: \"100%\"\n        maxUnavailable: 0\n        clusters:\n          - prod-us\n"
        ),
        "{plan}"
    );

    rig.publish("2.0");
    // dev: the canary first, the other cluster held on the version it ran.
    rig.wait_state("dev", "Soaking");
    assert_eq!(rig.image("dev-eu"), V2);
    assert_eq!(rig.image("dev-us"), V1);
    // Half the soak: nothing moves.
    rig.advance("5m");
    rig.two_passes();
    assert_eq!(rig.state("dev"), "Soaking");
    assert_eq!(rig.image("dev-us"), V1);
    // The whole soak: the next wave.
    rig.advance("5m");
    wait_until("dev-us on 2.0", || rig.image("dev-us") == V2);
    rig.wait_state("dev", "Soaking");
    assert!(rig.rollout("staging").is_none(), "staging waits for dev");
    rig.advance("10m");
    rig.wait_state("dev", "Complete");

    // staging: promoted by the rollout, in its own waves.
    rig.wait_state("staging", "Soaking");
    assert_eq!(rig.image("staging-eu"), V2);
    assert_eq!(rig.image("staging-us"), V1);
    rig.advance("10m");
    wait_until("staging-us on 2.0", || rig.image("staging-us") == V2);
    rig.wait_state("staging", "Soaking");
    rig.advance("10m");
    rig.wait_state("staging", "Complete");
    let staging = rig.rollout("staging").expect("a rollout");
    assert_eq!(staging["awaiting"], "prod", "{staging}");

    // prod waits for an approver: the shop team may not deploy there, the platform may.
    rig.two_passes();
    assert!(rig.rollout("prod").is_none(), "prod is gated");
    let shop = token(&rig.fleet, rig.store_arg(), "sam", "shop");
    let (code, out, err) = rig
        .server
        .cli(&shop, &["promote", "web", "--to", "prod", "--approve"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("403") || err.contains("denied"), "{err}");
    assert!(rig.rollout("prod").is_none());
    let (code, out, err) = rig
        .server
        .cli(&rig.admin, &["promote", "web", "--to", "prod", "--approve"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("promote web 2.0 → prod"), "{out}");

    rig.wait_state("prod", "Soaking");
    assert_eq!(rig.image("prod-eu"), V2);
    assert_eq!(rig.image("prod-ap"), V1);
    assert_eq!(rig.image("prod-us"), V1);
    // The deployment is not done while clusters wait for their wave (nor are they stuck).
    let (_, d) = rig
        .server
        .get(&rig.admin, "/v1/services/web/deployments/prod");
    assert_eq!(d["state"], "Progressing", "{d}");
    let waiting: Vec<&str> = d["releases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["reason"] == "WaitingForWave")
        .filter_map(|r| r["cluster"].as_str())
        .collect();
    assert_eq!(waiting, ["prod-ap", "prod-us"], "{d}");
    assert_eq!(d["stuckClusters"], 0, "{d}");
    rig.advance("10m");
    wait_until("prod-ap on 2.0", || rig.image("prod-ap") == V2);
    assert_eq!(rig.image("prod-us"), V1);
    rig.wait_state("prod", "Soaking");
    rig.advance("10m");
    wait_until("prod-us on 2.0", || rig.image("prod-us") == V2);
    rig.wait_state("prod", "Soaking");
    rig.advance("10m");
    rig.wait_state("prod", "Complete");
    wait_until("web 2.0 Succeeded in prod", || {
        let (_, d) = rig
            .server
            .get(&rig.admin, "/v1/services/web/deployments/prod");
        d["state"] == "Succeeded"
    });

    // The on-call channel heard of each production wave, in order.
    let mut got = Vec::new();
    wait_until("three wave messages", || {
        drain(&announcements, "rollout-wave", &mut got) >= 3
    });
    let waves: Vec<u64> = got
        .iter()
        .filter(|v| v["flotilla"]["event"] == "rollout-wave")
        .map(|v| v["flotilla"]["wave"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(waves, vec![1, 2, 3], "{got:?}");

    // Every step is audited.
    let (code, audit, err) = rig.server.cli(&rig.admin, &["status", "--audit"]);
    assert_eq!(code, 0, "{err}");
    for step in ["rollout-start", "rollout-wave", "rollout-complete"] {
        assert!(audit.contains(step), "{step} in {audit}");
    }
    let (code, status, err) = rig.server.cli(&rig.admin, &["rollout", "status", "web"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        status.contains("web 2.0 in prod: Complete, wave 3/3"),
        "{status}"
    );
    assert!(status.contains("canary"), "{status}");
    assert!(!status.contains("awaits an approver"), "approved: {status}");
    let shop = token(&rig.fleet, rig.store_arg(), "sam", "shop");
    let (code, _, err) = rig
        .server
        .cli(&shop, &["promote", "web", "--to", "prod", "--approve"]);
    assert_ne!(code, 0);
    assert!(err.contains("403") || err.contains("denied"), "{err}");
    let (code, _, err) = rig
        .server
        .cli(&rig.admin, &["promote", "web", "--to", "prod", "--approve"]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing awaits approval"), "{err}");

    // Promoting the version prod runs already changes nothing (no cluster loses it).
    let (code, _, err) = rig
        .server
        .cli(&rig.admin, &["promote", "web", "2.0", "--to", "prod"]);
    assert_eq!(code, 0, "{err}");
    rig.two_passes();
    assert_eq!(rig.state("prod"), "Complete");
    for c in ["prod-eu", "prod-ap", "prod-us"] {
        assert_eq!(rig.image(c), V2, "{c}");
    }

    let (_, status, _) = rig.server.cli(&rig.admin, &["rollout", "status", "web"]);
    assert!(
        status.contains("web 2.0 in prod: Complete (the environment runs this version already)"),
        "{status}"
    );
}

#[test]
fn a_crash_looping_version_halts_in_the_canary_wave_notifies_once_and_rolls_back() {
    let (on_call, _announcements) = receiver();
    let (channel, messages) = receiver();
    let (_tmp, fleet) = rollout_fleet(&on_call, &channel);
    let rig = Rig::start(fleet, &["dev-eu", "dev-us"], &["web@3.0=crashloop"]);
    rig.wait_ready(&["dev-eu", "dev-us"]);

    rig.publish("3.0");
    rig.wait_state("dev", "Halted");
    let halted = rig.rollout("dev").expect("a rollout");
    assert_eq!(halted["wave"], 0, "{halted}");
    assert!(
        halted["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("1 of 1 clusters of wave 1 (canary)"),
        "{halted}"
    );
    // Rolled back: the canary runs 1.4.0 again; the other cluster never left it.
    wait_until("dev-eu back on 1.4.0", || {
        rig.image("dev-eu") == "registry.example.com/shop/web:1.4.0"
    });
    assert_eq!(rig.image("dev-us"), V1);
    rig.wait_ready(&["dev-eu"]);
    let (code, out, err) = rig.server.cli(&rig.admin, &["status", "web"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dev: fleet-") && out.contains("deployment #3 by system:rollout"),
        "{out}"
    );

    // One message to the service's channel, however many passes go by.
    let mut got = Vec::new();
    wait_until("the halt message", || {
        drain(&messages, "rollout-halted", &mut got) >= 1
    });
    rig.advance("1h");
    rig.two_passes();
    rig.two_passes();
    assert_eq!(drain(&messages, "rollout-halted", &mut got), 1, "{got:?}");
    let halt = got
        .iter()
        .find(|v| v["flotilla"]["event"] == "rollout-halted")
        .expect("the message");
    assert!(
        halt["text"]
            .as_str()
            .unwrap_or_default()
            .contains("rolling back"),
        "{halt}"
    );
    assert_eq!(rig.state("staging"), "", "nothing promoted");
}

#[test]
fn pause_resume_and_abort_steer_a_rollout_for_those_allowed() {
    let (on_call, _announcements) = receiver();
    let (channel, _messages) = receiver();
    let (_tmp, fleet) = rollout_fleet(&on_call, &channel);
    let rig = Rig::start(fleet, &["dev-eu", "dev-us"], &[]);
    rig.wait_ready(&["dev-eu", "dev-us"]);
    rig.publish("2.0");
    rig.wait_state("dev", "Soaking");

    // A reader may look, not steer.
    let viewer = token(&rig.fleet, rig.store_arg(), "vic", "viewers");
    let (code, _, err) = rig
        .server
        .cli(&viewer, &["rollout", "pause", "web", "--env", "dev"]);
    assert_ne!(code, 0);
    assert!(err.contains("403") || err.contains("denied"), "{err}");

    let (code, out, err) = rig
        .server
        .cli(&rig.admin, &["rollout", "pause", "web", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Paused"), "{out}");
    // Paused: the soak passing changes nothing.
    rig.advance("1h");
    rig.two_passes();
    assert_eq!(rig.state("dev"), "Paused");
    assert_eq!(rig.image("dev-us"), V1);
    // Pausing twice is refused.
    let (code, _, err) = rig
        .server
        .cli(&rig.admin, &["rollout", "pause", "web", "--env", "dev"]);
    assert_ne!(code, 0);
    assert!(err.contains("Paused"), "{err}");

    let (code, _, err) = rig
        .server
        .cli(&rig.admin, &["rollout", "resume", "web", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    rig.wait_state("dev", "Soaking");
    assert_eq!(rig.image("dev-us"), V1, "the soak starts again");

    let (code, out, err) = rig
        .server
        .cli(&rig.admin, &["rollout", "abort", "web", "--env", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Aborted"), "{out}");
    wait_until("dev-eu back on 1.4.0", || rig.image("dev-eu") == V1);
    assert_eq!(rig.image("dev-us"), V1);
    let (code, audit, err) = rig.server.cli(&rig.admin, &["status", "--audit"]);
    assert_eq!(code, 0, "{err}");
    for step in ["rollout-pause", "rollout-resume", "rollout-abort"] {
        assert!(audit.contains(step), "{step} in {audit}");
    }
}

#[test]
fn a_service_promotes_through_its_own_environments() {
    let (on_call, _announcements) = receiver();
    let (channel, _messages) = receiver();
    let (_tmp, fleet) = rollout_fleet(&on_call, &channel);
    // web skips staging: dev, then the gate of prod.
    let path = fleet.join("services/web/service.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        format!("{text}rollout: {{environments: [dev, prod]}}\n"),
    )
    .expect("written");
    let rig = Rig::start(fleet, &["dev-eu", "dev-us"], &[]);
    rig.wait_ready(&["dev-eu", "dev-us"]);
    rig.publish("2.0");
    rig.wait_state("dev", "Soaking");
    rig.advance("10m");
    wait_until("dev-us on 2.0", || rig.image("dev-us") == V2);
    rig.wait_state("dev", "Soaking");
    rig.advance("10m");
    rig.wait_state("dev", "Complete");
    let dev = rig.rollout("dev").expect("a rollout");
    assert_eq!(dev["awaiting"], "prod", "{dev}");
    assert_eq!(
        dev["environments"],
        serde_json::json!(["dev", "prod"]),
        "{dev}"
    );
    rig.two_passes();
    assert!(
        rig.rollout("staging").is_none(),
        "staging is not on web's way"
    );
}

#[test]
fn a_restart_mid_rollout_keeps_the_clusters_held_back() {
    let (on_call, _announcements) = receiver();
    let (channel, _messages) = receiver();
    let (_tmp, fleet) = rollout_fleet(&on_call, &channel);
    let mut rig = Rig::start(fleet, &["dev-eu", "dev-us"], &[]);
    rig.wait_ready(&["dev-eu", "dev-us"]);
    rig.publish("2.0");
    rig.wait_state("dev", "Soaking");
    let before = rig.rollout("dev").expect("a rollout");

    rig.restart();
    rig.two_passes();
    let after = rig.rollout("dev").expect("the rollout is kept");
    assert_eq!(after["seq"], before["seq"]);
    assert_eq!(after["wave"], 0, "{after}");
    assert!(
        matches!(after["state"].as_str(), Some("Soaking" | "Progressing")),
        "{after}"
    );
    // The restart released nothing: the canary runs 2.0, the other cluster 1.4.0.
    assert_eq!(rig.image("dev-eu"), V2);
    assert_eq!(rig.image("dev-us"), V1);
    // And a soak is never cut short by a restart: the clock's hour changes nothing while
    // the agents (stopped) report nothing Ready.
    rig.advance("1h");
    rig.two_passes();
    assert_eq!(rig.image("dev-us"), V1);
}
