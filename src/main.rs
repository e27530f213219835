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
    std::panic::set_hook(Box::new(report_panic));
    let cli = Cli::parse();
    commands::exec(cli.command)
}

/// A panic is a bug in Flotilla: say so, say where, ask for a report, and exit with 101
/// (before unwinding, so that no other thread prints over it).
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    let location = info
        .location()
        .map_or_else(|| "an unknown place".to_owned(), ToString::to_string);
    eprintln!("error: flotilla panicked: {message} at {location}");
    eprintln!(
        "note: this is a bug in flotilla, please report it with the command you ran (and \
         `flotilla --version`)"
    );
    std::process::exit(i32::from(commands::exit::BUG));
}
