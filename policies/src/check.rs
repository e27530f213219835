//! What the plan step calls: may this principal deploy the selection
//! ([`check_deployments`]), do a release's rendered objects pass the manifest rules
//! ([`check_manifests`]), or both over a whole compiled plan ([`check_plan`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use cel::Value;
use serde::Serialize;
use syntax::model::{ClusterName, Fleet, Selection, ServiceName};
use targeting;

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
    cluster: &syntax::model::ClusterSpec,
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
                cluster: Arc::clone(&v.cluster),
                release: Arc::clone(&v.release),
                kind: Arc::clone(&v.kind),
                namespace: Arc::clone(&v.namespace),
                name: Arc::clone(&v.name),
                rule: Arc::clone(&v.rule),
                service: Arc::clone(&v.service),
                message: Arc::clone(&v.message),
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
/// once, and its violations are stamped with each release's names (shared, not copied).
/// Splitting, parsing and evaluation run in parallel, stamping on one thread; the result does
/// not depend on the number of threads.
///
/// [`ManifestRules::cluster_key`]: crate::ManifestRules::cluster_key
/// [`ManifestRules::release_key`]: crate::ManifestRules::release_key
pub fn check_plan(
    policies: &Policies,
    principal: Option<&Principal>,
    fleet: &Fleet,
    selection: &Selection,
    plan: &plan::Plan,
    manifests: &plan::Manifests,
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
    // 1. In plan order: each distinct manifest gets an id, each distinct release its
    // `Release` and the id of what the rules read of it, each cluster the id of what they read
    // of it, and each release a "combination": its manifest and those two ids. Releases of one
    // combination get the same violations but for their names. The maps are only looked up,
    // never iterated, so their order cannot reach the result; hashing is fast (foldhash).
    let mut key_ids: HashMap<String, usize, Fast> = HashMap::default();
    let mut key_id = |key: String| {
        let next = key_ids.len();
        *key_ids.entry(key).or_insert(next)
    };
    let mut manifest_ids: HashMap<&plan::Digest, usize, Fast> = HashMap::default();
    let mut digests: Vec<&plan::Digest> = Vec::new();
    let mut release_ids: HashMap<(&str, &str, &str), (usize, usize), Fast> = HashMap::default();
    let mut releases: Vec<Release> = Vec::new();
    // The name and service of each distinct release, shared by the violations of all its
    // clusters (a few texts that stay in cache, rather than each release's own).
    let mut release_names: Vec<(Arc<str>, Arc<str>)> = Vec::new();
    let mut combo_ids: HashMap<Combo, usize, Fast> = HashMap::default();
    let mut combos: Vec<(Combo, usize)> = Vec::new();
    let mut items: Vec<Item<'_>> = Vec::with_capacity(plan.release_count());
    // Each cluster of the plan in the fleet, with its name and its range of `items`.
    let mut clusters: Vec<(&Arc<str>, std::ops::Range<usize>)> = Vec::new();
    // What the rules read of each cluster, found in parallel.
    let cluster_keys: Vec<Option<(&syntax::model::ClusterSpec, String)>> = plan
        .clusters
        .par_iter()
        .map(|c| {
            let cluster = fleet.clusters.get(&*c.name)?;
            Some((cluster, rules.cluster_key(cluster)))
        })
        .collect();
    for (cluster_plan, found) in plan.clusters.iter().zip(cluster_keys) {
        let Some((cluster, key)) = found else {
            continue;
        };
        let cluster_key = key_id(key);
        let first = items.len();
        for r in &cluster_plan.releases {
            let names = (&*r.name, &*r.namespace, &*r.service);
            let (release, release_key) = match release_ids.get(&names) {
                Some(found) => *found,
                None => {
                    let release = Release {
                        name: r.name.to_string(),
                        namespace: r.namespace.to_string(),
                        service: r.service.to_string(),
                    };
                    let found = (releases.len(), key_id(rules.release_key(&release)));
                    releases.push(release);
                    release_names.push((Arc::clone(&r.name), Arc::clone(&r.service)));
                    release_ids.insert(names, found);
                    found
                }
            };
            let manifest = *manifest_ids.entry(&r.manifest).or_insert_with(|| {
                digests.push(&r.manifest);
                digests.len() - 1
            });
            let combo = Combo {
                manifest,
                keys: (cluster_key, release_key),
            };
            let next = combos.len();
            let combo = *combo_ids.entry(combo).or_insert_with(|| {
                combos.push((combo, items.len()));
                next
            });
            items.push(Item {
                cluster,
                release,
                combo,
            });
        }
        clusters.push((&cluster_plan.name, first..items.len()));
    }
    drop(manifest_ids);
    // 2. Each distinct manifest found (`None`: missing from the plan), split into documents,
    // and each document hashed, in parallel; then each distinct document text gets an id, in
    // plan order.
    let found: Vec<Option<Vec<(u64, &str)>>> = digests
        .par_iter()
        .map(|digest| {
            let text = manifests.get(digest)?;
            Some(
                manifests::document_texts(text)
                    .into_iter()
                    .map(|doc| (Hashed::hash(doc), doc))
                    .collect(),
            )
        })
        .collect();
    let mut doc_ids: HashMap<Hashed<'_>, usize, Fast> = HashMap::default();
    let mut texts: Vec<&str> = Vec::new();
    let manifest_docs: Vec<Option<Vec<usize>>> = found
        .into_iter()
        .map(|docs| {
            docs.map(|docs| {
                docs.into_iter()
                    .map(|(hash, text)| {
                        *doc_ids.entry(Hashed { hash, text }).or_insert_with(|| {
                            texts.push(text);
                            texts.len() - 1
                        })
                    })
                    .collect()
            })
        })
        .collect();
    drop(doc_ids);
    // 3. Every distinct document parsed once, in parallel.
    let parsed: Vec<Parsed> = texts
        .par_iter()
        .map(|text| manifests::parse_document(text))
        .collect();
    // 4. What each combination needs: why its manifest cannot be checked, or the evaluations
    // of its documents' objects. An evaluation is a distinct (document, inputs); they are
    // grouped by inputs (with the first release that has them), in plan order.
    let mut eval_ids: HashMap<(usize, (usize, usize)), usize, Fast> = HashMap::default();
    let mut groups: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
    let mut group_of: HashMap<(usize, usize), usize, Fast> = HashMap::default();
    let needs: Vec<Result<Vec<usize>, String>> = combos
        .iter()
        .map(|(combo, first)| {
            let Some(Some(ids)) = manifest_docs.get(combo.manifest) else {
                return Err("the manifest is missing from the plan".into());
            };
            for &id in ids {
                if let Some(Err(e)) = parsed.get(id) {
                    return Err(format!("the release's manifest could not be read: {e}"));
                }
            }
            let mut evals = Vec::with_capacity(ids.len());
            for &id in ids {
                if !matches!(parsed.get(id), Some(Ok(Some(_)))) {
                    continue;
                }
                let next = eval_ids.len();
                let eval = *eval_ids.entry((id, combo.keys)).or_insert_with(|| {
                    let g = *group_of.entry(combo.keys).or_insert_with(|| {
                        groups.push((*first, Vec::new()));
                        groups.len() - 1
                    });
                    if let Some((_, evals)) = groups.get_mut(g) {
                        evals.push((id, next));
                    }
                    next
                });
                evals.push(eval);
            }
            Ok(evals)
        })
        .collect();
    out.manifests_checked = eval_ids.len();
    drop((eval_ids, group_of));
    // 5. The rules over each group's documents, in parallel.
    let results: Vec<Vec<(usize, Vec<Violation>)>> = groups
        .par_iter()
        .map(|(first, evals)| {
            let Some(item) = items.get(*first) else {
                return Vec::new();
            };
            let Some(release) = releases.get(item.release) else {
                return Vec::new();
            };
            let inputs = manifests::Inputs::new(item.cluster, release);
            inputs.with_frame(|frame| {
                evals
                    .iter()
                    .filter_map(|&(id, eval)| {
                        let Some(Ok(Some(object))) = parsed.get(id) else {
                            return None;
                        };
                        let mut found = Vec::new();
                        manifests::evaluate_object(rules, &inputs, frame, object, &mut found);
                        Some((eval, found))
                    })
                    .collect()
            })
        })
        .collect();
    let mut evaluated: Vec<Vec<Violation>> = vec![Vec::new(); out.manifests_checked];
    for (eval, found) in results.into_iter().flatten() {
        if let Some(slot) = evaluated.get_mut(eval) {
            *slot = found;
        }
    }
    // 6. Each combination's violations, sorted as within a release (its names aside).
    let templates: Vec<Vec<Violation>> = needs
        .par_iter()
        .map(|need| {
            let mut found: Vec<Violation> = match need {
                Err(message) => vec![manifest_violation(message)],
                Ok(evals) => evals
                    .iter()
                    .filter_map(|e| evaluated.get(*e))
                    .flatten()
                    .cloned()
                    .collect(),
            };
            found.sort_by(in_release_order);
            found
        })
        .collect();
    // 7. Each release's violations: its combination's, stamped with its names. Clusters in
    // plan order, the releases of each by name: then the violations come sorted when the
    // plan's clusters are sorted (the first sort key) and a cluster's release names differ
    // (the second); otherwise they are sorted here. Stamping shares texts (no copies) and runs
    // on one thread: it writes the result in place, and no counter is shared between threads.
    let mut by_name: Vec<usize> = (0..releases.len()).collect();
    by_name.sort_by(|a, b| {
        let name = |i: &usize| releases.get(*i).map(|r| r.name.as_str());
        name(a).cmp(&name(b))
    });
    let mut name_rank = vec![0usize; releases.len()];
    let mut rank = 0;
    for (n, pair) in by_name.iter().enumerate() {
        if n > 0
            && releases.get(by_name[n - 1]).map(|r| &r.name) != releases.get(*pair).map(|r| &r.name)
        {
            rank += 1;
        }
        if let Some(slot) = name_rank.get_mut(*pair) {
            *slot = rank;
        }
    }
    let template_of = |item: &Item<'_>| templates.get(item.combo).map_or(&[][..], Vec::as_slice);
    out.violations = Vec::with_capacity(items.iter().map(|i| template_of(i).len()).sum());
    let mut order: Vec<(usize, usize)> = Vec::new();
    for (cluster, range) in &clusters {
        order.clear();
        order.extend(
            range
                .clone()
                .filter_map(|i| Some((*name_rank.get(items.get(i)?.release)?, i))),
        );
        order.sort_unstable();
        let distinct = order.windows(2).all(|w| match w {
            [(a, _), (b, _)] => a < b,
            _ => true,
        });
        let start = out.violations.len();
        for item in order.iter().filter_map(|(_, i)| items.get(*i)) {
            let Some((release, service)) = release_names.get(item.release) else {
                continue;
            };
            out.violations
                .extend(template_of(item).iter().map(|v| Violation {
                    cluster: Arc::clone(cluster),
                    release: Arc::clone(release),
                    kind: Arc::clone(&v.kind),
                    namespace: Arc::clone(&v.namespace),
                    name: Arc::clone(&v.name),
                    rule: Arc::clone(&v.rule),
                    action: v.action,
                    service: Arc::clone(service),
                    message: Arc::clone(&v.message),
                }));
        }
        if !distinct && let Some(mine) = out.violations.get_mut(start..) {
            mine.sort();
        }
    }
    let sorted = clusters.windows(2).all(|w| match w {
        [(a, _), (b, _)] => a < b,
        _ => true,
    });
    if !sorted {
        out.violations.sort();
    }
    // Freeing tens of thousands of parsed objects takes a while and changes nothing: it
    // happens on another thread while the caller carries on.
    // (When no thread can be started, the closure and what it holds are dropped here.)
    let garbage = (parsed, evaluated, templates);
    let _ = std::thread::Builder::new()
        .name("check-plan-drop".into())
        .spawn(move || drop(garbage));
    out
}

/// The hasher of `check_plan`'s maps: fast, and their order never reaches the result.
type Fast = foldhash::fast::RandomState;

/// A release of the plan, as the manifest rules see it.
struct Item<'a> {
    cluster: &'a syntax::model::ClusterSpec,
    /// Its index in the distinct releases.
    release: usize,
    /// Its index in the distinct combinations.
    combo: usize,
}

/// What the violations of a release depend on, but for its names: its manifest's index in
/// the distinct manifest digests, and the ids of what the rules read of its cluster and of
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Combo {
    manifest: usize,
    keys: (usize, usize),
}

/// A document text with its hash, computed beforehand (in parallel).
#[derive(Debug, PartialEq, Eq)]
struct Hashed<'a> {
    hash: u64,
    text: &'a str,
}

impl Hashed<'_> {
    fn hash(text: &str) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::with_seed(0).hash_one(text)
    }
}

impl std::hash::Hash for Hashed<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A document of a manifest, parsed: an object, nothing (an empty document), or why not.
type Parsed = Result<Option<serde_json::Value>, String>;

/// The order of [`Violation`] for violations of one cluster and release (their service is
/// the release's).
fn in_release_order(a: &Violation, b: &Violation) -> std::cmp::Ordering {
    (
        &a.kind,
        &a.namespace,
        &a.name,
        &a.rule,
        a.action,
        &a.message,
    )
        .cmp(&(
            &b.kind,
            &b.namespace,
            &b.name,
            &b.rule,
            b.action,
            &b.message,
        ))
}

/// The violation of a release whose manifest cannot be checked (its names left empty).
fn manifest_violation(message: &str) -> Violation {
    let empty: Arc<str> = Arc::from("");
    Violation {
        cluster: Arc::clone(&empty),
        release: Arc::clone(&empty),
        kind: Arc::clone(&empty),
        namespace: Arc::clone(&empty),
        name: Arc::clone(&empty),
        rule: "<manifest>".into(),
        action: manifests::RuleAction::Deny,
        service: empty,
        message: message.into(),
    }
}
