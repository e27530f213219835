//! `flotilla template FILE`: render one Go template.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The template file.
    pub file: PathBuf,
}

pub fn exec(args: Args) -> ExitCode {
    eprintln!(
        "flotilla template {}: not available yet",
        args.file.display()
    );
    ExitCode::from(super::exit::USAGE)
}
