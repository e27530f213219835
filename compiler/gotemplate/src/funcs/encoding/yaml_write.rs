//! The YAML printer: `sigs.k8s.io/yaml.Marshal` (JSON first, then go-yaml v2's emitter, a port
//! of libyaml's) and go-yaml v3's encoder with two-space indent for `toYamlPretty`.
//!
//! Both are ported from the emitter state machine: the same column, indent, `whitespace` and
//! `indention` bookkeeping decides where line breaks and spaces go, so the output matches byte
//! for byte, including folding of long scalars at 80 columns (v2) and the `|-` / `|2` block
//! scalar headers.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::json::MAX_DEPTH;
use super::resolve::{
    Resolved, format_float_g, format_float_json, is_base60_float, is_old_bool, resolve_v2,
    resolves_to_non_string_v3,
};
use crate::funcs::sprig_misc::encoding::b64_encode;
use crate::value::{ListType, Value};

/// Which go-yaml encoder to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `sigs.k8s.io/yaml.Marshal`: JSON round trip, go-yaml v2, width 80.
    SigsV2,
    /// go-yaml v3 `Encoder` with `SetIndent(2)`, values encoded directly, no folding.
    V3,
}

/// Prints `v` as a YAML document, with its trailing newline.
pub(crate) fn to_yaml_document(v: &Value, flavor: Flavor) -> Result<String, String> {
    let mut e = Emitter {
        out: String::new(),
        flavor,
        best_indent: 2,
        best_width: if flavor == Flavor::SigsV2 {
            80
        } else {
            usize::MAX
        },
        indent: -1,
        indents: Vec::new(),
        column: 0,
        whitespace: true,
        indention: true,
        flow_level: 0,
        in_seq_item: Vec::new(),
    };
    e.node(v, Ctx::ROOT, 0)?;
    // DOCUMENT-END (implicit): just end the line.
    e.write_indent();
    Ok(e.out)
}

/// The emitter's node context: inside a mapping (value or key), and as a simple key.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    mapping: bool,
    simple_key: bool,
}

impl Ctx {
    const ROOT: Ctx = Ctx {
        mapping: false,
        simple_key: false,
    };
    const SEQ_ITEM: Ctx = Ctx {
        mapping: false,
        simple_key: false,
    };
    const MAP_VALUE: Ctx = Ctx {
        mapping: true,
        simple_key: false,
    };
    const SIMPLE_KEY: Ctx = Ctx {
        mapping: true,
        simple_key: true,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// A scalar ready to print: its text and the style the encoder asks for.
struct ScalarOut<'a> {
    text: Cow<'a, str>,
    style: Style,
}

struct Emitter {
    out: String,
    flavor: Flavor,
    best_indent: i64,
    best_width: usize,
    indent: i64,
    indents: Vec<i64>,
    column: usize,
    whitespace: bool,
    indention: bool,
    flow_level: usize,
    /// v3 only: whether the innermost open state is a block sequence item.
    in_seq_item: Vec<bool>,
}

/// What a value turns into before printing.
enum Node<'a> {
    Scalar(ScalarOut<'a>),
    Seq(&'a [Value]),
    Map(Vec<(String, Value)>),
}

impl Emitter {
    /// The encoder side: what `v` becomes (after the JSON round trip for v2).
    fn classify<'a>(&self, v: &'a Value) -> Result<Node<'a>, String> {
        let plain = |s: String| {
            Ok(Node::Scalar(ScalarOut {
                text: Cow::Owned(s),
                style: Style::Plain,
            }))
        };
        match v {
            Value::Nil => plain("null".into()),
            Value::Bool(b) => plain(if *b { "true" } else { "false" }.into()),
            Value::Int(i) | Value::Int64(i) => plain(i.to_string()),
            Value::Float(f) => match self.flavor {
                Flavor::SigsV2 => {
                    if !f.is_finite() {
                        return Err(format!(
                            "error marshaling into JSON: json: unsupported value: {}",
                            format_float_g(*f, false)
                        ));
                    }
                    // JSON text, read back by yaml.v2: integers stay integers.
                    let text = format_float_json(*f);
                    plain(match resolve_v2(&text) {
                        Resolved::Int(i) => i.to_string(),
                        Resolved::Uint(u) => u.to_string(),
                        Resolved::Float(g) => format_float_g(g, false),
                        _ => text,
                    })
                }
                Flavor::V3 => plain(match format_float_g(*f, false).as_str() {
                    "+Inf" => ".inf".into(),
                    "-Inf" => "-.inf".into(),
                    "NaN" => ".nan".into(),
                    s => s.into(),
                }),
            },
            Value::String(s) => Ok(Node::Scalar(self.string_scalar(s))),
            // Through JSON, a `[]byte` becomes a base64 string.
            Value::List(items)
                if items.go_type() == ListType::Byte && self.flavor == Flavor::SigsV2 =>
            {
                let text = b64_encode(&crate::gofmt::list_bytes(items));
                let style = self.string_scalar(&text).style;
                Ok(Node::Scalar(ScalarOut {
                    text: Cow::Owned(text),
                    style,
                }))
            }
            Value::List(items) => Ok(Node::Seq(items)),
            Value::Map(m) => {
                let mut entries = m.entries();
                natural_sort(&mut entries);
                Ok(Node::Map(entries))
            }
            // Objects are replaced by their data view in `node` before this point.
            Value::Object(_) => Ok(Node::Map(Vec::new())),
        }
    }

    /// `encoder.stringv`: literal for multi-line text, plain when it reads back as the same
    /// string, double-quoted otherwise.
    fn string_scalar<'a>(&self, s: &'a str) -> ScalarOut<'a> {
        let can_use_plain = match self.flavor {
            Flavor::SigsV2 => resolve_v2(s) == Resolved::Str && !is_base60_float(s),
            Flavor::V3 => !resolves_to_non_string_v3(s) && !is_base60_float(s) && !is_old_bool(s),
        };
        let style = if s.contains('\n') {
            Style::Literal
        } else if can_use_plain {
            Style::Plain
        } else {
            Style::DoubleQuoted
        };
        ScalarOut {
            text: Cow::Borrowed(s),
            style,
        }
    }

    fn node(&mut self, v: &Value, ctx: Ctx, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(
                "error marshaling into JSON: json: unsupported value: encountered a cycle via map[string]interface {}"
                    .into(),
            );
        }
        // An object's data view is printed in its place.
        if let Value::Object(o) = v {
            return match o.to_data() {
                Some(data) => self.node(&data, ctx, depth + 1),
                None => {
                    self.flow_empty('{', '}');
                    Ok(())
                }
            };
        }
        match self.classify(v)? {
            Node::Scalar(s) => {
                self.scalar(&s.text, s.style, ctx);
                Ok(())
            }
            Node::Seq(items) => {
                if items.is_empty() {
                    self.flow_empty('[', ']');
                    return Ok(());
                }
                self.block_sequence(items, ctx, depth)
            }
            Node::Map(entries) => {
                if entries.is_empty() {
                    self.flow_empty('{', '}');
                    return Ok(());
                }
                self.block_mapping(&entries, ctx, depth)
            }
        }
    }

    // ---- output primitives (put, put_break, write_indent, write_indicator) ----

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
        if self.flavor == Flavor::V3 {
            self.indention = true;
        }
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
            if self.flavor == Flavor::V3 {
                self.indention = true;
            }
        }
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        if self.flavor == Flavor::SigsV2 {
            self.indention = true;
        }
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { self.best_indent } else { 0 };
        } else if !indentless {
            if self.flavor == Flavor::V3 {
                if self.in_seq_item.last() == Some(&true) {
                    // v3: the first indent inside a sequence just skips the "- ".
                    self.indent += 2;
                } else {
                    self.indent =
                        self.best_indent * ((self.indent + self.best_indent) / self.best_indent);
                }
            } else {
                self.indent += self.best_indent;
            }
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    // ---- collections ----

    fn flow_empty(&mut self, open: char, close: char) {
        let mut buf = [0u8; 4];
        self.write_indicator(open.encode_utf8(&mut buf), true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator(close.encode_utf8(&mut buf), false, false, false);
    }

    fn block_sequence(&mut self, items: &[Value], ctx: Ctx, depth: usize) -> Result<(), String> {
        match self.flavor {
            Flavor::SigsV2 => self.increase_indent(false, ctx.mapping && !self.indention),
            Flavor::V3 => self.increase_indent(false, false),
        }
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.in_seq_item.push(true);
            let r = self.node(item, Ctx::SEQ_ITEM, depth + 1);
            self.in_seq_item.pop();
            r?;
        }
        self.pop_indent();
        Ok(())
    }

    fn block_mapping(
        &mut self,
        entries: &[(String, Value)],
        _ctx: Ctx,
        depth: usize,
    ) -> Result<(), String> {
        self.increase_indent(false, false);
        for (key, value) in entries {
            self.write_indent();
            let key_out = self.string_scalar(key);
            let analysis = analyze(key, self.flavor);
            // check_simple_key: single-line and at most 128 bytes.
            let simple = !analysis.multiline && key.len() <= 128;
            self.in_seq_item.push(false);
            if simple {
                self.scalar_analyzed(key, key_out.style, Ctx::SIMPLE_KEY, &analysis);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar_analyzed(key, key_out.style, Ctx::MAP_VALUE, &analysis);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            let r = self.node(value, Ctx::MAP_VALUE, depth + 1);
            self.in_seq_item.pop();
            r?;
        }
        self.pop_indent();
        Ok(())
    }

    // ---- scalars ----

    fn scalar(&mut self, value: &str, requested: Style, ctx: Ctx) {
        let analysis = analyze(value, self.flavor);
        self.scalar_analyzed(value, requested, ctx, &analysis);
    }

    fn scalar_analyzed(&mut self, value: &str, requested: Style, ctx: Ctx, a: &Analysis) {
        let style = self.select_style(value, requested, ctx, a);
        self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(value, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(value, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(value, allow_breaks),
            Style::Literal => self.write_literal(value),
        }
        self.pop_indent();
    }

    /// `yaml_emitter_select_scalar_style` for untagged, implicit scalars.
    fn select_style(&self, value: &str, requested: Style, ctx: Ctx, a: &Analysis) -> Style {
        let mut style = requested;
        if ctx.simple_key && a.multiline {
            style = Style::DoubleQuoted;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain_allowed)
                || (self.flow_level == 0 && !a.block_plain_allowed)
            {
                style = Style::SingleQuoted;
            }
            if value.is_empty() && (self.flow_level > 0 || ctx.simple_key) {
                style = Style::SingleQuoted;
            }
        }
        if style == Style::SingleQuoted && !a.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!a.block_allowed || self.flow_level > 0 || ctx.simple_key) {
            style = Style::DoubleQuoted;
        }
        style
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        let v3_empty = self.flavor == Flavor::V3 && value.is_empty();
        if !self.whitespace && !v3_empty {
            self.put(' ');
        }
        let mut spaces = false;
        let mut breaks = false;
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && chars.peek() != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if !v3_empty {
            self.whitespace = false;
        }
        self.indention = false;
    }

    fn write_single_quoted(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let len = value.len();
        let mut iter = value.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if c == ' ' {
                let next_is_space = iter.peek().map(|&(_, n)| n) == Some(' ');
                if allow_breaks
                    && !spaces
                    && self.column > self.best_width
                    && i > 0
                    && i + 1 < len
                    && !next_is_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        let len = value.len();
        let mut iter = value.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let short = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match short {
                    Some(s) => self.put(s),
                    None => {
                        let v = c as u32;
                        let (prefix, width) = if v <= 0xff {
                            ('x', 2)
                        } else if v <= 0xffff {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(prefix);
                        for k in (0..width).rev() {
                            let digit = (v >> (k * 4)) & 0xf;
                            self.put(char::from(b"0123456789ABCDEF"[digit as usize]));
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > self.best_width && i > 0 && i + 1 < len
                {
                    self.write_indent();
                    if iter.peek().map(|&(_, n)| n) == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation indicator when the text starts with a space or a
        // break, and the chomping indicator from its trailing breaks.
        let mut chars = value.chars();
        if let Some(first) = value.chars().next()
            && (first == ' ' || is_break(first))
        {
            let hint = char::from(b'0' + self.best_indent as u8);
            let mut buf = [0u8; 4];
            self.write_indicator(hint.encode_utf8(&mut buf), false, false, false);
        }
        let last = chars.next_back();
        let chomp = match last {
            None => Some("-"),
            Some(l) if !is_break(l) => Some("-"),
            Some(_) => match chars.next_back() {
                None => Some("+"),
                Some(p) if is_break(p) => Some("+"),
                Some(_) => None,
            },
        };
        if let Some(ch) = chomp {
            self.write_indicator(ch, false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// libyaml's `is_printable` as go-yaml applies it to UTF-8 bytes: no C0/C1 controls except
/// LF, no tab, no surrogates, no U+FEFF/U+FFFE/U+FFFF, and (a go-yaml quirk) nothing outside
/// the Basic Multilingual Plane.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    n == 0x0a
        || (0x20..=0x7e).contains(&n)
        || (0xa0..=0xd7ff).contains(&n)
        || ((0xe000..=0xfffd).contains(&n) && n != 0xfeff)
}

/// What `yaml_emitter_analyze_scalar` finds out about a scalar.
#[derive(Debug, Clone, Copy)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(value: &str, flavor: Flavor) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    let mut line_breaks = false;
    let mut special_characters = false;
    let mut tab_characters = false;
    let mut leading_space = false;
    let mut leading_break = false;
    let mut trailing_space = false;
    let mut trailing_break = false;
    let mut break_space = false;
    let mut space_break = false;
    let mut previous_space = false;
    let mut previous_break = false;

    if value.starts_with("---") || value.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let mut preceded_by_whitespace = true;
    let len = value.len();
    let mut iter = value.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next = iter.peek().map(|&(_, n)| n);
        let followed_by_whitespace = next.is_none_or(is_blank);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_whitespace {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if flavor == Flavor::V3 && c == '\t' {
            // v3 allows tabs in block scalars.
            tab_characters = true;
        } else if !is_printable(c) {
            special_characters = true;
        }
        let last = i + c.len_utf8() == len;
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank(c) || is_break(c) || c == '\0';
    }

    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || tab_characters || special_characters {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml's `keyList.Less` for string keys (as rune slices): letters after other
/// characters, runs of digits compared as numbers.
fn natural_less(ar: &[char], br: &[char]) -> bool {
    let is_digit = |c: char| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric());
    let digit_value = |c: char| i64::from(u32::from(c).wrapping_sub(u32::from('0')) as i32);
    let n = ar.len().min(br.len());
    for i in 0..n {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && is_digit(ar[j - 1]) {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(digit_value(ar[ai]));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(digit_value(br[bi]));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// Sorts entries with [`natural_less`]: a merge sort on decoded keys, so an inconsistent
/// order can never make it panic. Go's sort is not stable either, but every pair of distinct
/// keys is ordered, so the result is the same.
fn natural_sort(entries: &mut Vec<(String, Value)>) {
    if entries.len() < 2 {
        return;
    }
    let mut keyed: Vec<(Vec<char>, (String, Value))> = std::mem::take(entries)
        .into_iter()
        .map(|e| (e.0.chars().collect(), e))
        .collect();
    let cmp = |a: &(Vec<char>, (String, Value)), b: &(Vec<char>, (String, Value))| {
        if natural_less(&a.0, &b.0) {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    };
    let mut buf = Vec::with_capacity(keyed.len());
    merge_sort(&mut keyed, &mut buf, &cmp);
    entries.extend(keyed.into_iter().map(|(_, e)| e));
}

fn merge_sort<T, F: Fn(&T, &T) -> Ordering>(v: &mut Vec<T>, buf: &mut Vec<T>, cmp: &F) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let mut right = v.split_off(n / 2);
    merge_sort(v, buf, cmp);
    merge_sort(&mut right, buf, cmp);
    buf.clear();
    let mut left = std::mem::take(v).into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(a), Some(b)) => cmp(b, a) != Ordering::Less,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(x) = next {
            buf.push(x);
        }
    }
    std::mem::swap(v, buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    fn yaml(v: &Value) -> String {
        to_yaml_document(v, Flavor::SigsV2).unwrap()
    }

    fn check(v: Value, expect: &str) {
        assert_eq!(yaml(&v), expect, "value {v:?}");
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect::<Map>(),
        )
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn scalars() {
        check(Value::Nil, "null\n");
        check(Value::Bool(true), "true\n");
        check(Value::Int(42), "42\n");
        check(Value::Float(3.0), "3\n");
        check(Value::Float(0.5), "0.5\n");
        // JSON prints 1000000, which yaml.v2 reads back as an int.
        check(Value::Float(1e6), "1000000\n");
        // JSON prints 12345678.9, read back as float64 and printed with %g.
        check(Value::Float(12_345_678.9), "1.23456789e+07\n");
        check(Value::Float(0.000001), "1e-06\n");
        check(Value::Float(1e21), "1e+21\n");
        check(Value::Float(1e20), "1e+20\n");
        check(Value::Float(1e19), "10000000000000000000\n");
        check(Value::Float(-0.0), "0\n");
        check(s("hello"), "hello\n");
        check(s(""), "\"\"\n");
    }

    #[test]
    fn string_quoting() {
        let cases = [
            ("yes", "\"yes\"\n"),
            ("on", "\"on\"\n"),
            ("No", "\"No\"\n"),
            ("true", "\"true\"\n"),
            ("null", "\"null\"\n"),
            ("~", "\"~\"\n"),
            ("123", "\"123\"\n"),
            ("1.5", "\"1.5\"\n"),
            ("0x1F", "\"0x1F\"\n"),
            ("1e3", "\"1e3\"\n"),
            ("2001-12-14", "\"2001-12-14\"\n"),
            ("1:30", "\"1:30\"\n"),
            ("<<", "\"<<\"\n"),
            (".inf", "\".inf\"\n"),
            ("1e400", "1e400\n"),
            ("1.2.3", "1.2.3\n"),
            ("a: b", "'a: b'\n"),
            ("- a", "'- a'\n"),
            ("-a", "-a\n"),
            ("#x", "'#x'\n"),
            ("a #x", "'a #x'\n"),
            ("a#x", "a#x\n"),
            ("*ref", "'*ref'\n"),
            ("&a", "'&a'\n"),
            ("!tag", "'!tag'\n"),
            ("@x", "'@x'\n"),
            ("%x", "'%x'\n"),
            ("`x", "'`x'\n"),
            ("{a}", "'{a}'\n"),
            ("a{b}", "a{b}\n"),
            (" lead", "' lead'\n"),
            ("trail ", "'trail '\n"),
            ("it's", "it's\n"),
            ("'q'", "'''q'''\n"),
            ("\"q\"", "'\"q\"'\n"),
            ("a:b", "a:b\n"),
            ("a:", "'a:'\n"),
            ("?", "'?'\n"),
            ("---", "'---'\n"),
            ("tab\there", "\"tab\\there\"\n"),
            ("bell\u{7}", "\"bell\\a\"\n"),
            ("é ü", "é ü\n"),
            // go-yaml quirk: characters outside the BMP are escaped.
            ("smile 😀", "\"smile \\U0001F600\"\n"),
            ("nbsp\u{a0}x", "nbsp\u{a0}x\n"),
            ("cr\rx", "\"cr\\rx\"\n"),
            ("bom\u{feff}", "\"bom\\uFEFF\"\n"),
        ];
        for (input, expect) in cases {
            check(s(input), expect);
        }
    }

    #[test]
    fn block_literals() {
        check(s("a\nb"), "|-\n  a\n  b\n");
        check(s("a\nb\n"), "|\n  a\n  b\n");
        check(s("a\nb\n\n"), "|+\n  a\n  b\n\n");
        check(s("\n"), "|2+\n\n");
        check(s(" a\nb"), "|2-\n   a\n  b\n");
        check(s("\na"), "|2-\n\n  a\n");
        check(map(&[("k", s("x\ny\n"))]), "k: |\n  x\n  y\n");
        check(map(&[("k", s("x\n\ny"))]), "k: |-\n  x\n\n  y\n");
        // Trailing space or a tab rules out the block style.
        check(s("a \nb"), "\"a \\nb\"\n");
        check(s("a\tb\nc"), "\"a\\tb\\nc\"\n");
        check(Value::list(vec![s("a\nb")]), "- |-\n  a\n  b\n");
    }

    #[test]
    fn collections() {
        check(map(&[]), "{}\n");
        check(Value::list(vec![]), "[]\n");
        check(
            map(&[("b", Value::Int(1)), ("a", map(&[("c", s("d"))]))]),
            "a:\n  c: d\nb: 1\n",
        );
        check(
            map(&[("list", Value::list(vec![s("a"), s("b")]))]),
            "list:\n- a\n- b\n",
        );
        check(
            map(&[(
                "l",
                Value::list(vec![map(&[("x", Value::Int(1)), ("y", Value::Int(2))])]),
            )]),
            // yaml.v2 quirk: `y` would read back as a boolean, so the key is quoted.
            "l:\n- x: 1\n  \"y\": 2\n",
        );
        check(
            Value::list(vec![Value::list(vec![s("a"), s("b")]), s("c")]),
            "- - a\n  - b\n- c\n",
        );
        check(
            map(&[
                ("e", map(&[])),
                ("f", Value::list(vec![])),
                ("n", Value::Nil),
            ]),
            "e: {}\nf: []\n\"n\": null\n",
        );
        check(
            Value::list(vec![map(&[]), Value::list(vec![])]),
            "- {}\n- []\n",
        );
        check(
            map(&[(
                "a",
                map(&[("b", map(&[("c", Value::list(vec![Value::Int(1)]))]))]),
            )]),
            "a:\n  b:\n    c:\n    - 1\n",
        );
        check(map(&[("", Value::Int(1))]), "\"\": 1\n");
        check(map(&[("yes", Value::Int(1))]), "\"yes\": 1\n");
        check(map(&[("a b", Value::Int(1))]), "a b: 1\n");
        check(map(&[("a\nb", Value::Int(1))]), "? |-\n  a\n  b\n: 1\n");
    }

    #[test]
    fn key_order_is_natural() {
        let keys = ["a10", "a2", "a1", "B", "b", "_x", "1", "10", "9", "a01"];
        let m: Map = keys.iter().map(|k| (k.to_string(), Value::Nil)).collect();
        let out = yaml(&Value::Map(m));
        let order: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
        // Digit runs compare as numbers; a non-digit counts as 0 against a digit run.
        assert_eq!(
            order,
            [
                "_x", "\"1\"", "\"9\"", "\"10\"", "B", "a1", "a01", "a2", "a10", "b"
            ]
        );
    }

    #[test]
    fn long_strings_fold_at_80_columns() {
        let words = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore";
        let out = yaml(&map(&[("description", s(words))]));
        assert_eq!(
            out,
            "description: lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n  tempor incididunt ut labore\n"
        );
        let quoted = format!("{words}: x");
        let out = yaml(&map(&[("k", s(&quoted))]));
        assert_eq!(
            out,
            // The space after "tempor" is at column 80, not past it, so the fold comes later.
            "k: 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt\n  ut labore: x'\n"
        );
        let long_word = "x".repeat(100);
        assert_eq!(
            yaml(&map(&[("k", s(&long_word))])),
            format!("k: {long_word}\n")
        );
    }

    #[test]
    fn non_finite_floats_fail() {
        assert_eq!(
            to_yaml_document(&Value::Float(f64::INFINITY), Flavor::SigsV2),
            Err("error marshaling into JSON: json: unsupported value: +Inf".into())
        );
    }

    #[test]
    fn v3_pretty() {
        let v = map(&[
            (
                "list",
                Value::list(vec![s("a"), map(&[("x", Value::Int(1)), ("y", s("yes"))])]),
            ),
            ("f", Value::Float(1e6)),
        ]);
        assert_eq!(
            to_yaml_document(&v, Flavor::V3).unwrap(),
            "f: 1e+06\nlist:\n  - a\n  - x: 1\n    \"y\": \"yes\"\n"
        );
    }
}
