//! Policies: who may deploy what where (RBAC), and CEL rules over rendered manifests.
