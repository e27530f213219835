//! `flotilla serve --fleet DIR [--store URL] [--listen ADDR] [--interval 5s]`: the controller.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository (clusters, charts, policies, fleet.yaml; the services as they
    /// stand are the first versions of an empty store).
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// The store: a folder, file://PATH, s3://BUCKET/PREFIX (AWS_* settings) or
    /// gs://BUCKET/PREFIX (GOOGLE_* settings). Default: FLEET/.flotilla/store.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Where the API listens (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8480")]
    pub listen: SocketAddr,
    /// How often the reconcile loop runs when nothing wakes it, e.g. `5s`, `500ms`.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Do not read or write the persistent compile cache.
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
}

/// `500ms`, `5s`, `2m`, `1h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 5s, 2m, 1h, 1d)"))?;
    let ms = match unit {
        "ms" => 1,
        "s" | "" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "`{text}` is not a duration (e.g. 500ms, 5s, 2m, 1h, 1d)"
            ));
        }
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the server's runtime: {e}");
            return ExitCode::from(exit::BUG);
        }
    };
    let config = runtime::ServeConfig {
        fleet: args.fleet,
        store: args.store,
        listen: args.listen,
        interval: args.interval,
        env,
    };
    match runtime.block_on(runtime::serve(config)) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                runtime::ServeError::Listen { .. } => exit::USAGE,
                runtime::ServeError::Controller(runtime::ControllerError::Diagnostics(_)) => {
                    exit::DIAGNOSTICS
                }
                runtime::ServeError::Store(runtime::StoreError::Url { .. }) => exit::USAGE,
                _ => exit::REMOTE,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
    }
}
