//! A fast reader for the plain block YAML that Helm charts render: nested block mappings and
//! sequences, one scalar per line, plain or quoted without escapes, `{}` and `[]`. It gives
//! the same JSON as the full reader ([`syntax::yaml`], through
//! [`crate::manifests::parse_document`]) or gives up (`None`), and the caller then uses the
//! full reader: anything else (flow collections, block scalars, anchors, tags, escapes,
//! multi-line scalars, comments after a value, duplicate keys, non-ASCII text…) is left to it.
//!
//! The check of a large plan reads tens of thousands of distinct documents: the 59,425 of the
//! 10,000 × 100 synthetic fleet took 0.3 s to read with this reader rather than 0.7 s with
//! the full one (`BENCHMARKS.md`, "Policies").

use serde_json::{Map, Value};

/// The deepest nesting read here (the full reader refuses 64 levels).
const MAX_DEPTH: usize = 32;
/// The longest key read here (YAML limits implicit keys to 1024 characters).
const MAX_KEY: usize = 1000;
/// The most lines read here (the full reader refuses documents of more than 100,000 nodes;
/// a line read here adds at most four: `- key:` opening a collection).
const MAX_LINES: usize = 20_000;

/// One YAML document as JSON: `Some(None)` when it is empty (or only comments), `None` when
/// this reader cannot tell.
pub(crate) fn parse(doc: &str) -> Option<Option<Value>> {
    // Printable ASCII and newlines only: no tabs, carriage returns, byte-order marks or
    // Unicode line breaks to reason about.
    if !doc
        .bytes()
        .all(|b| b == b'\n' || (b' '..=b'~').contains(&b))
    {
        return None;
    }
    let mut lines = Vec::new();
    for line in doc.split('\n') {
        let text = line.trim_start_matches(' ');
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        // Document markers and directives.
        if line.starts_with("---") || line.starts_with("...") || line.starts_with('%') {
            return None;
        }
        lines.push(Line {
            indent: line.len() - text.len(),
            text: text.trim_end_matches(' '),
        });
    }
    if lines.len() > MAX_LINES {
        return None;
    }
    let Some(first) = lines.first() else {
        return Some(None);
    };
    let col = first.indent;
    let mut reader = Reader { lines, pos: 0 };
    let root = reader.block(col, 0)?;
    (reader.pos == reader.lines.len()).then_some(Some(root))
}

#[derive(Debug, Clone, Copy)]
struct Line<'t> {
    /// The column of its first character.
    indent: usize,
    /// From its first character, without trailing spaces.
    text: &'t str,
}

struct Reader<'t> {
    lines: Vec<Line<'t>>,
    /// The next line to read.
    pos: usize,
}

/// Whether a line starts a sequence item (`- x`, or `-` alone).
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

impl<'t> Reader<'t> {
    fn line(&self) -> Option<Line<'t>> {
        self.lines.get(self.pos).copied()
    }

    /// The collection whose first line is the current one, at column `col`.
    fn block(&mut self, col: usize, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let line = self.line()?;
        if is_item(line.text) {
            self.seq(col, depth)
        } else {
            self.map(col, depth)
        }
    }

    /// What follows a key or a `-` with nothing after it on its line: a more indented block,
    /// a sequence at the same column for a key (`same_column_seq`), or null.
    fn nested(&mut self, col: usize, same_column_seq: bool, depth: usize) -> Option<Value> {
        match self.line() {
            Some(next) if next.indent > col => self.block(next.indent, depth + 1),
            Some(next) if same_column_seq && next.indent == col && is_item(next.text) => {
                self.seq(col, depth + 1)
            }
            _ => Some(Value::Null),
        }
    }

    /// After a scalar that ends a line: the next line may not be more indented than `col`
    /// (it would continue the scalar, or be an error).
    fn ends_at(&self, col: usize) -> Option<()> {
        match self.line() {
            Some(next) if next.indent > col => None,
            _ => Some(()),
        }
    }

    fn map(&mut self, col: usize, depth: usize) -> Option<Value> {
        let mut out = Map::new();
        while let Some(line) = self.line() {
            if line.indent < col {
                break;
            }
            if line.indent > col || is_item(line.text) {
                return None;
            }
            let (key, rest) = split_key(line.text)?;
            self.pos += 1;
            let value = if rest.is_empty() {
                self.nested(col, true, depth)?
            } else {
                let v = scalar(rest)?;
                self.ends_at(col)?;
                v
            };
            if out.insert(key.to_owned(), value).is_some() {
                // A duplicate key: the full reader reports it.
                return None;
            }
        }
        Some(Value::Object(out))
    }

    fn seq(&mut self, col: usize, depth: usize) -> Option<Value> {
        let mut out = Vec::new();
        while let Some(line) = self.line() {
            if line.indent != col || !is_item(line.text) {
                break;
            }
            let after = line.text.get(1..).unwrap_or("");
            let rest = after.trim_start_matches(' ');
            let item = if rest.is_empty() {
                self.pos += 1;
                self.nested(col, false, depth)?
            } else if is_item(rest) {
                return None;
            } else if split_key(rest).is_some() {
                // `- key: value`: a mapping whose column is that of its first key.
                let inner = col + 1 + (after.len() - rest.len());
                if let Some(l) = self.lines.get_mut(self.pos) {
                    *l = Line {
                        indent: inner,
                        text: rest,
                    };
                }
                self.map(inner, depth + 1)?
            } else {
                self.pos += 1;
                let v = scalar(rest)?;
                self.ends_at(col)?;
                v
            };
            out.push(item);
        }
        self.ends_at(col)?;
        Some(Value::Array(out))
    }
}

/// The first character of a plain scalar may not be one of these (or `-`, `?`, `:` followed
/// by a space).
const INDICATORS: &[u8] = b"[]{},#&*!|>'\"%@`";

/// `key: rest` (`rest` empty for `key:`): a plain key that reads as a string.
fn split_key(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let colon = (0..bytes.len())
        .find(|&i| bytes.get(i) == Some(&b':') && matches!(bytes.get(i + 1), None | Some(b' ')))?;
    let key = text.get(..colon)?.trim_end_matches(' ');
    let rest = text.get(colon + 1..)?.trim_start_matches(' ');
    let first = *key.as_bytes().first()?;
    if INDICATORS.contains(&first)
        || matches!(first, b'-' | b'?' | b':')
        || key.contains(" #")
        || key.contains(['[', ']', '{', '}', ','])
        || key == "<<"
        || key.len() > MAX_KEY
        || rest.starts_with('#')
    {
        return None;
    }
    match plain(key) {
        Value::String(_) => Some((key, rest)),
        _ => None,
    }
}

/// A scalar written on one line (or `{}`, `[]`).
fn scalar(text: &str) -> Option<Value> {
    match text {
        "{}" => return Some(Value::Object(Map::new())),
        "[]" => return Some(Value::Array(Vec::new())),
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('"') {
        // No escapes: the text between the quotes is the value.
        let inner = inner.strip_suffix('"')?;
        return (!inner.contains(['"', '\\'])).then(|| Value::String(inner.to_owned()));
    }
    if let Some(inner) = text.strip_prefix('\'') {
        let inner = inner.strip_suffix('\'')?;
        // Inside, a quote is written twice.
        let mut out = String::with_capacity(inner.len());
        let mut rest = inner;
        while let Some(at) = rest.find('\'') {
            if rest.get(at + 1..at + 2) != Some("'") {
                return None;
            }
            out.push_str(rest.get(..=at)?);
            rest = rest.get(at + 2..)?;
        }
        out.push_str(rest);
        return Some(Value::String(out));
    }
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if INDICATORS.contains(&first)
        || matches!(first, b'?' | b':')
        || (first == b'-' && matches!(bytes.get(1), None | Some(b' ')))
        || text.contains(": ")
        || text.ends_with(':')
        || text.contains(" #")
    {
        return None;
    }
    Some(plain(text))
}

/// A plain scalar resolved as the full reader does (YAML 1.2 core schema), as JSON.
fn plain(text: &str) -> Value {
    // Only these first characters can start a null, a bool or a number.
    let may_resolve = text
        .bytes()
        .next()
        .is_none_or(|b| b.is_ascii_digit() || b"~nNtTfF.+-".contains(&b));
    if !may_resolve {
        return Value::String(text.to_owned());
    }
    scalar_json(&syntax::yaml::resolve_plain(text))
}

/// A scalar as JSON (a collection gives null).
pub(crate) fn scalar_json(kind: &syntax::yaml::Kind) -> serde_json::Value {
    use syntax::yaml::Kind;
    match kind {
        Kind::Bool(b) => serde_json::Value::Bool(*b),
        Kind::Int(i) => serde_json::Value::from(*i),
        Kind::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Kind::Str(s) => serde_json::Value::String(s.clone()),
        Kind::Null | Kind::Seq(_) | Kind::Map(_) => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full reader's answer.
    fn full(doc: &str) -> Result<Option<Value>, String> {
        crate::manifests::parse_document_fully(doc)
    }

    /// This reader agrees with the full one, or gives up; returns whether it answered.
    fn agrees(doc: &str) -> bool {
        match parse(doc) {
            Some(fast) => {
                assert_eq!(Ok(fast), full(doc), "on {doc:?}");
                true
            }
            None => false,
        }
    }

    const DEPLOYMENT: &str = r#"# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/instance: web
    helm.sh/chart: "web-1.0.0"
    version: '1.0'
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/instance: web

  template:
    metadata:
      annotations: {}
    spec:
      containers:
        - name: main
          image: "nginx:1.27"
          args:
          - --port=8080
          - -v
          - "--flag=a: b"
          env:
          - name: EMPTY
            value: ""
          - name: QUOTED
            value: 'it''s'
          - name: NUMBERISH
            value: 0x1F
          - name: FLOATY
            value: 1.5e3
          - name: NULLISH
            value: ~
          - name: URL
            value: http://example.com/a#b,c[0]
          ports:
            - name: http
              containerPort: 8080
          resources:
            limits:
              cpu: 100m
              memory: 128Mi
            requests: {}
          volumeMounts: []
      initContainers:
      -
        name: init
        command:
          -
            - sh
      nodeSelector:
      tolerations:
"#;

    #[test]
    fn helm_output_reads_as_the_full_reader_reads_it() {
        assert!(agrees(DEPLOYMENT));
        for doc in [
            "",
            "\n# only a comment\n",
            "kind: Service\nspec:\n  ports:\n  - port: 80\n    targetPort: http\n",
            "list:\n- a\n- b\nnext: true\n",
            "  indented: root\n  other: -1\n",
            "k: .5\nl: +12\nm: -.inf\nn: .nan\no: 1e400\np: 99999999999999999999\nq: 0o17\n",
            "k: Yes\nl: NULL\nm: False\nn: nul\n",
            "- a\n- b\n",
            "- a: 1\n  b: 2\n- c\n",
            "a: 'x'\n",
            "a: '''quoted'''\n",
            "key : spaced\n",
            "k: -v\nl: --flag=x\nm: a:b\nn: x#y\n",
        ] {
            assert!(agrees(doc), "left {doc:?} to the full reader");
        }
        // A sequence in a sequence is left to the full reader.
        assert!(!agrees("a:\n  - - x\n"));
        assert!(agrees("kind: ConfigMap\ndata:\n  A: \"1\"\n"));
    }

    #[test]
    fn every_document_of_a_synthetic_fleet_reads_as_the_full_reader_reads_it() {
        // The distinct documents Helm renders for a synthetic fleet's charts: `flotilla dev
        // gen-fleet --clusters 40 --services 12 --seed 3`, then `flotilla plan`, every
        // document of every manifest once.
        let text = include_str!("../tests/data/synthetic-documents.yaml");
        let (mut read, mut all) = (0, 0);
        for doc in crate::manifests::document_texts(text) {
            all += 1;
            if agrees(doc) {
                read += 1;
            }
        }
        // The charts render plain block YAML: this reader reads all of it.
        assert!(all > 100);
        assert_eq!(read, all);
    }

    #[test]
    fn what_it_cannot_tell_is_left_to_the_full_reader() {
        for doc in [
            "a: |\n  text\n",
            "a: >-\n  text\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: \"esc\\n\"\n",
            "a: {b: 1}\n",
            "a: [1, 2]\n",
            "a: b\n  continued\n",
            "a: \"two\n  lines\"\n",
            "a: 1 # comment\n",
            "a: 1\na: 2\n",
            "\"quoted key\": 1\n",
            "1: one\n",
            "true: yes\n",
            "<<: {a: 1}\n",
            "? complex\n: key\n",
            "a:\tb\n",
            "a: b\r\n",
            "a: caf\u{e9}\n",
            "just a scalar\n",
            "a: b: c\n",
            "a:\n  - x\n   - y\n",
            "a:\n  b: 1\n c: 2\n",
            "...\n",
            "%YAML 1.2\n",
            "- - x\n",
            "-\n  on the next line\n",
        ] {
            assert!(parse(doc).is_none(), "read {doc:?}");
            // And the full reader reads it, or says why not.
            let _ = full(doc);
        }
    }

    #[test]
    fn deep_documents_are_left_to_the_full_reader() {
        let mut doc = String::new();
        for depth in 0..40 {
            doc.push_str(&" ".repeat(depth * 2));
            doc.push_str("a:\n");
        }
        assert!(parse(&doc).is_none());
        let mut shallow = String::new();
        for depth in 0..10 {
            shallow.push_str(&" ".repeat(depth * 2));
            shallow.push_str("a:\n");
        }
        assert!(agrees(&shallow));
    }

    #[test]
    fn long_documents_are_left_to_the_full_reader() {
        let lines = |n: usize| (0..n).map(|i| format!("- k{i}: v\n")).collect::<String>();
        assert!(parse(&lines(MAX_LINES + 1)).is_none());
        assert!(agrees(&lines(100)));
    }
}
