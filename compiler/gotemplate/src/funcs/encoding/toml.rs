//! TOML for `toToml` (a port of BurntSushi/toml v1.4's encoder, as Helm 3.17 uses it) and
//! `fromToml` (parsed with the `toml` crate into Go's types: int64, float64, strings, …).

use std::collections::BTreeMap;

use super::json::MAX_DEPTH;
use super::resolve::format_float_f;
use crate::value::{Map, Value};

/// Why encoding failed: `Toml` errors are returned as `toToml`'s output (Helm prints
/// `err.Error()`), `Panic` ones are Go runtime panics that abort the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TomlError {
    Toml(String),
    Panic(String),
}

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";
const NO_KEY: &str = "toml: top-level values must be Go maps or structs";

/// `toml.NewEncoder(b).Encode(v)`.
pub(crate) fn encode(v: &Value) -> Result<String, TomlError> {
    let mut e = Encoder {
        out: String::new(),
        has_written: false,
    };
    let v = data_view(v);
    match &v {
        Value::Nil => {
            return Err(TomlError::Panic(
                "reflect: call of reflect.Value.Type on zero Value".into(),
            ));
        }
        Value::Map(m) => e.table(&[], m, 0)?,
        Value::List(items) => {
            if is_table_array(items)? {
                return Err(TomlError::Toml(NO_KEY.into()));
            }
            e.element(&v, 0)?;
        }
        other => e.element(other, 0)?,
    }
    Ok(e.out)
}

/// Objects are encoded through their data view (an object without one is an empty table).
fn data_view(v: &Value) -> Value {
    let mut v = v.clone();
    for _ in 0..8 {
        match &v {
            Value::Object(o) => v = o.to_data().unwrap_or_else(|| Value::Map(Map::new())),
            _ => return v,
        }
    }
    Value::Map(Map::new())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TomlType {
    Scalar,
    Array,
    Hash,
    ArrayHash,
}

/// `tomlTypeOfGo`; `None` for nil.
fn toml_type(v: &Value) -> Result<Option<TomlType>, TomlError> {
    Ok(Some(match v {
        Value::Nil => return Ok(None),
        Value::Map(_) => TomlType::Hash,
        Value::Object(_) => return toml_type(&data_view(v)),
        Value::List(items) => {
            if is_table_array(items)? {
                TomlType::ArrayHash
            } else {
                TomlType::Array
            }
        }
        _ => TomlType::Scalar,
    }))
}

/// `isTableArray`: non-empty and all tables; any nil element is an error.
fn is_table_array(items: &[Value]) -> Result<bool, TomlError> {
    if items.is_empty() {
        return Ok(false);
    }
    let mut all = true;
    for item in items {
        match toml_type(item)? {
            None => return Err(TomlError::Toml(NIL_ELEMENT.into())),
            Some(TomlType::Hash) => {}
            Some(_) => all = false,
        }
    }
    Ok(all)
}

struct Encoder {
    out: String,
    has_written: bool,
}

impl Encoder {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.has_written = true;
    }

    fn newline(&mut self) {
        if self.has_written {
            self.write("\n");
        }
    }

    fn indent(&mut self, key_len: usize) {
        for _ in 1..key_len {
            self.write("  ");
        }
    }

    fn check_depth(depth: usize) -> Result<(), TomlError> {
        if depth > MAX_DEPTH {
            return Err(TomlError::Toml("toml: exceeded max depth".into()));
        }
        Ok(())
    }

    /// `encode(key, rv)` for a value under a (non-empty) key.
    fn encode(&mut self, key: &[String], v: &Value, depth: usize) -> Result<(), TomlError> {
        Self::check_depth(depth)?;
        let v = data_view(v);
        match &v {
            Value::Nil => Ok(()),
            Value::Map(m) => {
                // eTable: a blank line before top-level tables.
                if key.len() == 1 {
                    self.newline();
                }
                self.indent(key.len());
                self.write(&format!("[{}]", key_string(key)));
                self.newline();
                self.table(key, m, depth + 1)
            }
            Value::List(items) if is_table_array(items)? => {
                for item in items.iter() {
                    let item = data_view(item);
                    let Value::Map(m) = &item else { continue };
                    self.newline();
                    self.indent(key.len());
                    self.write(&format!("[[{}]]", key_string(key)));
                    self.newline();
                    self.table(key, m, depth + 1)?;
                }
                Ok(())
            }
            _ => self.key_value(key, &v, false, depth),
        }
    }

    /// `eMap(key, rv, false)`: plain keys first, then tables, each group sorted.
    fn table(&mut self, key: &[String], m: &Map, depth: usize) -> Result<(), TomlError> {
        Self::check_depth(depth)?;
        let (direct, sub) = split_keys(m)?;
        for (k, v) in direct.into_iter().chain(sub) {
            if v.is_nil() {
                continue;
            }
            let mut child = key.to_vec();
            child.push(k);
            self.encode(&child, &v, depth + 1)?;
        }
        Ok(())
    }

    /// `writeKeyValue`: `indent key = value` and a newline unless inline.
    fn key_value(
        &mut self,
        key: &[String],
        v: &Value,
        inline: bool,
        depth: usize,
    ) -> Result<(), TomlError> {
        if let Some(last) = key.last() {
            self.indent(key.len());
            self.write(&maybe_quoted(last));
            self.write(" = ");
        }
        self.element(v, depth)?;
        if !inline {
            self.newline();
        }
        Ok(())
    }

    /// `eElement`: a value in value position.
    fn element(&mut self, v: &Value, depth: usize) -> Result<(), TomlError> {
        Self::check_depth(depth)?;
        match v {
            Value::Nil => Err(TomlError::Panic(
                "reflect: call of reflect.Value.Interface on zero Value".into(),
            )),
            Value::Bool(b) => {
                self.write(if *b { "true" } else { "false" });
                Ok(())
            }
            Value::Int(i) | Value::Int64(i) => {
                self.write(&i.to_string());
                Ok(())
            }
            Value::Float(f) => {
                let text = if f.is_nan() {
                    if f.is_sign_negative() { "-nan" } else { "nan" }.to_string()
                } else if f.is_infinite() {
                    if *f < 0.0 { "-inf" } else { "inf" }.to_string()
                } else {
                    let s = format_float_f(*f);
                    if s.contains('.') { s } else { s + ".0" }
                };
                self.write(&text);
                Ok(())
            }
            Value::String(s) => {
                self.write(&quoted(s));
                Ok(())
            }
            Value::List(items) => {
                self.write("[");
                for (i, item) in items.iter().enumerate() {
                    self.element(&data_view(item), depth + 1)?;
                    if i + 1 != items.len() {
                        self.write(", ");
                    }
                }
                self.write("]");
                Ok(())
            }
            Value::Map(m) => self.inline_table(m, depth + 1),
            Value::Object(_) => self.element(&data_view(v), depth + 1),
        }
    }

    /// `eMap(nil, rv, true)`: `{k = v, …}`, with BurntSushi's comma placement.
    fn inline_table(&mut self, m: &Map, depth: usize) -> Result<(), TomlError> {
        let (direct, sub) = split_keys(m)?;
        self.write("{");
        let trail = !sub.is_empty();
        for group in [(direct, trail), (sub, false)] {
            let (entries, trail_comma) = group;
            let n = entries.len();
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if v.is_nil() {
                    continue;
                }
                self.key_value(&[k], &v, true, depth)?;
                if trail_comma || i + 1 != n {
                    self.write(", ");
                }
            }
        }
        self.write("}");
        Ok(())
    }
}

type Entries = Vec<(String, Value)>;

/// Splits a map's entries into plain values and tables (maps, arrays of maps), sorted.
fn split_keys(m: &Map) -> Result<(Entries, Entries), TomlError> {
    let entries: BTreeMap<String, Value> = m.with(|e| e.clone());
    let mut direct = Vec::new();
    let mut sub = Vec::new();
    for (k, v) in entries {
        match toml_type(&v)? {
            Some(TomlType::Hash | TomlType::ArrayHash) => sub.push((k, v)),
            _ => direct.push((k, v)),
        }
    }
    Ok((direct, sub))
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `Key.maybeQuoted` for one piece.
fn maybe_quoted(k: &str) -> String {
    if k.is_empty() {
        "\"\"".into()
    } else if is_bare_key(k) {
        k.into()
    } else {
        quoted(k)
    }
}

/// `Key.String()`: dotted, each piece bare or quoted.
fn key_string(key: &[String]) -> String {
    key.iter()
        .map(|k| maybe_quoted(k))
        .collect::<Vec<_>>()
        .join(".")
}

/// A basic string with BurntSushi's `dblQuotedReplacer`.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `toml.Unmarshal` into `map[string]interface{}`: integers are int64, floats float64,
/// datetimes are kept as their TOML text.
pub(crate) fn decode(text: &str) -> Result<Map, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("toml: {}", e.message()))?;
    Ok(convert_table(&table))
}

fn convert_table(table: &toml::Table) -> Map {
    table.iter().map(|(k, v)| (k.clone(), convert(v))).collect()
}

fn convert(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::from(s.as_str()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::from(d.to_string()),
        toml::Value::Array(items) => Value::list(items.iter().map(convert).collect()),
        toml::Value::Table(t) => Value::Map(convert_table(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect::<Map>(),
        )
    }

    fn check(v: Value, expect: &str) {
        assert_eq!(encode(&v).as_deref(), Ok(expect), "{v:?}");
    }

    #[test]
    fn documents() {
        check(map(&[]), "");
        check(
            map(&[("b", Value::Float(3.0)), ("a", Value::from("x"))]),
            "a = \"x\"\nb = 3.0\n",
        );
        check(
            map(&[
                ("a", Value::Int(1)),
                (
                    "b",
                    map(&[
                        ("c", Value::from("x")),
                        ("d", map(&[("e", Value::Bool(true))])),
                    ]),
                ),
                (
                    "f",
                    Value::list(vec![
                        map(&[("g", Value::Int(1))]),
                        map(&[("g", Value::Int(2))]),
                    ]),
                ),
            ]),
            "a = 1\n\n[b]\n  c = \"x\"\n  [b.d]\n    e = true\n\n[[f]]\n  g = 1\n\n[[f]]\n  g = 2\n",
        );
        check(map(&[("t", map(&[]))]), "[t]\n");
        check(map(&[("n", Value::Nil), ("x", Value::Int(1))]), "x = 1\n");
        check(
            map(&[("l", Value::list(vec![Value::Int(1), Value::from("a")]))]),
            "l = [1, \"a\"]\n",
        );
        check(map(&[("e", Value::list(vec![]))]), "e = []\n");
        check(
            map(&[(
                "m",
                Value::list(vec![map(&[("a", Value::Int(1))]), Value::Int(2)]),
            )]),
            "m = [{a = 1}, 2]\n",
        );
        check(
            map(&[
                ("a.b", Value::Int(1)),
                ("", Value::Int(2)),
                ("é", Value::Int(3)),
            ]),
            "\"\" = 2\n\"a.b\" = 1\n\"é\" = 3\n",
        );
        check(
            map(&[("s", Value::from("q\"\\\n\t\u{1}\u{7f}"))]),
            "s = \"q\\\"\\\\\\n\\t\\u0001\\u007f\"\n",
        );
        check(
            map(&[
                ("f", Value::Float(1e21)),
                ("g", Value::Float(0.5)),
                ("h", Value::Float(f64::NEG_INFINITY)),
                ("i", Value::Float(f64::NAN)),
            ]),
            "f = 1000000000000000000000.0\ng = 0.5\nh = -inf\ni = nan\n",
        );
        check(
            map(&[("x y", map(&[("k", Value::Int(1))]))]),
            "[\"x y\"]\n  k = 1\n",
        );
        // BurntSushi's comma placement skips nil values but not their commas.
        check(
            map(&[(
                "l",
                Value::list(vec![map(&[("a", Value::Int(1)), ("b", Value::Nil)])]),
            )]),
            "[[l]]\n  a = 1\n",
        );
        check(
            map(&[(
                "l",
                Value::list(vec![Value::list(vec![map(&[
                    ("a", Value::Int(1)),
                    ("b", Value::Nil),
                ])])]),
            )]),
            "l = [[{a = 1, }]]\n",
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            encode(&map(&[("l", Value::list(vec![Value::Int(1), Value::Nil]))])),
            Err(TomlError::Toml(NIL_ELEMENT.into()))
        );
        assert_eq!(
            encode(&Value::list(vec![map(&[])])),
            Err(TomlError::Toml(NO_KEY.into()))
        );
        assert_eq!(
            encode(&Value::list(vec![Value::Int(1)])).as_deref(),
            Ok("[1]")
        );
        assert_eq!(encode(&Value::from("x")).as_deref(), Ok("\"x\""));
        assert!(matches!(encode(&Value::Nil), Err(TomlError::Panic(_))));
    }

    #[test]
    fn decoding() {
        let m = decode("a = 1\nb = 1.5\nc = \"x\"\n[t]\nd = [true, false]\n").unwrap();
        assert_eq!(m.get("a"), Some(Value::Int(1)));
        assert_eq!(m.get("b"), Some(Value::Float(1.5)));
        assert_eq!(m.get("c"), Some(Value::from("x")));
        let t = m.get("t").unwrap();
        assert_eq!(
            t.as_map().unwrap().get("d"),
            Some(Value::list(vec![Value::Bool(true), Value::Bool(false)]))
        );
        assert!(decode("a = ").unwrap_err().starts_with("toml: "));
    }
}
