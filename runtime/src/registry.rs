//! The clusters agents may act for. Clusters declared in the fleet's `clusters/` are
//! registered at start, their identity being their name; `POST /v1/clusters` registers more
//! (or changes a declared one's identity mode) and `DELETE` deregisters. Each registration
//! is a record in the store (`registry/<cluster>.json`), written before it is acknowledged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a cluster's agent proves who it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// Only a token whose cluster claim is the cluster's own name.
    #[default]
    Own,
    /// Also the legacy shared role's tokens (their cluster claim is the shared identity),
    /// accepted with a warning, a metric and an audit record until the cluster is moved.
    Shared,
}

impl IdentityMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityMode::Own => "own",
            IdentityMode::Shared => "shared",
        }
    }
}

/// What a registration says of a cluster (the fields of a fleet cluster file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    pub name: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub environment: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl ClusterSpec {
    /// The cluster file the compiler reads for a registered cluster (JSON is YAML).
    pub fn to_cluster_file(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// A cluster's registration (`registry/<cluster>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub cluster: String,
    pub environment: String,
    pub identity: IdentityMode,
    /// Declared in the fleet's `clusters/` (its spec is the fleet's, not this record's).
    pub declared: bool,
    /// Given for a cluster registered through the API (not declared in the fleet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ClusterSpec>,
    /// Unix seconds. Built-in agent tokens issued before are refused (a cluster registered
    /// again does not revive the tokens of its earlier registration).
    pub registered_at: u64,
    /// Who registered it (`user:alice`; `fleet` for a declared cluster).
    pub registered_by: String,
    /// Deregistered: its agent is refused, its Vault role revoked.
    #[serde(default)]
    pub deregistered: bool,
    /// The Vault AppRole role made for it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_role: Option<String>,
}

impl Registration {
    /// The implicit registration of a cluster declared in the fleet.
    pub fn declared(cluster: &str, environment: &str) -> Registration {
        Registration {
            cluster: cluster.to_owned(),
            environment: environment.to_owned(),
            identity: IdentityMode::Own,
            declared: true,
            spec: None,
            registered_at: 0,
            registered_by: "fleet".to_owned(),
            deregistered: false,
            vault_role: None,
        }
    }

    /// Where the record is in the store.
    pub fn path(cluster: &str) -> String {
        format!("registry/{cluster}.json")
    }

    /// Whether a token for `claimed`, issued at `issued_at` by `issuer`, may act for this
    /// cluster; `Some(true)` when only as the legacy shared identity.
    pub fn admits(
        &self,
        claimed: &str,
        issued_at: u64,
        builtin: bool,
        shared: &str,
    ) -> Option<bool> {
        if self.deregistered {
            return None;
        }
        if builtin && issued_at < self.registered_at {
            return None;
        }
        if claimed == self.cluster {
            return Some(false);
        }
        (self.identity == IdentityMode::Shared && !shared.is_empty() && claimed == shared)
            .then_some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_admits_its_own_identity_and_the_shared_one_only_when_shared() {
        let mut r = Registration::declared("a", "dev");
        assert_eq!(r.admits("a", 5, true, "shared"), Some(false));
        assert_eq!(r.admits("b", 5, true, "shared"), None);
        assert_eq!(r.admits("shared", 5, false, "shared"), None);
        r.identity = IdentityMode::Shared;
        assert_eq!(r.admits("shared", 5, false, "shared"), Some(true));
        assert_eq!(r.admits("", 5, false, ""), None);
        r.registered_at = 10;
        assert_eq!(r.admits("a", 5, true, "shared"), None, "issued before");
        assert_eq!(
            r.admits("a", 5, false, "shared"),
            Some(false),
            "not ours to date"
        );
        r.deregistered = true;
        assert_eq!(r.admits("a", 50, true, "shared"), None);
    }

    #[test]
    fn a_spec_becomes_a_cluster_file() {
        let spec = ClusterSpec {
            name: "edge-1".into(),
            provider: "aws".into(),
            region: "eu-west-1".into(),
            environment: "dev".into(),
            tags: [("team".to_owned(), "edge".to_owned())].into(),
            metadata: serde_json::Map::new(),
        };
        let text = spec.to_cluster_file();
        assert!(text.contains("\"name\": \"edge-1\""));
        let back: ClusterSpec = serde_json::from_str(&text).expect("json");
        assert_eq!(back, spec);
    }
}
