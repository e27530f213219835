//! Go's `text/template`, with Sprig's and Helm's functions, rendering exactly what Go renders.
//!
//! The engine does no I/O: templates come in as strings, values as [`Value`] trees, and output
//! goes to a `String`. Time and randomness come from the render's [`funcs::Context`], so a
//! render is a pure function of its inputs.

mod ast;
mod builtins;
pub mod error;
mod exec;
pub mod funcs;
pub mod gofmt;
mod lex;
mod parse;
pub mod template;
pub mod value;

#[cfg(test)]
mod exec_tests;

pub use error::{ExecError, ExecErrorKind, Location, ParseError};
pub use funcs::{Func, FuncError, FuncMap, Ty};
pub use template::{ExecOptions, Limits, MissingKey, Template};
pub use value::{List, ListType, Map, MapType, Object, Value};
