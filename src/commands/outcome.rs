//! How the commands that compile a fleet call `pipeline::run` and show what it returns: the
//! progress bar, then (on standard error, in this order) notices, the compile's diagnostics,
//! the policy files' diagnostics, the findings, the refusal and the note about warnings; and
//! the exit code of each kind of failure.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pipeline::{Environment, ErrorKind, Outcome, PipelineError, Policies, Request, Status};

use super::exit;

/// Prints a pipeline error (and its hint) and gives its exit code.
pub(super) fn fail(e: &PipelineError) -> ExitCode {
    eprintln!("error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("  = hint: {h}");
    }
    ExitCode::from(match e.kind() {
        ErrorKind::Usage => exit::USAGE,
        ErrorKind::Remote => exit::REMOTE,
        ErrorKind::Fleet => exit::DIAGNOSTICS,
    })
}

/// The exit code of an outcome that may not be written.
pub(super) fn code(status: Status) -> ExitCode {
    ExitCode::from(match status {
        Status::Writable => exit::SUCCESS,
        Status::RemoteFailure => exit::REMOTE,
        Status::Diagnostics | Status::Refused => exit::DIAGNOSTICS,
    })
}

/// Runs the pipeline with a progress bar on standard error (when it is a terminal and the
/// compile takes more than a moment), and prints everything the outcome says. `Err` is the
/// exit code of a run that failed before compiling.
pub(super) fn run(
    fleet: &Path,
    env: &Environment,
    policies: &Policies,
) -> Result<Outcome, ExitCode> {
    let start = Instant::now();
    let bar: OnceLock<ProgressBar> = OnceLock::new();
    let show = std::io::stderr().is_terminal();
    let progress = |done: usize, total: usize| {
        if !show || start.elapsed() < Duration::from_millis(300) {
            return;
        }
        let bar = bar.get_or_init(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} compiling {bar:30} {pos}/{len} clusters ({eta} left)",
            ) {
                bar.set_style(style);
            }
            bar
        });
        bar.set_position(done as u64);
    };
    let result = pipeline::run(&Request {
        fleet,
        env,
        policies,
        progress: Some(&progress),
    });
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let outcome = result.map_err(|e| fail(&e))?;
    show_outcome(&outcome, policies);
    Ok(outcome)
}

/// Everything an outcome says, on standard error.
fn show_outcome(outcome: &Outcome, policies: &Policies) {
    for n in &outcome.notices {
        eprintln!("warning: {n}");
    }
    let compiled = &outcome.compilation;
    if !compiled.diagnostics.diagnostics.is_empty() {
        eprint!("{}", compiled.diagnostics.render_text());
    }
    if *policies == Policies::None {
        return;
    }
    if !outcome.policy_diagnostics.diagnostics.is_empty() {
        eprint!("{}", outcome.policy_diagnostics.render_text());
    }
    if compiled.diagnostics.has_errors() || outcome.policy_diagnostics.has_errors() {
        return;
    }
    eprint!("{}", outcome.findings);
    if let Some(refusal) = &outcome.refusal {
        eprint!("{}", refusal.text);
        return;
    }
    let warnings = compiled.plan.warnings.len();
    if warnings > 0 {
        eprintln!(
            "note: {warnings} {} of rules with `action: warn`; the plan keeps {} under `warnings:`",
            if warnings == 1 {
                "violation"
            } else {
                "violations"
            },
            if warnings == 1 { "it" } else { "them" },
        );
    }
}
