//! The YAML reader: `sigs.k8s.io/yaml.Unmarshal` into `interface{}`, i.e. go-yaml v2's decoder
//! (YAML 1.1 scalar resolution, merge keys, aliases, first document only) followed by the JSON
//! round trip (string keys, float64 numbers). Events come from `saphyr-parser`; everything
//! after the event stream follows the Go code, including its error messages.

use std::collections::{BTreeMap, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use super::DecodeError;
use super::json::{MAX_DEPTH, go_quote};
use super::resolve::{
    Resolved, Scalar, TAG_PREFIX, format_float_g, is_timestamp, parse_go_float, resolve_v2,
    short_tag,
};
use crate::value::{Map, Value};

const WRAP: &str = "error converting YAML to JSON: ";

/// `sigs.k8s.io/yaml.Unmarshal(text, &interface{})`.
pub(crate) fn unmarshal(text: &str) -> Result<Value, DecodeError> {
    if let Some(pos) = text.char_indices().find(|&(_, c)| !yaml_char_allowed(c)) {
        let (line, column) = super::json::line_col(text, pos.0);
        return Err(DecodeError {
            message: format!("{WRAP}yaml: control characters are not allowed"),
            line: Some(line),
            column: Some(column),
        });
    }
    // saphyr refuses a tab after `:` or `-` in some places where libyaml takes it as the
    // separating blank; such a tab is never content, so it is retried as a space.
    let mut patched: Option<String> = None;
    let mut retries = 0;
    let b = loop {
        let current = patched.as_deref().unwrap_or(text);
        let mut b = Builder {
            text: current,
            stack: Vec::new(),
            anchors: HashMap::new(),
            decode_count: 0,
            alias_count: 0,
            key_error: None,
            nonfinite: false,
            root: None,
        };
        match b.run() {
            Ok(()) => break b,
            Err(e) => match untab_separator(current, &e) {
                Some(fixed) if retries < 100 => {
                    retries += 1;
                    patched = Some(fixed);
                }
                _ => return Err(e),
            },
        }
    };
    if let Some(message) = b.key_error {
        return Err(DecodeError {
            message: format!("{WRAP}{message}"),
            line: None,
            column: None,
        });
    }
    let root = b.root.unwrap_or(Value::Nil);
    if b.nonfinite
        && let Some(f) = first_nonfinite(&root)
    {
        return Err(DecodeError {
            message: format!(
                "{WRAP}json: unsupported value: {}",
                format_float_g(f, false)
            ),
            line: None,
            column: None,
        });
    }
    Ok(root)
}

/// For saphyr's "must be followed by a valid YAML whitespace" errors: the text with the tabs
/// just before the error position turned into spaces, or `None` when there are none.
fn untab_separator(text: &str, e: &DecodeError) -> Option<String> {
    if !e
        .message
        .ends_with("must be followed by a valid YAML whitespace")
    {
        return None;
    }
    let (line, column) = (e.line?, e.column?);
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let line_text = &text[line_start..];
    let pos = line_start
        + line_text
            .char_indices()
            .nth(column - 1)
            .map_or(line_text.len(), |(i, _)| i);
    let before = &text[..pos];
    let tabs = before.len() - before.trim_end_matches('\t').len();
    if tabs == 0 {
        return None;
    }
    let mut fixed = String::with_capacity(text.len());
    fixed.push_str(&before[..before.len() - tabs]);
    fixed.extend(std::iter::repeat_n(' ', tabs));
    fixed.push_str(&text[pos..]);
    Some(fixed)
}

/// libyaml's reader check: printable characters, tab and line breaks only.
fn yaml_char_allowed(c: char) -> bool {
    let n = c as u32;
    matches!(n, 0x09 | 0x0a | 0x0d | 0x85)
        || (0x20..=0x7e).contains(&n)
        || (0xa0..=0xd7ff).contains(&n)
        || (0xe000..=0xfffd).contains(&n)
        || (0x10000..=0x10ffff).contains(&n)
}

/// The first NaN or ±Inf in `encoding/json`'s walk order (sorted keys).
fn first_nonfinite(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) if !f.is_finite() => Some(*f),
        Value::List(items) => items.iter().find_map(first_nonfinite),
        Value::Map(m) => m.with(|entries| entries.values().find_map(first_nonfinite)),
        _ => None,
    }
}

/// What is waiting for the next node of a mapping.
enum Slot {
    /// The next node is a key.
    Key,
    /// The next node is the value of this key.
    Value(String),
    /// The next node is the value of a `<<` merge key.
    Merge,
    /// The key cannot become a JSON key; the error is reported with the value (and the
    /// pair dropped) once the value is known.
    BadKey(Scalar),
}

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        start_count: u64,
        span: Span,
    },
    Map {
        entries: BTreeMap<String, Value>,
        slot: Slot,
        anchor: usize,
        start_count: u64,
        span: Span,
    },
}

impl Frame {
    fn anchor(&self) -> usize {
        match self {
            Frame::Seq { anchor, .. } | Frame::Map { anchor, .. } => *anchor,
        }
    }
}

struct Anchored {
    value: Value,
    /// For scalars: what it resolved to (map keys need the type, not the JSON value).
    scalar: Option<Scalar>,
    /// Decode operations the node cost, for the alias ratio check.
    nodes: u64,
}

/// A finished node on its way into its parent.
struct Done {
    value: Value,
    scalar: Option<Scalar>,
    from_alias: bool,
    span: Span,
}

struct Builder<'a> {
    text: &'a str,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    decode_count: u64,
    alias_count: u64,
    key_error: Option<String>,
    nonfinite: bool,
    root: Option<Value>,
}

impl Builder<'_> {
    fn fail_at(&self, span: Span, message: String) -> DecodeError {
        DecodeError {
            message: format!("{WRAP}yaml: {message}"),
            line: Some(span.start.line()),
            column: Some(span.start.col() + 1),
        }
    }

    fn run(&mut self) -> Result<(), DecodeError> {
        let mut parser = Parser::new_from_str(self.text);
        let mut depth_in_doc = false;
        loop {
            let (event, span) = match parser.next_event() {
                None => return Ok(()),
                Some(Ok(ev)) => ev,
                Some(Err(e)) => return Err(self.scan_error(&e)),
            };
            match event {
                Event::StreamStart | Event::Nothing => {}
                Event::StreamEnd => return Ok(()),
                Event::DocumentStart(_) => depth_in_doc = true,
                // Only the first document is read, as yaml.Unmarshal does.
                Event::DocumentEnd => {
                    if depth_in_doc {
                        return Ok(());
                    }
                }
                Event::Alias(id) => self.alias(id, span)?,
                Event::Scalar(value, style, anchor, tag) => {
                    if value.is_empty()
                        && style == ScalarStyle::Plain
                        && anchor == 0
                        && tag.is_none()
                        && let Some(e) = self.missing_key(span)
                    {
                        return Err(e);
                    }
                    let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                    self.scalar(&value, style, anchor, tag.as_deref(), span)?;
                }
                Event::SequenceStart(anchor, _) => {
                    self.open(span)?;
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        start_count: self.decode_count,
                        span,
                    });
                }
                Event::MappingStart(anchor, _) => {
                    self.open(span)?;
                    self.stack.push(Frame::Map {
                        entries: BTreeMap::new(),
                        slot: Slot::Key,
                        anchor,
                        start_count: self.decode_count,
                        span,
                    });
                }
                Event::SequenceEnd | Event::MappingEnd => self.close()?,
            }
        }
    }

    fn count(&mut self, nodes: u64, aliased: bool, span: Span) -> Result<(), DecodeError> {
        self.decode_count += nodes;
        if aliased {
            self.alias_count += nodes;
        }
        let (d, a) = (self.decode_count, self.alias_count);
        if a > 100 && d > 1000 && (a as f64) / (d as f64) > allowed_alias_ratio(d) {
            return Err(self.fail_at(span, "document contains excessive aliasing".into()));
        }
        Ok(())
    }

    fn open(&mut self, span: Span) -> Result<(), DecodeError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(DecodeError {
                message: format!(
                    "{WRAP}yaml: line {}: exceeded max depth of {MAX_DEPTH}",
                    span.start.line()
                ),
                line: Some(span.start.line()),
                column: Some(span.start.col() + 1),
            });
        }
        self.count(1, false, span)
    }

    fn close(&mut self) -> Result<(), DecodeError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (value, anchor, start_count, span) = match frame {
            Frame::Seq {
                items,
                anchor,
                start_count,
                span,
            } => (Value::list(items), anchor, start_count, span),
            Frame::Map {
                entries,
                anchor,
                start_count,
                span,
                ..
            } => (
                Value::Map(Map::from_btree(entries)),
                anchor,
                start_count,
                span,
            ),
        };
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: value.clone(),
                    scalar: None,
                    nodes: self.decode_count - start_count,
                },
            );
        }
        self.attach(Done {
            value,
            scalar: None,
            from_alias: false,
            span,
        })
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), DecodeError> {
        if self.stack.iter().any(|f| f.anchor() == id) {
            let name = self.alias_name(span);
            return Err(self.fail_at(span, format!("anchor '{name}' value contains itself")));
        }
        let Some(anchored) = self.anchors.get(&id) else {
            let name = self.alias_name(span);
            return Err(self.fail_at(span, format!("unknown anchor '{name}' referenced")));
        };
        let (nodes, scalar) = (anchored.nodes, anchored.scalar.clone());
        self.count(1, false, span)?;
        self.count(nodes, true, span)?;
        // Each expansion is a fresh copy: after the JSON round trip nothing is shared.
        let value = self
            .anchors
            .get(&id)
            .map(|a| a.value.deep_copy())
            .unwrap_or_default();
        self.attach(Done {
            value,
            scalar,
            from_alias: true,
            span,
        })
    }

    /// The name of the alias at `span` (`*name`), read from the source.
    fn alias_name(&self, span: Span) -> String {
        let rest: String = self.text.chars().skip(span.start.index()).collect();
        let rest = rest.strip_prefix('*').unwrap_or(&rest);
        rest.chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
            .collect()
    }

    fn scalar(
        &mut self,
        value: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&str>,
        span: Span,
    ) -> Result<(), DecodeError> {
        self.count(1, false, span)?;
        // go-yaml's `implicit`: plain and untagged, or tagged with the bare `!`.
        let implicit = (tag.is_none() && style == ScalarStyle::Plain) || tag == Some("!");
        // A `<<` key (plain, or tagged !!merge) starts a merge.
        if let Some(Frame::Map { slot, .. }) = self.stack.last_mut()
            && matches!(slot, Slot::Key)
            && value == "<<"
            && (implicit || tag == Some("tag:yaml.org,2002:merge"))
        {
            *slot = Slot::Merge;
            return Ok(());
        }
        let scalar = match decode_scalar(value, implicit, tag) {
            Ok(s) => s,
            Err(message) => return Err(self.fail_at(span, message)),
        };
        let v = match &scalar {
            Scalar::Null => Value::Nil,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Int(i) => Value::Float(*i as f64),
            Scalar::Uint(u) => Value::Float(*u as f64),
            Scalar::Float(f) => {
                if !f.is_finite() {
                    self.nonfinite = true;
                }
                Value::Float(*f)
            }
            Scalar::Str(s) => Value::String(s.clone()),
        };
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    value: v.clone(),
                    scalar: Some(scalar.clone()),
                    nodes: 1,
                },
            );
        }
        self.attach(Done {
            value: v,
            scalar: Some(scalar),
            from_alias: false,
            span,
        })
    }

    /// Puts a finished node into its parent (or makes it the document).
    fn attach(&mut self, done: Done) -> Result<(), DecodeError> {
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(done.value);
            return Ok(());
        };
        let Frame::Map { entries, slot, .. } = top else {
            if let Frame::Seq { items, .. } = top {
                items.push(done.value);
            }
            return Ok(());
        };
        match std::mem::replace(slot, Slot::Key) {
            Slot::Key => {
                let key = match done.scalar {
                    Some(s) => s,
                    None => {
                        let shown = go_sharp_v(&done.value);
                        return Err(self.fail_at(done.span, format!("invalid map key: {shown}")));
                    }
                };
                *slot = match json_key(&key) {
                    Some(k) => Slot::Value(k),
                    None => Slot::BadKey(key),
                };
            }
            Slot::Value(k) => {
                entries.insert(k, done.value);
            }
            Slot::BadKey(key) => {
                if self.key_error.is_none() {
                    self.key_error = Some(bad_key_message(&key, &done.value));
                }
            }
            Slot::Merge => {
                // Merged keys override what is already there (a yaml.v2 quirk); in a list of
                // maps the earlier maps win.
                let merged = match &done.value {
                    Value::Map(m) => Some(vec![m.clone()]),
                    Value::List(items) if !done.from_alias => items
                        .iter()
                        .rev()
                        .map(|v| v.as_map().cloned())
                        .collect::<Option<Vec<Map>>>(),
                    _ => None,
                };
                let Some(maps) = merged else {
                    return Err(self.fail_at(
                        done.span,
                        "map merge requires map or sequence of maps as the value".into(),
                    ));
                };
                for m in maps {
                    m.with(|src| {
                        for (k, v) in src {
                            entries.insert(k.clone(), v.clone());
                        }
                    });
                }
            }
        }
        Ok(())
    }

    /// libyaml's parser error for a token where it did not belong, which saphyr reports from
    /// its scanner: the message depends on what the parser was reading (a block mapping's key
    /// or value, a sequence item, the document).
    fn contextual_message(&self, info: &str) -> Option<&'static str> {
        let misplaced = match info {
            "invalid trailing content after double-quoted scalar" => false,
            "misplaced bracket" => true,
            _ => return None,
        };
        Some(match self.stack.last() {
            Some(Frame::Map {
                slot: Slot::Value(_) | Slot::Merge | Slot::BadKey(_),
                ..
            }) if misplaced => "did not find expected node content",
            Some(Frame::Map { .. }) => "did not find expected key",
            Some(Frame::Seq { .. }) => "did not find expected '-' indicator",
            None if misplaced => "did not find expected node content",
            None => "did not find expected <document start>",
        })
    }

    /// A block mapping entry without a key (`: x`): go-yaml's parser wants a key there, where
    /// saphyr reads an empty one. `None` when `span` (an empty plain scalar) is something else.
    fn missing_key(&self, span: Span) -> Option<DecodeError> {
        let Some(Frame::Map {
            slot: Slot::Key,
            span: map_span,
            ..
        }) = self.stack.last()
        else {
            return None;
        };
        let char_at = |index: usize| self.text.chars().nth(index);
        if char_at(span.start.index()) != Some(':') || char_at(map_span.start.index()) == Some('{')
        {
            return None;
        }
        // A parser error: go-yaml names the 0-based line of the ':', else of the mapping.
        let line = span.start.line().saturating_sub(1);
        let context = map_span.start.line().saturating_sub(1);
        let shown = if line != 0 { line } else { context };
        let message = if shown == 0 {
            "yaml: did not find expected key".to_string()
        } else {
            format!("yaml: line {shown}: did not find expected key")
        };
        Some(DecodeError {
            message: format!("{WRAP}{message}"),
            line: Some(span.start.line()),
            column: Some(span.start.col() + 1),
        })
    }

    /// A parser error with go-yaml's message and its line convention: scanner errors name the
    /// 1-based line, parser errors the 0-based one, and neither names line 0.
    fn scan_error(&self, e: &ScanError) -> DecodeError {
        let info = e.info();
        let mark = e.marker();
        let (line, column) = (mark.line(), mark.col() + 1);
        let at = |message: String| DecodeError {
            message: format!("{WRAP}{message}"),
            line: Some(line),
            column: Some(column),
        };
        if info == "while parsing node, found unknown anchor" {
            let span = Span::empty(*mark);
            let name = self.alias_name(span);
            return at(format!("yaml: unknown anchor '{name}' referenced"));
        }
        let (problem, parser_error) = match self.contextual_message(info) {
            Some(problem) => (problem.to_string(), true),
            None => map_scan_message(info),
        };
        // libyaml notices an unterminated scalar at the end of the input, and a tab where it
        // reads it (saphyr marks the scalar before it).
        let line = if problem == "found unexpected end of stream" {
            self.text.matches('\n').count() + 1
        } else if problem == "found a tab character that violates indentation" {
            let before: String = self.text.chars().skip(mark.index()).collect();
            let upto = before.find('\t').unwrap_or(0);
            line + before[..upto].matches('\n').count()
        } else {
            line
        };
        let shown = if parser_error {
            line.saturating_sub(1)
        } else {
            line
        };
        let shown = if parser_error || line > 1 { shown } else { 0 };
        if shown == 0 {
            at(format!("yaml: {problem}"))
        } else {
            at(format!("yaml: line {shown}: {problem}"))
        }
    }
}

/// saphyr's messages in libyaml's words, and whether libyaml reports it from its parser
/// (as opposed to its scanner).
fn map_scan_message(info: &str) -> (String, bool) {
    let parser = [
        (
            "while parsing a block mapping, did not find expected key",
            "did not find expected key",
        ),
        (
            "while parsing a flow mapping, did not find expected ',' or '}'",
            "did not find expected ',' or '}'",
        ),
        (
            "while parsing a flow sequence, expected ',' or ']'",
            "did not find expected ',' or ']'",
        ),
        (
            "while parsing a block collection, did not find expected '-' indicator",
            "did not find expected '-' indicator",
        ),
        (
            "while parsing a node, did not find expected node content",
            "did not find expected node content",
        ),
        (
            "did not find expected <document start>",
            "did not find expected <document start>",
        ),
        (
            "did not find expected <document-start>",
            "did not find expected <document start>",
        ),
        ("the handle wasn't declared", "found undefined tag handle"),
        (
            "duplicate version directive",
            "found duplicate %YAML directive",
        ),
        (
            "the TAG directive must only be given at most once per handle in the same document",
            "found duplicate %TAG directive",
        ),
    ];
    if let Some((_, go)) = parser.iter().find(|(ours, _)| *ours == info) {
        return ((*go).to_string(), true);
    }
    if info == "simple key expect ':'" || info == "simple key expected" {
        return ("could not find expected ':'".into(), false);
    }
    if info == "tabs disallowed within this context (block indentation)" {
        return ("found character that cannot start any token".into(), false);
    }
    if info == "while scanning a plain scalar, found a tab" {
        return (
            "found a tab character that violates indentation".into(),
            false,
        );
    }
    if info == "recursion limit exceeded" {
        return ("exceeded max depth of 255".into(), false);
    }
    if info.starts_with("unexpected character: ") {
        return ("found character that cannot start any token".into(), false);
    }
    if let Some(rest) = info.strip_prefix("while ")
        && let Some((_, problem)) = rest.split_once(", ")
    {
        return (problem.to_string(), false);
    }
    (info.to_string(), false)
}

/// yaml.v2's `allowedAliasRatio`.
fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// yaml.v2's `d.scalar` into `interface{}`: the resolved value, or the decode error text.
fn decode_scalar(value: &str, implicit: bool, tag: Option<&str>) -> Result<Scalar, String> {
    let tag = match tag {
        None if !implicit => return Ok(Scalar::Str(value.into())),
        None => "",
        Some(t) => t,
    };
    let binary = format!("{TAG_PREFIX}binary");
    if tag == binary {
        return decode_base64(value)
            .map(|bytes| Scalar::Str(go_lossy_utf8(&bytes).into()))
            .ok_or_else(|| "!!binary value contains invalid base64 data".to_string());
    }
    let resolvable = tag.is_empty()
        || ["str", "bool", "int", "float", "null", "timestamp"]
            .iter()
            .any(|t| tag.strip_prefix(TAG_PREFIX) == Some(*t));
    if !resolvable {
        // Unknown tags leave the text as a string.
        return Ok(Scalar::Str(value.into()));
    }
    let want = tag.strip_prefix(TAG_PREFIX).unwrap_or("");
    if want == "str" {
        return Ok(Scalar::Str(value.into()));
    }
    let resolved = if want.is_empty() {
        resolve_v2(value)
    } else {
        resolve_tagged(value, want == "timestamp")
    };
    let ok = match (want, resolved) {
        ("", _) => true,
        ("null", Resolved::Null)
        | ("bool", Resolved::Bool(_))
        | ("int", Resolved::Int(_) | Resolved::Uint(_))
        | ("float", Resolved::Float(_))
        | ("timestamp", Resolved::Timestamp) => true,
        ("float", Resolved::Int(i)) => return Ok(Scalar::Float(i as f64)),
        _ => false,
    };
    if !ok {
        return Err(format!(
            "cannot decode {} `{value}` as a {}",
            resolved.short_tag(),
            short_tag(tag)
        ));
    }
    Ok(match resolved {
        Resolved::Null => Scalar::Null,
        Resolved::Bool(b) => Scalar::Bool(b),
        Resolved::Int(i) => Scalar::Int(i),
        Resolved::Uint(u) => Scalar::Uint(u),
        Resolved::Float(f) => Scalar::Float(f),
        // Timestamps stay strings in interface{} (a yaml.v2 compatibility rule), and `<<`
        // outside a key position is just text.
        Resolved::Str | Resolved::Timestamp | Resolved::Merge => Scalar::Str(value.into()),
    })
}

/// `resolve(tag, s)` for an explicit core tag: the same as untagged, except that timestamps
/// are only recognised under `!!timestamp`.
fn resolve_tagged(value: &str, timestamp_tag: bool) -> Resolved {
    let r = resolve_v2(value);
    if r == Resolved::Timestamp && !timestamp_tag {
        // Untagged resolution would have taken the number branch; a timestamp-shaped string
        // is never a number, so it is a string.
        return match parse_go_float(value) {
            Some(f) => Resolved::Float(f),
            None => Resolved::Str,
        };
    }
    if timestamp_tag && r != Resolved::Timestamp && is_timestamp(value) {
        return Resolved::Timestamp;
    }
    r
}

/// sigs.k8s.io/yaml's conversion of a YAML map key to a JSON object key; `None` for the
/// key types it refuses (null, uint64).
fn json_key(key: &Scalar) -> Option<String> {
    match key {
        Scalar::Str(s) => Some(s.to_string()),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        Scalar::Float(f) => Some(match format_float_g(*f, true).as_str() {
            "+Inf" => ".inf".into(),
            "-Inf" => "-.inf".into(),
            "NaN" => ".nan".into(),
            s => s.into(),
        }),
        Scalar::Null | Scalar::Uint(_) => None,
    }
}

/// sigs.k8s.io/yaml's `unsupported map key` error.
fn bad_key_message(key: &Scalar, value: &Value) -> String {
    let (ty, shown) = match key {
        Scalar::Uint(u) => ("uint64".to_string(), format!("0x{u:x}")),
        _ => ("%!s(<nil>)".to_string(), "<nil>".to_string()),
    };
    format!(
        "unsupported map key of type: {ty}, key: {shown}, value: {}",
        go_sharp_v(value)
    )
}

/// An approximation of Go's `%#v` for decoded YAML values, for error messages.
fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Float(f) => format_float_g(*f, false),
        Value::String(s) => go_quote(s),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Map(m) => {
            let inner: Vec<String> = m.with(|entries| {
                entries
                    .iter()
                    .map(|(k, v)| format!("{}:{}", go_quote(k), go_sharp_v(v)))
                    .collect()
            });
            format!("map[interface {{}}]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(o) => o.go_string(),
    }
}

/// Go's `base64.StdEncoding.DecodeString`: padded standard alphabet, CR and LF ignored.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = text.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let chunks = clean.len() / 4;
    for (n, chunk) in clean.chunks(4).enumerate() {
        let last = n + 1 == chunks;
        let pads = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pads] {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * pads as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pads]);
    }
    Some(out)
}

/// Bytes as encoding/json would print them: each invalid byte becomes U+FFFD.
fn go_lossy_utf8(mut bytes: &[u8]) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{fffd}');
                bytes = rest.get(1..).unwrap_or_default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Value {
        match unmarshal(text) {
            Ok(v) => v,
            Err(e) => panic!("{text:?}: {}", e.message),
        }
    }

    fn err(text: &str) -> String {
        unmarshal(text).expect_err(text).message
    }

    fn get(v: &Value, key: &str) -> Value {
        v.as_map().and_then(|m| m.get(key)).unwrap_or(Value::Nil)
    }

    /// One `k: <scalar>` document per case, and what `k` becomes.
    #[test]
    fn scalar_resolution() {
        let f = Value::Float;
        let s = |x: &str| Value::from(x);
        let cases: Vec<(&str, Value)> = vec![
            ("1", f(1.0)),
            ("-7", f(-7.0)),
            ("0x10", f(16.0)),
            ("0o10", f(8.0)),
            ("010", f(8.0)),
            ("1_000", f(1000.0)),
            ("1.5", f(1.5)),
            ("1e3", f(1000.0)),
            ("9007199254740993", f(9_007_199_254_740_992.0)),
            ("18446744073709551615", f(18_446_744_073_709_551_615.0)),
            ("yes", Value::Bool(true)),
            ("No", Value::Bool(false)),
            ("on", Value::Bool(true)),
            ("y", Value::Bool(true)),
            ("true", Value::Bool(true)),
            ("~", Value::Nil),
            ("null", Value::Nil),
            ("", Value::Nil),
            ("\"yes\"", s("yes")),
            ("'1'", s("1")),
            ("!!str 1", s("1")),
            ("!!float 1", f(1.0)),
            ("!!int \"12\"", f(12.0)),
            ("!custom 5", s("5")),
            ("! 5", s("5")),
            ("2001-12-14", s("2001-12-14")),
            ("2001-12-14T21:59:43.10Z", s("2001-12-14T21:59:43.10Z")),
            ("1:30", s("1:30")),
            ("hello world", s("hello world")),
            ("!!binary aGVsbG8=", s("hello")),
            ("[1, two]", Value::list(vec![f(1.0), s("two")])),
        ];
        for (scalar, expect) in cases {
            let text = format!("k: {scalar}\n");
            let v = read(&text);
            assert_eq!(get(&v, "k"), expect, "{text:?}");
        }
    }

    #[test]
    fn block_scalars() {
        let cases = [
            ("k: |\n  a\n  b\n", "a\nb\n"),
            ("k: |-\n  a\n  b\n", "a\nb"),
            ("k: |+\n  a\n\n", "a\n\n"),
            ("k: >\n  a\n  b\n\n  c\n", "a b\nc\n"),
            ("k: >-\n  a\n  b\n", "a b"),
            ("k: |2\n    a\n  b\n", "  a\nb\n"),
            ("k: \"a\\tb\\u00e9\"\n", "a\tbé"),
            ("k: 'it''s'\n", "it's"),
            ("k: a\n  b\n", "a b"),
        ];
        for (text, expect) in cases {
            assert_eq!(get(&read(text), "k"), Value::from(expect), "{text:?}");
        }
    }

    #[test]
    fn keys_become_strings() {
        let v = read("1: a\ntrue: b\n1.5: c\n0x10: d\nyes: e\n3.14159265358979: f\n1e6: g\n");
        let keys = v.as_map().unwrap().keys();
        // Float keys are printed with float32 precision (a sigs.k8s.io/yaml quirk).
        assert_eq!(keys, ["1", "1.5", "16", "1e+06", "3.1415927", "true"]);
        assert_eq!(get(&v, "true"), Value::from("e"));
    }

    #[test]
    fn documents_and_empties() {
        assert_eq!(read(""), Value::Nil);
        assert_eq!(read("# only a comment\n"), Value::Nil);
        assert_eq!(read("---\n"), Value::Nil);
        assert_eq!(read("a: 1\n---\nb: 2\n"), read("a: 1\n"));
        assert_eq!(
            read("- a\n- b\n"),
            Value::list(vec!["a".into(), "b".into()])
        );
        assert_eq!(read("plain"), Value::from("plain"));
        assert_eq!(read("{}"), Value::Map(Map::new()));
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let v = read("a: &x {p: 1, q: 2}\nb: *x\n");
        assert_eq!(get(&v, "a"), get(&v, "b"));
        // Aliases are copies: changing one leaves the other alone.
        get(&v, "a").as_map().unwrap().insert("p", Value::Nil);
        assert_eq!(get(&get(&v, "b"), "p"), Value::Float(1.0));

        let v = read("base: &b {x: 1, z: 2}\nm:\n  <<: *b\n  z: 3\n");
        assert_eq!(get(&get(&v, "m"), "z"), Value::Float(3.0));
        assert_eq!(get(&get(&v, "m"), "x"), Value::Float(1.0));
        // yaml.v2 quirk: a merge after a key overrides it.
        let v = read("base: &b {x: 1}\nm:\n  x: 9\n  <<: *b\n");
        assert_eq!(get(&get(&v, "m"), "x"), Value::Float(1.0));
        // In a list of maps the earlier maps win.
        let v = read("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b]\n");
        assert_eq!(get(&get(&v, "m"), "x"), Value::Float(1.0));
        assert_eq!(get(&get(&v, "m"), "z"), Value::Float(2.0));
        // yaml.v2 quirk: `y` and `n` are booleans, also as keys.
        let v = read("y: 1\nn: 2\n");
        assert_eq!(v.as_map().unwrap().keys(), ["false", "true"]);
        // A quoted "<<" is an ordinary key.
        let v = read("\"<<\": 1\n");
        assert_eq!(get(&v, "<<"), Value::Float(1.0));
        let v = read("s: &s 5\nk: *s\n");
        assert_eq!(get(&v, "k"), Value::Float(5.0));
        let v = read("&k 7: a\nb: {*k : c}\n");
        assert_eq!(get(&get(&v, "b"), "7"), Value::from("c"));
    }

    /// Inputs where saphyr and libyaml agree once tabs after indicators are blanks.
    #[test]
    fn common_shapes() {
        let cases = [
            ("a:\tb\n", r#"{"a": "b"}"#),
            ("a:\t\tb\nc:\t-1\n", r#"{"a": "b", "c": -1.0}"#),
            ("-\tb\n", r#"["b"]"#),
            ("a: b\t# c\n", r#"{"a": "b"}"#),
            ("a: 1\r\nb: two\r\n", r#"{"a": 1.0, "b": "two"}"#),
            ("%YAML 1.1\n---\na: 1\n", r#"{"a": 1.0}"#),
            ("\u{feff}a: 1\n", r#"{"a": 1.0}"#),
            ("url: http://x:80/y # c\n", r#"{"url": "http://x:80/y"}"#),
            (
                "l:\n- name: a\n  value: b\n-   c\n",
                r#"{"l": [{"name": "a", "value": "b"}, "c"]}"#,
            ),
            ("m: {a: 1,\n  b: 2}\n", r#"{"m": {"a": 1.0, "b": 2.0}}"#),
            ("s: \"multi\n  line\"\n", r#"{"s": "multi line"}"#),
            ("k: value:with:colons\n", r#"{"k": "value:with:colons"}"#),
            // In flow context `a:1` is one plain scalar (go-yaml v2 does not split it).
            ("{a:1}", r#"{"a:1": nil}"#),
            ("? complex\n: v\n", r#"{"complex": "v"}"#),
            ("a: [1, 2, ]\n", r#"{"a": [1.0, 2.0]}"#),
            ("- a\n -b\n", r#"["a -b"]"#),
            ("a:\n- b\n c\n", r#"{"a": ["b c"]}"#),
        ];
        for (text, expect) in cases {
            assert_eq!(format!("{:?}", read(text)), expect, "{text:?}");
        }
    }

    #[test]
    fn more_errors() {
        let cases = [
            (
                "a: b\n  c: d\n",
                "yaml: line 2: mapping values are not allowed in this context",
            ),
            (
                "a: [1, 2\n",
                "yaml: line 1: did not find expected ',' or ']'",
            ),
            (
                "a: {b: 1\n",
                "yaml: line 1: did not find expected ',' or '}'",
            ),
            (
                "- a\nb: c\n",
                "yaml: line 1: did not find expected '-' indicator",
            ),
            (
                "x:\n  - a\n  -b\n",
                "yaml: line 4: could not find expected ':'",
            ),
            (
                "a: @x\n",
                "yaml: found character that cannot start any token",
            ),
            (
                "a: \"open\n",
                "yaml: line 2: found unexpected end of stream",
            ),
            ("a: 'open", "yaml: found unexpected end of stream"),
            // A block mapping entry without a key: go-yaml's parser wants a key.
            (": x\n", "yaml: did not find expected key"),
            (": bad: yaml: [", "yaml: did not find expected key"),
            ("a: b\n c\n: d", "yaml: line 2: did not find expected key"),
            // Tokens where they do not belong: the message depends on what was being read.
            ("a: \"x\" y\n", "yaml: did not find expected key"),
            ("- \"x\" y\n", "yaml: did not find expected '-' indicator"),
            ("a: ]", "yaml: did not find expected node content"),
            ("a: [b, c]]\n", "yaml: did not find expected key"),
            ("- a\n:b", "yaml: line 3: could not find expected ':'"),
            (
                "key: value\n\tother: 1\n",
                "yaml: line 2: found a tab character that violates indentation",
            ),
            (
                "a:\n\tb: 1\n",
                "yaml: line 2: found character that cannot start any token",
            ),
        ];
        for (text, expect) in cases {
            assert_eq!(err(text), format!("{WRAP}{expect}"), "{text:?}");
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last() {
        assert_eq!(get(&read("a: 1\na: 2\n"), "a"), Value::Float(2.0));
    }

    #[test]
    fn errors() {
        let cases = [
            (
                "a: b: c\n",
                "error converting YAML to JSON: yaml: mapping values are not allowed in this context",
            ),
            (
                "x: 1\na: b: c\n",
                "error converting YAML to JSON: yaml: line 2: mapping values are not allowed in this context",
            ),
            (
                "a: *nope\n",
                "error converting YAML to JSON: yaml: unknown anchor 'nope' referenced",
            ),
            (
                "a: &x [*x]\n",
                "error converting YAML to JSON: yaml: anchor 'x' value contains itself",
            ),
            (
                "a:\n  <<: 1\n",
                "error converting YAML to JSON: yaml: map merge requires map or sequence of maps as the value",
            ),
            (
                "a: !!int abc\n",
                "error converting YAML to JSON: yaml: cannot decode !!str `abc` as a !!int",
            ),
            (
                "a: !!binary \"@@\"\n",
                "error converting YAML to JSON: yaml: !!binary value contains invalid base64 data",
            ),
            (
                "a: .nan\n",
                "error converting YAML to JSON: json: unsupported value: NaN",
            ),
            (
                "a: -.inf\n",
                "error converting YAML to JSON: json: unsupported value: -Inf",
            ),
            (
                "~: 1\n",
                "error converting YAML to JSON: unsupported map key of type: %!s(<nil>), key: <nil>, value: 1",
            ),
            (
                "? [a]\n: 1\n",
                "error converting YAML to JSON: yaml: invalid map key: []interface {}{\"a\"}",
            ),
            (
                "a: \u{1}\n",
                "error converting YAML to JSON: yaml: control characters are not allowed",
            ),
        ];
        for (text, expect) in cases {
            assert_eq!(err(text), expect, "{text:?}");
        }
    }

    #[test]
    fn parser_errors_use_go_line_numbers() {
        // A parser error names the 0-based line of the offending token (a go-yaml quirk).
        let e = err("a:\n  b: 1\n c: 2\n");
        assert!(
            e.starts_with("error converting YAML to JSON: yaml: line 2: "),
            "{e}"
        );
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert_eq!(
            err(&text),
            "error converting YAML to JSON: yaml: document contains excessive aliasing"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}a\n", "- ".repeat(MAX_DEPTH + 5));
        let e = err(&text);
        assert!(e.contains("exceeded max depth of 1000"), "{e}");
        // Flow collections are limited by the parser (255 levels).
        let text = "[".repeat(300);
        let e = err(&text);
        assert!(e.contains("exceeded max depth"), "{e}");
    }
}
