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
