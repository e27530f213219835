//! `flotilla dev`: tools for developing Flotilla itself: a synthetic fleet generator and a
//! timed compile (optionally followed by a timed policy check).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use compiler::synthetic::{self, FleetConfig};

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Dev,
}

#[derive(Debug, clap::Subcommand)]
pub enum Dev {
    /// Write a synthetic fleet (deterministic for a seed) for benchmarks and load tests.
    GenFleet {
        #[arg(long)]
        clusters: usize,
        #[arg(long)]
        services: usize,
        /// A new folder.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Compile a fleet without writing a plan and print how long each step took.
    Compile {
        #[arg(long, default_value = ".")]
        fleet: PathBuf,
        /// Do not read or write the persistent cache.
        #[arg(long)]
        no_cache: bool,
        #[command(flatten)]
        secrets: super::plan::SecretsArgs,
        /// Then check the plan against the fleet's policies (policies/*.yaml), and time it.
        #[arg(long)]
        policies: bool,
        /// With --policies: who deploys, for RBAC (RBAC is not checked without it).
        #[command(flatten)]
        principal: super::policy::PrincipalArgs,
        /// Then, `--times` times, make a new version of this service (a line appended to its
        /// values template, in memory) and recompile incrementally, timing each recompile.
        #[arg(long, value_name = "SERVICE", conflicts_with = "policies")]
        bump: Option<String>,
        #[arg(long, default_value_t = 3, requires = "bump")]
        times: u32,
    },
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        Dev::GenFleet {
            clusters,
            services,
            out,
            seed,
        } => {
            let files = synthetic::generate(FleetConfig {
                clusters,
                services,
                seed,
            });
            match synthetic::write(&files, &out) {
                Ok(()) => {
                    println!(
                        "wrote {}: {clusters} clusters, {services} services",
                        out.display()
                    );
                    ExitCode::from(exit::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", out.display());
                    ExitCode::from(exit::USAGE)
                }
            }
        }
        Dev::Compile {
            fleet,
            no_cache,
            secrets,
            bump: Some(service),
            times,
            ..
        } => {
            let source = match secrets.source(&fleet) {
                Ok(s) => s,
                Err(code) => return code,
            };
            bump(&fleet, !no_cache, &source, &service, times)
        }
        Dev::Compile {
            fleet,
            no_cache,
            secrets,
            policies,
            principal,
            bump: None,
            ..
        } => {
            let source = match secrets.source(&fleet) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let start = Instant::now();
            let compiled = match super::plan::compile_fleet(&fleet, !no_cache, &source) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let s = &compiled.stats;
            println!(
                "compiled in {:.3}s: {} clusters, {} services, {} releases, {} distinct manifests; \
                 {} values rendered, {} chart renders, {} render cache hits, {} releases from the persistent cache",
                start.elapsed().as_secs_f64(),
                compiled.fleet.clusters.len(),
                compiled.fleet.services.len(),
                s.releases,
                compiled.manifests.0.len(),
                s.values_rendered,
                s.chart_renders,
                s.render_hits,
                s.releases_cached,
            );
            let t = &compiled.timings;
            println!(
                "phases: load {:.3}s, select {:.3}s, graph {:.3}s, render {:.3}s; {} values reused",
                t.load.as_secs_f64(),
                t.select.as_secs_f64(),
                t.graph.as_secs_f64(),
                t.render.as_secs_f64(),
                s.values_reused,
            );
            if compiled.diagnostics.has_errors() {
                return super::plan::failed(&compiled);
            }
            if policies {
                return super::policy::time_check(&fleet, &principal, &compiled);
            }
            ExitCode::from(exit::SUCCESS)
        }
    }
}

/// A whole compile, then `times` new versions of `service`, each recompiled incrementally.
fn bump(
    fleet: &std::path::Path,
    cache: bool,
    source: &std::sync::Arc<dyn secrets::SecretSource>,
    service: &str,
    times: u32,
) -> ExitCode {
    let mut files = match super::plan::read_fleet(fleet) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let path = format!("services/{service}/service.yaml");
    if !files.files.contains_key(&path) {
        eprintln!("error: the fleet has no {path}");
        return ExitCode::from(exit::USAGE);
    }
    let env = super::plan::CompileEnv::new(fleet, cache, source);
    let mut compiler = compiler::Incremental::new(compiler::HelmRenderer, env.options());
    let start = Instant::now();
    let (compiled, how) = compiler.compile(files.clone());
    let of_service = compiled
        .plan
        .clusters
        .iter()
        .flat_map(|c| &c.releases)
        .filter(|r| &*r.service == service)
        .count();
    println!(
        "compiled in {:.3}s ({how}): {} releases, {of_service} of `{service}`",
        start.elapsed().as_secs_f64(),
        compiled.stats.releases
    );
    if compiled.diagnostics.has_errors() {
        return super::plan::failed(compiled);
    }
    // A value no earlier compile can have seen, so that each version is new.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for i in 1..=times {
        if let Some(text) = files.files.get_mut(&path) {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("  bump{i}: \"{nonce}\"\n"));
        }
        let start = Instant::now();
        let (compiled, how) = compiler.compile(files.clone());
        let s = &compiled.stats;
        println!(
            "recompiled in {:.3}s ({how}): {} releases; {} values rendered, {} chart renders, {} releases from the persistent cache",
            start.elapsed().as_secs_f64(),
            s.releases,
            s.values_rendered,
            s.chart_renders,
            s.releases_cached,
        );
        if compiled.diagnostics.has_errors() {
            return super::plan::failed(compiled);
        }
    }
    ExitCode::from(exit::SUCCESS)
}
