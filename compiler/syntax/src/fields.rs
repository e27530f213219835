//! Reading one user-written YAML file whose mappings have fixed fields: the fields declared
//! once ([`FieldDef`]), and [`FileCx`], which parses the file and reports every YAML problem,
//! unknown, duplicate, missing and mistyped field as a diagnostic with a caret in the file.
//!
//! The fleet loader (cluster and service files) and the policies (RBAC, manifest rules) read
//! their files through it, so the same mistake reads the same everywhere.

use std::collections::BTreeMap;
use std::ops::Range;

use diagnostics::Diagnostic;

use crate::diag::{Diags, suggest};
use crate::model::Embedded;
use crate::yaml::{self, Entry, Kind, Node};

/// A field a file may have, and the fields of its value when that is a mapping with fixed
/// fields.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub required: bool,
    pub fields: &'static [FieldDef],
}

/// A field with no fixed fields below it.
pub const fn field(name: &'static str, required: bool) -> FieldDef {
    FieldDef {
        name,
        required,
        fields: &[],
    }
}

/// Every field path the declarations allow (`chart`, `chart.path`, …).
pub fn field_paths(defs: &[FieldDef]) -> Vec<String> {
    let mut out = Vec::new();
    for d in defs {
        out.push(d.name.to_owned());
        for sub in field_paths(d.fields) {
            out.push(format!("{}.{sub}", d.name));
        }
    }
    out
}

/// The entries of a mapping with fixed fields, by field name.
pub type Fields<'n> = BTreeMap<&'static str, &'n Entry>;

/// The reading of one file: its name (relative to the fleet root), its text, and the report
/// its problems go to.
#[derive(Debug)]
pub struct FileCx<'a, 'f> {
    pub file: &'a str,
    pub text: &'a str,
    pub diags: &'a mut Diags<'f>,
}

impl FileCx<'_, '_> {
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

    /// Parses the file and reports its YAML problems. An empty file has no root (whether that
    /// is a mistake is the caller's to say).
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
    /// `what` names the mapping in messages (`cluster`, `a role`).
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

    /// Reports a value of the wrong type; a collection is shown by its first line.
    pub fn wrong_type(&mut self, node: &Node, expected: &str, what: &str) {
        let help = if node.is_scalar() && expected == "a string" {
            let raw = self.text.get(node.span.clone()).unwrap_or("").trim();
            Some(format!("quote it to make it a string: \"{raw}\""))
        } else {
            None
        };
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

    /// A string (possibly empty).
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(node, "a string", what);
                None
            }
        }
    }

    /// A string that is not empty nor blank.
    pub fn non_empty(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        if s.trim().is_empty() {
            self.error(
                "yaml::empty",
                format!("{what} is empty"),
                node.span.clone(),
                "empty",
                None,
            );
            return None;
        }
        Some(s)
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

    /// Reports a second definition of a name; returns whether `name` was new.
    pub fn first_definition(
        &mut self,
        seen: &mut BTreeMap<String, Range<usize>>,
        name: &str,
        span: Range<usize>,
        code: &str,
        what: &str,
    ) -> bool {
        if let Some(first) = seen.get(name) {
            self.error_with_note(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FleetFiles;

    const DEFS: &[FieldDef] = &[field("name", true), field("tags", false)];

    fn read(text: &str) -> (Option<Vec<&'static str>>, String) {
        let files = FleetFiles::from_files([("f.yaml", text)]);
        let mut diags = Diags::new(&files);
        let mut cx = FileCx {
            file: "f.yaml",
            text,
            diags: &mut diags,
        };
        let root = cx.root();
        let keys = root
            .as_ref()
            .and_then(|r| cx.fields(r, DEFS, "a thing"))
            .map(|f| f.keys().copied().collect());
        let report = diags.finish();
        (keys, report.render_text())
    }

    #[test]
    fn unknown_fields_get_a_suggestion_and_missing_ones_an_error() {
        let (keys, text) = read("nmae: a\ntags: {}\n");
        assert_eq!(keys, Some(vec!["tags"]));
        assert!(text.contains("unknown field `nmae` in a thing"), "{text}");
        assert!(text.contains("did you mean `name`?"), "{text}");
        assert!(text.contains("a thing has no `name`"), "{text}");
    }

    #[test]
    fn a_list_is_not_a_mapping() {
        let (keys, text) = read("- a\n- b\n");
        assert_eq!(keys, None);
        assert!(
            text.contains("a thing must be a mapping, found a list"),
            "{text}"
        );
    }

    #[test]
    fn field_paths_cover_nested_fields() {
        const NESTED: &[FieldDef] = &[FieldDef {
            name: "chart",
            required: true,
            fields: &[field("path", false)],
        }];
        assert_eq!(field_paths(NESTED), ["chart", "chart.path"]);
    }
}
