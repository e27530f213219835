//! Go's `regexp` package (RE2 syntax, leftmost-first matching) on top of the `regex` crate,
//! and Sprig's `regex*` functions built on it.
//!
//! A Go pattern is parsed with Go's own rules (what is an error, what `{` means, which escapes
//! exist, ASCII-only `\d \s \w \b`, octal escapes, `\Q…\E`, literal `[` inside classes, named
//! groups that may repeat a name) and re-written in the `regex` crate's syntax, so both engines
//! see the same language. Errors carry Go's messages (`error parsing regexp: missing closing ):
//! `(a``). Iteration (`FindAll`, `Split`, `ReplaceAll`) and `$name` expansion follow Go's code,
//! not the crate's, so empty matches and templates behave exactly as in Go.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::funcs::{Func, FuncError, FuncMap, Ty};
use crate::value::{ListType, Value};

/// A compiled Go regular expression.
#[derive(Debug)]
pub struct GoRegex {
    re: regex::Regex,
    /// Go's `SubexpNames`: index 0 is the whole match, `""` for unnamed groups.
    names: Vec<String>,
    expr: String,
}

/// Go's `regexp.Compile` error, already formatted as Go prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

const MAX_REPEAT: u32 = 1000;
const MAX_NESTING: usize = 1000;

fn perr(code: &str, expr: &str) -> CompileError {
    CompileError(format!("error parsing regexp: {code}: `{expr}`"))
}

/// One parsed piece of a concatenation.
struct Item {
    text: String,
    /// Largest product of counted repetitions on any path inside (Go's `repeatIsValid`).
    product: u32,
    /// A `(?i)`-style flag change: not a repetition target.
    is_flags: bool,
}

struct Frame {
    /// Rendered group opener (`(`, `(?:`, `(?i:`), empty for the top level.
    open: String,
    alts: Vec<String>,
    alt_product: u32,
    items: Vec<Item>,
}

impl Frame {
    fn new(open: String) -> Frame {
        Frame {
            open,
            alts: Vec::new(),
            alt_product: 1,
            items: Vec::new(),
        }
    }

    fn finish_alt(&mut self) {
        let mut s = String::new();
        for item in self.items.drain(..) {
            s.push_str(&item.text);
            self.alt_product = self.alt_product.max(item.product);
        }
        self.alts.push(s);
    }
}

/// Appends a literal character in the crate's syntax.
fn push_lit(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_whitespace()) {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    }
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn unhex(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Go's `parseEscape`: `s` starts with `\`. Returns the character and the rest.
fn parse_escape(s: &str) -> Result<(char, &str), CompileError> {
    let t = &s[1..];
    let mut chars = t.chars();
    let Some(c) = chars.next() else {
        return Err(perr("trailing backslash at end of expression", ""));
    };
    let mut t = chars.as_str();
    let bad = |t: &str| perr("invalid escape sequence", &s[..s.len() - t.len()]);
    match c {
        '1'..='7' if !t.starts_with(|d: char| ('0'..='7').contains(&d)) => Err(bad(t)),
        '0'..='7' => {
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                match t.as_bytes().first() {
                    Some(&d @ b'0'..=b'7') => {
                        r = r * 8 + u32::from(d - b'0');
                        t = &t[1..];
                    }
                    _ => break,
                }
            }
            Ok((char::from_u32(r).unwrap_or('\u{FFFD}'), t))
        }
        'x' => {
            let mut chars = t.chars();
            let Some(c) = chars.next() else {
                return Err(bad(t));
            };
            t = chars.as_str();
            if c == '{' {
                let mut nhex = 0;
                let mut r: u32 = 0;
                loop {
                    let mut chars = t.chars();
                    let Some(c) = chars.next() else {
                        return Err(bad(t));
                    };
                    t = chars.as_str();
                    if c == '}' {
                        break;
                    }
                    let Some(v) = unhex(c) else {
                        return Err(bad(t));
                    };
                    r = r * 16 + v;
                    if r > 0x10FFFF {
                        return Err(bad(t));
                    }
                    nhex += 1;
                }
                if nhex == 0 {
                    return Err(bad(t));
                }
                return match char::from_u32(r) {
                    Some(ch) => Ok((ch, t)),
                    // Surrogates: Go accepts them as runes that never match.
                    None => Ok(('\u{FFFD}', t)),
                };
            }
            let x = unhex(c);
            let mut chars = t.chars();
            let Some(c2) = chars.next() else {
                return Err(bad(t));
            };
            t = chars.as_str();
            match (x, unhex(c2)) {
                (Some(x), Some(y)) => Ok((char::from_u32(x * 16 + y).unwrap_or('\u{FFFD}'), t)),
                _ => Err(bad(t)),
            }
        }
        'a' => Ok(('\x07', t)),
        'f' => Ok(('\x0C', t)),
        'n' => Ok(('\n', t)),
        'r' => Ok(('\r', t)),
        't' => Ok(('\t', t)),
        'v' => Ok(('\x0B', t)),
        c if c.is_ascii() && !is_alnum(c) => Ok((c, t)),
        _ => Err(bad(t)),
    }
}

/// A Perl class escape (`\d`, `\S`, …) as class contents (for inside `[...]`).
fn perl_class(c: u8) -> Option<&'static str> {
    Some(match c {
        b'd' => "0-9",
        b'D' => "[^0-9]",
        b's' => "\\x{9}\\x{A}\\x{C}\\x{D}\\x{20}",
        b'S' => "[^\\x{9}\\x{A}\\x{C}\\x{D}\\x{20}]",
        b'w' => "0-9A-Za-z_",
        b'W' => "[^0-9A-Za-z_]",
        _ => return None,
    })
}

const POSIX_NAMES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's `parseUnicodeClass` for `\p…`/`\P…` at the start of `s`: the rendered class and
/// the rest.
fn parse_unicode_class(s: &str) -> Result<(String, &str), CompileError> {
    let mut negate = s.as_bytes()[1] == b'P';
    let t = &s[2..];
    let mut chars = t.chars();
    let Some(c) = chars.next() else {
        return Err(perr("invalid escape sequence", s));
    };
    let (seq, mut name, rest) = if c != '{' {
        let rest = chars.as_str();
        (&s[..s.len() - rest.len()], &t[..c.len_utf8()], rest)
    } else {
        let Some(end) = s.find('}') else {
            return Err(perr("invalid character class range", s));
        };
        (&s[..=end], &s[3..end], &s[end + 1..])
    };
    if let Some(n) = name.strip_prefix('^') {
        negate = !negate;
        name = n;
    }
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ' || c == '-')
        && regex::Regex::new(&format!("\\p{{{name}}}")).is_ok();
    if !valid {
        return Err(perr("invalid character class range", seq));
    }
    let p = if negate { 'P' } else { 'p' };
    Ok((format!("\\{p}{{{name}}}"), rest))
}

/// Go's `parseClass`: `s` starts with `[`. Returns the rendered class and the rest.
fn parse_class(s: &str) -> Result<(String, &str), CompileError> {
    let mut out = String::from("[");
    let mut t = &s[1..];
    if let Some(rest) = t.strip_prefix('^') {
        out.push('^');
        t = rest;
    }
    let mut first = true;
    let mut any = false;
    while t.is_empty() || !t.starts_with(']') || first {
        first = false;
        if t.is_empty() {
            return Err(perr("missing closing ]", s));
        }
        any = true;
        // POSIX [:alnum:].
        if t.len() > 2
            && t.starts_with("[:")
            && let Some(i) = t[2..].find(":]")
        {
            let name = &t[..i + 4];
            let inner = &t[2..i + 2];
            let bare = inner.strip_prefix('^').unwrap_or(inner);
            if !POSIX_NAMES.contains(&bare) {
                return Err(perr("invalid character class range", name));
            }
            out.push_str(name);
            t = &t[i + 4..];
            continue;
        }
        let b = t.as_bytes();
        if b[0] == b'\\' && b.len() >= 2 && (b[1] == b'p' || b[1] == b'P') {
            let (class, rest) = parse_unicode_class(t)?;
            out.push_str(&class);
            t = rest;
            continue;
        }
        if b[0] == b'\\'
            && b.len() >= 2
            && let Some(class) = perl_class(b[1])
        {
            out.push_str(class);
            t = &t[2..];
            continue;
        }
        let rng = t;
        let (lo, rest) = class_char(t, s)?;
        t = rest;
        let mut hi = lo;
        if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
            let (h, rest) = class_char(&t[1..], s)?;
            t = rest;
            hi = h;
            if hi < lo {
                return Err(perr(
                    "invalid character class range",
                    &rng[..rng.len() - t.len()],
                ));
            }
        }
        push_lit(&mut out, lo);
        if hi != lo {
            out.push('-');
            push_lit(&mut out, hi);
        }
    }
    debug_assert!(any);
    out.push(']');
    Ok((out, &t[1..]))
}

fn class_char<'a>(s: &'a str, whole: &str) -> Result<(char, &'a str), CompileError> {
    if s.is_empty() {
        return Err(perr("missing closing ]", whole));
    }
    if s.starts_with('\\') {
        return parse_escape(s);
    }
    let mut chars = s.chars();
    let c = chars.next().unwrap_or('\0');
    Ok((c, chars.as_str()))
}

/// Go's `parseRepeat`: `{min}`, `{min,}` or `{min,max}`; `None` when `{` is a literal.
/// A count too large gives `min == -1`.
fn parse_repeat(s: &str) -> Option<(i64, i64, &str)> {
    fn parse_int(s: &str) -> Option<(i64, &str)> {
        let b = s.as_bytes();
        if b.is_empty() || !b[0].is_ascii_digit() {
            return None;
        }
        if b.len() >= 2 && b[0] == b'0' && b[1].is_ascii_digit() {
            return None;
        }
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: i64 = 0;
        for &d in &b[..n] {
            if v >= 100_000_000 {
                v = -1;
                break;
            }
            v = v * 10 + i64::from(d - b'0');
        }
        Some((v, &s[n..]))
    }
    let s = s.strip_prefix('{')?;
    let (mut min, mut s) = parse_int(s)?;
    let max;
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix(',') {
        s = rest;
        if s.is_empty() {
            return None;
        }
        if s.starts_with('}') {
            max = -1;
        } else {
            let (m, rest) = parse_int(s)?;
            s = rest;
            max = m;
            if m < 0 {
                min = -1;
            }
        }
    } else {
        max = min;
    }
    let rest = s.strip_prefix('}')?;
    Some((min, max, rest))
}

/// Translates a Go pattern to the `regex` crate's syntax; also returns the group names.
fn translate(expr: &str) -> Result<(String, Vec<String>), CompileError> {
    let mut stack: Vec<Frame> = vec![Frame::new(String::new())];
    let mut names = vec![String::new()];
    let mut t = expr;
    // The text of the previous repetition operator (for `a**` errors).
    let mut last_repeat: &str = "";
    while !t.is_empty() {
        let mut repeat: &str = "";
        let b = t.as_bytes();
        let frame = stack.last_mut().ok_or_else(|| perr("unexpected )", expr))?;
        match b[0] {
            b'(' => {
                if b.len() >= 2 && b[1] == b'?' {
                    let starts_with_p = t.len() > 4 && b[2] == b'P' && b[3] == b'<';
                    let starts_with_name = t.len() > 3 && b[2] == b'<';
                    if starts_with_p || starts_with_name {
                        let start = if starts_with_p { 4 } else { 3 };
                        let Some(end) = t.find('>') else {
                            return Err(perr("invalid named capture", t));
                        };
                        let name = t.get(start..end).unwrap_or("");
                        if name.is_empty()
                            || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
                        {
                            return Err(perr("invalid named capture", &t[..=end]));
                        }
                        names.push(name.to_string());
                        stack.push(Frame::new("(".into()));
                        t = &t[end + 1..];
                    } else {
                        t = parse_flags(t, &mut stack)?;
                    }
                } else {
                    names.push(String::new());
                    stack.push(Frame::new("(".into()));
                    t = &t[1..];
                }
                if stack.len() > MAX_NESTING {
                    return Err(perr("expression nests too deeply", expr));
                }
            }
            b'|' => {
                frame.finish_alt();
                t = &t[1..];
            }
            b')' => {
                if stack.len() < 2 {
                    return Err(perr("unexpected )", expr));
                }
                let mut done = stack.pop().ok_or_else(|| perr("unexpected )", expr))?;
                done.finish_alt();
                let text = format!("{}{})", done.open, done.alts.join("|"));
                let parent = stack.last_mut().ok_or_else(|| perr("unexpected )", expr))?;
                parent.items.push(Item {
                    text,
                    product: done.alt_product,
                    is_flags: false,
                });
                t = &t[1..];
            }
            b'^' | b'$' | b'.' => {
                frame.items.push(atom((b[0] as char).to_string()));
                t = &t[1..];
            }
            b'[' => {
                let (class, rest) = parse_class(t)?;
                frame.items.push(atom(class));
                t = rest;
            }
            b'*' | b'+' | b'?' => {
                let before = t;
                let mut after = &t[1..];
                let op = &t[..1];
                after = apply_repeat(frame, op, None, before, after, last_repeat)?;
                repeat = before;
                t = after;
            }
            b'{' => {
                let before = t;
                match parse_repeat(t) {
                    None => {
                        frame.items.push(atom("\\{".into()));
                        t = &t[1..];
                    }
                    Some((min, max, after)) => {
                        if min < 0
                            || min > i64::from(MAX_REPEAT)
                            || max > i64::from(MAX_REPEAT)
                            || (max >= 0 && min > max)
                        {
                            return Err(perr(
                                "invalid repeat count",
                                &before[..before.len() - after.len()],
                            ));
                        }
                        let op = &before[..before.len() - after.len()];
                        let after =
                            apply_repeat(frame, op, Some((min, max)), before, after, last_repeat)?;
                        repeat = before;
                        t = after;
                    }
                }
            }
            b'\\' => {
                let mut handled = true;
                if b.len() >= 2 {
                    match b[1] {
                        b'A' => frame.items.push(atom("\\A".into())),
                        b'z' => frame.items.push(atom("\\z".into())),
                        b'b' => frame.items.push(atom("(?-u:\\b)".into())),
                        b'B' => frame.items.push(atom("(?-u:\\B)".into())),
                        b'C' => return Err(perr("invalid escape sequence", &t[..2])),
                        b'Q' => {
                            let body = &t[2..];
                            let (lit, rest) = match body.find("\\E") {
                                Some(i) => (&body[..i], &body[i + 2..]),
                                None => (body, ""),
                            };
                            for c in lit.chars() {
                                let mut s = String::new();
                                push_lit(&mut s, c);
                                frame.items.push(atom(s));
                            }
                            t = rest;
                            last_repeat = "";
                            continue;
                        }
                        _ => handled = false,
                    }
                } else {
                    handled = false;
                }
                if handled {
                    t = &t[2..];
                } else if b.len() >= 2 && (b[1] == b'p' || b[1] == b'P') {
                    let (class, rest) = parse_unicode_class(t)?;
                    frame.items.push(atom(class));
                    t = rest;
                } else if let Some(class) = b.get(1).and_then(|&c| perl_class(c)) {
                    let text = if class.starts_with('[') {
                        class.to_string()
                    } else {
                        format!("[{class}]")
                    };
                    frame.items.push(atom(text));
                    t = &t[2..];
                } else {
                    let (c, rest) = parse_escape(t)?;
                    let mut s = String::new();
                    push_lit(&mut s, c);
                    frame.items.push(atom(s));
                    t = rest;
                }
            }
            _ => {
                let mut chars = t.chars();
                let c = chars.next().unwrap_or('\0');
                let mut s = String::new();
                push_lit(&mut s, c);
                frame.items.push(atom(s));
                t = chars.as_str();
            }
        }
        last_repeat = repeat;
    }
    if stack.len() != 1 {
        return Err(perr("missing closing )", expr));
    }
    let mut top = stack.pop().ok_or_else(|| perr("missing closing )", expr))?;
    top.finish_alt();
    Ok((top.alts.join("|"), names))
}

fn atom(text: String) -> Item {
    Item {
        text,
        product: 1,
        is_flags: false,
    }
}

/// Applies a repetition operator to the last repeatable item of the frame (Go's `repeat`).
fn apply_repeat<'a>(
    frame: &mut Frame,
    op: &str,
    counts: Option<(i64, i64)>,
    before: &'a str,
    mut after: &'a str,
    last_repeat: &str,
) -> Result<&'a str, CompileError> {
    let mut lazy = false;
    if let Some(rest) = after.strip_prefix('?') {
        after = rest;
        lazy = true;
    }
    if !last_repeat.is_empty() {
        return Err(perr(
            "invalid nested repetition operator",
            &last_repeat[..last_repeat.len() - after.len()],
        ));
    }
    let Some(idx) = frame.items.iter().rposition(|i| !i.is_flags) else {
        return Err(perr(
            "missing argument to repetition operator",
            &before[..before.len() - after.len()],
        ));
    };
    let item = &mut frame.items[idx];
    let mut product = item.product;
    if let Some((min, max)) = counts {
        let m = if max == 0 {
            0
        } else if max < 0 {
            min
        } else {
            max
        };
        if (min >= 2 || max >= 2) && m > 0 {
            let m = u32::try_from(m).unwrap_or(u32::MAX);
            if m > MAX_REPEAT || u64::from(m) * u64::from(product) > u64::from(MAX_REPEAT) {
                return Err(perr(
                    "invalid repeat count",
                    &before[..before.len() - after.len()],
                ));
            }
        }
        product = if max == 0 {
            0
        } else if m > 0 {
            u32::try_from(m).unwrap_or(u32::MAX).saturating_mul(product)
        } else {
            product
        };
    }
    let mut text = String::with_capacity(item.text.len() + 8);
    text.push_str("(?:");
    text.push_str(&item.text);
    text.push(')');
    text.push_str(op);
    if lazy {
        text.push('?');
    }
    item.text = text;
    item.product = product;
    Ok(after)
}

/// Go's `parsePerlFlags` for the non-capturing forms: `(?i)`, `(?i-s:`, `(?:`.
fn parse_flags<'a>(s: &'a str, stack: &mut Vec<Frame>) -> Result<&'a str, CompileError> {
    let mut t = &s[2..];
    let mut on = String::new();
    let mut off = String::new();
    let mut negated = false;
    let mut saw_flag = false;
    loop {
        let mut chars = t.chars();
        let Some(c) = chars.next() else { break };
        t = chars.as_str();
        match c {
            'i' | 'm' | 's' | 'U' => {
                if negated {
                    off.push(c);
                } else {
                    on.push(c);
                }
                saw_flag = true;
            }
            '-' => {
                if negated {
                    break;
                }
                negated = true;
                saw_flag = false;
            }
            ':' | ')' => {
                if negated && !saw_flag {
                    break;
                }
                let mut flags = on;
                if !off.is_empty() {
                    flags.push('-');
                    flags.push_str(&off);
                }
                let frame = stack
                    .last_mut()
                    .ok_or_else(|| perr("invalid or unsupported Perl syntax", s))?;
                if c == ':' {
                    stack.push(Frame::new(format!("(?{flags}:")));
                } else if !flags.is_empty() {
                    frame.items.push(Item {
                        text: format!("(?{flags})"),
                        product: 1,
                        is_flags: true,
                    });
                }
                return Ok(t);
            }
            _ => break,
        }
    }
    Err(perr(
        "invalid or unsupported Perl syntax",
        &s[..s.len() - t.len()],
    ))
}

impl GoRegex {
    /// `regexp.Compile`.
    pub fn new(expr: &str) -> Result<GoRegex, CompileError> {
        let (pattern, names) = translate(expr)?;
        let re = regex::RegexBuilder::new(&pattern)
            .nest_limit(4 * MAX_NESTING as u32)
            .size_limit(64 << 20)
            .build()
            .map_err(|_| perr("expression too large", expr))?;
        Ok(GoRegex {
            re,
            names,
            expr: expr.to_string(),
        })
    }

    /// The original Go pattern.
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// `FindString`.
    pub fn find<'s>(&self, s: &'s str) -> &'s str {
        self.re.find(s).map_or("", |m| m.as_str())
    }

    /// Go's `allMatches`: the ranges of successive matches, at most `n` (all when `n < 0`).
    pub fn find_all_ranges(&self, s: &str, n: i64) -> Vec<(usize, usize)> {
        let limit = if n < 0 {
            usize::MAX
        } else {
            usize::try_from(n).unwrap_or(usize::MAX)
        };
        let mut out = Vec::new();
        let mut pos = 0;
        let mut prev_end: Option<usize> = None;
        while out.len() < limit && pos <= s.len() {
            let Some(m) = self.re.find_at(s, pos) else {
                break;
            };
            let mut accept = true;
            if m.end() == pos {
                // An empty match right after the previous match is not reported.
                if Some(m.start()) == prev_end {
                    accept = false;
                }
                pos += s[pos..].chars().next().map_or(1, char::len_utf8);
            } else {
                pos = m.end();
            }
            prev_end = Some(m.end());
            if accept {
                out.push((m.start(), m.end()));
            }
        }
        out
    }

    /// `FindAllString(s, n)`.
    pub fn find_all<'s>(&self, s: &'s str, n: i64) -> Vec<&'s str> {
        self.find_all_ranges(s, n)
            .into_iter()
            .map(|(a, b)| &s[a..b])
            .collect()
    }

    /// `Split(s, n)`.
    pub fn split<'s>(&self, s: &'s str, n: i64) -> Vec<&'s str> {
        if n == 0 {
            return Vec::new();
        }
        if !self.expr.is_empty() && s.is_empty() {
            return vec![""];
        }
        let matches = self.find_all_ranges(s, n);
        let mut out = Vec::with_capacity(matches.len() + 1);
        let mut beg = 0;
        let mut end = 0;
        for (a, b) in matches {
            if n > 0 && out.len() as i64 == n - 1 {
                break;
            }
            end = a;
            if b != 0 {
                out.push(&s[beg..end]);
            }
            beg = b;
        }
        if end != s.len() {
            out.push(&s[beg..]);
        }
        out
    }

    /// Go's `replaceAll` loop; `repl` appends the replacement of one match.
    fn replace_loop(&self, src: &str, mut repl: impl FnMut(&mut String, usize)) -> String {
        let mut out = String::with_capacity(src.len());
        let mut last_end = 0;
        let mut search = 0;
        while search <= src.len() {
            let Some(m) = self.re.find_at(src, search) else {
                break;
            };
            let (a, b) = (m.start(), m.end());
            out.push_str(&src[last_end..a]);
            // No replacement for an empty match right after the previous match.
            if b > last_end || a == 0 {
                repl(&mut out, a);
            }
            last_end = b;
            let width = src[search..].chars().next().map_or(0, char::len_utf8);
            if search + width > b {
                search += width;
            } else if search + 1 > b {
                search += 1;
            } else {
                search = b;
            }
        }
        out.push_str(&src[last_end..]);
        out
    }

    /// `ReplaceAllLiteralString`.
    pub fn replace_all_literal(&self, src: &str, repl: &str) -> String {
        self.replace_loop(src, |out, _| out.push_str(repl))
    }

    /// `ReplaceAllString`: `$1`, `${name}` and `$$` in `repl` are expanded as Go's `Expand` does.
    pub fn replace_all(&self, src: &str, repl: &str) -> String {
        if !repl.contains('$') {
            return self.replace_all_literal(src, repl);
        }
        self.replace_loop(src, |out, start| {
            // The match found at `start` again, now with its groups.
            if let Some(caps) = self.re.captures_at(src, start) {
                self.expand(out, repl, &caps);
            }
        })
    }

    /// Go's `Regexp.expand`.
    fn expand(&self, dst: &mut String, mut template: &str, caps: &regex::Captures<'_>) {
        while let Some(i) = template.find('$') {
            dst.push_str(&template[..i]);
            template = &template[i + 1..];
            if let Some(rest) = template.strip_prefix('$') {
                dst.push('$');
                template = rest;
                continue;
            }
            let Some((name, num, rest)) = extract(template) else {
                dst.push('$');
                continue;
            };
            template = rest;
            match num {
                Some(n) => {
                    if let Some(m) = caps.get(n) {
                        dst.push_str(m.as_str());
                    }
                }
                None => {
                    for (i, group) in self.names.iter().enumerate() {
                        if group == name
                            && let Some(m) = caps.get(i)
                        {
                            dst.push_str(m.as_str());
                            break;
                        }
                    }
                }
            }
        }
        dst.push_str(template);
    }
}

/// Go's `extract`: a `name` or `{name}` after `$`; the group number when it is a number.
fn extract(s: &str) -> Option<(&str, Option<usize>, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|&c| is_name_char(c))
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let mut rest = &body[len..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        match num {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => {
                num = Some(n * 10 + usize::from(b - b'0'));
            }
            _ => {
                num = None;
                break;
            }
        }
    }
    if name.len() > 1 && name.starts_with('0') {
        num = None;
    }
    Some((name, num, rest))
}

/// `unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_'`.
fn is_name_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    static CLASS: OnceLock<Option<regex::Regex>> = OnceLock::new();
    CLASS
        .get_or_init(|| regex::Regex::new(r"^[\p{L}\p{Nd}]$").ok())
        .as_ref()
        .is_some_and(|re| {
            let mut buf = [0u8; 4];
            re.is_match(c.encode_utf8(&mut buf))
        })
}

/// Compiles through a small process-wide cache (charts call the same patterns in loops).
pub fn compile(expr: &str) -> Result<Arc<GoRegex>, CompileError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<GoRegex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(re) = cache.lock().get(expr) {
        return Ok(re.clone());
    }
    let re = Arc::new(GoRegex::new(expr)?);
    let mut guard = cache.lock();
    if guard.len() >= 512 {
        guard.clear();
    }
    guard.insert(expr.to_string(), re.clone());
    Ok(re)
}

/// `regexp.MustCompile`'s panic, as text/template reports a recovered panic.
fn must_compile(expr: &str) -> Result<Arc<GoRegex>, FuncError> {
    compile(expr)
        .map_err(|e| FuncError::new(format!("regexp: Compile({}): {}", go_quote(expr), e.0)))
}

/// `regexp`'s `quote`: backquoted when `strconv.CanBackquote`, else `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let can_backquote = s
        .chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()));
    if can_backquote {
        format!("`{s}`")
    } else {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0C' => out.push_str("\\f"),
                '\x0B' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\x7F' => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if c.is_control() || c == '\u{FEFF}' => {
                    let n = c as u32;
                    if n < 0x10000 {
                        out.push_str(&format!("\\u{n:04x}"));
                    } else {
                        out.push_str(&format!("\\U{n:08x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

/// `regexp.QuoteMeta`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn str_arg(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

fn int_arg(args: &[Value], i: usize) -> i64 {
    match args.get(i) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    }
}

/// A `[]string`.
fn str_list(items: Vec<&str>) -> Value {
    Value::typed_list(
        items.into_iter().map(Value::from).collect(),
        ListType::String,
    )
}

fn err(e: CompileError) -> FuncError {
    FuncError::new(e.0)
}

pub fn register(map: &mut FuncMap) {
    use Ty::{Int, String as S};
    map.insert(
        "regexMatch",
        Func::pure(&[S, S], None, |a| {
            let ok = compile(str_arg(a, 0)).is_ok_and(|re| re.is_match(str_arg(a, 1)));
            Ok(Value::Bool(ok))
        }),
    );
    map.insert(
        "mustRegexMatch",
        Func::pure(&[S, S], None, |a| {
            let re = compile(str_arg(a, 0)).map_err(err)?;
            Ok(Value::Bool(re.is_match(str_arg(a, 1))))
        }),
    );
    map.insert(
        "regexFindAll",
        Func::pure(&[S, S, Int], None, |a| {
            let re = must_compile(str_arg(a, 0))?;
            Ok(str_list(re.find_all(str_arg(a, 1), int_arg(a, 2))))
        }),
    );
    map.insert(
        "mustRegexFindAll",
        Func::pure(&[S, S, Int], None, |a| {
            let re = compile(str_arg(a, 0)).map_err(err)?;
            Ok(str_list(re.find_all(str_arg(a, 1), int_arg(a, 2))))
        }),
    );
    map.insert(
        "regexFind",
        Func::pure(&[S, S], None, |a| {
            let re = must_compile(str_arg(a, 0))?;
            Ok(Value::from(re.find(str_arg(a, 1))))
        }),
    );
    map.insert(
        "mustRegexFind",
        Func::pure(&[S, S], None, |a| {
            let re = compile(str_arg(a, 0)).map_err(err)?;
            Ok(Value::from(re.find(str_arg(a, 1))))
        }),
    );
    map.insert(
        "regexReplaceAll",
        Func::pure(&[S, S, S], None, |a| {
            let re = must_compile(str_arg(a, 0))?;
            Ok(Value::from(re.replace_all(str_arg(a, 1), str_arg(a, 2))))
        }),
    );
    map.insert(
        "mustRegexReplaceAll",
        Func::pure(&[S, S, S], None, |a| {
            let re = compile(str_arg(a, 0)).map_err(err)?;
            Ok(Value::from(re.replace_all(str_arg(a, 1), str_arg(a, 2))))
        }),
    );
    map.insert(
        "regexReplaceAllLiteral",
        Func::pure(&[S, S, S], None, |a| {
            let re = must_compile(str_arg(a, 0))?;
            Ok(Value::from(
                re.replace_all_literal(str_arg(a, 1), str_arg(a, 2)),
            ))
        }),
    );
    map.insert(
        "mustRegexReplaceAllLiteral",
        Func::pure(&[S, S, S], None, |a| {
            let re = compile(str_arg(a, 0)).map_err(err)?;
            Ok(Value::from(
                re.replace_all_literal(str_arg(a, 1), str_arg(a, 2)),
            ))
        }),
    );
    map.insert(
        "regexSplit",
        Func::pure(&[S, S, Int], None, |a| {
            let re = must_compile(str_arg(a, 0))?;
            Ok(str_list(re.split(str_arg(a, 1), int_arg(a, 2))))
        }),
    );
    map.insert(
        "mustRegexSplit",
        Func::pure(&[S, S, Int], None, |a| {
            let re = compile(str_arg(a, 0)).map_err(err)?;
            Ok(str_list(re.split(str_arg(a, 1), int_arg(a, 2))))
        }),
    );
    map.insert(
        "regexQuoteMeta",
        Func::pure(&[S], None, |a| Ok(Value::from(quote_meta(str_arg(a, 0))))),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{i, s, show};

    fn check(name: &str, args: &[crate::value::Value], want: &str) {
        assert_eq!(show(name, args).as_deref(), Ok(want), "{name} {args:?}");
    }

    fn check_err(name: &str, args: &[crate::value::Value], want: &str) {
        assert_eq!(show(name, args), Err(want.to_string()), "{name} {args:?}");
    }

    const EMAIL: &str = "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}";

    #[test]
    fn match_cases_from_sprig() {
        for (input, want) in [
            ("test@acme.com", "true"),
            ("Test@Acme.Com", "true"),
            ("test", "false"),
            ("test.com", "false"),
            ("test@acme", "false"),
        ] {
            check("regexMatch", &[s(EMAIL), s(input)], want);
            check("mustRegexMatch", &[s(EMAIL), s(input)], want);
        }
        // A bad pattern is simply no match for regexMatch, an error for the must variant.
        check("regexMatch", &[s("("), s("(")], "false");
        check_err(
            "mustRegexMatch",
            &[s("("), s("(")],
            "error parsing regexp: missing closing ): `(`",
        );
    }

    #[test]
    fn find_and_find_all() {
        check("regexFindAll", &[s("a{2}"), s("aa"), i(-1)], "[aa]");
        check("regexFindAll", &[s("a{2}"), s("aaaaaaaa"), i(1)], "[aa]");
        check("regexFindAll", &[s("a{2}"), s("aaaa"), i(-1)], "[aa aa]");
        check("regexFindAll", &[s("a{2}"), s("none"), i(-1)], "[]");
        check(
            "regexFindAll",
            &[s("a."), s("paranormal"), i(-1)],
            "[ar an al]",
        );
        check("regexFindAll", &[s("a."), s("paranormal"), i(2)], "[ar an]");
        check("regexFindAll", &[s("a."), s("graal"), i(-1)], "[aa]");
        check("regexFindAll", &[s("a."), s("paranormal"), i(0)], "[]");
        // Empty matches next to a previous match are dropped, as in Go.
        check("regexFindAll", &[s("a*"), s("baaa"), i(-1)], "[ aaa]");
        check("regexFindAll", &[s("x*"), s(""), i(-1)], "[]");
        check(
            "mustRegexFindAll",
            &[s("a{2}"), s("aaaa"), i(-1)],
            "[aa aa]",
        );
        check("regexFind", &[s("fo.?"), s("foorbar")], "foo");
        check("regexFind", &[s("fo.?"), s("foo foe fome")], "foo");
        check("regexFind", &[s("fo.?"), s("none")], "");
        check("mustRegexFind", &[s("fo.?"), s("foorbar")], "foo");
    }

    #[test]
    fn replace_expands_like_go() {
        let re = "a(x*)b";
        let src = "-ab-axxb-";
        check("regexReplaceAll", &[s(re), s(src), s("T")], "-T-T-");
        check("regexReplaceAll", &[s(re), s(src), s("$1")], "--xx-");
        // `$1W` names the (missing) group "1W": Go quirk.
        check("regexReplaceAll", &[s(re), s(src), s("$1W")], "---");
        check("regexReplaceAll", &[s(re), s(src), s("${1}W")], "-W-xxW-");
        check("regexReplaceAll", &[s(re), s(src), s("$$1")], "-$1-$1-");
        check("regexReplaceAll", &[s(re), s(src), s("${1")], "-${1-${1-");
        check("regexReplaceAll", &[s(re), s(src), s("$")], "-$-$-");
        check("regexReplaceAll", &[s(re), s(src), s("$01")], "---");
        check("regexReplaceAll", &[s(re), s(src), s("$0")], "-ab-axxb-");
        check(
            "mustRegexReplaceAll",
            &[s(re), s(src), s("${1}W")],
            "-W-xxW-",
        );
        check(
            "regexReplaceAll",
            &[
                s(r"(?P<key>\w+):\s+(?P<value>\w+)$"),
                s("option1: value1"),
                s("$value=$key"),
            ],
            "value1=option1",
        );
        check(
            "regexReplaceAll",
            &[s(r"(?<x>a)|(?<x>b)"), s("ab"), s("[$x]")],
            "[a][b]",
        );
        // Empty matches: one replacement per position, none right after a match.
        check("regexReplaceAll", &[s("a*"), s("baaac"), s("X")], "XbXcX");
        check("regexReplaceAll", &[s(""), s("abc"), s("-")], "-a-b-c-");
        check("regexReplaceAll", &[s("é*"), s("aéb"), s("-")], "-a-b-");
        check("regexReplaceAllLiteral", &[s(re), s(src), s("T")], "-T-T-");
        check(
            "regexReplaceAllLiteral",
            &[s(re), s(src), s("$1")],
            "-$1-$1-",
        );
        check(
            "mustRegexReplaceAllLiteral",
            &[s(re), s(src), s("${1}")],
            "-${1}-${1}-",
        );
    }

    #[test]
    fn split_like_go() {
        check("regexSplit", &[s("a"), s("banana"), i(-1)], "[b n n ]");
        check("regexSplit", &[s("a"), s("banana"), i(0)], "[]");
        check("regexSplit", &[s("a"), s("banana"), i(1)], "[banana]");
        check("regexSplit", &[s("a"), s("banana"), i(2)], "[b nana]");
        check("regexSplit", &[s("z+"), s("pizza"), i(-1)], "[pi a]");
        check("regexSplit", &[s("z+"), s("pizza"), i(0)], "[]");
        check("regexSplit", &[s("z+"), s("pizza"), i(1)], "[pizza]");
        check("regexSplit", &[s("z+"), s("pizza"), i(2)], "[pi a]");
        check(
            "regexSplit",
            &[s("a*"), s("abaabaccadaaae"), i(5)],
            "[ b b c cadaaae]",
        );
        check("regexSplit", &[s(""), s("abc"), i(-1)], "[a b c]");
        check("regexSplit", &[s(""), s(""), i(-1)], "[]");
        check("regexSplit", &[s("x"), s(""), i(-1)], "[]");
        check("mustRegexSplit", &[s("z+"), s("pizza"), i(-1)], "[pi a]");
    }

    #[test]
    fn quote_meta() {
        check("regexQuoteMeta", &[s("1.2.3")], "1\\.2\\.3");
        check("regexQuoteMeta", &[s("pretzel")], "pretzel");
        check(
            "regexQuoteMeta",
            &[s(r"\.+*?()|[]{}^$")],
            r"\\\.\+\*\?\(\)\|\[\]\{\}\^\$",
        );
    }

    #[test]
    fn go_syntax_differences() {
        let cases: &[(&str, &str, &str)] = &[
            // Perl classes and \b are ASCII-only in Go.
            (r"\d+", "x٣4", "4"),
            (r"\w+", "éab", "ab"),
            (r"\s", "a\u{a0}b c", " "),
            (r"[\D]+", "12ab3", "ab"),
            (r"\bb", "éb", "b"),
            // `[` is a literal inside a class; `&&`, `--`, `~~` are not operators.
            (r"[[]", "a[b", "["),
            (r"[a&&b]+", "x&&ab", "&&ab"),
            (r"[a-c--]+", "x--ab", "--ab"),
            // `{` that is not a repetition is a literal.
            (r"a{,3}", "a{,3}", "a{,3}"),
            (r"a{", "a{", "a{"),
            (r"a{1", "a{1", "a{1"),
            (r"x{2}", "xxx", "xx"),
            (r"x{2,}?", "xxx", "xx"),
            // Octal, hex and \Q…\E literals.
            (r"\101", "zA", "A"),
            (r"\x41\x{42}", "AB", "AB"),
            (r"\Q.*\E+", "a.**", ".**"),
            (r"\Q.*", "a.*", ".*"),
            (r"[[:alpha:]]+", "1ab2", "ab"),
            (r"[[:^digit:]]+", "1ab2", "ab"),
            (r"\pL+", "1éa2", "éa"),
            (r"\p{^L}+", "é12a", "12"),
            (r"(?i)ABC", "xabc", "abc"),
            (r"(?i:A)b", "aB ab", "ab"),
            (r"(?U)a+", "aaa", "a"),
            (r"(?s).+", "a\nb", "a\nb"),
            (r".+", "a\nb", "a"),
            (r"(?m)^b$", "a\nb\nc", "b"),
            (r"^b$", "a\nb\nc", ""),
            (r"(?)a", "a", "a"),
            (r"a|", "xa", ""),
            (r"^*a", "a", "a"),
            (r"(?:)*a", "a", "a"),
            (r"[]a]+", "x]a", "]a"),
            (r"[^]a]+", "]ax", "x"),
            (r"[a-]+", "x-a", "-a"),
            (r"\.\-\_", ".-_", ".-_"),
        ];
        for (re, input, want) in cases {
            check("mustRegexFind", &[s(re), s(input)], want);
        }
    }

    #[test]
    fn go_compile_errors() {
        let cases: &[(&str, &str)] = &[
            ("(", "missing closing ): `(`"),
            ("(a|b", "missing closing ): `(a|b`"),
            ("a)", "unexpected ): `a)`"),
            ("[a", "missing closing ]: `[a`"),
            ("x[a-", "missing closing ]: `[a-`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("a*?+", "invalid nested repetition operator: `*?+`"),
            ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
            ("*", "missing argument to repetition operator: `*`"),
            ("a|*", "missing argument to repetition operator: `*`"),
            ("(?i)+", "missing argument to repetition operator: `+`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("a{2,1}", "invalid repeat count: `{2,1}`"),
            ("(a{500}){3}", "invalid repeat count: `{3}`"),
            (r"\8", r"invalid escape sequence: `\8`"),
            (r"\1", r"invalid escape sequence: `\1`"),
            (r"\Z", r"invalid escape sequence: `\Z`"),
            (r"\C", r"invalid escape sequence: `\C`"),
            (r"\x{110000}", r"invalid escape sequence: `\x{110000`"),
            (r"\xZ1", r"invalid escape sequence: `\xZ1`"),
            ("a\\", "trailing backslash at end of expression: ``"),
            ("(?P<n!>a)", "invalid named capture: `(?P<n!>`"),
            ("(?<>a)", "invalid named capture: `(?<>`"),
            ("(?P<name", "invalid named capture: `(?P<name`"),
            ("(?x)", "invalid or unsupported Perl syntax: `(?x`"),
            ("(?i-)", "invalid or unsupported Perl syntax: `(?i-)`"),
            ("(?P=n)", "invalid or unsupported Perl syntax: `(?P`"),
            ("[z-a]", "invalid character class range: `z-a`"),
            ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
            (r"\pX", r"invalid character class range: `\pX`"),
            (
                r"\p{Klingon}",
                r"invalid character class range: `\p{Klingon}`",
            ),
        ];
        for (re, want) in cases {
            check_err(
                "mustRegexFind",
                &[s(re), s("")],
                &format!("error parsing regexp: {want}"),
            );
        }
    }

    #[test]
    fn non_must_variants_report_the_mustcompile_panic() {
        check_err(
            "regexFind",
            &[s("a**"), s("")],
            "regexp: Compile(`a**`): error parsing regexp: invalid nested repetition operator: `**`",
        );
        check_err(
            "regexReplaceAll",
            &[s("`("), s(""), s("")],
            "regexp: Compile(\"`(\"): error parsing regexp: missing closing ): ``(`",
        );
        check_err(
            "regexSplit",
            &[s("["), s(""), i(-1)],
            "regexp: Compile(`[`): error parsing regexp: missing closing ]: `[`",
        );
    }

    /// Patterns Go accepts must always translate to something the `regex` crate compiles,
    /// and no pattern may panic the translator.
    #[test]
    fn every_accepted_pattern_compiles() {
        let alphabet: Vec<char> = r"ab()[]{}|*+?.^$\-,:=<>PQEdDsSwWbBpLx0123_é!#&~"
            .chars()
            .collect();
        let mut state = 12345u64;
        for _ in 0..20_000 {
            let len = (crate::funcs::splitmix64(&mut state) % 10) as usize;
            let pattern: String = (0..len)
                .map(|_| {
                    let r = crate::funcs::splitmix64(&mut state) % alphabet.len() as u64;
                    alphabet[r as usize]
                })
                .collect();
            if let Ok((translated, _)) = super::translate(&pattern) {
                let built = regex::RegexBuilder::new(&translated)
                    .nest_limit(4000)
                    .build();
                assert!(built.is_ok(), "{pattern:?} -> {translated:?}");
            }
        }
    }
}
