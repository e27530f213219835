//! Values that come from outside the fleet repository while a values template renders: the
//! template functions that read them and the per-render [`Scope`] those functions reach
//! through the template engine's extension (`gotemplate::ExecOptions::extension`).
//!
//! - [`vault`]: `{{ vault PATH KEY }}`, `{{ vaultYaml PATH KEY }}` and `valuesFrom`, over the
//!   compile's [`vault::Secrets`] (a `ReadOnce` source and the taint of everything read).

pub mod vault;

use std::sync::Arc;

use gotemplate::FuncMap;
use gotemplate::funcs::Context;

/// What the functions of one values-template render need: the compile's secrets and a record
/// of what this render read. A fresh scope is made for every render.
#[derive(Debug)]
pub struct Scope {
    pub secrets: vault::SecretScope,
}

impl Scope {
    /// A scope for one render over the compile's secrets.
    pub fn new(secrets: &Arc<vault::Secrets>) -> Scope {
        Scope {
            secrets: vault::SecretScope::new(Arc::clone(secrets)),
        }
    }

    /// The scope of the render a function is called from, if it has one.
    pub fn of(ctx: &dyn Context) -> Option<&Scope> {
        ctx.extension().and_then(|e| e.downcast_ref::<Scope>())
    }
}

/// Adds the resolver functions (`vault`, `vaultYaml`) to a values templates' function map.
pub fn register(funcs: &mut FuncMap) {
    vault::register(funcs);
}
