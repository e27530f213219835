//! `flotilla diff --fleet DIR --against DIR`: the compiled manifests against another tool's dry
//! run (`<cluster>/<release>.yaml`, e.g. `helm template` outputs), object by object, each change
//! classified for an in-place migration (blocks it, rolls pods, safe). Secrets masked. Exit 0
//! when identical, 1 when different (or the fleet has errors), 2 on usage errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use compiler::migrate::MigrationDiff;
use pipeline::Policies;

use super::exit;
use super::select::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// The other tool's dry run: a folder of `<cluster>/<release>.yaml` files, each the
    /// multi-document output of `helm template` for that release.
    #[arg(long, value_name = "DIR")]
    pub against: PathBuf,
    /// Only the releases of this service (repeatable).
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Only this cluster (repeatable).
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Output,
    /// Do not read or write the persistent cache.
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
}

pub fn exec(args: Args) -> ExitCode {
    let theirs = match compiler::migrate::read_dry_run(&args.against) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: --against: {e}");
            eprintln!(
                "  = hint: give a folder of <cluster>/<release>.yaml files, e.g. \
                 `helm template RELEASE CHART -f values.yaml > DIR/CLUSTER/RELEASE.yaml`"
            );
            return ExitCode::from(exit::USAGE);
        }
    };
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    // The compile alone: a dry run compares what would be applied, whoever applies it.
    let outcome = match super::outcome::run(&args.fleet, &env, &Policies::None) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some((plan, manifests, _)) = outcome.writable() else {
        return super::outcome::code(outcome.status());
    };
    let redactor = &outcome.compilation.redactor;
    // The release names of the services asked for (on any cluster), and the services' names.
    let releases: BTreeSet<&str> = plan
        .clusters
        .iter()
        .flat_map(|c| &c.releases)
        .filter(|r| args.services.iter().any(|s| **s == *r.service))
        .map(|r| &*r.name)
        .chain(args.services.iter().map(String::as_str))
        .collect();
    for s in &args.services {
        if !plan
            .clusters
            .iter()
            .flat_map(|c| &c.releases)
            .any(|r| *r.service == **s)
        {
            eprintln!("error: no service `{s}` in the plan");
            return ExitCode::from(exit::USAGE);
        }
    }
    let keep = |cluster: &str, release: &str| {
        (args.clusters.is_empty() || args.clusters.iter().any(|c| c == cluster))
            && (args.services.is_empty() || releases.contains(release))
    };
    let mut ours = BTreeMap::new();
    for c in &plan.clusters {
        for r in &c.releases {
            if keep(&c.name, &r.name) {
                let text = manifests.get(&r.manifest).unwrap_or_default();
                ours.insert((c.name.to_string(), r.name.to_string()), text.to_owned());
            }
        }
    }
    let theirs: BTreeMap<(String, String), String> = theirs
        .into_iter()
        .filter(|((c, r), _)| keep(c, r))
        .collect();
    let diff = match MigrationDiff::of(&theirs, &ours) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    match args.output {
        Output::Text => print!("{}", diff.render(&|s| redactor.redact(s))),
        Output::Json => {
            let text = serde_json::to_string_pretty(&diff).unwrap_or_default();
            println!("{}", redactor.redact(&text));
        }
    }
    ExitCode::from(if diff.is_empty() {
        exit::SUCCESS
    } else {
        exit::DIAGNOSTICS
    })
}
