//! Reading one policy file: its YAML with positions (the compiler's reader), fields checked
//! against their declarations, and CEL expressions compiled with carets inside the YAML
//! strings. Every problem becomes a diagnostic in the run's report.

use std::collections::BTreeMap;
use std::ops::Range;

use compiler::diag::{Diags, suggest};
use compiler::load::FieldDef;
use compiler::model::Embedded;
use compiler::targeting::Problem;
use compiler::yaml::{self, Entry, Kind, Node};
use diagnostics::Diagnostic;

use crate::expr::{self, Expr, Place};

/// The entries of a mapping with fixed fields, by field name.
pub(crate) type Fields<'n> = BTreeMap<&'static str, &'n Entry>;

/// Validation of one file.
pub(crate) struct Cx<'a, 'f> {
    pub file: &'a str,
    pub text: &'a str,
    pub diags: &'a mut Diags<'f>,
}

impl Cx<'_, '_> {
    pub fn error(
        &mut self,
        code: &str,
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        self.diags
            .error_at(code, message, self.file, span, label, help);
    }

    pub fn warning(
        &mut self,
        code: &str,
        message: impl Into<String>,
        span: Range<usize>,
        label: impl Into<String>,
        help: Option<String>,
    ) {
        self.diags
            .warning_at(code, message, self.file, span, label, help);
    }

    /// An error with a second label pointing at an earlier place (a first definition).
    pub fn error_with_note(
        &mut self,
        code: &str,
        message: impl Into<String>,
        span: Range<usize>,
        label: &str,
        note: (Range<usize>, &str),
        help: Option<String>,
    ) {
        let primary = self.diags.label(self.file, span, label);
        let secondary = self.diags.note(self.file, note.0, note.1);
        let mut d = Diagnostic::error(code, message);
        d.help = help;
        self.diags.push(d, vec![primary, secondary]);
    }

    /// Parses the file; reports YAML problems. An empty file is no error (no policies).
    pub fn root(&mut self) -> Option<Node> {
        let parsed = yaml::parse(self.text);
        for p in parsed.problems {
            let primary = self.diags.label(self.file, p.span, "here");
            let mut labels = vec![primary];
            if let Some((span, message)) = p.related {
                labels.push(self.diags.note(self.file, span, message));
            }
            let mut d = Diagnostic::error(p.code, p.message);
            d.help = p.help;
            self.diags.push(d, labels);
        }
        parsed.root
    }

    /// The fields of a mapping, with unknown fields and missing required ones reported.
    /// `what` names the mapping in messages (`a role`, `a binding`).
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        defs: &[FieldDef],
        what: &str,
    ) -> Option<Fields<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.wrong_type(node, "a mapping", what);
            return None;
        };
        let mut out = Fields::new();
        for e in entries {
            let Some(key) = e.key.as_str() else {
                self.error(
                    "yaml::type",
                    format!(
                        "keys of {what} are field names, found {}",
                        e.key.kind_name()
                    ),
                    e.key.span.clone(),
                    "not a field name",
                    None,
                );
                continue;
            };
            match defs.iter().find(|d| d.name == key) {
                Some(d) => {
                    out.insert(d.name, e);
                }
                None => {
                    let help = match suggest(key, defs.iter().map(|d| d.name)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "the fields of {what} are {}",
                            defs.iter()
                                .map(|d| format!("`{}`", d.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.error(
                        "yaml::unknown-field",
                        format!("unknown field `{key}` in {what}"),
                        e.key.span.clone(),
                        "unknown field",
                        Some(help),
                    );
                }
            }
        }
        for d in defs.iter().filter(|d| d.required) {
            if !out.contains_key(d.name) {
                self.error(
                    "yaml::missing-field",
                    format!("{what} has no `{}`", d.name),
                    node.span.start..node.span.start,
                    format!("`{}` is required", d.name),
                    None,
                );
            }
        }
        Some(out)
    }

    pub fn wrong_type(&mut self, node: &Node, expected: &str, what: &str) {
        let help = if node.is_scalar() && expected == "a string" {
            let raw = self.text.get(node.span.clone()).unwrap_or("").trim();
            Some(format!("quote it to make it a string: \"{raw}\""))
        } else {
            None
        };
        // A collection is shown by its first line.
        let mut span = node.span.clone();
        if let Some(nl) = self
            .text
            .get(span.clone())
            .and_then(|t| t.trim_end().find('\n'))
        {
            span.end = span.start + nl;
        }
        let trimmed = self
            .text
            .get(span.clone())
            .map_or(0, |t| t.trim_end().len());
        span.end = span.start + trimmed;
        self.error(
            "yaml::type",
            format!("{what} must be {expected}, found {}", node.kind_name()),
            span,
            format!("expected {expected}"),
            help,
        );
    }

    /// A non-empty string.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) if s.trim().is_empty() => {
                self.error(
                    "yaml::empty",
                    format!("{what} is empty"),
                    node.span.clone(),
                    "empty",
                    None,
                );
                None
            }
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, "a string", what);
                None
            }
        }
    }

    /// The items of a list (`null` is an empty list).
    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            Kind::Null => Some(&[]),
            _ => {
                self.wrong_type(node, "a list", what);
                None
            }
        }
    }

    /// A string written in the file, with the way back from its bytes to the file's.
    pub fn embedded(&self, node: &Node, text: String) -> Embedded {
        Embedded {
            offsets: yaml::string_offsets(self.text, node).unwrap_or_default(),
            text,
            file: self.file.to_owned(),
            span: node.span.clone(),
        }
    }

    /// Compiles a CEL expression written in a YAML string; problems point inside the string.
    pub fn cel(&mut self, node: &Node, place: Place, what: &str) -> Option<Expr> {
        let text = self.string(node, what)?;
        let embedded = self.embedded(node, text);
        self.cel_in(&embedded, 0..embedded.text.len(), place)
    }

    /// Compiles the part `range` of an embedded text as a CEL expression.
    pub fn cel_in(
        &mut self,
        embedded: &Embedded,
        range: Range<usize>,
        place: Place,
    ) -> Option<Expr> {
        let text = embedded.text.get(range.clone())?;
        match expr::compile(text, place) {
            Ok(e) => Some(e),
            Err(problems) => {
                self.report(embedded, range.start, &problems);
                None
            }
        }
    }

    fn report(&mut self, embedded: &Embedded, base: usize, problems: &[Problem]) {
        for p in problems {
            let span = embedded.file_range(base + p.range.start..base + p.range.end);
            let label = self.diags.label(self.file, span, p.label.clone());
            let mut d = Diagnostic::error(p.code, p.message.clone());
            d.help = p.help.clone();
            self.diags.push(d, vec![label]);
        }
    }
}

/// Reports a second definition of a name, returns whether `name` was new.
pub(crate) fn first_definition(
    cx: &mut Cx<'_, '_>,
    seen: &mut BTreeMap<String, Range<usize>>,
    name: &str,
    span: Range<usize>,
    code: &str,
    what: &str,
) -> bool {
    if let Some(first) = seen.get(name) {
        cx.error_with_note(
            code,
            format!("two {what}s are named `{name}`"),
            span,
            "defined again here",
            (first.clone(), "first defined here"),
            Some(format!("{what} names are unique; rename or merge one")),
        );
        return false;
    }
    seen.insert(name.to_owned(), span);
    true
}
