//! `flotilla`: the command line over Flotilla's libraries. Flag parsing and glue only.

use std::process::ExitCode;

use clap::Parser;

mod commands;

/// jemalloc rather than the system allocator: a compile allocates and frees millions of small
/// values on several threads; glibc's malloc spent a quarter of a compile's time, and mimalloc
/// gave memory back to the system so eagerly that refaulting it cost as much (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Deployment compiler and runtime for fleets of Kubernetes clusters.
#[derive(Debug, Parser)]
#[command(name = "flotilla", version, about)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::exec(cli.command)
}
