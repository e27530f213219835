//! Why a bundle could not be written, read or exported.

use std::io;
use std::path::PathBuf;

use plan::{Digest, IndexError, PLAN_FILE, PlanError};

/// Why a bundle could not be written, read or exported.
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
    #[error("cannot store {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("refusing to replace {path}: it is not a plan bundle (it has no {PLAN_FILE})")]
    NotABundle { path: PathBuf },
    #[error("{path} is not a plan bundle: it has no {PLAN_FILE}")]
    NoBundle { path: PathBuf },
    #[error(
        "refusing to replace {path}: it holds files other than an exported cluster's manifests"
    )]
    NotAnExport { path: PathBuf },
    #[error("{path}: {source}")]
    Plan {
        path: PathBuf,
        #[source]
        source: PlanError,
    },
    #[error("{path}: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: IndexError,
    },
    #[error("{path} does not match the plan's releases of cluster `{cluster}`")]
    IndexMismatch { path: PathBuf, cluster: String },
    #[error("the plan names manifest {digest}, which was not rendered")]
    MissingManifest { digest: Digest },
    #[error("{path} does not match the plan: its digest is {found}, the plan says {expected}")]
    Tampered {
        path: PathBuf,
        expected: Digest,
        found: Digest,
    },
    #[error("the bundle has no cluster `{cluster}`{}", did_you_mean(.suggestion.as_deref()))]
    UnknownCluster {
        cluster: String,
        suggestion: Option<String>,
    },
}

impl BundleError {
    pub(crate) fn read(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> BundleError {
        let path = path.into();
        move |source| BundleError::Read { path, source }
    }

    pub(crate) fn write(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> BundleError {
        let path = path.into();
        move |source| BundleError::Write { path, source }
    }
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(": did you mean `{s}`?"))
}
