//! Plan bundles on disk: `plan.yaml` and every release's manifest at
//! `clusters/<cluster>/<wave>-<release>.yaml`. A bundle is written into a temporary folder
//! beside its destination and renamed into place, so a reader never sees half a plan.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plan::{PLAN_FILE, Plan, PlanError};
use rayon::prelude::*;

use crate::model::Digest;
use crate::redact::{REDACTIONS_FILE, Redactions};
use crate::render::Manifests;

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("refusing to replace {path}: it is not a plan bundle (it has no {PLAN_FILE})")]
    NotABundle { path: PathBuf },
    #[error("{path}: {source}")]
    Plan {
        path: PathBuf,
        #[source]
        source: PlanError,
    },
    #[error("the plan names manifest {digest}, which was not rendered")]
    MissingManifest { digest: Digest },
    #[error("{path} does not match the plan: its digest is {found}, the plan says {expected}")]
    Tampered {
        path: PathBuf,
        expected: Digest,
        found: Digest,
    },
}

fn write_err(path: &Path) -> impl FnOnce(io::Error) -> BundleError + '_ {
    move |source| BundleError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the bundle of `plan` at `out`, replacing the bundle there. Nothing is written when a
/// manifest is missing; `out` is replaced only once the new bundle is complete.
pub fn write(out: &Path, plan: &Plan, manifests: &Manifests) -> Result<(), BundleError> {
    write_with(out, plan, manifests, &Redactions::default())
}

/// [`write`], with the spans of secret values in the manifests (`redactions.json`, written
/// only when there are some), for reviews that print the manifests later.
pub fn write_with(
    out: &Path,
    plan: &Plan,
    manifests: &Manifests,
    redactions: &Redactions,
) -> Result<(), BundleError> {
    // Check before writing anything.
    for c in &plan.clusters {
        for r in &c.releases {
            if manifests.get(&r.manifest).is_none() {
                return Err(BundleError::MissingManifest { digest: r.manifest });
            }
        }
    }
    if out.exists() && !out.join(PLAN_FILE).is_file() && !is_empty_dir(out) {
        return Err(BundleError::NotABundle {
            path: out.to_path_buf(),
        });
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(write_err(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".flotilla-plan-")
        .tempdir_in(&parent)
        .map_err(write_err(&parent))?;
    let root = staging.path();
    let plan_path = root.join(PLAN_FILE);
    std::fs::write(&plan_path, plan.to_yaml()).map_err(write_err(&plan_path))?;
    if !redactions.is_empty() {
        let path = root.join(REDACTIONS_FILE);
        std::fs::write(&path, redactions.to_json()).map_err(write_err(&path))?;
    }
    plan.clusters.par_iter().try_for_each(|c| {
        if c.releases.is_empty() {
            return Ok(());
        }
        let dir = root.join("clusters").join(&*c.name);
        std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
        for r in &c.releases {
            let path = root.join(r.manifest_path(&c.name));
            let text = manifests.get(&r.manifest).unwrap_or_default();
            std::fs::write(&path, text).map_err(write_err(&path))?;
        }
        Ok(())
    })?;
    // Swap: the old bundle moves aside, the new one takes its name, the old one goes.
    let old = tempfile::Builder::new()
        .prefix(".flotilla-old-")
        .tempdir_in(&parent)
        .map_err(write_err(&parent))?;
    let aside = old.path().join("bundle");
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &aside).map_err(write_err(out))?;
    }
    let staged = staging.keep();
    if let Err(source) = std::fs::rename(&staged, out) {
        // Put the old bundle back; drop the new one.
        if had_old {
            let _ = std::fs::rename(&aside, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(BundleError::Write {
            path: out.to_path_buf(),
            source,
        });
    }
    drop(old);
    Ok(())
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// Reads a bundle, checking every manifest against the digest the plan gives it.
pub fn read(dir: &Path) -> Result<(Plan, Manifests), BundleError> {
    let plan_path = dir.join(PLAN_FILE);
    let text = std::fs::read_to_string(&plan_path).map_err(|source| BundleError::Read {
        path: plan_path.clone(),
        source,
    })?;
    let plan = Plan::from_yaml(&text).map_err(|source| BundleError::Plan {
        path: plan_path,
        source,
    })?;
    let mut manifests = Manifests::default();
    for c in &plan.clusters {
        for r in &c.releases {
            if manifests.0.contains_key(&r.manifest) {
                continue;
            }
            let path = dir.join(r.manifest_path(&c.name));
            let text = std::fs::read_to_string(&path).map_err(|source| BundleError::Read {
                path: path.clone(),
                source,
            })?;
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
    Ok((plan, manifests))
}

/// The secret spans stored with a bundle (empty when it has none or the file is not one).
pub fn read_redactions(dir: &Path) -> Redactions {
    std::fs::read_to_string(dir.join(REDACTIONS_FILE))
        .ok()
        .and_then(|text| Redactions::from_json(&text))
        .unwrap_or_default()
}
