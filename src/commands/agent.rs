//! `flotilla agent`: the agent (the same as the `flotilla-agent` binary).

use std::process::ExitCode;

use super::exit;

pub use ::agent::cli;

pub fn exec(args: cli::AgentArgs) -> ExitCode {
    let config = match args.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BUG);
        }
    };
    match runtime.block_on(::agent::run_until_signal(config)) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::REMOTE)
        }
    }
}
