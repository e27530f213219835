//! Checks a parsed selector against the cluster schema before it runs: variables, fields,
//! functions and their argument types, that the result is a bool, and an upper bound on its
//! evaluation cost.
//!
//! The cost model (documented for users in `schemas/README.md`): every node costs 1; string
//! operations cost the sizes of the strings they read; list operations the length of the lists
//! they walk; a comprehension (`all`, `exists`, `exists_one`, `map`, `filter`) costs its body
//! times the length of its range. Sizes are upper bounds: literals by their length, cluster data
//! by the largest string, list or map found in the fleet's cluster files ([`DataBounds`]).
//! A selector whose bound exceeds [`MAX_COST`] is refused, so evaluation always stays small.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use cel::common::ast::SourceInfo;
use cel::common::ast::{Expr, IdedExpr, LiteralValue};

use syntax::diag::suggest;

use crate::functions;

/// The largest evaluation cost bound a selector may have.
pub const MAX_COST: u64 = 1_000_000;
/// The deepest expression tree a selector may have.
pub const MAX_DEPTH: usize = 48;

/// The fields of `cluster` in CEL, and their types.
pub const CLUSTER_FIELDS: &[&str] = &[
    "name",
    "provider",
    "region",
    "environment",
    "tags",
    "metadata",
    "kubernetes",
];

/// A static type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// Unknown until it runs (metadata, `dyn(...)`).
    Dyn,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Null,
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    Cluster,
    /// A value with fixed, typed fields (`principal`, `release`): declared by a [`Scope`].
    Record(Arc<Record>),
    Semver,
    Ip,
    Cidr,
    Type,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Dyn => f.write_str("dyn"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Uint => f.write_str("uint"),
            Ty::Double => f.write_str("double"),
            Ty::String => f.write_str("string"),
            Ty::Bytes => f.write_str("bytes"),
            Ty::Null => f.write_str("null_type"),
            Ty::List(e) => write!(f, "list({e})"),
            Ty::Map(k, v) => write!(f, "map({k}, {v})"),
            Ty::Cluster => f.write_str("cluster"),
            Ty::Record(r) => f.write_str(&r.name),
            Ty::Semver => f.write_str("kubernetes.Semver"),
            Ty::Ip => f.write_str("net.IP"),
            Ty::Cidr => f.write_str("net.CIDR"),
            Ty::Type => f.write_str("type"),
        }
    }
}

impl Ty {
    fn is_num(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    /// Whether a value of type `self` may be given where `want` is expected.
    fn fits(&self, want: &Ty) -> bool {
        match (self, want) {
            (Ty::Dyn, _) | (_, Ty::Dyn) => true,
            (Ty::List(a), Ty::List(b)) => a.fits(b),
            (Ty::Map(ak, av), Ty::Map(bk, bv)) => ak.fits(bk) && av.fits(bv),
            (a, b) => a == b,
        }
    }

    /// Whether CEL's checker allows `==` (and `in`) between the two types: the same type, or
    /// one unknown until it runs. As in cel-go, `1 == 1.0` is refused (`_==_` takes two values
    /// of one type); dynamic values (`metadata`) compare across numeric types at run time.
    fn comparable(&self, other: &Ty) -> bool {
        self.fits(other) || *self == Ty::Null || *other == Ty::Null
    }
}

/// The fields of a [`Ty::Record`].
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The type's name in messages (`principal`).
    pub name: String,
    pub fields: Vec<(String, Ty)>,
}

impl Record {
    pub fn new(name: &str, fields: &[(&str, Ty)]) -> Record {
        Record {
            name: name.to_owned(),
            fields: fields
                .iter()
                .map(|(n, t)| ((*n).to_owned(), t.clone()))
                .collect(),
        }
    }
}

/// What an expression may see and what it must give: its variables, what it is called in
/// messages, and whether it must be a bool. Selectors see `cluster` ([`Scope::selector`]); the
/// policy engine declares its own scopes (`principal`, `object`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// What the expression is called in messages (`selector`, `` `when` condition ``).
    pub noun: String,
    pub variables: Vec<(String, Ty)>,
    /// Whether the result must be a bool (a selector, a condition) or may be anything (an
    /// interpolated message part).
    pub want_bool: bool,
}

impl Scope {
    /// A service selector: one variable, `cluster`; a bool.
    pub fn selector() -> Scope {
        Scope {
            noun: "selector".into(),
            variables: vec![("cluster".into(), Ty::Cluster)],
            want_bool: true,
        }
    }

    /// `a` or `an` and the noun.
    pub fn a_noun(&self) -> String {
        let first = self.noun.chars().find(|c| c.is_alphanumeric());
        let article = if first.is_some_and(|c| "aeiouAEIOU".contains(c)) {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.noun)
    }

    /// The fields a name could belong to (`write `cluster.region``).
    fn owner_of(&self, field: &str) -> Option<&str> {
        self.variables.iter().find_map(|(v, ty)| {
            let has = match ty {
                Ty::Cluster => CLUSTER_FIELDS.contains(&field),
                Ty::Record(r) => r.fields.iter().any(|(f, _)| f == field),
                _ => false,
            };
            has.then_some(v.as_str())
        })
    }
}

/// Upper bounds on the sizes of cluster data, from the fleet's cluster files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataBounds {
    /// The largest length of any string, list or map in any cluster's data (at least 1).
    pub max_len: u64,
}

impl Default for DataBounds {
    fn default() -> Self {
        DataBounds { max_len: 64 }
    }
}

/// A problem in a selector, at a byte range of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
    pub range: Range<usize>,
    pub label: String,
    pub help: Option<String>,
}

/// What the checker learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub ty: Ty,
    /// The upper bound on evaluation cost.
    pub cost: u64,
    pub problems: Vec<Problem>,
}

/// What is known of an expression: its type, its size bound (string bytes, list or map
/// entries), the least size it can have, the size bound of its elements, and the cost bound of
/// evaluating it.
#[derive(Debug, Clone)]
struct Info {
    ty: Ty,
    size: u64,
    min: u64,
    elem: u64,
    cost: u64,
}

impl Info {
    fn new(ty: Ty, size: u64, elem: u64, cost: u64) -> Info {
        Info {
            ty,
            size,
            min: 0,
            elem,
            cost,
        }
    }

    /// A value whose size is known exactly (a literal).
    fn exact(ty: Ty, size: u64) -> Info {
        Info {
            min: size,
            ..Info::new(ty, size, 1, 1)
        }
    }

    fn scalar(ty: Ty, cost: u64) -> Info {
        Info::new(ty, 1, 1, cost)
    }
}

struct Checker<'a> {
    text: &'a str,
    info: &'a SourceInfo,
    scope: &'a Scope,
    bounds: DataBounds,
    scopes: Vec<(String, Info)>,
    problems: Vec<Problem>,
    too_deep: bool,
}

/// Checks a parsed selector.
pub fn check(expr: &IdedExpr, info: &SourceInfo, text: &str, bounds: DataBounds) -> Checked {
    check_in(expr, info, text, bounds, &Scope::selector())
}

/// Checks a parsed expression that sees the variables of `scope`.
pub fn check_in(
    expr: &IdedExpr,
    info: &SourceInfo,
    text: &str,
    bounds: DataBounds,
    scope: &Scope,
) -> Checked {
    let noun = &scope.noun;
    let mut c = Checker {
        text,
        info,
        scope,
        bounds: DataBounds {
            max_len: bounds.max_len.max(1),
        },
        scopes: Vec::new(),
        problems: Vec::new(),
        too_deep: false,
    };
    let out = c.walk(expr, 0);
    if c.too_deep {
        c.problems.push(Problem {
            code: "cel::limit",
            message: format!("the {noun} nests deeper than {MAX_DEPTH} levels"),
            range: 0..text.len(),
            label: "too deep".into(),
            help: Some("split it into simpler clauses".into()),
        });
    } else if c.problems.is_empty() {
        if scope.want_bool && !matches!(out.ty, Ty::Bool | Ty::Dyn) {
            c.problems.push(Problem {
                code: "cel::type",
                message: format!(
                    "{} must be a bool, this one is a {}",
                    scope.a_noun(),
                    out.ty
                ),
                range: 0..text.len(),
                label: format!("this is a {}", out.ty),
                help: Some("compare it with something, e.g. `... == \"value\"`".into()),
            });
        }
        if out.cost > MAX_COST {
            c.problems.push(Problem {
                code: "cel::cost",
                message: format!(
                    "the {noun} may cost up to {} to evaluate, more than the limit of {MAX_COST}",
                    out.cost
                ),
                range: 0..text.len(),
                label: "too costly".into(),
                help: Some(format!(
                    "nested comprehensions over large lists multiply their costs; \
                     simplify the {noun} or filter earlier"
                )),
            });
        }
    }
    Checked {
        ty: out.ty,
        cost: out.cost,
        problems: c.problems,
    }
}

/// Parameter patterns of the function table.
#[derive(Clone, Copy, PartialEq)]
enum P {
    Any,
    Str,
    Int,
    Bool,
    List,
    Sized,
    Semver,
    Ip,
    Cidr,
    StrOrIp,
    StrOrCidr,
}

/// Result patterns.
#[derive(Clone, Copy)]
enum R {
    Bool,
    Int,
    Str,
    ListStr,
    Semver,
    Ip,
    Cidr,
    Double,
    Uint,
    Bytes,
    Dyn,
    Type,
}

struct Sig {
    member: bool,
    args: &'static [P],
    ret: R,
}

const fn m(args: &'static [P], ret: R) -> Sig {
    Sig {
        member: true,
        args,
        ret,
    }
}

const fn g(args: &'static [P], ret: R) -> Sig {
    Sig {
        member: false,
        args,
        ret,
    }
}

/// The functions a selector may call (operators are checked separately). For member
/// functions the first pattern is the receiver.
const FUNCTIONS: &[(&str, &[Sig])] = {
    use P::*;
    &[
        ("size", &[g(&[Sized], R::Int), m(&[Sized], R::Int)]),
        ("contains", &[m(&[Str, Str], R::Bool)]),
        ("startsWith", &[m(&[Str, Str], R::Bool)]),
        ("endsWith", &[m(&[Str, Str], R::Bool)]),
        (
            "matches",
            &[m(&[Str, Str], R::Bool), g(&[Str, Str], R::Bool)],
        ),
        ("int", &[g(&[Any], R::Int)]),
        ("uint", &[g(&[Any], R::Uint)]),
        ("double", &[g(&[Any], R::Double)]),
        ("string", &[g(&[Any], R::Str)]),
        ("bytes", &[g(&[Any], R::Bytes)]),
        ("dyn", &[g(&[Any], R::Dyn)]),
        ("type", &[g(&[Any], R::Type)]),
        ("charAt", &[m(&[Str, Int], R::Str)]),
        (
            "indexOf",
            &[m(&[Str, Str], R::Int), m(&[Str, Str, Int], R::Int)],
        ),
        (
            "lastIndexOf",
            &[m(&[Str, Str], R::Int), m(&[Str, Str, Int], R::Int)],
        ),
        ("join", &[m(&[List], R::Str), m(&[List, Str], R::Str)]),
        ("lowerAscii", &[m(&[Str], R::Str)]),
        ("upperAscii", &[m(&[Str], R::Str)]),
        ("trim", &[m(&[Str], R::Str)]),
        ("reverse", &[m(&[Str], R::Str)]),
        (
            "replace",
            &[
                m(&[Str, Str, Str], R::Str),
                m(&[Str, Str, Str, Int], R::Str),
            ],
        ),
        (
            "split",
            &[m(&[Str, Str], R::ListStr), m(&[Str, Str, Int], R::ListStr)],
        ),
        (
            "substring",
            &[m(&[Str, Int], R::Str), m(&[Str, Int, Int], R::Str)],
        ),
        ("format", &[m(&[Str, List], R::Str)]),
        (
            "semver",
            &[g(&[Str], R::Semver), g(&[Str, Bool], R::Semver)],
        ),
        ("isSemver", &[g(&[Str], R::Bool), g(&[Str, Bool], R::Bool)]),
        ("major", &[m(&[Semver], R::Int)]),
        ("minor", &[m(&[Semver], R::Int)]),
        ("patch", &[m(&[Semver], R::Int)]),
        ("isGreaterThan", &[m(&[Semver, Semver], R::Bool)]),
        ("isLessThan", &[m(&[Semver, Semver], R::Bool)]),
        ("compareTo", &[m(&[Semver, Semver], R::Int)]),
        ("ip", &[g(&[Str], R::Ip), m(&[Cidr], R::Ip)]),
        ("isIP", &[g(&[Str], R::Bool)]),
        ("family", &[m(&[Ip], R::Int)]),
        ("isUnspecified", &[m(&[Ip], R::Bool)]),
        ("isLoopback", &[m(&[Ip], R::Bool)]),
        ("isLinkLocalMulticast", &[m(&[Ip], R::Bool)]),
        ("isLinkLocalUnicast", &[m(&[Ip], R::Bool)]),
        ("isGlobalUnicast", &[m(&[Ip], R::Bool)]),
        ("cidr", &[g(&[Str], R::Cidr)]),
        ("isCIDR", &[g(&[Str], R::Bool)]),
        ("containsIP", &[m(&[Cidr, StrOrIp], R::Bool)]),
        ("containsCIDR", &[m(&[Cidr, StrOrCidr], R::Bool)]),
        ("prefixLength", &[m(&[Cidr], R::Int)]),
        ("masked", &[m(&[Cidr], R::Cidr)]),
    ]
};

/// Names people reach for, and the CEL function they mean.
const ALIASES: &[(&str, &str)] = &[
    ("lower", "lowerAscii"),
    ("toLower", "lowerAscii"),
    ("toLowerCase", "lowerAscii"),
    ("lowercase", "lowerAscii"),
    ("upper", "upperAscii"),
    ("toUpper", "upperAscii"),
    ("toUpperCase", "upperAscii"),
    ("uppercase", "upperAscii"),
    ("hasPrefix", "startsWith"),
    ("hasSuffix", "endsWith"),
    ("match", "matches"),
    ("regex", "matches"),
    ("len", "size"),
    ("length", "size"),
    ("includes", "contains"),
];

fn fits(p: P, ty: &Ty) -> bool {
    matches!(
        (p, ty),
        (_, Ty::Dyn)
            | (P::Any, _)
            | (P::Str, Ty::String)
            | (P::Int, Ty::Int)
            | (P::Bool, Ty::Bool)
            | (P::List, Ty::List(_))
            | (P::Sized, Ty::String | Ty::Bytes | Ty::List(_) | Ty::Map(..))
            | (P::Semver, Ty::Semver)
            | (P::Ip, Ty::Ip)
            | (P::Cidr, Ty::Cidr)
            | (P::StrOrIp, Ty::String | Ty::Ip)
            | (P::StrOrCidr, Ty::String | Ty::Cidr)
    )
}

impl Checker<'_> {
    /// The byte range of a node's token in the text (`stop` is inclusive).
    fn range(&self, id: u64) -> Range<usize> {
        match self.info.offset_for(id) {
            Some((s, e)) => {
                let s = (s as usize).min(self.text.len());
                let e = (e as usize + 1).clamp(s, self.text.len());
                s..e
            }
            None => 0..0,
        }
    }

    /// The range of a name written just before or just after the offset of `id` (a call's
    /// `(`, a selection's `.`).
    fn name_range(&self, id: u64, name: &str, after: bool) -> Range<usize> {
        let at = self.range(id).start;
        if after {
            let rest = self.text.get(at..).unwrap_or("");
            if let Some(i) = rest.find(name) {
                return at + i..at + i + name.len();
            }
        } else {
            let before = self.text.get(..at).unwrap_or("").trim_end();
            if before.ends_with(name) {
                return before.len() - name.len()..before.len();
            }
        }
        at..at + 1
    }

    fn problem(
        &mut self,
        code: &'static str,
        message: String,
        range: Range<usize>,
        label: &str,
        help: Option<String>,
    ) {
        self.problems.push(Problem {
            code,
            message,
            range,
            label: label.into(),
            help,
        });
    }

    fn data(&self, ty: Ty) -> Info {
        let b = self.bounds.max_len;
        Info::new(ty, b, b, 1)
    }

    fn walk(&mut self, e: &IdedExpr, depth: usize) -> Info {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return Info::scalar(Ty::Dyn, 1);
        }
        if self.too_deep {
            return Info::scalar(Ty::Dyn, 1);
        }
        match &e.expr {
            Expr::Unspecified => Info::scalar(Ty::Dyn, 1),
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Info::scalar(Ty::Bool, 1),
                LiteralValue::Int(_) => Info::scalar(Ty::Int, 1),
                LiteralValue::UInt(_) => Info::scalar(Ty::Uint, 1),
                LiteralValue::Double(_) => Info::scalar(Ty::Double, 1),
                LiteralValue::Null => Info::scalar(Ty::Null, 1),
                LiteralValue::String(s) => Info::exact(Ty::String, s.len() as u64),
                LiteralValue::Bytes(b) => Info::exact(Ty::Bytes, b.len() as u64),
            },
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(sel) => {
                let operand = self.walk(&sel.operand, depth + 1);
                let mut out = self.select(e.id, &operand, &sel.field);
                out.cost = out.cost.saturating_add(operand.cost);
                if sel.test {
                    out = Info::scalar(Ty::Bool, out.cost);
                }
                out
            }
            Expr::List(list) => {
                let mut elem_ty: Option<Ty> = None;
                let mut elem = 1u64;
                let mut cost = 1u64;
                for item in &list.elements {
                    let i = self.walk(item, depth + 1);
                    cost = cost.saturating_add(i.cost);
                    elem = elem.max(i.size);
                    elem_ty = Some(match elem_ty {
                        None => i.ty,
                        Some(t) if t == i.ty => t,
                        Some(_) => Ty::Dyn,
                    });
                }
                let ty = Ty::List(Box::new(elem_ty.unwrap_or(Ty::Dyn)));
                Info::new(ty, list.elements.len() as u64, elem, cost)
            }
            Expr::Map(map) => {
                let mut cost = 1u64;
                let mut elem = 1u64;
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr {
                        let k = self.walk(&me.key, depth + 1);
                        let v = self.walk(&me.value, depth + 1);
                        cost = cost.saturating_add(k.cost).saturating_add(v.cost);
                        elem = elem.max(v.size);
                    }
                }
                Info::new(
                    Ty::Map(Box::new(Ty::Dyn), Box::new(Ty::Dyn)),
                    map.entries.len() as u64,
                    elem,
                    cost,
                )
            }
            Expr::Struct(_) => {
                let r = self.range(e.id);
                self.problem(
                    "cel::unsupported",
                    format!("{}s cannot construct messages", self.scope.noun),
                    r,
                    "not supported",
                    None,
                );
                Info::scalar(Ty::Dyn, 1)
            }
            Expr::Comprehension(c) => {
                let range = self.walk(&c.iter_range, depth + 1);
                let (var_ty, var2_ty) = match &range.ty {
                    Ty::List(t) => ((**t).clone(), (**t).clone()),
                    Ty::Map(k, v) => ((**k).clone(), (**v).clone()),
                    Ty::Dyn => (Ty::Dyn, Ty::Dyn),
                    other => {
                        let r = self.range(c.iter_range.id);
                        self.problem(
                            "cel::type",
                            format!("cannot iterate over a {other}"),
                            r,
                            "not a list or map",
                            None,
                        );
                        (Ty::Dyn, Ty::Dyn)
                    }
                };
                let init = self.walk(&c.accu_init, depth + 1);
                let n = range.size;
                // The accumulator of `map`/`filter` grows to the range's length.
                let accu = if matches!(init.ty, Ty::List(_)) {
                    Info::new(init.ty.clone(), n, range.elem.max(init.elem), 1)
                } else {
                    Info::new(init.ty.clone(), init.size, init.elem, 1)
                };
                let scope_len = self.scopes.len();
                self.scopes.push((
                    c.iter_var.clone(),
                    Info::new(var_ty, range.elem, range.elem, 1),
                ));
                if let Some(v2) = &c.iter_var2 {
                    self.scopes
                        .push((v2.clone(), Info::new(var2_ty, range.elem, range.elem, 1)));
                }
                self.scopes.push((c.accu_var.clone(), accu.clone()));
                let cond = self.walk(&c.loop_cond, depth + 1);
                let step = self.walk(&c.loop_step, depth + 1);
                self.scopes.truncate(scope_len);
                self.scopes.push((c.accu_var.clone(), accu.clone()));
                let result = self.walk(&c.result, depth + 1);
                self.scopes.truncate(scope_len);
                let per_iter = cond.cost.saturating_add(step.cost).saturating_add(1);
                let cost = range
                    .cost
                    .saturating_add(init.cost)
                    .saturating_add(n.saturating_mul(per_iter))
                    .saturating_add(result.cost);
                let mut ty = result.ty.clone();
                if let (Ty::List(_), Ty::List(e2)) = (&init.ty, &step.ty) {
                    ty = Ty::List(e2.clone());
                }
                Info::new(ty, accu.size.max(result.size), accu.elem, cost)
            }
            Expr::Call(call) => {
                let target = call.target.as_ref().map(|t| self.walk(t, depth + 1));
                let args: Vec<Info> = call.args.iter().map(|a| self.walk(a, depth + 1)).collect();
                let base = target
                    .iter()
                    .chain(args.iter())
                    .fold(1u64, |c, i| c.saturating_add(i.cost));
                let mut out = self.call(e.id, &call.func_name, target.as_ref(), &args);
                out.cost = out.cost.saturating_add(base);
                self.literal_arguments(&call.func_name, call.target.as_deref(), &call.args);
                out
            }
        }
    }

    /// Checks the arguments written as literals that a function would refuse when it runs:
    /// a regex that does not compile, a version, address or prefix that does not parse.
    fn literal_arguments(&mut self, name: &str, target: Option<&IdedExpr>, args: &[IdedExpr]) {
        let literal = |e: Option<&IdedExpr>| match e.map(|e| &e.expr) {
            Some(Expr::Literal(LiteralValue::String(s))) => Some(s.to_string()),
            _ => None,
        };
        let (arg, found) = match (name, target) {
            ("matches", Some(_)) => (args.first(), "regex"),
            ("matches", None) => (args.get(1), "regex"),
            ("semver", None) => (args.first(), "semver"),
            ("ip", None) => (args.first(), "ip"),
            ("cidr", None) => (args.first(), "cidr"),
            _ => return,
        };
        let Some((arg, text)) = arg.and_then(|a| Some((a, literal(Some(a))?))) else {
            return;
        };
        let problem = match found {
            "regex" => functions::check_regex(&text).err().map(|why| {
                (
                    "cel::regex",
                    format!("invalid regex {text:?}: {why}"),
                    "not a valid regex",
                    "CEL regexes use RE2 syntax; a literal `(`, `[` or `.` is escaped with `\\\\`"
                        .to_owned(),
                )
            }),
            "semver" => {
                // `semver(s, true)` normalizes; a flag that is not a literal may be either.
                let normalize = match args.get(1).map(|a| &a.expr) {
                    None => Some(false),
                    Some(Expr::Literal(LiteralValue::Boolean(b))) => Some(**b),
                    Some(_) => None,
                };
                let refused = match normalize {
                    Some(n) => functions::parse_semver(&text, n).is_err(),
                    None => functions::parse_semver(&text, true).is_err(),
                };
                refused.then(|| {
                    let help = if normalize == Some(false)
                        && functions::parse_semver(&text, true).is_ok()
                    {
                        format!(
                            "`semver({text:?}, true)` accepts a `v` prefix, leading zeros and a \
                             missing minor or patch number"
                        )
                    } else {
                        "a version is MAJOR.MINOR.PATCH, with an optional `-prerelease` and \
                         `+build` (SemVer 2.0)"
                            .to_owned()
                    };
                    (
                        "cel::semver",
                        format!("invalid semantic version {text:?}"),
                        "not a semantic version",
                        help,
                    )
                })
            }
            "ip" => functions::parse_ip(&text).err().map(|_| {
                (
                    "cel::ip",
                    format!("invalid IP address {text:?}"),
                    "not an IP address",
                    "write an IPv4 (`10.0.0.1`) or IPv6 (`fd00::1`) address, without a zone"
                        .to_owned(),
                )
            }),
            _ => functions::parse_cidr(&text).err().map(|_| {
                (
                    "cel::cidr",
                    format!("invalid CIDR {text:?}"),
                    "not a CIDR",
                    "write an address and a prefix length, e.g. `10.0.0.0/8`".to_owned(),
                )
            }),
        };
        if let Some((code, message, label, help)) = problem {
            let range = self.range(arg.id);
            self.problem(code, message, range, label, Some(help));
        }
    }

    fn ident(&mut self, id: u64, name: &str) -> Info {
        if let Some((_, info)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return info.clone();
        }
        if let Some((_, ty)) = self.scope.variables.iter().find(|(n, _)| n == name) {
            return Info::scalar(ty.clone(), 1);
        }
        match name {
            "int" | "uint" | "double" | "bool" | "string" | "bytes" | "list" | "map"
            | "null_type" | "type" | "dyn" => return Info::scalar(Ty::Type, 1),
            _ => {}
        }
        let range = self.range(id);
        let vars: Vec<&str> = self
            .scope
            .variables
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let mut candidates = vars.clone();
        candidates.extend(self.scopes.iter().map(|(n, _)| n.as_str()));
        let help = match suggest(name, candidates.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => match self.scope.owner_of(name) {
                Some(v) => format!("write `{v}.{name}`"),
                None if vars.len() == 1 => {
                    format!("{} sees one variable, `{}`", self.scope.a_noun(), vars[0])
                }
                None => format!(
                    "{} sees the variables {}",
                    self.scope.a_noun(),
                    vars.iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        };
        self.problem(
            "cel::unknown-variable",
            format!("undeclared reference to `{name}`"),
            range,
            "unknown variable",
            Some(help),
        );
        Info::scalar(Ty::Dyn, 1)
    }

    fn select(&mut self, id: u64, operand: &Info, field: &str) -> Info {
        match &operand.ty {
            Ty::Cluster => match field {
                "name" | "provider" | "region" | "environment" => self.data(Ty::String),
                "tags" => self.data(Ty::Map(Box::new(Ty::String), Box::new(Ty::String))),
                "metadata" => self.data(Ty::Map(Box::new(Ty::String), Box::new(Ty::Dyn))),
                // Absent on clusters that do not declare it: `has(cluster.kubernetes)`.
                "kubernetes" => self.data(Ty::Map(Box::new(Ty::String), Box::new(Ty::Dyn))),
                _ => {
                    let range = self.name_range(id, field, true);
                    let help = match suggest(field, CLUSTER_FIELDS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "a cluster has {}; free-form data is under `cluster.metadata` and `cluster.tags`",
                            CLUSTER_FIELDS
                                .iter()
                                .map(|f| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.problem(
                        "cel::unknown-field",
                        format!("cluster has no field `{field}`"),
                        range,
                        "unknown field",
                        Some(help),
                    );
                    Info::scalar(Ty::Dyn, 1)
                }
            },
            Ty::Record(r) => match r.fields.iter().find(|(f, _)| f == field) {
                Some((_, ty)) => self.data(ty.clone()),
                None => {
                    let range = self.name_range(id, field, true);
                    let names = r.fields.iter().map(|(f, _)| f.as_str());
                    let help = match suggest(field, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "{} {} has {}",
                            if r.name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                                "an"
                            } else {
                                "a"
                            },
                            r.name,
                            r.fields
                                .iter()
                                .map(|(f, _)| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.problem(
                        "cel::unknown-field",
                        format!("{} has no field `{field}`", r.name),
                        range,
                        "unknown field",
                        Some(help),
                    );
                    Info::scalar(Ty::Dyn, 1)
                }
            },
            Ty::Map(_, v) => Info::new((**v).clone(), operand.elem, self.bounds.max_len, 1),
            Ty::Dyn => self.data(Ty::Dyn),
            other => {
                let range = self.name_range(id, field, true);
                self.problem(
                    "cel::type",
                    format!("type '{other}' does not support field selection"),
                    range,
                    "no fields here",
                    None,
                );
                Info::scalar(Ty::Dyn, 1)
            }
        }
    }

    fn no_overload(&mut self, id: u64, name: &str, shown: &str, member: bool, types: &[&Ty]) {
        let sig = if member && !types.is_empty() {
            format!(
                "{}.({})",
                types[0],
                types[1..]
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "({})",
                types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let range = if name.starts_with('_')
            || name.starts_with('@')
            || name.starts_with('!')
            || name.starts_with('-')
        {
            self.range(id)
        } else {
            self.name_range(id, name, false)
        };
        self.problem(
            "cel::no-overload",
            format!("found no matching overload for '{shown}' applied to '{sig}'"),
            range,
            "wrong argument types",
            None,
        );
    }

    fn call(&mut self, id: u64, name: &str, target: Option<&Info>, args: &[Info]) -> Info {
        let b = self.bounds.max_len;
        let sizes: u64 = target
            .into_iter()
            .chain(args.iter())
            .fold(0u64, |s, i| s.saturating_add(i.size));
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Info::scalar(Ty::Dyn, 1));
        match name {
            "_&&_" | "_||_" => {
                for (i, a) in args.iter().enumerate() {
                    if !a.ty.fits(&Ty::Bool) {
                        let op = if name == "_&&_" { "&&" } else { "||" };
                        let r = self.range(id);
                        let _ = i;
                        self.problem(
                            "cel::no-overload",
                            format!(
                                "found no matching overload for '{name}' applied to '({}, {})'",
                                arg(0).ty,
                                arg(1).ty
                            ),
                            r,
                            &format!("`{op}` takes bools"),
                            None,
                        );
                        break;
                    }
                }
                Info::scalar(Ty::Bool, 1)
            }
            "!_" | "@not_strictly_false" => {
                if !arg(0).ty.fits(&Ty::Bool) {
                    self.no_overload(id, name, name, false, &[&arg(0).ty]);
                }
                Info::scalar(Ty::Bool, 1)
            }
            "-_" => {
                let a = arg(0);
                if !(a.ty.is_num() || a.ty == Ty::Dyn) {
                    self.no_overload(id, name, name, false, &[&a.ty]);
                }
                Info::scalar(a.ty, 1)
            }
            "_==_" | "_!=_" => {
                let (a, c) = (arg(0), arg(1));
                if !a.ty.comparable(&c.ty) {
                    self.no_overload(id, name, name, false, &[&a.ty, &c.ty]);
                }
                Info::scalar(Ty::Bool, a.size.min(c.size).saturating_mul(a.elem.max(1)))
            }
            "_<_" | "_<=_" | "_>_" | "_>=_" => {
                let (a, c) = (arg(0), arg(1));
                let ok = matches!(a.ty, Ty::Dyn)
                    || matches!(c.ty, Ty::Dyn)
                    || (a.ty.is_num() && c.ty.is_num())
                    || (a.ty == c.ty && matches!(a.ty, Ty::String | Ty::Bytes | Ty::Bool));
                if !ok {
                    self.no_overload(id, name, name, false, &[&a.ty, &c.ty]);
                }
                Info::scalar(Ty::Bool, a.size.min(c.size))
            }
            "_+_" => {
                let (a, c) = (arg(0), arg(1));
                let ty = match (&a.ty, &c.ty) {
                    (Ty::Dyn, t) | (t, Ty::Dyn) => t.clone(),
                    (Ty::String, Ty::String) => Ty::String,
                    (Ty::Bytes, Ty::Bytes) => Ty::Bytes,
                    (Ty::List(x), Ty::List(y)) => {
                        if x == y {
                            Ty::List(x.clone())
                        } else {
                            Ty::List(Box::new(Ty::Dyn))
                        }
                    }
                    (x, y) if x == y && x.is_num() => x.clone(),
                    _ => {
                        self.no_overload(id, name, name, false, &[&a.ty, &c.ty]);
                        Ty::Dyn
                    }
                };
                let size = a.size.saturating_add(c.size);
                Info {
                    min: a.min.saturating_add(c.min),
                    ..Info::new(ty, size, a.elem.max(c.elem), size)
                }
            }
            "_-_" | "_*_" | "_/_" | "_%_" => {
                let (a, c) = (arg(0), arg(1));
                let ok = (a.ty.is_num() || a.ty == Ty::Dyn) && (c.ty.is_num() || c.ty == Ty::Dyn);
                if !ok {
                    self.no_overload(id, name, name, false, &[&a.ty, &c.ty]);
                }
                let ty = if a.ty == Ty::Dyn { c.ty } else { a.ty };
                Info::scalar(ty, 1)
            }
            "_[_]" => {
                let (a, i) = (arg(0), arg(1));
                let ty = match &a.ty {
                    Ty::List(t) => {
                        if !i.ty.fits(&Ty::Int) && !i.ty.is_num() {
                            self.no_overload(id, name, name, false, &[&a.ty, &i.ty]);
                        }
                        (**t).clone()
                    }
                    Ty::Map(_, v) => (**v).clone(),
                    Ty::Dyn => Ty::Dyn,
                    _ => {
                        self.no_overload(id, name, name, false, &[&a.ty, &i.ty]);
                        Ty::Dyn
                    }
                };
                Info::new(ty, a.elem, b, 1)
            }
            "@in" => {
                let (x, coll) = (arg(0), arg(1));
                let ok = match &coll.ty {
                    Ty::List(t) => x.ty.comparable(t),
                    Ty::Map(k, _) => x.ty.comparable(k),
                    Ty::Dyn => true,
                    _ => false,
                };
                if !ok {
                    self.no_overload(id, name, name, false, &[&x.ty, &coll.ty]);
                }
                Info::scalar(Ty::Bool, coll.size.saturating_mul(x.size.max(1)))
            }
            "_?_:_" => {
                let (c, t, f) = (arg(0), arg(1), arg(2));
                if !c.ty.fits(&Ty::Bool) {
                    self.no_overload(id, name, name, false, &[&c.ty, &t.ty, &f.ty]);
                }
                let ty = if t.ty == f.ty { t.ty.clone() } else { Ty::Dyn };
                Info::new(ty, t.size.max(f.size), t.elem.max(f.elem), 1)
            }
            _ => self.function(id, name, target, args, sizes),
        }
    }

    fn function(
        &mut self,
        id: u64,
        name: &str,
        target: Option<&Info>,
        args: &[Info],
        sizes: u64,
    ) -> Info {
        let table: BTreeMap<&str, &[Sig]> = FUNCTIONS.iter().map(|(n, s)| (*n, *s)).collect();
        let Some(sigs) = table.get(name) else {
            let range = self.name_range(id, name, false);
            let alias = ALIASES.iter().find(|(a, _)| *a == name).map(|(_, f)| *f);
            let help = match alias.or_else(|| suggest(name, table.keys().copied())) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "see the functions {} may call in schemas/README.md",
                    self.scope.a_noun()
                ),
            };
            self.problem(
                "cel::unknown-function",
                format!("undeclared reference to function `{name}`"),
                range,
                "unknown function",
                Some(help),
            );
            return Info::scalar(Ty::Dyn, 1);
        };
        let mut types: Vec<&Ty> = Vec::new();
        if let Some(t) = target {
            types.push(&t.ty);
        }
        types.extend(args.iter().map(|a| &a.ty));
        let member = target.is_some();
        let found = sigs.iter().find(|s| {
            s.member == member
                && s.args.len() == types.len()
                && s.args.iter().zip(&types).all(|(p, t)| fits(*p, t))
        });
        let Some(sig) = found else {
            self.no_overload(id, name, name, member, &types);
            return Info::scalar(Ty::Dyn, 1);
        };
        let b = self.bounds.max_len;
        let first = target.or(args.first());
        let first_size = first.map_or(1, |i| i.size);
        match sig.ret {
            R::Bool => Info::scalar(Ty::Bool, sizes),
            R::Int => Info::scalar(Ty::Int, sizes.max(1)),
            R::Uint => Info::scalar(Ty::Uint, 1),
            R::Double => Info::scalar(Ty::Double, 1),
            R::Str => {
                let size = string_result_size(name, first, args);
                Info::new(Ty::String, size, 1, size.max(sizes))
            }
            R::ListStr => Info::new(
                Ty::List(Box::new(Ty::String)),
                first_size.saturating_add(1),
                first_size,
                sizes,
            ),
            R::Bytes => Info::new(Ty::Bytes, first_size, 1, first_size),
            R::Semver => Info::scalar(Ty::Semver, sizes),
            R::Ip => Info::scalar(Ty::Ip, sizes),
            R::Cidr => Info::scalar(Ty::Cidr, sizes),
            R::Dyn => Info::new(Ty::Dyn, b, b, 1),
            R::Type => Info::scalar(Ty::Type, 1),
        }
    }
}

/// The largest number of bytes a number or a bool prints as (`string(x)`, a `%d`, `%f`, `%e`
/// of `format`): a double's `%f` with the default precision is at most 316 bytes.
const MAX_PRINTED_SCALAR: u64 = 320;

/// An upper bound on the length of the string a string function returns, from the bounds of
/// its receiver (`first`) and arguments: the real worst case of each function, so that a chain
/// of cheap calls stays cheap (as cel-go and Kubernetes estimate them).
fn string_result_size(name: &str, first: Option<&Info>, args: &[Info]) -> u64 {
    let size = |i: Option<&Info>| i.map_or(1, |i| i.size);
    match name {
        // `list.join(sep)`: every element and a separator between each two.
        "join" => first.map_or(1, |l| {
            let sep = args.first().map_or(0, |a| a.size);
            l.size.saturating_mul(l.elem.saturating_add(sep))
        }),
        // `s.replace(old, new)`: each occurrence of `old` (at least `old.min` bytes, so at most
        // `s / old.min` of them) grows by at most `new - old.min`; an empty `old` matches before
        // every character and at the end.
        "replace" => {
            let s = size(first);
            let old_min = args.first().map_or(0, |a| a.min);
            let new = size(args.get(1));
            if old_min == 0 {
                s.saturating_add(s.saturating_add(1).saturating_mul(new))
            } else if new <= old_min {
                s
            } else {
                s.saturating_add((s / old_min).saturating_mul(new - old_min))
            }
        }
        // `fmt.format(list)`: the format's text and each element printed once.
        "format" => {
            let list = args.first();
            let per = list.map_or(1, |l| l.elem).max(MAX_PRINTED_SCALAR);
            size(first).saturating_add(size(list).saturating_mul(per))
        }
        "string" => size(first).max(MAX_PRINTED_SCALAR),
        // `lowerAscii`, `upperAscii`, `trim`, `reverse`, `substring`, `charAt`: no longer than
        // the receiver.
        _ => size(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_added_function_has_a_signature() {
        for name in crate::functions::NAMES {
            assert!(
                FUNCTIONS.iter().any(|(n, _)| n == name),
                "{name} has no signature in the checker"
            );
        }
    }
}
