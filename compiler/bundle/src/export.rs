//! One cluster's manifests as files (`<wave>-<release>.yaml`), for people who compare folders
//! or hand a cluster over to a GitOps tool.

use std::path::Path;

use plan::{ClusterIndex, Digest};

use crate::write::{is_empty_dir, parent_of, replace};
use crate::{BundleError, layout};

/// What was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// How many manifests (one per release).
    pub releases: usize,
    /// The digest of the cluster's bundle (its index's).
    pub digest: Digest,
}

/// Writes the manifests of `cluster`'s releases in the bundle at `bundle_dir` into `out_dir`,
/// one file per release named `<wave>-<release>.yaml` (a listing shows the installation
/// order), each checked against its digest. The manifests are the ones agents apply: secret
/// values are in them. `out_dir` is replaced all at once; a folder holding anything but an
/// earlier export is never replaced.
pub fn export(bundle_dir: &Path, cluster: &str, out_dir: &Path) -> Result<Exported, BundleError> {
    if !bundle_dir.join(layout::PLAN_FILE).is_file() {
        return Err(BundleError::NoBundle {
            path: bundle_dir.to_path_buf(),
        });
    }
    let path = bundle_dir.join(layout::cluster_index(cluster));
    let valid_name = !cluster.is_empty() && !cluster.contains(['/', '\\']) && cluster != "..";
    if !valid_name || !path.is_file() {
        return Err(BundleError::UnknownCluster {
            cluster: cluster.to_owned(),
            suggestion: suggestion(bundle_dir, cluster),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(BundleError::read(&path))?;
    let index = ClusterIndex::from_text(&text).map_err(|source| BundleError::Index {
        path: path.clone(),
        source,
    })?;
    if *index.cluster != *cluster {
        return Err(BundleError::IndexMismatch {
            path,
            cluster: cluster.to_owned(),
        });
    }
    if out_dir.exists() && !is_empty_dir(out_dir) && !is_export(out_dir) {
        return Err(BundleError::NotAnExport {
            path: out_dir.to_path_buf(),
        });
    }
    let parent = parent_of(out_dir);
    std::fs::create_dir_all(&parent).map_err(BundleError::write(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".flotilla-export-")
        .tempdir_in(&parent)
        .map_err(BundleError::write(&parent))?;
    for r in &index.releases {
        let text = crate::read::read_object(bundle_dir, &r.manifest)?;
        let file = staging
            .path()
            .join(format!("{:02}-{}.yaml", r.wave, r.release));
        std::fs::write(&file, text.as_bytes()).map_err(BundleError::write(&file))?;
    }
    replace(out_dir, staging)?;
    Ok(Exported {
        releases: index.releases.len(),
        digest: index.digest(),
    })
}

/// The bundle's cluster closest to `cluster`.
fn suggestion(bundle_dir: &Path, cluster: &str) -> Option<String> {
    let names: Vec<String> = std::fs::read_dir(bundle_dir.join(layout::CLUSTERS))
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".yaml")
                .map(str::to_owned)
        })
        .collect();
    syntax::diag::suggest(cluster, names.iter().map(String::as_str)).map(str::to_owned)
}

/// Whether every entry of `dir` is a file named as an export names them.
fn is_export(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        let named = name
            .strip_suffix(".yaml")
            .and_then(|n| n.split_once('-'))
            .is_some_and(|(wave, release)| {
                !wave.is_empty() && wave.bytes().all(|b| b.is_ascii_digit()) && !release.is_empty()
            });
        is_file && named
    })
}
