//! Conformance tests against the Helm corpus (filled in below).
