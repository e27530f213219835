//! Go's `strconv` quoting: `Quote`, `QuoteToASCII`, `QuoteRune`, `QuoteRuneToASCII` and
//! `CanBackquote`, with Go's escapes (`\a \b \f \n \r \t \v`, `\xhh` below space, `\uhhhh`,
//! `\Uhhhhhhhh` for what is not printable).

use super::unicode::is_print;

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

/// `strconv.Quote`: a double-quoted Go string literal; printable runes stay as they are.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    append_quote(&mut out, s, false);
    out
}

/// `strconv.QuoteToASCII`: like [`quote`], with every non-ASCII rune escaped.
pub fn quote_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    append_quote(&mut out, s, true);
    out
}

/// Appends `strconv.Quote(s)` (or `QuoteToASCII` when `ascii_only`) to `out`.
pub fn append_quote(out: &mut String, s: &str, ascii_only: bool) {
    out.push('"');
    for c in s.chars() {
        append_escaped_rune(out, c as u32, '"', ascii_only);
    }
    out.push('"');
}

/// `strconv.QuoteRune` (or `QuoteRuneToASCII`): a single-quoted Go rune literal. Invalid code
/// points (surrogates, values past U+10FFFF) print as `'�'`.
pub fn quote_rune(r: u32, ascii_only: bool) -> String {
    let mut out = String::with_capacity(8);
    append_quote_rune(&mut out, r, ascii_only);
    out
}

/// Appends [`quote_rune`] to `out`.
pub fn append_quote_rune(out: &mut String, r: u32, ascii_only: bool) {
    let r = if char::from_u32(r).is_some() {
        r
    } else {
        0xFFFD
    };
    out.push('\'');
    append_escaped_rune(out, r, '\'', ascii_only);
    out.push('\'');
}

/// `strconv.CanBackquote`: whether `s` can be a raw string literal (no control characters
/// other than tab, no backquote, no DEL, no byte order mark).
pub fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| {
        if c.len_utf8() > 1 {
            return c != '\u{feff}';
        }
        !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}')
    })
}

fn append_escaped_rune(out: &mut String, r: u32, quote: char, ascii_only: bool) {
    let Some(c) = char::from_u32(r) else {
        push_u_escape(out, 0xFFFD);
        return;
    };
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ if r < 0x20 || r == 0x7f => {
            out.push_str("\\x");
            out.push(char::from(LOWER_HEX[(r >> 4) as usize & 0xf]));
            out.push(char::from(LOWER_HEX[r as usize & 0xf]));
        }
        _ if r < 0x10000 => push_u_escape(out, r),
        _ => {
            out.push_str("\\U");
            for shift in (0..=28).rev().step_by(4) {
                out.push(char::from(LOWER_HEX[(r >> shift) as usize & 0xf]));
            }
        }
    }
}

fn push_u_escape(out: &mut String, r: u32) {
    out.push_str("\\u");
    for shift in (0..=12).rev().step_by(4) {
        out.push(char::from(LOWER_HEX[(r >> shift) as usize & 0xf]));
    }
}
