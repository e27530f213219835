//! The runtime's controller: `flotilla serve`. It holds published versions and deployments in
//! a store (the source of truth: a local folder by default, S3 or GCS through `object_store`),
//! compiles each environment with the versions deployed there through the same pipeline as
//! `flotilla plan`, stages each cluster's bundle in the store for its agent, and serves the
//! API people and CI call (`api`), with tokens of its built-in issuer (`auth`), the fleet's
//! RBAC, an audit record of every mutating request, and announcements of production
//! deployments (`notify`).
//!
//! The binary only parses arguments and calls [`serve`], [`issue_token`] or the [`client`].

pub mod agents;
pub mod api;
pub mod auth;
pub mod client;
pub mod controller;
pub mod feedback;
pub mod fleet;
pub mod identity;
pub mod metrics;
pub mod notify;
pub mod records;
pub mod registry;
pub mod replicas;
pub mod rollout;
pub mod shards;
pub mod store;
mod ui;
pub mod vault;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::auth::{AuthError, Issuer};
pub use crate::controller::{Controller, ControllerError};
pub use crate::store::{Store, StoreError};

/// How `flotilla serve` runs.
#[derive(Debug)]
pub struct ServeConfig {
    pub fleet: PathBuf,
    /// `None`: the fleet's `.flotilla/store`.
    pub store: Option<String>,
    pub listen: SocketAddr,
    pub interval: Duration,
    /// The compile environment (secrets, cache, plugins).
    pub env: pipeline::Environment,
    /// How agents prove who they are, and how clusters are provisioned.
    pub agents: AgentOptions,
    /// The agents' heartbeat: an agent silent for three is a platform fault.
    pub heartbeat: Duration,
    /// Rollouts' time moves only when `POST /v1/clock` says (tests, simulations).
    pub manual_clock: bool,
    /// This replica among those sharing the store.
    pub shards: shards::ShardOptions,
}

/// Agents' identity: the issuers trusted besides the built-in one, and Vault for the
/// provisioner.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// An OIDC issuer trusted for agents' tokens. With Vault configured and none given,
    /// Vault's own identity provider.
    pub oidc: Option<identity::OidcConfig>,
    /// The claim naming the cluster in OIDC tokens (`cluster`).
    pub cluster_claim: String,
    /// Vault, to provision each registered cluster's AppRole and identity.
    pub vault: Option<vault::VaultConfig>,
    /// The cluster claim of the legacy shared role's tokens (`shared`).
    pub shared_identity: String,
}

/// Why the server stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Controller(#[from] ControllerError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[source] std::io::Error),
    #[error("cannot set up Vault for agents' identities: {0}")]
    Vault(#[source] vault::VaultError),
}

/// Runs the controller until SIGINT or SIGTERM: opens the store, starts the controller (the
/// fleet as it stands is the first state of an empty store), listens, and reconciles on every
/// change and every `interval`. Prints `listening on http://ADDR` on standard error once the
/// API answers.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let store = Store::open(config.store.as_deref(), &config.fleet)?;
    let issuer = Arc::new(Issuer::of(&store).await?);
    let metrics = Arc::new(metrics::Metrics::default());
    let mut controller =
        Controller::start(&config.fleet, store, config.env, Arc::clone(&metrics)).await?;
    if config.manual_clock {
        controller.clock = rollout::Clock::manual();
        eprintln!("flotilla serve: rollouts on a manual clock (POST /v1/clock moves it)");
    }
    let lease_every = (config.shards.ttl / 3)
        .min(config.interval)
        .max(Duration::from_millis(100));
    eprintln!(
        "flotilla serve: replica {}, {} shards, leases of {:?}",
        config.shards.replica, config.shards.shards, config.shards.ttl
    );
    controller.shards = shards::Shards::new(config.shards);
    let controller = Arc::new(controller);
    controller.set_heartbeat(config.heartbeat);
    let options = config.agents;
    let vault = options.vault.map(vault::VaultProvisioner::new);
    let mut oidc = options.oidc;
    if let (None, Some(v)) = (&oidc, &vault) {
        let (issuer, audience) = v.oidc().await.map_err(ServeError::Vault)?;
        eprintln!(
            "flotilla serve: agents' tokens from Vault's identity provider {issuer} (audience {audience})"
        );
        oidc = Some(identity::OidcConfig {
            issuer,
            audience,
            cluster_claim: options.cluster_claim.clone(),
        });
    } else if let Some(v) = &vault {
        v.setup().await.map_err(ServeError::Vault)?;
    }
    let agents = identity::AgentVerifier::new(Arc::clone(&issuer), oidc);
    let app = Arc::new(api::App::new(
        Arc::clone(&controller),
        issuer,
        agents,
        vault,
        options.shared_identity,
    ));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Io)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The shards this replica may take, then the first pass, before answering `/readyz`.
    if let Err(e) = controller.lease_round().await {
        eprintln!("flotilla serve: leases: {e}");
    }
    let pass = controller.reconcile().await;
    for e in &pass.errors {
        eprintln!("flotilla serve: reconcile: {e}");
    }
    eprintln!(
        "flotilla serve: store {}, {} clusters staged",
        controller.store.description,
        pass.staged.len()
    );
    app.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    let replica = tokio::spawn(Arc::clone(&controller).run_replica(lease_every, stopped.clone()));
    let looping = tokio::spawn(Arc::clone(&controller).run_loop(config.interval, stopped));
    eprintln!("flotilla serve: listening on http://{addr}");
    let stop = Arc::new(stop);
    let asked = Arc::clone(&stop);
    let served = axum::serve(
        listener,
        api::router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        signal().await;
        asked.send_replace(true);
    })
    .await;
    // The loop ends after the pass it is in (if any): what it stages is never cut half-way.
    stop.send_replace(true);
    let _ = looping.await;
    let _ = replica.await;
    served.map_err(ServeError::Io)
}

/// An HTTP client for the server's own calls (Vault, an OIDC issuer), TLS through rustls.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A token of the store's built-in issuer (`flotilla token issue`).
pub async fn issue_token(
    store: Option<&str>,
    fleet: &std::path::Path,
    user: &str,
    groups: &[String],
    ttl: Duration,
) -> Result<String, ServeError> {
    let store = Store::open(store, fleet)?;
    let issuer = Issuer::of(&store).await?;
    Ok(issuer.issue(user, groups, ttl.as_secs())?)
}

/// An agent token of the store's built-in issuer for `cluster` (`flotilla token issue
/// --cluster`).
pub async fn issue_agent_token(
    store: Option<&str>,
    fleet: &std::path::Path,
    cluster: &str,
    ttl: Duration,
) -> Result<String, ServeError> {
    let store = Store::open(store, fleet)?;
    let issuer = Issuer::of(&store).await?;
    Ok(issuer.issue_agent(cluster, ttl.as_secs())?)
}
