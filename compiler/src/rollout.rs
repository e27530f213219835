//! Rollout plans: for every service whose rollout policy (its `rollout:`, or the fleet's in
//! `fleet.yaml`) is progressive, the waves its new versions take in each environment. The
//! canary wave holds the clusters its `canary` selector picks; the others follow in name
//! order, cut where the cumulative `waves` say (the last wave always reaches them all).

use std::collections::BTreeMap;
use std::sync::Arc;

use diagnostics::Diagnostic;
use plan::{RolloutPlan, RolloutWave};
use syntax::diag::Diags;

use crate::model::{Amount, ClusterName, Embedded, Fleet, Rollout, Selection, ServiceName};
use crate::targeting::{self, Outcome};

/// The rollout plans of `fleet`, sorted by service and environment; a canary selector that
/// does not compile or fails on a cluster is reported to `diags` (that cluster is then not a
/// canary).
pub fn plan(fleet: &Fleet, selection: &Selection, diags: &mut Diags<'_>) -> Vec<RolloutPlan> {
    let policies: BTreeMap<&ServiceName, Rollout> = fleet
        .services
        .iter()
        .map(|(name, spec)| {
            let own = spec.rollout.clone().unwrap_or_default();
            (name, own.or(fleet.rollout.as_ref()))
        })
        .filter(|(_, r)| r.progressive())
        .collect();
    if policies.is_empty() {
        return Vec::new();
    }
    let canaries = canaries(
        fleet,
        policies.values().filter_map(|r| r.canary.as_ref()),
        diags,
    );
    // Environment → service → its clusters there, in name order.
    let mut targeted: BTreeMap<&ServiceName, BTreeMap<&str, Vec<&ClusterName>>> = BTreeMap::new();
    for (cluster, services) in &selection.clusters {
        let Some(spec) = fleet.clusters.get(cluster) else {
            continue;
        };
        for service in services {
            if let Some((name, _)) = policies.get_key_value(service) {
                targeted
                    .entry(name)
                    .or_default()
                    .entry(spec.environment.as_str())
                    .or_default()
                    .push(cluster);
            }
        }
    }
    let mut out = Vec::new();
    for (service, envs) in targeted {
        let policy = &policies[service];
        let picked = policy
            .canary
            .as_ref()
            .and_then(|c| canaries.get(c.text.as_str()));
        for (env, clusters) in envs {
            out.push(RolloutPlan {
                service: Arc::from(service.as_str()),
                environment: Arc::from(env),
                soak: Arc::from(policy.soak.as_deref().unwrap_or("0s")),
                auto_rollback: policy.auto_rollback.unwrap_or(false),
                environments: policy
                    .environments
                    .iter()
                    .map(|e| Arc::from(e.as_str()))
                    .collect(),
                waves: waves(policy, &clusters, picked),
            });
        }
    }
    out
}

/// The waves of one environment's `clusters` (sorted by name).
fn waves(
    policy: &Rollout,
    clusters: &[&ClusterName],
    canaries: Option<&std::collections::BTreeSet<ClusterName>>,
) -> Vec<RolloutWave> {
    let tolerated = |n: usize| {
        policy
            .max_unavailable
            .map_or(0, |a| a.of(n, false))
            .try_into()
            .unwrap_or(u32::MAX)
    };
    let names = |cs: &[&ClusterName]| -> Vec<Arc<str>> {
        cs.iter().map(|c| Arc::from(c.as_str())).collect()
    };
    let (canary, rest): (Vec<&ClusterName>, Vec<&ClusterName>) = clusters
        .iter()
        .partition(|c| canaries.is_some_and(|set| set.contains(**c)));
    let mut out = Vec::new();
    if !canary.is_empty() {
        out.push(RolloutWave {
            name: Arc::from("canary"),
            max_unavailable: tolerated(canary.len()),
            clusters: names(&canary),
        });
    }
    let mut reached = 0;
    let steps = policy
        .waves
        .iter()
        .copied()
        .chain(std::iter::once(Amount::Percent(100)));
    for step in steps {
        let upto = step.of(rest.len(), true).max(reached);
        if upto == reached {
            continue;
        }
        let wave = &rest[reached..upto];
        out.push(RolloutWave {
            name: Arc::from(step.to_string()),
            max_unavailable: tolerated(wave.len()),
            clusters: names(wave),
        });
        reached = upto;
        if reached == rest.len() {
            break;
        }
    }
    out
}

/// For each distinct canary selector: the clusters it picks.
fn canaries<'a>(
    fleet: &Fleet,
    selectors: impl Iterator<Item = &'a Embedded>,
    diags: &mut Diags<'_>,
) -> BTreeMap<&'a str, std::collections::BTreeSet<ClusterName>> {
    let mut distinct: BTreeMap<&str, &Embedded> = BTreeMap::new();
    for s in selectors {
        distinct.entry(s.text.as_str()).or_insert(s);
    }
    let bounds = targeting::data_bounds(fleet);
    let mut compiled = Vec::new();
    for (text, embedded) in &distinct {
        match targeting::compile(text, bounds) {
            Ok(s) => compiled.push((*text, s)),
            Err(problems) => crate::report_selector(diags, embedded, &problems),
        }
    }
    let outcomes = targeting::evaluate_all(compiled.iter().map(|(t, s)| (*t, s)), fleet);
    let names: Vec<&ClusterName> = fleet.clusters.keys().collect();
    let mut out = BTreeMap::new();
    for (text, per_cluster) in outcomes {
        let Some((&key, embedded)) = distinct.get_key_value(text.as_str()) else {
            continue;
        };
        let Some((_, selector)) = compiled.iter().find(|(t, _)| *t == key) else {
            continue;
        };
        let mut picked = std::collections::BTreeSet::new();
        let mut failed: Vec<(&ClusterName, &str)> = Vec::new();
        for (i, outcome) in per_cluster.iter().enumerate() {
            let Some(&cluster) = names.get(i) else {
                continue;
            };
            match outcome {
                Outcome::Selected => {
                    picked.insert(cluster.clone());
                }
                Outcome::NotSelected => {}
                Outcome::Error(e) => failed.push((cluster, e.as_str())),
            }
        }
        // As a service's selector failing is reported: where, on which clusters, and how to
        // write it so that it does not fail.
        for report in targeting::report_failures(selector, fleet, &failed) {
            let range = embedded.file_range(report.failure.range.clone());
            let label = diags.label(&embedded.file, range, report.label());
            let help = match &report.help {
                Some(h) => {
                    format!("a cluster where the canary selector fails is not a canary; {h}")
                }
                None => "a cluster where the canary selector fails is not a canary".to_owned(),
            };
            diags.push(
                Diagnostic::error(
                    "rollout::canary-eval",
                    format!("the canary selector failed {}", report.describe()),
                )
                .with_help(help),
                vec![label],
            );
        }
        out.insert(key, picked);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<ClusterName> {
        (0..n)
            .map(|i| ClusterName::new(format!("c{i:02}")))
            .collect()
    }

    fn sizes(w: &[RolloutWave]) -> Vec<(String, usize, u32)> {
        w.iter()
            .map(|w| (w.name.to_string(), w.clusters.len(), w.max_unavailable))
            .collect()
    }

    #[test]
    fn waves_are_cumulative_and_the_last_reaches_every_cluster() {
        let all = names(10);
        let refs: Vec<&ClusterName> = all.iter().collect();
        let policy = Rollout {
            waves: vec![Amount::Percent(10), Amount::Percent(50)],
            max_unavailable: Some(Amount::Percent(50)),
            ..Rollout::default()
        };
        let w = waves(&policy, &refs, None);
        assert_eq!(
            sizes(&w),
            vec![
                ("10%".into(), 1, 0),
                ("50%".into(), 4, 2),
                ("100%".into(), 5, 2)
            ]
        );
        assert_eq!(&*w[0].clusters[0], "c00");
    }

    #[test]
    fn canaries_come_first_and_counts_cap_at_the_clusters_left() {
        let all = names(4);
        let refs: Vec<&ClusterName> = all.iter().collect();
        let canary: std::collections::BTreeSet<ClusterName> =
            [ClusterName::new("c02")].into_iter().collect();
        let policy = Rollout {
            waves: vec![Amount::Count(1), Amount::Count(10)],
            max_unavailable: Some(Amount::Count(1)),
            ..Rollout::default()
        };
        let w = waves(&policy, &refs, Some(&canary));
        assert_eq!(
            sizes(&w),
            vec![
                ("canary".into(), 1, 1),
                ("1".into(), 1, 1),
                ("10".into(), 2, 1)
            ]
        );
        assert_eq!(&*w[0].clusters[0], "c02");
        assert!(
            !w[1..]
                .iter()
                .any(|w| w.clusters.iter().any(|c| &**c == "c02"))
        );
    }

    #[test]
    fn without_waves_one_wave_holds_every_cluster() {
        let all = names(3);
        let refs: Vec<&ClusterName> = all.iter().collect();
        let w = waves(&Rollout::default(), &refs, None);
        assert_eq!(sizes(&w), vec![("100%".into(), 3, 0)]);
    }
}
