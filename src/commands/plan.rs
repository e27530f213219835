//! `flotilla plan --fleet DIR --out DIR`: compile the fleet and write its plan bundle
//! (`plan.yaml` and every release's manifest), all at once or not at all.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
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
}

pub fn exec(args: Args) -> ExitCode {
    let compiled = match compile_fleet(&args.fleet, !args.no_cache) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some((plan, manifests)) = compiled.applicable() else {
        return ExitCode::from(exit::DIAGNOSTICS);
    };
    if let Err(e) = compiler::bundle::write(&args.out, plan, manifests) {
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

/// Reads and compiles a fleet, with the persistent cache when asked and a progress bar on
/// standard error when it is a terminal and the compile takes more than a moment. Prints the
/// diagnostics. A fleet that cannot be read at all is a usage error.
pub(super) fn compile_fleet(fleet: &Path, cache: bool) -> Result<Compilation, ExitCode> {
    let files = FleetFiles::read_dir(fleet).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(exit::USAGE)
    })?;
    let disk = cache.then(|| DiskCache::for_fleet(fleet));
    // Compiled plugins are kept in the user's cache: they never change a result.
    let plugin_host = plugins::PluginHost::new(plugins::HostConfig::with_user_cache());
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
            cache: disk.as_ref(),
            progress: Some(&progress),
            plugin_host: Some(&plugin_host),
        },
    );
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    if !compiled.diagnostics.diagnostics.is_empty() {
        eprint!("{}", compiled.diagnostics.render_text());
    }
    Ok(compiled)
}
