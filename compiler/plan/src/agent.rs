//! The agent's contract with the server (`/v1/clusters/{cluster}/…`, JSON): the bundle an
//! agent pulls and the status it reports. Both sides use these types; the agent needs nothing
//! else of the plan.
//!
//! Digests are written `sha256:<hex>`, as in `plan.yaml`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{ClusterIndex, Digest, IndexEntry};

/// The kind of a bundle answer.
pub const BUNDLE_KIND: &str = "ClusterBundle";
/// The kind of a status report.
pub const STATUS_KIND: &str = "ClusterStatus";

/// A cluster's current bundle (`GET /v1/clusters/{cluster}/bundle`): its index, with the
/// generation the server staged it as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub api_version: String,
    pub kind: String,
    pub cluster: Arc<str>,
    /// Counts the stagings of this cluster's bundle, from 1.
    pub generation: u64,
    /// The bundle's digest ([`ClusterIndex::digest`]): also the answer's `ETag`.
    pub digest: Digest,
    /// In installation order: by wave, then service.
    pub releases: Vec<IndexEntry>,
}

impl Bundle {
    /// The answer for `index`, staged as `generation`.
    pub fn new(index: ClusterIndex, generation: u64) -> Bundle {
        Bundle {
            api_version: crate::API_VERSION.to_owned(),
            kind: BUNDLE_KIND.to_owned(),
            digest: index.digest(),
            cluster: index.cluster,
            generation,
            releases: index.releases,
        }
    }

    /// The index this bundle lists.
    pub fn index(&self) -> ClusterIndex {
        ClusterIndex {
            cluster: self.cluster.clone(),
            releases: self.releases.clone(),
        }
    }

    /// Whether `digest` is the digest of what the bundle lists (an agent applies nothing
    /// else).
    pub fn is_sound(&self) -> bool {
        self.index().digest() == self.digest
    }
}

/// Where a release is on its cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// In the bundle, not yet applied.
    Staged,
    /// Being applied.
    Applying,
    /// Applied; some object is not ready yet.
    Progressing,
    /// Applied, and every object is ready.
    Ready,
    /// The apply failed, or an object failed (a crash loop, a failed Job, …).
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Staged => "Staged",
            Phase::Applying => "Applying",
            Phase::Progressing => "Progressing",
            Phase::Ready => "Ready",
            Phase::Failed => "Failed",
        }
    }
}

/// What an agent reports (`POST /v1/clusters/{cluster}/status`); also its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub api_version: String,
    pub kind: String,
    /// The generation of the bundle the agent applied last (0: none yet).
    pub generation: u64,
    /// That bundle's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The applier (`kube`, `dir`, `sim`).
    #[serde(default)]
    pub applier: String,
    /// The agent's own error, if its last attempt failed before any release (e.g. the
    /// bundle could not be fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub releases: Vec<ReleaseStatus>,
}

impl StatusReport {
    pub fn new(applier: &str) -> StatusReport {
        StatusReport {
            api_version: crate::API_VERSION.to_owned(),
            kind: STATUS_KIND.to_owned(),
            generation: 0,
            digest: None,
            applier: applier.to_owned(),
            error: None,
            releases: Vec::new(),
        }
    }
}

/// One release's state on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseStatus {
    pub release: Arc<str>,
    pub service: Arc<str>,
    pub phase: Phase,
    /// A short machine-readable cause (`CrashLoopBackOff`, `ApplyRejected`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The manifest the phase is about.
    pub manifest: Digest,
    /// The bundle generation this release was applied from.
    pub applied_generation: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectStatus>,
}

impl ReleaseStatus {
    /// The status of `entry`'s release in `phase`, applied from `applied_generation`, with no
    /// reason, message or objects yet.
    pub fn new(entry: &IndexEntry, phase: Phase, applied_generation: u64) -> ReleaseStatus {
        ReleaseStatus {
            release: entry.release.clone(),
            service: entry.service.clone(),
            phase,
            reason: None,
            message: String::new(),
            manifest: entry.manifest,
            applied_generation,
            objects: Vec::new(),
        }
    }
}

/// One object of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(release: &str, manifest: &[u8]) -> IndexEntry {
        IndexEntry {
            release: release.into(),
            service: release.into(),
            wave: 0,
            namespace: "default".into(),
            manifest: Digest::of(manifest),
        }
    }

    #[test]
    fn a_bundle_round_trips_and_is_sound_only_when_its_digest_matches() {
        let index = ClusterIndex {
            cluster: "a".into(),
            releases: vec![entry("api", b"kind: A\n"), entry("web", b"kind: B\n")],
        };
        let bundle = Bundle::new(index.clone(), 3);
        assert_eq!(bundle.digest, index.digest());
        let text = serde_json::to_string(&bundle).expect("json");
        assert!(text.contains(&format!("\"digest\":\"{}\"", index.digest())));
        let back: Bundle = serde_json::from_str(&text).expect("read back");
        assert_eq!(back, bundle);
        assert!(back.is_sound());
        let mut tampered = back;
        tampered.releases[1].manifest = Digest::of(b"kind: Secret\n");
        assert!(!tampered.is_sound());
    }
}
