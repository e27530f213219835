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
    /// How often agents report (their `--poll-wait`): an agent silent for three heartbeats
    /// pages the platform on-call.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub heartbeat: Duration,
    /// The rollouts' clock: `system`, or `manual` (time moves only by `POST /v1/clock`,
    /// for tests and simulations of soak times).
    #[arg(long, default_value = "system", value_parser = ["system", "manual"])]
    pub clock: String,
    /// This replica's name among the replicas sharing the store (unique; default: the host
    /// name). Each stages the shards whose leases it holds.
    #[arg(long, value_name = "ID")]
    pub replica_id: Option<String>,
    /// How many shards the clusters are split into: the same on every replica of a store.
    #[arg(long, default_value_t = runtime::shards::DEFAULT_SHARDS, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub shards: u32,
    /// How long a replica's shard lease lasts unrenewed before another replica takes it over.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub lease_ttl: Duration,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
    #[command(flatten)]
    pub agents: AgentIdentityArgs,
}

/// How agents prove who they are.
#[derive(Debug, clap::Args)]
pub struct AgentIdentityArgs {
    /// Trust this OIDC issuer for agents' tokens (besides the built-in one), e.g. Vault's
    /// `https://vault:8200/v1/identity/oidc`. With --vault-addr and none given: Vault's.
    #[arg(long, requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The audience agents' OIDC tokens must name.
    #[arg(long)]
    pub oidc_audience: Option<String>,
    /// The claim of an OIDC token naming its cluster.
    #[arg(long, default_value = "cluster")]
    pub oidc_cluster_claim: String,
    /// The cluster claim of the legacy shared role's tokens, accepted only for clusters
    /// registered with `identity: shared`.
    #[arg(long, default_value = "shared")]
    pub shared_identity: String,
    /// Vault (or OpenBao), to provision each registered cluster's AppRole and identity. The
    /// platform's own token comes from VAULT_TOKEN or --vault-token-file.
    #[arg(long = "vault-addr", value_name = "URL")]
    pub vault_addr: Option<String>,
    #[arg(long, requires = "vault_addr")]
    pub vault_token_file: Option<PathBuf>,
    /// The AppRole auth mount agents log in at.
    #[arg(long, default_value = "flotilla-agents")]
    pub vault_agent_mount: String,
}

impl AgentIdentityArgs {
    fn options(&self) -> Result<runtime::AgentOptions, ExitCode> {
        let vault = match &self.vault_addr {
            None => None,
            Some(addr) => {
                let token = match &self.vault_token_file {
                    Some(f) => std::fs::read_to_string(f).map_err(|e| {
                        eprintln!("error: cannot read {}: {e}", f.display());
                        ExitCode::from(exit::USAGE)
                    })?,
                    None => std::env::var("VAULT_TOKEN").map_err(|_| {
                        eprintln!("error: --vault-addr needs the platform's token: set VAULT_TOKEN or give --vault-token-file");
                        ExitCode::from(exit::USAGE)
                    })?,
                };
                let mut v = runtime::vault::VaultConfig::new(addr, token.trim());
                v.mount = self.vault_agent_mount.clone();
                Some(v)
            }
        };
        let oidc = match (&self.oidc_issuer, &self.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(runtime::identity::OidcConfig {
                issuer: issuer.clone(),
                audience: audience.clone(),
                cluster_claim: self.oidc_cluster_claim.clone(),
            }),
            _ => None,
        };
        Ok(runtime::AgentOptions {
            oidc,
            cluster_claim: self.oidc_cluster_claim.clone(),
            vault,
            shared_identity: self.shared_identity.clone(),
        })
    }
}

pub use agent::cli::parse_duration;

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let agents = match args.agents.options() {
        Ok(a) => a,
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
        agents,
        heartbeat: args.heartbeat,
        manual_clock: args.clock == "manual",
        shards: runtime::shards::ShardOptions {
            replica: args
                .replica_id
                .unwrap_or_else(runtime::shards::default_replica),
            shards: args.shards,
            ttl: args.lease_ttl,
        },
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
                runtime::ServeError::Vault(_) => exit::REMOTE,
                _ => exit::REMOTE,
            })
        }
    }
}
