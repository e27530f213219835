//! The provisioner's Vault side (Vault or OpenBao, over its HTTP API): per cluster, an
//! AppRole role under a dedicated auth mount, an identity entity with `cluster=<name>`
//! metadata and its alias (the role id), and a policy that lets it read only its identity
//! token; a response-wrapped secret id returned once. The identity token role's template
//! puts the entity's `cluster` into every token, which is what the server checks.
//!
//! The server trusts Vault's OIDC provider for agents: issuer `<addr>/v1/identity/oidc`,
//! audience the token role's client id ([`VaultProvisioner::oidc`]).

use std::time::Duration;

use serde_json::{Value, json};

/// How the server reaches Vault.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// `http://127.0.0.1:8200`.
    pub addr: String,
    /// The platform's own token (from `VAULT_TOKEN` or a file).
    pub token: String,
    /// The AppRole auth mount agents log in at (`flotilla-agents`).
    pub mount: String,
    /// The identity token role (and key) agents read their JWT from (`flotilla-agent`).
    pub oidc_role: String,
    /// How long a wrapped secret id may wait to be unwrapped.
    pub wrap_ttl: Duration,
}

impl VaultConfig {
    pub fn new(addr: &str, token: &str) -> VaultConfig {
        VaultConfig {
            addr: addr.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            mount: "flotilla-agents".to_owned(),
            oidc_role: "flotilla-agent".to_owned(),
            wrap_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// A Vault call that failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("vault {method} {path}: {source}")]
    Http {
        method: &'static str,
        path: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("vault {method} {path}: HTTP {status}: {message}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("vault {path}: the answer has no {field}")]
    Missing { path: String, field: &'static str },
}

/// What an agent needs to log in to Vault (the secret id wrapped: only its first reader
/// sees it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCredentials {
    pub vault_addr: String,
    pub mount: String,
    pub oidc_role: String,
    pub role_id: String,
    /// A wrapping token: `sys/wrapping/unwrap` gives the secret id, once.
    pub wrapped_secret_id: String,
}

/// The provisioner.
#[derive(Debug)]
pub struct VaultProvisioner {
    config: VaultConfig,
    http: reqwest::Client,
}

impl VaultProvisioner {
    pub fn new(config: VaultConfig) -> VaultProvisioner {
        VaultProvisioner {
            config,
            http: crate::http_client(Duration::from_secs(15)),
        }
    }

    pub fn config(&self) -> &VaultConfig {
        &self.config
    }

    async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Value>,
        wrap: Option<Duration>,
    ) -> Result<Value, VaultError> {
        let url = format!("{}/v1/{path}", self.config.addr);
        let m = match method {
            "GET" => reqwest::Method::GET,
            "DELETE" => reqwest::Method::DELETE,
            _ => reqwest::Method::POST,
        };
        let mut req = self
            .http
            .request(m, &url)
            .header("X-Vault-Token", &self.config.token);
        if let Some(ttl) = wrap {
            req = req.header("X-Vault-Wrap-TTL", format!("{}s", ttl.as_secs()));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let http = |source| VaultError::Http {
            method,
            path: path.to_owned(),
            source,
        };
        let r = req.send().await.map_err(http)?;
        let status = r.status();
        let text = r.text().await.map_err(http)?;
        if !status.is_success() {
            // Vault's `errors` never hold secrets; the body is cut short all the same.
            return Err(VaultError::Status {
                method,
                path: path.to_owned(),
                status: status.as_u16(),
                message: text.chars().take(300).collect(),
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn field<'v>(v: &'v Value, path: &str, pointer: &'static str) -> Result<&'v str, VaultError> {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| VaultError::Missing {
                path: path.to_owned(),
                field: pointer,
            })
    }

    /// Makes what every cluster shares (idempotent): the AppRole mount, the identity token
    /// key and role. Returns the role's client id (the tokens' audience).
    pub async fn setup(&self) -> Result<String, VaultError> {
        let c = &self.config;
        let auths = self.call("GET", "sys/auth", None, None).await?;
        let key = format!("{}/", c.mount);
        let mounted = auths
            .get(&key)
            .or_else(|| auths.get("data").and_then(|d| d.get(&key)));
        if mounted.is_none() {
            self.call(
                "POST",
                &format!("sys/auth/{}", c.mount),
                Some(json!({"type": "approle", "description": "flotilla agents, a role per cluster"})),
                None,
            )
            .await?;
        }
        self.call(
            "POST",
            &format!("identity/oidc/key/{}", c.oidc_role),
            Some(json!({"allowed_client_ids": "*", "algorithm": "RS256", "rotation_period": "24h", "verification_ttl": "24h"})),
            None,
        )
        .await?;
        self.call(
            "POST",
            &format!("identity/oidc/role/{}", c.oidc_role),
            Some(json!({
                "key": c.oidc_role,
                "ttl": "1h",
                "template": "{\"cluster\": {{identity.entity.metadata.cluster}} }",
            })),
            None,
        )
        .await?;
        let path = format!("identity/oidc/role/{}", c.oidc_role);
        let role = self.call("GET", &path, None, None).await?;
        Ok(Self::field(&role, &path, "/data/client_id")?.to_owned())
    }

    /// The OIDC issuer agents' tokens come from, and their audience.
    pub async fn oidc(&self) -> Result<(String, String), VaultError> {
        let audience = self.setup().await?;
        let path = "identity/oidc/.well-known/openid-configuration";
        let discovery = self.call("GET", path, None, None).await?;
        let issuer = Self::field(&discovery, path, "/issuer")?.to_owned();
        Ok((issuer, audience))
    }

    fn names(&self, cluster: &str) -> (String, String) {
        (
            format!("flotilla-agent-{cluster}"),
            format!("flotilla-cluster-{cluster}"),
        )
    }

    /// Provisions `cluster`: its policy, role, entity and alias; returns the role id and a
    /// wrapped secret id. Run again, it replaces the secret id (the role stays).
    pub async fn provision(&self, cluster: &str) -> Result<AgentCredentials, VaultError> {
        let c = &self.config;
        let (policy, entity) = self.names(cluster);
        let hcl = format!(
            "# flotilla agent of cluster {cluster}: its own identity token, nothing else\n\
             path \"identity/oidc/token/{}\" {{\n  capabilities = [\"read\"]\n}}\n",
            c.oidc_role
        );
        self.call(
            "POST",
            &format!("sys/policies/acl/{policy}"),
            Some(json!({ "policy": hcl })),
            None,
        )
        .await?;
        let role_path = format!("auth/{}/role/{cluster}", c.mount);
        self.call(
            "POST",
            &role_path,
            Some(json!({
                "token_policies": [policy],
                "token_ttl": "1h",
                "token_max_ttl": "4h",
                "secret_id_ttl": "0",
            })),
            None,
        )
        .await?;
        let rid_path = format!("{role_path}/role-id");
        let rid = self.call("GET", &rid_path, None, None).await?;
        let role_id = Self::field(&rid, &rid_path, "/data/role_id")?.to_owned();
        let entity_path = format!("identity/entity/name/{entity}");
        self.call(
            "POST",
            &entity_path,
            Some(json!({"metadata": {"cluster": cluster}, "policies": []})),
            None,
        )
        .await?;
        let e = self.call("GET", &entity_path, None, None).await?;
        let entity_id = Self::field(&e, &entity_path, "/data/id")?.to_owned();
        let has_alias = e
            .pointer("/data/aliases")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter()
                    .any(|x| x.get("name").and_then(Value::as_str) == Some(role_id.as_str()))
            });
        if !has_alias {
            let auths = self.call("GET", "sys/auth", None, None).await?;
            let key = format!("{}/", c.mount);
            let accessor = auths
                .get("data")
                .and_then(|d| d.get(&key))
                .or_else(|| auths.get(&key))
                .and_then(|m| m.get("accessor"))
                .and_then(Value::as_str)
                .ok_or_else(|| VaultError::Missing {
                    path: "sys/auth".into(),
                    field: "accessor",
                })?
                .to_owned();
            self.call(
                "POST",
                "identity/entity-alias",
                Some(
                    json!({"name": role_id, "canonical_id": entity_id, "mount_accessor": accessor}),
                ),
                None,
            )
            .await?;
        }
        let sid_path = format!("{role_path}/secret-id");
        let wrapped = self
            .call("POST", &sid_path, Some(json!({})), Some(c.wrap_ttl))
            .await?;
        let wrapped_secret_id = Self::field(&wrapped, &sid_path, "/wrap_info/token")?.to_owned();
        Ok(AgentCredentials {
            vault_addr: c.addr.clone(),
            mount: c.mount.clone(),
            oidc_role: c.oidc_role.clone(),
            role_id,
            wrapped_secret_id,
        })
    }

    /// Revokes `cluster`: its role (and so its secret ids), entity (and alias) and policy.
    pub async fn revoke(&self, cluster: &str) -> Result<(), VaultError> {
        let (policy, entity) = self.names(cluster);
        let paths = [
            format!("auth/{}/role/{cluster}", self.config.mount),
            format!("identity/entity/name/{entity}"),
            format!("sys/policies/acl/{policy}"),
        ];
        for p in paths {
            match self.call("DELETE", &p, None, None).await {
                Ok(_) | Err(VaultError::Status { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
