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
    /// Panic on purpose, so tests see what a bug looks like to users (hidden).
    #[command(hide = true)]
    Panic,
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        Dev::Panic => panic!("a panic asked for by `flotilla dev panic`"),
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
            let env = match secrets.environment(&fleet, no_cache) {
                Ok(env) => env,
                Err(code) => return code,
            };
            bump(&fleet, &env, &service, times)
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
            let env = match secrets.environment(&fleet, no_cache) {
                Ok(env) => env,
                Err(code) => return code,
            };
            let start = Instant::now();
            let outcome = match super::outcome::run(&fleet, &env, &pipeline::Policies::None) {
                Ok(o) => o,
                Err(code) => return code,
            };
            let compiled = &outcome.compilation;
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
                return super::outcome::code(outcome.status());
            }
            if policies {
                return time_policies(&fleet, &principal, compiled);
            }
            ExitCode::from(exit::SUCCESS)
        }
    }
}

/// Times `pipeline::time_policies` over a compiled plan (RBAC only with a principal) and
/// prints the time and what was found, not the findings.
fn time_policies(
    fleet: &std::path::Path,
    principal: &super::policy::PrincipalArgs,
    compiled: &compiler::Compilation,
) -> ExitCode {
    let t = match pipeline::time_policies(fleet, &principal.spec(), compiled) {
        Ok(t) => t,
        Err(e) => return super::outcome::fail(&e),
    };
    if t.diagnostics.has_errors() {
        eprint!("{}", t.diagnostics.render_text());
        return ExitCode::from(exit::DIAGNOSTICS);
    }
    println!(
        "policies checked in {:.3}s (loaded in {:.3}s): {} manifest rules, RBAC {}; {} denials, \
         {} deny and {} warn violations; {} objects evaluated",
        t.elapsed.as_secs_f64(),
        t.loaded_in.as_secs_f64(),
        t.rules,
        match &t.principal {
            Some(p) => format!("for {p}"),
            None => "not checked".to_owned(),
        },
        t.denials,
        t.deny_violations,
        t.warn_violations,
        t.objects,
    );
    ExitCode::from(exit::SUCCESS)
}

/// A whole compile, then `times` new versions of `service`, each recompiled incrementally.
fn bump(
    fleet: &std::path::Path,
    env: &pipeline::Environment,
    service: &str,
    times: u32,
) -> ExitCode {
    let mut files = match pipeline::read_fleet(fleet) {
        Ok(f) => f,
        Err(e) => return super::outcome::fail(&e),
    };
    let path = format!("services/{service}/service.yaml");
    if !files.files.contains_key(&path) {
        eprintln!("error: the fleet has no {path}");
        return ExitCode::from(exit::USAGE);
    }
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
        return compile_failed(compiled);
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
            return compile_failed(compiled);
        }
    }
    ExitCode::from(exit::SUCCESS)
}

/// The exit code of a compile with errors: 3 when a secret backend was unreachable.
fn compile_failed(compiled: &compiler::Compilation) -> ExitCode {
    if compiled.remote_failure() {
        ExitCode::from(exit::REMOTE)
    } else {
        ExitCode::from(exit::DIAGNOSTICS)
    }
}
