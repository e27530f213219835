//! `flotilla`: the command line over Flotilla's libraries. Flag parsing and glue only.

use std::process::ExitCode;

use clap::Parser;

mod commands;

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
