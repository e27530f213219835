//! Charts from outside: a chart repository (`--repo URL NAME [--version V]`), an OCI registry
//! (`oci://registry/path/chart`), or a `.tgz` URL, fetched as Helm's `ChartDownloader` does
//! and kept in a local content-addressed cache.
//!
//! The cache (`$FLOTILLA_CHART_CACHE`, else `$XDG_CACHE_HOME/flotilla/charts`, else
//! `~/.cache/flotilla/charts`) holds archives by SHA-256 (`sha256/<hex>.tgz`), the reference
//! each exact version resolved to (`refs/<sha256 of the reference>`) and the last index of each
//! repository (`indexes/`). Every file is written to a temporary name and renamed, so a reader
//! never sees half an archive; an archive is checked against its digest whenever it is read.
//! An exact version already fetched is served from the cache without asking the network; a
//! version range needs the repository's index, and falls back to the last index fetched when
//! the repository cannot be reached.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::registry::{self, BearerChallenge, Reference};
use crate::repo::{self, Index, IndexError, is_exact_version};

/// Largest body read from a server (an index or an archive): Helm's decompressed chart limit.
pub const MAX_DOWNLOAD: u64 = crate::loader::MAX_CHART_SIZE;

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// A chart of a repository's `index.yaml`; `version` is exact, a semver constraint, or
    /// empty for the latest stable version.
    Repository {
        url: String,
        name: String,
        version: String,
    },
    /// `oci://registry/path/chart[:tag]`, at `version` (exact or a constraint; empty: the
    /// tag of the reference, else the highest stable tag).
    Oci { reference: String, version: String },
    /// A chart archive's URL.
    Url(String),
}

impl ChartSource {
    /// The source `helm template CHART --repo REPO --version V` means, or `None` for a local
    /// chart. `devel` lets an empty version pick prereleases (`--devel`).
    pub fn from_args(chart: &str, repo: Option<&str>, version: &str, devel: bool) -> Option<Self> {
        let version = if version.is_empty() && devel {
            ">0.0.0-0".to_string()
        } else {
            version.to_string()
        };
        let chart = chart.trim();
        if chart.starts_with("oci://") {
            return Some(ChartSource::Oci {
                reference: chart.to_string(),
                version,
            });
        }
        if let Some(url) = repo.filter(|r| !r.is_empty()) {
            return Some(ChartSource::Repository {
                url: url.to_string(),
                name: chart.to_string(),
                version,
            });
        }
        if chart.starts_with("https://") || chart.starts_with("http://") {
            return Some(ChartSource::Url(chart.to_string()));
        }
        None
    }
}

/// A chart archive in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The archive (`<cache>/sha256/<hex>.tgz`).
    pub path: PathBuf,
    /// Its SHA-256, hex.
    pub digest: String,
    /// The version picked, when the source has versions.
    pub version: Option<String>,
    /// Whether the network was left alone (the archive was in the cache).
    pub cached: bool,
    /// Something the user should know (e.g. the index came from the cache: offline).
    pub warning: Option<String>,
}

/// What went wrong, for the exit code and the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// The server could not be reached (DNS, connection, TLS, timeout).
    Unreachable,
    /// The server answered with this HTTP status.
    Status(u16),
    /// The repository or registry has no such chart or version.
    NotFound,
    /// The download does not have the digest the repository or registry gives.
    Digest,
    /// The server's answer is not what the protocol says (index, manifest, token).
    Invalid,
    /// A registry refused anonymous access.
    Denied,
    /// The reference or version itself is malformed: a usage error.
    Reference,
    /// The cache folder cannot be written.
    Cache,
}

/// A chart that could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub kind: FetchErrorKind,
    pub message: String,
    /// What the user may do about it.
    pub hint: Option<String>,
}

impl FetchError {
    fn new(kind: FetchErrorKind, message: impl Into<String>) -> FetchError {
        FetchError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    fn with_hint(mut self, hint: impl Into<String>) -> FetchError {
        self.hint = Some(hint.into());
        self
    }

    fn context(mut self, prefix: &str) -> FetchError {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    /// A mistake in the command (a malformed reference or version), not a remote failure.
    pub fn is_usage(&self) -> bool {
        self.kind == FetchErrorKind::Reference
    }
}

/// An HTTP answer, its body read (bounded).
struct Response {
    status: u16,
    reason: String,
    authenticate: Option<String>,
    body: Vec<u8>,
}

impl Response {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn status_line(&self) -> String {
        format!("{} {}", self.status, self.reason)
    }
}

/// Fetches charts into the cache; one per command (it keeps its HTTP clients).
#[derive(Debug)]
pub struct ChartFetcher {
    cache: PathBuf,
    plain_http: bool,
    /// Clients for TLS servers, and for `http://` (no roots loaded, loopback not proxied).
    https: OnceLock<Result<reqwest::blocking::Client, String>>,
    http: OnceLock<Result<reqwest::blocking::Client, String>>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ChartFetcher {
    /// A fetcher caching under `cache`.
    pub fn new(cache: impl Into<PathBuf>) -> ChartFetcher {
        ChartFetcher {
            cache: cache.into(),
            plain_http: false,
            https: OnceLock::new(),
            http: OnceLock::new(),
        }
    }

    /// Talk to OCI registries over `http://` (Helm's `--plain-http`).
    pub fn plain_http(mut self, yes: bool) -> ChartFetcher {
        self.plain_http = yes;
        self
    }

    /// The cache folder the environment names: `$FLOTILLA_CHART_CACHE`, else
    /// `$XDG_CACHE_HOME/flotilla/charts`, else `$HOME/.cache/flotilla/charts`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(dir) = env("FLOTILLA_CHART_CACHE") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = env("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("flotilla").join("charts"));
        }
        env("HOME").map(|h| {
            PathBuf::from(h)
                .join(".cache")
                .join("flotilla")
                .join("charts")
        })
    }

    /// A fetcher on [`ChartFetcher::default_cache_dir`].
    pub fn from_env() -> Result<ChartFetcher, FetchError> {
        Self::default_cache_dir().map(ChartFetcher::new).ok_or_else(|| {
            FetchError::new(
                FetchErrorKind::Cache,
                "no folder for the chart cache: neither FLOTILLA_CHART_CACHE, XDG_CACHE_HOME nor HOME is set",
            )
            .with_hint("set FLOTILLA_CHART_CACHE to a writable folder")
        })
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// The chart archive of `source`, from the cache or the network.
    pub fn fetch(&self, source: &ChartSource) -> Result<Fetched, FetchError> {
        if has_credentials(source) {
            // Refused without echoing the reference: it holds a secret.
            return Err(FetchError::new(
                FetchErrorKind::Reference,
                "chart references with credentials (user:password@host) are not supported",
            )
            .with_hint("remove the credentials from the URL; private repositories and registries are not supported: download the chart and give its .tgz"));
        }
        match source {
            ChartSource::Repository { url, name, version } => {
                self.fetch_repository(url, name, version)
            }
            ChartSource::Oci { reference, version } => self.fetch_oci(reference, version),
            ChartSource::Url(url) => self.fetch_url(url),
        }
    }

    fn fetch_repository(
        &self,
        url: &str,
        name: &str,
        version: &str,
    ) -> Result<Fetched, FetchError> {
        let what = if version.is_empty() {
            format!("chart {name:?}")
        } else {
            format!("chart {name:?} version {version:?}")
        };
        if name.is_empty() || name.contains('/') {
            return Err(FetchError::new(
                FetchErrorKind::Reference,
                format!(
                    "invalid chart name {name:?} for repository {url}: give the chart's name in the repository's index"
                ),
            ));
        }
        let ref_key = |v: &str| format!("repo\n{url}\n{name}\n{v}");
        if is_exact_version(version)
            && let Some(hit) = self.cached_ref(&ref_key(version), Some(version))
        {
            return Ok(hit);
        }
        let index_url = repo::index_url(url);
        let not_a_repo =
            format!("looks like {url:?} is not a valid chart repository or cannot be reached: ");
        let mut warning = None;
        let index_bytes = match self.get(&index_url, None, None) {
            Ok(r) if r.ok() => {
                self.write_atomic(&self.index_path(url), &r.body)?;
                r.body
            }
            Ok(r) => {
                return Err(status_error(&index_url, &r).context(&not_a_repo));
            }
            Err(e) if e.kind == FetchErrorKind::Unreachable => {
                match std::fs::read(self.index_path(url)) {
                    Ok(b) => {
                        warning = Some(format!(
                            "{url} cannot be reached; using its index as last fetched (from {})",
                            self.cache.display()
                        ));
                        b
                    }
                    Err(_) => return Err(e.context(&not_a_repo)),
                }
            }
            Err(e) => return Err(e.context(&not_a_repo)),
        };
        let index = Index::parse(&index_bytes)
            .map_err(|e| FetchError::new(FetchErrorKind::Invalid, format!("{not_a_repo}{e}")))?;
        let entry = index.get(name, version).map_err(|e| match e {
            IndexError::Constraint(c) => FetchError::new(
                FetchErrorKind::Reference,
                format!("invalid version {version:?}: {c}"),
            ),
            _ => FetchError::new(
                FetchErrorKind::NotFound,
                format!("{what} not found in {url} repository"),
            )
            .with_hint(versions_hint(&index, name)),
        })?;
        let Some(chart_url) = entry.urls.first() else {
            return Err(FetchError::new(
                FetchErrorKind::NotFound,
                format!("{what} has no downloadable URLs"),
            ));
        };
        let chart_url = repo::resolve_reference_url(url, chart_url)
            .map_err(|e| FetchError::new(FetchErrorKind::Invalid, e))?;
        let key = ref_key(&entry.version);
        let cached = match &entry.digest {
            Some(d) => self.cached_archive(d).map(|p| (p, d.clone())),
            None => self
                .read_ref(&key)
                .and_then(|d| self.cached_archive(&d).map(|p| (p, d))),
        };
        if let Some((path, digest)) = cached {
            self.write_ref(&key, &digest)?;
            return Ok(Fetched {
                path,
                digest,
                version: Some(entry.version.clone()),
                cached: true,
                warning,
            });
        }
        let body = self.download(&chart_url)?;
        let digest = sha256_hex(&body);
        if let Some(expected) = &entry.digest
            && *expected != digest
        {
            return Err(FetchError::new(
                FetchErrorKind::Digest,
                format!(
                    "digest mismatch for {chart_url}: the repository's index says sha256:{expected}, the download is sha256:{digest}"
                ),
            )
            .with_hint("the archive was changed or corrupted after the index was written; nothing was cached"));
        }
        let path = self.store_archive(&digest, &body)?;
        self.write_ref(&key, &digest)?;
        Ok(Fetched {
            path,
            digest,
            version: Some(entry.version.clone()),
            cached: false,
            warning,
        })
    }

    fn fetch_oci(&self, reference: &str, version: &str) -> Result<Fetched, FetchError> {
        let r = Reference::parse(reference)
            .map_err(|e| FetchError::new(FetchErrorKind::Reference, e))?;
        let version = match (&r.tag, version) {
            (Some(tag), "") => registry::tag_to_version(tag),
            (Some(tag), v) if registry::tag_to_version(tag) != v => {
                return Err(FetchError::new(
                    FetchErrorKind::Reference,
                    format!("chart reference and version mismatch: {v} is not {tag}"),
                ));
            }
            (_, v) => v.to_string(),
        };
        let name = format!("{}/{}", r.registry, r.repository);
        let ref_key = |v: &str| format!("oci\n{name}\n{v}");
        if is_exact_version(&version)
            && let Some(hit) = self.cached_ref(&ref_key(&version), Some(&version))
        {
            return Ok(hit);
        }
        let api = r.api(self.plain_http);
        let mut token = None;
        let version = if is_exact_version(&version) {
            version
        } else {
            let url = format!("{api}/tags/list");
            let resp = self.oci_get(&r, &url, None, &mut token)?;
            if !resp.ok() {
                return Err(status_error(&url, &resp));
            }
            let tags = registry::parse_tags(&resp.body)
                .map_err(|e| FetchError::new(FetchErrorKind::Invalid, format!("{url}: {e}")))?;
            let versions: Vec<String> = tags.iter().map(|t| registry::tag_to_version(t)).collect();
            let picked = repo::highest_matching(versions.iter().map(String::as_str), &version)
                .map_err(|e| {
                    FetchError::new(
                        FetchErrorKind::Reference,
                        format!("invalid version {version:?}: {e}"),
                    )
                })?;
            match picked {
                Some(v) => v.to_string(),
                None => {
                    return Err(FetchError::new(
                        FetchErrorKind::NotFound,
                        format!(
                            "could not locate a version matching {:?} among the tags of {reference}",
                            if version.is_empty() { "*" } else { &version }
                        ),
                    ));
                }
            }
        };
        let key = ref_key(&version);
        if let Some(hit) = self.cached_ref(&key, Some(&version)) {
            return Ok(hit);
        }
        let tag = registry::version_to_tag(&version);
        let url = format!("{api}/manifests/{tag}");
        let resp = self.oci_get(&r, &url, Some(registry::MANIFEST_ACCEPT), &mut token)?;
        if resp.status == 404 {
            return Err(FetchError::new(
                FetchErrorKind::NotFound,
                format!("{}/{}:{tag}: not found", r.registry, r.repository),
            ));
        }
        if !resp.ok() {
            return Err(status_error(&url, &resp));
        }
        let manifest = registry::parse_manifest(&resp.body).map_err(|e| {
            FetchError::new(FetchErrorKind::Invalid, format!("{reference}:{tag}: {e}"))
        })?;
        let digest = manifest.layer_digest;
        let path = match self.cached_archive(&digest) {
            Some(p) => p,
            None => {
                let url = format!("{api}/blobs/sha256:{digest}");
                let resp = self.oci_get(&r, &url, None, &mut token)?;
                if !resp.ok() {
                    return Err(status_error(&url, &resp));
                }
                let actual = sha256_hex(&resp.body);
                if actual != digest {
                    return Err(FetchError::new(
                        FetchErrorKind::Digest,
                        format!("digest mismatch for {url}: the manifest says sha256:{digest}, the download is sha256:{actual}"),
                    )
                    .with_hint("the registry served a corrupted blob; nothing was cached"));
                }
                self.store_archive(&digest, &resp.body)?
            }
        };
        self.write_ref(&key, &digest)?;
        Ok(Fetched {
            path,
            digest,
            version: Some(version),
            cached: false,
            warning: None,
        })
    }

    fn fetch_url(&self, url: &str) -> Result<Fetched, FetchError> {
        if reqwest::Url::parse(url).is_err() {
            return Err(FetchError::new(
                FetchErrorKind::Reference,
                format!("invalid chart URL {url:?}"),
            ));
        }
        let key = format!("url\n{url}");
        if let Some(hit) = self.cached_ref(&key, None) {
            return Ok(hit);
        }
        let body = self.download(url)?;
        let digest = sha256_hex(&body);
        let path = self.store_archive(&digest, &body)?;
        self.write_ref(&key, &digest)?;
        Ok(Fetched {
            path,
            digest,
            version: None,
            cached: false,
            warning: None,
        })
    }

    /// A GET to a registry, with the anonymous bearer-token flow on a 401.
    fn oci_get(
        &self,
        r: &Reference,
        url: &str,
        accept: Option<&str>,
        token: &mut Option<String>,
    ) -> Result<Response, FetchError> {
        let resp = self.get(url, accept, token.as_deref())?;
        if resp.status != 401 || token.is_some() {
            return Ok(resp);
        }
        let denied = || {
            FetchError::new(
                FetchErrorKind::Denied,
                format!("{}/{}: the registry refused anonymous access (401 Unauthorized)", r.registry, r.repository),
            )
            .with_hint("private registries are not supported: pull the chart with `helm pull` and give its .tgz")
        };
        let Some(challenge) = resp
            .authenticate
            .as_deref()
            .and_then(BearerChallenge::parse)
        else {
            return Err(denied());
        };
        let mut realm = reqwest::Url::parse(&challenge.realm).map_err(|e| {
            FetchError::new(
                FetchErrorKind::Invalid,
                format!("invalid token realm {:?}: {e}", challenge.realm),
            )
        })?;
        {
            let mut q = realm.query_pairs_mut();
            if let Some(s) = &challenge.service {
                q.append_pair("service", s);
            }
            let scope = challenge
                .scope
                .clone()
                .unwrap_or_else(|| format!("repository:{}:pull", r.repository));
            q.append_pair("scope", &scope);
        }
        let realm = realm.to_string();
        let answer = self.get(&realm, None, None)?;
        if answer.status == 401 || answer.status == 403 {
            return Err(denied());
        }
        if !answer.ok() {
            return Err(status_error(&realm, &answer));
        }
        let Some(t) = registry::parse_token(&answer.body) else {
            return Err(FetchError::new(
                FetchErrorKind::Invalid,
                format!("{realm}: the token endpoint gave no token"),
            ));
        };
        *token = Some(t);
        let resp = self.get(url, accept, token.as_deref())?;
        if resp.status == 401 {
            return Err(denied());
        }
        Ok(resp)
    }

    /// The body of a successful GET, else a status error.
    fn download(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let resp = self.get(url, None, None)?;
        if !resp.ok() {
            return Err(status_error(url, &resp));
        }
        Ok(resp.body)
    }

    fn client(&self, url: &reqwest::Url) -> Result<&reqwest::blocking::Client, FetchError> {
        let plain = url.scheme() == "http";
        let cell = if plain { &self.http } else { &self.https };
        cell.get_or_init(|| build_client(plain))
            .as_ref()
            .map_err(|e| FetchError::new(FetchErrorKind::Invalid, e.clone()))
    }

    fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        bearer: Option<&str>,
    ) -> Result<Response, FetchError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            FetchError::new(
                FetchErrorKind::Reference,
                format!("invalid URL {url:?}: {e}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::new(
                FetchErrorKind::Reference,
                format!("unsupported URL scheme in {url:?}: give an http:// or https:// URL"),
            ));
        }
        let mut req = self.client(&parsed)?.get(parsed);
        if let Some(a) = accept {
            req = req.header(reqwest::header::ACCEPT, a);
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().map_err(|e| self.unreachable(url, &e))?;
        let status = resp.status();
        let authenticate = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = if status.is_success() {
            MAX_DOWNLOAD
        } else {
            64 * 1024
        };
        let mut body = Vec::new();
        resp.take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.unreachable(url, &e))?;
        if body.len() as u64 > limit {
            return Err(FetchError::new(
                FetchErrorKind::Invalid,
                format!("{url}: the answer is larger than {limit} bytes"),
            ));
        }
        Ok(Response {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            authenticate,
            body,
        })
    }

    fn unreachable(&self, url: &str, e: &dyn std::error::Error) -> FetchError {
        FetchError::new(
            FetchErrorKind::Unreachable,
            format!("failed to fetch {url} : {}", root_cause(e)),
        )
        .with_hint(format!(
            "offline? charts already fetched at an exact version are reused from {}",
            self.cache.display()
        ))
    }

    // --- the cache ---------------------------------------------------------------------

    fn archive_path(&self, digest: &str) -> PathBuf {
        self.cache.join("sha256").join(format!("{digest}.tgz"))
    }

    fn ref_path(&self, key: &str) -> PathBuf {
        self.cache.join("refs").join(sha256_hex(key.as_bytes()))
    }

    fn index_path(&self, repo_url: &str) -> PathBuf {
        self.cache
            .join("indexes")
            .join(format!("{}.yaml", sha256_hex(repo_url.as_bytes())))
    }

    /// The archive with this digest, if the cache has it intact.
    fn cached_archive(&self, digest: &str) -> Option<PathBuf> {
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let path = self.archive_path(digest);
        let data = std::fs::read(&path).ok()?;
        (sha256_hex(&data) == digest).then_some(path)
    }

    fn read_ref(&self, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.ref_path(key)).ok()?;
        let digest = text.trim().strip_prefix("sha256:")?.to_string();
        Some(digest)
    }

    fn write_ref(&self, key: &str, digest: &str) -> Result<(), FetchError> {
        if self.read_ref(key).as_deref() == Some(digest) {
            return Ok(());
        }
        self.write_atomic(&self.ref_path(key), format!("sha256:{digest}\n").as_bytes())
    }

    /// The cached archive a reference resolved to before.
    fn cached_ref(&self, key: &str, version: Option<&str>) -> Option<Fetched> {
        let digest = self.read_ref(key)?;
        let path = self.cached_archive(&digest)?;
        Some(Fetched {
            path,
            digest,
            version: version.map(str::to_owned),
            cached: true,
            warning: None,
        })
    }

    fn store_archive(&self, digest: &str, data: &[u8]) -> Result<PathBuf, FetchError> {
        let path = self.archive_path(digest);
        self.write_atomic(&path, data)?;
        Ok(path)
    }

    /// Writes `data` to a temporary file beside `path`, then renames it into place.
    fn write_atomic(&self, path: &Path, data: &[u8]) -> Result<(), FetchError> {
        let cache_error = |e: std::io::Error| {
            FetchError::new(
                FetchErrorKind::Cache,
                format!("cannot write the chart cache {}: {e}", path.display()),
            )
            .with_hint("set FLOTILLA_CHART_CACHE to a writable folder")
        };
        let dir = path.parent().unwrap_or(&self.cache);
        std::fs::create_dir_all(dir).map_err(cache_error)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(cache_error(e));
        }
        Ok(())
    }
}

/// Whether the source's URL or reference carries user information (`user:secret@host`).
fn has_credentials(source: &ChartSource) -> bool {
    let authority = |rest: &str| {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        rest[..end].contains('@')
    };
    match source {
        ChartSource::Repository { url, .. } | ChartSource::Url(url) => url
            .split_once("://")
            .is_some_and(|(_, rest)| authority(rest)),
        ChartSource::Oci { reference, .. } => {
            reference.strip_prefix("oci://").is_some_and(authority)
        }
    }
}

fn build_client(plain: bool) -> Result<reqwest::blocking::Client, String> {
    // reqwest is built without a bundled crypto provider; use ring, as `secrets` does.
    // Installing fails harmlessly when the process already chose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::blocking::Client::builder()
        .tls_backend_rustls()
        .user_agent(concat!("flotilla/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(300));
    if plain {
        // No TLS: load no roots; and never proxy plain HTTP (loopback registries, tests).
        builder = builder.tls_certs_only(Vec::new()).no_proxy();
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the http client: {}", root_cause(&e)))
}

fn status_error(url: &str, resp: &Response) -> FetchError {
    let e = FetchError::new(
        FetchErrorKind::Status(resp.status),
        format!("failed to fetch {url} : {}", resp.status_line()),
    );
    if resp.status == 404 {
        e.with_hint("check the repository URL, the chart name and the version")
    } else {
        e
    }
}

fn versions_hint(index: &Index, name: &str) -> String {
    match index.entries.get(name) {
        Some(vs) if !vs.is_empty() => {
            let listed: Vec<&str> = vs.iter().take(5).map(|v| v.version.as_str()).collect();
            format!(
                "the repository has {name} {}{}",
                listed.join(", "),
                if vs.len() > 5 { ", …" } else { "" }
            )
        }
        _ => {
            let names: Vec<&str> = index.entries.keys().take(10).map(String::as_str).collect();
            if names.is_empty() {
                "the repository's index lists no charts".into()
            } else {
                format!("the repository has {}", names.join(", "))
            }
        }
    }
}

/// The innermost cause of an error (reqwest wraps hyper wraps io).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// SHA-256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_command_line_arguments() {
        assert_eq!(ChartSource::from_args("./chart", None, "", false), None);
        assert_eq!(
            ChartSource::from_args("repo/chart", None, "1.0.0", false),
            None
        );
        assert_eq!(
            ChartSource::from_args("demo", Some("https://r.example"), "", true),
            Some(ChartSource::Repository {
                url: "https://r.example".into(),
                name: "demo".into(),
                version: ">0.0.0-0".into()
            })
        );
        assert_eq!(
            ChartSource::from_args("oci://r.example/c/demo", None, "1.2.3", false),
            Some(ChartSource::Oci {
                reference: "oci://r.example/c/demo".into(),
                version: "1.2.3".into()
            })
        );
        assert_eq!(
            ChartSource::from_args("https://r.example/demo-1.0.0.tgz", None, "", false),
            Some(ChartSource::Url("https://r.example/demo-1.0.0.tgz".into()))
        );
    }

    #[test]
    fn credentials_in_references_are_refused_without_echoing_them() {
        let f = ChartFetcher::new(std::env::temp_dir().join("flotilla-fetch-unit-never-written"));
        for source in [
            ChartSource::Url("https://u:hunter2@h.example/c.tgz".into()),
            ChartSource::Repository {
                url: "https://u:hunter2@h.example/charts".into(),
                name: "c".into(),
                version: String::new(),
            },
            ChartSource::Oci {
                reference: "oci://u:hunter2@h.example/c".into(),
                version: "1.0.0".into(),
            },
        ] {
            let e = f.fetch(&source).unwrap_err();
            assert!(e.is_usage());
            assert!(!format!("{e} {:?}", e.hint).contains("hunter2"), "{e}");
        }
        let plain = ChartSource::Url("https://h.example/c@1.tgz".into());
        assert!(!has_credentials(&plain));
    }

    #[test]
    fn the_cache_serves_only_intact_archives() {
        let dir = std::env::temp_dir().join(format!("flotilla-fetch-unit-{}", std::process::id()));
        let f = ChartFetcher::new(&dir);
        let digest = sha256_hex(b"archive");
        f.store_archive(&digest, b"archive").unwrap();
        f.write_ref("k", &digest).unwrap();
        assert_eq!(f.cached_ref("k", None).unwrap().digest, digest);
        std::fs::write(f.archive_path(&digest), b"tampered").unwrap();
        assert!(f.cached_ref("k", None).is_none());
        assert!(f.cached_archive("../../etc/passwd").is_none());
        let leftovers = std::fs::read_dir(dir.join("sha256"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            })
            .count();
        assert_eq!(leftovers, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
