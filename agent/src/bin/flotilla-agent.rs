//! `flotilla-agent`: the agent alone (the same as `flotilla agent`), small enough to run in
//! every cluster.

use clap::Parser as _;

#[derive(Debug, clap::Parser)]
#[command(
    name = "flotilla-agent",
    version,
    about = "Pulls this cluster's bundle, applies it, reports its status"
)]
struct Cli {
    #[command(flatten)]
    args: agent::cli::AgentArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match cli.args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flotilla-agent: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flotilla-agent: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(agent::run_until_signal(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flotilla-agent: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
