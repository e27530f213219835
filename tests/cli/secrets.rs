//! Secrets through the CLI: the example fleet's demo secrets (local source) and the same
//! secrets in a real OpenBao give the same bundle; no plaintext, nor its base64, in plan.yaml,
//! redactions.json, any file of the accepted plan, stdout or stderr of `plan` and `review`;
//! `--reveal-secrets`; exit code 3 when Vault is down; `--secrets` usage errors.

use std::path::Path;
use std::process::Command;

use secrets::testing::{OpenBao, ROOT_TOKEN, closed_port};
use serde_json::json;

use super::plan::{Temp, example_copy, tree};
use super::{ADMIN, run};

/// The demo secrets of `examples/fleet/secrets/`.
const PLAINTEXTS: &[&str] = &[
    "demo-db-password-7Qx9",
    "svc_payments_rw",
    "https://demo-sentry-key-51e2@sentry.example.com/42",
    "sk_test_demo_4eC39HqLyjWDarjtT1zdp7dc",
    "AQE1demo-adyen-key-9f3b",
    "rotated-db-password-8Zz1",
];

fn forms(plain: &str) -> [String; 2] {
    [plain.to_owned(), secrets::redact::base64(plain.as_bytes())]
}

fn assert_clean(what: &str, text: &str) {
    for plain in PLAINTEXTS {
        for form in forms(plain) {
            assert!(!text.contains(&form), "{what} holds {form:?}:\n{text}");
        }
    }
}

/// Runs flotilla with extra environment variables.
fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("flotilla runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks a bundle: no plaintext outside the manifests; the manifests carry the real values.
fn check_bundle(dir: &Path) {
    let mut manifests = String::new();
    for (name, bytes) in tree(dir) {
        let text = String::from_utf8_lossy(&bytes);
        if name.starts_with("objects/") {
            manifests.push_str(&text);
        } else {
            assert_clean(&name, &text);
        }
    }
    for plain in &PLAINTEXTS[..5] {
        let b64 = secrets::redact::base64(plain.as_bytes());
        assert!(manifests.contains(&b64), "{plain} is in the manifests");
    }
}

#[test]
fn plan_and_review_never_print_a_secret() {
    let t = Temp::new();
    let fleet = example_copy(&t);
    let out = t.path("plan");
    let (code, stdout, err) = run(&["plan", "--fleet", &fleet, "--out", &out, "--as", ADMIN]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_clean("plan's stdout", &stdout);
    check_bundle(Path::new(&out));
    assert!(Path::new(&out).join("redactions.json").is_file());

    let review = |args: &[&str]| {
        let mut all = vec!["review", "--fleet", &fleet];
        all.extend_from_slice(args);
        run(&all)
    };
    let (code, stdout, err) = review(&["--accept"]);
    assert_eq!(code, 0, "{err}");
    assert_clean("review's stdout", &stdout);
    assert_clean("review's stderr", &err);
    // The accepted plan holds no secret value, not even in its manifests.
    for (name, bytes) in tree(&Path::new(&fleet).join(".flotilla/accepted")) {
        assert_clean(&name, &String::from_utf8_lossy(&bytes));
    }

    // A rotated secret: the review shows the change as digests, both sides masked.
    let file = Path::new(&fleet).join("secrets/secret/payments.yaml");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    std::fs::write(
        &file,
        text.replace("demo-db-password-7Qx9", "rotated-db-password-8Zz1"),
    )
    .expect("written");
    let (code, stdout, err) = review(&["--check"]);
    assert_eq!(code, 1, "{err}");
    assert_clean("review's stdout", &stdout);
    assert_clean("review's stderr", &err);
    assert!(
        stdout.contains("-  DATABASE_PASSWORD: <secret sha256:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+  DATABASE_PASSWORD: <secret sha256:"),
        "{stdout}"
    );
    assert!(stdout.contains("3 changed"), "{stdout}");

    // Asked for, the diff shows the values.
    let (code, stdout, _) = review(&["--check", "--reveal-secrets"]);
    assert_eq!(code, 1);
    let rotated = secrets::redact::base64(b"rotated-db-password-8Zz1");
    assert!(
        stdout.contains(&format!("+  DATABASE_PASSWORD: \"{rotated}\"")),
        "{stdout}"
    );
}

#[test]
fn the_same_secrets_in_openbao_give_the_same_bundle() {
    let bao = match OpenBao::start() {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    let seeded =
        |r: Result<(), secrets::testing::HarnessError>| r.unwrap_or_else(|e| panic!("{e}"));
    seeded(bao.write_kv2(
        "secret",
        "payments",
        json!({ "db-password": "demo-db-password-7Qx9" }),
    ));
    let helm = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/fleet/secrets/secret/payments/helm.yaml"),
    )
    .expect("the demo secrets");
    let keys: std::collections::BTreeMap<String, String> = demo_keys(&helm);
    seeded(bao.write_kv2("secret", "payments/helm", json!(keys)));

    let t = Temp::new();
    let local = t.path("local");
    let remote = t.path("vault");
    assert_eq!(
        run(&[
            "plan",
            "--as",
            ADMIN,
            "--fleet",
            "examples/fleet",
            "--out",
            &local,
            "--no-cache"
        ])
        .0,
        0
    );
    let (code, stdout, err) = run_env(
        &[
            "plan",
            "--as",
            ADMIN,
            "--fleet",
            "examples/fleet",
            "--out",
            &remote,
            "--no-cache",
        ],
        &[("VAULT_ADDR", bao.address()), ("VAULT_TOKEN", ROOT_TOKEN)],
    );
    assert_eq!((code, err.as_str()), (0, ""), "{stdout}");
    assert!(tree(Path::new(&local)) == tree(Path::new(&remote)));

    // A token that may read nothing: a diagnostic naming the service, exit code 1.
    bao.put_policy("deny-all", r#"path "*" { capabilities = ["deny"] }"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let deny = bao
        .create_token(&["deny-all"])
        .unwrap_or_else(|e| panic!("{e}"));
    let (code, stdout, err) = run_env(
        &[
            "plan",
            "--as",
            ADMIN,
            "--fleet",
            "examples/fleet",
            "--out",
            &t.path("denied"),
            "--no-cache",
            "--secrets",
            "vault",
        ],
        &[("VAULT_ADDR", bao.address()), ("VAULT_TOKEN", &deny)],
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(
        err.contains("error[secrets::permission-denied]: the values of `payments-api` failed on clusters `aws-prod-euw1`, `aws-prod-use1`, `aws-staging-use1`"),
        "{err}"
    );
    assert!(
        err.contains("examples/fleet/services/payments-api/service.yaml:"),
        "{err}"
    );
}

/// The demo `helm.yaml` (a map of block scalars) read as key -> text, with the YAML reader the
/// compiler's template functions use.
fn demo_keys(text: &str) -> std::collections::BTreeMap<String, String> {
    let map = gotemplate::funcs::encoding::from_yaml_map(text, "map").expect("a YAML map");
    map.entries()
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
        .collect()
}

#[test]
fn vault_down_exits_with_3() {
    let t = Temp::new();
    let address = format!("http://127.0.0.1:{}", closed_port());
    let (code, stdout, err) = run_env(
        &[
            "plan",
            "--as",
            ADMIN,
            "--fleet",
            "examples/fleet",
            "--out",
            &t.path("plan"),
            "--no-cache",
        ],
        &[
            ("VAULT_ADDR", &address),
            ("VAULT_TOKEN", "t"),
            ("VAULT_MAX_RETRIES", "0"),
        ],
    );
    assert_eq!((code, stdout.as_str()), (3, ""), "{err}");
    assert!(err.contains("error[secrets::unavailable]"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!Path::new(&t.path("plan")).exists());
}

/// `flotilla plan` of the example fleet into `out`, reading secrets from `secrets`.
fn plan_with_secrets(out: &str, secrets: &str) -> (i32, String, String) {
    run(&[
        "plan",
        "--as",
        ADMIN,
        "--fleet",
        "examples/fleet",
        "--out",
        out,
        "--secrets",
        secrets,
    ])
}

#[test]
fn secrets_usage_errors() {
    let t = Temp::new();
    let out = t.path("plan");
    let (code, _, err) = plan_with_secrets(&out, "s3");
    assert_eq!(code, 2);
    assert!(err.contains("expected `vault` or `local:DIR`"), "{err}");
    let (code, _, err) = plan_with_secrets(&out, "vault");
    assert_eq!(code, 2, "{err}");
    // An empty folder of secrets: the demo secrets are not found, exit code 1.
    let empty = t.path("empty");
    std::fs::create_dir_all(&empty).expect("created");
    let (code, _, err) = plan_with_secrets(&out, &format!("local:{empty}"));
    assert_eq!(code, 1);
    assert!(err.contains("error[secrets::not-found]"), "{err}");
    assert!(
        err.contains("secret \"secret/payments\" not found"),
        "{err}"
    );
}
