//! `flotilla bundle export --bundle DIR --cluster NAME --out DIR`: one cluster's manifests of a
//! plan bundle as files, `<wave>-<release>.yaml`, for people who compare folders or hand a
//! cluster over to a GitOps tool.

use std::path::PathBuf;
use std::process::ExitCode;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BundleCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BundleCommand {
    /// Write one cluster's manifests as files named `<wave>-<release>.yaml` (the order a
    /// listing shows is the installation order). The files hold the manifests agents apply,
    /// secret values included.
    Export {
        /// The plan bundle (what `flotilla plan --out` wrote).
        #[arg(long)]
        bundle: PathBuf,
        /// The cluster whose manifests to write.
        #[arg(long)]
        cluster: String,
        /// The folder to write; an earlier export there is replaced.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        BundleCommand::Export {
            bundle,
            cluster,
            out,
        } => match ::bundle::export(&bundle, &cluster, &out) {
            Ok(exported) => {
                println!(
                    "wrote {}: {} manifests of cluster {cluster} (bundle {})",
                    out.display(),
                    exported.releases,
                    exported.digest
                );
                ExitCode::from(exit::SUCCESS)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(match e {
                    ::bundle::BundleError::Tampered { .. }
                    | ::bundle::BundleError::Index { .. }
                    | ::bundle::BundleError::IndexMismatch { .. } => exit::DIAGNOSTICS,
                    _ => exit::USAGE,
                })
            }
        },
    }
}
