//! Sprig's string functions: `trim`, `upper`, `quote`, `indent`, `replace`, `trunc`, `split`, ….
//!
//! Each is registered with its Go signature and computes what Sprig v3.3.0 (the version Helm
//! 3.17 vendors, with `Masterminds/goutils` v1.1.1 and `huandu/xstrings` v1.5.0) computes,
//! quirks included: Go's one-rune case mappings, byte-wise slicing in `trunc`, `substr`,
//! `abbrev` and `wrap`, and goutils' byte-as-Latin-1 handling in `nospace` and `initials`.
//!
//! Byte-wise slicing can cut a multi-byte character, which Go prints as the raw bytes; a Rust
//! string cannot hold them, so a cut character becomes U+FFFD here.

mod goutils;
mod xstrings;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use super::convert::strval;
use super::{Context, Func, FuncError, FuncMap, Ty};
use crate::gofmt::{self, unicode};
use crate::value::{ListType, Map, MapType, Value};

pub fn register(map: &mut FuncMap) {
    use Ty::{Any, Int, String as Str};

    map.insert(
        "abbrev",
        pure(&[Int, Str], |a| s(abbrev(int(a, 0), str(a, 1)))),
    );
    map.insert(
        "abbrevboth",
        pure(&[Int, Int, Str], |a| {
            s(abbrevboth(int(a, 0), int(a, 1), str(a, 2)))
        }),
    );
    map.insert(
        "trunc",
        pure(&[Int, Str], |a| s(trunc(int(a, 0), str(a, 1)))),
    );
    map.insert("trim", pure(&[Str], |a| s(str(a, 0).trim())));
    map.insert(
        "upper",
        pure(&[Str], |a| s(unicode::str_to_upper(str(a, 0)))),
    );
    map.insert(
        "lower",
        pure(&[Str], |a| s(unicode::str_to_lower(str(a, 0)))),
    );
    map.insert("title", pure(&[Str], |a| s(title(str(a, 0)))));
    map.insert(
        "untitle",
        pure(&[Str], |a| s(goutils::uncapitalize(str(a, 0)))),
    );
    map.insert(
        "substr",
        Func::pure(&[Int, Int, Str], None, |a| {
            substring(int(a, 0), int(a, 1), str(a, 2)).map(s)
        }),
    );
    map.insert(
        "repeat",
        Func::new(&[Int, Str], None, |ctx, a| {
            repeat(str(a, 1), int(a, 0), ctx.max_result_bytes()).map(s)
        }),
    );
    for name in ["trimAll", "trimall"] {
        map.insert(
            name,
            pure(&[Str, Str], |a| {
                let cutset = str(a, 0);
                s(str(a, 1).trim_matches(|c| cutset.contains(c)))
            }),
        );
    }
    map.insert(
        "trimSuffix",
        pure(&[Str, Str], |a| {
            let (suffix, v) = (str(a, 0), str(a, 1));
            s(v.strip_suffix(suffix).unwrap_or(v))
        }),
    );
    map.insert(
        "trimPrefix",
        pure(&[Str, Str], |a| {
            let (prefix, v) = (str(a, 0), str(a, 1));
            s(v.strip_prefix(prefix).unwrap_or(v))
        }),
    );
    map.insert(
        "nospace",
        pure(&[Str], |a| s(goutils::delete_white_space(str(a, 0)))),
    );
    map.insert(
        "initials",
        pure(&[Str], |a| s(goutils::initials(str(a, 0)))),
    );
    map.insert("randAlphaNum", random_string(ALPHANUMERIC));
    map.insert("randAlpha", random_string(ALPHABETIC));
    map.insert("randNumeric", random_string(NUMERIC));
    map.insert("randAscii", random_string(ASCII));
    map.insert(
        "swapcase",
        pure(&[Str], |a| s(goutils::swap_case(str(a, 0)))),
    );
    map.insert(
        "shuffle",
        Func::new(&[Str], None, |ctx, a| Ok(s(shuffle(ctx, str(a, 0))))),
    );
    map.insert(
        "snakecase",
        pure(&[Str], |a| s(xstrings::to_snake_case(str(a, 0)))),
    );
    map.insert(
        "camelcase",
        pure(&[Str], |a| s(xstrings::to_pascal_case(str(a, 0)))),
    );
    map.insert(
        "kebabcase",
        pure(&[Str], |a| s(xstrings::to_kebab_case(str(a, 0)))),
    );
    map.insert(
        "wrap",
        pure(&[Int, Str], |a| {
            s(goutils::wrap_custom(str(a, 1), int(a, 0), "", false))
        }),
    );
    map.insert(
        "wrapWith",
        pure(&[Int, Str, Str], |a| {
            s(goutils::wrap_custom(str(a, 2), int(a, 0), str(a, 1), true))
        }),
    );
    map.insert(
        "contains",
        pure(&[Str, Str], |a| Value::Bool(str(a, 1).contains(str(a, 0)))),
    );
    map.insert(
        "hasPrefix",
        pure(&[Str, Str], |a| {
            Value::Bool(str(a, 1).starts_with(str(a, 0)))
        }),
    );
    map.insert(
        "hasSuffix",
        pure(&[Str, Str], |a| Value::Bool(str(a, 1).ends_with(str(a, 0)))),
    );
    map.insert("quote", Func::pure(&[], Some(Any), |a| Ok(s(quote(a)))));
    map.insert("squote", Func::pure(&[], Some(Any), |a| Ok(s(squote(a)))));
    map.insert("cat", Func::pure(&[], Some(Any), |a| Ok(s(cat(a)))));
    map.insert(
        "indent",
        Func::new(&[Int, Str], None, |ctx, a| {
            indent(int(a, 0), str(a, 1), ctx.max_result_bytes()).map(s)
        }),
    );
    map.insert(
        "nindent",
        Func::new(&[Int, Str], None, |ctx, a| {
            indent(int(a, 0), str(a, 1), ctx.max_result_bytes()).map(|v| s(format!("\n{v}")))
        }),
    );
    map.insert(
        "replace",
        pure(&[Str, Str, Str], |a| {
            s(str(a, 2).replace(str(a, 0), str(a, 1)))
        }),
    );
    map.insert(
        "plural",
        pure(&[Str, Str, Int], |a| {
            a[if int(a, 2) == 1 { 0 } else { 1 }].clone()
        }),
    );
    map.insert("toString", pure(&[Any], |a| s(strval(&a[0]))));
    map.insert("toStrings", pure(&[Any], |a| string_list(strslice(&a[0]))));
    map.insert(
        "split",
        pure(&[Str, Str], |a| {
            indexed_map(split_n(str(a, 1), str(a, 0), -1))
        }),
    );
    map.insert(
        "splitList",
        pure(&[Str, Str], |a| {
            string_list(split_n(str(a, 1), str(a, 0), -1))
        }),
    );
    map.insert(
        "splitn",
        pure(&[Str, Int, Str], |a| {
            indexed_map(split_n(str(a, 2), str(a, 0), int(a, 1)))
        }),
    );
    map.insert(
        "join",
        pure(&[Str, Any], |a| s(strslice(&a[1]).join(str(a, 0)))),
    );
    map.insert(
        "sortAlpha",
        pure(&[Any], |a| string_list(sort_alpha(&a[0]))),
    );
}

// ----- argument and result helpers -----

/// A function that cannot fail.
fn pure(params: &[Ty], call: impl Fn(&[Value]) -> Value + Send + Sync + 'static) -> Func {
    Func::pure(params, None, move |a| Ok(call(a)))
}

/// A `string` argument (the executor has already checked its type).
fn str(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

/// An `int` argument (the executor has already checked its type).
fn int(args: &[Value], i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

fn s(v: impl Into<std::sync::Arc<str>>) -> Value {
    Value::String(v.into())
}

/// A Go `[]string` result.
/// A `[]string`.
fn string_list(items: Vec<String>) -> Value {
    Value::typed_list(
        items.into_iter().map(Value::from).collect(),
        ListType::String,
    )
}

/// Sprig's `map[string]string` of split parts, keyed `_0`, `_1`, …: a map of that Go type, so
/// that `%T` and `typeOf` print it as Go does.
fn indexed_map(parts: Vec<String>) -> Value {
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| (format!("_{i}"), Value::from(part)))
        .collect();
    Value::Map(Map::from_btree(entries).with_go_type(MapType::STRING_TO_STRING))
}

/// `s[from..to]` of bytes, as Go slices a string; a cut character becomes U+FFFD.
fn byte_slice(s: &str, from: usize, to: usize) -> String {
    match s.get(from..to) {
        Some(part) => part.to_string(),
        None => {
            String::from_utf8_lossy(s.as_bytes().get(from..to).unwrap_or_default()).into_owned()
        }
    }
}

// ----- the functions -----

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 {
        return s.to_string();
    }
    goutils::abbreviate_full(s, 0, width).unwrap_or_default()
}

fn abbrevboth(left: i64, right: i64, s: &str) -> String {
    if right < 4 || left > 0 && right < 7 {
        return s.to_string();
    }
    goutils::abbreviate_full(s, left, right).unwrap_or_default()
}

/// `trunc`: the first `c` bytes, or the last `-c` bytes when `c` is negative.
fn trunc(c: i64, s: &str) -> String {
    let len = s.len() as i64;
    if c < 0 && len.saturating_add(c) > 0 {
        return byte_slice(s, (len + c) as usize, s.len());
    }
    if c >= 0 && len > c {
        return byte_slice(s, 0, c as usize);
    }
    s.to_string()
}

/// `substr`: Go's byte slicing, with the runtime's errors where Go's slicing panics.
fn substring(start: i64, end: i64, s: &str) -> Result<String, FuncError> {
    let len = s.len() as i64;
    let out_of_range = |msg: String| FuncError::new(format!("runtime error: {msg}"));
    if start < 0 {
        // s[:end]
        if end < 0 {
            return Err(out_of_range(format!("slice bounds out of range [:{end}]")));
        }
        if end > len {
            return Err(out_of_range(format!(
                "slice bounds out of range [:{end}] with length {len}"
            )));
        }
        return Ok(byte_slice(s, 0, end as usize));
    }
    if end < 0 || end > len {
        // s[start:]
        if start > len {
            return Err(out_of_range(format!(
                "slice bounds out of range [{start}:{len}]"
            )));
        }
        return Ok(byte_slice(s, start as usize, s.len()));
    }
    if start > end {
        return Err(out_of_range(format!(
            "slice bounds out of range [{start}:{end}]"
        )));
    }
    Ok(byte_slice(s, start as usize, end as usize))
}

/// `strings.Repeat`, with its panics as errors.
/// `strings.Repeat`, with Go's panics as errors; a result longer than `max` bytes (the
/// execution's output limit) is an error before anything is allocated.
fn repeat(s: &str, count: i64, max: usize) -> Result<String, FuncError> {
    if count < 0 {
        return Err(FuncError::new("strings: negative Repeat count"));
    }
    let total = (s.len() as u128) * (count as u128);
    if total > i64::MAX as u128 {
        return Err(FuncError::new("strings: Repeat output length overflow"));
    }
    if total > max as u128 {
        return Err(too_large(total, max));
    }
    Ok(s.repeat(count as usize))
}

fn too_large(bytes: impl std::fmt::Display, max: usize) -> FuncError {
    FuncError::new(format!(
        "result of {bytes} bytes is larger than the maximum output size ({max} bytes)"
    ))
}

/// `indent`: `spaces` spaces before every line.
fn indent(spaces: i64, v: &str, max: usize) -> Result<String, FuncError> {
    let pad = repeat(" ", spaces, max)?;
    let lines = v.bytes().filter(|&b| b == b'\n').count() + 1;
    let total = (lines as u128) * (pad.len() as u128) + v.len() as u128;
    if total > max as u128 {
        return Err(too_large(total, max));
    }
    let mut out = String::with_capacity(total as usize);
    for (i, line) in v.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    Ok(out)
}

/// Go's deprecated `strings.Title`: the first letter of each word to title case, where a word
/// starts after anything but a letter, a digit or an underscore (Unicode spaces and ASCII
/// non-alphanumerics separate words; other symbols do not).
fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if unicode::is_letter(c) || unicode::is_digit(c) {
            return false;
        }
        unicode::is_space(c)
    }
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) {
                unicode::to_title(c)
            } else {
                c
            };
            prev = c;
            out
        })
        .collect()
}

/// `quote`: each non-nil operand as `%q` of its string form, separated by spaces.
fn quote(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().filter(|a| !a.is_nil()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match arg {
            Value::String(v) => gofmt::append_quote(&mut out, v, false),
            other => gofmt::append_quote(&mut out, &strval(other), false),
        }
    }
    out
}

/// `squote`: each non-nil operand as `'%v'`, separated by spaces.
fn squote(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().filter(|a| !a.is_nil()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('\'');
        gofmt::write_value(&mut out, arg);
        out.push('\'');
    }
    out
}

/// `cat`: the non-nil operands printed with `%v`, separated by spaces.
fn cat(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().filter(|a| !a.is_nil()).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        gofmt::write_value(&mut out, arg);
    }
    out
}

/// Sprig's `strslice`: a list's non-nil elements as strings; nil is no strings; anything
/// else is one string.
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(items) => items
            .iter()
            .filter(|item| !item.is_nil())
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

/// `sortAlpha`: a list's strings sorted by bytes; anything else as one string (nil included:
/// `[<nil>]`).
fn sort_alpha(v: &Value) -> Vec<String> {
    match v {
        Value::List(_) => {
            let mut items = strslice(v);
            items.sort_unstable();
            items
        }
        other => vec![strval(other)],
    }
}

/// `strings.SplitN(s, sep, n)`: at most `n` parts (all when negative, none when zero); an
/// empty separator splits after each character.
fn split_n(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if sep.is_empty() {
        let mut parts: Vec<String> = Vec::new();
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if parts.len() + 1 == limit {
                break;
            }
            parts.push(c.to_string());
            rest = &rest[c.len_utf8()..];
        }
        if !rest.is_empty() {
            parts.push(rest.to_string());
        }
        return parts;
    }
    s.splitn(limit, sep).map(str::to_string).collect()
}

/// The characters of goutils' `CryptoRandom` for each `rand*` function.
const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALPHABETIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NUMERIC: &[u8] = b"0123456789";
const ASCII: &[u8] = b" !\"#$%&'()*+,-./0123456789:;<=>?@\
ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

/// `randAlphaNum`, `randAlpha`, `randNumeric`, `randAscii`: `count` characters drawn from the
/// render's seeded generator (Go draws from crypto/rand; the lengths and alphabets match).
fn random_string(alphabet: &'static [u8]) -> Func {
    Func::new(&[Ty::Int], None, move |ctx, a| {
        let count = int(a, 0);
        if count <= 0 {
            return Ok(s(""));
        }
        let max = ctx.max_result_bytes();
        if count as u64 > max as u64 {
            return Err(too_large(count, max));
        }
        let out: String = (0..count)
            .map(|_| char::from(alphabet[random_below(ctx, alphabet.len())]))
            .collect();
        Ok(s(out))
    })
}

/// A uniform index below `n` (Lemire's multiply-shift).
fn random_below(ctx: &mut dyn Context, n: usize) -> usize {
    ((u128::from(ctx.random_u64()) * n as u128) >> 64) as usize
}

/// `shuffle` (xstrings.Shuffle): the characters in a random order (Fisher-Yates).
fn shuffle(ctx: &mut dyn Context, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for i in (1..chars.len()).rev() {
        let j = random_below(ctx, i + 1);
        chars.swap(i, j);
    }
    chars.into_iter().collect()
}
