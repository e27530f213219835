//! The `kube` applier: server-side apply (field manager `flotilla`) through kube-rs.
//!
//! Order, as `helm upgrade --install` would do it across a cluster's releases: every
//! CustomResourceDefinition and Namespace first (CRDs waited on until Established), then the
//! plan's waves in order, a wave applied only once every release of the waves before it is
//! Ready. Within a release: its `pre-install`/`pre-upgrade` hooks in hook-weight order (each
//! waited on, with its delete policies), its objects in the manifest's order (Helm's install
//! order), the objects it shipped before and no longer ships pruned, its inventory written,
//! then its `post-*` hooks. Test hooks (`helm.sh/hook: test`) are never applied.
//!
//! What a release applied is recorded in an inventory ConfigMap in its namespace
//! (`flotilla-inventory-<release>`, as OCM's AppliedManifestWork does): pruning deletes only
//! objects an inventory lists, never one this agent did not create.
//!
//! Readiness is [`crate::readiness::compute`] over each object as the API server returns it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ::kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use ::kube::core::{ApiResource, GroupVersionKind};
use ::kube::discovery::Scope;
use plan::IndexEntry;
use plan::agent::{ObjectStatus, Phase, ReleaseStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AgentError;
use crate::apply::Release;
use crate::readiness::{self, Status};

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "flotilla";
/// The label every object this agent applies carries on its inventory.
const INVENTORY_PREFIX: &str = "flotilla-inventory-";
/// How long CRDs get to be Established before their custom resources are applied.
const CRD_WAIT: Duration = Duration::from_secs(60);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(500);

/// One object of a manifest, by identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

/// A Helm hook's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hook {
    events: BTreeSet<String>,
    weight: i64,
    delete: BTreeSet<String>,
}

/// One document of a release's manifest.
#[derive(Debug, Clone)]
struct Doc {
    value: Value,
    hook: Option<Hook>,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or_default()
    }

    fn is_test(&self) -> bool {
        self.hook
            .as_ref()
            .is_some_and(|h| h.events.iter().any(|e| e == "test" || e == "test-success"))
    }
}

/// The documents of a manifest (empty ones skipped), each with its hook.
fn docs(release: &str, manifest: &str) -> Result<Vec<Doc>, AgentError> {
    let mut out = Vec::new();
    for text in split_documents(manifest) {
        let value: Value = serde_saphyr::from_str(text).map_err(|e| {
            AgentError::Apply(format!(
                "release {release}: a manifest document is not YAML: {e}"
            ))
        })?;
        if value.is_null() {
            continue;
        }
        if !value.is_object()
            || value["kind"].as_str().is_none()
            || value["apiVersion"].as_str().is_none()
        {
            return Err(AgentError::Apply(format!(
                "release {release}: a document without apiVersion and kind"
            )));
        }
        let annotations = &value["metadata"]["annotations"];
        let hook = annotations["helm.sh/hook"].as_str().map(|events| Hook {
            events: events.split(',').map(|e| e.trim().to_owned()).collect(),
            weight: annotations["helm.sh/hook-weight"]
                .as_str()
                .and_then(|w| w.trim().parse().ok())
                .unwrap_or(0),
            delete: annotations["helm.sh/hook-delete-policy"]
                .as_str()
                .map(|p| p.split(',').map(|e| e.trim().to_owned()).collect())
                // Helm's default policy.
                .unwrap_or_else(|| ["before-hook-creation".to_owned()].into()),
        });
        out.push(Doc { value, hook });
    }
    Ok(out)
}

/// The documents of a multi-document YAML stream (split on `---` lines).
fn split_documents(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            out.push(&text[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    out.push(&text[start..]);
    out.into_iter().filter(|d| !d.trim().is_empty()).collect()
}

fn is_first(doc: &Doc) -> bool {
    doc.hook.is_none() && matches!(doc.kind(), "CustomResourceDefinition" | "Namespace")
}

/// The `kube` applier.
pub struct Kube {
    kubeconfig: Option<PathBuf>,
    client: Option<::kube::Client>,
    hook_timeout: Duration,
    /// (apiVersion, kind) → the resource and whether it is namespaced.
    kinds: BTreeMap<(String, String), (ApiResource, bool)>,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("kubeconfig", &self.kubeconfig)
            .field("hook_timeout", &self.hook_timeout)
            .finish_non_exhaustive()
    }
}

fn kube_error(what: &str, e: &::kube::Error) -> AgentError {
    AgentError::Apply(format!("{what}: {e}"))
}

fn not_found(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(s) if s.code == 404)
}

impl Kube {
    /// With the cluster's configuration (`kubeconfig`, else in-cluster or the default
    /// kubeconfig), connected on first use.
    pub fn new(kubeconfig: Option<PathBuf>, hook_timeout: Duration) -> Kube {
        Kube {
            kubeconfig,
            client: None,
            hook_timeout,
            kinds: BTreeMap::new(),
        }
    }

    async fn client(&mut self) -> Result<::kube::Client, AgentError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let unreachable =
            |e: String| AgentError::Cluster(format!("cannot reach the cluster's API server: {e}"));
        let client = match &self.kubeconfig {
            Some(path) => {
                let kc = ::kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| unreachable(format!("{}: {e}", path.display())))?;
                let config = ::kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .map_err(|e| unreachable(e.to_string()))?;
                ::kube::Client::try_from(config).map_err(|e| unreachable(e.to_string()))?
            }
            None => ::kube::Client::try_default()
                .await
                .map_err(|e| unreachable(e.to_string()))?,
        };
        self.client = Some(client.clone());
        Ok(client)
    }

    /// The API of an object's kind (discovered once per kind; a kind unknown now is asked for
    /// again next time, since a CRD may have brought it).
    async fn api(
        &mut self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<(Api<DynamicObject>, bool), AgentError> {
        let client = self.client().await?;
        let key = (api_version.to_owned(), kind.to_owned());
        if !self.kinds.contains_key(&key) {
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let gvk = GroupVersionKind::gvk(group, version, kind);
            let (ar, caps) = ::kube::discovery::pinned_kind(&client, &gvk)
                .await
                .map_err(|e| {
                    kube_error(
                        &format!("the cluster does not serve {api_version} {kind}"),
                        &e,
                    )
                })?;
            self.kinds
                .insert(key.clone(), (ar, caps.scope == Scope::Namespaced));
        }
        let (ar, namespaced) = self
            .kinds
            .get(&key)
            .cloned()
            .ok_or_else(|| AgentError::Apply(format!("no {kind}")))?;
        let api = if namespaced {
            Api::namespaced_with(client, namespace, &ar)
        } else {
            Api::all_with(client, &ar)
        };
        Ok((api, namespaced))
    }

    /// The object's reference in the release's namespace (its own when it names one).
    async fn reference(
        &mut self,
        doc: &Value,
        release_ns: &str,
    ) -> Result<(ObjectRef, Api<DynamicObject>), AgentError> {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = doc["kind"].as_str().unwrap_or_default().to_owned();
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ns = doc["metadata"]["namespace"]
            .as_str()
            .unwrap_or(release_ns)
            .to_owned();
        let (api, namespaced) = self.api(&api_version, &kind, &ns).await?;
        Ok((
            ObjectRef {
                api_version,
                kind,
                namespace: if namespaced { ns } else { String::new() },
                name,
            },
            api,
        ))
    }

    /// Server-side applies one object.
    async fn apply_object(
        &mut self,
        doc: &Value,
        release_ns: &str,
    ) -> Result<ObjectRef, AgentError> {
        let (r, api) = self.reference(doc, release_ns).await?;
        let mut body = doc.clone();
        if !r.namespace.is_empty() {
            body["metadata"]["namespace"] = Value::String(r.namespace.clone());
        }
        api.patch(
            &r.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .map_err(|e| rejected(&r, &e))?;
        Ok(r)
    }

    async fn get(&mut self, r: &ObjectRef) -> Result<Option<Value>, AgentError> {
        let (api, _) = self.api(&r.api_version, &r.kind, &r.namespace).await?;
        match api.get_opt(&r.name).await {
            Ok(o) => Ok(o.and_then(|o| serde_json::to_value(o).ok())),
            Err(e) => Err(kube_error(&format!("get {} {}", r.kind, r.name), &e)),
        }
    }

    async fn delete(&mut self, r: &ObjectRef) -> Result<(), AgentError> {
        let (api, _) = self.api(&r.api_version, &r.kind, &r.namespace).await?;
        match api.delete(&r.name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(kube_error(&format!("delete {} {}", r.kind, r.name), &e)),
        }
    }

    /// Waits until `r` is Current (Ok(true)), Failed (Ok(false)), or `timeout` passes.
    async fn wait_ready(&mut self, r: &ObjectRef, timeout: Duration) -> Result<bool, AgentError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(o) = self.get(r).await? {
                match readiness::compute(&o).status {
                    Status::Current => return Ok(true),
                    Status::Failed => return Ok(false),
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(AgentError::Apply(format!(
                    "{} {} not ready within {}s",
                    r.kind,
                    r.name,
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn wait_gone(&mut self, r: &ObjectRef, timeout: Duration) -> Result<(), AgentError> {
        let deadline = Instant::now() + timeout;
        while self.get(r).await?.is_some() {
            if Instant::now() >= deadline {
                return Err(AgentError::Apply(format!(
                    "{} {} not deleted within {}s",
                    r.kind,
                    r.name,
                    timeout.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    fn inventory_ref(release: &str, namespace: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: namespace.to_owned(),
            name: format!("{INVENTORY_PREFIX}{release}"),
        }
    }

    /// What a release applied before (`None`: never installed).
    async fn inventory(
        &mut self,
        release: &str,
        namespace: &str,
    ) -> Result<Option<Vec<ObjectRef>>, AgentError> {
        let r = Kube::inventory_ref(release, namespace);
        let Some(cm) = self.get(&r).await? else {
            return Ok(None);
        };
        let list = cm["data"]["objects"]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        Ok(Some(list))
    }

    async fn write_inventory(
        &mut self,
        entry: &IndexEntry,
        objects: &[ObjectRef],
    ) -> Result<(), AgentError> {
        let r = Kube::inventory_ref(&entry.release, &entry.namespace);
        let cm = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": r.name,
                "namespace": r.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": FIELD_MANAGER,
                    "flotilla.dev/release": entry.release.as_ref(),
                },
            },
            "data": {
                "release": entry.release.as_ref(),
                "service": entry.service.as_ref(),
                "manifest": entry.manifest.to_string(),
                "objects": serde_json::to_string(objects).unwrap_or_default(),
            },
        });
        self.apply_object(&cm, &entry.namespace).await.map(|_| ())
    }

    /// Runs the hooks of `event` (`pre-install`, …) in weight order, each waited on.
    async fn hooks(
        &mut self,
        docs: &[Doc],
        event: &str,
        namespace: &str,
    ) -> Result<(), AgentError> {
        let mut hooks: Vec<&Doc> = docs
            .iter()
            .filter(|d| d.hook.as_ref().is_some_and(|h| h.events.contains(event)))
            .collect();
        hooks.sort_by(|a, b| {
            let (ha, hb) = (
                a.hook.as_ref().map_or(0, |h| h.weight),
                b.hook.as_ref().map_or(0, |h| h.weight),
            );
            (ha, a.kind(), a.name()).cmp(&(hb, b.kind(), b.name()))
        });
        for doc in hooks {
            let delete = doc
                .hook
                .as_ref()
                .map(|h| h.delete.clone())
                .unwrap_or_default();
            let (r, _) = self.reference(&doc.value, namespace).await?;
            if delete.contains("before-hook-creation") {
                self.delete(&r).await?;
                self.wait_gone(&r, self.hook_timeout).await?;
            }
            self.apply_object(&doc.value, namespace).await?;
            let ok = self.wait_ready(&r, self.hook_timeout).await?;
            if ok && delete.contains("hook-succeeded") {
                self.delete(&r).await?;
            }
            if !ok {
                if delete.contains("hook-failed") {
                    self.delete(&r).await?;
                }
                return Err(AgentError::Apply(format!(
                    "{event} hook {} {} failed",
                    r.kind, r.name
                )));
            }
        }
        Ok(())
    }

    /// Applies one release: pre hooks, objects, pruning, inventory, post hooks.
    async fn apply_release(&mut self, r: &Release<'_>, docs: &[Doc]) -> Result<(), AgentError> {
        let ns = r.entry.namespace.to_string();
        let before = self.inventory(&r.entry.release, &ns).await?;
        let (pre, post) = if before.is_some() {
            ("pre-upgrade", "post-upgrade")
        } else {
            ("pre-install", "post-install")
        };
        self.hooks(docs, pre, &ns).await?;
        let mut applied = Vec::new();
        for doc in docs.iter().filter(|d| d.hook.is_none()) {
            applied.push(self.apply_object(&doc.value, &ns).await?);
        }
        let keep: BTreeSet<&ObjectRef> = applied.iter().collect();
        for old in before.iter().flatten() {
            if !keep.contains(old) {
                self.delete(old).await?;
            }
        }
        self.write_inventory(r.entry, &applied).await?;
        self.hooks(docs, post, &ns).await
    }

    /// Deletes everything a release's inventory lists, then the inventory.
    async fn remove_release(&mut self, entry: &IndexEntry) -> Result<(), AgentError> {
        let Some(objects) = self.inventory(&entry.release, &entry.namespace).await? else {
            return Ok(());
        };
        for o in objects.iter().rev() {
            self.delete(o).await?;
        }
        self.delete(&Kube::inventory_ref(&entry.release, &entry.namespace))
            .await
    }

    /// Applies what is due of `releases` (see the module documentation) and removes `gone`.
    /// Returns the releases applied now; a wave whose predecessors are not Ready waits for a
    /// later call.
    pub async fn apply(
        &mut self,
        releases: &[Release<'_>],
        gone: &[IndexEntry],
        all: bool,
    ) -> Result<Vec<String>, AgentError> {
        let due: Vec<&Release<'_>> = releases.iter().filter(|r| all || !r.unchanged).collect();
        let mut parsed: BTreeMap<&str, Vec<Doc>> = BTreeMap::new();
        for r in &due {
            let docs: Vec<Doc> = docs(&r.entry.release, r.manifest)?
                .into_iter()
                .filter(|d| !d.is_test())
                .collect();
            parsed.insert(&r.entry.release, docs);
        }
        // CRDs and Namespaces of every due release first; CRDs waited on.
        let mut crds = Vec::new();
        for r in &due {
            for doc in parsed
                .get(r.entry.release.as_ref())
                .into_iter()
                .flatten()
                .filter(|d| is_first(d))
            {
                let o = self.apply_object(&doc.value, &r.entry.namespace).await?;
                if o.kind == "CustomResourceDefinition" {
                    crds.push(o);
                }
            }
        }
        for crd in &crds {
            if !self.wait_ready(crd, CRD_WAIT).await? {
                return Err(AgentError::Apply(format!(
                    "CustomResourceDefinition {} was not accepted",
                    crd.name
                )));
            }
        }
        // Kinds a CRD brought are discovered afresh.
        if !crds.is_empty() {
            self.kinds
                .retain(|(_, kind), _| kind != "CustomResourceDefinition");
        }
        let waves: BTreeSet<u32> = due.iter().map(|r| r.entry.wave).collect();
        let mut done = Vec::new();
        for wave in waves {
            // Every release of an earlier wave must be Ready (applied ones, looked at now).
            let earlier: Vec<&Release<'_>> =
                releases.iter().filter(|r| r.entry.wave < wave).collect();
            for e in earlier {
                let applied_now = done
                    .iter()
                    .any(|d: &String| d.as_str() == e.entry.release.as_ref());
                if !(e.unchanged || applied_now) {
                    return Ok(done);
                }
                if self.release_status(e).await?.phase != Phase::Ready {
                    return Ok(done);
                }
            }
            for r in due.iter().filter(|r| r.entry.wave == wave) {
                let docs = parsed
                    .get(r.entry.release.as_ref())
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let rest: Vec<Doc> = docs.iter().filter(|d| !is_first(d)).cloned().collect();
                self.apply_release(r, &rest).await?;
                done.push(r.entry.release.to_string());
            }
        }
        for g in gone {
            self.remove_release(g).await?;
        }
        Ok(done)
    }

    /// A release's status: every object of its manifest (hooks aside) looked at now.
    pub async fn release_status(&mut self, r: &Release<'_>) -> Result<ReleaseStatus, AgentError> {
        let mut s = ReleaseStatus::new(r.entry, Phase::Ready, 0);
        for doc in docs(&r.entry.release, r.manifest)?
            .into_iter()
            .filter(|d| d.hook.is_none())
        {
            let (o, _) = self.reference(&doc.value, &r.entry.namespace).await?;
            let (ready, reason, message) = match self.get(&o).await? {
                None => (
                    false,
                    Some("NotFound".to_owned()),
                    "not in the cluster".to_owned(),
                ),
                Some(v) => {
                    let rd = readiness::compute(&v);
                    let reason = match &rd.fault {
                        Some(readiness::Fault::CrashLoopBackOff { .. }) => {
                            Some("CrashLoopBackOff".to_owned())
                        }
                        Some(readiness::Fault::ImagePull { reason, .. }) => Some(reason.clone()),
                        Some(readiness::Fault::JobFailed) => Some("JobFailed".to_owned()),
                        Some(readiness::Fault::ProgressDeadlineExceeded) => {
                            Some("ProgressDeadlineExceeded".to_owned())
                        }
                        None => rd.reason.clone(),
                    };
                    if rd.status == Status::Failed {
                        s.phase = Phase::Failed;
                        s.reason = reason.clone();
                        s.message = format!("{} {}: {}", o.kind, o.name, rd.message);
                    }
                    (rd.status == Status::Current, reason, rd.message)
                }
            };
            if !ready && s.phase == Phase::Ready {
                s.phase = Phase::Progressing;
            }
            s.objects.push(ObjectStatus {
                kind: o.kind,
                namespace: o.namespace,
                name: o.name,
                ready,
                reason,
                message,
            });
        }
        Ok(s)
    }
}

/// An apply the API server refused: the object and its message (admission, validation).
fn rejected(r: &ObjectRef, e: &::kube::Error) -> AgentError {
    match e {
        ::kube::Error::Api(s) if (400..500).contains(&s.code) => AgentError::Rejected {
            object: format!("{} {}/{}", r.kind, r.namespace, r.name).replace(" /", " "),
            message: s.message.clone(),
        },
        _ => kube_error(&format!("apply {} {}", r.kind, r.name), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_hooks_and_their_policies_are_read() {
        let manifest = "---\n# Source: a/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-5\"\n    helm.sh/hook-delete-policy: hook-succeeded\n---\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: \"--- not a separator\"\n";
        let d = docs("a", manifest).expect("parsed");
        assert_eq!(d.len(), 3);
        let hook = d[0].hook.as_ref().expect("a hook");
        assert!(hook.events.contains("pre-install") && hook.events.contains("pre-upgrade"));
        assert_eq!(hook.weight, -5);
        assert_eq!(hook.delete, ["hook-succeeded".to_owned()].into());
        assert!(d[1].is_test());
        assert!(d[2].hook.is_none());
        assert_eq!(d[2].value["data"]["k"], "--- not a separator");
        assert!(docs("a", "kind: [unclosed").is_err());
        assert!(
            docs("a", "just: a map\n").is_err(),
            "no apiVersion and kind"
        );
    }
}
