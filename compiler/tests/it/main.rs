//! Integration tests of the fleet compiler: fixture fleets with snapshots of their
//! diagnostics, CEL helper tables, hostile selectors, the dependency graph, the example fleet
//! and the JSON Schemas.

mod cases;
mod cel;
mod example;
mod graph;
mod schemas;
mod support;
