//! The dashboard `flotilla serve` serves at `/`: server-rendered pages over the same state and
//! the same RBAC as the API. A token is pasted once (`/ui/login`) and kept in a session cookie
//! (`HttpOnly`, `SameSite=Strict`: other sites can neither read it nor post with it); every
//! page decides `read` for its caller, and the promote and roll-back buttons are shown only to
//! whom RBAC allows `deploy` on that environment — and their requests go through the API's own
//! handler (RBAC again, the audit record, the announcements). Pages work without script; a few
//! lines of it refresh the fleet grid when the server says something changed (server-sent
//! events).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use policies::{Action, Principal};
use serde::Deserialize;

use crate::api::App;

/// The session cookie.
const COOKIE: &str = "flotilla_session";
/// How often the event stream looks for a change.
const EVENTS_EVERY: Duration = Duration::from_secs(1);

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(fleet))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/services/{service}", get(service_page))
        .route("/ui/services/{service}/deploy", post(deploy))
        .route("/ui/services/{service}/diff", get(diff_page))
        .route("/ui/stuck", get(stuck))
        .route("/ui/audit", get(audit))
        .route("/ui/kpis", get(kpis))
        .route("/ui/events", get(events))
}

/// `&`, `<`, `>`, `"` and `'` escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query value made safe for a URL.
fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#fff}
a{color:#0b57d0} a:focus,button:focus,input:focus,select:focus{outline:3px solid #f59e0b;outline-offset:1px}
header{background:#10243e;color:#fff;padding:.5rem 1rem;display:flex;gap:1.5rem;align-items:center}
header a{color:#fff} header nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}
.skip{position:absolute;left:-999px} .skip:focus{left:1rem;top:.5rem;background:#fff;color:#000;padding:.25rem}
main{padding:1rem}
table{border-collapse:collapse;margin:.5rem 0} th,td{border:1px solid #c8ccd1;padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:#eef1f4}
.phase-Ready{background:#d7f5dd} .phase-Progressing,.phase-Applying,.phase-Staged{background:#fff3c4}
.phase-Failed,.stuck{background:#ffd9d6}
pre.diff .add{background:#d7f5dd} pre.diff .del{background:#ffd9d6} pre.diff span{display:block} .waiting{background:#eceff3} .none{color:#6b7280}
.prod{background:#fff0e0;font-weight:600}
form.inline{display:inline}
.notice{padding:.5rem;border:1px solid #0b57d0;background:#e8f0fe}
.error{padding:.5rem;border:1px solid #b3261e;background:#ffd9d6}
fieldset{border:1px solid #c8ccd1;margin:.5rem 0} label{margin-right:.25rem}
";

/// A whole page.
fn page(title: &str, who: Option<&Principal>, body: &str) -> Html<String> {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · Flotilla</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>\
         <a class=\"skip\" href=\"#main\">Skip to content</a><header><strong>Flotilla</strong>",
        esc(title)
    );
    if let Some(p) = who {
        let _ = write!(
            s,
            "<nav aria-label=\"Main\"><ul><li><a href=\"/\">Fleet</a></li><li><a href=\"/ui/stuck\">Stuck</a></li>\
             <li><a href=\"/ui/audit\">Audit log</a></li><li><a href=\"/ui/kpis\">KPIs</a></li></ul></nav>\
             <span>Signed in as {}</span><form class=\"inline\" method=\"post\" action=\"/ui/logout\">\
             <button type=\"submit\">Sign out</button></form>",
            esc(&p.to_string())
        );
    }
    let _ = write!(
        s,
        "</header><main id=\"main\"><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    Html(s)
}

/// Why a page is not shown.
enum Refused {
    /// No session, or its token expired: the login page.
    SignIn { expired: bool },
    /// The caller may not read.
    Forbidden { who: Box<Principal>, why: String },
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn { expired: false } => Redirect::to("/ui/login").into_response(),
            Refused::SignIn { expired: true } => {
                Redirect::to("/ui/login?expired=1").into_response()
            }
            Refused::Forbidden { who, why } => (
                StatusCode::FORBIDDEN,
                page(
                    "Not allowed",
                    Some(&who),
                    &format!("<p class=\"error\" role=\"alert\">{}</p>", esc(&why)),
                ),
            )
                .into_response(),
        }
    }
}

/// The caller of a page, taken from its request: its session's principal (allowed to read)
/// and token. A handler that takes it is shown only to such a caller.
struct Session {
    who: Principal,
    token: String,
}

impl axum::extract::FromRequestParts<Arc<App>> for Session {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Session, Refused> {
        session(app, &parts.headers).map(|(who, token)| Session { who, token })
    }
}

/// The session's principal (allowed to read) and token.
fn session(app: &App, headers: &HeaderMap) -> Result<(Principal, String), Refused> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned());
    let Some(token) = token else {
        return Err(Refused::SignIn { expired: false });
    };
    let Some(principal) = app.issuer.verify(&token) else {
        return Err(Refused::SignIn { expired: true });
    };
    if let Err(e) = crate::api::decide(app, &principal, Action::Read, "", &[]) {
        return Err(Refused::Forbidden {
            why: e.message().to_owned(),
            who: Box::new(principal),
        });
    }
    Ok((principal, token))
}

#[derive(Debug, Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>) -> Html<String> {
    let note = if q.expired.is_some() {
        "<p class=\"error\" role=\"alert\">Your token is no longer valid: paste a fresh one.</p>"
    } else {
        ""
    };
    page(
        "Sign in",
        None,
        &format!(
            "{note}<p>Paste an API token (<code>flotilla token issue --user NAME --groups …</code>). \
             It is kept in this browser session only.</p>\
             <form method=\"post\" action=\"/ui/login\"><label for=\"token\">API token</label>\
             <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required size=\"60\">\
             <button type=\"submit\">Sign in</button></form>"
        ),
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Arc<App>>, Form(f): Form<LoginForm>) -> Response {
    let token = f.token.trim();
    if app.issuer.verify(token).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            page(
                "Sign in",
                None,
                "<p class=\"error\" role=\"alert\">That token is not valid here (expired, or not signed by this server's issuer).</p>\
                 <p><a href=\"/ui/login\">Try again</a></p>",
            ),
        )
            .into_response();
    }
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout() -> Response {
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("flotilla_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

#[derive(Debug, Deserialize, Default)]
struct GridQuery {
    #[serde(default)]
    env: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    selector: String,
}

/// A `<select>` of `options` (the first: any), `value` selected.
fn select(id: &str, label: &str, options: &BTreeSet<String>, value: &str) -> String {
    let mut s = format!(
        "<label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{id}\"><option value=\"\">any</option>"
    );
    for o in options {
        let sel = if o == value { " selected" } else { "" };
        let _ = write!(s, "<option{sel}>{}</option>", esc(o));
    }
    s.push_str("</select> ");
    s
}

/// `GET /`: clusters × services, each cell the version deployed and its state there.
async fn fleet(
    State(app): State<Arc<App>>,
    Query(q): Query<GridQuery>,
    Session { who, .. }: Session,
) -> Response {
    let c = &app.controller;
    struct Row {
        name: String,
        env: String,
        provider: String,
    }
    let mut rows: Vec<Row> = c
        .registrations()
        .into_iter()
        .filter(|r| !r.deregistered)
        .map(|r| {
            let provider = c
                .model
                .clusters
                .get(r.cluster.as_str())
                .map(|s| s.provider.clone())
                .or_else(|| r.spec.as_ref().map(|s| s.provider.clone()))
                .unwrap_or_default();
            Row {
                name: r.cluster.clone(),
                env: r.environment.clone(),
                provider,
            }
        })
        .collect();
    let envs: BTreeSet<String> = rows.iter().map(|r| r.env.clone()).collect();
    let providers: BTreeSet<String> = rows.iter().map(|r| r.provider.clone()).collect();
    let team_of = |s: &str| {
        c.model
            .services
            .get(s)
            .map(|spec| spec.owners.team.clone())
            .unwrap_or_default()
    };
    let services: Vec<String> = c.services().await.unwrap_or_default();
    let teams: BTreeSet<String> = services.iter().map(|s| team_of(s)).collect();
    let mut problem = String::new();
    let selected = if q.selector.trim().is_empty() {
        None
    } else {
        match c.select_clusters(q.selector.trim()) {
            Ok(set) => Some(set),
            Err(text) => {
                problem = format!(
                    "<div class=\"error\" role=\"alert\"><p>The selector does not compile or fails:</p><pre>{}</pre></div>",
                    esc(&text)
                );
                Some(BTreeSet::new())
            }
        }
    };
    rows.retain(|r| {
        (q.env.is_empty() || r.env == q.env)
            && (q.provider.is_empty() || r.provider == q.provider)
            && selected.as_ref().is_none_or(|s| s.contains(&r.name))
    });
    let columns: Vec<&String> = services
        .iter()
        .filter(|s| q.team.is_empty() || team_of(s) == q.team)
        .collect();
    let eval = c.evaluate().await;
    // (cluster, service) → (version, phase, stuck, waiting for a wave).
    let mut cells: BTreeMap<(&str, &str), (String, String, bool)> = BTreeMap::new();
    for d in &eval.deployments {
        for r in &d.releases {
            cells.insert(
                (r.cluster.as_str(), d.service.as_str()),
                (
                    d.version.clone(),
                    r.phase.as_str().to_owned(),
                    r.stuck.is_some(),
                ),
            );
        }
    }
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/\" aria-label=\"Filter the fleet\"><fieldset><legend>Filter</legend>{}{}{}\
         <label for=\"selector\">CEL selector</label><input id=\"selector\" name=\"selector\" size=\"40\" value=\"{}\" placeholder='cluster.region == \"eu-west-1\"'>\
         <button type=\"submit\">Filter</button> <a href=\"/\">Clear</a></fieldset></form>{problem}",
        select("env", "Environment", &envs, &q.env),
        select("provider", "Provider", &providers, &q.provider),
        select("team", "Team", &teams, &q.team),
        esc(&q.selector),
    );
    let _ = write!(
        body,
        "<p id=\"count\">{} clusters × {} services</p><table id=\"grid\" aria-label=\"Fleet grid\"><thead><tr><th scope=\"col\">Cluster</th><th scope=\"col\">Environment</th><th scope=\"col\">Provider</th>",
        rows.len(),
        columns.len()
    );
    for s in &columns {
        let _ = write!(
            body,
            "<th scope=\"col\"><a href=\"/ui/services/{}\">{}</a></th>",
            url_part(s),
            esc(s)
        );
    }
    body.push_str("</tr></thead><tbody>");
    for r in &rows {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td>",
            esc(&r.name),
            esc(&r.env),
            esc(&r.provider)
        );
        for s in &columns {
            match cells.get(&(r.name.as_str(), s.as_str())) {
                Some((version, phase, stuck)) => {
                    let class = if *stuck {
                        "stuck".to_owned()
                    } else {
                        format!("phase-{phase}")
                    };
                    let state = if *stuck {
                        format!("{phase}, stuck")
                    } else {
                        phase.clone()
                    };
                    let _ = write!(
                        body,
                        "<td class=\"{class}\" data-cluster=\"{}\" data-service=\"{}\"><span class=\"version\">{}</span> <span class=\"state\">{}</span></td>",
                        esc(&r.name),
                        esc(s),
                        esc(version),
                        esc(&state)
                    );
                }
                None => body.push_str("<td class=\"none\">—</td>"),
            }
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    // Live: the grid is fetched again when the server says something changed.
    body.push_str(
        "<p id=\"live\" role=\"status\" aria-live=\"polite\"></p><script>\
         (function(){if(!window.EventSource)return;var es=new EventSource('/ui/events');\
         es.addEventListener('changed',function(){fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.text()}).then(function(t){\
         var d=new DOMParser().parseFromString(t,'text/html');var g=d.getElementById('grid');var c=d.getElementById('count');\
         if(g){document.getElementById('grid').replaceWith(g)}if(c){document.getElementById('count').replaceWith(c)}\
         document.getElementById('live').textContent='Updated '+new Date().toLocaleTimeString();});});})();</script>",
    );
    page("Fleet", Some(&who), &body).into_response()
}

/// `GET /ui/events`: `changed` whenever the deployments' state or the staged bundles move.
async fn events(State(app): State<Arc<App>>, _: Session) -> Response {
    let app = Arc::clone(&app);
    let stream = futures::stream::unfold((app, None::<u64>), |(app, last)| async move {
        loop {
            tokio::time::sleep(EVENTS_EVERY).await;
            let now = fingerprint(&app).await;
            if last != Some(now) {
                let event = Event::default().event("changed").data(now.to_string());
                return Some((
                    Ok::<Event, std::convert::Infallible>(event),
                    (app, Some(now)),
                ));
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What the grid shows, hashed.
///
/// Taken at most once per [`EVENTS_EVERY`] however many streams are open: every stream asks,
/// one evaluates the fleet, the others read its answer.
async fn fingerprint(app: &App) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut last = app.ui_fingerprint.lock().await;
    if let Some((at, f)) = *last
        && at.elapsed() < EVENTS_EVERY
    {
        return f;
    }
    let eval = app.controller.evaluate().await;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for d in &eval.deployments {
        (&d.service, &d.environment, &d.version, d.seq).hash(&mut h);
        for r in &d.releases {
            (&r.cluster, r.phase.as_str(), r.stuck.is_some()).hash(&mut h);
        }
    }
    let f = *app.controller.staged_tx.borrow() ^ h.finish();
    *last = Some((std::time::Instant::now(), f));
    f
}

#[derive(Debug, Deserialize, Default)]
struct ServiceQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /ui/services/{service}`: versions with provenance, deployments per environment with
/// the promote and roll-back buttons RBAC allows, and each cluster's release.
async fn service_page(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    Query(q): Query<ServiceQuery>,
    Session { who, .. }: Session,
) -> Response {
    let c = &app.controller;
    let versions = c.versions(&service).await.unwrap_or_default();
    if versions.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Not found",
                Some(&who),
                &format!("<p>No service <code>{}</code>.</p>", esc(&service)),
            ),
        )
            .into_response();
    }
    let current = c.current(&service).await;
    let mut body = String::new();
    if let Some(done) = &q.done {
        let _ = write!(
            body,
            "<p class=\"notice\" role=\"status\">{}</p>",
            esc(done)
        );
    }
    if let Some(error) = &q.error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(error));
    }
    body.push_str("<h2>Deployments</h2><table aria-label=\"Deployments\"><thead><tr><th scope=\"col\">Environment</th><th scope=\"col\">Version</th><th scope=\"col\">By</th><th scope=\"col\">Why</th><th scope=\"col\">Actions</th></tr></thead><tbody>");
    for e in &c.config.environments {
        let d = current.get(&e.name);
        let allowed = crate::api::decide_deploy(&app, &who, &service, &e.name).is_ok();
        let _ = write!(
            body,
            "<tr{}><th scope=\"row\">{}{}</th><td>{}</td><td>{}</td><td>{}</td><td>",
            if e.production { " class=\"prod\"" } else { "" },
            esc(&e.name),
            if e.production { " (production)" } else { "" },
            d.map_or_else(|| "—".to_owned(), |d| esc(&d.label)),
            d.map_or_else(String::new, |d| esc(&d.principal)),
            d.map_or_else(String::new, |d| esc(&d.reason)),
        );
        if allowed {
            let id = format!("version-{}", esc(&e.name));
            let _ = write!(
                body,
                "<form class=\"inline\" method=\"post\" action=\"/ui/services/{s}/deploy\"><input type=\"hidden\" name=\"environment\" value=\"{env}\">\
                 <label for=\"{id}\">Version</label><select id=\"{id}\" name=\"version\">",
                s = url_part(&service),
                env = esc(&e.name),
            );
            for v in versions.iter().rev() {
                let _ = write!(body, "<option>{}</option>", esc(&v.label));
            }
            let _ = write!(
                body,
                "</select> <button type=\"submit\">Promote to {env}</button></form> \
                 <form class=\"inline\" method=\"post\" action=\"/ui/services/{s}/deploy\"><input type=\"hidden\" name=\"environment\" value=\"{env}\">\
                 <input type=\"hidden\" name=\"rollback\" value=\"true\"><button type=\"submit\">Roll back {env}</button></form>",
                s = url_part(&service),
                env = esc(&e.name),
            );
        } else {
            body.push_str("<span class=\"none\">read only</span>");
        }
        body.push_str("</td></tr>");
    }
    body.push_str("</tbody></table><h2>Clusters</h2><table aria-label=\"Clusters\"><thead><tr><th scope=\"col\">Cluster</th><th scope=\"col\">Environment</th><th scope=\"col\">Version</th><th scope=\"col\">State</th><th scope=\"col\">Since</th></tr></thead><tbody>");
    let eval = c.evaluate().await;
    for d in eval.deployments.iter().filter(|d| d.service == service) {
        for r in &d.releases {
            let _ = write!(
                body,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td class=\"{}\">{}{}</td><td>{}</td></tr>",
                esc(&r.cluster),
                esc(&d.environment),
                esc(&d.version),
                if r.stuck.is_some() {
                    "stuck".to_owned()
                } else {
                    format!("phase-{}", r.phase.as_str())
                },
                r.phase.as_str(),
                r.reason
                    .as_deref()
                    .map_or_else(String::new, |x| format!(" ({})", esc(x))),
                unix(r.since),
            );
        }
    }
    // The timeline: every deployment of the service, newest first, and the clusters of its
    // environment it went to.
    body.push_str("</tbody></table><h2>Timeline</h2><table id=\"timeline\" aria-label=\"Timeline\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Environment</th><th scope=\"col\">Version</th><th scope=\"col\">By</th><th scope=\"col\">Why</th><th scope=\"col\">Clusters</th></tr></thead><tbody>");
    let mut history = Vec::new();
    for e in &c.config.environments {
        history.extend(c.history(&service, &e.name).await.unwrap_or_default());
    }
    history.sort_by(|a, b| b.at.cmp(&a.at).then(b.seq.cmp(&a.seq)));
    let mut clusters_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in c.registrations().into_iter().filter(|r| !r.deregistered) {
        clusters_of
            .entry(r.environment)
            .or_default()
            .push(r.cluster);
    }
    for d in &history {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            unix(d.at),
            esc(&d.environment),
            esc(&d.label),
            esc(&d.principal),
            esc(&d.reason),
            esc(&clusters_of
                .get(&d.environment)
                .map(|c| c.join(", "))
                .unwrap_or_default()),
        );
    }
    let _ = write!(
        body,
        "</tbody></table><h2>Versions</h2><p><a href=\"/ui/services/{}/diff\">Compare two versions</a></p><table aria-label=\"Versions\">",
        url_part(&service)
    );
    body.push_str("<thead><tr><th scope=\"col\">Label</th><th scope=\"col\">Digest</th><th scope=\"col\">Chart</th><th scope=\"col\">Published by</th><th scope=\"col\">Commit</th><th scope=\"col\">CI job</th><th scope=\"col\">Published</th></tr></thead><tbody>");
    for v in versions.iter().rev() {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.label),
            esc(&v.digest.to_string()[..19.min(v.digest.to_string().len())]),
            esc(&v.chart),
            esc(&v.provenance.publisher),
            esc(v.provenance.commit.as_deref().unwrap_or("")),
            esc(v.provenance.ci_job.as_deref().unwrap_or("")),
            unix(v.published_at),
        );
    }
    body.push_str("</tbody></table>");
    page(&format!("Service {service}"), Some(&who), &body).into_response()
}

#[derive(Debug, Deserialize, Default)]
struct DiffQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    cluster: String,
}

/// A unified line diff of `a` and `b` as HTML (`+`/`-` lines marked), or that they agree.
fn diff_html(name: &str, a: &str, b: &str) -> String {
    if a == b {
        return String::new();
    }
    let d = similar::TextDiff::from_lines(a, b);
    let text = d
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string();
    let mut s = format!("<h3>{}</h3><pre class=\"diff\">", esc(name));
    for line in text.lines() {
        let class = match line.chars().next() {
            Some('+') if !line.starts_with("+++") => "add",
            Some('-') if !line.starts_with("---") => "del",
            _ => "ctx",
        };
        // Each line a block of its own (no newline between them in the `<pre>`).
        let _ = write!(s, "<span class=\"{class}\">{}</span>", esc(line));
    }
    s.push_str("</pre>");
    s
}

/// `GET /ui/services/{service}/diff?from=&to=&cluster=`: two versions compared, their files
/// (the values template, the chart) and their manifest on one cluster, secrets masked.
async fn diff_page(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    Query(q): Query<DiffQuery>,
    Session { who, .. }: Session,
) -> Response {
    let c = &app.controller;
    let versions = c.versions(&service).await.unwrap_or_default();
    let labels: BTreeSet<String> = versions.iter().map(|v| v.label.clone()).collect();
    let find = |l: &str| versions.iter().find(|v| v.label == l);
    let latest = versions.last().map(|v| v.label.clone()).unwrap_or_default();
    let before = versions
        .iter()
        .rev()
        .nth(1)
        .map(|v| v.label.clone())
        .unwrap_or_default();
    let from = if q.from.is_empty() {
        before
    } else {
        q.from.clone()
    };
    let to = if q.to.is_empty() {
        latest
    } else {
        q.to.clone()
    };
    let clusters: BTreeSet<String> = c
        .registrations()
        .into_iter()
        .filter(|r| !r.deregistered)
        .map(|r| r.cluster)
        .collect();
    let cluster = if q.cluster.is_empty() {
        clusters.iter().next().cloned().unwrap_or_default()
    } else {
        q.cluster.clone()
    };
    let mut body = format!(
        "<form method=\"get\" aria-label=\"Versions to compare\"><fieldset><legend>Compare</legend>{}{}{}\
         <button type=\"submit\">Compare</button></fieldset></form>",
        select("from", "From", &labels, &from),
        select("to", "To", &labels, &to),
        select("cluster", "On cluster", &clusters, &cluster),
    );
    let (Some(a), Some(b)) = (find(&from), find(&to)) else {
        body.push_str("<p class=\"error\" role=\"alert\">Choose two versions of the service.</p>");
        return page(&format!("Compare {service}"), Some(&who), &body).into_response();
    };
    let read = |d: plan::Digest| {
        let c = Arc::clone(c);
        let service = service.clone();
        async move { c.read_version(&service, &d).await }
    };
    let (fa, fb) = match (read(a.digest).await, read(b.digest).await) {
        (Ok(x), Ok(y)) => (x.files, y.files),
        (Err(e), _) | (_, Err(e)) => {
            let _ = write!(
                body,
                "<p class=\"error\" role=\"alert\">{}</p>",
                esc(&e.to_string())
            );
            return page(&format!("Compare {service}"), Some(&who), &body).into_response();
        }
    };
    body.push_str("<h2>Files</h2>");
    let names: BTreeSet<&String> = fa.files.keys().chain(fb.files.keys()).collect();
    let mut files = String::new();
    for n in names {
        let (x, y) = (
            fa.files.get(n).map_or("", String::as_str),
            fb.files.get(n).map_or("", String::as_str),
        );
        files.push_str(&diff_html(n, x, y));
    }
    body.push_str(if files.is_empty() {
        "<p>The same files.</p>"
    } else {
        &files
    });
    let _ = write!(body, "<h2>Manifest on {}</h2>", esc(&cluster));
    let shown = |d: plan::Digest| {
        let c = Arc::clone(c);
        let (service, cluster) = (service.clone(), cluster.clone());
        async move { c.shown_manifest(&service, &d, &cluster).await }
    };
    match (shown(a.digest).await, shown(b.digest).await) {
        (Ok(x), Ok(y)) => {
            let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
            let d = diff_html(&format!("{service} on {cluster}"), &x, &y);
            body.push_str(if d.is_empty() {
                "<p id=\"manifest-same\">The same manifest.</p>"
            } else {
                &d
            });
        }
        (Err(e), _) | (_, Err(e)) => {
            let _ = write!(
                body,
                "<p class=\"error\" role=\"alert\">{}</p>",
                esc(&e.to_string())
            );
        }
    }
    page(&format!("Compare {service}"), Some(&who), &body).into_response()
}

/// Unix seconds as UTC text.
fn unix(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[derive(Debug, Deserialize)]
struct DeployForm {
    environment: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    rollback: Option<String>,
}

/// `POST /ui/services/{service}/deploy`: the API's deploy, with the session's token.
async fn deploy(
    State(app): State<Arc<App>>,
    Path(service): Path<String>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Session { token, .. }: Session,
    Form(f): Form<DeployForm>,
) -> Response {
    let rollback = f.rollback.as_deref() == Some("true");
    let body = serde_json::json!({
        "environment": f.environment,
        "version": if rollback { None } else { f.version.clone() },
        "rollback": rollback,
    });
    let mut api_headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        api_headers.insert(header::AUTHORIZATION, v);
    }
    let r = crate::api::deploy(
        State(Arc::clone(&app)),
        Path(service.clone()),
        ConnectInfo(source),
        api_headers,
        Bytes::from(body.to_string()),
    )
    .await;
    let status = r.status();
    let text = axum::body::to_bytes(r.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let base = format!("/ui/services/{}", url_part(&service));
    let to = if status.is_success() {
        let what = if rollback {
            format!("{} rolled back", f.environment)
        } else {
            format!(
                "{} deployed to {}",
                f.version.unwrap_or_default(),
                f.environment
            )
        };
        format!("{base}?done={}", url_part(&what))
    } else {
        let message = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        format!("{base}?error={}", url_part(&message))
    };
    Redirect::to(&to).into_response()
}

/// `GET /ui/stuck`: stuck deployments, of which kind, with their evidence and where the
/// notification went.
async fn stuck(State(app): State<Arc<App>>, Session { who, .. }: Session) -> Response {
    let c = &app.controller;
    let eval = c.evaluate().await;
    let incidents = c.incidents.lock().await.clone();
    let mut body = String::new();
    let stuck: Vec<_> = eval
        .deployments
        .iter()
        .flat_map(|d| {
            d.releases
                .iter()
                .filter(|r| r.stuck.is_some())
                .map(move |r| (d, r))
        })
        .collect();
    if stuck.is_empty() {
        body.push_str("<p>Nothing is stuck.</p>");
    } else {
        body.push_str("<table id=\"stuck\" aria-label=\"Stuck deployments\"><thead><tr><th scope=\"col\">Service</th><th scope=\"col\">Environment</th><th scope=\"col\">Cluster</th><th scope=\"col\">Version</th><th scope=\"col\">Kind</th><th scope=\"col\">Reason</th><th scope=\"col\">Evidence</th><th scope=\"col\">Notified</th></tr></thead><tbody>");
        for (d, r) in stuck {
            let kind = match r.stuck {
                Some(crate::feedback::StuckKind::Service) => "service",
                Some(crate::feedback::StuckKind::Platform) => "platform",
                None => "",
            };
            let routed: Vec<&str> = incidents
                .values()
                .filter(|i| {
                    i.service == d.service
                        && i.environment == d.environment
                        && i.clusters.contains(&r.cluster)
                })
                .map(|i| i.routed_to.as_str())
                .collect();
            let _ = write!(
                body,
                "<tr class=\"stuck\"><th scope=\"row\"><a href=\"/ui/services/{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{} fault</td><td>{}</td><td><ul>{}</ul></td><td>{}</td></tr>",
                url_part(&d.service),
                esc(&d.service),
                esc(&d.environment),
                esc(&r.cluster),
                esc(&d.version),
                esc(kind),
                esc(r.reason.as_deref().unwrap_or(r.phase.as_str())),
                r.evidence
                    .iter()
                    .map(|e| format!("<li>{}</li>", esc(e)))
                    .collect::<String>(),
                if routed.is_empty() {
                    "not yet".to_owned()
                } else {
                    esc(&routed.join(", "))
                },
            );
        }
        body.push_str("</tbody></table>");
    }
    if !eval.silent.is_empty() {
        let _ = write!(
            body,
            "<h2>Silent agents</h2><p>{}</p>",
            esc(&eval.silent.join(", "))
        );
    }
    page("Stuck deployments", Some(&who), &body).into_response()
}

#[derive(Debug, Deserialize, Default)]
struct AuditQuery {
    #[serde(default)]
    principal: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
}

/// `GET /ui/audit`: the audit log, newest first, filtered; deployments to production
/// environments highlighted.
async fn audit(
    State(app): State<Arc<App>>,
    Query(q): Query<AuditQuery>,
    Session { who, .. }: Session,
) -> Response {
    let records = match crate::api::audit_records(&app, None).await {
        Ok(r) => r,
        Err(e) => {
            return page(
                "Audit log",
                Some(&who),
                &format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e.message())),
            )
            .into_response();
        }
    };
    let production: BTreeSet<&str> = app
        .controller
        .config
        .environments
        .iter()
        .filter(|e| e.production)
        .map(|e| e.name.as_str())
        .collect();
    let mut body = format!(
        "<form method=\"get\" action=\"/ui/audit\" aria-label=\"Filter the audit log\"><fieldset><legend>Filter</legend>\
         <label for=\"principal\">Who</label><input id=\"principal\" name=\"principal\" value=\"{}\">\
         <label for=\"action\">Action</label><input id=\"action\" name=\"action\" value=\"{}\">\
         <label for=\"target\">Target</label><input id=\"target\" name=\"target\" value=\"{}\">\
         <button type=\"submit\">Filter</button> <a href=\"/ui/audit\">Clear</a></fieldset></form>",
        esc(&q.principal),
        esc(&q.action),
        esc(&q.target)
    );
    body.push_str("<table id=\"audit\" aria-label=\"Audit log\"><thead><tr><th scope=\"col\">Time</th><th scope=\"col\">Who</th><th scope=\"col\">Action</th><th scope=\"col\">Target</th><th scope=\"col\">Result</th><th scope=\"col\">Detail</th></tr></thead><tbody>");
    for r in records.iter().rev().filter(|r| {
        r.principal.contains(&q.principal)
            && r.action.contains(&q.action)
            && r.target.contains(&q.target)
    }) {
        let prod = r.action == "deploy"
            && r.target
                .rsplit_once('@')
                .is_some_and(|(_, env)| production.contains(env));
        let _ = write!(
            body,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            if prod { " class=\"prod\"" } else { "" },
            unix(r.time / 1000),
            esc(&r.principal),
            esc(&r.action),
            esc(&r.target),
            if prod {
                " <strong>(production)</strong>"
            } else {
                ""
            },
            esc(&r.result),
            esc(&r.detail),
        );
    }
    body.push_str("</tbody></table>");
    page("Audit log", Some(&who), &body).into_response()
}

/// A bar chart as inline SVG (`bars`: label, value), described for screen readers by `title`.
fn bars(title: &str, bars: &[(String, f64)], unit: &str) -> String {
    let max = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let (w, h, bar) = (40.0 * bars.len().max(1) as f64 + 20.0, 160.0, 30.0);
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{}\" width=\"{w}\" height=\"{}\" viewBox=\"0 0 {w} {}\"><title>{}</title>",
        esc(title),
        h + 40.0,
        h + 40.0,
        esc(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let x = 10.0 + 40.0 * i as f64;
        let bh = v / max * h;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"{bar}\" height=\"{bh}\" fill=\"#0b57d0\"><title>{}: {v} {}</title></rect>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{v}</text>",
            h - bh + 10.0,
            esc(label),
            esc(unit),
            x + bar / 2.0,
            h + 25.0,
            esc(label),
            x + bar / 2.0,
            (h - bh + 8.0).max(10.0),
        );
    }
    s.push_str("</svg>");
    s
}

/// The `q` quantile of sorted `v`.
fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    Some(v[i])
}

/// Seconds as people read them.
fn human(secs: f64) -> String {
    if secs.is_infinite() {
        "more than 30 min".to_owned()
    } else if secs >= 3600.0 {
        format!("{:.1} h", secs / 3600.0)
    } else if secs >= 60.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{secs:.0} s")
    }
}

/// `GET /ui/kpis`: deployments per day, lead time from publish to production, change failure
/// rate, time to Ready, stuck deployments.
async fn kpis(State(app): State<Arc<App>>, Session { who, .. }: Session) -> Response {
    let c = &app.controller;
    let production: BTreeSet<String> = c
        .config
        .environments
        .iter()
        .filter(|e| e.production)
        .map(|e| e.name.clone())
        .collect();
    let mut deployments = Vec::new();
    let mut published: BTreeMap<(String, plan::Digest), u64> = BTreeMap::new();
    for service in c.services().await.unwrap_or_default() {
        for v in c.versions(&service).await.unwrap_or_default() {
            published.insert((service.clone(), v.digest), v.published_at);
        }
        for e in &c.config.environments {
            deployments.extend(c.history(&service, &e.name).await.unwrap_or_default());
        }
    }
    // Changes people made (not the fleet as it stood when the store was empty).
    let changes: Vec<&crate::records::Deployment> = deployments
        .iter()
        .filter(|d| d.reason != "initial")
        .collect();
    let today = crate::auth::now_millis() / 1000 / 86_400;
    let per_day: Vec<(String, f64)> = (0..14u64)
        .rev()
        .map(|back| {
            let day = today.saturating_sub(back);
            let n = changes.iter().filter(|d| d.at / 86_400 == day).count();
            (unix(day * 86_400)[5..10].to_owned(), n as f64)
        })
        .collect();
    let mut lead: Vec<f64> = changes
        .iter()
        .filter(|d| production.contains(&d.environment) && d.reason != "rollback")
        .filter_map(|d| {
            let at = published.get(&(d.service.clone(), d.version))?;
            Some(d.at.saturating_sub(*at) as f64)
        })
        .collect();
    lead.sort_by(f64::total_cmp);
    // A change failed when the next deployment of its service and environment rolled it back.
    let mut by_target: BTreeMap<(&str, &str), Vec<&crate::records::Deployment>> = BTreeMap::new();
    for d in &deployments {
        by_target
            .entry((d.service.as_str(), d.environment.as_str()))
            .or_default()
            .push(d);
    }
    let (mut changed, mut failed) = (0usize, 0usize);
    for list in by_target.values_mut() {
        list.sort_by_key(|d| d.seq);
        for (i, d) in list.iter().enumerate() {
            if d.reason == "initial" || d.reason == "rollback" {
                continue;
            }
            changed += 1;
            failed += usize::from(list.get(i + 1).is_some_and(|n| n.reason == "rollback"));
        }
    }
    let (timed, p50, p99) = c.metrics.ready_quantiles();
    let eval = c.evaluate().await;
    let stuck_service = eval
        .deployments
        .iter()
        .filter(|d| d.stuck == Some(crate::feedback::StuckKind::Service))
        .count();
    let stuck_platform = eval
        .deployments
        .iter()
        .filter(|d| d.stuck == Some(crate::feedback::StuckKind::Platform))
        .count();
    let opened = c
        .metrics
        .incidents_opened
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut body = String::new();
    let _ = write!(
        body,
        "<table id=\"kpis\" aria-label=\"Key figures\"><tbody>\
         <tr><th scope=\"row\">Deployments (last 14 days)</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Lead time, publish to production (p50 / p99)</th><td>{} / {}</td></tr>\
         <tr><th scope=\"row\">Change failure rate (changes rolled back)</th><td>{}</td></tr>\
         <tr><th scope=\"row\">Time to Ready (p50 / p99, of {timed} deployments)</th><td>{} / {}</td></tr>\
         <tr><th scope=\"row\">Stuck now (service faults / platform faults)</th><td>{stuck_service} / {stuck_platform}</td></tr>\
         <tr><th scope=\"row\">Incidents opened since the server started</th><td>{opened}</td></tr>\
         </tbody></table>",
        per_day.iter().map(|(_, n)| *n as u64).sum::<u64>(),
        quantile(&lead, 0.5).map_or_else(|| "—".to_owned(), human),
        quantile(&lead, 0.99).map_or_else(|| "—".to_owned(), human),
        if changed == 0 {
            "—".to_owned()
        } else {
            format!(
                "{:.0}% ({failed} of {changed})",
                failed as f64 * 100.0 / changed as f64
            )
        },
        p50.map_or_else(|| "—".to_owned(), |s| format!("≤ {}", human(s))),
        p99.map_or_else(|| "—".to_owned(), |s| format!("≤ {}", human(s))),
    );
    let per_env: Vec<(String, f64)> = c
        .config
        .environments
        .iter()
        .map(|e| {
            let n = changes.iter().filter(|d| d.environment == e.name).count();
            (e.name.clone(), n as f64)
        })
        .collect();
    let _ = write!(
        body,
        "<h2>Deployments per day</h2>{}<h2>Deployments per environment</h2>{}",
        bars("Deployments per day, last 14 days", &per_day, "deployments"),
        bars("Deployments per environment", &per_env, "deployments")
    );
    page("KPIs", Some(&who), &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html_and_urls() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_part("web 2/x?y=é"), "web%202%2Fx%3Fy%3D%C3%A9");
    }

    #[test]
    fn quantiles_and_bars() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.99), Some(4.0));
        assert_eq!(human(90.0), "1.5 min");
        assert_eq!(human(f64::INFINITY), "more than 30 min");
        let svg = bars(
            "Per day",
            &[("12-07".into(), 2.0), ("12-08".into(), 4.0)],
            "x",
        );
        assert!(svg.starts_with("<svg role=\"img\" aria-label=\"Per day\""));
        // The tallest bar is the full height; the other half of it.
        assert!(
            svg.contains("height=\"160\"") && svg.contains("height=\"80\""),
            "{svg}"
        );
    }

    #[test]
    fn unix_times_read_as_dates() {
        assert_eq!(unix(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(unix(1_796_601_600), "2026-12-07 00:00:00 UTC");
        assert_eq!(unix(951_782_400 + 3661), "2000-02-29 01:01:01 UTC");
    }
}
