//! CEL in policies: the variables each kind of expression sees, compiling every expression once
//! through the compiler's targeting (parser, checker, cost bound), and evaluating it within a
//! cost limit.
//!
//! The cost limit: the checker bounds an expression's evaluation cost as a function of the
//! size of the data it may meet. At load time an expression is checked with the default bound
//! (64, as selectors); then the largest input bound under which its cost stays within
//! [`MAX_COST`] is computed once ([`Expr::max_input`]). At evaluation, an input with a larger
//! list or map (an object with a 5,000-entry list under a rule with nested comprehensions) is
//! not evaluated: the caller gets an error, and the policy fails closed.
//!
//! Only list and map sizes count towards the input bound: they multiply (comprehensions),
//! while string operations are linear in the string. Strings are bounded on their own: an
//! object with a string longer than [`MAX_STRING`] (Kubernetes refuses objects of more than
//! 1.5 MiB) is refused. So one evaluation takes at most `MAX_COST` steps, each at most linear in
//! a string of at most `MAX_STRING` bytes, and a large ConfigMap is no problem for a rule that
//! only reads its `kind`.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr as Ast, IdedExpr, LiteralValue};
use cel::common::types;
use cel::common::value::Val;
use cel::{Context, Value};
use targeting::check::{self, MAX_COST};
use targeting::{
    self, DataBounds, Evaluator, Explanation, Outcome, Problem, Record, Scope, Selector, Ty,
};

/// Where an expression is written, which decides what it sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// A role's `when`: `principal`, `cluster`, `service`, `action`; a bool.
    When,
    /// A manifest rule's `match`: `object`, `cluster`, `release`; a bool.
    Match,
    /// A manifest rule's `validate`: as `match`.
    Validate,
    /// A `{{ ... }}` in a rule's message: as `match`, any type.
    Message,
}

impl Place {
    /// The variables and the noun used in messages.
    pub fn scope(self) -> Scope {
        let s = || Ty::String;
        let (noun, variables, want_bool) = match self {
            Place::When => (
                "`when` condition",
                vec![
                    ("principal", Ty::Record(Arc::new(principal_record()))),
                    ("cluster", Ty::Cluster),
                    (
                        "service",
                        Ty::Record(Arc::new(Record::new(
                            "service",
                            &[("name", s()), ("team", s())],
                        ))),
                    ),
                    ("action", s()),
                ],
                true,
            ),
            Place::Match | Place::Validate | Place::Message => (
                match self {
                    Place::Match => "`match` expression",
                    Place::Validate => "`validate` expression",
                    _ => "message expression",
                },
                vec![
                    ("object", Ty::Dyn),
                    ("cluster", Ty::Cluster),
                    (
                        "release",
                        Ty::Record(Arc::new(Record::new(
                            "release",
                            &[("name", s()), ("namespace", s()), ("service", s())],
                        ))),
                    ),
                ],
                self != Place::Message,
            ),
        };
        Scope {
            noun: noun.into(),
            variables: variables
                .into_iter()
                .map(|(n, t)| (n.to_owned(), t))
                .collect(),
            want_bool,
        }
    }
}

fn principal_record() -> Record {
    Record::new(
        "principal",
        &[
            ("name", Ty::String),
            ("kind", Ty::String),
            ("groups", Ty::List(Box::new(Ty::String))),
        ],
    )
}

/// A compiled, checked expression.
#[derive(Debug)]
pub struct Expr {
    pub text: String,
    pub place: Place,
    /// The checker's cost bound with the default input bound.
    pub cost: u64,
    /// The largest input bound (longest list or map) under which the cost bound stays within
    /// [`MAX_COST`].
    pub max_input: u64,
    /// The variables it reads.
    pub uses: BTreeSet<String>,
    /// What it is called in messages.
    noun: String,
    selector: Selector,
}

/// Upper end of the search for [`Expr::max_input`]: inputs beyond it are refused anyway.
const MAX_INPUT: u64 = 1 << 32;

/// Parses and checks an expression. Problems point at byte ranges of `text`.
pub fn compile(text: &str, place: Place) -> Result<Expr, Vec<Problem>> {
    let scope = place.scope();
    let selector = targeting::compile_in(text, DataBounds::default(), &scope)?;
    let cost_at = |max_len: u64| {
        let p = selector.program();
        check::check_in(
            p.expression(),
            p.source_info(),
            text,
            DataBounds { max_len },
            &scope,
        )
        .cost
    };
    // The cost is monotone in the bound: double, then bisect.
    let mut lo = DataBounds::default().max_len;
    let mut hi = lo;
    while hi < MAX_INPUT && cost_at(hi.saturating_mul(2)) <= MAX_COST {
        hi = hi.saturating_mul(2);
    }
    if hi >= MAX_INPUT {
        lo = MAX_INPUT;
    } else {
        lo = lo.max(hi);
        let mut top = hi.saturating_mul(2);
        for _ in 0..16 {
            if top - lo <= 1 {
                break;
            }
            let mid = lo + (top - lo) / 2;
            if cost_at(mid) <= MAX_COST {
                lo = mid;
            } else {
                top = mid;
            }
        }
    }
    let mut uses = BTreeSet::new();
    idents(selector.program().expression(), &mut uses);
    Ok(Expr {
        text: text.to_owned(),
        place,
        cost: selector.cost,
        max_input: lo,
        uses,
        noun: scope.noun.clone(),
        selector,
    })
}

fn is_object_kind(e: &IdedExpr) -> bool {
    matches!(&e.expr, Ast::Select(s) if !s.test && s.field == "kind"
        && matches!(&s.operand.expr, Ast::Ident(n) if n == "object"))
}

fn string_literal(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Ast::Literal(LiteralValue::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn kinds(e: &IdedExpr, depth: usize) -> Option<BTreeSet<String>> {
    if depth > check::MAX_DEPTH {
        return None;
    }
    let Ast::Call(c) = &e.expr else {
        return None;
    };
    if c.target.is_some() {
        return None;
    }
    match (c.func_name.as_str(), c.args.as_slice()) {
        ("_&&_", [a, b]) => match (kinds(a, depth + 1), kinds(b, depth + 1)) {
            (Some(x), Some(y)) => Some(x.intersection(&y).cloned().collect()),
            (x, y) => x.or(y),
        },
        ("_==_", [a, b]) if is_object_kind(a) => string_literal(b).map(|k| [k].into()),
        ("_==_", [a, b]) if is_object_kind(b) => string_literal(a).map(|k| [k].into()),
        ("@in", [a, list]) if is_object_kind(a) => match &list.expr {
            Ast::List(l) => l.elements.iter().map(string_literal).collect(),
            _ => None,
        },
        _ => None,
    }
}

/// The identifiers an expression names (variables, and comprehension variables).
fn idents(e: &IdedExpr, out: &mut BTreeSet<String>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match &e.expr {
            Ast::Ident(name) => {
                out.insert(name.clone());
            }
            _ => push_children(e, &mut stack),
        }
    }
}

/// Pushes the sub-expressions of `e` (none for literals and identifiers).
fn push_children<'e>(e: &'e IdedExpr, stack: &mut Vec<&'e IdedExpr>) {
    match &e.expr {
        Ast::Select(s) => stack.push(&s.operand),
        Ast::Call(c) => {
            stack.extend(c.target.as_deref());
            stack.extend(c.args.iter());
        }
        Ast::List(l) => stack.extend(l.elements.iter()),
        Ast::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    stack.push(&me.key);
                    stack.push(&me.value);
                }
            }
        }
        Ast::Comprehension(c) => {
            stack.push(&c.iter_range);
            stack.push(&c.accu_init);
            stack.push(&c.loop_cond);
            stack.push(&c.loop_step);
            stack.push(&c.result);
        }
        _ => {}
    }
}

thread_local! {
    /// The CEL context with the functions, built once per thread.
    static EVALUATOR: Evaluator = Evaluator::new();
}

impl Expr {
    /// The object kinds a `match` can be true for, when it says so plainly: it is (or is a
    /// chain of `&&` with) `object.kind == "K"` or `object.kind in ["K1", "K2"]`. For an
    /// object whose `kind` is a string outside them, the expression is false without running
    /// it (`false && x` is false whatever `x` is, even an error).
    pub fn object_kinds(&self) -> Option<BTreeSet<String>> {
        kinds(self.selector.program().expression(), 0)
    }

    /// The fields of variable `var` it reads (`cluster.environment`), or `None` when it uses
    /// the variable otherwise (as a whole, in a comprehension): then all of it counts.
    pub fn field_reads(&self, var: &str) -> Option<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        let mut stack = vec![self.selector.program().expression()];
        while let Some(e) = stack.pop() {
            match &e.expr {
                Ast::Select(s) => match &s.operand.expr {
                    Ast::Ident(n) if n == var => {
                        out.insert(s.field.clone());
                    }
                    _ => stack.push(&s.operand),
                },
                Ast::Ident(n) if n == var => return None,
                _ => push_children(e, &mut stack),
            }
        }
        Some(out)
    }

    /// Whether it reads the variable `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.uses.contains(name)
    }

    fn too_large(&self, input: u64) -> Option<String> {
        (input > self.max_input).then(|| {
            format!(
                "the input is too large for this {}'s cost limit: it has a list or map of {input} \
                 entries, the limit allows {}",
                self.noun, self.max_input
            )
        })
    }

    /// Evaluates a bool expression; `input` bounds the sizes in `vars` (see [`bound`]). To
    /// evaluate many expressions with the same variables, bind them once in a [`Frame`].
    pub fn eval_bool(&self, vars: &[(&str, &Value)], input: u64) -> Outcome {
        with_frame(vars, |f| f.eval_bool(self, input))
    }

    /// Evaluates an expression to a value.
    pub fn eval_value(&self, vars: &[(&str, &Value)], input: u64) -> Result<Value, String> {
        with_frame(vars, |f| f.eval_value(self, input))
    }

    /// Evaluates each top-level clause of a bool expression, to show which decided.
    pub fn explain(&self, vars: &[(&str, &Value)], input: u64) -> Explanation {
        if let Some(e) = self.too_large(input) {
            return Explanation {
                outcome: Outcome::Error(e),
                op: None,
                clauses: Vec::new(),
            };
        }
        EVALUATOR.with(|ev| ev.explain_with(&self.selector, vars))
    }
}

/// Variables bound once, to evaluate many expressions with. Binding a value converts all of it
/// to the interpreter's representation, so a rule set binds each object once for all its
/// rules, and the cluster once for all its objects ([`Frame::child`]).
pub struct Frame<'c, 'v> {
    ctx: Context<'c, 'v>,
}

impl std::fmt::Debug for Frame<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Frame")
    }
}

fn bind(ctx: &mut Context<'_, '_>, vars: &[(&str, &Value)]) {
    for (name, value) in vars {
        // Binding cannot fail on the values built here; a panic leaves the variable unbound
        // (its use is then an evaluation error).
        let _ = catch_unwind(AssertUnwindSafe(|| {
            ctx.add_variable_from_value(*name, (*value).clone())
        }));
    }
}

/// Runs `f` with a frame holding `vars`.
pub fn with_frame<R>(vars: &[(&str, &Value)], f: impl FnOnce(&Frame<'_, 'static>) -> R) -> R {
    EVALUATOR.with(|ev| {
        let mut ctx = ev.context().new_inner_scope();
        bind(&mut ctx, vars);
        f(&Frame { ctx })
    })
}

impl<'v> Frame<'_, 'v> {
    /// Runs `f` with a frame holding these variables and this frame's.
    pub fn child<R>(&self, vars: &[(&str, &Value)], f: impl FnOnce(&Frame<'_, 'v>) -> R) -> R {
        let mut ctx = self.ctx.new_inner_scope();
        bind(&mut ctx, vars);
        f(&Frame { ctx })
    }

    /// Runs `f` with a frame holding `object` (a Kubernetes object, converted without copying
    /// its strings) and this frame's variables, and the object's input bound; or with why the
    /// object cannot be evaluated ([`json_val`]).
    pub fn with_object<'o, R>(
        &self,
        object: &'o serde_json::Value,
        f: impl FnOnce(Result<(&Frame<'_, 'o>, u64), String>) -> R,
    ) -> R
    where
        'v: 'o,
    {
        let (val, bound) = match json_val(object) {
            Ok(v) => v,
            Err(e) => return f(Err(e)),
        };
        let parent: &Context<'_, 'o> = &self.ctx;
        let mut ctx = parent.new_inner_scope();
        ctx.add_variable_as_val("object", val);
        f(Ok((&Frame { ctx }, bound)))
    }

    /// The value of an expression; `input` bounds the sizes of the bound variables.
    pub fn eval_value(&self, expr: &Expr, input: u64) -> Result<Value, String> {
        if let Some(e) = expr.too_large(input) {
            return Err(e);
        }
        let run = || self.ctx.resolve(expr.selector.program().expression());
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(lower_first(&e.to_string())),
            Err(_) => Err(format!("the CEL interpreter failed on this {}", expr.noun)),
        }
    }

    /// Whether a bool expression holds.
    pub fn eval_bool(&self, expr: &Expr, input: u64) -> Outcome {
        match self.eval_value(expr, input) {
            Ok(Value::Bool(true)) => Outcome::Selected,
            Ok(Value::Bool(false)) => Outcome::NotSelected,
            Ok(other) => {
                let ty = other.type_of().to_string();
                let article = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                Outcome::Error(format!("the {} gave {article} {ty}, not a bool", expr.noun))
            }
            Err(e) => Outcome::Error(e),
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

/// The deepest JSON objects converted (Kubernetes objects are far shallower).
pub const MAX_OBJECT_DEPTH: usize = 64;
/// The longest string an object may hold.
pub const MAX_STRING: usize = 1 << 20;

/// A JSON value (a rendered Kubernetes object) as the interpreter's value, borrowing its
/// strings, and the size bound of its contents (the largest list or map in it).
pub fn json_val(v: &serde_json::Value) -> Result<(Box<dyn Val + '_>, u64), String> {
    let mut bound = 1u64;
    let value = val(v, 0, &mut bound)?;
    Ok((value, bound))
}

fn val<'a>(
    v: &'a serde_json::Value,
    depth: usize,
    bound: &mut u64,
) -> Result<Box<dyn Val + 'a>, String> {
    if depth > MAX_OBJECT_DEPTH {
        return Err(format!(
            "the object nests deeper than {MAX_OBJECT_DEPTH} levels"
        ));
    }
    Ok(match v {
        serde_json::Value::Null => Box::new(types::CelNull),
        serde_json::Value::Bool(b) => Box::new(types::CelBool::from(*b)),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Box::new(types::CelInt::from(i))
            } else if let Some(u) = n.as_u64() {
                Box::new(types::CelUInt::from(u))
            } else {
                Box::new(types::CelDouble::from(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        serde_json::Value::String(s) => {
            if s.len() > MAX_STRING {
                return Err(format!(
                    "the object holds a string of {} bytes, more than the limit of {MAX_STRING}",
                    s.len()
                ));
            }
            Box::new(types::CelString::from(s.as_str()))
        }
        serde_json::Value::Array(items) => {
            *bound = (*bound).max(items.len() as u64);
            let items = items
                .iter()
                .map(|i| val(i, depth + 1, bound))
                .collect::<Result<Vec<_>, _>>()?;
            Box::new(types::CelList::from(items))
        }
        serde_json::Value::Object(map) => {
            *bound = (*bound).max(map.len() as u64);
            let mut out: HashMap<types::CelMapKey<'a>, Box<dyn Val + 'a>> =
                HashMap::with_capacity(map.len());
            for (k, v) in map {
                out.insert(
                    types::CelMapKey::from(k.as_str()),
                    val(v, depth + 1, bound)?,
                );
            }
            Box::new(types::CelMap::from(out))
        }
    })
}

/// A JSON value (a rendered Kubernetes object) as a CEL value, and the size bound of its
/// contents: the largest list or map in it.
pub fn json_value(v: &serde_json::Value) -> Result<(Value, u64), String> {
    let mut bound = 1u64;
    let value = json(v, 0, &mut bound)?;
    Ok((value, bound))
}

fn json(v: &serde_json::Value, depth: usize, bound: &mut u64) -> Result<Value, String> {
    if depth > MAX_OBJECT_DEPTH {
        return Err(format!(
            "the object nests deeper than {MAX_OBJECT_DEPTH} levels"
        ));
    }
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => {
            if s.len() > MAX_STRING {
                return Err(format!(
                    "the object holds a string of {} bytes, more than the limit of {MAX_STRING}",
                    s.len()
                ));
            }
            Value::String(Arc::new(s.clone()))
        }
        serde_json::Value::Array(items) => {
            *bound = (*bound).max(items.len() as u64);
            Value::List(Arc::new(
                items
                    .iter()
                    .map(|i| json(i, depth + 1, bound))
                    .collect::<Result<Vec<_>, _>>()?,
            ))
        }
        serde_json::Value::Object(map) => {
            *bound = (*bound).max(map.len() as u64);
            let mut out: HashMap<String, Value> = HashMap::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), json(v, depth + 1, bound)?);
            }
            Value::from(out)
        }
    })
}

/// The input bound of lists and maps given as CEL inputs: the largest of their sizes.
pub fn bound(sizes: &[usize]) -> u64 {
    sizes.iter().map(|n| *n as u64).max().unwrap_or(1).max(1)
}

/// A string as a CEL value.
pub fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_owned()))
}

/// A map of strings (a record value) as a CEL value.
pub fn record(fields: &[(&str, Value)]) -> Value {
    Value::from(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<HashMap<String, Value>>(),
    )
}

/// A value as text in a violation message: strings as they are, numbers and bools as CEL
/// prints them, lists and maps in CEL syntax with sorted keys.
pub fn display(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out, 0);
    out
}

fn write_value(v: &Value, out: &mut String, depth: usize) {
    if depth > MAX_OBJECT_DEPTH {
        out.push('…');
        return;
    }
    match v {
        Value::String(s) if depth == 0 => out.push_str(s),
        Value::String(s) => out.push_str(&format!("{:?}", s.as_str())),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::UInt(u) => out.push_str(&format!("{u}u")),
        Value::Float(f) => out.push_str(&f.to_string()),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Null => out.push_str("null"),
        Value::Bytes(b) => out.push_str(&format!("b{:?}", String::from_utf8_lossy(b))),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut entries: Vec<(String, &Value)> = m
                .map
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        cel::objects::Key::String(s) => format!("{:?}", s.as_str()),
                        cel::objects::Key::Int(i) => i.to_string(),
                        cel::objects::Key::Uint(u) => format!("{u}u"),
                        cel::objects::Key::Bool(b) => b.to_string(),
                    };
                    (key, v)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                write_value(v, out, depth + 1);
            }
            out.push('}');
        }
        other => out.push_str(&format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str, place: Place) -> String {
        match compile(text, place) {
            Ok(_) => "ok".into(),
            Err(ps) => ps
                .iter()
                .map(|p| format!("{}: {}", p.code, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    #[test]
    fn each_place_sees_its_variables() {
        let check = |text: &str, place: Place, expect: &str| {
            assert_eq!(problems(text, place), expect, "{text}");
        };
        check(
            r#""oncall" in principal.groups && cluster.environment == "prod""#,
            Place::When,
            "ok",
        );
        check(
            r#"service.team in principal.groups && action == "deploy""#,
            Place::When,
            "ok",
        );
        check(
            "principal.group",
            Place::When,
            "cel::unknown-field: principal has no field `group`",
        );
        check(
            "object.kind == 1",
            Place::When,
            "cel::unknown-variable: undeclared reference to `object`",
        );
        check(
            r#"object.kind == "Deployment" && release.namespace != "default""#,
            Place::Match,
            "ok",
        );
        check(
            "object.spec.template.spec.containers.all(c, has(c.readinessProbe))",
            Place::Validate,
            "ok",
        );
        // `object` is dynamic: that it is not a bool is found when it runs.
        check("object.metadata.name", Place::Validate, "ok");
        check("object.metadata.name", Place::Message, "ok");
        check(
            "release.name",
            Place::Match,
            "cel::type: a `match` expression must be a bool, this one is a string",
        );
        check(
            "principal == 1",
            Place::Match,
            "cel::unknown-variable: undeclared reference to `principal`",
        );
    }

    #[test]
    fn the_input_bound_follows_the_cost() {
        // `==` on dynamic data may compare lists: cost ~ 10 × the bound.
        let simple = compile(r#"object.kind == "Deployment""#, Place::Match).unwrap();
        assert!(simple.max_input >= 50_000, "{simple:?}");
        let constant = compile(r#"release.name == "x""#, Place::Match).unwrap();
        assert!(constant.max_input >= 50_000, "{constant:?}");
        let one = compile(
            "object.spec.containers.all(c, has(c.readinessProbe))",
            Place::Validate,
        )
        .unwrap();
        let two = compile(
            "object.spec.containers.all(c, c.ports.all(p, p.containerPort > 1024))",
            Place::Validate,
        )
        .unwrap();
        assert!(one.max_input > two.max_input, "{one:?} {two:?}");
        assert!(two.max_input >= 64, "{two:?}");
        assert!(one.uses("object") && !one.uses("cluster"));
    }

    #[test]
    fn field_reads_are_found() {
        let check = |text: &str, var: &str, expect: Option<&[&str]>| {
            let e = compile(text, Place::Validate).unwrap();
            let want = expect.map(|k| k.iter().map(|s| (*s).to_owned()).collect());
            assert_eq!(e.field_reads(var), want, "{text}");
        };
        check(
            r#"cluster.environment == "prod""#,
            "cluster",
            Some(&["environment"]),
        );
        check(
            r#"has(cluster.tags.pci) && cluster.name.startsWith("a") && release.name == "x""#,
            "cluster",
            Some(&["name", "tags"]),
        );
        check(r#"object.kind == "Pod""#, "cluster", Some(&[]));
        check(r#"[cluster].all(c, c.name == "x")"#, "cluster", None);
        check(
            r#"object.items.all(i, i == release.namespace)"#,
            "release",
            Some(&["namespace"]),
        );
    }

    #[test]
    fn plain_kind_matches_are_recognised() {
        let check = |text: &str, expect: Option<&[&str]>| {
            let e = compile(text, Place::Match).unwrap();
            let want = expect.map(|k| k.iter().map(|s| (*s).to_owned()).collect());
            assert_eq!(e.object_kinds(), want, "{text}");
        };
        check(r#"object.kind == "Deployment""#, Some(&["Deployment"]));
        check(r#""Pod" == object.kind"#, Some(&["Pod"]));
        check(
            r#"object.kind in ["Pod", "Job"] && cluster.environment == "prod""#,
            Some(&["Job", "Pod"]),
        );
        check(
            r#"cluster.environment == "prod" && object.kind in ["Pod", "Job"] && object.kind == "Job""#,
            Some(&["Job"]),
        );
        check(r#"object.kind == "Pod" || object.kind == "Job""#, None);
        check(r#"!(object.kind == "Pod")"#, None);
        check(r#"object.kind in ["Pod", 1]"#, None);
        check(r#"object.kind.startsWith("Po")"#, None);
        check("true", None);
    }

    #[test]
    fn too_large_inputs_are_not_evaluated() {
        let e = compile(
            "object.items.all(a, object.items.all(b, a <= b || a > b))",
            Place::Validate,
        )
        .unwrap();
        let big: Vec<serde_json::Value> = (0..5000).map(serde_json::Value::from).collect();
        let (v, b) = json_value(&serde_json::json!({"items": big})).unwrap();
        assert_eq!(b, 5000);
        let out = e.eval_bool(&[("object", &v)], b);
        assert!(
            matches!(&out, Outcome::Error(m) if m.contains("too large")),
            "{out:?}"
        );
        let (small, b) = json_value(&serde_json::json!({"items": [1, 2, 3]})).unwrap();
        assert_eq!(e.eval_bool(&[("object", &small)], b), Outcome::Selected);
    }

    #[test]
    fn long_strings_do_not_count_as_large_inputs() {
        let (_, b) =
            json_value(&serde_json::json!({"data": {"big": "x".repeat(500_000)}})).unwrap();
        assert_eq!(b, 1);
        let err = json_value(&serde_json::json!({"data": "x".repeat(MAX_STRING + 1)}));
        assert_eq!(
            err.err(),
            Some(
                "the object holds a string of 1048577 bytes, more than the limit of 1048576".into()
            )
        );
    }

    #[test]
    fn deep_objects_are_refused() {
        let mut v = serde_json::json!(1);
        for _ in 0..100 {
            v = serde_json::json!([v]);
        }
        assert_eq!(
            json_value(&v).err(),
            Some("the object nests deeper than 64 levels".to_owned())
        );
        assert_eq!(
            json_val(&v).err(),
            Some("the object nests deeper than 64 levels".to_owned())
        );
        let long = serde_json::json!({"a": "x".repeat(MAX_STRING + 1)});
        assert!(json_val(&long).is_err());
        let (_, bound) = json_val(&serde_json::json!({"a": [1, 2, 3], "b": {"c": 1}})).unwrap();
        assert_eq!(bound, 3);
    }

    #[test]
    fn values_display_for_messages() {
        let (v, _) = json_value(&serde_json::json!({"b": [1, "x", null], "a": true})).unwrap();
        assert_eq!(display(&v), r#"{"a": true, "b": [1, "x", null]}"#);
        assert_eq!(display(&string("plain")), "plain");
        assert_eq!(display(&Value::Float(1.5)), "1.5");
    }
}
