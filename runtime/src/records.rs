//! The records the controller keeps in its store (JSON, versioned by `apiVersion`).

use plan::Digest;
use serde::{Deserialize, Serialize};

use crate::fleet::VersionFiles;

/// Where a published version came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
    /// Who published it (`user:alice`), as the token said.
    #[serde(default)]
    pub publisher: String,
}

/// What is known of a version without its files (`versions/<service>/<hex>/meta.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionMeta {
    pub service: String,
    pub digest: Digest,
    pub label: String,
    pub provenance: Provenance,
    /// Unix seconds.
    pub published_at: u64,
    /// The chart's name and version, as its service file gives them (for announcements).
    #[serde(default)]
    pub chart: String,
}

/// A version with its files (those deployed somewhere are held in memory).
#[derive(Debug, Clone)]
pub struct Version {
    pub meta: VersionMeta,
    pub files: VersionFiles,
}

/// One deployment of a version to an environment (`deployments/<service>/<env>/<seq>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub service: String,
    pub environment: String,
    pub seq: u64,
    pub version: Digest,
    pub label: String,
    pub principal: String,
    /// `publish` (a first environment), `promote`, `rollback` or `initial` (the fleet as it
    /// stood when the store was empty).
    pub reason: String,
    pub at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
}

/// One mutating request, allowed or not (`audit/<time>-<n>.json`, never rewritten).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Unix milliseconds.
    pub time: u64,
    /// `user:alice`; empty when the request carried no valid token.
    pub principal: String,
    #[serde(default)]
    pub groups: Vec<String>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
    /// `publish`, `deploy`.
    pub action: String,
    /// `service/<name>`, `service/<name>@<env>`.
    pub target: String,
    /// `ok`, `noop`, `unauthenticated`, `denied`, `invalid`, `conflict`, `not-found`, `error`.
    pub result: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A cluster's staged bundle (`clusters/<cluster>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRecord {
    pub cluster: String,
    pub environment: String,
    /// Counts the stagings of a changed bundle, from 1.
    pub generation: u64,
    /// The digest of the staged index (`plan::ClusterIndex::digest`).
    pub digest: Digest,
    pub releases: usize,
    pub staged_at: u64,
    /// The epoch of the shard's lease its writer held (see `shards`).
    #[serde(default)]
    pub epoch: u64,
    /// The digest of the index staged before this one (an agent still applying it may fetch
    /// its objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
    /// The version of each service under a rollout that the bundle runs (what a replica that
    /// does not stage the cluster needs to step the rollout).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub running: std::collections::BTreeMap<String, Digest>,
}
