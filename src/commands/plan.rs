//! `flotilla plan --fleet DIR --out DIR [--as user:NAME]`: compile the fleet, check it against
//! the fleet's policies, and write its plan bundle (`plan.yaml`, each distinct manifest once
//! under `objects/sha256/`, an index per cluster under `clusters/`), all at once or not at all.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pipeline::{CacheMode, Environment, Policies, SecretsChoice};

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository (the folder holding clusters/, services/ and charts/).
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Where to write the plan bundle; an existing bundle there is replaced.
    #[arg(long)]
    pub out: PathBuf,
    /// Do not read or write the persistent cache (DIR/.flotilla/cache/).
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub principal: super::policy::PrincipalArgs,
}

/// Where secrets are read from.
#[derive(Debug, Clone, clap::Args)]
pub struct SecretsArgs {
    /// Where `vault`, `vaultYaml` and `valuesFrom` read secrets: `vault` (VAULT_ADDR,
    /// VAULT_TOKEN or VAULT_ROLE_ID/VAULT_SECRET_ID, VAULT_NAMESPACE, VAULT_CACERT) or
    /// `local:DIR` (DIR/<path>.yaml files). Default: vault when VAULT_ADDR is set, else
    /// local:FLEET/secrets.
    #[arg(long, value_name = "vault|local:DIR")]
    pub secrets: Option<String>,
}

impl SecretsArgs {
    /// The environment every compile of the command uses: the chosen secret source, the
    /// persistent cache unless `no_cache`, a plugin host. A bad secret source is a usage error
    /// (printed).
    pub fn environment(&self, fleet: &Path, no_cache: bool) -> Result<Environment, ExitCode> {
        let source = SecretsChoice::parse(self.secrets.as_deref(), fleet)
            .and_then(|choice| choice.open())
            .map_err(|e| super::outcome::fail(&e))?;
        let cache = if no_cache {
            CacheMode::Off
        } else {
            CacheMode::Persistent
        };
        Ok(Environment::new(fleet, cache, source))
    }
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let policies = Policies::All(args.principal.spec());
    let outcome = match super::outcome::run(&args.fleet, &env, &policies) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some((plan, manifests, redactions)) = outcome.writable() else {
        return super::outcome::code(outcome.status());
    };
    if let Err(e) = bundle::write_dir(&args.out, plan, manifests, redactions) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    println!(
        "wrote {}: {} clusters, {} releases, {} distinct manifests",
        args.out.display(),
        plan.clusters.len(),
        plan.release_count(),
        manifests.0.len()
    );
    ExitCode::from(exit::SUCCESS)
}
