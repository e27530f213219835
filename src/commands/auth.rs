//! `flotilla auth can-i ACTION [SERVICE] --cluster NAME --as user:alice [--groups a,b]`:
//! whether the fleet's RBAC policy allows a request, and which role, binding and rule decided
//! (or that nothing allowed it and the default denied). Exit 0 allowed, 1 denied.

use std::path::PathBuf;
use std::process::ExitCode;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Explain whether a user or group may do an action on a service (in a cluster).
    CanI(CanIArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    Deploy,
    Publish,
    ManageClusters,
    Read,
}

impl From<Action> for policies::Action {
    fn from(a: Action) -> policies::Action {
        match a {
            Action::Deploy => policies::Action::Deploy,
            Action::Publish => policies::Action::Publish,
            Action::ManageClusters => policies::Action::ManageClusters,
            Action::Read => policies::Action::Read,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CanIArgs {
    /// What to do.
    #[arg(value_enum)]
    pub action: Action,
    /// The service it concerns (none for `manage-clusters`).
    pub service: Option<String>,
    /// The cluster it happens on.
    #[arg(long)]
    pub cluster: Option<String>,
    /// The fleet repository (the folder holding clusters/, services/ and policies/).
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Who asks: `user:NAME` or `group:NAME`.
    #[arg(long = "as", value_name = "SUBJECT")]
    pub subject: String,
    /// The groups the user belongs to, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Output,
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        Command::CanI(a) => can_i(a),
    }
}

fn can_i(args: CanIArgs) -> ExitCode {
    let principal = match policies::Principal::parse(&args.subject, &args.groups) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: invalid --as or --groups: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let mut files = match compiler::read_dir(&args.fleet) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    policies::read_files(&args.fleet, &mut files);
    let mut diags = syntax::diag::Diags::new(&files);
    let fleet = compiler::load::load(&files, &mut diags);
    let run = match policies::can_i(
        &files,
        &fleet,
        diags,
        &principal,
        args.action.into(),
        args.service.as_deref().unwrap_or(""),
        args.cluster.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if !run.diagnostics.diagnostics.is_empty() {
        eprint!("{}", run.diagnostics.render_text());
    }
    if run.diagnostics.has_errors() {
        return ExitCode::from(exit::DIAGNOSTICS);
    }
    match args.output {
        Output::Text => print!("{}", run.explained.render_text()),
        Output::Json => print!("{}", run.explained.render_json()),
    }
    if run.explained.decision.allowed {
        ExitCode::from(exit::SUCCESS)
    } else {
        ExitCode::from(exit::DIAGNOSTICS)
    }
}
