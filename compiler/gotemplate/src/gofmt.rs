//! Go's `fmt` for template values: `%v` printing of every value, `Sprint`, `Sprintln` and
//! `Sprintf` with Go's verbs, flags, widths and its `%!v(BADVERB)` style errors.
//!
//! The printer follows Go 1.23's `fmt/print.go` and `fmt/format.go` step by step; floats go
//! through [`format_float`] (Go's `strconv.FormatFloat`), strings through [`quote`] (Go's
//! `strconv.Quote`). Go's `unicode` tables that both need live in [`unicode`].

mod ftoa;
mod quote;
#[rustfmt::skip]
mod tables;
pub mod unicode;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use crate::value::{ListType, Value};

pub use ftoa::{append_float, format_float};
pub use quote::{append_quote, append_quote_rune, can_backquote, quote, quote_ascii, quote_rune};
pub use unicode::is_print;

/// How deep nested lists and maps are printed; deeper levels (only a map that contains itself
/// gets there in practice, where Go overflows its stack) print as `...`.
const MAX_DEPTH: usize = 1000;

/// `fmt.Sprint(v)`, i.e. `%v`: how a template prints a value.
pub fn format_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Appends `%v` of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    write_value_at(out, v, 0);
}

fn write_value_at(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Int64(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => append_float(out, *f, b'g', -1),
        Value::String(s) => out.push_str(s),
        Value::List(items) => {
            if depth >= MAX_DEPTH {
                out.push_str("...");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value_at(out, item, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            if depth >= MAX_DEPTH {
                out.push_str("...");
                return;
            }
            out.push_str("map[");
            m.with(|entries| {
                for (i, (k, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    write_value_at(out, item, depth + 1);
                }
            });
            out.push(']');
        }
        Value::Object(o) => out.push_str(&o.go_string()),
    }
}

/// `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits that
/// round-trip, in exponent form when the decimal exponent is below -4 or at least 6
/// (`1e+06`, `1.5e-05`).
pub fn format_float_g(f: f64) -> String {
    format_float(f, b'g', -1)
}

/// The shortest round-trip decimal digits of `f` (no sign, no leading zeros) and the decimal
/// exponent of the first digit: `f = d1.d2d3… × 10^exp`. Zero is `"0"` with exponent 0.
pub fn shortest_digits(f: f64) -> (bool, String, i32) {
    let neg = f.is_sign_negative();
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (neg, digits, exp)
}

/// `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither is a
/// string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !matches!(args[i - 1], Value::String(_)) {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    out.push('\n');
    out
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len() + 8 * args.len());
    Printer::new(&mut out).do_printf(format, args);
    out
}

/// Appends `fmt.Sprintf(format, args...)` to `out`.
pub fn append_sprintf(out: &mut String, format: &str, args: &[Value]) {
    Printer::new(out).do_printf(format, args);
}

const LOWER_DIGITS: &[u8; 17] = b"0123456789abcdefx";
const UPPER_DIGITS: &[u8; 17] = b"0123456789ABCDEFX";

/// The flags of one verb (Go's `fmtFlags`).
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    // %+v and %#v: set from plus/sharp, which are then cleared.
    plus_v: bool,
    sharp_v: bool,
}

/// Go's `pp` and `fmt` together: the output, the current verb's flags, width and precision.
struct Printer<'o> {
    buf: &'o mut String,
    f: Flags,
    wid: i64,
    prec: i64,
    erroring: bool,
    reordered: bool,
    good_arg_num: bool,
}

/// Widths and precisions past a million are treated as malformed, as in Go.
fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// Parses a decimal number in `b[start..end]`: the number, whether there was one, and the index
/// after it.
fn parse_num(b: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0i64;
    let mut is_num = false;
    let mut i = start;
    while i < end && b[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end); // overflow; crazy long number most likely
        }
        num = num * 10 + i64::from(b[i] - b'0');
        is_num = true;
        i += 1;
    }
    (num, is_num, i)
}

/// Parses `[n]` at the start of `b`: the zero-based index, the bytes consumed and whether it
/// was well formed.
fn parse_arg_number(b: &[u8]) -> (i64, usize, bool) {
    if b.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..b.len() {
        if b[i] == b']' {
            let (width, ok, newi) = parse_num(b, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (width - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

/// The bytes of a `[]byte` list (its items are integers from 0 to 255).
pub fn list_bytes(items: &[Value]) -> Vec<u8> {
    items
        .iter()
        .map(|b| b.as_integer().map_or(0, |b| b as u8))
        .collect()
}

/// A `*` width or precision: the operand must be an int within range.
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    let (mut num, mut is_int) = match args[arg_num] {
        Value::Int(n) | Value::Int64(n) => (n, true),
        _ => (0, false),
    };
    if too_large(num) {
        num = 0;
        is_int = false;
    }
    (num, is_int, arg_num + 1)
}

impl<'o> Printer<'o> {
    fn new(buf: &'o mut String) -> Printer<'o> {
        Printer {
            buf,
            f: Flags::default(),
            wid: 0,
            prec: 0,
            erroring: false,
            reordered: false,
            good_arg_num: true,
        }
    }

    // ----- padding -----

    fn write_padding(&mut self, n: i64) {
        if n <= 0 {
            return;
        }
        let pad = if self.f.zero { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(pad, n as usize));
    }

    /// Appends `s` padded to the width (counted in runes) on the left, or on the right with `-`.
    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.wid - s.chars().count() as i64;
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    /// `pad` with zero padding switched off.
    fn pad_no_zero(&mut self, s: &str) {
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(s);
        self.f.zero = old;
    }

    // ----- the formatters of format.go -----

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    /// `%U`: `U+0078`, or `U+0078 'x'` with `#`.
    fn fmt_unicode(&mut self, u: u64) {
        let mut prec = 4;
        if self.f.prec_present && self.prec > 4 {
            prec = self.prec as usize;
        }
        let mut s = String::with_capacity(prec + 8);
        let _ = write!(s, "U+{u:0prec$X}");
        if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && self.f.sharp
            && is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        self.pad_no_zero(&s);
    }

    /// Signed and unsigned integers in base 2, 8, 10 or 16.
    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { u.wrapping_neg() } else { u };

        // Two ways to ask for extra leading zero digits: %.3d or %03d. With both, the zero
        // flag is ignored and padding is with spaces.
        let mut prec: i64 = 0;
        if self.f.prec_present {
            prec = self.prec;
            // Precision 0 and value 0 print nothing but the padding.
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && self.f.wid_present {
            prec = self.wid;
            if negative || self.f.plus || self.f.space {
                prec -= 1; // leave room for the sign
            }
        }

        // Built right to left.
        let mut buf: Vec<u8> = Vec::with_capacity(24 + prec.max(0) as usize);
        loop {
            buf.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while (buf.len() as i64) < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s: String = buf.into_iter().map(char::from).collect();
        // Zero padding was done above as precision, or is ignored for an explicit precision.
        self.pad_no_zero(&s);
    }

    /// The string truncated to the precision, in runes.
    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.prec.max(0) as usize)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    /// `%x` of a string: the hexadecimal encoding of its bytes.
    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        self.fmt_bx(s.as_bytes(), digits);
    }

    /// `%x` of a byte slice (`fmtSbx`).
    fn fmt_bx(&mut self, bytes: &[u8], digits: &[u8; 17]) {
        let mut length = bytes.len() as i64;
        if self.f.prec_present && self.prec < length {
            length = self.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2; // each element gets a 0x
                }
                width += length - 1; // separated by spaces
            } else if self.f.sharp {
                width += 2; // one 0x for the whole string
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.wid);
            }
            return;
        }
        if self.f.wid_present && self.wid > width && !self.f.minus {
            self.write_padding(self.wid - width);
        }
        let prefix = [b'0', digits[16]];
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(char::from(prefix[1]));
        }
        for (i, &c) in bytes.iter().take(length as usize).enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(char::from(prefix[1]));
                }
            }
            self.buf.push(char::from(digits[usize::from(c >> 4)]));
            self.buf.push(char::from(digits[usize::from(c & 0xf)]));
        }
        if self.f.wid_present && self.wid > width && self.f.minus {
            self.write_padding(self.wid - width);
        }
    }

    /// `%q` of a string: Go-quoted, backquoted with `#` when possible, ASCII-only with `+`.
    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let mut q = String::with_capacity(s.len() + 2);
            q.push('`');
            q.push_str(s);
            q.push('`');
            self.pad(&q);
            return;
        }
        let mut q = String::with_capacity(s.len() + 2);
        append_quote(&mut q, s, self.f.plus);
        self.pad(&q);
    }

    /// `%c`: the rune, U+FFFD when the integer is not one.
    fn fmt_c(&mut self, c: u64) {
        let r = u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{fffd}');
        let mut tmp = [0u8; 4];
        self.pad(r.encode_utf8(&mut tmp));
    }

    /// `%q` of an integer: a Go rune literal.
    fn fmt_qc(&mut self, c: u64) {
        let r = u32::try_from(c).unwrap_or(0xFFFD);
        let r = if r > 0x10FFFF { 0xFFFD } else { r };
        let q = quote_rune(r, self.f.plus);
        self.pad(&q);
    }

    /// Floats: `verb` is a `strconv.FormatFloat` format, `prec` the verb's default precision.
    fn fmt_float(&mut self, v: f64, verb: u8, prec: i64) {
        let prec = if self.f.prec_present { self.prec } else { prec };
        // Format the number, with room for a leading sign.
        let mut num = String::with_capacity(24);
        num.push('+');
        append_float(&mut num, v, verb, prec as i32);
        let mut num = num.into_bytes();
        if num[1] == b'-' || num[1] == b'+' {
            num.remove(0);
        }
        // A space instead of a plus sign unless the plus is asked for.
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        // Infinities and NaN are never padded with zeros.
        if num[1] == b'I' || num[1] == b'N' {
            let old = self.f.zero;
            self.f.zero = false;
            // No sign before NaN unless asked for.
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&bytes_to_string(num));
            self.f.zero = old;
            return;
        }
        // `#` forces a decimal point and keeps trailing zeros (%e, %f, %g; not %b).
        if self.f.sharp && verb != b'b' {
            let mut digits: i64 = 0;
            if matches!(verb, b'v' | b'g' | b'G' | b'x') {
                digits = prec;
                // Without an explicit precision, %g keeps six digits.
                if digits == -1 {
                    digits = 6;
                }
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_decimal_point = false;
            let mut saw_nonzero_digit = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_decimal_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != b'x' && verb != b'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero_digit = true;
                        }
                        // Count significant digits after the first non-zero one.
                        if saw_nonzero_digit {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_decimal_point {
                // A leading digit 0 counts once towards the digits.
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        // A sign when asked for or negative.
        if self.f.plus || num[0] != b'+' {
            // Zero padding goes after the sign.
            if self.f.zero && self.f.wid_present && self.wid > num.len() as i64 {
                self.buf.push(char::from(num[0]));
                self.write_padding(self.wid - num.len() as i64);
                self.buf.push_str(&bytes_to_string(num.split_off(1)));
                return;
            }
            self.pad(&bytes_to_string(num));
            return;
        }
        // No sign to show and the number is positive.
        self.pad(&bytes_to_string(num.split_off(1)));
    }

    // ----- print.go: verbs per type -----

    fn bad_verb_start(&mut self, verb: char) {
        self.erroring = true;
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
    }

    fn bad_verb_end(&mut self) {
        self.buf.push(')');
        self.erroring = false;
    }

    /// `%!d(string=hi)`: a verb that does not apply to the operand.
    fn bad_verb(&mut self, verb: char, v: &Value) {
        self.bad_verb_start(verb);
        if v.is_nil() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&v.type_name());
            self.buf.push('=');
            self.print_arg(v, 'v');
        }
        self.bad_verb_end();
    }

    fn bad_verb_str(&mut self, verb: char, s: &str) {
        self.bad_verb_start(verb);
        self.buf.push_str("string=");
        self.fmt_string(s, 'v');
        self.bad_verb_end();
    }

    fn fmt_int(&mut self, v: i64, verb: char) {
        let u = v as u64;
        match verb {
            'v' | 'd' => self.fmt_integer(u, 10, true, verb, LOWER_DIGITS),
            'b' => self.fmt_integer(u, 2, true, verb, LOWER_DIGITS),
            'o' | 'O' => self.fmt_integer(u, 8, true, verb, LOWER_DIGITS),
            'x' => self.fmt_integer(u, 16, true, verb, LOWER_DIGITS),
            'X' => self.fmt_integer(u, 16, true, verb, UPPER_DIGITS),
            'c' => self.fmt_c(u),
            'q' => self.fmt_qc(u),
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, &Value::Int(v)),
        }
    }

    fn fmt_float_verb(&mut self, v: f64, verb: char) {
        match verb {
            'v' => self.fmt_float(v, b'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(v, verb as u8, -1),
            'f' | 'e' | 'E' => self.fmt_float(v, verb as u8, 6),
            'F' => self.fmt_float(v, b'f', 6),
            _ => self.bad_verb(verb, &Value::Float(v)),
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LOWER_DIGITS),
            'X' => self.fmt_sx(s, UPPER_DIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb_str(verb, s),
        }
    }

    /// `printArg`: one operand at the top level.
    fn print_arg(&mut self, arg: &Value, verb: char) {
        if arg.is_nil() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, arg),
            }
            return;
        }
        match verb {
            'T' => self.fmt_s(&arg.type_name()),
            // Go prints the address of a map or slice; there is none to print here.
            'p' => self.bad_verb(verb, arg),
            _ => self.print_value(arg, verb, 0),
        }
    }

    /// `printValue`: an operand or an element of one.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        match v {
            // Only reached for elements: a nil interface inside a list or map.
            Value::Nil => self.buf.push_str(if self.f.sharp_v {
                "interface {}(nil)"
            } else {
                "<nil>"
            }),
            Value::Bool(b) => match verb {
                't' | 'v' => self.fmt_boolean(*b),
                _ => self.bad_verb(verb, v),
            },
            Value::Int(i) | Value::Int64(i) => self.fmt_int(*i, verb),
            Value::Float(f) => self.fmt_float_verb(*f, verb),
            Value::String(s) => self.fmt_string(s, verb),
            Value::List(items) if items.go_type() == ListType::Byte && "sqxX".contains(verb) => {
                // Go prints a `[]byte` as the string it holds for these verbs.
                let bytes = list_bytes(items);
                match verb {
                    's' => self.fmt_s(&String::from_utf8_lossy(&bytes)),
                    'q' => self.fmt_q(&String::from_utf8_lossy(&bytes)),
                    'x' => self.fmt_bx(&bytes, LOWER_DIGITS),
                    _ => self.fmt_bx(&bytes, UPPER_DIGITS),
                }
            }
            Value::List(items) => {
                if depth >= MAX_DEPTH {
                    self.buf.push_str("...");
                    return;
                }
                if self.f.sharp_v {
                    let bytes = items.go_type() == ListType::Byte;
                    self.buf.push_str(if depth == 0 {
                        items.go_type().literal_prefix()
                    } else {
                        items.go_type().name()
                    });
                    self.buf.push('{');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        match item {
                            // Go prints the bytes of a `[]byte` literal as `0x68`.
                            Value::Int(b) if bytes => {
                                let _ = write!(self.buf, "{b:#x}");
                            }
                            _ => self.print_value(item, verb, depth + 1),
                        }
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_value(item, verb, depth + 1);
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(m) => {
                if depth >= MAX_DEPTH {
                    self.buf.push_str("...");
                    return;
                }
                let sharp_v = self.f.sharp_v;
                if sharp_v {
                    // The map's Go type: `map[string]interface {}`, or a named one such as
                    // Helm's `chartutil.Values`.
                    self.buf.push_str(m.go_type_name());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                m.with(|entries| {
                    for (i, (k, item)) in entries.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(if sharp_v { ", " } else { " " });
                        }
                        self.fmt_string(k, verb);
                        self.buf.push(':');
                        self.print_value(item, verb, depth + 1);
                    }
                });
                self.buf.push(if sharp_v { '}' } else { ']' });
            }
            // Objects print through their String (or GoString) method.
            Value::Object(o) => match verb {
                'v' if !self.erroring => self.fmt_s(&o.go_string()),
                's' | 'x' | 'X' | 'q' if !self.erroring => self.fmt_string(&o.go_string(), verb),
                'v' => self.buf.push_str(&o.go_string()),
                _ => self.bad_verb(verb, v),
            },
        }
    }

    // ----- doPrintf -----

    /// An explicit argument index `[n]` at `i`, if there is one.
    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &[u8],
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        if format.len() <= i || format[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&format[i..]);
        if ok && (0..num_args as i64).contains(&index) {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    fn set_v_flags(&mut self) {
        self.f.sharp_v = self.f.sharp;
        self.f.sharp = false;
        self.f.plus_v = self.f.plus;
        self.f.plus = false;
    }

    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let b = format.as_bytes();
        let end = b.len();
        let mut arg_num = 0usize;
        let mut after_index; // the previous item was an index like [3]
        self.reordered = false;
        let mut i = 0usize;
        'format_loop: while i < end {
            self.good_arg_num = true;
            let lasti = i;
            while i < end && b[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1; // the %

            self.f = Flags::default();
            // Flags, and the fast path for a plain lower-case verb.
            while i < end {
                let c = b[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus, // only pad with zeros on the left
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            if c == b'v' {
                                self.set_v_flags();
                            }
                            self.print_arg(&args[arg_num], char::from(c));
                            arg_num += 1;
                            i += 1;
                            continue 'format_loop;
                        }
                        break;
                    }
                }
                i += 1;
            }

            // An argument index before a width.
            (arg_num, i, after_index) = self.arg_number(arg_num, b, i, args.len());

            // The width.
            if i < end && b[i] == b'*' {
                i += 1;
                let (wid, ok, next) = int_from_arg(args, arg_num);
                self.wid = wid;
                self.f.wid_present = ok;
                arg_num = next;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                // A negative width means `-` flag.
                if self.wid < 0 {
                    self.wid = -self.wid;
                    self.f.minus = true;
                    self.f.zero = false;
                }
                after_index = false;
            } else {
                let (wid, ok, next) = parse_num(b, i, end);
                self.wid = wid;
                self.f.wid_present = ok;
                i = next;
                if after_index && self.f.wid_present {
                    // "%[3]2d"
                    self.good_arg_num = false;
                }
            }

            // The precision.
            if i + 1 < end && b[i] == b'.' {
                i += 1;
                if after_index {
                    // "%[3].2d"
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, b, i, args.len());
                if i < end && b[i] == b'*' {
                    i += 1;
                    let (prec, ok, next) = int_from_arg(args, arg_num);
                    self.prec = prec;
                    self.f.prec_present = ok;
                    arg_num = next;
                    // A negative precision means none.
                    if self.prec < 0 {
                        self.prec = 0;
                        self.f.prec_present = false;
                    }
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (prec, ok, next) = parse_num(b, i, end);
                    self.prec = prec;
                    self.f.prec_present = ok;
                    i = next;
                    if !self.f.prec_present {
                        self.prec = 0;
                        self.f.prec_present = true;
                    }
                }
            }

            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, b, i, args.len());
            }

            let Some(verb) = format.get(i..).and_then(|rest| rest.chars().next()) else {
                self.buf.push_str("%!(NOVERB)");
                break;
            };
            i += verb.len_utf8();

            if verb == '%' {
                // Percent does not absorb operands and ignores width and precision.
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(BADINDEX)");
            } else if arg_num >= args.len() {
                self.buf.push_str("%!");
                self.buf.push(verb);
                self.buf.push_str("(MISSING)");
            } else {
                if verb == 'v' {
                    self.set_v_flags();
                }
                self.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }

        // Operands left over, unless the format used explicit indexes.
        if !self.reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (i, arg) in args[arg_num..].iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                if arg.is_nil() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }
}

/// The ASCII bytes the float formatter produced, as a string.
fn bytes_to_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}
