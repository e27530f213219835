//! Values that come from outside the fleet repository while a values template renders: the
//! template functions that read them and the per-render [`Scope`] those functions reach
//! through the template engine's extension (`gotemplate::ExecOptions::extension`).
//!
//! - [`vault`]: `{{ vault PATH KEY }}`, `{{ vaultYaml PATH KEY }}` and `valuesFrom`, over the
//!   compile's [`vault::Secrets`] (a `ReadOnce` source and the taint of everything read).
//! - [`plugin`]: `{{ plugin NAME ARGS… }}`, the fleet's WebAssembly plugins.

pub mod plugin;
pub mod vault;

use std::sync::Arc;

use gotemplate::FuncMap;
use gotemplate::funcs::Context;

/// What the functions of one values-template render need: the cluster and service it is
/// rendered for (plugins are sent them), the compile's secrets and a record of what this
/// render read. A fresh scope is made for every render.
#[derive(Debug)]
pub struct Scope {
    pub render: RenderScope,
    pub secrets: vault::SecretScope,
}

/// What a values template is rendered for.
#[derive(Debug, Clone)]
pub struct RenderScope {
    /// The cluster as JSON: the same fields as `.Cluster` (`name`, `provider`, `region`,
    /// `environment`, `tags`, `metadata`, `kubernetes`).
    pub cluster: Arc<serde_json::Value>,
    /// The name of the service whose values are rendered.
    pub service: Arc<str>,
}

impl Scope {
    /// A scope for one render of `render`'s service on its cluster, over the compile's secrets.
    pub fn new(render: RenderScope, secrets: &Arc<vault::Secrets>) -> Scope {
        Scope {
            render,
            secrets: vault::SecretScope::new(Arc::clone(secrets)),
        }
    }

    /// The scope of the render a function is called from, if it has one.
    pub fn of(ctx: &dyn Context) -> Option<&Scope> {
        ctx.extension().and_then(|e| e.downcast_ref::<Scope>())
    }
}

/// Adds the resolver functions (`vault`, `vaultYaml`, `plugin`) to a values templates'
/// function map.
pub fn register(funcs: &mut FuncMap, plugins: Arc<plugin::FleetPlugins>) {
    vault::register(funcs);
    plugin::register(funcs, plugins);
}
