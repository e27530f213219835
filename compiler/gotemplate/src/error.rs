//! Errors of parsing and executing templates, printed as Go prints them, with their parts
//! (template, line, column, node text, function) kept apart for callers that rewrite or
//! annotate them.

use std::fmt;

/// A template that does not parse: `template: NAME:LINE: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The name the text was parsed as (Go's `ParseName`; a `define` reports its file's name).
    pub name: String,
    /// 1-based line of the token where the parser stopped, as Go counts it.
    pub line: usize,
    /// The message after the location, e.g. `function "x" not defined`.
    pub message: String,
}

impl ParseError {
    /// `(name, line)` of the error.
    pub fn location(&self) -> (&str, usize) {
        (&self.name, self.line)
    }
}

/// Where an execution error happened: Go's `ErrorContext` of the failing node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The name of the text the node was parsed from (the file, for a `define`d template).
    pub parse_name: String,
    /// 1-based line of the node.
    pub line: usize,
    /// The column as Go prints it: the byte offset of the node from the start of its line
    /// (0-based; on the first line, the byte offset in the text).
    pub column: usize,
    /// Byte offset of the node in the text it was parsed from.
    pub offset: usize,
    /// The node printed back as template source (what Go shows between `<` and `>`).
    pub context: String,
}

/// What kind of failure an [`ExecError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecErrorKind {
    /// A Go `ExecError`: evaluating a node failed.
    Exec,
    /// A limit of [`crate::Limits`] was exceeded (reported like an `ExecError`).
    Limit,
    /// The template to execute does not exist. Go returns this as a plain error, not an
    /// `ExecError`: `template: no template "x" associated with template "y"`.
    NoSuchTemplate,
}

/// A template that fails while executing:
/// `template: FILE:LINE:COL: executing "NAME" at <CONTEXT>: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExecError {
    pub kind: ExecErrorKind,
    /// The template being executed (Go's `ExecError.Name`; the `define` name inside one).
    pub template: String,
    /// The failing node; `None` for errors not tied to a node.
    pub location: Option<Box<Location>>,
    /// The message after the context, e.g. `error calling include: …` or
    /// `nil pointer evaluating interface {}.name`.
    pub message: String,
    /// For `error calling NAME: …` errors, the function's name.
    pub function: Option<String>,
    /// For a function that executed templates (`include`, `tpl`, `template`-like functions)
    /// and failed because of them, that inner execution's error.
    pub cause: Option<Box<ExecError>>,
}

impl ExecError {
    /// `(parse_name, line, column)` of the failing node, if there is one.
    pub fn location(&self) -> Option<(&str, usize, usize)> {
        self.location
            .as_ref()
            .map(|l| (l.parse_name.as_str(), l.line, l.column))
    }

    /// For a function error, the function's name and its own message (without the
    /// `error calling NAME: ` prefix).
    pub fn function_error(&self) -> Option<(&str, &str)> {
        let name = self.function.as_deref()?;
        let rest = self
            .message
            .strip_prefix("error calling ")?
            .strip_prefix(name)?
            .strip_prefix(": ")?;
        Some((name, rest))
    }

    /// The innermost error: following [`ExecError::cause`] to the end.
    pub fn root_cause(&self) -> &ExecError {
        let mut e = self;
        while let Some(c) = &e.cause {
            e = c;
        }
        e
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.location, self.kind) {
            (_, ExecErrorKind::NoSuchTemplate) => write!(f, "template: {}", self.message),
            (Some(l), _) => write!(
                f,
                "template: {}:{}:{}: executing {} at <{}>: {}",
                l.parse_name,
                l.line,
                l.column,
                crate::lex::go_quote(&self.template),
                l.context,
                self.message
            ),
            (None, _) => write!(f, "template: {}: {}", self.template, self.message),
        }
    }
}
