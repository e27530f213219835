//! OCI registries as Helm's `pkg/registry` pulls charts from them: `oci://host/path/chart`
//! references, the distribution API (`/v2/<name>/manifests/<tag>`, `/v2/<name>/blobs/<digest>`,
//! `/v2/<name>/tags/list`), Helm's chart media types, and the anonymous bearer-token flow of
//! public registries (`WWW-Authenticate: Bearer realm=…`).

use gotemplate::Value;

/// Media type of a Helm chart's config blob.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Media type of a Helm chart's archive layer.
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The archive layer's media type before Helm 3.8 (`LegacyChartLayerMediaType`).
pub const LEGACY_CHART_LAYER_MEDIA_TYPE: &str = "application/tar+gzip";
/// What the manifest request accepts.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// `oci://host[:port]/path/chart[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// The repository inside the registry (`path/chart`).
    pub repository: String,
    pub tag: Option<String>,
}

impl Reference {
    pub fn parse(reference: &str) -> Result<Reference, String> {
        let rest = reference.strip_prefix("oci://").ok_or_else(|| {
            format!("invalid OCI reference {reference:?}: it must start with oci://")
        })?;
        if rest.contains('@') {
            return Err(format!(
                "invalid OCI reference {reference:?}: digests (@sha256:…) are not supported, give a tag or --version"
            ));
        }
        let (registry, path) = rest
            .split_once('/')
            .filter(|(r, p)| !r.is_empty() && !p.is_empty())
            .ok_or_else(|| {
                format!("invalid OCI reference {reference:?}: expected oci://registry/path/chart")
            })?;
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (path, None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        };
        if !valid(repository) || repository.split('/').any(str::is_empty) {
            return Err(format!(
                "invalid OCI reference {reference:?}: the repository path must be lowercase letters, digits, '.', '_', '-' and '/'"
            ));
        }
        if let Some(t) = &tag
            && (t.is_empty()
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        {
            return Err(format!(
                "invalid OCI reference {reference:?}: invalid tag {t:?}"
            ));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
        })
    }

    /// The chart's name: the repository's last segment.
    pub fn chart_name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }

    /// The API's base URL, `scheme://registry/v2/repository`.
    pub fn api(&self, plain_http: bool) -> String {
        let scheme = if plain_http { "http" } else { "https" };
        format!("{scheme}://{}/v2/{}", self.registry, self.repository)
    }
}

/// A chart version as an OCI tag: `+` is not allowed in tags, Helm writes `_`.
pub fn version_to_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// A tag back to a chart version.
pub fn tag_to_version(tag: &str) -> String {
    tag.replace('_', "+")
}

/// What a chart's image manifest points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartManifest {
    /// `sha256` hex of the chart archive layer.
    pub layer_digest: String,
    pub layer_size: Option<u64>,
}

/// Reads an image manifest and finds the chart archive layer, checking Helm's config media
/// type (`oras` would refuse anything else too).
pub fn parse_manifest(data: &[u8]) -> Result<ChartManifest, String> {
    let text = String::from_utf8_lossy(data);
    let root = gotemplate::funcs::encoding::from_yaml(&text)
        .map_err(|e| format!("the manifest is not JSON: {}", e.message))?;
    let root = root.as_map().ok_or("the manifest is not a JSON object")?;
    let str_of = |v: &Value, k: &str| {
        v.as_map()
            .and_then(|m| m.get(k))
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let config = root.get("config").unwrap_or(Value::Nil);
    match str_of(&config, "mediaType").as_deref() {
        Some(CONFIG_MEDIA_TYPE) => {}
        Some(other) => {
            return Err(format!(
                "the artifact is not a Helm chart: its config media type is {other}, expected {CONFIG_MEDIA_TYPE}"
            ));
        }
        None => return Err("the manifest has no config media type".into()),
    }
    let layers = root.get("layers").unwrap_or(Value::Nil);
    let layer = layers
        .as_list()
        .unwrap_or(&[])
        .iter()
        .find(|l| {
            matches!(
                str_of(l, "mediaType").as_deref(),
                Some(CHART_LAYER_MEDIA_TYPE | LEGACY_CHART_LAYER_MEDIA_TYPE)
            )
        })
        .cloned()
        .ok_or_else(|| {
            format!("manifest does not contain a layer with mediatype {CHART_LAYER_MEDIA_TYPE}")
        })?;
    let digest = str_of(&layer, "digest").unwrap_or_default();
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            format!("unsupported chart layer digest {digest:?} (expected sha256:<hex>)")
        })?;
    let size = layer
        .as_map()
        .and_then(|m| m.get("size"))
        .and_then(|v| match v {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::Float(f) if f >= 0.0 && f.fract() == 0.0 => Some(f as u64),
            _ => None,
        });
    Ok(ChartManifest {
        layer_digest: hex.to_ascii_lowercase(),
        layer_size: size,
    })
}

/// The tags of a `tags/list` answer.
pub fn parse_tags(data: &[u8]) -> Result<Vec<String>, String> {
    let text = String::from_utf8_lossy(data);
    let root = gotemplate::funcs::encoding::from_yaml(&text)
        .map_err(|e| format!("the tag list is not JSON: {}", e.message))?;
    Ok(root
        .as_map()
        .and_then(|m| m.get("tags"))
        .as_ref()
        .and_then(Value::as_list)
        .unwrap_or(&[])
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect())
}

/// A `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

impl BearerChallenge {
    /// `None` unless the header is a bearer challenge with a realm.
    pub fn parse(header: &str) -> Option<BearerChallenge> {
        let (scheme, params) = header.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut realm = None;
        let mut service = None;
        let mut scope = None;
        let mut rest = params.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let key = key.trim().to_ascii_lowercase();
            let after = after.trim_start();
            let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"')?;
                (&quoted[..end], &quoted[end + 1..])
            } else {
                match after.find(',') {
                    Some(i) => (&after[..i], &after[i..]),
                    None => (after, ""),
                }
            };
            match key.as_str() {
                "realm" => realm = Some(value.to_string()),
                "service" => service = Some(value.to_string()),
                "scope" => scope = Some(value.to_string()),
                _ => {}
            }
            rest = next.trim_start().trim_start_matches(',').trim_start();
        }
        Some(BearerChallenge {
            realm: realm?,
            service,
            scope,
        })
    }
}

/// The token of a token endpoint's answer (`token`, or OAuth's `access_token`).
pub fn parse_token(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let root = gotemplate::funcs::encoding::from_yaml(&text).ok()?;
    let m = root.as_map()?;
    ["token", "access_token"]
        .iter()
        .find_map(|k| m.get(k).as_ref().and_then(Value::as_str).map(str::to_owned))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = Reference::parse("oci://ghcr.io/stefanprodan/charts/podinfo").unwrap();
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.repository, "stefanprodan/charts/podinfo");
        assert_eq!(r.tag, None);
        assert_eq!(r.chart_name(), "podinfo");
        assert_eq!(
            r.api(false),
            "https://ghcr.io/v2/stefanprodan/charts/podinfo"
        );
        let r = Reference::parse("oci://127.0.0.1:5000/charts/demo:1.2.3").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.tag.as_deref(), Some("1.2.3"));
        assert_eq!(r.api(true), "http://127.0.0.1:5000/v2/charts/demo");
        for bad in [
            "https://ghcr.io/x",
            "oci://ghcr.io",
            "oci:///x",
            "oci://h/Upper",
            "oci://h/a//b",
            "oci://h/a@sha256:00",
            "oci://h/a:",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(version_to_tag("1.0.0+build.1"), "1.0.0_build.1");
        assert_eq!(tag_to_version("1.0.0_build.1"), "1.0.0+build.1");
    }

    #[test]
    fn manifests_need_helm_media_types() {
        let hex = "a".repeat(64);
        let ok = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"sha256:00","size":2}},
            "layers":[{{"mediaType":"{CHART_LAYER_MEDIA_TYPE}","digest":"sha256:{hex}","size":123}}]}}"#
        );
        let m = parse_manifest(ok.as_bytes()).unwrap();
        assert_eq!(m.layer_digest, hex);
        assert_eq!(m.layer_size, Some(123));
        let image = ok.replace(
            CONFIG_MEDIA_TYPE,
            "application/vnd.oci.image.config.v1+json",
        );
        assert!(
            parse_manifest(image.as_bytes())
                .unwrap_err()
                .contains("not a Helm chart")
        );
        let no_layer = ok.replace(CHART_LAYER_MEDIA_TYPE, "application/octet-stream");
        assert!(
            parse_manifest(no_layer.as_bytes())
                .unwrap_err()
                .contains("does not contain a layer")
        );
        assert!(parse_manifest(b"[").is_err());
        let bad_digest = ok.replace(&format!("sha256:{hex}"), "md5:00");
        assert!(parse_manifest(bad_digest.as_bytes()).is_err());
    }

    #[test]
    fn challenges_and_tokens() {
        let c = BearerChallenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.example/token");
        assert_eq!(c.service.as_deref(), Some("registry.example"));
        assert_eq!(c.scope.as_deref(), Some("repository:a/b:pull,push"));
        assert_eq!(
            BearerChallenge::parse("Bearer realm=http://x/t")
                .unwrap()
                .realm,
            "http://x/t"
        );
        assert!(BearerChallenge::parse(r#"Basic realm="x""#).is_none());
        assert!(BearerChallenge::parse(r#"Bearer service="x""#).is_none());
        assert_eq!(parse_token(br#"{"token":"t1"}"#).as_deref(), Some("t1"));
        assert_eq!(
            parse_token(br#"{"access_token":"t2"}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(parse_token(b"{}"), None);
        assert_eq!(
            parse_tags(br#"{"name":"x","tags":["1.0.0","latest"]}"#).unwrap(),
            ["1.0.0", "latest"]
        );
    }
}
