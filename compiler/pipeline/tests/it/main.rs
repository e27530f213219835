//! Integration tests of the pipeline: runs on small fleets on disk (`run`), and the policies
//! checked against loaded and compiled fleets: decision tables, fixture cases with snapshots of
//! their diagnostics, decisions and violations, and the example fleet's policies.

mod cases;
mod decisions;
mod example;
mod run;
mod support;
