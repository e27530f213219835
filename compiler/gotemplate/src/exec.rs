//! The executor: walks a parsed template with a data value and writes the output, following
//! Go 1.23's `text/template/exec.go` — field resolution, the missing-key modes, argument
//! checking, variable scoping, error texts and positions — and enforcing [`Limits`].

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Arg, Branch, Callee, Command, Node, NodeRef, Number, Pipe, TemplateCall, Tree};
use crate::builtins::{self, Builtin};
use crate::error::{ExecError, ExecErrorKind, Location};
use crate::funcs::{self, Context, FuncError, FuncMap, Timestamp, Ty};
use crate::gofmt;
use crate::lex::go_quote;
use crate::template::{ExecOptions, MissingKey};
use crate::value::{ListType, Value};

/// A value as the executor sees it: Go's `reflect.Value`, which distinguishes a missing value
/// (invalid) from a nil `interface{}` and remembers whether the value has the static type
/// `interface {}` (map entries, list elements), which changes some of Go's error texts.
#[derive(Debug, Clone)]
pub(crate) enum RV {
    /// No value at all (a missing map key in the default mode, nil data): `<no value>`.
    Invalid,
    /// A value of static type `interface {}`; `Iface(Nil)` is a nil interface.
    Iface(Value),
    /// A value of its dynamic type (never `Nil`).
    Val(Value),
}

impl RV {
    /// The value as a function parameter of type `interface{}` receives it.
    pub fn to_value(&self) -> Value {
        match self {
            RV::Invalid => Value::Nil,
            RV::Iface(v) | RV::Val(v) => v.clone(),
        }
    }

    /// Go's unwrapping of an `interface{}` result at the end of each pipeline stage.
    fn elem(self) -> RV {
        match self {
            RV::Iface(Value::Nil) => RV::Invalid,
            RV::Iface(v) => RV::Val(v),
            other => other,
        }
    }

    /// A value handed in from outside (data, a function's result).
    fn from_value(v: Value) -> RV {
        match v {
            Value::Nil => RV::Invalid,
            v => RV::Val(v),
        }
    }

    /// A function or method result: its static type is taken to be `interface {}` when nil.
    fn from_result(v: Value) -> RV {
        match v {
            Value::Nil => RV::Iface(Value::Nil),
            v => RV::Val(v),
        }
    }
}

/// The type a value is checked and converted against before a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgTy {
    /// No type (Go's `nil` type): the value as it is.
    Untyped,
    /// A builtin's `reflect.Value` parameter: the value as it is, missing values included.
    RValue,
    Ty(Ty),
}

/// A callee's Go signature.
enum Signature<'a> {
    Builtin(&'static [ArgTy], Option<ArgTy>),
    Func(&'a [Ty], Option<Ty>),
}

impl<'a> Signature<'a> {
    fn of(callee: &'a Callee) -> Signature<'a> {
        match callee {
            Callee::Builtin(b) => {
                let (p, v) = b.signature();
                Signature::Builtin(p, v)
            }
            Callee::Func(f) => Signature::Func(&f.params, f.variadic),
        }
    }

    /// The number of fixed parameters.
    fn len(&self) -> usize {
        match self {
            Signature::Builtin(p, _) => p.len(),
            Signature::Func(p, _) => p.len(),
        }
    }

    fn get(&self, i: usize) -> ArgTy {
        match self {
            Signature::Builtin(p, _) => p.get(i).copied().unwrap_or(ArgTy::Untyped),
            Signature::Func(p, _) => p.get(i).map_or(ArgTy::Untyped, |&t| ArgTy::Ty(t)),
        }
    }

    fn variadic(&self) -> Option<ArgTy> {
        match self {
            Signature::Builtin(_, v) => *v,
            Signature::Func(_, v) => v.map(ArgTy::Ty),
        }
    }
}

/// The templates an execution can reach, and its functions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Set {
    pub trees: HashMap<Arc<str>, Arc<Tree>>,
    pub funcs: Arc<FuncMap>,
    /// The name of the set itself (Go's root `*Template`, Helm's `gotpl`).
    pub root_name: Arc<str>,
}

/// Counters shared by an execution and the executions nested in it (`include`, `tpl`).
pub(crate) struct Shared {
    pub options: ExecOptions,
    output_bytes: usize,
    iterations: u64,
    depth: usize,
    /// How many of the `depth` levels are executions run by functions (`include`, `tpl`).
    nested_executions: usize,
    rng: u64,
    /// The error of the last nested execution a function ran, to attach as the cause of
    /// that function's error; with the message the function was given.
    nested_error: Option<(String, Box<ExecError>)>,
    /// The name of the template the outermost execution started with.
    top_name: Arc<str>,
    /// `include` executions in progress, by template name ([`Context::include_depth`]).
    include_depths: HashMap<String, usize>,
}

impl Shared {
    pub fn new(options: &ExecOptions, top_name: &str) -> Shared {
        Shared {
            options: options.clone(),
            output_bytes: 0,
            iterations: 0,
            depth: 0,
            nested_executions: 0,
            rng: options.seed,
            nested_error: None,
            top_name: Arc::from(top_name),
            include_depths: HashMap::new(),
        }
    }
}

/// Control flow out of a list of nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// Errors are boxed inside the executor to keep results small on the hot path.
type EResult<T> = Result<T, Box<ExecError>>;

const RED_ZONE: usize = 64 * 1024;
/// See [`State::check_nested_depth`].
pub(crate) const MAX_NESTED_EXECUTIONS: usize = 1024;
const STACK_GROWTH: usize = 1024 * 1024;

/// The state of one execution of one template set.
pub(crate) struct State<'t, 's> {
    set: &'t Set,
    tree: &'t Tree,
    node: Option<NodeRef<'t>>,
    vars: Vec<(&'t str, RV)>,
    pub out: String,
    shared: &'s mut Shared,
}

/// The error for a template name that is not in the set.
pub(crate) fn no_such_template(name: &str, root: &str) -> ExecError {
    ExecError {
        kind: ExecErrorKind::NoSuchTemplate,
        template: name.to_string(),
        location: None,
        message: format!(
            "no template {} associated with template {}",
            go_quote(name),
            go_quote(root)
        ),
        function: None,
        cause: None,
    }
}

impl<'t, 's> State<'t, 's> {
    pub fn new(set: &'t Set, tree: &'t Tree, data: Value, shared: &'s mut Shared) -> Self {
        State {
            set,
            tree,
            node: None,
            vars: vec![("$", RV::from_value(data))],
            out: String::new(),
            shared,
        }
    }

    /// Runs the tree the state was made with.
    pub fn run(&mut self) -> EResult<()> {
        let dot = self.vars[0].1.clone();
        let tree = self.tree;
        self.walk_list(&dot, &tree.root).map(|_| ())
    }

    fn at(&mut self, node: NodeRef<'t>) {
        self.node = Some(node);
    }

    fn error_kind(&self, kind: ExecErrorKind, message: String) -> Box<ExecError> {
        let location = self.node.map(|n| {
            let offset = n.pos();
            let text = self.tree.text.get(..offset).unwrap_or(&self.tree.text);
            let line_start = text.rfind('\n').map_or(0, |i| i + 1);
            Box::new(Location {
                parse_name: self.tree.parse_name.to_string(),
                line: 1 + text.bytes().filter(|&b| b == b'\n').count(),
                column: offset - line_start,
                offset,
                context: n.to_string(),
            })
        });
        Box::new(ExecError {
            kind,
            template: self.tree.name.to_string(),
            location,
            message,
            function: None,
            cause: None,
        })
    }

    fn errorf(&self, message: impl Into<String>) -> Box<ExecError> {
        self.error_kind(ExecErrorKind::Exec, message.into())
    }

    fn write_str(&mut self, s: &str) -> EResult<()> {
        self.out.push_str(s);
        self.count_output(s.len())
    }

    fn count_output(&mut self, n: usize) -> EResult<()> {
        self.shared.output_bytes += n;
        let max = self.shared.options.limits.max_output_bytes;
        if self.shared.output_bytes > max {
            return Err(self.error_kind(
                ExecErrorKind::Limit,
                format!("exceeded maximum output size ({max} bytes)"),
            ));
        }
        Ok(())
    }

    // Variables.

    fn set_var(&mut self, name: &str, value: RV) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    fn set_top_var(&mut self, n: usize, value: RV) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = value;
        }
    }

    fn var_value(&self, name: &str) -> EResult<RV> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.errorf(format!("undefined variable: {name}"))),
        }
    }

    // Walking.

    fn walk_list(&mut self, dot: &RV, list: &'t [Node]) -> EResult<Flow> {
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &RV, node: &'t Node) -> EResult<Flow> {
        self.at(NodeRef::Node(node));
        match node {
            Node::Text { text, .. } => {
                self.write_str(text)?;
                Ok(Flow::Normal)
            }
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print_value(node, &val)?;
                }
                Ok(Flow::Normal)
            }
            Node::Break { .. } => Ok(Flow::Break),
            Node::Continue { .. } => Ok(Flow::Continue),
            Node::If(b) => stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
                self.walk_if_or_with(false, dot, b)
            }),
            Node::With(b) => stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
                self.walk_if_or_with(true, dot, b)
            }),
            Node::Range(b) => {
                stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.walk_range(dot, node, b))
            }
            Node::Template(t) => {
                stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.walk_template(dot, node, t))?;
                Ok(Flow::Normal)
            }
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &RV, b: &'t Branch) -> EResult<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let r = if builtins::truth(&val) {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn one_iteration(&mut self, b: &'t Branch, mark: usize, index: RV, elem: RV) -> EResult<Flow> {
        self.shared.iterations += 1;
        let max = self.shared.options.limits.max_iterations;
        if self.shared.iterations > max {
            return Err(self.error_kind(
                ExecErrorKind::Limit,
                format!("exceeded maximum range iterations ({max})"),
            ));
        }
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let r = self.walk_list(&elem, &b.list);
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &RV, node: &'t Node, b: &'t Branch) -> EResult<Flow> {
        self.at(NodeRef::Node(node));
        let mark0 = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let ran = match &val {
            RV::Val(Value::List(items)) if !items.is_empty() => {
                let items = items.clone();
                for (i, item) in items.iter().enumerate() {
                    let index = RV::Val(Value::from(i));
                    if self.one_iteration(b, mark, index, RV::Iface(item.clone()))? == Flow::Break {
                        break;
                    }
                }
                true
            }
            RV::Val(Value::Map(m)) if !m.is_empty() => {
                // A snapshot, as Go's sorted map walk: the body may change the map.
                let entries: Vec<(Value, Value)> = m.with(|map| {
                    map.iter()
                        .map(|(k, v)| (Value::String(Arc::from(k.as_str())), v.clone()))
                        .collect()
                });
                for (k, v) in entries {
                    if self.one_iteration(b, mark, RV::Val(k), RV::Iface(v))? == Flow::Break {
                        break;
                    }
                }
                true
            }
            RV::Val(Value::List(_)) | RV::Val(Value::Map(_)) | RV::Invalid => false,
            // A Go map or slice type of the embedder (Helm's `.Files`): its own entries.
            RV::Val(Value::Object(o)) | RV::Iface(Value::Object(o)) => {
                let Some(entries) = o.range_entries() else {
                    return Err(self.errorf(format!(
                        "range can't iterate over {}",
                        gofmt::format_value(&val.to_value())
                    )));
                };
                for (k, v) in &entries {
                    let (k, v) = (RV::Val(k.clone()), RV::Iface(v.clone()));
                    if self.one_iteration(b, mark, k, v)? == Flow::Break {
                        break;
                    }
                }
                !entries.is_empty()
            }
            RV::Val(Value::Int(n) | Value::Int64(n)) if self.shared.options.range_over_int => {
                if b.pipe.decl.len() > 1 {
                    return Err(self.errorf(format!(
                        "can't use {n} to iterate over more than one variable"
                    )));
                }
                let n = *n;
                for i in 0..n.max(0) {
                    let elem = RV::Val(Value::Int(i));
                    if self.one_iteration(b, mark, RV::Invalid, elem)? == Flow::Break {
                        break;
                    }
                }
                n > 0
            }
            other => {
                return Err(self.errorf(format!(
                    "range can't iterate over {}",
                    gofmt::format_value(&other.to_value())
                )));
            }
        };
        let r = if !ran {
            match &b.else_list {
                Some(else_list) => self.walk_list(dot, else_list).map(|_| Flow::Normal),
                None => Ok(Flow::Normal),
            }
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark0);
        r
    }

    fn walk_template(&mut self, dot: &RV, node: &'t Node, t: &'t TemplateCall) -> EResult<()> {
        self.at(NodeRef::Node(node));
        let Some(tmpl) = self.set.trees.get(&*t.name) else {
            return Err(self.errorf(format!("template {} not defined", go_quote(&t.name))));
        };
        self.check_depth()?;
        let new_dot = match &t.pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => RV::Invalid,
        };
        let tmpl: &'t Tree = tmpl;
        let saved_tree = std::mem::replace(&mut self.tree, tmpl);
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
        self.shared.depth += 1;
        let r = self.walk_list(&new_dot, &tmpl.root);
        self.shared.depth -= 1;
        self.tree = saved_tree;
        self.vars = saved_vars;
        r.map(|_| ())
    }

    fn check_depth(&self) -> EResult<()> {
        let max = self.shared.options.limits.max_depth;
        if self.shared.depth >= max {
            return Err(self.error_kind(
                ExecErrorKind::Limit,
                format!("exceeded maximum template depth ({max})"),
            ));
        }
        Ok(())
    }

    /// The depth check of an execution nested through a function (`include`, `tpl`). Each
    /// such level builds its error text from the level below (as Go does), so a failure at
    /// depth n costs O(n²); they nest at most [`MAX_NESTED_EXECUTIONS`] deep, whatever
    /// `max_depth` allows. (Helm stops `include` recursion at 1001 nested calls of one name.)
    fn check_nested_depth(&self) -> EResult<()> {
        self.check_depth()?;
        if self.shared.nested_executions >= MAX_NESTED_EXECUTIONS {
            return Err(self.error_kind(
                ExecErrorKind::Limit,
                format!(
                    "exceeded maximum nesting of templates executed by functions \
                     ({MAX_NESTED_EXECUTIONS})"
                ),
            ));
        }
        Ok(())
    }

    fn print_value(&mut self, node: &'t Node, v: &RV) -> EResult<()> {
        self.at(NodeRef::Node(node));
        let before = self.out.len();
        match v {
            RV::Invalid => self.out.push_str("<no value>"),
            RV::Iface(v) | RV::Val(v) => {
                // Lists and maps share their elements, so a small value can stand for an
                // exponentially large tree; every element prints at least one byte, so one
                // with more elements than the output may hold fails before it is printed.
                let left = self.output_left();
                if matches!(v, Value::List(_) | Value::Map(_)) && more_elements_than(v, left) {
                    return self.count_output(left.saturating_add(1));
                }
                gofmt::write_value(&mut self.out, v)
            }
        }
        self.count_output(self.out.len() - before)
    }

    /// Bytes that may still be written.
    fn output_left(&self) -> usize {
        let max = self.shared.options.limits.max_output_bytes;
        max.saturating_sub(self.shared.output_bytes)
    }

    /// A function's result must fit in the output limit: a string by its bytes, a list or a
    /// map by its entries. Otherwise a loop like `{{$s = print $s $s}}` would double a value
    /// no output limit sees until memory runs out.
    /// [`Self::check_result_size`] reported at the call `node`; after a successful call the
    /// location stays where the arguments left it, as Go's (a type error of the result used as
    /// an argument names the call's last argument, as Go does).
    fn check_result_size_at(&mut self, node: NodeRef<'t>, v: &Value) -> EResult<()> {
        let last = self.node;
        self.at(node);
        self.check_result_size(v)?;
        self.node = last;
        Ok(())
    }

    fn check_result_size(&self, v: &Value) -> EResult<()> {
        let max = self.shared.options.limits.max_output_bytes;
        let size = match v {
            Value::String(s) => s.len(),
            Value::List(l) => l.len(),
            Value::Map(m) => m.len(),
            _ => 0,
        };
        if size > max {
            return Err(self.error_kind(
                ExecErrorKind::Limit,
                format!("value larger than the maximum output size ({max} bytes)"),
            ));
        }
        Ok(())
    }

    // Evaluation.

    fn eval_pipeline(&mut self, dot: &RV, pipe: &'t Pipe) -> EResult<RV> {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            self.eval_pipeline_inner(dot, pipe)
        })
    }

    fn eval_pipeline_inner(&mut self, dot: &RV, pipe: &'t Pipe) -> EResult<RV> {
        self.at(NodeRef::Pipe(pipe));
        let mut value: Option<RV> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?.elem());
        }
        let value = value.unwrap_or(RV::Invalid);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name, value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'t [Arg], fin: &Option<RV>) -> EResult<()> {
        if args.len() > 1 || fin.is_some() {
            let first = args.first().map(|a| a.to_string()).unwrap_or_default();
            return Err(self.errorf(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &RV, cmd: &'t Command, fin: Option<RV>) -> EResult<RV> {
        let Some(first) = cmd.args.first() else {
            return Ok(RV::Invalid);
        };
        match first {
            Arg::Field { idents, .. } => {
                self.at(NodeRef::Arg(first));
                return self.eval_field_chain(dot, dot.clone(), first, idents, &cmd.args, fin);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier { name, callee, .. } => {
                self.at(NodeRef::Arg(first));
                return self.eval_call(dot, callee, NodeRef::Command(cmd), name, &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args, fin),
            _ => {}
        }
        self.at(NodeRef::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { value, .. } => Ok(RV::Val(Value::Bool(*value))),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.errorf("nil is not a command")),
            Arg::Number { number, .. } => self.ideal_constant(first, number),
            Arg::String { value, .. } => Ok(RV::Val(value.clone())),
            _ => Err(self.errorf(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            ))),
        }
    }

    /// A number in a context without a type: its syntax decides (Go's `idealConstant`).
    fn ideal_constant(&mut self, node: &'t Arg, n: &Number) -> EResult<RV> {
        self.at(NodeRef::Arg(node));
        let text = &*n.text;
        let hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        let rune_int = text.starts_with('\'');
        if n.is_complex {
            return Err(self.errorf(format!("complex constant {text} is not supported")));
        }
        if n.is_float && !hex_int && !rune_int && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(RV::Val(Value::Float(n.float64)));
        }
        if n.is_int {
            return Ok(RV::Val(Value::Int(n.int64)));
        }
        if n.is_uint {
            return Err(self.errorf(format!("{text} overflows int")));
        }
        Ok(RV::Invalid)
    }

    fn eval_chain(
        &mut self,
        dot: &RV,
        chain: &'t Arg,
        args: &'t [Arg],
        fin: Option<RV>,
    ) -> EResult<RV> {
        self.at(NodeRef::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            return Ok(RV::Invalid);
        };
        if fields.is_empty() {
            return Err(self.errorf("internal error: no fields in evalChainNode"));
        }
        if let Arg::Nil { .. } = **node {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, ArgTy::Untyped, node)?;
        self.eval_field_chain(dot, receiver, chain, fields, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &RV,
        var: &'t Arg,
        args: &'t [Arg],
        fin: Option<RV>,
    ) -> EResult<RV> {
        self.at(NodeRef::Arg(var));
        let Arg::Variable { name, fields, .. } = var else {
            return Ok(RV::Invalid);
        };
        let value = self.var_value(name)?;
        if fields.is_empty() {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, var, fields, args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &RV,
        mut receiver: RV,
        node: &'t Arg,
        idents: &'t [Arc<str>],
        args: &'t [Arg],
        fin: Option<RV>,
    ) -> EResult<RV> {
        let Some((last, init)) = idents.split_last() else {
            return Ok(receiver);
        };
        for name in init {
            receiver = self.eval_field(dot, name, node, &[], None, receiver)?;
        }
        self.eval_field(dot, last, node, args, fin, receiver)
    }

    /// `.Name` on a value, possibly with arguments (a method call).
    fn eval_field(
        &mut self,
        dot: &RV,
        name: &str,
        node: &'t Arg,
        args: &'t [Arg],
        fin: Option<RV>,
        receiver: RV,
    ) -> EResult<RV> {
        let (is_iface, v) = match receiver {
            RV::Invalid => {
                if self.shared.options.missing_key == MissingKey::Error {
                    return Err(
                        self.errorf(format!("nil data; no entry for key {}", go_quote(name)))
                    );
                }
                return Ok(RV::Invalid);
            }
            RV::Iface(Value::Nil) => {
                return Err(self.errorf(format!("nil pointer evaluating interface {{}}.{name}")));
            }
            RV::Iface(v) => (true, v),
            RV::Val(v) => (false, v),
        };
        // The receiver's type as Go names it in errors (before unwrapping an interface).
        let typ = |v: &Value| {
            if is_iface {
                "interface {}".to_string()
            } else {
                v.type_name()
            }
        };
        let has_args = args.len() > 1 || fin.is_some();
        match &v {
            Value::Map(m) => {
                if has_args {
                    return Err(self.errorf(format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(x) => Ok(RV::Iface(x)),
                    None => match self.shared.options.missing_key {
                        MissingKey::Default => Ok(RV::Invalid),
                        MissingKey::Zero => Ok(RV::Iface(Value::Nil)),
                        MissingKey::Error => {
                            Err(self.errorf(format!("map has no entry for key {}", go_quote(name))))
                        }
                    },
                }
            }
            Value::Object(o) => {
                let field_node = self.node;
                let mut argv = Vec::new();
                for a in args.iter().skip(1) {
                    argv.push(self.eval_arg(dot, ArgTy::Ty(Ty::Any), a)?.to_value());
                }
                if let Some(f) = &fin {
                    argv.push(f.to_value());
                }
                if let Some(result) = o.call_method(name, &argv) {
                    return match result {
                        Ok(r) => Ok(RV::from_result(r)),
                        Err(e) => {
                            self.at(NodeRef::Arg(node));
                            Err(self.func_error(name, e))
                        }
                    };
                }
                // Not a method: Go never evaluated the arguments.
                self.node = field_node;
                match o.field(name) {
                    Some(f) => {
                        if has_args {
                            return Err(self.errorf(format!(
                                "{name} has arguments but cannot be invoked as function"
                            )));
                        }
                        Ok(RV::from_result(f))
                    }
                    None => {
                        Err(self.errorf(format!("can't evaluate field {name} in type {}", typ(&v))))
                    }
                }
            }
            _ => Err(self.errorf(format!("can't evaluate field {name} in type {}", typ(&v)))),
        }
    }

    fn func_error(&mut self, name: &str, e: FuncError) -> Box<ExecError> {
        let mut err = self.errorf(format!("error calling {name}: {}", e.message));
        err.function = Some(name.to_string());
        if let Some((msg, inner)) = self.shared.nested_error.take()
            && e.message.ends_with(&msg)
        {
            err.cause = Some(inner);
        }
        err
    }

    fn eval_call(
        &mut self,
        dot: &RV,
        callee: &Callee,
        node: NodeRef<'t>,
        name: &str,
        args: &'t [Arg],
        fin: Option<RV>,
    ) -> EResult<RV> {
        let all_args = args;
        let args = args.get(1..).unwrap_or(&[]);
        let sig = Signature::of(callee);
        let params = &sig;
        let num_in = args.len() + usize::from(fin.is_some());
        let variadic = sig.variadic();
        let num_fixed = if variadic.is_some() {
            if num_in < sig.len() {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    sig.len(),
                    args.len()
                )));
            }
            sig.len()
        } else {
            if num_in != sig.len() {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want {} got {num_in}",
                    sig.len()
                )));
            }
            args.len()
        };

        // `and` and `or` short-circuit and return the deciding argument.
        if let Callee::Builtin(b @ (Builtin::And | Builtin::Or)) = callee {
            let is_or = *b == Builtin::Or;
            let mut v = RV::Invalid;
            for arg in args {
                v = self.eval_arg(dot, ArgTy::RValue, arg)?;
                if builtins::truth(&v) == is_or {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }

        let mut argv: Vec<RV> = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            let v = self.eval_arg(dot, params.get(i), &args[i])?;
            argv.push(v);
            i += 1;
        }
        if let Some(vt) = variadic {
            while i < args.len() {
                let v = self.eval_arg(dot, vt, &args[i])?;
                argv.push(v);
                i += 1;
            }
        }
        if let Some(f) = fin {
            let t = match variadic {
                Some(vt) => {
                    if num_in - 1 < num_fixed {
                        params.get(num_in - 1)
                    } else {
                        vt
                    }
                }
                None => params.get(sig.len().saturating_sub(1)),
            };
            let v = self.validate_type(f, t)?;
            argv.push(v);
        }

        match callee {
            Callee::Builtin(b) => {
                let callee_name = all_args.get(1).map(|a| a.to_string()).unwrap_or_default();
                match b.call(argv, &callee_name) {
                    Ok(v) => {
                        if let RV::Val(s @ Value::String(_)) = &v {
                            self.check_result_size_at(node, s)?;
                        }
                        Ok(v)
                    }
                    Err(msg) => {
                        self.at(node);
                        Err(self.func_error(name, FuncError::new(msg)))
                    }
                }
            }
            Callee::Func(f) => {
                let values: Vec<Value> = argv.iter().map(RV::to_value).collect();
                match f.call(self, &values) {
                    Ok(v) => {
                        self.check_result_size_at(node, &v)?;
                        Ok(RV::from_result(v))
                    }
                    Err(e) => {
                        self.at(node);
                        Err(self.func_error(name, e))
                    }
                }
            }
        }
    }

    /// Go's `validateType`: checks (and converts) an evaluated value against a parameter type.
    fn validate_type(&self, value: RV, typ: ArgTy) -> EResult<RV> {
        let t = match typ {
            ArgTy::Untyped | ArgTy::RValue => return Ok(value),
            ArgTy::Ty(Ty::Any) => return Ok(RV::Iface(value.to_value())),
            ArgTy::Ty(t) => t,
        };
        match value {
            RV::Invalid => {
                if matches!(t, Ty::Map | Ty::List) {
                    Ok(RV::Iface(Value::Nil))
                } else {
                    Err(self.errorf(format!("invalid value; expected {}", t.go_name())))
                }
            }
            RV::Iface(Value::Nil) => Err(self.errorf(format!(
                "wrong type for value; expected {}; got interface {{}}",
                t.go_name()
            ))),
            RV::Iface(Value::Map(m)) | RV::Val(Value::Map(m))
                if t == Ty::Map && m.go_type().is_some() =>
            {
                // A named map type converts to its underlying `map[string]interface {}` (Go's
                // assignability); another map type (`map[string]string`) does not.
                match m.go_type() {
                    Some(g) if !g.assignable_to_generic => Err(self.errorf(format!(
                        "wrong type for value; expected {}; got {}",
                        t.go_name(),
                        g.name
                    ))),
                    _ => Ok(RV::Val(Value::Map(m.untyped()))),
                }
            }
            RV::Iface(v) | RV::Val(v) => {
                let ok = matches!(
                    (t, &v),
                    (Ty::String, Value::String(_))
                        | (Ty::Int, Value::Int(_))
                        | (Ty::Float, Value::Float(_))
                        | (Ty::Bool, Value::Bool(_))
                        | (Ty::Map, Value::Map(_))
                ) || matches!(
                    // A `[]string` (…) is not assignable to `[]interface {}`.
                    (t, &v),
                    (Ty::List, Value::List(l)) if l.go_type() == ListType::Interface
                );
                if ok {
                    Ok(RV::Val(v))
                } else {
                    Err(self.errorf(format!(
                        "wrong type for value; expected {}; got {}",
                        t.go_name(),
                        v.type_name()
                    )))
                }
            }
        }
    }

    /// Go's `evalArg`: evaluates an argument for a parameter of type `typ`.
    fn eval_arg(&mut self, dot: &RV, typ: ArgTy, n: &'t Arg) -> EResult<RV> {
        self.at(NodeRef::Arg(n));
        let v = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match typ {
                    ArgTy::Untyped | ArgTy::RValue => Ok(RV::Invalid),
                    ArgTy::Ty(Ty::Any | Ty::Map | Ty::List) => Ok(RV::Iface(Value::Nil)),
                    ArgTy::Ty(t) => {
                        Err(self.errorf(format!("cannot assign nil to {}", t.go_name())))
                    }
                };
            }
            Arg::Field { idents, .. } => {
                self.at(NodeRef::Arg(n));
                self.eval_field_chain(dot, dot.clone(), n, idents, std::slice::from_ref(n), None)?
            }
            Arg::Variable { .. } => self.eval_variable(dot, n, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { name, callee, .. } => {
                self.at(NodeRef::Arg(n));
                self.eval_call(dot, callee, NodeRef::Arg(n), name, &[], None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, n, &[], None)?,
            literal => return self.eval_literal(typ, literal),
        };
        self.validate_type(v, typ)
    }

    fn eval_literal(&mut self, typ: ArgTy, n: &'t Arg) -> EResult<RV> {
        match typ {
            ArgTy::Ty(Ty::Bool) => match n {
                Arg::Bool { value, .. } => Ok(RV::Val(Value::Bool(*value))),
                _ => Err(self.errorf(format!("expected bool; found {n}"))),
            },
            ArgTy::Ty(Ty::Float) => match n {
                Arg::Number { number, .. } if number.is_float => {
                    Ok(RV::Val(Value::Float(number.float64)))
                }
                _ => Err(self.errorf(format!("expected float; found {n}"))),
            },
            ArgTy::Ty(Ty::Int) => match n {
                Arg::Number { number, .. } if number.is_int => {
                    Ok(RV::Val(Value::Int(number.int64)))
                }
                _ => Err(self.errorf(format!("expected integer; found {n}"))),
            },
            ArgTy::Ty(Ty::String) => match n {
                Arg::String { value, .. } => Ok(RV::Val(value.clone())),
                _ => Err(self.errorf(format!("expected string; found {n}"))),
            },
            ArgTy::Ty(Ty::Any) | ArgTy::RValue | ArgTy::Untyped => match n {
                Arg::Bool { value, .. } => Ok(RV::Val(Value::Bool(*value))),
                Arg::Number { number, .. } => self.ideal_constant(n, number),
                Arg::String { value, .. } => Ok(RV::Val(value.clone())),
                _ => Err(self.errorf(format!(
                    "can't handle assignment of {n} to empty interface argument"
                ))),
            },
            ArgTy::Ty(t) => {
                Err(self.errorf(format!("can't handle {n} for arg of type {}", t.go_name())))
            }
        }
    }

    // Nested executions for functions.

    fn nested_failed(&mut self, e: Box<ExecError>) -> FuncError {
        let msg = e.to_string();
        self.shared.nested_error = Some((msg.clone(), e));
        FuncError::new(msg)
    }

    /// Executes the template `name` of this set into a fresh string (Go's `ExecuteTemplate`).
    fn execute_nested(&mut self, name: &str, data: Value) -> EResult<String> {
        let set = self.set;
        let Some(tmpl) = set.trees.get(name) else {
            return Err(Box::new(no_such_template(name, &set.root_name)));
        };
        self.check_nested_depth()?;
        let tmpl: &'t Tree = tmpl;
        let dot = RV::from_value(data);
        let saved_tree = std::mem::replace(&mut self.tree, tmpl);
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let saved_out = std::mem::take(&mut self.out);
        let saved_node = self.node.take();
        self.shared.depth += 1;
        self.shared.nested_executions += 1;
        let r = self.walk_list(&dot, &tmpl.root);
        self.shared.nested_executions -= 1;
        self.shared.depth -= 1;
        let out = std::mem::replace(&mut self.out, saved_out);
        self.tree = saved_tree;
        self.vars = saved_vars;
        self.node = saved_node;
        r.map(|_| out)
    }

    /// Parses `text` into a copy of the set and executes it (Helm's `tpl`).
    fn parse_and_execute_nested(&mut self, text: &str, data: Value) -> Result<String, FuncError> {
        let name: Arc<str> = if self.set.root_name.is_empty() {
            self.shared.top_name.clone()
        } else {
            self.set.root_name.clone()
        };
        let mut set = self.set.clone();
        let tree = match set.parse(&name, text) {
            Ok(t) => t,
            Err(e) => return Err(FuncError::new(e.to_string())),
        };
        if let Err(e) = self.check_nested_depth() {
            return Err(self.nested_failed(e));
        }
        self.shared.depth += 1;
        self.shared.nested_executions += 1;
        let r = {
            let mut nested = State::new(&set, &tree, data, self.shared);
            nested.run().map(|_| nested.out)
        };
        self.shared.nested_executions -= 1;
        self.shared.depth -= 1;
        r.map_err(|e| self.nested_failed(e))
    }
}

/// Whether `v` has more than `budget` list elements and map entries, counting a shared
/// container as often as it appears; stops past the budget (so it costs at most `budget`).
fn more_elements_than(v: &Value, budget: usize) -> bool {
    let is_container = |x: &&Value| matches!(x, Value::List(_) | Value::Map(_));
    let mut left = budget;
    let mut stack = vec![v.clone()];
    while let Some(v) = stack.pop() {
        let n = match &v {
            Value::List(items) => items.len(),
            Value::Map(m) => m.len(),
            _ => continue,
        };
        if n > left {
            return true;
        }
        left -= n;
        match &v {
            Value::List(items) => stack.extend(items.iter().filter(is_container).cloned()),
            Value::Map(m) => {
                m.with(|entries| stack.extend(entries.values().filter(is_container).cloned()));
            }
            _ => {}
        }
    }
    false
}

impl Set {
    /// Parses `text` as the template `name` and adds its trees with Go's rules; returns the
    /// tree of `name` as parsed (even when an existing definition was kept).
    pub fn parse(&mut self, name: &str, text: &str) -> Result<Arc<Tree>, crate::error::ParseError> {
        let trees = crate::parse::parse(name, text, &self.funcs)?;
        let mut top = None;
        for tree in trees {
            let tree = Arc::new(tree);
            if &*tree.name == name {
                top = Some(tree.clone());
            }
            let keep_old = tree.is_empty() && self.trees.contains_key(&*tree.name);
            if !keep_old {
                self.trees.insert(tree.name.clone(), tree);
            }
        }
        Ok(top.unwrap_or_else(|| {
            Arc::new(Tree {
                name: Arc::from(name),
                parse_name: Arc::from(name),
                text: Arc::from(text),
                root: Vec::new(),
            })
        }))
    }
}

impl Context for State<'_, '_> {
    fn execute_template(&mut self, name: &str, data: Value) -> Result<String, FuncError> {
        match self.execute_nested(name, data) {
            Ok(s) => Ok(s),
            Err(e) => Err(self.nested_failed(e)),
        }
    }

    fn parse_and_execute(&mut self, text: &str, data: Value) -> Result<String, FuncError> {
        self.parse_and_execute_nested(text, data)
    }

    fn random_u64(&mut self) -> u64 {
        funcs::splitmix64(&mut self.shared.rng)
    }

    fn now(&self) -> Timestamp {
        self.shared.options.now
    }

    fn extension(&self) -> Option<&(dyn std::any::Any + Send + Sync)> {
        self.shared.options.extension.as_deref()
    }

    fn max_result_bytes(&self) -> usize {
        self.shared.options.limits.max_output_bytes
    }

    fn include_depth(&mut self, name: &str) -> Option<&mut usize> {
        let depths = &mut self.shared.include_depths;
        if !depths.contains_key(name) {
            depths.insert(name.to_string(), 0);
        }
        depths.get_mut(name)
    }
}
