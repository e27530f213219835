//! Who calls: the built-in issuer (an Ed25519 key in the store's private area, made on first
//! use) signs and verifies JWTs (`EdDSA`) naming a subject (`user:alice`) and groups.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

/// Where the issuer's key is in the store.
pub const KEY_PATH: &str = "private/issuer.pk8";
/// The issuer and audience of the tokens the built-in issuer signs.
pub const ISSUER: &str = "flotilla";
pub const AUDIENCE: &str = "flotilla-api";
/// The audience of the agent tokens the built-in issuer signs (`flotilla token issue
/// --cluster`): an agent's token is no API token, and an API token no agent's.
pub const AGENT_AUDIENCE: &str = "flotilla-agent";
/// The longest lifetime a token may be issued for (30 days).
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

/// Why a token could not be issued or the key not had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the issuer key in the store ({KEY_PATH}) is not an Ed25519 PKCS#8 key")]
    BadKey,
    #[error("cannot make a key: {0}")]
    KeyGen(String),
    #[error("cannot sign the token: {0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error("invalid principal: {0}")]
    Principal(#[source] policies::rbac::SubjectError),
    #[error("a token lives at most {MAX_TTL_SECS} seconds (30 days)")]
    TooLong,
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `user:alice`.
    pub sub: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
}

/// The claims of an agent token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentClaims {
    /// `cluster:<name>`.
    pub sub: String,
    pub cluster: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

/// The built-in issuer.
pub struct Issuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issuer { .. }")
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix milliseconds (audit records' time).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Issuer {
    /// The issuer of `store`: its key, made and stored (create-only, so two processes
    /// starting at once agree on one) when there is none.
    pub async fn of(store: &Store) -> Result<Issuer, AuthError> {
        if let Some(bytes) = store.get(KEY_PATH).await? {
            return Issuer::from_pkcs8(&bytes);
        }
        let rng = ring::rand::SystemRandom::new();
        let doc =
            Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| AuthError::KeyGen(e.to_string()))?;
        let bytes = Bytes::copy_from_slice(doc.as_ref());
        if store.create(KEY_PATH, bytes.clone()).await? {
            return Issuer::from_pkcs8(&bytes);
        }
        // Another process made one first.
        let bytes = store.get(KEY_PATH).await?.ok_or(AuthError::BadKey)?;
        Issuer::from_pkcs8(&bytes)
    }

    fn from_pkcs8(bytes: &[u8]) -> Result<Issuer, AuthError> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|_| AuthError::BadKey)?;
        Ok(Issuer {
            encoding: EncodingKey::from_ed_der(bytes),
            decoding: DecodingKey::from_ed_der(pair.public_key().as_ref()),
        })
    }

    /// A token for `subject` (`user:alice` or `alice`) in `groups`, valid `ttl_secs`.
    pub fn issue(
        &self,
        subject: &str,
        groups: &[String],
        ttl_secs: u64,
    ) -> Result<String, AuthError> {
        if ttl_secs > MAX_TTL_SECS {
            return Err(AuthError::TooLong);
        }
        let subject = if subject.contains(':') {
            subject.to_owned()
        } else {
            format!("user:{subject}")
        };
        let principal =
            policies::Principal::parse(&subject, groups).map_err(AuthError::Principal)?;
        let iat = now();
        let claims = Claims {
            sub: subject,
            groups: principal.groups.clone(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat,
            exp: iat + ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(AuthError::Sign)
    }

    /// An agent token for `cluster`, valid `ttl_secs`.
    pub fn issue_agent(&self, cluster: &str, ttl_secs: u64) -> Result<String, AuthError> {
        if ttl_secs > MAX_TTL_SECS {
            return Err(AuthError::TooLong);
        }
        let iat = now();
        let claims = AgentClaims {
            sub: format!("cluster:{cluster}"),
            cluster: cluster.to_owned(),
            iss: ISSUER.into(),
            aud: AGENT_AUDIENCE.into(),
            iat,
            nbf: iat,
            exp: iat + ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(AuthError::Sign)
    }

    /// The agent a token of ours names (`alg` is the token header's: it must be ours).
    pub fn verify_agent(
        &self,
        token: &str,
        alg: Algorithm,
    ) -> Result<crate::identity::AgentToken, crate::identity::Refusal> {
        if alg != Algorithm::EdDSA {
            return Err(crate::identity::Refusal::Algorithm);
        }
        let mut v = crate::identity::validation(Algorithm::EdDSA);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AGENT_AUDIENCE]);
        let data = jsonwebtoken::decode::<AgentClaims>(token, &self.decoding, &v)
            .map_err(|e| crate::identity::refusal(&e))?;
        if data.claims.cluster.is_empty() {
            return Err(crate::identity::Refusal::NoCluster);
        }
        Ok(crate::identity::AgentToken {
            cluster: data.claims.cluster,
            issuer: ISSUER.to_owned(),
            issued_at: data.claims.iat,
            expires_at: data.claims.exp,
        })
    }

    /// The principal a token names, when it is one of ours, unexpired and well formed.
    pub fn verify(&self, token: &str) -> Option<policies::Principal> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).ok()?;
        policies::Principal::parse(&data.claims.sub, &data.claims.groups).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_round_trip_and_forgeries_fail() {
        let tmp = tempfile::tempdir().expect("a folder");
        let store = Store::folder(tmp.path()).expect("a store");
        let issuer = Issuer::of(&store).await.expect("an issuer");
        let token = issuer
            .issue("alice", &["payments".into()], 60)
            .expect("a token");
        let p = issuer.verify(&token).expect("valid");
        assert_eq!(p.to_string(), "user:alice");
        assert_eq!(p.groups, ["payments"]);
        // The same store gives the same key.
        let again = Issuer::of(&store).await.expect("the same issuer");
        assert!(again.verify(&token).is_some());
        // Another store's key does not verify it; a tampered token does not verify.
        let other_dir = tempfile::tempdir().expect("a folder");
        let other = Issuer::of(&Store::folder(other_dir.path()).expect("a store"))
            .await
            .expect("an issuer");
        assert!(other.verify(&token).is_none());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(issuer.verify(&parts.join(".")).is_none());
        assert!(issuer.verify("not a token").is_none());
        assert!(matches!(
            issuer.issue("alice", &[], MAX_TTL_SECS + 1),
            Err(AuthError::TooLong)
        ));
    }

    #[tokio::test]
    async fn expired_tokens_fail() {
        let tmp = tempfile::tempdir().expect("a folder");
        let store = Store::folder(tmp.path()).expect("a store");
        let issuer = Issuer::of(&store).await.expect("an issuer");
        let claims = Claims {
            sub: "user:bob".into(),
            groups: vec![],
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now() - 7200,
            exp: now() - 3600,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &issuer.encoding)
            .expect("signed");
        assert!(issuer.verify(&token).is_none());
    }
}
