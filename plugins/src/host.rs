//! The plugin host: loads a fleet's `plugins/` folder, and runs calls in fresh sandboxes with
//! their limits, memoising results by (plugin digest, request).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, WasmBacktrace};

use crate::cache;
use crate::error::{
    ErrorKind, HostError, LoadError, LoadErrorKind, LoadErrors, Output, PluginError,
    truncate_message,
};
use crate::limits::Limits;
use crate::runtime::{Runtime, runtime};
use crate::sandbox::{MemoryCapExceeded, Sandbox, SandboxConfig};
use crate::v0_1_0::{Resolver, ResolverPre};

/// The longest guest-provided message (an `err` result, captured output) kept in an error.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Results kept per plugin; past this, new results are no longer memoised.
const MEMO_ENTRIES: usize = 16_384;

/// How many wasm frames a trap message names.
const TRAP_FRAMES: usize = 6;

/// One call's input, sent to the plugin as JSON
/// `{"cluster": {...}, "service": "name", "args": [...]}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Request<'a> {
    pub cluster: &'a serde_json::Value,
    pub service: &'a str,
    pub args: &'a [serde_json::Value],
}

/// The SHA-256 of a plugin's bytes: the workspace's one digest type.
pub use plan::Digest;

/// How a host loads and runs plugins.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Where compiled plugins are cached across runs (`None`: compile in every process).
    pub cache_dir: Option<PathBuf>,
    /// The size the cache folder is pruned to after each new entry, least recently used first
    /// (default 1 GiB).
    pub cache_max_bytes: u64,
    /// Whether compiling a plugin (its first use, or every use without a cache) is announced.
    pub compile_notice: CompileNotice,
    /// The clock and random seed plugins see.
    pub sandbox: SandboxConfig,
    /// Limits of plugins that have no limits file, and the base a limits file changes.
    pub default_limits: Limits,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            cache_dir: None,
            cache_max_bytes: cache::DEFAULT_MAX_BYTES,
            compile_notice: CompileNotice::Silent,
            sandbox: SandboxConfig::default(),
            default_limits: Limits::default(),
        }
    }
}

impl HostConfig {
    /// The configuration of a command a person runs: the user's cache directory
    /// (`$FLOTILLA_CACHE_DIR/plugins`, `$XDG_CACHE_HOME/flotilla/plugins` or
    /// `~/.cache/flotilla/plugins`) bounded by `FLOTILLA_PLUGIN_CACHE_MAX` (e.g. `500M`, `2G`;
    /// default 1G, a value that is not a size is ignored), and, when stderr is a terminal, a
    /// line there when a plugin is compiled (a log or a script's output stays as it was).
    pub fn with_user_cache() -> HostConfig {
        use std::io::IsTerminal as _;
        HostConfig {
            cache_dir: cache::default_dir(),
            cache_max_bytes: cache::max_bytes_from_env(),
            compile_notice: if std::io::stderr().is_terminal() {
                CompileNotice::Stderr
            } else {
                CompileNotice::Silent
            },
            ..HostConfig::default()
        }
    }
}

/// Compiling a large plugin (a Python one: seconds) is announced so a first run does not look
/// hung: `compiling plugin "netalloc" (first use, cached afterwards)…`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CompileNotice {
    #[default]
    Silent,
    /// One line on the process's stderr before each compilation.
    Stderr,
}

/// The line [`CompileNotice::Stderr`] prints before compiling plugin `name`.
pub fn compile_notice_line(name: &str, cached: bool) -> String {
    if cached {
        format!("compiling plugin {name:?} (first use, cached afterwards)…")
    } else {
        format!("compiling plugin {name:?}…")
    }
}

/// Where a loaded plugin's compiled code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadedFrom {
    /// Compiled now (and written to the disk cache, if there is one).
    Compiled,
    /// Read from the disk cache.
    DiskCache,
    /// Already compiled by this host.
    Memory,
}

/// Loads plugins. Compiled components are shared by everything one host loads, and the engine
/// (with its epoch thread and instance pool) by every host of the process.
pub struct PluginHost {
    config: HostConfig,
    compiled: Mutex<HashMap<Digest, Component>>,
}

impl fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginHost")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    pub fn new(config: HostConfig) -> PluginHost {
        PluginHost {
            config,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Whether calls get their instances from the pooling allocator (false only where the
    /// address space it reserves was refused, e.g. under a tight `ulimit -v`).
    pub fn pooling_allocator(&self) -> Result<bool, HostError> {
        runtime().map(|rt| rt.pooling)
    }

    /// Loads every `<name>.wasm` of a fleet's `plugins/` folder, with its optional
    /// `<name>.yaml` limits. A missing folder means no plugins. Every broken file is reported.
    pub fn load(&self, dir: &Path) -> Result<Plugins, LoadErrors> {
        let mut plugins = BTreeMap::new();
        let mut errors = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Plugins { plugins });
            }
            Err(e) => {
                let kind = LoadErrorKind::Io(e.to_string());
                return Err(LoadErrors(vec![LoadError {
                    path: dir.to_path_buf(),
                    kind,
                }]));
            }
        };
        let mut wasm_files = Vec::new();
        let mut yaml_files = Vec::new();
        for entry in entries {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(e) => {
                    let kind = LoadErrorKind::Io(e.to_string());
                    errors.push(LoadError {
                        path: dir.to_path_buf(),
                        kind,
                    });
                    continue;
                }
            };
            match path.extension().and_then(|e| e.to_str()) {
                Some("wasm") => wasm_files.push(path),
                Some("yaml") => yaml_files.push(path),
                _ => {}
            }
        }
        wasm_files.sort();
        yaml_files.sort();
        for yaml in &yaml_files {
            let wasm = yaml.with_extension("wasm");
            if !wasm_files.contains(&wasm) {
                let expected = wasm.file_name().map(|n| n.to_string_lossy().into_owned());
                let kind = LoadErrorKind::Orphan(expected.unwrap_or_default());
                errors.push(LoadError {
                    path: yaml.clone(),
                    kind,
                });
            }
        }
        for wasm in wasm_files {
            match self.load_file(&wasm) {
                Ok(plugin) => {
                    plugins.insert(plugin.name.clone(), plugin);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Plugins { plugins })
        } else {
            Err(LoadErrors(errors))
        }
    }

    /// Loads one `<name>.wasm` file with its optional `<name>.yaml` limits beside it.
    pub fn load_file(&self, wasm: &Path) -> Result<Plugin, LoadError> {
        let err = |path: &Path, kind| LoadError {
            path: path.to_path_buf(),
            kind,
        };
        let name = wasm
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if !valid_name(name) {
            let shown = wasm.file_stem().map(|s| s.to_string_lossy().into_owned());
            return Err(err(wasm, LoadErrorKind::BadName(shown.unwrap_or_default())));
        }
        let yaml = wasm.with_extension("yaml");
        let limits = match std::fs::read_to_string(&yaml) {
            Ok(text) => Limits::from_yaml(&text, self.config.default_limits)
                .map_err(|e| err(&yaml, LoadErrorKind::Limits(e)))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.config.default_limits,
            Err(e) => return Err(err(&yaml, LoadErrorKind::Io(e.to_string()))),
        };
        let bytes = std::fs::read(wasm).map_err(|e| err(wasm, LoadErrorKind::Io(e.to_string())))?;
        self.load_bytes(name, &bytes, limits)
            .map_err(|kind| err(wasm, kind))
    }

    /// Loads a plugin from its bytes (a WebAssembly component in binary form).
    pub fn load_bytes(
        &self,
        name: &str,
        wasm: &[u8],
        limits: Limits,
    ) -> Result<Plugin, LoadErrorKind> {
        let runtime = runtime()?;
        let digest = Digest::of(wasm);
        let (component, loaded_from) = self.component(runtime, name, &digest, wasm)?;
        let pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadErrorKind::Contract(format!("{e:#}")))?;
        let pre = ResolverPre::new(pre).map_err(|e| LoadErrorKind::Contract(format!("{e:#}")))?;
        Ok(Plugin {
            name: name.to_string(),
            digest,
            limits,
            loaded_from,
            sandbox: self.config.sandbox,
            runtime,
            pre,
            memo: Mutex::new(HashMap::new()),
        })
    }

    fn component(
        &self,
        runtime: &Runtime,
        name: &str,
        digest: &Digest,
        wasm: &[u8],
    ) -> Result<(Component, LoadedFrom), LoadErrorKind> {
        if let Some(component) = self.compiled.lock().get(digest) {
            return Ok((component.clone(), LoadedFrom::Memory));
        }
        let key = digest.hex();
        let cached = self.config.cache_dir.as_deref().and_then(|dir| {
            cache::load(&runtime.engine, dir, &key).map(|c| (c, LoadedFrom::DiskCache))
        });
        let (component, from) = match cached {
            Some(hit) => hit,
            None => {
                if self.config.compile_notice == CompileNotice::Stderr {
                    let cached = self.config.cache_dir.is_some();
                    eprintln!("{}", compile_notice_line(name, cached));
                }
                let component = Component::from_binary(&runtime.engine, wasm)
                    .map_err(|e| LoadErrorKind::Compile(format!("{e:#}")))?;
                if let Some(dir) = &self.config.cache_dir {
                    cache::store(dir, &key, &component, self.config.cache_max_bytes);
                }
                (component, LoadedFrom::Compiled)
            }
        };
        self.compiled.lock().insert(*digest, component.clone());
        Ok((component, from))
    }
}

/// A plugin name: a lowercase letter, then lowercase letters, digits, `-` or `_`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
}

/// The plugins of one fleet, by name. `Send + Sync`: call it from any thread.
#[derive(Debug, Default)]
pub struct Plugins {
    plugins: BTreeMap<String, Plugin>,
}

impl Plugins {
    /// Calls the plugin `name` (memoised: the same request gets the same answer without
    /// running the plugin again).
    pub fn call(
        &self,
        name: &str,
        request: &Request<'_>,
    ) -> Result<serde_json::Value, PluginError> {
        match self.plugins.get(name) {
            Some(plugin) => plugin.call(request),
            None => Err(PluginError {
                plugin: name.to_string(),
                digest: None,
                kind: ErrorKind::NotFound {
                    known: self.plugins.keys().cloned().collect(),
                },
                output: Box::default(),
            }),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Plugin> {
        self.plugins.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }
}

/// Results by request JSON (errors too, with what the plugin wrote: they are as deterministic
/// as answers).
type Memo = HashMap<Box<[u8]>, Result<serde_json::Value, Failure>>;

/// A failed call: what went wrong and what the plugin wrote.
type Failure = (ErrorKind, Output);

/// One loaded plugin: its compiled code, ready to instantiate, and its limits.
pub struct Plugin {
    name: String,
    digest: Digest,
    limits: Limits,
    loaded_from: LoadedFrom,
    sandbox: SandboxConfig,
    runtime: &'static Runtime,
    pre: ResolverPre<Sandbox>,
    memo: Mutex<Memo>,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What one unmemoised call did: the result, and what it cost.
#[derive(Debug, Clone)]
pub struct CallReport {
    pub result: Result<serde_json::Value, PluginError>,
    /// Fuel units the call used (instantiation included).
    pub fuel_used: u64,
    /// Wall time of the call, from waiting for a slot to tearing the sandbox down.
    pub wall_time: Duration,
    /// What the plugin wrote to stdout and stderr (the last few KiB of each).
    pub output: Output,
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn loaded_from(&self) -> LoadedFrom {
        self.loaded_from
    }

    /// Calls the plugin, memoised by request.
    pub fn call(&self, request: &Request<'_>) -> Result<serde_json::Value, PluginError> {
        let json = serde_json::to_string(request)
            .map_err(|e| self.error((ErrorKind::BadRequest(e.to_string()), Output::default())))?;
        if let Some(hit) = self.memo.lock().get(json.as_bytes()) {
            return hit.clone().map_err(|failure| self.error(failure));
        }
        let (result, _) = self.execute(&json);
        let memoisable = !matches!(
            result,
            Err((ErrorKind::Timeout { .. } | ErrorKind::Instantiate(_), _))
        );
        if memoisable {
            let mut memo = self.memo.lock();
            if memo.len() < MEMO_ENTRIES {
                memo.insert(json.into_bytes().into_boxed_slice(), result.clone());
            }
        }
        result.map_err(|failure| self.error(failure))
    }

    /// Runs the plugin on a request given as JSON text, unmemoised, and reports its cost.
    pub fn call_report(&self, request_json: &str) -> CallReport {
        let started = Instant::now();
        let (result, stats) = self.execute(request_json);
        CallReport {
            result: result.map_err(|failure| self.error(failure)),
            fuel_used: stats.fuel_used,
            wall_time: started.elapsed(),
            output: stats.output,
        }
    }

    /// A long-lived instance for repeated calls (benchmarks, a plugin's own tests). Its state
    /// carries over from call to call, so the compiler never uses it: plans must not depend on
    /// call order. Each call gets the plugin's full fuel and time budget again.
    pub fn instance(&self) -> Result<PluginInstance<'_>, PluginError> {
        let seed = self.seed(b"");
        let mut store = self.store(seed);
        let resolver = {
            let _ticking = self.runtime.ticking();
            self.pre.instantiate(&mut store).map_err(|e| {
                let kind = self.classify(e, &store, true);
                self.error((kind, store.data().output()))
            })?
        };
        Ok(PluginInstance {
            plugin: self,
            store,
            resolver,
        })
    }

    fn error(&self, (kind, output): Failure) -> PluginError {
        PluginError {
            plugin: self.name.clone(),
            digest: Some(format!("sha256:{}", self.digest.short())),
            kind,
            output: Box::new(output),
        }
    }

    fn seed(&self, request: &[u8]) -> u64 {
        let mut h = Sha256::new();
        h.update(self.sandbox.random_seed.to_le_bytes());
        h.update(self.digest.0);
        h.update(request);
        let d = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        u64::from_le_bytes(first)
    }

    fn store(&self, seed: u64) -> Store<Sandbox> {
        let sandbox = Sandbox::new(&self.sandbox, self.limits.memory_bytes, seed);
        let mut store = Store::new(&self.runtime.engine, sandbox);
        store.limiter(|s| &mut s.limiter);
        self.refill(&mut store);
        store
    }

    fn refill(&self, store: &mut Store<Sandbox>) {
        // Fuel is enabled in the engine configuration, so this cannot fail.
        let _ = store.set_fuel(self.limits.fuel);
        store.set_epoch_deadline(Runtime::deadline_ticks(self.limits.timeout));
    }

    /// One call in a fresh sandbox.
    fn execute(&self, request: &str) -> (Result<serde_json::Value, Failure>, Stats) {
        let _slot = self.runtime.enter();
        let mut store = self.store(self.seed(request.as_bytes()));
        let result = match self.pre.instantiate(&mut store) {
            Ok(resolver) => self.invoke(&resolver, &mut store, request),
            Err(e) => Err(self.classify(e, &store, true)),
        };
        let output = store.data().output();
        let stats = Stats {
            fuel_used: self
                .limits
                .fuel
                .saturating_sub(store.get_fuel().unwrap_or(0)),
            output: output.clone(),
        };
        (result.map_err(|kind| (kind, output)), stats)
    }

    fn invoke(
        &self,
        resolver: &Resolver,
        store: &mut Store<Sandbox>,
        request: &str,
    ) -> Result<serde_json::Value, ErrorKind> {
        match resolver.call_resolve(&mut *store, request) {
            Ok(Ok(text)) => self.decode(&text),
            Ok(Err(message)) => Err(ErrorKind::Guest(truncate_message(
                message,
                MAX_MESSAGE_BYTES,
            ))),
            Err(e) => Err(self.classify(e, store, false)),
        }
    }

    fn decode(&self, text: &str) -> Result<serde_json::Value, ErrorKind> {
        let limit = self.limits.max_output_bytes;
        if text.len() > limit {
            return Err(ErrorKind::OutputTooLarge {
                len: text.len(),
                limit,
            });
        }
        serde_json::from_str(text).map_err(|e| ErrorKind::bad_json(text, &e))
    }

    /// Turns a wasmtime error into the kind of failure it is.
    fn classify(
        &self,
        e: wasmtime::Error,
        store: &Store<Sandbox>,
        instantiating: bool,
    ) -> ErrorKind {
        if e.is::<MemoryCapExceeded>() || store.data().limiter.exceeded {
            return ErrorKind::MemoryLimit {
                mib: self.limits.memory_mib(),
            };
        }
        if let Some(trap) = e.downcast_ref::<Trap>() {
            match trap {
                Trap::OutOfFuel => {
                    return ErrorKind::OutOfFuel {
                        fuel: self.limits.fuel,
                    };
                }
                Trap::Interrupt => {
                    let ms = u64::try_from(self.limits.timeout.as_millis()).unwrap_or(u64::MAX);
                    return ErrorKind::Timeout { ms };
                }
                _ => {}
            }
        }
        if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return ErrorKind::Trap(format!("exited with code {}", exit.0));
        }
        if e.is::<PoolConcurrencyLimitError>() || (instantiating && !e.is::<Trap>()) {
            return ErrorKind::Instantiate(format!("{:#}", e));
        }
        let mut message = match e.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => e.root_cause().to_string(),
        };
        if let Some(bt) = e.downcast_ref::<WasmBacktrace>() {
            let frames: Vec<String> = bt
                .frames()
                .iter()
                .filter_map(|f| f.func_name().map(String::from))
                .take(TRAP_FRAMES)
                .collect();
            if !frames.is_empty() {
                message.push_str(" (in ");
                message.push_str(&frames.join(" < "));
                message.push(')');
            }
        }
        ErrorKind::Trap(truncate_message(message, MAX_MESSAGE_BYTES))
    }
}

struct Stats {
    fuel_used: u64,
    output: Output,
}

/// A plugin instance kept across calls (see [`Plugin::instance`]).
pub struct PluginInstance<'a> {
    plugin: &'a Plugin,
    store: Store<Sandbox>,
    resolver: Resolver,
}

impl fmt::Debug for PluginInstance<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", &self.plugin.name)
            .finish_non_exhaustive()
    }
}

impl PluginInstance<'_> {
    /// Calls the instance with a request given as JSON text; returns the `ok` JSON text.
    pub fn call_json(&mut self, request_json: &str) -> Result<String, PluginError> {
        let plugin = self.plugin;
        plugin.refill(&mut self.store);
        let _ticking = plugin.runtime.ticking();
        match self.resolver.call_resolve(&mut self.store, request_json) {
            Ok(Ok(text)) if text.len() > plugin.limits.max_output_bytes => {
                let limit = plugin.limits.max_output_bytes;
                let kind = ErrorKind::OutputTooLarge {
                    len: text.len(),
                    limit,
                };
                Err(plugin.error((kind, self.store.data().output())))
            }
            Ok(Ok(text)) => Ok(text),
            Ok(Err(message)) => {
                let kind = ErrorKind::Guest(truncate_message(message, MAX_MESSAGE_BYTES));
                Err(plugin.error((kind, self.store.data().output())))
            }
            Err(e) => {
                let kind = plugin.classify(e, &self.store, false);
                Err(plugin.error((kind, self.store.data().output())))
            }
        }
    }
}

/// Plugins are shared by the compiler's worker threads.
#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Plugins>();
    is::<Plugin>();
    is::<PluginHost>();
    is::<Arc<Plugins>>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{TempDir, wasm};
    use serde_json::json;

    fn load(fixture: &str, limits_yaml: &str) -> Plugin {
        let host = PluginHost::new(HostConfig::default());
        let limits = Limits::from_yaml(limits_yaml, Limits::default()).expect("limits");
        host.load_bytes(fixture, &wasm(fixture), limits)
            .expect("load fixture")
    }

    fn show(result: Result<serde_json::Value, PluginError>) -> String {
        match result {
            Ok(v) => format!("ok: {v}"),
            Err(e) => format!("err: {}", e.kind),
        }
    }

    fn call(plugin: &Plugin, cluster: serde_json::Value, args: &[serde_json::Value]) -> String {
        show(plugin.call(&Request {
            cluster: &cluster,
            service: "api",
            args,
        }))
    }

    /// Runs fixture `fixture` with the limits `limits_yaml` on a small request and checks the
    /// outcome starts with `expect`.
    fn check(fixture: &str, limits_yaml: &str, expect: &str) {
        let plugin = load(fixture, limits_yaml);
        let started = Instant::now();
        let got = call(&plugin, json!({"name": "eu-1"}), &[json!("a"), json!(1)]);
        let took = started.elapsed();
        assert!(
            got.starts_with(expect),
            "{fixture}: got {got:?}, want {expect:?}…"
        );
        assert!(took < Duration::from_secs(5), "{fixture}: took {took:?}");
    }

    #[test]
    fn well_behaved_guests() {
        check(
            "echo",
            "",
            r#"ok: {"args":["a",1],"cluster":{"name":"eu-1"},"service":"api"}"#,
        );
        check("err", "", "err: no free subnet left in 10.0.0.0/8");
    }

    #[test]
    fn hostile_guests_fail_within_their_limits() {
        check(
            "bad-json",
            "",
            "err: returned invalid JSON: expected ident at line 1 column 2",
        );
        check(
            "trap",
            "",
            "err: trapped: wasm trap: wasm `unreachable` instruction executed (in explode)",
        );
        check(
            "spin",
            "fuel: 1000000\n",
            "err: ran out of fuel after 1000000 units",
        );
        check(
            "spin",
            "fuel: 100000000000\ntimeoutMs: 50\n",
            "err: timed out after 50 ms (raise `timeoutMs` in its limits file)",
        );
        check(
            "memory-bomb",
            "memoryMiB: 16\n",
            "err: exceeded its memory limit of 16 MiB",
        );
        check(
            "memory-bomb",
            "",
            "err: exceeded its memory limit of 256 MiB",
        );
        check(
            "huge-output",
            "",
            "err: returned 2097152 bytes, more than its limit of 1048576",
        );
        check(
            "huge-output",
            "maxOutputBytes: 4194304\n",
            "err: returned invalid JSON: EOF while parsing a value",
        );
        check("sleep", "", "err: trapped: plugins cannot sleep");
    }

    #[test]
    fn a_timeout_is_prompt() {
        let plugin = load("spin", "fuel: 100000000000\ntimeoutMs: 100\n");
        let started = Instant::now();
        let report = plugin.call_report("{}");
        let took = started.elapsed();
        assert!(matches!(
            report.result,
            Err(PluginError {
                kind: ErrorKind::Timeout { ms: 100 },
                ..
            })
        ));
        assert!(
            took >= Duration::from_millis(100),
            "stopped early: {took:?}"
        );
        assert!(took < Duration::from_millis(1500), "stopped late: {took:?}");
    }

    #[test]
    fn fuel_is_deterministic_and_reported() {
        let plugin = load("echo", "");
        let a = plugin.call_report(r#"{"x":1}"#);
        let b = plugin.call_report(r#"{"x":1}"#);
        assert!(a.fuel_used > 0);
        assert_eq!(a.fuel_used, b.fuel_used);
        assert_eq!(show(a.result), r#"ok: {"x":1}"#);
    }

    #[test]
    fn the_world_is_fixed_and_seeded() {
        let plugin = load("wasi-world", "");
        let a1 = call(&plugin, json!({"name": "a"}), &[]);
        let a2 = show(
            plugin
                .call_report(r#"{"cluster":{"name":"a"},"service":"api","args":[]}"#)
                .result,
        );
        let b = call(&plugin, json!({"name": "b"}), &[]);
        assert!(a1.starts_with("ok: [946684800,"), "{a1}");
        assert_eq!(a1, a2, "same request, same randomness");
        assert_ne!(a1, b, "another request, other randomness");

        // Another host with the same configuration sees the same world.
        let again = load("wasi-world", "");
        assert_eq!(call(&again, json!({"name": "a"}), &[]), a1);

        let host = PluginHost::new(HostConfig {
            sandbox: SandboxConfig {
                wall_clock_secs: 1_700_000_000,
                random_seed: 7,
            },
            ..HostConfig::default()
        });
        let other = host
            .load_bytes("w", &wasm("wasi-world"), Limits::default())
            .expect("load");
        let c = call(&other, json!({"name": "a"}), &[]);
        assert!(c.starts_with("ok: [1700000000,"), "{c}");
        assert_ne!(c[16..], a1[15..], "another seed, other randomness");
    }

    #[test]
    fn results_are_memoised_by_request() {
        let plugin = load("echo", "");
        for _ in 0..3 {
            call(&plugin, json!({"name": "a"}), &[]);
            call(&plugin, json!({"name": "b"}), &[]);
        }
        assert_eq!(plugin.memo.lock().len(), 2);
        let err = load("err", "");
        call(&err, json!({}), &[]);
        assert_eq!(
            call(&err, json!({}), &[]),
            "err: no free subnet left in 10.0.0.0/8"
        );
        assert_eq!(err.memo.lock().len(), 1);
    }

    #[test]
    fn calls_from_many_threads() {
        // More threads than call slots: the gate makes the extra ones wait their turn.
        let plugin = load("echo", "");
        std::thread::scope(|s| {
            for t in 0..(2 * crate::runtime::MAX_CONCURRENT_CALLS) {
                let plugin = &plugin;
                s.spawn(move || {
                    for i in 0..5 {
                        let got = call(plugin, json!({"t": t, "i": i}), &[]);
                        let want = format!(
                            r#"ok: {{"args":[],"cluster":{{"i":{i},"t":{t}}},"service":"api"}}"#
                        );
                        assert_eq!(got, want);
                    }
                });
            }
        });
    }

    #[test]
    fn timeouts_are_not_memoised() {
        // Wall time is not deterministic: a timeout may not happen on a quieter machine.
        let plugin = load("spin", "fuel: 100000000000\ntimeoutMs: 10\n");
        let got = call(&plugin, json!({}), &[]);
        assert!(got.starts_with("err: timed out after 10 ms"), "{got}");
        assert_eq!(plugin.memo.lock().len(), 0);
        let fuel = load("spin", "fuel: 1000\n");
        call(&fuel, json!({}), &[]);
        assert_eq!(
            fuel.memo.lock().len(),
            1,
            "running out of fuel is deterministic"
        );
    }

    #[test]
    fn a_reused_instance_answers_many_calls() {
        let plugin = load("echo", "");
        let mut instance = plugin.instance().expect("instance");
        for i in 0..2000 {
            let request = format!(r#"{{"i":{i},"pad":"{}"}}"#, "x".repeat(100));
            assert_eq!(instance.call_json(&request).expect("call"), request);
        }
    }

    #[test]
    fn components_that_break_the_contract_do_not_load() {
        let host = PluginHost::new(HostConfig::default());
        let load = |wat: &str| match host.load_bytes("bad", &wasm(wat), Limits::default()) {
            Ok(_) => "loaded".to_string(),
            Err(e) => e.to_string(),
        };
        let no_export = r#"(component (core module $m) (core instance (instantiate $m)))"#;
        assert!(
            load(no_export).starts_with("does not implement flotilla:plugin/resolver@0.1.0:"),
            "{}",
            load(no_export)
        );
        let wrong_type = r#"(component
            (core module $m (func (export "f") (result i32) (i32.const 0)))
            (core instance $i (instantiate $m))
            (func (export "resolve") (result u32) (canon lift (core func $i "f"))))"#;
        assert!(
            load(wrong_type).starts_with("does not implement"),
            "{}",
            load(wrong_type)
        );
        let foreign_import = r#"(component
            (import "acme:vault/secrets@1.0.0" (instance (export "get" (func (param "k" string) (result string))))))"#;
        assert!(
            load(foreign_import).contains("acme:vault/secrets@1.0.0"),
            "{}",
            load(foreign_import)
        );
        let core_module = "(module)";
        assert!(
            load(core_module).starts_with("not a valid WebAssembly component:"),
            "{}",
            load(core_module)
        );
    }

    #[test]
    fn unknown_plugins_are_named() {
        let plugins = Plugins::default();
        let err = plugins.call(
            "nope",
            &Request {
                cluster: &json!({}),
                service: "s",
                args: &[],
            },
        );
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("from plugin \"nope\": no such plugin (the fleet's plugins are: none)".to_string())
        );
    }

    #[test]
    fn loading_a_plugins_folder() {
        let dir = TempDir::new("load");
        let host = PluginHost::new(HostConfig::default());
        // A missing folder is a fleet without plugins.
        assert!(
            host.load(&dir.path().join("missing"))
                .expect("missing")
                .is_empty()
        );

        std::fs::write(dir.path().join("echo.wasm"), wasm("echo")).expect("write");
        std::fs::write(dir.path().join("echo.yaml"), "fuel: 5000000\n").expect("write");
        std::fs::write(dir.path().join("err.wasm"), wasm("err")).expect("write");
        std::fs::write(dir.path().join("README.md"), "not a plugin").expect("write");
        let plugins = host.load(dir.path()).expect("load");
        assert_eq!(plugins.names().collect::<Vec<_>>(), ["echo", "err"]);
        assert_eq!(
            plugins.get("echo").map(|p| p.limits().fuel),
            Some(5_000_000)
        );
        assert_eq!(
            plugins.get("err").map(|p| p.limits().fuel),
            Some(Limits::DEFAULT_FUEL)
        );
        let err = plugins.call(
            "missing",
            &Request {
                cluster: &json!({}),
                service: "s",
                args: &[],
            },
        );
        assert!(err.is_err_and(|e| {
            e.to_string()
                .ends_with("(the fleet's plugins are: echo, err)")
        }));

        // Every broken file is reported, each with its path.
        std::fs::write(dir.path().join("echo.yaml"), "fuel: 5000000\ncpu: 1\n").expect("write");
        std::fs::write(dir.path().join("orphan.yaml"), "fuel: 1\n").expect("write");
        std::fs::write(dir.path().join("Bad.wasm"), wasm("echo")).expect("write");
        std::fs::write(dir.path().join("junk.wasm"), b"\0asm junk").expect("write");
        let errors = host
            .load(dir.path())
            .expect_err("broken folder")
            .to_string();
        let lines: Vec<&str> = errors.lines().collect();
        assert_eq!(lines.len(), 4, "{errors}");
        assert!(
            lines[0].ends_with("orphan.yaml: limits file without a plugin (expected orphan.wasm)"),
            "{errors}"
        );
        assert!(
            lines[1].ends_with(
                "Bad.wasm: bad plugin name \"Bad\" (use lowercase letters, digits, `-` and `_`)"
            ),
            "{errors}"
        );
        assert!(
            lines[2].contains("echo.yaml: bad limits file: ") && lines[2].contains("cpu"),
            "{errors}"
        );
        assert!(
            lines[3].contains("junk.wasm: not a valid WebAssembly component: "),
            "{errors}"
        );
    }

    #[test]
    fn compiled_plugins_are_cached_on_disk() {
        let cache = TempDir::new("cache");
        let config = HostConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..HostConfig::default()
        };
        let bytes = wasm("echo");
        let first = PluginHost::new(config.clone());
        let from = |host: &PluginHost| {
            host.load_bytes("echo", &bytes, Limits::default())
                .map(|p| p.loaded_from())
        };
        assert_eq!(from(&first), Ok(LoadedFrom::Compiled));
        assert_eq!(from(&first), Ok(LoadedFrom::Memory));
        let second = PluginHost::new(config.clone());
        assert_eq!(from(&second), Ok(LoadedFrom::DiskCache));
        let plugin = second
            .load_bytes("echo", &bytes, Limits::default())
            .expect("load");
        assert_eq!(
            show(plugin.call_report(r#"{"a":1}"#).result),
            r#"ok: {"a":1}"#
        );

        // A damaged cache file is dropped and the plugin compiled again.
        let path = cache::path_for(cache.path(), &Digest::of(&bytes).hex());
        std::fs::write(&path, b"garbage").expect("damage");
        assert_eq!(
            from(&PluginHost::new(config.clone())),
            Ok(LoadedFrom::Compiled)
        );
        assert_eq!(from(&PluginHost::new(config)), Ok(LoadedFrom::DiskCache));
    }
}
