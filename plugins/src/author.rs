//! Authoring tools for plugin writers: scaffold a plugin, build it, try it on a cluster.
//! (The `flotilla plugin new|build|test` commands are thin wrappers over these.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{LoadError, Output, PluginError};
use crate::host::{HostConfig, PluginHost, Request};
use crate::limits::Limits;

/// The wit-bindgen version Rust scaffolds use.
const WIT_BINDGEN_VERSION: &str = "0.63";

/// The componentize-py release Python plugins are built and tested with (PyPI
/// `componentize-py`; `scripts/install-plugin-tools.sh` installs the same).
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The environment variable naming the componentize-py to use (a path to the command).
pub const COMPONENTIZE_PY_VAR: &str = "FLOTILLA_COMPONENTIZE_PY";

/// What every scaffold ignores: build output, Rust's target folder, Python's bytecode caches.
const GITIGNORE: &str = "/out/\n/target/\n__pycache__/\n";

/// The Rust target plugins are compiled for.
pub const RUST_TARGET: &str = "wasm32-wasip2";

/// A guest language [`new_plugin`] can scaffold and [`build_plugin`] can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `app.py`, built with componentize-py.
    Python,
    /// A `cdylib` crate using wit-bindgen, built for `wasm32-wasip2`.
    Rust,
}

impl std::str::FromStr for Lang {
    type Err = AuthorError;
    fn from_str(s: &str) -> Result<Lang, AuthorError> {
        match s {
            "python" | "py" => Ok(Lang::Python),
            "rust" | "rs" => Ok(Lang::Rust),
            other => Err(AuthorError::UnknownLang(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    #[error("unknown plugin language {0:?} (expected python or rust)")]
    UnknownLang(String),
    #[error(
        "bad plugin name {0:?} (use lowercase letters, digits, `-` and `_`, starting with a letter)"
    )]
    BadName(String),
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("{} is not a plugin folder (no app.py or Cargo.toml)", .0.display())]
    NotAPlugin(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} not found: {hint}")]
    ToolMissing { tool: String, hint: String },
    #[error(
        "the Rust target {RUST_TARGET} is not installed: run `rustup target add {RUST_TARGET}`"
    )]
    TargetMissing,
    #[error("`{command}` failed:\n{output}")]
    BuildFailed { command: String, output: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("bad cluster JSON: {0}")]
    BadCluster(#[source] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuthorError + '_ {
    move |source| AuthorError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir/<name>/` with a working plugin to start from: `app.py` (python) or a crate
/// (rust), and the contract in `wit/resolver.wit`. Returns the new folder.
pub fn new_plugin(name: &str, lang: Lang, dir: &Path) -> Result<PathBuf, AuthorError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'));
    if !valid {
        return Err(AuthorError::BadName(name.to_string()));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(AuthorError::Exists(root));
    }
    let files: Vec<(&str, String)> = match lang {
        Lang::Python => vec![
            ("app.py", python_app(name)),
            ("wit/resolver.wit", crate::CONTRACT_WIT.into()),
            (".gitignore", GITIGNORE.into()),
        ],
        Lang::Rust => vec![
            ("Cargo.toml", rust_manifest(name)),
            ("src/lib.rs", rust_lib(name)),
            ("wit/resolver.wit", crate::CONTRACT_WIT.into()),
            (".gitignore", GITIGNORE.into()),
        ],
    };
    for (rel, text) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(root)
}

fn python_app(name: &str) -> String {
    format!(
        r#""""{name}: a Flotilla value plugin.

Templates call it as {{{{ plugin "{name}" arg1 arg2 }}}}. `answer` gets the request
{{"cluster": {{...}}, "service": "name", "args": [...]}} and returns a value JSON can encode, or
raises Err("message") to fail the template with that message. Any other exception fails it
with its traceback. What the plugin prints (stdout or stderr) is shown by `flotilla plugin test`
and with a failure in a compile.

Modules are imported when the plugin is built, not when it runs: import at the top of the file.

Build: flotilla plugin build DIR (runs componentize-py -d wit -w resolver componentize app -o
out/{name}.wasm)
"""

import json
import traceback

import wit_world
from componentize_py_types import Err


def answer(req):
    cluster = req.get("cluster") or {{}}
    args = req.get("args") or []
    if not args:
        raise Err("expected at least one argument")
    return {{"cluster": cluster.get("name"), "service": req.get("service"), "args": args}}


class WitWorld(wit_world.WitWorld):
    def resolve(self, request: str) -> str:
        try:
            return json.dumps(answer(json.loads(request)))
        except Err:
            raise
        except Exception:
            # The message and the traceback reach the user as the plugin's error.
            raise Err(traceback.format_exc().rstrip())
"#
    )
}

fn rust_manifest(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
wit-bindgen = "{WIT_BINDGEN_VERSION}"
serde_json = "1"

# A plugin builds on its own, outside any enclosing workspace.
[workspace]

[profile.release]
opt-level = "s"
lto = true
strip = true
"#
    )
}

fn rust_lib(name: &str) -> String {
    format!(
        r#"//! {name}: a Flotilla value plugin.
//!
//! Templates call it as `{{{{ plugin "{name}" arg1 arg2 }}}}`. Build it with
//! `cargo build --release --target {RUST_TARGET}`.

wit_bindgen::generate!({{ world: "resolver", path: "wit" }});

struct Plugin;

impl Guest for Plugin {{
    /// `request` is JSON {{"cluster": {{...}}, "service": "name", "args": [...]}}; answer a JSON
    /// value as text, or an error message for the user.
    fn resolve(request: String) -> Result<String, String> {{
        let req: serde_json::Value =
            serde_json::from_str(&request).map_err(|e| format!("bad request: {{e}}"))?;
        let args = req["args"].as_array().cloned().unwrap_or_default();
        if args.is_empty() {{
            return Err("expected at least one argument".to_string());
        }}
        let answer = serde_json::json!({{
            "cluster": req["cluster"]["name"],
            "service": req["service"],
            "args": args,
        }});
        Ok(answer.to_string())
    }}
}}

export!(Plugin);
"#
    )
}

/// Where the build tools are. The default finds componentize-py as [`find_componentize_py`]
/// does, and cargo and rustc from `$CARGO`/`$RUSTC` or `PATH`.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    pub componentize_py: PathBuf,
    pub cargo: PathBuf,
    pub rustc: PathBuf,
}

impl Default for BuildConfig {
    fn default() -> Self {
        let exe = std::env::current_exe().ok();
        let cwd = std::env::current_dir().ok();
        BuildConfig {
            componentize_py: find_componentize_py(&ToolSearch {
                named: std::env::var_os(COMPONENTIZE_PY_VAR).map(PathBuf::from),
                path: std::env::var_os("PATH"),
                exe: exe.as_deref(),
                cwd: cwd.as_deref(),
            }),
            cargo: PathBuf::from(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())),
            rustc: PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())),
        }
    }
}

/// Where [`find_componentize_py`] looks, in order.
#[derive(Debug, Clone, Default)]
pub struct ToolSearch<'a> {
    /// `$FLOTILLA_COMPONENTIZE_PY`: taken as it is when set.
    pub named: Option<PathBuf>,
    /// `$PATH`.
    pub path: Option<std::ffi::OsString>,
    /// The running binary: `.tools/bin` of the checkout it was built in (an ancestor folder).
    pub exe: Option<&'a Path>,
    /// The current folder: `.tools/bin` in it or an ancestor.
    pub cwd: Option<&'a Path>,
}

/// componentize-py: the command `$FLOTILLA_COMPONENTIZE_PY` names, else the one on `PATH`, else
/// `.tools/bin/componentize-py` in an ancestor of the flotilla binary (its checkout) or of the
/// current folder; else the bare name (which fails to run with [`AuthorError::ToolMissing`]).
pub fn find_componentize_py(search: &ToolSearch<'_>) -> PathBuf {
    const NAME: &str = "componentize-py";
    if let Some(named) = &search.named
        && !named.as_os_str().is_empty()
    {
        return named.clone();
    }
    let in_path = search
        .path
        .as_ref()
        .map(|p| std::env::split_paths(p).any(|d| d.join(NAME).is_file()))
        .unwrap_or(false);
    if in_path {
        return PathBuf::from(NAME);
    }
    let roots = [search.exe.and_then(Path::parent), search.cwd];
    for root in roots.into_iter().flatten() {
        for dir in root.ancestors() {
            let candidate = dir.join(".tools").join("bin").join(NAME);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(NAME)
}

/// How to get componentize-py, and where flotilla looks for it.
fn componentize_py_hint() -> String {
    format!(
        "flotilla looks for it in ${COMPONENTIZE_PY_VAR} (the command's path), then on PATH, then \
         in .tools/bin of the flotilla checkout or of the current folder or its parents. Install \
         it with pip (PyPI package componentize-py, version {COMPONENTIZE_PY_VERSION}), e.g. \
         `python3 -m venv ~/.local/componentize-py && ~/.local/componentize-py/bin/pip install \
         componentize-py=={COMPONENTIZE_PY_VERSION}`, then put its bin/ on PATH or set \
         {COMPONENTIZE_PY_VAR}=~/.local/componentize-py/bin/componentize-py; in a flotilla \
         checkout, `scripts/install-tools.sh plugin-tools` installs it into .tools/bin"
    )
}

/// Builds the plugin in `dir` (a folder made by [`new_plugin`]) into `dir/out/<name>.wasm`,
/// and returns that path as `dir` names it (relative when `dir` is). The tools run on absolute
/// paths, so a relative `dir` builds where it says.
///
/// Python plugins are built with WASI imports (not `--stub-wasi`): the host's sandbox gives
/// them WASI with no files, network or environment, and their stdout and stderr are captured,
/// so `print` works and an uncaught exception's traceback is shown.
pub fn build_plugin(dir: &Path, config: &BuildConfig) -> Result<PathBuf, AuthorError> {
    let root = dir.canonicalize().map_err(io(dir))?;
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let file = format!("{name}.wasm");
    let out_dir = root.join("out");
    let out = out_dir.join(&file);
    let shown = dir.join("out").join(&file);
    if root.join("app.py").is_file() {
        std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
        let mut cmd = Command::new(&config.componentize_py);
        cmd.current_dir(&root)
            .args(["-d", "wit", "-w", "resolver", "componentize", "app", "-o"])
            .arg(&out);
        run(cmd, "componentize-py", &componentize_py_hint())?;
        Ok(shown)
    } else if root.join("Cargo.toml").is_file() {
        if !rust_target_installed(&config.rustc) {
            return Err(AuthorError::TargetMissing);
        }
        std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
        let mut cmd = Command::new(&config.cargo);
        cmd.current_dir(&root)
            .args(["build", "--release", "--target", RUST_TARGET]);
        run(
            cmd,
            "cargo",
            "install Rust from https://rustup.rs, or set CARGO to the cargo to use",
        )?;
        let built = root
            .join("target")
            .join(RUST_TARGET)
            .join("release")
            .join(format!("{}.wasm", name.replace('-', "_")));
        std::fs::copy(&built, &out).map_err(io(&built))?;
        Ok(shown)
    } else {
        Err(AuthorError::NotAPlugin(dir.to_path_buf()))
    }
}

/// Whether the standard library for `wasm32-wasip2` is installed in `rustc`'s sysroot.
fn rust_target_installed(rustc: &Path) -> bool {
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib")
        .join("rustlib")
        .join(RUST_TARGET)
        .join("lib")
        .is_dir()
}

fn run(mut cmd: Command, tool: &str, hint: &str) -> Result<(), AuthorError> {
    let shown = format!("{cmd:?}").replace('"', "");
    match cmd.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stdout));
            Err(AuthorError::BuildFailed {
                command: shown,
                output: output.trim().to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AuthorError::ToolMissing {
            tool: tool.to_string(),
            hint: hint.to_string(),
        }),
        Err(e) => Err(AuthorError::BuildFailed {
            command: shown,
            output: e.to_string(),
        }),
    }
}

/// What [`test_plugin`] observed.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub result: Result<serde_json::Value, PluginError>,
    /// Fuel units used, instantiation included (compare with the plugin's `fuel` limit).
    pub fuel_used: u64,
    /// Wall time of the call, instantiation included.
    pub wall_time: Duration,
    /// What the plugin wrote to stdout and stderr (the last few KiB of each).
    pub output: Output,
    /// The limits the call ran with (the plugin's `<name>.yaml`, or the host's defaults).
    pub limits: Limits,
}

/// Runs the plugin `wasm` (with its `<name>.yaml` limits, if any) once on a cluster given as
/// JSON, as service `test`, with `args`; compiled code is cached in the user's cache.
pub fn test_plugin(
    wasm: &Path,
    cluster_json: &str,
    args: &[serde_json::Value],
) -> Result<TestReport, AuthorError> {
    test_plugin_with(
        &PluginHost::new(HostConfig::with_user_cache()),
        wasm,
        cluster_json,
        args,
    )
}

/// [`test_plugin`] with a given host (its cache, sandbox and default limits).
pub fn test_plugin_with(
    host: &PluginHost,
    wasm: &Path,
    cluster_json: &str,
    args: &[serde_json::Value],
) -> Result<TestReport, AuthorError> {
    test_plugin_as(host, wasm, cluster_json, "test", args)
}

/// [`test_plugin_with`] as the given service (the request's `service`).
pub fn test_plugin_as(
    host: &PluginHost,
    wasm: &Path,
    cluster_json: &str,
    service: &str,
    args: &[serde_json::Value],
) -> Result<TestReport, AuthorError> {
    let cluster: serde_json::Value =
        serde_json::from_str(cluster_json).map_err(AuthorError::BadCluster)?;
    let plugin = host.load_file(wasm)?;
    let request = Request {
        cluster: &cluster,
        service,
        args,
    };
    let json = serde_json::to_string(&request).map_err(AuthorError::BadCluster)?;
    let report = plugin.call_report(&json);
    Ok(TestReport {
        result: report.result,
        fuel_used: report.fuel_used,
        wall_time: report.wall_time,
        output: report.output,
        limits: *plugin.limits(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::TempDir;

    /// The files a scaffold writes, relative to its folder, sorted.
    fn files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn scaffolds() {
        let tmp = TempDir::new("scaffold");
        let py = new_plugin("net-alloc", Lang::Python, tmp.path()).expect("python");
        assert_eq!(files(&py), [".gitignore", "app.py", "wit/resolver.wit"]);
        let ignored = std::fs::read_to_string(py.join(".gitignore")).expect(".gitignore");
        assert_eq!(ignored, "/out/\n/target/\n__pycache__/\n");
        let app = std::fs::read_to_string(py.join("app.py")).expect("app.py");
        assert!(
            app.contains("raise Err(traceback.format_exc().rstrip())"),
            "{app}"
        );
        assert!(
            app.contains(r#"{{ plugin "net-alloc" arg1 arg2 }}"#),
            "{app}"
        );
        assert!(app.contains("class WitWorld(wit_world.WitWorld):"), "{app}");
        let wit = std::fs::read_to_string(py.join("wit/resolver.wit")).expect("wit");
        assert_eq!(wit, crate::CONTRACT_WIT);

        let rs = new_plugin("net_alloc2", Lang::Rust, tmp.path()).expect("rust");
        assert_eq!(
            files(&rs),
            [".gitignore", "Cargo.toml", "src/lib.rs", "wit/resolver.wit"]
        );
        let manifest = std::fs::read_to_string(rs.join("Cargo.toml")).expect("manifest");
        assert!(manifest.contains("name = \"net_alloc2\"\n"), "{manifest}");
        assert!(manifest.contains("crate-type = [\"cdylib\"]"), "{manifest}");
        let lib = std::fs::read_to_string(rs.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains("wit_bindgen::generate!({ world: \"resolver\", path: \"wit\" });"));
        assert!(lib.contains("export!(Plugin);"));
    }

    #[test]
    fn scaffold_mistakes() {
        let tmp = TempDir::new("scaffold-bad");
        let err = |name: &str| match new_plugin(name, Lang::Python, tmp.path()) {
            Ok(_) => "created".to_string(),
            Err(e) => e.to_string(),
        };
        assert_eq!(err("ok"), "created");
        assert!(err("ok").ends_with("/ok already exists"), "{}", err("ok"));
        let bad = "bad plugin name \"Net\" (use lowercase letters, digits, `-` and `_`, starting \
                   with a letter)";
        assert_eq!(err("Net"), bad);
        assert!(err("").starts_with("bad plugin name \"\""));
        assert!(err("1st").starts_with("bad plugin name"));
        assert!(err("../up").starts_with("bad plugin name"));
        assert_eq!(
            "go".parse::<Lang>().map_err(|e| e.to_string()),
            Err("unknown plugin language \"go\" (expected python or rust)".to_string())
        );
        assert_eq!("py".parse::<Lang>().ok(), Some(Lang::Python));
        assert_eq!("rust".parse::<Lang>().ok(), Some(Lang::Rust));
    }

    #[test]
    fn componentize_py_is_found_where_documented() {
        let tmp = TempDir::new("find-tool");
        let checkout = tmp.path().join("checkout");
        let tools = checkout.join(".tools").join("bin");
        std::fs::create_dir_all(&tools).expect("mkdir");
        std::fs::write(tools.join("componentize-py"), "").expect("write");
        let exe = checkout.join("target").join("debug").join("flotilla");
        let elsewhere = tmp.path().join("elsewhere");
        let on_path = tmp.path().join("bin");
        std::fs::create_dir_all(&on_path).expect("mkdir");
        std::fs::write(on_path.join("componentize-py"), "").expect("write");

        let nothing = ToolSearch::default();
        assert_eq!(
            find_componentize_py(&nothing),
            PathBuf::from("componentize-py")
        );
        // Beside the binary's checkout, whatever the current folder.
        let from_exe = ToolSearch {
            exe: Some(&exe),
            cwd: Some(&elsewhere),
            ..ToolSearch::default()
        };
        assert_eq!(
            find_componentize_py(&from_exe),
            tools.join("componentize-py")
        );
        // From the current folder inside a checkout.
        let inside = checkout.join("plugins-src").join("x");
        let from_cwd = ToolSearch {
            cwd: Some(&inside),
            ..ToolSearch::default()
        };
        assert_eq!(
            find_componentize_py(&from_cwd),
            tools.join("componentize-py")
        );
        // PATH comes before the checkout, the variable before everything.
        let path = std::env::join_paths([&on_path]).expect("join");
        let from_path = ToolSearch {
            path: Some(path.clone()),
            ..from_exe.clone()
        };
        assert_eq!(
            find_componentize_py(&from_path),
            PathBuf::from("componentize-py")
        );
        let named = ToolSearch {
            named: Some(PathBuf::from("/opt/cpy/bin/componentize-py")),
            path: Some(path),
            ..from_exe
        };
        assert_eq!(
            find_componentize_py(&named),
            PathBuf::from("/opt/cpy/bin/componentize-py")
        );
    }

    #[test]
    fn the_install_script_installs_the_documented_version() {
        let script = include_str!("../../scripts/install-plugin-tools.sh");
        assert!(
            script.contains(&format!(
                "COMPONENTIZE_PY_VERSION=\"{COMPONENTIZE_PY_VERSION}\""
            )),
            "scripts/install-plugin-tools.sh and author::COMPONENTIZE_PY_VERSION disagree"
        );
    }

    #[test]
    fn build_mistakes() {
        let tmp = TempDir::new("build-bad");
        let missing_tools = BuildConfig {
            componentize_py: tmp.path().join("no-componentize-py"),
            cargo: tmp.path().join("no-cargo"),
            rustc: tmp.path().join("no-rustc"),
        };
        let py = new_plugin("p", Lang::Python, tmp.path()).expect("python");
        let err = build_plugin(&py, &missing_tools)
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert!(
            err.starts_with(
                "componentize-py not found: flotilla looks for it in $FLOTILLA_COMPONENTIZE_PY"
            ),
            "{err}"
        );
        assert!(
            err.contains("PyPI package componentize-py, version 0.25.1"),
            "{err}"
        );
        // Without the wasm32-wasip2 standard library (as on this project's machines), a Rust
        // plugin cannot be built, and the error says how to get it.
        let rs = new_plugin("r", Lang::Rust, tmp.path()).expect("rust");
        assert_eq!(
            build_plugin(&rs, &missing_tools)
                .map_err(|e| e.to_string())
                .err()
                .as_deref(),
            Some(
                "the Rust target wasm32-wasip2 is not installed: run `rustup target add \
                 wasm32-wasip2`"
            )
        );
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        assert!(matches!(
            build_plugin(&empty, &missing_tools),
            Err(AuthorError::NotAPlugin(_))
        ));
    }
}
