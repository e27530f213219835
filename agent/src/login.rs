//! The agent's identity: a JWT stamped on every request, refreshed before it expires.
//!
//! - **Built-in issuer**: a token file (the bootstrap token `POST /v1/clusters` returned, or
//!   `flotilla token issue --cluster`); refreshed at the server (`POST
//!   /v1/clusters/{cluster}/token`) and the fresh one kept in the state dir.
//! - **Vault**: an AppRole login (role id, secret id), then the cluster's identity token from
//!   Vault's OIDC provider (`identity/oidc/token/<role>`). A wrapped secret id (what the
//!   provisioner hands out) is unwrapped on first use and kept in the state dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::AgentError;
use crate::state::write_private;

/// Where the agent's tokens come from.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A token of the server's built-in issuer.
    TokenFile(PathBuf),
    /// Vault AppRole and its identity provider.
    Vault(VaultLogin),
}

/// How the agent logs in to Vault.
#[derive(Debug, Clone)]
pub struct VaultLogin {
    pub addr: String,
    /// The AppRole mount (`flotilla-agents`).
    pub mount: String,
    pub role_id: String,
    /// A file holding the secret id, or a wrapping token for it.
    pub secret_id_file: PathBuf,
    /// The identity token role (`flotilla-agent`).
    pub oidc_role: String,
}

/// A JWT and its lifetime.
#[derive(Clone)]
pub struct Jwt {
    pub token: String,
    pub issued_at: u64,
    pub expires_at: u64,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Jwt {
    /// Reads `iat` and `exp` of a token (unverified: the agent only schedules its refresh
    /// from them).
    pub fn parse(token: &str) -> Result<Jwt, AgentError> {
        use base64::Engine as _;
        let token = token.trim();
        let claims = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p.trim_end_matches('='))
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .ok_or_else(|| AgentError::Credentials("the token is not a JWT".into()))?;
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| AgentError::Credentials("the token has no expiry".into()))?;
        Ok(Jwt {
            token: token.to_owned(),
            issued_at: claims
                .get("iat")
                .and_then(Value::as_u64)
                .unwrap_or_else(now),
            expires_at,
        })
    }

    /// Whether it should be replaced now: a third of its life or less is left.
    pub fn due(&self, at: u64) -> bool {
        let life = self.expires_at.saturating_sub(self.issued_at).max(1);
        self.expires_at.saturating_sub(at) * 3 <= life
    }
}

/// Holds the current token and gets a new one when it is due.
#[derive(Debug)]
pub struct Identity {
    credentials: Credentials,
    state: PathBuf,
    current: Option<Jwt>,
}

impl Identity {
    pub fn new(credentials: Credentials, state: &Path) -> Identity {
        Identity {
            credentials,
            state: state.to_path_buf(),
            current: None,
        }
    }

    fn saved_token(&self) -> PathBuf {
        self.state.join("token")
    }

    /// The token to send now (refreshed first when due).
    pub async fn token(
        &mut self,
        http: &reqwest::Client,
        server: &str,
        cluster: &str,
    ) -> Result<String, AgentError> {
        let at = now();
        if let Some(t) = &self.current
            && !t.due(at)
        {
            return Ok(t.token.clone());
        }
        let fresh = match self.credentials.clone() {
            Credentials::TokenFile(file) => self.builtin(http, server, cluster, &file).await?,
            Credentials::Vault(v) => self.vault(http, &v).await?,
        };
        let token = fresh.token.clone();
        self.current = Some(fresh);
        Ok(token)
    }

    /// Forgets the current token (the server refused it): the next call gets a new one.
    pub fn reset(&mut self) {
        self.current = None;
    }

    async fn builtin(
        &self,
        http: &reqwest::Client,
        server: &str,
        cluster: &str,
        file: &Path,
    ) -> Result<Jwt, AgentError> {
        // The newest of the given file and the one refreshed before.
        let mut best: Option<Jwt> = None;
        for path in [file.to_path_buf(), self.saved_token()] {
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(jwt) = Jwt::parse(&from_credentials(&text, "/token"))
                && best.as_ref().is_none_or(|b| jwt.expires_at > b.expires_at)
            {
                best = Some(jwt);
            }
        }
        let jwt =
            best.ok_or_else(|| AgentError::Credentials(format!("no token in {}", file.display())))?;
        let at = now();
        if jwt.expires_at <= at {
            return Err(AgentError::Credentials(format!(
                "the token in {} has expired: register the cluster again for a new one",
                file.display()
            )));
        }
        if !jwt.due(at) {
            return Ok(jwt);
        }
        let url = format!("{server}/v1/clusters/{cluster}/token");
        let r = http
            .post(&url)
            .bearer_auth(&jwt.token)
            .send()
            .await
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        if !r.status().is_success() {
            // Still valid: used until it expires; the refresh is tried again next time.
            eprintln!(
                "flotilla agent: cannot refresh the token: HTTP {}",
                r.status()
            );
            return Ok(jwt);
        }
        let v: Value = r
            .json()
            .await
            .map_err(|e| AgentError::Server(format!("{url}: {e}")))?;
        let fresh = v
            .get("token")
            .and_then(Value::as_str)
            .ok_or_else(|| AgentError::Server(format!("{url}: no token in the answer")))?;
        let fresh = Jwt::parse(fresh)?;
        write_private(&self.saved_token(), fresh.token.as_bytes())?;
        Ok(fresh)
    }

    async fn vault(&self, http: &reqwest::Client, v: &VaultLogin) -> Result<Jwt, AgentError> {
        let secret_id = self.secret_id(http, v).await?;
        let addr = v.addr.trim_end_matches('/');
        let login = vault_call(
            http,
            reqwest::Method::POST,
            &format!("{addr}/v1/auth/{}/login", v.mount),
            None,
            Some(json!({"role_id": v.role_id, "secret_id": secret_id})),
        )
        .await?;
        let vault_token = login
            .pointer("/auth/client_token")
            .and_then(Value::as_str)
            .ok_or_else(|| AgentError::Credentials("the Vault login gave no token".into()))?
            .to_owned();
        let answer = vault_call(
            http,
            reqwest::Method::GET,
            &format!("{addr}/v1/identity/oidc/token/{}", v.oidc_role),
            Some(&vault_token),
            None,
        )
        .await?;
        let token = answer
            .pointer("/data/token")
            .and_then(Value::as_str)
            .ok_or_else(|| AgentError::Credentials("Vault gave no identity token".into()))?;
        Jwt::parse(token)
    }

    /// The secret id: the one unwrapped before, or the file's (unwrapped now when it is a
    /// wrapping token, and kept).
    async fn secret_id(
        &self,
        http: &reqwest::Client,
        v: &VaultLogin,
    ) -> Result<String, AgentError> {
        let kept = self.state.join("vault-secret-id");
        if let Ok(s) = std::fs::read_to_string(&kept) {
            return Ok(s.trim().to_owned());
        }
        let given = std::fs::read_to_string(&v.secret_id_file).map_err(|e| {
            AgentError::Credentials(format!("cannot read {}: {e}", v.secret_id_file.display()))
        })?;
        let given = from_credentials(&given, "/vault/wrappedSecretId");
        let given = given.trim();
        if is_uuid(given) {
            return Ok(given.to_owned());
        }
        let addr = v.addr.trim_end_matches('/');
        let answer = vault_call(
            http,
            reqwest::Method::POST,
            &format!("{addr}/v1/sys/wrapping/unwrap"),
            Some(given),
            None,
        )
        .await?;
        let secret_id = answer
            .pointer("/data/secret_id")
            .and_then(Value::as_str)
            .ok_or_else(|| AgentError::Credentials("the wrapped answer holds no secret_id".into()))?
            .to_owned();
        write_private(&kept, secret_id.as_bytes())?;
        Ok(secret_id)
    }
}

/// The field at `pointer` when `text` is the credentials file `flotilla clusters register`
/// writes (JSON), else `text` itself.
fn from_credentials(text: &str, pointer: &str) -> String {
    if text.trim_start().starts_with('{')
        && let Ok(v) = serde_json::from_str::<Value>(text)
        && let Some(field) = v.pointer(pointer).and_then(Value::as_str)
    {
        return field.to_owned();
    }
    text.trim().to_owned()
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

async fn vault_call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<Value, AgentError> {
    let mut req = http.request(method, url).timeout(Duration::from_secs(15));
    if let Some(t) = token {
        req = req.header("X-Vault-Token", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req
        .send()
        .await
        .map_err(|e| AgentError::Credentials(format!("Vault {url}: {e}")))?;
    let status = r.status();
    if !status.is_success() {
        return Err(AgentError::Credentials(format!(
            "Vault {url}: HTTP {status}"
        )));
    }
    r.json()
        .await
        .map_err(|e| AgentError::Credentials(format!("Vault {url}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(iat: u64, exp: u64) -> String {
        use base64::Engine as _;
        let b = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            b(r#"{"alg":"EdDSA"}"#),
            b(&format!(r#"{{"iat":{iat},"exp":{exp}}}"#))
        )
    }

    #[test]
    fn a_token_is_due_with_a_third_of_its_life_left() {
        let jwt = Jwt::parse(&token(1000, 1900)).expect("a jwt");
        assert!(!jwt.due(1000));
        assert!(!jwt.due(1599));
        assert!(jwt.due(1600));
        assert!(jwt.due(5000));
        assert!(Jwt::parse("nope").is_err());
        assert!(format!("{jwt:?}").find("sig").is_none(), "never printed");
    }

    #[test]
    fn secret_ids_are_told_from_wrapping_tokens() {
        assert!(is_uuid("0b8e5a4c-6f0e-4b8a-9d52-2f1c3c1e7a90"));
        assert!(!is_uuid("s.Xx3k2Jd9aQ"));
        assert!(!is_uuid("hvs.CAESI"));
    }
}
