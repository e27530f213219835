//! Secrets for the fleet compiler: the `SecretSource` the compiler reads secrets through, and
//! its backends (Vault/OpenBao over HTTP, a local folder of YAML files).
//!
//! This crate is the compiler's I/O edge for secrets. The compiler core takes a
//! `&dyn SecretSource` as an input and never talks to Vault itself; template functions
//! (`vault`, `vaultYaml`) and `valuesFrom: [{vault: …}]` are built on top of it elsewhere.
//!
//! - [`SecretRef`] (a path and a key) and [`SecretPath`] name what is read.
//! - [`SecretValue`] holds plaintext that never prints itself (`<secret sha256:…>`), is zeroed
//!   on drop and is reached only through [`SecretValue::expose`].
//! - [`SecretSource`] is synchronous and `Send + Sync`; [`ReadOnce`] makes a compile read each
//!   path once, concurrently when prefetched; [`Counting`] counts reads.
//! - [`VaultSource`] (KV v1 and v2, token or AppRole, TLS options, bounded retries) and
//!   [`LocalSource`] (`<root>/<path>.yaml`) are the backends.
//! - [`Taint`] records the plaintexts a compile read and [`Redactor`] masks them in whatever is
//!   printed (`redact`).
//! - [`SecretError`] names the path and key, never a value; [`SecretError::is_remote`] marks the
//!   failures the CLI reports with exit code 3.
//!
//! Invariant: no error, `Debug` or `Display` output of this crate contains secret plaintext.

mod cache;
mod error;
mod local;
pub mod redact;
mod source;
#[cfg(feature = "testing")]
pub mod testing;
mod value;
mod vault;

pub use cache::{Counting, Prefetched, ReadOnce};
pub use error::{ErrorKind, SecretError};
pub use local::LocalSource;
pub use redact::{Redaction, Redactor, Taint};
pub use source::{SecretPath, SecretRef, SecretSource};
pub use value::{Digest, Secret, SecretValue};
pub use vault::{KvMount, KvVersion, RetryConfig, TlsConfig, VaultAuth, VaultConfig, VaultSource};
