//! Chart repositories as Helm's `pkg/repo` reads them: an `index.yaml` listing, per chart
//! name, its versions with their download `urls` and `digest`; picking a version (an exact
//! version first, else the highest matching a semver constraint, prereleases only when the
//! constraint names one) and resolving a relative download URL against the repository's.

use gotemplate::Value;

use crate::semver::{Constraints, Version, parse_version};

/// One version of a chart in an index (`repo.ChartVersion`), with what fetching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub name: String,
    pub version: String,
    pub urls: Vec<String>,
    /// `sha256` of the archive, hex, when the index gives one.
    pub digest: Option<String>,
}

/// A repository's `index.yaml`: per chart name, its versions, highest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    pub entries: std::collections::BTreeMap<String, Vec<IndexEntry>>,
}

/// Why an index is unusable or holds no matching chart (Helm's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("no API version specified")]
    NoApiVersion,
    #[error("empty index.yaml file")]
    Empty,
    #[error("{0}")]
    Parse(String),
    #[error("no chart name found")]
    NoChartName,
    #[error("no chart version found for {name}-{version}")]
    NoChartVersion { name: String, version: String },
    #[error("improper constraint: {0}")]
    Constraint(#[source] crate::semver::SemverError),
}

impl Index {
    /// Reads an index (YAML or JSON, as `loadIndex`); entries whose version does not parse
    /// are kept (an exact match can still pick them), entries without a name or version are
    /// skipped as Helm skips invalid ones.
    pub fn parse(data: &[u8]) -> Result<Index, IndexError> {
        if data.is_empty() {
            return Err(IndexError::Empty);
        }
        let text = String::from_utf8_lossy(data);
        let root = gotemplate::funcs::encoding::from_yaml(&text)
            .map_err(|e| IndexError::Parse(crate::chart::yaml_message(&e.message)))?;
        let Some(root) = root.as_map() else {
            return Err(IndexError::Parse("the index is not a mapping".into()));
        };
        let api = root.get("apiVersion");
        if api
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            return Err(IndexError::NoApiVersion);
        }
        let mut index = Index::default();
        let Some(entries) = root.get("entries") else {
            return Ok(index);
        };
        let Some(entries) = entries.as_map() else {
            return Err(IndexError::Parse("`entries` is not a mapping".into()));
        };
        for (name, versions) in entries.entries() {
            let mut out = Vec::new();
            for v in versions.as_list().unwrap_or(&[]) {
                let Some(m) = v.as_map() else { continue };
                let text = |k: &str| {
                    m.get(k)
                        .as_ref()
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .filter(|s| !s.is_empty())
                };
                let (Some(entry_name), Some(version)) = (text("name"), text("version")) else {
                    continue;
                };
                let urls = m
                    .get("urls")
                    .as_ref()
                    .and_then(Value::as_list)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect();
                let digest = text("digest")
                    .map(|d| d.strip_prefix("sha256:").unwrap_or(&d).to_ascii_lowercase());
                out.push(IndexEntry {
                    name: entry_name,
                    version,
                    urls,
                    digest,
                });
            }
            sort_descending(&mut out);
            index.entries.insert(name, out);
        }
        Ok(index)
    }

    /// `IndexFile.Get`: the exact `version` if listed, else the highest version matching it
    /// as a constraint (`""` is `*`: the latest stable version).
    pub fn get(&self, name: &str, version: &str) -> Result<&IndexEntry, IndexError> {
        let versions = self.entries.get(name).ok_or(IndexError::NoChartName)?;
        if versions.is_empty() {
            return Err(IndexError::NoChartVersion {
                name: name.into(),
                version: version.into(),
            });
        }
        let constraint = Constraints::parse(if version.is_empty() { "*" } else { version })
            .map_err(IndexError::Constraint)?;
        if !version.is_empty()
            && let Some(v) = versions.iter().find(|v| v.version == version)
        {
            return Ok(v);
        }
        versions
            .iter()
            .find(|v| parse_version(&v.version).is_ok_and(|p| constraint.check(&p)))
            .ok_or_else(|| IndexError::NoChartVersion {
                name: name.into(),
                version: version.into(),
            })
    }
}

/// Highest semantic version first; versions that do not parse last, in their order.
fn sort_descending(entries: &mut [IndexEntry]) {
    entries.sort_by(
        |a, b| match (parse_version(&a.version), parse_version(&b.version)) {
            (Ok(x), Ok(y)) => y.compare(&x).cmp(&0),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => std::cmp::Ordering::Equal,
        },
    );
}

/// The highest of `candidates` matching `constraint` (`""` is `*`), as Helm picks an OCI tag.
pub fn highest_matching<'a>(
    candidates: impl IntoIterator<Item = &'a str>,
    constraint: &str,
) -> Result<Option<&'a str>, IndexError> {
    let c = Constraints::parse(if constraint.is_empty() {
        "*"
    } else {
        constraint
    })
    .map_err(IndexError::Constraint)?;
    let mut best: Option<(Version, &str)> = None;
    for cand in candidates {
        let Ok(v) = parse_version(cand) else { continue };
        if !c.check(&v) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| v.compare(b) > 0) {
            best = Some((v, cand));
        }
    }
    Ok(best.map(|(_, s)| s))
}

/// True when `version` names one version (`1.2.3`, `1.2.3-rc.1`), not a range: such a
/// reference can be answered from the cache without asking the repository.
pub fn is_exact_version(version: &str) -> bool {
    parse_version(version).is_ok_and(|v| v.to_canonical() == version)
}

/// `repo.ResolveReferenceURL`: `reference` (absolute, or relative to the repository, whose
/// URL counts as a folder) as an absolute URL.
pub fn resolve_reference_url(base: &str, reference: &str) -> Result<String, String> {
    let mut base_url =
        reqwest::Url::parse(base).map_err(|e| format!("invalid repository URL {base}: {e}"))?;
    if !base_url.path().ends_with('/') {
        let p = format!("{}/", base_url.path());
        base_url.set_path(&p);
    }
    base_url
        .join(reference)
        .map(|u| u.to_string())
        .map_err(|e| format!("invalid chart URL {reference}: {e}"))
}

/// `URL/index.yaml`, as Helm builds it (a trailing slash of the repository trimmed).
pub fn index_url(repo: &str) -> String {
    format!("{}/index.yaml", repo.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"
apiVersion: v1
entries:
  demo:
    - name: demo
      version: 1.2.0
      urls: [demo-1.2.0.tgz]
      digest: ABCDEF
    - name: demo
      version: 1.10.0
      urls: [https://cdn.example.com/demo-1.10.0.tgz]
    - name: demo
      version: 2.0.0-rc.1
      urls: [charts/demo-2.0.0-rc.1.tgz]
    - name: demo
      version: not-semver
      urls: [odd.tgz]
    - version: 9.9.9
  empty: []
"#;

    fn index() -> Index {
        Index::parse(INDEX.as_bytes()).unwrap()
    }

    #[test]
    fn versions_sort_highest_first_and_invalid_entries_are_skipped() {
        let i = index();
        let vs: Vec<&str> = i.entries["demo"]
            .iter()
            .map(|e| e.version.as_str())
            .collect();
        assert_eq!(vs, ["2.0.0-rc.1", "1.10.0", "1.2.0", "not-semver"]);
        assert_eq!(i.entries["demo"][2].digest.as_deref(), Some("abcdef"));
    }

    #[test]
    fn get_picks_exact_then_highest_stable_match() {
        let i = index();
        assert_eq!(i.get("demo", "1.2.0").unwrap().version, "1.2.0");
        // As Helm: the version is read as a constraint before any exact match.
        assert!(matches!(
            i.get("demo", "not-semver").unwrap_err(),
            IndexError::Constraint(_)
        ));
        assert_eq!(i.get("demo", "").unwrap().version, "1.10.0");
        assert_eq!(i.get("demo", "~1.2").unwrap().version, "1.2.0");
        assert_eq!(i.get("demo", ">0.0.0-0").unwrap().version, "2.0.0-rc.1");
        assert_eq!(
            i.get("demo", "^3").unwrap_err().to_string(),
            "no chart version found for demo-^3"
        );
        assert_eq!(i.get("nope", "").unwrap_err(), IndexError::NoChartName);
        assert!(matches!(
            i.get("empty", "").unwrap_err(),
            IndexError::NoChartVersion { .. }
        ));
        assert!(matches!(
            i.get("demo", ">>>").unwrap_err(),
            IndexError::Constraint(_)
        ));
    }

    #[test]
    fn unusable_indexes_are_refused() {
        assert_eq!(Index::parse(b"").unwrap_err(), IndexError::Empty);
        assert_eq!(
            Index::parse(b"entries: {}").unwrap_err(),
            IndexError::NoApiVersion
        );
        assert!(matches!(
            Index::parse(b"apiVersion: v1\nentries: [").unwrap_err(),
            IndexError::Parse(_)
        ));
        assert!(Index::parse(br#"{"apiVersion": "v1", "entries": {}}"#).is_ok());
    }

    #[test]
    fn urls_resolve_against_the_repository_folder() {
        let r = |b, u| resolve_reference_url(b, u).unwrap();
        assert_eq!(
            r("https://h.example/charts", "demo-1.0.0.tgz"),
            "https://h.example/charts/demo-1.0.0.tgz"
        );
        assert_eq!(
            r("https://h.example/charts/", "sub/demo.tgz"),
            "https://h.example/charts/sub/demo.tgz"
        );
        assert_eq!(
            r("https://h.example/charts", "https://cdn.example/x.tgz"),
            "https://cdn.example/x.tgz"
        );
        assert_eq!(
            r("http://127.0.0.1:8080", "/a.tgz"),
            "http://127.0.0.1:8080/a.tgz"
        );
        assert!(resolve_reference_url("not a url", "x.tgz").is_err());
        assert_eq!(index_url("https://h/c/"), "https://h/c/index.yaml");
    }

    #[test]
    fn exact_versions_and_tag_selection() {
        assert!(is_exact_version("1.2.3"));
        assert!(is_exact_version("1.2.3-rc.1"));
        assert!(!is_exact_version("1.2"));
        assert!(!is_exact_version("^1.2.3"));
        assert!(!is_exact_version("v1.2.3"));
        let tags = ["1.0.0", "1.4.0", "2.0.0-beta", "latest", "1.3.9"];
        assert_eq!(highest_matching(tags, "").unwrap(), Some("1.4.0"));
        assert_eq!(highest_matching(tags, "~1.3").unwrap(), Some("1.3.9"));
        assert_eq!(
            highest_matching(tags, ">0.0.0-0").unwrap(),
            Some("2.0.0-beta")
        );
        assert_eq!(highest_matching(tags, "^3").unwrap(), None);
    }
}
