//! Two replicas over one store: shards handed over through leases, and a replica paused past
//! its lease fenced when it wakes (its writes refused, nothing lost, no bundle going back).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use runtime::controller::{Controller, ControllerError};
use runtime::metrics::Metrics;
use runtime::records::ClusterRecord;
use runtime::rollout::RolloutAction;
use runtime::shards::{ShardOptions, Shards};
use runtime::store::Store;

const TTL: Duration = Duration::from_millis(300);

/// A replica named `id` of the small fleet over `store` (no lease taken yet).
async fn replica(fleet: &Path, store: &Arc<dyn ObjectStore>, id: &str) -> Arc<Controller> {
    let secrets = pipeline::SecretsChoice::Local(fleet.join("secrets"))
        .open()
        .expect("a secret source");
    let env = pipeline::Environment::new(fleet, pipeline::CacheMode::Off, secrets);
    let store = Store::new(Arc::clone(store), "fleet-store".into(), "test".into());
    let mut c = Controller::start(fleet, store, env, Arc::new(Metrics::default()))
        .await
        .expect("starts");
    c.shards = Shards::new(ShardOptions {
        replica: id.into(),
        shards: 4,
        ttl: TTL,
    });
    Arc::new(c)
}

/// Publishes `web` with image `web:<tag>` through `c` (deployed to dev), and promotes it to
/// prod.
async fn ship(c: &Arc<Controller>, fleet: &Path, tag: &str) {
    super::publish_web(c, fleet, tag).await.expect("published");
    let meta = c.find_version("web", tag).await.expect("the version");
    c.deploy("web", "prod", &meta, "user:pat", "promote", None)
        .await
        .expect("promoted");
}

/// Every cluster's record in the store.
async fn records(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, ClusterRecord> {
    let s = Store::new(Arc::clone(store), "fleet-store".into(), "test".into());
    let mut out = BTreeMap::new();
    for name in s.list("clusters").await.expect("listed") {
        let r: ClusterRecord = s
            .get_json(&format!("clusters/{name}"))
            .await
            .expect("read")
            .expect("there");
        out.insert(r.cluster.clone(), r);
    }
    out
}

/// Each cluster's staged index.
async fn indexes(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, String> {
    super::staged(store)
        .await
        .into_iter()
        .map(|(name, index)| (name.trim_end_matches(".yaml").to_owned(), index))
        .collect()
}

/// Asserts that no record went back: each generation at least what it was.
fn forward(before: &BTreeMap<String, ClusterRecord>, after: &BTreeMap<String, ClusterRecord>) {
    for (c, r) in before {
        let now = after.get(c).expect("a record is never removed");
        assert!(
            now.generation >= r.generation,
            "{c} went back from generation {} to {}",
            r.generation,
            now.generation
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_paused_past_its_lease_is_fenced_and_nothing_goes_back() {
    let tmp = tempfile::tempdir().expect("a folder");
    let fleet = tmp.path().join("fleet");
    super::write_fleet(&fleet);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());

    // A alone takes every shard and stages the fleet.
    let a = replica(&fleet, &store, "a").await;
    let round = a.lease_round().await.expect("a round");
    assert_eq!(round.taken, [0, 1, 2, 3]);
    assert!(a.reconcile().await.errors.is_empty());
    let first = records(&store).await;
    assert_eq!(first.len(), 3);
    assert!(first.values().all(|r| r.epoch == 1 && r.generation == 1));

    // B joins: A's leases are live, so B takes nothing yet.
    let b = replica(&fleet, &store, "b").await;
    assert!(b.lease_round().await.expect("a round").taken.is_empty());

    // A stops renewing (paused): after a TTL, B takes every shard over and fences the records.
    tokio::time::sleep(TTL + Duration::from_millis(50)).await;
    let round = b.lease_round().await.expect("a round");
    assert_eq!(round.taken, [0, 1, 2, 3]);
    assert_eq!(round.live, ["b"]);
    assert_eq!(b.metrics.lease_takeovers.load(Ordering::Relaxed), 4);
    let fenced = records(&store).await;
    forward(&first, &fenced);
    assert!(fenced.values().all(|r| r.epoch == 2), "{fenced:?}");
    // The fence changes no bundle: same generations, same digests.
    for (c, r) in &first {
        assert_eq!(
            (fenced[c].generation, fenced[c].digest),
            (r.generation, r.digest)
        );
    }

    // B ships web 2 everywhere.
    ship(&b, &fleet, "2").await;
    assert!(b.reconcile().await.errors.is_empty());
    let shipped = records(&store).await;
    forward(&fenced, &shipped);
    assert!(shipped.values().all(|r| r.generation == 2));
    let before_wake = indexes(&store).await;

    // A wakes up still believing it holds every shard, and ships web 3 through its own
    // state: the deployment is stored (any replica accepts a change), but each record write
    // is refused, and A drops the shards.
    ship(&a, &fleet, "3").await;
    let pass = a.reconcile().await;
    assert!(pass.staged.is_empty(), "{pass:?}");
    assert!(a.metrics.fenced_writes.load(Ordering::Relaxed) >= 1);
    assert_eq!(
        a.shards.epoch_of("dev-1"),
        None,
        "dev-1's shard is still A's"
    );
    let after_wake = records(&store).await;
    assert_eq!(after_wake, shipped, "a fenced replica changed a record");
    assert_eq!(indexes(&store).await, before_wake);
    // Its next lease round finds every lease it held taken.
    let round = a.lease_round().await.expect("a round");
    assert!(a.shards.held().is_empty(), "{round:?}");
    assert_eq!(records(&store).await, shipped);

    // Both run their rounds: they see each other, share the shards, and both stage web 3
    // (A's deployment, learnt by B from the store) where each holds the shards.
    for _ in 0..4 {
        a.lease_round().await.expect("a round");
        b.lease_round().await.expect("a round");
        a.sync_round().await.expect("synced");
        b.sync_round().await.expect("synced");
        assert!(a.reconcile().await.errors.is_empty());
        assert!(b.reconcile().await.errors.is_empty());
    }
    let (ha, hb) = (a.shards.held(), b.shards.held());
    assert_eq!(ha.len() + hb.len(), 4, "{ha:?} {hb:?}");
    assert!(!ha.is_empty() && !hb.is_empty(), "{ha:?} {hb:?}");
    assert!(ha.keys().all(|k| !hb.contains_key(k)));
    let last = records(&store).await;
    forward(&shipped, &last);
    for (c, r) in &last {
        assert_eq!(r.generation, 3, "{c}: {r:?}");
    }
    let web3 = indexes(&store).await;
    assert_eq!(web3.len(), 3);
    for (c, index) in &web3 {
        assert_ne!(Some(index), before_wake.get(c), "{c} still runs web 2");
    }
    // Each replica's long polls see the other's records.
    for c in ["dev-1", "prod-1", "prod-2"] {
        assert_eq!(a.staged_record(c).await.as_ref(), last.get(c));
        assert_eq!(b.staged_record(c).await.as_ref(), last.get(c));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_step_taken_on_a_stale_copy_is_a_conflict_not_an_overwrite() {
    let tmp = tempfile::tempdir().expect("a folder");
    let fleet = tmp.path().join("fleet");
    super::write_fleet(&fleet);
    // Progressive rollouts: one cluster, then the rest, an hour's soak between.
    std::fs::write(
        fleet.join("fleet.yaml"),
        "environments:\n  - name: dev\n  - name: prod\n    production: true\nrollout:\n  waves: [\"1\"]\n  soak: 1h\n",
    )
    .expect("written");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let a = replica(&fleet, &store, "a").await;
    let b = replica(&fleet, &store, "b").await;
    let rounds = || async {
        for c in [&a, &b] {
            c.lease_round().await.expect("a round");
        }
        for c in [&a, &b] {
            c.sync_round().await.expect("synced");
            assert!(c.reconcile().await.errors.is_empty());
        }
    };
    rounds().await;
    ship(&a, &fleet, "2").await;
    for _ in 0..3 {
        rounds().await;
    }
    let view = |c: &Arc<Controller>| {
        let c = Arc::clone(c);
        async move {
            c.rollouts("web")
                .await
                .into_iter()
                .find(|r| r.current && r.rollout.environment == "prod")
                .map(|r| r.rollout.state.as_str().to_owned())
        }
    };
    assert_eq!(view(&a).await.as_deref(), Some("Progressing"));
    assert_eq!(view(&b).await.as_deref(), Some("Progressing"));

    // A pauses it; B, which has not read that yet, cannot abort its stale copy.
    a.rollout_action("web", "prod", RolloutAction::Pause, "user:pat")
        .await
        .expect("paused");
    let refused = b
        .rollout_action("web", "prod", RolloutAction::Abort, "user:sam")
        .await;
    assert!(
        matches!(refused, Err(ControllerError::RolloutConflict { .. })),
        "{refused:?}"
    );
    // Once B has read the pause, its abort goes through.
    b.sync_round().await.expect("synced");
    assert_eq!(view(&b).await.as_deref(), Some("Paused"));
    b.rollout_action("web", "prod", RolloutAction::Abort, "user:sam")
        .await
        .expect("aborted");
    // The abort rolled prod back to web 1; A learns both.
    a.sync_round().await.expect("synced");
    let prod = &a.current("web").await["prod"];
    assert_eq!(
        (prod.reason.as_str(), prod.label.as_str()),
        ("rollback", b.current("web").await["prod"].label.as_str())
    );
    assert_ne!(prod.label, "2");
}
