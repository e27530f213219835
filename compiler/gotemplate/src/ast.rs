//! The parse tree of a template (Go's `text/template/parse` nodes), with field names
//! pre-interned and function names resolved, and Go's `String()` rendering of every node (the
//! text error messages quote as their context).

use std::fmt::{self, Display, Write as _};
use std::sync::Arc;

use crate::builtins::Builtin;
use crate::funcs::Func;
use crate::lex::go_quote;
use crate::value::Value;

/// One parsed template: a name, the text it came from (for error positions) and its body.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The template's name (`{{define "name"}}` or the name given to `parse`).
    pub name: Arc<str>,
    /// The name of the top-level template being parsed when this one was defined: Go's
    /// `ParseName`, printed in error locations.
    pub parse_name: Arc<str>,
    /// The whole text the tree was parsed from (a `define` shares its file's text).
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// Go's `parse.IsEmptyTree`: only whitespace text (and comments, which are not kept).
    pub fn is_empty(&self) -> bool {
        self.root.iter().all(|n| match n {
            Node::Text { text, .. } => text.trim().is_empty(),
            _ => false,
        })
    }
}

/// A statement of a template body.
#[derive(Debug)]
pub(crate) enum Node {
    Text { pos: usize, text: Box<str> },
    Action { pos: usize, pipe: Pipe },
    If(Box<Branch>),
    Range(Box<Branch>),
    With(Box<Branch>),
    Template(Box<TemplateCall>),
    Break { pos: usize },
    Continue { pos: usize },
}

/// `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// `{{template "name" pipeline}}` (also what `{{block}}` leaves in place).
#[derive(Debug)]
pub(crate) struct TemplateCall {
    pub pos: usize,
    pub name: Arc<str>,
    pub pipe: Option<Pipe>,
}

/// A pipeline, possibly declaring or assigning variables.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<Arc<str>>,
    pub cmds: Vec<Command>,
}

/// One stage of a pipeline: an operand, possibly followed by arguments.
#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// What a function name resolved to at parse time.
#[derive(Debug, Clone)]
pub(crate) enum Callee {
    Builtin(Builtin),
    Func(Func),
}

/// An operand of a command.
#[derive(Debug)]
pub(crate) enum Arg {
    /// `.A.B`
    Field {
        pos: usize,
        idents: Box<[Arc<str>]>,
    },
    /// `(pipeline).A.B` or `fn.A`
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Box<[Arc<str>]>,
    },
    /// `$x.A.B`: the variable name and the fields after it.
    Variable {
        pos: usize,
        name: Arc<str>,
        fields: Box<[Arc<str>]>,
    },
    Identifier {
        pos: usize,
        name: Arc<str>,
        callee: Callee,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Number {
        pos: usize,
        number: Box<Number>,
    },
    String {
        pos: usize,
        quoted: Box<str>,
        value: Value,
    },
    Pipe(Box<Pipe>),
}

/// A numeric constant with every interpretation Go's parser computes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Number {
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int64: i64,
    pub uint64: u64,
    pub float64: f64,
    pub text: Box<str>,
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }

    /// Literal operands, which cannot start a later pipeline stage.
    pub fn is_literal_or_dot(&self) -> bool {
        matches!(
            self,
            Arg::Bool { .. }
                | Arg::Dot { .. }
                | Arg::Nil { .. }
                | Arg::Number { .. }
                | Arg::String { .. }
        )
    }
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Text { pos, .. }
            | Node::Action { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos } => *pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
            Node::Template(t) => t.pos,
        }
    }
}

/// A reference to any node, for error positions and contexts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeRef<'t> {
    Node(&'t Node),
    Pipe(&'t Pipe),
    Command(&'t Command),
    Arg(&'t Arg),
}

impl NodeRef<'_> {
    pub fn pos(self) -> usize {
        match self {
            NodeRef::Node(n) => n.pos(),
            NodeRef::Pipe(p) => p.pos,
            NodeRef::Command(c) => c.pos,
            NodeRef::Arg(a) => a.pos(),
        }
    }
}

impl fmt::Display for NodeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Node(n) => n.fmt(f),
            NodeRef::Pipe(p) => p.fmt(f),
            NodeRef::Command(c) => c.fmt(f),
            NodeRef::Arg(a) => a.fmt(f),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    list.iter().try_for_each(|n| Display::fmt(n, f))
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text { text, .. } => f.write_str(text),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::If(b) => b.write(f, "if"),
            Node::Range(b) => b.write(f, "range"),
            Node::With(b) => b.write(f, "with"),
            Node::Template(t) => {
                write!(f, "{{{{template {}", go_quote(&t.name))?;
                if let Some(p) = &t.pipe {
                    write!(f, " {p}")?;
                }
                f.write_str("}}")
            }
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
        }
    }
}

impl Branch {
    fn write(&self, f: &mut fmt::Formatter<'_>, keyword: &str) -> fmt::Result {
        write!(f, "{{{{{keyword} {}}}}}", self.pipe)?;
        write_list(f, &self.list)?;
        if let Some(e) = &self.else_list {
            f.write_str("{{else}}")?;
            write_list(f, e)?;
        }
        f.write_str("{{end}}")
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            for (i, v) in self.decl.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(v)?;
            }
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            match a {
                Arg::Pipe(p) => write!(f, "({p})")?,
                other => other.fmt(f)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for id in idents.iter() {
                    write!(f, ".{id}")?;
                }
                Ok(())
            }
            Arg::Chain { node, fields, .. } => {
                match &**node {
                    Arg::Pipe(p) => write!(f, "({p})")?,
                    other => other.fmt(f)?,
                }
                for id in fields.iter() {
                    write!(f, ".{id}")?;
                }
                Ok(())
            }
            Arg::Variable { name, fields, .. } => {
                f.write_str(name)?;
                for id in fields.iter() {
                    write!(f, ".{id}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { value, .. } => f.write_str(if *value { "true" } else { "false" }),
            Arg::Number { number, .. } => f.write_str(&number.text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => p.fmt(f),
        }
    }
}
