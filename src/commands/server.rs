//! The clients of `flotilla serve`: `token issue`, `publish`, `promote`, `rollback`, `status`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use runtime::client::{Client, ClientError};

use super::exit;

/// Where the server is and who calls it.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The server's URL.
    #[arg(long, env = "FLOTILLA_SERVER", default_value = "http://127.0.0.1:8480")]
    pub server: String,
    /// A file holding the token (default: the FLOTILLA_TOKEN environment variable).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// The CI job's URL, recorded with the change (X-Flotilla-CI-Job).
    #[arg(long, env = "FLOTILLA_CI_JOB")]
    pub ci_job: Option<String>,
    /// `json`: the server's answer as JSON.
    #[arg(short = 'o', long, value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
}

impl ServerArgs {
    fn client(&self) -> Result<Client, ExitCode> {
        let token = match &self.token_file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                eprintln!("error: cannot read {}: {e}", path.display());
                ExitCode::from(exit::USAGE)
            })?,
            None => std::env::var("FLOTILLA_TOKEN").map_err(|_| {
                eprintln!("error: no token: set FLOTILLA_TOKEN or give --token-file");
                eprintln!("  = hint: `flotilla token issue --user NAME --groups a,b` makes one");
                ExitCode::from(exit::USAGE)
            })?,
        };
        Client::new(&self.server, &token, self.ci_job.clone()).map_err(|e| fail(&e))
    }

    fn json(&self) -> bool {
        self.output == "json"
    }
}

/// 401/403 are refusals (1), other answers usage errors (2), an unreachable server 3.
fn fail(e: &ClientError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(match e.status() {
        Some(401 | 403 | 409) => exit::DIAGNOSTICS,
        Some(s) if s < 500 => exit::USAGE,
        _ => exit::REMOTE,
    })
}

fn run<T>(future: impl std::future::Future<Output = T>) -> Result<T, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|r| r.block_on(future))
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(exit::BUG)
        })
}

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Issue a token with the server's built-in issuer (its key is in the store); prints the
    /// token alone.
    Issue {
        /// `alice` or `user:alice`.
        #[arg(long, required_unless_present = "cluster", conflicts_with = "cluster")]
        user: Option<String>,
        /// An agent's token for this cluster instead (its identity is the cluster's name).
        #[arg(long)]
        cluster: Option<String>,
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// How long it is valid, e.g. `1h`, `30m`, `7d` (at most 30 days).
        #[arg(long, default_value = "1h", value_parser = super::serve::parse_duration)]
        ttl: Duration,
        #[arg(long, default_value = ".")]
        fleet: PathBuf,
        /// The server's store (default: FLEET/.flotilla/store).
        #[arg(long)]
        store: Option<String>,
    },
}

pub fn token(args: TokenArgs) -> ExitCode {
    let TokenCommand::Issue {
        user,
        cluster,
        groups,
        ttl,
        fleet,
        store,
    } = args.command;
    let issued = match (&cluster, &user) {
        (Some(c), _) => run(runtime::issue_agent_token(store.as_deref(), &fleet, c, ttl)),
        (None, Some(u)) => run(runtime::issue_token(
            store.as_deref(),
            &fleet,
            u,
            &groups,
            ttl,
        )),
        (None, None) => {
            eprintln!("error: give --user or --cluster");
            return ExitCode::from(exit::USAGE);
        }
    };
    match issued {
        Ok(Ok(token)) => {
            println!("{token}");
            ExitCode::from(exit::SUCCESS)
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::USAGE)
        }
        Err(code) => code,
    }
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The service whose folder (services/SERVICE/) and chart are published.
    pub service: String,
    /// The version's label (e.g. 1.4.2 or a commit id).
    #[arg(long)]
    pub label: String,
    /// The commit the version was built from.
    #[arg(long)]
    pub commit: Option<String>,
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn publish(args: PublishArgs) -> ExitCode {
    let files = match compiler::read_dir(&args.fleet) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let version = match runtime::fleet::VersionFiles::of(&files, &args.service) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let client = match args.server.client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let answer =
        match run(client.publish(&args.service, &args.label, &version, args.commit.as_deref())) {
            Ok(a) => a,
            Err(code) => return code,
        };
    match answer {
        Ok(v) if args.server.json() => {
            print_json(&v);
            ExitCode::from(exit::SUCCESS)
        }
        Ok(v) => {
            let created = v["created"].as_bool().unwrap_or(false);
            println!(
                "{} {} {} ({})",
                if created { "published" } else { "unchanged:" },
                args.service,
                v["label"].as_str().unwrap_or_default(),
                v["digest"].as_str().unwrap_or_default()
            );
            if let Some(env) = v["deployed"]["environment"].as_str() {
                println!("deployed to {env}");
            }
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => fail(&e),
    }
}

#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    pub service: String,
    /// A label or a digest (or its first 7+ hex digits); with `--approve`, optional (the
    /// version awaiting approval).
    #[arg(required_unless_present = "approve")]
    pub version: Option<String>,
    /// The environment to deploy to.
    #[arg(long, alias = "env")]
    pub to: String,
    /// Approve the version a completed rollout offers this production environment.
    #[arg(long)]
    pub approve: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

fn print_deployment(json: bool, v: &serde_json::Value) -> ExitCode {
    if json {
        print_json(v);
    } else {
        println!(
            "{} {} {} → {} (deployment #{}, {})",
            v["reason"].as_str().unwrap_or_default(),
            v["service"].as_str().unwrap_or_default(),
            v["label"].as_str().unwrap_or_default(),
            v["environment"].as_str().unwrap_or_default(),
            v["seq"],
            v["version"].as_str().unwrap_or_default(),
        );
    }
    ExitCode::from(exit::SUCCESS)
}

pub fn promote(args: PromoteArgs) -> ExitCode {
    let client = match args.server.client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let call = async {
        match &args.version {
            v if args.approve => client.approve(&args.service, v.as_deref(), &args.to).await,
            Some(v) => client.promote(&args.service, v, &args.to).await,
            // clap asks for a version without --approve; an empty one names nothing.
            None => client.promote(&args.service, "", &args.to).await,
        }
    };
    match run(call) {
        Ok(Ok(v)) => print_deployment(args.server.json(), &v),
        Ok(Err(e)) => fail(&e),
        Err(code) => code,
    }
}

#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    /// `status`, `pause`, `resume` or `abort` (abort puts the replaced version back).
    #[arg(value_parser = ["status", "pause", "resume", "abort"])]
    pub action: String,
    pub service: String,
    /// The environment (for `status`: default every environment).
    #[arg(long)]
    pub env: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn rollout(args: RolloutArgs) -> ExitCode {
    let client = match args.server.client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if args.action != "status" {
        let Some(env) = &args.env else {
            eprintln!("error: `flotilla rollout {}` needs --env ENV", args.action);
            return ExitCode::from(exit::USAGE);
        };
        return match run(client.rollout_action(&args.service, env, &args.action)) {
            Ok(Ok(v)) if args.server.json() => {
                print_json(&v);
                ExitCode::from(exit::SUCCESS)
            }
            Ok(Ok(v)) => {
                println!(
                    "rollout of {} {} in {}: {}{}",
                    args.service,
                    v["label"].as_str().unwrap_or_default(),
                    env,
                    v["state"].as_str().unwrap_or_default(),
                    v["reason"]
                        .as_str()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                ExitCode::from(exit::SUCCESS)
            }
            Ok(Err(e)) => fail(&e),
            Err(code) => code,
        };
    }
    let v = match run(client.rollouts(&args.service, args.env.as_deref())) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return fail(&e),
        Err(code) => return code,
    };
    if args.server.json() {
        print_json(&v);
        return ExitCode::from(exit::SUCCESS);
    }
    let list = v["rollouts"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no rollout of {}", args.service);
    }
    for r in &list {
        let waves = r["waves"].as_array().cloned().unwrap_or_default();
        println!(
            "{} {} in {}: {}{}{}{}",
            args.service,
            r["label"].as_str().unwrap_or_default(),
            r["environment"].as_str().unwrap_or_default(),
            r["state"].as_str().unwrap_or_default(),
            if waves.is_empty() {
                String::new()
            } else {
                format!(
                    ", wave {}/{}",
                    r["wave"].as_u64().unwrap_or(0) + 1,
                    waves.len()
                )
            },
            r["reason"]
                .as_str()
                .map(|x| format!(" ({x})"))
                .unwrap_or_default(),
            if r["current"].as_bool() == Some(false) {
                " [superseded]"
            } else {
                ""
            }
        );
        if let Some(env) = r["awaiting"].as_str() {
            println!(
                "  awaits an approver for {env}: flotilla promote {} --to {env} --approve",
                args.service
            );
        }
        for (i, w) in waves.iter().enumerate() {
            let clusters: Vec<&str> = w["clusters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            println!(
                "  wave {} {:<8} {}/{} Ready, {} failed (tolerates {}): {}",
                i + 1,
                w["name"].as_str().unwrap_or_default(),
                r["ready"][i].as_u64().unwrap_or(0),
                clusters.len(),
                r["failed"][i].as_u64().unwrap_or(0),
                w["maxUnavailable"].as_u64().unwrap_or(0),
                clusters.join(", ")
            );
        }
    }
    ExitCode::from(exit::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    pub service: String,
    /// The environment to roll back.
    #[arg(long)]
    pub env: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub fn rollback(args: RollbackArgs) -> ExitCode {
    let client = match args.server.client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(client.rollback(&args.service, &args.env)) {
        Ok(Ok(v)) => print_deployment(args.server.json(), &v),
        Ok(Err(e)) => fail(&e),
        Err(code) => code,
    }
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// One service's versions and history (default: every service and cluster).
    pub service: Option<String>,
    /// The audit log instead: every mutating request, refused ones included.
    #[arg(long, conflicts_with = "service")]
    pub audit: bool,
    /// One cluster: its staged bundle and what its agent reported last.
    #[arg(long, conflicts_with_all = ["service", "audit"])]
    pub cluster: Option<String>,
    /// Stuck deployments (with their kind, clusters and evidence), silent agents and open
    /// incidents, and where each notification went.
    #[arg(long, conflicts_with_all = ["service", "audit", "cluster"])]
    pub stuck: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `  NAME  PHASE  REASON: message` of a release's status.
fn release_line(name: &serde_json::Value, r: &serde_json::Value) -> String {
    format!(
        "  {:<24} {:<12} {}{}",
        name.as_str().unwrap_or_default(),
        r["phase"].as_str().unwrap_or_default(),
        r["reason"].as_str().unwrap_or_default(),
        r["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    )
}

fn stuck_status(client: &Client, json: bool) -> ExitCode {
    let got = run(async {
        let list = client.get("/v1/deployments?state=Stuck").await?;
        let mut detailed = Vec::new();
        for d in list["deployments"].as_array().into_iter().flatten() {
            let path = format!(
                "/v1/services/{}/deployments/{}",
                d["service"].as_str().unwrap_or_default(),
                d["environment"].as_str().unwrap_or_default()
            );
            detailed.push(client.get(&path).await?);
        }
        Ok::<_, ClientError>((list, detailed))
    });
    let (list, detailed) = match got {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return fail(&e),
        Err(code) => return code,
    };
    if json {
        print_json(&serde_json::json!({
            "deployments": detailed,
            "silentAgents": list["silentAgents"],
            "incidents": list["incidents"],
        }));
        return ExitCode::from(exit::SUCCESS);
    }
    if detailed.is_empty() {
        println!("no stuck deployment");
    }
    for d in &detailed {
        println!(
            "{} {} in {}: stuck ({} fault) on {} of {} clusters",
            d["service"].as_str().unwrap_or_default(),
            d["version"].as_str().unwrap_or_default(),
            d["environment"].as_str().unwrap_or_default(),
            d["stuck"].as_str().unwrap_or("?"),
            d["stuckClusters"],
            d["clusters"]
        );
        for r in d["releases"].as_array().into_iter().flatten() {
            if r["stuck"].is_null() {
                continue;
            }
            println!("{}", release_line(&r["cluster"], r));
            for e in r["evidence"].as_array().into_iter().flatten() {
                println!("    - {}", e.as_str().unwrap_or_default());
            }
        }
        for i in d["incidents"].as_array().into_iter().flatten() {
            println!("  notified: {}", i["routedTo"].as_str().unwrap_or_default());
        }
    }
    for c in list["silentAgents"].as_array().into_iter().flatten() {
        println!("agent of {} is silent", c.as_str().unwrap_or_default());
    }
    for i in list["incidents"].as_array().into_iter().flatten() {
        if i["service"].as_str().is_some_and(|s| !s.is_empty()) {
            continue;
        }
        println!(
            "open: {} (to {})",
            i["summary"].as_str().unwrap_or_default(),
            i["routedTo"].as_str().unwrap_or_default()
        );
    }
    ExitCode::from(exit::SUCCESS)
}

fn cluster_status(client: &Client, cluster: &str, json: bool) -> ExitCode {
    let got = run(async {
        let staged = client.get(&format!("/v1/clusters/{cluster}")).await?;
        let agent = client
            .get(&format!("/v1/clusters/{cluster}/status"))
            .await?;
        Ok::<_, ClientError>((staged, agent))
    });
    let (staged, agent) = match got {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return fail(&e),
        Err(code) => return code,
    };
    if json {
        print_json(&serde_json::json!({"cluster": staged, "agent": agent}));
        return ExitCode::from(exit::SUCCESS);
    }
    let s = &staged["staged"];
    println!(
        "cluster {cluster} ({}): staged generation {} {}",
        staged["environment"].as_str().unwrap_or_default(),
        s["generation"].as_u64().unwrap_or(0),
        s["digest"].as_str().unwrap_or("(nothing staged)")
    );
    let report = &agent["report"];
    match agent["lastSeen"].as_u64() {
        None => println!("agent: never seen"),
        Some(at) => {
            let ago = runtime::auth::now().saturating_sub(at);
            println!(
                "agent: seen {ago}s ago, applied generation {} ({} applier){}",
                report["generation"].as_u64().unwrap_or(0),
                report["applier"].as_str().unwrap_or("?"),
                report["error"]
                    .as_str()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    for r in report["releases"].as_array().into_iter().flatten() {
        println!("{}", release_line(&r["release"], r));
    }
    ExitCode::from(exit::SUCCESS)
}

pub fn status(args: StatusArgs) -> ExitCode {
    let client = match args.server.client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(cluster) = &args.cluster {
        return cluster_status(&client, cluster, args.server.json());
    }
    if args.stuck {
        return stuck_status(&client, args.server.json());
    }
    if args.audit {
        return match run(client.get("/v1/audit")) {
            Ok(Ok(v)) if args.server.json() => {
                print_json(&v);
                ExitCode::from(exit::SUCCESS)
            }
            Ok(Ok(v)) => {
                for r in v["records"].as_array().into_iter().flatten() {
                    let principal = r["principal"].as_str().unwrap_or_default();
                    println!(
                        "{} {} {} {} {}{}",
                        r["time"],
                        if principal.is_empty() { "-" } else { principal },
                        r["action"].as_str().unwrap_or_default(),
                        r["target"].as_str().unwrap_or_default(),
                        r["result"].as_str().unwrap_or_default(),
                        r["ciJob"]
                            .as_str()
                            .map(|c| format!(" (CI {c})"))
                            .unwrap_or_default()
                    );
                }
                ExitCode::from(exit::SUCCESS)
            }
            Ok(Err(e)) => fail(&e),
            Err(code) => code,
        };
    }
    let result = run(async {
        match &args.service {
            Some(s) => client
                .get(&format!("/v1/services/{s}"))
                .await
                .map(|v| (v, None)),
            None => {
                let services = client.get("/v1/services").await?;
                let clusters = client.get("/v1/clusters").await?;
                Ok((services, Some(clusters)))
            }
        }
    });
    let (services, clusters) = match result {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return fail(&e),
        Err(code) => return code,
    };
    if args.server.json() {
        let mut v = services;
        if let Some(c) = clusters {
            v["clusters"] = c["clusters"].clone();
            v["failures"] = c["failures"].clone();
        }
        print_json(&v);
        return ExitCode::from(exit::SUCCESS);
    }
    if args.service.is_some() {
        println!(
            "service {}",
            services["service"].as_str().unwrap_or_default()
        );
        if let Some(deps) = services["deployments"].as_object() {
            for (env, d) in deps {
                println!(
                    "  {env}: {} ({}) deployment #{} by {}",
                    d["label"].as_str().unwrap_or_default(),
                    d["version"].as_str().unwrap_or_default(),
                    d["seq"],
                    d["principal"].as_str().unwrap_or_default()
                );
            }
        }
        println!("versions:");
        for v in services["versions"].as_array().into_iter().flatten() {
            println!(
                "  {} {} by {}",
                v["label"].as_str().unwrap_or_default(),
                v["digest"].as_str().unwrap_or_default(),
                v["provenance"]["publisher"].as_str().unwrap_or_default()
            );
        }
        return ExitCode::from(exit::SUCCESS);
    }
    println!("services:");
    for s in services["services"].as_array().into_iter().flatten() {
        let deps = s["deployments"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(e, d)| format!("{e}={}", d["version"].as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        println!("  {} {deps}", s["service"].as_str().unwrap_or_default());
    }
    if let Some(c) = clusters {
        println!("clusters:");
        for c in c["clusters"].as_array().into_iter().flatten() {
            println!(
                "  {} ({}) generation {} releases {}",
                c["cluster"].as_str().unwrap_or_default(),
                c["environment"].as_str().unwrap_or_default(),
                c["generation"],
                c["releases"]
            );
        }
        if let Some(f) = c["failures"].as_object() {
            for (env, message) in f {
                println!("  ! {env}: {}", message.as_str().unwrap_or_default());
            }
        }
    }
    ExitCode::from(exit::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ClustersArgs {
    #[command(subcommand)]
    pub command: ClustersCommand,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ClustersCommand {
    /// Register a cluster (or change a declared one's identity mode) and write its agent's
    /// credentials: a bootstrap token of the built-in issuer, or, with Vault, its AppRole
    /// role id and a wrapped secret id.
    Register {
        name: String,
        #[arg(long)]
        environment: Option<String>,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        region: Option<String>,
        /// `KEY=VALUE` (repeatable).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// `KEY=VALUE`, the value read as YAML/JSON when it parses (repeatable).
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        metadata: Vec<String>,
        /// `own` (its own identity) or `shared` (also the legacy shared role's tokens).
        #[arg(long, value_parser = ["own", "shared"], default_value = "own")]
        identity: String,
        /// Where the credentials are written (mode 0600); they are never printed.
        #[arg(long, value_name = "FILE")]
        credentials_out: PathBuf,
    },
    /// Deregister a cluster: its agent is refused from now on (with Vault, its role revoked).
    Deregister { name: String },
    /// Each registered cluster's identity mode (`shared` ones first: still to be moved).
    Identity,
}

fn key_values(
    items: &[String],
    parse: bool,
) -> Result<serde_json::Map<String, serde_json::Value>, ExitCode> {
    let mut out = serde_json::Map::new();
    for item in items {
        let Some((k, v)) = item.split_once('=') else {
            eprintln!("error: `{item}` is not KEY=VALUE");
            return Err(ExitCode::from(exit::USAGE));
        };
        let value = if parse {
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()))
        } else {
            serde_json::Value::String(v.to_owned())
        };
        out.insert(k.to_owned(), value);
    }
    Ok(out)
}

pub fn clusters(args: ClustersArgs) -> ExitCode {
    let client = match args.server.client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let json = args.server.json();
    let result = match args.command {
        ClustersCommand::Register {
            name,
            environment,
            provider,
            region,
            tags,
            metadata,
            identity,
            credentials_out,
        } => {
            let (tags, metadata) = match (key_values(&tags, false), key_values(&metadata, true)) {
                (Ok(t), Ok(m)) => (t, m),
                (Err(c), _) | (_, Err(c)) => return c,
            };
            let mut spec = serde_json::json!({"name": name, "identity": identity});
            for (k, v) in [
                ("environment", environment),
                ("provider", provider),
                ("region", region),
            ] {
                if let Some(v) = v {
                    spec[k] = serde_json::Value::String(v);
                }
            }
            if !tags.is_empty() {
                spec["tags"] = tags.into();
            }
            if !metadata.is_empty() {
                spec["metadata"] = metadata.into();
            }
            match run(client.register(&spec)) {
                Err(code) => return code,
                Ok(Err(e)) => Err(e),
                Ok(Ok(answer)) => {
                    let creds = &answer["credentials"];
                    let mut text = serde_json::to_string_pretty(creds).unwrap_or_default();
                    text.push('\n');
                    if let Err(e) = agent::state::write_private(&credentials_out, text.as_bytes()) {
                        eprintln!("error: cannot write {}: {e}", credentials_out.display());
                        return ExitCode::from(exit::REMOTE);
                    }
                    if json {
                        print_json(&answer["registration"]);
                    } else {
                        let r = &answer["registration"];
                        println!(
                            "registered {} in {} (identity {}); its agent's credentials ({}) are in {}",
                            r["cluster"].as_str().unwrap_or_default(),
                            r["environment"].as_str().unwrap_or_default(),
                            r["identity"].as_str().unwrap_or_default(),
                            creds["kind"].as_str().unwrap_or_default(),
                            credentials_out.display()
                        );
                    }
                    return ExitCode::from(exit::SUCCESS);
                }
            }
        }
        ClustersCommand::Deregister { name } => match run(client.deregister(&name)) {
            Err(code) => return code,
            Ok(r) => r.map(|v| {
                if json {
                    print_json(&v);
                } else {
                    println!("deregistered {name}");
                }
            }),
        },
        ClustersCommand::Identity => match run(client.get("/v1/identities")) {
            Err(code) => return code,
            Ok(r) => r.map(|v| {
                if json {
                    print_json(&v);
                    return;
                }
                println!(
                    "{:<28} {:<12} {:<8} {:<10} LAST SEEN",
                    "CLUSTER", "ENVIRONMENT", "IDENTITY", "STATE"
                );
                for c in v["clusters"].as_array().into_iter().flatten() {
                    let state = if c["deregistered"].as_bool() == Some(true) {
                        "deregistered"
                    } else if c["declared"].as_bool() == Some(true) {
                        "declared"
                    } else {
                        "registered"
                    };
                    let seen = c["lastSeen"].as_u64().map_or_else(
                        || "never".to_owned(),
                        |s| format!("{}s ago", runtime::auth::now().saturating_sub(s)),
                    );
                    println!(
                        "{:<28} {:<12} {:<8} {:<10} {seen}",
                        c["cluster"].as_str().unwrap_or_default(),
                        c["environment"].as_str().unwrap_or_default(),
                        c["identity"].as_str().unwrap_or_default(),
                        state
                    );
                }
            }),
        },
    };
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => fail(&e),
    }
}
