//! `flotilla check --fleet DIR [--as user:NAME --groups a,b]`: compile the fleet and check its
//! plan against the fleet's policies as `flotilla plan` does, writing nothing. Exit 0 when the
//! plan would be written, 1 on diagnostics, denials or `deny` violations.

use std::path::PathBuf;
use std::process::ExitCode;

use pipeline::{Outcome, Policies};

use super::exit;
use super::policy::PrincipalArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository (the folder holding clusters/, services/ and policies/).
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Do not read or write the persistent cache (DIR/.flotilla/cache/).
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub principal: PrincipalArgs,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let policies = Policies::All(args.principal.spec());
    match super::outcome::run(&args.fleet, &env, &policies) {
        Ok(outcome) if outcome.writable().is_some() => {
            print!("{}", summary(&outcome));
            ExitCode::from(exit::SUCCESS)
        }
        Ok(outcome) => super::outcome::code(outcome.status()),
        Err(code) => code,
    }
}

/// One line: what was checked, and that it passed.
fn summary(c: &Outcome) -> String {
    let plan = &c.compilation.plan;
    let rbac = match (&c.principal, c.has_rbac) {
        (Some(p), true) => format!("{p} may deploy every release"),
        (None, true) => "no principal, and the RBAC policy allows by default".to_owned(),
        (_, false) => "no RBAC policy".to_owned(),
    };
    let rules = match c.rules {
        0 => "no manifest rules".to_owned(),
        1 => "1 manifest rule".to_owned(),
        n => format!("{n} manifest rules"),
    };
    format!(
        "policies pass: {} clusters, {} releases; {rbac}; {rules}, {} warnings\n",
        plan.clusters.len(),
        plan.release_count(),
        plan.warnings.len()
    )
}
