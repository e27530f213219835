//! `flotilla import helm-values DIR --out FLEET`: a repository of per-cluster Helm values
//! (`DIR/<release>/values.yaml` and `DIR/<release>/<cluster>.yaml`, the clusters in
//! `DIR/inventory.yaml`, the charts in `DIR/charts/`) turned into a fleet, then compared with
//! `helm template` of the originals. Exit 0 when the fleet renders what the originals render,
//! 1 when it was written but differs, 2 when nothing was written (usage errors, problems in
//! the input files).

use std::path::PathBuf;
use std::process::ExitCode;

use compiler::import::{ImportConfig, import_helm_values};

use super::exit;
use super::select::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// Turn per-cluster Helm values into clusters and services: values common to every
    /// cluster stay literal, values that follow a cluster field become `{{ .Cluster.… }}`,
    /// the rest is guarded by the clusters it belongs to; secret-looking values move to the
    /// fleet's `secrets/`. Then compile the fleet and compare it with `helm template` of the
    /// originals.
    HelmValues(HelmValuesArgs),
}

#[derive(Debug, clap::Args)]
pub struct HelmValuesArgs {
    /// The values repository: `<release>/values.yaml`, `<release>/<cluster>.yaml`,
    /// `inventory.yaml`, `charts/<chart>/`.
    pub dir: PathBuf,
    /// The fleet folder to write: new, empty, or a previous import (with --force). It is
    /// written whole or not at all.
    #[arg(long, value_name = "FLEET")]
    pub out: PathBuf,
    /// The inventory of clusters, owners and releases (default DIR/inventory.yaml).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Where the charts are (default DIR/charts).
    #[arg(long, value_name = "DIR")]
    pub charts: Option<PathBuf>,
    /// Replace --out when it holds a previous import.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Output,
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        ImportCommand::HelmValues(args) => helm_values(args),
    }
}

fn helm_values(args: HelmValuesArgs) -> ExitCode {
    let config = ImportConfig {
        source: args.dir,
        out: args.out,
        inventory: args.inventory,
        charts: args.charts,
        replace: args.force,
    };
    let imported = match import_helm_values(&config) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(h) = e.hint() {
                eprintln!("  = hint: {h}");
            }
            return ExitCode::from(exit::USAGE);
        }
    };
    if !imported.diagnostics.diagnostics.is_empty() {
        eprint!("{}", imported.diagnostics.render_text());
    }
    if imported.written.is_none() {
        eprintln!("error: nothing was written to {}", config.out.display());
        return ExitCode::from(exit::USAGE);
    }
    match args.output {
        Output::Text => print!("{}", imported.render()),
        Output::Json => {
            let text = serde_json::to_string_pretty(&imported).unwrap_or_default();
            println!("{}", imported.redactor.redact(&text));
        }
    }
    ExitCode::from(if imported.identical() {
        exit::SUCCESS
    } else {
        exit::DIAGNOSTICS
    })
}
