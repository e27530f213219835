//! Helm's own functions: `include`, `tpl`, `required`, `fail`, `lookup`, and the offline
//! `getHostByName` (Helm 3.17 `pkg/engine/engine.go` `initFunMap` and `funcs.go`).
//!
//! `required` and `fail` wrap their message in `HELM_ERR_START…HELM_ERR_END`, exactly as Helm
//! does; Helm's `cleanupExecError` later cuts the message back out of the executor's error
//! text. [`helm_warning`] is that cut, for whoever formats render errors.

use super::encoding::go_quote;
use super::{Func, FuncError, FuncMap, Ty};
use crate::value::{Map, Value};

/// Helm's marker before a `required`/`fail` message.
pub const WARN_START: &str = "HELM_ERR_START";
/// Helm's marker after a `required`/`fail` message.
pub const WARN_END: &str = "HELM_ERR_END";

/// Helm's `warnWrap`.
pub fn warn_wrap(message: &str) -> String {
    format!("{WARN_START}{message}{WARN_END}")
}

/// Helm's `warnRegex` (`HELM_ERR_START((?s).*)HELM_ERR_END`): the text between the first
/// start marker and the last end marker after it, if both are there.
pub fn helm_warning(text: &str) -> Option<&str> {
    let start = text.find(WARN_START)? + WARN_START.len();
    let rest = &text[start..];
    let end = rest.rfind(WARN_END)?;
    Some(&rest[..end])
}

/// Whether an error from [`super::Context::parse_and_execute`] came from executing the text
/// (Go's `ExecError`: `template: NAME:L:C: executing "NAME" at <…>: …`) rather than from
/// parsing it.
fn is_exec_error(message: &str) -> bool {
    message.contains(": executing \"") || message.contains("is an incomplete or empty template")
}

/// Helm's `recursionMaxNums`.
const INCLUDE_MAX_DEPTH: usize = 1000;

fn str_arg(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or("")
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Nil)
}

pub fn register(map: &mut FuncMap) {
    // include(name, data): runs a named template, returns its output. Helm counts the
    // includes of each name in progress and refuses to go deeper than 1000 (its
    // `recursionMaxNums`), before Go's execution depth limit would.
    map.insert(
        "include",
        Func::new(&[Ty::String, Ty::Any], None, |ctx, args| {
            let name = str_arg(args, 0);
            if let Some(depth) = ctx.include_depth(name) {
                if *depth > INCLUDE_MAX_DEPTH {
                    return Err(FuncError::new(format!(
                        "rendering template has a nested reference name: {name}: \
                         unable to execute template"
                    )));
                }
                *depth += 1;
            }
            let r = ctx.execute_template(name, arg(args, 1)).map(Value::from);
            if let Some(depth) = ctx.include_depth(name) {
                *depth = depth.saturating_sub(1);
            }
            r
        }),
    );

    // tpl(text, data): parses and runs text in a copy of the template set; `<no value>`
    // is removed from the output, errors are wrapped with the text quoted.
    map.insert(
        "tpl",
        Func::new(&[Ty::String, Ty::Any], None, |ctx, args| {
            let text = str_arg(args, 0);
            match ctx.parse_and_execute(text, arg(args, 1)) {
                Ok(out) => Ok(Value::from(out.replace("<no value>", ""))),
                Err(e) => {
                    let what = if is_exec_error(&e.message) {
                        "error during tpl function execution for"
                    } else {
                        "cannot parse template"
                    };
                    Err(FuncError::new(format!(
                        "{what} {}: {}",
                        go_quote(text),
                        e.message
                    )))
                }
            }
        }),
    );

    // required(msg, val): nil or "" fail with msg; anything else (false, 0, {}) passes.
    map.insert(
        "required",
        Func::pure(&[Ty::String, Ty::Any], None, |args| match arg(args, 1) {
            Value::Nil => Err(FuncError::new(warn_wrap(str_arg(args, 0)))),
            Value::String(s) if s.is_empty() => Err(FuncError::new(warn_wrap(str_arg(args, 0)))),
            v => Ok(v),
        }),
    );

    // fail(msg): always an error (Helm's override of Sprig's, wrapping the message).
    map.insert(
        "fail",
        Func::pure(&[Ty::String], None, |args| {
            Err(FuncError::new(warn_wrap(str_arg(args, 0))))
        }),
    );

    // lookup(apiVersion, kind, namespace, name): no cluster, so always an empty map.
    map.insert(
        "lookup",
        Func::pure(
            &[Ty::String, Ty::String, Ty::String, Ty::String],
            None,
            |_| Ok(Value::Map(Map::new())),
        ),
    );

    // getHostByName(name): DNS lookups are off in `helm template`, so "".
    map.insert(
        "getHostByName",
        Func::pure(&[Ty::String], None, |_| Ok(Value::from(""))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funcs::{Context, Timestamp};

    /// A context with one template, `t`, that prints "<dot>" and reports other names as Go.
    struct FakeContext {
        parse_result: Result<String, FuncError>,
        seen: Vec<(String, Value)>,
    }

    impl Context for FakeContext {
        fn execute_template(&mut self, name: &str, data: Value) -> Result<String, FuncError> {
            self.seen.push((name.to_string(), data.clone()));
            match name {
                "t" => Ok(format!("<{}>", crate::gofmt::format_value(&data))),
                _ => Err(FuncError::new(format!(
                    "template: no template \"{name}\" associated with template \"gotpl\""
                ))),
            }
        }

        fn parse_and_execute(&mut self, text: &str, data: Value) -> Result<String, FuncError> {
            self.seen.push((text.to_string(), data));
            self.parse_result.clone()
        }

        fn random_u64(&mut self) -> u64 {
            4
        }

        fn now(&self) -> Timestamp {
            Timestamp {
                unix_seconds: 0,
                nanos: 0,
            }
        }
    }

    fn ctx(parse_result: Result<&str, &str>) -> FakeContext {
        FakeContext {
            parse_result: parse_result.map(String::from).map_err(FuncError::new),
            seen: Vec::new(),
        }
    }

    fn call(c: &mut FakeContext, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        let mut map = FuncMap::new();
        register(&mut map);
        let f = map
            .get(name)
            .unwrap_or_else(|| panic!("{name} is registered"));
        f.call(c, args)
    }

    #[test]
    fn include_runs_the_named_template() {
        let mut c = ctx(Ok(""));
        let out = call(&mut c, "include", &["t".into(), Value::Int(3)]);
        assert_eq!(out, Ok(Value::from("<3>")));
        assert_eq!(c.seen, [("t".to_string(), Value::Int(3))]);
        let err = call(&mut c, "include", &["missing".into(), Value::Nil]).unwrap_err();
        assert_eq!(
            err.message,
            "template: no template \"missing\" associated with template \"gotpl\""
        );
    }

    #[test]
    fn tpl_replaces_no_value_and_wraps_errors() {
        type Outcome = Result<&'static str, &'static str>;
        let cases: &[(Outcome, Outcome)] = &[
            (Ok("a <no value> b"), Ok("a  b")),
            (Ok("plain"), Ok("plain")),
            (
                Err("template: gotpl:1: unexpected \"}\" in operand"),
                Err(
                    "cannot parse template \"{{ .x }\\n\": template: gotpl:1: unexpected \"}\" in operand",
                ),
            ),
            (
                Err(
                    "template: gotpl:1:3: executing \"gotpl\" at <.x.y>: nil pointer evaluating interface {}.y",
                ),
                Err(
                    "error during tpl function execution for \"{{ .x }\\n\": template: gotpl:1:3: executing \"gotpl\" at <.x.y>: nil pointer evaluating interface {}.y",
                ),
            ),
        ];
        for (context_result, expect) in cases {
            let mut c = ctx(*context_result);
            let got = call(&mut c, "tpl", &["{{ .x }\n".into(), Value::Int(1)]);
            let expect = expect.map(Value::from).map_err(FuncError::new);
            assert_eq!(got, expect);
            assert_eq!(c.seen, [("{{ .x }\n".to_string(), Value::Int(1))]);
        }
    }

    #[test]
    fn required_rejects_nil_and_empty_strings_only() {
        let m = Map::new();
        let cases: Vec<(Value, Result<Value, &str>)> = vec![
            (Value::Nil, Err("HELM_ERR_STARTneed xHELM_ERR_END")),
            (Value::from(""), Err("HELM_ERR_STARTneed xHELM_ERR_END")),
            (Value::from("v"), Ok(Value::from("v"))),
            (Value::Bool(false), Ok(Value::Bool(false))),
            (Value::Float(0.0), Ok(Value::Float(0.0))),
            (Value::Map(m.clone()), Ok(Value::Map(m))),
            (Value::list(vec![]), Ok(Value::list(vec![]))),
        ];
        for (val, expect) in cases {
            let got = call(
                &mut ctx(Ok("")),
                "required",
                &["need x".into(), val.clone()],
            );
            assert_eq!(got, expect.map_err(FuncError::new), "{val:?}");
        }
    }

    #[test]
    fn fail_lookup_and_dns() {
        assert_eq!(
            call(&mut ctx(Ok("")), "fail", &["boom".into()]),
            Err(FuncError::new("HELM_ERR_STARTboomHELM_ERR_END"))
        );
        let args: Vec<Value> = ["v1", "Secret", "ns", "name"].map(Value::from).to_vec();
        assert_eq!(
            call(&mut ctx(Ok("")), "lookup", &args),
            Ok(Value::Map(Map::new()))
        );
        assert_eq!(
            call(&mut ctx(Ok("")), "getHostByName", &["example.com".into()]),
            Ok(Value::from(""))
        );
    }

    #[test]
    fn warnings_are_cut_out_like_helm() {
        let cases = [
            (
                "template: x:1:2: executing \"x\" at <required \"m\" .v>: error calling required: HELM_ERR_STARTmHELM_ERR_END",
                Some("m"),
            ),
            (
                "HELM_ERR_STARTa\nbHELM_ERR_END tail HELM_ERR_END",
                Some("a\nbHELM_ERR_END tail "),
            ),
            ("no markers", None),
            ("HELM_ERR_START only", None),
        ];
        for (text, expect) in cases {
            assert_eq!(helm_warning(text), expect, "{text}");
        }
    }
}
