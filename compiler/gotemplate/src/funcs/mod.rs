//! Template functions: how they are declared, called and collected into a [`FuncMap`].
//!
//! A function is a closure that receives a render [`Context`] and its arguments, already checked
//! against its declared parameter types the way Go's `reflect` call would check them (see
//! [`Ty`]). Functions that need the template set (`include`, `tpl`) or reproducible randomness
//! and time (`randAlphaNum`, `now`) get them from the context, so they are ordinary functions.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::value::Value;

pub mod convert;
pub mod encoding;
pub mod helm;
pub mod sprig_collections;
pub mod sprig_misc;
pub mod sprig_strings;

/// The error a function returns; the executor reports it as Go does:
/// `error calling NAME: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncError {
    pub message: String,
}

impl FuncError {
    pub fn new(message: impl Into<String>) -> FuncError {
        FuncError {
            message: message.into(),
        }
    }
}

impl fmt::Display for FuncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FuncError {}

impl From<String> for FuncError {
    fn from(message: String) -> FuncError {
        FuncError { message }
    }
}

impl From<&str> for FuncError {
    fn from(message: &str) -> FuncError {
        FuncError::new(message)
    }
}

pub type FuncResult = Result<Value, FuncError>;

/// A parameter type, mirroring the Go parameter types of Sprig's and Helm's functions. The
/// executor converts and checks each argument as `text/template` does before the call:
///
/// - `Any` (`interface{}`): anything; a missing value arrives as [`Value::Nil`].
/// - `String`: a [`Value::String`]; a string literal is accepted; anything else is
///   `wrong type for value; expected string; got float64`, a missing value is
///   `invalid value; expected string`.
/// - `Int` (`int`, `int64`): a [`Value::Int`]; integer literals are accepted; a float64 from
///   values is a type error, as in Go.
/// - `Float` (`float64`): a [`Value::Float`]; number literals are converted.
/// - `Bool`: a [`Value::Bool`].
/// - `Map` (`map[string]interface{}`): a [`Value::Map`], or [`Value::Nil`] for a nil map.
/// - `List` (`[]interface{}`): a [`Value::List`], or [`Value::Nil`] for a nil slice.
///
/// As in Go, a missing value (`<no value>`) passed to `Map` or `List` arrives as
/// [`Value::Nil`], while a *nil interface* (a map entry or list element that is `null`, or a
/// missing key under `missingkey=zero`) passed to any parameter but `Any` is the error
/// `wrong type for value; expected map[string]interface {}; got interface {}`. Literals in
/// the template convert by their syntax: `3` to `Int` or `Float`, `3.5` only to `Float`,
/// `"s"` only to `String`, `true` only to `Bool`; otherwise Go's `expected integer; found
/// 3.5` style errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Any,
    String,
    Int,
    Float,
    Bool,
    Map,
    List,
}

impl Ty {
    /// The Go spelling used in error messages.
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::String => "string",
            Ty::Int => "int",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::Map => "map[string]interface {}",
            Ty::List => "[]interface {}",
        }
    }
}

type Callable = dyn Fn(&mut dyn Context, &[Value]) -> FuncResult + Send + Sync;

/// A template function with its Go signature.
#[derive(Clone)]
pub struct Func {
    /// Fixed parameters.
    pub params: Vec<Ty>,
    /// The type of the trailing `...T` parameter, if the function is variadic.
    pub variadic: Option<Ty>,
    call: Arc<Callable>,
}

impl Func {
    pub fn new(
        params: &[Ty],
        variadic: Option<Ty>,
        call: impl Fn(&mut dyn Context, &[Value]) -> FuncResult + Send + Sync + 'static,
    ) -> Func {
        Func {
            params: params.to_vec(),
            variadic,
            call: Arc::new(call),
        }
    }

    /// A function that needs no context.
    pub fn pure(
        params: &[Ty],
        variadic: Option<Ty>,
        call: impl Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
    ) -> Func {
        Func::new(params, variadic, move |_, args| call(args))
    }

    /// Calls the function with arguments already checked against its signature.
    pub fn call(&self, ctx: &mut dyn Context, args: &[Value]) -> FuncResult {
        (self.call)(ctx, args)
    }
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Func")
            .field("params", &self.params)
            .field("variadic", &self.variadic)
            .finish_non_exhaustive()
    }
}

/// `func`, failing before it starts when its first argument is larger, counted as if every
/// shared list and map were copied out, than [`Context::max_result_bytes`]: for functions whose
/// work grows with that expanded size (`toJson`, `toYaml`, `toToml`, `deepCopy`), where a small
/// tree that shares its containers (`$l = list $l $l`, 60 times) stands for 2^60 nodes.
pub(crate) fn bounded_by_size(func: Func) -> Func {
    let inner = func.clone();
    Func::new(&func.params, func.variadic, move |ctx, args| {
        let max = ctx.max_result_bytes();
        // A map that contains itself is the encoders' own error (Go's cycle detection).
        if args
            .first()
            .is_some_and(|v| v.expanded_size_exceeds(max) && !v.contains_cycle())
        {
            return Err(FuncError::new(format!(
                "value larger than the maximum output size ({max} bytes)"
            )));
        }
        inner.call(ctx, args)
    })
}

/// Named functions available to templates. Builtins (`and`, `or`, `not`, `len`, `index`,
/// `slice`, `print*`, comparisons, `html`, `js`, `urlquery`, `call`) belong to the executor
/// and are always present; a `FuncMap` entry of the same name overrides them, as in Go.
#[derive(Clone, Default, Debug)]
pub struct FuncMap {
    funcs: HashMap<String, Func>,
}

impl FuncMap {
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    /// Sprig's `TxtFuncMap` as Helm uses it (Helm removes `env` and `expandenv`).
    pub fn sprig() -> FuncMap {
        let mut map = FuncMap::new();
        sprig_strings::register(&mut map);
        sprig_collections::register(&mut map);
        sprig_misc::register(&mut map);
        encoding::register_sprig(&mut map);
        map
    }

    /// Everything `helm template` offers: Sprig plus Helm's own functions.
    pub fn helm() -> FuncMap {
        let mut map = FuncMap::sprig();
        encoding::register(&mut map);
        helm::register(&mut map);
        map
    }

    pub fn insert(&mut self, name: impl Into<String>, func: Func) {
        self.funcs.insert(name.into(), func);
    }

    pub fn remove(&mut self, name: &str) -> Option<Func> {
        self.funcs.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.funcs.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.funcs.keys().map(String::as_str)
    }
}

/// A moment in time for date functions: Unix seconds and nanoseconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub unix_seconds: i64,
    pub nanos: u32,
}

/// What a function may ask of the render it runs in.
pub trait Context {
    /// Executes the named template of the current set with `data` as dot (`include`,
    /// `template`). The executor enforces the nesting limit.
    fn execute_template(&mut self, name: &str, data: Value) -> Result<String, FuncError>;

    /// Parses `text` as a new template in a copy of the current set, named like the template
    /// being executed, and executes it with `data` (`tpl`). Templates it defines are visible
    /// to it, not to the caller.
    fn parse_and_execute(&mut self, text: &str, data: Value) -> Result<String, FuncError>;

    /// The next number of the render's seeded generator (for `rand*`, `uuidv4`, `shuffle`):
    /// the same seed gives the same sequence, so renders are reproducible.
    fn random_u64(&mut self) -> u64;

    /// The render's clock (`now`, `ago`, `date` defaults): fixed per render when configured.
    fn now(&self) -> Timestamp;

    /// Helm's bookkeeping of `include`: the number of `include` executions of the template
    /// `name` in progress in this render, for `include` to count up and down (Helm stops a
    /// recursion at 1000 nested includes of one name). `None` when the context keeps none.
    fn include_depth(&mut self, name: &str) -> Option<&mut usize> {
        let _ = name;
        None
    }

    /// The largest value a function may build, in bytes: the execution's
    /// [`Limits::max_output_bytes`](crate::Limits). Functions that allocate in proportion to
    /// an argument (`repeat`, `indent`, `randAlphaNum`, `toJson` of a shared tree) check it
    /// before they start.
    fn max_result_bytes(&self) -> usize {
        crate::Limits::default().max_output_bytes
    }

    /// The embedder's value for this execution ([`ExecOptions::extension`](crate::ExecOptions)),
    /// for functions that need to know what they are rendered for. `None` when there is none.
    fn extension(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        None
    }
}

/// A context for calling functions outside a render (tests, constant folding): no templates,
/// a fixed clock and a fixed seed.
#[derive(Debug, Clone)]
pub struct StandaloneContext {
    pub state: u64,
    pub clock: Timestamp,
}

impl Default for StandaloneContext {
    fn default() -> Self {
        StandaloneContext {
            state: 0x5eed,
            clock: Timestamp {
                unix_seconds: 1_700_000_000,
                nanos: 0,
            },
        }
    }
}

/// SplitMix64: small, fast and good enough for non-cryptographic template randomness.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Context for StandaloneContext {
    fn execute_template(&mut self, name: &str, _data: Value) -> Result<String, FuncError> {
        Err(FuncError::new(format!("no such template \"{name}\"")))
    }

    fn parse_and_execute(&mut self, _text: &str, _data: Value) -> Result<String, FuncError> {
        Err(FuncError::new("templates are not available here"))
    }

    fn random_u64(&mut self) -> u64 {
        splitmix64(&mut self.state)
    }

    fn now(&self) -> Timestamp {
        self.clock
    }
}
