//! Go's `encoding/json` for template values: `Marshal` / `MarshalIndent` / an `Encoder`
//! without HTML escaping, and `Unmarshal` into `interface{}` with Go's syntax error messages.

use std::collections::BTreeMap;

use super::DecodeError;
use super::resolve::{format_float_g, format_float_json};
use crate::funcs::sprig_misc::encoding::b64_encode;
use crate::value::{ListType, Map, Value};

/// Containers nested deeper than this are refused on both sides (Go allows 10000 when
/// reading; we stop earlier so that recursion stays well inside a thread's stack).
pub(crate) const MAX_DEPTH: usize = 1000;

/// How to print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonStyle {
    /// Escape `<`, `>`, `&` as `\u003c`… (`json.Marshal`; off for `toRawJson`).
    pub escape_html: bool,
    /// Indent with two spaces per level (`json.MarshalIndent(v, "", "  ")`).
    pub indent: bool,
}

/// Marshals `v`; errors read like Go's (`json: unsupported value: NaN`).
pub(crate) fn encode(v: &Value, style: JsonStyle) -> Result<String, String> {
    let mut enc = Encoder {
        out: String::new(),
        style,
        path: Vec::new(),
    };
    enc.value(v, 0)?;
    Ok(enc.out)
}

struct Encoder {
    out: String,
    style: JsonStyle,
    /// The maps being printed, for Go's cycle detection past depth 1000.
    path: Vec<Map>,
}

impl Encoder {
    fn newline(&mut self, depth: usize) {
        self.out.push('\n');
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn value(&mut self, v: &Value, depth: usize) -> Result<(), String> {
        match v {
            Value::Nil => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) | Value::Int64(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => {
                if !f.is_finite() {
                    return Err(format!(
                        "json: unsupported value: {}",
                        format_float_g(*f, false)
                    ));
                }
                self.out.push_str(&format_float_json(*f));
            }
            Value::String(s) => push_json_string(&mut self.out, s, self.style.escape_html),
            // `encoding/json` writes a `[]byte` as a base64 string.
            Value::List(items) if items.go_type() == ListType::Byte => {
                let text = b64_encode(&crate::gofmt::list_bytes(items));
                push_json_string(&mut self.out, &text, self.style.escape_html);
            }
            Value::List(items) => {
                if depth >= MAX_DEPTH {
                    return Err("json: unsupported value: exceeded max depth".into());
                }
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    if self.style.indent {
                        self.newline(depth + 1);
                    }
                    self.value(item, depth + 1)?;
                }
                if self.style.indent && !items.is_empty() {
                    self.newline(depth);
                }
                self.out.push(']');
            }
            Value::Map(m) => {
                if depth >= MAX_DEPTH || self.path.iter().any(|p| p.ptr_eq(m)) {
                    return Err(
                        "json: unsupported value: encountered a cycle via map[string]interface {}"
                            .into(),
                    );
                }
                self.path.push(m.clone());
                let result = m.with(|entries| self.entries(entries, depth));
                self.path.pop();
                result?;
            }
            Value::Object(o) => match o.to_data() {
                Some(data) => self.value(&data, depth + 1)?,
                None => self.out.push_str("{}"),
            },
        }
        Ok(())
    }

    fn entries(&mut self, entries: &BTreeMap<String, Value>, depth: usize) -> Result<(), String> {
        self.out.push('{');
        for (i, (k, item)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            if self.style.indent {
                self.newline(depth + 1);
            }
            push_json_string(&mut self.out, k, self.style.escape_html);
            self.out.push(':');
            if self.style.indent {
                self.out.push(' ');
            }
            self.value(item, depth + 1)?;
        }
        if self.style.indent && !entries.is_empty() {
            self.newline(depth);
        }
        self.out.push('}');
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// encoding/json's string quoting (Go 1.22+: `\b` and `\f` short forms; U+2028/U+2029
/// always escaped; `<`, `>`, `&` escaped when `escape_html`).
pub(crate) fn push_json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '\\' => Some("\\\\"),
            '"' => Some("\\\""),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '<' | '>' | '&' if escape_html => None,
            c if (c as u32) >= 0x20 && c != '\u{2028}' && c != '\u{2029}' => continue,
            _ => None,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let n = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(HEX[((n >> shift) & 0xF) as usize]));
                }
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Go's `quoteChar` for a byte in a syntax error: `'x'`, `'\n'`, `'\''`, `'"'`; a byte of
/// a multi-byte character shows as the Latin-1 character of that byte (a Go quirk).
pub(crate) fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        _ => {
            let mut s = String::from("'");
            go_quote_rune_into(&mut s, char::from(c));
            s.push('\'');
            s
        }
    }
}

/// The body of `strconv.Quote` for one rune (without the surrounding quotes).
pub(crate) fn go_quote_rune_into(out: &mut String, c: char) {
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        '"' => out.push_str("\\\""),
        c if go_is_print(c) => out.push(c),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// `strconv.Quote(s)`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        go_quote_rune_into(&mut out, c);
    }
    out.push('"');
    out
}

/// An approximation of `strconv.IsPrint`: graphic characters and the ASCII space.
fn go_is_print(c: char) -> bool {
    let n = c as u32;
    if n < 0x80 {
        return (0x20..0x7f).contains(&n);
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(n, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f)
        || matches!(n, 0x202a..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb)
        || (0xd800..=0xdfff).contains(&n)
        || (0xe000..=0xf8ff).contains(&n)
        || (0xf0000..).contains(&n)
        || n & 0xfffe == 0xfffe)
}

/// `json.Unmarshal` into `interface{}`: objects become maps, numbers float64.
pub(crate) fn decode(text: &str) -> Result<Value, DecodeError> {
    let mut p = Parser {
        b: text.as_bytes(),
        text,
        pos: 0,
    };
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos < p.b.len() {
        return Err(p.error("after top-level value"));
    }
    Ok(v)
}

/// The kind word Go uses for a decoded value in `cannot unmarshal X into …`.
pub(crate) fn json_kind(v: &Value) -> Option<&'static str> {
    match v {
        Value::Nil => None,
        Value::Bool(_) => Some("bool"),
        Value::Int(_) | Value::Int64(_) | Value::Float(_) => Some("number"),
        Value::String(_) => Some("string"),
        Value::List(_) => Some("array"),
        Value::Map(_) | Value::Object(_) => Some("object"),
    }
}

struct Parser<'a> {
    b: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.b.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn at(&self, message: String) -> DecodeError {
        let (line, column) = line_col(self.text, self.pos);
        DecodeError {
            message,
            line: Some(line),
            column: Some(column),
        }
    }

    /// `invalid character 'c' CONTEXT`, or `unexpected end of JSON input` at the end.
    fn error(&self, context: &str) -> DecodeError {
        match self.b.get(self.pos) {
            Some(&c) => self.at(format!("invalid character {} {context}", quote_char(c))),
            None => self.at("unexpected end of JSON input".into()),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        self.skip_ws();
        match self.b.get(self.pos) {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("exceeded max depth"));
                }
                self.pos += 1;
                self.object(depth)
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("exceeded max depth"));
                }
                self.pos += 1;
                self.array(depth)
            }
            Some(b'"') => {
                self.pos += 1;
                Ok(Value::from(self.string()?))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            _ => Err(self.error("looking for beginning of value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut entries = BTreeMap::new();
        self.skip_ws();
        if self.b.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Map(Map::from_btree(entries)));
        }
        loop {
            self.skip_ws();
            if self.b.get(self.pos) != Some(&b'"') {
                return Err(self.error("looking for beginning of object key string"));
            }
            self.pos += 1;
            let key = self.string()?;
            self.skip_ws();
            if self.b.get(self.pos) != Some(&b':') {
                return Err(self.error("after object key"));
            }
            self.pos += 1;
            let v = self.value(depth + 1)?;
            entries.insert(key, v);
            self.skip_ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(Map::from_btree(entries)));
                }
                _ => return Err(self.error("after object key:value pair")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.b.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::list(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::list(items));
                }
                _ => return Err(self.error("after array element")),
            }
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, DecodeError> {
        for (i, expected) in word.bytes().enumerate().skip(1) {
            self.pos += 1;
            if self.b.get(self.pos) != Some(&expected) {
                let context = format!(
                    "in literal {word} (expecting {})",
                    quote_char(word.as_bytes()[i])
                );
                return Err(self.error(&context));
            }
        }
        self.pos += 1;
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, DecodeError> {
        let start = self.pos;
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
            if !self.b.get(self.pos).is_some_and(u8::is_ascii_digit) {
                return Err(self.error("in numeric literal"));
            }
        }
        if self.b.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else {
            self.digits();
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("after decimal point in numeric literal"));
            }
        }
        if matches!(self.b.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.b.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("in exponent of numeric literal"));
            }
        }
        let literal = &self.text[start..self.pos];
        match literal.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(DecodeError {
                message: format!(
                    "json: cannot unmarshal number {literal} into Go value of type float64"
                ),
                line: None,
                column: None,
            }),
        }
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let mut n = 0;
        for _ in 0..4 {
            let d = match self.b.get(self.pos) {
                Some(c) if c.is_ascii_hexdigit() => char::from(*c).to_digit(16).unwrap_or(0),
                _ => return Err(self.error("in \\u hexadecimal character escape")),
            };
            n = n * 16 + d;
            self.pos += 1;
        }
        Ok(n)
    }

    /// The rest of a string after its opening quote.
    fn string(&mut self) -> Result<String, DecodeError> {
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            match self.b.get(self.pos) {
                None => return Err(self.error("")),
                Some(b'"') => {
                    out.push_str(&self.text[start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[start..self.pos]);
                    self.pos += 1;
                    let esc = match self.b.get(self.pos) {
                        Some(&c) => c,
                        None => return Err(self.error("")),
                    };
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let r = self.hex4()?;
                            out.push(self.finish_u_escape(r)?);
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("in string escape code"));
                        }
                    }
                    start = self.pos;
                }
                Some(&c) if c < 0x20 => return Err(self.error("in string literal")),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// A `\uXXXX` escape: a surrogate pairs with a following `\uXXXX` low surrogate, else
    /// becomes U+FFFD, as Go's `unquote` does.
    fn finish_u_escape(&mut self, r: u32) -> Result<char, DecodeError> {
        if (0xd800..0xdc00).contains(&r)
            && self.b.get(self.pos) == Some(&b'\\')
            && self.b.get(self.pos + 1) == Some(&b'u')
        {
            let save = self.pos;
            self.pos += 2;
            let r2 = self.hex4()?;
            if (0xdc00..0xe000).contains(&r2) {
                let c = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
                return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(r).unwrap_or('\u{fffd}'))
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for (i, c) in text.char_indices() {
        if i >= pos {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(text: &str) -> Value {
        decode(text).unwrap()
    }

    fn check_encode(v: Value, expect: &str) {
        let style = JsonStyle {
            escape_html: true,
            indent: false,
        };
        assert_eq!(encode(&v, style).as_deref(), Ok(expect));
    }

    #[test]
    fn marshal() {
        check_encode(Value::Nil, "null");
        check_encode(Value::Int(-3), "-3");
        check_encode(Value::Float(3.0), "3");
        check_encode(Value::Float(1e21), "1e+21");
        check_encode(Value::Float(1e-7), "1e-7");
        check_encode(Value::Float(0.1), "0.1");
        check_encode(Value::from("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        check_encode(
            Value::from("\u{8}\u{c}\n\r\t\u{1}"),
            r#""\b\f\n\r\t\u0001""#,
        );
        check_encode(Value::from("\u{2028}é"), "\"\\u2028é\"");
        check_encode(val(r#"{"b":[1,"x"],"a":{}}"#), r#"{"a":{},"b":[1,"x"]}"#);
        check_encode(Value::list(vec![]), "[]");
        let e = encode(
            &Value::Float(f64::NAN),
            JsonStyle {
                escape_html: true,
                indent: false,
            },
        );
        assert_eq!(e, Err("json: unsupported value: NaN".into()));
    }

    #[test]
    fn marshal_indent() {
        let v = val(r#"{"a":[1,2],"b":{},"c":[]}"#);
        let style = JsonStyle {
            escape_html: true,
            indent: true,
        };
        assert_eq!(
            encode(&v, style).unwrap(),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}"
        );
    }

    #[test]
    fn cycles_are_reported() {
        let m = Map::new();
        m.insert("self", Value::Map(m.clone()));
        let style = JsonStyle {
            escape_html: true,
            indent: false,
        };
        assert_eq!(
            encode(&Value::Map(m.clone()), style),
            Err("json: unsupported value: encountered a cycle via map[string]interface {}".into())
        );
        m.remove("self");
    }

    #[test]
    fn unmarshal_values() {
        assert_eq!(val(" 12 "), Value::Float(12.0));
        assert_eq!(val("-0.5e1"), Value::Float(-5.0));
        assert_eq!(val(r#""a\u00e9\ud83d\ude00\/""#), Value::from("aé😀/"));
        assert_eq!(val(r#""\ud800x""#), Value::from("\u{fffd}x"));
        assert_eq!(val("[true,false,null]").as_list().unwrap().len(), 3);
        assert_eq!(
            val(r#"{"a":1,"a":2}"#).as_map().unwrap().get("a"),
            Some(Value::Float(2.0))
        );
    }

    #[test]
    fn unmarshal_errors() {
        let cases = [
            ("", "unexpected end of JSON input"),
            ("  ", "unexpected end of JSON input"),
            ("x", "invalid character 'x' looking for beginning of value"),
            ("{", "unexpected end of JSON input"),
            (
                "{a",
                "invalid character 'a' looking for beginning of object key string",
            ),
            (r#"{"a" 1}"#, "invalid character '1' after object key"),
            (r#"{"a":1 "#, "unexpected end of JSON input"),
            (
                r#"{"a":1]"#,
                "invalid character ']' after object key:value pair",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            ("01", "invalid character '1' after top-level value"),
            ("1.", "unexpected end of JSON input"),
            (
                "1.x",
                "invalid character 'x' after decimal point in numeric literal",
            ),
            ("1e", "unexpected end of JSON input"),
            (
                "1ex",
                "invalid character 'x' in exponent of numeric literal",
            ),
            ("-x", "invalid character 'x' in numeric literal"),
            ("tru", "unexpected end of JSON input"),
            (
                "trux",
                "invalid character 'x' in literal true (expecting 'e')",
            ),
            ("nul", "unexpected end of JSON input"),
            (
                "fx",
                "invalid character 'x' in literal false (expecting 'a')",
            ),
            ("\"a\nb\"", "invalid character '\\n' in string literal"),
            (r#""\x""#, "invalid character 'x' in string escape code"),
            (
                r#""\u12x4""#,
                "invalid character 'x' in \\u hexadecimal character escape",
            ),
            (
                "'a'",
                "invalid character '\\'' looking for beginning of value",
            ),
            ("{} {}", "invalid character '{' after top-level value"),
            // Go quirk: the first byte of a multi-byte character, read as Latin-1.
            ("é", "invalid character 'Ã' looking for beginning of value"),
        ];
        for (input, expect) in cases {
            let err = decode(input).unwrap_err();
            assert_eq!(err.message, expect, "input {input:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(MAX_DEPTH + 1);
        let err = decode(&text).unwrap_err();
        assert_eq!(err.message, "invalid character '[' exceeded max depth");
    }

    #[test]
    fn quoting() {
        assert_eq!(
            go_quote("a\"b\\\n\u{1}é\u{7f}"),
            "\"a\\\"b\\\\\\n\\x01é\\x7f\""
        );
    }
}
