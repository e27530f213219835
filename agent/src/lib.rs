//! The in-cluster agent: pulls its own cluster's bundle with a per-cluster identity, applies it and reports readiness.
