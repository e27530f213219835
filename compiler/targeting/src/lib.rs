//! Targeting: each service's CEL selector, compiled once, checked against the cluster schema
//! and a cost bound, then evaluated against every cluster.
//!
//! Bounded and panic-free on any input: selectors longer than [`MAX_SELECTOR_BYTES`] are
//! refused before parsing; parsing and checking run on a thread with a large stack, behind
//! `catch_unwind`; evaluation runs behind `catch_unwind` too, and the checker's cost bound
//! ([`check::MAX_COST`]) keeps it small.

pub mod check;
pub mod functions;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use cel::common::ast::{Expr, IdedExpr};
use cel::{Context, Env, Program, Value};
use serde::Serialize;

pub use check::{DataBounds, Problem, Record, Scope, Ty};
use syntax::model::{ClusterName, ClusterSpec, Data, Fleet};

/// Longer selectors are refused.
pub const MAX_SELECTOR_BYTES: usize = 4096;
/// The stack the parser and checker run on (deep expressions recurse in the parser).
const COMPILE_STACK: usize = 64 << 20;

/// A selector that parsed and checked: ready to evaluate on any cluster.
#[derive(Debug)]
pub struct Selector {
    pub text: String,
    /// The checker's bound on its evaluation cost.
    pub cost: u64,
    /// The field chains the selector reads of `cluster` (`["tags", "team"]`; empty is the whole
    /// cluster), or `None` when it uses `cluster` whole.
    pub reads: Option<Vec<Vec<String>>>,
    /// What it is called in messages (`selector`).
    noun: String,
    program: Arc<Program>,
}

impl Selector {
    /// The parsed program (its expression tree and source positions).
    pub fn program(&self) -> &Program {
        &self.program
    }
}

/// The CEL environment every expression is parsed in: the standard library and the strings
/// extension.
pub fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib().with_optional_support(false);
        // The strings extension adds only new names to the standard library.
        let _ = cel::extensions::strings(&mut env);
        Arc::new(env)
    })
    .clone()
}

/// Parses and checks a selector. Problems point at byte ranges of `text`.
pub fn compile(text: &str, bounds: DataBounds) -> Result<Selector, Vec<Problem>> {
    compile_in(text, bounds, &Scope::selector())
}

/// Parses and checks an expression that sees the variables of `scope` (the policy engine's
/// conditions and rules). Problems point at byte ranges of `text`.
pub fn compile_in(text: &str, bounds: DataBounds, scope: &Scope) -> Result<Selector, Vec<Problem>> {
    let noun = scope.noun.clone();
    if text.len() > MAX_SELECTOR_BYTES {
        return Err(vec![Problem {
            code: "cel::limit",
            message: format!(
                "the {noun} is {} bytes long, more than the limit of {MAX_SELECTOR_BYTES}",
                text.len()
            ),
            range: 0..0,
            label: "too long".into(),
            help: Some("split what it tests into tags on the clusters".into()),
        }]);
    }
    let owned = text.to_owned();
    let owned_scope = scope.clone();
    let run = move || {
        catch_unwind(AssertUnwindSafe(|| {
            compile_here(&owned, bounds, &owned_scope)
        }))
        .unwrap_or_else(|_| Err(vec![internal(&owned, &owned_scope.noun)]))
    };
    let joined = std::thread::Builder::new()
        .name("cel-compile".into())
        .stack_size(COMPILE_STACK)
        .spawn(run)
        .map(|h| h.join());
    match joined {
        Ok(Ok(result)) => result,
        _ => Err(vec![internal(text, &noun)]),
    }
}

fn internal(text: &str, noun: &str) -> Problem {
    Problem {
        code: "cel::syntax",
        message: format!("the CEL parser failed on this {noun}"),
        range: 0..text.len(),
        label: "here".into(),
        help: Some(format!("please report this {noun} as a bug")),
    }
}

fn compile_here(text: &str, bounds: DataBounds, scope: &Scope) -> Result<Selector, Vec<Problem>> {
    let program = match env().compile(text) {
        Ok(p) => p,
        Err(errors)
            if errors
                .errors
                .iter()
                .any(|e| e.msg.contains("Recursion limit")) =>
        {
            return Err(vec![Problem {
                code: "cel::limit",
                message: format!("the {} nests deeper than the parser allows", scope.noun),
                range: 0..text.len(),
                label: "too deep".into(),
                help: Some("split it into simpler clauses".into()),
            }]);
        }
        Err(errors) => {
            let first = errors.errors.first().map(|e| {
                let at = char_position_to_byte(text, e.pos.0, e.pos.1);
                let msg = e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg);
                (at, msg.to_owned())
            });
            return Err(syntax_problems(text, &scope.noun, first));
        }
    };
    let checked = check::check_in(
        program.expression(),
        program.source_info(),
        text,
        bounds,
        scope,
    );
    if !checked.problems.is_empty() {
        return Err(checked.problems);
    }
    let mut chains = Vec::new();
    let reads = cluster_reads(program.expression(), &mut chains).then(|| {
        chains.sort();
        chains.dedup();
        chains
    });
    Ok(Selector {
        text: text.to_owned(),
        cost: checked.cost,
        reads,
        noun: scope.noun.clone(),
        program: Arc::new(program),
    })
}

/// The tokens people bring from other languages, what CEL writes instead, and where they are
/// in `text` (outside string literals).
fn foreign_operators(text: &str) -> Vec<(Range<usize>, &'static str, &'static str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'=' => {
                let before = i.checked_sub(1).map(|j| b[j]);
                let after = b.get(i + 1).copied();
                if after == Some(b'=') {
                    i += 2;
                    continue;
                }
                if !matches!(before, Some(b'=' | b'!' | b'<' | b'>')) {
                    out.push((i..i + 1, "=", "=="));
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = (i..b.len())
                    .find(|&j| !(b[j].is_ascii_alphanumeric() || b[j] == b'_'))
                    .unwrap_or(b.len());
                let field = text[..i].trim_end().ends_with('.');
                let word = &text[i..end];
                let instead = match word.to_ascii_lowercase().as_str() {
                    "and" => Some(("and", "&&")),
                    "or" => Some(("or", "||")),
                    "not" => Some(("not", "!")),
                    _ => None,
                };
                if let (false, Some((w, with))) = (field, instead) {
                    out.push((i..end, w, with));
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    out
}

/// What the parser's first error means, in the user's words: operators from other languages
/// (`=`, `and`, `or`, `not`) named with CEL's, and no lists of the grammar's tokens.
fn syntax_problems(text: &str, noun: &str, first: Option<(usize, String)>) -> Vec<Problem> {
    let foreign = foreign_operators(text);
    if !foreign.is_empty() {
        return foreign
            .into_iter()
            .take(5)
            .map(|(range, word, with)| Problem {
                code: "cel::syntax",
                message: format!(
                    "CEL writes `{with}`, not `{}`",
                    text.get(range.clone()).unwrap_or(word)
                ),
                range,
                label: format!("write `{with}` here"),
                help: Some(match word {
                    "=" => "compare with `==`".to_owned(),
                    _ => format!(
                        "CEL's boolean operators are `&&` (and), `||` (or) and `!` (not): write `{with}`"
                    ),
                }),
            })
            .collect();
    }
    let (at, msg) = first.unwrap_or((0, String::new()));
    let at = at.min(text.len());
    let quoted = |m: &str, prefix: &str| -> Option<String> {
        let rest = m.strip_prefix(prefix)?;
        let rest = rest.strip_prefix('\'')?;
        let end = rest.rfind('\'')?;
        Some(rest[..end].to_owned())
    };
    let token = |m: &str, prefix: &str| -> Option<String> {
        let rest = m.strip_prefix(prefix)?.strip_prefix('\'')?;
        let end = rest.find("' expecting").or_else(|| rest.rfind('\''))?;
        Some(rest[..end].to_owned())
    };
    let message = if let Some(t) = quoted(&msg, "token recognition error at: ") {
        format!("unexpected character `{}`", t.trim())
    } else if let Some(t) =
        token(&msg, "mismatched input ").or_else(|| token(&msg, "extraneous input "))
    {
        if t == "<EOF>" {
            format!("the {noun} ends too early")
        } else {
            format!("unexpected `{t}`")
        }
    } else if let Some(t) = quoted(&msg, "no viable alternative at input ") {
        format!("cannot parse `{}`", t.trim())
    } else if let Some(rest) = msg.strip_prefix("missing ") {
        let (what, at_tok) = rest.split_once(" at ").unwrap_or((rest, ""));
        let what = what.trim_matches('\'');
        let at_tok = at_tok.trim_matches('\'');
        if at_tok.is_empty() || at_tok == "<EOF>" {
            format!("missing `{what}` at the end")
        } else {
            format!("missing `{what}` before `{at_tok}`")
        }
    } else {
        let m = msg.split(" expecting ").next().unwrap_or(&msg).trim();
        if m.is_empty() {
            format!("the {noun} does not parse")
        } else {
            m.to_owned()
        }
    };
    let width = text[at..].chars().next().map_or(0, char::len_utf8);
    vec![Problem {
        code: "cel::syntax",
        message: format!("syntax error: {message}"),
        range: at..at + width,
        label: "here".into(),
        help: unbalanced(text),
    }]
}

/// A bracket or quote left open (or closed without opening), as a hint for a syntax error.
fn unbalanced(text: &str) -> Option<String> {
    let mut open: Vec<char> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => open.push(c),
            (None, ')' | ']' | '}') => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if open.pop() != Some(want) {
                    return Some(format!("a `{c}` closes nothing"));
                }
            }
            _ => {}
        }
        escaped = false;
    }
    if let Some(q) = quote {
        return Some(format!("a string opened with `{q}` is not closed"));
    }
    open.last().map(|c| format!("a `{c}` is not closed"))
}

/// Collects the chains of fields the expression selects from `cluster`; false when it uses
/// `cluster` otherwise (whole, or shadowed by a comprehension variable). Runs on the compile
/// thread's large stack, like the checker.
fn cluster_reads(e: &IdedExpr, out: &mut Vec<Vec<String>>) -> bool {
    match &e.expr {
        Expr::Select(sel) => {
            let mut fields = vec![sel.field.clone()];
            let mut at = &sel.operand;
            loop {
                match &at.expr {
                    Expr::Select(inner) => {
                        fields.push(inner.field.clone());
                        at = &inner.operand;
                    }
                    Expr::Ident(name) if name == "cluster" => {
                        fields.reverse();
                        out.push(fields);
                        return true;
                    }
                    _ => return cluster_reads(at, out),
                }
            }
        }
        Expr::Ident(name) => name != "cluster",
        Expr::Call(call) => {
            call.target.as_deref().is_none_or(|t| cluster_reads(t, out))
                && call.args.iter().all(|a| cluster_reads(a, out))
        }
        Expr::List(list) => list.elements.iter().all(|a| cluster_reads(a, out)),
        Expr::Map(map) => map.entries.iter().all(|entry| match &entry.expr {
            cel::common::ast::EntryExpr::MapEntry(me) => {
                cluster_reads(&me.key, out) && cluster_reads(&me.value, out)
            }
            cel::common::ast::EntryExpr::StructField(f) => cluster_reads(&f.value, out),
        }),
        Expr::Struct(st) => st.entries.iter().all(|entry| match &entry.expr {
            cel::common::ast::EntryExpr::MapEntry(me) => {
                cluster_reads(&me.key, out) && cluster_reads(&me.value, out)
            }
            cel::common::ast::EntryExpr::StructField(f) => cluster_reads(&f.value, out),
        }),
        Expr::Comprehension(c) => {
            let shadows = c.iter_var == "cluster"
                || c.iter_var2.as_deref() == Some("cluster")
                || c.accu_var == "cluster";
            !shadows
                && [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ]
                .into_iter()
                .all(|x| cluster_reads(x, out))
        }
        Expr::Literal(_) | Expr::Unspecified => true,
    }
}

/// The byte offset of a 1-based line and 1-based character column.
fn char_position_to_byte(text: &str, line: isize, col: isize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as isize + 1 == line {
            let col = usize::try_from(col - 1).unwrap_or(0);
            return offset + l.char_indices().nth(col).map_or(l.len(), |(b, _)| b);
        }
        offset += l.len();
    }
    text.len()
}

/// The bounds on cluster data sizes the checker assumes, measured on the fleet.
pub fn data_bounds(fleet: &Fleet) -> DataBounds {
    fn data(d: &Data) -> u64 {
        match d {
            Data::String(s) => s.len() as u64,
            Data::List(l) => l.iter().map(data).fold(l.len() as u64, u64::max),
            Data::Map(m) => m
                .iter()
                .map(|(k, v)| data(v).max(k.len() as u64))
                .fold(m.len() as u64, u64::max),
            _ => 1,
        }
    }
    let mut max = 1u64;
    for c in fleet.clusters.values() {
        for s in [c.name.as_str(), &c.provider, &c.region, &c.environment] {
            max = max.max(s.len() as u64);
        }
        max = max.max(c.tags.len() as u64).max(c.metadata.len() as u64);
        for (k, v) in &c.tags {
            max = max.max(k.len() as u64).max(v.len() as u64);
        }
        for (k, v) in &c.metadata {
            max = max.max(k.len() as u64).max(data(v));
        }
    }
    DataBounds { max_len: max }
}

/// A cluster as CEL sees it: `cluster.name`, `.provider`, `.region`, `.environment`,
/// `.tags`, `.metadata`.
pub fn cluster_value(c: &ClusterSpec) -> Value {
    let tags: HashMap<String, Value> = c
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
        .collect();
    let metadata: HashMap<String, Value> = c
        .metadata
        .iter()
        .map(|(k, v)| (k.clone(), data_value(v)))
        .collect();
    let mut m: HashMap<String, Value> = HashMap::new();
    m.insert("name".into(), Value::from(c.name.as_str().to_owned()));
    m.insert("provider".into(), Value::from(c.provider.clone()));
    m.insert("region".into(), Value::from(c.region.clone()));
    m.insert("environment".into(), Value::from(c.environment.clone()));
    m.insert("tags".into(), Value::from(tags));
    m.insert("metadata".into(), Value::from(metadata));
    if let Some(k) = &c.kubernetes {
        m.insert("kubernetes".into(), data_value(&k.to_data()));
    }
    Value::from(m)
}

fn data_value(d: &Data) -> Value {
    match d {
        Data::Null => Value::Null,
        Data::Bool(b) => Value::Bool(*b),
        Data::Int(i) => Value::Int(*i),
        Data::Float(f) => Value::Float(*f),
        Data::String(s) => Value::from(s.clone()),
        Data::List(l) => Value::List(Arc::new(l.iter().map(data_value).collect())),
        Data::Map(m) => Value::from(
            m.iter()
                .map(|(k, v)| (k.clone(), data_value(v)))
                .collect::<HashMap<String, Value>>(),
        ),
    }
}

/// What a selector said about one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result", content = "error")]
pub enum Outcome {
    Selected,
    NotSelected,
    /// Evaluation failed (a missing metadata key, a bad argument) or did not give a bool.
    Error(String),
}

/// Evaluates selectors on clusters: the CEL context with the functions, built once.
pub struct Evaluator {
    root: Context<'static, 'static>,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Evaluator")
    }
}

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator::new()
    }
}

impl Evaluator {
    pub fn new() -> Evaluator {
        let mut root = Context::with_env(env());
        // The names are not in the standard library, so registration cannot conflict.
        let _ = functions::register(&mut root);
        Evaluator { root }
    }

    /// The CEL context with the functions, to evaluate many expressions in one scope (bind
    /// variables once with `new_inner_scope` and `add_variable_from_value`: binding converts
    /// the whole value, so it is worth doing once for many expressions).
    pub fn context(&self) -> &Context<'static, 'static> {
        &self.root
    }

    /// Evaluates `expr` (the whole expression or a clause of it) with the given variables.
    fn value(&self, expr: &IdedExpr, vars: &[(&str, &Value)], noun: &str) -> Result<Value, String> {
        let run = || {
            let mut scope = self.root.new_inner_scope();
            for (name, value) in vars {
                scope.add_variable_from_value(*name, (*value).clone());
            }
            scope.resolve(expr)
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(lower_first(&e.to_string())),
            Err(_) => Err(format!("the CEL interpreter failed on this {noun}")),
        }
    }

    /// The value of a compiled expression with the variables of its scope.
    pub fn value_with(
        &self,
        selector: &Selector,
        vars: &[(&str, &Value)],
    ) -> Result<Value, String> {
        self.value(selector.program.expression(), vars, &selector.noun)
    }

    /// Whether the selector selects the cluster.
    pub fn eval(&self, selector: &Selector, cluster: &Value) -> Outcome {
        self.eval_with(selector, &[("cluster", cluster)])
    }

    /// Whether a bool expression holds with the given variables.
    pub fn eval_with(&self, selector: &Selector, vars: &[(&str, &Value)]) -> Outcome {
        match self.value_with(selector, vars) {
            Ok(Value::Bool(true)) => Outcome::Selected,
            Ok(Value::Bool(false)) => Outcome::NotSelected,
            Ok(other) => Outcome::Error(format!(
                "the {} gave {} {}, not a bool",
                selector.noun,
                article(&other.type_of().to_string()),
                other.type_of()
            )),
            Err(e) => Outcome::Error(e),
        }
    }

    /// Why a selector fails with these variables: the smallest sub-expression that fails (its
    /// operands all evaluate), and what kind of failure it is. `None` when it does not fail.
    pub fn locate(&self, selector: &Selector, vars: &[(&str, &Value)]) -> Option<Failure> {
        let run = || {
            let mut scope = self.root.new_inner_scope();
            for (name, value) in vars {
                scope.add_variable_from_value(*name, (*value).clone());
            }
            let mut at = selector.program.expression();
            let mut err = scope.resolve(at).err()?;
            // Bounded by the checker's depth limit; comprehensions are not entered (their
            // bodies need the loop's variables).
            for _ in 0..=check::MAX_DEPTH {
                let next = failing_operand(at, &scope);
                match next {
                    Some((child, e)) => {
                        at = child;
                        err = e;
                    }
                    None => break,
                }
            }
            Some(describe(at, &err, &scope, selector))
        };
        catch_unwind(AssertUnwindSafe(run)).ok().flatten()
    }

    /// Evaluates each top-level clause of the selector on the cluster, to show which decided.
    pub fn explain(&self, selector: &Selector, cluster: &Value) -> Explanation {
        self.explain_with(selector, &[("cluster", cluster)])
    }

    /// Evaluates each top-level clause of a bool expression, to show which decided.
    pub fn explain_with(&self, selector: &Selector, vars: &[(&str, &Value)]) -> Explanation {
        let outcome = self.eval_with(selector, vars);
        let root = selector.program.expression();
        let (op, parts) = clauses(root);
        let decisive = match op {
            Some("&&") => Some(false),
            Some("||") => Some(true),
            _ => None,
        };
        let mut decided = false;
        let clauses = parts
            .iter()
            .map(|part| {
                let value = match self.value(part, vars, &selector.noun) {
                    Ok(Value::Bool(b)) => ClauseValue::Bool(b),
                    Ok(v) => ClauseValue::Other(format!("{v:?}")),
                    Err(e) => ClauseValue::Error(e),
                };
                let decides = !decided
                    && match (&value, decisive) {
                        (ClauseValue::Bool(b), Some(d)) => *b == d,
                        (ClauseValue::Bool(_), None) => true,
                        _ => false,
                    };
                decided |= decides;
                let range = expr_range(part, selector);
                Clause {
                    text: selector.text.get(range).unwrap_or("").trim().to_owned(),
                    value,
                    decides,
                }
            })
            .collect();
        Explanation {
            outcome,
            op: op.map(str::to_owned),
            clauses,
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Where and why a selector failed on a cluster ([`Evaluator::locate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The byte range of the failing sub-expression in the selector.
    pub range: Range<usize>,
    /// What went wrong, in words that do not depend on the cluster's values (so one failure
    /// on many clusters is told once).
    pub message: String,
    /// The value that made it fail on this cluster (`"1.x"`), when there is one to show.
    pub value: Option<String>,
    pub kind: FailureKind,
}

/// The kinds of run-time failure, each with its own advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// A map has no such key. `map` is the chain of fields from `cluster` to the map
    /// (`["tags"]`, `["metadata", "dns"]`), when it is one.
    MissingKey {
        key: String,
        map: Option<Vec<String>>,
    },
    /// An operator or function got values of types it does not take (metadata values are
    /// typed only when the selector runs).
    Type,
    /// A function refused the value of its argument: a version, an address, a prefix or a
    /// regex that does not parse.
    Argument {
        function: String,
    },
    Other,
}

/// The first operand of `e` that fails, with its error: the operands `e`'s evaluation
/// depends on (for `c ? a : b`, the condition and then the branch it takes).
fn failing_operand<'e>(
    e: &'e IdedExpr,
    scope: &Context<'_, '_>,
) -> Option<(&'e IdedExpr, cel::ExecutionError)> {
    let children: Vec<&IdedExpr> = match &e.expr {
        Expr::Call(c) if c.func_name == "_?_:_" && c.args.len() == 3 => {
            match scope.resolve(&c.args[0]) {
                Ok(Value::Bool(true)) => vec![&c.args[1]],
                Ok(Value::Bool(false)) => vec![&c.args[2]],
                _ => vec![&c.args[0]],
            }
        }
        Expr::Call(c) => c.target.iter().map(|t| &**t).chain(c.args.iter()).collect(),
        Expr::Select(sel) if !sel.test => vec![&sel.operand],
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                cel::common::ast::EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
                cel::common::ast::EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        _ => Vec::new(),
    };
    children
        .into_iter()
        .find_map(|child| scope.resolve(child).err().map(|err| (child, err)))
}

/// The chain of fields an expression selects from `cluster` (`cluster.tags` is `["tags"]`).
fn chain_from_cluster(e: &IdedExpr) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut at = e;
    loop {
        match &at.expr {
            Expr::Select(sel) if !sel.test => {
                fields.push(sel.field.clone());
                at = &sel.operand;
            }
            Expr::Call(c) if c.func_name == "_[_]" && c.args.len() == 2 => {
                match &c.args[1].expr {
                    Expr::Literal(cel::common::ast::LiteralValue::String(k)) => {
                        fields.push(k.to_string());
                    }
                    _ => return None,
                }
                at = &c.args[0];
            }
            Expr::Ident(name) if name == "cluster" => {
                fields.reverse();
                return Some(fields);
            }
            _ => return None,
        }
    }
}

/// A value as a selector would write it, for messages (`"1.x"`, `42`), or its type.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.as_str()),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => format!("{u}u"),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        other => format!("a {}", type_name(other)),
    }
}

/// A value's type as CEL names it.
fn type_name(v: &Value) -> String {
    match v {
        Value::Float(_) => "double".to_owned(),
        Value::Null => "null_type".to_owned(),
        Value::Opaque(o) => o.runtime_type_name().to_owned(),
        other => other.type_of().to_string(),
    }
}

fn describe(
    at: &IdedExpr,
    err: &cel::ExecutionError,
    scope: &Context<'_, '_>,
    selector: &Selector,
) -> Failure {
    use cel::ExecutionError as E;
    let range = expr_range(at, selector);
    let operands: Vec<&IdedExpr> = match &at.expr {
        Expr::Call(c) => c.target.iter().map(|t| &**t).chain(c.args.iter()).collect(),
        _ => Vec::new(),
    };
    let (message, value, kind) = match err {
        E::NoSuchKey(key) => {
            let map = match &at.expr {
                Expr::Select(sel) => chain_from_cluster(&sel.operand),
                Expr::Call(c) if c.func_name == "_[_]" => {
                    c.args.first().and_then(chain_from_cluster)
                }
                _ => None,
            };
            let message = match &map {
                Some(chain) if chain.is_empty() => format!("`cluster` has no field `{key}`"),
                Some(chain) => format!("`cluster.{}` has no key `{key}`", chain.join(".")),
                None => format!("no such key `{key}`"),
            };
            let kind = FailureKind::MissingKey {
                key: key.to_string(),
                map,
            };
            (message, None, kind)
        }
        E::FunctionError { function, message }
            if matches!(function.as_str(), "semver" | "ip" | "cidr" | "matches") =>
        {
            let what = match function.as_str() {
                "semver" => "not a semantic version",
                "ip" => "not an IP address",
                "cidr" => "not a CIDR",
                _ => "not a valid regex",
            };
            // The argument that did not parse: the pattern of `matches`, else the first.
            let arg = match (&at.expr, function.as_str()) {
                (Expr::Call(c), "matches") if c.target.is_some() => c.args.first(),
                (Expr::Call(c), "matches") => c.args.get(1),
                (Expr::Call(c), _) => c.args.first(),
                _ => None,
            };
            let given = arg.and_then(|a| scope.resolve(a).ok());
            // A regex's value says why it does not compile.
            let why = match (&given, function.as_str()) {
                (Some(Value::String(re)), "matches") => functions::check_regex(re)
                    .err()
                    .map(|w| format!(": {w}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let value = given.map(|v| format!("{}{why}", show(&v)));
            let _ = message;
            (
                format!("`{function}` was given a value that is {what}"),
                value,
                FailureKind::Argument {
                    function: function.clone(),
                },
            )
        }
        E::UnsupportedBinaryOperator(op, a, b) => (
            format!(
                "`{op}` does not apply to {} and {}",
                type_name(a),
                type_name(b)
            ),
            Some(format!("{} and {}", show(a), show(b))),
            FailureKind::Type,
        ),
        E::ValuesNotComparable(a, b) => (
            format!("{} and {} cannot be compared", type_name(a), type_name(b)),
            Some(format!("{} and {}", show(a), show(b))),
            FailureKind::Type,
        ),
        E::NoSuchOverload(o) => {
            let values: Vec<String> = operands
                .iter()
                .filter_map(|e| scope.resolve(e).ok())
                .map(|v| show(&v))
                .collect();
            let name = o.function().trim_matches('_');
            let name = if name.is_empty() { o.function() } else { name };
            (
                format!(
                    "`{name}` does not apply to {}",
                    o.argument_types()
                        .iter()
                        .map(|t| if t == "float" { "double" } else { t.as_str() })
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                (!values.is_empty()).then(|| values.join(" and ")),
                FailureKind::Type,
            )
        }
        E::UnexpectedType { got, want } => (
            format!("expected {want}, found {got}"),
            None,
            FailureKind::Type,
        ),
        E::UnsupportedIndex(index, on) => (
            format!(
                "a {} cannot be indexed with {}",
                type_name(on),
                type_name(index)
            ),
            Some(show(index)),
            FailureKind::Type,
        ),
        other => (lower_first(&other.to_string()), None, FailureKind::Other),
    };
    Failure {
        range,
        message,
        value,
        kind,
    }
}

/// A run-time failure of a selector, told once for every cluster it happened on.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureReport {
    /// The failure (its value is the first cluster's).
    pub failure: Failure,
    /// The clusters it failed on, each with the value that made it fail there.
    pub clusters: Vec<(ClusterName, Option<String>)>,
    /// What to do about it, chosen by the kind of failure.
    pub help: Option<String>,
}

impl FailureReport {
    /// `on clusters `a`, `b`: <what went wrong>`, with the values that made it fail.
    pub fn describe(&self) -> String {
        let names: Vec<String> = self
            .clusters
            .iter()
            .map(|(c, _)| format!("`{c}`"))
            .collect();
        let mut out = format!(
            "on {} {}: {}",
            if names.len() == 1 {
                "cluster"
            } else {
                "clusters"
            },
            names.join(", "),
            self.failure.message
        );
        let values: std::collections::BTreeSet<&str> = self
            .clusters
            .iter()
            .filter_map(|(_, v)| v.as_deref())
            .collect();
        match values.len() {
            0 => {}
            1 => {
                out.push_str(" (");
                out.push_str(values.first().copied().unwrap_or_default());
                out.push(')');
            }
            _ => {
                let each: Vec<String> = self
                    .clusters
                    .iter()
                    .filter_map(|(c, v)| Some(format!("`{c}`: {}", v.as_deref()?)))
                    .collect();
                out.push_str(&format!(" ({})", each.join(", ")));
            }
        }
        out
    }

    /// The label under the failing sub-expression.
    pub fn label(&self) -> String {
        match &self.failure.kind {
            FailureKind::MissingKey { key, .. } => format!("no `{key}` here"),
            FailureKind::Type => "the types do not match".to_owned(),
            FailureKind::Argument { .. } => "refuses its argument".to_owned(),
            FailureKind::Other => "fails here".to_owned(),
        }
    }
}

/// Groups the failures of a selector on the clusters it failed on (`failed`: each cluster
/// and its error) by where and how it failed, with advice chosen by the kind of failure and
/// the keys the fleet's clusters have.
pub fn report_failures(
    selector: &Selector,
    fleet: &Fleet,
    failed: &[(&ClusterName, &str)],
) -> Vec<FailureReport> {
    let evaluator = Evaluator::new();
    let whole = 0..selector.text.trim_end().len();
    let mut failed = failed.to_vec();
    failed.sort_by(|a, b| a.0.cmp(b.0));
    let mut reports: Vec<FailureReport> = Vec::new();
    for (name, error) in failed {
        let failure = fleet
            .clusters
            .get(name)
            .and_then(|c| evaluator.locate(selector, &[("cluster", &cluster_value(c))]))
            .unwrap_or_else(|| Failure {
                range: whole.clone(),
                message: error.to_owned(),
                value: None,
                kind: FailureKind::Other,
            });
        let value = failure.value.clone();
        match reports.iter_mut().find(|r| {
            r.failure.range == failure.range
                && r.failure.message == failure.message
                && r.failure.kind == failure.kind
        }) {
            Some(r) => r.clusters.push((name.clone(), value)),
            None => reports.push(FailureReport {
                help: failure_help(&failure, fleet, &selector.noun),
                failure,
                clusters: vec![(name.clone(), value)],
            }),
        }
    }
    reports
}

fn failure_help(failure: &Failure, fleet: &Fleet, noun: &str) -> Option<String> {
    match &failure.kind {
        FailureKind::MissingKey {
            key,
            map: Some(chain),
        } => {
            let keys = keys_at(fleet, chain);
            let path = if chain.is_empty() {
                "cluster".to_owned()
            } else {
                format!("cluster.{}", chain.join("."))
            };
            if let Some(s) = syntax::diag::suggest(key, keys.iter().map(String::as_str)) {
                return Some(format!("did you mean `{path}.{s}`?"));
            }
            if keys.iter().any(|k| k == key) {
                return Some(format!(
                    "`{path}.{key}` is set on some clusters only: guard it with `has(...)`, e.g. \
                     `has({path}.{key}) && {path}.{key} == ...`"
                ));
            }
            let seen = if keys.is_empty() {
                String::new()
            } else {
                let shown: Vec<String> = keys.iter().take(12).map(|k| format!("`{k}`")).collect();
                format!(
                    "; the keys found there are {}{}",
                    shown.join(", "),
                    if keys.len() > 12 { ", …" } else { "" }
                )
            };
            Some(format!("no cluster of the fleet sets `{path}.{key}`{seen}"))
        }
        FailureKind::MissingKey { map: None, .. } => Some(format!(
            "guard optional data with `has(...)`, e.g. `has(cluster.metadata.x) && \
             cluster.metadata.x == 1`, or check the key's spelling in the {noun}"
        )),
        FailureKind::Type => Some(
            "metadata values keep the type they have in the cluster file (`42` is an int, \
             `\"42\"` a string, `1.5` a double): convert with `int(...)`, `double(...)` or \
             `string(...)`, or fix the value in the cluster file"
                .to_owned(),
        ),
        FailureKind::Argument { function } => {
            Some(match function.as_str() {
                "semver" => "fix the version in the cluster file, or test it first with \
                         `isSemver(...)`; `semver(s, true)` also accepts a `v` prefix, leading \
                         zeros and a missing minor or patch number"
                    .to_owned(),
                "ip" => "fix the address in the cluster file, or test it first with `isIP(...)`"
                    .to_owned(),
                "cidr" => "fix the prefix in the cluster file, or test it first with `isCIDR(...)`"
                    .to_owned(),
                _ => "the regex comes from the cluster's data: it must be RE2 syntax".to_owned(),
            })
        }
        FailureKind::Other => None,
    }
}

/// The keys found at a chain of fields (`["tags"]`) on any of the fleet's clusters, sorted.
pub fn keys_at(fleet: &Fleet, chain: &[String]) -> Vec<String> {
    let mut keys: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for c in fleet.clusters.values() {
        let data = c.to_data();
        let mut at = Some(&data);
        for field in chain {
            at = match at {
                Some(Data::Map(m)) => m.get(field),
                _ => None,
            };
        }
        if let Some(Data::Map(m)) = at {
            keys.extend(m.keys().cloned());
        }
    }
    keys.into_iter().collect()
}

/// The top-level clauses of a chain of `&&` (or of `||`), flattened.
fn clauses(root: &IdedExpr) -> (Option<&'static str>, Vec<&IdedExpr>) {
    let op = match &root.expr {
        Expr::Call(c) if c.func_name == "_&&_" && c.target.is_none() => "_&&_",
        Expr::Call(c) if c.func_name == "_||_" && c.target.is_none() => "_||_",
        _ => return (None, vec![root]),
    };
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(e) = stack.pop() {
        match &e.expr {
            Expr::Call(c) if c.func_name == op && c.target.is_none() => {
                for a in c.args.iter().rev() {
                    stack.push(a);
                }
            }
            _ => out.push(e),
        }
    }
    (Some(if op == "_&&_" { "&&" } else { "||" }), out)
}

/// The byte range of the text an expression was written as.
fn expr_range(e: &IdedExpr, selector: &Selector) -> Range<usize> {
    let info = selector.program.source_info();
    let mut lo = usize::MAX;
    let mut hi = 0usize;
    let mut stack = vec![e];
    let mut seen = 0;
    while let Some(e) = stack.pop() {
        seen += 1;
        if seen > 10_000 {
            break;
        }
        if let Some((s, t)) = info.offset_for(e.id) {
            lo = lo.min(s as usize);
            hi = hi.max(t as usize + 1);
        }
        match &e.expr {
            Expr::Call(c) => {
                stack.extend(c.target.as_deref());
                stack.extend(c.args.iter());
            }
            Expr::Select(s) => stack.push(&s.operand),
            Expr::List(l) => stack.extend(l.elements.iter()),
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        stack.push(&me.key);
                        stack.push(&me.value);
                    }
                }
            }
            Expr::Comprehension(c) => {
                stack.push(&c.iter_range);
                stack.push(&c.loop_step);
            }
            _ => {}
        }
    }
    if lo == usize::MAX {
        return 0..selector.text.len();
    }
    let text = &selector.text;
    let mut lo = lo.min(text.len());
    // A global call (`has(...)`, `semver(...)`) is known by its `(`: take in its name.
    while lo > 0
        && text.is_char_boundary(lo - 1)
        && text[lo - 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        lo -= 1;
    }
    let mut hi = hi.clamp(lo, text.len());
    // A clause ending in a call or a group ends at its closing bracket, which is no node.
    let mut depth: i32 = 0;
    let mut quote: Option<char> = None;
    let mut step = |ch: char, depth: &mut i32| match (quote, ch) {
        (Some(q), c) if c == q => quote = None,
        (Some(_), _) => {}
        (None, '\'' | '"') => quote = Some(ch),
        (None, '(' | '[' | '{') => *depth += 1,
        (None, ')' | ']' | '}') => *depth -= 1,
        _ => {}
    };
    for ch in text[lo..hi].chars() {
        step(ch, &mut depth);
    }
    let start_hi = hi;
    for (i, ch) in text[start_hi..].char_indices() {
        if depth <= 0 {
            break;
        }
        step(ch, &mut depth);
        hi = start_hi + i + ch.len_utf8();
    }
    // A clause ending in a field selection (`"x" in principal.groups`) is known by its `.`:
    // take in the field's name.
    if text[lo..hi].ends_with('.') {
        let rest = &text[hi..];
        let name = rest.trim_start();
        let skipped = rest.len() - name.len();
        let len = name
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(name.len());
        hi += skipped + len;
    }
    lo..hi
}

/// How a selector decided about one cluster, clause by clause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub outcome: Outcome,
    /// `&&` or `||` when the selector is a chain of them.
    pub op: Option<String>,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clause {
    pub text: String,
    pub value: ClauseValue,
    /// The first clause whose value settled the chain.
    pub decides: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ClauseValue {
    Bool(bool),
    Other(String),
    Error(String),
}

/// The outcome of every selector on every cluster, per selector in the order of
/// `fleet.clusters`. A selector that reads only some fields of `cluster` is evaluated once per
/// distinct value of those fields.
pub fn evaluate_all<'s>(
    selectors: impl IntoIterator<Item = (&'s str, &'s Selector)>,
    fleet: &Fleet,
) -> BTreeMap<String, Vec<Outcome>> {
    use rayon::prelude::*;
    let clusters: Vec<(&ClusterName, &syntax::model::ClusterSpec, Data)> = fleet
        .clusters
        .par_iter()
        .map(|(n, c)| (n, c, c.to_data()))
        .collect();
    // Each cluster's CEL value, made when a selector first needs it.
    let values: Vec<std::sync::OnceLock<Value>> = clusters
        .iter()
        .map(|_| std::sync::OnceLock::new())
        .collect();
    let selectors: Vec<(&str, &Selector)> = selectors.into_iter().collect();
    // For each distinct set of chains the selectors read: each cluster's projection on it,
    // numbered (clusters that agree on the fields share a number), and how many there are.
    let mut projections: HashMap<&Vec<Vec<String>>, (Vec<u32>, usize)> = HashMap::new();
    for (_, selector) in &selectors {
        if let Some(chains) = &selector.reads {
            projections.entry(chains).or_insert_with(|| {
                let digests: Vec<syntax::model::Digest> = clusters
                    .par_iter()
                    .map(|(_, _, d)| syntax::model::projection(chains, d))
                    .collect();
                let mut ids: HashMap<syntax::model::Digest, u32> = HashMap::new();
                let numbered = digests
                    .iter()
                    .map(|d| {
                        let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                        *ids.entry(*d).or_insert(next)
                    })
                    .collect();
                (numbered, ids.len())
            });
        }
    }
    let per_selector: Vec<(&str, Vec<Outcome>)> = selectors
        .par_iter()
        .map_init(Evaluator::new, |evaluator, (service, selector)| {
            let eval = |i: usize| {
                let v = values[i].get_or_init(|| cluster_value(clusters[i].1));
                evaluator.eval(selector, v)
            };
            let per: Vec<Outcome> = match selector.reads.as_ref().and_then(|c| projections.get(c)) {
                Some((ids, distinct)) => {
                    let mut memo: Vec<Option<Outcome>> = vec![None; *distinct];
                    ids.iter()
                        .enumerate()
                        .map(|(i, &id)| match memo.get_mut(id as usize) {
                            Some(slot) => slot.get_or_insert_with(|| eval(i)).clone(),
                            None => eval(i),
                        })
                        .collect()
                }
                None => (0..clusters.len()).map(eval).collect(),
            };
            (*service, per)
        })
        .collect();
    per_selector
        .into_iter()
        .map(|(service, per)| (service.to_owned(), per))
        .collect()
}
