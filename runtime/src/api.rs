//! The HTTP API (`/v1`, JSON; see `docs/api.md`). Every `/v1` request carries a bearer token of
//! the built-in issuer; the fleet's RBAC decides (before the body is looked at, so a refused
//! caller learns nothing about what exists); every mutating request is audited, refused ones
//! included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use policies::{Action, Principal, Service};
use serde::Deserialize;
use serde_json::json;

use crate::agents;
use crate::auth::Issuer;
use crate::controller::{Controller, ControllerError, MAX_VERSION_BYTES};
use crate::fleet::VersionFiles;
use crate::identity::AgentVerifier;
use crate::records::{AuditRecord, Provenance};
use crate::vault::VaultProvisioner;

/// The header a CI job names itself with.
pub const CI_JOB_HEADER: &str = "x-flotilla-ci-job";

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    pub controller: Arc<Controller>,
    pub issuer: Arc<Issuer>,
    /// Verifies agents' tokens.
    pub agents: AgentVerifier,
    /// Provisions clusters' Vault identities, when Vault is configured.
    pub vault: Option<VaultProvisioner>,
    /// The cluster claim of the legacy shared role's tokens (accepted only for clusters
    /// registered with `identity: shared`); empty: none.
    pub shared_identity: String,
    pub ready: AtomicBool,
    audit_seq: AtomicU64,
    /// (second, refusals audited in it).
    pub(crate) refusal_budget: std::sync::Mutex<(u64, u32)>,
    /// The dashboard's last fingerprint of the fleet's state and when it was taken (one
    /// evaluation a second serves every open event stream).
    pub(crate) ui_fingerprint: tokio::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

impl App {
    pub fn new(
        controller: Arc<Controller>,
        issuer: Arc<Issuer>,
        agents: AgentVerifier,
        vault: Option<VaultProvisioner>,
        shared_identity: String,
    ) -> App {
        App {
            controller,
            issuer,
            agents,
            vault,
            shared_identity,
            ready: AtomicBool::new(false),
            audit_seq: AtomicU64::new(0),
            refusal_budget: std::sync::Mutex::new((0, 0)),
            ui_fingerprint: tokio::sync::Mutex::new(None),
        }
    }
}

/// An API error: a status and `{"error": {"code", "message"}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// What went wrong, for people.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// The audit record's `result` for this error.
    fn result(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("a header value"),
            );
        }
        r
    }
}

impl From<ControllerError> for ApiError {
    fn from(e: ControllerError) -> ApiError {
        use ControllerError as E;
        let (status, code) = match &e {
            E::UnknownEnvironment { .. } | E::UnknownService { .. } | E::UnknownVersion { .. } => {
                (StatusCode::NOT_FOUND, "not-found")
            }
            E::LabelTaken { .. }
            | E::Race(_)
            | E::NothingToRollBack { .. }
            | E::RolloutConflict { .. }
            | E::NothingToApprove { .. } => (StatusCode::CONFLICT, "conflict"),
            E::NoRollout { .. } => (StatusCode::NOT_FOUND, "not-found"),
            E::Invalid(_) | E::Fleet(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            E::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store-unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "error"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// The router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/services", get(services))
        .route("/v1/services/{service}", get(service))
        .route("/v1/services/{service}/versions", post(publish))
        .route("/v1/services/{service}/deployments", post(deploy))
        .route("/v1/clusters", get(clusters).post(agents::register))
        .route(
            "/v1/clusters/{cluster}",
            get(cluster).delete(agents::deregister),
        )
        .route("/v1/clusters/{cluster}/bundle", get(agents::bundle))
        .route(
            "/v1/clusters/{cluster}/objects/{digest}",
            get(agents::object),
        )
        .route(
            "/v1/clusters/{cluster}/status",
            get(agents::read_status).post(agents::status),
        )
        .route("/v1/clusters/{cluster}/token", post(agents::refresh))
        .route("/v1/identities", get(agents::identities))
        .route("/v1/deployments", get(deployments))
        .route(
            "/v1/services/{service}/deployments/{environment}",
            get(deployment),
        )
        .route("/v1/audit", get(audit))
        .route(
            "/v1/services/{service}/rollout",
            get(rollout_status).post(rollout_action),
        )
        .route("/v1/clock", post(clock))
        .merge(crate::ui::routes())
        .layer(DefaultBodyLimit::max(MAX_VERSION_BYTES * 2))
        .with_state(app)
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::Relaxed) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.controller.metrics.render(&app.controller.store.stats);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The caller, from a valid bearer token.
pub(crate) fn caller(app: &App, headers: &HeaderMap) -> Result<Principal, ApiError> {
    app.controller
        .metrics
        .requests
        .fetch_add(1, Ordering::Relaxed);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a bearer token is required (`flotilla token issue`)",
            )
        })?;
    app.issuer.verify(token.trim()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "the token is not valid (expired, or not signed by this server's issuer)",
        )
    })
}

pub(crate) fn decide(
    app: &App,
    principal: &Principal,
    action: Action,
    service: &str,
    clusters: &[&str],
) -> Result<(), ApiError> {
    let c = &app.controller;
    let svc = c
        .model
        .services
        .get(service)
        .map_or_else(|| Service::named(service), Service::from);
    let specs: Vec<Option<&syntax::model::ClusterSpec>> = if clusters.is_empty() {
        vec![None]
    } else {
        clusters.iter().map(|n| c.model.clusters.get(*n)).collect()
    };
    for spec in specs {
        let d = c.policies.allowed(principal, action, &svc, spec);
        if !d.allowed {
            let on = spec.map_or_else(String::new, |s| format!(" on cluster `{}`", s.name));
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "denied",
                format!("{principal} may not {action} {service}{on}: {}", d.reason)
                    .replace("  ", " "),
            ));
        }
    }
    Ok(())
}

pub(crate) fn read_access(app: &App, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let p = caller(app, headers)?;
    decide(app, &p, Action::Read, "", &[])?;
    Ok(p)
}

/// The `environment` of a request's JSON body, read before the rest (what RBAC decides on);
/// empty when there is none.
fn environment_of(body: &Bytes) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("environment")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A request that acts on `service` in `environment` (a deployment, a rollout step): the
/// caller, allowed to deploy there (decided before the body is read), and the body.
fn deploy_request<B: serde::de::DeserializeOwned>(
    app: &App,
    principal: &Result<Principal, ApiError>,
    service: &str,
    environment: &str,
    body: &Bytes,
) -> Result<(Principal, B), ApiError> {
    let principal = principal.clone()?;
    decide_deploy(app, &principal, service, environment)?;
    check_name("service", service)?;
    let body = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("the body: {e}")))?;
    Ok((principal, body))
}

/// Whether `principal` may deploy `service` to every cluster of `environment` (an unknown
/// environment, or one without clusters, is decided as a deploy anywhere).
pub(crate) fn decide_deploy(
    app: &App,
    principal: &Principal,
    service: &str,
    environment: &str,
) -> Result<(), ApiError> {
    let clusters: Vec<&str> = app
        .controller
        .clusters
        .iter()
        .filter(|(_, e)| **e == environment)
        .map(|(n, _)| n.as_str())
        .collect();
    decide(app, principal, Action::Deploy, service, &clusters)
}

/// A service or cluster name from a path: what the fleet allows in a file name.
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("`{name}` is not a {kind} name"),
        ))
    }
}

async fn services(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    let c = &app.controller;
    let mut out = Vec::new();
    for s in c.services().await? {
        let current = c.current(&s).await;
        out.push(json!({
            "service": s,
            "deployments": current.iter().map(|(e, d)| (e.clone(), json!({
                "version": d.label, "digest": d.version.to_string(), "seq": d.seq,
            }))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    Ok(axum::Json(json!({"services": out})).into_response())
}

async fn service(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    check_name("service", &service)?;
    let c = &app.controller;
    let versions = c.versions(&service).await?;
    if versions.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no service `{service}`"),
        ));
    }
    let mut history = serde_json::Map::new();
    for e in &c.config.environments {
        history.insert(
            e.name.clone(),
            serde_json::to_value(c.history(&service, &e.name).await?).unwrap_or_default(),
        );
    }
    Ok(axum::Json(json!({
        "service": service,
        "versions": versions,
        "deployments": c.current(&service).await,
        "history": history,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PublishBody {
    label: String,
    files: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    blobs: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    ci_job: Option<String>,
}

pub(crate) struct Audit<'a> {
    app: &'a App,
    principal: Option<&'a Principal>,
    source: SocketAddr,
    ci_job: Option<String>,
    action: &'static str,
    target: String,
}

impl<'a> Audit<'a> {
    /// The record of a mutating request by `principal` (none when it has no valid token).
    pub(crate) fn new(
        app: &'a App,
        principal: &'a Result<Principal, ApiError>,
        source: SocketAddr,
        headers: &HeaderMap,
        action: &'static str,
        target: String,
    ) -> Self {
        Audit {
            app,
            principal: principal.as_ref().ok(),
            source,
            ci_job: ci_job(headers),
            action,
            target,
        }
    }

    /// Appends the record (create-only, a name no other record has). A failure to audit is
    /// logged and counted as a store error; the request's own outcome stands.
    async fn record(&self, result: &str, detail: String) {
        let rec = AuditRecord {
            time: crate::auth::now_millis(),
            principal: self.principal.map(ToString::to_string).unwrap_or_default(),
            groups: self.principal.map(|p| p.groups.clone()).unwrap_or_default(),
            source: self.source.ip().to_string(),
            ci_job: self.ci_job.clone(),
            action: self.action.to_owned(),
            target: self.target.clone(),
            result: result.to_owned(),
            detail,
        };
        write_audit(self.app, rec).await;
    }

    pub(crate) async fn finish<T: IntoResponse>(
        &self,
        r: Result<T, ApiError>,
        ok: impl FnOnce(&T) -> (String, String),
    ) -> Response {
        match r {
            Ok(v) => {
                let (result, detail) = ok(&v);
                self.record(&result, detail).await;
                v.into_response()
            }
            Err(e) => {
                self.record(e.result(), e.message.clone()).await;
                e.into_response()
            }
        }
    }
}

/// Appends an audit record (create-only, a name no other record has). A failure to audit is
/// logged and counted as a store error; the request's own outcome stands.
pub(crate) async fn write_audit(app: &App, rec: AuditRecord) {
    let seq = app.audit_seq.fetch_add(1, Ordering::Relaxed);
    let name = format!(
        "audit/{:015}-{}-{seq:06}.json",
        rec.time,
        std::process::id()
    );
    let mut body = serde_json::to_vec(&rec).unwrap_or_default();
    body.push(b'\n');
    if let Err(e) = app.controller.store.create(&name, body.into()).await {
        eprintln!("flotilla serve: cannot write an audit record: {e}");
    }
}

fn ci_job(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CI_JOB_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect())
}

async fn publish(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = caller(&app, &headers);
    let audit = Audit::new(
        &app,
        &principal,
        source,
        &headers,
        "publish",
        format!("service/{service}"),
    );
    let result = async {
        let principal = principal.clone()?;
        decide(&app, &principal, Action::Publish, &service, &[])?;
        check_name("service", &service)?;
        let body: PublishBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("the body: {e}"))
        })?;
        let files = VersionFiles {
            files: body.files,
            blobs: body.blobs,
        };
        let provenance = Provenance {
            commit: body.commit,
            ci_job: body.ci_job.or_else(|| ci_job(&headers)),
            publisher: principal.to_string(),
        };
        let published = app
            .controller
            .publish(&service, &body.label, files, provenance)
            .await?;
        let status = if published.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, axum::Json(published)))
    }
    .await;
    audit
        .finish(result, |(status, p)| {
            let result = if *status == StatusCode::CREATED {
                "ok"
            } else {
                "noop"
            };
            (result.to_owned(), format!("{} {}", p.0.label, p.0.digest))
        })
        .await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeployBody {
    environment: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    rollback: bool,
    /// Promote the version a completed rollout offers this (production) environment.
    #[serde(default)]
    approve: bool,
}

pub(crate) async fn deploy(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = caller(&app, &headers);
    // Only the environment is looked at before deciding: the clusters it holds.
    let environment = environment_of(&body);
    let target = format!("service/{service}@{environment}");
    let audit = Audit::new(&app, &principal, source, &headers, "deploy", target);
    let result = async {
        let (principal, body) =
            deploy_request::<DeployBody>(&app, &principal, &service, &environment, &body)?;
        let c = &app.controller;
        let (meta, reason) = match (&body.version, body.rollback) {
            _ if body.approve && body.rollback => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "`approve` promotes; it does not go with `rollback`",
                ));
            }
            (version, false) if body.approve => {
                let Some(waiting) = c.awaiting_approval(&service, &body.environment).await else {
                    return Err(ControllerError::NothingToApprove {
                        service: service.clone(),
                        environment: body.environment.clone(),
                    }
                    .into());
                };
                let meta = c.find_version(&service, &waiting.to_string()).await?;
                if let Some(v) = version
                    && c.find_version(&service, v).await?.digest != waiting
                {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "conflict",
                        format!(
                            "{} awaits approval for `{}`, not {v}",
                            meta.label, body.environment
                        ),
                    ));
                }
                (meta, "promote")
            }
            (Some(v), false) => (c.find_version(&service, v).await?, "promote"),
            (None, true) => (c.previous(&service, &body.environment).await?, "rollback"),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "give either `version` or `rollback: true`",
                ));
            }
        };
        let d = c
            .deploy(
                &service,
                &body.environment,
                &meta,
                &principal.to_string(),
                reason,
                ci_job(&headers),
            )
            .await?;
        Ok((StatusCode::CREATED, axum::Json(d)))
    }
    .await;
    audit
        .finish(result, |(_, d)| {
            (
                "ok".to_owned(),
                format!(
                    "{} {} #{} ({})",
                    d.0.label, d.0.version, d.0.seq, d.0.reason
                ),
            )
        })
        .await
}

#[derive(Debug, Deserialize)]
struct RolloutQuery {
    #[serde(default)]
    environment: Option<String>,
}

async fn rollout_status(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    Query(q): Query<RolloutQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    check_name("service", &service)?;
    if let Some(env) = &q.environment {
        app.controller.environment(env)?;
    }
    let list: Vec<_> = app
        .controller
        .rollouts(&service)
        .await
        .into_iter()
        .filter(|r| {
            q.environment
                .as_ref()
                .is_none_or(|e| *e == r.rollout.environment)
        })
        .collect();
    Ok(axum::Json(json!({"service": service, "rollouts": list})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolloutBody {
    environment: String,
    action: crate::rollout::RolloutAction,
}

async fn rollout_action(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let principal = caller(&app, &headers);
    let environment = environment_of(&body);
    let target = format!("service/{service}@{environment}");
    let audit = Audit::new(&app, &principal, source, &headers, "rollout", target);
    let result = async {
        // Who may deploy a service to an environment may steer its rollouts there.
        let (principal, body) =
            deploy_request::<RolloutBody>(&app, &principal, &service, &environment, &body)?;
        let r = app
            .controller
            .rollout_action(
                &service,
                &body.environment,
                body.action,
                &principal.to_string(),
            )
            .await?;
        Ok((StatusCode::OK, axum::Json(r)))
    }
    .await;
    audit
        .finish(result, |(_, r)| {
            (
                "ok".to_owned(),
                format!("{} {}: {}", r.0.label, r.0.state.as_str(), r.0.reason),
            )
        })
        .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance: String,
}

/// Moves a manual clock (`flotilla serve --clock manual`) forward; 404 with the system's.
async fn clock(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = caller(&app, &headers)?;
    decide(&app, &principal, Action::Read, "", &[])?;
    let c = &app.controller;
    if matches!(c.clock, crate::rollout::Clock::System) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "the server runs on the system's clock (start it with --clock manual)",
        ));
    }
    let body: ClockBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("the body: {e}")))?;
    let by = plan::parse_duration(&body.advance).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("`{}` is not a duration", body.advance),
        )
    })?;
    c.clock.advance(by);
    c.wake.notify_one();
    Ok(axum::Json(json!({"now": c.clock.now_ms()})).into_response())
}

async fn clusters(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    let c = &app.controller;
    let (staged, failures) = c.staged().await;
    let list: Vec<serde_json::Value> = c
        .registrations()
        .into_iter()
        .filter(|r| !r.deregistered)
        .map(|r| {
            let s = staged.get(&r.cluster);
            json!({
                "cluster": r.cluster,
                "environment": r.environment,
                "generation": s.map_or(0, |r| r.generation),
                "digest": s.map(|r| r.digest.to_string()),
                "releases": s.map_or(0, |r| r.releases),
            })
        })
        .collect();
    Ok(axum::Json(json!({"clusters": list, "failures": failures})).into_response())
}

async fn cluster(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    check_name("cluster", &name)?;
    let c = &app.controller;
    let Some(env) = c.registration(&name).map(|r| r.environment) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no cluster `{name}`"),
        ));
    };
    let (staged, failures) = c.staged().await;
    Ok(axum::Json(json!({
        "cluster": name,
        "environment": env,
        "staged": staged.get(&name),
        "failure": failures.get(&env),
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    /// Unix milliseconds: records from then on.
    #[serde(default)]
    since: Option<u64>,
}

/// At most this many records per answer (the oldest first from `since`).
const AUDIT_PAGE: usize = 1000;

async fn audit(
    State(app): State<Arc<App>>,
    Query(q): Query<AuditQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    let records = audit_records(&app, Some(q.since.unwrap_or(0))).await?;
    Ok(axum::Json(json!({"records": records})).into_response())
}

/// Audit records, oldest first: a page from `since` (unix milliseconds), or with `None` the
/// latest page.
pub(crate) async fn audit_records(
    app: &App,
    since: Option<u64>,
) -> Result<Vec<AuditRecord>, ApiError> {
    let store = &app.controller.store;
    let mut names: Vec<String> = store.list("audit").await.map_err(ControllerError::from)?;
    match since {
        Some(since) => {
            let since = format!("{since:015}");
            names.retain(|n| n.as_str() >= since.as_str());
            names.truncate(AUDIT_PAGE);
        }
        None => {
            let skip = names.len().saturating_sub(AUDIT_PAGE);
            names.drain(..skip);
        }
    }
    let mut records = Vec::with_capacity(names.len());
    for n in names {
        if let Some(r) = store
            .get_json::<AuditRecord>(&format!("audit/{n}"))
            .await
            .map_err(ControllerError::from)?
        {
            records.push(r);
        }
    }
    Ok(records)
}

#[derive(Debug, Deserialize)]
struct DeploymentsQuery {
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    /// `Progressing`, `Succeeded` or `Stuck` (any case).
    #[serde(default)]
    state: Option<String>,
}

/// `GET /v1/deployments`: every current deployment's state (without its releases), the
/// silent agents and the open incidents.
async fn deployments(
    State(app): State<Arc<App>>,
    Query(q): Query<DeploymentsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    let c = &app.controller;
    let eval = c.evaluate().await;
    let list: Vec<serde_json::Value> = eval
        .deployments
        .into_iter()
        .filter(|d| q.service.as_ref().is_none_or(|s| *s == d.service))
        .filter(|d| q.environment.as_ref().is_none_or(|e| *e == d.environment))
        .filter(|d| {
            q.state
                .as_ref()
                .is_none_or(|s| s.eq_ignore_ascii_case(d.state.as_str()))
        })
        .map(|mut d| {
            let stuck: Vec<serde_json::Value> = d
                .releases
                .iter()
                .filter(|r| r.stuck.is_some())
                .map(|r| json!({"cluster": r.cluster, "phase": r.phase, "reason": r.reason, "stuck": r.stuck}))
                .collect();
            d.releases.clear();
            let mut v = serde_json::to_value(&d).unwrap_or_default();
            v["stuckReleases"] = json!(stuck);
            if let Some(o) = v.as_object_mut() {
                o.remove("releases");
            }
            v
        })
        .collect();
    Ok(axum::Json(json!({
        "deployments": list,
        "silentAgents": eval.silent,
        "incidents": c.incidents().await,
    }))
    .into_response())
}

/// `GET /v1/services/{service}/deployments/{environment}`: one deployment, per cluster, with
/// the evidence.
async fn deployment(
    State(app): State<Arc<App>>,
    Path((service, environment)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    read_access(&app, &headers)?;
    check_name("service", &service)?;
    let c = &app.controller;
    let eval = c.evaluate().await;
    let Some(d) = eval
        .deployments
        .into_iter()
        .find(|d| d.service == service && d.environment == environment)
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("`{service}` is not deployed to `{environment}`"),
        ));
    };
    let incidents: Vec<_> = c
        .incidents()
        .await
        .into_iter()
        .filter(|i| i.service == service && i.environment == environment)
        .collect();
    let mut v = serde_json::to_value(&d).unwrap_or_default();
    v["incidents"] = json!(incidents);
    Ok(axum::Json(v).into_response())
}
