//! Helm's `--set` / `--set-string` / `--set-json` parser (`pkg/strvals`), ported rune for
//! rune: `a.b=c`, lists `a[0]=x` and `a={x,y}`, `\` escapes, and `--set`'s type inference
//! (`true`/`false`/`null`, integers as int64, everything else a string); `--set-file` (the
//! same parser, each value a file's contents) and `--set-literal` (`literal_parser.go`: the
//! whole rest of the line is one string, no escapes, no lists).

use gotemplate::{Map, Value};

use crate::json;

/// Largest list index `--set` accepts.
pub const MAX_INDEX: usize = 65536;
/// Deepest dotted name `--set` accepts.
pub const MAX_NESTED_NAME_LEVEL: usize = 30;
/// Deepest list nesting (`a[0][0]…`) accepted; Go has no limit but a growable stack.
pub const MAX_NESTED_LIST_LEVEL: usize = 100;

/// What values are read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `--set`: typed values.
    Typed,
    /// `--set-string`: every value a string.
    String,
    /// `--set-json`: values are JSON.
    Json,
}

/// `strvals.ParseInto` (and its `String` / `JSON` siblings): parses `s` and merges the result
/// into `dest`.
pub fn parse_into(s: &str, dest: &Map, mode: Mode) -> Result<(), String> {
    run(
        Parser {
            sc: s.chars().collect(),
            pos: 0,
            mode,
            reader: None,
        },
        dest,
    )
}

/// `strvals.ParseIntoFile` (`--set-file`): as `--set`, with each value (and each item of a
/// `{a,b}` list) replaced by what `read` returns for it (Helm: the named file's contents).
pub fn parse_into_file(
    s: &str,
    dest: &Map,
    read: &dyn Fn(&str) -> Result<Value, String>,
) -> Result<(), String> {
    run(
        Parser {
            sc: s.chars().collect(),
            pos: 0,
            mode: Mode::Typed,
            reader: Some(read),
        },
        dest,
    )
}

fn run(mut p: Parser<'_>, dest: &Map) -> Result<(), String> {
    loop {
        match p.key(dest, 0) {
            Ok(()) => {}
            Err(Failure::Eof) => return Ok(()),
            Err(Failure::Error(e)) | Err(Failure::Panic(e)) => return Err(e),
            Err(Failure::NotList) => return Err("not a list".into()),
        }
    }
}

/// `strvals.Parse`: a new map from one `--set` line.
pub fn parse(s: &str, mode: Mode) -> Result<Map, String> {
    let m = Map::new();
    parse_into(s, &m, mode)?;
    Ok(m)
}

#[derive(Debug)]
enum Failure {
    /// `io.EOF`: the end of the input (not an error at the top).
    Eof,
    /// `ErrNotList`.
    NotList,
    Error(String),
    /// A Go runtime panic (failed type assertion), recovered by the nearest `key`.
    Panic(String),
}

type PResult<T> = Result<T, Failure>;

fn err<T>(msg: impl Into<String>) -> PResult<T> {
    Err(Failure::Error(msg.into()))
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::Int(_) | Value::Int64(_) => "int64",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Object(_) => "struct",
    }
}

fn conversion_panic(v: &Value, want: &str) -> Failure {
    Failure::Panic(format!(
        "interface conversion: interface {{}} is {}, not {want}",
        go_type(v)
    ))
}

fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// `%q` of a `[]rune`: each rune single-quoted, space separated, in brackets.
fn go_quote_runes(s: &str) -> String {
    let quoted: Vec<String> = s
        .chars()
        .map(|c| match c {
            '\'' => r"'\''".to_string(),
            '\\' => r"'\\'".to_string(),
            '\n' => r"'\n'".to_string(),
            '\t' => r"'\t'".to_string(),
            '\r' => r"'\r'".to_string(),
            c if c.is_control() => format!(r"'\x{:02x}'", c as u32),
            c => format!("'{c}'"),
        })
        .collect();
    format!("[{}]", quoted.join(" "))
}

/// `--set-file`'s reader: a path to the value of the file there.
type FileReader<'r> = &'r dyn Fn(&str) -> Result<Value, String>;

struct Parser<'r> {
    sc: Vec<char>,
    pos: usize,
    mode: Mode,
    /// `--set-file`'s reader, in place of `typedVal`.
    reader: Option<FileReader<'r>>,
}

impl Parser<'_> {
    fn read(&mut self) -> Option<char> {
        let c = self.sc.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// `runesUntil`: reads up to a stop rune, honouring `\` escapes. `Err(Eof)` at the end,
    /// with what was read.
    fn runes_until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') => match self.read() {
                    None => return (v, None),
                    Some(next) => v.push(next),
                },
                Some(c) => v.push(c),
            }
        }
    }

    /// `t.reader`: the value of the runes read.
    fn typed(&self, v: &str) -> PResult<Value> {
        match self.reader {
            None => Ok(typed_val(v, self.mode == Mode::String)),
            Some(read) => read(v).map_err(Failure::Error),
        }
    }

    fn key(&mut self, data: &Map, level: usize) -> PResult<()> {
        match self.key_inner(data, level) {
            Err(Failure::Panic(msg)) => err(format!("unable to parse key: {msg}")),
            other => other,
        }
    }

    fn key_inner(&mut self, data: &Map, mut level: usize) -> PResult<()> {
        let (k, last) = self.runes_until(&['=', '[', ',', '.']);
        match last {
            None => {
                if k.is_empty() {
                    Err(Failure::Eof)
                } else {
                    err(format!("key {} has no value", go_quote(&k)))
                }
            }
            Some('[') => {
                let i = match self.key_index() {
                    Ok(i) => i,
                    Err(Failure::Error(e)) => return err(format!("error parsing index: {e}")),
                    Err(Failure::Eof) => return err("error parsing index: EOF"),
                    Err(other) => return Err(other),
                };
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::List(l)) => l.to_vec(),
                    Some(other) => return Err(conversion_panic(&other, "[]interface {}")),
                };
                let (list, e) = self.list_item(list, i, level, 0);
                set(data, &k, Value::list(list));
                e
            }
            Some('=') => {
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        set(data, &k, Value::Nil);
                        return Ok(());
                    }
                    let v = self.json_value()?;
                    set(data, &k, v);
                    self.empty_val();
                    return Ok(());
                }
                match self.val_list() {
                    Ok(list) => {
                        set(data, &k, Value::list(list));
                        Ok(())
                    }
                    Err(Failure::Eof) => {
                        set(data, &k, Value::from(""));
                        Err(Failure::Eof)
                    }
                    Err(Failure::NotList) => {
                        let (rs, _) = self.runes_until(&[',']);
                        let v = self.typed(&rs)?;
                        set(data, &k, v);
                        Ok(())
                    }
                    Err(other) => Err(other),
                }
            }
            Some(',') => {
                set(data, &k, Value::from(""));
                err(format!(
                    "key {} has no value (cannot end with ,)",
                    go_quote(&k)
                ))
            }
            Some(_) => {
                // '.'
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Map(m)) => m,
                    Some(other) => {
                        return Err(conversion_panic(&other, "map[string]interface {}"));
                    }
                };
                let e = self.key(&inner, level);
                if e.is_ok() && inner.is_empty() {
                    return err(format!("key map {} has no value", go_quote(&k)));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Map(inner));
                }
                e
            }
        }
    }

    /// Decodes a JSON value at the cursor and moves past it.
    fn json_value(&mut self) -> PResult<Value> {
        let rest: String = self.sc[self.pos..].iter().collect();
        match json::decode_prefix(&rest) {
            Ok((v, end)) => {
                self.pos += rest[..end].chars().count();
                Ok(v)
            }
            Err(e) => err(e),
        }
    }

    fn key_index(&mut self) -> PResult<i64> {
        let (v, last) = self.runes_until(&[']']);
        if last.is_none() {
            return Err(Failure::Eof);
        }
        go_atoi(&v).map_err(Failure::Error)
    }

    /// `listItem`: returns the list (possibly changed) and the error, as Go returns both.
    fn list_item(
        &mut self,
        list: Vec<Value>,
        i: i64,
        level: usize,
        depth: usize,
    ) -> (Vec<Value>, PResult<()>) {
        if depth > MAX_NESTED_LIST_LEVEL {
            return (
                list,
                err(format!(
                    "list nesting is greater than maximum supported level of {MAX_NESTED_LIST_LEVEL}"
                )),
            );
        }
        if i < 0 {
            return (list, err(format!("negative {i} index not allowed")));
        }
        let (k, last) = self.runes_until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                err(format!(
                    "unexpected data at end of array index: {}",
                    go_quote_runes(&k)
                )),
            );
        }
        match last {
            None => (list, Err(Failure::Eof)),
            Some('=') => {
                if self.mode == Mode::Json {
                    if self.empty_val() {
                        return set_index(list, i, Value::Nil);
                    }
                    let v = match self.json_value() {
                        Ok(v) => v,
                        Err(e) => return (list, Err(e)),
                    };
                    let (list, e) = set_index(list, i, v);
                    if e.is_err() {
                        return (list, e);
                    }
                    self.empty_val();
                    return (list, Ok(()));
                }
                match self.val_list() {
                    Ok(vl) => set_index(list, i, Value::list(vl)),
                    Err(Failure::Eof) => set_index(list, i, Value::from("")),
                    Err(Failure::NotList) => {
                        let (rs, _) = self.runes_until(&[',']);
                        match self.typed(&rs) {
                            Ok(v) => set_index(list, i, v),
                            Err(e) => (list, Err(e)),
                        }
                    }
                    Err(e) => (list, Err(e)),
                }
            }
            Some('[') => {
                let next_i = match self.key_index() {
                    Ok(n) => n,
                    Err(Failure::Error(e)) => {
                        return (list, err(format!("error parsing index: {e}")));
                    }
                    Err(Failure::Eof) => return (list, err("error parsing index: EOF")),
                    Err(other) => return (list, Err(other)),
                };
                let mut crt = Vec::new();
                if let Some(existing) = usize::try_from(i).ok().and_then(|i| list.get(i)) {
                    match existing {
                        Value::Nil => {}
                        Value::List(l) => crt = l.to_vec(),
                        other => {
                            let p = conversion_panic(other, "[]interface {}");
                            return (list, Err(p));
                        }
                    }
                }
                let (list2, e) = self.list_item(crt, next_i, level, depth + 1);
                if e.is_err() {
                    return (list, e);
                }
                set_index(list, i, Value::list(list2))
            }
            Some(_) => {
                // '.': a map inside the list.
                let mut list = list;
                let mut inner = Map::new();
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| list.get_mut(i)) {
                    match slot {
                        Value::Map(m) => inner = m.clone(),
                        _ => {
                            // Indices out of order: start an empty map there.
                            *slot = Value::Map(inner.clone());
                        }
                    }
                }
                let e = self.key(&inner, level);
                if e.is_err() {
                    return (list, e);
                }
                set_index(list, i, Value::Map(inner))
            }
        }
    }

    /// `emptyVal`: skips blanks; true at a comma (consumed) or the end.
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    /// `valList`: a `{a,b}` list, or `NotList`.
    fn val_list(&mut self) -> PResult<Vec<Value>> {
        match self.read() {
            None => return Err(Failure::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(Failure::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.runes_until(&[',', '}']);
            match last {
                None => return err("list must terminate with '}'"),
                Some('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.unread();
                    }
                    list.push(self.typed(&rs)?);
                    return Ok(list);
                }
                Some(_) => list.push(self.typed(&rs)?),
            }
        }
    }
}

/// `strvals.ParseLiteralInto` (`--set-literal`): `a.b[0]=VALUE`, where VALUE is the rest of
/// the line as one string (no escapes, commas or lists).
pub fn parse_literal_into(s: &str, dest: &Map) -> Result<(), String> {
    let mut p = Literal {
        sc: s.chars().collect(),
        pos: 0,
    };
    loop {
        match p.key(dest, 0) {
            Ok(()) => {}
            Err(Failure::Eof) => return Ok(()),
            Err(Failure::Error(e)) | Err(Failure::Panic(e)) => return Err(e),
            Err(Failure::NotList) => return Err("not a list".into()),
        }
    }
}

/// `literalParser`.
struct Literal {
    sc: Vec<char>,
    pos: usize,
}

impl Literal {
    /// `runesUntilLiteral`: up to a stop rune (no escapes); `None` at the end.
    fn runes_until(&mut self, stop: &[char]) -> (String, Option<char>) {
        let mut v = String::new();
        while let Some(&c) = self.sc.get(self.pos) {
            self.pos += 1;
            if stop.contains(&c) {
                return (v, Some(c));
            }
            v.push(c);
        }
        (v, None)
    }

    /// `val`: everything left.
    fn val(&mut self) -> String {
        self.runes_until(&[]).0
    }

    fn key(&mut self, data: &Map, level: usize) -> PResult<()> {
        match self.key_inner(data, level) {
            Err(Failure::Panic(msg)) => err(format!("unable to parse key: {msg}")),
            other => other,
        }
    }

    fn key_inner(&mut self, data: &Map, mut level: usize) -> PResult<()> {
        let (k, last) = self.runes_until(&['=', '[', '.']);
        match last {
            None if k.is_empty() => Err(Failure::Eof),
            None => err(format!("key {} has no value", go_quote(&k))),
            Some('=') => {
                let v = self.val();
                set(data, &k, Value::from(v.as_str()));
                Ok(())
            }
            Some('.') => {
                level += 1;
                if level > MAX_NESTED_NAME_LEVEL {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Value::Map(m)) => m,
                    Some(other) => {
                        return Err(conversion_panic(&other, "map[string]interface {}"));
                    }
                };
                let e = self.key(&inner, level);
                if e.is_ok() && inner.is_empty() {
                    return err(format!("key map {} has no value", go_quote(&k)));
                }
                if !inner.is_empty() {
                    set(data, &k, Value::Map(inner));
                }
                e
            }
            Some(_) => {
                // '['
                let i = self.key_index()?;
                let list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Value::List(l)) => l.to_vec(),
                    Some(other) => return Err(conversion_panic(&other, "[]interface {}")),
                };
                let (list, e) = self.list_item(list, i, level, 0);
                set(data, &k, Value::list(list));
                e
            }
        }
    }

    /// `keyIndex`, with `key`'s "error parsing index" wrapping.
    fn key_index(&mut self) -> PResult<i64> {
        let (v, last) = self.runes_until(&[']']);
        if last.is_none() {
            return err("error parsing index: EOF");
        }
        go_atoi(&v).map_err(|e| Failure::Error(format!("error parsing index: {e}")))
    }

    fn list_item(
        &mut self,
        list: Vec<Value>,
        i: i64,
        level: usize,
        depth: usize,
    ) -> (Vec<Value>, PResult<()>) {
        if depth > MAX_NESTED_LIST_LEVEL {
            return (
                list,
                err(format!(
                    "list nesting is greater than maximum supported level of {MAX_NESTED_LIST_LEVEL}"
                )),
            );
        }
        if i < 0 {
            return (list, err(format!("negative {i} index not allowed")));
        }
        let (k, last) = self.runes_until(&['[', '.', '=']);
        if !k.is_empty() {
            return (
                list,
                err(format!(
                    "unexpected data at end of array index: {}",
                    go_quote_runes(&k)
                )),
            );
        }
        match last {
            None => (list, Err(Failure::Eof)),
            Some('=') => {
                let v = self.val();
                set_index(list, i, Value::from(v.as_str()))
            }
            Some('.') => {
                let mut list = list;
                let mut inner = Map::new();
                if let Some(slot) = usize::try_from(i).ok().and_then(|i| list.get_mut(i)) {
                    match slot {
                        Value::Map(m) => inner = m.clone(),
                        _ => *slot = Value::Map(inner.clone()),
                    }
                }
                let e = self.key(&inner, level);
                if e.is_err() {
                    return (list, e);
                }
                set_index(list, i, Value::Map(inner))
            }
            Some(_) => {
                // '['
                let next_i = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let mut crt = Vec::new();
                if let Some(existing) = usize::try_from(i).ok().and_then(|i| list.get(i)) {
                    match existing {
                        Value::Nil => {}
                        Value::List(l) => crt = l.to_vec(),
                        other => {
                            let p = conversion_panic(other, "[]interface {}");
                            return (list, Err(p));
                        }
                    }
                }
                let (list2, e) = self.list_item(crt, next_i, level, depth + 1);
                if e.is_err() {
                    return (list, e);
                }
                set_index(list, i, Value::list(list2))
            }
        }
    }
}

fn set(data: &Map, key: &str, v: Value) {
    if key.is_empty() {
        return;
    }
    data.insert(key, v);
}

fn set_index(mut list: Vec<Value>, index: i64, v: Value) -> (Vec<Value>, PResult<()>) {
    if index < 0 {
        return (list, err(format!("negative {index} index not allowed")));
    }
    let Ok(i) = usize::try_from(index) else {
        return (list, err(format!("negative {index} index not allowed")));
    };
    if i > MAX_INDEX {
        return (
            list,
            err(format!(
                "index of {index} is greater than maximum supported index of {MAX_INDEX}"
            )),
        );
    }
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
    (list, Ok(()))
}

/// `strconv.Atoi` with Go's error text.
fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// `typedVal`: how `--set` types a value.
pub fn typed_val(v: &str, as_string: bool) -> Value {
    if as_string {
        return Value::from(v);
    }
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v.eq_ignore_ascii_case("null") {
        return Value::Nil;
    }
    if v == "0" {
        return Value::Int(0);
    }
    // A value not starting with zero that parses as an int64 is one.
    if !v.is_empty() && !v.starts_with('0') {
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        if !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && let Ok(i) = v.parse::<i64>()
        {
            return Value::Int(i);
        }
    }
    Value::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::canonical;

    /// Parses `input` with `--set` typing and compares the canonical text of the result.
    fn check(input: &str, expect: &str) {
        let got =
            parse(input, Mode::Typed).unwrap_or_else(|e| panic!("{input}: unexpected error {e}"));
        assert_eq!(canonical(&Value::Map(got)), expect, "{input}");
    }

    fn check_err(input: &str) {
        assert!(
            parse(input, Mode::Typed).is_err(),
            "{input}: expected an error"
        );
    }

    fn check_into(start: &str, inputs: &[&str], mode: Mode, expect: &str) {
        let dest = match crate::json::decode(start).unwrap() {
            Value::Map(m) => m,
            _ => unreachable!("test start is an object"),
        };
        for i in inputs {
            parse_into(i, &dest, mode).unwrap_or_else(|e| panic!("{i}: {e}"));
        }
        assert_eq!(canonical(&Value::Map(dest)), expect, "{inputs:?}");
    }

    #[test]
    fn parse_set_cases_from_helm() {
        check(
            "name1=null,f=false,t=true",
            r#"{"f":false,"name1":null,"t":true}"#,
        );
        check("name1=value1", r#"{"name1":"value1"}"#);
        check(
            "name1=value1,name2=value2",
            r#"{"name1":"value1","name2":"value2"}"#,
        );
        check(
            "name1=value1,name2=value2,",
            r#"{"name1":"value1","name2":"value2"}"#,
        );
        check_err("name1=value1,,,,name2=value2,");
        check("name1=,name2=value2", r#"{"name1":"","name2":"value2"}"#);
        check("leading_zeros=00009", r#"{"leading_zeros":"00009"}"#);
        check("zero_int=0", r#"{"zero_int":0}"#);
        check("long_int=1234567890", r#"{"long_int":1234567890}"#);
        check("boolean=true", r#"{"boolean":true}"#);
        check("is_null=null", r#"{"is_null":null}"#);
        check_err("name1,name2=");
        check_err("name1,name2=value2");
        check_err("name1,name2=value2\\");
        check_err("name1,name2");
        check(
            "name1=one\\,two,name2=three\\,four",
            r#"{"name1":"one,two","name2":"three,four"}"#,
        );
        check(
            "name1=one\\=two,name2=three\\=four",
            r#"{"name1":"one=two","name2":"three=four"}"#,
        );
        check(
            "name1=one two three,name2=three two one",
            r#"{"name1":"one two three","name2":"three two one"}"#,
        );
        check("outer.inner=value", r#"{"outer":{"inner":"value"}}"#);
        check(
            "outer.middle.inner=value",
            r#"{"outer":{"middle":{"inner":"value"}}}"#,
        );
        check(
            "outer.inner1=value,outer.inner2=value2",
            r#"{"outer":{"inner1":"value","inner2":"value2"}}"#,
        );
        check(
            "outer.inner1=value,outer.middle.inner=value",
            r#"{"outer":{"inner1":"value","middle":{"inner":"value"}}}"#,
        );
        check_err("name1.name2");
        check_err("name1.name2,name1.name3");
        check("name1.name2=", r#"{"name1":{"name2":""}}"#);
        check_err("name1.=name2");
        check_err("name1.,name2");
        check("name1={value1,value2}", r#"{"name1":["value1","value2"]}"#);
        check(
            "name1={value1,value2},name2={value1,value2}",
            r#"{"name1":["value1","value2"],"name2":["value1","value2"]}"#,
        );
        check("name1={1021,902}", r#"{"name1":[1021,902]}"#);
        check(
            "name1.name2={value1,value2}",
            r#"{"name1":{"name2":["value1","value2"]}}"#,
        );
        check_err("name1={1021,902");
        check("list[0]=foo", r#"{"list":["foo"]}"#);
        check("list[0].foo=bar", r#"{"list":[{"foo":"bar"}]}"#);
        check(
            "list[0].foo=bar,list[0].hello=world",
            r#"{"list":[{"foo":"bar","hello":"world"}]}"#,
        );
        check_err("list[0].foo=bar,list[-30].hello=world");
        check("list[0]=foo,list[1]=bar", r#"{"list":["foo","bar"]}"#);
        check("list[0]=foo,list[1]=bar,", r#"{"list":["foo","bar"]}"#);
        check(
            "list[0]=foo,list[3]=bar",
            r#"{"list":["foo",null,null,"bar"]}"#,
        );
        check_err("list[0]=foo,list[-20]=bar");
        check_err("illegal[0]name.foo=bar");
        check("noval[0]", r#"{"noval":[]}"#);
        check("noval[0]=", r#"{"noval":[""]}"#);
        check("nested[0][0]=1", r#"{"nested":[[1]]}"#);
        check("nested[1][1]=1", r#"{"nested":[null,[null,1]]}"#);
        check(
            "name1.name2[0].foo=bar,name1.name2[1].foo=bar",
            r#"{"name1":{"name2":[{"foo":"bar"},{"foo":"bar"}]}}"#,
        );
        check(
            "name1.name2[1].foo=bar,name1.name2[0].foo=bar",
            r#"{"name1":{"name2":[{"foo":"bar"},{"foo":"bar"}]}}"#,
        );
        check(
            "name1.name2[1].foo=bar",
            r#"{"name1":{"name2":[null,{"foo":"bar"}]}}"#,
        );
        check_err("]={}].");
    }

    #[test]
    fn typing_quirks() {
        // EqualFold: any case of true/false/null.
        check("a=TRUE,b=Null", r#"{"a":true,"b":null}"#);
        check(
            "a=+5,b=-7,c=1e3,d=0x10",
            r#"{"a":5,"b":-7,"c":"1e3","d":"0x10"}"#,
        );
        check(
            "big=9223372036854775808",
            r#"{"big":"9223372036854775808"}"#,
        );
    }

    #[test]
    fn parse_string_cases() {
        for (input, expect) in [
            (
                "long_int_string=1234567890",
                r#"{"long_int_string":"1234567890"}"#,
            ),
            ("boolean=true", r#"{"boolean":"true"}"#),
            ("is_null=null", r#"{"is_null":"null"}"#),
            ("zero=0", r#"{"zero":"0"}"#),
        ] {
            let got = parse(input, Mode::String).unwrap();
            assert_eq!(canonical(&Value::Map(got)), expect);
        }
        check_into(
            r#"{"outer":{"inner1":"overwrite","inner2":"value2"}}"#,
            &["outer.inner1=1,outer.inner3=3"],
            Mode::String,
            r#"{"outer":{"inner1":"1","inner2":"value2","inner3":"3"}}"#,
        );
    }

    #[test]
    fn parse_into_cases_from_helm() {
        check_into(
            r#"{"outer":{"inner1":"overwrite","inner2":"value2"}}"#,
            &["outer.inner1=value1,outer.inner3=value3,outer.inner4=4"],
            Mode::Typed,
            r#"{"outer":{"inner1":"value1","inner2":"value2","inner3":"value3","inner4":4}}"#,
        );
        check_into(
            "{}",
            &[
                "listOuter[0][0].type=listValue",
                "listOuter[0][0].status=alive",
            ],
            Mode::Typed,
            r#"{"listOuter":[[{"status":"alive","type":"listValue"}]]}"#,
        );
        check_into(
            "{}",
            &[
                "listOuter[0][0].type=listValue",
                "listOuter[1][0].status=alive",
            ],
            Mode::Typed,
            r#"{"listOuter":[[{"type":"listValue"}],[{"status":"alive"}]]}"#,
        );
        check_into(
            r#"{"listOuter":[[[{"exited":"old"}]]]}"#,
            &[
                "listOuter[0][1][0].type=listValue",
                "listOuter[0][0][1].status=alive",
            ],
            Mode::Typed,
            r#"{"listOuter":[[[{"exited":"old"},{"status":"alive"}],[{"type":"listValue"}]]]}"#,
        );
    }

    #[test]
    fn parse_json_cases_from_helm() {
        check_into(
            r#"{"outer":{"inner1":"overwrite","inner2":"value2"}}"#,
            &[r#"outer.inner1="1",outer.inner3=3,outer.inner4=true,outer.inner5="true""#],
            Mode::Json,
            r#"{"outer":{"inner1":"1","inner2":"value2","inner3":3f,"inner4":true,"inner5":"true"}}"#,
        );
        check_into(
            r#"{"outer":{"inner1":{"x":"overwrite"},"inner2":"value2","inner3":["overwrite"]}}"#,
            &[
                r#"outer.inner1={"a":"1","b":2,"c":[1,2,3]},outer.inner3=["new value 1","new value 2"],outer.inner4={"aa":"1","bb":2,"cc":[1,2,3]},outer.inner5=[{"A":"1","B":2,"C":[1,2,3]}]"#,
            ],
            Mode::Json,
            r#"{"outer":{"inner1":{"a":"1","b":2f,"c":[1f,2f,3f]},"inner2":"value2","inner3":["new value 1","new value 2"],"inner4":{"aa":"1","bb":2f,"cc":[1f,2f,3f]},"inner5":[{"A":"1","B":2f,"C":[1f,2f,3f]}]}}"#,
        );
        check_into(
            r#"{"outer":{"inner1":{"x":"overwrite"},"inner2":"value2"}}"#,
            &[
                r#"outer.inner1=,outer.inner3={"aa":"1","bb":2,"cc":[1,2,3]},outer.inner3.cc[1]=null"#,
            ],
            Mode::Json,
            r#"{"outer":{"inner1":null,"inner2":"value2","inner3":{"aa":"1","bb":2f,"cc":[1f,null,3f]}}}"#,
        );
        let dest = Map::new();
        assert!(
            parse_into(
                r#"outer.inner5={"A":"1","B":2,"C":[1,2,3]}]"#,
                &dest,
                Mode::Json
            )
            .is_err()
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut key = String::new();
        for i in 1..=MAX_NESTED_NAME_LEVEL + 2 {
            key.push_str(&format!("name{i}"));
            if i <= MAX_NESTED_NAME_LEVEL + 1 {
                key.push('.');
            }
        }
        let e = parse(&format!("{key}=value"), Mode::Typed).unwrap_err();
        assert_eq!(
            e,
            "value name nested level is greater than maximum supported nested level of 30"
        );
        let deep = format!("a{}=1", "[0]".repeat(5000));
        assert!(
            parse(&deep, Mode::Typed)
                .unwrap_err()
                .starts_with("list nesting")
        );
        let e = parse("a[65537]=x", Mode::Typed).unwrap_err();
        assert_eq!(
            e,
            "index of 65537 is greater than maximum supported index of 65536"
        );
    }

    #[test]
    fn rune_slices_quote_as_go() {
        assert_eq!(
            parse("x[0]y=1", Mode::Typed).unwrap_err(),
            "unexpected data at end of array index: ['y']"
        );
        assert_eq!(go_quote_runes("a'b"), r"['a' '\'' 'b']");
    }

    #[test]
    fn type_conflicts_report_go_panics() {
        let dest = Map::new();
        dest.insert("a", Value::from("x"));
        assert_eq!(
            parse_into("a[0]=1", &dest, Mode::Typed).unwrap_err(),
            "unable to parse key: interface conversion: interface {} is string, not []interface {}"
        );
        assert_eq!(
            parse_into("a.b=1", &dest, Mode::Typed).unwrap_err(),
            "unable to parse key: interface conversion: interface {} is string, not map[string]interface {}"
        );
    }

    fn literal(input: &str) -> Result<String, String> {
        let m = Map::new();
        parse_literal_into(input, &m)?;
        Ok(crate::json::canonical(&Value::Map(m)))
    }

    #[test]
    fn set_literal_takes_the_rest_of_the_line_verbatim() {
        // Cases of Helm's literal_parser_test.go.
        for (input, want) in [
            ("name=value", r#"{"name":"value"}"#),
            (
                "long_int_string=1234567890",
                r#"{"long_int_string":"1234567890"}"#,
            ),
            ("boolean=true", r#"{"boolean":"true"}"#),
            (
                "name1=value1,name2=value2",
                r#"{"name1":"value1,name2=value2"}"#,
            ),
            ("name=one two", r#"{"name":"one two"}"#),
            (r"name=a\,b={c}", r#"{"name":"a\\,b={c}"}"#),
            ("name=", r#"{"name":""}"#),
            ("outer.inner=value", r#"{"outer":{"inner":"value"}}"#),
            ("list[0]=a=b", r#"{"list":["a=b"]}"#),
            ("list[1].name=x", r#"{"list":[null,{"name":"x"}]}"#),
            ("nested[0][1]=x", r#"{"nested":[[null,"x"]]}"#),
        ] {
            assert_eq!(literal(input).as_deref(), Ok(want), "{input}");
        }
        for (input, want) in [
            ("name", r#"key "name" has no value"#),
            ("a.b", r#"key "b" has no value"#),
            (
                "list[x]=1",
                r#"error parsing index: strconv.Atoi: parsing "x": invalid syntax"#,
            ),
            ("list[-1]=1", "negative -1 index not allowed"),
            ("list[0]x=1", "unexpected data at end of array index: ['x']"),
            ("list[0", "error parsing index: EOF"),
        ] {
            assert_eq!(literal(input), Err(want.to_owned()), "{input}");
        }
        let dest = Map::new();
        parse_into("a=1", &dest, Mode::Typed).unwrap();
        assert_eq!(
            parse_literal_into("a.b=1", &dest).unwrap_err(),
            "unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}"
        );
    }

    #[test]
    fn set_file_reads_every_value_and_list_item() {
        let read = |path: &str| -> Result<Value, String> {
            match path {
                "missing" => Err(format!("open {path}: no such file or directory")),
                p => Ok(Value::from(format!("<{p}>").as_str())),
            }
        };
        let m = Map::new();
        parse_into_file("a=x.txt,b.c=y,l={p,q},i[1]=z", &m, &read).unwrap();
        assert_eq!(
            crate::json::canonical(&Value::Map(m)),
            r#"{"a":"<x.txt>","b":{"c":"<y>"},"i":[null,"<z>"],"l":["<p>","<q>"]}"#
        );
        for input in [
            "a=missing",
            "l={p,missing}",
            "l={missing,p}",
            "i[0]=missing",
        ] {
            assert_eq!(
                parse_into_file(input, &Map::new(), &read),
                Err("open missing: no such file or directory".to_owned()),
                "{input}"
            );
        }
    }
}
