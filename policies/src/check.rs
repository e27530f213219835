//! What the plan step calls: may this principal deploy the selection
//! ([`check_deployments`]), do a release's rendered objects pass the manifest rules
//! ([`check_manifests`]), or both over a whole compiled plan ([`check_plan`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use cel::Value;
use compiler::model::{ClusterName, Fleet, Selection, ServiceName};
use compiler::targeting;
use serde::Serialize;

use crate::Policies;
use crate::expr;
use crate::glob::Glob;
use crate::manifests::{self, Release, Violation};
use crate::rbac::{Action, Decision, Principal, Request, Role, Service, Subject, cluster_bound};

/// A service the principal may not deploy on some clusters, for one reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Denial {
    pub service: ServiceName,
    pub action: Action,
    /// The clusters this reason denies, sorted.
    pub clusters: Vec<ClusterName>,
    /// The first reason the request was denied (see [`crate::rbac::Decision::reason`]).
    pub reason: String,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.clusters.iter().map(ClusterName::as_str).collect();
        write!(
            f,
            "may not {} `{}` on {} {}: {}",
            self.action,
            self.service,
            if names.len() == 1 {
                "cluster"
            } else {
                "clusters"
            },
            names.join(", "),
            self.reason
        )
    }
}

/// Whether `principal` may deploy every selected service on every cluster it is selected on.
/// One denial per service and reason, naming the clusters concerned; sorted by service, then
/// reason. Empty when the fleet has no RBAC policy.
pub fn check_deployments(
    policies: &Policies,
    principal: &Principal,
    fleet: &Fleet,
    selection: &Selection,
) -> Vec<Denial> {
    let Some(rbac) = &policies.rbac else {
        return Vec::new();
    };
    let roles = rbac.roles_of(principal);
    let principal_bound = principal.bound();
    // Each service's CEL value, built once.
    let services: BTreeMap<&ServiceName, (Service, Value)> = selection
        .clusters
        .values()
        .flatten()
        .map(|name| {
            let service = match fleet.services.get(name) {
                Some(spec) => Service::from(spec),
                None => Service::named(name.as_str()),
            };
            let value = service.value();
            (name, (service, value))
        })
        .collect();
    // Denied clusters by service and reason.
    let mut denied: BTreeMap<(&ServiceName, String), Vec<ClusterName>> = BTreeMap::new();
    let principal_value = principal.value();
    let action = expr::string(Action::Deploy.as_str());
    // Clusters that agree on what the principal's rules read of a cluster (and on its input
    // bound) get the same decisions: they are made once.
    let (reads, globs) = cluster_reads(&roles);
    let mut memo: HashMap<(&ServiceName, usize), Decision> = HashMap::new();
    let mut key_ids: HashMap<String, usize> = HashMap::new();
    // The variables are bound once each: the principal for the whole run, a cluster for all
    // its services.
    expr::with_frame(
        &[("principal", &principal_value), ("action", &action)],
        |outer| {
            for (cluster_name, selected) in &selection.clusters {
                let Some(spec) = fleet.clusters.get(cluster_name) else {
                    continue;
                };
                let bound = principal_bound.max(cluster_bound(spec));
                let matched: String = globs
                    .iter()
                    .map(|g| {
                        if g.matches(spec.name.as_str()) {
                            '1'
                        } else {
                            '0'
                        }
                    })
                    .collect();
                let text = format!(
                    "{bound}|{matched}|{}",
                    manifests::cluster_projection(spec, &reads)
                );
                let next = key_ids.len();
                let key = *key_ids.entry(text).or_insert(next);
                let missing: Vec<&ServiceName> = selected
                    .iter()
                    .filter(|s| !memo.contains_key(&(*s, key)))
                    .collect();
                if !missing.is_empty() {
                    let cluster_value = targeting::cluster_value(spec);
                    outer.child(&[("cluster", &cluster_value)], |with_cluster| {
                        for name in missing {
                            let Some((service, value)) = services.get(name) else {
                                continue;
                            };
                            let req = Request::with_bound(
                                principal,
                                Action::Deploy,
                                service,
                                Some(spec),
                                bound,
                            );
                            let decision = with_cluster.child(&[("service", value)], |frame| {
                                rbac.decide_in(&req, &roles, frame, None)
                            });
                            memo.insert((name, key), decision);
                        }
                    });
                }
                for name in selected {
                    if let Some(d) = memo.get(&(name, key))
                        && !d.allowed
                    {
                        denied
                            .entry((name, d.reason.clone()))
                            .or_default()
                            .push(cluster_name.clone());
                    }
                }
            }
        },
    );
    denied
        .into_iter()
        .map(|((service, reason), clusters)| Denial {
            service: service.clone(),
            action: Action::Deploy,
            clusters,
            reason,
        })
        .collect()
}

/// The violations of a release's rendered objects on a cluster (see
/// [`manifests::evaluate`]). Empty when the fleet has no manifest rules.
pub fn check_manifests(
    policies: &Policies,
    cluster: &compiler::model::ClusterSpec,
    release: &Release,
    objects: &[serde_json::Value],
) -> Vec<Violation> {
    match &policies.manifests {
        Some(rules) => manifests::evaluate(rules, cluster, release, objects),
        None => Vec::new(),
    }
}

/// What the rules of these roles read of a cluster: the fields their `when`s read (`None`
/// when one uses the cluster as a whole), and the globs of their `clusters`.
fn cluster_reads<'r>(
    roles: &[(&'r Role, usize, &Subject)],
) -> (Option<BTreeSet<String>>, Vec<&'r Glob>) {
    let mut fields = Some(BTreeSet::new());
    let mut globs = Vec::new();
    for (role, _, _) in roles {
        for rule in &role.allow {
            globs.extend(rule.clusters.iter().flatten());
            if let Some(w) = &rule.when {
                match (w.field_reads("cluster"), &mut fields) {
                    (Some(f), Some(all)) => all.extend(f),
                    _ => fields = None,
                }
            }
        }
    }
    (fields, globs)
}

/// What the policies say about a compiled plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanCheck {
    pub denials: Vec<Denial>,
    pub violations: Vec<Violation>,
    /// Objects the rules ran on: one per distinct (object text, rule inputs); the other
    /// releases reused their result.
    #[serde(skip)]
    pub manifests_checked: usize,
}

impl PlanCheck {
    /// Whether the plan must not be applied: a denial, or a `deny` violation.
    pub fn refused(&self) -> bool {
        !self.denials.is_empty()
            || self
                .violations
                .iter()
                .any(|v| v.action == manifests::RuleAction::Deny)
    }

    /// The `warn` violations as the plan keeps them ([`plan::Plan::warnings`]): sorted, one
    /// per object, rule, release and cluster.
    pub fn plan_warnings(&self) -> Vec<plan::Warning> {
        let mut out: Vec<plan::Warning> = self
            .violations
            .iter()
            .filter(|v| v.action == manifests::RuleAction::Warn)
            .map(|v| plan::Warning {
                cluster: v.cluster.as_str().into(),
                release: v.release.as_str().into(),
                kind: v.kind.as_str().into(),
                namespace: v.namespace.as_str().into(),
                name: v.name.as_str().into(),
                rule: v.rule.as_str().into(),
                service: v.service.as_str().into(),
                message: v.message.as_str().into(),
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Denials, then violations, for people.
    pub fn render_text(&self, principal: Option<&Principal>) -> String {
        let mut out = String::new();
        for d in &self.denials {
            let who = principal.map_or_else(|| "the principal".to_owned(), |p| p.to_string());
            out.push_str(&format!("denied: {who} {d}\n"));
        }
        out.push_str(&manifests::render_text(&self.violations));
        out
    }
}

/// Checks a compiled plan: with a principal, that it may deploy every release
/// ([`check_deployments`]); and every release's objects against the manifest rules. The rules
/// run once per distinct object text and distinct value of what they read of the cluster and
/// the release ([`ManifestRules::cluster_key`], [`ManifestRules::release_key`]): a Deployment
/// rendered the same for a thousand clusters of the same environment is parsed and checked
/// once, and its violations are stamped with each release's names. Parsing, evaluation and
/// stamping run in parallel; the result does not depend on the number of threads.
///
/// [`ManifestRules::cluster_key`]: crate::ManifestRules::cluster_key
/// [`ManifestRules::release_key`]: crate::ManifestRules::release_key
pub fn check_plan(
    policies: &Policies,
    principal: Option<&Principal>,
    fleet: &Fleet,
    selection: &Selection,
    plan: &plan::Plan,
    manifests: &compiler::Manifests,
) -> PlanCheck {
    use rayon::prelude::*;

    let mut out = PlanCheck::default();
    if let Some(p) = principal {
        out.denials = check_deployments(policies, p, fleet, selection);
    }
    let Some(rules) = &policies.manifests else {
        return out;
    };
    if rules.rules.is_empty() {
        return out;
    }
    // 1. In plan order: each distinct document text gets an id, each distinct manifest its
    // documents' ids, each release the ids of what the rules read of its cluster and itself.
    // Documents are hashed whole (hundreds of MB for a large fleet): a fast hasher. The maps
    // are only looked up, never iterated, so their order cannot reach the result.
    type Fast = foldhash::fast::RandomState;
    let mut doc_ids: HashMap<&str, usize, Fast> = HashMap::default();
    let mut texts: Vec<&str> = Vec::new();
    let mut manifest_ids: HashMap<plan::Digest, Option<usize>, Fast> = HashMap::default();
    let mut manifest_docs: Vec<Vec<usize>> = Vec::new();
    let mut key_ids: HashMap<String, usize> = HashMap::new();
    let mut key_id = |key: String| {
        let next = key_ids.len();
        *key_ids.entry(key).or_insert(next)
    };
    let mut items: Vec<Item<'_>> = Vec::with_capacity(plan.release_count());
    let mut releases: HashMap<(&str, &str, &str), (Arc<Release>, usize), Fast> = HashMap::default();
    // Each cluster of the plan in the fleet, with its range of `items`.
    let mut clusters: Vec<(&compiler::model::ClusterSpec, std::ops::Range<usize>)> = Vec::new();
    for cluster_plan in &plan.clusters {
        let Some(cluster) = fleet.clusters.get(&*cluster_plan.name) else {
            continue;
        };
        let cluster_key = key_id(rules.cluster_key(cluster));
        let first = items.len();
        for r in &cluster_plan.releases {
            // The same release (names) on many clusters: made, and its key found, once.
            let (release, release_key) = match releases.get(&(&*r.name, &*r.namespace, &*r.service))
            {
                Some((release, key)) => (Arc::clone(release), *key),
                None => {
                    let release = Arc::new(Release {
                        name: r.name.to_string(),
                        namespace: r.namespace.to_string(),
                        service: r.service.to_string(),
                    });
                    let key = key_id(rules.release_key(&release));
                    releases.insert(
                        (&*r.name, &*r.namespace, &*r.service),
                        (Arc::clone(&release), key),
                    );
                    (release, key)
                }
            };
            let manifest = *manifest_ids.entry(r.manifest).or_insert_with(|| {
                manifests.get(&r.manifest).map(|text| {
                    let ids = manifests::document_texts(text)
                        .into_iter()
                        .map(|doc| {
                            *doc_ids.entry(doc).or_insert_with(|| {
                                texts.push(doc);
                                texts.len() - 1
                            })
                        })
                        .collect();
                    manifest_docs.push(ids);
                    manifest_docs.len() - 1
                })
            });
            items.push(Item {
                cluster,
                release,
                manifest,
                keys: (cluster_key, release_key),
            });
        }
        clusters.push((cluster, first..items.len()));
    }
    // 2. Every distinct document parsed once, in parallel.
    let parsed: Vec<Parsed> = texts
        .par_iter()
        .map(|text| manifests::parse_document(text))
        .collect();
    let docs_of = |item: &Item<'_>| -> Result<&[usize], String> {
        let Some(m) = item.manifest else {
            return Err("the manifest is missing from the plan".into());
        };
        let ids = manifest_docs.get(m).map_or(&[][..], Vec::as_slice);
        for &id in ids {
            if let Some(Err(e)) = parsed.get(id) {
                return Err(format!("the release's manifest could not be read: {e}"));
            }
        }
        Ok(ids)
    };
    // 3. The distinct (document, inputs) to evaluate, grouped by inputs (with the first
    // release that has them), in plan order.
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<(usize, usize), usize> = HashMap::new();
    let mut seen: std::collections::HashSet<(usize, (usize, usize))> = Default::default();
    for (i, item) in items.iter().enumerate() {
        let Ok(ids) = docs_of(item) else {
            continue;
        };
        for &id in ids {
            if !matches!(parsed.get(id), Some(Ok(Some(_)))) || !seen.insert((id, item.keys)) {
                continue;
            }
            let g = *group_of.entry(item.keys).or_insert_with(|| {
                groups.push((i, Vec::new()));
                groups.len() - 1
            });
            if let Some((_, ids)) = groups.get_mut(g) {
                ids.push(id);
            }
        }
    }
    // 4. The rules over each group's documents, in parallel.
    let results: Vec<Vec<(usize, Vec<Violation>)>> = groups
        .par_iter()
        .map(|(first, ids)| {
            let Some(item) = items.get(*first) else {
                return Vec::new();
            };
            let inputs = manifests::Inputs::new(item.cluster, &item.release);
            inputs.with_frame(|frame| {
                ids.iter()
                    .filter_map(|&id| {
                        let Some(Ok(Some(object))) = parsed.get(id) else {
                            return None;
                        };
                        let mut found = Vec::new();
                        manifests::evaluate_object(rules, &inputs, frame, object, &mut found);
                        Some((id, found))
                    })
                    .collect()
            })
        })
        .collect();
    let mut memo: HashMap<(usize, (usize, usize)), Vec<Violation>> = HashMap::new();
    for ((first, _), found) in groups.iter().zip(results) {
        let Some(item) = items.get(*first) else {
            continue;
        };
        for (id, violations) in found {
            out.manifests_checked += 1;
            memo.insert((id, item.keys), violations);
        }
    }
    // 5. Each release's violations, stamped with its names; per cluster in parallel, then
    // joined in cluster order.
    let per_cluster: Vec<Vec<Violation>> = clusters
        .par_iter()
        .map(|(cluster, range)| {
            let mut found = Vec::new();
            for item in items.get(range.clone()).unwrap_or_default() {
                let name = cluster.name.as_str();
                match docs_of(item) {
                    Err(message) => found.push(manifest_violation(name, &item.release, message)),
                    Ok(ids) => {
                        for &id in ids {
                            let Some(vs) = memo.get(&(id, item.keys)) else {
                                continue;
                            };
                            found.extend(vs.iter().map(|v| Violation {
                                cluster: name.to_owned(),
                                release: item.release.name.clone(),
                                kind: v.kind.clone(),
                                namespace: v.namespace.clone(),
                                name: v.name.clone(),
                                rule: v.rule.clone(),
                                action: v.action,
                                service: item.release.service.clone(),
                                message: v.message.clone(),
                            }));
                        }
                    }
                }
            }
            found.sort();
            found
        })
        .collect();
    out.violations = per_cluster.into_iter().flatten().collect();
    // Sorted already when the plan's clusters are (the cluster is the first sort key).
    if !out.violations.is_sorted() {
        out.violations.sort();
    }
    // Freeing tens of thousands of parsed objects takes a while and changes nothing: it
    // happens on another thread while the caller carries on.
    // (When no thread can be started, the closure and what it holds are dropped here.)
    let garbage = (parsed, memo);
    let _ = std::thread::Builder::new()
        .name("check-plan-drop".into())
        .spawn(move || drop(garbage));
    out
}

/// A release of the plan, as the manifest rules see it.
struct Item<'a> {
    cluster: &'a compiler::model::ClusterSpec,
    release: Arc<Release>,
    /// Its manifest's index in the documents of each manifest; `None` when the manifest is
    /// missing.
    manifest: Option<usize>,
    /// The ids of what the rules read of its cluster and of it.
    keys: (usize, usize),
}

/// A document of a manifest, parsed: an object, nothing (an empty document), or why not.
type Parsed = Result<Option<serde_json::Value>, String>;

fn manifest_violation(cluster: &str, release: &Release, message: String) -> Violation {
    Violation {
        cluster: cluster.to_owned(),
        release: release.name.clone(),
        kind: String::new(),
        namespace: String::new(),
        name: String::new(),
        rule: "<manifest>".into(),
        action: manifests::RuleAction::Deny,
        service: release.service.clone(),
        message,
    }
}
