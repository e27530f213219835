//! Bundles on disk and in object stores: the layout, round trips, atomic replacement, the
//! order of writes, tampering caught on read, the earlier layout read, and exports.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use compiler::Manifests;
use compiler::redact::Redactions;
use compiler::synthetic::{self, FleetConfig};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use plan::{ClusterIndex, Digest, Plan};

/// A small synthetic fleet's plan and manifests, compiled once.
fn compiled() -> &'static (Plan, Manifests) {
    static ONCE: OnceLock<(Plan, Manifests)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let files = synthetic::generate(FleetConfig {
            clusters: 12,
            services: 6,
            seed: 3,
        });
        let c = compiler::compile(&files);
        assert_eq!(c.diagnostics.render_text(), "");
        (c.plan, c.manifests)
    })
}

/// Spans of a made-up secret in the first manifest.
fn redactions(manifests: &Manifests) -> Redactions {
    let (digest, _) = manifests.0.iter().next().expect("a manifest");
    let spans = vec![secrets::Redaction {
        range: 0..4,
        digest: secrets::Digest::of(b"secret"),
    }];
    Redactions([(*digest, spans)].into_iter().collect())
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = format!("{rel}{}", e.file_name().to_string_lossy());
            if e.path().is_dir() {
                walk(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

#[test]
fn the_layout() {
    let (plan, manifests) = compiled();
    let dir = temp();
    let out = dir.path().join("plan");
    let written =
        bundle::write_dir(&out, plan, manifests, &redactions(manifests)).expect("written");
    assert_eq!(written.objects, manifests.0.len());
    assert_eq!(written.clusters, plan.clusters.len());
    let mut expected: Vec<String> = manifests
        .0
        .keys()
        .map(|d| format!("objects/sha256/{}", d.hex()))
        .chain(
            plan.clusters
                .iter()
                .map(|c| format!("clusters/{}.yaml", c.name)),
        )
        .chain(["plan.yaml".to_owned(), "redactions.json".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(files(&out), expected);
    // Each distinct manifest once, fewer than the releases.
    assert!(manifests.0.len() < plan.release_count());
    // plan.yaml is the plan's canonical text, each index its cluster's.
    assert_eq!(
        std::fs::read_to_string(out.join("plan.yaml")).ok(),
        Some(plan.to_yaml())
    );
    for c in &plan.clusters {
        let text = std::fs::read_to_string(out.join(format!("clusters/{}.yaml", c.name)))
            .expect("the index");
        let index = ClusterIndex::from_text(&text).expect("a valid index");
        assert_eq!(index, ClusterIndex::of(c));
        for (entry, r) in index.releases.iter().zip(&c.releases) {
            assert_eq!(entry.manifest, r.manifest);
            let object = std::fs::read(out.join(format!("objects/sha256/{}", r.manifest.hex())))
                .expect("the object");
            assert_eq!(Digest::of(&object), r.manifest);
        }
    }
}

#[test]
fn bundles_round_trip_and_replace_atomically() {
    let (plan, manifests) = compiled();
    let stored = redactions(manifests);
    let dir = temp();
    let out = dir.path().join("plan");
    bundle::write_dir(&out, plan, manifests, &stored).expect("written");
    let (read_plan, read_manifests, read_redactions) = bundle::read_dir(&out).expect("read back");
    assert_eq!(&read_plan, plan);
    assert_eq!(&read_manifests, manifests);
    assert_eq!(read_redactions, stored);

    // Replacing it leaves no staging folder behind.
    bundle::write_dir(&out, plan, manifests, &Redactions::default()).expect("rewritten");
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("listed")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["plan"]);
    assert!(!out.join("redactions.json").exists());

    // A plan naming a manifest that was not rendered writes nothing.
    let err = bundle::write_dir(&out, plan, &Manifests::default(), &Redactions::default())
        .map_err(|e| e.to_string());
    assert!(
        err.as_ref()
            .is_err_and(|e| e.contains("which was not rendered")),
        "{err:?}"
    );
    assert_eq!(
        bundle::read_dir(&out).map(|b| b.0).ok().as_ref(),
        Some(plan)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("listed").count(),
        1,
        "no staging folder left"
    );

    // A folder that is not a bundle is never replaced; an empty one is.
    let precious = dir.path().join("precious");
    std::fs::create_dir_all(&precious).expect("created");
    std::fs::write(precious.join("notes.txt"), "keep me").expect("written");
    let err = bundle::write_dir(&precious, plan, manifests, &Redactions::default())
        .map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err(format!(
            "refusing to replace {}: it is not a plan bundle (it has no plan.yaml)",
            precious.display()
        ))
    );
    assert!(precious.join("notes.txt").is_file());
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("created");
    bundle::write_dir(&empty, plan, manifests, &Redactions::default()).expect("written");
}

#[test]
fn tampering_is_caught_on_read() {
    let (plan, manifests) = compiled();
    let dir = temp();
    let out = dir.path().join("plan");
    bundle::write_dir(&out, plan, manifests, &Redactions::default()).expect("written");
    let release = &plan.clusters[0].releases[0];
    let object = out.join(format!("objects/sha256/{}", release.manifest.hex()));

    // An edited object.
    let original = std::fs::read(&object).expect("read");
    std::fs::write(&object, "kind: Surprise\n").expect("written");
    let err = bundle::read_dir(&out)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        err.as_ref()
            .is_err_and(|e| e.contains("does not match the plan: its digest is")),
        "{err:?}"
    );
    // A missing object.
    std::fs::remove_file(&object).expect("removed");
    let err = bundle::read_dir(&out)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        err.as_ref().is_err_and(|e| e.starts_with("cannot read")),
        "{err:?}"
    );
    std::fs::write(&object, original).expect("restored");
    assert!(bundle::read_dir(&out).is_ok());

    // An index that is not the plan's.
    let index = out.join(format!("clusters/{}.yaml", plan.clusters[0].name));
    let text = std::fs::read_to_string(&index).expect("read");
    std::fs::write(&index, text.replace("wave: 0", "wave: 7")).expect("written");
    let err = bundle::read_dir(&out)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err(format!(
            "{} does not match the plan's releases of cluster `{}`",
            index.display(),
            plan.clusters[0].name
        ))
    );
}

#[test]
fn a_bundle_of_the_earlier_layout_is_read() {
    let (plan, manifests) = compiled();
    let dir = temp();
    std::fs::write(dir.path().join("plan.yaml"), plan.to_yaml()).expect("written");
    for c in &plan.clusters {
        for r in &c.releases {
            let path = dir.path().join(r.manifest_path(&c.name));
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("created");
            std::fs::write(&path, manifests.get(&r.manifest).expect("there")).expect("written");
        }
    }
    let (read_plan, read_manifests, _) = bundle::read_dir(dir.path()).expect("read");
    assert_eq!(&read_plan, plan);
    assert_eq!(&read_manifests, manifests);
}

/// A bundle whose `clusters` is a file: every index write fails, after the objects.
#[test]
fn objects_are_written_first_and_the_plan_last() {
    let (plan, manifests) = compiled();
    let dir = temp();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("a store"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let root = dir.path().join("bundles/p1");
    std::fs::create_dir_all(&root).expect("created");
    std::fs::write(root.join("clusters"), "in the way").expect("written");
    let err = runtime
        .block_on(bundle::write(
            &store,
            &object_store::path::Path::from("bundles/p1"),
            plan,
            manifests,
            &Redactions::default(),
        ))
        .map_err(|e| e.to_string());
    assert!(
        err.as_ref()
            .is_err_and(|e| e.starts_with("cannot store bundles/p1/clusters/")),
        "{err:?}"
    );
    // Every object is there, no plan.
    assert_eq!(files(&root.join("objects/sha256")).len(), manifests.0.len());
    assert!(!root.join("plan.yaml").exists());
}

#[test]
fn the_same_layout_in_any_store() {
    let (plan, manifests) = compiled();
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let prefix = object_store::path::Path::from("plans/abc");
    runtime
        .block_on(bundle::write(
            &store,
            &prefix,
            plan,
            manifests,
            &redactions(manifests),
        ))
        .expect("written");
    let listed: Vec<String> = runtime.block_on(async {
        use futures::TryStreamExt as _;
        let mut all: Vec<String> = store
            .list(Some(&prefix))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .expect("listed");
        all.sort();
        all
    });
    let dir = temp();
    bundle::write_dir(
        &dir.path().join("p"),
        plan,
        manifests,
        &redactions(manifests),
    )
    .expect("written");
    let on_disk: Vec<String> = files(&dir.path().join("p"))
        .into_iter()
        .map(|f| format!("plans/abc/{f}"))
        .collect();
    assert_eq!(listed, on_disk);
}

#[test]
fn export_writes_one_clusters_manifests() {
    let (plan, manifests) = compiled();
    let dir = temp();
    let out = dir.path().join("plan");
    bundle::write_dir(&out, plan, manifests, &Redactions::default()).expect("written");
    let cluster = plan
        .clusters
        .iter()
        .find(|c| c.releases.len() > 1)
        .expect("a cluster with releases");
    let target: PathBuf = dir.path().join("export");
    let exported = bundle::export(&out, &cluster.name, &target).expect("exported");
    assert_eq!(exported.releases, cluster.releases.len());
    assert_eq!(exported.digest, ClusterIndex::of(cluster).digest());
    let mut expected: Vec<String> = cluster
        .releases
        .iter()
        .map(|r| format!("{:02}-{}.yaml", r.wave, r.name))
        .collect();
    expected.sort();
    assert_eq!(files(&target), expected);
    for r in &cluster.releases {
        let text = std::fs::read_to_string(target.join(r.file_name())).expect("read");
        assert_eq!(Some(text.as_str()), manifests.get(&r.manifest));
    }
    // Again, over the earlier export.
    bundle::export(&out, &cluster.name, &target).expect("exported again");

    // A typo.
    let typo = format!("{}x", cluster.name);
    let err = bundle::export(&out, &typo, &target).map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err(format!(
            "the bundle has no cluster `{typo}`: did you mean `{}`?",
            cluster.name
        ))
    );
    let err = bundle::export(&out, "../plan", &target).map_err(|e| e.to_string());
    assert_eq!(err, Err("the bundle has no cluster `../plan`".to_owned()));
    // A folder that is not an export is never replaced.
    let precious = dir.path().join("precious");
    std::fs::create_dir_all(&precious).expect("created");
    std::fs::write(precious.join("notes.txt"), "keep me").expect("written");
    assert!(bundle::export(&out, &cluster.name, &precious).is_err());
    assert!(precious.join("notes.txt").is_file());
    // Not a bundle.
    let err = bundle::export(&precious, &cluster.name, &target).map_err(|e| e.to_string());
    assert_eq!(
        err,
        Err(format!(
            "{} is not a plan bundle: it has no plan.yaml",
            precious.display()
        ))
    );
}

#[test]
fn staging_writes_only_the_objects_not_present() {
    let (plan, manifests) = compiled();
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let prefix = object_store::path::Path::from("staging");
    let clusters: Vec<&plan::ClusterPlan> = plan.clusters.iter().collect();
    let objects = |store: &Arc<dyn ObjectStore>| -> Vec<String> {
        runtime.block_on(async {
            use futures::TryStreamExt as _;
            let mut all: Vec<String> = store
                .list(Some(&object_store::path::Path::from("staging/objects")))
                .map_ok(|m| m.location.to_string())
                .try_collect()
                .await
                .expect("listed");
            all.sort();
            all
        })
    };
    // Nothing present: every named object is written.
    let first = runtime
        .block_on(bundle::stage(&store, &prefix, &clusters, manifests, |_| {
            false
        }))
        .expect("staged");
    assert_eq!(first.written, first.objects.len());
    assert_eq!(objects(&store).len(), first.objects.len());
    assert_eq!(first.digests.len(), clusters.len());
    for (c, d) in clusters.iter().zip(&first.digests) {
        assert_eq!(ClusterIndex::of(c).digest(), *d);
        // Each index is named by its digest, with the text of that digest.
        let path = format!("staging/{}", bundle::layout::staged_index(&c.name, d));
        let text = runtime
            .block_on(async {
                object_store::ObjectStoreExt::get(&*store, &object_store::path::Path::from(path))
                    .await?
                    .bytes()
                    .await
            })
            .expect("the index");
        let index =
            ClusterIndex::from_text(std::str::from_utf8(&text).expect("text")).expect("an index");
        assert_eq!(index.digest(), *d);
    }
    // All but one present (one removed from the store behind the stage's back, to see which
    // are written): only that one is written again.
    let (kept, gone) = first.objects.split_at(first.objects.len() - 1);
    let path = format!("staging/{}", bundle::layout::object(&gone[0]));
    runtime
        .block_on(object_store::ObjectStoreExt::delete(
            &*store,
            &object_store::path::Path::from(path),
        ))
        .expect("deleted");
    let again = runtime
        .block_on(bundle::stage(&store, &prefix, &clusters, manifests, |d| {
            kept.contains(d)
        }))
        .expect("staged");
    assert_eq!(again.written, 1);
    assert_eq!(again.digests, first.digests);
    assert_eq!(objects(&store).len(), first.objects.len());
    // A manifest missing from the compile is refused before anything is written, present or
    // not.
    let empty = Manifests::default();
    let err = runtime.block_on(bundle::stage(&store, &prefix, &clusters, &empty, |_| true));
    assert!(matches!(
        err,
        Err(bundle::BundleError::MissingManifest { .. })
    ));
}
