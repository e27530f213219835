//! The rendered manifests a plan's releases name, by digest.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::Digest;

/// Rendered manifests by digest: each distinct manifest once, however many releases share it.
/// `Debug` shows digests and sizes only: manifests may hold secret values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Manifests(pub BTreeMap<Digest, Arc<str>>);

impl std::fmt::Debug for Manifests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(d, m)| (d.short(), format!("{} bytes", m.len()))),
            )
            .finish()
    }
}

impl Manifests {
    pub fn get(&self, digest: &Digest) -> Option<&str> {
        self.0.get(digest).map(|m| &**m)
    }
}
