//! Conversions Sprig applies to loosely typed arguments: `strval` (to string) and
//! `spf13/cast`'s `ToInt64`, `ToFloat64`, `ToBool` (to numbers, zero on failure).

use crate::gofmt;
use crate::value::{ListType, Value};

/// Sprig's `strval`: strings as they are, everything else as `%v` prints it.
pub fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        // `case []byte: return string(v)`.
        Value::List(l) if l.go_type() == ListType::Byte => {
            String::from_utf8_lossy(&gofmt::list_bytes(l)).into_owned()
        }
        other => gofmt::format_value(other),
    }
}

/// `cast.ToInt64`: floats truncate (NaN and out-of-range values give `i64::MIN`, as on
/// amd64), bools are 0/1, strings parse with Go's base prefixes
/// (`0x`, `0o`, `0b`, a leading `0` for octal, `_` separators) after trailing `.0…` is
/// trimmed; anything else, or a failed parse, is 0.
pub fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i,
        // Go's float64 to int64 conversion on amd64 (where Helm runs): NaN and values out of
        // range give the "integer indefinite" MinInt64, where Rust's `as` would saturate.
        Value::Float(f) => {
            if f.is_nan() || !(i64::MIN as f64..-(i64::MIN as f64)).contains(f) {
                i64::MIN
            } else {
                *f as i64
            }
        }
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_go_int(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64`: strings parse as Go's `strconv.ParseFloat`; failures are 0.
pub fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) | Value::Int64(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(true) => 1.0,
        Value::Bool(false) => 0.0,
        Value::String(s) => parse_go_float(s).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `cast.ToBool`: strings as `strconv.ParseBool`, numbers are true when non-zero.
pub fn to_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Int(i) | Value::Int64(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => matches!(&**s, "1" | "t" | "T" | "TRUE" | "true" | "True"),
        _ => false,
    }
}

/// Strips a trailing `.0`, `.00`, … (cast's `trimZeroDecimal`).
fn trim_zero_decimal(s: &str) -> &str {
    match s.split_once('.') {
        Some((int, frac))
            if !int.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') =>
        {
            int
        }
        _ => s,
    }
}

/// `strconv.ParseInt(s, 0, 64)`: optional sign, base prefix, underscores only with a prefix.
pub fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.is_empty() || (!prefixed && digits.contains('_')) {
        return None;
    }
    if !underscore_ok(s) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let magnitude = u64::from_str_radix(&clean, radix).ok()?;
    if neg {
        if magnitude > i64::MAX as u64 + 1 {
            None
        } else {
            Some((magnitude as i64).wrapping_neg())
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `underscoreOK` (strconv and the template lexer): `_` only between digits or right
/// after a base prefix, never doubled or at the end; an optional sign is skipped.
pub fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= i + 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms (and `inf`/`nan`).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.to_ascii_lowercase().parse::<f64>().ok();
    }
    if lower.is_empty()
        || !lower
            .bytes()
            .all(|b| b.is_ascii_digit() || b"._e+-".contains(&b))
    {
        return None;
    }
    s.replace('_', "").parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_conversion_follows_cast() {
        let cases: &[(Value, i64)] = &[
            (Value::from("42"), 42),
            (Value::from("0x1f"), 31),
            (Value::from("0x_1f"), 31),
            (Value::from("0x1f_"), 0),
            (Value::from("010"), 8),
            (Value::from("3.0"), 3),
            (Value::from("3.5"), 0),
            (Value::from("abc"), 0),
            (Value::Float(3.9), 3),
            (Value::Float(-3.9), -3),
            (Value::Float(1e19), i64::MIN),
            (Value::Float(f64::NAN), i64::MIN),
            (Value::Bool(true), 1),
            (Value::Nil, 0),
        ];
        for (input, want) in cases {
            assert_eq!(to_int64(input), *want, "{input:?}");
        }
    }

    #[test]
    fn float_and_bool_conversion() {
        assert_eq!(to_float64(&Value::from("1.5")), 1.5);
        assert_eq!(to_float64(&Value::from("x")), 0.0);
        assert!(to_bool(&Value::from("true")));
        assert!(!to_bool(&Value::from("yes")));
    }

    #[test]
    fn strval_prints_non_strings_with_v() {
        assert_eq!(strval(&Value::Float(2.0)), "2");
        assert_eq!(strval(&Value::from("x")), "x");
        assert_eq!(strval(&Value::Nil), "<nil>");
    }
}
