//! Who an agent is: the bearer JWT on every agent request, verified against a configured
//! issuer — the built-in one (tokens of `flotilla token issue --cluster NAME`) or an OIDC
//! issuer such as Vault's or OpenBao's identity provider (its discovery document, its JWKS
//! cached and refetched on an unknown `kid`, at most once per [`JWKS_REFETCH`]).
//!
//! A token is accepted only with `iss`, `aud`, `exp` and `nbf` checked ([`LEEWAY_SECS`] of
//! leeway), signed with the algorithm of the issuer's key (never `none`, never an HMAC for
//! an asymmetric key) and naming a cluster in its cluster claim. Which cluster it may act for
//! is the caller's decision (the registry's).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::auth::Issuer;

/// Seconds of clock skew allowed on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;
/// The shortest time between two fetches of an OIDC issuer's keys (an unknown `kid` never
/// makes more requests than this allows, whoever sends it).
pub const JWKS_REFETCH: Duration = Duration::from_secs(10);
/// A token longer than this is refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// How the server trusts an OIDC issuer for agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL, exactly as tokens name it in `iss` (e.g.
    /// `http://127.0.0.1:8200/v1/identity/oidc`).
    pub issuer: String,
    /// The audience tokens must name (`aud`): for Vault, the OIDC role's client id.
    pub audience: String,
    /// The claim naming the cluster (`cluster`).
    pub cluster_claim: String,
}

/// Why an agent's token was refused. The `Display` text is what the agent is told (it
/// never says more than which check failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no bearer token")]
    Missing,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's algorithm is not the issuer key's")]
    Algorithm,
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token is from another issuer")]
    Issuer,
    #[error("the token's key is unknown to the issuer")]
    UnknownKey,
    #[error("the token names no cluster")]
    NoCluster,
    #[error("the OIDC issuer cannot be reached to verify the token")]
    IssuerUnavailable,
}

impl Refusal {
    /// A short name for metrics and audit records.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Malformed => "malformed",
            Refusal::Algorithm => "algorithm",
            Refusal::Signature => "signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not-yet-valid",
            Refusal::Audience => "audience",
            Refusal::Issuer => "issuer",
            Refusal::UnknownKey => "unknown-key",
            Refusal::NoCluster => "no-cluster",
            Refusal::IssuerUnavailable => "issuer-unavailable",
        }
    }
}

/// A verified agent token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentToken {
    /// The value of the cluster claim.
    pub cluster: String,
    /// `flotilla` (the built-in issuer) or the OIDC issuer's URL.
    pub issuer: String,
    /// Issued at (Unix seconds; 0 when the token does not say).
    pub issued_at: u64,
    /// Expires at (Unix seconds).
    pub expires_at: u64,
}

/// The issuers agents' tokens are verified against.
#[derive(Debug)]
pub struct AgentVerifier {
    builtin: Arc<Issuer>,
    oidc: Option<Oidc>,
}

#[derive(Debug)]
struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    /// `kid` → the key and the algorithm it signs with.
    by_kid: BTreeMap<String, (Algorithm, Arc<DecodingKey>)>,
    fetched: Option<Instant>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AgentVerifier {
    pub fn new(builtin: Arc<Issuer>, oidc: Option<OidcConfig>) -> AgentVerifier {
        let oidc = oidc.map(|config| Oidc {
            config,
            http: crate::http_client(Duration::from_secs(10)),
            keys: Mutex::new(Keys::default()),
        });
        AgentVerifier { builtin, oidc }
    }

    /// The OIDC issuer trusted, if any.
    pub fn oidc(&self) -> Option<&OidcConfig> {
        self.oidc.as_ref().map(|o| &o.config)
    }

    /// Verifies an `Authorization` header's value (`Bearer <JWT>`): what every agent
    /// request goes through first (and what `fuzz/` drives).
    pub async fn verify_header(&self, header: Option<&[u8]>) -> Result<AgentToken, Refusal> {
        let Some(value) = header else {
            return Err(Refusal::Missing);
        };
        let value = std::str::from_utf8(value).map_err(|_| Refusal::Malformed)?;
        let rest = value
            .trim()
            .strip_prefix("Bearer")
            .ok_or(Refusal::Malformed)?;
        if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
            return Err(Refusal::Malformed);
        }
        self.verify(rest.trim()).await
    }

    /// Verifies `token` against the issuer its `iss` names (built-in or OIDC).
    pub async fn verify(&self, token: &str) -> Result<AgentToken, Refusal> {
        if token.is_empty() {
            return Err(Refusal::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        let iss = unverified_issuer(token).ok_or(Refusal::Malformed)?;
        if iss == crate::auth::ISSUER {
            return self.builtin.verify_agent(token, header.alg);
        }
        let Some(oidc) = &self.oidc else {
            return Err(Refusal::Issuer);
        };
        if iss != oidc.config.issuer {
            return Err(Refusal::Issuer);
        }
        let kid = header.kid.clone().ok_or(Refusal::UnknownKey)?;
        let (alg, key) = oidc.key(&kid).await?;
        if header.alg != alg {
            return Err(Refusal::Algorithm);
        }
        let mut v = validation(alg);
        v.set_issuer(&[&oidc.config.issuer]);
        v.set_audience(&[&oidc.config.audience]);
        let data = jsonwebtoken::decode::<BTreeMap<String, Value>>(token, &key, &v)
            .map_err(|e| refusal(&e))?;
        let cluster = data
            .claims
            .get(&oidc.config.cluster_claim)
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or(Refusal::NoCluster)?;
        Ok(AgentToken {
            cluster: cluster.to_owned(),
            issuer: oidc.config.issuer.clone(),
            issued_at: data.claims.get("iat").and_then(Value::as_u64).unwrap_or(0),
            expires_at: data.claims.get("exp").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// The checks every agent token goes through, for a key that signs with `alg`.
pub(crate) fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.leeway = LEEWAY_SECS;
    v.validate_nbf = true;
    v.validate_exp = true;
    v
}

/// Maps a decoding error to what is said of it.
pub(crate) fn refusal(e: &jsonwebtoken::errors::Error) -> Refusal {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => Refusal::Signature,
        K::ExpiredSignature => Refusal::Expired,
        K::ImmatureSignature => Refusal::NotYetValid,
        K::InvalidAudience => Refusal::Audience,
        K::InvalidIssuer => Refusal::Issuer,
        K::InvalidAlgorithm | K::InvalidAlgorithmName | K::InvalidKeyFormat => Refusal::Algorithm,
        _ => Refusal::Malformed,
    }
}

/// The `iss` of a token, read before verifying (only to pick the issuer to verify with).
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

impl Oidc {
    /// The key `kid`, fetching the issuer's keys when it is unknown (rate limited).
    async fn key(&self, kid: &str) -> Result<(Algorithm, Arc<DecodingKey>), Refusal> {
        let mut keys = self.keys.lock().await;
        if let Some((alg, key)) = keys.by_kid.get(kid) {
            return Ok((*alg, Arc::clone(key)));
        }
        if keys.fetched.is_some_and(|t| t.elapsed() < JWKS_REFETCH) {
            return Err(Refusal::UnknownKey);
        }
        keys.fetched = Some(Instant::now());
        match self.fetch_keys().await {
            Ok(by_kid) => keys.by_kid = by_kid,
            Err(e) => {
                eprintln!(
                    "flotilla serve: cannot fetch the keys of {}: {e}",
                    self.config.issuer
                );
                return Err(Refusal::IssuerUnavailable);
            }
        }
        keys.by_kid
            .get(kid)
            .map(|(alg, key)| (*alg, Arc::clone(key)))
            .ok_or(Refusal::UnknownKey)
    }

    /// The discovery document, then the JWKS it names: every usable signing key by `kid`.
    async fn fetch_keys(&self) -> Result<BTreeMap<String, (Algorithm, Arc<DecodingKey>)>, String> {
        let base = self.config.issuer.trim_end_matches('/');
        let discovery: Value = self
            .get_json(&format!("{base}/.well-known/openid-configuration"))
            .await?;
        let issuer = discovery.get("issuer").and_then(Value::as_str);
        if issuer != Some(self.config.issuer.as_str()) {
            return Err(format!(
                "its discovery document names issuer {issuer:?}, not {:?}",
                self.config.issuer
            ));
        }
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("its discovery document has no jwks_uri")?;
        let jwks: Value = self.get_json(jwks_uri).await?;
        let mut out = BTreeMap::new();
        for key in jwks
            .get("keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Keys of kinds this server does not know are skipped, not fatal.
            let Ok(jwk) = serde_json::from_value::<Jwk>(key.clone()) else {
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let Some(alg) = key_algorithm(&jwk) else {
                continue;
            };
            if let Ok(decoding) = DecodingKey::from_jwk(&jwk) {
                out.insert(kid, (alg, Arc::new(decoding)));
            }
        }
        Ok(out)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let r = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("{url}: HTTP {}", r.status()));
        }
        r.json().await.map_err(|e| format!("{url}: {e}"))
    }
}

/// The algorithm a key signs with: its `alg` when it gives one (asymmetric only), else the
/// usual one for its type. Symmetric keys are never used: a verifier that accepted an HMAC
/// would accept tokens signed with the public key.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        AlgorithmParameters::OctetKey(_) => return None,
    };
    let Some(named) = jwk.common.key_algorithm else {
        return Some(by_type);
    };
    let alg = match named {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    };
    // The named algorithm must fit the key's type.
    let family = |a: Algorithm| match a {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => 0,
        Algorithm::ES256 | Algorithm::ES384 => 1,
        Algorithm::EdDSA => 2,
        _ => 3,
    };
    (family(alg) == family(by_type)).then_some(alg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_keys_are_never_trusted_and_named_algorithms_must_fit_the_key() {
        let oct: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "oct", "kid": "k", "k": "c2VjcmV0", "alg": "HS256"
        }))
        .expect("a jwk");
        assert_eq!(key_algorithm(&oct), None);
        let rsa: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA", "kid": "k", "n": "sXch", "e": "AQAB", "alg": "RS256"
        }))
        .expect("a jwk");
        assert_eq!(key_algorithm(&rsa), Some(Algorithm::RS256));
        let rsa_as_ec: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA", "kid": "k", "n": "sXch", "e": "AQAB", "alg": "ES256"
        }))
        .expect("a jwk");
        assert_eq!(key_algorithm(&rsa_as_ec), None);
    }

    #[test]
    fn the_issuer_is_read_from_the_payload_and_garbage_is_malformed() {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!("{}.{}.sig", b64("{}"), b64(r#"{"iss":"https://x"}"#));
        assert_eq!(unverified_issuer(&token).as_deref(), Some("https://x"));
        assert_eq!(unverified_issuer("a.%%%.c"), None);
        assert_eq!(unverified_issuer("only-one-part"), None);
    }
}
