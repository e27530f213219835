//! Content addresses of service versions: a service is identified by the sha256 of its
//! canonical spec and values template (and, once charts are loaded, of its chart).

use crate::model::{Digest, ServiceSpec};
use serde::Serialize;

/// The content address of one service version: `sha256:<hex>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ServiceDigest(pub Digest);

impl std::fmt::Display for ServiceDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What is hashed: a versioned envelope, so that changing the encoding changes every digest
/// on purpose rather than by accident.
#[derive(Serialize)]
struct Canonical<'a> {
    kind: &'static str,
    spec: &'a ServiceSpec,
    /// The digest of the chart's files. `None` until the chart loader computes it: the hook
    /// for it is the `chart` argument of [`service_digest`].
    chart: Option<&'a Digest>,
}

/// The digest of a service version. `chart` is the digest of its loaded chart (its files),
/// when known; a repository chart is otherwise pinned by URL, name and version in the spec.
pub fn service_digest(spec: &ServiceSpec, chart: Option<&Digest>) -> ServiceDigest {
    let canonical = Canonical {
        kind: "flotilla.service/v1",
        spec,
        chart,
    };
    // Struct fields serialize in declaration order and maps are sorted: the encoding is
    // canonical. Serializing plain data to a string cannot fail.
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    ServiceDigest(sha256(&bytes))
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::of(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
