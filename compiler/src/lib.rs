//! The fleet compiler: from a fleet repository (clusters, service versions, policies) to a
//! deterministic plan.
