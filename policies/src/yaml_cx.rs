//! Reading one policy file: the shared reader of fixed fields (`syntax::fields`), with CEL
//! expressions compiled with carets inside the YAML strings. Every problem becomes a
//! diagnostic in the run's report.

use std::collections::BTreeMap;
use std::ops::Range;

use diagnostics::Diagnostic;
use syntax::fields::FileCx;
use syntax::model::Embedded;
use syntax::yaml::Node;
use targeting::Problem;

use crate::expr::{self, Expr, Place};

/// Validation of one policy file: the shared reader, with [`CelFields`] for CEL expressions.
pub(crate) type Cx<'a, 'f> = FileCx<'a, 'f>;

/// CEL expressions written in YAML strings of a policy file.
pub(crate) trait CelFields {
    fn cel(&mut self, node: &Node, place: Place, what: &str) -> Option<Expr>;
    fn cel_in(&mut self, embedded: &Embedded, range: Range<usize>, place: Place) -> Option<Expr>;
}

impl CelFields for Cx<'_, '_> {
    /// Compiles a CEL expression written in a YAML string; problems point inside the string.
    fn cel(&mut self, node: &Node, place: Place, what: &str) -> Option<Expr> {
        let text = self.non_empty(node, what)?;
        let embedded = self.embedded(node, text);
        self.cel_in(&embedded, 0..embedded.text.len(), place)
    }

    /// Compiles the part `range` of an embedded text as a CEL expression.
    fn cel_in(&mut self, embedded: &Embedded, range: Range<usize>, place: Place) -> Option<Expr> {
        let text = embedded.text.get(range.clone())?;
        match expr::compile(text, place) {
            Ok(e) => Some(e),
            Err(problems) => {
                report(self, embedded, range.start, &problems);
                None
            }
        }
    }
}

fn report(cx: &mut Cx<'_, '_>, embedded: &Embedded, base: usize, problems: &[Problem]) {
    for p in problems {
        let span = embedded.file_range(base + p.range.start..base + p.range.end);
        let label = cx.diags.label(cx.file, span, p.label.clone());
        let mut d = Diagnostic::error(p.code, p.message.clone());
        d.help = p.help.clone();
        cx.diags.push(d, vec![label]);
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
    cx.first_definition(seen, name, span, code, what)
}
