//! `flotilla watch` and `flotilla dev compile --bump`: recompiles that redo only what changed.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::plan::Temp;
use super::{command, run};

fn gen_fleet(t: &Temp) -> String {
    let fleet = t.path("fleet");
    let (code, _, err) = run(&[
        "dev",
        "gen-fleet",
        "--clusters",
        "30",
        "--services",
        "12",
        "--out",
        &fleet,
    ]);
    assert_eq!(code, 0, "{err}");
    fleet
}

/// Appends a line to a service's values template (the last field of a generated service).
fn new_version(fleet: &str, service: &str, line: &str) {
    let path = format!("{fleet}/services/{service}/service.yaml");
    let mut text = std::fs::read_to_string(&path).expect("the service file");
    text.push_str(&format!("  {line}\n"));
    std::fs::write(&path, text).expect("write the service file");
}

#[test]
fn watch_recompiles_only_what_changed() {
    let t = Temp::new();
    let fleet = gen_fleet(&t);
    let mut child = command()
        .args([
            "watch",
            "--fleet",
            &fleet,
            "--compiles",
            "5",
            "--interval",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flotilla runs");
    let stdout = child.stdout.take().expect("piped");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut next = || match lines.recv_timeout(Duration::from_secs(120)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
            }
            panic!("flotilla watch printed no line: {e}\n{err}");
        }
    };

    let first = next();
    assert!(
        first.contains("(whole compile: first compile): 30 clusters"),
        "{first}"
    );

    // A new version of svc-001 (on every cluster) whose new value no template of the chart
    // reads: every release has a new version and values digest, no manifest changes.
    new_version(&fleet, "svc-001", "note: \"a new version\"");
    let second = next();
    assert!(second.contains("(new version of `svc-001`)"), "{second}");
    assert!(
        second.contains(
            "since the last compile: 30 releases changed (0 manifests), 0 added, 0 removed"
        ),
        "{second}"
    );
    // A new replica count outside prod changes the manifests of those clusters only.
    let path = format!("{fleet}/services/svc-001/service.yaml");
    let text = std::fs::read_to_string(&path).expect("the service file");
    assert!(text.contains("{{ else }}1{{ end }}"), "{text}");
    let text = text.replacen("{{ else }}1{{ end }}", "{{ else }}4{{ end }}", 1);
    std::fs::write(&path, text).expect("write");
    let others = std::fs::read_dir(format!("{fleet}/clusters"))
        .expect("clusters")
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().contains("-prod-"))
        .count();
    assert!(others > 0 && others < 30);
    let changed = next();
    assert!(
        changed.contains(&format!(
            "since the last compile: 30 releases changed ({others} manifests), 0 added, 0 removed"
        )),
        "{changed}"
    );

    let cluster = std::fs::read_dir(format!("{fleet}/clusters"))
        .expect("clusters")
        .flatten()
        .map(|e| e.path())
        .min()
        .expect("a cluster");
    let text = std::fs::read_to_string(&cluster).expect("a cluster file");
    std::fs::write(&cluster, text.replacen("nodes: ", "nodes: 1", 1)).expect("write");
    let third = next();
    // A cluster file: every selector runs on it again and its releases are rendered again.
    let name = cluster.file_stem().and_then(|n| n.to_str()).unwrap_or("");
    assert!(
        third.contains(&format!(
            "(selection redone; cluster `{name}` compiled again)"
        )),
        "{third}"
    );
    assert!(
        third.contains("0 releases changed (0 manifests), 0 added, 0 removed"),
        "{third}"
    );

    // A new service: its selector is evaluated and the clusters ordered again; nothing else
    // is rendered.
    let text = std::fs::read_to_string(format!("{fleet}/services/svc-003/service.yaml"))
        .expect("a service file");
    // Written beside the fleet and moved in, so that the watcher sees it whole.
    let staged = t.path("svc-099");
    std::fs::create_dir(&staged).expect("mkdir");
    std::fs::write(
        format!("{staged}/service.yaml"),
        text.replace("svc-003", "svc-099"),
    )
    .expect("write");
    std::fs::rename(&staged, format!("{fleet}/services/svc-099")).expect("move");
    let fourth = next();
    assert!(
        fourth.contains("(selection redone; new version of `svc-099`)"),
        "{fourth}"
    );
    assert!(
        fourth.contains("0 releases changed (0 manifests), ") && !fourth.contains(", 0 added"),
        "{fourth}"
    );
    let status = child.wait().expect("flotilla exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn watch_shows_diagnostics_of_a_broken_version() {
    let t = Temp::new();
    let fleet = gen_fleet(&t);
    new_version(&fleet, "svc-002", "broken: {{ fail \"not this version\" }}");
    let out = command()
        .args(["watch", "--fleet", &fleet, "--compiles", "1"])
        .output()
        .expect("flotilla runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("not this version"), "{stderr}");
    assert!(stdout.contains("not applicable (errors above)"), "{stdout}");
}

#[test]
fn dev_compile_bump_recompiles_a_service_incrementally() {
    let t = Temp::new();
    let fleet = gen_fleet(&t);
    let (code, stdout, err) = run(&[
        "dev", "compile", "--fleet", &fleet, "--bump", "svc-003", "--times", "2",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("(whole compile: first compile)"),
        "{stdout}"
    );
    for line in &lines[1..] {
        assert!(
            line.starts_with("recompiled in ") && line.contains("(new version of `svc-003`)"),
            "{stdout}"
        );
    }
    let (code, _, err) = run(&["dev", "compile", "--fleet", &fleet, "--bump", "nope"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the fleet has no services/nope/service.yaml"),
        "{err}"
    );
}
