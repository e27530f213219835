//! Sprig's dict functions (`dict.go`): `dict`, `get`, `set`, `unset`, `hasKey`, `pluck`,
//! `keys`, `pick`, `omit`, `values`, `merge` and `mergeOverwrite` (mergo's semantics),
//! `deepCopy` and `dig`.
//!
//! Dicts are shared and mutable: `set`, `unset` and the merges change the map they are given
//! (every alias sees the change) and return it.

use std::collections::BTreeMap;

use super::defaults::empty;
use super::{MAX_DEPTH, arg, map_arg, str_arg};
use crate::funcs::convert::strval;
use crate::funcs::{Func, FuncError, FuncMap, FuncResult, Ty};
use crate::value::{ListType, Map, Value};

pub(super) fn register(map: &mut FuncMap) {
    map.insert("dict", Func::pure(&[], Some(Ty::Any), |a| Ok(dict(a))));
    map.insert(
        "get",
        Func::pure(&[Ty::Map, Ty::String], None, |a| {
            let found = map_arg(a, 0).and_then(|m| m.get(&str_arg(a, 1)));
            Ok(found.unwrap_or_else(|| Value::from("")))
        }),
    );
    map.insert(
        "set",
        Func::pure(&[Ty::Map, Ty::String, Ty::Any], None, |a| {
            let Some(m) = map_arg(a, 0) else {
                return Err(FuncError::new("assignment to entry in nil map"));
            };
            m.insert(str_arg(a, 1).into_owned(), arg(a, 2).clone());
            Ok(Value::Map(m.clone()))
        }),
    );
    map.insert(
        "unset",
        Func::pure(&[Ty::Map, Ty::String], None, |a| {
            // Deleting from a nil map is a no-op; the nil map comes back (printed `map[]`).
            let m = map_arg(a, 0).cloned().unwrap_or_default();
            m.remove(&str_arg(a, 1));
            Ok(Value::Map(m))
        }),
    );
    map.insert(
        "hasKey",
        Func::pure(&[Ty::Map, Ty::String], None, |a| {
            let found = map_arg(a, 0).is_some_and(|m| m.contains_key(&str_arg(a, 1)));
            Ok(Value::Bool(found))
        }),
    );
    map.insert(
        "pluck",
        Func::pure(&[Ty::String], Some(Ty::Map), |a| {
            let key = str_arg(a, 0);
            let dicts = a.get(1..).unwrap_or_default();
            let found = dicts.iter().filter_map(|d| d.as_map()?.get(&key));
            Ok(Value::list(found.collect()))
        }),
    );
    map.insert(
        "keys",
        Func::pure(&[], Some(Ty::Map), |a| {
            // Go's order is random; each dict's keys come sorted, dicts in argument order.
            let mut keys = Vec::new();
            for d in a.iter().filter_map(Value::as_map) {
                d.with(|entries| keys.extend(entries.keys().map(|k| Value::from(k.as_str()))));
            }
            Ok(Value::typed_list(keys, ListType::String))
        }),
    );
    map.insert(
        "pick",
        Func::pure(&[Ty::Map], Some(Ty::String), |a| {
            // Key strings first, so that no lock is held while arguments are printed.
            let wanted: Vec<String> = a.get(1..).unwrap_or_default().iter().map(strval).collect();
            let mut out = BTreeMap::new();
            if let Some(m) = map_arg(a, 0) {
                m.with(|entries| {
                    for key in wanted {
                        if let Some(v) = entries.get(&key) {
                            out.insert(key, v.clone());
                        }
                    }
                });
            }
            Ok(Value::Map(Map::from_btree(out)))
        }),
    );
    map.insert(
        "omit",
        Func::pure(&[Ty::Map], Some(Ty::String), |a| {
            let omitted: Vec<String> = a.get(1..).unwrap_or_default().iter().map(strval).collect();
            let mut out = BTreeMap::new();
            if let Some(m) = map_arg(a, 0) {
                m.with(|entries| {
                    for (k, v) in entries {
                        if !omitted.iter().any(|o| o == k) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                });
            }
            Ok(Value::Map(Map::from_btree(out)))
        }),
    );
    map.insert(
        "values",
        Func::pure(&[Ty::Map], None, |a| {
            // Go's order is random; we give key order.
            let values = map_arg(a, 0).map_or_else(Vec::new, |m| {
                m.with(|entries| entries.values().cloned().collect())
            });
            Ok(Value::list(values))
        }),
    );
    map.insert(
        "merge",
        Func::pure(&[Ty::Map], Some(Ty::Map), |a| merge(a, false, false)),
    );
    map.insert(
        "mustMerge",
        Func::pure(&[Ty::Map], Some(Ty::Map), |a| merge(a, false, true)),
    );
    map.insert(
        "mergeOverwrite",
        Func::pure(&[Ty::Map], Some(Ty::Map), |a| merge(a, true, false)),
    );
    map.insert(
        "mustMergeOverwrite",
        Func::pure(&[Ty::Map], Some(Ty::Map), |a| merge(a, true, true)),
    );
    map.insert(
        "deepCopy",
        crate::funcs::bounded_by_size(Func::pure(&[Ty::Any], None, |a| {
            deep_copy(arg(a, 0)).map_err(|e| match e {
                CopyError::Nil => FuncError::new(ZERO_VALUE_TYPE),
                CopyError::TooDeep => FuncError::new(format!("deepCopy error: {TOO_DEEP}")),
            })
        })),
    );
    map.insert(
        "mustDeepCopy",
        crate::funcs::bounded_by_size(Func::pure(&[Ty::Any], None, |a| {
            deep_copy(arg(a, 0)).map_err(|e| match e {
                CopyError::Nil => FuncError::new(ZERO_VALUE_TYPE),
                CopyError::TooDeep => FuncError::new(TOO_DEEP),
            })
        })),
    );
    map.insert("dig", Func::pure(&[], Some(Ty::Any), dig));
}

/// `dict K V K V …`: keys go through `strval`; a key without a value maps to `""`.
fn dict(args: &[Value]) -> Value {
    let mut out = BTreeMap::new();
    for pair in args.chunks(2) {
        let key = strval(&pair[0]);
        let value = pair.get(1).cloned().unwrap_or_else(|| Value::from(""));
        out.insert(key, value);
    }
    Value::Map(Map::from_btree(out))
}

/// The message of a failed Go type assertion `x.(T)` on an `interface{}`.
fn type_assertion(v: &Value, want: &str) -> FuncError {
    let got = match v {
        Value::Nil => "nil".to_string(),
        other => other.type_name(),
    };
    FuncError::new(format!(
        "interface conversion: interface {{}} is {got}, not {want}"
    ))
}

/// `dig KEY... DEFAULT DICT`: walks nested dicts; a missing key gives DEFAULT, a present key
/// (even with a nil value) its value; a step that is not a dict fails Go's type assertion.
fn dig(ps: &[Value]) -> FuncResult {
    const MAP: &str = "map[string]interface {}";
    let [keys @ .., default, dict] = ps else {
        return Err(FuncError::new("dig needs at least three arguments"));
    };
    if keys.is_empty() {
        return Err(FuncError::new("dig needs at least three arguments"));
    }
    // Go's type assertion to `map[string]interface {}` fails for a named map type too
    // (Helm's `chartutil.Values`: `dig "x" "d" .Values` is an error in Helm).
    let dict = match dict {
        Value::Map(m) if m.go_type().is_none() => m,
        other => return Err(type_assertion(other, MAP)),
    };
    let mut names = Vec::with_capacity(keys.len());
    for key in keys {
        match key {
            Value::String(s) => names.push(s),
            other => return Err(type_assertion(other, "string")),
        }
    }
    let mut current = dict.clone();
    for (n, name) in names.iter().enumerate() {
        let Some(step) = current.get(name) else {
            return Ok(default.clone());
        };
        if n + 1 == names.len() {
            return Ok(step);
        }
        match step {
            Value::Map(next) if next.go_type().is_none() => current = next,
            other => return Err(type_assertion(&other, MAP)),
        }
    }
    Ok(default.clone())
}

const ZERO_VALUE_TYPE: &str = "reflect: call of reflect.Value.Type on zero Value";
const TOO_DEEP: &str = "value nested too deeply (a map that contains itself?)";

enum CopyError {
    /// copystructure cannot type a nil and panics.
    Nil,
    TooDeep,
}

/// copystructure's `Copy`: new maps and lists all the way down, scalars and objects shared.
fn deep_copy(v: &Value) -> Result<Value, CopyError> {
    if v.is_nil() {
        return Err(CopyError::Nil);
    }
    copy_value(v, 0)
}

fn copy_value(v: &Value, depth: usize) -> Result<Value, CopyError> {
    if depth > MAX_DEPTH {
        return Err(CopyError::TooDeep);
    }
    match v {
        Value::List(items) => {
            let copied: Result<Vec<Value>, CopyError> = items
                .iter()
                .map(|item| copy_value(item, depth + 1))
                .collect();
            // copystructure keeps the Go types of slices and maps.
            Ok(Value::typed_list(copied?, items.go_type()))
        }
        Value::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, item) in m.entries() {
                out.insert(k, copy_value(&item, depth + 1)?);
            }
            let copy = Map::from_btree(out);
            Ok(Value::Map(match m.go_type() {
                Some(t) => copy.with_go_type(t),
                None => copy,
            }))
        }
        other => Ok(other.clone()),
    }
}

/// What can stop a merge.
enum MergeError {
    /// mergo's `ErrDifferentArgumentsTypes`.
    DifferentTypes,
    TooDeep,
}

/// `merge DST SRC...` / `mergeOverwrite DST SRC...`: mergo merges each SRC into DST in place
/// and DST is returned. `merge` swallows mergo's errors and returns `""`; the `must` variants
/// report them.
fn merge(args: &[Value], overwrite: bool, must: bool) -> FuncResult {
    let mut dst = map_arg(args, 0).cloned();
    for src in args.get(1..).unwrap_or_default() {
        let Some(src) = src.as_map() else {
            // A nil source map has no keys.
            continue;
        };
        // A nil destination becomes a new map as soon as a source is non-nil.
        let target = dst.get_or_insert_with(Map::new);
        match merge_maps(target, src, overwrite, 0) {
            Ok(()) => {}
            Err(MergeError::DifferentTypes) if must => {
                return Err(FuncError::new("src and dst must be of same type"));
            }
            Err(MergeError::DifferentTypes) => return Ok(Value::from("")),
            // Go recurses until its stack overflows; we stop.
            Err(MergeError::TooDeep) => {
                return Err(FuncError::new(format!(
                    "maps nested deeper than {MAX_DEPTH} levels (a map that contains itself?)"
                )));
            }
        }
    }
    // A nil map stays nil (it prints as `map[]`, like the empty map we return).
    Ok(Value::Map(dst.unwrap_or_default()))
}

/// mergo's `deepMerge` of two `map[string]interface{}` values, key by key:
///
/// - a nil source value is skipped, or with `overwrite` stored as nil;
/// - a source map merges recursively into a destination map (in place);
/// - with `overwrite`, a source list is stored at once;
/// - a destination value that is not empty (Sprig's `empty`) stays when the source is a list,
///   or when both are maps (after the recursive merge has filled the destination);
/// - otherwise the source value is stored if `overwrite` is set, or if the key is missing or
///   its value empty. So `mergeOverwrite` stores empty values too (`false`, `0`, `""`), and
///   stores the source map itself (shared, not copied) where the destination had no map.
fn merge_maps(dst: &Map, src: &Map, overwrite: bool, depth: usize) -> Result<(), MergeError> {
    if depth > MAX_DEPTH {
        return Err(MergeError::TooDeep);
    }
    for key in src.keys() {
        // Read each value when its turn comes, as Go does; no lock is held while recursing.
        let Some(s) = src.get(&key) else {
            continue;
        };
        let d = dst.get(&key);
        match &s {
            Value::Nil => {
                if overwrite {
                    dst.insert(key, Value::Nil);
                }
                continue;
            }
            Value::Map(sm) => match &d {
                Some(Value::Map(dm)) => merge_maps(dm, sm, overwrite, depth + 1)?,
                // mergo compares a non-nil pointer's element type with the map type.
                Some(Value::Object(o)) if !overwrite && o.kind_name() == "ptr" && o.truthy() => {
                    return Err(MergeError::DifferentTypes);
                }
                _ => {}
            },
            // mergo stores the source slice at once when overwriting.
            Value::List(_) if overwrite => {
                dst.insert(key, s);
                continue;
            }
            _ => {}
        }
        if let Some(dv) = &d {
            let keep =
                matches!(s, Value::List(_)) || matches!((&s, dv), (Value::Map(_), Value::Map(_)));
            if keep && !empty(dv) {
                continue;
            }
        }
        if overwrite || d.as_ref().is_none_or(empty) {
            dst.insert(key, s);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::value::Value;

    #[test]
    fn dict_builds_maps() {
        check("dict", &[], m(&[]));
        check(
            "dict",
            &[i(1), i(2), s("three"), s("four"), i(5)],
            m(&[("1", i(2)), ("three", s("four")), ("5", s(""))]),
        );
        // Keys go through strval: a float64 key prints with %v, nil as <nil>.
        check(
            "dict",
            &[f(1.5), b(true), nil(), i(1)],
            m(&[("1.5", b(true)), ("<nil>", i(1))]),
        );
        // A repeated key keeps the last value.
        check("dict", &[s("a"), i(1), s("a"), i(2)], m(&[("a", i(2))]));
    }

    #[test]
    fn get_set_unset_has_key() {
        let d = m(&[("one", i(1)), ("two", s("2"))]);
        check("get", &[d.clone(), s("one")], i(1));
        check("get", &[d.clone(), s("two")], s("2"));
        check("get", &[d.clone(), s("nope")], s(""));
        check("get", &[nil(), s("nope")], s(""));
        check("hasKey", &[d.clone(), s("one")], b(true));
        check("hasKey", &[d.clone(), s("three")], b(false));
        check("hasKey", &[nil(), s("one")], b(false));
        check("hasKey", &[m(&[("n", nil())]), s("n")], b(true));
        check_err(
            "set",
            &[nil(), s("a"), i(1)],
            "assignment to entry in nil map",
        );
        check("unset", &[nil(), s("a")], m(&[]));
    }

    #[test]
    fn set_and_unset_mutate_in_place() {
        let d = m(&[("one", i(1)), ("two", i(222222))]);
        let returned = call("set", &[d.clone(), s("two"), i(2)]).unwrap();
        call("set", &[d.clone(), s("three"), i(3)]).unwrap();
        assert!(returned.same_container(&d));
        assert!(same(
            &d,
            &m(&[("one", i(1)), ("three", i(3)), ("two", i(2))])
        ));
        let returned = call("unset", &[d.clone(), s("two")]).unwrap();
        assert!(returned.same_container(&d));
        assert!(same(&d, &m(&[("one", i(1)), ("three", i(3))])));
        call("unset", &[d.clone(), s("absent")]).unwrap();
        assert_eq!(d.as_map().unwrap().len(), 2);
    }

    #[test]
    fn pluck_keys_pick_omit_values() {
        let d1 = m(&[("one", i(1)), ("two", i(222222))]);
        let d2 = m(&[("one", i(1)), ("two", i(33333))]);
        let d3 = m(&[("one", i(1))]);
        check(
            "pluck",
            &[s("two"), d1.clone(), d2.clone(), d3.clone(), nil()],
            ints(&[222222, 33333]),
        );
        check("pluck", &[s("two")], l(&[]));
        check(
            "keys",
            &[m(&[("foo", i(1)), ("bar", i(2))])],
            str_slice(&["bar", "foo"]),
        );
        check("keys", &[m(&[])], str_slice(&[]));
        check("keys", &[], str_slice(&[]));
        check(
            "keys",
            &[
                m(&[("foo", i(1))]),
                m(&[("bar", i(2))]),
                m(&[("bar", i(3))]),
            ],
            str_slice(&["foo", "bar", "bar"]),
        );
        check("pick", &[d1.clone(), s("two")], m(&[("two", i(222222))]));
        check(
            "pick",
            &[d1.clone(), s("one"), s("two"), s("three")],
            d1.clone(),
        );
        check("pick", &[m(&[]), s("two")], m(&[]));
        check("pick", &[nil(), s("two")], m(&[]));
        check("omit", &[d1.clone(), s("one")], m(&[("two", i(222222))]));
        check("omit", &[d1.clone(), s("one"), s("two")], m(&[]));
        check("omit", &[d1.clone(), s("two"), s("three")], d3.clone());
        check("omit", std::slice::from_ref(&d1), d1.clone());
        check("omit", &[nil(), s("a")], m(&[]));
        check(
            "values",
            &[m(&[("b", i(2)), ("a", s("first"))])],
            l(&[s("first"), i(2)]),
        );
        check("values", &[nil()], l(&[]));
        // pick and omit build new maps.
        let picked = call("pick", &[d1.clone(), s("one")]).unwrap();
        assert!(!picked.same_container(&d1));
    }

    /// Sprig's TestMerge, with Helm-like values (lists stay lists).
    #[test]
    fn merge_keeps_destination_values() {
        let dst = m(&[
            ("a", s("one")),
            ("c", i(3)),
            ("d", m(&[("f", i(5))])),
            ("g", ints(&[8, 9])),
            ("i", s("eye")),
            ("k", m(&[("l", b(true))])),
        ]);
        let src1 = m(&[
            ("a", i(1)),
            ("b", i(2)),
            ("d", m(&[("e", s("four"))])),
            ("g", ints(&[6, 7])),
            ("i", s("aye")),
            ("j", s("jay")),
            ("k", m(&[("l", b(false))])),
        ]);
        let src2 = m(&[("h", i(10)), ("i", s("i")), ("j", s("j"))]);
        let out = call("merge", &[dst.clone(), src1, src2]).unwrap();
        assert!(out.same_container(&dst));
        let want = m(&[
            ("a", s("one")),
            ("b", i(2)),
            ("c", i(3)),
            ("d", m(&[("e", s("four")), ("f", i(5))])),
            ("g", ints(&[8, 9])),
            ("h", i(10)),
            ("i", s("eye")),
            ("j", s("jay")),
            ("k", m(&[("l", b(true))])),
        ]);
        assert!(same(&dst, &want), "{dst:?}");
    }

    /// Sprig's TestMergeOverwrite.
    #[test]
    fn merge_overwrite_prefers_sources() {
        let dst = m(&[
            ("a", s("one")),
            ("c", i(3)),
            ("d", m(&[("f", i(5))])),
            ("g", ints(&[8, 9])),
            ("i", s("eye")),
            ("k", m(&[("l", b(true))])),
        ]);
        let src1 = m(&[
            ("a", i(1)),
            ("b", i(2)),
            ("d", m(&[("e", s("four"))])),
            ("g", ints(&[6, 7])),
            ("i", s("aye")),
            ("j", s("jay")),
            ("k", m(&[("l", b(false))])),
        ]);
        let src2 = m(&[("h", i(10)), ("i", s("i")), ("j", s("j"))]);
        let out = call("mergeOverwrite", &[dst.clone(), src1, src2]).unwrap();
        assert!(out.same_container(&dst));
        let want = m(&[
            ("a", i(1)),
            ("b", i(2)),
            ("c", i(3)),
            ("d", m(&[("e", s("four")), ("f", i(5))])),
            ("g", ints(&[6, 7])),
            ("h", i(10)),
            ("i", s("i")),
            ("j", s("j")),
            ("k", m(&[("l", b(false))])),
        ]);
        assert!(same(&dst, &want), "{dst:?}");
    }

    #[test]
    fn merge_empty_values_follow_mergo() {
        let run = |name: &str, dst: Value, src: Value| call(name, &[dst, src]).unwrap();
        // Empty destination values are filled, even with empty source values.
        let out = run(
            "merge",
            m(&[("a", s("")), ("b", i(0))]),
            m(&[("a", s("x")), ("b", b(false))]),
        );
        assert!(same(&out, &m(&[("a", s("x")), ("b", b(false))])));
        // Nil sources are skipped by merge, stored by mergeOverwrite.
        let out = run("merge", m(&[("a", i(1))]), m(&[("a", nil()), ("b", nil())]));
        assert!(same(&out, &m(&[("a", i(1))])));
        let out = run(
            "mergeOverwrite",
            m(&[("a", i(1))]),
            m(&[("a", nil()), ("b", nil())]),
        );
        assert!(same(&out, &m(&[("a", nil()), ("b", nil())])));
        // mergeOverwrite stores empty values too: false, 0, "" and empty lists win.
        let out = run(
            "mergeOverwrite",
            m(&[
                ("a", b(true)),
                ("b", i(1)),
                ("c", s("x")),
                ("d", ints(&[1])),
            ]),
            m(&[("a", b(false)), ("b", i(0)), ("c", s("")), ("d", l(&[]))]),
        );
        assert!(same(
            &out,
            &m(&[("a", b(false)), ("b", i(0)), ("c", s("")), ("d", l(&[]))])
        ));
        // A map replaces a scalar only when overwriting (or when the scalar is empty).
        let out = run(
            "merge",
            m(&[("a", s("x")), ("b", s(""))]),
            m(&[("a", m(&[])), ("b", m(&[("c", i(1))]))]),
        );
        assert!(same(&out, &m(&[("a", s("x")), ("b", m(&[("c", i(1))]))])));
        let out = run(
            "mergeOverwrite",
            m(&[("a", s("x"))]),
            m(&[("a", m(&[("c", i(1))]))]),
        );
        assert!(same(&out, &m(&[("a", m(&[("c", i(1))]))])));
        // A scalar never replaces a non-empty map when merging, and does when overwriting.
        let out = run("merge", m(&[("a", m(&[("c", i(1))]))]), m(&[("a", s("x"))]));
        assert!(same(&out, &m(&[("a", m(&[("c", i(1))]))])));
        let out = run(
            "mergeOverwrite",
            m(&[("a", m(&[("c", i(1))]))]),
            m(&[("a", s("x"))]),
        );
        assert!(same(&out, &m(&[("a", s("x"))])));
        // An empty destination map takes the empty source map itself.
        let empty_src = m(&[]);
        let out = run("merge", m(&[("a", m(&[]))]), m(&[("a", empty_src.clone())]));
        assert!(
            out.as_map()
                .unwrap()
                .get("a")
                .unwrap()
                .same_container(&empty_src)
        );
    }

    #[test]
    fn merge_shares_source_maps_it_stores() {
        let inner = m(&[("x", i(1))]);
        let dst = m(&[]);
        call("merge", &[dst.clone(), m(&[("inner", inner.clone())])]).unwrap();
        let stored = dst.as_map().unwrap().get("inner").unwrap();
        assert!(stored.same_container(&inner));
        // A later merge into dst's nested map therefore changes the source too, as in Go.
        call("merge", &[dst.clone(), m(&[("inner", m(&[("y", i(2))]))])]).unwrap();
        assert!(inner.as_map().unwrap().contains_key("y"));
    }

    #[test]
    fn merge_objects_are_opaque() {
        // mergo compares a pointer's element type with the source map's type and fails:
        // merge swallows the error into "", mustMerge reports it.
        let dst = m(&[("v", obj("ptr", None))]);
        let src = m(&[("v", m(&[("a", i(1))]))]);
        check("merge", &[dst.clone(), src.clone()], s(""));
        check_err(
            "mustMerge",
            &[dst.clone(), src.clone()],
            "src and dst must be of same type",
        );
        // Overwriting replaces the object.
        check("mergeOverwrite", &[dst, src.clone()], src);
        // A struct is never empty: it stays, and a source struct fills an empty slot.
        let out = call(
            "merge",
            &[
                m(&[("v", obj("struct", None)), ("w", s(""))]),
                m(&[("v", i(1)), ("w", obj("struct", None))]),
            ],
        )
        .unwrap();
        let out = out.as_map().unwrap();
        assert_eq!(out.get("v").unwrap().kind_name(), "struct");
        assert_eq!(out.get("w").unwrap().kind_name(), "struct");
    }

    #[test]
    fn merge_nil_maps() {
        check("merge", &[nil()], m(&[]));
        check("merge", &[nil(), m(&[("a", i(1))])], m(&[("a", i(1))]));
        check("mustMerge", &[m(&[("a", i(1))]), nil()], m(&[("a", i(1))]));
        check("mergeOverwrite", &[nil(), nil()], m(&[]));
    }

    #[test]
    fn merge_of_a_map_with_itself_ends() {
        let d = m(&[("a", i(1)), ("n", m(&[("b", i(2))]))]);
        check("merge", &[d.clone(), d.clone()], d.clone());
        check("mustMergeOverwrite", &[d.clone(), d.clone()], d.clone());
        let cyclic = m(&[]);
        cyclic.as_map().unwrap().insert("self", cyclic.clone());
        let err = call("merge", &[cyclic.clone(), cyclic.clone()]).unwrap_err();
        assert!(err.message.starts_with("maps nested deeper than"), "{err}");
        // Break the cycle so the test does not leak.
        cyclic.as_map().unwrap().remove("self");
    }

    #[test]
    fn deep_copy_detaches() {
        let d = m(&[
            ("foo", m(&[("bar", s("baz"))])),
            ("qux", b(true)),
            ("l", l(&[m(&[])])),
        ]);
        for name in ["deepCopy", "mustDeepCopy"] {
            let copy = call(name, std::slice::from_ref(&d)).unwrap();
            assert!(same(&copy, &d));
            assert!(!copy.same_container(&d));
            let inner = copy.as_map().unwrap().get("foo").unwrap();
            inner.as_map().unwrap().insert("new", i(1));
            assert!(
                !d.as_map()
                    .unwrap()
                    .get("foo")
                    .unwrap()
                    .as_map()
                    .unwrap()
                    .contains_key("new")
            );
            check(name, &[i(1)], i(1));
            check(name, &[m(&[("n", nil())])], m(&[("n", nil())]));
            // copystructure cannot name the type of nil and panics.
            check_err(
                name,
                &[nil()],
                "reflect: call of reflect.Value.Type on zero Value",
            );
        }
        let cyclic = m(&[]);
        cyclic.as_map().unwrap().insert("self", cyclic.clone());
        let err = call("deepCopy", std::slice::from_ref(&cyclic)).unwrap_err();
        assert!(err.message.starts_with("deepCopy error: "), "{err}");
        cyclic.as_map().unwrap().remove("self");
    }

    #[test]
    fn dig_walks_nested_dicts() {
        let d = m(&[("a", m(&[("b", m(&[("c", i(1))]))]))]);
        check("dig", &[s("a"), s("b"), s("c"), s(""), d.clone()], i(1));
        check("dig", &[s("a"), s("b"), s("z"), s("2"), d.clone()], s("2"));
        check("dig", &[s("z"), s("b"), s("2"), d.clone()], s("2"));
        check("dig", &[s("a"), s(""), m(&[("a", i(1))])], i(1));
        check("dig", &[s("z"), s("2"), m(&[("a", i(1))])], s("2"));
        // A present key with a nil value gives nil, not the default.
        check("dig", &[s("a"), s("def"), m(&[("a", nil())])], nil());
        check_err(
            "dig",
            &[s("a"), m(&[])],
            "dig needs at least three arguments",
        );
        let values = Value::Map(
            crate::value::Map::new().with_go_type(crate::value::MapType::CHARTUTIL_VALUES),
        );
        check_err(
            "dig",
            &[s("a"), s(""), values],
            "interface conversion: interface {} is chartutil.Values, not map[string]interface {}",
        );
        check_err(
            "dig",
            &[s("a"), s(""), s("notadict")],
            "interface conversion: interface {} is string, not map[string]interface {}",
        );
        check_err(
            "dig",
            &[s("a"), s(""), nil()],
            "interface conversion: interface {} is nil, not map[string]interface {}",
        );
        check_err(
            "dig",
            &[i(1), s(""), m(&[])],
            "interface conversion: interface {} is int, not string",
        );
        check_err(
            "dig",
            &[s("a"), s("b"), s(""), m(&[("a", f(1.0))])],
            "interface conversion: interface {} is float64, not map[string]interface {}",
        );
        check_err(
            "dig",
            &[s("a"), s("b"), s(""), m(&[("a", nil())])],
            "interface conversion: interface {} is nil, not map[string]interface {}",
        );
    }
}
