//! Sprig's defaults and flow helpers (`defaults.go`): `default`, `empty`, `coalesce`, `all`,
//! `any`, `ternary`.

use super::arg;
use crate::funcs::{Func, FuncMap, Ty};
use crate::value::Value;

pub(super) fn register(map: &mut FuncMap) {
    map.insert(
        "default",
        Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
            // `default D` alone (no given value) is D, like an empty given value.
            Ok(match a.get(1) {
                Some(given) if !empty(given) => given.clone(),
                _ => arg(a, 0).clone(),
            })
        }),
    );
    map.insert(
        "empty",
        Func::pure(&[Ty::Any], None, |a| Ok(Value::Bool(empty(arg(a, 0))))),
    );
    map.insert(
        "coalesce",
        Func::pure(&[], Some(Ty::Any), |a| {
            Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or_default())
        }),
    );
    map.insert(
        "all",
        Func::pure(&[], Some(Ty::Any), |a| {
            Ok(Value::Bool(a.iter().all(|v| !empty(v))))
        }),
    );
    map.insert(
        "any",
        Func::pure(&[], Some(Ty::Any), |a| {
            Ok(Value::Bool(a.iter().any(|v| !empty(v))))
        }),
    );
    map.insert(
        "ternary",
        Func::pure(&[Ty::Any, Ty::Any, Ty::Bool], None, |a| {
            let chosen = if arg(a, 2).truthy() {
                arg(a, 0)
            } else {
                arg(a, 1)
            };
            Ok(chosen.clone())
        }),
    );
}

/// Sprig's `empty`: the zero value of its type (nil, `false`, 0, `""`, an empty list or map);
/// structs are never empty, nil pointers are. This is exactly Go's template truth negated, and
/// it is also what mergo counts as empty.
pub fn empty(v: &Value) -> bool {
    !v.truthy()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn default_uses_sprigs_empty() {
        check("default", &[s("foo"), s("")], s("foo"));
        check("default", &[s("foo"), i(234)], i(234));
        check("default", &[s("foo"), f(2.34)], f(2.34));
        check("default", &[s("123"), nil()], s("123"));
        check("default", &[s("123")], s("123"));
        check("default", &[i(1), i(0)], i(1));
        check("default", &[i(1), f(0.0)], i(1));
        check("default", &[s("d"), b(false)], s("d"));
        check("default", &[s("d"), l(&[])], s("d"));
        check("default", &[s("d"), m(&[])], s("d"));
        check("default", &[s("d"), l(&[nil()])], l(&[nil()]));
        // Only the first given value counts.
        check("default", &[s("d"), s(""), s("x")], s("d"));
        // NaN is not the zero value.
        check("default", &[s("d"), f(f64::NAN)], f(f64::NAN));
    }

    #[test]
    fn empty_and_friends() {
        check("empty", &[i(1)], b(false));
        check("empty", &[i(0)], b(true));
        check("empty", &[s("")], b(true));
        check("empty", &[f(0.0)], b(true));
        check("empty", &[f(-0.0)], b(true));
        check("empty", &[b(false)], b(true));
        check("empty", &[nil()], b(true));
        check("empty", &[m(&[("a", nil())])], b(false));
        check("coalesce", &[i(1)], i(1));
        check("coalesce", &[s(""), i(0), nil(), i(2)], i(2));
        check("coalesce", &[s(""), i(2), i(3)], i(2));
        check("coalesce", &[], nil());
        check("coalesce", &[s(""), nil()], nil());
        check("all", &[i(1)], b(true));
        check("all", &[s(""), i(0), nil(), i(2)], b(false));
        check("all", &[], b(true));
        check("any", &[s(""), i(0), nil(), i(2)], b(true));
        check("any", &[s(""), i(0)], b(false));
        check("any", &[], b(false));
    }

    #[test]
    fn ternary_picks_by_the_last_argument() {
        check("ternary", &[s("foo"), s("bar"), b(true)], s("foo"));
        check("ternary", &[s("foo"), s("bar"), b(false)], s("bar"));
    }
}
