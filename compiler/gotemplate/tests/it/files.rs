//! `.Files` for the conformance cases: the files under a case's `files/` folder as a Go
//! `map[string][]byte` (Helm's `engine.files`), with the methods the cases call (`Get`,
//! `GetBytes`, `Glob`) and Go's iteration, so that `range .Files.Glob "…"` runs as in Helm.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::funcs::FuncError;
use gotemplate::{ListType, Object, Value};

/// The files, keyed by their path in the chart (`files/a.txt`).
#[derive(Debug, Clone, Default)]
pub struct CaseFiles(pub BTreeMap<String, Vec<u8>>);

/// A `[]byte`.
fn bytes(data: &[u8]) -> Value {
    Value::typed_list(
        data.iter().map(|b| Value::Int(i64::from(*b))).collect(),
        ListType::Byte,
    )
}

/// gobwas/glob with `/` as separator, as Helm compiles `Glob` patterns: `*` and `?` stay
/// within a path segment, `**` crosses segments.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern {
        [] => name.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=name.len()).any(|i| glob_match(rest, &name[i..])),
        [b'*', rest @ ..] => {
            let segment = name.iter().position(|&c| c == b'/').unwrap_or(name.len());
            (0..=segment).any(|i| glob_match(rest, &name[i..]))
        }
        [b'?', rest @ ..] => matches!(name, [c, tail @ ..] if *c != b'/' && glob_match(rest, tail)),
        [p, rest @ ..] => matches!(name, [c, tail @ ..] if c == p && glob_match(rest, tail)),
    }
}

fn string_arg(args: &[Value]) -> Result<&str, FuncError> {
    match args {
        [Value::String(s)] => Ok(s),
        _ => Err(FuncError::new("wrong arguments")),
    }
}

impl Object for CaseFiles {
    fn type_name(&self) -> &str {
        "engine.files"
    }

    fn kind_name(&self) -> &'static str {
        "map"
    }

    fn truthy(&self) -> bool {
        !self.0.is_empty()
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        let get = |args: &[Value]| -> Result<&[u8], FuncError> {
            Ok(self.0.get(string_arg(args)?).map_or(&[], Vec::as_slice))
        };
        Some(match name {
            "Get" => get(args).map(|d| Value::from(String::from_utf8_lossy(d).into_owned())),
            "GetBytes" => get(args).map(bytes),
            "Glob" => string_arg(args).map(|pattern| {
                let matching = self
                    .0
                    .iter()
                    .filter(|(k, _)| glob_match(pattern.as_bytes(), k.as_bytes()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::Object(Arc::new(CaseFiles(matching)))
            }),
            _ => return None,
        })
    }

    fn go_string(&self) -> String {
        let entries: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| gotemplate::gofmt::sprintf("%s:%v", &[Value::from(k.as_str()), bytes(v)]))
            .collect();
        format!("map[{}]", entries.join(" "))
    }

    fn range_entries(&self) -> Option<Vec<(Value, Value)>> {
        Some(
            self.0
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), bytes(v)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_like_gobwas() {
        let m = |p: &str, n: &str| glob_match(p.as_bytes(), n.as_bytes());
        assert!(m("files/*", "files/a.txt"));
        assert!(!m("files/*", "files/sub/c.txt"));
        assert!(m("files/**", "files/sub/c.txt"));
        assert!(m("files/*.conf", "files/b.conf"));
        assert!(!m("files/?.txt", "files/ab.txt"));
        assert!(!m("nothing/*", "files/a.txt"));
    }
}
