//! `flotilla render SERVICE --cluster NAME`: the dry run of one release — the values its chart
//! is rendered with (after the values template, Vault and plugins) and its manifest, secrets
//! masked unless `--reveal-secrets`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service.
    pub service: String,
    /// The cluster to render it for.
    #[arg(long)]
    pub cluster: String,
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Only the values (YAML, e.g. for `helm template -f`).
    #[arg(long, conflicts_with = "manifest_only")]
    pub values_only: bool,
    /// Only the manifest.
    #[arg(long)]
    pub manifest_only: bool,
    /// Print secret values as they are (by default each is shown as `<secret sha256:…>`).
    #[arg(long)]
    pub reveal_secrets: bool,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, true) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let files = match pipeline::read_fleet(&args.fleet) {
        Ok(f) => f,
        Err(e) => return super::outcome::fail(&e),
    };
    let out = compiler::render_release(
        &files,
        &compiler::HelmRenderer,
        env.options(),
        &args.service,
        &args.cluster,
    );
    let c = &out.compilation;
    if c.diagnostics.has_errors() {
        eprint!("{}", c.diagnostics.render_text());
        return ExitCode::from(exit::DIAGNOSTICS);
    }
    if c.plan.cluster(&args.cluster).is_none() {
        eprintln!("error: no cluster `{}` in the fleet", args.cluster);
        return ExitCode::from(exit::USAGE);
    }
    if !c.fleet.services.keys().any(|s| s.as_str() == args.service) {
        eprintln!("error: no service `{}` in the fleet", args.service);
        return ExitCode::from(exit::USAGE);
    }
    let (Some(values), Some(manifest)) = (&out.values, &out.manifest) else {
        eprintln!(
            "error: `{}` does not run on `{}`\n  = hint: `flotilla select --explain` shows how its selector decides",
            args.service, args.cluster
        );
        return ExitCode::from(exit::USAGE);
    };
    let show = |text: &str| {
        if args.reveal_secrets {
            text.to_owned()
        } else {
            c.redactor.redact(text)
        }
    };
    if !args.manifest_only {
        if !args.values_only {
            println!(
                "# values of {} on {}{}",
                args.service,
                args.cluster,
                if args.reveal_secrets || c.redactor.is_empty() {
                    ""
                } else {
                    " (secrets masked)"
                }
            );
        }
        print!("{}", show(values));
    }
    if !args.values_only {
        if !args.manifest_only {
            println!("# manifest");
        }
        print!("{}", show(manifest));
    }
    ExitCode::from(exit::SUCCESS)
}
