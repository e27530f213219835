//! Diagnostics for what users write (YAML, CEL, templates, policies): a code, a severity, a
//! message, labelled spans in one or more files and a hint; rendered in one place, to text with
//! carets for people and to JSON for tools.
//!
//! User mistakes are diagnostics, not errors: a run collects all of them and reports them
//! together.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use serde::Serialize;

pub mod template;

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A source file a diagnostic points into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The name shown to the user (a path relative to where the user works).
    pub name: String,
    #[serde(skip)]
    pub text: String,
}

/// A position in a file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A labelled span of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    /// The index of the file in [`Report::sources`].
    pub source: usize,
    /// Byte range in the file.
    #[serde(skip)]
    pub span: Range<usize>,
    pub start: Position,
    pub message: String,
    /// The primary label is where the problem is; secondary labels give context.
    pub primary: bool,
}

/// One problem in user input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// A stable code, `area::kind` (e.g. `template::exec`, `cel::unknown-field`).
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    /// What the user can do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code: code.into(),
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

/// Diagnostics with the files they point into.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub sources: Vec<Source>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    /// Adds a file (or finds it when a file of that name was added) and returns its index.
    pub fn source(&mut self, name: impl Into<String>, text: impl Into<String>) -> usize {
        let name = name.into();
        if let Some(i) = self.sources.iter().position(|s| s.name == name) {
            return i;
        }
        self.sources.push(Source {
            name,
            text: text.into(),
        });
        self.sources.len() - 1
    }

    /// A label at a 1-based line and column of a file added with [`Report::source`]; the span
    /// covers `len` characters (at least one, clamped to the line).
    pub fn label_at(
        &self,
        source: usize,
        position: Position,
        len: usize,
        message: impl Into<String>,
    ) -> Label {
        let text = self.sources.get(source).map_or("", |s| s.text.as_str());
        let start = byte_offset(text, position);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let end = text[start..line_end]
            .char_indices()
            .nth(len.max(1))
            .map_or(line_end, |(i, _)| start + i);
        Label {
            source,
            span: start..end.max(start),
            start: position,
            message: message.into(),
            primary: true,
        }
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// Renders every diagnostic for a terminal without colours: `error[code]: message`, the
    /// file, line and column, the source line with a caret under the span, and the help.
    pub fn render_text(&self) -> String {
        let mut files = SimpleFiles::new();
        for s in &self.sources {
            files.add(s.name.clone(), s.text.clone());
        }
        let config = term::Config::default();
        let mut out = String::new();
        for d in &self.diagnostics {
            let _ = term::emit_to_string(&mut out, &config, &files, &to_codespan(d));
        }
        out
    }

    /// The diagnostics as JSON (files by name, positions 1-based).
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_text())
    }
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let labels = d
        .labels
        .iter()
        .map(|l| {
            let style = if l.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            cs::Label::new(style, l.source, l.span.clone()).with_message(l.message.clone())
        })
        .collect();
    let mut out = cs::Diagnostic::new(severity)
        .with_code(d.code.clone())
        .with_message(d.message.clone())
        .with_labels(labels);
    if let Some(help) = &d.help {
        out = out.with_notes(vec![format!("help: {help}")]);
    }
    out
}

/// The byte offset of a 1-based line and column (in characters), clamped to the text.
pub fn byte_offset(text: &str, position: Position) -> usize {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == position.line {
            let col = position.column.saturating_sub(1);
            let content = line.strip_suffix('\n').unwrap_or(line);
            return offset
                + content
                    .char_indices()
                    .nth(col)
                    .map_or(content.len(), |(b, _)| b);
        }
        offset += line.len();
    }
    text.len()
}

/// The 1-based line and column (in characters) of a byte offset.
pub fn position_of(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let mut r = Report::new();
        let f = r.source(
            "values.tpl",
            "replicas: {{ .Values.count }}\nimage: {{ .Values.x.y }}\n",
        );
        let label = r.label_at(
            f,
            Position {
                line: 2,
                column: 11,
            },
            11,
            "here",
        );
        r.push(Diagnostic {
            labels: vec![label],
            ..Diagnostic::error("template::exec", "nil pointer evaluating interface {}.y")
                .with_help("`.Values.x` is not set; give it a default with `default dict`")
        });
        r
    }

    #[test]
    fn positions_round_trip() {
        let text = "ab\ncdé\nf";
        for offset in [0, 1, 3, 5, 8] {
            let p = position_of(text, offset);
            assert_eq!(byte_offset(text, p), offset, "{p:?}");
        }
    }

    #[test]
    fn text_shows_file_line_column_caret_and_help() {
        insta::assert_snapshot!(report().render_text());
    }

    #[test]
    fn json_names_files_and_positions() {
        insta::assert_snapshot!(report().render_json());
    }
}
