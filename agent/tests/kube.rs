//! The `kube` applier, connected by a kubeconfig over real HTTP to the fake Kubernetes API
//! (`agent::testing`): discovery, server-side apply, GET and DELETE, each request recorded. What is checked is the order and shape of the requests: CRDs and Namespaces
//! first, waves after the waves before them are Ready, Helm hooks around their release with
//! their delete policies, test hooks never applied, pruning only of what an inventory lists,
//! and readiness and rejections as the cluster reports them.

use std::sync::Arc;
use std::time::Duration;

use agent::apply::Release;
use agent::kube::Kube;
use agent::testing::{FakeKube, Shared};
use plan::agent::Phase;
use plan::{Digest, IndexEntry};
use serde_json::{Value, json};

fn fake() -> (Kube, Shared, FakeKube) {
    let server = FakeKube::start().expect("the fake API server starts");
    let kube = Kube::new(
        Some(server.kubeconfig().to_path_buf()),
        Duration::from_secs(5),
    );
    (kube, Arc::clone(&server.cluster), server)
}

fn entry(release: &str, wave: u32, namespace: &str, manifest: &str) -> IndexEntry {
    IndexEntry {
        release: release.into(),
        service: release.into(),
        wave,
        namespace: namespace.into(),
        manifest: Digest::of(manifest.as_bytes()),
    }
}

const PLATFORM: &str = "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gateway\nspec:\n  replicas: 1\n";

const APP_V1: &str = "---\n# Source: app/templates/crd.yaml\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-1\"\n    helm.sh/hook-delete-policy: hook-succeeded\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke-test\n  annotations:\n    helm.sh/hook: test\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: \"1\"}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: blue\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: notify\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n";

const APP_V2: &str = "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: hook-succeeded\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: blue\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n";

fn position(log: &[String], needle: &str) -> usize {
    log.iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no request {needle:?} in:\n{}", log.join("\n")))
}

fn take_log(c: &Shared) -> Vec<String> {
    std::mem::take(&mut c.lock().expect("lock").log)
}

#[tokio::test]
async fn crds_and_namespaces_first_then_waves_hooks_and_pruning() {
    let (mut kube, cluster, _server) = fake();
    // Something of someone else's, in the same namespace: never touched.
    cluster.lock().expect("lock").objects.insert(
        "/api/v1/namespaces/shop/configmaps/foreign".into(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foreign", "namespace": "shop"}}),
    );
    cluster.lock().expect("lock").unready.push("gateway".into());
    let platform = entry("platform", 0, "shop", PLATFORM);
    let app = entry("app", 1, "shop", APP_V1);
    let releases = |app_applied: bool, platform_applied: bool| {
        vec![
            Release {
                entry: &platform,
                manifest: PLATFORM,
                unchanged: platform_applied,
            },
            Release {
                entry: &app,
                manifest: APP_V1,
                unchanged: app_applied,
            },
        ]
    };

    // Wave 0 applies; wave 1 waits while the gateway is not available. CRDs and Namespaces
    // of every release come first, wave 1's CRD included.
    let done = kube
        .apply(&releases(false, false), &[], false)
        .await
        .expect("applied");
    assert_eq!(done, ["platform"]);
    let log = take_log(&cluster);
    let crd = position(
        &log,
        "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    );
    let ns = position(&log, "PATCH /api/v1/namespaces/shop?");
    let gateway = position(
        &log,
        "PATCH /apis/apps/v1/namespaces/shop/deployments/gateway",
    );
    assert!(crd < gateway && ns < gateway, "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("/configmaps/settings")),
        "wave 1 waits: {log:#?}"
    );
    assert!(
        log.iter().all(|l| !l.contains("PATCH /apis/batch")),
        "no hook of wave 1 yet: {log:#?}"
    );
    let status = kube
        .release_status(&releases(false, true)[0])
        .await
        .expect("a status");
    assert_eq!(status.phase, Phase::Progressing);

    // Ready: wave 1 goes, its hooks around it.
    cluster.lock().expect("lock").unready.clear();
    let done = kube
        .apply(&releases(false, true), &[], false)
        .await
        .expect("applied");
    assert_eq!(done, ["app"]);
    let log = take_log(&cluster);
    let migrate = position(&log, "PATCH /apis/batch/v1/namespaces/shop/jobs/migrate");
    let migrate_deleted = log
        .iter()
        .rposition(|l| l.starts_with("DELETE /apis/batch/v1/namespaces/shop/jobs/migrate"))
        .expect("hook-succeeded deletes the hook");
    let settings = position(&log, "PATCH /api/v1/namespaces/shop/configmaps/settings");
    let widget = position(
        &log,
        "PATCH /apis/example.com/v1/namespaces/shop/widgets/blue",
    );
    let inventory = position(
        &log,
        "PATCH /api/v1/namespaces/shop/configmaps/flotilla-inventory-app",
    );
    let notify = position(&log, "PATCH /apis/batch/v1/namespaces/shop/jobs/notify");
    assert!(
        migrate < migrate_deleted && migrate_deleted < settings,
        "{log:#?}"
    );
    assert!(
        settings < widget && widget < inventory && inventory < notify,
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("smoke-test")),
        "a test hook is never applied"
    );
    {
        let c = cluster.lock().expect("lock");
        assert!(
            c.objects
                .contains_key("/apis/batch/v1/namespaces/shop/jobs/notify"),
            "default policy keeps it"
        );
        assert!(
            !c.objects
                .contains_key("/apis/batch/v1/namespaces/shop/jobs/migrate")
        );
        let inv = &c.objects["/api/v1/namespaces/shop/configmaps/flotilla-inventory-app"];
        let listed: Vec<Value> =
            serde_json::from_str(inv["data"]["objects"].as_str().expect("a list")).expect("JSON");
        assert_eq!(listed.len(), 3, "settings, blue, api: {listed:?}");
    }
    let status = kube
        .release_status(&Release {
            entry: &app,
            manifest: APP_V1,
            unchanged: true,
        })
        .await
        .expect("a status");
    assert_eq!(status.phase, Phase::Ready, "{status:?}");
    assert_eq!(status.objects.len(), 4, "the CRD, settings, blue, api");

    // A new version without the ConfigMap: pre-upgrade runs, the ConfigMap is pruned.
    let app2 = entry("app", 1, "shop", APP_V2);
    let r2 = [
        Release {
            entry: &platform,
            manifest: PLATFORM,
            unchanged: true,
        },
        Release {
            entry: &app2,
            manifest: APP_V2,
            unchanged: false,
        },
    ];
    kube.apply(&r2, &[], false).await.expect("applied");
    let log = take_log(&cluster);
    assert!(
        log.iter()
            .any(|l| l.starts_with("PATCH /apis/batch/v1/namespaces/shop/jobs/migrate")),
        "pre-upgrade: {log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("DELETE /api/v1/namespaces/shop/configmaps/settings")),
        "pruned: {log:#?}"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("PATCH /apis/apps/v1/namespaces/shop/deployments/gateway")),
        "unchanged releases are not applied again"
    );

    // The release gone: everything its inventory lists, then the inventory; nothing else.
    kube.apply(&r2[..1], std::slice::from_ref(&app2), false)
        .await
        .expect("removed");
    let c = cluster.lock().expect("lock");
    for gone in [
        "/widgets/blue",
        "/deployments/api",
        "/configmaps/flotilla-inventory-app",
    ] {
        assert!(
            !c.objects.keys().any(|k| k.ends_with(gone)),
            "{gone} deleted"
        );
    }
    // CRDs and Namespaces are never pruned (as Helm keeps CRDs): their deletion would take
    // every object of theirs with them.
    assert!(
        c.objects
            .keys()
            .any(|k| k.ends_with("/customresourcedefinitions/widgets.example.com"))
    );
    assert!(c.objects.contains_key("/api/v1/namespaces/shop"));
    assert!(
        c.objects
            .contains_key("/api/v1/namespaces/shop/configmaps/foreign"),
        "not ours: kept"
    );
    assert!(
        c.objects
            .keys()
            .any(|k| k.ends_with("/deployments/gateway"))
    );
}

#[tokio::test]
async fn a_refused_apply_names_the_object_and_a_stuck_rollout_is_a_failure() {
    let (mut kube, cluster, _server) = fake();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: root-config\n";
    cluster
        .lock()
        .expect("lock")
        .refuse
        .push("root-config".into());
    let e = entry("bad", 0, "shop", manifest);
    let err = kube
        .apply(
            &[Release {
                entry: &e,
                manifest,
                unchanged: false,
            }],
            &[],
            false,
        )
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("ConfigMap shop/root-config") && text.contains("denied the request"),
        "{text}"
    );

    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n";
    cluster.lock().expect("lock").stuck.push("api".into());
    let e = entry("api", 0, "shop", manifest);
    let r = Release {
        entry: &e,
        manifest,
        unchanged: false,
    };
    kube.apply(std::slice::from_ref(&r), &[], false)
        .await
        .expect("applied");
    let status = kube.release_status(&r).await.expect("a status");
    assert_eq!(status.phase, Phase::Failed, "{status:?}");
    assert_eq!(status.reason.as_deref(), Some("ProgressDeadlineExceeded"));
}
