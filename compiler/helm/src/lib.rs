//! Helm charts rendered byte for byte as `helm template` (Helm 3.17) renders them: chart
//! loading, values coalescing, dependencies, the template engine's built-in objects, schema
//! validation, manifest sorting and output framing.
//!
//! The library does no printing: [`template::run`] returns the text `helm template` would
//! print, or a [`HelmError`] whose [`HelmError::helm_output`] is what Helm prints on failure.

pub mod action;
pub mod cache;
pub mod chart;
pub mod dependencies;
pub mod engine;
pub mod error;
pub mod glob;
pub mod gostr;
pub mod ignore;
pub mod json;
pub mod loader;
pub mod manifest;
pub mod objects;
pub mod schema;
pub mod semver;
pub mod strvals;
pub mod values;

pub use action::{TemplateOptions, TemplateOutput, ValueOptions};
pub use cache::RenderCache;
pub use chart::Chart;
pub use error::HelmError;
