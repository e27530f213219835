//! Secrets in values: a fleet using `vault`, `vaultYaml` and `valuesFrom` compiled against a
//! real OpenBao dev server (KV v2 and v1, token and AppRole), its failures (403, missing
//! paths and keys, server down), a changed secret, and no plaintext in anything printed; the
//! example fleet with its local demo secrets.
//!
//! Needs `bao`: `scripts/install-tools.sh openbao`. Without it the OpenBao tests fail with that
//! command in their message.

use std::sync::Arc;

use compiler::redact::{Redactions, redacted};
use compiler::{Compilation, FleetFiles, HelmRenderer, Options};
use secrets::testing::{OpenBao, closed_port};
use secrets::{SecretSource, VaultAuth, VaultSource};
use serde_json::json;

use crate::example::example_fleet;

/// The demo secrets of `examples/fleet/secrets/`.
pub const EXAMPLE_PLAINTEXTS: &[&str] = &[
    "demo-db-password-7Qx9",
    "svc_payments_rw",
    "https://demo-sentry-key-51e2@sentry.example.com/42",
    "sk_test_demo_4eC39HqLyjWDarjtT1zdp7dc",
    "AQE1demo-adyen-key-9f3b",
];

/// What the OpenBao fixture holds.
const PLAINTEXTS: &[&str] = &[
    "PLAIN-app-password",
    "PLAIN-legacy-api-key",
    "PLAIN-db-user",
    "PLAIN-extra-token",
    "PLAIN-rotated-password",
];

/// A plaintext and its base64, the forms no output may hold.
pub fn forms(plain: &str) -> Vec<String> {
    vec![plain.to_owned(), secrets::redact::base64(plain.as_bytes())]
}

fn assert_clean(what: &str, text: &str, plaintexts: &[&str]) {
    for plain in plaintexts {
        for form in forms(plain) {
            assert!(!text.contains(&form), "{what} holds {form:?}:\n{text}");
        }
    }
}

fn start() -> OpenBao {
    match OpenBao::start() {
        Ok(bao) => bao,
        Err(e) => panic!("{e}"),
    }
}

/// Seeds the server: KV v2 `secret/app` and `secret/app/helm`, KV v1 `legacy/app`.
fn seed(bao: &OpenBao) {
    let ok = |r: Result<(), secrets::testing::HarnessError>| r.unwrap_or_else(|e| panic!("{e}"));
    ok(bao.write_kv2("secret", "app", json!({ "password": "PLAIN-app-password" })));
    ok(bao.write_kv2(
        "secret",
        "app/helm",
        json!({
            "values.yaml": "db:\n  user: PLAIN-db-user\nreplicas: 3\n",
            "extra.yaml": "token: PLAIN-extra-token\n",
        }),
    ));
    ok(bao.mount_kv("legacy", 1));
    ok(bao.write_kv1(
        "legacy",
        "app",
        json!({ "api_key": "PLAIN-legacy-api-key" }),
    ));
}

const SERVICE: &str = r#"name: app
owners: {team: t}
chart: {path: ../../charts/app}
selector: 'true'
release: {name: app, namespace: app}
values: |
  password: {{ vault "secret/app" "password" | quote }}
  legacy: {{ vault "legacy/app" "api_key" | quote }}
  extra:
    {{- vaultYaml "secret/app/helm" "extra.yaml" | toYaml | nindent 4 }}
  env: {{ .Cluster.environment }}
valuesFrom:
  - vault: {path: secret/app/helm, key: values.yaml}
"#;

const SECRET_TEMPLATE: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: app
data:
  password: {{ .Values.password | b64enc | quote }}
  legacy: {{ .Values.legacy | b64enc | quote }}
"#;

const CONFIG_TEMPLATE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  user: {{ .Values.db.user | quote }}
  token: {{ .Values.extra.token | quote }}
  replicas: {{ .Values.replicas | quote }}
  env: {{ .Values.env | quote }}
"#;

/// Two clusters and one service reading secrets in every way.
fn fleet(service: &str) -> FleetFiles {
    FleetFiles::from_files([
        (
            "clusters/a.yaml",
            "name: a\nprovider: aws\nregion: us-east-1\nenvironment: prod\n",
        ),
        (
            "clusters/b.yaml",
            "name: b\nprovider: aws\nregion: us-east-1\nenvironment: dev\n",
        ),
        ("services/app/service.yaml", service),
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        ),
        ("charts/app/values.yaml", "replicas: 1\n"),
        ("charts/app/templates/secret.yaml", SECRET_TEMPLATE),
        ("charts/app/templates/config.yaml", CONFIG_TEMPLATE),
    ])
}

fn compile(files: &FleetFiles, source: Arc<dyn SecretSource>) -> Compilation {
    compiler::compile_with(
        files,
        &HelmRenderer,
        Options {
            secrets: Some(&source),
            ..Options::default()
        },
    )
}

fn vault(bao: &OpenBao, auth: VaultAuth) -> Arc<dyn SecretSource> {
    Arc::new(VaultSource::new(bao.config(auth)).unwrap_or_else(|e| panic!("{e}")))
}

/// Every manifest, concatenated.
fn all_manifests(c: &Compilation) -> String {
    c.manifests.0.values().map(|m| &**m).collect()
}

/// Everything a compilation prints or stores outside the manifests: the plan, the
/// diagnostics, the redactions file and a review against nothing and against itself.
fn printed(c: &Compilation) -> String {
    let redactions = Redactions::of(&c.manifests, &c.redactor);
    let shown = redacted(&c.manifests, &redactions, &c.redactor);
    let review = compiler::review::review(None, (&c.plan, &shown)).render_text();
    format!(
        "{}\n{}\n{}\n{}\n{}",
        c.plan.to_yaml(),
        c.diagnostics.render_text(),
        c.diagnostics.render_json(),
        redactions.to_json(),
        c.redactor.redact(&review)
    )
}

#[test]
fn a_fleet_using_every_form_compiles_against_openbao() {
    let bao = start();
    seed(&bao);
    for auth in [VaultAuth::token(secrets::testing::ROOT_TOKEN), {
        bao.put_policy(
            "reader",
            r#"path "secret/data/*" { capabilities = ["read"] }
               path "legacy/*" { capabilities = ["read"] }"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (role, secret) = bao
            .create_approle("compiler", &["reader"])
            .unwrap_or_else(|e| panic!("{e}"));
        VaultAuth::app_role(role, secret)
    }] {
        let c = compile(&fleet(SERVICE), vault(&bao, auth));
        assert_eq!(c.diagnostics.render_text(), "");
        assert_eq!(c.plan.release_count(), 2);
        // The manifests carry the real values: KV v2 and v1 keys, a vaultYaml fragment, a
        // valuesFrom fragment merged under the values (its replicas over the chart's).
        let manifests = all_manifests(&c);
        for expect in [
            secrets::redact::base64(b"PLAIN-app-password"),
            secrets::redact::base64(b"PLAIN-legacy-api-key"),
            "user: \"PLAIN-db-user\"".to_owned(),
            "token: \"PLAIN-extra-token\"".to_owned(),
            "replicas: \"3\"".to_owned(),
            "env: \"prod\"".to_owned(),
        ] {
            assert!(manifests.contains(&expect), "{expect} in\n{manifests}");
        }
        assert_clean("the printed outputs", &printed(&c), PLAINTEXTS);
    }
}

#[test]
fn a_changed_secret_moves_the_digests_and_stays_masked() {
    let bao = start();
    seed(&bao);
    let files = fleet(SERVICE);
    let root = || vault(&bao, VaultAuth::token(secrets::testing::ROOT_TOKEN));
    let before = compile(&files, root());
    let again = compile(&files, root());
    assert_eq!(before.plan.to_yaml(), again.plan.to_yaml());
    bao.write_kv2(
        "secret",
        "app",
        json!({ "password": "PLAIN-rotated-password" }),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let after = compile(&files, root());
    assert_eq!(after.diagnostics.render_text(), "");
    for (old, new) in before.plan.clusters.iter().zip(&after.plan.clusters) {
        assert_ne!(old.releases[0].values, new.releases[0].values);
        assert_ne!(old.releases[0].manifest, new.releases[0].manifest);
    }
    // The review masks the old value (stored spans) and the new one (this compile's).
    let stored = Redactions::of(&before.manifests, &before.redactor);
    let old = redacted(&before.manifests, &stored, &after.redactor);
    let new = redacted(
        &after.manifests,
        &Redactions::of(&after.manifests, &after.redactor),
        &after.redactor,
    );
    let review = compiler::review::review(Some((&before.plan, &old)), (&after.plan, &new));
    let text = after.redactor.redact(&review.render_text());
    assert_eq!(review.counts(), (0, 0, 2));
    assert!(text.contains("-  password: <secret sha256:"), "{text}");
    assert!(text.contains("+  password: <secret sha256:"), "{text}");
    assert_clean("the review", &text, PLAINTEXTS);
}

/// The compile's diagnostics as text, checked clean of plaintext.
fn failure(files: &FleetFiles, source: Arc<dyn SecretSource>) -> (Compilation, String) {
    let c = compile(files, source);
    assert!(c.diagnostics.has_errors());
    assert!(c.applicable().is_none());
    let text = c.diagnostics.render_text();
    assert_clean("the diagnostics", &printed(&c), PLAINTEXTS);
    (c, text)
}

#[test]
fn failures_name_the_service_the_clusters_and_the_position() {
    let bao = start();
    seed(&bao);
    bao.put_policy("deny-all", r#"path "*" { capabilities = ["deny"] }"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let deny = bao
        .create_token(&["deny-all"])
        .unwrap_or_else(|e| panic!("{e}"));
    let codes = |c: &Compilation| -> Vec<String> {
        c.diagnostics
            .diagnostics
            .iter()
            .map(|d| d.code.clone())
            .collect()
    };

    // 403: at the first `vault` call of the template.
    let (c, text) = failure(&fleet(SERVICE), vault(&bao, VaultAuth::token(deny)));
    assert_eq!(codes(&c), ["secrets::permission-denied"]);
    assert!(!c.remote_failure());
    assert!(
        text.contains("the values of `app` failed on clusters `a`, `b`: template: app/values:1:13: executing \"app/values\" at <vault \"secret/app\" \"password\">: error calling vault: permission denied reading secret \"secret/app\""),
        "{text}"
    );
    assert!(text.contains("┌─ services/app/service.yaml:7:16"), "{text}");
    insta::assert_snapshot!("permission-denied", text);

    let root = || vault(&bao, VaultAuth::token(secrets::testing::ROOT_TOKEN));
    // A missing path, a missing key.
    let missing = SERVICE.replace(
        "\"secret/app\" \"password\"",
        "\"secret/nope\" \"password\"",
    );
    let (c, text) = failure(&fleet(&missing), root());
    assert_eq!(codes(&c), ["secrets::not-found"]);
    assert!(text.contains("secret \"secret/nope\" not found"), "{text}");
    assert!(text.contains("services/app/service.yaml:7:16"), "{text}");
    let missing = SERVICE.replace("\"legacy/app\" \"api_key\"", "\"legacy/app\" \"apikey\"");
    let (c, text) = failure(&fleet(&missing), root());
    assert_eq!(codes(&c), ["secrets::missing-key"]);
    assert!(
        text.contains("secret \"legacy/app\" has no key \"apikey\" (its keys: api_key)"),
        "{text}"
    );
    assert!(text.contains("services/app/service.yaml:8:14"), "{text}");

    // A valuesFrom entry that is missing, or not YAML: at the entry.
    let missing = SERVICE.replace("key: values.yaml}", "key: nope.yaml}");
    let (c, text) = failure(&fleet(&missing), root());
    assert_eq!(codes(&c), ["secrets::missing-key"]);
    assert!(text.contains("services/app/service.yaml:13:5"), "{text}");
    assert!(text.contains("this entry of `valuesFrom`"), "{text}");
    bao.write_kv2("secret", "broken", json!({ "v": "a: [PLAIN-db-user\n" }))
        .unwrap_or_else(|e| panic!("{e}"));
    let broken = SERVICE.replace(
        "{path: secret/app/helm, key: values.yaml}",
        "{path: secret/broken, key: v}",
    );
    let (c, text) = failure(&fleet(&broken), root());
    assert_eq!(codes(&c), ["secrets::not-yaml"]);
    assert!(
        text.contains(
            "secret \"secret/broken\" key \"v\" is not a YAML mapping of values (error at line 2)"
        ),
        "{text}"
    );

    // A value printed in an error message is masked: `fail` with the secret.
    let leaky = SERVICE.replace(
        "env: {{ .Cluster.environment }}",
        "env: {{ fail (vault \"secret/app\" \"password\") }}",
    );
    let (_, text) = failure(&fleet(&leaky), root());
    assert!(text.contains("<secret sha256:"), "{text}");
}

#[test]
fn a_server_that_is_down_is_a_remote_failure() {
    let mut config = secrets::VaultConfig::new(
        format!("http://127.0.0.1:{}", closed_port()),
        VaultAuth::token("t"),
    );
    config.retry.max_attempts = 2;
    config.retry.initial_backoff = std::time::Duration::from_millis(5);
    let source: Arc<dyn SecretSource> =
        Arc::new(VaultSource::new(config).unwrap_or_else(|e| panic!("{e}")));
    let (c, text) = failure(&fleet(SERVICE), source);
    assert!(c.remote_failure());
    assert!(
        c.diagnostics
            .diagnostics
            .iter()
            .all(|d| d.code == compiler::resolvers::vault::REMOTE_CODE),
        "{text}"
    );
    assert!(text.contains("unavailable reading secret"), "{text}");
}

#[test]
fn a_value_too_short_to_mask_is_a_warning() {
    let bao = start();
    seed(&bao);
    bao.write_kv2("secret", "app", json!({ "password": "abc" }))
        .unwrap_or_else(|e| panic!("{e}"));
    let c = compile(
        &fleet(SERVICE),
        vault(&bao, VaultAuth::token(secrets::testing::ROOT_TOKEN)),
    );
    assert!(c.applicable().is_some());
    assert_eq!(
        c.diagnostics.render_text(),
        "warning[secrets::too-short]: secret `secret/app#password` is shorter than 4 characters: \
         its value cannot be told apart from ordinary text, so it is not masked in what flotilla \
         prints\n = help: use a longer secret value\n\n"
    );
}

#[test]
fn without_a_source_reading_a_secret_is_a_diagnostic() {
    let c = compiler::compile(&fleet(SERVICE));
    assert!(c.diagnostics.has_errors());
    assert!(
        c.diagnostics
            .render_text()
            .contains("no secret source is configured"),
        "{}",
        c.diagnostics.render_text()
    );
}

#[test]
fn the_example_fleet_reads_its_local_demo_secrets() {
    let c = compiler::compile(&example_fleet());
    assert_eq!(c.diagnostics.render_text(), "");
    let manifests = all_manifests(&c);
    for plain in EXAMPLE_PLAINTEXTS {
        let b64 = secrets::redact::base64(plain.as_bytes());
        assert!(manifests.contains(&b64), "{plain} in the manifests");
    }
    assert_clean("the example's outputs", &printed(&c), EXAMPLE_PLAINTEXTS);
    // Every snapshot: the example's plan and manifest listing, and this crate's.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut snapshots = Vec::new();
    for dir in [root.join("../snapshots"), root.join("tests/it/snapshots")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            snapshots.push(entry.path());
        }
    }
    for name in ["example-plan.snap", "example-manifests.snap"] {
        assert!(snapshots.iter().any(|p| p.ends_with(name)), "{name}");
    }
    for path in snapshots {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_clean(&path.display().to_string(), &text, EXAMPLE_PLAINTEXTS);
        assert_clean(&path.display().to_string(), &text, PLAINTEXTS);
    }
}

/// A chart template that fails with a secret value in its message: the diagnostic points into
/// the chart's file and shows the secret's digest, never its plaintext.
#[test]
fn a_chart_failure_that_prints_a_secret_is_masked() {
    let dir = std::env::temp_dir().join(format!(
        "flotilla-compiler-chart-secret-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("secret")).expect("created");
    std::fs::write(dir.join("secret/app.yaml"), "token: PLAIN-chart-token\n").expect("written");
    let files = FleetFiles::from_files([
        (
            "clusters/a.yaml",
            "name: a\nprovider: aws\nregion: us-east-1\nenvironment: prod\n",
        ),
        (
            "services/app/service.yaml",
            "name: app\nowners: {team: t}\nchart: {path: ../../charts/app}\nselector: 'true'\nrelease: {name: app, namespace: app}\nvalues: |\n  token: {{ vault \"secret/app\" \"token\" | quote }}\n",
        ),
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        ),
        (
            "charts/app/templates/config.yaml",
            "{{- if not (hasPrefix \"tok_\" .Values.token) }}\n{{- fail (printf \"the token %s has no tok_ prefix\" .Values.token) }}\n{{- end }}\n",
        ),
    ]);
    let c = compile(&files, Arc::new(secrets::LocalSource::new(&dir)));
    let _ = std::fs::remove_dir_all(&dir);
    let text = c.diagnostics.render_text();
    assert!(
        text.contains("┌─ charts/app/templates/config.yaml:2:5"),
        "{text}"
    );
    assert!(text.contains("the token <secret sha256:"), "{text}");
    assert_clean("a chart failure", &printed(&c), &["PLAIN-chart-token"]);
}
