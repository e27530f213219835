//! Sprig's data functions: lists, dicts, defaults, reflection, conversions and math.
//!
//! Each function is registered with its Go signature (see [`Ty`]) and reproduces Sprig v3.3.0
//! (the version Helm 3.17 links; these files are unchanged since v3.2.3 apart from mergo's
//! module path) as Helm runs it: where Sprig panics, `text/template` recovers the panic and
//! reports it as the call's error, so the panicking and the `must*` variant of a function fail
//! with the same message.
//!
//! What the value model cannot express: Go's typed slices (`until` returns `[]int`, `keys`
//! `[]string`, `chunk` `[][]interface {}`) are all plain lists here, so `typeOf` names them
//! `[]interface {}` and `deepEqual` compares them by content; a slice's spare capacity (which
//! lets Go's `slice` reach past the length) is not modelled; a nil map result is an empty map.
//! Go map iteration order is random: `keys`, `values` and `omit` give key order, which is one of
//! the orders Go may produce.

use super::{FuncError, FuncMap};
use crate::funcs::convert;
use crate::value::{List, Map, Value};

mod decimal;
mod defaults;
mod dict;
mod list;
mod numeric;
mod reflect;

pub use defaults::empty;
pub use reflect::deep_equal;

/// Registers every function of this module.
pub fn register(map: &mut FuncMap) {
    list::register(map);
    dict::register(map);
    defaults::register(map);
    reflect::register(map);
    numeric::register(map);
}

/// The message of Go's runtime panic when a method is called on a nil interface, which is what
/// Sprig's `reflect.TypeOf(list).Kind()` does when `list` is nil.
pub(crate) const NIL_DEREFERENCE: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// How deep `merge`, `deepCopy` and `deepEqual` follow nested maps and lists. Go has no such
/// bound and crashes on a map that contains itself; we end in an error instead.
pub(crate) const MAX_DEPTH: usize = 1000;

/// The longest list `until`, `untilStep` and `seq` build (the executor's bound on `range`
/// iterations): beyond it Go would exhaust memory, we end in an error.
pub(crate) const MAX_GENERATED: usize = 10_000_000;

static NIL: Value = Value::Nil;

/// Argument `i` (the executor guarantees the arity; a missing one reads as nil).
pub(crate) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NIL)
}

/// An `int` argument (already checked by the executor; anything else converts as `cast` does).
pub(crate) fn int_arg(args: &[Value], i: usize) -> i64 {
    match arg(args, i) {
        Value::Int(n) => *n,
        other => convert::to_int64(other),
    }
}

/// A `string` argument.
pub(crate) fn str_arg(args: &[Value], i: usize) -> std::borrow::Cow<'_, str> {
    match arg(args, i) {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(convert::strval(other)),
    }
}

/// A `map[string]interface{}` argument: `None` for a nil map.
pub(crate) fn map_arg(args: &[Value], i: usize) -> Option<&Map> {
    arg(args, i).as_map()
}

/// The `reflect.Kind` name Sprig prints in its errors (`Cannot push on type string`).
pub(crate) fn kind_of(v: &Value) -> &'static str {
    v.kind_name()
}

/// The elements of a slice or array argument, as Sprig's `reflect.ValueOf(list)` reads them.
/// `nil` is Go's nil-pointer panic; any other kind is the error `not_a_list` builds from the
/// kind name.
pub(crate) fn elements(
    v: &Value,
    not_a_list: impl FnOnce(&str) -> String,
) -> Result<List, FuncError> {
    match v {
        Value::List(items) => Ok(items.clone()),
        Value::Nil => Err(FuncError::new(NIL_DEREFERENCE)),
        Value::Object(o) if matches!(o.kind_name(), "slice" | "array") => match o.to_data() {
            Some(Value::List(items)) => Ok(items),
            _ => Err(FuncError::new(not_a_list(o.kind_name()))),
        },
        other => Err(FuncError::new(not_a_list(kind_of(other)))),
    }
}

/// Go's conversion of a float64 to int64 on amd64 (the platform Helm is built for): NaN and
/// out-of-range values become the "integer indefinite" `math.MinInt64`.
pub(crate) fn go_f64_to_i64(f: f64) -> i64 {
    if f.is_nan() || !(i64::MIN as f64..-(i64::MIN as f64)).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Small constructors and a checker shared by the submodules' tests.

    use std::sync::OnceLock;

    use crate::funcs::{FuncMap, FuncResult, StandaloneContext};
    use crate::value::{Map, Value};

    pub fn funcs() -> &'static FuncMap {
        static FUNCS: OnceLock<FuncMap> = OnceLock::new();
        FUNCS.get_or_init(FuncMap::sprig)
    }

    /// Calls a Sprig function as the executor would, with already converted arguments.
    pub fn call(name: &str, args: &[Value]) -> FuncResult {
        let func = funcs()
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        func.call(&mut StandaloneContext::default(), args)
    }

    /// Asserts `name(args) == want`, value and Go type alike.
    #[track_caller]
    pub fn check(name: &str, args: &[Value], want: Value) {
        match call(name, args) {
            Ok(got) => assert!(
                same(&got, &want),
                "{name}{args:?}: got {got:?}, want {want:?}"
            ),
            Err(e) => panic!("{name}{args:?}: unexpected error {e}"),
        }
    }

    /// Asserts `name(args)` fails with `message` (what follows `error calling NAME: `).
    #[track_caller]
    pub fn check_err(name: &str, args: &[Value], message: &str) {
        match call(name, args) {
            Ok(got) => panic!("{name}{args:?}: got {got:?}, want error {message:?}"),
            Err(e) => assert_eq!(e.message, message, "{name}{args:?}"),
        }
    }

    /// Equality that also tells `-0.0` from `0.0` and NaN from a number.
    pub fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => {
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
            }
            (Value::List(x), Value::List(y)) => {
                x.go_type() == y.go_type()
                    && x.len() == y.len()
                    && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
            }
            (Value::Map(x), Value::Map(y)) => {
                let (x, y) = (x.entries(), y.entries());
                x.len() == y.len()
                    && x.iter()
                        .zip(y.iter())
                        .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
            }
            _ => a == b,
        }
    }

    /// A stand-in Go object: `kind` is its `reflect.Kind`, `data` its list view if any.
    #[derive(Debug)]
    pub struct Dummy {
        pub kind: &'static str,
        pub data: Option<Value>,
    }

    impl crate::value::Object for Dummy {
        fn type_name(&self) -> &str {
            if self.kind == "ptr" {
                "*test.Dummy"
            } else {
                "test.Dummy"
            }
        }
        fn kind_name(&self) -> &'static str {
            self.kind
        }
        fn go_string(&self) -> String {
            "dummy".into()
        }
        fn to_data(&self) -> Option<Value> {
            self.data.clone()
        }
    }

    pub fn obj(kind: &'static str, data: Option<Value>) -> Value {
        Value::Object(std::sync::Arc::new(Dummy { kind, data }))
    }

    pub fn i(n: i64) -> Value {
        Value::Int(n)
    }
    /// A Go `int64`.
    pub fn i64v(n: i64) -> Value {
        Value::Int64(n)
    }
    pub fn f(x: f64) -> Value {
        Value::Float(x)
    }
    pub fn s(text: &str) -> Value {
        Value::from(text)
    }
    pub fn b(v: bool) -> Value {
        Value::Bool(v)
    }
    pub fn nil() -> Value {
        Value::Nil
    }
    pub fn l(items: &[Value]) -> Value {
        Value::list(items.to_vec())
    }
    pub fn ints(items: &[i64]) -> Value {
        Value::list(items.iter().map(|&n| Value::Int(n)).collect())
    }
    pub fn strs(items: &[&str]) -> Value {
        Value::list(items.iter().map(|&t| Value::from(t)).collect())
    }
    /// A Go `[]int`.
    pub fn int_slice(items: &[i64]) -> Value {
        Value::typed_list(
            items.iter().map(|&n| Value::Int(n)).collect(),
            crate::value::ListType::Int,
        )
    }
    /// A Go `[]string`.
    pub fn str_slice(items: &[&str]) -> Value {
        Value::typed_list(
            items.iter().map(|&t| Value::from(t)).collect(),
            crate::value::ListType::String,
        )
    }
    /// A Go `[][]interface {}`.
    pub fn lists(items: &[Value]) -> Value {
        Value::typed_list(items.to_vec(), crate::value::ListType::InterfaceList)
    }
    pub fn m(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect::<Map>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::funcs;
    use super::*;
    use crate::funcs::Ty;

    #[test]
    fn registers_only_its_own_functions() {
        let mut mine = FuncMap::new();
        register(&mut mine);
        // Owned by the strings, encoding and misc modules.
        for other in [
            "sortAlpha",
            "join",
            "split",
            "splitList",
            "toString",
            "toStrings",
            "toJson",
            "fromJson",
            "fail",
        ] {
            assert!(!mine.contains(other), "{other}");
        }
        for name in [
            "list",
            "tuple",
            "append",
            "push",
            "slice",
            "dict",
            "merge",
            "dig",
            "default",
            "empty",
            "typeOf",
            "deepEqual",
            "atoi",
            "toDecimal",
            "div",
            "addf",
            "round",
            "seq",
            "randInt",
            "chunk",
            "compact",
            "mustCompact",
        ] {
            assert!(funcs().contains(name), "{name}");
        }
    }

    #[test]
    fn signatures_follow_go() {
        let sig = |name: &str| {
            let f = funcs().get(name).unwrap();
            (f.params.clone(), f.variadic)
        };
        assert_eq!(sig("round"), (vec![Ty::Any, Ty::Int], Some(Ty::Float)));
        assert_eq!(sig("chunk"), (vec![Ty::Int, Ty::Any], None));
        assert_eq!(sig("seq"), (vec![], Some(Ty::Int)));
        assert_eq!(sig("until"), (vec![Ty::Int], None));
        assert_eq!(sig("atoi"), (vec![Ty::String], None));
        assert_eq!(sig("ternary"), (vec![Ty::Any, Ty::Any, Ty::Bool], None));
        assert_eq!(sig("merge"), (vec![Ty::Map], Some(Ty::Map)));
        assert_eq!(sig("pick"), (vec![Ty::Map], Some(Ty::String)));
        assert_eq!(sig("pluck"), (vec![Ty::String], Some(Ty::Map)));
        assert_eq!(sig("keys"), (vec![], Some(Ty::Map)));
        assert_eq!(sig("get"), (vec![Ty::Map, Ty::String], None));
        assert_eq!(sig("set"), (vec![Ty::Map, Ty::String, Ty::Any], None));
        assert_eq!(sig("dig"), (vec![], Some(Ty::Any)));
        assert_eq!(sig("slice"), (vec![Ty::Any], Some(Ty::Any)));
        assert_eq!(sig("mul"), (vec![Ty::Any], Some(Ty::Any)));
        assert_eq!(sig("add"), (vec![], Some(Ty::Any)));
        assert_eq!(sig("randInt"), (vec![Ty::Int, Ty::Int], None));
        assert_eq!(sig("default"), (vec![Ty::Any], Some(Ty::Any)));
        assert_eq!(sig("typeIs"), (vec![Ty::String, Ty::Any], None));
    }

    #[test]
    fn float_to_int_follows_amd64() {
        assert_eq!(go_f64_to_i64(3.9), 3);
        assert_eq!(go_f64_to_i64(-3.9), -3);
        assert_eq!(go_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(go_f64_to_i64(f64::INFINITY), i64::MIN);
        assert_eq!(go_f64_to_i64(1e19), i64::MIN);
        assert_eq!(go_f64_to_i64(i64::MIN as f64), i64::MIN);
        assert_eq!(go_f64_to_i64(-(i64::MIN as f64)), i64::MIN);
    }
}
