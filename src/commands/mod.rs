//! One module per subcommand, each with its arguments and an `exec` that calls one library
//! function.

use std::process::ExitCode;

use clap::Subcommand;

mod agent;
mod auth;
mod bundle;
mod check;
mod dev;
mod diff;
mod helm;
mod import;
mod outcome;
mod plan;
mod plugin;
mod policy;
mod render;
mod review;
mod select;
mod serve;
mod server;
mod simulate;
mod template;
mod watch;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a Go template file with YAML or JSON data, as Go's text/template with Sprig and
    /// Helm's functions would.
    Template(template::Args),
    /// Helm charts: `helm template`, rendered as Helm 3.17 renders it.
    Helm(helm::Args),
    /// Print the clusters of a fleet that a CEL selector matches, sorted, one per line.
    Select(select::Args),
    /// Compile a fleet, check it against its policies, and write the plan bundle: plan.yaml,
    /// each distinct manifest once, and an index per cluster.
    Plan(plan::Args),
    /// Compile a fleet and check it against its policies (RBAC, manifest rules); write no plan.
    Check(check::Args),
    /// Compare a fresh plan with the accepted one, and accept or reject it.
    Review(review::Args),
    /// Compare the compiled manifests with another tool's dry run (`helm template` outputs,
    /// `<cluster>/<release>.yaml`): what would change, and whether it blocks an in-place
    /// migration, rolls pods, or is safe.
    Diff(diff::Args),
    /// Bring an existing deployment repository into a fleet: `import helm-values DIR --out
    /// FLEET` turns per-cluster Helm values into clusters and services, then compares the
    /// fleet with `helm template` of the originals.
    Import(import::Args),
    /// The dry run of one release: the values its chart is rendered with (after the values
    /// template, Vault and plugins) and its manifest, secrets masked.
    Render(render::Args),
    /// Plan bundles: `bundle export` writes one cluster's manifests as files.
    Bundle(bundle::Args),
    /// Compile a fleet, then again whenever its files change (only what changed is redone);
    /// print the diagnostics and what each change did to the plan. Write no plan.
    Watch(watch::Args),
    /// Tools for developing Flotilla: a synthetic fleet generator, a timed compile.
    Dev(dev::Args),
    /// Ask the fleet's RBAC policy: `auth can-i ACTION [SERVICE] --cluster NAME --as user:NAME`.
    Auth(auth::Args),
    /// WebAssembly value plugins: scaffold one, build it, try it on a cluster.
    Plugin(plugin::Args),
    /// Run the controller: versions, deployments, and each cluster's bundle staged in a store.
    Serve(serve::Args),
    /// Tokens of the server's built-in issuer: `token issue --user NAME --groups a,b`.
    Token(server::TokenArgs),
    /// Publish a version of a service (its folder and chart) to the server; it is deployed to
    /// the first environment.
    Publish(server::PublishArgs),
    /// Deploy a published version of a service to an environment.
    Promote(server::PromoteArgs),
    /// Deploy the version a service ran on an environment before the current one.
    Rollback(server::RollbackArgs),
    /// Progressive rollouts: `rollout status|pause|resume|abort SERVICE [--env ENV]`.
    Rollout(server::RolloutArgs),
    /// What the server holds: services, their deployments, clusters and their bundles.
    Status(server::StatusArgs),
    /// Clusters agents act for: `clusters register`, `deregister`, `identity`.
    Clusters(server::ClustersArgs),
    /// The in-cluster agent: pulls this cluster's bundle, applies it, reports its status.
    Agent(agent::cli::AgentArgs),
    /// Load simulation: a real server, thousands of simulated clusters, traffic; a report of
    /// loop time, end-to-end latency, memory and the SLO per load point.
    Simulate(simulate::Args),
}

/// Exit codes: 0 success, 1 diagnostics or a policy denial, 2 usage, 3 remote failure, 101 internal bug.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const DIAGNOSTICS: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const REMOTE: u8 = 3;
    pub const BUG: u8 = 101;
}

pub fn exec(command: Command) -> ExitCode {
    match command {
        Command::Template(args) => template::exec(args),
        Command::Helm(args) => helm::exec(args),
        Command::Select(args) => select::exec(args),
        Command::Plan(args) => plan::exec(args),
        Command::Check(args) => check::exec(args),
        Command::Review(args) => review::exec(args),
        Command::Diff(args) => diff::exec(args),
        Command::Render(args) => render::exec(args),
        Command::Import(args) => import::exec(args),
        Command::Bundle(args) => bundle::exec(args),
        Command::Watch(args) => watch::exec(args),
        Command::Dev(args) => dev::exec(args),
        Command::Auth(args) => auth::exec(args),
        Command::Plugin(args) => plugin::exec(args),
        Command::Serve(args) => serve::exec(args),
        Command::Token(args) => server::token(args),
        Command::Publish(args) => server::publish(args),
        Command::Promote(args) => server::promote(args),
        Command::Rollback(args) => server::rollback(args),
        Command::Rollout(args) => server::rollout(args),
        Command::Status(args) => server::status(args),
        Command::Clusters(args) => server::clusters(args),
        Command::Agent(args) => agent::exec(args),
        Command::Simulate(args) => simulate::exec(args),
    }
}
