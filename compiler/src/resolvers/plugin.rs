//! `{{ plugin "<name>" arg1 arg2 }}` in values templates: the fleet's WebAssembly value plugins
//! (`plugins/<name>.wasm`, with optional `plugins/<name>.yaml` limits), loaded once per
//! compile from the fleet's files and called with the cluster and the service of the render.
//!
//! A call sends `{"cluster": {...}, "service": "name", "args": [...]}` to the plugin and reads
//! its JSON answer as Helm reads JSON (`fromJson`: objects are maps, arrays lists, numbers
//! float64). A plugin's answer depends only on its bytes and the request (the `plugins` crate's
//! invariant), so templates that call plugins stay deterministic; since the request carries the
//! whole cluster, such a template reads all of it (`values::cluster_reads`), and the fleet's
//! [`FleetPlugins::fingerprint`] is part of the persistent cache key of its outcomes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use diagnostics::Diagnostic;
use gotemplate::funcs::{Context, Func, FuncError, FuncResult, Ty, encoding};
use gotemplate::{FuncMap, Value};
use plugins::{HostConfig, Limits, Plugin, PluginHost, Request};
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use crate::diag::{Diags, suggest};
use crate::model::Digest;
use crate::resolvers::Scope;
use syntax::FleetFiles;

/// The template function's name.
pub const FUNCTION: &str = "plugin";

pub use crate::source::PLUGINS_DIR as DIR;

/// What to do when a plugin named in a template is not in the fleet.
pub const MISSING_HELP: &str = "a fleet's plugins are the WebAssembly components in its \
     plugins/ folder: build the plugin (`flotilla plugin build DIR` writes DIR/out/NAME.wasm) \
     and copy it to plugins/NAME.wasm, with its limits file as plugins/NAME.yaml if it has one";

/// The plugins of one fleet, loaded for one compile (their answers are memoised for its
/// length). `Send + Sync`: the compile's threads share it.
#[derive(Debug)]
pub struct FleetPlugins {
    plugins: BTreeMap<String, Plugin>,
    /// Plugins whose files are in the fleet but did not load (already reported).
    broken: BTreeSet<String>,
    fingerprint: Digest,
}

impl Default for FleetPlugins {
    fn default() -> Self {
        FleetPlugins {
            plugins: BTreeMap::new(),
            broken: BTreeSet::new(),
            fingerprint: fingerprint(&BTreeMap::new(), &BTreeSet::new(), &HostConfig::default()),
        }
    }
}

/// The host of compiles that are given none: compiled plugins are kept in memory for the
/// process, nothing is written to disk.
fn default_host() -> &'static PluginHost {
    static HOST: OnceLock<PluginHost> = OnceLock::new();
    HOST.get_or_init(|| PluginHost::new(HostConfig::default()))
}

/// A plugin's files in the fleet: `plugins/<name>.wasm` and `plugins/<name>.yaml`.
fn plugin_name<'p>(path: &'p str, extension: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(DIR)?.strip_prefix('/')?;
    let name = rest.strip_suffix(extension)?.strip_suffix('.')?;
    (!name.is_empty() && !name.contains('/')).then_some(name)
}

/// A plugin name: a lowercase letter, then lowercase letters, digits, `-` or `_`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
}

impl FleetPlugins {
    /// Loads the fleet's `plugins/<name>.wasm` files (from `files.blobs`) with their optional
    /// `plugins/<name>.yaml` limits (from `files.files`), compiling each once (or taking it from
    /// `host`'s caches). Every file that does not load is a diagnostic; the others load.
    pub fn load(
        files: &FleetFiles,
        host: Option<&PluginHost>,
        diags: &mut Diags<'_>,
    ) -> FleetPlugins {
        let host = match host {
            Some(host) => host,
            None => default_host(),
        };
        let wasm: BTreeMap<&str, (&str, &[u8])> = files
            .blobs
            .iter()
            .filter_map(|(path, bytes)| {
                Some((plugin_name(path, "wasm")?, (path.as_str(), &**bytes)))
            })
            .collect();
        let mut broken = BTreeSet::new();
        for (path, why) in &files.unreadable {
            if let Some(name) = plugin_name(path, "wasm").or_else(|| plugin_name(path, "yaml")) {
                broken.insert(name.to_owned());
                let shown = files.display_name(path);
                diags.push(
                    Diagnostic::error("plugin::load", format!("cannot read {shown}: {why}")),
                    Vec::new(),
                );
            }
        }
        for path in files.files.keys() {
            if let Some(name) = plugin_name(path, "yaml")
                && !wasm.contains_key(name)
            {
                diags.error_at(
                    "plugin::load",
                    format!(
                        "{} holds the limits of a plugin that is not in the fleet (no {DIR}/{name}.wasm)",
                        files.display_name(path)
                    ),
                    path,
                    0..0,
                    "this limits file",
                    Some(MISSING_HELP.into()),
                );
            }
        }
        // Limits first (cheap, reported in order), then every good plugin compiled in parallel.
        let mut ready: Vec<(&str, &str, &[u8], Limits)> = Vec::new();
        for (&name, &(path, bytes)) in &wasm {
            if broken.contains(name) {
                continue;
            }
            if !valid_name(name) {
                broken.insert(name.to_owned());
                diags.push(
                    Diagnostic::error(
                        "plugin::load",
                        format!(
                            "{} has a bad plugin name {name:?}",
                            files.display_name(path)
                        ),
                    )
                    .with_help(
                        "a plugin's name is a lowercase letter, then lowercase letters, digits, \
                         `-` and `_`",
                    ),
                    Vec::new(),
                );
                continue;
            }
            let yaml = format!("{DIR}/{name}.yaml");
            let defaults = host.config().default_limits;
            let limits = match files.files.get(&yaml) {
                None => defaults,
                Some(text) => match Limits::from_yaml(text, defaults) {
                    Ok(limits) => limits,
                    Err(why) => {
                        broken.insert(name.to_owned());
                        diags.error_at(
                            "plugin::limits",
                            format!(
                                "the limits of plugin {name:?} ({}) are wrong: {why}",
                                files.display_name(&yaml)
                            ),
                            &yaml,
                            0..text.len().min(text.find('\n').unwrap_or(text.len())),
                            "this limits file",
                            Some(format!(
                                "fields (all optional): fuel (1 – {}), timeoutMs (1 – {}), \
                                 memoryMiB (1 – {}), maxOutputBytes (1 – {})",
                                Limits::MAX_FUEL,
                                Limits::MAX_TIMEOUT_MS,
                                Limits::MAX_MEMORY_MIB,
                                Limits::MAX_OUTPUT_BYTES
                            )),
                        );
                        continue;
                    }
                },
            };
            ready.push((name, path, bytes, limits));
        }
        let loaded: Vec<_> = ready
            .par_iter()
            .map(|&(name, path, bytes, limits)| (name, path, host.load_bytes(name, bytes, limits)))
            .collect();
        let mut plugins = BTreeMap::new();
        for (name, path, result) in loaded {
            match result {
                Ok(plugin) => {
                    plugins.insert(name.to_owned(), plugin);
                }
                Err(why) => {
                    broken.insert(name.to_owned());
                    diags.push(
                        Diagnostic::error(
                            "plugin::load",
                            format!(
                                "plugin {name:?} ({}) does not load: {why}",
                                files.display_name(path)
                            ),
                        )
                        .with_help(format!(
                            "a plugin is a WebAssembly component of the world \
                             flotilla:plugin/resolver@{}; `flotilla plugin new` scaffolds one",
                            plugins::CONTRACT_VERSION
                        )),
                        Vec::new(),
                    );
                }
            }
        }
        let fingerprint = fingerprint(&plugins, &broken, host.config());
        FleetPlugins {
            plugins,
            broken,
            fingerprint,
        }
    }

    /// A digest of everything that decides the plugins' answers: the contract version, each
    /// plugin's name, bytes and limits, and the sandbox (clock, seed) they run in.
    pub fn fingerprint(&self) -> &Digest {
        &self.fingerprint
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty() && self.broken.is_empty()
    }

    /// Calls plugin `name` (memoised by request for the compile). The error names the plugin
    /// and its digest, or says that there is no such plugin.
    pub fn call(&self, name: &str, request: &Request<'_>) -> Result<serde_json::Value, CallError> {
        match self.plugins.get(name) {
            Some(plugin) => Ok(plugin.call(request)?),
            None if self.broken.contains(name) => Err(CallError::NotLoaded {
                name: name.to_owned(),
            }),
            None => {
                let known: Vec<&str> = self.names().collect();
                Err(CallError::NotFound {
                    name: name.to_owned(),
                    suggestion: suggest(name, known.iter().copied()).map(str::to_owned),
                    known: known.iter().map(|k| (*k).to_owned()).collect(),
                })
            }
        }
    }
}

/// A `plugin` call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin ran and failed (its message, a trap, a limit, …; with what it wrote).
    #[error(transparent)]
    Plugin(#[from] plugins::PluginError),
    /// The plugin's files are in the fleet but did not load (already reported).
    #[error("plugin {name:?} did not load (see the errors about its files in {dir}/)", dir = DIR)]
    NotLoaded { name: String },
    /// No plugin of that name in the fleet.
    #[error(
        "there is no plugin {name:?} in this fleet (no {dir}/{name}.wasm{tail}",
        dir = DIR,
        tail = not_found_tail(.suggestion.as_deref(), .known)
    )]
    NotFound {
        name: String,
        suggestion: Option<String>,
        known: Vec<String>,
    },
}

fn not_found_tail(suggestion: Option<&str>, known: &[String]) -> String {
    let list = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    match suggestion {
        Some(best) => format!("): did you mean {best:?}? (the fleet's plugins: {list})"),
        None => format!("; the fleet's plugins: {list})"),
    }
}

fn fingerprint(
    plugins: &BTreeMap<String, Plugin>,
    broken: &BTreeSet<String>,
    host: &HostConfig,
) -> Digest {
    let mut h = Sha256::new();
    let mut put = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    put(b"flotilla.plugins/v1");
    put(plugins::CONTRACT_VERSION.as_bytes());
    put(&host.sandbox.wall_clock_secs.to_le_bytes());
    put(&host.sandbox.random_seed.to_le_bytes());
    for (name, plugin) in plugins {
        let limits = plugin.limits();
        put(name.as_bytes());
        put(plugin.digest().hex().as_bytes());
        put(&limits.fuel.to_le_bytes());
        put(&limits.timeout.as_nanos().to_le_bytes());
        put(&limits.memory_bytes.to_le_bytes());
        put(&(limits.max_output_bytes as u64).to_le_bytes());
    }
    for name in broken {
        put(b"broken");
        put(name.as_bytes());
    }
    Digest(h.finalize().into())
}

/// Adds the `plugin` function, calling `plugins`, to a values template's functions.
pub fn register(funcs: &mut FuncMap, plugins: Arc<FleetPlugins>) {
    funcs.insert(
        FUNCTION,
        Func::new(&[Ty::String], Some(Ty::Any), move |ctx, args| {
            call(&plugins, ctx, args)
        }),
    );
}

fn call(plugins: &FleetPlugins, ctx: &mut dyn Context, args: &[Value]) -> FuncResult {
    let Some((name, args)) = args.split_first() else {
        return Err(FuncError::new("expected the plugin's name"));
    };
    let name = name.as_str().unwrap_or_default();
    let Some(scope) = Scope::of(ctx).map(|s| &s.render) else {
        return Err(FuncError::new(
            "plugins can be called only from a service's values template",
        ));
    };
    let args = args
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            let text = encoding::to_json(arg).map_err(|e| {
                FuncError::new(format!("argument {} of plugin {name:?}: {e}", i + 1))
            })?;
            serde_json::from_str(&text)
                .map_err(|e| FuncError::new(format!("argument {} of plugin {name:?}: {e}", i + 1)))
        })
        .collect::<Result<Vec<serde_json::Value>, FuncError>>()?;
    let request = Request {
        cluster: &scope.cluster,
        service: &scope.service,
        args: &args,
    };
    let answer = plugins
        .call(name, &request)
        .map_err(|e| FuncError::new(e.to_string()))?;
    let text = serde_json::to_string(&answer).map_err(|e| FuncError::new(e.to_string()))?;
    encoding::from_json(&text).map_err(|e| {
        FuncError::new(format!(
            "from plugin {name:?}: cannot read its answer: {}",
            e.message
        ))
    })
}

/// The help of a values-template failure that came from a plugin call, if it did.
pub fn help(message: &str) -> Option<String> {
    let calling = format!("error calling {FUNCTION}: ");
    let (_, error) = message.split_once(&calling)?;
    if error.starts_with("there is no plugin ") {
        return Some(MISSING_HELP.to_owned());
    }
    let name = error
        .strip_prefix("from plugin \"")
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("NAME");
    Some(format!(
        "try the call on its own: `flotilla plugin test {name} --cluster clusters/CLUSTER.yaml \
         --service SERVICE --args JSON…` prints the answer, what the plugin wrote and the fuel \
         it used; limits are raised in {DIR}/{name}.yaml"
    ))
}

/// The request's `cluster` for one cluster file (`path`, holding `text`): the cluster as
/// values templates see it, as JSON, or the file's diagnostics. (`flotilla plugin test`.)
pub fn cluster_request(path: &str, text: &str) -> Result<serde_json::Value, diagnostics::Report> {
    let stem = std::path::Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let key = format!("clusters/{stem}.yaml");
    let mut files = FleetFiles::from_files([(key.clone(), text.to_owned())]);
    if let Some(root) = path.strip_suffix(&key) {
        files.display_root = root.to_owned();
    }
    let mut diags = Diags::new(&files);
    let fleet = crate::load::load(&files, &mut diags);
    let report = diags.finish();
    match fleet.clusters.values().next() {
        Some(cluster) if !report.has_errors() => {
            Ok(serde_json::to_value(cluster.to_data()).unwrap_or_default())
        }
        _ => Err(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_files() {
        assert_eq!(plugin_name("plugins/cidr.wasm", "wasm"), Some("cidr"));
        assert_eq!(plugin_name("plugins/cidr.yaml", "yaml"), Some("cidr"));
        assert_eq!(plugin_name("plugins/cidr.yaml", "wasm"), None);
        assert_eq!(plugin_name("plugins/src/cidr.wasm", "wasm"), None);
        assert_eq!(plugin_name("charts/cidr.wasm", "wasm"), None);
        assert_eq!(plugin_name("plugins/.wasm", "wasm"), None);
        assert_eq!(plugin_name("pluginsx/a.wasm", "wasm"), None);
        assert!(valid_name("cidr-allocator_2"));
        assert!(!valid_name("Cidr") && !valid_name("2x") && !valid_name(""));
    }

    #[test]
    fn unknown_plugins_are_named() {
        let plugins = FleetPlugins::default();
        let request = Request {
            cluster: &serde_json::json!({}),
            service: "api",
            args: &[],
        };
        assert_eq!(
            plugins
                .call("netalloc", &request)
                .map_err(|e| e.to_string()),
            Err(
                "there is no plugin \"netalloc\" in this fleet (no plugins/netalloc.wasm; the \
                 fleet's plugins: none)"
                    .to_owned()
            )
        );
        let known = CallError::NotFound {
            name: "netaloc".into(),
            suggestion: Some("netalloc".into()),
            known: vec!["netalloc".into(), "regions".into()],
        };
        assert_eq!(
            known.to_string(),
            "there is no plugin \"netaloc\" in this fleet (no plugins/netaloc.wasm): did you mean \
             \"netalloc\"? (the fleet's plugins: netalloc, regions)"
        );
    }

    #[test]
    fn helps_for_plugin_failures_only() {
        assert_eq!(
            help(
                "template: a/values:1:3: executing \"a/values\" at <plugin \"x\">: error calling plugin: there is no plugin \"x\" in this fleet"
            ),
            Some(MISSING_HELP.to_owned())
        );
        let h = help("… error calling plugin: from plugin \"netalloc\" (sha256:0123): trapped")
            .unwrap_or_default();
        assert!(
            h.contains("`flotilla plugin test netalloc --cluster"),
            "{h}"
        );
        assert!(h.contains("plugins/netalloc.yaml"), "{h}");
        assert_eq!(help("error calling include: no template"), None);
    }
}
