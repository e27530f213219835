//! The lexer of Go 1.23's `text/template/parse`: splits template text into items (text,
//! delimiters, and the tokens inside actions), with Go's trim markers, positions and line
//! numbers, including its quirks.

use std::borrow::Cow;

/// The kind of a lexed item (Go's `itemType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemType {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl ItemType {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            ItemType::Block
                | ItemType::Break
                | ItemType::Continue
                | ItemType::Dot
                | ItemType::Define
                | ItemType::Else
                | ItemType::End
                | ItemType::If
                | ItemType::Nil
                | ItemType::Range
                | ItemType::Template
                | ItemType::With
        )
    }
}

fn keyword(word: &str) -> Option<ItemType> {
    Some(match word {
        "." => ItemType::Dot,
        "block" => ItemType::Block,
        "break" => ItemType::Break,
        "continue" => ItemType::Continue,
        "define" => ItemType::Define,
        "else" => ItemType::Else,
        "end" => ItemType::End,
        "if" => ItemType::If,
        "range" => ItemType::Range,
        "nil" => ItemType::Nil,
        "template" => ItemType::Template,
        "with" => ItemType::With,
        _ => return None,
    })
}

/// A token or text returned by the lexer.
#[derive(Debug, Clone)]
pub(crate) struct Item<'a> {
    pub typ: ItemType,
    /// Byte offset of the item in the input.
    pub pos: usize,
    pub val: Cow<'a, str>,
    /// Line number at the start of the item.
    pub line: usize,
}

impl std::fmt::Display for Item<'_> {
    /// Go's `item.String()`, used in "unexpected ..." parse errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            ItemType::Eof => f.write_str("EOF"),
            ItemType::Error => f.write_str(&self.val),
            t if t.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.len() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", go_quote(&head))
            }
            _ => f.write_str(&go_quote(&self.val)),
        }
    }
}

const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";
const TRIM_MARKER_LEN: usize = 2;

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

enum Step<'a> {
    Emit(Item<'a>),
    Next(State),
}

/// The scanner: produces one item per call of [`Lexer::next_item`].
pub(crate) struct Lexer<'a> {
    input: &'a str,
    left_delim: &'a str,
    right_delim: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i64,
    line: usize,
    start_line: usize,
    inside_action: bool,
    /// `break` is a keyword (no function named `break` exists).
    pub break_ok: bool,
    /// `continue` is a keyword (no function named `continue` exists).
    pub continue_ok: bool,
}

fn is_space(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t' | '\r' | '\n'))
}

fn is_alphanumeric(c: Option<char>) -> bool {
    match c {
        Some(c) => c == '_' || c.is_alphabetic() || is_go_digit(c),
        None => false,
    }
}

/// Go's `unicode.IsDigit`: decimal digits (category Nd).
fn is_go_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        // `char::is_numeric` also covers letter-like and other numbers; Go only accepts Nd.
        // Nd digits come in runs of ten; a digit's run starts at a code point whose value
        // maps to zero. `to_digit` only knows ASCII, so approximate by excluding the common
        // non-Nd numeric ranges (fractions, roman numerals, superscripts, circled numbers).
        c.is_numeric()
            && !matches!(c as u32,
                0x00B2..=0x00B3 | 0x00B9..=0x00BE | 0x2070..=0x218B | 0x2460..=0x24FF
                | 0x2776..=0x2793 | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303A
                | 0x3192..=0x3195 | 0x3220..=0x3229 | 0x3248..=0x324F | 0x3251..=0x325F
                | 0x3280..=0x3289 | 0x32B1..=0x32BF | 0x16EE..=0x16F0 | 0x2CFD
                | 0x09F4..=0x09F9 | 0x0BF0..=0x0BF2 | 0x0F2A..=0x0F33 | 0x1372..=0x137C)
    }
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && matches!(b[1], b' ' | b'\t' | b'\r' | b'\n')
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && matches!(b[0], b' ' | b'\t' | b'\r' | b'\n') && b[1] == b'-'
}

fn right_trim_length(s: &str) -> usize {
    s.len() - s.trim_end_matches([' ', '\t', '\r', '\n']).len()
}

fn left_trim_length(s: &str) -> usize {
    s.len() - s.trim_start_matches([' ', '\t', '\r', '\n']).len()
}

fn count_newlines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str, left_delim: &'a str, right_delim: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            left_delim: if left_delim.is_empty() {
                "{{"
            } else {
                left_delim
            },
            right_delim: if right_delim.is_empty() {
                "}}"
            } else {
                right_delim
            },
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            inside_action: false,
            break_ok: true,
            continue_ok: true,
        }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn next(&mut self) -> Option<char> {
        match self.rest().chars().next() {
            None => {
                self.at_eof = true;
                None
            }
            Some(c) => {
                self.pos += c.len_utf8();
                if c == '\n' {
                    self.line += 1;
                }
                Some(c)
            }
        }
    }

    fn peek(&mut self) -> Option<char> {
        let c = self.next();
        self.backup();
        c
    }

    /// Steps back one rune. Go's quirk: once the end was seen, backing up does nothing.
    fn backup(&mut self) {
        if !self.at_eof
            && self.pos > 0
            && let Some(c) = self
                .input
                .get(..self.pos)
                .and_then(|s| s.chars().next_back())
        {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn this_item(&mut self, typ: ItemType) -> Item<'a> {
        let val = self.input.get(self.start..self.pos).unwrap_or("");
        let item = Item {
            typ,
            pos: self.start,
            val: Cow::Borrowed(val),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        item
    }

    fn ignore(&mut self) {
        self.line += count_newlines(self.input.get(self.start..self.pos).unwrap_or(""));
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.next() {
            if !valid.contains(c) {
                break;
            }
        }
        self.backup();
    }

    fn errorf(&mut self, message: String) -> Step<'a> {
        let item = Item {
            typ: ItemType::Error,
            pos: self.start,
            val: Cow::Owned(message),
            line: self.start_line,
        };
        self.start = 0;
        self.pos = 0;
        self.input = "";
        Step::Emit(item)
    }

    /// The next item of the input.
    pub fn next_item(&mut self) -> Item<'a> {
        let mut state = if self.inside_action {
            State::InsideAction
        } else {
            State::Text
        };
        loop {
            let step = match state {
                State::Text => self.lex_text(),
                State::LeftDelim => self.lex_left_delim(),
                State::Comment => self.lex_comment(),
                State::RightDelim => self.lex_right_delim(),
                State::InsideAction => self.lex_inside_action(),
                State::Space => self.lex_space(),
                State::Identifier => self.lex_identifier(),
                State::Field => self.lex_field_or_variable(ItemType::Field),
                State::Variable => self.lex_variable(),
                State::Char => self.lex_char(),
                State::Number => self.lex_number(),
                State::Quote => self.lex_quote(),
                State::RawQuote => self.lex_raw_quote(),
            };
            match step {
                Step::Emit(item) => return item,
                Step::Next(next) => state = next,
            }
        }
    }

    fn lex_text(&mut self) -> Step<'a> {
        if let Some(x) = self.rest().find(self.left_delim) {
            if x > 0 {
                self.pos += x;
                let delim_end = self.pos + self.left_delim.len();
                let mut trim = 0;
                if has_left_trim_marker(self.input.get(delim_end..).unwrap_or("")) {
                    trim = right_trim_length(self.input.get(self.start..self.pos).unwrap_or(""));
                }
                self.pos -= trim;
                self.line += count_newlines(self.input.get(self.start..self.pos).unwrap_or(""));
                let item = self.this_item(ItemType::Text);
                self.pos += trim;
                self.ignore();
                if !item.val.is_empty() {
                    return Step::Emit(item);
                }
            }
            return Step::Next(State::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += count_newlines(self.input.get(self.start..self.pos).unwrap_or(""));
            return Step::Emit(self.this_item(ItemType::Text));
        }
        Step::Emit(self.this_item(ItemType::Eof))
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim_marker(rest)
            && rest
                .get(TRIM_MARKER_LEN..)
                .is_some_and(|r| r.starts_with(self.right_delim))
        {
            return (true, true);
        }
        if rest.starts_with(self.right_delim) {
            return (true, false);
        }
        (false, false)
    }

    fn lex_left_delim(&mut self) -> Step<'a> {
        self.pos += self.left_delim.len();
        let trim_space = has_left_trim_marker(self.rest());
        let after_marker = if trim_space { TRIM_MARKER_LEN } else { 0 };
        if self
            .input
            .get(self.pos + after_marker..)
            .is_some_and(|r| r.starts_with(LEFT_COMMENT))
        {
            self.pos += after_marker;
            self.ignore();
            return Step::Next(State::Comment);
        }
        let item = self.this_item(ItemType::LeftDelim);
        self.inside_action = true;
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        Step::Emit(item)
    }

    fn lex_comment(&mut self) -> Step<'a> {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            return self.errorf("unclosed comment".into());
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim_space) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter".into());
        }
        // Go 1.23 quirk: the newlines inside the comment are not counted here, so line
        // numbers of later parse errors are too small by that many (fixed in Go 1.24).
        let _comment = self.this_item(ItemType::Text);
        if trim_space {
            self.pos += TRIM_MARKER_LEN;
        }
        self.pos += self.right_delim.len();
        if trim_space {
            self.pos += left_trim_length(self.rest());
        }
        self.ignore();
        Step::Next(State::Text)
    }

    fn lex_right_delim(&mut self) -> Step<'a> {
        let (_, trim_space) = self.at_right_delim();
        if trim_space {
            self.pos += TRIM_MARKER_LEN;
            self.ignore();
        }
        self.pos += self.right_delim.len();
        let item = self.this_item(ItemType::RightDelim);
        if trim_space {
            self.pos += left_trim_length(self.rest());
            self.ignore();
        }
        self.inside_action = false;
        Step::Emit(item)
    }

    fn lex_inside_action(&mut self) -> Step<'a> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Step::Next(State::RightDelim);
            }
            return self.errorf("unclosed left paren".into());
        }
        let r = self.next();
        match r {
            None => self.errorf("unclosed action".into()),
            Some(' ' | '\t' | '\r' | '\n') => {
                self.backup();
                Step::Next(State::Space)
            }
            Some('=') => Step::Emit(self.this_item(ItemType::Assign)),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".into());
                }
                Step::Emit(self.this_item(ItemType::Declare))
            }
            Some('|') => Step::Emit(self.this_item(ItemType::Pipe)),
            Some('"') => Step::Next(State::Quote),
            Some('`') => Step::Next(State::RawQuote),
            Some('$') => Step::Next(State::Variable),
            Some('\'') => Step::Next(State::Char),
            Some('.') => {
                if let Some(&b) = self.input.as_bytes().get(self.pos)
                    && !b.is_ascii_digit()
                {
                    return Step::Next(State::Field);
                }
                self.backup();
                Step::Next(State::Number)
            }
            Some('+' | '-' | '0'..='9') => {
                self.backup();
                Step::Next(State::Number)
            }
            Some(c) if is_alphanumeric(Some(c)) => {
                self.backup();
                Step::Next(State::Identifier)
            }
            Some('(') => {
                self.paren_depth += 1;
                Step::Emit(self.this_item(ItemType::LeftParen))
            }
            Some(')') => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren".into());
                }
                Step::Emit(self.this_item(ItemType::RightParen))
            }
            Some(c) if c.is_ascii() && !c.is_ascii_control() => {
                Step::Emit(self.this_item(ItemType::Char))
            }
            Some(c) => self.errorf(format!(
                "unrecognized character in action: {}",
                go_unicode_repr(c)
            )),
        }
    }

    fn lex_space(&mut self) -> Step<'a> {
        let mut num_spaces = 0;
        while is_space(self.peek()) {
            self.next();
            num_spaces += 1;
        }
        let before = self.pos.saturating_sub(1);
        let tail = self.input.get(before..).unwrap_or("");
        if has_right_trim_marker(tail)
            && tail
                .get(TRIM_MARKER_LEN..)
                .is_some_and(|r| r.starts_with(self.right_delim))
        {
            self.backup();
            if num_spaces == 1 {
                return Step::Next(State::RightDelim);
            }
        }
        Step::Emit(self.this_item(ItemType::Space))
    }

    fn lex_identifier(&mut self) -> Step<'a> {
        loop {
            let r = self.next();
            if is_alphanumeric(r) {
                continue;
            }
            self.backup();
            let word = self.input.get(self.start..self.pos).unwrap_or("");
            if !self.at_terminator() {
                return self.bad_character(r);
            }
            if let Some(kw) = keyword(word)
                && kw != ItemType::Dot
            {
                if (kw == ItemType::Break && !self.break_ok)
                    || (kw == ItemType::Continue && !self.continue_ok)
                {
                    return Step::Emit(self.this_item(ItemType::Identifier));
                }
                return Step::Emit(self.this_item(kw));
            }
            if word.starts_with('.') {
                return Step::Emit(self.this_item(ItemType::Field));
            }
            if word == "true" || word == "false" {
                return Step::Emit(self.this_item(ItemType::Bool));
            }
            return Step::Emit(self.this_item(ItemType::Identifier));
        }
    }

    fn bad_character(&mut self, r: Option<char>) -> Step<'a> {
        let repr = match r {
            Some(c) => go_unicode_repr(c),
            // Go formats eof (-1) with %#U as "U+FFFFFFFFFFFFFFFF".
            None => "U+FFFFFFFFFFFFFFFF".to_string(),
        };
        self.errorf(format!("bad character {repr}"))
    }

    fn lex_variable(&mut self) -> Step<'a> {
        if self.at_terminator() {
            return Step::Emit(self.this_item(ItemType::Variable));
        }
        self.lex_field_or_variable(ItemType::Variable)
    }

    fn lex_field_or_variable(&mut self, typ: ItemType) -> Step<'a> {
        if self.at_terminator() {
            let t = if typ == ItemType::Variable {
                ItemType::Variable
            } else {
                ItemType::Dot
            };
            return Step::Emit(self.this_item(t));
        }
        let mut r;
        loop {
            r = self.next();
            if !is_alphanumeric(r) {
                self.backup();
                break;
            }
        }
        if !self.at_terminator() {
            return self.bad_character(r);
        }
        Step::Emit(self.this_item(typ))
    }

    fn at_terminator(&mut self) -> bool {
        let r = self.peek();
        if is_space(r) {
            return true;
        }
        match r {
            None | Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(self.right_delim),
        }
    }

    fn lex_char(&mut self) -> Step<'a> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_some() && r != Some('\n') {
                        continue;
                    }
                    return self.errorf("unterminated character constant".into());
                }
                None | Some('\n') => {
                    return self.errorf("unterminated character constant".into());
                }
                Some('\'') => break,
                _ => {}
            }
        }
        Step::Emit(self.this_item(ItemType::CharConstant))
    }

    fn lex_number(&mut self) -> Step<'a> {
        if !self.scan_number() {
            let text = self
                .input
                .get(self.start..self.pos)
                .unwrap_or("")
                .to_string();
            return self.errorf(format!("bad number syntax: {}", go_quote(&text)));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input.get(..self.pos).is_some_and(|s| s.ends_with('i'))
            {
                let text = self
                    .input
                    .get(self.start..self.pos)
                    .unwrap_or("")
                    .to_string();
                return self.errorf(format!("bad number syntax: {}", go_quote(&text)));
            }
            return Step::Emit(self.this_item(ItemType::Complex));
        }
        Step::Emit(self.this_item(ItemType::Number))
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if is_alphanumeric(self.peek()) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Step<'a> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_some() && r != Some('\n') {
                        continue;
                    }
                    return self.errorf("unterminated quoted string".into());
                }
                None | Some('\n') => return self.errorf("unterminated quoted string".into()),
                Some('"') => break,
                _ => {}
            }
        }
        Step::Emit(self.this_item(ItemType::String))
    }

    fn lex_raw_quote(&mut self) -> Step<'a> {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        Step::Emit(self.this_item(ItemType::RawString))
    }
}

/// Go's `%#U`: `U+0023 '#'` (the quoted character only when printable).
pub(crate) fn go_unicode_repr(c: char) -> String {
    let code = c as u32;
    if go_is_print(c) {
        format!("U+{code:04X} '{c}'")
    } else {
        format!("U+{code:04X}")
    }
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
///
/// Rust has no general-category table, so this treats as non-printable the controls, the
/// separators other than U+0020, the format characters that occur in practice, private-use
/// code points and noncharacters; other unassigned code points count as printable.
pub(crate) fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    !matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD
        | 0xFDD0..=0xFDEF)
        && (u & 0xFFFE) != 0xFFFE
}

/// Go's `strconv.Quote`: a double-quoted Go string literal.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_all(input: &str) -> Vec<String> {
        let mut lexer = Lexer::new(input, "", "");
        let mut out = Vec::new();
        loop {
            let item = lexer.next_item();
            let done = matches!(item.typ, ItemType::Eof | ItemType::Error);
            out.push(format!("{:?}:{}:{}", item.typ, item.val, item.line));
            if done {
                break;
            }
        }
        out
    }

    #[test]
    fn items() {
        let cases: &[(&str, &[&str])] = &[
            ("", &["Eof::1"]),
            ("text", &["Text:text:1", "Eof::1"]),
            (
                "a{{.X}}b",
                &[
                    "Text:a:1",
                    "LeftDelim:{{:1",
                    "Field:.X:1",
                    "RightDelim:}}:1",
                    "Text:b:1",
                    "Eof::1",
                ],
            ),
            (
                "x \n {{- 3 -}} \n y",
                &[
                    "Text:x:1",
                    "LeftDelim:{{:2",
                    "Number:3:2",
                    "RightDelim:}}:2",
                    "Text:y:3",
                    "Eof::3",
                ],
            ),
            (
                "{{$x := 1}}",
                &[
                    "LeftDelim:{{:1",
                    "Variable:$x:1",
                    "Space: :1",
                    "Declare::=:1",
                    "Space: :1",
                    "Number:1:1",
                    "RightDelim:}}:1",
                    "Eof::1",
                ],
            ),
            ("{{/* c */}}x", &["Text:x:1", "Eof::1"]),
            (
                "{{'a}}",
                &["LeftDelim:{{:1", "Error:unterminated character constant:1"],
            ),
            (
                "{{a#}}",
                &["LeftDelim:{{:1", "Error:bad character U+0023 '#':1"],
            ),
            (
                "{{3k}}",
                &["LeftDelim:{{:1", "Error:bad number syntax: \"3k\":1"],
            ),
            (
                "{{1+2i}}",
                &[
                    "LeftDelim:{{:1",
                    "Complex:1+2i:1",
                    "RightDelim:}}:1",
                    "Eof::1",
                ],
            ),
        ];
        for (input, want) in cases {
            assert_eq!(lex_all(input), *want, "{input:?}");
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\n\u{1}é"), "\"a\\\"b\\n\\x01é\"");
        assert_eq!(go_unicode_repr('#'), "U+0023 '#'");
    }
}
