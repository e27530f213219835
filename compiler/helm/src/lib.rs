//! Helm charts rendered byte for byte as `helm template` (Helm 3.17) renders them: chart
//! loading, values coalescing, dependencies, the template engine's built-in objects, schema
//! validation, manifest sorting and output framing.
//!
//! The library does no printing. [`action::run`] takes a chart path and the command line's
//! values and options and returns what `helm template` would print (and the files
//! `--output-dir` would write), or a [`HelmError`] whose [`HelmError::helm_output`] is what
//! Helm prints on failure. For many renders, load a chart once ([`action::load_installable`]),
//! merge values ([`action::merge_user_values`]) and render through a [`RenderCache`], which
//! renders each distinct (chart, values, options) once.
//!
//! Charts from a repository, an OCI registry or a URL are fetched by [`fetch::ChartFetcher`]
//! into a local content-addressed cache; rendering itself never touches the network.

pub mod action;
pub mod cache;
pub mod chart;
pub mod dependencies;
pub mod engine;
pub mod error;
pub mod fetch;
pub mod glob;
pub mod gostr;
pub mod ignore;
pub mod json;
pub mod loader;
pub mod manifest;
pub mod objects;
pub mod postrender;
pub mod registry;
pub mod repo;
pub mod schema;
pub mod semver;
pub mod strvals;
#[cfg(feature = "testing")]
pub mod testing;
pub mod values;

pub use action::{TemplateOptions, TemplateOutput, ValueOptions};
pub use cache::RenderCache;
pub use chart::Chart;
pub use error::HelmError;
