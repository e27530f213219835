//! The sandboxed WebAssembly value plugins: the host that runs them and the contract they implement.
//!
//! A fleet uses a plugin by placing `plugins/<name>.wasm` (a WebAssembly component of the world
//! `flotilla:plugin/resolver`, see `wit/since_v0.1.0/resolver.wit`) and optionally
//! `plugins/<name>.yaml` (its [`Limits`]) in its repository. Templates call it as
//! `{{ plugin "<name>" arg1 arg2 }}`; the engine hands the call to [`Plugins::call`]:
//!
//! ```no_run
//! use plugins::{HostConfig, PluginHost, Request};
//! let host = PluginHost::new(HostConfig::with_user_cache());
//! let plugins = host.load("fleet/plugins".as_ref())?;
//! let cluster = serde_json::json!({"name": "eu-1", "region": "eu-west-1"});
//! let value = plugins.call("cidr-allocator", &Request {
//!     cluster: &cluster,
//!     service: "api",
//!     args: &[serde_json::json!("10.128.0.0/9"), serde_json::json!(20)],
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Invariants: a plugin sees nothing of the machine (no files, network, environment or
//! arguments; a fixed clock and seeded randomness), so a call's result depends only on the
//! plugin's bytes and the request; every call is bounded in CPU (fuel), wall time (epochs),
//! memory and output size, and every failure comes back as a [`PluginError`] value.

mod author;
mod cache;
mod error;
mod host;
mod limits;
mod runtime;
mod sandbox;
mod v0_1_0;

#[cfg(test)]
mod fixtures;

pub use author::{
    AuthorError, BuildConfig, COMPONENTIZE_PY_VAR, COMPONENTIZE_PY_VERSION, Lang, TestReport,
    ToolSearch, build_plugin, find_componentize_py, new_plugin, test_plugin, test_plugin_as,
    test_plugin_with,
};
pub use cache::{
    DEFAULT_MAX_BYTES as DEFAULT_CACHE_MAX_BYTES, MAX_BYTES_VAR as CACHE_MAX_VAR, parse_size,
};
pub use error::{
    EXCERPT_CHARS, ErrorKind, HostError, LoadError, LoadErrorKind, LoadErrors, Output, PluginError,
};
pub use host::{
    CallReport, CompileNotice, Digest, HostConfig, LoadedFrom, Plugin, PluginHost, PluginInstance,
    Plugins, Request, compile_notice_line,
};
pub use limits::{Limits, LimitsError};
pub use sandbox::SandboxConfig;

/// The contract version this host implements (`package flotilla:plugin@0.1.0`).
pub const CONTRACT_VERSION: &str = "0.1.0";

/// The contract's WIT text, as frozen in `wit/since_v0.1.0/resolver.wit` (scaffolds copy it).
pub const CONTRACT_WIT: &str = include_str!("../wit/since_v0.1.0/resolver.wit");
