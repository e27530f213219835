//! Integration tests of the policy engine: the ready-made rules on their fixtures and the JSON
//! Schemas. Tests that need a loaded or compiled fleet (decision tables, fixture cases, the
//! example fleet's policies) are the pipeline crate's.

mod rules;
mod schemas;
mod support;
