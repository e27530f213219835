//! Plan bundles: what `flotilla plan --out` writes and what the runtime stages in an object
//! store, one layout for both ([`layout`]):
//!
//! ```text
//! plan.yaml                      the plan (plan::Plan::to_yaml, unchanged contract)
//! objects/sha256/<hex>           each distinct manifest once, named by its digest
//! redactions.json                spans of secret values in the objects (when there are some)
//! clusters/<cluster>.yaml        each cluster's index (plan::ClusterIndex): its releases in
//!                                installation order with their manifests' digests, and the
//!                                digest of the cluster's bundle
//! ```
//!
//! [`write`] puts a bundle into any `object_store::ObjectStore` under a prefix, objects first,
//! then the cluster indexes, then `plan.yaml`, so a reader never sees an index naming a missing
//! object nor a plan naming a missing index. [`write_dir`] stages a bundle in a folder beside
//! its destination (through `object_store`'s local file system store) and renames it into
//! place. [`read_dir`] reads a bundle back, checking every object against its digest;
//! [`export`] writes one cluster's manifests as files. [`accepted`] is the accepted plan a review
//! compares with: a bundle of masked manifests and the real digests.

pub mod accepted;
mod error;
mod export;
pub mod layout;
mod read;
mod write;

pub use crate::error::BundleError;
pub use crate::export::{Exported, export};
pub use crate::read::read_dir;
pub use crate::write::{Staged, Written, stage, write, write_dir};

/// How many objects are written at once.
pub const CONCURRENCY: usize = 48;
