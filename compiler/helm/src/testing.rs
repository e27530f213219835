//! Test harness for chart fetching (feature `testing`): a small HTTP server on 127.0.0.1 with
//! a free port that serves fixed answers (a chart repository's `index.yaml` and archives, an
//! OCI registry's manifests, blobs, tags and token endpoint), and chart archives packaged in
//! memory. The server stops when dropped.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::fetch::sha256_hex;
use crate::registry::{CHART_LAYER_MEDIA_TYPE, CONFIG_MEDIA_TYPE};

/// One fixed answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Served only to requests with `Authorization: Bearer <token>`; others get a 401 with
    /// this challenge.
    pub bearer: Option<(String, String)>,
}

impl Answer {
    pub fn ok(body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            bearer: None,
        }
    }
}

#[derive(Default)]
struct State {
    routes: BTreeMap<String, Answer>,
    log: Vec<String>,
}

/// An HTTP/1.1 server answering GETs from a table of paths.
pub struct ChartServer {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ChartServer {
    /// Starts a server on 127.0.0.1, on a free port.
    pub fn start() -> std::io::Result<ChartServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let s = s.clone();
                    std::thread::spawn(move || serve(conn, &s));
                }
            }
        });
        Ok(ChartServer {
            port,
            state,
            stop,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers GETs of `path` (query string ignored) with `answer`.
    pub fn route(&self, path: &str, answer: Answer) -> &ChartServer {
        self.lock().routes.insert(path.to_string(), answer);
        self
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// Serves a chart archive as the OCI artifact `repository:tag` (manifest with Helm's media
    /// types, config and layer blobs). With `token`, every registry path needs it and the
    /// token endpoint `/token` hands it out (the anonymous bearer flow).
    pub fn oci_chart(&self, repository: &str, tag: &str, archive: &[u8], token: Option<&str>) {
        let config = br#"{"name":"chart"}"#.to_vec();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"sha256:{}","size":{}}},"layers":[{{"mediaType":"{CHART_LAYER_MEDIA_TYPE}","digest":"sha256:{}","size":{}}}]}}"#,
            sha256_hex(&config),
            config.len(),
            sha256_hex(archive),
            archive.len()
        );
        let bearer = token.map(|t| {
            (
                t.to_string(),
                format!(
                    r#"Bearer realm="{}/token",service="test-registry",scope="repository:{repository}:pull""#,
                    self.url()
                ),
            )
        });
        let guarded = |body: Vec<u8>| Answer {
            bearer: bearer.clone(),
            ..Answer::ok(body)
        };
        self.route(
            &format!("/v2/{repository}/manifests/{tag}"),
            guarded(manifest.into_bytes()),
        );
        self.route(
            &format!("/v2/{repository}/blobs/sha256:{}", sha256_hex(archive)),
            guarded(archive.to_vec()),
        );
        self.route(
            &format!("/v2/{repository}/blobs/sha256:{}", sha256_hex(&config)),
            guarded(config),
        );
        if let Some(t) = token {
            self.route("/token", Answer::ok(format!(r#"{{"token":"{t}"}}"#)));
        }
    }

    /// Lists `tags` for `repository` (`/v2/<repository>/tags/list`).
    pub fn oci_tags(&self, repository: &str, tags: &[&str]) {
        let list: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
        self.route(
            &format!("/v2/{repository}/tags/list"),
            Answer::ok(format!(
                r#"{{"name":"{repository}","tags":[{}]}}"#,
                list.join(",")
            )),
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ChartServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = target.split('?').next().unwrap_or("/").to_string();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        match reader.read_line(&mut h) {
            Ok(0) | Err(_) => break,
            Ok(_) if h.trim().is_empty() => break,
            Ok(_) => {
                if let Some((k, v)) = h.split_once(':')
                    && k.trim().eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(v.trim().to_string());
                }
            }
        }
    }
    let answer = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.log.push(path.clone());
        s.routes.get(&path).cloned()
    };
    let answer = match answer {
        Some(a) => match &a.bearer {
            Some((token, _)) if authorization.as_deref() == Some(&format!("Bearer {token}")) => a,
            Some((_, challenge)) => Answer {
                status: 401,
                headers: vec![("WWW-Authenticate".into(), challenge.clone())],
                body: br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
                bearer: None,
            },
            None => a,
        },
        None => Answer {
            status: 404,
            headers: Vec::new(),
            body: b"404 page not found\n".to_vec(),
            bearer: None,
        },
    };
    let reason = match answer.status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let mut out = conn;
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&answer.body);
    let _ = out.flush();
}

/// A chart archive as `helm package` lays it out: every file under `<name>/`, `Chart.yaml`
/// written from `name` and `version`.
pub fn package_chart(name: &str, version: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
    let mut all: Vec<(&str, &str)> = vec![("Chart.yaml", chart_yaml.as_str())];
    all.extend_from_slice(files);
    for (path, content) in all {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        // Packaging in memory cannot fail on valid paths; a bad path is a test's bug.
        builder
            .append_data(&mut header, format!("{name}/{path}"), content.as_bytes())
            .expect("append a file to the archive");
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .expect("finish the archive")
}

/// An `index.yaml` listing `(name, version, url, digest)` entries.
pub fn index_yaml(entries: &[(&str, &str, &str, Option<&str>)]) -> String {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, version, url, digest) in entries {
        let mut e = format!(
            "  - apiVersion: v2\n    name: {name}\n    version: {version}\n    urls:\n      - {url}\n"
        );
        if let Some(d) = digest {
            e.push_str(&format!("    digest: {d}\n"));
        }
        by_name.entry(name).or_default().push(e);
    }
    let mut out = String::from("apiVersion: v1\nentries:\n");
    for (name, es) in by_name {
        out.push_str(&format!("  {name}:\n"));
        for e in es {
            out.push_str(&e);
        }
    }
    out
}
