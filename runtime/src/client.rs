//! A client of the API, for the CLI's `publish`, `promote`, `rollback` and `status`.

use std::time::Duration;

use serde_json::Value;

use crate::api::CI_JOB_HEADER;
use crate::fleet::VersionFiles;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error (`{"error": {"code", "message"}}`).
    #[error("{message} ({status}, {code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the server's answer is not JSON: {0}")]
    Answer(#[source] reqwest::Error),
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client of one server, with one token.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    ci_job: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(server: &str, token: &str, ci_job: Option<String>) -> Result<Client, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|source| ClientError::Unreachable {
                url: server.to_owned(),
                source,
            })?;
        Ok(Client {
            base: server.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            ci_job,
            http,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder, url: &str) -> Result<Value, ClientError> {
        let mut req = req.bearer_auth(&self.token);
        if let Some(ci) = &self.ci_job {
            req = req.header(CI_JOB_HEADER, ci);
        }
        let r = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.to_owned(),
                source,
            })?;
        let status = r.status().as_u16();
        let ok = r.status().is_success();
        let body: Value = r.json().await.map_err(ClientError::Answer)?;
        if ok {
            return Ok(body);
        }
        let e = &body["error"];
        Err(ClientError::Api {
            status,
            code: e["code"].as_str().unwrap_or("error").to_owned(),
            message: e["message"]
                .as_str()
                .unwrap_or("the server refused")
                .to_owned(),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        self.send(self.http.get(&url), &url).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        self.send(self.http.post(&url).json(body), &url).await
    }

    /// Publishes a version of `service`.
    pub async fn publish(
        &self,
        service: &str,
        label: &str,
        files: &VersionFiles,
        commit: Option<&str>,
    ) -> Result<Value, ClientError> {
        let body = serde_json::json!({
            "label": label,
            "files": files.files,
            "blobs": files.blobs,
            "commit": commit,
            "ciJob": self.ci_job,
        });
        self.post(&format!("/v1/services/{service}/versions"), &body)
            .await
    }

    /// Deploys `version` (a label or digest) of `service` to `environment`.
    pub async fn promote(
        &self,
        service: &str,
        version: &str,
        environment: &str,
    ) -> Result<Value, ClientError> {
        let body = serde_json::json!({"environment": environment, "version": version});
        self.post(&format!("/v1/services/{service}/deployments"), &body)
            .await
    }

    /// Promotes to `environment` the version a completed rollout offers it (`version`, when
    /// given, must be that one).
    pub async fn approve(
        &self,
        service: &str,
        version: Option<&str>,
        environment: &str,
    ) -> Result<Value, ClientError> {
        let body =
            serde_json::json!({"environment": environment, "version": version, "approve": true});
        self.post(&format!("/v1/services/{service}/deployments"), &body)
            .await
    }

    /// The rollouts of `service` (one environment's, when given).
    pub async fn rollouts(
        &self,
        service: &str,
        environment: Option<&str>,
    ) -> Result<Value, ClientError> {
        let query = environment.map_or_else(String::new, |e| format!("?environment={e}"));
        self.get(&format!("/v1/services/{service}/rollout{query}"))
            .await
    }

    /// Pauses, resumes or aborts the rollout of `service` in `environment`.
    pub async fn rollout_action(
        &self,
        service: &str,
        environment: &str,
        action: &str,
    ) -> Result<Value, ClientError> {
        let body = serde_json::json!({"environment": environment, "action": action});
        self.post(&format!("/v1/services/{service}/rollout"), &body)
            .await
    }

    /// Deploys the version `service` ran on `environment` before the current one.
    pub async fn rollback(&self, service: &str, environment: &str) -> Result<Value, ClientError> {
        let body = serde_json::json!({"environment": environment, "rollback": true});
        self.post(&format!("/v1/services/{service}/deployments"), &body)
            .await
    }

    /// Registers a cluster (`spec`: name, provider, region, environment, tags, metadata;
    /// `identity`: own or shared). The answer holds its credentials.
    pub async fn register(&self, spec: &Value) -> Result<Value, ClientError> {
        self.post("/v1/clusters", spec).await
    }

    /// Deregisters a cluster (its agent is refused from now on).
    pub async fn deregister(&self, cluster: &str) -> Result<Value, ClientError> {
        let url = format!("{}/v1/clusters/{cluster}", self.base);
        self.send(self.http.delete(&url), &url).await
    }
}
