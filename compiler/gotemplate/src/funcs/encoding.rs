//! Helm's serialization functions: `toYaml`, `fromYaml`, `fromYamlArray`, `toJson`,
//! `fromJson`, `fromJsonArray`, `toToml`, and the YAML reader and printer they share with chart
//! loading.
//!
//! Everything here reproduces the Go libraries byte for byte: sigs.k8s.io/yaml v1.4 (go-yaml
//! v2 behind a JSON round trip) for YAML, encoding/json for JSON, BurntSushi/toml v1.4 for
//! TOML, and go-yaml v3 for `toYamlPretty`. The submodules hold the ports; this file holds the
//! public API and the template functions built on it.
//!
//! Known differences from Go, all on unusual input: the YAML reader's tokens come from
//! `saphyr-parser` (a YAML 1.2 scanner), so U+0085/U+2028/U+2029 are not line breaks, nesting
//! stops at 1000 levels (255 for flow collections) where go-yaml allows 10000, and a few
//! syntax errors are found at a different position than libyaml finds them (the message
//! wording is libyaml's); `fromToml` errors use the `toml` crate's wording and keeps
//! datetimes as their TOML text; the printers refuse values nested deeper than 1000 levels.

mod json;
mod resolve;
mod toml;
mod yaml_read;
mod yaml_write;

use super::{Func, FuncError, FuncMap, Ty};
use crate::value::{Map, Value};

use self::json::JsonStyle;
use self::yaml_write::Flavor;

pub use self::json::go_quote;

/// A YAML or JSON document that does not parse, with the position when known (1-based).
///
/// `message` is exactly what Go prints (for YAML, including sigs.k8s.io/yaml's
/// `error converting YAML to JSON: ` prefix and go-yaml's own line convention); `line` and
/// `column` are the real position of the problem, for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub message: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

impl DecodeError {
    fn plain(message: String) -> DecodeError {
        DecodeError {
            message,
            line: None,
            column: None,
        }
    }
}

/// `sigs.k8s.io/yaml.Unmarshal` into `interface{}`, as Helm reads `values.yaml`, `-f` files
/// and `fromYaml`: YAML 1.1 scalars as go-yaml v2 resolves them, then through JSON, so every
/// number is a float64 and every map key a string. An empty document is nil.
pub fn from_yaml(text: &str) -> Result<Value, DecodeError> {
    yaml_read::unmarshal(text)
}

/// `sigs.k8s.io/yaml.Unmarshal` into a map of Go type `go_type` (e.g.
/// `map[string]interface {}` for `fromYaml`, `chartutil.Values` for values files): a null
/// document gives an empty map, anything but a mapping is Go's JSON type error.
pub fn from_yaml_map(text: &str, go_type: &str) -> Result<Map, DecodeError> {
    match from_yaml(text)? {
        Value::Map(m) => Ok(m),
        Value::Nil => Ok(Map::new()),
        other => Err(DecodeError::plain(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type {go_type}",
            json::json_kind(&other).unwrap_or("null")
        ))),
    }
}

/// `sigs.k8s.io/yaml.Unmarshal` into `[]interface{}` (`fromYamlArray`).
pub fn from_yaml_list(text: &str) -> Result<Vec<Value>, DecodeError> {
    match from_yaml(text)? {
        Value::List(items) => Ok(items.into_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(DecodeError::plain(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            json::json_kind(&other).unwrap_or("null")
        ))),
    }
}

/// `sigs.k8s.io/yaml.Marshal`: the YAML document with its trailing newline (sorted keys in
/// go-yaml's natural order, Go's quoting, long lines folded at 80 columns).
pub fn to_yaml(value: &Value) -> Result<String, FuncError> {
    yaml_write::to_yaml_document(value, Flavor::SigsV2).map_err(FuncError::from)
}

/// go-yaml v3's `Encoder` with `SetIndent(2)`, as `toYamlPretty` prints (trailing newline
/// included).
pub fn to_yaml_pretty(value: &Value) -> Result<String, FuncError> {
    yaml_write::to_yaml_document(value, Flavor::V3).map_err(FuncError::from)
}

/// `encoding/json.Marshal`, as `toJson` prints.
pub fn to_json(value: &Value) -> Result<String, FuncError> {
    json::encode(
        value,
        JsonStyle {
            escape_html: true,
            indent: false,
        },
    )
    .map_err(FuncError::from)
}

/// `encoding/json.Unmarshal` into `interface{}`.
pub fn from_json(text: &str) -> Result<Value, DecodeError> {
    json::decode(text)
}

/// `encoding/json.Unmarshal` into a Go map, slice or interface: a JSON `null` leaves the
/// target empty, a mismatched kind is Go's type error.
fn from_json_into(text: &str, go_type: &str, want_list: bool) -> Result<Value, DecodeError> {
    let v = from_json(text)?;
    let ok = match &v {
        Value::Nil => {
            return Ok(if want_list {
                Value::list(Vec::new())
            } else {
                Value::Map(Map::new())
            });
        }
        Value::List(_) => want_list,
        Value::Map(_) => !want_list,
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        Err(DecodeError::plain(format!(
            "json: cannot unmarshal {} into Go value of type {go_type}",
            json::json_kind(&v).unwrap_or("null")
        )))
    }
}

fn error_map(message: String) -> Value {
    let m = Map::new();
    m.insert("Error", Value::from(message));
    Value::Map(m)
}

fn string_arg(args: &[Value]) -> &str {
    args.first().and_then(Value::as_str).unwrap_or("")
}

fn any_arg(args: &[Value]) -> &Value {
    static NIL: Value = Value::Nil;
    args.first().unwrap_or(&NIL)
}

fn json_with(args: &[Value], escape_html: bool, indent: bool) -> Result<String, String> {
    json::encode(
        any_arg(args),
        JsonStyle {
            escape_html,
            indent,
        },
    )
}

/// Sprig's JSON functions (sprig v3.3.0 `defaults.go`), as a plain Sprig function map has
/// them. Helm replaces `toJson` and `fromJson` with its own in [`register`].
pub fn register_sprig(map: &mut FuncMap) {
    // fromJson: json.Unmarshal into interface{}, errors swallowed (nil).
    map.insert(
        "fromJson",
        Func::pure(&[Ty::String], None, |args| {
            Ok(from_json(string_arg(args)).unwrap_or(Value::Nil))
        }),
    );
    map.insert(
        "mustFromJson",
        Func::pure(&[Ty::String], None, |args| {
            from_json(string_arg(args)).map_err(|e| FuncError::new(e.message))
        }),
    );
    map.insert(
        "toJson",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            Ok(Value::from(
                json_with(args, true, false).unwrap_or_default(),
            ))
        })),
    );
    map.insert(
        "mustToJson",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            json_with(args, true, false)
                .map(Value::from)
                .map_err(FuncError::from)
        })),
    );
    map.insert(
        "toPrettyJson",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            Ok(Value::from(json_with(args, true, true).unwrap_or_default()))
        })),
    );
    map.insert(
        "mustToPrettyJson",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            json_with(args, true, true)
                .map(Value::from)
                .map_err(FuncError::from)
        })),
    );
    // toRawJson panics on error; text/template turns the panic into the call's error.
    for name in ["toRawJson", "mustToRawJson"] {
        map.insert(
            name,
            super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
                json_with(args, false, false)
                    .map(Value::from)
                    .map_err(FuncError::from)
            })),
        );
    }
}

/// Helm's encoding functions (helm v3.17 `pkg/engine/funcs.go`), on top of Sprig's.
pub fn register(map: &mut FuncMap) {
    register_sprig(map);
    // toYaml: errors give "", the trailing newline is trimmed.
    map.insert(
        "toYaml",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            let s = to_yaml(any_arg(args)).unwrap_or_default();
            Ok(Value::from(s.strip_suffix('\n').unwrap_or(&s)))
        })),
    );
    map.insert(
        "toYamlPretty",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            let s = to_yaml_pretty(any_arg(args)).unwrap_or_default();
            Ok(Value::from(s.strip_suffix('\n').unwrap_or(&s)))
        })),
    );
    // fromYaml: a map; on error the map holds the message under "Error".
    map.insert(
        "fromYaml",
        Func::pure(&[Ty::String], None, |args| {
            Ok(
                match from_yaml_map(string_arg(args), "map[string]interface {}") {
                    Ok(m) => Value::Map(m),
                    Err(e) => error_map(e.message),
                },
            )
        }),
    );
    // fromYamlArray: a list; on error the list holds just the message.
    map.insert(
        "fromYamlArray",
        Func::pure(&[Ty::String], None, |args| {
            Ok(match from_yaml_list(string_arg(args)) {
                Ok(items) => Value::list(items),
                Err(e) => Value::list(vec![Value::from(e.message)]),
            })
        }),
    );
    map.insert(
        "toJson",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            Ok(Value::from(
                json_with(args, true, false).unwrap_or_default(),
            ))
        })),
    );
    map.insert(
        "fromJson",
        Func::pure(&[Ty::String], None, |args| {
            Ok(
                match from_json_into(string_arg(args), "map[string]interface {}", false) {
                    Ok(v) => v,
                    Err(e) => error_map(e.message),
                },
            )
        }),
    );
    map.insert(
        "fromJsonArray",
        Func::pure(&[Ty::String], None, |args| {
            Ok(
                match from_json_into(string_arg(args), "[]interface {}", true) {
                    Ok(v) => v,
                    Err(e) => Value::list(vec![Value::from(e.message)]),
                },
            )
        }),
    );
    // toToml: encoder errors are printed as the result; Go panics abort the call.
    map.insert(
        "toToml",
        super::bounded_by_size(Func::pure(&[Ty::Any], None, |args| {
            match toml::encode(any_arg(args)) {
                Ok(s) => Ok(Value::from(s)),
                Err(toml::TomlError::Toml(message)) => Ok(Value::from(message)),
                Err(toml::TomlError::Panic(message)) => Err(FuncError::new(message)),
            }
        })),
    );
    map.insert(
        "fromToml",
        Func::pure(&[Ty::String], None, |args| {
            Ok(match toml::decode(string_arg(args)) {
                Ok(m) => Value::Map(m),
                Err(message) => error_map(message),
            })
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::StandaloneContext;

    fn call(name: &str, args: &[Value]) -> Result<Value, FuncError> {
        let mut map = FuncMap::new();
        register(&mut map);
        let f = map
            .get(name)
            .unwrap_or_else(|| panic!("{name} is registered"));
        f.call(&mut StandaloneContext::default(), args)
    }

    fn call_str(name: &str, arg: Value) -> String {
        match call(name, &[arg]) {
            Ok(Value::String(s)) => s.to_string(),
            other => panic!("{name}: {other:?}"),
        }
    }

    fn yaml(text: &str) -> Value {
        from_yaml(text).unwrap()
    }

    #[test]
    fn to_yaml_func() {
        let cases = [
            ("a: 1\nb: [x, z]\n", "a: 1\nb:\n- x\n- z"),
            // yaml.v2 quirk: an unquoted y is a boolean.
            ("b: [y]\n", "b:\n- true"),
            ("{}", "{}"),
            ("", "null"),
            (
                "s: 'yes'\nnum: 1.0\nbig: 1e6\n",
                "big: 1000000\nnum: 1\ns: \"yes\"",
            ),
            ("m: {}\nl: []\n", "l: []\nm: {}"),
            ("text: |\n  line1\n  line2\n", "text: |\n  line1\n  line2"),
            ("e: ''\n", "e: \"\""),
        ];
        for (input, expect) in cases {
            assert_eq!(call_str("toYaml", yaml(input)), expect, "{input:?}");
        }
        // Marshal errors become "".
        assert_eq!(call_str("toYaml", Value::Float(f64::NAN)), "");
    }

    #[test]
    fn to_yaml_pretty_func() {
        assert_eq!(
            call_str("toYamlPretty", yaml("a:\n  b: [1, 2]\nc: on\n")),
            "a:\n  b:\n    - 1\n    - 2\nc: true"
        );
        assert_eq!(call_str("toYamlPretty", Value::from("on")), "\"on\"");
    }

    #[test]
    fn from_yaml_func() {
        let v = call("fromYaml", &[Value::from("a: 1\n")]).unwrap();
        assert_eq!(v.as_map().unwrap().get("a"), Some(Value::Float(1.0)));
        let v = call("fromYaml", &[Value::from("- 1\n")]).unwrap();
        assert_eq!(
            v.as_map().unwrap().get("Error"),
            Some(Value::from(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
            ))
        );
        let v = call("fromYaml", &[Value::from("a: b: c")]).unwrap();
        assert_eq!(
            v.as_map().unwrap().get("Error"),
            Some(Value::from(
                "error converting YAML to JSON: yaml: mapping values are not allowed in this context"
            ))
        );
        let v = call("fromYaml", &[Value::from("")]).unwrap();
        assert!(v.as_map().unwrap().is_empty());
        let v = call("fromYaml", &[Value::from("hello")]).unwrap();
        assert_eq!(
            v.as_map().unwrap().get("Error"),
            Some(Value::from(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go value of type map[string]interface {}"
            ))
        );
    }

    #[test]
    fn from_yaml_array_func() {
        let v = call("fromYamlArray", &[Value::from("[1, a]")]).unwrap();
        assert_eq!(v, Value::list(vec![Value::Float(1.0), Value::from("a")]));
        let v = call("fromYamlArray", &[Value::from("a: 1")]).unwrap();
        assert_eq!(
            v,
            Value::list(vec![Value::from(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}"
            )])
        );
    }

    #[test]
    fn json_funcs() {
        let v = yaml("b: [1, 2.5, '<x>']\na: null\n");
        assert_eq!(
            call_str("toJson", v.clone()),
            r#"{"a":null,"b":[1,2.5,"\u003cx\u003e"]}"#
        );
        assert_eq!(
            call_str("toRawJson", v.clone()),
            r#"{"a":null,"b":[1,2.5,"<x>"]}"#
        );
        assert_eq!(
            call_str("toPrettyJson", v.clone()),
            "{\n  \"a\": null,\n  \"b\": [\n    1,\n    2.5,\n    \"\\u003cx\\u003e\"\n  ]\n}"
        );
        assert_eq!(call_str("toJson", Value::Float(f64::INFINITY)), "");
        assert_eq!(
            call("mustToJson", &[Value::Float(f64::NAN)]),
            Err(FuncError::new("json: unsupported value: NaN"))
        );
        assert_eq!(
            call("toRawJson", &[Value::Float(f64::NAN)]),
            Err(FuncError::new("json: unsupported value: NaN"))
        );
        let m = call("fromJson", &[Value::from(r#"{"a": [1]}"#)]).unwrap();
        assert_eq!(
            m.as_map().unwrap().get("a"),
            Some(Value::list(vec![Value::Float(1.0)]))
        );
        let m = call("fromJson", &[Value::from("[1]")]).unwrap();
        assert_eq!(
            m.as_map().unwrap().get("Error"),
            Some(Value::from(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
            ))
        );
        let m = call("fromJson", &[Value::from("{")]).unwrap();
        assert_eq!(
            m.as_map().unwrap().get("Error"),
            Some(Value::from("unexpected end of JSON input"))
        );
        let l = call("fromJsonArray", &[Value::from("{}")]).unwrap();
        assert_eq!(
            l,
            Value::list(vec![Value::from(
                "json: cannot unmarshal object into Go value of type []interface {}"
            )])
        );
        assert_eq!(
            call("mustFromJson", &[Value::from("x")]),
            Err(FuncError::new(
                "invalid character 'x' looking for beginning of value"
            ))
        );
        assert_eq!(
            call("mustFromJson", &[Value::from("\"s\"")]),
            Ok(Value::from("s"))
        );
    }

    #[test]
    fn toml_funcs() {
        assert_eq!(
            call_str("toToml", yaml("a: 1\nt: {b: x}\n")),
            "a = 1.0\n\n[t]\n  b = \"x\"\n"
        );
        assert_eq!(
            call_str("toToml", yaml("l: [1, null]\n")),
            "toml: cannot encode array with nil element"
        );
        let m = call("fromToml", &[Value::from("a = 1\n")]).unwrap();
        assert_eq!(m.as_map().unwrap().get("a"), Some(Value::Int(1)));
        let m = call("fromToml", &[Value::from("a = ")]).unwrap();
        assert!(m.as_map().unwrap().contains_key("Error"));
    }

    /// Property: JSON-like data survives `to_yaml` then `from_yaml` (numbers as float64).
    #[test]
    fn yaml_round_trip() {
        let docs = [
            "a: 1\nb: [x, 'yes', '123', '', ' lead', 'a: b', \"tab\\tx\"]\nc: {d: null, e: true}\n",
            "- 1.5\n- -2\n- 1e+30\n- 0.000001\n- '2001-01-01'\n- '0x10'\n- |\n  multi\n  line\n",
            "k: \"quote \\\" and \\\\ backslash and é and 😀\"\n",
            "? \"a\\nb\"\n: 1\n\"~\": 2\n\"<<\": 3\n",
            "long: aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp qqqq rrrr ssss\n",
            "nested:\n- - a\n  - b\n- {x: [1, {y: z}]}\n- []\n- {}\n",
        ];
        for doc in docs {
            let v = yaml(doc);
            let printed = to_yaml(&v).unwrap();
            assert_eq!(from_yaml(&printed), Ok(v), "{doc:?} printed as {printed:?}");
        }
    }

    /// A small JSON-like value from a seeded generator, with strings built from the
    /// characters that trip YAML quoting. (U+0085 and U+2028 are left out: go-yaml treats them
    /// as line breaks in block scalars, YAML 1.2 parsers such as ours do not.)
    fn random_value(state: &mut u64, depth: usize) -> Value {
        use crate::funcs::splitmix64;
        const PIECES: &[&str] = &[
            "a",
            "b",
            " ",
            ":",
            ": ",
            "#",
            " #",
            "-",
            "- ",
            "'",
            "\"",
            "\n",
            "\t",
            "é",
            "😀",
            "y",
            "no",
            "1",
            "0x1",
            ".",
            "{",
            "[",
            ",",
            "\\",
            "~",
            "&",
            "*",
            "!",
            "|",
            ">",
            "%",
            "@",
            "`",
            "?",
            "0",
            "e5",
            "\r",
            "\u{feff}",
            "\u{a0}",
            "null",
            "2001-02-03",
            "<<",
            "---",
            "...",
            "lorem ipsum dolor sit amet ",
        ];
        fn pick(state: &mut u64, n: u64) -> u64 {
            splitmix64(state) % n
        }
        fn string(state: &mut u64) -> String {
            let len = pick(state, 6);
            let mut s = String::new();
            for _ in 0..len {
                s.push_str(PIECES[pick(state, PIECES.len() as u64) as usize]);
            }
            s
        }
        let kind = if depth >= 3 {
            pick(state, 4)
        } else {
            pick(state, 7)
        };
        match kind {
            0 => Value::from(string(state)),
            1 => {
                let floats = [
                    0.0,
                    1.0,
                    -2.5,
                    1e6,
                    1e-7,
                    1e20,
                    1e19,
                    1e21,
                    12_345_678.9,
                    0.1,
                ];
                Value::Float(floats[pick(state, floats.len() as u64) as usize])
            }
            2 => {
                [Value::Nil, Value::Bool(true), Value::Bool(false)][pick(state, 3) as usize].clone()
            }
            3 => Value::from(string(state).repeat(3)),
            4 | 5 => {
                let n = pick(state, 4);
                let items = (0..n).map(|_| random_value(state, depth + 1)).collect();
                Value::list(items)
            }
            _ => {
                let n = pick(state, 4);
                let m = Map::new();
                for _ in 0..n {
                    let key = string(state);
                    m.insert(key, random_value(state, depth + 1));
                }
                Value::Map(m)
            }
        }
    }

    #[test]
    fn random_yaml_round_trips() {
        let mut state = 7;
        for _ in 0..2000 {
            let v = random_value(&mut state, 0);
            let printed = to_yaml(&v).unwrap();
            assert_eq!(from_yaml(&printed), Ok(v.clone()), "printed as {printed:?}");
            let json = to_json(&v).unwrap();
            assert_eq!(from_json(&json), Ok(v), "printed as {json:?}");
        }
    }

    #[derive(Debug)]
    struct Obj(Option<Value>);

    impl crate::value::Object for Obj {
        fn type_name(&self) -> &str {
            "chart.Metadata"
        }
        fn go_string(&self) -> String {
            "{x}".into()
        }
        fn to_data(&self) -> Option<Value> {
            self.0.clone()
        }
    }

    /// Objects are printed through their data view; one without a view is `{}`.
    #[test]
    fn objects_use_their_data_view() {
        let data = yaml("name: x\nversion: 1.0.0\n");
        let m = Map::new();
        m.insert("chart", Value::Object(std::sync::Arc::new(Obj(Some(data)))));
        m.insert("opaque", Value::Object(std::sync::Arc::new(Obj(None))));
        let v = Value::Map(m);
        assert_eq!(
            call_str("toYaml", v.clone()),
            "chart:\n  name: x\n  version: 1.0.0\nopaque: {}"
        );
        assert_eq!(
            call_str("toJson", v.clone()),
            r#"{"chart":{"name":"x","version":"1.0.0"},"opaque":{}}"#
        );
        assert_eq!(
            call_str("toToml", v),
            "[chart]\n  name = \"x\"\n  version = \"1.0.0\"\n\n[opaque]\n"
        );
    }

    /// Deep and cyclic values end in errors, not stack overflows.
    #[test]
    fn deep_and_cyclic_values() {
        let mut deep = Value::Nil;
        for _ in 0..json::MAX_DEPTH {
            let m = Map::new();
            m.insert("k", deep);
            deep = Value::list(vec![Value::Map(m)]);
        }
        assert!(to_yaml(&deep).is_err());
        assert!(to_yaml_pretty(&deep).is_err());
        assert!(to_json(&deep).is_err());
        assert!(toml::encode(&Value::list(vec![deep.clone()])).is_err());
        let text = format!("{}a\n", "- ".repeat(json::MAX_DEPTH - 1));
        let v = from_yaml(&text).unwrap();
        assert!(to_yaml(&v).is_ok());
        assert!(to_json(&v).is_ok());

        let m = Map::new();
        m.insert("self", Value::Map(m.clone()));
        let cyclic = Value::Map(m.clone());
        let cycle = "error marshaling into JSON: json: unsupported value: encountered a cycle via map[string]interface {}";
        assert_eq!(to_yaml(&cyclic), Err(FuncError::new(cycle)));
        assert!(to_json(&cyclic).is_err());
        assert!(toml::encode(&cyclic).is_err());
        m.remove("self");
    }

    #[test]
    fn json_round_trip() {
        let v = yaml("a: [1, 2.5, x, null, true, {b: '<&>'}]\n");
        let printed = to_json(&v).unwrap();
        assert_eq!(from_json(&printed), Ok(v));
    }
}
