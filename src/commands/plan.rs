//! `flotilla plan --fleet DIR --out DIR [--as user:NAME]`: compile the fleet, check it against
//! the fleet's policies, and write its plan bundle (`plan.yaml` and every release's manifest),
//! all at once or not at all.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use compiler::{Compilation, DiskCache, FleetFiles, HelmRenderer, Options};
use indicatif::{ProgressBar, ProgressStyle};

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
    /// The secret source to compile `fleet` with; a bad choice or configuration is a usage
    /// error (already printed).
    pub fn source(&self, fleet: &Path) -> Result<Arc<dyn secrets::SecretSource>, ExitCode> {
        let vault_addr = std::env::var("VAULT_ADDR").is_ok_and(|v| !v.is_empty());
        let choice = match self.secrets.as_deref() {
            Some(c) => c.to_owned(),
            None if vault_addr => "vault".to_owned(),
            None => format!("local:{}", fleet.join("secrets").display()),
        };
        if choice == "vault" {
            return match secrets::VaultSource::from_env() {
                Ok(v) => Ok(Arc::new(v)),
                Err(e) => {
                    eprintln!("error: {e}");
                    Err(ExitCode::from(exit::USAGE))
                }
            };
        }
        match choice.strip_prefix("local:") {
            Some(dir) if !dir.is_empty() => Ok(Arc::new(secrets::LocalSource::new(dir))),
            _ => {
                eprintln!("error: invalid --secrets {choice:?}: expected `vault` or `local:DIR`");
                Err(ExitCode::from(exit::USAGE))
            }
        }
    }
}

/// The exit code of a compile that has errors: 3 when a secret backend was unreachable.
pub(super) fn failed(compiled: &Compilation) -> ExitCode {
    if compiled.remote_failure() {
        ExitCode::from(exit::REMOTE)
    } else {
        ExitCode::from(exit::DIAGNOSTICS)
    }
}

pub fn exec(args: Args) -> ExitCode {
    let source = match args.secrets.source(&args.fleet) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let compiled = match super::policy::compile_checked(&args.fleet, Some(&args.principal), || {
        compile_fleet(&args.fleet, !args.no_cache, &source)
    }) {
        Ok(c) => c.compilation,
        Err(code) => return code,
    };
    let Some((plan, manifests)) = compiled.applicable() else {
        return failed(&compiled);
    };
    let redactions = compiler::redact::Redactions::of(manifests, &compiled.redactor);
    if let Err(e) = compiler::bundle::write_with(&args.out, plan, manifests, &redactions) {
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

/// Adds the repository charts the services name to `files`, from the chart cache or fetched
/// into it. A chart that cannot be had is a remote failure (exit 3), with a hint.
/// Reads the fleet's files and fetches the repository charts its services name.
pub(super) fn read_fleet(fleet: &Path) -> Result<FleetFiles, ExitCode> {
    let mut files = compiler::read_dir(fleet).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::USAGE)
    })?;
    fetch_charts(&mut files)?;
    Ok(files)
}

fn fetch_charts(files: &mut FleetFiles) -> Result<(), ExitCode> {
    if compiler::remote::repository_charts(files).is_empty() {
        return Ok(());
    }
    let result = helm::fetch::ChartFetcher::from_env()
        .map_err(|e| (e.message, e.hint, true))
        .and_then(|fetcher| {
            compiler::remote::fetch_into(files, &fetcher).map_err(|e| {
                let remote = e.remote;
                (e.to_string(), e.hint, remote)
            })
        });
    result.map_err(|(message, hint, remote)| {
        eprintln!("error: {message}");
        if let Some(h) = hint {
            eprintln!("  = hint: {h}");
        }
        ExitCode::from(if remote {
            exit::REMOTE
        } else {
            exit::DIAGNOSTICS
        })
    })
}

/// What every compile of the CLI uses: the fleet's persistent cache (unless `--no-cache`),
/// the secret source, and a plugin host keeping compiled plugins in the user's cache (they
/// never change a result).
pub(super) struct CompileEnv {
    disk: Option<DiskCache>,
    secrets: Arc<dyn secrets::SecretSource>,
    plugin_host: plugins::PluginHost,
}

impl CompileEnv {
    pub(super) fn new(fleet: &Path, cache: bool, secrets: &Arc<dyn secrets::SecretSource>) -> Self {
        CompileEnv {
            disk: cache.then(|| DiskCache::for_fleet(fleet)),
            secrets: secrets.clone(),
            plugin_host: plugins::PluginHost::new(plugins::HostConfig::with_user_cache()),
        }
    }

    /// Bounds the persistent cache to `FLOTILLA_CACHE_MAX` (after each compile).
    pub(super) fn prune(&self) {
        if let Some(disk) = &self.disk {
            match compiler::cache::max_bytes_from_env() {
                Ok(max) => {
                    disk.prune(max);
                }
                Err(e) => eprintln!("warning: {e}; the cache was not pruned"),
            }
        }
    }

    pub(super) fn options(&self) -> Options<'_> {
        Options {
            cache: self.disk.as_ref(),
            secrets: Some(&self.secrets),
            plugin_host: Some(&self.plugin_host),
            ..Options::default()
        }
    }
}

/// Reads and compiles a fleet, with the persistent cache when asked and a progress bar on
/// standard error when it is a terminal and the compile takes more than a moment. Prints the
/// diagnostics. A fleet that cannot be read at all is a usage error.
pub(super) fn compile_fleet(
    fleet: &Path,
    cache: bool,
    secrets: &Arc<dyn secrets::SecretSource>,
) -> Result<Compilation, ExitCode> {
    let files = read_fleet(fleet)?;
    let env = CompileEnv::new(fleet, cache, secrets);
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
    let compiled = compiler::compile_with(
        &files,
        &HelmRenderer,
        Options {
            progress: Some(&progress),
            ..env.options()
        },
    );
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    env.prune();
    if !compiled.diagnostics.diagnostics.is_empty() {
        eprint!("{}", compiled.diagnostics.render_text());
    }
    Ok(compiled)
}
