//! `flotilla plugin new|build|test`: scaffold, build and try a WebAssembly value plugin; thin
//! over `plugins::author`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plugins::{AuthorError, BuildConfig, HostConfig, Lang, PluginHost};

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Scaffold a plugin in DIR/NAME: `app.py` (python) or a crate (rust), and the contract.
    New {
        /// The plugin's name, as templates call it: `{{ plugin "NAME" … }}`.
        name: String,
        /// The guest language.
        #[arg(long, value_parser = ["python", "rust"])]
        lang: String,
        /// Where to create the plugin's folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build the plugin in DIR (default: the current folder) into DIR/out/NAME.wasm.
    Build {
        /// The plugin's folder (made by `flotilla plugin new`).
        dir: Option<PathBuf>,
    },
    /// Call a plugin once on a cluster, as a fleet compile would, and print its answer, the
    /// fuel and the time it used.
    Test {
        /// A plugin of the fleet (`NAME`: FLEET/plugins/NAME.wasm, with its limits file), a
        /// `.wasm` file (with the `.yaml` limits beside it), or a plugin's folder (its build).
        plugin: String,
        /// The cluster: a cluster file (YAML, as in the fleet's clusters/, or JSON), or the
        /// name of one of the fleet's clusters.
        #[arg(long)]
        cluster: String,
        /// The service the call is made for (the request's `service`).
        #[arg(long, default_value = "test")]
        service: String,
        /// The call's arguments, each a JSON value (a word that is not JSON is a string).
        #[arg(long, num_args = 1.., allow_hyphen_values = true)]
        args: Vec<String>,
        /// The fleet repository that NAME and cluster names refer to.
        #[arg(long, default_value = ".")]
        fleet: PathBuf,
    },
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        Sub::New { name, lang, dir } => new(&name, &lang, &dir),
        Sub::Build { dir } => build(dir.as_deref().unwrap_or(Path::new("."))),
        Sub::Test {
            plugin,
            cluster,
            service,
            args,
            fleet,
        } => test(&plugin, &cluster, &service, &args, &fleet),
    }
}

/// Exit code of an authoring error: the user's setup (a name, a folder) is a usage error; a
/// missing tool or a failed build is not.
fn fail(e: &AuthorError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(match e {
        AuthorError::UnknownLang(_)
        | AuthorError::BadName(_)
        | AuthorError::Exists(_)
        | AuthorError::NotAPlugin(_)
        | AuthorError::Io { .. } => exit::USAGE,
        _ => exit::DIAGNOSTICS,
    })
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(exit::USAGE)
}

fn new(name: &str, lang: &str, dir: &Path) -> ExitCode {
    let lang: Lang = match lang.parse() {
        Ok(lang) => lang,
        Err(e) => return fail(&e),
    };
    match plugins::new_plugin(name, lang, dir) {
        Ok(root) => {
            println!("created {}", root.display());
            println!(
                "next: edit it, then `flotilla plugin build {0}` and `flotilla plugin test {0} \
                 --cluster CLUSTER.yaml --args …`",
                root.display()
            );
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => fail(&e),
    }
}

fn build(dir: &Path) -> ExitCode {
    match plugins::build_plugin(dir, &BuildConfig::default()) {
        Ok(wasm) => {
            println!("built {}", wasm.display());
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => fail(&e),
    }
}

/// The `.wasm` file a `plugin test` argument names.
fn plugin_file(plugin: &str, fleet: &Path) -> PathBuf {
    let path = Path::new(plugin);
    if path.is_dir() {
        let name = path
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        return path.join("out").join(format!("{name}.wasm"));
    }
    if path.extension().is_some_and(|e| e == "wasm") || plugin.contains('/') {
        return path.to_path_buf();
    }
    fleet.join("plugins").join(format!("{plugin}.wasm"))
}

/// The cluster a `plugin test` argument names, as the JSON a fleet compile sends.
fn cluster_json(cluster: &str, fleet: &Path) -> Result<String, ExitCode> {
    let given = Path::new(cluster);
    let path = if given.is_file() {
        given.to_path_buf()
    } else {
        let in_fleet = fleet.join("clusters").join(format!("{cluster}.yaml"));
        if !in_fleet.is_file() {
            return Err(usage(format!(
                "no cluster file {cluster} (nor {})",
                in_fleet.display()
            )));
        }
        in_fleet
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    if path.extension().is_some_and(|e| e == "json") {
        return Ok(text);
    }
    compiler::resolvers::plugin::cluster_request(&path.to_string_lossy(), &text)
        .map(|json| json.to_string())
        .map_err(|report| {
            eprint!("{}", report.render_text());
            ExitCode::from(exit::DIAGNOSTICS)
        })
}

/// An argument as JSON, or as a string when it is not JSON.
fn argument(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

fn test(plugin: &str, cluster: &str, service: &str, args: &[String], fleet: &Path) -> ExitCode {
    let wasm = plugin_file(plugin, fleet);
    if !wasm.is_file() {
        return usage(format!(
            "no plugin at {} (build it with `flotilla plugin build DIR`)",
            wasm.display()
        ));
    }
    let cluster = match cluster_json(cluster, fleet) {
        Ok(json) => json,
        Err(code) => return code,
    };
    let args: Vec<serde_json::Value> = args.iter().map(String::as_str).map(argument).collect();
    let host = PluginHost::new(HostConfig::with_user_cache());
    let report = match plugins::test_plugin_as(&host, &wasm, &cluster, service, &args) {
        Ok(report) => report,
        Err(e) => return fail(&e),
    };
    let fuel = report.fuel_used;
    let limit = report.limits.fuel;
    let used = format!(
        "fuel: {fuel} of {limit} ({:.2}%), time: {:.1} ms of {} ms",
        fuel as f64 * 100.0 / limit.max(1) as f64,
        report.wall_time.as_secs_f64() * 1000.0,
        report.limits.timeout.as_millis()
    );
    match report.result {
        Ok(answer) => {
            let text = serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string());
            println!("{text}");
            if !report.output.is_empty() {
                eprintln!("{}", report.output);
            }
            eprintln!("{used}");
            ExitCode::from(exit::SUCCESS)
        }
        Err(e) => {
            // The error shows what the plugin wrote.
            eprintln!("error: {e}");
            eprintln!("{used}");
            ExitCode::from(exit::DIAGNOSTICS)
        }
    }
}
