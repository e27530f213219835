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
use crate::expr;
use crate::manifests::{self, Release, Violation};
use crate::rbac::{Action, Principal, Request, Service, cluster_bound};

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
    // The variables are bound once each: the principal for the whole run, a cluster for all
    // its services.
    expr::with_frame(
        &[("principal", &principal_value), ("action", &action)],
        |outer| {
            for (cluster_name, selected) in &selection.clusters {
                let Some(spec) = fleet.clusters.get(cluster_name) else {
                    continue;
                };
                if selected.is_empty() {
                    continue;
                }
                let bound = principal_bound.max(cluster_bound(spec));
                let cluster_value = targeting::cluster_value(spec);
                outer.child(&[("cluster", &cluster_value)], |with_cluster| {
                    for name in selected {
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
                        if !decision.allowed {
                            denied
                                .entry((name, decision.reason))
                                .or_default()
                                .push(cluster_name.clone());
                        }
                    }
                });
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
