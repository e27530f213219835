//! Diagnostics for Go templates: parse and execution errors of `gotemplate` placed in the
//! user's file, with a hint for the mistakes people make most.

use gotemplate::{ExecError, ParseError};

use crate::{Diagnostic, Label, Position, Report, position_of};

/// Adds a diagnostic for a template that does not parse. `source` is the index of the
/// template's file in `report`; Go reports only the line, so the whole line is marked.
pub fn parse_error(report: &mut Report, source: usize, err: &ParseError, known: &[&str]) {
    let text = &report.sources[source].text;
    let line_len = text
        .lines()
        .nth(err.line.saturating_sub(1))
        .map_or(1, |l| l.chars().count());
    let label = report.label_at(
        source,
        Position {
            line: err.line.max(1),
            column: 1,
        },
        line_len,
        err.message.clone(),
    );
    let mut d = Diagnostic::error("template::parse", err.to_string());
    d.labels.push(label);
    d.help = parse_hint(&err.message, known);
    report.push(d);
}

/// Adds a diagnostic for a template that fails while executing. Errors inside `include`d or
/// `tpl` templates are followed to their root; when the root lies in another file of the
/// report (by its parse name), the label goes there. A root in a text that is no file of the
/// report (the string given to `tpl`) is labelled at the innermost call that is in one.
pub fn exec_error(report: &mut Report, source: usize, err: &ExecError) {
    let root = err.root_cause();
    let mut d = Diagnostic::error("template::exec", err.to_string());
    // The chain from the outermost error to the root, and the file each one's node is in.
    let mut chain = vec![err];
    while let Some(c) = chain.last().and_then(|e| e.cause.as_deref()) {
        chain.push(c);
    }
    let file_of = |e: &ExecError| -> Option<usize> {
        let loc = e.location.as_deref()?;
        let named = report.sources.iter().position(|s| s.name == loc.parse_name);
        named.or(std::ptr::eq(e, err).then_some(source))
    };
    let placed = chain
        .iter()
        .rev()
        .find_map(|e| Some((*e, file_of(e)?, e.location.as_deref()?)));
    if let Some((at, file, loc)) = placed {
        d.labels.push(span_label(
            report,
            file,
            loc.offset,
            &loc.context,
            &root.message,
        ));
        if !std::ptr::eq(at, err)
            && let Some(outer) = err.location.as_deref()
        {
            let mut outer = span_label(report, source, outer.offset, &outer.context, "called here");
            outer.primary = false;
            d.labels.push(outer);
        }
    }
    let context = root.location.as_deref().map_or("", |l| l.context.as_str());
    d.help = exec_hint(&root.message, context);
    report.push(d);
}

fn span_label(
    report: &Report,
    source: usize,
    offset: usize,
    context: &str,
    message: &str,
) -> Label {
    let text = &report.sources[source].text;
    // Go places a field chain at its second part (`.image` of `.Values.image.tag`): start the
    // span where the whole node text begins when it is found around that offset.
    let offset = offset.min(text.len());
    let start = (0..=offset)
        .rev()
        .take(context.len() + 1)
        .find(|&i| text.is_char_boundary(i) && text[i..].starts_with(context))
        .unwrap_or(offset);
    report.label_at(
        source,
        position_of(text, start),
        context.chars().count(),
        message,
    )
}

fn parse_hint(message: &str, known: &[&str]) -> Option<String> {
    if let Some(name) = message
        .strip_prefix("function \"")
        .and_then(|m| m.strip_suffix("\" not defined"))
    {
        return Some(match closest(name, known) {
            Some(best) => format!("there is no function `{name}`; did you mean `{best}`?"),
            None => format!("there is no function `{name}` in Go templates, Sprig or Helm"),
        });
    }
    if message.starts_with("undefined variable") {
        return Some(
            "declare the variable first with `{{ $name := … }}`, in this block or an enclosing one"
                .into(),
        );
    }
    if message.contains("unexpected EOF") || message.contains("unclosed action") {
        return Some(
            "an action `{{ … }}` or a block (`if`, `range`, `with`, `define`) is not closed".into(),
        );
    }
    None
}

fn exec_hint(message: &str, context: &str) -> Option<String> {
    if let Some(field) = message.strip_prefix("nil pointer evaluating interface {}.") {
        let parent = context
            .strip_suffix(field)
            .and_then(|p| p.strip_suffix('.'))
            .filter(|p| !p.is_empty() && !p.contains(' '));
        return Some(match parent {
            Some(parent) => format!(
                "`{parent}` is not set, so it has no field `{field}`; guard it with `if`/`with`, or give it a default: `({parent} | default dict).{field}`"
            ),
            None => format!(
                "the value before `.{field}` is not set; guard it with `if`/`with`, or give it a default with `default dict`"
            ),
        });
    }
    if message.starts_with("map has no entry for key") {
        return Some("the key is missing; check its spelling or set it in the values".into());
    }
    if message.contains("expected int; got float64")
        || message.contains("incompatible types for comparison")
    {
        return Some(
            "numbers from YAML values are float64 while literals are int: convert with `int`, or compare with a float literal such as `3.0`"
                .into(),
        );
    }
    if message.starts_with("exceeded maximum template depth") {
        return Some(
            "a template includes itself without end; check the recursion's stopping condition"
                .into(),
        );
    }
    if message.starts_with("error calling required:") {
        return Some("a required value is missing: set it in the values".into());
    }
    None
}

/// The known name closest to `name` (by edit distance), if close enough to be a likely typo.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= (name.len().max(k.len()) / 3).max(1))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca.eq_ignore_ascii_case(cb) {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gotemplate::{ExecOptions, FuncMap, Map, MissingKey, Template, Value};

    use super::*;

    fn render(text: &str, values: &str) -> String {
        let funcs = Arc::new(FuncMap::helm());
        let names: Vec<String> = funcs.names().map(str::to_owned).collect();
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut report = Report::new();
        let file = report.source("values.tpl", text);
        let mut t = Template::new(funcs.clone());
        if let Err(e) = t.parse("values.tpl", text) {
            parse_error(&mut report, file, &e, &known);
            return report.render_text();
        }
        let data = Map::new();
        let values = gotemplate::funcs::encoding::from_yaml(values).unwrap_or_default();
        data.insert("Values", values);
        let options = ExecOptions {
            missing_key: MissingKey::Zero,
            ..ExecOptions::default()
        };
        match t.execute("values.tpl", &Value::Map(data), &options) {
            Ok(out) => out,
            Err(e) => {
                exec_error(&mut report, file, &e);
                report.render_text()
            }
        }
    }

    #[test]
    fn nil_parent_points_at_the_field() {
        insta::assert_snapshot!(render(
            "replicas: 3\nimage: {{ .Values.image.tag }}\n",
            "name: x"
        ));
    }

    #[test]
    fn unknown_function_suggests_the_closest() {
        insta::assert_snapshot!(render("a: {{ .Values | toYml }}\n", "name: x"));
    }

    #[test]
    fn float_compared_with_int_explains_the_types() {
        insta::assert_snapshot!(render(
            "{{ if eq .Values.replicas 3 }}three{{ end }}\n",
            "replicas: 3"
        ));
    }

    #[test]
    fn errors_inside_defines_point_at_the_define() {
        insta::assert_snapshot!(render(
            "{{ define \"x\" }}{{ .a.b }}{{ end }}\nout: {{ include \"x\" .Values }}\n",
            "name: x"
        ));
    }

    #[test]
    fn closest_names() {
        assert_eq!(closest("uper", &["upper", "lower"]), Some("upper"));
        assert_eq!(closest("zzzzzz", &["upper", "lower"]), None);
    }
}
