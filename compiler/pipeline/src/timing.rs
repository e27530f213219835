//! A timed policy check over a compiled plan, for `flotilla dev compile --policies`.

use std::path::Path;
use std::time::{Duration, Instant};

use compiler::Compilation;
use diagnostics::Report;
use policies::{Principal, RuleAction};

use crate::{PipelineError, PrincipalSpec};

/// How long the fleet's policies took to load and to check a plan, and what they found.
#[derive(Debug)]
pub struct PolicyTiming {
    /// Problems in the policy files; when it has errors, nothing was checked.
    pub diagnostics: Report,
    pub elapsed: Duration,
    pub loaded_in: Duration,
    pub rules: usize,
    /// RBAC's principal; `None`: RBAC was not checked.
    pub principal: Option<Principal>,
    pub denials: usize,
    pub deny_violations: usize,
    pub warn_violations: usize,
    pub objects: usize,
}

/// Loads the fleet's policies and times `policies::check_plan` over `compiled` (RBAC only
/// with a principal).
pub fn time_policies(
    fleet: &Path,
    principal: &PrincipalSpec,
    compiled: &Compilation,
) -> Result<PolicyTiming, PipelineError> {
    let start = Instant::now();
    let files = crate::policy_files(fleet);
    let loaded = policies::load(&files);
    let rules = loaded
        .policies
        .manifests
        .as_ref()
        .map_or(0, |m| m.rules.len());
    let mut timing = PolicyTiming {
        diagnostics: Report::default(),
        elapsed: Duration::ZERO,
        loaded_in: Duration::ZERO,
        rules,
        principal: None,
        denials: 0,
        deny_violations: 0,
        warn_violations: 0,
        objects: 0,
    };
    if loaded.diagnostics.has_errors() {
        timing.diagnostics = loaded.diagnostics;
        return Ok(timing);
    }
    timing.principal = principal.parse()?;
    timing.loaded_in = start.elapsed();
    let check = policies::check_plan(
        &loaded.policies,
        timing.principal.as_ref(),
        &compiled.fleet,
        &compiled.selection,
        &compiled.plan,
        &compiled.manifests,
    );
    timing.warn_violations = check
        .violations
        .iter()
        .filter(|v| v.action == RuleAction::Warn)
        .count();
    timing.deny_violations = check.violations.len() - timing.warn_violations;
    timing.denials = check.denials.len();
    timing.objects = check.manifests_checked;
    timing.elapsed = start.elapsed();
    Ok(timing)
}
