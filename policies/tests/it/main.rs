//! Integration tests of the policy engine: decision tables, fixture cases with snapshots of
//! their diagnostics, decisions and violations, the ready-made rules on their fixtures, the
//! example fleet's policies, and the JSON Schemas.

mod cases;
mod decisions;
mod example;
mod rules;
mod schemas;
mod support;
