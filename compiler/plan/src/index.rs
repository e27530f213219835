//! A cluster's index in a bundle (`clusters/<name>.yaml`): the releases the cluster runs, in
//! installation order, each naming its manifest by digest (the object at
//! `objects/sha256/<hex>`), and the digest of the cluster's bundle.
//!
//! The index is versioned (`apiVersion: flotilla.dev/v1alpha1`, `kind: ClusterIndex`) and its
//! text is canonical ([`ClusterIndex::to_text`]). The cluster's bundle digest
//! ([`ClusterIndex::digest`]) is the SHA-256 of that canonical text without its `digest:`
//! line: it changes exactly when a release, its order, wave, namespace or manifest changes.
//! An agent reads the index of its own cluster and nothing else of the plan.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::yaml::scalar;
use crate::{API_VERSION, ClusterPlan, Digest};

/// The kind of a cluster index document.
pub const INDEX_KIND: &str = "ClusterIndex";

/// One cluster's releases in installation order, with their manifests' digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIndex {
    pub cluster: Arc<str>,
    /// By wave, then service (the plan's order).
    pub releases: Vec<IndexEntry>,
}

/// One release of a cluster index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexEntry {
    /// The Helm release name.
    pub release: Arc<str>,
    pub service: Arc<str>,
    pub wave: u32,
    pub namespace: Arc<str>,
    /// The digest of the rendered manifest, the name of its object.
    pub manifest: Digest,
}

/// Why an index could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("not a cluster index: {0}")]
    Syntax(String),
    #[error(
        "unsupported cluster index {found}: this version of flotilla reads {API_VERSION} {INDEX_KIND}"
    )]
    Version { found: String },
    #[error("invalid cluster index: {0}")]
    Invalid(String),
}

impl ClusterIndex {
    /// The index of one cluster of a plan.
    pub fn of(cluster: &ClusterPlan) -> ClusterIndex {
        ClusterIndex {
            cluster: cluster.name.clone(),
            releases: cluster
                .releases
                .iter()
                .map(|r| IndexEntry {
                    release: r.name.clone(),
                    service: r.service.clone(),
                    wave: r.wave,
                    namespace: r.namespace.clone(),
                    manifest: r.manifest,
                })
                .collect(),
        }
    }

    /// The digest of the cluster's bundle: SHA-256 over the canonical text without its
    /// `digest:` line.
    pub fn digest(&self) -> Digest {
        let (head, releases) = self.parts();
        let mut text = head;
        text.push_str(&releases);
        Digest::of(text.as_bytes())
    }

    /// The canonical text: `apiVersion`, `kind`, `cluster`, `digest`, then `releases` (each
    /// with `release`, `service`, `wave`, `namespace`, `manifest`), block style.
    pub fn to_text(&self) -> String {
        let (mut head, releases) = self.parts();
        let digest = {
            let mut all = String::with_capacity(head.len() + releases.len());
            all.push_str(&head);
            all.push_str(&releases);
            Digest::of(all.as_bytes())
        };
        let _ = writeln!(head, "digest: {digest}");
        head.push_str(&releases);
        head
    }

    /// The text before the digest line, and the text after it.
    fn parts(&self) -> (String, String) {
        let mut head = String::with_capacity(128);
        head.push_str("apiVersion: ");
        scalar(&mut head, API_VERSION);
        head.push_str("\nkind: ");
        scalar(&mut head, INDEX_KIND);
        head.push_str("\ncluster: ");
        scalar(&mut head, &self.cluster);
        head.push('\n');
        let mut out = String::with_capacity(16 + self.releases.len() * 200);
        if self.releases.is_empty() {
            out.push_str("releases: []\n");
        } else {
            out.push_str("releases:\n");
        }
        for r in &self.releases {
            out.push_str("  - release: ");
            scalar(&mut out, &r.release);
            out.push_str("\n    service: ");
            scalar(&mut out, &r.service);
            let _ = write!(out, "\n    wave: {}", r.wave);
            out.push_str("\n    namespace: ");
            scalar(&mut out, &r.namespace);
            let _ = writeln!(out, "\n    manifest: {}", r.manifest);
        }
        (head, out)
    }

    /// Reads an index (canonical or any YAML style), refusing other versions, an index whose
    /// `digest` is not the digest of what it lists, and releases out of installation order.
    pub fn from_text(text: &str) -> Result<ClusterIndex, IndexError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Head {
            api_version: Option<String>,
            kind: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Doc {
            #[allow(dead_code)]
            api_version: String,
            #[allow(dead_code)]
            kind: String,
            cluster: Arc<str>,
            digest: Digest,
            releases: Vec<IndexEntry>,
        }
        let head: Head =
            serde_saphyr::from_str(text).map_err(|e| IndexError::Syntax(e.to_string()))?;
        let (api, kind) = (
            head.api_version.unwrap_or_default(),
            head.kind.unwrap_or_default(),
        );
        if api != API_VERSION || kind != INDEX_KIND {
            return Err(IndexError::Version {
                found: format!("{api} {kind}").trim().to_owned(),
            });
        }
        let doc: Doc =
            serde_saphyr::from_str(text).map_err(|e| IndexError::Syntax(e.to_string()))?;
        let index = ClusterIndex {
            cluster: doc.cluster,
            releases: doc.releases,
        };
        for pair in index.releases.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if (a.wave, &a.service) >= (b.wave, &b.service) {
                return Err(IndexError::Invalid(format!(
                    "the releases of cluster `{}` are not ordered by wave and service: `{}` comes before `{}`",
                    index.cluster, a.service, b.service
                )));
            }
        }
        let found = index.digest();
        if found != doc.digest {
            return Err(IndexError::Invalid(format!(
                "cluster `{}` says its digest is {}, but what it lists has digest {found}",
                index.cluster, doc.digest
            )));
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChartPin, Release};

    fn release(service: &str, wave: u32, manifest: &[u8]) -> Release {
        Release {
            service: service.into(),
            name: format!("{service}-rel").into(),
            namespace: "ns".into(),
            wave,
            version: Digest::of(service.as_bytes()),
            chart: Arc::new(ChartPin {
                name: "c".into(),
                version: "1.0.0".into(),
                digest: Digest::of(b"chart"),
            }),
            values: Digest::of(b"values"),
            manifest: Digest::of(manifest),
        }
    }

    fn cluster() -> ClusterPlan {
        ClusterPlan {
            name: "prod-1".into(),
            releases: vec![release("base", 0, b"a"), release("app", 1, b"b")],
        }
    }

    #[test]
    fn the_canonical_text() {
        let index = ClusterIndex::of(&cluster());
        let text = index.to_text();
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let body = format!(
            "releases:\n  - release: base-rel\n    service: base\n    wave: 0\n    namespace: ns\n    manifest: {a}\n  - release: app-rel\n    service: app\n    wave: 1\n    namespace: ns\n    manifest: {b}\n"
        );
        let head = "apiVersion: flotilla.dev/v1alpha1\nkind: ClusterIndex\ncluster: prod-1\n";
        let digest = Digest::of(format!("{head}{body}").as_bytes());
        assert_eq!(text, format!("{head}digest: {digest}\n{body}"));
        assert_eq!(index.digest(), digest);
        assert_eq!(ClusterIndex::from_text(&text).ok(), Some(index));
    }

    #[test]
    fn an_empty_cluster_round_trips() {
        let index = ClusterIndex {
            cluster: "idle".into(),
            releases: Vec::new(),
        };
        let text = index.to_text();
        assert!(text.ends_with("releases: []\n"), "{text}");
        assert_eq!(ClusterIndex::from_text(&text).ok(), Some(index));
    }

    #[test]
    fn the_digest_moves_with_any_release_field() {
        let base = ClusterIndex::of(&cluster());
        let mut changed = Vec::new();
        for f in 0..4 {
            let mut other = base.clone();
            let r = &mut other.releases[1];
            match f {
                0 => r.release = "renamed".into(),
                1 => r.wave = 2,
                2 => r.namespace = "other".into(),
                _ => r.manifest = Digest::of(b"c"),
            }
            changed.push(other.digest());
        }
        for d in &changed {
            assert_ne!(*d, base.digest());
        }
        let mut reordered = base.clone();
        reordered.releases.swap(0, 1);
        assert_ne!(reordered.digest(), base.digest());
    }

    #[test]
    fn bad_indexes_are_refused() {
        let check = |text: &str, expect: &str| {
            let got = ClusterIndex::from_text(text)
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, Err(expect.to_owned()), "{text}");
        };
        check(
            "apiVersion: flotilla.dev/v2\nkind: ClusterIndex\n",
            "unsupported cluster index flotilla.dev/v2 ClusterIndex: this version of flotilla reads flotilla.dev/v1alpha1 ClusterIndex",
        );
        check(
            "apiVersion: flotilla.dev/v1alpha1\nkind: Plan\nclusters: []\n",
            "unsupported cluster index flotilla.dev/v1alpha1 Plan: this version of flotilla reads flotilla.dev/v1alpha1 ClusterIndex",
        );
        // A manifest digest edited without the bundle digest.
        let text = ClusterIndex::of(&cluster()).to_text();
        let edited = text.replace(&Digest::of(b"b").to_string(), &Digest::of(b"x").to_string());
        let got = ClusterIndex::from_text(&edited).map_err(|e| e.to_string());
        assert!(
            got.as_ref().is_err_and(|e| e
                .starts_with("invalid cluster index: cluster `prod-1` says its digest is sha256:")),
            "{got:?}"
        );
        // Releases out of order.
        let mut c = cluster();
        c.releases.reverse();
        let got =
            ClusterIndex::from_text(&ClusterIndex::of(&c).to_text()).map_err(|e| e.to_string());
        assert!(got.is_err_and(|e| e.contains("not ordered by wave")));
        // An unknown field.
        let got =
            ClusterIndex::from_text(&text.replace("    wave: 0\n", "    wave: 0\n    extra: 1\n"));
        assert!(matches!(got, Err(IndexError::Syntax(_))));
    }
}
