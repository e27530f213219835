//! The run: policies and principal, fleet, compile, policy check, masking.

use std::collections::BTreeSet;
use std::path::Path;

use compiler::redact::Redactions;
use compiler::{Compilation, FleetFiles, HelmRenderer, Manifests, Plan, Progress};
use diagnostics::Report;
use policies::{PlanCheck, Principal, RuleAction};

use crate::{Environment, Notice, PipelineError, PrincipalSpec, read_fleet};

/// Which of the fleet's policies a run enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policies {
    /// None: the compile alone (`flotilla dev compile`).
    None,
    /// The manifest rules only (`flotilla review`: it compares plans, it deploys nothing).
    ManifestRules,
    /// RBAC for this principal, and the manifest rules (`flotilla plan`, `flotilla check`).
    All(PrincipalSpec),
}

/// What to run.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The fleet repository's folder.
    pub fleet: &'a Path,
    pub env: &'a Environment,
    pub policies: &'a Policies,
    /// Called with (clusters done, clusters) while the compile renders.
    pub progress: Option<Progress<'a>>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("fleet", &self.fleet)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

/// The checked, masked result of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The compilation (its diagnostics masked with its redactor); when the policies passed,
    /// its plan carries the `warn` violations as `warnings` (masked).
    pub compilation: Compilation,
    /// The spans of secret values in the manifests, to store with a bundle (empty unless the
    /// plan may be written).
    pub redactions: Redactions,
    /// Problems in the policy files (empty when no policy was read).
    pub policy_diagnostics: Report,
    /// The denials and violations, as text for people, masked (empty when the check did not
    /// run or found nothing).
    pub findings: String,
    /// Why the policies refuse the plan, when they do.
    pub refusal: Option<Refusal>,
    /// Whose deployment RBAC checked; `None` when RBAC was not checked.
    pub principal: Option<Principal>,
    /// Whether the fleet has an RBAC policy, and how many manifest rules.
    pub has_rbac: bool,
    pub rules: usize,
    pub notices: Vec<Notice>,
}

/// What refused a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The services and clusters RBAC denied (counts).
    pub denied_services: usize,
    pub denied_clusters: usize,
    /// Violations of rules with `action: deny`.
    pub deny_violations: usize,
    /// The last lines for people: what refused the plan, and how to learn more.
    pub text: String,
}

/// Whether an outcome may be written, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No error, no refusal.
    Writable,
    /// The compile or the policy files have errors.
    Diagnostics,
    /// A secret backend could not be reached.
    RemoteFailure,
    /// The policies refuse the plan.
    Refused,
}

impl Outcome {
    pub fn status(&self) -> Status {
        if self.compilation.diagnostics.has_errors() {
            if self.compilation.remote_failure() {
                Status::RemoteFailure
            } else {
                Status::Diagnostics
            }
        } else if self.policy_diagnostics.has_errors() {
            Status::Diagnostics
        } else if self.refusal.is_some() {
            Status::Refused
        } else {
            Status::Writable
        }
    }

    /// The plan, its manifests and the spans of secrets in them, when they may be written.
    pub fn writable(&self) -> Option<(&Plan, &Manifests, &Redactions)> {
        (self.status() == Status::Writable).then_some((
            &self.compilation.plan,
            &self.compilation.manifests,
            &self.redactions,
        ))
    }

    /// Whether the policy check ran and passed (the plan's warnings are then its findings).
    pub fn checked(&self) -> bool {
        self.status() == Status::Writable
    }
}

/// Reads the fleet's policies and resolves the principal (errors before any compile), reads
/// the fleet, compiles it with the environment, then checks the plan against the policies
/// (unless asked for none, or the compile or policy files have errors). Denials and `deny`
/// violations refuse the plan; `warn` violations become the plan's `warnings`.
pub fn run(request: &Request<'_>) -> Result<Outcome, PipelineError> {
    run_with(request, || read_fleet(request.fleet))
}

/// [`run`] on files already in memory (the controller composes each environment's fleet from
/// the versions deployed there); the policy files are still read from `request.fleet`.
pub fn run_files(request: &Request<'_>, files: FleetFiles) -> Result<Outcome, PipelineError> {
    run_with(request, || Ok(files))
}

fn run_with(
    request: &Request<'_>,
    fleet: impl FnOnce() -> Result<FleetFiles, PipelineError>,
) -> Result<Outcome, PipelineError> {
    let (policy_files, loaded, who) = match request.policies {
        Policies::None => (None, None, None),
        Policies::ManifestRules | Policies::All(_) => {
            let files = crate::policy_files(request.fleet);
            let loaded = policies::load(&files);
            let who = match request.policies {
                Policies::All(spec) => spec.resolve(&loaded.policies, &files)?,
                _ => None,
            };
            (Some(files), Some(loaded), who)
        }
    };
    drop(policy_files);
    let files = fleet()?;
    let mut compilation = compiler::compile_with(
        &files,
        &HelmRenderer,
        compiler::Options {
            progress: request.progress,
            ..request.env.options()
        },
    );
    drop(files);
    let notices: Vec<Notice> = request.env.prune().into_iter().collect();
    let mut outcome = Outcome {
        redactions: Redactions::default(),
        policy_diagnostics: Report::default(),
        findings: String::new(),
        refusal: None,
        principal: None,
        has_rbac: false,
        rules: 0,
        notices,
        compilation,
    };
    let Some(loaded) = loaded else {
        if outcome.status() == Status::Writable {
            outcome.redactions = redactions(&outcome.compilation);
        }
        return Ok(outcome);
    };
    outcome.has_rbac = loaded.policies.rbac.is_some();
    outcome.rules = loaded
        .policies
        .manifests
        .as_ref()
        .map_or(0, |m| m.rules.len());
    outcome.policy_diagnostics =
        compiler::redact::report(loaded.diagnostics, &outcome.compilation.redactor);
    if outcome.compilation.diagnostics.has_errors() || outcome.policy_diagnostics.has_errors() {
        return Ok(outcome);
    }
    compilation = outcome.compilation;
    let check = policies::check_plan(
        &loaded.policies,
        who.as_ref(),
        &compilation.fleet,
        &compilation.selection,
        &compilation.plan,
        &compilation.manifests,
    );
    // A rule's message may quote an object's fields, and manifests carry secret values.
    let redactor = &compilation.redactor;
    outcome.findings = redactor.redact(&check.render_text(who.as_ref()));
    if check.refused() {
        outcome.refusal = Some(refusal(&check, who.as_ref(), request.fleet));
    } else {
        compilation.plan.warnings = check.plan_warnings();
        for w in &mut compilation.plan.warnings {
            w.message = redactor.redact(&w.message).into();
        }
    }
    drop(check);
    outcome.compilation = compilation;
    outcome.principal = who;
    if outcome.status() == Status::Writable {
        outcome.redactions = redactions(&outcome.compilation);
    }
    Ok(outcome)
}

fn redactions(c: &Compilation) -> Redactions {
    Redactions::of(&c.manifests, &c.redactor)
}

/// What refused the plan, and where to look.
fn refusal(check: &PlanCheck, principal: Option<&Principal>, fleet: &Path) -> Refusal {
    let mut reasons = Vec::new();
    let services: BTreeSet<&str> = check.denials.iter().map(|d| d.service.as_str()).collect();
    let clusters: BTreeSet<&str> = check
        .denials
        .iter()
        .flat_map(|d| d.clusters.iter().map(|c| c.as_str()))
        .collect();
    if !check.denials.is_empty() {
        let who = principal.map_or_else(|| "the principal".to_owned(), ToString::to_string);
        reasons.push(format!(
            "{who} may not deploy {} {} on {} {}",
            services.len(),
            plural(services.len(), "service", "services"),
            clusters.len(),
            plural(clusters.len(), "cluster", "clusters"),
        ));
    }
    let denied = check
        .violations
        .iter()
        .filter(|v| v.action == RuleAction::Deny)
        .count();
    if denied > 0 {
        reasons.push(format!(
            "{denied} {} of rules with `action: deny`",
            plural(denied, "violation", "violations")
        ));
    }
    let mut text = format!(
        "error: the fleet's policies refuse the plan: {}\n",
        reasons.join("; ")
    );
    if let (Some(d), Some(p)) = (check.denials.first(), principal)
        && let Some(cluster) = d.clusters.first()
    {
        let groups = if p.groups.is_empty() {
            String::new()
        } else {
            format!(" --groups {}", p.groups.join(","))
        };
        text.push_str(&format!(
            "help: `flotilla auth can-i deploy {} --cluster {cluster} --fleet {} --as {p}{groups}` explains a decision\n",
            d.service,
            fleet.display()
        ));
    }
    Refusal {
        denied_services: services.len(),
        denied_clusters: clusters.len(),
        deny_violations: denied,
        text,
    }
}

pub(crate) fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}
