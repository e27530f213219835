//! `flotilla simulate`: a small sweep end to end (a real server per point, simulated agents
//! over real HTTP), its report and plots.

use std::process::Command;

fn simulate(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    c.arg("simulate")
        .args([
            "--sweep",
            "12x2,24x3",
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
        ])
        .arg("--out")
        .arg(out)
        .args(extra);
    c.output().expect("flotilla runs")
}

#[test]
fn a_small_sweep_reports_every_point_with_every_agent_ready() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let out = tmp.path().join("report");
    let o = simulate(&out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");

    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("report.json")).expect("report.json is written"),
    )
    .expect("report.json is JSON");
    let points = json["points"].as_array().expect("points");
    assert_eq!(points.len(), 2, "{json:#}");
    for (p, (clusters, services)) in points.iter().zip([(12, 2), (24, 3)]) {
        assert_eq!(p["point"]["clusters"], clusters, "{p:#}");
        assert_eq!(p["point"]["services"], services, "{p:#}");
        assert_eq!(p["load"], clusters * services, "{p:#}");
        // Every simulated cluster got its bundle and reported every release Ready.
        assert_eq!(p["agents"], clusters, "{p:#}");
        assert_eq!(p["agentsReady"], clusters, "{p:#}");
        // Traffic ran, and every deployment reached every cluster it targets.
        assert!(p["deployments"].as_u64().unwrap_or(0) >= 3, "{p:#}");
        assert_eq!(p["deploymentsTimedOut"], 0, "{p:#}");
        assert!(p["releasesMeasured"].as_u64().unwrap_or(0) > 0, "{p:#}");
        for key in [
            "endToEndP50S",
            "endToEndP99S",
            "loopP99Ms",
            "idleLoopP99Ms",
            "rssMb",
        ] {
            assert!(p[key].as_f64().is_some_and(|v| v >= 0.0), "{key}: {p:#}");
        }
        assert!(p["requestsPerS"].as_f64().unwrap_or(0.0) > 0.0, "{p:#}");
        // Only the server's log is kept of a point.
        let dir = out.join(format!("points/{clusters}x{services}"));
        assert!(dir.join("serve.log").is_file());
        assert!(!dir.join("store").exists() && !dir.join("fleet").exists());
    }

    let md = std::fs::read_to_string(out.join("report.md")).expect("report.md is written");
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 3, "a header and a row per point:\n{md}");
    assert!(
        rows[0].contains("e2e p99 s") && rows[0].contains("loop p99 ms"),
        "{md}"
    );
    assert!(rows[1].starts_with("| 12x2 | 24 | 12/12 |"), "{md}");
    assert!(rows[2].starts_with("| 24x3 | 72 | 24/24 |"), "{md}");
    assert!(md.contains("Tipping point:"), "{md}");
    for (plot, title) in [
        ("latency.svg", "End-to-end latency"),
        ("loop.svg", "Controller loop duration"),
        ("rss.svg", "Controller resident memory"),
    ] {
        let svg = std::fs::read_to_string(out.join(plot)).expect("the plot is written");
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{plot}"
        );
        assert!(svg.contains(title), "{plot}");
    }
    // The same table on standard output.
    assert!(String::from_utf8_lossy(&o.stdout).contains("| 24x3 | 72 | 24/24 |"));
}

#[test]
fn a_report_folder_in_use_is_refused() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(tmp.path().join("notes.txt"), "mine").expect("written");
    let o = simulate(tmp.path(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("notes.txt"))
            .ok()
            .as_deref(),
        Some("mine")
    );
    let o = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["simulate", "--sweep", "10"])
        .output()
        .expect("flotilla runs");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_running_server_is_loaded_with_its_own_fleet_and_store() {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let fleet = tmp.path().join("fleet");
    let o = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "dev",
            "gen-fleet",
            "--clusters",
            "9",
            "--services",
            "3",
            "--out",
        ])
        .arg(&fleet)
        .output()
        .expect("flotilla runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let store = tmp.path().join("store");
    let store = store.to_str().expect("a UTF-8 path");
    let server = crate::serve::Server::start(&fleet, store);
    let out = tmp.path().join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args([
            "simulate",
            "--server",
            &server.url,
            "--store",
            store,
            "--fleet",
        ])
        .arg(&fleet)
        .args([
            "--duration",
            "3s",
            "--idle",
            "1s",
            "--every",
            "1s",
            "--poll",
            "1s",
        ])
        .args(["--ready-after", "100ms", "--settle", "2m", "--out"])
        .arg(&out)
        .output()
        .expect("flotilla runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("report.json")).expect("report.json is written"),
    )
    .expect("report.json is JSON");
    let points = json["points"].as_array().expect("points");
    // The one point is the served fleet's size.
    assert_eq!(points.len(), 1, "{json:#}");
    let p = &points[0];
    assert_eq!(p["point"]["clusters"], 9, "{p:#}");
    assert_eq!(p["point"]["services"], 3, "{p:#}");
    assert_eq!(p["agentsReady"], 9, "{p:#}");
    assert_eq!(p["deploymentsTimedOut"], 0, "{p:#}");
    assert!(p["releasesMeasured"].as_u64().unwrap_or(0) > 0, "{p:#}");
    // The traffic went through the API of the server it did not start, which still runs:
    // versions published and promoted by `user:simulate`, each audited.
    let token = crate::serve::token(&fleet, store, "alice", "platform");
    let (status, audit) = server.get(&token, "/v1/audit");
    assert_eq!(status, 200, "{audit}");
    let by_simulate = |action: &str| {
        audit["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["principal"] == "user:simulate" && r["action"] == action)
            .filter(|r| r["result"] == "ok")
            .count()
    };
    assert!(by_simulate("publish") >= 1, "{audit:#}");
    assert!(by_simulate("deploy") >= 1, "{audit:#}");
}
