//! Building diagnostics that point into the fleet's files: labels from byte spans, and
//! "did you mean" suggestions.

use std::ops::Range;

use diagnostics::{Diagnostic, Label, Report, position_of};

use crate::FleetFiles;

/// A report under construction, with the files its labels point into.
#[derive(Debug)]
pub struct Diags<'f> {
    files: &'f FleetFiles,
    /// Texts that are not fleet files (a selector given on the command line).
    extra: Vec<(String, String)>,
    pub report: Report,
}

impl<'f> Diags<'f> {
    pub fn new(files: &'f FleetFiles) -> Diags<'f> {
        Diags {
            files,
            extra: Vec::new(),
            report: Report::new(),
        }
    }

    /// Registers a text that is not a fleet file (or a fleet file held as bytes), shown under
    /// `name`. The first text given for a name stays.
    pub fn add_text(&mut self, name: &str, text: &str) {
        if !self.extra.iter().any(|(n, _)| n == name) {
            self.extra.push((name.to_owned(), text.to_owned()));
        }
    }

    fn text(&self, file: &str) -> (String, &str) {
        if let Some((n, t)) = self.extra.iter().find(|(n, _)| n == file) {
            return (n.clone(), t);
        }
        (self.files.display_name(file), self.files.text(file))
    }

    /// A primary label on a byte span of a file (relative to the fleet root).
    pub fn label(&mut self, file: &str, span: Range<usize>, message: impl Into<String>) -> Label {
        let (name, text) = self.text(file);
        let text = text.to_owned();
        let span = widen(&text, span);
        let source = self.report.source(name, text.clone());
        Label {
            source,
            start: position_of(&text, span.start),
            span,
            message: message.into(),
            primary: true,
        }
    }

    /// A secondary label (context for the primary one).
    pub fn note(&mut self, file: &str, span: Range<usize>, message: impl Into<String>) -> Label {
        Label {
            primary: false,
            ..self.label(file, span, message)
        }
    }

    pub fn push(&mut self, diagnostic: Diagnostic, labels: Vec<Label>) {
        self.report.push(Diagnostic {
            labels,
            ..diagnostic
        });
    }

    /// An error with one primary label and an optional help.
    pub fn error_at(
        &mut self,
        code: &str,
        message: impl Into<String>,
        file: &str,
        span: Range<usize>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let label = self.label(file, span, label);
        let mut d = Diagnostic::error(code, message);
        d.help = help;
        self.push(d, vec![label]);
    }

    pub fn warning_at(
        &mut self,
        code: &str,
        message: impl Into<String>,
        file: &str,
        span: Range<usize>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        let label = self.label(file, span, label);
        let mut d = Diagnostic::warning(code, message);
        d.help = help;
        self.push(d, vec![label]);
    }

    pub fn finish(self) -> Report {
        self.report
    }
}

/// An empty span shows no caret: widen it to the character it sits on (unless that is a line
/// break or the end of the file). Spans are also clamped to the text and to char boundaries.
fn widen(text: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(text.len());
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    if start == end
        && let Some(c) = text[start..].chars().next()
        && c != '\n'
    {
        end = start + c.len_utf8();
    }
    start..end
}

/// The closest of `candidates` to `name`, if one is close enough to be a likely typo.
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = name.to_ascii_lowercase();
    let limit = (name.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = if c.to_ascii_lowercase() == lower {
            0
        } else {
            strsim::damerau_levenshtein(name, c)
        };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_only() {
        let fields = [
            "name",
            "provider",
            "region",
            "environment",
            "tags",
            "metadata",
        ];
        let check = |typo: &str, expect: Option<&str>| {
            assert_eq!(suggest(typo, fields), expect, "{typo}");
        };
        check("regoin", Some("region"));
        check("enviroment", Some("environment"));
        check("Tags", Some("tags"));
        check("nmae", Some("name"));
        check("x", None);
        check("owner", None);
        check("providers", Some("provider"));
    }

    #[test]
    fn empty_spans_widen_to_one_character() {
        assert_eq!(widen("ab\n", 1..1), 1..2);
        assert_eq!(widen("ab\n", 2..2), 2..2);
        assert_eq!(widen("é", 1..1), 0..2);
        assert_eq!(widen("ab", 5..9), 2..2);
    }
}
