//! Fixture fleets under `tests/cases/<case>/`, each with its policies (`policies/`), and
//! optionally clusters, services, requests to decide (`requests.txt`) and rendered objects to
//! check (`objects/<cluster>/<service>.yaml`). The diagnostics, the explained decisions and the
//! violations are snapshotted beside them (`tests/cases/<case>/report.snap`).
//!
//! `requests.txt`: one request a line, `SUBJECT [groups=a,b] ACTION [SERVICE] [@CLUSTER]`.

use std::fmt::Write as _;
use std::path::Path;

use policies::manifests::{self, Release};
use policies::{Action, Principal};
use syntax::diag::Diags;

use crate::support::{crate_dir, read_tree};

fn report(dir: &Path) -> String {
    let files = read_tree(dir);
    let mut diags = Diags::new(&files);
    let fleet = compiler::load::load(&files, &mut diags);
    let policies = policies::load_into(&files, &mut diags);
    let report = diags.finish();
    let mut out = String::new();
    out.push_str("== diagnostics\n");
    out.push_str(&report.render_text());
    if let Ok(requests) = std::fs::read_to_string(dir.join("requests.txt")) {
        out.push_str("== decisions\n");
        for line in requests
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let mut words = line.split_whitespace().peekable();
            let subject = words.next().unwrap_or_default();
            let groups: Vec<String> = words
                .next_if(|w| w.starts_with("groups="))
                .map(|w| w["groups=".len()..].split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            let principal = Principal::parse(subject, &groups).expect("a valid subject");
            let action: Action = words.next().unwrap_or_default().parse().expect("an action");
            let mut service = String::new();
            let mut cluster = None;
            for w in words {
                match w.strip_prefix('@') {
                    Some(c) => cluster = Some(c),
                    None => service = w.to_owned(),
                }
            }
            let _ = writeln!(out, "-- {line}");
            let diags = Diags::new(&files);
            match policies::can_i(&files, &fleet, diags, &principal, action, &service, cluster) {
                Ok(run) => out.push_str(&run.explained.render_text()),
                Err(e) => {
                    let _ = writeln!(out, "error: {e}");
                }
            }
        }
    }
    let objects = dir.join("objects");
    if objects.is_dir() {
        out.push_str("== violations\n");
        let mut all = Vec::new();
        for (path, text) in &files.files {
            let Some(rest) = path.strip_prefix("objects/") else {
                continue;
            };
            let Some((cluster_name, file)) = rest.split_once('/') else {
                continue;
            };
            let service = file.trim_end_matches(".yaml");
            let cluster = fleet
                .clusters
                .get(cluster_name)
                .unwrap_or_else(|| panic!("{path}: no cluster {cluster_name}"));
            let release = match fleet.services.get(service) {
                Some(s) => Release {
                    name: s.release.name.clone(),
                    namespace: s.release.namespace.clone(),
                    service: service.to_owned(),
                },
                None => Release {
                    name: service.to_owned(),
                    namespace: "default".to_owned(),
                    service: service.to_owned(),
                },
            };
            let objects = manifests::split_documents(text).expect("valid YAML objects");
            all.extend(policies::check_manifests(
                &policies, cluster, &release, &objects,
            ));
        }
        all.sort();
        out.push_str(&manifests::render_text(&all));
    }
    out
}

#[test]
fn cases() {
    let root = crate_dir().join("tests/cases");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/cases exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let text = report(&dir);
        insta::with_settings!({
            snapshot_path => dir.clone(),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => dir.file_name().unwrap_or_default().to_string_lossy().into_owned(),
        }, {
            insta::assert_snapshot!("report", text);
        });
    }
}
