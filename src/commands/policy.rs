//! The fleet's policies as `flotilla plan`, `flotilla check` and `flotilla review` enforce
//! them: who deploys (`--as`/`--groups`, or `FLOTILLA_PRINCIPAL`/`FLOTILLA_GROUPS`), the
//! policies read with positioned diagnostics, and `policies::check_plan` over the compiled
//! plan. A denial or a `deny` violation refuses the plan; `warn` violations are printed and
//! kept in the plan (`Plan::warnings`).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use compiler::{Compilation, FleetFiles};
use policies::rbac::DefaultDecision;
use policies::{PlanCheck, Policies, Principal, RuleAction};

use super::exit;

/// Who deploys, for the fleet's RBAC policy.
#[derive(Debug, Clone, clap::Args)]
pub struct PrincipalArgs {
    /// Who deploys: `user:NAME` or `group:NAME` (default: $FLOTILLA_PRINCIPAL). Required when
    /// the fleet has an RBAC policy (policies/rbac.yaml) that denies by default.
    #[arg(long = "as", value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// The groups the user belongs to, comma-separated (default, with FLOTILLA_PRINCIPAL:
    /// $FLOTILLA_GROUPS).
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<String>,
}

/// The environment variables that name the principal when `--as` is not given.
const PRINCIPAL_VAR: &str = "FLOTILLA_PRINCIPAL";
const GROUPS_VAR: &str = "FLOTILLA_GROUPS";

impl PrincipalArgs {
    /// The subject and groups: `--as` with `--groups`; without `--as`, `FLOTILLA_PRINCIPAL`
    /// with `--groups` or else `FLOTILLA_GROUPS`. The environment's groups never go to a
    /// principal named on the command line.
    fn given(&self) -> (Option<String>, Vec<String>) {
        if let Some(s) = &self.subject {
            return (Some(s.clone()), self.groups.clone());
        }
        let Some(subject) = std::env::var(PRINCIPAL_VAR)
            .ok()
            .filter(|s| !s.trim().is_empty())
        else {
            return (None, self.groups.clone());
        };
        let groups = if self.groups.is_empty() {
            std::env::var(GROUPS_VAR)
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect()
        } else {
            self.groups.clone()
        };
        (Some(subject), groups)
    }
}

/// A compiled plan that passed the fleet's policies, with what they said.
#[derive(Debug)]
pub(super) struct Checked {
    /// The compilation; its plan carries the warnings.
    pub compilation: Compilation,
    /// Whose deployment RBAC checked; `None` when RBAC was not checked.
    pub principal: Option<Principal>,
    /// Whether the fleet has an RBAC policy, and manifest rules (how many).
    pub has_rbac: bool,
    pub rules: usize,
}

/// Reads the fleet's policies and resolves the principal (`principal` is `None` for commands
/// that do not check RBAC), runs `compile`, then checks the plan against the policies.
/// Prints every diagnostic, denial and violation on standard error. The plan is refused
/// (`Err(exit::DIAGNOSTICS)`) on any error, denial or `deny` violation; otherwise its
/// `warnings` are the `warn` violations.
pub(super) fn compile_checked(
    fleet: &Path,
    principal: Option<&PrincipalArgs>,
    compile: impl FnOnce() -> Result<Compilation, ExitCode>,
) -> Result<Checked, ExitCode> {
    let files = policy_files(fleet);
    let loaded = policies::load(&files);
    let who = match principal {
        Some(args) => resolve(args, &loaded.policies, &files)?,
        None => None,
    };
    let mut compilation = compile()?;
    if !loaded.diagnostics.diagnostics.is_empty() {
        eprint!("{}", loaded.diagnostics.render_text());
    }
    if compilation.diagnostics.has_errors() {
        return Err(super::plan::failed(&compilation));
    }
    if loaded.diagnostics.has_errors() {
        return Err(ExitCode::from(exit::DIAGNOSTICS));
    }
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
    eprint!("{}", redactor.redact(&check.render_text(who.as_ref())));
    if check.refused() {
        eprint!("{}", refusal(&check, who.as_ref(), fleet));
        return Err(ExitCode::from(exit::DIAGNOSTICS));
    }
    compilation.plan.warnings = check.plan_warnings();
    for w in &mut compilation.plan.warnings {
        w.message = compilation.redactor.redact(&w.message).into();
    }
    let warnings = compilation.plan.warnings.len();
    if warnings > 0 {
        eprintln!(
            "note: {warnings} {} of rules with `action: warn`; the plan keeps {} under `warnings:`",
            plural(warnings, "violation", "violations"),
            plural(warnings, "it", "them"),
        );
    }
    Ok(Checked {
        compilation,
        principal: who,
        has_rbac: loaded.policies.rbac.is_some(),
        rules: loaded
            .policies
            .manifests
            .as_ref()
            .map_or(0, |m| m.rules.len()),
    })
}

/// The fleet's policy files alone (the compile reads the rest), named in diagnostics as the
/// compiler names the fleet's files.
pub(super) fn policy_files(fleet: &Path) -> FleetFiles {
    let mut files = FleetFiles::default();
    policies::read_files(fleet, &mut files);
    let mut shown = fleet.to_string_lossy().replace('\\', "/");
    if shown == "." {
        shown.clear();
    } else if !shown.ends_with('/') {
        shown.push('/');
    }
    files.display_root = shown;
    files
}

/// The principal of `--as`/`--groups` (or the environment). Without one, RBAC cannot be
/// checked: that is a usage error when the fleet's RBAC policy denies by default (it would
/// deny everything anyway), and nothing to check otherwise (no policy, or `default: allow`).
fn resolve(
    args: &PrincipalArgs,
    policies: &Policies,
    files: &FleetFiles,
) -> Result<Option<Principal>, ExitCode> {
    let (subject, groups) = args.given();
    let Some(subject) = subject else {
        if !groups.is_empty() {
            eprintln!(
                "error: --groups names the groups of the principal given with --as (or \
                 {PRINCIPAL_VAR}), which is missing"
            );
            return Err(ExitCode::from(exit::USAGE));
        }
        return match &policies.rbac {
            Some(rbac) if rbac.default == DefaultDecision::Deny => {
                eprintln!(
                    "error: {} denies what no rule allows: say who deploys with `--as user:NAME \
                     --groups GROUP,…` (or {PRINCIPAL_VAR} and {GROUPS_VAR})",
                    files.display_name(policies::RBAC_FILE)
                );
                Err(ExitCode::from(exit::USAGE))
            }
            _ => Ok(None),
        };
    };
    match Principal::parse(&subject, &groups) {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            eprintln!("error: invalid --as or --groups: {e}");
            Err(ExitCode::from(exit::USAGE))
        }
    }
}

/// The last lines of a refusal: what refused the plan, and where to look.
fn refusal(check: &PlanCheck, principal: Option<&Principal>, fleet: &Path) -> String {
    let mut reasons = Vec::new();
    if !check.denials.is_empty() {
        let services: std::collections::BTreeSet<&str> =
            check.denials.iter().map(|d| d.service.as_str()).collect();
        let clusters: std::collections::BTreeSet<&str> = check
            .denials
            .iter()
            .flat_map(|d| d.clusters.iter().map(|c| c.as_str()))
            .collect();
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
    let mut out = format!(
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
        out.push_str(&format!(
            "help: `flotilla auth can-i deploy {} --cluster {cluster} --fleet {} --as {p}{groups}` explains a decision\n",
            d.service,
            fleet.display()
        ));
    }
    out
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// For `flotilla dev compile --policies`: loads the fleet's policies and times
/// `policies::check_plan` over a compiled plan (RBAC only with a principal). Prints the time
/// and what was found, not the findings.
pub(super) fn time_check(
    fleet: &Path,
    principal: &PrincipalArgs,
    compiled: &Compilation,
) -> ExitCode {
    let start = Instant::now();
    let files = policy_files(fleet);
    let loaded = policies::load(&files);
    if loaded.diagnostics.has_errors() {
        eprint!("{}", loaded.diagnostics.render_text());
        return ExitCode::from(exit::DIAGNOSTICS);
    }
    let (subject, groups) = principal.given();
    let who = match subject {
        None => None,
        Some(s) => match Principal::parse(&s, &groups) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("error: invalid --as or --groups: {e}");
                return ExitCode::from(exit::USAGE);
            }
        },
    };
    let loaded_in = start.elapsed();
    let check = policies::check_plan(
        &loaded.policies,
        who.as_ref(),
        &compiled.fleet,
        &compiled.selection,
        &compiled.plan,
        &compiled.manifests,
    );
    let warn = check
        .violations
        .iter()
        .filter(|v| v.action == RuleAction::Warn)
        .count();
    println!(
        "policies checked in {:.3}s (loaded in {:.3}s): {} manifest rules, RBAC {}; {} denials, \
         {} deny and {warn} warn violations; {} objects evaluated",
        start.elapsed().as_secs_f64(),
        loaded_in.as_secs_f64(),
        loaded
            .policies
            .manifests
            .as_ref()
            .map_or(0, |m| m.rules.len()),
        match &who {
            Some(p) => format!("for {p}"),
            None => "not checked".to_owned(),
        },
        check.denials.len(),
        check.violations.len() - warn,
        check.manifests_checked,
    );
    ExitCode::from(exit::SUCCESS)
}
