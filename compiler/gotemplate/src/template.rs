//! The public face of the engine: a set of named templates parsed from text, executed with a
//! data value and options.

use std::sync::Arc;

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
    /// Nesting of `template`/`include`/`tpl` calls.
    pub max_depth: usize,
    /// Bytes written by one execution, including nested `include` output.
    pub max_output_bytes: usize,
    /// `range` iterations over the whole execution.
    pub max_iterations: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 1000,
            max_output_bytes: 64 << 20,
            max_iterations: 10_000_000,
        }
    }
}

/// Options of one execution.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub missing_key: MissingKey,
    pub limits: Limits,
    /// Seed of the generator behind `rand*`, `uuidv4`, `shuffle`.
    pub seed: u64,
    /// The clock `now` reads.
    pub now: Timestamp,
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
        }
    }
}

/// A set of named templates sharing one function map: Go's `*template.Template` together with
/// its associated templates.
#[derive(Debug, Clone)]
pub struct Template {
    funcs: Arc<FuncMap>,
}

impl Template {
    pub fn new(funcs: Arc<FuncMap>) -> Template {
        Template { funcs }
    }

    /// Parses `text` as the template `name`, adding it and every `{{define}}` in it to the set.
    /// A later definition of a name replaces an earlier one, except that an empty body does not
    /// replace a non-empty one (Go's rule).
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), crate::error::ParseError> {
        let _ = (name, text, &self.funcs);
        Err(crate::error::ParseError {
            message: "the parser is not built yet".into(),
        })
    }

    /// Executes the template `name` with `data` as dot.
    pub fn execute(
        &self,
        name: &str,
        data: &Value,
        options: &ExecOptions,
    ) -> Result<String, crate::error::ExecError> {
        let _ = (name, data, options);
        Err(crate::error::ExecError {
            message: "the executor is not built yet".into(),
        })
    }
}
