//! `flotilla simulate --clusters N --services M [--sweep 1000x20,5000x50]`: thousands of
//! simulated clusters against a real `flotilla serve`, measured per load point.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use simulate::{Config, LoadPoint, Slo, Target};

use super::exit;
use super::serve::parse_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Clusters (one simulated agent each) of the one load point.
    #[arg(long, requires = "services", conflicts_with = "sweep")]
    clusters: Option<usize>,
    /// Services of the one load point.
    #[arg(long, requires = "clusters")]
    services: Option<usize>,
    /// Load points run one after the other: CLUSTERSxSERVICES, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "NxM,...")]
    sweep: Vec<LoadPoint>,
    /// The report folder (new, or empty): report.md, report.json and SVG plots.
    #[arg(long, default_value = "simulate-report")]
    out: PathBuf,
    /// Load a running server instead of starting one per point (with --fleet and --store: its
    /// fleet folder, and its store to issue tokens from). Several replicas of one store,
    /// comma-separated: the agents are spread over them and each one's loop is reported.
    #[arg(
        long,
        requires = "fleet",
        conflicts_with = "sweep",
        value_delimiter = ',',
        value_name = "URL,..."
    )]
    server: Vec<String>,
    /// With --server: the fleet folder that server serves.
    #[arg(long, requires = "server")]
    fleet: Option<PathBuf>,
    /// With --server: that server's store (default: FLEET/.flotilla/store).
    #[arg(long, requires = "server")]
    store: Option<String>,
    /// How long traffic is driven at each point.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// How long the controller is watched idle at each point, before the traffic.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    idle: Duration,
    /// A new version of a random service published, and promoted through the environments,
    /// this often.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    every: Duration,
    /// The agents' long-poll wait (and the server's heartbeat).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    poll: Duration,
    /// A simulated release turns Ready this long after it is applied.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    ready_after: Duration,
    /// The SLO's end-to-end p99 (default: 2 poll intervals + the readiness delay).
    #[arg(long, value_parser = parse_duration)]
    slo_end_to_end: Option<Duration>,
    /// The SLO's reconcile loop p99.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    slo_loop: Duration,
    /// The longest wait for every agent's first bundle, and for each deployment to be Ready.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    settle: Duration,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn exec(args: Args) -> ExitCode {
    let points = match (args.clusters, args.services) {
        (Some(clusters), Some(services)) if clusters > 0 && services > 0 => {
            vec![LoadPoint { clusters, services }]
        }
        (Some(_), Some(_)) => {
            eprintln!("error: --clusters and --services must be above 0");
            return ExitCode::from(exit::USAGE);
        }
        _ => args.sweep.clone(),
    };
    let target = match (&args.server[..], &args.fleet) {
        ([_, ..], Some(fleet)) => Target::Remote {
            servers: args.server.clone(),
            fleet: fleet.clone(),
            store: args.store.clone(),
        },
        _ => match std::env::current_exe() {
            Ok(program) => Target::Spawn { program },
            Err(e) => {
                eprintln!("error: cannot find this program to start the server: {e}");
                return ExitCode::from(exit::BUG);
            }
        },
    };
    // Against a running server the point is its fleet's size, whatever is asked.
    let points = match &target {
        Target::Remote { .. } => vec![points.first().copied().unwrap_or(LoadPoint {
            clusters: 0,
            services: 0,
        })],
        Target::Spawn { .. } if points.is_empty() => {
            eprintln!("error: give --clusters N --services M, or --sweep NxM,...");
            return ExitCode::from(exit::USAGE);
        }
        Target::Spawn { .. } => points,
    };
    if args.every.is_zero() || args.poll < Duration::from_secs(1) {
        eprintln!("error: --every must be above 0 and --poll at least 1s");
        return ExitCode::from(exit::USAGE);
    }
    let config = Config {
        target,
        points,
        out: args.out.clone(),
        duration: args.duration,
        idle: args.idle,
        every: args.every,
        poll: args.poll,
        ready_after: args.ready_after,
        slo: Slo {
            end_to_end_p99: args
                .slo_end_to_end
                .unwrap_or(args.poll * 2 + args.ready_after),
            loop_p99: args.slo_loop,
        },
        settle: args.settle,
        seed: args.seed,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(exit::BUG);
        }
    };
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} {msg} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |p: simulate::Progress| {
        bar.set_prefix(format!("[{}/{}] {}", p.index + 1, p.of, p.point));
        bar.set_message(p.phase);
        bar.set_length(p.total);
        bar.set_position(p.done);
    };
    let result = runtime.block_on(simulate::run(&config, &progress));
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            print!("{}", simulate::report::markdown(&report));
            println!("\nwrote {}", config.out.join("report.md").display());
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                simulate::SimulateError::OutNotEmpty(_) => exit::USAGE,
                _ => exit::REMOTE,
            })
        }
    }
}
