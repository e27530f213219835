//! Agents' identity, over real HTTP: a server (the real router) trusting the built-in issuer
//! and a local OIDC issuer (its discovery document and JWKS served on a free loopback port,
//! an ES256 key), and every token a hostile or broken agent could send. Each refusal is a
//! 401 or 403 with nothing of any bundle in it, is counted and is audited.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use object_store::memory::InMemory;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use runtime::api::App;
use runtime::auth::Issuer;
use runtime::identity::{AgentVerifier, OidcConfig};
use runtime::registry::{ClusterSpec, IdentityMode};
use serde_json::{Value, json};

const AUDIENCE: &str = "flotilla-agents-test";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    runtime::auth::now()
}

/// A local OIDC issuer: an ES256 key `k1`, and a count of JWKS fetches.
struct OidcIssuer {
    url: String,
    key: EncodingKey,
    public: Vec<u8>,
    fetches: Arc<AtomicUsize>,
}

async fn oidc_issuer() -> OidcIssuer {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("a key pair");
    let public = pair.public_key().as_ref().to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let jwks = json!({"keys": [
        // A symmetric key in the set is never trusted (and does not spoil the others).
        {"kty": "oct", "kid": "hmac", "k": b64(b"not-a-public-key"), "alg": "HS256"},
        {"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
         "x": b64(&public[1..33]), "y": b64(&public[33..65])},
    ]});
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&fetches);
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let d = discovery.clone();
                async move { axum::Json(d) }
            }),
        )
        .route(
            "/keys",
            axum::routing::get(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                let k = jwks.clone();
                async move { axum::Json(k) }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    OidcIssuer {
        url,
        key: EncodingKey::from_ec_der(pkcs8.as_ref()),
        public,
        fetches,
    }
}

impl OidcIssuer {
    fn claims(&self, cluster: &str) -> Value {
        json!({"iss": self.url, "aud": AUDIENCE, "sub": "entity-1", "cluster": cluster,
               "iat": now(), "nbf": now(), "exp": now() + 600})
    }

    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(&h, claims, &self.key).expect("signed")
    }
}

/// The server under test: the router over a controller of the small fleet, staged once.
async fn server(issuer: &OidcIssuer) -> (String, Arc<App>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("a folder");
    super::write_fleet(tmp.path());
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(InMemory::new());
    let controller = super::controller(tmp.path(), store).await.expect("started");
    let pass = controller.reconcile().await;
    assert!(pass.errors.is_empty(), "{:?}", pass.errors);
    let builtin = Arc::new(Issuer::of(&controller.store).await.expect("an issuer"));
    let verifier = AgentVerifier::new(
        Arc::clone(&builtin),
        Some(OidcConfig {
            issuer: issuer.url.clone(),
            audience: AUDIENCE.into(),
            cluster_claim: "cluster".into(),
        }),
    );
    let app = Arc::new(App::new(
        controller,
        builtin,
        verifier,
        None,
        "shared".into(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let router = runtime::api::router(Arc::clone(&app));
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    (url, app, tmp)
}

async fn get(url: &str, token: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("answered");
    (r.status().as_u16(), r.text().await.expect("a body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_forged_stale_or_misdirected_token_is_refused_and_nothing_served() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let oidc = oidc_issuer().await;
    let (url, app, _tmp) = server(&oidc).await;
    let bundle = |c: &str| format!("{url}/v1/clusters/{c}/bundle");

    // The control: a valid token of each issuer gets its own cluster's bundle.
    let good = oidc.sign(&oidc.claims("dev-1"));
    let (status, body) = get(&bundle("dev-1"), &good).await;
    assert_eq!(status, 200, "{body}");
    let dev1: Value = serde_json::from_str(&body).expect("JSON");
    let dev1_digest = dev1["releases"][0]["manifest"]
        .as_str()
        .expect("a digest")
        .to_owned();
    let builtin = app.issuer.issue_agent("prod-1", 600).expect("a token");
    let (status, body) = get(&bundle("prod-1"), &builtin).await;
    assert_eq!(status, 200, "{body}");

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = oidc.claims("dev-1");
        f(&mut c);
        oidc.sign(&c)
    };
    let forged = {
        // The payload changed after signing (prod-1 claimed with dev-1's signature).
        let parts: Vec<&str> = good.split('.').collect();
        let payload = serde_json::to_vec(&oidc.claims("prod-1")).expect("JSON");
        format!("{}.{}.{}", parts[0], b64(&payload), parts[2])
    };
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
        b64(&serde_json::to_vec(&oidc.claims("dev-1")).expect("JSON"))
    );
    let hs256_with_public_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("k1".into());
        jsonwebtoken::encode(
            &h,
            &oidc.claims("dev-1"),
            &EncodingKey::from_secret(&oidc.public),
        )
        .expect("signed")
    };
    let hs256_with_listed_hmac_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("hmac".into());
        jsonwebtoken::encode(
            &h,
            &oidc.claims("dev-1"),
            &EncodingKey::from_secret(b"not-a-public-key"),
        )
        .expect("signed")
    };
    let unknown_kid = {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some("k-unknown".into());
        jsonwebtoken::encode(&h, &oidc.claims("dev-1"), &oidc.key).expect("signed")
    };
    let builtin_forged = {
        let other = tempfile::tempdir().expect("a folder");
        let store = runtime::Store::folder(other.path()).expect("a store");
        Issuer::of(&store)
            .await
            .expect("another issuer")
            .issue_agent("dev-1", 600)
            .expect("a token")
    };
    let api_token = app
        .issuer
        .issue("ops", &["platform".into()], 600)
        .expect("a token");

    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("no token", String::new(), 401, "missing"),
        ("garbage", "not.a.jwt".into(), 401, "malformed"),
        ("forged signature", forged, 401, "signature"),
        (
            "another built-in issuer's key",
            builtin_forged,
            401,
            "signature",
        ),
        (
            "expired",
            with(&|c| {
                c["exp"] = json!(now() - 3600);
                c["iat"] = json!(now() - 7200);
                c["nbf"] = json!(now() - 7200);
            }),
            401,
            "expired",
        ),
        (
            "nbf in the future",
            with(&|c| c["nbf"] = json!(now() + 3600)),
            401,
            "not-yet-valid",
        ),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("someone-else")),
            401,
            "audience",
        ),
        (
            "wrong issuer",
            with(&|c| c["iss"] = json!("https://evil.example")),
            401,
            "issuer",
        ),
        ("alg none", none, 401, "malformed"),
        (
            "HS256 with the public key",
            hs256_with_public_key,
            401,
            "algorithm",
        ),
        (
            "HS256 with a symmetric key of the set",
            hs256_with_listed_hmac_key,
            401,
            "unknown-key",
        ),
        ("unknown kid", unknown_kid, 401, "unknown-key"),
        (
            "no cluster claim",
            with(&|c| {
                c.as_object_mut().map(|o| o.remove("cluster"));
            }),
            401,
            "no-cluster",
        ),
        ("an API token", api_token, 401, "audience"),
        (
            "cluster A's token on B's bundle",
            oidc.sign(&oidc.claims("prod-1")),
            403,
            "wrong-cluster",
        ),
        (
            "the shared identity on a cluster that is not shared",
            oidc.sign(&oidc.claims("shared")),
            403,
            "wrong-cluster",
        ),
    ];
    for (what, token, want, code) in &cases {
        let (status, body) = get(&bundle("dev-1"), token).await;
        assert_eq!(status, *want, "{what}: {body}");
        assert!(
            !body.contains("sha256:"),
            "{what}: nothing of a bundle: {body}"
        );
        let metrics = get(&format!("{url}/metrics"), "").await.1;
        assert!(
            metrics.contains(&format!(
                "flotilla_agent_refusals_total{{reason=\"{code}\"}}"
            )),
            "{what}: counted as {code}:\n{metrics}"
        );
    }
    // An object of dev-1's: refused to prod-1's token on dev-1's path, and not found on
    // prod-1's path unless prod-1's own bundle lists it.
    let prod1 = oidc.sign(&oidc.claims("prod-1"));
    let (status, body) = get(
        &format!("{url}/v1/clusters/dev-1/objects/{dev1_digest}"),
        &prod1,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(!body.contains("kind:"), "{body}");
    let (status, body) = get(
        &format!("{url}/v1/clusters/dev-1/objects/{dev1_digest}"),
        &good,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("kind: ConfigMap") && body.contains("dev-1"),
        "{body}"
    );
    let (status, body) = get(
        &format!("{url}/v1/clusters/prod-1/objects/{dev1_digest}"),
        &prod1,
    )
    .await;
    assert_eq!(
        status, 404,
        "dev-1's manifest names dev-1: prod-1 has no such object: {body}"
    );

    // An unknown kid refetches the keys at most once per interval, whoever floods it.
    let before = oidc.fetches.load(Ordering::SeqCst);
    for _ in 0..20 {
        let t = {
            let mut h = Header::new(Algorithm::ES256);
            h.kid = Some(format!("k-{}", now()));
            jsonwebtoken::encode(&h, &oidc.claims("dev-1"), &oidc.key).expect("signed")
        };
        assert_eq!(get(&bundle("dev-1"), &t).await.0, 401);
    }
    assert!(
        oidc.fetches.load(Ordering::SeqCst) - before <= 1,
        "rate limited"
    );
    // (That flood also used up this second's audit budget for refusals.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // A shared registration admits the legacy shared identity, with a metric and an audit.
    app.controller
        .register(
            ClusterSpec {
                name: "dev-1".into(),
                ..ClusterSpec::default()
            },
            IdentityMode::Shared,
            "user:ops",
        )
        .await
        .expect("registered as shared");
    let (status, body) = get(&bundle("dev-1"), &oidc.sign(&oidc.claims("shared"))).await;
    assert_eq!(status, 200, "{body}");
    let metrics = get(&format!("{url}/metrics"), "").await.1;
    assert!(
        metrics.contains("flotilla_agent_shared_identity_requests_total 1"),
        "{metrics}"
    );
    // Deregistered: even its own valid token is refused.
    app.controller
        .deregister("dev-1", "user:ops")
        .await
        .expect("deregistered");
    let (status, _) = get(&bundle("dev-1"), &good).await;
    assert_eq!(status, 403);
    // A built-in token issued before a (re-)registration is refused.
    let stale = app.issuer.issue_agent("dev-1", 600).expect("a token");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.controller
        .register(
            ClusterSpec {
                name: "dev-1".into(),
                ..ClusterSpec::default()
            },
            IdentityMode::Own,
            "user:ops",
        )
        .await
        .expect("registered again");
    let (status, _) = get(&bundle("dev-1"), &stale).await;
    assert_eq!(status, 403, "a token of the earlier registration");

    // Refusals are audited (within the per-second budget), with no token in them.
    let audit: Vec<String> = {
        let names = app.controller.store.list("audit").await.expect("listed");
        let mut out = Vec::new();
        for n in names {
            let bytes = app
                .controller
                .store
                .get(&format!("audit/{n}"))
                .await
                .expect("read")
                .expect("there");
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        out
    };
    for code in [
        "signature",
        "expired",
        "wrong-cluster",
        "shared-identity",
        "deregistered",
        "revoked",
    ] {
        assert!(
            audit.iter().any(|r| r.contains(code)),
            "{code} audited: {audit:#?}"
        );
    }
    assert!(!audit.iter().any(|r| r.contains(&good)), "no token audited");
}

#[test]
fn random_bearer_values_never_panic_and_are_always_refused() {
    // The bearer/JWT parsing path on generated input (see fuzz/ for the coverage-guided
    // target): every value is refused, none panics.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("a folder");
        let store = runtime::Store::folder(tmp.path()).expect("a store");
        let builtin = Arc::new(Issuer::of(&store).await.expect("an issuer"));
        let valid = builtin.issue_agent("dev-1", 600).expect("a token");
        let verifier = AgentVerifier::new(builtin, None);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces = [
            "eyJ",
            ".",
            "..",
            "=",
            "{}",
            "\"alg\":\"none\"",
            "\u{0}",
            "é",
            "%",
            "-_",
            "AAAA",
        ];
        for i in 0..20_000 {
            let mut t: Vec<u8> = if i % 2 == 0 {
                valid.clone().into_bytes()
            } else {
                Vec::new()
            };
            for _ in 0..(next() % 8) {
                let r = next();
                match r % 4 {
                    0 if !t.is_empty() => {
                        let at = (next() as usize) % t.len();
                        t[at] = (next() % 256) as u8;
                    }
                    1 => t.extend_from_slice(pieces[(next() as usize) % pieces.len()].as_bytes()),
                    2 if !t.is_empty() => {
                        let at = (next() as usize) % t.len();
                        t.truncate(at);
                    }
                    _ => t.push((next() % 128) as u8),
                }
            }
            if String::from_utf8_lossy(&t).trim() == valid {
                continue;
            }
            let mut header = b"Bearer ".to_vec();
            header.extend_from_slice(&t);
            assert!(
                verifier.verify_header(Some(&header)).await.is_err(),
                "accepted: {:?}",
                String::from_utf8_lossy(&t)
            );
        }
    });
}
