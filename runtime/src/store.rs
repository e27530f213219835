//! The controller's store: the source of truth (versions, deployments, clusters' staged
//! generations, audit records, the issuer's key) and the staging area agents read, in one
//! `object_store` under a prefix. A local folder by default, `s3://bucket/prefix` in
//! production (`gs://` by the same configuration path).
//!
//! Layout (under the prefix):
//!
//! ```text
//! versions/<service>/<hex>.json            a published version: files, label, provenance
//! labels/<service>/<label>                 the digest a label names (created once, never moved)
//! deployments/<service>/<env>/<seq>.json   each deployment, numbered; the highest is current
//! audit/<time>-<seq>.json                  one record per mutating request, never rewritten
//! clusters/<cluster>.json                  a cluster's staged generation and bundle digest
//! leases/shard-<k>.json                    which replica stages shard k's clusters (epoch)
//! replicas/<id>.json                       each replica's heartbeat
//! private/issuer.pk8                       the built-in issuer's Ed25519 key (PKCS#8)
//! initialized                              the first state (the fleet as it stood) is complete
//! staging/objects/sha256/<hex>             staged manifests (bundle layout)
//! staging/indexes/<cluster>/<hex>.yaml     each cluster's indexes (plan::ClusterIndex), by digest
//! ```
//!
//! Writes that must not clobber (a label, a deployment number, an audit record, the key) are
//! create-only ([`Store::create`]): two controllers racing on one store cannot both win.
//! Writes that replace a known version (a lease, a cluster's record) are conditional
//! ([`Store::put_if`]): S3's `If-Match`, GCS's generation, and on a local folder a compare and
//! rename under a lock file, so a writer that lost its lease cannot overwrite its successor.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload};

/// Why the store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store URL `{url}` is not supported: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot create the store folder {path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store: cannot {op} {path}: {source}")]
    Op {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("store: a conditional write to {path} waited too long for the folder's lock")]
    Locked { path: String },
    #[error("store: {path} is not valid: {source}")]
    Corrupt {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Counts of store operations and failures (for `/metrics`).
#[derive(Debug, Default)]
pub struct StoreStats {
    pub ops: AtomicU64,
    pub errors: AtomicU64,
}

/// What a conditional write ([`Store::put_if`]) expects to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Nothing: the write creates the object.
    Absent,
    /// The object at this version (its ETag, as [`Store::get_versioned`] or a write gave it).
    Version(String),
}

/// How long a conditional write on a local folder waits for the folder's lock (held only for
/// a compare and a rename) before it gives up.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How many lock files a local folder's conditional writes are spread over.
const LOCK_STRIPES: u64 = 64;

/// An object store under a prefix.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// For a local folder, the folder of the lock files its conditional writes take (a folder
    /// has no conditional replace of its own): one of [`LOCK_STRIPES`] by the object's path,
    /// so that writes of different objects rarely wait for each other.
    lock: Option<PathBuf>,
    /// Whether an object's version is its generation (GCS) rather than its ETag.
    generations: bool,
    /// How it was opened, for messages (never holds credentials).
    pub description: String,
    pub stats: Arc<StoreStats>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Where the default store of a fleet is: `<fleet>/.flotilla/store`.
pub fn default_folder(fleet: &Path) -> PathBuf {
    fleet.join(".flotilla").join("store")
}

impl Store {
    /// Opens the store named by `url`: `None` or a path is a local folder (created when
    /// missing; `None` is the fleet's default), `file:///…` too, `s3://bucket/prefix` uses the
    /// `AWS_*` environment (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, keys, region) and
    /// `gs://bucket/prefix` the `GOOGLE_*` environment.
    pub fn open(url: Option<&str>, fleet: &Path) -> Result<Store, StoreError> {
        let url_error = |reason: String| StoreError::Url {
            url: url.unwrap_or_default().to_owned(),
            reason,
        };
        match url {
            Some(u) if u.starts_with("s3://") => {
                let (bucket, prefix) = split_bucket(&u["s3://".len()..]).map_err(url_error)?;
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
                    .build()
                    .map_err(|e| url_error(e.to_string()))?;
                Ok(Store::new(Arc::new(s3), prefix, u.to_owned()))
            }
            Some(u) if u.starts_with("gs://") => {
                let (bucket, prefix) = split_bucket(&u["gs://".len()..]).map_err(url_error)?;
                let gcs = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| url_error(e.to_string()))?;
                let mut store = Store::new(Arc::new(gcs), prefix, u.to_owned());
                store.generations = true;
                Ok(store)
            }
            Some(u) if u.contains("://") && !u.starts_with("file://") => Err(url_error(
                "use a folder, file://PATH, s3://BUCKET/PREFIX or gs://BUCKET/PREFIX".into(),
            )),
            _ => {
                let folder = match url {
                    Some(u) => PathBuf::from(u.strip_prefix("file://").unwrap_or(u)),
                    None => default_folder(fleet),
                };
                let store = Store::folder(&folder)?;
                if url.is_none() {
                    // The default store is inside the fleet repository and holds the issuer's
                    // private key: keep it out of Git.
                    let ignore = folder.join(".gitignore");
                    if !ignore.exists() {
                        std::fs::write(&ignore, "# flotilla serve's store: never commit it (it holds the issuer's key)\n*\n")
                            .map_err(|source| StoreError::Folder { path: ignore, source })?;
                    }
                }
                Ok(store)
            }
        }
    }

    /// A local folder store (created when missing).
    pub fn folder(folder: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
            path: folder.to_path_buf(),
            source,
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(folder).map_err(|e| {
            StoreError::Url {
                url: folder.display().to_string(),
                reason: e.to_string(),
            }
        })?;
        let mut store = Store::new(Arc::new(fs), String::new(), folder.display().to_string());
        store.lock = Some(folder.join(".conditional-writes"));
        Ok(store)
    }

    /// Any object store (tests wrap one to inject failures).
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: String, description: String) -> Store {
        Store {
            inner,
            prefix: ObjectPath::from(prefix),
            lock: None,
            generations: false,
            description,
            stats: Arc::default(),
        }
    }

    /// `rel` (slash-separated) under the prefix.
    pub fn path(&self, rel: &str) -> ObjectPath {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    /// The object store itself, and the prefix of the staging area (for the bundle writer).
    pub fn staging(&self) -> (&Arc<dyn ObjectStore>, ObjectPath) {
        (&self.inner, self.path("staging"))
    }

    fn op<T>(
        &self,
        op: &'static str,
        path: &ObjectPath,
        r: Result<T, object_store::Error>,
    ) -> Result<T, StoreError> {
        self.stats.ops.fetch_add(1, Ordering::Relaxed);
        r.map_err(|source| {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
            StoreError::Op {
                op,
                path: path.to_string(),
                source,
            }
        })
    }

    /// The bytes at `rel`, `None` when there is nothing there.
    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(rel);
        let got = async { self.inner.get(&path).await?.bytes().await }.await;
        match got {
            Err(object_store::Error::NotFound { .. }) => {
                self.stats.ops.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            r => self.op("read", &path, r).map(Some),
        }
    }

    /// The JSON document at `rel`, `None` when there is nothing there.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        rel: &str,
    ) -> Result<Option<T>, StoreError> {
        let Some(bytes) = self.get(rel).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                path: self.path(rel).to_string(),
                source,
            })
    }

    /// Writes `bytes` at `rel`, replacing what is there (each store makes a put atomic: a
    /// reader sees the old bytes or the new ones).
    pub async fn put(&self, rel: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.put_versioned(rel, bytes).await.map(|_| ())
    }

    /// [`Store::put`], returning the new version.
    pub async fn put_versioned(&self, rel: &str, bytes: Bytes) -> Result<String, StoreError> {
        let path = self.path(rel);
        let r = self.inner.put(&path, PutPayload::from(bytes)).await;
        self.op("write", &path, r)
            .map(|p| version_of(self.generations, p.e_tag, p.version))
    }

    /// Copies `from` to `to` (both relative), replacing `to`; `Ok(false)` when there is
    /// nothing at `from`.
    pub async fn copy(&self, from: &str, to: &str) -> Result<bool, StoreError> {
        let (a, b) = (self.path(from), self.path(to));
        match self.inner.copy(&a, &b).await {
            Err(object_store::Error::NotFound { .. }) => {
                self.stats.ops.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            r => self.op("copy", &a, r).map(|()| true),
        }
    }

    /// Deletes `rel` (nothing there is no error).
    pub async fn delete(&self, rel: &str) -> Result<(), StoreError> {
        let path = self.path(rel);
        match self.inner.delete(&path).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            r => self.op("delete", &path, r),
        }
    }

    /// Writes `bytes` at `rel` unless something is there: `Ok(false)` when it was.
    pub async fn create(&self, rel: &str, bytes: Bytes) -> Result<bool, StoreError> {
        Ok(self.put_if(rel, bytes, &Expect::Absent).await?.is_some())
    }

    /// The names (relative to `rel`, which is a folder) of everything under `rel`, sorted.
    pub async fn list(&self, rel: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_versions(rel)
            .await?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// [`Store::list`], with each object's version (its ETag; empty when the store gives none).
    pub async fn list_versions(&self, rel: &str) -> Result<Vec<(String, String)>, StoreError> {
        let path = self.path(rel);
        let r: Result<Vec<_>, _> = self.inner.list(Some(&path)).try_collect().await;
        let metas = self.op("list", &path, r)?;
        let base = format!("{path}/");
        let mut names: Vec<(String, String)> = metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.to_string();
                let name = full.strip_prefix(&base)?.to_owned();
                Some((name, version_of(self.generations, m.e_tag, m.version)))
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// The bytes at `rel` with their version (for a conditional write to replace), `None`
    /// when there is nothing there.
    pub async fn get_versioned(&self, rel: &str) -> Result<Option<(Bytes, String)>, StoreError> {
        let path = self.path(rel);
        let got = async {
            let r = self.inner.get(&path).await?;
            let version = version_of(
                self.generations,
                r.meta.e_tag.clone(),
                r.meta.version.clone(),
            );
            Ok((r.bytes().await?, version))
        }
        .await;
        match got {
            Err(object_store::Error::NotFound { .. }) => {
                self.stats.ops.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            r => self.op("read", &path, r).map(Some),
        }
    }

    /// Writes `bytes` at `rel` only if what is there is what `expect` says: `Ok(Some(version))`
    /// with the new version, `Ok(None)` when something else is there (another writer came
    /// first).
    pub async fn put_if(
        &self,
        rel: &str,
        bytes: Bytes,
        expect: &Expect,
    ) -> Result<Option<String>, StoreError> {
        let path = self.path(rel);
        if let (Some(lock), Expect::Version(v)) = (&self.lock, expect) {
            // A local folder: compare and rename under the folder's lock (held by no more than
            // one compare and one rename, by any process on the folder).
            let _held = lock_file(lock, &path).await?;
            let r = self.inner.head(&path).await;
            let current = match r {
                Err(object_store::Error::NotFound { .. }) => None,
                r => Some(self.op("read", &path, r)?.e_tag.unwrap_or_default()),
            };
            if current.as_deref() != Some(v.as_str()) {
                self.stats.ops.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            let r = self.inner.put(&path, PutPayload::from(bytes)).await;
            return self
                .op("write", &path, r)
                .map(|p| Some(version_of(false, p.e_tag, p.version)));
        }
        let mode = match expect {
            Expect::Absent => PutMode::Create,
            Expect::Version(v) if self.generations => {
                PutMode::Update(object_store::UpdateVersion {
                    e_tag: None,
                    version: Some(v.clone()),
                })
            }
            Expect::Version(v) => PutMode::Update(object_store::UpdateVersion {
                e_tag: Some(v.clone()),
                version: None,
            }),
        };
        let r = self
            .inner
            .put_opts(
                &path,
                PutPayload::from(bytes),
                PutOptions {
                    mode,
                    ..PutOptions::default()
                },
            )
            .await;
        match r {
            // A create that found something, an update that found another version (or, on
            // some stores, nothing).
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::NotFound { .. },
            ) => {
                self.stats.ops.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            r => {
                let op = if *expect == Expect::Absent {
                    "create"
                } else {
                    "write"
                };
                self.op(op, &path, r)
                    .map(|p| Some(version_of(self.generations, p.e_tag, p.version)))
            }
        }
    }
}

/// The version of an object as conditional writes name it: its generation on GCS, its ETag
/// elsewhere.
fn version_of(generations: bool, e_tag: Option<String>, version: Option<String>) -> String {
    if generations { version } else { e_tag }.unwrap_or_default()
}

/// Takes the lock file of a local folder's conditional writes (released when dropped), waiting
/// at most [`LOCK_WAIT`].
async fn lock_file(locks: &Path, path: &ObjectPath) -> Result<std::fs::File, StoreError> {
    // FNV-1a of the path: every process picks the same stripe for an object.
    let stripe = path
        .as_ref()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        % LOCK_STRIPES;
    std::fs::create_dir_all(locks).map_err(|source| StoreError::Folder {
        path: locks.to_path_buf(),
        source,
    })?;
    let lock = locks.join(format!("{stripe}.lock"));
    let lock = lock.as_path();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock)
        .map_err(|source| StoreError::Folder {
            path: lock.to_path_buf(),
            source,
        })?;
    let deadline = tokio::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: path.to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StoreError::Folder {
                    path: lock.to_path_buf(),
                    source,
                });
            }
        }
    }
}

fn split_bucket(rest: &str) -> Result<(&str, String), String> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("no bucket".into());
    }
    Ok((bucket, prefix.trim_matches('/').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_refuses_to_clobber_and_list_is_relative() {
        let tmp = tempfile::tempdir().expect("a folder");
        let store = Store::folder(tmp.path()).expect("a store");
        assert!(
            store
                .create("a/b/one", Bytes::from("1"))
                .await
                .expect("created")
        );
        assert!(
            !store
                .create("a/b/one", Bytes::from("2"))
                .await
                .expect("refused")
        );
        assert_eq!(
            store.get("a/b/one").await.expect("read").as_deref(),
            Some(&b"1"[..])
        );
        store.put("a/c", Bytes::from("x")).await.expect("put");
        assert_eq!(store.list("a").await.expect("listed"), ["b/one", "c"]);
        assert!(store.get("nothing").await.expect("read").is_none());
        assert!(store.list("none").await.expect("listed").is_empty());
    }

    #[tokio::test]
    async fn a_conditional_write_replaces_only_the_version_it_read() {
        let tmp = tempfile::tempdir().expect("a folder");
        let store = Store::folder(tmp.path()).expect("a store");
        let put = |bytes: &'static str, expect: Expect| {
            let store = store.clone();
            async move {
                store
                    .put_if("leases/one", Bytes::from(bytes), &expect)
                    .await
                    .expect("written or refused")
            }
        };
        let v1 = put("1", Expect::Absent).await.expect("created");
        assert_eq!(put("x", Expect::Absent).await, None);
        let v2 = put("2", Expect::Version(v1.clone()))
            .await
            .expect("replaced");
        assert_ne!(v1, v2);
        assert_eq!(put("3", Expect::Version(v1)).await, None, "a stale version");
        let (bytes, version) = store
            .get_versioned("leases/one")
            .await
            .expect("read")
            .expect("there");
        assert_eq!((&bytes[..], &version), (&b"2"[..], &v2));
        assert_eq!(
            store.list_versions("leases").await.expect("listed"),
            [("one".to_owned(), v2.clone())]
        );
        // Writers racing from one version: exactly one wins.
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let v2 = v2.clone();
                tokio::spawn(async move {
                    store
                        .put_if("leases/one", Bytes::from("4"), &Expect::Version(v2))
                        .await
                        .expect("written or refused")
                })
            })
            .collect();
        let mut won = 0;
        for r in racers {
            won += usize::from(r.await.expect("joined").is_some());
        }
        assert_eq!(won, 1);
    }

    #[test]
    fn the_default_store_keeps_itself_out_of_git() {
        let tmp = tempfile::tempdir().expect("a folder");
        Store::open(None, tmp.path()).expect("a store");
        let ignore = std::fs::read_to_string(default_folder(tmp.path()).join(".gitignore"))
            .expect("a .gitignore");
        assert_eq!(ignore.lines().last(), Some("*"));
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_bucket("bucket/a/b/").expect("ok"),
            ("bucket", "a/b".to_owned())
        );
        assert!(split_bucket("/x").is_err());
        let tmp = tempfile::tempdir().expect("a folder");
        assert!(matches!(
            Store::open(Some("ftp://x"), tmp.path()),
            Err(StoreError::Url { .. })
        ));
    }
}
