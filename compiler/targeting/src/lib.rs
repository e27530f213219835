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
            return Err(errors
                .errors
                .iter()
                .take(5)
                .map(|e| {
                    let at = char_position_to_byte(text, e.pos.0, e.pos.1);
                    let msg = e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg);
                    let lone_equals = text
                        .get(at..)
                        .is_some_and(|r| r.starts_with('=') && !r.starts_with("=="))
                        && !text
                            .get(..at)
                            .is_some_and(|b| b.ends_with(['=', '!', '<', '>']));
                    Problem {
                        code: "cel::syntax",
                        message: format!("syntax error: {msg}"),
                        range: at..at,
                        label: "here".into(),
                        help: lone_equals.then(|| "compare with `==`".to_owned()),
                    }
                })
                .collect());
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
