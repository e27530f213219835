//! The dependency graph of services: cycles, dependencies missing on a cluster, and each
//! cluster's installation order in parallel waves.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diagnostics::Diagnostic;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::diag::Diags;
use crate::model::{ClusterName, Fleet, Selection, ServiceName, Waves};

/// Clusters by the set of services selected on them.
type Groups<'a> = HashMap<&'a BTreeSet<ServiceName>, Vec<&'a ClusterName>>;

/// Checks the graph and orders every cluster's services. Services in a dependency cycle are
/// left out of the waves (the cycle is an error).
///
/// `unknown` holds, per service, the clusters where its selection is unknown (its selector
/// failed to compile or to evaluate there; that was reported): a dependency missing there is
/// not reported again.
pub fn order(
    fleet: &Fleet,
    selection: &Selection,
    unknown: &BTreeMap<ServiceName, BTreeSet<ClusterName>>,
    diags: &mut Diags<'_>,
) -> BTreeMap<ClusterName, Waves> {
    // Edges go from a service to what it depends on.
    let mut graph: DiGraph<&ServiceName, ()> = DiGraph::new();
    let index: BTreeMap<&ServiceName, NodeIndex> = fleet
        .services
        .keys()
        .map(|name| (name, graph.add_node(name)))
        .collect();
    for (name, spec) in &fleet.services {
        for dep in spec.dependencies() {
            if let (Some(&a), Some(&b)) = (index.get(name), index.get(dep)) {
                graph.update_edge(a, b, ());
            }
        }
    }

    let cyclic = report_cycles(fleet, &graph, diags);
    // Clusters that select the same services get the same checks and waves: each distinct
    // selection is worked out once (the clusters of each group are in name order).
    let mut groups: HashMap<&BTreeSet<ServiceName>, Vec<&ClusterName>> = HashMap::new();
    for (cluster, selected) in &selection.clusters {
        groups.entry(selected).or_default().push(cluster);
    }
    report_unselected(fleet, &groups, unknown, &cyclic, diags);
    report_release_conflicts(fleet, &groups, diags);

    // A global order, dependencies first, of the services outside cycles.
    let mut acyclic = graph.clone();
    acyclic.retain_nodes(|g, n| !cyclic.contains(g[n]));
    let mut topo: Vec<&ServiceName> = match toposort(&acyclic, None) {
        Ok(order) => order.into_iter().map(|n| acyclic[n]).collect(),
        Err(_) => Vec::new(),
    };
    topo.reverse();

    let mut out = BTreeMap::new();
    for (selected, clusters) in groups {
        let in_order: Vec<&ServiceName> = topo
            .iter()
            .copied()
            .filter(|s| selected.contains(*s))
            .collect();
        let waves = waves_of(fleet, &in_order);
        for cluster in clusters {
            out.insert(cluster.clone(), waves.clone());
        }
    }
    out
}

/// The waves of `selected` (dependencies first): a service's wave is one more than the
/// highest wave of the services it depends on. Services marked `bootstrap: true`, and what they
/// depend on, come first: every other service is in a later wave than all of them.
fn waves_of(fleet: &Fleet, selected: &[&ServiceName]) -> Waves {
    // The bootstrap services and their dependencies (`selected` is in dependency order, so
    // walking it backwards sees a service before its dependencies).
    let mut first: BTreeSet<&ServiceName> = BTreeSet::new();
    for &s in selected.iter().rev() {
        let spec = &fleet.services[s];
        if spec.bootstrap || first.contains(s) {
            first.insert(s);
            first.extend(spec.dependencies().filter(|d| selected.contains(d)));
        }
    }
    let mut wave_of: BTreeMap<&ServiceName, usize> = BTreeMap::new();
    for pass_first in [true, false] {
        let floor = if pass_first {
            0
        } else {
            wave_of.values().max().map_or(0, |w| w + 1)
        };
        for &s in selected.iter().filter(|s| first.contains(*s) == pass_first) {
            let w = fleet.services[s]
                .dependencies()
                .filter_map(|d| wave_of.get(d))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0)
                .max(floor);
            wave_of.insert(s, w);
        }
    }
    let mut waves: Vec<Vec<ServiceName>> = Vec::new();
    for (s, w) in wave_of {
        if waves.len() <= w {
            waves.resize(w + 1, Vec::new());
        }
        waves[w].push(s.clone());
    }
    for w in &mut waves {
        w.sort();
    }
    Waves(waves)
}

/// Reports every dependency cycle; returns the services in one.
fn report_cycles<'f>(
    fleet: &'f Fleet,
    graph: &DiGraph<&'f ServiceName, ()>,
    diags: &mut Diags<'_>,
) -> BTreeSet<&'f ServiceName> {
    let mut cyclic = BTreeSet::new();
    let mut sccs: Vec<Vec<&ServiceName>> = tarjan_scc(graph)
        .into_iter()
        .filter(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]))
        .map(|scc| {
            let mut names: Vec<&ServiceName> = scc.into_iter().map(|n| graph[n]).collect();
            names.sort();
            names
        })
        .collect();
    sccs.sort();
    for members in sccs {
        cyclic.extend(members.iter().copied());
        let cycle = find_cycle(fleet, &members);
        let shown: Vec<String> = cycle
            .iter()
            .chain(cycle.first())
            .map(|s| format!("`{s}`"))
            .collect();
        let mut message = format!("dependency cycle: {}", shown.join(" → "));
        if members.len() > cycle.len() {
            let all: Vec<String> = members.iter().map(|s| format!("`{s}`")).collect();
            message.push_str(&format!(" (the cycle joins {})", all.join(", ")));
        }
        let mut labels = Vec::new();
        for (i, s) in cycle.iter().enumerate() {
            let next = cycle[(i + 1) % cycle.len()];
            let spec = &fleet.services[*s];
            if let Some(dep) = spec.depends_on.iter().find(|d| &d.name == next) {
                let text = format!("`{s}` depends on `{next}`");
                labels.push(if i == 0 {
                    diags.label(&spec.file, dep.span.clone(), text)
                } else {
                    diags.note(&spec.file, dep.span.clone(), text)
                });
            }
        }
        diags.push(
            Diagnostic::error("graph::cycle", message).with_help(
                "services install after what they depend on, so a cycle can never install; \
                 remove one of these dependencies",
            ),
            labels,
        );
    }
    cyclic
}

/// A cycle through the smallest member of a strongly connected component, following the
/// smallest dependency first.
fn find_cycle<'f>(fleet: &'f Fleet, members: &[&'f ServiceName]) -> Vec<&'f ServiceName> {
    let Some(&start) = members.first() else {
        return Vec::new();
    };
    let in_scc: BTreeSet<&ServiceName> = members.iter().copied().collect();
    // Iterative depth-first search for a path back to `start`.
    let deps = |s: &ServiceName| -> Vec<&'f ServiceName> {
        let mut d: Vec<&ServiceName> = fleet
            .services
            .get(s)
            .into_iter()
            .flat_map(|spec| spec.dependencies())
            .filter(|d| in_scc.contains(*d))
            .collect();
        d.sort();
        d.dedup();
        // Re-borrow from the fleet so the result lives as long as it.
        d.into_iter()
            .filter_map(|n| fleet.services.get_key_value(n).map(|(k, _)| k))
            .collect()
    };
    let mut path: Vec<&ServiceName> = vec![start];
    // For each node of the path, the dependencies not tried yet (smallest last).
    let mut pending: Vec<Vec<&ServiceName>> = vec![deps(start).into_iter().rev().collect()];
    let mut visited: BTreeSet<&ServiceName> = BTreeSet::from([start]);
    while let Some(candidates) = pending.last_mut() {
        match candidates.pop() {
            Some(n) if n == start => return path,
            Some(n) => {
                if visited.insert(n) {
                    path.push(n);
                    pending.push(deps(n).into_iter().rev().collect());
                }
            }
            None => {
                pending.pop();
                path.pop();
            }
        }
    }
    members.to_vec()
}

/// A dependency must be selected wherever its dependent is.
fn report_unselected(
    fleet: &Fleet,
    groups: &Groups<'_>,
    unknown: &BTreeMap<ServiceName, BTreeSet<ClusterName>>,
    cyclic: &BTreeSet<&ServiceName>,
    diags: &mut Diags<'_>,
) {
    let mut missing: BTreeMap<(&ServiceName, &ServiceName), Vec<&ClusterName>> = BTreeMap::new();
    for (selected, clusters) in groups {
        for s in selected.iter() {
            let Some(spec) = fleet.services.get(s) else {
                continue;
            };
            for d in spec.dependencies() {
                if !fleet.services.contains_key(d) || selected.contains(d) {
                    continue;
                }
                let unsure = unknown.get(d);
                let on = clusters
                    .iter()
                    .filter(|c| unsure.is_none_or(|u| !u.contains(**c)));
                missing.entry((s, d)).or_default().extend(on);
            }
        }
    }
    for ((s, d), mut clusters) in missing {
        if clusters.is_empty() {
            continue;
        }
        clusters.sort_unstable();
        if cyclic.contains(s) && cyclic.contains(d) {
            continue;
        }
        let spec = &fleet.services[s];
        let Some(entry) = spec.depends_on.iter().find(|x| &x.name == d) else {
            continue;
        };
        let names: Vec<String> = clusters.iter().map(|c| format!("`{c}`")).collect();
        let where_ = if names.len() == 1 {
            format!("cluster {}", names[0])
        } else {
            format!("clusters {}", names.join(", "))
        };
        let primary = diags.label(
            &spec.file,
            entry.span.clone(),
            format!("`{s}` depends on `{d}`"),
        );
        let dep = &fleet.services[d];
        let note = diags.note(
            &dep.selector.file,
            dep.selector.span.clone(),
            format!("`{d}` is selected by this"),
        );
        diags.push(
            Diagnostic::error(
                "graph::dependency-not-selected",
                format!("`{s}` depends on `{d}`, which is not selected on {where_}"),
            )
            .with_help(format!(
                "widen the selector of `{d}` to these clusters, or narrow the selector of `{s}`"
            )),
            vec![primary, note],
        );
    }
}

/// Two services selected on one cluster may not install the same Helm release, nor releases of
/// one name in two namespaces (a cluster's plan files its releases by name).
fn report_release_conflicts(fleet: &Fleet, groups: &Groups<'_>, diags: &mut Diags<'_>) {
    let mut conflicts: BTreeMap<(&ServiceName, &ServiceName), Vec<&ClusterName>> = BTreeMap::new();
    for (selected, clusters) in groups {
        let mut seen: BTreeMap<&str, &ServiceName> = BTreeMap::new();
        for s in selected.iter() {
            let Some(spec) = fleet.services.get(s) else {
                continue;
            };
            let key = spec.release.name.as_str();
            match seen.get(&key) {
                Some(first) => conflicts
                    .entry((first, s))
                    .or_default()
                    .extend(clusters.iter().copied()),
                None => {
                    seen.insert(key, s);
                }
            }
        }
    }
    for ((a, b), mut clusters) in conflicts {
        clusters.sort_unstable();
        let (sa, sb) = (&fleet.services[a], &fleet.services[b]);
        let names: Vec<String> = clusters.iter().map(|c| format!("`{c}`")).collect();
        let (spa, spb) = (sa.release.span.clone(), sb.release.span.clone());
        let primary = diags.label(
            &sb.file,
            spb,
            format!("`{b}` installs release `{}`", sb.release.name),
        );
        let note = diags.note(&sa.file, spa, format!("so does `{a}`"));
        let on = format!(
            "{} {}",
            if names.len() == 1 {
                "cluster"
            } else {
                "clusters"
            },
            names.join(", ")
        );
        let diagnostic = if sa.release.namespace == sb.release.namespace {
            Diagnostic::error(
                "release::conflict",
                format!(
                    "`{a}` and `{b}` both install release `{}` in namespace `{}` on {on}",
                    sb.release.name, sb.release.namespace,
                ),
            )
            .with_help("give one of them another release name or namespace")
        } else {
            Diagnostic::error(
                "release::conflict",
                format!(
                    "`{a}` and `{b}` both install a release named `{}` on {on} (in namespaces `{}` and `{}`)",
                    sb.release.name, sa.release.namespace, sb.release.namespace,
                ),
            )
            .with_help(
                "a cluster's plan names each release once (its manifest is filed under \
                 clusters/<cluster>/<wave>-<release>.yaml): give one of them another release name",
            )
        };
        diags.push(diagnostic, vec![primary, note]);
    }
}
