//! Integration tests of the fleet compiler: fixture fleets with snapshots of their
//! diagnostics, CEL helper tables, hostile selectors, the dependency graph, the example fleet
//! the JSON Schemas, plans (values, charts, bundles, reviews, determinism) and secrets.

mod cases;
mod cel;
mod example;
mod graph;
mod incremental;
mod plan;
mod plugins;
mod remote;
mod rollout;
mod schemas;
mod secrets;
mod support;
