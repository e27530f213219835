//! The accepted plan of a fleet (`.flotilla/accepted/`, committed with the fleet so that
//! `flotilla review --check` can run in CI): what a fresh plan is reviewed against. It holds no
//! secret value in any form.
//!
//! On disk it is a plan bundle of *masked* manifests (every secret value, and every value of a
//! `kind: Secret` document, replaced by `<secret sha256:…>`; see `compiler::redact`) whose
//! `plan.yaml` names them by the digests of their masked text, plus `manifests.json`: the
//! digest of every release's real manifest, so that a changed secret still shows as a change.
//! `rejected.json` lists the plans `flotilla review --reject` turned down.
//!
//! A folder written before masking existed (real manifests, no `manifests.json`) is read as
//! [`Form::Unmasked`]: its manifests are masked on reading, and the next write replaces it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use compiler::redact::{self, Redactions};
use plan::{Digest, Manifests, PLAN_FILE, Plan};

use crate::BundleError;

/// The real manifest digests of an accepted plan.
pub const DIGESTS_FILE: &str = "manifests.json";
/// The digests of rejected plans.
pub const REJECTED_FILE: &str = "rejected.json";
/// How many rejected plans are remembered (the most recent).
const MAX_REJECTED: usize = 50;

/// Why the accepted plan could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AcceptedError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// How the accepted folder was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Masked manifests and their real digests.
    Masked,
    /// Real manifests (written by an older flotilla): secret values in plain text or base64.
    Unmasked,
}

/// An accepted plan: the plan with its real manifest digests, and the masked manifest texts
/// under those digests (ready for `compiler::review::review`).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub plan: Plan,
    pub manifests: Manifests,
    pub form: Form,
}

/// Reads the accepted plan in `dir` (`None` when nothing was accepted). Manifests of the
/// unmasked form are masked with their stored redactions, `redactor` and the Secret documents.
pub fn read(dir: &Path, redactor: &secrets::Redactor) -> Result<Option<Accepted>, AcceptedError> {
    if !dir.join(PLAN_FILE).exists() {
        return Ok(None);
    }
    let (stored_plan, stored, spans) = crate::read_dir(dir)?;
    let digests_path = dir.join(DIGESTS_FILE);
    let Ok(text) = std::fs::read_to_string(&digests_path) else {
        let manifests = redact::redacted(&stored, &spans, redactor);
        return Ok(Some(Accepted {
            plan: stored_plan,
            manifests,
            form: Form::Unmasked,
        }));
    };
    let invalid = |message: String| AcceptedError::Invalid {
        path: digests_path.clone(),
        message,
    };
    let real = digests_from_json(&text).map_err(invalid)?;
    let mut plan = stored_plan;
    let mut manifests = Manifests::default();
    for c in &mut plan.clusters {
        for r in &mut c.releases {
            let digest = real
                .get(&(c.name.to_string(), r.name.to_string()))
                .ok_or_else(|| {
                    invalid(format!(
                        "no manifest digest for release `{}` of cluster `{}`",
                        r.name, c.name
                    ))
                })?;
            if let Some(text) = stored.0.get(&r.manifest) {
                manifests.0.insert(*digest, text.clone());
            }
            r.manifest = *digest;
        }
    }
    Ok(Some(Accepted {
        plan,
        manifests,
        form: Form::Masked,
    }))
}

/// Writes `plan` as the accepted plan in `dir`, replacing what is there. `masked` holds the
/// masked text of every manifest the plan names, under the real digests the plan gives.
/// Rejected plans stay recorded, except `plan` itself.
pub fn write(dir: &Path, plan: &Plan, masked: &Manifests) -> Result<(), AcceptedError> {
    let mut rejected = read_rejected(dir);
    let accepted = plan_digest(plan);
    rejected.retain(|d| *d != accepted);
    let mut stored_plan = plan.clone();
    let mut stored = Manifests::default();
    let mut real = BTreeMap::new();
    for c in &mut stored_plan.clusters {
        for r in &mut c.releases {
            let Some(text) = masked.0.get(&r.manifest) else {
                return Err(BundleError::MissingManifest { digest: r.manifest }.into());
            };
            real.insert((c.name.to_string(), r.name.to_string()), r.manifest);
            let digest = Digest::of(text.as_bytes());
            stored.0.insert(digest, Arc::clone(text));
            r.manifest = digest;
        }
    }
    // Only our own files in a folder without a plan (rejections recorded before anything was
    // accepted): they go, so that the bundle may take the folder (the rejections are written
    // again with it).
    if !dir.join(PLAN_FILE).exists() {
        remove_file(&dir.join(REJECTED_FILE))?;
        remove_file(&dir.join(DIGESTS_FILE))?;
    }
    // The bundle, its real digests and the rejections replace the folder at once: a crash
    // leaves the old accepted plan or the new one, never a bundle without its digests.
    let mut extra = vec![(DIGESTS_FILE, digests_to_json(&real))];
    if !rejected.is_empty() {
        extra.push((REJECTED_FILE, rejected_to_json(&rejected)));
    }
    crate::write::write_dir_with(dir, &stored_plan, &stored, &Redactions::default(), &extra)?;
    Ok(())
}

/// The digest that names a plan in `rejected.json`: of its canonical text (whose manifest
/// digests are those of the real manifests, so a changed secret makes another plan).
pub fn plan_digest(plan: &Plan) -> Digest {
    Digest::of(plan.to_yaml().as_bytes())
}

/// Records that `plan` was rejected (the accepted plan itself is unchanged).
pub fn reject(dir: &Path, plan: &Plan) -> Result<(), AcceptedError> {
    let mut rejected = read_rejected(dir);
    let digest = plan_digest(plan);
    rejected.retain(|d| *d != digest);
    rejected.push(digest);
    if rejected.len() > MAX_REJECTED {
        rejected.drain(..rejected.len() - MAX_REJECTED);
    }
    std::fs::create_dir_all(dir).map_err(|source| AcceptedError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_rejected(dir, &rejected)
}

/// Whether `plan` was rejected.
pub fn is_rejected(dir: &Path, plan: &Plan) -> bool {
    read_rejected(dir).contains(&plan_digest(plan))
}

fn read_rejected(dir: &Path) -> Vec<Digest> {
    let Ok(text) = std::fs::read_to_string(dir.join(REJECTED_FILE)) else {
        return Vec::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    doc.get("plans")
        .and_then(|p| p.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|d| d.as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn write_rejected(dir: &Path, rejected: &[Digest]) -> Result<(), AcceptedError> {
    let path = dir.join(REJECTED_FILE);
    if rejected.is_empty() {
        return remove_file(&path);
    }
    write_file(&path, &rejected_to_json(rejected))
}

fn rejected_to_json(rejected: &[Digest]) -> String {
    let doc = serde_json::json!({
        "apiVersion": plan::API_VERSION,
        "kind": "RejectedPlans",
        "plans": rejected.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    pretty(&doc)
}

fn pretty(doc: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `path` whole: a temporary file beside it, renamed over it.
fn write_file(path: &Path, text: &str) -> Result<(), AcceptedError> {
    let error = |source| AcceptedError::Write {
        path: path.to_path_buf(),
        source,
    };
    let parent = crate::write::parent_of(path);
    let mut tmp = tempfile::NamedTempFile::new_in(&parent).map_err(error)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(error)?;
    tmp.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

fn remove_file(path: &Path) -> Result<(), AcceptedError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(AcceptedError::Write {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

type RealDigests = BTreeMap<(String, String), Digest>;

/// `{"apiVersion", "kind": "ManifestDigests", "clusters": {cluster: {release: digest}}}`.
fn digests_to_json(real: &RealDigests) -> String {
    let mut clusters: BTreeMap<&str, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for ((cluster, release), digest) in real {
        clusters
            .entry(cluster.as_str())
            .or_default()
            .insert(release.clone(), digest.to_string().into());
    }
    pretty(&serde_json::json!({
        "apiVersion": plan::API_VERSION,
        "kind": "ManifestDigests",
        "clusters": clusters,
    }))
}

fn digests_from_json(text: &str) -> Result<RealDigests, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if doc.get("kind").and_then(|k| k.as_str()) != Some("ManifestDigests") {
        return Err("not a list of manifest digests (kind ManifestDigests)".to_owned());
    }
    let mut out = BTreeMap::new();
    let clusters = doc
        .get("clusters")
        .and_then(|c| c.as_object())
        .ok_or("no `clusters` mapping")?;
    for (cluster, releases) in clusters {
        let releases = releases
            .as_object()
            .ok_or_else(|| format!("cluster `{cluster}` is not a mapping"))?;
        for (release, digest) in releases {
            let digest = digest
                .as_str()
                .ok_or_else(|| format!("the digest of `{cluster}/{release}` is not a string"))?
                .parse::<Digest>()
                .map_err(|e| e.to_string())?;
            out.insert((cluster.clone(), release.clone()), digest);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use plan::{ChartPin, ClusterPlan, Release};
    use secrets::{SecretValue, Taint};

    use super::*;

    const SECRET: &str = "hunter2-password";

    fn fleet_plan(text: &str) -> (Plan, Manifests) {
        let digest = Digest::of(text.as_bytes());
        let release = Release {
            service: "web".into(),
            name: "web".into(),
            namespace: "ns".into(),
            wave: 0,
            version: Digest::of(b"v"),
            chart: Arc::new(ChartPin {
                name: "app".into(),
                version: "1.0.0".into(),
                digest: Digest::of(b"c"),
            }),
            values: Digest::of(b"values"),
            manifest: digest,
        };
        let plan = Plan::new(vec![ClusterPlan {
            name: "prod".into(),
            releases: vec![release],
        }]);
        (plan, Manifests(BTreeMap::from([(digest, Arc::from(text))])))
    }

    fn files(dir: &Path) -> String {
        let mut out = String::new();
        for entry in walk(dir) {
            out.push_str(&std::fs::read_to_string(entry).unwrap_or_default());
        }
        out
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn stores_masked_manifests_and_real_digests() {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let dir = tmp.path().join("accepted");
        let mut taint = Taint::new();
        taint.insert_value(&SecretValue::from(SECRET));
        let redactor = taint.redactor();
        let (plan, manifests) = fleet_plan(&format!("password: {SECRET}\n"));
        let masked = redact::redacted(
            &manifests,
            &Redactions::of(&manifests, &redactor),
            &redactor,
        );
        write(&dir, &plan, &masked).expect("written");
        assert!(!files(&dir).contains(SECRET));
        let back = read(&dir, &secrets::Redactor::none())
            .expect("read")
            .expect("a plan");
        assert_eq!(back.form, Form::Masked);
        assert_eq!(back.plan, plan);
        assert_eq!(back.manifests, masked);

        // Rejections survive an acceptance of another plan and go with the plan's own.
        let (other, _) = fleet_plan("password: other\n");
        reject(&dir, &other).expect("recorded");
        reject(&dir, &plan).expect("recorded");
        assert!(is_rejected(&dir, &other) && is_rejected(&dir, &plan));
        write(&dir, &plan, &masked).expect("written");
        assert!(is_rejected(&dir, &other) && !is_rejected(&dir, &plan));
    }

    #[test]
    fn reads_the_unmasked_form_masked_and_rejects_before_any_plan() {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let dir = tmp.path().join("accepted");
        let (plan, manifests) = fleet_plan(&format!("password: {SECRET}\n"));
        let mut taint = Taint::new();
        taint.insert_value(&SecretValue::from(SECRET));
        let redactor = taint.redactor();
        crate::write_dir(
            &dir,
            &plan,
            &manifests,
            &Redactions::of(&manifests, &redactor),
        )
        .expect("written");
        let back = read(&dir, &secrets::Redactor::none())
            .expect("read")
            .expect("a plan");
        assert_eq!(back.form, Form::Unmasked);
        assert_eq!(back.plan, plan);
        let text = back.manifests.get(&plan.clusters[0].releases[0].manifest);
        assert!(
            text.is_some_and(|t| t.starts_with("password: <secret sha256:")),
            "{text:?}"
        );

        let fresh = tmp.path().join("fresh");
        reject(&fresh, &plan).expect("recorded");
        assert!(read(&fresh, &redactor).expect("read").is_none());
        write(&fresh, &plan, &back.manifests).expect("a folder of rejections takes a plan");
        assert!(!fresh.join(REJECTED_FILE).exists());
    }
}
