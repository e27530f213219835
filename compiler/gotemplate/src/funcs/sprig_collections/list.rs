//! Sprig's list functions (`list.go`): `list`, `append`, `first`, `rest`, `uniq`, `slice`,
//! `chunk`, `concat`, … and their `must*` variants.

use super::defaults::empty;
use super::reflect::deep_equal;
use super::{arg, elements, go_f64_to_i64, int_arg};
use crate::funcs::convert::to_int64;
use crate::funcs::{Func, FuncError, FuncMap, FuncResult, Ty};
use crate::value::{ListType, Value};

pub(super) fn register(map: &mut FuncMap) {
    let list = || Func::pure(&[], Some(Ty::Any), |a| Ok(Value::list(a.to_vec())));
    map.insert("list", list());
    // Sprig's FIXME: "with the addition of append/prepend these are no longer immutable".
    map.insert("tuple", list());

    let one = |f: fn(&Value) -> FuncResult| Func::pure(&[Ty::Any], None, move |a| f(arg(a, 0)));
    let two = |f: fn(&Value, &Value) -> FuncResult| {
        Func::pure(&[Ty::Any, Ty::Any], None, move |a| f(arg(a, 0), arg(a, 1)))
    };
    for name in ["append", "push", "mustAppend", "mustPush"] {
        map.insert(name, two(push));
    }
    for name in ["prepend", "mustPrepend"] {
        map.insert(name, two(prepend));
    }
    for name in ["first", "mustFirst"] {
        map.insert(name, one(first));
    }
    for name in ["last", "mustLast"] {
        map.insert(name, one(last));
    }
    for name in ["rest", "mustRest"] {
        map.insert(name, one(rest));
    }
    for name in ["initial", "mustInitial"] {
        map.insert(name, one(initial));
    }
    for name in ["reverse", "mustReverse"] {
        map.insert(name, one(reverse));
    }
    for name in ["uniq", "mustUniq"] {
        map.insert(name, one(uniq));
    }
    for name in ["compact", "mustCompact"] {
        map.insert(name, one(compact));
    }
    for name in ["has", "mustHas"] {
        map.insert(name, two(has));
    }
    for name in ["without", "mustWithout"] {
        map.insert(
            name,
            Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
                without(arg(a, 0), a.get(1..).unwrap_or_default())
            }),
        );
    }
    for name in ["slice", "mustSlice"] {
        map.insert(
            name,
            Func::pure(&[Ty::Any], Some(Ty::Any), |a| {
                slice(arg(a, 0), a.get(1..).unwrap_or_default())
            }),
        );
    }
    for name in ["chunk", "mustChunk"] {
        map.insert(
            name,
            Func::pure(&[Ty::Int, Ty::Any], None, |a| {
                chunk(int_arg(a, 0), arg(a, 1))
            }),
        );
    }
    map.insert("concat", Func::pure(&[], Some(Ty::Any), concat));
}

fn push(list: &Value, v: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot push on type {k}"))?;
    let mut out = Vec::with_capacity(items.len() + 1);
    out.extend(items.iter().cloned());
    out.push(v.clone());
    Ok(Value::list(out))
}

fn prepend(list: &Value, v: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot prepend on type {k}"))?;
    let mut out = Vec::with_capacity(items.len() + 1);
    out.push(v.clone());
    out.extend(items.iter().cloned());
    Ok(Value::list(out))
}

/// `first` of an empty list is nil (printed `<no value>`).
fn first(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find first on type {k}"))?;
    Ok(items.first().cloned().unwrap_or_default())
}

fn last(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find last on type {k}"))?;
    Ok(items.last().cloned().unwrap_or_default())
}

/// `rest` of an empty list is a nil slice, printed `[]`.
fn rest(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find rest on type {k}"))?;
    Ok(Value::list(items.get(1..).unwrap_or_default().to_vec()))
}

fn initial(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find initial on type {k}"))?;
    let keep = items.len().saturating_sub(1);
    Ok(Value::list(items[..keep].to_vec()))
}

fn reverse(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find reverse on type {k}"))?;
    Ok(Value::list(items.iter().rev().cloned().collect()))
}

/// Keeps the items that are not `empty` (so `0`, `false`, `""` and nil all go).
fn compact(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot compact on type {k}"))?;
    Ok(Value::list(
        items.iter().filter(|v| !empty(v)).cloned().collect(),
    ))
}

/// Unique items in first-seen order, compared with `reflect.DeepEqual` (so `1` and `1.0`, an
/// int and a float64, are different).
fn uniq(list: &Value) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find uniq on type {k}"))?;
    let mut out: Vec<Value> = Vec::new();
    for item in items.iter() {
        if !out.iter().any(|seen| deep_equal(item, seen)) {
            out.push(item.clone());
        }
    }
    Ok(Value::list(out))
}

fn without(list: &Value, omit: &[Value]) -> FuncResult {
    let items = elements(list, |k| format!("Cannot find without on type {k}"))?;
    Ok(Value::list(
        items
            .iter()
            .filter(|item| !omit.iter().any(|o| deep_equal(o, item)))
            .cloned()
            .collect(),
    ))
}

/// `has NEEDLE HAYSTACK`: a nil haystack has nothing (no error, unlike the other functions).
fn has(needle: &Value, haystack: &Value) -> FuncResult {
    if haystack.is_nil() {
        return Ok(Value::Bool(false));
    }
    let items = elements(haystack, |k| format!("Cannot find has on type {k}"))?;
    Ok(Value::Bool(
        items.iter().any(|item| deep_equal(needle, item)),
    ))
}

/// `slice LIST [START [END]]` with `cast.ToInt` indices; an empty list gives nil whatever the
/// indices. Go checks the end against the slice's capacity, which we take to be its length.
fn slice(list: &Value, indices: &[Value]) -> FuncResult {
    let items = elements(list, |k| {
        format!("list should be type of slice or array but {k}")
    })?;
    let len = items.len();
    if len == 0 {
        return Ok(Value::Nil);
    }
    let start = indices.first().map_or(0, to_int64);
    let end = match indices.get(1) {
        Some(v) => to_int64(v),
        None => i64::try_from(len).unwrap_or(i64::MAX),
    };
    match (usize::try_from(start), usize::try_from(end)) {
        (Ok(s), Ok(e)) if s <= e && e <= len => {
            if s == 0 && e == len {
                Ok(Value::List(items))
            } else {
                // `reflect.Value.Slice` keeps the slice's type.
                Ok(Value::typed_list(items[s..e].to_vec(), items.go_type()))
            }
        }
        _ => Err(FuncError::new(
            "reflect.Value.Slice: slice index out of bounds",
        )),
    }
}

/// `chunk SIZE LIST`, computed with Sprig's float arithmetic so that odd sizes fail (or not)
/// exactly as in Go: a size of 0 or a negative size mostly ends in `makeslice` panics.
fn chunk(size: i64, list: &Value) -> FuncResult {
    const MAKESLICE: &str = "runtime error: makeslice: len out of range";
    let items = elements(list, |k| format!("Cannot chunk type {k}"))?;
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let chunks = go_f64_to_i64(((len - 1) as f64 / size as f64).floor() + 1.0);
    if chunks < 0 {
        return Err(FuncError::new(MAKESLICE));
    }
    let mut out = Vec::new();
    for i in 0..chunks {
        let mut clen = size;
        if i == chunks - 1 {
            clen = go_f64_to_i64((len as f64 % size as f64).floor());
            if clen == 0 {
                clen = size;
            }
        }
        if clen < 0 {
            return Err(FuncError::new(MAKESLICE));
        }
        let mut part = Vec::new();
        for j in 0..clen {
            let item = i
                .checked_mul(size)
                .and_then(|base| base.checked_add(j))
                .and_then(|ix| usize::try_from(ix).ok())
                .and_then(|ix| items.get(ix));
            match item {
                Some(v) => part.push(v.clone()),
                None => return Err(FuncError::new("reflect: slice index out of range")),
            }
        }
        out.push(Value::list(part));
    }
    Ok(Value::typed_list(out, ListType::InterfaceList))
}

/// `concat LIST...`: no lists (or only empty ones) give a nil slice, printed `[]`.
fn concat(lists: &[Value]) -> FuncResult {
    let mut out = Vec::new();
    for list in lists {
        let items = elements(list, |k| format!("Cannot concat type {k} as list"))?;
        out.extend(items.iter().cloned());
    }
    Ok(Value::list(out))
}

#[cfg(test)]
mod tests {
    use super::super::NIL_DEREFERENCE;
    use super::super::testutil::*;

    #[test]
    fn list_and_tuple() {
        check("list", &[], l(&[]));
        check("list", &[i(1), s("a"), nil()], l(&[i(1), s("a"), nil()]));
        check("tuple", &[i(1), i(2)], ints(&[1, 2]));
    }

    #[test]
    fn push_and_prepend() {
        for name in ["append", "push", "mustAppend", "mustPush"] {
            check(name, &[ints(&[1, 2]), i(3)], ints(&[1, 2, 3]));
            check(name, &[l(&[]), nil()], l(&[nil()]));
            check_err(name, &[s("abc"), i(1)], "Cannot push on type string");
            check_err(name, &[m(&[]), i(1)], "Cannot push on type map");
            // reflect.TypeOf(nil).Kind() is a nil-pointer panic in Go.
            check_err(name, &[nil(), i(1)], NIL_DEREFERENCE);
        }
        for name in ["prepend", "mustPrepend"] {
            check(name, &[ints(&[1, 2]), i(0)], ints(&[0, 1, 2]));
            check_err(name, &[f(1.0), i(1)], "Cannot prepend on type float64");
            check_err(name, &[nil(), i(1)], NIL_DEREFERENCE);
        }
    }

    #[test]
    fn push_does_not_alter_its_input() {
        let input = ints(&[1]);
        check("append", &[input.clone(), i(2)], ints(&[1, 2]));
        assert_eq!(input, ints(&[1]));
    }

    #[test]
    fn first_last_rest_initial() {
        check("first", &[ints(&[1, 2, 3])], i(1));
        check("first", &[l(&[])], nil());
        check("mustFirst", &[ints(&[4])], i(4));
        check_err("first", &[s("x")], "Cannot find first on type string");
        check_err("mustFirst", &[nil()], NIL_DEREFERENCE);
        check("last", &[ints(&[1, 2, 3])], i(3));
        check("last", &[l(&[])], nil());
        check_err("mustLast", &[b(true)], "Cannot find last on type bool");
        check("rest", &[ints(&[1, 2, 3])], ints(&[2, 3]));
        check("rest", &[ints(&[1])], l(&[]));
        check("rest", &[l(&[])], l(&[]));
        check_err("mustRest", &[i(1)], "Cannot find rest on type int");
        check("initial", &[ints(&[1, 2, 3])], ints(&[1, 2]));
        check("initial", &[l(&[])], l(&[]));
        check_err("mustInitial", &[m(&[])], "Cannot find initial on type map");
    }

    #[test]
    fn reverse_uniq_compact_without() {
        check("reverse", &[ints(&[1, 2, 3])], ints(&[3, 2, 1]));
        check("reverse", &[l(&[])], l(&[]));
        check_err(
            "mustReverse",
            &[s("x")],
            "Cannot find reverse on type string",
        );
        check("uniq", &[ints(&[1, 2, 1, 3, 2])], ints(&[1, 2, 3]));
        // DeepEqual compares types: the int 1 and the float64 1 are different.
        check("uniq", &[l(&[i(1), f(1.0), i(1)])], l(&[i(1), f(1.0)]));
        check(
            "uniq",
            &[l(&[
                ints(&[1]),
                ints(&[1]),
                m(&[("a", i(1))]),
                m(&[("a", i(1))]),
            ])],
            l(&[ints(&[1]), m(&[("a", i(1))])]),
        );
        check_err("mustUniq", &[nil()], NIL_DEREFERENCE);
        check(
            "compact",
            &[l(&[
                i(0),
                s(""),
                nil(),
                b(false),
                s("a"),
                f(0.0),
                l(&[]),
                m(&[]),
                i(1),
            ])],
            l(&[s("a"), i(1)]),
        );
        check_err("mustCompact", &[s("a")], "Cannot compact on type string");
        check("without", &[ints(&[1, 2, 3, 4]), i(1), i(3)], ints(&[2, 4]));
        check("without", &[ints(&[1, 2]), f(1.0)], ints(&[1, 2]));
        check("without", &[ints(&[1, 2])], ints(&[1, 2]));
        check_err(
            "mustWithout",
            &[s("a"), i(1)],
            "Cannot find without on type string",
        );
    }

    #[test]
    fn has_compares_deeply_and_strictly() {
        check("has", &[i(1), ints(&[1, 2])], b(true));
        check("has", &[i(3), ints(&[1, 2])], b(false));
        // Helm values are float64, literals int: they never match.
        check("has", &[i(1), l(&[f(1.0)])], b(false));
        check("has", &[s("b"), strs(&["a", "b"])], b(true));
        check("has", &[nil(), l(&[nil()])], b(true));
        check("has", &[i(1), nil()], b(false));
        check("mustHas", &[i(1), nil()], b(false));
        check_err("has", &[i(1), s("abc")], "Cannot find has on type string");
        check_err("mustHas", &[i(1), m(&[])], "Cannot find has on type map");
    }

    #[test]
    fn slice_is_sprigs() {
        let list = ints(&[1, 2, 3, 4, 5]);
        check("slice", std::slice::from_ref(&list), list.clone());
        check("slice", &[list.clone(), i(1)], ints(&[2, 3, 4, 5]));
        check("slice", &[list.clone(), i(1), i(3)], ints(&[2, 3]));
        check("slice", &[list.clone(), i(0), i(0)], l(&[]));
        check("slice", &[list.clone(), i(5)], l(&[]));
        // Indices go through cast.ToInt: strings and float64 values work.
        check("slice", &[list.clone(), s("1"), f(2.9)], ints(&[2]));
        // An empty list is nil, whatever the indices.
        check("slice", &[l(&[]), i(3), i(9)], nil());
        let oob = "reflect.Value.Slice: slice index out of bounds";
        check_err("slice", &[list.clone(), i(3), i(2)], oob);
        check_err("slice", &[list.clone(), i(0), i(6)], oob);
        check_err("mustSlice", &[list.clone(), i(-1)], oob);
        // Unlike Go's builtin, Sprig's slice refuses strings.
        check_err(
            "slice",
            &[s("abc"), i(1)],
            "list should be type of slice or array but string",
        );
        check_err("mustSlice", &[nil()], NIL_DEREFERENCE);
    }

    #[test]
    fn chunk_follows_sprigs_float_arithmetic() {
        let list = ints(&[1, 2, 3, 4, 5]);
        check(
            "chunk",
            &[i(2), list.clone()],
            lists(&[ints(&[1, 2]), ints(&[3, 4]), ints(&[5])]),
        );
        check(
            "chunk",
            &[i(5), list.clone()],
            lists(std::slice::from_ref(&list)),
        );
        check(
            "chunk",
            &[i(9), list.clone()],
            lists(std::slice::from_ref(&list)),
        );
        check(
            "chunk",
            &[i(1), ints(&[1, 2])],
            lists(&[ints(&[1]), ints(&[2])]),
        );
        check("chunk", &[i(3), l(&[])], lists(&[]));
        let makeslice = "runtime error: makeslice: len out of range";
        // Size 0 divides by zero in float64: ±Inf or NaN, which converts to MinInt64.
        check_err("chunk", &[i(0), list.clone()], makeslice);
        check_err("chunk", &[i(0), l(&[])], makeslice);
        // Negative sizes: Go quirks, derived from the same arithmetic.
        check_err("chunk", &[i(-2), list.clone()], makeslice);
        check("chunk", &[i(-1), ints(&[1, 2])], lists(&[]));
        check("chunk", &[i(-5), ints(&[1])], lists(&[ints(&[1])]));
        check_err("mustChunk", &[i(-1), ints(&[1])], makeslice);
        check_err("mustChunk", &[i(2), s("ab")], "Cannot chunk type string");
        check_err("chunk", &[i(2), nil()], NIL_DEREFERENCE);
    }

    #[test]
    fn slice_objects_read_through_their_data() {
        // Like Helm's .Capabilities.APIVersions, a []string with methods.
        let versions = obj("slice", Some(strs(&["apps/v1", "v1"])));
        check("first", std::slice::from_ref(&versions), s("apps/v1"));
        check("has", &[s("v1"), versions.clone()], b(true));
        check("append", &[versions, s("x")], strs(&["apps/v1", "v1", "x"]));
        check_err(
            "first",
            &[obj("struct", None)],
            "Cannot find first on type struct",
        );
        check_err("last", &[obj("ptr", None)], "Cannot find last on type ptr");
    }

    #[test]
    fn concat_joins_lists() {
        check(
            "concat",
            &[ints(&[1]), l(&[]), ints(&[2, 3])],
            ints(&[1, 2, 3]),
        );
        check("concat", &[], l(&[]));
        check_err(
            "concat",
            &[ints(&[1]), s("a")],
            "Cannot concat type string as list",
        );
        check_err("concat", &[nil()], NIL_DEREFERENCE);
    }
}
