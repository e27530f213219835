//! The controller against a store that fails: every write from the Nth on fails (as if the
//! process died there, or the store went away), then a restart on the same store. Whatever N,
//! no cluster index names a missing object, no acknowledged deployment is lost, and the
//! restart converges to the bundles of a run that never failed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use runtime::controller::Controller;
use runtime::fleet::VersionFiles;
use runtime::metrics::Metrics;
use runtime::records::Provenance;
use runtime::store::Store;

mod identity;
mod replicas;

/// Passes everything to `inner`, but fails every write from the `fail_from`th on (1-based).
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn ObjectStore>,
    writes: AtomicUsize,
    fail_from: usize,
}

impl std::fmt::Display for Flaky {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flaky({})", self.inner)
    }
}

impl Flaky {
    fn write(&self) -> object_store::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.fail_from {
            return Err(object_store::Error::Generic {
                store: "Flaky",
                source: format!("write {n} failed (injected)").into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.write()?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.write()?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.write()?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.write()?;
        self.inner.rename_opts(from, to, options).await
    }
}

/// A small fleet: two environments, three clusters, two services on one chart.
fn write_fleet(root: &Path) {
    let files = [
        (
            "fleet.yaml",
            "environments:\n  - name: dev\n  - name: prod\n    production: true\n",
        ),
        (
            "clusters/dev-1.yaml",
            "name: dev-1\nprovider: aws\nregion: eu-west-1\nenvironment: dev\n",
        ),
        (
            "clusters/prod-1.yaml",
            "name: prod-1\nprovider: aws\nregion: eu-west-1\nenvironment: prod\n",
        ),
        (
            "clusters/prod-2.yaml",
            "name: prod-2\nprovider: aws\nregion: us-east-1\nenvironment: prod\n",
        ),
        (
            "charts/app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        ),
        (
            "charts/app/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  image: {{ .Values.image | quote }}\n  cluster: {{ .Values.cluster | quote }}\n",
        ),
        (
            "services/web/service.yaml",
            "name: web\nowners: {team: shop}\nchart: {path: ../../charts/app}\nselector: 'true'\nrelease: {name: web, namespace: shop}\nvalues: |\n  image: web:1\n  cluster: {{ .Cluster.name }}\n",
        ),
        (
            "services/api/service.yaml",
            "name: api\nowners: {team: shop}\nchart: {path: ../../charts/app}\nselector: 'cluster.environment == \"prod\"'\nrelease: {name: api, namespace: shop}\nvalues: |\n  image: api:1\n  cluster: {{ .Cluster.name }}\n",
        ),
    ];
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("created");
        std::fs::write(p, text).expect("written");
    }
}

async fn controller(
    fleet: &Path,
    store: Arc<dyn ObjectStore>,
) -> Result<Arc<Controller>, runtime::ControllerError> {
    let secrets = pipeline::SecretsChoice::Local(fleet.join("secrets"))
        .open()
        .expect("a secret source");
    let env = pipeline::Environment::new(fleet, pipeline::CacheMode::Off, secrets);
    let store = Store::new(store, "fleet-store".into(), "test".into());
    let c = Controller::start(fleet, store, env, Arc::new(Metrics::default()))
        .await
        .map(Arc::new)?;
    // The only replica: it takes every shard (a store failing here leaves some untaken,
    // as a replica starting on a failing store would).
    let _ = c.lease_round().await;
    Ok(c)
}

/// Every cluster's staged index (`<cluster>.yaml` → its text), checking that the record names
/// an index that is there and that all the objects it names are there.
async fn staged(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, String> {
    let s = Store::new(Arc::clone(store), "fleet-store".into(), "test".into());
    let mut out = BTreeMap::new();
    for record in s.list("clusters").await.expect("listed") {
        let r: runtime::records::ClusterRecord = s
            .get_json(&format!("clusters/{record}"))
            .await
            .expect("read")
            .expect("there");
        let name = format!("{}.yaml", r.cluster);
        let bytes = s
            .get(&format!(
                "staging/{}",
                bundle::layout::staged_index(&r.cluster, &r.digest)
            ))
            .await
            .expect("read")
            .expect("the record names an index that is there");
        let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
        for hex in text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("manifest: sha256:"))
        {
            assert!(
                s.get(&format!("staging/objects/sha256/{hex}"))
                    .await
                    .expect("read")
                    .is_some(),
                "{name} names a missing object"
            );
        }
        out.insert(name, text);
    }
    out
}

/// Publishes web 2 (deployed to the first environment); whether it was acknowledged.
async fn publish_web_2(c: &Arc<Controller>, fleet: &Path) -> bool {
    publish_web(c, fleet, "2").await.is_ok()
}

/// Publishes web with image `web:<tag>`, labelled `tag` (deployed to the first environment).
async fn publish_web(
    c: &Arc<Controller>,
    fleet: &Path,
    tag: &str,
) -> Result<runtime::controller::Published, runtime::ControllerError> {
    let mut files = compiler::read_dir(fleet).expect("the fleet");
    let spec = files
        .files
        .get_mut("services/web/service.yaml")
        .expect("web");
    *spec = spec.replace("web:1", &format!("web:{tag}"));
    let version = VersionFiles::of(&files, "web").expect("web's files");
    let provenance = Provenance {
        publisher: "user:pat".into(),
        ..Provenance::default()
    };
    c.publish("web", tag, version, provenance).await
}

/// Publishes web 2 (deployed to dev) and promotes it to prod; returns which steps were
/// acknowledged.
async fn change(c: &Arc<Controller>, fleet: &Path) -> (bool, bool) {
    let published = publish_web_2(c, fleet).await;
    let mut promoted = false;
    if published && let Ok(meta) = c.find_version("web", "2").await {
        promoted = c
            .deploy("web", "prod", &meta, "user:pat", "promote", None)
            .await
            .is_ok();
    }
    let _ = c.reconcile().await;
    (published, promoted)
}

/// A store of its own whose writes fail from the `fail_from`th on, and the store beneath it.
fn failing_from(fail_from: usize) -> (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>) {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let flaky = Arc::new(Flaky {
        inner: Arc::clone(&inner),
        writes: AtomicUsize::new(0),
        fail_from,
    });
    (flaky, inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_point_recovers_to_the_same_bundles() {
    let tmp = tempfile::tempdir().expect("a folder");
    let fleet = tmp.path().join("fleet");
    write_fleet(&fleet);

    // The run that never fails.
    let reference: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let c = controller(&fleet, Arc::clone(&reference))
        .await
        .expect("starts");
    assert!(c.reconcile().await.errors.is_empty());
    let before = staged(&reference).await;
    assert_eq!(before.len(), 3);
    assert_eq!(change(&c, &fleet).await, (true, true));
    let after = staged(&reference).await;
    assert_ne!(before, after);
    drop(c);

    // How many writes the change makes, counted on a store that never fails.
    let counting = Arc::new(Flaky {
        inner: Arc::new(InMemory::new()),
        writes: AtomicUsize::new(0),
        fail_from: usize::MAX,
    });
    {
        let c = controller(&fleet, Arc::clone(&counting) as Arc<dyn ObjectStore>)
            .await
            .expect("starts");
        c.reconcile().await;
        let setup = counting.writes.load(Ordering::SeqCst);
        change(&c, &fleet).await;
        let total = counting.writes.load(Ordering::SeqCst);
        assert!(total > setup + 5, "{setup} {total}");
    }
    let total = counting.writes.load(Ordering::SeqCst);

    for fail_from in 1..=total {
        let (flaky, inner) = failing_from(fail_from);
        // Up to the failure point: the first start, its stage, the change.
        let acknowledged = match controller(&fleet, flaky).await {
            Ok(c) => {
                let _ = c.reconcile().await;
                change(&c, &fleet).await
            }
            Err(_) => (false, false),
        };
        // Whatever was written is consistent: no index names a missing object.
        staged(&inner).await;
        // The restart on the same store, healthy now.
        let c = controller(&fleet, Arc::clone(&inner))
            .await
            .expect("restarts");
        let pass = c.reconcile().await;
        assert!(pass.errors.is_empty(), "{fail_from}: {:?}", pass.errors);
        let web = c.current("web").await;
        if acknowledged.0 {
            assert_eq!(web["dev"].label, "2", "{fail_from}: the publish was lost");
        }
        if acknowledged.1 {
            assert_eq!(
                web["prod"].label, "2",
                "{fail_from}: the promotion was lost"
            );
        }
        let got = staged(&inner).await;
        let want = match acknowledged {
            (_, true) => &after,
            (false, false) => &before,
            (true, false) => {
                // web 2 runs in dev only.
                assert_eq!(
                    got.get("prod-1.yaml"),
                    before.get("prod-1.yaml"),
                    "{fail_from}"
                );
                assert_ne!(
                    got.get("dev-1.yaml"),
                    before.get("dev-1.yaml"),
                    "{fail_from}"
                );
                continue;
            }
        };
        assert_eq!(&got, want, "{fail_from}: the restart did not converge");
        // And a second pass has nothing to do.
        assert!(c.reconcile().await.staged.is_empty(), "{fail_from}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_version_fails_its_environment_once_and_keeps_the_last_bundles() {
    let tmp = tempfile::tempdir().expect("a folder");
    let fleet = tmp.path().join("fleet");
    write_fleet(&fleet);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let c = controller(&fleet, Arc::clone(&store))
        .await
        .expect("starts");
    assert!(c.reconcile().await.errors.is_empty());
    let before = staged(&store).await;
    // A version whose values template does not parse, published (deployed to dev).
    let mut files = compiler::read_dir(&fleet).expect("the fleet");
    let spec = files
        .files
        .get_mut("services/web/service.yaml")
        .expect("web");
    *spec = spec.replace("image: web:1", "image: {{ .Nope");
    let version = VersionFiles::of(&files, "web").expect("web's files");
    c.publish("web", "broken", version, Provenance::default())
        .await
        .expect("published: a version is data until it is compiled");
    let pass = c.reconcile().await;
    assert_eq!(pass.errors.len(), 1, "{:?}", pass.errors);
    assert!(pass.errors[0].starts_with("dev: "), "{:?}", pass.errors);
    // Not recompiled on every pass; the failure stays visible; the bundles stay.
    let again = c.reconcile().await;
    assert!(
        again.errors.is_empty() && again.staged.is_empty(),
        "{again:?}"
    );
    assert!(c.staged().await.1.contains_key("dev"));
    assert_eq!(staged(&store).await, before);
    // A rollback fixes it.
    let meta = c.previous("web", "dev").await.expect("an earlier version");
    c.deploy("web", "dev", &meta, "user:pat", "rollback", None)
        .await
        .expect("rolled back");
    let fixed = c.reconcile().await;
    assert!(fixed.errors.is_empty(), "{:?}", fixed.errors);
    assert!(!c.staged().await.1.contains_key("dev"));
}

/// The small fleet with two dev clusters and a rollout policy: dev-1 first, dev-2 after a
/// soak no test waits for.
fn write_rollout_fleet(root: &Path) {
    write_fleet(root);
    std::fs::write(
        root.join("fleet.yaml"),
        "environments:\n  - name: dev\n  - name: prod\n    production: true\nrollout:\n  waves: [\"50%\"]\n  soak: 1h\n",
    )
    .expect("written");
    std::fs::write(
        root.join("clusters/dev-2.yaml"),
        "name: dev-2\nprovider: aws\nregion: us-east-1\nenvironment: dev\n",
    )
    .expect("written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_failure_point_lets_a_deployment_skip_its_waves() {
    let tmp = tempfile::tempdir().expect("a folder");
    let fleet = tmp.path().join("fleet");
    write_rollout_fleet(&fleet);

    let counting = Arc::new(Flaky {
        inner: Arc::new(InMemory::new()),
        writes: AtomicUsize::new(0),
        fail_from: usize::MAX,
    });
    let before = {
        let c = controller(&fleet, Arc::clone(&counting) as Arc<dyn ObjectStore>)
            .await
            .expect("starts");
        assert!(c.reconcile().await.errors.is_empty());
        let before = staged(&counting.inner).await;
        assert!(publish_web_2(&c, &fleet).await);
        c.reconcile().await;
        let after = staged(&counting.inner).await;
        // The first wave only: dev-1 moved, dev-2 did not.
        assert_ne!(after.get("dev-1.yaml"), before.get("dev-1.yaml"));
        assert_eq!(after.get("dev-2.yaml"), before.get("dev-2.yaml"));
        before
    };
    let total = counting.writes.load(Ordering::SeqCst);

    for fail_from in 1..=total {
        let (flaky, inner) = failing_from(fail_from);
        let acknowledged = match controller(&fleet, flaky).await {
            Ok(c) => {
                let _ = c.reconcile().await;
                let published = publish_web_2(&c, &fleet).await;
                let _ = c.reconcile().await;
                published
            }
            Err(_) => false,
        };
        staged(&inner).await;
        let c = controller(&fleet, Arc::clone(&inner))
            .await
            .expect("restarts");
        let pass = c.reconcile().await;
        assert!(pass.errors.is_empty(), "{fail_from}: {:?}", pass.errors);
        let dev = c.current("web").await.remove("dev").expect("web in dev");
        if acknowledged {
            assert_eq!(dev.label, "2", "{fail_from}: the publish was lost");
        }
        let rollouts = c.rollouts("web").await;
        if dev.label == "2" {
            // A deployment in force has its rollout: dev-2 waits for its wave.
            let r = rollouts
                .iter()
                .find(|r| r.rollout.environment == "dev")
                .unwrap_or_else(|| panic!("{fail_from}: web 2 in dev without its rollout"));
            assert!(r.current, "{fail_from}");
            assert_eq!(r.rollout.wave, 0, "{fail_from}");
        }
        let got = staged(&inner).await;
        assert_eq!(
            got.get("dev-2.yaml"),
            before.get("dev-2.yaml"),
            "{fail_from}: dev-2 was released before its wave"
        );
        assert!(c.reconcile().await.staged.is_empty(), "{fail_from}");
    }
}
