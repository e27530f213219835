//! The runtime: stages each cluster's manifests of a plan in an object store and follows deployments until their workloads are ready.
