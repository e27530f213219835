//! `flotilla review` on the shop fleet (`tests/cli/fleets/shop/`) with secrets: the accepted plan
//! holds no secret value in any form (and an unmasked one from an older flotilla is rewritten),
//! changes grouped per release with their clusters, `--service`/`--cluster` filters, added
//! releases summarised by object or `--full`, colour, `--accept SERVICE`, `--reject`, and the
//! interactive y/n/a/q prompts.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;

use super::plan::{Temp, copy_dir, tree};
use super::{ADMIN, run};

/// The secret the `web` service reads (local secrets folder `secrets/`), and the literal
/// values of the chart's `kind: Secret` document.
const PLAINTEXTS: &[&str] = &[
    "shop-db-password-Xy77",
    "rotated-db-password-Wq30",
    "literal-api-token-Zq81",
    "literal-string-data-Kp42",
];

const SECRET_TEMPLATE: &str = r#"{{- if .Values.database }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
  namespace: {{ .Release.Namespace }}
type: Opaque
data:
  password: {{ .Values.database.password | b64enc }}
  api-token: {{ "literal-api-token-Zq81" | b64enc }}
stringData:
  note: literal-string-data-Kp42
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-env
  namespace: {{ .Release.Namespace }}
data:
  DATABASE_PASSWORD: {{ .Values.database.password | quote }}
  DATABASE_PASSWORD_B64: {{ .Values.database.password | b64enc | quote }}
  DATABASE_JSON: {{ dict "password" .Values.database.password | toJson | quote }}
{{- end }}
"#;

/// A copy of the shop fleet whose `web` service reads a secret and whose chart has a Secret
/// with literal values.
fn fleet(t: &Temp) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/fleets/shop");
    let fleet = t.0.join("fleet");
    copy_dir(&root, &fleet);
    let write = |rel: &str, text: &str| {
        let path = fleet.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("created");
        std::fs::write(path, text).expect("written");
    };
    write("charts/app/templates/secret.yaml", SECRET_TEMPLATE);
    write(
        "secrets/secret/shop.yaml",
        "db-password: shop-db-password-Xy77\n",
    );
    let web = fleet.join("services/web/service.yaml");
    let text = std::fs::read_to_string(&web).expect("read");
    write(
        "services/web/service.yaml",
        &format!(
            "{text}  database:\n    password: {{{{ vault \"secret/shop\" \"db-password\" | quote }}}}\n"
        ),
    );
    t.path("fleet")
}

fn edit(fleet: &str, rel: &str, from: &str, to: &str) {
    let path = Path::new(fleet).join(rel);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{rel} has {from:?}");
    std::fs::write(&path, text.replace(from, to)).expect("written");
}

/// A new service `cache` on the prod clusters.
fn add_cache(fleet: &str) {
    let dir = Path::new(fleet).join("services/cache");
    std::fs::create_dir_all(&dir).expect("created");
    std::fs::write(
        dir.join("service.yaml"),
        "name: cache\nowners: {team: shop}\nchart: {path: ../../charts/app}\n\
         selector: 'cluster.environment == \"prod\"'\nrelease: {name: cache, namespace: shop}\n\
         values: |\n  image: registry.example.com/shop/cache:2.0.0\n",
    )
    .expect("written");
}

fn review(fleet: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["review", "--fleet", fleet];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    (
        code,
        out.replace(fleet, "[FLEET]"),
        err.replace(fleet, "[FLEET]"),
    )
}

fn plaintext_forms() -> Vec<String> {
    PLAINTEXTS
        .iter()
        .flat_map(|p| [(*p).to_owned(), secrets::redact::base64(p.as_bytes())])
        .collect()
}

/// Every file of the accepted plan, checked for every plaintext and its base64.
fn assert_accepted_clean(fleet: &str) {
    let files = tree(&Path::new(fleet).join(".flotilla/accepted"));
    assert!(
        files.iter().any(|(n, _)| n == "manifests.json"),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        for form in plaintext_forms() {
            assert!(!text.contains(&form), "{name} holds {form:?}:\n{text}");
        }
    }
}

fn assert_clean(what: &str, text: &str) {
    for form in plaintext_forms() {
        assert!(!text.contains(&form), "{what} holds {form:?}:\n{text}");
    }
}

#[test]
fn the_accepted_plan_holds_no_secret_value() {
    let t = Temp::new();
    let fleet = fleet(&t);
    // An accepted folder as older versions wrote it: the real manifests.
    let accepted = format!("{fleet}/.flotilla/accepted");
    let (code, _, err) = run(&["plan", "--fleet", &fleet, "--out", &accepted, "--as", ADMIN]);
    assert_eq!(code, 0, "{err}");
    let old: String = tree(Path::new(&accepted))
        .into_iter()
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .collect();
    for plain in ["shop-db-password-Xy77", "literal-string-data-Kp42"] {
        assert!(old.contains(plain), "the plan bundle holds the real values");
    }
    let (code, out, err) = review(&fleet, &["--check"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "no changes: the plan is the accepted one\n")
    );
    insta::assert_snapshot!("unmasked_warning", err);

    let (code, out, err) = review(&fleet, &["--accept"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.ends_with("accepted: [FLEET]/.flotilla/accepted\n"),
        "{out}"
    );
    assert!(err.contains("no longer holds secret values"), "{err}");
    assert_accepted_clean(&fleet);
    let (code, _, err) = review(&fleet, &["--check"]);
    assert_eq!((code, err.as_str()), (0, ""));

    // A rotated secret is a change (the real digests differ), shown masked on both sides.
    edit(
        &fleet,
        "secrets/secret/shop.yaml",
        "shop-db-password-Xy77",
        "rotated-db-password-Wq30",
    );
    let (code, out, err) = review(&fleet, &["--check"]);
    assert_eq!(code, 1, "{err}");
    assert_clean("the review", &out);
    assert_clean("the review's errors", &err);
    assert!(
        out.contains("~ web on 3 clusters: dev-eu, prod-eu, prod-us\n"),
        "{out}"
    );
    assert!(
        out.contains("    -  DATABASE_PASSWORD: \"<secret sha256:"),
        "{out}"
    );
    assert!(
        out.contains("    +  DATABASE_PASSWORD: \"<secret sha256:"),
        "{out}"
    );
    let (code, out, err) = review(&fleet, &["--accept"]);
    assert_eq!(code, 0, "{err}");
    assert_clean("the review", &out);
    assert_accepted_clean(&fleet);

    // Revealed, the fresh side shows the value; the accepted side has none to show.
    edit(
        &fleet,
        "secrets/secret/shop.yaml",
        "rotated-db-password-Wq30",
        "shop-db-password-Xy77",
    );
    let (code, out, err) = review(&fleet, &["--check", "--reveal-secrets"]);
    assert_eq!(code, 1);
    assert!(err.contains("the accepted plan stores none"), "{err}");
    assert!(
        out.contains("+  DATABASE_PASSWORD: \"shop-db-password-Xy77\""),
        "{out}"
    );
    assert!(
        out.contains("-  DATABASE_PASSWORD: \"<secret sha256:"),
        "{out}"
    );
}

#[test]
fn changes_are_grouped_filtered_and_accepted_per_service() {
    let t = Temp::new();
    let fleet = fleet(&t);
    assert_eq!(review(&fleet, &["--accept"]).0, 0);
    // One change on the two prod clusters, another on dev, a new service.
    edit(&fleet, "services/web/service.yaml", "}}3{{", "}}4{{");
    edit(&fleet, "services/web/service.yaml", "}}1{{", "}}2{{");
    add_cache(&fleet);
    let (code, out, _) = review(&fleet, &["--check"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("grouped", out);
    let (_, out, _) = review(&fleet, &["--check", "--full", "--service", "cache"]);
    insta::assert_snapshot!("added_in_full", out);
    let (_, out, _) = review(
        &fleet,
        &["--check", "--cluster", "dev-eu", "--color", "always"],
    );
    insta::assert_snapshot!("one_cluster_in_colour", out);
    let (_, out, _) = review(
        &fleet,
        &[
            "--check",
            "--color",
            "never",
            "--service",
            "web",
            "--cluster",
            "prod-us",
        ],
    );
    assert!(!out.contains('\x1b'), "{out}");
    assert!(
        out.ends_with("0 releases added, 0 removed, 1 changed, on 1 cluster\n"),
        "{out}"
    );
    let (code, _, err) = review(&fleet, &["--check", "--service", "wbe"]);
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "error: no service `wbe` in the fresh plan or the accepted one (did you mean `web`?)\n"
        )
    );

    // Only web's changes: the cache release stays to review.
    let (code, out, _) = review(&fleet, &["--accept", "web"]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with(
            "accepted 3 of 5 release changes (2 left to review): [FLEET]/.flotilla/accepted\n"
        ),
        "{out}"
    );
    assert_accepted_clean(&fleet);
    let (code, out, _) = review(&fleet, &["--check"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("after_accepting_web", out);
}

#[test]
fn a_review_shows_the_rollout_order_of_what_changed() {
    let t = Temp::new();
    let fleet = fleet(&t);
    std::fs::write(
        Path::new(&fleet).join("fleet.yaml"),
        "environments: [{name: dev}, {name: prod, production: true}]\n\
         rollout: {canary: 'cluster.region == \"eu-west-1\"', soak: 30m, autoRollback: true}\n",
    )
    .expect("written");
    assert_eq!(review(&fleet, &["--accept"]).0, 0);
    edit(&fleet, "services/web/service.yaml", "}}3{{", "}}4{{");
    let (code, out, _) = review(&fleet, &["--check"]);
    assert_eq!(code, 1);
    assert!(
        out.contains(
            "rollout order:\n  web in dev: canary [dev-eu]; soak 30m, rolled back if halted\n  web in prod: canary [prod-eu] → 100% [prod-us]; soak 30m, rolled back if halted\n"
        ),
        "{out}"
    );
    // worker did not change: its order is not shown.
    assert!(!out.contains("worker in"), "{out}");
}

#[test]
fn a_rejected_plan_is_reported_by_check() {
    let t = Temp::new();
    let fleet = fleet(&t);
    // Rejected before anything was accepted: the folder keeps the record only.
    let (code, out, _) = review(&fleet, &["--reject"]);
    assert_eq!(code, 0);
    assert!(out.ends_with("rejected: the accepted plan is unchanged; `flotilla review --check` reports this plan as rejected\n"), "{out}");
    let (code, out, _) = review(&fleet, &["--check"]);
    assert_eq!(code, 1);
    assert!(
        out.ends_with("this exact plan was rejected (`flotilla review --reject`)\n"),
        "{out}"
    );
    assert_eq!(review(&fleet, &["--accept"]).0, 0);
    assert_eq!(review(&fleet, &["--check"]).0, 0);

    add_cache(&fleet);
    let accepted = tree(&Path::new(&fleet).join(".flotilla/accepted"));
    assert_eq!(review(&fleet, &["--reject"]).0, 0);
    let after = tree(&Path::new(&fleet).join(".flotilla/accepted"));
    assert_eq!(
        after
            .iter()
            .map(|f| f.0.as_str())
            .filter(|n| *n != "rejected.json")
            .collect::<Vec<_>>(),
        accepted.iter().map(|f| f.0.as_str()).collect::<Vec<_>>()
    );
    let (code, out, _) = review(&fleet, &["--check"]);
    assert_eq!(code, 1);
    assert!(out.contains("this exact plan was rejected"), "{out}");
    // Another plan is not the rejected one.
    edit(&fleet, "services/cache/service.yaml", "2.0.0", "2.0.1");
    let (code, out, _) = review(&fleet, &["--check"]);
    assert_eq!(code, 1);
    assert!(!out.contains("rejected"), "{out}");
}

/// `flotilla review --interactive` answering with `input`.
fn interactive(fleet: &str, input: &str) -> (i32, String) {
    let mut child = super::command()
        .args(["review", "--fleet", fleet, "--interactive"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flotilla runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("flotilla ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).replace(fleet, "[FLEET]"),
    )
}

#[test]
fn interactive_review_asks_per_group() {
    let t = Temp::new();
    let fleet = fleet(&t);
    assert_eq!(review(&fleet, &["--accept"]).0, 0);
    edit(&fleet, "services/web/service.yaml", "}}3{{", "}}4{{");
    add_cache(&fleet);
    // Three groups (cache added; web's version changed on dev-eu, its replicas in prod): yes
    // to the last only.
    let (code, out) = interactive(&fleet, "n\nno\ny\n");
    assert_eq!(code, 0);
    insta::assert_snapshot!("interactive", out);
    let (_, out, _) = review(&fleet, &["--check"]);
    assert!(out.starts_with("+ cache on 2 clusters"), "{out}");
    assert!(out.contains("~ web on cluster dev-eu"), "{out}");
    assert!(!out.contains("~ web on 2 clusters"), "{out}");
    // Quit at once: nothing accepted.
    let (code, out) = interactive(&fleet, "q\n");
    assert_eq!(code, 0);
    assert!(
        out.ends_with("nothing accepted: the accepted plan is unchanged\n"),
        "{out}"
    );
    // All remaining.
    let (code, out) = interactive(&fleet, "a\n");
    assert_eq!(code, 0);
    assert!(
        out.ends_with("accepted: [FLEET]/.flotilla/accepted\n"),
        "{out}"
    );
    assert_eq!(review(&fleet, &["--check"]).0, 0);
}
