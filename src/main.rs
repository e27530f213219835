//! `flotilla`: the command line over Flotilla's libraries. Flag parsing and glue only.

use std::process::ExitCode;

use clap::Parser;

mod commands;

/// mimalloc rather than the system allocator: a compile allocates and frees millions of small
/// values on several threads, where glibc's malloc spent a quarter of the time (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
