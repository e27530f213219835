//! The async Vault HTTP client behind `VaultSource`: requests with bounded retries, AppRole
//! login, KV mount detection, KV v1/v2 reads, and the mapping of answers to `SecretError`s.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use zeroize::Zeroizing;

use super::config::{KvMount, KvVersion, RetryConfig, VaultAuth, VaultConfig};
use crate::error::SecretError;
use crate::source::SecretPath;
use crate::value::{Secret, plaintext_of_json};

pub(crate) type Outcome = Result<Arc<Secret>, SecretError>;

pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    /// `vault at <url>`, for messages (no credentials: URLs with user info are refused).
    backend: String,
    namespace: Option<String>,
    auth: VaultAuth,
    login: tokio::sync::OnceCell<Result<Zeroizing<String>, LoginError>>,
    mounts: parking_lot::Mutex<Vec<KvMount>>,
    retry: RetryConfig,
    max_concurrency: usize,
    requests: AtomicU64,
}

/// A transport-level failure after the retries.
enum Failure {
    /// Connection refused, reset, timed out, … after `attempts` attempts.
    Transport { attempts: u32, message: String },
    /// The TLS handshake failed: a configuration problem, not retried.
    Tls(String),
}

/// An HTTP answer (possibly a retryable status after the last attempt).
struct Reply {
    status: StatusCode,
    body: Zeroizing<Vec<u8>>,
    attempts: u32,
}

/// Why the AppRole login failed; turned into a `SecretError` naming the path being read.
#[derive(Clone)]
enum LoginError {
    Rejected(String),
    Unavailable { attempts: u32, message: String },
    Config(String),
    Malformed(String),
}

impl Client {
    pub(crate) fn new(config: &VaultConfig) -> Result<Client, SecretError> {
        let base = Url::parse(&config.address).map_err(|e| {
            SecretError::config(format!(
                "vault address {:?} is not a URL: {e}",
                config.address
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(SecretError::config(format!(
                "vault address {:?} is not an http:// or https:// URL",
                config.address
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(SecretError::config(
                "vault address must not carry user info; use VAULT_TOKEN or AppRole",
            ));
        }
        if config.retry.max_attempts == 0 {
            return Err(SecretError::config("retry.max_attempts must be at least 1"));
        }
        let http = http_client(config, &base)?;
        let backend = format!("vault at {}", base.as_str().trim_end_matches('/'));
        let mounts = config
            .mounts
            .iter()
            .map(|m| KvMount::new(&m.path, m.version))
            .collect();
        Ok(Client {
            http,
            base,
            backend,
            namespace: config.namespace.clone(),
            auth: config.auth.clone(),
            login: tokio::sync::OnceCell::new(),
            mounts: parking_lot::Mutex::new(mounts),
            retry: config.retry.clone(),
            max_concurrency: config.max_concurrency.max(1),
            requests: AtomicU64::new(0),
        })
    }

    pub(crate) fn address(&self) -> &str {
        self.base.as_str()
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Reads many secrets: one mount lookup per top-level segment first, then every read
    /// concurrently (at most `max_concurrency` in flight). Results in the order of `paths`.
    pub(crate) async fn fetch_many(self: &Arc<Self>, paths: &[SecretPath]) -> Vec<Outcome> {
        let mut first_segments = HashSet::new();
        let representatives: Vec<SecretPath> = paths
            .iter()
            .filter(|p| self.known_mount(p).is_none())
            .filter(|p| first_segments.insert(p.segments().next().unwrap_or("").to_owned()))
            .cloned()
            .collect();
        // Log in and find the mounts once, concurrently; failures are found again, per path,
        // by the reads below.
        let _ = self.spawn_all(&representatives, Client::resolve_only).await;
        self.spawn_all(paths, Client::fetch).await
    }

    async fn spawn_all<F, Fut>(self: &Arc<Self>, paths: &[SecretPath], op: F) -> Vec<Outcome>
    where
        F: Fn(Arc<Client>, SecretPath) -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let permits = Arc::new(tokio::sync::Semaphore::new(self.max_concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, path) in paths.iter().enumerate() {
            let work = op(Arc::clone(self), path.clone());
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (index, work.await)
            });
        }
        let mut out: Vec<Option<Outcome>> = paths.iter().map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, outcome)) = joined
                && let Some(slot) = out.get_mut(index)
            {
                *slot = Some(outcome);
            }
        }
        out.into_iter()
            .zip(paths)
            .map(|(o, path)| {
                o.unwrap_or_else(|| {
                    Err(SecretError::Malformed {
                        path: path.clone(),
                        message: "reading the secret panicked".to_owned(),
                    })
                })
            })
            .collect()
    }

    /// Logs in and resolves the mount of `path` without reading it (used to warm the caches).
    async fn resolve_only(self: Arc<Self>, path: SecretPath) -> Outcome {
        let token = self.token(&path).await?;
        if self.known_mount(&path).is_none() {
            self.detect_mount(&path, &token).await?;
        }
        Err(SecretError::NotFound { path })
    }

    /// Reads every key of the secret at `path`.
    pub(crate) async fn fetch(self: Arc<Self>, path: SecretPath) -> Outcome {
        let token = self.token(&path).await?;
        let mount = match self.known_mount(&path) {
            Some(m) => Some(m),
            None => self.detect_mount(&path, &token).await?,
        };
        let mut segments: Vec<&str> = Vec::new();
        let version = match &mount {
            Some(KvMount {
                path: mount_path,
                version: KvVersion::V2,
            }) => {
                let rest = relative(&path, mount_path).unwrap_or("");
                if rest.is_empty() {
                    return Err(SecretError::InvalidReference {
                        path: path.to_string(),
                        reason: "the path names a KV mount, not a secret in it",
                    });
                }
                segments.extend(mount_path.split('/'));
                segments.push("data");
                segments.extend(rest.split('/'));
                KvVersion::V2
            }
            _ => {
                segments.extend(path.segments());
                KvVersion::V1
            }
        };
        let reply = self
            .send(Method::GET, &segments, Some(&token), None)
            .await
            .map_err(|f| self.failure(&path, f))?;
        if reply.status != StatusCode::OK {
            return Err(self.status_error(&path, &reply));
        }
        let data = parse_data(&reply.body, version).ok_or_else(|| SecretError::Malformed {
            path: path.clone(),
            message: "vault's answer is not a KV secret".to_owned(),
        })?;
        match data {
            Value::Object(map) => {
                let keys: BTreeMap<_, _> = map
                    .into_iter()
                    .map(|(k, v)| (k, plaintext_of_json(v)))
                    .collect();
                Ok(Arc::new(Secret::new(path, keys)))
            }
            // KV v2 answers `"data": null` for a deleted or destroyed latest version.
            Value::Null => Err(SecretError::NotFound { path }),
            _ => Err(SecretError::Malformed {
                path,
                message: "vault's answer is not a KV secret".to_owned(),
            }),
        }
    }

    /// The token to read with: the configured one, or the AppRole login's (once per source).
    async fn token(&self, path: &SecretPath) -> Result<Zeroizing<String>, SecretError> {
        match &self.auth {
            VaultAuth::Token(token) => Ok(token.clone()),
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let login = self
                    .login
                    .get_or_init(|| self.login(mount, role_id, secret_id))
                    .await;
                match login {
                    Ok(token) => Ok(token.clone()),
                    Err(e) => Err(self.login_error(path, e.clone())),
                }
            }
        }
    }

    async fn login(
        &self,
        mount: &str,
        role_id: &str,
        secret_id: &str,
    ) -> Result<Zeroizing<String>, LoginError> {
        let body = serde_json::json!({ "role_id": role_id, "secret_id": secret_id });
        let body = Zeroizing::new(body.to_string().into_bytes());
        let mut segments = vec!["auth"];
        segments.extend(mount.trim_matches('/').split('/'));
        segments.push("login");
        let reply = match self.send(Method::POST, &segments, None, Some(&body)).await {
            Ok(reply) => reply,
            Err(Failure::Tls(m)) => return Err(LoginError::Config(m)),
            Err(Failure::Transport { attempts, message }) => {
                return Err(LoginError::Unavailable { attempts, message });
            }
        };
        if reply.status.is_server_error() || reply.status == StatusCode::TOO_MANY_REQUESTS {
            return Err(LoginError::Unavailable {
                attempts: reply.attempts,
                message: status_message(&reply),
            });
        }
        if !reply.status.is_success() {
            return Err(LoginError::Rejected(status_message(&reply)));
        }
        let token = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|mut v| match v.pointer_mut("/auth/client_token") {
                Some(Value::String(t)) => Some(Zeroizing::new(std::mem::take(t))),
                _ => None,
            });
        token.ok_or_else(|| LoginError::Malformed("login answer has no auth.client_token".into()))
    }

    fn login_error(&self, path: &SecretPath, e: LoginError) -> SecretError {
        let path = path.clone();
        match e {
            LoginError::Rejected(message) => SecretError::Auth {
                path,
                method: self.auth.method(),
                message,
            },
            LoginError::Unavailable { attempts, message } => SecretError::Unavailable {
                path,
                backend: self.backend.clone(),
                attempts,
                message,
            },
            LoginError::Config(message) => SecretError::config(message),
            LoginError::Malformed(message) => SecretError::Malformed { path, message },
        }
    }

    /// The configured or already detected mount holding `path` (longest match).
    fn known_mount(&self, path: &SecretPath) -> Option<KvMount> {
        self.mounts
            .lock()
            .iter()
            .filter(|m| relative(path, &m.path).is_some())
            .max_by_key(|m| m.path.len())
            .cloned()
    }

    /// Asks `sys/internal/ui/mounts/<path>` for the mount holding `path` and its KV version,
    /// as the Vault CLI's `kv` commands do. `None`: the server has no such endpoint (404), so
    /// the path is read as KV v1.
    async fn detect_mount(
        &self,
        path: &SecretPath,
        token: &str,
    ) -> Result<Option<KvMount>, SecretError> {
        let mut segments = vec!["sys", "internal", "ui", "mounts"];
        segments.extend(path.segments());
        let reply = self
            .send(Method::GET, &segments, Some(token), None)
            .await
            .map_err(|f| self.failure(path, f))?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if reply.status != StatusCode::OK {
            return Err(self.status_error(path, &reply));
        }
        let info: Option<Value> = serde_json::from_slice(&reply.body).ok();
        let data = info.as_ref().and_then(|v| v.get("data"));
        let mount_path = data
            .and_then(|d| d.get("path"))
            .and_then(Value::as_str)
            .map(|p| p.trim_matches('/'));
        let Some(mount_path) = mount_path else {
            return Err(SecretError::Malformed {
                path: path.clone(),
                message: "vault's mount lookup answered without a mount path".to_owned(),
            });
        };
        let version = match data
            .and_then(|d| d.pointer("/options/version"))
            .and_then(Value::as_str)
        {
            Some("2") => KvVersion::V2,
            _ => KvVersion::V1,
        };
        let mount = KvMount::new(mount_path, version);
        if mount.path.is_empty() || relative(path, &mount.path).is_none() {
            return Err(SecretError::Malformed {
                path: path.clone(),
                message: format!(
                    "vault's mount lookup answered mount {:?}, which does not hold the path",
                    mount.path
                ),
            });
        }
        let mut mounts = self.mounts.lock();
        if !mounts.contains(&mount) {
            mounts.push(mount.clone());
        }
        Ok(Some(mount))
    }

    /// Sends one request, retrying connection failures, timeouts and retryable statuses
    /// (5xx except 501, 429, and 412 which a performance standby answers until it catches up).
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Reply, Failure> {
        let mut url = self.base.clone();
        if let Ok(mut parts) = url.path_segments_mut() {
            parts.pop_if_empty().push("v1").extend(segments);
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header("X-Vault-Request", "true");
            if let Some(token) = token {
                request = request.header("X-Vault-Token", token);
            }
            if let Some(ns) = &self.namespace {
                request = request.header("X-Vault-Namespace", ns.as_str());
            }
            if let Some(body) = body {
                request = request
                    .header("Content-Type", "application/json")
                    .body(body.to_vec());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let last = attempt >= self.retry.max_attempts;
            let error = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if retryable(status) && !last {
                        tokio::time::sleep(self.retry.backoff(attempt)).await;
                        continue;
                    }
                    match response.bytes().await {
                        Ok(bytes) => {
                            return Ok(Reply {
                                status,
                                body: Zeroizing::new(Vec::from(bytes)),
                                attempts: attempt,
                            });
                        }
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            if let Some(tls) = tls_failure(&error) {
                return Err(Failure::Tls(tls));
            }
            if last {
                return Err(Failure::Transport {
                    attempts: attempt,
                    message: root_cause(&error),
                });
            }
            tokio::time::sleep(self.retry.backoff(attempt)).await;
        }
    }

    fn failure(&self, path: &SecretPath, failure: Failure) -> SecretError {
        match failure {
            Failure::Transport { attempts, message } => SecretError::Unavailable {
                path: path.clone(),
                backend: self.backend.clone(),
                attempts,
                message,
            },
            Failure::Tls(message) => SecretError::config(format!(
                "tls connection to {} failed: {message} (set VAULT_CACERT to the server's CA, \
                 or VAULT_SKIP_VERIFY=true for a development server)",
                self.backend
            )),
        }
    }

    /// The error for a non-200 answer while reading `path`.
    fn status_error(&self, path: &SecretPath, reply: &Reply) -> SecretError {
        let path = path.clone();
        match reply.status {
            StatusCode::NOT_FOUND => SecretError::NotFound { path },
            StatusCode::FORBIDDEN => SecretError::PermissionDenied {
                path,
                detail: Some(vault_errors(&reply.body)).filter(|d| !d.is_empty()),
            },
            s if retryable(s) => SecretError::Unavailable {
                path,
                backend: self.backend.clone(),
                attempts: reply.attempts,
                message: status_message(reply),
            },
            _ => SecretError::Malformed {
                path,
                message: format!(
                    "unexpected answer from {}: {}",
                    self.backend,
                    status_message(reply)
                ),
            },
        }
    }
}

fn http_client(config: &VaultConfig, base: &Url) -> Result<reqwest::Client, SecretError> {
    // reqwest is built without a bundled crypto provider; use ring (no C toolchain beyond cc,
    // no cmake). Installing fails harmlessly when the process already chose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .tls_backend_rustls()
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout);
    if matches!(
        base.host_str(),
        Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
    ) {
        // As Go's http.ProxyFromEnvironment: never proxy loopback.
        builder = builder.no_proxy();
    }
    if base.scheme() == "http" {
        // No TLS: do not load the platform's roots at all (reqwest issue #2988).
        builder = builder.tls_certs_only(Vec::new());
    } else if let Some(file) = &config.tls.ca_cert {
        let pem = std::fs::read(file).map_err(|e| {
            SecretError::config(format!("cannot read CA file {}: {e}", file.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| SecretError::config(format!("invalid CA file {}: {e}", file.display())))?;
        if certs.is_empty() {
            return Err(SecretError::config(format!(
                "CA file {} holds no PEM certificate",
                file.display()
            )));
        }
        builder = builder.tls_certs_only(certs);
    }
    if config.tls.skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| {
        SecretError::config(format!("cannot build the http client: {}", root_cause(&e)))
    })
}

/// `path` relative to `mount` when `path` lies in it (`Some("")` when it is the mount).
fn relative<'a>(path: &'a SecretPath, mount: &str) -> Option<&'a str> {
    let rest = path.as_str().strip_prefix(mount)?;
    if rest.is_empty() {
        Some("")
    } else if mount.is_empty() {
        None
    } else {
        rest.strip_prefix('/')
    }
}

fn retryable(status: StatusCode) -> bool {
    (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::PRECONDITION_FAILED
}

/// The secret's data: `data` (KV v1) or `data.data` (KV v2) of the answer, moved out.
fn parse_data(body: &[u8], version: KvVersion) -> Option<Value> {
    let mut answer: Value = serde_json::from_slice(body).ok()?;
    let pointer = match version {
        KvVersion::V1 => "/data",
        KvVersion::V2 => "/data/data",
    };
    answer.pointer_mut(pointer).map(Value::take)
}

/// Vault's `errors` array, joined; multi-error blocks (`1 error occurred:\n\t* …`) flattened.
fn vault_errors(body: &[u8]) -> String {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let mut out: Vec<String> = Vec::new();
    for e in answer
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let items: Vec<&str> = e
            .lines()
            .filter_map(|l| l.trim().strip_prefix("* "))
            .collect();
        if items.is_empty() {
            out.push(e.trim().to_owned());
        } else {
            out.extend(items.into_iter().map(str::to_owned));
        }
    }
    out.join("; ")
}

fn status_message(reply: &Reply) -> String {
    let errors = vault_errors(&reply.body);
    if errors.is_empty() {
        format!("status {}", reply.status.as_u16())
    } else {
        format!("status {}: {errors}", reply.status.as_u16())
    }
}

/// The TLS error in `error`'s chain, if the failure is a TLS one.
fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        current = cause(e);
    }
    None
}

/// The next error in the chain. `io::Error::source` skips the error it wraps (it returns that
/// error's source), so wrapped errors are reached through `get_ref`.
fn cause<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

/// The innermost cause of `error` (`Connection refused (os error 111)`), which names the
/// problem better than reqwest's `error sending request for url (…)`.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = cause(current) {
        current = next;
    }
    let text = current.to_string();
    if text.is_empty() {
        error.to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_error_texts() {
        let check = |body: &str, expect: &str| assert_eq!(vault_errors(body.as_bytes()), expect);
        check(r#"{"errors":[]}"#, "");
        check(r#"{"errors":["permission denied"]}"#, "permission denied");
        check(
            r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#,
            "permission denied",
        );
        check(r#"{"errors":["a","b"]}"#, "a; b");
        check("<html>bad gateway</html>", "");
    }

    #[test]
    fn relative_paths() {
        let p = SecretPath::new("secret/payments/helm").unwrap();
        assert_eq!(relative(&p, "secret"), Some("payments/helm"));
        assert_eq!(relative(&p, "secret/payments"), Some("helm"));
        assert_eq!(relative(&p, "secret/payments/helm"), Some(""));
        assert_eq!(relative(&p, "secr"), None);
        assert_eq!(relative(&p, "other"), None);
        assert_eq!(relative(&p, ""), None);
    }

    #[test]
    fn kv_data() {
        let v2 = br#"{"data":{"data":{"password":"hunter2"},"metadata":{"version":1}}}"#;
        assert_eq!(
            parse_data(v2, KvVersion::V2),
            Some(serde_json::json!({"password": "hunter2"}))
        );
        let deleted = br#"{"data":{"data":null,"metadata":{"version":1}}}"#;
        assert_eq!(parse_data(deleted, KvVersion::V2), Some(Value::Null));
        let v1 = br#"{"data":{"api_key":"k"}}"#;
        assert_eq!(
            parse_data(v1, KvVersion::V1),
            Some(serde_json::json!({"api_key": "k"}))
        );
        assert_eq!(parse_data(b"not json", KvVersion::V1), None);
    }

    #[test]
    fn retryable_statuses() {
        let got: Vec<u16> = [200, 400, 403, 404, 412, 429, 500, 501, 502, 503, 504]
            .into_iter()
            .filter(|&s| retryable(StatusCode::from_u16(s).unwrap()))
            .collect();
        assert_eq!(got, [412, 429, 500, 502, 503, 504]);
    }
}
