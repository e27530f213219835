//! Policies: who may deploy what where (RBAC, `policies/rbac.yaml`), and CEL rules over the
//! manifests a plan renders (`policies/manifests.yaml`).
//!
//! Used by the compiler's plan step ([`check_deployments`], [`check_manifests`]) and by
//! `flotilla auth can-i`; later by the runtime. Pure: policies are read from
//! [`FleetFiles`] in memory (only [`read_files`] touches the disk), every problem in them is
//! a diagnostic, and every CEL expression is compiled once, checked against the variables it
//! may see, and evaluated within a cost limit.
//!
//! Parts: [`rbac`] (roles, bindings, decisions), [`manifests`] (rules, violations), [`expr`]
//! (CEL scopes and evaluation, on the compiler's targeting), [`glob`] (name patterns),
//! [`check`] (what the plan step calls).

pub mod check;
pub mod expr;
pub mod glob;
pub mod manifests;
pub mod rbac;

mod block_yaml;
mod yaml_cx;

use std::path::Path;

use diagnostics::Report;
use syntax::FleetFiles;
use syntax::diag::Diags;

pub use check::{Denial, PlanCheck, check_deployments, check_manifests, check_plan};
pub use manifests::{ManifestRules, Release, RuleAction, Violation};
pub use rbac::{Action, Decision, Principal, Rbac, Service};

/// Where the RBAC policy is, relative to the fleet root.
pub const RBAC_FILE: &str = "policies/rbac.yaml";
/// Where the manifest rules are, relative to the fleet root.
pub const MANIFESTS_FILE: &str = "policies/manifests.yaml";

/// A fleet's policies. A missing file means no policy of that kind: without `rbac.yaml` every
/// request is allowed, without `manifests.yaml` no object is checked.
#[derive(Debug, Default)]
pub struct Policies {
    pub rbac: Option<Rbac>,
    pub manifests: Option<ManifestRules>,
}

impl Policies {
    /// The decision for one request (allowed, with [`Decision::no_policy`], when the fleet
    /// has no RBAC policy).
    pub fn allowed(
        &self,
        principal: &Principal,
        action: Action,
        service: &Service,
        cluster: Option<&syntax::model::ClusterSpec>,
    ) -> Decision {
        match &self.rbac {
            Some(r) => r.allowed(principal, action, service, cluster),
            None => Decision::no_policy(),
        }
    }
}

/// Policies and the problems found reading them.
#[derive(Debug)]
pub struct Loaded {
    pub policies: Policies,
    pub diagnostics: Report,
}

/// Reads the policies of a fleet. Only usable when `diagnostics` has no errors (broken rules
/// are left out, which for allow rules means they allow nothing).
pub fn load(files: &FleetFiles) -> Loaded {
    let mut diags = Diags::new(files);
    let policies = load_into(files, &mut diags);
    Loaded {
        policies,
        diagnostics: diags.finish(),
    }
}

/// As [`load`], adding the diagnostics to a report under construction (the compiler's).
pub fn load_into(files: &FleetFiles, diags: &mut Diags<'_>) -> Policies {
    let mut policies = Policies::default();
    for (path, reason) in &files.unreadable {
        if path == RBAC_FILE || path == MANIFESTS_FILE {
            diags.add_text(&files.display_name(path), "");
            diags.error_at(
                "fleet::unreadable",
                format!("cannot read {path}: {reason}"),
                &files.display_name(path),
                0..0,
                "here",
                None,
            );
        }
    }
    if let Some(text) = files.files.get(RBAC_FILE) {
        let mut cx = yaml_cx::Cx {
            file: RBAC_FILE,
            text,
            diags,
        };
        policies.rbac = Some(rbac::load(&mut cx));
    }
    if let Some(text) = files.files.get(MANIFESTS_FILE) {
        policies.manifests = Some(load_rules(MANIFESTS_FILE, text, diags));
    }
    policies
}

fn load_rules(file: &str, text: &str, diags: &mut Diags<'_>) -> ManifestRules {
    let mut cx = yaml_cx::Cx { file, text, diags };
    manifests::load(&mut cx)
}

/// Reads a file of manifest rules given as text (a file of ready-made rules), shown as `name`
/// in diagnostics.
pub fn rules_from_text(name: &str, text: &str) -> (ManifestRules, Report) {
    let files = FleetFiles::from_files([(name, text)]);
    let mut diags = Diags::new(&files);
    let rules = load_rules(name, text, &mut diags);
    (rules, diags.finish())
}

/// Adds `policies/rbac.yaml` and `policies/manifests.yaml` under `root`, when they exist, to
/// files read with `compiler::read_dir`.
pub fn read_files(root: &Path, files: &mut FleetFiles) {
    for name in [RBAC_FILE, MANIFESTS_FILE] {
        let path = root.join(name);
        if !path.exists() {
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    files.files.insert(name.to_owned(), text);
                }
                Err(_) => {
                    files
                        .unreadable
                        .insert(name.to_owned(), "the file is not UTF-8 text".into());
                }
            },
            Err(e) => {
                files.unreadable.insert(name.to_owned(), e.to_string());
            }
        }
    }
}

/// Why `can-i` could not be asked (a mistake on the command line, not in the fleet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanIError {
    #[error("the fleet has no cluster `{name}`{}", did_you_mean(.suggestion))]
    UnknownCluster {
        name: String,
        suggestion: Option<String>,
    },
    #[error("the fleet has no service `{name}`{}", did_you_mean(.suggestion))]
    UnknownService {
        name: String,
        suggestion: Option<String>,
    },
}

fn did_you_mean(s: &Option<String>) -> String {
    s.as_ref()
        .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"))
}

/// The answer of `flotilla auth can-i`: the decision explained, and the problems found in
/// the fleet and its policies (an answer is only trustworthy without errors).
#[derive(Debug)]
pub struct CanI {
    pub explained: rbac::Explained,
    pub diagnostics: Report,
}

/// Loads the fleet's policies and explains whether `principal` may do `action` on `service`
/// (empty: none) in `cluster` (when given) of `fleet`, loaded from `files` with the problems
/// found so far in `diags` (those of the policies are added).
pub fn can_i(
    files: &FleetFiles,
    fleet: &syntax::model::Fleet,
    mut diags: Diags<'_>,
    principal: &Principal,
    action: Action,
    service: &str,
    cluster: Option<&str>,
) -> Result<CanI, CanIError> {
    let policies = load_into(files, &mut diags);
    let cluster = match cluster {
        None => None,
        Some(name) => match fleet.clusters.get(name) {
            Some(c) => Some(c),
            None => {
                return Err(CanIError::UnknownCluster {
                    name: name.to_owned(),
                    suggestion: syntax::diag::suggest(
                        name,
                        fleet.clusters.keys().map(|c| c.as_str()),
                    )
                    .map(str::to_owned),
                });
            }
        },
    };
    let service = match fleet.services.get(service) {
        Some(spec) => Service::from(spec),
        // A first publish names a service the fleet does not have yet; every other action
        // concerns a service that exists, so an unknown name is a typo.
        None if service.is_empty() || action == Action::Publish => Service::named(service),
        None => {
            return Err(CanIError::UnknownService {
                name: service.to_owned(),
                suggestion: syntax::diag::suggest(
                    service,
                    fleet.services.keys().map(|s| s.as_str()),
                )
                .map(str::to_owned),
            });
        }
    };
    let explained = match &policies.rbac {
        Some(r) => r.explain(principal, action, &service, cluster),
        None => rbac::Explained {
            principal: principal.clone(),
            request: format!("{action} {}", service.name).trim().to_owned(),
            decision: Decision::no_policy(),
            roles: Vec::new(),
            not_tried: Vec::new(),
            unbound: Vec::new(),
        },
    };
    Ok(CanI {
        explained,
        diagnostics: diags.finish(),
    })
}
