//! `VaultConfig`: where Vault is, how to log in, TLS, KV mounts and retries; from explicit values
//! or from the `VAULT_*` environment variables the Vault and OpenBao CLIs use.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::error::SecretError;

/// Everything a [`crate::VaultSource`] needs. Build it with [`VaultConfig::new`] and adjust the
/// public fields, or read it from the environment with [`VaultConfig::from_env`].
#[derive(Clone, Debug)]
pub struct VaultConfig {
    /// Server URL, `http(s)://host:port` (optionally with a path prefix). `VAULT_ADDR`.
    pub address: String,
    /// Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`. `VAULT_NAMESPACE`.
    pub namespace: Option<String>,
    /// How to authenticate.
    pub auth: VaultAuth,
    /// TLS verification options.
    pub tls: TlsConfig,
    /// KV mounts whose version is known. Paths under other mounts are looked up once per mount
    /// through `sys/internal/ui/mounts/<path>`, as the Vault CLI does.
    pub mounts: Vec<KvMount>,
    /// Retries of connection failures, timeouts and 5xx answers.
    pub retry: RetryConfig,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Most requests in flight at once during a batch read.
    pub max_concurrency: usize,
}

/// How to authenticate to Vault. `Debug` never shows the credentials.
#[derive(Clone)]
pub enum VaultAuth {
    /// A token, sent as `X-Vault-Token`. `VAULT_TOKEN`.
    Token(Zeroizing<String>),
    /// AppRole login (`POST auth/<mount>/login`) once, on first use; its token is then used for
    /// every read. `VAULT_ROLE_ID` and `VAULT_SECRET_ID`.
    AppRole {
        /// Where the AppRole auth method is mounted, usually `approle`.
        mount: String,
        /// The role's `role_id`.
        role_id: Zeroizing<String>,
        /// A `secret_id` issued for the role.
        secret_id: Zeroizing<String>,
    },
}

impl VaultAuth {
    /// Token authentication.
    pub fn token(token: impl Into<String>) -> VaultAuth {
        VaultAuth::Token(Zeroizing::new(token.into()))
    }

    /// AppRole login at the default mount `approle`.
    pub fn app_role(role_id: impl Into<String>, secret_id: impl Into<String>) -> VaultAuth {
        VaultAuth::AppRole {
            mount: "approle".to_owned(),
            role_id: Zeroizing::new(role_id.into()),
            secret_id: Zeroizing::new(secret_id.into()),
        }
    }

    /// The name of the method, for messages: `token` or `approle`.
    pub fn method(&self) -> &'static str {
        match self {
            VaultAuth::Token(_) => "token",
            VaultAuth::AppRole { .. } => "approle",
        }
    }
}

impl fmt::Debug for VaultAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultAuth::Token(_) => f.write_str("Token(<redacted>)"),
            VaultAuth::AppRole { mount, .. } => f
                .debug_struct("AppRole")
                .field("mount", mount)
                .field("role_id", &"<redacted>")
                .field("secret_id", &"<redacted>")
                .finish(),
        }
    }
}

/// TLS verification. With neither field set, the system's trust store is used.
#[derive(Clone, Debug, Default)]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust instead of the system's. `VAULT_CACERT`.
    pub ca_cert: Option<PathBuf>,
    /// Accept any server certificate. For development servers only. `VAULT_SKIP_VERIFY`.
    pub skip_verify: bool,
}

/// The KV secrets engine version of a mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvVersion {
    /// KV v1: a secret is read at `<mount>/<path>`.
    V1,
    /// KV v2 (versioned): the latest version is read at `<mount>/data/<path>`.
    V2,
}

/// A KV mount and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvMount {
    /// The mount path, e.g. `secret` or `team/kv` (slashes around it are ignored).
    pub path: String,
    /// Its version.
    pub version: KvVersion,
}

impl KvMount {
    /// A mount at `path`.
    pub fn new(path: &str, version: KvVersion) -> KvMount {
        KvMount {
            path: path.trim_matches('/').to_owned(),
            version,
        }
    }
}

/// Bounded retries with exponential backoff: the delay before retry `n` (1-based) is
/// `initial_backoff * 2^(n-1)`, at most `max_backoff`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per request, the first included (1 means no retry). `VAULT_MAX_RETRIES` + 1.
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub initial_backoff: Duration,
    /// Longest delay between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    /// Four attempts, 250 ms then 500 ms then 1 s between them.
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryConfig {
    /// The delay before retry number `retry` (1 is the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

impl VaultConfig {
    /// A configuration with defaults: no namespace, system TLS roots, KV mounts detected,
    /// [`RetryConfig::default`], 30 s timeout, 5 s connect timeout, 16 requests in flight.
    pub fn new(address: impl Into<String>, auth: VaultAuth) -> VaultConfig {
        VaultConfig {
            address: address.into(),
            namespace: None,
            auth,
            tls: TlsConfig::default(),
            mounts: Vec::new(),
            retry: RetryConfig::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_concurrency: 16,
        }
    }

    /// Reads the configuration from the process environment; see [`VaultConfig::from_vars`].
    pub fn from_env() -> Result<VaultConfig, SecretError> {
        VaultConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from variables looked up through `var` (empty values count as
    /// unset, as in the Vault CLI):
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `VAULT_ADDR` | server URL (required) |
    /// | `VAULT_TOKEN` | token; used when set |
    /// | `VAULT_ROLE_ID`, `VAULT_SECRET_ID` | AppRole login when no token is set |
    /// | `VAULT_NAMESPACE` | namespace |
    /// | `VAULT_CACERT` | PEM file of CA certificates to trust |
    /// | `VAULT_SKIP_VERIFY` | `true`/`1`: accept any certificate (development only) |
    /// | `VAULT_MAX_RETRIES` | retries after the first attempt (default 3) |
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<VaultConfig, SecretError> {
        let get = |name: &str| var(name).filter(|v| !v.is_empty());
        let address = get("VAULT_ADDR").ok_or_else(|| {
            SecretError::config("VAULT_ADDR is not set (the URL of the Vault or OpenBao server)")
        })?;
        let auth = match (
            get("VAULT_TOKEN"),
            get("VAULT_ROLE_ID"),
            get("VAULT_SECRET_ID"),
        ) {
            (Some(token), _, _) => VaultAuth::token(token),
            (None, Some(role_id), Some(secret_id)) => VaultAuth::app_role(role_id, secret_id),
            (None, Some(_), None) => {
                return Err(SecretError::config(
                    "VAULT_ROLE_ID is set but VAULT_SECRET_ID is not",
                ));
            }
            (None, None, _) => {
                return Err(SecretError::config(
                    "no Vault credentials: set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID",
                ));
            }
        };
        let mut config = VaultConfig::new(address, auth);
        config.namespace = get("VAULT_NAMESPACE");
        config.tls.ca_cert = get("VAULT_CACERT").map(PathBuf::from);
        if let Some(v) = get("VAULT_SKIP_VERIFY") {
            config.tls.skip_verify = parse_go_bool(&v).ok_or_else(|| {
                SecretError::config(format!("could not parse VAULT_SKIP_VERIFY {v:?}"))
            })?;
        }
        if let Some(v) = get("VAULT_MAX_RETRIES") {
            let retries: u32 = v.trim().parse().map_err(|_| {
                SecretError::config(format!("could not parse VAULT_MAX_RETRIES {v:?}"))
            })?;
            config.retry.max_attempts = retries.saturating_add(1);
        }
        Ok(config)
    }
}

/// Go's `strconv.ParseBool`, which the Vault CLI uses for `VAULT_SKIP_VERIFY`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<VaultConfig, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        VaultConfig::from_vars(|name| vars.get(name).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn env_token() {
        let c = from(&[
            ("VAULT_ADDR", "https://vault.example:8200"),
            ("VAULT_TOKEN", "s.abc"),
            ("VAULT_NAMESPACE", "team"),
            ("VAULT_CACERT", "ca.pem"),
            ("VAULT_SKIP_VERIFY", "0"),
            ("VAULT_MAX_RETRIES", "0"),
        ])
        .unwrap();
        assert_eq!(c.address, "https://vault.example:8200");
        assert_eq!(c.namespace.as_deref(), Some("team"));
        assert_eq!(c.tls.ca_cert, Some(PathBuf::from("ca.pem")));
        assert!(!c.tls.skip_verify);
        assert_eq!(c.retry.max_attempts, 1);
        assert!(matches!(&c.auth, VaultAuth::Token(t) if t.as_str() == "s.abc"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s.abc"), "{dbg}");
    }

    #[test]
    fn env_approle() {
        let c = from(&[
            ("VAULT_ADDR", "http://127.0.0.1:8200"),
            ("VAULT_TOKEN", ""),
            ("VAULT_ROLE_ID", "role-1"),
            ("VAULT_SECRET_ID", "sid-1"),
            ("VAULT_SKIP_VERIFY", "true"),
        ])
        .unwrap();
        assert!(c.tls.skip_verify);
        assert_eq!(c.auth.method(), "approle");
        let dbg = format!("{:?}", c.auth);
        assert_eq!(
            dbg,
            "AppRole { mount: \"approle\", role_id: \"<redacted>\", secret_id: \"<redacted>\" }"
        );
    }

    #[test]
    fn env_errors() {
        let check = |vars: &[(&str, &str)], expect: &str| {
            assert_eq!(from(vars).unwrap_err(), expect, "{vars:?}");
        };
        check(
            &[("VAULT_TOKEN", "t")],
            "secret source configuration: VAULT_ADDR is not set (the URL of the Vault or OpenBao server)",
        );
        check(
            &[("VAULT_ADDR", "http://x")],
            "secret source configuration: no Vault credentials: set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID",
        );
        check(
            &[("VAULT_ADDR", "http://x"), ("VAULT_ROLE_ID", "r")],
            "secret source configuration: VAULT_ROLE_ID is set but VAULT_SECRET_ID is not",
        );
        check(
            &[
                ("VAULT_ADDR", "http://x"),
                ("VAULT_TOKEN", "t"),
                ("VAULT_SKIP_VERIFY", "yes"),
            ],
            "secret source configuration: could not parse VAULT_SKIP_VERIFY \"yes\"",
        );
        check(
            &[
                ("VAULT_ADDR", "http://x"),
                ("VAULT_TOKEN", "t"),
                ("VAULT_MAX_RETRIES", "-1"),
            ],
            "secret source configuration: could not parse VAULT_MAX_RETRIES \"-1\"",
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = RetryConfig {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(700),
        };
        let got: Vec<u128> = (1..=6).map(|n| r.backoff(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 700, 700, 700]);
        assert_eq!(r.backoff(200), Duration::from_millis(700));
    }
}
