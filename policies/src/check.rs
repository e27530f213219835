//! What the plan step calls: may this principal deploy the selection
//! ([`check_deployments`]), and do a release's rendered objects pass the manifest rules
//! ([`check_manifests`]).

use std::collections::BTreeMap;
use std::fmt;

use cel::Value;
use compiler::model::{ClusterName, Fleet, Selection, ServiceName};
use compiler::targeting;
use serde::Serialize;

use crate::Policies;
use crate::manifests::{self, Release, Violation};
use crate::rbac::{Action, Principal, PrincipalValues, Service, cluster_bound};

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
    let values = PrincipalValues::new(principal);
    let bound = rbac.roles_of(principal);
    // Services by name, with the clusters they are selected on.
    let mut wanted: BTreeMap<&ServiceName, Vec<&ClusterName>> = BTreeMap::new();
    for (cluster, services) in &selection.clusters {
        for s in services {
            wanted.entry(s).or_default().push(cluster);
        }
    }
    // Each cluster's CEL value, built once.
    let mut clusters: BTreeMap<&ClusterName, (Value, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    for (service_name, on) in wanted {
        let service = match fleet.services.get(service_name) {
            Some(spec) => Service::from(spec),
            None => Service::named(service_name.as_str()),
        };
        let mut denied: BTreeMap<String, Vec<ClusterName>> = BTreeMap::new();
        for cluster_name in on {
            let Some(spec) = fleet.clusters.get(cluster_name) else {
                continue;
            };
            let (value, b) = clusters
                .entry(cluster_name)
                .or_insert_with(|| (targeting::cluster_value(spec), cluster_bound(spec)));
            let req = rbac.request(
                principal,
                &values,
                Action::Deploy,
                &service,
                Some((spec, value, *b)),
            );
            let decision = rbac.decide_with(&req, &bound, None);
            if !decision.allowed {
                denied
                    .entry(decision.reason)
                    .or_default()
                    .push(cluster_name.clone());
            }
        }
        for (reason, clusters) in denied {
            out.push(Denial {
                service: service_name.clone(),
                action: Action::Deploy,
                clusters,
                reason,
            });
        }
    }
    out
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
