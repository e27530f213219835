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
            policies,
            principal,
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
