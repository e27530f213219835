//! `flotilla review --fleet DIR [--accept | --reject | --check]`: compile a fresh plan,
//! compare it with the accepted one (`DIR/.flotilla/accepted/`), show what changes per cluster
//! and release, and accept or reject it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use pipeline::Policies;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Accept the new plan without asking: it replaces the accepted one.
    #[arg(long, conflicts_with_all = ["reject", "check"])]
    pub accept: bool,
    /// Reject the new plan without asking: the accepted one stays.
    #[arg(long, conflicts_with = "check")]
    pub reject: bool,
    /// Only compare: exit with 1 when the plan differs from the accepted one (for CI).
    #[arg(long)]
    pub check: bool,
    /// Do not read or write the persistent cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print manifest diffs with the secret values in them. By default every value that came
    /// from a secret, and every value of a `kind: Secret` document, shows as its digest.
    #[arg(long)]
    pub reveal_secrets: bool,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    // Manifest rules only: a review compares plans, it deploys nothing.
    let outcome = match super::outcome::run(&args.fleet, &env, &Policies::ManifestRules) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some((fresh_plan, fresh_manifests, redactions)) = outcome.writable() else {
        return super::outcome::code(outcome.status());
    };
    let compiled = &outcome.compilation;
    let fresh = (fresh_plan, fresh_manifests);
    let accepted_dir = args.fleet.join(".flotilla").join("accepted");
    let accepted = if accepted_dir.join(plan::PLAN_FILE).exists() {
        match bundle::read_dir(&accepted_dir) {
            Ok(read) => Some(read),
            Err(e) if args.accept => {
                eprintln!("warning: the accepted plan is replaced: {e}");
                None
            }
            Err(e) => {
                eprintln!(
                    "error: the accepted plan cannot be read: {e}\nhelp: accept a fresh plan with `flotilla review --accept`"
                );
                return ExitCode::from(exit::USAGE);
            }
        }
    } else {
        None
    };
    let review = if args.reveal_secrets {
        compiler::review::review(accepted.as_ref().map(|(p, m, _)| (p, m)), fresh)
    } else {
        // Both sides masked before diffing: the stored spans of the accepted bundle (secrets
        // since changed), this compile's, and the values of Secret documents.
        let old = accepted
            .as_ref()
            .map(|(p, m, stored)| (p, compiler::redact::redacted(m, stored, &compiled.redactor)));
        let new = compiler::redact::redacted(fresh.1, redactions, &compiled.redactor);
        compiler::review::review(old.as_ref().map(|(p, m)| (*p, m)), (fresh.0, &new))
    };
    let text = review.render_text();
    if args.reveal_secrets {
        print!("{text}");
    } else {
        print!("{}", compiled.redactor.redact(&text));
    }
    if review.is_empty() {
        return ExitCode::from(exit::SUCCESS);
    }
    let accept = if args.check {
        return ExitCode::from(exit::DIAGNOSTICS);
    } else if args.accept || args.reject {
        args.accept
    } else if std::io::stdin().is_terminal() {
        print!("accept this plan? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        matches!(answer.trim(), "y" | "Y" | "yes")
    } else {
        println!("not accepted: run with --accept to accept it, --check to fail on changes");
        return ExitCode::from(exit::SUCCESS);
    };
    if !accept {
        println!("rejected: the accepted plan is unchanged");
        return ExitCode::from(exit::SUCCESS);
    }
    let (plan, manifests) = fresh;
    if let Err(e) = bundle::write_dir(&accepted_dir, plan, manifests, redactions) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    println!("accepted: {}", accepted_dir.display());
    ExitCode::from(exit::SUCCESS)
}
