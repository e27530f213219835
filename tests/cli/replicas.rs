//! Three `flotilla serve` replicas over one S3 bucket (moto), with `sim` agents: a replica
//! killed has its clusters taken over, a replica paused past its lease is fenced when it
//! wakes, and a promotion made during a failover reaches every cluster exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::agent::{Agent, wait_until};
use super::command;
use super::serve::{Moto, Server, fleet, publish_and_promote, receiver, token_with};

const STORE: &str = "s3://flotilla/fleets/shop";
const TTL: &str = "3s";

fn s3(c: &mut std::process::Command, moto: &Moto) {
    c.env("AWS_ENDPOINT", &moto.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1");
}

fn replica(moto: &Moto, fleet: &Path, id: &str) -> Server {
    let mut c = command();
    s3(&mut c, moto);
    Server::start_with_args(
        c,
        fleet,
        STORE,
        &["--replica-id", id, "--shards", "6", "--lease-ttl", TTL],
    )
}

/// A metric of a server's `/metrics` (0 when absent).
fn metric(server: &Server, token: &str, name: &str) -> u64 {
    let (_, _, body) = server.http("GET", "/metrics", token, "");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Each cluster's staged record as a replica serves it: (generation, epoch).
fn records(server: &Server, token: &str, clusters: &[String]) -> BTreeMap<String, (u64, u64)> {
    clusters
        .iter()
        .map(|c| {
            let (_, v) = server.get(token, &format!("/v1/clusters/{c}"));
            let staged = &v["staged"];
            (
                c.clone(),
                (
                    staged["generation"].as_u64().unwrap_or(0),
                    staged["epoch"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

/// The generations an agent applied, in order.
fn applied(agent: &Agent) -> Vec<u64> {
    agent
        .log()
        .lines()
        .filter_map(|l| l.split("applied generation ").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect()
}

fn signal(server: &Server, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &server.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn replicas_take_over_a_killed_one_and_fence_a_paused_one() {
    let moto = Moto::start("flotilla");
    let (hook, _announcements) = receiver();
    let (tmp, root) = fleet(&hook);
    // A dozen clusters, so that every replica's shards hold some.
    let mut clusters: Vec<String> = ["dev-eu", "prod-eu", "prod-us"].map(str::to_owned).to_vec();
    for (i, env) in [
        "dev", "dev", "dev", "prod", "prod", "prod", "prod", "prod", "prod",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("{env}-{i}");
        std::fs::write(
            root.join(format!("clusters/{name}.yaml")),
            format!("name: {name}\nprovider: aws\nregion: eu-west-1\nenvironment: {env}\n"),
        )
        .expect("written");
        clusters.push(name);
    }
    clusters.sort();

    // Started one after the other (the first publishes the fleet as it stands).
    let r1 = replica(&moto, &root, "r1");
    let r2 = replica(&moto, &root, "r2");
    let r3 = replica(&moto, &root, "r3");
    let mut issue = command();
    s3(&mut issue, &moto);
    let admin = token_with(issue, &root, STORE, "pat", "platform");
    wait_until("the shards spread over the three replicas", || {
        [&r1, &r2, &r3]
            .iter()
            .all(|r| metric(r, &admin, "flotilla_shards_held") == 2)
    });

    // Every agent polls r3, the replica that stays up: it answers for clusters it does not
    // stage from what the others wrote.
    let agents: BTreeMap<String, Agent> = clusters
        .iter()
        .map(|c| {
            let state = tmp.path().join(format!("agent-{c}"));
            let token = state.with_extension("token");
            let mut issue = command();
            s3(&mut issue, &moto);
            let out = issue
                .args(["token", "issue", "--cluster", c, "--ttl", "10m", "--fleet"])
                .arg(&root)
                .args(["--store", STORE])
                .output()
                .expect("flotilla runs");
            assert!(out.status.success());
            std::fs::write(&token, String::from_utf8_lossy(&out.stdout).trim()).expect("written");
            let agent = Agent::start_applier(
                command(),
                &r3,
                c,
                &state,
                &[
                    "--applier",
                    "sim",
                    "--sim-ready-after",
                    "100ms",
                    "--token-file",
                    token.to_str().expect("UTF-8"),
                    "--poll-wait",
                    "1s",
                ],
            );
            (c.clone(), agent)
        })
        .collect();
    let first = records(&r3, &admin, &clusters);
    for (c, agent) in &agents {
        wait_until(&format!("{c}'s agent applied its first bundle"), || {
            applied(agent).last() == Some(&first[c].0)
        });
    }

    // kill -9 r1, and ship web 2 at once: r1's shards are taken over after their TTL, and
    // every cluster gets the new bundle, once.
    r1.kill();
    let killed = Instant::now();
    publish_and_promote(&r3, &admin, &root, "2.0.0");
    for (c, agent) in &agents {
        wait_until(&format!("{c}'s agent applied web 2"), || {
            applied(agent).last() == Some(&(first[c].0 + 1))
        });
    }
    let took = killed.elapsed();
    let shipped = records(&r3, &admin, &clusters);
    let taken: Vec<&String> = clusters
        .iter()
        .filter(|c| shipped[*c].1 > first[*c].1)
        .collect();
    assert!(!taken.is_empty(), "no cluster changed hands: {shipped:?}");
    assert!(
        metric(&r2, &admin, "flotilla_lease_takeovers_total")
            + metric(&r3, &admin, "flotilla_lease_takeovers_total")
            >= 2
    );
    eprintln!(
        "replicas: r1 killed; {} of its clusters taken over; every cluster had web 2 {:.1}s later (lease TTL {TTL})",
        taken.len(),
        took.as_secs_f64()
    );

    // SIGSTOP r2, ship web 3 during the failover, SIGCONT r2 once r3 took everything over.
    let _ = r2.log();
    signal(&r2, "-STOP");
    publish_and_promote(&r3, &admin, &root, "3.0.0");
    wait_until("r3 took every shard", || {
        metric(&r3, &admin, "flotilla_shards_held") == 6
    });
    for (c, agent) in &agents {
        wait_until(&format!("{c}'s agent applied web 3"), || {
            applied(agent).last() == Some(&(first[c].0 + 2))
        });
    }
    signal(&r2, "-CONT");
    // r2 wakes up, notices it lost its shards, and gets its share back.
    wait_until("r2 said it lost its shards", || {
        r2.log()
            .iter()
            .any(|l| l.contains("taken over while we held it") || l.contains("no longer ours"))
    });
    wait_until("r2 holds shards again", || {
        metric(&r2, &admin, "flotilla_shards_held") == 3
            && metric(&r3, &admin, "flotilla_shards_held") == 3
    });
    // A few more passes of both, then nothing moved: every cluster had each change once, no
    // bundle went back, and both deployments are there.
    std::thread::sleep(Duration::from_secs(2));
    let last = records(&r3, &admin, &clusters);
    for (c, agent) in &agents {
        assert_eq!(last[c].0, first[c].0 + 2, "{c}: {last:?}");
        let seen = applied(agent);
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "{c} applied {seen:?}: a generation twice, or one going back"
        );
        assert_eq!(seen.last(), Some(&(first[c].0 + 2)), "{c}");
    }
    // Both replicas answer reads alike: web 3 deployed, Ready on every cluster (the agents
    // reported to r3 only; r2 read their reports from the store).
    for server in [&r2, &r3] {
        let (code, v) = server.get(&admin, "/v1/services/web");
        assert_eq!(code, 200, "{v}");
        let text = v.to_string();
        assert!(text.contains("3.0.0"), "{text}");
        wait_until("every replica sees web 3 Succeeded", || {
            let (_, v) = server.get(&admin, "/v1/deployments?service=web");
            let list = v["deployments"].as_array().cloned().unwrap_or_default();
            list.len() == 2
                && list
                    .iter()
                    .all(|d| d["version"] == "3.0.0" && d["state"] == "Succeeded")
        });
    }
    drop(agents);
}

#[test]
fn simulate_spreads_its_agents_over_three_replicas_and_reports_each_ones_loop() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let fleet = tmp.path().join("fleet");
    let out = command()
        .args([
            "dev",
            "gen-fleet",
            "--clusters",
            "24",
            "--services",
            "3",
            "--out",
        ])
        .arg(&fleet)
        .output()
        .expect("flotilla runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = tmp.path().join("store");
    let store_arg = store.to_str().expect("UTF-8");
    let replicas: Vec<Server> = ["r1", "r2", "r3"]
        .iter()
        .map(|id| {
            Server::start_with_args(
                command(),
                &fleet,
                store_arg,
                &["--replica-id", id, "--shards", "6", "--lease-ttl", TTL],
            )
        })
        .collect();
    let urls: Vec<&str> = replicas.iter().map(|r| r.url.as_str()).collect();
    let report = tmp.path().join("report");
    let o = command()
        .args(["simulate", "--server", &urls.join(","), "--fleet"])
        .arg(&fleet)
        .args(["--store", store_arg])
        .args([
            "--duration",
            "4s",
            "--idle",
            "1s",
            "--every",
            "1s",
            "--poll",
            "1s",
            "--ready-after",
            "100ms",
            "--settle",
            "2m",
            "--out",
        ])
        .arg(&report)
        .output()
        .expect("flotilla runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(report.join("report.json")).expect("report.json is written"),
    )
    .expect("JSON");
    let p = &json["points"][0];
    assert_eq!(p["agents"], 24, "{p:#}");
    assert_eq!(p["agentsReady"], 24, "{p:#}");
    assert_eq!(p["deploymentsTimedOut"], 0, "{p:#}");
    let each = p["replicas"].as_array().expect("replicas");
    let servers: Vec<&str> = each.iter().filter_map(|r| r["server"].as_str()).collect();
    assert_eq!(servers, urls, "{p:#}");
    let md = std::fs::read_to_string(report.join("report.md")).expect("report.md");
    for url in &urls {
        assert!(md.contains(&format!("| 24x3 | {url} |")), "{md}");
    }
}
