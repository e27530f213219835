//! The agent's command line, shared by `flotilla agent` and the `flotilla-agent` binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::apply::{Applier, Sim, SimFault};
use crate::login::{Credentials, VaultLogin};
use crate::{AgentError, Config};

/// `flotilla agent`: pulls this cluster's bundle, applies it, reports its status.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// The cluster this agent runs in (its identity must be this cluster's).
    #[arg(long)]
    pub cluster: String,
    /// The server (`flotilla serve`).
    #[arg(long, env = "FLOTILLA_SERVER")]
    pub server: String,
    /// How manifests are applied: `kube` (server-side apply to the cluster), `dir` (write
    /// them to a folder) or `sim` (a simulated cluster).
    #[arg(long, value_parser = ["kube", "dir", "sim"])]
    pub applier: String,
    /// The agent's state: the manifests it has, what it applied last, refreshed credentials.
    #[arg(long)]
    pub state: PathBuf,
    /// The `dir` applier's folder (default: `<state>/manifests`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// A token of the server's built-in issuer: the credentials file `flotilla clusters
    /// register` wrote, or a token of `flotilla token issue --cluster`.
    #[arg(long, conflicts_with = "vault_addr")]
    pub token_file: Option<PathBuf>,
    /// Vault (or OpenBao), to log in with AppRole and get the cluster's identity token.
    #[arg(long, requires_all = ["vault_role_id", "vault_secret_id_file"])]
    pub vault_addr: Option<String>,
    #[arg(long)]
    pub vault_role_id: Option<String>,
    /// A file with the secret id, the wrapping token the provisioner returned, or the
    /// credentials file `flotilla clusters register` wrote (a wrapped secret id is unwrapped
    /// on first use and kept in the state dir).
    #[arg(long)]
    pub vault_secret_id_file: Option<PathBuf>,
    /// The AppRole auth mount.
    #[arg(long, default_value = "flotilla-agents")]
    pub vault_mount: String,
    /// The identity token role.
    #[arg(long, default_value = "flotilla-agent")]
    pub vault_oidc_role: String,
    /// Apply everything again this often, to correct drift.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub resync: Duration,
    /// How long one poll waits for a new bundle (also the heartbeat).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub poll_wait: Duration,
    /// `sim`: how long after its apply a release is Ready.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub sim_ready_after: Duration,
    /// `kube`: the kubeconfig (default: in-cluster, else `KUBECONFIG` or `~/.kube/config`).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// `kube`: how long a Helm hook (e.g. a migration Job) may take.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub hook_timeout: Duration,
    /// `sim`: a fault for a service, `SERVICE=crashloop|imagepull|reject|slow`, or for its
    /// versions whose image has a tag, `SERVICE@TAG=FAULT` (repeatable).
    #[arg(long = "sim-fault", value_name = "SERVICE=FAULT")]
    pub sim_faults: Vec<String>,
}

impl AgentArgs {
    /// The agent's configuration, or why these arguments make none.
    pub fn config(&self) -> Result<Config, AgentError> {
        let usage = |m: String| AgentError::Usage(m);
        let credentials = match (&self.token_file, &self.vault_addr) {
            (Some(f), None) => Credentials::TokenFile(f.clone()),
            (None, Some(addr)) => Credentials::Vault(VaultLogin {
                addr: addr.clone(),
                mount: self.vault_mount.clone(),
                role_id: self.vault_role_id.clone().unwrap_or_default(),
                secret_id_file: self.vault_secret_id_file.clone().unwrap_or_default(),
                oidc_role: self.vault_oidc_role.clone(),
            }),
            _ => {
                return Err(usage(
                    "give --token-file (the built-in issuer) or --vault-addr with --vault-role-id and --vault-secret-id-file".into(),
                ));
            }
        };
        let applier = match self.applier.as_str() {
            "dir" => Applier::Dir {
                out: self
                    .dir
                    .clone()
                    .unwrap_or_else(|| self.state.join("manifests")),
            },
            "sim" => {
                let mut faults = BTreeMap::new();
                for f in &self.sim_faults {
                    let (service, fault) = f
                        .split_once('=')
                        .ok_or_else(|| usage(format!("--sim-fault `{f}`: give SERVICE=FAULT")))?;
                    let fault: SimFault = fault.parse().map_err(usage)?;
                    faults.insert(service.to_owned(), fault);
                }
                Applier::Sim(Sim::new(self.sim_ready_after, faults))
            }
            _ => Applier::Kube(Box::new(crate::kube::Kube::new(
                self.kubeconfig.clone(),
                self.hook_timeout,
            ))),
        };
        if self.poll_wait.is_zero() || self.poll_wait > Duration::from_secs(60) {
            return Err(usage("--poll-wait is between 1s and 60s".into()));
        }
        Ok(Config {
            cluster: self.cluster.clone(),
            server: self.server.trim_end_matches('/').to_owned(),
            applier,
            state: self.state.clone(),
            credentials,
            resync: self.resync,
            poll_wait: self.poll_wait,
        })
    }
}

pub use plan::parse_duration;
