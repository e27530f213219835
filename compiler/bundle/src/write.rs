//! Writing a bundle: into any object store ([`write`]), or as a folder replaced all at once
//! ([`write_dir`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use compiler::Manifests;
use compiler::redact::Redactions;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutOptions, PutPayload};
use plan::{ClusterIndex, Plan};

use crate::{BundleError, CONCURRENCY, layout};

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Distinct manifests (objects).
    pub objects: usize,
    /// Cluster indexes (one per cluster of the plan, also for clusters that run nothing).
    pub clusters: usize,
}

/// A manifest's text as the bytes of a payload, without a copy.
struct Text(Arc<str>);

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// `rel` (a layout path) under `prefix`.
fn at(prefix: &ObjectPath, rel: &str) -> ObjectPath {
    rel.split('/')
        .fold(prefix.clone(), |path, part| path.join(part))
}

/// Checks that every release's manifest is there before anything is written.
fn check(plan: &Plan, manifests: &Manifests) -> Result<(), BundleError> {
    for c in &plan.clusters {
        for r in &c.releases {
            if manifests.get(&r.manifest).is_none() {
                return Err(BundleError::MissingManifest { digest: r.manifest });
            }
        }
    }
    Ok(())
}

/// The distinct manifest digests the releases of `clusters` name, sorted.
fn named<'a>(clusters: impl Iterator<Item = &'a plan::ClusterPlan>) -> Vec<plan::Digest> {
    let mut named: Vec<plan::Digest> = clusters
        .flat_map(|c| c.releases.iter().map(|r| r.manifest))
        .collect();
    named.sort_unstable();
    named.dedup();
    named
}

/// The objects of `named`: each manifest's layout path and its text, without a copy.
fn objects(
    named: &[plan::Digest],
    manifests: &Manifests,
) -> Result<Vec<(String, Bytes)>, BundleError> {
    named
        .iter()
        .map(|digest| match manifests.0.get_key_value(digest) {
            Some((d, text)) => Ok((layout::object(d), Bytes::from_owner(Text(text.clone())))),
            None => Err(BundleError::MissingManifest { digest: *digest }),
        })
        .collect()
}

/// Puts every (layout path, bytes) under `prefix`, up to [`CONCURRENCY`] at once; returns
/// when all are written (or at the first failure).
async fn put_all(
    store: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    items: impl IntoIterator<Item = (String, Bytes)>,
) -> Result<(), BundleError> {
    futures::stream::iter(items)
        .map(|(rel, bytes)| async move {
            let path = at(prefix, &rel);
            store
                .put_opts(&path, PutPayload::from(bytes), PutOptions::default())
                .await
                .map(|_| ())
                .map_err(|source| BundleError::Store {
                    path: path.to_string(),
                    source,
                })
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// Puts the bundle of `plan` under `prefix` in `store`: the objects and `redactions.json`
/// first, then each cluster's index, then `plan.yaml`, each step finished before the next
/// begins, with up to [`CONCURRENCY`] writes in flight. Nothing is written when a manifest the
/// plan names is missing. Objects already there are written again (same bytes).
pub async fn write(
    store: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    plan: &Plan,
    manifests: &Manifests,
    redactions: &Redactions,
) -> Result<Written, BundleError> {
    write_with_text(store, prefix, plan, manifests, redactions, async {
        plan.to_yaml()
    })
    .await
}

/// [`write`], with the plan's text coming from `plan_text` (made elsewhere while the objects
/// are written).
async fn write_with_text(
    store: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    plan: &Plan,
    manifests: &Manifests,
    redactions: &Redactions,
    plan_text: impl Future<Output = String>,
) -> Result<Written, BundleError> {
    check(plan, manifests)?;
    // 1. Objects (only those the plan names), and the spans of secrets in them.
    let named = named(plan.clusters.iter());
    let mut objects = objects(&named, manifests)?;
    let redactions: Redactions = Redactions(
        redactions
            .0
            .iter()
            .filter(|(d, _)| named.binary_search(d).is_ok())
            .map(|(d, spans)| (*d, spans.clone()))
            .collect(),
    );
    if !redactions.is_empty() {
        objects.push((
            layout::REDACTIONS_FILE.to_owned(),
            Bytes::from(redactions.to_json()),
        ));
    }
    put_all(store, prefix, objects).await?;
    // 2. The cluster indexes, made as they are written.
    put_all(
        store,
        prefix,
        plan.clusters.iter().map(|c| {
            let text = ClusterIndex::of(c).to_text();
            (layout::cluster_index(&c.name), Bytes::from(text))
        }),
    )
    .await?;
    // 3. The plan.
    put_all(
        store,
        prefix,
        [(layout::PLAN_FILE.to_owned(), Bytes::from(plan_text.await))],
    )
    .await?;
    Ok(Written {
        objects: named.len(),
        clusters: plan.clusters.len(),
    })
}

/// Stages some clusters of a plan under `prefix` in `store`, as the runtime does when their
/// bundles changed: the distinct objects their releases name first (but those `present` says
/// are already in the store: objects are content-addressed and never removed), then each
/// cluster's index, named by its digest ([`layout::staged_index`]: never replaced, so what a
/// runtime's record names stays what it was), so that no index is ever visible before its
/// objects. `plan.yaml` and
/// `redactions.json` are not written (the runtime keeps the plan elsewhere; staged manifests are
/// read by agents, never printed). Returns each cluster's bundle digest, in the order given,
/// and the objects they name (all of which are in the store once it returns).
pub async fn stage(
    store: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
    clusters: &[&plan::ClusterPlan],
    manifests: &Manifests,
    present: impl Fn(&plan::Digest) -> bool,
) -> Result<Staged, BundleError> {
    let named = named(clusters.iter().copied());
    let missing: Vec<plan::Digest> = named.iter().copied().filter(|d| !present(d)).collect();
    // Every named manifest must exist, written now or not.
    if let Some(digest) = named.iter().find(|d| !manifests.0.contains_key(*d)) {
        return Err(BundleError::MissingManifest { digest: *digest });
    }
    let objects = objects(&missing, manifests)?;
    let written = objects.len();
    put_all(store, prefix, objects).await?;
    let mut digests = Vec::with_capacity(clusters.len());
    let mut indexes = Vec::with_capacity(clusters.len());
    for c in clusters {
        let index = ClusterIndex::of(c);
        let digest = index.digest();
        digests.push(digest);
        indexes.push((
            layout::staged_index(&c.name, &digest),
            Bytes::from(index.to_text()),
        ));
    }
    put_all(store, prefix, indexes).await?;
    Ok(Staged {
        digests,
        objects: named,
        written,
    })
}

/// What [`stage`] did.
#[derive(Debug)]
pub struct Staged {
    /// Each cluster's bundle digest, in the order given.
    pub digests: Vec<plan::Digest>,
    /// The objects the staged clusters name, sorted.
    pub objects: Vec<plan::Digest>,
    /// How many of them were written (the others were present).
    pub written: usize,
}

/// Writes the bundle of `plan` at `out`, replacing the bundle there: it is written (through
/// `object_store`'s local file system store) into a folder beside `out`, then renamed into
/// place, so `out` is the old bundle or the new one, never half of one. A folder that is
/// neither empty nor a bundle is never replaced; nothing is written when a manifest is missing.
pub fn write_dir(
    out: &Path,
    plan: &Plan,
    manifests: &Manifests,
    redactions: &Redactions,
) -> Result<Written, BundleError> {
    write_dir_with(out, plan, manifests, redactions, &[])
}

/// [`write_dir`], with `extra` files (name, contents) at the top of the folder, renamed into
/// place with the bundle (the accepted plan keeps its own records beside its bundle).
pub(crate) fn write_dir_with(
    out: &Path,
    plan: &Plan,
    manifests: &Manifests,
    redactions: &Redactions,
    extra: &[(&str, String)],
) -> Result<Written, BundleError> {
    check(plan, manifests)?;
    if out.exists() && !out.join(layout::PLAN_FILE).is_file() && !is_empty_dir(out) {
        return Err(BundleError::NotABundle {
            path: out.to_path_buf(),
        });
    }
    let parent = parent_of(out);
    std::fs::create_dir_all(&parent).map_err(BundleError::write(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".flotilla-plan-")
        .tempdir_in(&parent)
        .map_err(BundleError::write(&parent))?;
    let store: Arc<dyn ObjectStore> = Arc::new(
        LocalFileSystem::new_with_prefix(staging.path()).map_err(|source| BundleError::Store {
            path: staging.path().display().to_string(),
            source,
        })?,
    );
    // The plan's text (hundreds of megabytes for a large fleet) is made on another thread
    // while the objects and indexes are written.
    let written = std::thread::scope(|scope| {
        let (tx, rx) = futures::channel::oneshot::channel();
        scope.spawn(move || tx.send(plan.to_yaml()));
        let text = async move {
            match rx.await {
                Ok(text) => text,
                Err(_) => plan.to_yaml(),
            }
        };
        block_on(
            out,
            write_with_text(
                &store,
                &ObjectPath::default(),
                plan,
                manifests,
                redactions,
                text,
            ),
        )
    })?;
    for (name, text) in extra {
        let path = staging.path().join(name);
        std::fs::write(&path, text).map_err(BundleError::write(&path))?;
    }
    replace(out, staging)?;
    Ok(written)
}

/// Runs `future` on a runtime of the calling thread; the file system store's blocking work
/// runs on the runtime's blocking threads.
pub(crate) fn block_on<T>(
    out: &Path,
    future: impl Future<Output = Result<T, BundleError>>,
) -> Result<T, BundleError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(BundleError::write(out))?;
    runtime.block_on(future)
}

pub(crate) fn parent_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub(crate) fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// Swaps the staged folder in: the old one moves aside, the new one takes its name, the old
/// one goes.
pub(crate) fn replace(out: &Path, staging: tempfile::TempDir) -> Result<(), BundleError> {
    let parent = parent_of(out);
    let old = tempfile::Builder::new()
        .prefix(".flotilla-old-")
        .tempdir_in(&parent)
        .map_err(BundleError::write(&parent))?;
    let aside = old.path().join("bundle");
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &aside).map_err(BundleError::write(out))?;
    }
    let staged = staging.keep();
    if let Err(source) = std::fs::rename(&staged, out) {
        // Put the old one back; drop the new one.
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
