//! Benchmarks of a full compile (placeholder until the synthetic fleet generator lands).

fn main() {}
