//! What values templates reach beyond `.Cluster` and `.Service`: functions that resolve values
//! outside the template (the fleet's WebAssembly plugins), and the scope a render runs in.

pub mod plugin;

use std::sync::Arc;

/// What a values template is rendered for. The render hands it to the template engine as the
/// execution's extension (`gotemplate::ExecOptions::extension`); functions such as `plugin`
/// reach it through `Context::extension` and downcast it.
#[derive(Debug, Clone)]
pub struct RenderScope {
    /// The cluster as JSON: the same fields as `.Cluster` (`name`, `provider`, `region`,
    /// `environment`, `tags`, `metadata`).
    pub cluster: Arc<serde_json::Value>,
    /// The name of the service whose values are rendered.
    pub service: Arc<str>,
}
