//! go-yaml's scalar resolution (YAML 1.1 as yaml.v2 does it, and yaml.v3's variant for
//! `toYamlPretty`), and the Go `strconv` number parsing and formatting it relies on.

use crate::funcs::convert::underscore_ok;

/// A scalar as go-yaml resolves it, before sigs.k8s.io/yaml turns it into JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(std::sync::Arc<str>),
}

/// The tag a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
    Timestamp,
    Merge,
}

impl Resolved {
    pub(crate) fn short_tag(self) -> &'static str {
        match self {
            Resolved::Null => "!!null",
            Resolved::Bool(_) => "!!bool",
            Resolved::Int(_) | Resolved::Uint(_) => "!!int",
            Resolved::Float(_) => "!!float",
            Resolved::Str => "!!str",
            Resolved::Timestamp => "!!timestamp",
            Resolved::Merge => "!!merge",
        }
    }
}

pub(crate) const TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// `shortTag`: `tag:yaml.org,2002:int` is printed `!!int`.
pub(crate) fn short_tag(tag: &str) -> String {
    match tag.strip_prefix(TAG_PREFIX) {
        Some(rest) => format!("!!{rest}"),
        None => tag.to_string(),
    }
}

/// yaml.v2's `resolve("", s)`: what an untagged plain scalar means.
pub(crate) fn resolve_v2(s: &str) -> Resolved {
    resolve_hinted(s, true)
}

fn resolve_hinted(s: &str, try_timestamp: bool) -> Resolved {
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Null;
    };
    let hint = match first {
        b'+' | b'-' => b'S',
        b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        b'<' => b'<',
        _ => return Resolved::Str,
    };
    if let Some(r) = resolve_map_v2(s) {
        return r;
    }
    match hint {
        b'.' => match parse_go_float(s) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        },
        b'D' | b'S' => {
            if try_timestamp && is_timestamp(s) {
                return Resolved::Timestamp;
            }
            resolve_number(s)
        }
        _ => Resolved::Str,
    }
}

/// The fixed words of yaml.v2's resolve table (YAML 1.1 booleans included).
fn resolve_map_v2(s: &str) -> Option<Resolved> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        "<<" => Resolved::Merge,
        _ => return None,
    })
}

/// The numeric branch of yaml.v2's resolve: underscores dropped, then `ParseInt(s, 0, 64)`,
/// `ParseUint`, a YAML-style float, and `0b` binary forms.
fn resolve_number(s: &str) -> Resolved {
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        return Resolved::Int(i);
    }
    if let Some(u) = parse_go_uint(&plain) {
        return Resolved::Uint(u);
    }
    if is_yaml_style_float(&plain)
        && let Some(f) = parse_go_float(&plain)
    {
        return Resolved::Float(f);
    }
    if let Some(bin) = plain.strip_prefix("0b") {
        if let Some(u) = parse_digits(bin, 2) {
            return match i64::try_from(u) {
                Ok(i) => Resolved::Int(i),
                Err(_) => Resolved::Uint(u),
            };
        }
    } else if let Some(bin) = plain.strip_prefix("-0b")
        && let Some(u) = parse_digits(bin, 2)
        && u <= 1u64 << 63
    {
        return Resolved::Int((u as i64).wrapping_neg());
    }
    Resolved::Str
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Digits of `radix` with no sign, prefix or underscore; `None` on overflow.
fn parse_digits(s: &str, radix: u32) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in s.chars() {
        let d = c.to_digit(radix)?;
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// `strconv.ParseUint(s, 0, 64)` for strings without underscores.
pub(crate) fn parse_go_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b[0] == b'0' {
        if b.len() >= 3 {
            match b[1] {
                b'b' | b'B' => return parse_digits(&s[2..], 2),
                b'o' | b'O' => return parse_digits(&s[2..], 8),
                b'x' | b'X' => return parse_digits(&s[2..], 16),
                _ => {}
            }
        }
        // A leading 0 means octal; "0" alone is zero.
        let rest = &s[1..];
        if rest.is_empty() {
            return Some(0);
        }
        return parse_digits(rest, 8);
    }
    parse_digits(s, 10)
}

/// `strconv.ParseInt(s, 0, 64)` for strings without underscores.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_go_uint(body)?;
    if neg {
        if u > 1u64 << 63 {
            None
        } else {
            Some((u as i64).wrapping_neg())
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// `strconv.ParseFloat(s, 64)` for decimal forms: `None` for syntax errors and for values out
/// of range (Go returns ±Inf with an error there). `inf`/`nan` words are accepted as Go does.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['+', '-']);
    if s.len() - body.len() > 1 {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    let cleaned;
    let text = if s.contains('_') {
        if !underscore_ok(s) {
            return None;
        }
        cleaned = s.replace('_', "");
        cleaned.as_str()
    } else {
        s
    };
    // Only decimal syntax: digits, one dot, an exponent.
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut mantissa_digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        mantissa_digits += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let f: f64 = text.parse().ok()?;
    if f.is_infinite() { None } else { Some(f) }
}

/// yaml.v2's `parseTimestamp`: `YYYY-` then one of the layouts
/// `2006-1-2T15:4:5.999999999Z07:00` (or with `t`), `2006-1-2 15:4:5.999999999`, `2006-1-2`,
/// as Go's `time.Parse` accepts them (ranges checked, day within the month).
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    // The date part, shared by all layouts.
    let year = b[..4]
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    let mut i = 5;
    let Some(month) = getnum(b, &mut i) else {
        return false;
    };
    if b.get(i) != Some(&b'-') {
        return false;
    }
    i += 1;
    let Some(day) = getnum(b, &mut i) else {
        return false;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return false;
    }
    if i == b.len() {
        return true;
    }
    // Layout 1/2: `T`/`t`; layout 3: one or more spaces.
    let with_zone = match b[i] {
        b'T' | b't' => {
            i += 1;
            true
        }
        b' ' => {
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            false
        }
        _ => return false,
    };
    let Some(hour) = getnum(b, &mut i) else {
        return false;
    };
    if hour >= 24 || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    let Some(min) = getnum(b, &mut i) else {
        return false;
    };
    if min >= 60 || b.get(i) != Some(&b':') {
        return false;
    }
    i += 1;
    let Some(sec) = getnum(b, &mut i) else {
        return false;
    };
    if sec >= 60 {
        return false;
    }
    // Optional fraction: `.` or `,` then digits.
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if !with_zone {
        return i == b.len();
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let z = &b[i..];
            z.len() == 6
                && z[1].is_ascii_digit()
                && z[2].is_ascii_digit()
                && z[3] == b':'
                && z[4].is_ascii_digit()
                && z[5].is_ascii_digit()
                && (z[1] - b'0') * 10 + (z[2] - b'0') <= 24
                && (z[4] - b'0') * 10 + (z[5] - b'0') <= 60
        }
        _ => false,
    }
}

/// Go's `getnum(s, false)`: one or two digits.
fn getnum(b: &[u8], i: &mut usize) -> Option<i64> {
    let d0 = *b.get(*i).filter(|c| c.is_ascii_digit())?;
    *i += 1;
    match b.get(*i).filter(|c| c.is_ascii_digit()) {
        Some(&d1) => {
            *i += 1;
            Some(i64::from(d0 - b'0') * 10 + i64::from(d1 - b'0'))
        }
        None => Some(i64::from(d0 - b'0')),
    }
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// yaml.v2's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
pub(crate) fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(&c) = b.first() else { return false };
    if !(c == b'+' || c == b'-' || c.is_ascii_digit()) || !s.contains(':') {
        return false;
    }
    let mut i = usize::from(c == b'+' || c == b'-');
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        // [0-5]?[0-9]
        let d1 = b.get(i).filter(|c| c.is_ascii_digit());
        let d2 = b.get(i + 1).filter(|c| c.is_ascii_digit());
        match (d1, d2) {
            (Some(&a), Some(_)) if a <= b'5' => i += 2,
            (Some(_), _) => i += 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// yaml.v3's `resolve("", s)` reduced to the question the encoder asks: does this plain
/// scalar read back as something other than a string? (YAML 1.2 booleans, `0o` octal, no
/// sexagesimal; yaml.v3 still quotes the YAML 1.1 words via [`is_old_bool`].)
pub(crate) fn resolves_to_non_string_v3(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return true;
    };
    let hint = match first {
        b'+' | b'-' => b'S',
        b'0'..=b'9' => b'D',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => b'M',
        b'.' => b'.',
        b'<' => b'<',
        _ => return false,
    };
    if matches!(
        s,
        "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "~"
            | "null"
            | "Null"
            | "NULL"
            | ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | "<<"
    ) {
        return true;
    }
    match hint {
        b'.' => parse_go_float(s).is_some(),
        b'D' | b'S' => {
            if is_timestamp(s) {
                return true;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if parse_go_int(&plain).is_some() || parse_go_uint(&plain).is_some() {
                return true;
            }
            if is_yaml_style_float(&plain) && parse_go_float(&plain).is_some() {
                return true;
            }
            if let Some(rest) = plain
                .strip_prefix("0o")
                .or_else(|| plain.strip_prefix("-0o"))
            {
                return parse_digits(rest, 8).is_some();
            }
            if let Some(rest) = plain
                .strip_prefix("0b")
                .or_else(|| plain.strip_prefix("-0b"))
            {
                return parse_digits(rest, 2).is_some();
            }
            false
        }
        _ => false,
    }
}

/// yaml.v3's `isOldBool`: YAML 1.1 booleans it still quotes on output.
pub(crate) fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "on"
            | "On"
            | "ON"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// Shortest round-trip digits of `f` (finite, non-negative) and the decimal point position:
/// `f = 0.DIGITS × 10^dp`.
fn shortest(f: f64, bits32: bool) -> (String, i32) {
    let s = if bits32 {
        format!("{:e}", f as f32)
    } else {
        format!("{f:e}")
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if digits.bytes().all(|d| d == b'0') {
        return ("0".into(), 1);
    }
    (digits, exp + 1)
}

fn push_fixed(out: &mut String, digits: &str, dp: i32) {
    let n = digits.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        for _ in 0..-dp {
            out.push('0');
        }
        out.push_str(digits);
    } else if dp >= n {
        out.push_str(digits);
        for _ in 0..dp - n {
            out.push('0');
        }
    } else {
        let (a, b) = digits.split_at(dp as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    }
}

fn push_exp(out: &mut String, digits: &str, dp: i32, min_exp_digits: usize) {
    let (first, rest) = digits.split_at(1);
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    let e = dp - 1;
    out.push('e');
    out.push(if e < 0 { '-' } else { '+' });
    let mag = e.unsigned_abs().to_string();
    for _ in mag.len()..min_exp_digits {
        out.push('0');
    }
    out.push_str(&mag);
}

/// `strconv.FormatFloat(f, 'g', -1, 64 or 32)`.
pub(crate) fn format_float_g(f: f64, bits32: bool) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    let (digits, dp) = shortest(f.abs(), bits32);
    let exp = dp - 1;
    // Shortest formatting decides between %e and %f with a precision of 6.
    if !(-4..6).contains(&exp) {
        push_exp(&mut out, &digits, dp, 2);
    } else {
        push_fixed(&mut out, &digits, dp);
    }
    out
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn format_float_f(f: f64) -> String {
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    let (digits, dp) = shortest(f.abs(), false);
    push_fixed(&mut out, &digits, dp);
    out
}

/// encoding/json's float64 text: `'f'` form, or `'e'` when the magnitude is below 1e-6 or at
/// least 1e21, with a two-digit negative exponent trimmed (`1e-07` → `1e-7`). Finite only.
pub(crate) fn format_float_json(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut out = String::new();
        if f.is_sign_negative() {
            out.push('-');
        }
        let (digits, dp) = shortest(abs, false);
        push_exp(&mut out, &digits, dp, 2);
        let n = out.len();
        let b = out.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            out.remove(n - 2);
        }
        out
    } else {
        format_float_f(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Resolved) {
        let got = resolve_v2(input);
        match (got, expect) {
            (Resolved::Float(a), Resolved::Float(b)) if a.is_nan() && b.is_nan() => {}
            _ => assert_eq!(got, expect, "resolve({input:?})"),
        }
    }

    #[test]
    fn yaml_v2_resolution() {
        use Resolved::*;
        let cases: &[(&str, Resolved)] = &[
            ("", Null),
            ("~", Null),
            ("null", Null),
            ("NULL", Null),
            ("nULL", Str),
            ("yes", Bool(true)),
            ("Yes", Bool(true)),
            ("yEs", Str),
            ("y", Bool(true)),
            ("n", Bool(false)),
            ("on", Bool(true)),
            ("OFF", Bool(false)),
            ("true", Bool(true)),
            ("False", Bool(false)),
            ("12", Int(12)),
            ("+12", Int(12)),
            ("-12", Int(-12)),
            ("1_000", Int(1000)),
            // Go quirk: a leading 0 is octal (ParseInt base 0).
            ("0755", Int(493)),
            // Go quirk: invalid octal falls through to the float regexp.
            ("08", Float(8.0)),
            ("0x1F", Int(31)),
            ("0o17", Int(15)),
            ("0b101", Int(5)),
            ("-0b101", Int(-5)),
            ("9223372036854775807", Int(i64::MAX)),
            ("9223372036854775808", Uint(9_223_372_036_854_775_808)),
            ("18446744073709551616", Float(18_446_744_073_709_551_616.0)),
            ("1.5", Float(1.5)),
            ("1.", Float(1.0)),
            (".5", Float(0.5)),
            ("+.5", Float(0.5)),
            ("1e3", Float(1000.0)),
            ("1E3", Float(1000.0)),
            ("1e400", Str),
            (".inf", Float(f64::INFINITY)),
            ("-.Inf", Float(f64::NEG_INFINITY)),
            (".nan", Float(f64::NAN)),
            (".", Str),
            ("1:30", Str),
            ("2001-12-14", Timestamp),
            ("2001-12-14t21:59:43.10-05:00", Timestamp),
            ("2001-12-14T21:59:43Z", Timestamp),
            ("2001-12-14 21:59:43.10", Timestamp),
            ("2001-02-29", Str),
            ("2000-02-29", Timestamp),
            ("2001-13-01", Str),
            ("2001-1-2", Timestamp),
            ("<<", Merge),
            ("<", Str),
            ("_1", Str),
            ("0x", Str),
            ("-", Str),
            ("1.2.3", Str),
            ("abc", Str),
        ];
        for (input, expect) in cases {
            check(input, *expect);
        }
    }

    #[test]
    fn base60() {
        let cases = [
            ("1:30", true),
            ("190:20:30.15", true),
            ("-1:60", false),
            ("1:5", true),
            ("1:", false),
            ("a:1", false),
            ("12", false),
        ];
        for (input, expect) in cases {
            assert_eq!(is_base60_float(input), expect, "{input}");
        }
    }

    #[test]
    fn float_formats() {
        let g = [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (12345678.9, "1.23456789e+07"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (0.0, "0"),
            (1e21, "1e+21"),
        ];
        for (f, expect) in g {
            assert_eq!(format_float_g(f, false), expect, "{f}");
        }
        assert_eq!(format_float_g(std::f64::consts::PI, true), "3.1415927");
        let json = [
            (1.0, "1"),
            (1e6, "1000000"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (0.000001, "0.000001"),
            (-0.0, "-0"),
            (123.456, "123.456"),
        ];
        for (f, expect) in json {
            assert_eq!(format_float_json(f), expect, "{f}");
        }
        assert_eq!(format_float_f(1e21), "1000000000000000000000");
    }
}
