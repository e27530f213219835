//! Integration tests of the secret sources against a real OpenBao dev server (one test binary).
//!
//! Needs `bao`: `scripts/install-openbao.sh`. Without it every test here fails with that
//! command in its message; none passes silently.

mod vault;

use std::sync::{Arc, Mutex, PoisonError, Weak};

use secrets::testing::{HarnessError, Listener, OpenBao};
use serde_json::json;

/// Plaintexts seeded into the server: no output of the crate may contain any of them.
pub const PLAINTEXTS: &[&str] = &[
    "PLAIN-hunter2",
    "PLAIN-pay-user",
    "PLAIN-legacy-key",
    "PLAIN-fleet-",
    "PLAIN-replicas",
];

/// A seeded dev server, shared by the tests running at the same time (started again when the
/// previous one was dropped by the last test using it).
pub struct Fixture {
    pub bao: OpenBao,
    pub role_id: String,
    pub secret_id: String,
    /// A token whose only policy denies everything.
    pub deny_token: String,
    /// A token that may read `secret/payments` only.
    pub partial_token: String,
}

/// Number of `secret/fleet/svc-<n>` secrets.
pub const FLEET: usize = 20;

pub fn fixture() -> Arc<Fixture> {
    static SHARED: Mutex<Weak<Fixture>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(f) = shared.upgrade() {
        return f;
    }
    let bao = start(Listener::Http);
    let f = Arc::new(seed(bao).unwrap_or_else(|e| panic!("seeding openbao: {e}")));
    *shared = Arc::downgrade(&f);
    f
}

/// Starts a server, or fails the test loudly with the install command.
pub fn start(listener: Listener) -> OpenBao {
    match OpenBao::start_with(listener) {
        Ok(bao) => bao,
        Err(e @ HarnessError::NotInstalled { .. }) => {
            let bar = "!".repeat(78);
            eprintln!("\n{bar}\n{e}\n{bar}\n");
            panic!("{e}");
        }
        Err(e) => panic!("{e}"),
    }
}

fn seed(bao: OpenBao) -> Result<Fixture, HarnessError> {
    bao.write_kv2(
        "secret",
        "payments",
        json!({ "password": "PLAIN-hunter2", "user": "PLAIN-pay-user" }),
    )?;
    bao.write_kv2(
        "secret",
        "payments/helm",
        json!({ "values.yaml": "replicas: 2 # PLAIN-replicas\nimage:\n  tag: v1.2.3\n" }),
    )?;
    bao.write_kv2(
        "secret",
        "typed",
        json!({ "port": 5432, "enabled": true, "nothing": null, "cfg": { "a": [1, "x"] } }),
    )?;
    bao.write_kv2("secret", "gone", json!({ "k": "v" }))?;
    bao.api("DELETE", "secret/data/gone", None)?;
    for n in 0..FLEET {
        bao.write_kv2(
            "secret",
            &format!("fleet/svc-{n}"),
            json!({ "token": format!("PLAIN-fleet-{n}"), "n": n }),
        )?;
    }
    bao.mount_kv("legacy", 1)?;
    bao.write_kv1("legacy", "db", json!({ "api_key": "PLAIN-legacy-key" }))?;

    bao.put_policy(
        "reader",
        r#"path "secret/data/*" { capabilities = ["read"] }
           path "legacy/*" { capabilities = ["read"] }"#,
    )?;
    bao.put_policy(
        "partial",
        r#"path "secret/data/payments" { capabilities = ["read"] }"#,
    )?;
    bao.put_policy("deny-all", r#"path "*" { capabilities = ["deny"] }"#)?;
    let deny_token = bao.create_token(&["deny-all"])?;
    let partial_token = bao.create_token(&["partial"])?;
    let (role_id, secret_id) = bao.create_approle("compiler", &["reader"])?;
    Ok(Fixture {
        bao,
        role_id,
        secret_id,
        deny_token,
        partial_token,
    })
}

/// Asserts that `text` (any output of the crate) holds no seeded plaintext.
pub fn assert_no_plaintext(text: &str) {
    for p in PLAINTEXTS {
        assert!(!text.contains(p), "plaintext {p:?} leaked into: {text}");
    }
}
