//! `VaultSource`: secrets from Vault or OpenBao KV mounts (v1 and v2) over HTTP, behind the
//! synchronous `SecretSource` API.
//!
//! The HTTP client is `reqwest` (rustls with the `ring` provider, no OpenSSL) on a small tokio
//! runtime owned by the source. `vaultrs` 0.8 was considered and not used: it pulls in
//! `aws-lc-sys` by default, `rustify`, `derive_builder` and three `syn` majors; its settings
//! builder panics on an invalid URL and silently reads `VAULT_*` variables; it has neither the
//! mount lookup (`sys/internal/ui/mounts`) nor retries; and its errors hide the status and
//! transport cause this crate must classify. The four Vault calls needed here (mount lookup,
//! KV v1 read, KV v2 read, AppRole login) are a few lines each with reqwest.
//!
//! Why synchronous: the compiler runs on rayon threads and the template engine's functions are
//! plain closures, so neither can `.await`. The source owns a current-thread runtime; every
//! call blocks on it, and a batch (`fetch_many`) runs all its requests concurrently inside one
//! `block_on`. Several threads may block on the runtime at once (tokio lets them share its
//! driver). Called from inside another tokio runtime, the call moves to a scoped helper thread
//! instead of panicking.

mod client;
mod config;

use std::sync::Arc;

pub use config::{KvMount, KvVersion, RetryConfig, TlsConfig, VaultAuth, VaultConfig};

use crate::error::SecretError;
use crate::source::{SecretPath, SecretSource};
use crate::value::Secret;
use client::Client;

/// Secrets from Vault/OpenBao.
///
/// - Authentication: a token, or an AppRole login done once on first use.
/// - KV version: per mount, from [`VaultConfig::mounts`] or asked once per mount from
///   `sys/internal/ui/mounts/<path>`; `secret/payments` in a KV v2 mount `secret` is read at
///   `secret/data/payments`, in a KV v1 mount at `secret/payments`.
/// - Retries: connection failures, timeouts, 5xx (but 501), 429 and 412 are retried with
///   exponential backoff ([`RetryConfig`]); then [`SecretError::Unavailable`] (a remote
///   failure, exit code 3).
/// - 403 is [`SecretError::PermissionDenied`], 404 (or a deleted KV v2 version)
///   [`SecretError::NotFound`], a missing key [`SecretError::MissingKey`].
///
/// Construction does no I/O. Wrap it in [`crate::ReadOnce`] for a compile.
pub struct VaultSource {
    runtime: Option<tokio::runtime::Runtime>,
    client: Arc<Client>,
}

impl VaultSource {
    /// A source for `config`. Fails on an invalid address or an unreadable CA file.
    pub fn new(config: VaultConfig) -> Result<VaultSource, SecretError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SecretError::config(format!("cannot start the vault client: {e}")))?;
        // Build the client inside the runtime: reqwest registers its timers with it.
        let client = {
            let _entered = runtime.enter();
            Client::new(&config)?
        };
        Ok(VaultSource {
            runtime: Some(runtime),
            client: Arc::new(client),
        })
    }

    /// A source configured from `VAULT_ADDR`, `VAULT_TOKEN`, … (see
    /// [`VaultConfig::from_vars`]).
    pub fn from_env() -> Result<VaultSource, SecretError> {
        VaultSource::new(VaultConfig::from_env()?)
    }

    /// The server URL.
    pub fn address(&self) -> &str {
        self.client.address()
    }

    /// HTTP requests sent so far, retries, mount lookups and login included.
    pub fn http_requests(&self) -> u64 {
        self.client.requests()
    }

    fn block_on<T: Send>(&self, work: impl Future<Output = T> + Send) -> T {
        let Some(runtime) = &self.runtime else {
            // Unreachable: the runtime is only taken in `drop`.
            return fresh_runtime_block_on(work);
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking inside a runtime panics; block on a helper thread instead.
            std::thread::scope(|s| match s.spawn(|| runtime.block_on(work)).join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            })
        } else {
            runtime.block_on(work)
        }
    }
}

/// Used only if the runtime is gone, which cannot happen before `drop`: a fresh one-off runtime.
fn fresh_runtime_block_on<T>(work: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(work),
        Err(e) => std::panic::panic_any(format!("cannot start a tokio runtime: {e}")),
    }
}

impl std::fmt::Debug for VaultSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSource")
            .field("address", &self.client.address())
            .finish_non_exhaustive()
    }
}

impl Drop for VaultSource {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Dropping a runtime inside another one panics; let it go in the background.
            runtime.shutdown_background();
        }
    }
}

impl SecretSource for VaultSource {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        let client = Arc::clone(&self.client);
        let path = path.clone();
        self.block_on(client.fetch(path))
    }

    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        let client = Arc::clone(&self.client);
        self.block_on(async move { client.fetch_many(paths).await })
    }
}

#[cfg(test)]
mod tests {
    //! Retry and request-shape cases against a scripted in-process HTTP server (the live-server
    //! cases are in `tests/it`).

    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    const KV2: &str = r#"{"data":{"data":{"password":"hunter2"},"metadata":{"version":3}}}"#;

    /// Answers one connection per scripted response (`Connection: close`), in order, and
    /// returns the request heads it saw.
    fn serve(script: &[(u16, &str)]) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let script: Vec<(u16, String)> =
            script.iter().map(|(s, b)| (*s, (*b).to_owned())).collect();
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, body) in script {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                seen.push(head);
                let mut stream = reader.into_inner();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(reply.as_bytes()).unwrap();
            }
            seen
        });
        (address, handle)
    }

    fn source(address: &str) -> VaultSource {
        let mut config = VaultConfig::new(address, VaultAuth::token("tok"));
        config.mounts = vec![KvMount::new("secret", KvVersion::V2)];
        config.retry = RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        };
        config.namespace = Some("team-a".into());
        VaultSource::new(config).unwrap()
    }

    fn read(src: &VaultSource, path: &str) -> Result<String, String> {
        let r = crate::SecretRef::new(path, "password").unwrap();
        src.read(&r)
            .map(|v| v.expose().to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn retries_5xx_then_succeeds() {
        let (address, server) = serve(&[(503, "{}"), (502, "gateway"), (200, KV2)]);
        let src = source(&address);
        assert_eq!(read(&src, "secret/payments"), Ok("hunter2".into()));
        assert_eq!(src.http_requests(), 3);
        let heads = server.join().unwrap();
        assert_eq!(heads.len(), 3);
        for head in &heads {
            let lower = head.to_ascii_lowercase();
            assert!(
                lower.starts_with("get /v1/secret/data/payments http/1.1\r\n"),
                "{head}"
            );
            assert!(lower.contains("x-vault-token: tok\r\n"), "{head}");
            assert!(lower.contains("x-vault-namespace: team-a\r\n"), "{head}");
            assert!(lower.contains("x-vault-request: true\r\n"), "{head}");
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let boom = r#"{"errors":["boom"]}"#;
        let (address, server) = serve(&[(500, boom), (500, boom), (500, boom)]);
        let src = source(&address);
        let expect = format!(
            "secret backend vault at {address} unavailable reading secret \"secret/payments\" \
             after 3 attempts: status 500: boom"
        );
        assert_eq!(read(&src, "secret/payments"), Err(expect));
        assert_eq!(server.join().unwrap().len(), 3);
    }

    #[test]
    fn client_errors_are_not_retried() {
        let check = |status: u16, body: &str, expect: &str| {
            let (address, server) = serve(&[(status, body)]);
            let src = source(&address);
            let expect = expect.replace("{address}", &address);
            assert_eq!(read(&src, "secret/payments"), Err(expect));
            assert_eq!(server.join().unwrap().len(), 1);
            assert_eq!(src.http_requests(), 1);
        };
        check(
            400,
            r#"{"errors":["bad request"]}"#,
            "invalid secret \"secret/payments\": unexpected answer from vault at {address}: status 400: bad request",
        );
        check(
            501,
            "",
            "invalid secret \"secret/payments\": unexpected answer from vault at {address}: status 501",
        );
        check(
            200,
            "not json hunter2",
            "invalid secret \"secret/payments\": vault's answer is not a KV secret",
        );
        check(
            200,
            r#"{"data":{"data":null}}"#,
            "secret \"secret/payments\" not found",
        );
    }

    #[test]
    fn path_segments_are_escaped() {
        let (address, server) = serve(&[(200, KV2)]);
        let src = source(&address);
        assert_eq!(read(&src, "secret/my app/ü?#"), Ok("hunter2".into()));
        let heads = server.join().unwrap();
        assert!(
            heads[0].starts_with("GET /v1/secret/data/my%20app/%C3%BC%3F%23 HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
    }

    #[test]
    fn address_path_prefix_is_kept() {
        let (address, server) = serve(&[(200, KV2)]);
        let src = source(&format!("{address}/vault/"));
        assert_eq!(read(&src, "secret/payments"), Ok("hunter2".into()));
        let heads = server.join().unwrap();
        assert!(
            heads[0].starts_with("GET /vault/v1/secret/data/payments HTTP/1.1\r\n"),
            "{}",
            heads[0]
        );
    }
}
