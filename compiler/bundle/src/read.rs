//! Reading a bundle folder back, every object checked against its digest.

use std::path::Path;
use std::sync::Arc;

use compiler::Manifests;
use compiler::redact::Redactions;
use plan::{ClusterIndex, Digest, Plan};
use rayon::prelude::*;

use crate::{BundleError, layout};

/// Reads the bundle at `dir`: its plan, the manifests the plan names (each checked against
/// its digest), and the spans of secrets stored with it (none when it has no
/// `redactions.json`, or one that is not readable: a reviewer then masks with what it knows).
/// Each cluster's index must be the one the plan gives.
///
/// A bundle of the earlier layout (manifests at `clusters/<cluster>/<wave>-<release>.yaml`, no
/// `objects/`) is read too, so that an accepted plan written before still reviews.
pub fn read_dir(dir: &Path) -> Result<(Plan, Manifests, Redactions), BundleError> {
    let plan_path = dir.join(layout::PLAN_FILE);
    let text = std::fs::read_to_string(&plan_path).map_err(BundleError::read(&plan_path))?;
    let plan = Plan::from_yaml(&text).map_err(|source| BundleError::Plan {
        path: plan_path,
        source,
    })?;
    drop(text);
    let objects = dir.join(layout::OBJECTS);
    let manifests = if objects.is_dir() || plan.release_count() == 0 {
        let manifests = read_objects(dir, &plan)?;
        check_indexes(dir, &plan)?;
        manifests
    } else {
        read_earlier_layout(dir, &plan)?
    };
    let redactions = std::fs::read_to_string(dir.join(layout::REDACTIONS_FILE))
        .ok()
        .and_then(|text| Redactions::from_json(&text))
        .unwrap_or_default();
    Ok((plan, manifests, redactions))
}

/// Reads an object and checks it against its name.
pub(crate) fn read_object(dir: &Path, digest: &Digest) -> Result<Arc<str>, BundleError> {
    let path = dir.join(layout::object(digest));
    let text = std::fs::read_to_string(&path).map_err(BundleError::read(&path))?;
    let found = Digest::of(text.as_bytes());
    if found != *digest {
        return Err(BundleError::Tampered {
            path,
            expected: *digest,
            found,
        });
    }
    Ok(Arc::from(text))
}

fn read_objects(dir: &Path, plan: &Plan) -> Result<Manifests, BundleError> {
    let mut named: Vec<Digest> = plan
        .clusters
        .iter()
        .flat_map(|c| c.releases.iter().map(|r| r.manifest))
        .collect();
    named.sort_unstable();
    named.dedup();
    let texts = named
        .par_iter()
        .map(|d| read_object(dir, d).map(|text| (*d, text)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Manifests(texts.into_iter().collect()))
}

/// Each cluster's index is, byte for byte, the one its part of the plan gives.
fn check_indexes(dir: &Path, plan: &Plan) -> Result<(), BundleError> {
    plan.clusters.par_iter().try_for_each(|c| {
        let path = dir.join(layout::cluster_index(&c.name));
        let text = std::fs::read(&path).map_err(BundleError::read(&path))?;
        if text != ClusterIndex::of(c).to_text().as_bytes() {
            return Err(BundleError::IndexMismatch {
                path,
                cluster: c.name.to_string(),
            });
        }
        Ok(())
    })
}

fn read_earlier_layout(dir: &Path, plan: &Plan) -> Result<Manifests, BundleError> {
    let mut manifests = Manifests::default();
    for c in &plan.clusters {
        for r in &c.releases {
            if manifests.0.contains_key(&r.manifest) {
                continue;
            }
            let path = dir.join(r.manifest_path(&c.name));
            let text = std::fs::read_to_string(&path).map_err(BundleError::read(&path))?;
            let found = Digest::of(text.as_bytes());
            if found != r.manifest {
                return Err(BundleError::Tampered {
                    path,
                    expected: r.manifest,
                    found,
                });
            }
            manifests.0.insert(found, Arc::from(text));
        }
    }
    Ok(manifests)
}
