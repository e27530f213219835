//! The functions every Go template has (Go's `funcs.go`): `and`, `or`, `not`, `len`, `index`,
//! `slice`, `print*`, the comparisons, `html`, `js`, `urlquery` and `call`, with Go's
//! argument rules and error texts.

use std::sync::Arc;

use crate::exec::{ArgTy, RV};
use crate::funcs::Ty;
use crate::gofmt;
use crate::value::Value;

/// A builtin function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Call,
    Html,
    Index,
    Slice,
    Js,
    Len,
    Not,
    Or,
    Print,
    Printf,
    Println,
    UrlQuery,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Ne,
}

const RV1: &[ArgTy] = &[ArgTy::RValue];
const RV2: &[ArgTy] = &[ArgTy::RValue, ArgTy::RValue];

impl Builtin {
    pub fn lookup(name: &str) -> Option<Builtin> {
        Some(match name {
            "and" => Builtin::And,
            "call" => Builtin::Call,
            "html" => Builtin::Html,
            "index" => Builtin::Index,
            "slice" => Builtin::Slice,
            "js" => Builtin::Js,
            "len" => Builtin::Len,
            "not" => Builtin::Not,
            "or" => Builtin::Or,
            "print" => Builtin::Print,
            "printf" => Builtin::Printf,
            "println" => Builtin::Println,
            "urlquery" => Builtin::UrlQuery,
            "eq" => Builtin::Eq,
            "ge" => Builtin::Ge,
            "gt" => Builtin::Gt,
            "le" => Builtin::Le,
            "lt" => Builtin::Lt,
            "ne" => Builtin::Ne,
            _ => return None,
        })
    }

    /// The Go signature: fixed parameters and the variadic element type.
    pub fn signature(self) -> (&'static [ArgTy], Option<ArgTy>) {
        match self {
            Builtin::And
            | Builtin::Or
            | Builtin::Call
            | Builtin::Index
            | Builtin::Slice
            | Builtin::Eq => (RV1, Some(ArgTy::RValue)),
            Builtin::Len | Builtin::Not => (RV1, None),
            Builtin::Ne | Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => (RV2, None),
            Builtin::Html | Builtin::Js | Builtin::UrlQuery | Builtin::Print | Builtin::Println => {
                (&[], Some(ArgTy::Ty(Ty::Any)))
            }
            Builtin::Printf => (&[ArgTy::Ty(Ty::String)], Some(ArgTy::Ty(Ty::Any))),
        }
    }

    /// Calls the builtin with arguments already checked against [`Builtin::signature`].
    /// `callee` is the source text of `call`'s first argument. `and`/`or` are evaluated
    /// lazily by the executor and never reach here.
    pub fn call(self, args: Vec<RV>, callee: &str) -> Result<RV, String> {
        match self {
            Builtin::And | Builtin::Or => Ok(args.into_iter().last().unwrap_or(RV::Invalid)),
            Builtin::Not => Ok(bool_rv(!truth(&args[0]))),
            Builtin::Len => length(&args[0]).map(|n| RV::Val(Value::Int(n))),
            Builtin::Index => index(&args[0], &args[1..]),
            Builtin::Slice => slice(&args[0], &args[1..]),
            Builtin::Call => call(&args[0], callee),
            Builtin::Print => Ok(str_rv(gofmt::sprint(&values(&args)))),
            Builtin::Println => Ok(str_rv(gofmt::sprintln(&values(&args)))),
            Builtin::Printf => {
                let vals = values(&args);
                let format = vals[0].as_str().unwrap_or("");
                Ok(str_rv(gofmt::sprintf(format, &vals[1..])))
            }
            Builtin::Html => Ok(str_rv(html_escape(&eval_args(&args)))),
            Builtin::Js => Ok(str_rv(js_escape(&eval_args(&args)))),
            Builtin::UrlQuery => Ok(str_rv(query_escape(&eval_args(&args)))),
            Builtin::Eq => eq(&args[0], &args[1..]).map(bool_rv),
            Builtin::Ne => eq(&args[0], &args[1..]).map(|b| bool_rv(!b)),
            Builtin::Lt => lt(&args[0], &args[1]).map(bool_rv),
            Builtin::Le => le(&args[0], &args[1]).map(bool_rv),
            Builtin::Gt => le(&args[0], &args[1]).map(|b| bool_rv(!b)),
            Builtin::Ge => lt(&args[0], &args[1]).map(|b| bool_rv(!b)),
        }
    }
}

fn bool_rv(b: bool) -> RV {
    RV::Val(Value::Bool(b))
}

fn str_rv(s: String) -> RV {
    RV::Val(Value::String(Arc::from(s)))
}

fn values(args: &[RV]) -> Vec<Value> {
    args.iter().map(RV::to_value).collect()
}

/// Go's `indirectInterface`: the value inside an interface; `None` for nil and invalid.
fn indirect_interface(v: &RV) -> Option<&Value> {
    match v {
        RV::Invalid | RV::Iface(Value::Nil) => None,
        RV::Iface(x) | RV::Val(x) => Some(x),
    }
}

/// Go's truth of a `reflect.Value` argument.
pub(crate) fn truth(v: &RV) -> bool {
    indirect_interface(v).is_some_and(Value::truthy)
}

fn length(item: &RV) -> Result<i64, String> {
    let v = match item {
        RV::Iface(Value::Nil) => return Err("len of nil pointer".into()),
        // Go calls `Type()` on the invalid value while formatting its error.
        RV::Invalid => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        RV::Iface(v) | RV::Val(v) => v,
    };
    let n = match v {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        Value::Object(o) => match o.range_entries() {
            Some(entries) => entries.len(),
            None => return Err(format!("len of type {}", o.type_name())),
        },
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Go's `indexArg` for an already indirected index.
fn index_arg(index: Option<&Value>, cap: usize) -> Result<usize, String> {
    let x = match index {
        Some(Value::Int(x) | Value::Int64(x)) => *x,
        None => return Err("cannot index slice/array with nil".into()),
        Some(other) => {
            return Err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    match usize::try_from(x) {
        Ok(i) if i <= cap => Ok(i),
        _ => Err(format!("index out of range: {x}")),
    }
}

fn index(item: &RV, indexes: &[RV]) -> Result<RV, String> {
    let Some(first) = indirect_interface(item) else {
        return Err("index of untyped nil".into());
    };
    let mut item = RV::Val(first.clone());
    for index in indexes {
        let index = indirect_interface(index);
        let v = match &item {
            RV::Invalid | RV::Iface(Value::Nil) => return Err("index of nil pointer".into()),
            RV::Iface(v) | RV::Val(v) => v,
        };
        item = match v {
            Value::List(l) => {
                let x = index_arg(index, l.len())?;
                match l.get(x) {
                    Some(e) => RV::Iface(e.clone()),
                    None => return Err("reflect: slice index out of range".into()),
                }
            }
            Value::String(s) => {
                let x = index_arg(index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => RV::Val(Value::Int(i64::from(*b))),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            Value::Map(m) => {
                let key = match index {
                    None => return Err("value is nil; should be of type string".into()),
                    Some(Value::String(k)) => k,
                    Some(other) => {
                        return Err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                RV::Iface(m.get(key).unwrap_or(Value::Nil))
            }
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

/// `indexArg` on a slice index, which Go does not indirect: an index that came out of a map
/// or list has the static type `interface {}` and is refused.
fn slice_index_arg(index: &RV, cap: usize) -> Result<usize, String> {
    match index {
        RV::Iface(_) => Err("cannot index slice/array with type interface {}".into()),
        RV::Invalid => index_arg(None, cap),
        RV::Val(v) => index_arg(Some(v), cap),
    }
}

fn slice(item: &RV, indexes: &[RV]) -> Result<RV, String> {
    let Some(v) = indirect_interface(item) else {
        return Err("slice of untyped nil".into());
    };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match v {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0, len, len];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = slice_index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(RV::Val(match v {
        Value::String(s) => {
            let bytes = s.as_bytes().get(idx[0]..idx[1]).unwrap_or_default();
            Value::String(Arc::from(String::from_utf8_lossy(bytes).as_ref()))
        }
        Value::List(l) => Value::list(l.get(idx[0]..idx[1]).unwrap_or_default().to_vec()),
        _ => Value::Nil,
    }))
}

fn call(f: &RV, callee: &str) -> Result<RV, String> {
    match indirect_interface(f) {
        None => Err("call of nil".into()),
        // Template values hold no Go functions.
        Some(v) => Err(format!("non-function {callee} of type {}", v.type_name())),
    }
}

/// Go's `evalArgs` for `html`, `js` and `urlquery`: a single string as is, otherwise the
/// arguments printed with `fmt.Sprint`, nil ones as `<no value>`.
fn eval_args(args: &[RV]) -> String {
    if let [one] = args
        && let Some(Value::String(s)) = indirect_interface(one)
    {
        return s.to_string();
    }
    let vals: Vec<Value> = args
        .iter()
        .map(|a| match a.to_value() {
            Value::Nil => Value::from("<no value>"),
            v => v,
        })
        .collect();
    gofmt::sprint(&vals)
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if crate::lex::go_is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// Comparisons (Go's eq, lt, le with its basicKind rules).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    String,
}

fn basic_kind(v: Option<&Value>) -> Kind {
    match v {
        Some(Value::Bool(_)) => Kind::Bool,
        Some(Value::Int(_) | Value::Int64(_)) => Kind::Int,
        Some(Value::Float(_)) => Kind::Float,
        Some(Value::String(_)) => Kind::String,
        _ => Kind::Invalid,
    }
}

const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";
const BAD_COMPARISON: &str = "incompatible types for comparison";

/// The `reflect.Kind` of a value, for Go's `canCompare`.
fn reflect_kind(v: Option<&Value>) -> &'static str {
    v.map_or("invalid", Value::kind_name)
}

fn eq(arg1: &RV, rest: &[RV]) -> Result<bool, String> {
    let a = indirect_interface(arg1);
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for arg in rest {
        let b = indirect_interface(arg);
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            if a.is_some() && b.is_some() {
                return Err(BAD_COMPARISON.into());
            }
            false
        } else {
            match (a, b) {
                (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
                (Some(Value::Int(x) | Value::Int64(x)), Some(Value::Int(y) | Value::Int64(y))) => {
                    x == y
                }
                (Some(Value::Float(x)), Some(Value::Float(y))) => x == y,
                (Some(Value::String(x)), Some(Value::String(y))) => x == y,
                _ => {
                    let (ka, kb) = (reflect_kind(a), reflect_kind(b));
                    if ka != kb && a.is_some() && b.is_some() {
                        let (x, y) = (
                            a.cloned().unwrap_or_default(),
                            b.cloned().unwrap_or_default(),
                        );
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            gofmt::sprintf("%s", std::slice::from_ref(&x)),
                            x.type_name(),
                            y.type_name(),
                            gofmt::sprintf("%v", std::slice::from_ref(&y)),
                        ));
                    }
                    match (a, b) {
                        (None, None) => true,
                        (None, _) | (_, None) => false,
                        (Some(Value::Object(x)), Some(Value::Object(y))) => Arc::ptr_eq(x, y),
                        (_, Some(y)) => {
                            return Err(format!(
                                "non-comparable type {}: {}",
                                gofmt::sprintf("%s", std::slice::from_ref(y)),
                                y.type_name()
                            ));
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(arg1: &RV, arg2: &RV) -> Result<bool, String> {
    let a = indirect_interface(arg1);
    let k1 = basic_kind(a);
    if k1 == Kind::Invalid {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    let b = indirect_interface(arg2);
    let k2 = basic_kind(b);
    if k2 == Kind::Invalid {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return Err(BAD_COMPARISON.into());
    }
    match (a, b) {
        (Some(Value::Int(x) | Value::Int64(x)), Some(Value::Int(y) | Value::Int64(y))) => Ok(x < y),
        (Some(Value::Float(x)), Some(Value::Float(y))) => Ok(x < y),
        (Some(Value::String(x)), Some(Value::String(y))) => Ok(x.as_bytes() < y.as_bytes()),
        _ => Err(BAD_COMPARISON_TYPE.into()),
    }
}

fn le(arg1: &RV, arg2: &RV) -> Result<bool, String> {
    if lt(arg1, arg2)? {
        return Ok(true);
    }
    eq(arg1, std::slice::from_ref(arg2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape("<script>alert(\"XSS\");</script>"),
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;"
        );
        assert_eq!(html_escape("a'b&\0"), "a&#39;b&amp;\u{FFFD}");
        assert_eq!(js_escape("It'd be nice."), "It\\'d be nice.");
        assert_eq!(
            js_escape("<a=b>&\"\\\n"),
            "\\u003Ca\\u003Db\\u003E\\u0026\\\"\\\\\\u000A"
        );
        assert_eq!(js_escape("é\u{2028}"), "é\\u2028");
        assert_eq!(
            query_escape("http://www.example.org/"),
            "http%3A%2F%2Fwww.example.org%2F"
        );
        assert_eq!(query_escape("a b+c~d_e.f-g"), "a+b%2Bc~d_e.f-g");
        assert_eq!(query_escape("é"), "%C3%A9");
    }
}
