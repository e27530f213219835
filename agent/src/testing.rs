//! A fake Kubernetes API server for tests (feature `testing`), over real HTTP on a free
//! loopback port, with a kubeconfig pointing at it: discovery of a few core kinds (and
//! `example.com/v1` Widgets once their CRD is applied), server-side apply, GET and DELETE, each
//! request logged. Objects get a status that makes them ready unless told otherwise
//! (`unready`, `stuck`), and applies of objects named in `refuse` are refused as an admission
//! webhook would.
//!
//! No Kubernetes API server can be installed here; kmock 0.8 (PyPI), the emulator tried, answers
//! a server-side apply of an object that does not exist yet with 404 (it treats PATCH as an
//! update), so it cannot stand for one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use serde_json::{Value, json};

/// (group/version, plural) → (kind, namespaced).
fn resources() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    vec![
        ("v1", "namespaces", "Namespace", false),
        ("v1", "configmaps", "ConfigMap", true),
        ("v1", "pods", "Pod", true),
        ("v1", "services", "Service", true),
        ("apps/v1", "deployments", "Deployment", true),
        ("batch/v1", "jobs", "Job", true),
        (
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
        ),
        ("example.com/v1", "widgets", "Widget", true),
    ]
}

/// The fake API server's state.
#[derive(Default)]
pub struct Cluster {
    /// path → object.
    pub objects: BTreeMap<String, Value>,
    /// `METHOD path?query` of every request but discovery.
    pub log: Vec<String>,
    /// Deployments (by name) that are not available yet.
    pub unready: Vec<String>,
    /// Objects (by name) whose apply the cluster refuses.
    pub refuse: Vec<String>,
    /// Deployments (by name) whose rollout exceeded its deadline.
    pub stuck: Vec<String>,
}

pub type Shared = Arc<Mutex<Cluster>>;

fn status_of(kind: &str, name: &str, c: &Cluster) -> Value {
    match kind {
        "Deployment" if c.stuck.iter().any(|n| n == name) => json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 0,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                            "message": "ReplicaSet \"api-1\" has timed out progressing."}]
        }),
        "Deployment" if c.unready.iter().any(|n| n == name) => json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 0, "availableReplicas": 0,
            "conditions": [{"type": "Available", "status": "False"}]
        }),
        "Deployment" => json!({
            "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1,
            "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]
        }),
        "Job" => json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
        "CustomResourceDefinition" => json!({"conditions": [
            {"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}),
        _ => Value::Null,
    }
}

fn respond(status: StatusCode, body: Value) -> Response<Full<bytes::Bytes>> {
    let mut r = Response::new(Full::new(bytes::Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
           "reason": reason, "message": message, "metadata": {}})
}

async fn handle(cluster: Shared, req: Request<axum::body::Body>) -> Response<Full<bytes::Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut c = cluster.lock().unwrap_or_else(|e| e.into_inner());
    // Discovery: /api/v1, /apis/GROUP/VERSION.
    let gv = path
        .strip_prefix("/apis/")
        .or_else(|| path.strip_prefix("/api/"))
        .unwrap_or_default();
    if method == http::Method::GET && resources().iter().any(|r| r.0 == gv) {
        let crd_known = c
            .objects
            .keys()
            .any(|k| k.ends_with("/widgets.example.com"));
        if gv == "example.com/v1" && !crd_known {
            return respond(
                StatusCode::NOT_FOUND,
                status_body(404, "NotFound", "no such group"),
            );
        }
        let list: Vec<Value> = resources()
            .into_iter()
            .filter(|r| r.0 == gv)
            .map(|(_, plural, kind, namespaced)| json!({
                "name": plural, "singularName": kind.to_lowercase(), "namespaced": namespaced,
                "kind": kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]
            }))
            .collect();
        return respond(
            StatusCode::OK,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
        );
    }
    c.log.push(format!("{method} {path}?{query}"));
    match method {
        http::Method::PATCH => {
            assert_eq!(
                content_type, "application/apply-patch+yaml",
                "server-side apply"
            );
            assert!(
                query.contains("fieldManager=flotilla") && query.contains("force=true"),
                "{query}"
            );
            let mut obj: Value = serde_json::from_slice(&body).expect("a JSON apply body");
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if c.refuse.contains(&name) {
                return respond(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    status_body(
                        422,
                        "Invalid",
                        &format!(
                            "admission webhook \"policy.example.com\" denied the request: {name} runs as root"
                        ),
                    ),
                );
            }
            let kind = obj["kind"].as_str().unwrap_or_default().to_owned();
            obj["metadata"]["generation"] = json!(1);
            obj["metadata"]["uid"] = json!(format!("uid-{name}"));
            let status = status_of(&kind, &name, &c);
            if !status.is_null() {
                obj["status"] = status;
            }
            c.objects.insert(path, obj.clone());
            respond(StatusCode::OK, obj)
        }
        http::Method::GET => match c.objects.get(&path) {
            Some(o) => {
                let mut o = o.clone();
                let kind = o["kind"].as_str().unwrap_or_default().to_owned();
                let name = o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let status = status_of(&kind, &name, &c);
                if !status.is_null() {
                    o["status"] = status;
                }
                respond(StatusCode::OK, o)
            }
            None => respond(
                StatusCode::NOT_FOUND,
                status_body(404, "NotFound", "not found"),
            ),
        },
        http::Method::DELETE => match c.objects.remove(&path) {
            Some(_) => respond(
                StatusCode::OK,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}),
            ),
            None => respond(
                StatusCode::NOT_FOUND,
                status_body(404, "NotFound", "not found"),
            ),
        },
        _ => respond(
            StatusCode::METHOD_NOT_ALLOWED,
            status_body(405, "MethodNotAllowed", ""),
        ),
    }
}

/// A running fake API server, stopped when dropped.
pub struct FakeKube {
    pub url: String,
    pub cluster: Shared,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeKube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKube")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl FakeKube {
    /// Starts the server on its own thread.
    pub fn start() -> std::io::Result<FakeKube> {
        let cluster: Shared = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&cluster);
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(move |req: Request<axum::body::Body>| {
                    let c = Arc::clone(&shared);
                    async move { handle(c, req).await }
                });
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\nusers:\n- name: fake\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\n"
            ),
        )?;
        Ok(FakeKube {
            url,
            cluster,
            kubeconfig,
            _dir: dir,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// A kubeconfig for this server.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The requests so far (discovery aside), taken.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.cluster.lock().unwrap_or_else(|e| e.into_inner()).log)
    }

    /// The object at an API path, if any.
    pub fn object(&self, path: &str) -> Option<Value> {
        self.cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .objects
            .get(path)
            .cloned()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
