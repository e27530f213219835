//! A small `encoding/json` decoder into template values (objects become maps, numbers
//! float64), able to decode one value from the front of a longer text as `json.Decoder` does
//! for `--set-json`, and a canonical text form of values used for digests and tests.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use gotemplate::{Map, Value};

/// Nesting accepted before giving up (Go allows 10000; this stays well inside a thread stack).
const MAX_NESTING: usize = 1000;

/// Decodes the first JSON value of `text` (after white space). Returns the value and the
/// byte offset just after it (`Decoder.InputOffset`).
pub fn decode_prefix(text: &str) -> Result<(Value, usize), String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    if p.i >= p.s.len() {
        return Err("EOF".into());
    }
    let v = p.value()?;
    Ok((v, p.i))
}

/// Decodes a whole JSON document (white space around it allowed).
pub fn decode(text: &str) -> Result<Value, String> {
    let (v, end) = decode_prefix(text)?;
    let rest = &text[end..];
    match rest
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .chars()
        .next()
    {
        None => Ok(v),
        Some(c) => Err(format!(
            "invalid character {} after top-level value",
            quote_char(c)
        )),
    }
}

fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        c if c.is_control() => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn err_here(&self, context: &str) -> String {
        match std::str::from_utf8(&self.s[self.i..])
            .ok()
            .and_then(|r| r.chars().next())
        {
            Some(c) => format!("invalid character {} {context}", quote_char(c)),
            None => "unexpected end of JSON input".into(),
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err("unexpected end of JSON input".into());
        };
        match c {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => Ok(Value::from(self.string()?)),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Nil),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.err_here("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for (k, b) in word.bytes().enumerate() {
            if self.s.get(self.i + k) != Some(&b) {
                self.i += k;
                return Err(
                    self.err_here(&format!("in literal {word} (expecting '{}')", b as char))
                );
            }
        }
        self.i += word.len();
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(self.err_here("in numeric literal")),
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.err_here("after decimal point in numeric literal"));
            }
            while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.err_here("in exponent of numeric literal"));
            }
            while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(format!(
                "json: cannot unmarshal number {text} into Go value of type float64"
            )),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        // At the opening quote.
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err("unexpected end of JSON input".into());
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    let Some(&e) = self.s.get(self.i + 1) else {
                        return Err("unexpected end of JSON input".into());
                    };
                    self.i += 2;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4()?;
                            let ch = if (0xD800..0xDC00).contains(&cp) {
                                // A surrogate pair, when the low half follows.
                                if self.s.get(self.i) == Some(&b'\\')
                                    && self.s.get(self.i + 1) == Some(&b'u')
                                {
                                    let save = self.i;
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if (0xDC00..0xE000).contains(&lo) {
                                        char::from_u32(
                                            0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00),
                                        )
                                    } else {
                                        self.i = save;
                                        None
                                    }
                                } else {
                                    None
                                }
                            } else {
                                char::from_u32(cp)
                            };
                            let ch = ch.unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err_here("in string escape code"));
                        }
                    }
                }
                c if c < 0x20 => return Err(self.err_here("in string literal")),
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(&c) = self.s.get(self.i) else {
                return Err("unexpected end of JSON input".into());
            };
            let d = (c as char)
                .to_digit(16)
                .ok_or_else(|| self.err_here("in \\u hexadecimal character escape"))?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err("exceeded max depth".into());
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Value, String> {
        self.enter()?;
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::list(items));
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Value::list(items));
                }
                _ => return Err(self.err_here("after array element")),
            }
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.enter()?;
        self.i += 1;
        let mut map = BTreeMap::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::Map(Map::from_btree(map)));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.err_here("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.err_here("after object key"));
            }
            self.i += 1;
            let v = self.value()?;
            map.insert(key, v);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Value::Map(Map::from_btree(map)));
                }
                _ => return Err(self.err_here("after object key:value pair")),
            }
        }
    }
}

/// A canonical, type-exact text of a value: maps with sorted keys, ints bare (`3`), floats
/// marked (`3f`), strings quoted. Equal texts mean equal data; used for digests and tests.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out, 0);
    out
}

fn write_canonical(v: &Value, out: &mut String, depth: usize) {
    if depth > MAX_NESTING {
        out.push('…');
        return;
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f}f");
        }
        Value::String(s) => {
            let _ = write!(out, "{:?}", &**s);
        }
        Value::List(items) => {
            out.push('[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_canonical(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            m.with(|entries| {
                for (k, (key, item)) in entries.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{key:?}:");
                    write_canonical(item, out, depth + 1);
                }
            });
            out.push('}');
        }
        Value::Object(o) => {
            let _ = write!(out, "<{}>", o.type_name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str, end: usize) {
        let (v, n) = decode_prefix(input).unwrap();
        assert_eq!(canonical(&v), expect, "{input}");
        assert_eq!(n, end, "{input}");
    }

    #[test]
    fn decodes_a_prefix() {
        check("1,b=2", "1f", 1);
        check(" \"a\\u00e9\\n\"x", "\"aé\\n\"", 12);
        check(
            "{\"b\":[1,true,null],\"a\":{}}",
            "{\"a\":{},\"b\":[1f,true,null]}",
            26,
        );
        check("[]", "[]", 2);
        check("-0.5e1", "-5f", 6);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(decode_prefix(&deep).unwrap_err(), "exceeded max depth");
    }

    #[test]
    fn rejects_bad_json() {
        assert!(decode_prefix("{\"a\":1").is_err());
        assert!(decode_prefix("tru").is_err());
        assert!(decode_prefix("").is_err());
        assert!(decode("1 2").is_err());
        assert_eq!(
            decode_prefix("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
    }
}
