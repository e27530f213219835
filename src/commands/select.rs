//! `flotilla select --fleet DIR 'EXPR'`: the clusters a CEL selector matches.

use std::path::PathBuf;
use std::process::ExitCode;

use super::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository (the folder holding clusters/ and services/).
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Output,
    /// Show, for every cluster, the value of each top-level `&&`/`||` clause and which decided.
    #[arg(long)]
    pub explain: bool,
    /// A CEL expression over `cluster` (`name`, `provider`, `region`, `environment`, `tags`,
    /// `metadata`).
    pub expr: String,
}

pub fn exec(args: Args) -> ExitCode {
    let files = match compiler::read_dir(&args.fleet) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let run = compiler::select(&files, &args.expr, args.explain);
    if !run.diagnostics.diagnostics.is_empty() {
        eprint!("{}", run.diagnostics.render_text());
    }
    // With `--explain`, the clauses are shown even when the selector failed on some clusters
    // (that is what they explain); the exit code says it failed either way.
    if run.diagnostics.has_errors() && run.explanations.is_empty() {
        return ExitCode::from(exit::DIAGNOSTICS);
    }
    match args.output {
        Output::Text => print!("{}", run.render_text()),
        Output::Json => print!("{}", run.render_json()),
    }
    if run.diagnostics.has_errors() {
        return ExitCode::from(exit::DIAGNOSTICS);
    }
    ExitCode::from(exit::SUCCESS)
}
