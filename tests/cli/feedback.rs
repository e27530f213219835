//! Deployment feedback end to end: a real `flotilla serve`, `sim` agents as real processes,
//! and local HTTP receivers standing in for a service's Slack channel and the platform's pager
//! (PagerDuty's Events API v2).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::agent::{Agent, agent_token, register, request, wait_until};
use super::command;
use super::serve::{Server, fleet, receiver, token_with};

/// The shop fleet with web owned by `#shop`, whose channel and the pager are receivers.
pub(super) fn feedback_fleet(channel: &str, pager: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, root) = fleet("http://127.0.0.1:9/unused");
    std::fs::write(
        root.join("notifications.yaml"),
        format!(
            "channels:\n  \"#shop\": {channel}\npagerduty:\n  routingKey: test-routing-key\n  url: {pager}\n"
        ),
    )
    .expect("written");
    for service in ["web", "worker"] {
        let path = root.join(format!("services/{service}/service.yaml"));
        let text = std::fs::read_to_string(&path).expect("read");
        let text = text.replace(
            "owners: {team: shop}",
            "owners: {team: shop, slack: \"#shop\"}",
        );
        std::fs::write(&path, text).expect("written");
    }
    (tmp, root)
}

pub(super) fn start(root: &Path, store: &str, interval: &str) -> Server {
    Server::start_with_args(
        command(),
        root,
        store,
        &["--heartbeat", "1s", "--interval", interval],
    )
}

pub(super) fn sim_agent(
    server: &Server,
    root: &Path,
    store: &str,
    cluster: &str,
    state: &Path,
    extra: &[&str],
) -> Agent {
    let token = state.with_extension("token");
    std::fs::write(&token, agent_token(root, store, cluster)).expect("written");
    let mut args = vec![
        "--applier",
        "sim",
        "--sim-ready-after",
        "300ms",
        "--token-file",
        token.to_str().expect("UTF-8"),
        "--poll-wait",
        "1s",
    ];
    args.extend_from_slice(extra);
    Agent::start_applier(command(), server, cluster, state, &args)
}

/// The next message a receiver gets within `within`, as JSON.
fn next(rx: &mpsc::Receiver<String>, within: Duration) -> Option<Value> {
    rx.recv_timeout(within)
        .ok()
        .map(|b| serde_json::from_str(&b).expect("a JSON message"))
}

#[test]
fn a_crash_loop_sends_one_message_to_the_service_channel_and_a_resolve_when_lifted() {
    let (channel, messages) = receiver();
    let (pager, pages) = receiver();
    let (tmp, root) = feedback_fleet(&channel, &pager);
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    let server = start(&root, store, "300ms");
    let admin = token_with(command(), &root, store, "ops", "platform");
    let state = tmp.path().join("dev-eu");
    let agent = sim_agent(
        &server,
        &root,
        store,
        "dev-eu",
        &state,
        &["--sim-fault", "web=crashloop"],
    );
    agent.wait_for("applied generation 1");

    let m = next(&messages, Duration::from_secs(60)).expect("a message to #shop");
    let text = m["text"].as_str().expect("a Slack text");
    for part in ["web", "dev", "dev-eu", "CrashLoopBackOff"] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert_eq!(m["flotilla"]["event"], "trigger");
    assert_eq!(m["flotilla"]["kind"], "service");
    // One message per stuck deployment: not one per pass.
    assert!(
        next(&messages, Duration::from_secs(3)).is_none(),
        "no second message"
    );
    assert!(
        next(&pages, Duration::from_millis(10)).is_none(),
        "a service fault pages no one"
    );

    let (code, out, err) = server.cli(&admin, &["status", "--stuck"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("web") && out.contains("service fault") && out.contains("CrashLoopBackOff"),
        "{out}"
    );
    assert!(out.contains("notified: channel #shop"), "{out}");
    let (status, body) = server.get(&admin, "/v1/services/web/deployments/dev");
    assert_eq!(status, 200);
    assert_eq!(body["state"], "Stuck", "{body}");
    assert_eq!(body["releases"][0]["reason"], "CrashLoopBackOff", "{body}");
    let (_, list) = server.get(&admin, "/v1/deployments?state=stuck&environment=dev");
    assert_eq!(
        list["deployments"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );

    // The fault lifted (the agent started again without it): one resolve.
    drop(agent);
    let agent = sim_agent(&server, &root, store, "dev-eu", &state, &[]);
    let m = next(&messages, Duration::from_secs(60)).expect("a resolve to #shop");
    assert_eq!(m["flotilla"]["event"], "resolve", "{m}");
    assert!(
        m["text"]
            .as_str()
            .is_some_and(|t| t.contains("resolved") && t.contains("web")),
        "{m}"
    );
    wait_until("the deployment Succeeded", || {
        server.get(&admin, "/v1/services/web/deployments/dev").1["state"] == "Succeeded"
    });
    assert!(
        next(&messages, Duration::from_secs(2)).is_none(),
        "nothing more"
    );
    let (_, _, metrics) = request(&server, "/metrics", &admin, "");
    assert!(
        metrics.contains("flotilla_incidents_opened_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flotilla_incidents_resolved_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("flotilla_deployment_ready_seconds_count"),
        "{metrics}"
    );
    drop(agent);
}

#[test]
fn a_stopped_agent_pages_once_naming_its_cluster_then_resolves() {
    let (channel, messages) = receiver();
    let (pager, pages) = receiver();
    let (tmp, root) = feedback_fleet(&channel, &pager);
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    let server = start(&root, store, "300ms");
    let state = tmp.path().join("dev-eu");
    let agent = sim_agent(&server, &root, store, "dev-eu", &state, &[]);
    agent.wait_for("applied generation 1");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        next(&pages, Duration::from_millis(10)).is_none(),
        "a live agent pages no one"
    );
    agent.stop();

    let page = next(&pages, Duration::from_secs(60)).expect("a page");
    assert_eq!(page["routing_key"], "test-routing-key");
    assert_eq!(page["event_action"], "trigger");
    assert_eq!(page["dedup_key"], "flotilla/silent-dev-eu");
    let summary = page["payload"]["summary"].as_str().expect("a summary");
    assert!(
        summary.contains("dev-eu") && summary.contains("silent"),
        "{summary}"
    );
    assert_eq!(page["payload"]["severity"], "critical");
    assert!(next(&pages, Duration::from_secs(3)).is_none(), "paged once");
    assert!(
        next(&messages, Duration::from_millis(10)).is_none(),
        "the service's channel is not the platform's"
    );

    let agent = sim_agent(&server, &root, store, "dev-eu", &state, &[]);
    let page = next(&pages, Duration::from_secs(60)).expect("a resolve");
    assert_eq!(page["event_action"], "resolve");
    assert_eq!(page["dedup_key"], "flotilla/silent-dev-eu");
    agent.stop();

    // An agent that cannot authenticate (another cluster's token) is silent too, and the
    // page says why.
    let wrong = tmp.path().join("wrong.token");
    std::fs::write(&wrong, agent_token(&root, store, "prod-eu")).expect("written");
    let refused = Agent::start_applier(
        command(),
        &server,
        "dev-eu",
        &tmp.path().join("dev-eu-2"),
        &[
            "--applier",
            "sim",
            "--poll-wait",
            "1s",
            "--token-file",
            wrong.to_str().expect("UTF-8"),
        ],
    );
    let page = next(&pages, Duration::from_secs(60)).expect("a page");
    assert_eq!(page["event_action"], "trigger");
    let summary = page["payload"]["summary"].as_str().expect("a summary");
    assert!(
        summary.contains("dev-eu") && summary.contains("refused"),
        "{summary}\n{}",
        refused.log()
    );
    assert_eq!(
        page["payload"]["custom_details"]["reason"], "AgentCannotAuthenticate",
        "{page}"
    );
    drop(refused);
}

#[test]
fn a_registered_cluster_gets_its_services_at_once_bootstrap_first() {
    let (channel, _messages) = receiver();
    let (pager, _pages) = receiver();
    let (tmp, root) = feedback_fleet(&channel, &pager);
    // worker is a foundation: on every cluster, before everything else.
    let path = root.join("services/worker/service.yaml");
    let text = std::fs::read_to_string(&path).expect("read").replace(
        "selector: 'cluster.environment == \"prod\"'",
        "selector: 'true'\nbootstrap: true",
    );
    std::fs::write(&path, text).expect("written");
    let store_dir = tmp.path().join("store");
    let store = store_dir.to_str().expect("UTF-8");
    // The loop's interval is long: only the registration can make the bundle come soon.
    let server = start(&root, store, "10m");
    let admin = token_with(command(), &root, store, "ops", "platform");
    let creds = tmp.path().join("edge.json");
    let registered = Instant::now();
    register(
        &server,
        &admin,
        &[
            "edge-9",
            "--environment",
            "dev",
            "--provider",
            "aws",
            "--region",
            "eu-west-1",
        ],
        &creds,
    );
    let state = tmp.path().join("edge-9");
    let agent = Agent::start_applier(
        command(),
        &server,
        "edge-9",
        &state,
        &[
            "--applier",
            "sim",
            "--sim-ready-after",
            "300ms",
            "--poll-wait",
            "1s",
            "--token-file",
            creds.to_str().expect("UTF-8"),
        ],
    );
    agent.wait_for("applied generation 1");
    assert!(
        registered.elapsed() < Duration::from_secs(60),
        "well before the 10 minute loop"
    );
    let token = agent_token(&root, store, "edge-9");
    let (status, _, body) = request(&server, "/v1/clusters/edge-9/bundle", &token, "");
    assert_eq!(status, 200, "{body}");
    let bundle: Value = serde_json::from_str(&body).expect("JSON");
    let order: Vec<(String, u64)> = bundle["releases"]
        .as_array()
        .expect("releases")
        .iter()
        .map(|r| {
            (
                r["service"].as_str().unwrap_or_default().to_owned(),
                r["wave"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        order,
        [("worker".to_owned(), 0), ("web".to_owned(), 1)],
        "bootstrap first, in waves"
    );
    wait_until("all Ready, timed", || {
        let (_, _, metrics) = request(&server, "/metrics", &admin, "");
        metrics.contains("flotilla_bootstrap_first_bundle_seconds_count 1")
            && metrics.contains("flotilla_bootstrap_ready_seconds_count 1")
    });
    drop(agent);
}
