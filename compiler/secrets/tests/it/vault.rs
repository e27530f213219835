//! `VaultSource` against OpenBao: KV v1/v2, AppRole, errors, retries, TLS, read-once batches,
//! and no plaintext in any output.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use secrets::testing::{HarnessError, Listener, closed_port};
use secrets::{
    Counting, ErrorKind, KvMount, KvVersion, ReadOnce, SecretError, SecretPath, SecretRef,
    SecretSource, VaultAuth, VaultConfig, VaultSource,
};

use crate::{FLEET, Fixture, assert_no_plaintext, fixture, start};

fn root(f: &Fixture) -> VaultSource {
    VaultSource::new(f.bao.config(VaultAuth::token("root"))).unwrap()
}

fn with_token(f: &Fixture, token: &str) -> VaultSource {
    VaultSource::new(f.bao.config(VaultAuth::token(token))).unwrap()
}

fn r(path: &str, key: &str) -> SecretRef {
    SecretRef::new(path, key).unwrap()
}

/// Reads `path`/`key` and compares the plaintext, or the error message, with `expect`.
fn check(src: &dyn SecretSource, path: &str, key: &str, expect: Result<&str, &str>) {
    let got = match src.read(&r(path, key)) {
        Ok(v) => Ok(v.expose().to_owned()),
        Err(e) => {
            assert_no_plaintext(&e.to_string());
            assert_no_plaintext(&format!("{e:?}"));
            Err(e.to_string())
        }
    };
    let expect = expect.map(str::to_owned).map_err(str::to_owned);
    assert_eq!(got, expect, "{path}#{key}");
}

fn kind(src: &dyn SecretSource, path: &str, key: &str) -> ErrorKind {
    match src.read(&r(path, key)) {
        Ok(v) => panic!("{path}#{key} read {v}, expected an error"),
        Err(e) => e.kind(),
    }
}

#[test]
fn kv2_and_kv1_keys() {
    let f = fixture();
    let src = root(&f);
    check(&src, "secret/payments", "password", Ok("PLAIN-hunter2"));
    check(&src, "secret/payments", "user", Ok("PLAIN-pay-user"));
    check(&src, "/secret/payments/", "user", Ok("PLAIN-pay-user"));
    check(&src, "legacy/db", "api_key", Ok("PLAIN-legacy-key"));
    // Non-string JSON values read as their JSON text; null as "".
    check(&src, "secret/typed", "port", Ok("5432"));
    check(&src, "secret/typed", "enabled", Ok("true"));
    check(&src, "secret/typed", "nothing", Ok(""));
    check(&src, "secret/typed", "cfg", Ok(r#"{"a":[1,"x"]}"#));
}

#[test]
fn yaml_fragment_key() {
    let f = fixture();
    let src = root(&f);
    let value = src.read(&r("secret/payments/helm", "values.yaml")).unwrap();
    assert_eq!(
        value.expose(),
        "replicas: 2 # PLAIN-replicas\nimage:\n  tag: v1.2.3\n"
    );
    // What `vaultYaml` will do with it: a map.
    let map: BTreeMap<String, serde_json::Value> = serde_saphyr::from_str(value.expose()).unwrap();
    assert_eq!(map["replicas"], serde_json::json!(2));
    assert_eq!(map["image"]["tag"], serde_json::json!("v1.2.3"));
}

#[test]
fn mounts_are_looked_up_once_or_configured() {
    let f = fixture();
    let src = root(&f);
    check(&src, "secret/payments", "password", Ok("PLAIN-hunter2"));
    check(
        &src,
        "secret/payments/helm",
        "values.yaml",
        Ok("replicas: 2 # PLAIN-replicas\nimage:\n  tag: v1.2.3\n"),
    );
    check(&src, "legacy/db", "api_key", Ok("PLAIN-legacy-key"));
    // Two mount lookups (secret, legacy) and three reads.
    assert_eq!(src.http_requests(), 5);

    let mut config = f.bao.config(VaultAuth::token("root"));
    config.mounts = vec![
        KvMount::new("secret/", KvVersion::V2),
        KvMount::new("legacy", KvVersion::V1),
    ];
    let src = VaultSource::new(config).unwrap();
    check(&src, "secret/payments", "password", Ok("PLAIN-hunter2"));
    check(&src, "legacy/db", "api_key", Ok("PLAIN-legacy-key"));
    assert_eq!(src.http_requests(), 2);

    // A wrong configured version reads the wrong place: KV v1 read of a v2 mount finds nothing.
    let mut config = f.bao.config(VaultAuth::token("root"));
    config.mounts = vec![KvMount::new("secret", KvVersion::V1)];
    let src = VaultSource::new(config).unwrap();
    assert_eq!(
        kind(&src, "secret/payments", "password"),
        ErrorKind::NotFound
    );
}

#[test]
fn approle_login() {
    let f = fixture();
    let src =
        VaultSource::new(f.bao.config(VaultAuth::app_role(&f.role_id, &f.secret_id))).unwrap();
    check(&src, "secret/payments", "password", Ok("PLAIN-hunter2"));
    check(
        &src,
        "secret/payments/helm",
        "values.yaml",
        Ok("replicas: 2 # PLAIN-replicas\nimage:\n  tag: v1.2.3\n"),
    );
    check(&src, "legacy/db", "api_key", Ok("PLAIN-legacy-key"));
    // One login, two mount lookups, three reads.
    assert_eq!(src.http_requests(), 6);

    let bad = VaultSource::new(
        f.bao
            .config(VaultAuth::app_role(&f.role_id, "PLAIN-hunter2")),
    )
    .unwrap();
    check(
        &bad,
        "secret/payments",
        "password",
        Err(
            "vault login (approle) failed before reading secret \"secret/payments\": \
             status 400: invalid role or secret ID",
        ),
    );
    assert_eq!(kind(&bad, "secret/payments", "password"), ErrorKind::Auth);
    // The failed login is remembered: no new login attempt per read.
    let before = bad.http_requests();
    assert_eq!(kind(&bad, "legacy/db", "api_key"), ErrorKind::Auth);
    assert_eq!(bad.http_requests(), before);
}

#[test]
fn permission_denied() {
    let f = fixture();
    let deny = with_token(&f, &f.deny_token);
    check(
        &deny,
        "secret/payments",
        "password",
        Err("permission denied reading secret \"secret/payments\": permission denied"),
    );
    let partial = with_token(&f, &f.partial_token);
    check(&partial, "secret/payments", "password", Ok("PLAIN-hunter2"));
    check(
        &partial,
        "secret/payments/helm",
        "values.yaml",
        Err("permission denied reading secret \"secret/payments/helm\": permission denied"),
    );
    let nobody = with_token(&f, "not-a-token");
    assert_eq!(
        kind(&nobody, "secret/payments", "password"),
        ErrorKind::PermissionDenied
    );
}

#[test]
fn missing_path_and_key() {
    let f = fixture();
    let src = root(&f);
    check(
        &src,
        "secret/nope",
        "k",
        Err("secret \"secret/nope\" not found"),
    );
    check(
        &src,
        "legacy/nope",
        "k",
        Err("secret \"legacy/nope\" not found"),
    );
    // The latest KV v2 version is deleted.
    check(
        &src,
        "secret/gone",
        "k",
        Err("secret \"secret/gone\" not found"),
    );
    check(
        &src,
        "secret/payments",
        "pasword",
        Err("secret \"secret/payments\" has no key \"pasword\" (its keys: password, user)"),
    );
    // A path naming the mount itself.
    check(
        &src,
        "secret",
        "k",
        Err("invalid secret reference \"secret\": the path names a KV mount, not a secret in it"),
    );
    // Under no mount: Vault's mount lookup answers 403 even to root (documented quirk of
    // sys/internal/ui/mounts), so this is a permission error carrying Vault's explanation.
    let e = src.read(&r("nomount/x", "k")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(
        e.to_string().starts_with(
            "permission denied reading secret \"nomount/x\": preflight capability check returned 403"
        ),
        "{e}"
    );
}

#[test]
fn server_down_is_a_remote_failure() {
    // Nothing listens on this port: connection refused, retried with backoff, then given up.
    let mut config = VaultConfig::new(
        format!("http://127.0.0.1:{}", closed_port()),
        VaultAuth::token("root"),
    );
    config.retry.max_attempts = 3;
    config.retry.initial_backoff = Duration::from_millis(20);
    let src = VaultSource::new(config).unwrap();
    let started = Instant::now();
    let e = src.read(&r("secret/payments", "password")).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(e.kind(), ErrorKind::Remote);
    assert!(e.is_remote());
    assert_eq!(e.path().map(SecretPath::as_str), Some("secret/payments"));
    let text = e.to_string();
    assert!(
        text.starts_with("secret backend vault at http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("unavailable reading secret \"secret/payments\" after 3 attempts: "),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
    assert_eq!(src.http_requests(), 3);

    // The same through AppRole: the login fails the same way.
    let mut config = VaultConfig::new(
        format!("http://127.0.0.1:{}", closed_port()),
        VaultAuth::app_role("r", "s"),
    );
    config.retry.max_attempts = 2;
    config.retry.initial_backoff = Duration::from_millis(10);
    let src = VaultSource::new(config).unwrap();
    assert_eq!(kind(&src, "secret/payments", "password"), ErrorKind::Remote);
}

#[test]
fn sealed_server_503_is_retried_then_remote() {
    let bao = start(Listener::Http);
    bao.write_kv2(
        "secret",
        "payments",
        serde_json::json!({ "password": "PLAIN-hunter2" }),
    )
    .unwrap();
    bao.seal().unwrap();
    let src = VaultSource::new(bao.config(VaultAuth::token("root"))).unwrap();
    let e = src.read(&r("secret/payments", "password")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Remote);
    let text = e.to_string();
    assert!(text.contains("after 3 attempts: status 503: "), "{text}");
    assert!(text.contains("sealed"), "{text}");
    assert_eq!(src.http_requests(), 3);
}

#[test]
fn one_read_per_path_with_prefetch() {
    let f = fixture();
    let src = ReadOnce::new(Counting::new(root(&f)));
    let refs: Vec<SecretRef> = (0..FLEET)
        .flat_map(|n| {
            let path = format!("secret/fleet/svc-{n}");
            [r(&path, "token"), r(&path, "n"), r(&path, "token")]
        })
        .collect();
    let done = src.prefetch(&refs);
    assert_eq!(done.paths_read, FLEET);
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    // One mount lookup, then the reads, concurrently.
    assert_eq!(src.inner().inner().http_requests(), 1 + FLEET as u64);

    std::thread::scope(|s| {
        for t in 0..8 {
            let (src, refs) = (&src, &refs);
            s.spawn(move || {
                for i in 0..refs.len() {
                    let one = &refs[(i * 7 + t) % refs.len()];
                    let v = src.read(one).unwrap();
                    if one.key == "token" {
                        assert!(v.expose().starts_with("PLAIN-fleet-"));
                    }
                }
            });
        }
    });
    let counts = src.inner().counts();
    assert_eq!(counts.len(), FLEET);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert_eq!(src.inner().inner().http_requests(), 1 + FLEET as u64);
}

#[test]
fn one_read_per_path_without_prefetch() {
    let f = fixture();
    let src = ReadOnce::new(Counting::new(root(&f)));
    let paths: Vec<String> = (0..FLEET)
        .map(|n| format!("secret/fleet/svc-{n}"))
        .collect();
    std::thread::scope(|s| {
        for t in 0..12 {
            let (src, paths) = (&src, &paths);
            s.spawn(move || {
                for i in 0..paths.len() * 2 {
                    let path = &paths[(i + t * 3) % paths.len()];
                    src.read(&r(path, "token")).unwrap();
                    assert_eq!(
                        src.read(&r(path, "absent")).unwrap_err().kind(),
                        ErrorKind::MissingKey
                    );
                }
            });
        }
    });
    let counts = src.inner().counts();
    assert_eq!(counts.len(), FLEET);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn batch_errors_are_per_path() {
    let f = fixture();
    let src = ReadOnce::new(with_token(&f, &f.partial_token));
    let refs = [
        r("secret/payments", "password"),
        r("secret/payments/helm", "values.yaml"),
        r("secret/nope", "k"),
    ];
    let done = src.prefetch(&refs);
    assert_eq!(done.paths_read, 3);
    let kinds: Vec<ErrorKind> = done.errors.iter().map(SecretError::kind).collect();
    assert_eq!(
        kinds,
        [ErrorKind::PermissionDenied, ErrorKind::PermissionDenied]
    );
    assert_eq!(src.read(&refs[0]).unwrap().expose(), "PLAIN-hunter2");
    assert_eq!(
        src.read(&refs[1]).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
}

#[test]
fn plaintext_never_printed() {
    let f = fixture();
    let src = ReadOnce::new(root(&f));
    let mut printed = String::new();
    for (path, key) in [
        ("secret/payments", "password"),
        ("secret/payments", "user"),
        ("legacy/db", "api_key"),
        ("secret/fleet/svc-1", "token"),
        ("secret/payments/helm", "values.yaml"),
    ] {
        let v = src.read(&r(path, key)).unwrap();
        assert!(holds_seeded_plaintext(&v));
        let shown = format!("{v} {v:?} {v:#?}");
        assert!(shown.starts_with("<secret sha256:"), "{shown}");
        printed.push_str(&shown);
        let secret = src.fetch(&SecretPath::new(path).unwrap()).unwrap();
        printed.push_str(&format!("{secret:?} {secret:#?}"));
        let result: Result<_, SecretError> = src.read(&r(path, key));
        printed.push_str(&format!("{result:?}"));
        let missing = src.read(&r(path, "missing")).unwrap_err();
        printed.push_str(&format!("{missing} {missing:?}"));
    }
    let bad = VaultSource::new(
        f.bao
            .config(VaultAuth::app_role(&f.role_id, "PLAIN-hunter2")),
    )
    .unwrap();
    let e = bad.read(&r("secret/payments", "password")).unwrap_err();
    printed.push_str(&format!("{e} {e:?}"));
    let config = f
        .bao
        .config(VaultAuth::app_role(&f.role_id, "PLAIN-hunter2"));
    printed.push_str(&format!("{config:?}"));
    assert_no_plaintext(&printed);
}

fn holds_seeded_plaintext(v: &secrets::SecretValue) -> bool {
    crate::PLAINTEXTS.iter().any(|p| v.expose().contains(p))
}

#[test]
fn tls_with_ca_without_ca_and_skip_verify() {
    let bao = start(Listener::Tls);
    bao.write_kv2(
        "secret",
        "payments",
        serde_json::json!({ "password": "PLAIN-hunter2" }),
    )
    .unwrap();
    assert!(bao.address().starts_with("https://"));
    let src = VaultSource::new(bao.config(VaultAuth::token("root"))).unwrap();
    check(&src, "secret/payments", "password", Ok("PLAIN-hunter2"));

    // The system roots do not trust the dev CA: a configuration error, not retried.
    let mut config = bao.config(VaultAuth::token("root"));
    config.tls.ca_cert = None;
    let src = VaultSource::new(config).unwrap();
    let e = src.read(&r("secret/payments", "password")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        e.to_string()
            .contains("tls connection to vault at https://127.0.0.1:"),
        "{e}"
    );
    assert_eq!(src.http_requests(), 1);

    let mut config = bao.config(VaultAuth::token("root"));
    config.tls.ca_cert = None;
    config.tls.skip_verify = true;
    let src = VaultSource::new(config).unwrap();
    check(&src, "secret/payments", "password", Ok("PLAIN-hunter2"));
}

#[test]
fn usable_from_inside_a_tokio_runtime() {
    let f = fixture();
    let src = root(&f);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let v = rt.block_on(async { src.read(&r("secret/payments", "password")) });
    assert_eq!(v.unwrap().expose(), "PLAIN-hunter2");
    // Dropping the source inside a runtime must not panic either.
    rt.block_on(async move { drop(src) });
}

#[test]
fn configuration_errors() {
    let check = |address: &str, expect: &str| {
        let e = VaultSource::new(VaultConfig::new(address, VaultAuth::token("t"))).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some(expect),
            "{address}"
        );
    };
    check(
        "ftp://vault:8200",
        "secret source configuration: vault address \"ftp://vault:8200\" is not an http:// or https:// URL",
    );
    check(
        "127.0.0.1:8200",
        "secret source configuration: vault address \"127.0.0.1:8200\" is not a URL: relative URL without a base",
    );
    check(
        "not a url",
        "secret source configuration: vault address \"not a url\" is not a URL: relative URL without a base",
    );
    check(
        "https://user:PLAIN-hunter2@vault:8200",
        "secret source configuration: vault address must not carry user info; use VAULT_TOKEN or AppRole",
    );
    let mut config = VaultConfig::new("https://vault:8200", VaultAuth::token("t"));
    config.tls.ca_cert = Some("does/not/exist.pem".into());
    let e = VaultSource::new(config).err().map(|e| e.to_string());
    assert_eq!(
        e.as_deref(),
        Some(
            "secret source configuration: cannot read CA file does/not/exist.pem: No such file or directory (os error 2)"
        )
    );
}

#[test]
fn missing_bao_message_names_the_install_command() {
    let e = HarnessError::NotInstalled {
        searched: vec![".tools/venv/bin/bao".into()],
    };
    let text = e.to_string();
    assert!(text.contains("scripts/install-openbao.sh"), "{text}");
    assert!(text.contains(".tools/venv/bin/bao"), "{text}");
}
