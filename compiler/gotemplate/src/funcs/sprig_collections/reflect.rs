//! Sprig's reflection functions (`reflect.go`): `typeOf`, `typeIs`, `typeIsLike`, `kindOf`,
//! `kindIs`, and `deepEqual` (Go's `reflect.DeepEqual`).

use super::{MAX_DEPTH, arg, str_arg};
use crate::funcs::{Func, FuncMap, Ty};
use crate::value::{Map, Value};

pub(super) fn register(map: &mut FuncMap) {
    map.insert(
        "typeOf",
        Func::pure(&[Ty::Any], None, |a| Ok(Value::from(arg(a, 0).type_name()))),
    );
    map.insert(
        "typeIs",
        Func::pure(&[Ty::String, Ty::Any], None, |a| {
            Ok(Value::Bool(str_arg(a, 0) == arg(a, 1).type_name()))
        }),
    );
    map.insert(
        "typeIsLike",
        Func::pure(&[Ty::String, Ty::Any], None, |a| {
            let target = str_arg(a, 0);
            let t = arg(a, 1).type_name();
            Ok(Value::Bool(
                t == *target || t.strip_prefix('*') == Some(&*target),
            ))
        }),
    );
    map.insert(
        "kindOf",
        Func::pure(&[Ty::Any], None, |a| Ok(Value::from(arg(a, 0).kind_name()))),
    );
    map.insert(
        "kindIs",
        Func::pure(&[Ty::String, Ty::Any], None, |a| {
            Ok(Value::Bool(str_arg(a, 0) == arg(a, 1).kind_name()))
        }),
    );
    map.insert(
        "deepEqual",
        Func::pure(&[Ty::Any, Ty::Any], None, |a| {
            Ok(Value::Bool(deep_equal(arg(a, 0), arg(a, 1))))
        }),
    );
}

/// Go's `reflect.DeepEqual` on template values: types must match (the int `1` is not the
/// float64 `1`), NaN is unequal to itself, maps and lists compare by content, and the same map
/// or list is equal to itself. Objects are equal when they are the same object, or of the
/// same type and print the same. A pair of maps met again while comparing them (a cycle) is
/// taken as equal, as Go does; beyond [`MAX_DEPTH`] levels values are taken as unequal.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    let mut in_progress = Vec::new();
    equal(a, b, &mut in_progress, 0)
}

fn equal(a: &Value, b: &Value, in_progress: &mut Vec<(Map, Map)>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) | (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            // `reflect.DeepEqual`: slices of different types differ.
            x.go_type() == y.go_type()
                && (x.ptr_eq(y)
                    || x.len() == y.len()
                        && x.iter()
                            .zip(y.iter())
                            .all(|(p, q)| equal(p, q, in_progress, depth + 1)))
        }
        (Value::Map(x), Value::Map(y)) => {
            if x.ptr_eq(y) || in_progress.iter().any(|(p, q)| p.ptr_eq(x) && q.ptr_eq(y)) {
                return true;
            }
            // Snapshots, so that no lock is held while nested values are compared.
            let (xs, ys) = (x.entries(), y.entries());
            if xs.len() != ys.len() {
                return false;
            }
            in_progress.push((x.clone(), y.clone()));
            let result = xs
                .iter()
                .zip(ys.iter())
                .all(|((k1, v1), (k2, v2))| k1 == k2 && equal(v1, v2, in_progress, depth + 1));
            in_progress.pop();
            result
        }
        (Value::Object(x), Value::Object(y)) => {
            std::sync::Arc::ptr_eq(x, y)
                || (x.type_name() == y.type_name() && x.go_string() == y.go_string())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::deep_equal;
    use crate::value::Value;

    #[test]
    fn type_and_kind_names() {
        check("typeOf", &[s("a")], s("string"));
        check("typeOf", &[i(1)], s("int"));
        check("typeOf", &[f(1.0)], s("float64"));
        check("typeOf", &[b(true)], s("bool"));
        check("typeOf", &[l(&[])], s("[]interface {}"));
        check("typeOf", &[m(&[])], s("map[string]interface {}"));
        check("typeOf", &[nil()], s("<nil>"));
        check("kindOf", &[s("a")], s("string"));
        check("kindOf", &[l(&[])], s("slice"));
        check("kindOf", &[m(&[])], s("map"));
        check("kindOf", &[f(2.0)], s("float64"));
        // reflect.ValueOf(nil).Kind() is Invalid.
        check("kindOf", &[nil()], s("invalid"));
        check("typeIs", &[s("string"), s("hello")], b(true));
        check("typeIs", &[s("int"), f(1.0)], b(false));
        check("typeIsLike", &[s("string"), s("foo")], b(true));
        check("typeIsLike", &[s("int"), s("foo")], b(false));
        check("kindIs", &[s("map"), m(&[])], b(true));
        check("kindIs", &[s("ptr"), s("hello")], b(false));
        check("kindIs", &[s("invalid"), nil()], b(true));
    }

    #[test]
    fn typed_slices_and_int64_have_their_go_names() {
        check("typeOf", &[i64v(1)], s("int64"));
        check("kindOf", &[i64v(1)], s("int64"));
        check("typeIs", &[s("int"), i64v(1)], b(false));
        check("typeOf", &[str_slice(&["a"])], s("[]string"));
        check("typeOf", &[int_slice(&[1])], s("[]int"));
        check("typeOf", &[lists(&[])], s("[][]interface {}"));
        check("kindOf", &[str_slice(&[])], s("slice"));
        check("typeIs", &[s("[]string"), str_slice(&[])], b(true));
    }

    #[test]
    fn deep_equal_tells_go_types_apart() {
        // reflect.DeepEqual: int vs int64, []string vs []interface {} differ.
        check("deepEqual", &[i(1), i64v(1)], b(false));
        check("deepEqual", &[i64v(1), i64v(1)], b(true));
        check("deepEqual", &[str_slice(&["a"]), strs(&["a"])], b(false));
        check(
            "deepEqual",
            &[str_slice(&["a"]), str_slice(&["a"])],
            b(true),
        );
        check("deepEqual", &[int_slice(&[1]), ints(&[1])], b(false));
    }

    #[test]
    fn deep_equal_is_strict_about_types() {
        check("deepEqual", &[i(1), i(1)], b(true));
        check("deepEqual", &[i(1), f(1.0)], b(false));
        check("deepEqual", &[s("1"), i(1)], b(false));
        check("deepEqual", &[nil(), nil()], b(true));
        check("deepEqual", &[nil(), s("")], b(false));
        check("deepEqual", &[f(f64::NAN), f(f64::NAN)], b(false));
        check("deepEqual", &[ints(&[1, 2]), ints(&[1, 2])], b(true));
        check("deepEqual", &[ints(&[1, 2]), ints(&[2, 1])], b(false));
        check(
            "deepEqual",
            &[
                m(&[("a", ints(&[1])), ("b", m(&[("c", nil())]))]),
                m(&[("a", ints(&[1])), ("b", m(&[("c", nil())]))]),
            ],
            b(true),
        );
        check(
            "deepEqual",
            &[m(&[("a", i(1))]), m(&[("a", i(1)), ("b", i(2))])],
            b(false),
        );
        check(
            "deepEqual",
            &[m(&[("a", i(1))]), m(&[("b", i(1))])],
            b(false),
        );
    }

    #[test]
    fn deep_equal_survives_cycles() {
        let a = m(&[]);
        a.as_map().unwrap().insert("self", a.clone());
        let b2 = m(&[]);
        b2.as_map().unwrap().insert("self", b2.clone());
        assert!(deep_equal(&a, &a));
        assert!(deep_equal(&a, &b2));
        let nest = |levels: usize| {
            let mut v = Value::Nil;
            for _ in 0..levels {
                v = Value::list(vec![v]);
            }
            v
        };
        assert!(deep_equal(&nest(100), &nest(100)));
        // Past the depth bound, distinct structures compare unequal rather than overflow.
        assert!(!deep_equal(&nest(3000), &nest(3000)));
    }
}
