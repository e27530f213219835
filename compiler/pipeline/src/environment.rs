//! What every compile of a caller shares: the secret source, the fleet's persistent cache and a
//! plugin host.

use std::path::Path;
use std::sync::Arc;

use compiler::{DiskCache, Options};

use crate::CacheMode;

/// The secret source, the persistent cache (unless [`CacheMode::Off`]) and a plugin host
/// keeping compiled plugins in the user's cache (they never change a result). One per
/// process; `flotilla watch` compiles with the same one again and again.
pub struct Environment {
    disk: Option<DiskCache>,
    secrets: Arc<dyn secrets::SecretSource>,
    plugin_host: plugins::PluginHost,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("disk", &self.disk)
            .field("plugin_host", &self.plugin_host)
            .finish_non_exhaustive()
    }
}

/// Something a caller should tell the user that is not about the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `FLOTILLA_CACHE_MAX` is not a size: the persistent cache was not pruned.
    CacheNotPruned { reason: String },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::CacheNotPruned { reason } => {
                write!(f, "{reason}; the cache was not pruned")
            }
        }
    }
}

impl Environment {
    pub fn new(fleet: &Path, cache: CacheMode, secrets: Arc<dyn secrets::SecretSource>) -> Self {
        Environment {
            disk: (cache == CacheMode::Persistent).then(|| DiskCache::for_fleet(fleet)),
            secrets,
            plugin_host: plugins::PluginHost::new(plugins::HostConfig::with_user_cache()),
        }
    }

    /// With this plugin host (tests share one so plugins compile once).
    pub fn with_plugin_host(mut self, host: plugins::PluginHost) -> Self {
        self.plugin_host = host;
        self
    }

    /// Bounds the persistent cache to `FLOTILLA_CACHE_MAX` (after each compile).
    pub fn prune(&self) -> Option<Notice> {
        let disk = self.disk.as_ref()?;
        match compiler::cache::max_bytes_from_env() {
            Ok(max) => {
                disk.prune(max);
                None
            }
            Err(e) => Some(Notice::CacheNotPruned {
                reason: e.to_string(),
            }),
        }
    }

    /// The compile options of this environment.
    pub fn options(&self) -> Options<'_> {
        Options {
            cache: self.disk.as_ref(),
            secrets: Some(&self.secrets),
            plugin_host: Some(&self.plugin_host),
            ..Options::default()
        }
    }
}
