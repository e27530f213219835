//! Values as Helm computes them (`chartutil` `CoalesceValues`, `MergeValues`, tables and
//! paths): chart defaults under user values, subchart scoping, `global` propagation, and
//! `null` deleting a default.
//!
//! Maps are shared and mutable, as Go maps are, and the code follows Helm's step by step so
//! that its aliasing (a subchart's globals sharing nested tables with its parent's) comes out
//! the same.

use gotemplate::{Map, Value};

use crate::chart::Chart;
use crate::error::HelmError;

/// The key of the values every chart shares.
pub const GLOBAL_KEY: &str = "global";

/// Subcharts nested deeper than this are refused rather than recursed into.
const MAX_DEPTH: usize = 64;

fn concat_prefix(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}.{b}")
    }
}

fn as_table(v: &Value) -> Option<&Map> {
    match v {
        Value::Map(m) => Some(m),
        _ => None,
    }
}

/// `CoalesceValues`: the chart's (and its subcharts') defaults under a copy of `vals`; nulls
/// delete.
pub fn coalesce_values(chart: &Chart, vals: &Map) -> Result<Map, HelmError> {
    let copy = vals.deep_copy();
    coalesce(chart, &copy, "", false, 0)
}

/// `MergeValues`: as [`coalesce_values`], but nulls are kept.
pub fn merge_values(chart: &Chart, vals: &Map) -> Result<Map, HelmError> {
    let copy = vals.deep_copy();
    coalesce(chart, &copy, "", true, 0)
}

fn coalesce(
    ch: &Chart,
    dest: &Map,
    prefix: &str,
    merge: bool,
    depth: usize,
) -> Result<Map, HelmError> {
    if depth > MAX_DEPTH {
        return Err(HelmError::Values("subcharts nest too deeply".into()));
    }
    coalesce_chart_values(ch, dest, prefix, merge);
    coalesce_deps(ch, dest, prefix, merge, depth)
}

fn coalesce_deps(
    chart: &Chart,
    dest: &Map,
    prefix: &str,
    merge: bool,
    depth: usize,
) -> Result<Map, HelmError> {
    for sub in &chart.dependencies {
        let name = sub.name();
        let dv = match dest.get(name) {
            None => {
                let m = Map::new();
                dest.insert(name, Value::Map(m.clone()));
                m
            }
            Some(Value::Map(m)) => m,
            Some(other) => {
                // Go prints the value with %t; integers here can only come from --set.
                let ty = match &other {
                    Value::Int(_) => "int64".to_string(),
                    v => v.type_name(),
                };
                return Err(HelmError::Values(format!(
                    "type mismatch on {name}: %!t({ty}={})",
                    gotemplate::gofmt::format_value(&other)
                )));
            }
        };
        let sub_prefix = concat_prefix(prefix, chart.name());
        coalesce_globals(&dv, dest, &sub_prefix);
        let result = coalesce(sub, &dv, &sub_prefix, merge, depth + 1)?;
        dest.insert(name, Value::Map(result));
    }
    Ok(dest.clone())
}

/// `coalesceGlobals`: copies the parent's globals (`src`) into the subchart's (`dest`).
fn coalesce_globals(dest: &Map, src: &Map, prefix: &str) {
    let dg = match dest.get(GLOBAL_KEY) {
        None => Map::new(),
        Some(Value::Map(m)) => m,
        // "warning: skipping globals because destination global is not a table."
        Some(_) => return,
    };
    let sg = match src.get(GLOBAL_KEY) {
        None => Map::new(),
        Some(Value::Map(m)) => m,
        Some(_) => return,
    };
    for (key, val) in sg.entries() {
        if let Value::Map(vmap) = &val {
            let vv = vmap.shallow_copy();
            match dg.get(&key) {
                None => {
                    dg.insert(key, Value::Map(vv));
                }
                Some(Value::Map(destv)) => {
                    let sub_prefix = concat_prefix(prefix, &key);
                    coalesce_tables_full_key(&vv, &destv, &sub_prefix, true, 0);
                    dg.insert(key, Value::Map(vv));
                }
                // "Conflict: cannot merge map onto non-map"
                Some(_) => {}
            }
        } else if dg.get(&key).is_some_and(|dv| as_table(&dv).is_some()) {
            // "key is table. Skipping"
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert(GLOBAL_KEY, Value::Map(dg));
}

/// `coalesceValues`: the chart's own defaults under `v`.
fn coalesce_chart_values(c: &Chart, v: &Map, prefix: &str, merge: bool) {
    let sub_prefix = concat_prefix(prefix, c.name());
    let vc = c.values.deep_copy();
    for (key, val) in vc.entries() {
        match v.get(&key) {
            Some(value) => {
                if value.is_nil() && !merge {
                    v.remove(&key);
                } else if let (Value::Map(dest), Value::Map(src)) = (&value, &val) {
                    let merge = child_chart_merge_true(c, &key, merge);
                    coalesce_tables_full_key(
                        dest,
                        src,
                        &concat_prefix(&sub_prefix, &key),
                        merge,
                        0,
                    );
                }
                // A table over a non-table: "warning: skipped value for ...: Not a table."
            }
            None => {
                v.insert(key, val);
            }
        }
    }
}

fn child_chart_merge_true(chart: &Chart, key: &str, merge: bool) -> bool {
    chart.dependencies.iter().any(|s| s.name() == key) || merge
}

/// `CoalesceTables`: `src` under `dst` (dst wins), nulls in `dst` delete.
pub fn coalesce_tables(dst: &Map, src: &Map) -> Map {
    coalesce_tables_full_key(dst, src, "", false, 0);
    dst.clone()
}

/// `MergeTables`: as [`coalesce_tables`], keeping nulls.
pub fn merge_tables(dst: &Map, src: &Map) -> Map {
    coalesce_tables_full_key(dst, src, "", true, 0);
    dst.clone()
}

fn coalesce_tables_full_key(dst: &Map, src: &Map, prefix: &str, merge: bool, depth: usize) {
    if depth > 1000 {
        return;
    }
    for (key, val) in src.entries() {
        let full_key = concat_prefix(prefix, &key);
        match dst.get(&key) {
            Some(dv) if !merge && dv.is_nil() => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => {
                if let (Value::Map(sv), Value::Map(dm)) = (&val, &dv) {
                    coalesce_tables_full_key(dm, sv, &full_key, merge, depth + 1);
                }
                // Otherwise Helm warns: "cannot overwrite table with non table" or
                // "destination for ... is a table. Ignoring non-table value".
            }
        }
    }
}

/// `ErrNoTable`: `"name" is not a table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoTable(pub String);

/// `Values.Table`: the table at a dotted path.
pub fn table(values: &Map, name: &str) -> Result<Map, NoTable> {
    let mut table = values.clone();
    for n in name.split('.') {
        match table.get(n) {
            Some(Value::Map(m)) => table = m,
            _ => return Err(NoTable(n.to_string())),
        }
    }
    Ok(table)
}

/// `Values.PathValue`: the non-table value at a dotted path; `None` for Helm's `ErrNoValue`.
pub fn path_value(values: &Map, path: &str) -> Option<Value> {
    if path.is_empty() {
        return None;
    }
    let parts: Vec<&str> = path.split('.').collect();
    let (key, rest) = parts.split_last()?;
    let t = if rest.is_empty() {
        values.clone()
    } else {
        table(values, &rest.join(".")).ok()?
    };
    match t.get(key) {
        Some(v) if as_table(&v).is_none() => Some(v),
        _ => None,
    }
}

/// `-f` files merged in order (`values.Options.MergeValues`'s `mergeMaps`): maps merge
/// recursively into a new map, anything else replaces.
pub fn merge_maps(a: &Map, b: &Map) -> Map {
    let out = a.shallow_copy();
    for (k, v) in b.entries() {
        if let Value::Map(vm) = &v
            && let Some(Value::Map(bv)) = out.get(&k)
        {
            out.insert(k, Value::Map(merge_maps(&bv, vm)));
            continue;
        }
        out.insert(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Metadata;
    use crate::json::{canonical, decode};

    fn map(json: &str) -> Map {
        match decode(json) {
            Ok(Value::Map(m)) => m,
            other => panic!("test data {json}: {other:?}"),
        }
    }

    fn chart(name: &str, values: &str, deps: Vec<Chart>) -> Chart {
        Chart {
            metadata: Metadata {
                name: name.into(),
                version: "1.0.0".into(),
                api_version: "v2".into(),
                ..Metadata::default()
            },
            values: map(values),
            dependencies: deps,
            ..Chart::default()
        }
    }

    fn check(c: &Chart, user: &str, expect: &str) {
        let got = coalesce_values(c, &map(user)).unwrap();
        assert_eq!(canonical(&Value::Map(got)), expect, "user values {user}");
    }

    #[test]
    fn defaults_fill_in_under_user_values() {
        let c = chart("top", r#"{"a":1,"b":{"c":2,"d":3},"e":[1]}"#, vec![]);
        check(&c, "{}", r#"{"a":1f,"b":{"c":2f,"d":3f},"e":[1f]}"#);
        check(
            &c,
            r#"{"b":{"c":9}}"#,
            r#"{"a":1f,"b":{"c":9f,"d":3f},"e":[1f]}"#,
        );
        // Lists are replaced, not merged.
        check(
            &c,
            r#"{"e":[7,8]}"#,
            r#"{"a":1f,"b":{"c":2f,"d":3f},"e":[7f,8f]}"#,
        );
        // A null deletes the default.
        check(
            &c,
            r#"{"a":null,"b":{"d":null}}"#,
            r#"{"b":{"c":2f},"e":[1f]}"#,
        );
        // A scalar over a table keeps the scalar (with a warning in Helm).
        check(&c, r#"{"b":"x"}"#, r#"{"a":1f,"b":"x","e":[1f]}"#);
    }

    #[test]
    fn subcharts_get_scoped_defaults_and_globals() {
        let sub = chart(
            "sub",
            r#"{"port":80,"global":{"g":"sub","only":1}}"#,
            vec![],
        );
        let top = chart(
            "top",
            r#"{"global":{"g":"top","t":{"x":1}},"sub":{"port":8080}}"#,
            vec![sub],
        );
        check(
            &top,
            "{}",
            r#"{"global":{"g":"top","t":{"x":1f}},"sub":{"global":{"g":"top","only":1f,"t":{"x":1f}},"port":8080f}}"#,
        );
        // A user null removes a subchart default too.
        check(
            &top,
            r#"{"sub":{"port":null}}"#,
            r#"{"global":{"g":"top","t":{"x":1f}},"sub":{"global":{"g":"top","only":1f,"t":{"x":1f}}}}"#,
        );
    }

    #[test]
    fn merge_keeps_nulls() {
        let c = chart("top", r#"{"a":1}"#, vec![]);
        let got = merge_values(&c, &map(r#"{"a":null,"b":null}"#)).unwrap();
        assert_eq!(canonical(&Value::Map(got)), r#"{"a":null,"b":null}"#);
    }

    #[test]
    fn type_mismatch_on_a_subchart() {
        let top = chart("top", "{}", vec![chart("sub", "{}", vec![])]);
        let err = coalesce_values(&top, &map(r#"{"sub":"x"}"#)).unwrap_err();
        assert_eq!(err.to_string(), "type mismatch on sub: %!t(string=x)");
    }

    #[test]
    fn tables_and_paths() {
        let v = map(r#"{"a":{"b":{"c":true}},"s":"x"}"#);
        assert!(table(&v, "a.b").is_ok());
        assert_eq!(table(&v, "a.x").err(), Some(NoTable("x".into())));
        assert_eq!(table(&v, "s").err(), Some(NoTable("s".into())));
        assert_eq!(path_value(&v, "a.b.c"), Some(Value::Bool(true)));
        assert_eq!(path_value(&v, "s"), Some(Value::from("x")));
        assert_eq!(path_value(&v, "a.b"), None);
        assert_eq!(path_value(&v, ""), None);
    }

    #[test]
    fn values_files_merge_in_order() {
        let a = map(r#"{"x":{"y":1,"z":2},"l":[1]}"#);
        let b = map(r#"{"x":{"y":3},"l":[2]}"#);
        assert_eq!(
            canonical(&Value::Map(merge_maps(&a, &b))),
            r#"{"l":[2f],"x":{"y":3f,"z":2f}}"#
        );
    }
}
