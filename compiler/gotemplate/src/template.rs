//! The public face of the engine: a set of named templates parsed from text, executed with a
//! data value and options.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ExecError, ParseError};
use crate::exec::{Set, Shared, State, no_such_template};
use crate::funcs::{FuncMap, Timestamp};
use crate::value::Value;

/// What a missing map key evaluates to (Go's `missingkey` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Go's default: the "no value", printed as `<no value>`; a field of it is again no value.
    #[default]
    Default,
    /// `missingkey=zero`, as Helm sets it: a nil `interface{}`; a field of it is the error
    /// `nil pointer evaluating interface {}.name`.
    Zero,
    /// `missingkey=error`: `map has no entry for key "name"`.
    Error,
}

/// Bounds on one execution, so that a hostile or buggy template ends in an error, never in a
/// hang, a stack overflow or unbounded memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of `template`/`include`/`tpl` calls. Go's limit (`maxExecDepth`) is 100000,
    /// the default; each level costs about a kilobyte of (heap-grown) stack.
    pub max_depth: usize,
    /// Bytes written by one execution, including nested `include` output.
    pub max_output_bytes: usize,
    /// `range` iterations over the whole execution.
    pub max_iterations: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 100_000,
            max_output_bytes: 64 << 20,
            max_iterations: 10_000_000,
        }
    }
}

/// Options of one execution.
#[derive(Clone)]
pub struct ExecOptions {
    pub missing_key: MissingKey,
    pub limits: Limits,
    /// Seed of the generator behind `rand*`, `uuidv4`, `shuffle`.
    pub seed: u64,
    /// The clock `now` reads.
    pub now: Timestamp,
    /// `{{range 5}}` iterates 0..5 (Go 1.24 and later). Go 1.23, which Helm 3.17 is built
    /// with, refuses it (`range can't iterate over 5`), so this is off by default.
    pub range_over_int: bool,
    /// What the embedder hands to its own functions for this execution (e.g. the cluster a
    /// values template is rendered for, or a record of the secrets it read); functions reach
    /// it through [`Context::extension`](crate::funcs::Context::extension) and downcast it.
    pub extension: Option<std::sync::Arc<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for ExecOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOptions")
            .field("missing_key", &self.missing_key)
            .field("limits", &self.limits)
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("range_over_int", &self.range_over_int)
            .field("extension", &self.extension.is_some())
            .finish()
    }
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            missing_key: MissingKey::Default,
            limits: Limits::default(),
            seed: 0,
            now: Timestamp {
                unix_seconds: 0,
                nanos: 0,
            },
            range_over_int: false,
            extension: None,
        }
    }
}

/// A set of named templates sharing one function map: Go's `*template.Template` together with
/// its associated templates.
///
/// Cloning is cheap (parsed trees are shared).
#[derive(Debug, Clone)]
pub struct Template {
    set: Set,
}

impl Template {
    pub fn new(funcs: Arc<FuncMap>) -> Template {
        Template {
            set: Set {
                trees: HashMap::new(),
                funcs,
                root_name: Arc::from(""),
            },
        }
    }

    /// Names the set itself, as `template.New(name)` names Go's root template (Helm's engine
    /// uses `gotpl`). The name appears in `no template "x" associated with template "NAME"`
    /// and is the name `tpl` (via [`crate::funcs::Context::parse_and_execute`]) parses its text
    /// as, as Helm does. Unset, `tpl` uses the name of the template the execution started with.
    pub fn set_root_name(&mut self, name: &str) {
        self.set.root_name = Arc::from(name);
    }

    pub fn root_name(&self) -> &str {
        &self.set.root_name
    }

    /// The functions templates of this set can call (besides the builtins).
    pub fn funcs(&self) -> &Arc<FuncMap> {
        &self.set.funcs
    }

    /// Parses `text` as the template `name`, adding it and every `{{define}}` in it to the set
    /// (Go's `t.New(name).Parse(text)`). A later definition of a name replaces an earlier one,
    /// except that an empty body (only spaces and comments) does not replace an existing one;
    /// two non-empty definitions of one name in the same text are an error. On error nothing
    /// is added.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        self.set.parse(name, text).map(|_| ())
    }

    /// Whether a template of that name is defined.
    pub fn has(&self, name: &str) -> bool {
        self.set.trees.contains_key(name)
    }

    /// The names of the defined templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.set.trees.keys().map(|k| &**k).collect();
        names.sort_unstable();
        names
    }

    /// Executes the template `name` with `data` as dot.
    pub fn execute(
        &self,
        name: &str,
        data: &Value,
        options: &ExecOptions,
    ) -> Result<String, ExecError> {
        let mut out = String::new();
        self.execute_into(name, data, options, &mut out)?;
        Ok(out)
    }

    /// Executes the template `name` with `data` as dot, appending the output to `out`. On
    /// error, `out` holds what was written before the failure (as Go's writer would).
    pub fn execute_into(
        &self,
        name: &str,
        data: &Value,
        options: &ExecOptions,
        out: &mut String,
    ) -> Result<(), ExecError> {
        let Some(tree) = self.set.trees.get(name) else {
            return Err(no_such_template(name, &self.set.root_name));
        };
        let mut shared = Shared::new(options, name);
        let mut state = State::new(&self.set, tree, data.clone(), &mut shared);
        state.out = std::mem::take(out);
        let r = state.run();
        *out = std::mem::take(&mut state.out);
        r.map_err(|e| *e)
    }
}
