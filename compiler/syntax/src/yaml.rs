//! A YAML reader that keeps where every node was written: a small tree of nodes with byte spans,
//! built from `saphyr-parser` events, with YAML 1.2 core-schema scalars, anchors, aliases and
//! `<<` merges, and every duplicate key reported.
//!
//! Problems are returned as data ([`Problem`]); the loader turns them into diagnostics.

use std::collections::HashMap;
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

/// Deeper collections than this are refused (the tree is walked recursively).
pub const MAX_DEPTH: usize = 64;
/// Aliases may not expand the document beyond this many nodes ("billion laughs").
pub const MAX_NODES: usize = 100_000;

/// One YAML node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// Byte range in the file. Quoted scalars include their quotes; block scalars start at
    /// their first content line.
    pub span: Range<usize>,
    /// How a scalar was written; `None` for collections.
    pub style: Option<ScalarStyle>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

impl Node {
    /// What kind of value this is, for messages ("expected a string, found a list").
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_scalar(&self) -> bool {
        !matches!(self.kind, Kind::Seq(_) | Kind::Map(_))
    }
}

/// A problem found while reading a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// `yaml::syntax`, `yaml::duplicate-key`, `yaml::limit`.
    pub code: &'static str,
    pub message: String,
    pub span: Range<usize>,
    /// A second place worth showing (the first definition of a duplicate key).
    pub related: Option<(Range<usize>, String)>,
    pub help: Option<String>,
}

/// The first document of a file, and the problems met reading it.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// `None` when the file is empty or does not parse.
    pub root: Option<Node>,
    pub problems: Vec<Problem>,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<Entry>,
        merges: Vec<Node>,
        key: Option<Node>,
        start: usize,
        anchor: usize,
    },
}

struct Builder<'t> {
    text: &'t str,
    /// Byte offset of every character index (plus the end).
    char_bytes: Vec<usize>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    problems: Vec<Problem>,
}

/// Reads the first document of `text`.
pub fn parse(text: &str) -> Parsed {
    let mut char_bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    char_bytes.push(text.len());
    let mut b = Builder {
        text,
        char_bytes,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        root: None,
        problems: Vec::new(),
    };
    let mut documents = 0;
    for event in Parser::new_from_str(text) {
        match event {
            Err(e) => {
                b.syntax(&e);
                return Parsed {
                    root: None,
                    problems: b.problems,
                };
            }
            Ok((Event::DocumentStart(_), span)) => {
                documents += 1;
                if documents > 1 {
                    let at = b.byte(span.start.index());
                    b.problems.push(Problem {
                        code: "yaml::syntax",
                        message: "expected one YAML document, found several".into(),
                        span: at..at,
                        related: None,
                        help: Some("remove the `---` and what follows it".into()),
                    });
                    break;
                }
            }
            Ok((event, span)) => {
                if let Err(p) = b.event(event, span) {
                    b.problems.push(p);
                    return Parsed {
                        root: None,
                        problems: b.problems,
                    };
                }
            }
        }
    }
    Parsed {
        root: b.root,
        problems: b.problems,
    }
}

impl Builder<'_> {
    fn byte(&self, char_index: usize) -> usize {
        self.char_bytes
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn span(&self, span: &Span) -> Range<usize> {
        let start = self.byte(span.start.index());
        let end = self.byte(span.end.index()).max(start);
        start..end
    }

    fn syntax(&mut self, e: &ScanError) {
        let at = self.byte(e.marker().index());
        self.problems.push(Problem {
            code: "yaml::syntax",
            message: format!("invalid YAML: {}", e.info()),
            span: at..at,
            related: None,
            help: None,
        });
    }

    fn limit(&self, span: Range<usize>, message: String) -> Problem {
        Problem {
            code: "yaml::limit",
            message,
            span,
            related: None,
            help: None,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Problem> {
        let range = self.span(&span);
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let kind = if style == ScalarStyle::Plain && !is_str_tag {
                    resolve_plain(&value)
                } else {
                    Kind::Str(value.into_owned())
                };
                let node = Node {
                    kind,
                    span: range,
                    style: Some(style),
                };
                self.add(node, anchor)
            }
            Event::Alias(id) => {
                let Some(node) = self.anchors.get(&id).cloned() else {
                    return Err(Problem {
                        code: "yaml::syntax",
                        message: "unknown anchor".into(),
                        span: range,
                        related: None,
                        help: None,
                    });
                };
                self.nodes += count(&node);
                if self.nodes > MAX_NODES {
                    return Err(self.limit(
                        range,
                        format!("aliases expand this document beyond {MAX_NODES} nodes"),
                    ));
                }
                // The alias stands where it is written.
                let node = Node {
                    span: range,
                    ..node
                };
                self.add(node, 0)
            }
            Event::SequenceStart(anchor, _) => {
                self.open(range.clone())?;
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    start: range.start,
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.open(range.clone())?;
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                    start: range.start,
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (node, anchor) = match frame {
                    Frame::Seq {
                        items,
                        start,
                        anchor,
                    } => (
                        Node {
                            kind: Kind::Seq(items),
                            span: start..range.end.max(start),
                            style: None,
                        },
                        anchor,
                    ),
                    Frame::Map {
                        mut entries,
                        merges,
                        start,
                        anchor,
                        ..
                    } => {
                        merge(&mut entries, merges);
                        (
                            Node {
                                kind: Kind::Map(entries),
                                span: start..range.end.max(start),
                                style: None,
                            },
                            anchor,
                        )
                    }
                };
                self.add(node, anchor)
            }
            _ => Ok(()),
        }
    }

    fn open(&mut self, span: Range<usize>) -> Result<(), Problem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.limit(
                span,
                format!("collections are nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), Problem> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.limit(
                node.span,
                format!("the document has more than {MAX_NODES} nodes"),
            ));
        }
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merges,
                key,
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if k.style == Some(ScalarStyle::Plain) && k.as_str() == Some("<<") {
                        merges.push(node);
                        return Ok(());
                    }
                    if let Some(first) = entries.iter().find(|e| same_key(&e.key, &k)) {
                        let shown = key_text(&k);
                        self.problems.push(Problem {
                            code: "yaml::duplicate-key",
                            message: format!("duplicate key `{shown}`"),
                            span: k.span.clone(),
                            related: Some((first.key.span.clone(), "first defined here".into())),
                            help: Some("a key may appear once in a mapping; remove one".into()),
                        });
                        return Ok(());
                    }
                    entries.push(Entry {
                        key: k,
                        value: node,
                    });
                }
            },
        }
        Ok(())
    }
}

fn count(node: &Node) -> usize {
    match &node.kind {
        Kind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|e| count(&e.key) + count(&e.value))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// `<<: *base` (or a list of them) adds the keys the mapping does not set itself.
fn merge(entries: &mut Vec<Entry>, merges: Vec<Node>) {
    for m in merges {
        let sources = match m.kind {
            Kind::Map(es) => vec![es],
            Kind::Seq(items) => items
                .into_iter()
                .filter_map(|n| match n.kind {
                    Kind::Map(es) => Some(es),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for source in sources {
            for e in source {
                if !entries.iter().any(|x| same_key(&x.key, &e.key)) {
                    entries.push(e);
                }
            }
        }
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    a.kind == b.kind
}

/// A key as the user would name it in a message.
pub fn key_text(node: &Node) -> String {
    match &node.kind {
        Kind::Str(s) => s.clone(),
        Kind::Null => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => f.to_string(),
        Kind::Seq(_) => "[…]".into(),
        Kind::Map(_) => "{…}".into(),
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn resolve_plain(s: &str) -> Kind {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Kind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Kind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Kind::Float(f64::NAN),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return Kind::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return Kind::Float(f);
        }
    }
    if let Some(hex) = s.strip_prefix("0x")
        && !hex.is_empty()
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Kind::Int(i);
    }
    if let Some(oct) = s.strip_prefix("0o")
        && !oct.is_empty()
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Kind::Int(i);
    }
    if is_float(digits)
        && let Ok(f) = s.parse::<f64>()
    {
        return Kind::Float(f);
    }
    Kind::Str(s.to_owned())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// A node as JSON (what Kubernetes or a JSON Schema reads of it): mappings keyed by their
/// keys' text.
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value;
    match &node.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Int(i) => Value::from(*i),
        Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Kind::Str(s) => Value::String(s.clone()),
        Kind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        Kind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|e| (key_text(&e.key), to_json(&e.value)))
                .collect(),
        ),
    }
}

/// For a string scalar, the byte offset in `file` of every byte of its value (and of its end),
/// so that a position inside the value (a CEL error, a template error) can be shown where it
/// was written. `None` when the value cannot be aligned with its source (then point at the
/// scalar itself).
pub fn string_offsets(file: &str, node: &Node) -> Option<Vec<usize>> {
    let value = node.as_str()?;
    let style = node.style?;
    let src = file.get(node.span.clone())?;
    let base = node.span.start;
    let mut map = Vec::with_capacity(value.len() + 1);
    // Skip the opening quote.
    let mut pos = match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => 1,
        _ => 0,
    };
    for c in value.chars() {
        let at = find_source_char(src, &mut pos, c, style)?;
        let exact = src[at..].starts_with(c);
        for i in 0..c.len_utf8() {
            map.push(base + at + if exact { i } else { 0 });
        }
    }
    map.push(base + pos.min(src.len()));
    Some(map)
}

/// Finds, from `*pos` on, the source character that produced value character `c`, and moves
/// `*pos` past it.
fn find_source_char(src: &str, pos: &mut usize, c: char, style: ScalarStyle) -> Option<usize> {
    loop {
        let rest = src.get(*pos..)?;
        let s = rest.chars().next()?;
        let here = *pos;
        match style {
            ScalarStyle::DoubleQuoted if s == '\\' => {
                let mut it = rest.chars().skip(1);
                let e = it.next()?;
                let len = match e {
                    'x' => 4,
                    'u' => 6,
                    'U' => 10,
                    '\n' => {
                        // A line continuation produces nothing.
                        *pos += 2;
                        continue;
                    }
                    _ => 2,
                };
                let len_bytes: usize = rest.chars().take(len).map(char::len_utf8).sum();
                *pos += len_bytes;
                return Some(here);
            }
            ScalarStyle::SingleQuoted if s == '\'' && c == '\'' => {
                // `''` is one quote.
                *pos += 2;
                return Some(here);
            }
            _ => {}
        }
        if s == c || (c == ' ' && s == '\n') || (c == '\n' && s == '\n') {
            *pos += s.len_utf8();
            return Some(here);
        }
        // Indentation, folded line breaks and the like produce nothing; anything else means the
        // alignment failed.
        if !(s == ' ' || s == '\t' || s == '\n' || s == '\r') {
            return None;
        }
        *pos += s.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(node: &Node) -> String {
        match &node.kind {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => format!("int {i}"),
            Kind::Float(f) => format!("float {f}"),
            Kind::Str(s) => format!("{s:?}"),
            Kind::Seq(items) => format!(
                "[{}]",
                items.iter().map(shape).collect::<Vec<_>>().join(", ")
            ),
            Kind::Map(es) => format!(
                "{{{}}}",
                es.iter()
                    .map(|e| format!("{}: {}", shape(&e.key), shape(&e.value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn check(input: &str, expect: &str) {
        let p = parse(input);
        let mut got = p.root.as_ref().map_or("none".into(), shape);
        for problem in &p.problems {
            got.push_str(&format!(
                " !{} {} @{:?}",
                problem.code, problem.message, problem.span
            ));
        }
        assert_eq!(got, expect, "{input:?}");
    }

    #[test]
    fn scalars_resolve_with_the_core_schema() {
        check("a: 1", r#"{"a": int 1}"#);
        check("a: -0x1", r#"{"a": "-0x1"}"#);
        check("a: 0x1f", r#"{"a": int 31}"#);
        check("a: 0o17", r#"{"a": int 15}"#);
        check("a: 1.5", r#"{"a": float 1.5}"#);
        check("a: 1.10", r#"{"a": float 1.1}"#);
        check("a: 1.2.3", r#"{"a": "1.2.3"}"#);
        check("a: .5e3", r#"{"a": float 500}"#);
        check("a: '1'", r#"{"a": "1"}"#);
        check("a: !!str 1", r#"{"a": "1"}"#);
        check("a: yes", r#"{"a": "yes"}"#);
        check("a: True", r#"{"a": true}"#);
        check("a: ~", r#"{"a": null}"#);
        check("a:", r#"{"a": null}"#);
        check(
            "a: 99999999999999999999",
            r#"{"a": float 100000000000000000000}"#,
        );
        check("", "none");
    }

    #[test]
    fn collections_and_merges() {
        check("a: [1, {b: c}]", r#"{"a": [int 1, {"b": "c"}]}"#);
        check(
            "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n",
            r#"{"base": {"x": int 1, "y": int 2}, "c": {"y": int 3, "x": int 1}}"#,
        );
        check("a: &a [1]\nb: *a\n", r#"{"a": [int 1], "b": [int 1]}"#);
    }

    #[test]
    fn problems_are_reported_with_spans() {
        check(
            "a: 1\nb: 2\na: 3\n",
            r#"{"a": int 1, "b": int 2} !yaml::duplicate-key duplicate key `a` @10..11"#,
        );
        check(
            "a: [1\n",
            "none !yaml::syntax invalid YAML: while parsing a flow sequence, expected ',' or ']' @6..6",
        );
        check(
            "a: 1\n---\nb: 2\n",
            r#"{"a": int 1} !yaml::syntax expected one YAML document, found several @5..5"#,
        );
        check(
            "a: *nope",
            "none !yaml::syntax invalid YAML: while parsing node, found unknown anchor @3..3",
        );
    }

    #[test]
    fn nesting_and_alias_bombs_are_bounded() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let p = parse(&deep);
        assert!(p.root.is_none());
        assert_eq!(p.problems[0].code, "yaml::limit");
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let p = parse(&bomb);
        assert!(p.root.is_none());
        assert_eq!(p.problems[0].code, "yaml::limit");
    }

    /// The source text each value byte maps back to, as `value byte -> source char`.
    fn offsets(input: &str) -> String {
        let p = parse(input);
        let root = p.root.unwrap();
        let Kind::Map(es) = &root.kind else { panic!() };
        let node = &es[0].value;
        match string_offsets(input, node) {
            None => "none".into(),
            Some(map) => node
                .as_str()
                .unwrap()
                .char_indices()
                .map(|(i, _)| input[map[i]..].chars().next().unwrap_or('$'))
                .collect(),
        }
    }

    #[test]
    fn string_offsets_follow_every_style() {
        assert_eq!(offsets("s: a == 'b'"), "a == 'b'");
        assert_eq!(offsets("s: 'it''s'"), "it's");
        assert_eq!(offsets(r#"s: "a\tb""#), "a\\b");
        assert_eq!(offsets("s: |\n  a\n  b\n"), "a\nb\n");
        assert_eq!(offsets("s: >\n  a\n  b\n"), "a\nb\n");
        assert_eq!(offsets("s: a\n  b"), "a\nb");
        assert_eq!(offsets("s: 'é x'"), "é x");
    }
}
