//! What agents call (`/v1/clusters/{cluster}/…`) and the provisioner (`POST /v1/clusters`,
//! `DELETE /v1/clusters/{cluster}`).
//!
//! Every agent request carries a bearer JWT ([`crate::identity`]); it is served only when the
//! token's cluster is the path's cluster (or, for a cluster registered with `identity:
//! shared`, the legacy shared identity). A cluster reads its own index and only the objects
//! its current or previous bundle names: knowing another cluster's digest gets it nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plan::agent::{Bundle, StatusReport};
use plan::{ClusterIndex, Digest};
use policies::Action;
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, App, caller, check_name, decide, write_audit};
use crate::auth::now;
use crate::controller::{Controller, ControllerError};
use crate::identity::{AgentToken, Refusal};
use crate::records::AuditRecord;
use crate::registry::{ClusterSpec, IdentityMode, Registration};

/// Parsed indexes kept at most (the cache is emptied when full).
const INDEX_CACHE: usize = 1024;
/// The longest a bundle poll waits for a new generation.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The largest status report accepted.
pub const MAX_STATUS_BYTES: usize = 1 << 20;
/// Refusals audited per second at most (the rest are counted): a flood of bad tokens does
/// not become a flood of writes.
const REFUSAL_AUDITS_PER_SEC: u32 = 20;
/// A cluster accepted on the shared identity is audited once per this long.
const SHARED_AUDIT_EVERY: Duration = Duration::from_secs(3600);

/// What the server knows of a cluster's agent.
#[derive(Debug, Clone)]
pub struct AgentSeen {
    /// Unix seconds of its last request that verified.
    pub last_seen: u64,
    /// Its last status report.
    pub report: Option<Arc<StatusReport>>,
    /// When it was last audited as using the shared identity.
    shared_audited: Option<Instant>,
    /// The last refusal of a request for this cluster (Unix seconds, why): an agent that
    /// cannot authenticate is silent, and this is the evidence.
    pub refused: Option<(u64, String)>,
}

impl Controller {
    /// Loads the registrations: the fleet's clusters, then the store's records.
    pub(crate) async fn load_registry(&self) -> Result<(), ControllerError> {
        let mut registry: BTreeMap<String, Registration> = self
            .clusters
            .iter()
            .map(|(c, e)| (c.clone(), Registration::declared(c, e)))
            .collect();
        for name in self.store.list("registry").await? {
            let Some(cluster) = name.strip_suffix(".json") else {
                continue;
            };
            if let Some(r) = self
                .store
                .get_json::<Registration>(&Registration::path(cluster))
                .await?
            {
                registry.insert(r.cluster.clone(), r);
            }
        }
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = registry;
        Ok(())
    }

    /// The cluster files of the clusters registered through the API in `env`.
    pub(crate) fn registered_cluster_files(&self, env: &str) -> Vec<(String, String)> {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        registry
            .values()
            .filter(|r| !r.deregistered && !r.declared && r.environment == env)
            .filter_map(|r| {
                let spec = r.spec.as_ref()?;
                Some((
                    format!("clusters/{}.yaml", r.cluster),
                    spec.to_cluster_file(),
                ))
            })
            .collect()
    }

    /// The registration of `cluster`.
    pub fn registration(&self, cluster: &str) -> Option<Registration> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(cluster)
            .cloned()
    }

    /// Every registration, by name.
    pub fn registrations(&self) -> Vec<Registration> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// What is known of each cluster's agent.
    pub fn agents_seen(&self) -> BTreeMap<String, AgentSeen> {
        self.agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers a cluster (or changes a declared one's identity mode). Written to the store
    /// before it is made current; its environment is compiled again.
    pub async fn register(
        self: &Arc<Self>,
        spec: ClusterSpec,
        identity: IdentityMode,
        by: &str,
    ) -> Result<Registration, ControllerError> {
        let _w = self.writes_lock().await;
        let known: Vec<&str> = self
            .config
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        let declared = self.clusters.get(&spec.name).cloned();
        let environment = match &declared {
            Some(env) => {
                // A declared cluster's spec is the fleet's: only its identity mode changes here.
                let other = |field: &str, given: &str| {
                    ControllerError::Invalid(format!(
                        "cluster `{}` is declared in the fleet: its {field} is the fleet's, not `{given}` (only `identity` may be given)",
                        spec.name
                    ))
                };
                if !spec.environment.is_empty() && spec.environment != *env {
                    return Err(other("environment", &spec.environment));
                }
                if !spec.provider.is_empty() || !spec.region.is_empty() {
                    return Err(other("provider and region", &spec.provider));
                }
                if !spec.tags.is_empty() || !spec.metadata.is_empty() {
                    return Err(other("tags and metadata", "…"));
                }
                env.clone()
            }
            None => {
                if !known.contains(&spec.environment.as_str()) {
                    return Err(ControllerError::UnknownEnvironment {
                        name: spec.environment.clone(),
                        known: known.join(", "),
                    });
                }
                // Its environment must still compile with it (its file read as the fleet's): a cluster whose metadata the
                // services' templates cannot use is refused here, not left to break the
                // environment's next pass.
                let file = (
                    format!("clusters/{}.yaml", spec.name),
                    spec.to_cluster_file(),
                );
                self.compile_env(&spec.environment, Some(file))
                    .await
                    .map_err(|e| match e {
                        ControllerError::Diagnostics(text) => ControllerError::Invalid(format!(
                            "environment `{}` does not compile with this cluster:\n{text}",
                            spec.environment
                        )),
                        other => other,
                    })?;
                spec.environment.clone()
            }
        };
        let previous = self.registration(&spec.name);
        let record = Registration {
            cluster: spec.name.clone(),
            environment: environment.clone(),
            identity,
            declared: declared.is_some(),
            spec: declared.is_none().then_some(spec),
            registered_at: previous
                .as_ref()
                .filter(|p| !p.deregistered)
                .map_or_else(now, |p| p.registered_at),
            registered_by: by.to_owned(),
            deregistered: false,
            vault_role: previous.and_then(|p| p.vault_role),
        };
        self.put_registration(&record).await?;
        if !record.declared {
            self.bootstrap
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(record.cluster.clone(), crate::feedback::Bootstrap::new());
        }
        self.mark_dirty(&environment).await;
        Ok(record)
    }

    /// Records that `cluster` has a Vault role.
    pub async fn set_vault_role(&self, cluster: &str, role: &str) -> Result<(), ControllerError> {
        let _w = self.writes_lock().await;
        let Some(mut r) = self.registration(cluster) else {
            return Err(ControllerError::Invalid(format!("no cluster `{cluster}`")));
        };
        r.vault_role = Some(role.to_owned());
        self.put_registration(&r).await
    }

    /// Deregisters `cluster`: its agent is refused from now on; a cluster registered through
    /// the API leaves its environment's plan.
    pub async fn deregister(
        &self,
        cluster: &str,
        by: &str,
    ) -> Result<Registration, ControllerError> {
        let _w = self.writes_lock().await;
        let Some(mut r) = self.registration(cluster).filter(|r| !r.deregistered) else {
            return Err(ControllerError::Invalid(format!(
                "no registered cluster `{cluster}`"
            )));
        };
        r.deregistered = true;
        r.registered_by = by.to_owned();
        self.put_registration(&r).await?;
        self.mark_dirty(&r.environment).await;
        Ok(r)
    }

    async fn put_registration(&self, r: &Registration) -> Result<(), ControllerError> {
        let mut body = serde_json::to_vec_pretty(r).unwrap_or_default();
        body.push(b'\n');
        self.store
            .put(&Registration::path(&r.cluster), body.into())
            .await?;
        self.registry
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r.cluster.clone(), r.clone());
        Ok(())
    }

    /// A cluster's staged index with `digest` (`staging/indexes/<cluster>/<hex>.yaml`; a store
    /// staged by an earlier version kept the current one at `staging/clusters/<cluster>.yaml`
    /// and the one before at `staging/previous/<cluster>.yaml`, read when they are that
    /// digest).
    pub async fn staged_index(
        &self,
        cluster: &str,
        digest: &Digest,
    ) -> Result<Option<ClusterIndex>, ControllerError> {
        let rel = format!("staging/{}", bundle::layout::staged_index(cluster, digest));
        let read = |rel: String| async move {
            let Some(bytes) = self.store.get(&rel).await? else {
                return Ok(None);
            };
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| ControllerError::Invalid(format!("{rel}: {e}")))?;
            ClusterIndex::from_text(text)
                .map(Some)
                .map_err(|e| ControllerError::Invalid(format!("{rel}: {e}")))
        };
        if let Some(index) = read(rel).await? {
            return Ok(Some(index));
        }
        for old in [
            format!("staging/{}", bundle::layout::cluster_index(cluster)),
            format!("staging/previous/{cluster}.yaml"),
        ] {
            if let Some(index) = read(old).await?
                && index.digest() == *digest
            {
                return Ok(Some(index));
            }
        }
        Ok(None)
    }

    /// A cluster's index with `digest`, parsed once per staged digest (an agent fetching a
    /// bundle's objects asks for it once per object).
    pub(crate) async fn current_index(
        &self,
        cluster: &str,
        digest: &Digest,
    ) -> Result<Option<Arc<ClusterIndex>>, ControllerError> {
        {
            let cache = self.index_cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((d, index)) = cache.get(cluster)
                && d == digest
            {
                return Ok(Some(Arc::clone(index)));
            }
        }
        let Some(index) = self.staged_index(cluster, digest).await? else {
            return Ok(None);
        };
        let index = Arc::new(index);
        let mut cache = self.index_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= INDEX_CACHE {
            cache.clear();
        }
        cache.insert(cluster.to_owned(), (*digest, Arc::clone(&index)));
        Ok(Some(index))
    }

    /// Stores `report` as `cluster`'s status when it says something new (the heartbeat
    /// itself is kept in memory).
    pub async fn report(&self, cluster: &str, report: StatusReport) -> Result<(), ControllerError> {
        let unchanged = {
            let agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
            agents
                .get(cluster)
                .and_then(|a| a.report.as_deref())
                .is_some_and(|r| *r == report)
        };
        if !unchanged {
            let mut body = serde_json::to_vec(&json!({
                "cluster": cluster,
                "receivedAt": now(),
                "report": report,
            }))
            .unwrap_or_default();
            body.push(b'\n');
            self.store
                .put(&format!("status/{cluster}.json"), body.into())
                .await?;
            // A state changed: the feedback looks at it now, not at the next interval.
            self.wake.notify_one();
        }
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        let seen = agents
            .entry(cluster.to_owned())
            .or_insert_with(AgentSeen::new);
        seen.last_seen = now();
        seen.report = Some(Arc::new(report));
        Ok(())
    }

    /// What other replicas heard of agents: when each was last heard from (unix seconds),
    /// and the reports they stored.
    pub(crate) fn merge_seen(
        &self,
        heard: BTreeMap<String, u64>,
        reports: Vec<(String, StatusReport)>,
    ) {
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        for (cluster, at) in heard {
            if self.registration(&cluster).is_none() {
                continue;
            }
            let seen = agents.entry(cluster).or_insert_with(AgentSeen::new);
            seen.last_seen = seen.last_seen.max(at);
        }
        for (cluster, report) in reports {
            if self.registration(&cluster).is_none() {
                continue;
            }
            let seen = agents.entry(cluster).or_insert_with(AgentSeen::new);
            seen.report = Some(Arc::new(report));
        }
    }

    /// Notes a refused request for `cluster` (only a registered one: a flood of made-up names
    /// grows nothing).
    fn note_refusal(&self, cluster: &str, why: &str) {
        if self.registration(cluster).is_none() {
            return;
        }
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        let seen = agents
            .entry(cluster.to_owned())
            .or_insert_with(AgentSeen::new);
        seen.refused = Some((now(), why.to_owned()));
    }

    /// Notes a verified request of `cluster`'s agent; true when it used the shared identity
    /// and has not been audited for it lately.
    fn seen(&self, cluster: &str, shared: bool) -> bool {
        let mut agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        let seen = agents
            .entry(cluster.to_owned())
            .or_insert_with(AgentSeen::new);
        seen.last_seen = now();
        if shared
            && seen
                .shared_audited
                .is_none_or(|t| t.elapsed() >= SHARED_AUDIT_EVERY)
        {
            seen.shared_audited = Some(Instant::now());
            return true;
        }
        false
    }
}

impl AgentSeen {
    fn new() -> AgentSeen {
        AgentSeen {
            last_seen: 0,
            report: None,
            shared_audited: None,
            refused: None,
        }
    }
}

/// The token of an agent request, verified and matched to the path's cluster.
async fn agent(
    app: &App,
    headers: &HeaderMap,
    cluster: &str,
    source: SocketAddr,
) -> Result<AgentToken, ApiError> {
    let m = &app.controller.metrics;
    m.agent_requests.fetch_add(1, Ordering::Relaxed);
    check_name("cluster", cluster)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let token = match app.agents.verify_header(bearer).await {
        Ok(t) => t,
        Err(refusal) => {
            m.refused(refusal.code());
            app.controller.note_refusal(cluster, &refusal.to_string());
            refuse_audit(
                app,
                source,
                cluster,
                "",
                refusal.code(),
                &refusal.to_string(),
            )
            .await;
            let status = if refusal == Refusal::IssuerUnavailable {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::UNAUTHORIZED
            };
            return Err(ApiError::new(
                status,
                "unauthenticated",
                refusal.to_string(),
            ));
        }
    };
    let builtin = token.issuer == crate::auth::ISSUER;
    let registration = app.controller.registration(cluster);
    let admitted = registration.as_ref().and_then(|r| {
        r.admits(
            &token.cluster,
            token.issued_at,
            builtin,
            &app.shared_identity,
        )
    });
    let Some(shared) = admitted else {
        let (code, message) = match &registration {
            None => ("unregistered", format!("no registered cluster `{cluster}`")),
            Some(r) if r.deregistered => (
                "deregistered",
                format!("cluster `{cluster}` is deregistered"),
            ),
            Some(_) if token.cluster == cluster => (
                "revoked",
                format!("this token for `{cluster}` was issued before its registration"),
            ),
            Some(_) => (
                "wrong-cluster",
                format!(
                    "a token of `{}` may not act for cluster `{cluster}`",
                    token.cluster
                ),
            ),
        };
        m.refused(code);
        app.controller.note_refusal(cluster, &message);
        refuse_audit(app, source, cluster, &token.cluster, code, &message).await;
        return Err(ApiError::new(StatusCode::FORBIDDEN, "denied", message));
    };
    if shared {
        m.shared_identity_requests.fetch_add(1, Ordering::Relaxed);
    }
    if app.controller.seen(cluster, shared) {
        eprintln!(
            "flotilla serve: warning: cluster `{cluster}` is served on the legacy shared identity `{}`: give it its own (`flotilla clusters register {cluster}`, then its own credentials)",
            token.cluster
        );
        write_audit(
            app,
            AuditRecord {
                time: crate::auth::now_millis(),
                principal: format!("cluster:{}", token.cluster),
                groups: Vec::new(),
                source: source.ip().to_string(),
                ci_job: None,
                action: "agent".into(),
                target: format!("cluster/{cluster}"),
                result: "shared-identity".into(),
                detail: "accepted on the legacy shared identity".into(),
            },
        )
        .await;
    }
    Ok(token)
}

/// Audits a refused agent request, within the per-second budget.
async fn refuse_audit(
    app: &App,
    source: SocketAddr,
    cluster: &str,
    claimed: &str,
    code: &str,
    message: &str,
) {
    {
        let mut budget = app.refusal_budget.lock().unwrap_or_else(|e| e.into_inner());
        let second = now();
        if budget.0 != second {
            *budget = (second, 0);
        }
        if budget.1 >= REFUSAL_AUDITS_PER_SEC {
            return;
        }
        budget.1 += 1;
    }
    write_audit(
        app,
        AuditRecord {
            time: crate::auth::now_millis(),
            principal: if claimed.is_empty() {
                String::new()
            } else {
                format!("cluster:{claimed}")
            },
            groups: Vec::new(),
            source: source.ip().to_string(),
            ci_job: None,
            action: "agent".into(),
            target: format!("cluster/{cluster}"),
            result: if code == "wrong-cluster"
                || code == "deregistered"
                || code == "unregistered"
                || code == "revoked"
            {
                "denied".into()
            } else {
                "unauthenticated".into()
            },
            detail: format!("{code}: {message}"),
        },
    )
    .await;
}

#[derive(Debug, Deserialize)]
pub(crate) struct BundleQuery {
    /// Seconds to wait for a generation other than the one `If-None-Match` names.
    #[serde(default)]
    wait: Option<u64>,
}

fn etag(digest: &Digest) -> String {
    format!("\"{digest}\"")
}

/// `GET /v1/clusters/{cluster}/bundle`.
pub(crate) async fn bundle(
    State(app): State<Arc<App>>,
    Path(cluster): Path<String>,
    Query(q): Query<BundleQuery>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    agent(&app, &headers, &cluster, source).await?;
    let c = &app.controller;
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let wait = Duration::from_secs(q.wait.unwrap_or(0)).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut staged = c.staged_tx.subscribe();
    let record = loop {
        staged.borrow_and_update();
        let record = c.staged_record(&cluster).await;
        let same = match (&record, &known) {
            (Some(r), Some(k)) => etag(&r.digest) == *k,
            (None, _) => true,
            _ => false,
        };
        if !same {
            break record;
        }
        let waited = tokio::time::timeout_at(deadline, staged.changed()).await;
        if !matches!(waited, Ok(Ok(()))) {
            // The wait is over (or the server is stopping): nothing new.
            break record.filter(|_| false);
        }
    };
    let Some(record) = record else {
        c.metrics
            .bundles_not_modified
            .fetch_add(1, Ordering::Relaxed);
        if known.is_some() {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-staged",
            format!("nothing is staged for cluster `{cluster}` yet"),
        ));
    };
    let index = c
        .current_index(&cluster, &record.digest)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the staged index is missing",
            )
        })?;
    // An index is named by its digest: one that is not what its name says is not served.
    if index.digest() != record.digest {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "staging",
            "a new bundle is being staged; poll again",
        ));
    }
    c.metrics.bundles_served.fetch_add(1, Ordering::Relaxed);
    {
        let mut boot = c.bootstrap.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = boot.get_mut(&cluster)
            && b.first_bundle.is_none()
        {
            let t = b.registered.elapsed();
            b.first_bundle = Some(t);
            c.metrics.observe_bootstrap_bundle(t);
        }
    }
    let body = Bundle::new(ClusterIndex::clone(&index), record.generation);
    let mut r = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(&record.digest)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    Ok(r)
}

/// `GET /v1/clusters/{cluster}/objects/{digest}`.
pub(crate) async fn object(
    State(app): State<Arc<App>>,
    Path((cluster, digest)): Path<(String, String)>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    agent(&app, &headers, &cluster, source).await?;
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no object {digest} in cluster `{cluster}`'s bundle"),
        )
    };
    let d: Digest = digest.parse().map_err(|_| not_found())?;
    let c = &app.controller;
    let lists = |index: &ClusterIndex| index.releases.iter().any(|r| r.manifest == d);
    let mut listed = false;
    if let Some(record) = c.staged_record(&cluster).await {
        if let Some(index) = c.current_index(&cluster, &record.digest).await? {
            listed = lists(&index);
        }
        if !listed
            && let Some(previous) = record.previous
            && let Some(index) = c.staged_index(&cluster, &previous).await?
        {
            listed = lists(&index);
        }
    }
    if !listed {
        return Err(not_found());
    }
    let bytes = c
        .store
        .get(&format!("staging/{}", bundle::layout::object(&d)))
        .await
        .map_err(ControllerError::from)?
        .ok_or_else(not_found)?;
    c.metrics.objects_served.fetch_add(1, Ordering::Relaxed);
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml".to_owned()),
            (header::ETAG, etag(&d)),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `POST /v1/clusters/{cluster}/status`.
pub(crate) async fn status(
    State(app): State<Arc<App>>,
    Path(cluster): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    agent(&app, &headers, &cluster, source).await?;
    if body.len() > MAX_STATUS_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid",
            format!("a status report is at most {MAX_STATUS_BYTES} bytes"),
        ));
    }
    let report: StatusReport = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("the body: {e}")))?;
    app.controller.report(&cluster, report).await?;
    app.controller
        .metrics
        .status_reports
        .fetch_add(1, Ordering::Relaxed);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/clusters/{cluster}/status` (a `read`): the agent's last report and heartbeat.
pub(crate) async fn read_status(
    State(app): State<Arc<App>>,
    Path(cluster): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::api::read_access(&app, &headers)?;
    check_name("cluster", &cluster)?;
    let seen = app.controller.agents_seen().remove(&cluster);
    Ok(axum::Json(json!({
        "cluster": cluster,
        "lastSeen": seen.as_ref().map(|s| s.last_seen),
        "report": seen.and_then(|s| s.report),
    }))
    .into_response())
}

/// `POST /v1/clusters/{cluster}/token`: a fresh built-in token for the agent holding a valid
/// one (its lifetime the same as the one presented).
pub(crate) async fn refresh(
    State(app): State<Arc<App>>,
    Path(cluster): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = agent(&app, &headers, &cluster, source).await?;
    if token.issuer != crate::auth::ISSUER || token.cluster != cluster {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "only this server's own cluster tokens are refreshed here (an OIDC token is refreshed at its issuer)",
        ));
    }
    let ttl = token.expires_at.saturating_sub(token.issued_at).max(60);
    let fresh = app
        .issuer
        .issue_agent(&cluster, ttl)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "error", e.to_string()))?;
    Ok(axum::Json(json!({"token": fresh, "expiresIn": ttl})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RegisterBody {
    #[serde(flatten)]
    spec: ClusterSpec,
    #[serde(default)]
    identity: IdentityMode,
    /// The lifetime of the bootstrap token (built-in issuer), in seconds.
    #[serde(default)]
    token_ttl: Option<u64>,
}

/// The default lifetime of a bootstrap token: a day (the agent refreshes it).
pub const BOOTSTRAP_TTL_SECS: u64 = 24 * 3600;

/// `POST /v1/clusters` (`manage-clusters`).
pub(crate) async fn register(
    State(app): State<Arc<App>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = caller(&app, &headers);
    let name = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("name")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    let audit = crate::api::Audit::new(
        &app,
        &principal,
        source,
        &headers,
        "register",
        format!("cluster/{name}"),
    );
    let result = async {
        let principal = principal.clone()?;
        decide(&app, &principal, Action::ManageClusters, "", &[])?;
        let body: RegisterBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("the body: {e}"))
        })?;
        check_name("cluster", &body.spec.name)?;
        let cluster = body.spec.name.clone();
        let reg = app
            .controller
            .register(body.spec, body.identity, &principal.to_string())
            .await?;
        let credentials = match &app.vault {
            Some(vault) => {
                let creds = vault
                    .provision(&cluster)
                    .await
                    .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "vault", e.to_string()))?;
                app.controller.set_vault_role(&cluster, &cluster).await?;
                json!({"kind": "vault-approle", "vault": creds})
            }
            None => {
                let ttl = body.token_ttl.unwrap_or(BOOTSTRAP_TTL_SECS);
                let token = app.issuer.issue_agent(&cluster, ttl).map_err(|e| {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.to_string())
                })?;
                json!({"kind": "token", "token": token, "expiresIn": ttl})
            }
        };
        Ok((
            StatusCode::CREATED,
            axum::Json(json!({"registration": reg, "credentials": credentials})),
        ))
    }
    .await;
    audit
        .finish(result, |(_, v)| {
            // The credentials are never audited.
            let reg = &v.0["registration"];
            (
                "ok".to_owned(),
                format!(
                    "{} in {} (identity {})",
                    reg["cluster"].as_str().unwrap_or_default(),
                    reg["environment"].as_str().unwrap_or_default(),
                    reg["identity"].as_str().unwrap_or_default()
                ),
            )
        })
        .await
}

/// `DELETE /v1/clusters/{cluster}` (`manage-clusters`).
pub(crate) async fn deregister(
    State(app): State<Arc<App>>,
    Path(cluster): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let principal = caller(&app, &headers);
    let audit = crate::api::Audit::new(
        &app,
        &principal,
        source,
        &headers,
        "deregister",
        format!("cluster/{cluster}"),
    );
    let result = async {
        let principal = principal.clone()?;
        decide(&app, &principal, Action::ManageClusters, "", &[])?;
        check_name("cluster", &cluster)?;
        let reg = app
            .controller
            .deregister(&cluster, &principal.to_string())
            .await?;
        if let (Some(vault), Some(_)) = (&app.vault, &reg.vault_role) {
            vault
                .revoke(&cluster)
                .await
                .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "vault", e.to_string()))?;
        }
        Ok((StatusCode::OK, axum::Json(json!({"registration": reg}))))
    }
    .await;
    audit
        .finish(result, |_| ("ok".to_owned(), String::new()))
        .await
}

/// `GET /v1/identities` (a `read`): each registered cluster's identity mode and when its
/// agent was last seen, shared ones first.
pub(crate) async fn identities(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::api::read_access(&app, &headers)?;
    let seen = app.controller.agents_seen();
    let mut list: Vec<serde_json::Value> = app
        .controller
        .registrations()
        .into_iter()
        .map(|r| {
            json!({
                "cluster": r.cluster,
                "environment": r.environment,
                "identity": r.identity.as_str(),
                "declared": r.declared,
                "deregistered": r.deregistered,
                "vaultRole": r.vault_role,
                "lastSeen": seen.get(&r.cluster).map(|s| s.last_seen),
            })
        })
        .collect();
    list.sort_by_key(|v| {
        (
            v["identity"] != "shared",
            v["cluster"].as_str().map(str::to_owned),
        )
    });
    Ok(axum::Json(json!({"clusters": list})).into_response())
}
