//! Data-driven tests of the engine: template, data, expected output or error, each derived
//! from Go 1.23's `text/template` (many ported from its `exec_test.go` and `multi_test.go`).

use std::sync::Arc;

use crate::error::ExecErrorKind;
use crate::funcs::{Func, FuncError, FuncMap, Ty};
use crate::template::{ExecOptions, Limits, MissingKey, Template};
use crate::value::{Map, Object, Value};

fn s(x: &str) -> Value {
    Value::from(x)
}
fn i(x: i64) -> Value {
    Value::Int(x)
}
fn f(x: f64) -> Value {
    Value::Float(x)
}
fn l(items: Vec<Value>) -> Value {
    Value::list(items)
}
fn m(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// A Go value with fields and methods, for field-resolution tests.
#[derive(Debug)]
struct Obj;

impl Object for Obj {
    fn type_name(&self) -> &str {
        "*test.Obj"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(s("obj")),
            "Inner" => Some(m(&[("k", s("inner"))])),
            "NilField" => Some(Value::Nil),
            _ => None,
        }
    }
    fn call_method(&self, name: &str, args: &[Value]) -> Option<Result<Value, FuncError>> {
        match name {
            "Greet" => Some(Ok(s(&format!(
                "hello {}",
                args.first().and_then(Value::as_str).unwrap_or("?")
            )))),
            "Fail" => Some(Err(FuncError::new("nope"))),
            _ => None,
        }
    }
    fn go_string(&self) -> String {
        "{obj}".into()
    }
}

/// The data most cases run against (Go's `tVal`, in map form).
fn data() -> Value {
    m(&[
        ("I", i(17)),
        ("F", f(1.5)),
        ("FZ", f(0.0)),
        ("S", s("xyz")),
        ("B", Value::Bool(true)),
        ("SI", l(vec![i(3), i(4), i(5)])),
        ("SIEmpty", l(vec![])),
        ("SB", l(vec![Value::Bool(true), Value::Bool(false)])),
        ("MSI", m(&[("one", i(1)), ("two", i(2)), ("three", i(3))])),
        ("MSIone", m(&[("one", i(1))])),
        ("MSIEmpty", m(&[])),
        ("U", m(&[("V", s("v"))])),
        ("Nil", Value::Nil),
        ("Empty3", l(vec![i(7), i(8)])),
        (
            "SMSI",
            l(vec![
                m(&[("one", i(1)), ("two", i(2))]),
                m(&[("eleven", i(11)), ("twelve", i(12))]),
            ]),
        ),
        (
            "Values",
            m(&[
                ("a", m(&[("b", s("c"))])),
                ("n", f(3.0)),
                ("list", l(vec![s("x"), s("y")])),
                ("withnil", l(vec![s("a"), Value::Nil])),
                ("null", Value::Nil),
            ]),
        ),
        ("Obj", Value::Object(Arc::new(Obj))),
    ])
}

fn str_arg(args: &[Value], n: usize) -> String {
    args.get(n)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Small functions with Go signatures, standing in for Sprig/Helm ones.
fn test_funcs() -> FuncMap {
    let mut fm = FuncMap::new();
    fm.insert("echo", Func::pure(&[Ty::Any], None, |a| Ok(a[0].clone())));
    fm.insert(
        "oneArg",
        Func::pure(&[Ty::String], None, |a| {
            Ok(s(&format!("oneArg={}", str_arg(a, 0))))
        }),
    );
    fm.insert(
        "twoArgs",
        Func::pure(&[Ty::String, Ty::String], None, |a| {
            Ok(s(&format!("twoArgs={}{}", str_arg(a, 0), str_arg(a, 1))))
        }),
    );
    fm.insert(
        "dddArg",
        Func::pure(&[Ty::Int], Some(Ty::String), |a| {
            let rest: Vec<String> = a[1..]
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect();
            Ok(s(&format!("{:?}:{}", a[0], rest.join(","))))
        }),
    );
    fm.insert(
        "add",
        Func::pure(&[Ty::Int, Ty::Int], None, |a| match (&a[0], &a[1]) {
            (Value::Int(x), Value::Int(y)) => Ok(i(x + y)),
            _ => Err(FuncError::new("bad")),
        }),
    );
    fm.insert(
        "floatArg",
        Func::pure(&[Ty::Float], None, |a| match a[0] {
            Value::Float(x) => Ok(f(x * 2.0)),
            _ => Err(FuncError::new("bad")),
        }),
    );
    fm.insert(
        "boolArg",
        Func::pure(&[Ty::Bool], None, |a| Ok(Value::Bool(!a[0].truthy()))),
    );
    fm.insert(
        "mapArg",
        Func::pure(&[Ty::Map], None, |a| {
            Ok(i(a[0].as_map().map_or(0, |m| m.len() as i64)))
        }),
    );
    fm.insert(
        "listArg",
        Func::pure(&[Ty::List], None, |a| {
            Ok(i(a[0].as_list().map_or(-1, |l| l.len() as i64)))
        }),
    );
    fm.insert(
        "pair",
        Func::pure(&[Ty::Any, Ty::Any], None, |a| Ok(l(a.to_vec()))),
    );
    fm.insert("zeroArgs", Func::pure(&[], None, |_| Ok(s("zeroArgs"))));
    fm.insert("die", Func::pure(&[], None, |_| Err(FuncError::new("die"))));
    fm.insert(
        "fail",
        Func::pure(&[Ty::String], None, |a| Err(FuncError::new(str_arg(a, 0)))),
    );
    fm.insert("returnNil", Func::pure(&[], None, |_| Ok(Value::Nil)));
    fm.insert(
        "mapOfThree",
        Func::pure(&[], None, |_| Ok(m(&[("three", i(3))]))),
    );
    fm.insert(
        "makemap",
        Func::pure(&[], Some(Ty::String), |a| {
            let map = Map::new();
            for pair in a.chunks(2) {
                if let [k, v] = pair {
                    map.insert(k.as_str().unwrap_or(""), v.clone());
                }
            }
            Ok(Value::Map(map))
        }),
    );
    fm.insert(
        "upper",
        Func::pure(&[Ty::String], None, |a| {
            Ok(s(&str_arg(a, 0).to_uppercase()))
        }),
    );
    fm.insert(
        "include",
        Func::new(&[Ty::String, Ty::Any], None, |ctx, a| {
            ctx.execute_template(&str_arg(a, 0), a[1].clone())
                .map(Value::from)
        }),
    );
    fm.insert(
        "tpl",
        Func::new(&[Ty::String, Ty::Any], None, |ctx, a| {
            ctx.parse_and_execute(&str_arg(a, 0), a[1].clone())
                .map(|out| Value::from(out.replace("<no value>", "")))
                .map_err(|e| {
                    FuncError::new(format!(
                        "error during tpl function execution for {:?}: {}",
                        str_arg(a, 0),
                        e.message
                    ))
                })
        }),
    );
    fm.insert(
        "rand",
        Func::new(&[], None, |ctx, _| Ok(i((ctx.random_u64() % 1000) as i64))),
    );
    fm.insert(
        "now",
        Func::new(&[], None, |ctx, _| Ok(i(ctx.now().unix_seconds))),
    );
    fm
}

fn run_with(text: &str, data: &Value, opts: &ExecOptions) -> Result<String, String> {
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse("t", text).map_err(|e| format!("parse: {e}"))?;
    t.execute("t", data, opts).map_err(|e| e.to_string())
}

/// `want` is the output, or `!` and the whole error text.
fn check_cases(cases: &[(&str, &str)], data: &Value, opts: &ExecOptions) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = match run_with(text, data, opts) {
            Ok(out) => out,
            Err(e) => format!("!{e}"),
        };
        if got != *want {
            failures.push(format!("{text:?}\n     got: {got:?}\n    want: {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn check(cases: &[(&str, &str)]) {
    check_cases(cases, &data(), &ExecOptions::default());
}

fn opts_missing(mode: MissingKey) -> ExecOptions {
    ExecOptions {
        missing_key: mode,
        ..ExecOptions::default()
    }
}

#[test]
fn fields_and_printing() {
    check(&[
        ("hello", "hello"),
        ("{{.I}}", "17"),
        ("{{.F}}", "1.5"),
        ("{{.S}}", "xyz"),
        ("{{.B}}", "true"),
        ("{{.SI}}", "[3 4 5]"),
        ("{{.MSIone}}", "map[one:1]"),
        ("{{.MSI.one}}", "1"),
        ("{{.MSI.NO}}", "<no value>"),
        ("{{.U.V}}", "v"),
        ("{{.Nil}}", "<no value>"),
        ("{{.Values.withnil}}", "[a <nil>]"),
        ("{{.Missing}}", "<no value>"),
        ("{{.Missing.x.y}}", "<no value>"),
        ("{{.Values.a.b}}", "c"),
        ("{{$.U.V}}", "v"),
        ("{{(.U).V}}", "v"),
        ("{{($).I}}", "17"),
        ("{{($ | echo).I}}", "17"),
        ("{{(echo .U).V}}", "v"),
        ("<{{.Obj}}>", "<{obj}>"),
        ("{{.Obj.Name}}", "obj"),
        ("{{.Obj.Inner.k}}", "inner"),
        ("{{.Obj.Greet \"x\"}}", "hello x"),
        ("{{\"y\" | .Obj.Greet}}", "hello y"),
        ("{{.Obj.NilField}}", "<no value>"),
        // The field of a nil map entry: Go's nil interface.
        (
            "{{.Nil.x}}",
            "!template: t:1:6: executing \"t\" at <.Nil.x>: nil pointer evaluating interface {}.x",
        ),
        // A chained field's position is that of its second component (Go quirk).
        (
            "{{.S.x}}",
            "!template: t:1:4: executing \"t\" at <.S.x>: can't evaluate field x in type interface {}",
        ),
        (
            "{{with .S}}{{.x}}{{end}}",
            "!template: t:1:13: executing \"t\" at <.x>: can't evaluate field x in type string",
        ),
        (
            "{{.I.x}}",
            "!template: t:1:4: executing \"t\" at <.I.x>: can't evaluate field x in type interface {}",
        ),
        (
            "{{.MSI.one 1}}",
            "!template: t:1:6: executing \"t\" at <.MSI.one>: one is not a method but has arguments",
        ),
        (
            "a\nb {{.S.x}}",
            "!template: t:2:6: executing \"t\" at <.S.x>: can't evaluate field x in type interface {}",
        ),
        // Columns count bytes.
        (
            "é{{.S.x}}",
            "!template: t:1:6: executing \"t\" at <.S.x>: can't evaluate field x in type interface {}",
        ),
        (
            "{{.Obj.Nope}}",
            "!template: t:1:6: executing \"t\" at <.Obj.Nope>: can't evaluate field Nope in type interface {}",
        ),
        (
            "{{with .Obj}}{{.Nope}}{{end}}",
            "!template: t:1:15: executing \"t\" at <.Nope>: can't evaluate field Nope in type *test.Obj",
        ),
        (
            "{{.Obj.Name 1}}",
            "!template: t:1:6: executing \"t\" at <.Obj.Name>: Name has arguments but cannot be invoked as function",
        ),
        (
            "{{.Obj.Fail}}",
            "!template: t:1:6: executing \"t\" at <.Obj.Fail>: error calling Fail: nope",
        ),
        (
            "{{.Obj.NilField.x}}",
            "!template: t:1:6: executing \"t\" at <.Obj.NilField.x>: nil pointer evaluating interface {}.x",
        ),
    ]);
}

#[test]
fn nil_data() {
    let cases: &[(&str, &str)] = &[
        ("{{.}}", "<no value>"),
        ("{{.foo}}", "<no value>"),
        ("{{(.).foo}}", "<no value>"),
        ("{{$}}", "<no value>"),
        ("{{if .}}x{{else}}y{{end}}", "y"),
    ];
    check_cases(cases, &Value::Nil, &ExecOptions::default());
    check_cases(&[("<{{.}}>", "<13>")], &i(13), &ExecOptions::default());
    check_cases(&[("<{{.}}>", "<15.1>")], &f(15.1), &ExecOptions::default());
    check_cases(&[("{{$}}", "hello")], &s("hello"), &ExecOptions::default());
}

#[test]
fn trimming_and_comments() {
    check(&[
        ("a {{- /* c */ -}} b", "ab"),
        ("a  {{- 1 -}}  b", "a1b"),
        ("a\n\t {{- 1}}", "a1"),
        ("{{1 -}}\n\t b", "1b"),
        ("{{- 1}}", "1"),
        ("x{{/* multi\nline */}}y", "xy"),
        ("{{-3}}", "-3"),
        ("{{ -3 }}", "-3"),
        ("{{3 -}}\n x", "3x"),
        ("{{/* a */}}", ""),
        ("a {{- \"b\" -}} \n c", "abc"),
        ("{{if true -}}\n  yes\n{{- end}}", "yes"),
    ]);
}

#[test]
fn literals() {
    check(&[
        ("{{1}}", "1"),
        ("{{1.5}}", "1.5"),
        ("{{1.0}}", "1"),
        ("{{-0.5}}", "-0.5"),
        ("{{+5}}", "5"),
        ("{{1e3}}", "1000"),
        ("{{1e100}}", "1e+100"),
        ("{{0x1F}}", "31"),
        ("{{0o17}}", "15"),
        ("{{017}}", "15"),
        ("{{0b101}}", "5"),
        ("{{1_000}}", "1000"),
        ("{{0x1p4}}", "16"),
        ("{{'a'}}", "97"),
        ("{{'\\n'}}", "10"),
        ("{{\"a\\tb\"}}", "a\tb"),
        ("{{\"\\u00e9\\x41\\101\"}}", "éAA"),
        ("{{`raw\\n`}}", "raw\\n"),
        ("{{`a\r\nb`}}", "a\nb"),
        ("{{true}} {{false}}", "true false"),
        ("{{9223372036854775807}}", "9223372036854775807"),
        ("{{-9223372036854775808}}", "-9223372036854775808"),
        (
            "{{18446744073709551615}}",
            "!template: t:1:2: executing \"t\" at <18446744073709551615>: 18446744073709551615 overflows int",
        ),
        ("{{print 1_2_3_4 7.5_00_00_00}}", "1234 7.5"),
        ("{{print +0x1.ep+2}}", "7.5"),
        ("{{print +0X1.EP+2}}", "7.5"),
        ("{{print 0x_1.e_0p+0_2}}", "7.5"),
        ("{{print 0377}}", "255"),
        ("{{print 0X123ABC}}", "1194684"),
        ("{{print 0B101}} {{print 0O377}}", "5 255"),
        ("{{print 0_0_1_2_3.4}}", "123.4"),
        (
            "{{nil}}",
            "!template: t:1:2: executing \"t\" at <nil>: nil is not a command",
        ),
        (
            "{{1i}}",
            "!template: t:1:2: executing \"t\" at <1i>: complex constant 1i is not supported",
        ),
        ("{{eq (index `x` 0) 'x'}}", "true"),
    ]);
}

#[test]
fn variables() {
    check(&[
        ("{{$x := 1}}{{$x}}", "1"),
        ("{{$x := 2}}{{$x = 3}}{{$x}}", "3"),
        ("{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{$x}}", "3"),
        (
            "{{$x := 1}}{{if true}}{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{end}}{{$x}}",
            "1",
        ),
        ("{{$.I}}", "17"),
        ("{{$x := $.U.V}}{{$x}}", "v"),
        ("{{with $x := .I}}{{$x}}{{end}}", "17"),
        ("{{with $x := $}}{{$x.U.V}}{{end}}", "v"),
        ("{{with $x := $}}{{$y := $.U.V}}{{$y}}{{end}}", "v"),
        (
            "{{if $x := true}}{{with $y := .I}}{{$x}},{{$y}}{{end}}{{end}}",
            "true,17",
        ),
        (
            "{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}",
            "17,true",
        ),
        ("{{with .U}}{{$.I}}{{end}}", "17"),
        ("{{$x := .Missing}}{{$x}}", "<no value>"),
        ("{{$x := .Missing}}{{$x.y}}", "<no value>"),
        ("{{$x := .U}}{{$x.V}}", "v"),
        ("{{$x := 1}}{{$x := 2}}{{$x}}", "2"),
        ("{{$x := 3}}{{$y := $x}}{{$x = 4}}{{$y}}{{$x}}", "34"),
        (
            "{{$x := 1}}{{$x 2}}",
            "!template: t:1:13: executing \"t\" at <$x>: can't give argument to non-function $x",
        ),
        (
            "{{$x := 1}}{{3 | $x}}",
            "!template: t:1:17: executing \"t\" at <$x>: can't give argument to non-function $x",
        ),
        (
            "{{$x := (1.0)}}{{$x.anything}}",
            "!template: t:1:19: executing \"t\" at <$x.anything>: can't evaluate field anything in type float64",
        ),
        (
            "{{$x := nil}}",
            "!template: t:1:8: executing \"t\" at <nil>: nil is not a command",
        ),
    ]);
}

#[test]
fn commands_and_pipelines() {
    check(&[
        ("{{(1)}}", "1"),
        (
            "{{3 2}}",
            "!template: t:1:2: executing \"t\" at <3>: can't give argument to non-function 3",
        ),
        (
            "{{(1) 2}}",
            "!template: t:1:2: executing \"t\" at <(1) 2>: can't give argument to non-function 1",
        ),
        (
            "{{(nil).True}}",
            "!template: t:1:3: executing \"t\" at <nil>: nil is not a command",
        ),
        ("{{\"aaa\" | oneArg}}", "oneArg=aaa"),
        ("{{\"aaa\" | twoArgs \"bbb\"}}", "twoArgs=bbbaaa"),
        ("{{\"x\"|printf}}", "x"),
        ("{{zeroArgs}}", "zeroArgs"),
        ("{{print zeroArgs}}", "zeroArgs"),
        ("{{mapOfThree.three}}-{{(mapOfThree).three}}", "3-3"),
        (
            "{{(makemap \"up\" \"down\" \"left\" \"right\").left}}",
            "right",
        ),
        ("{{upper (print \"a\" \"b\")}}", "AB"),
        ("{{print (add 1 2) (add 4 (add 5 6))}}", "3 15"),
        ("{{2 | add 3}}", "5"),
        ("{{dddArg 1 \"a\" \"b\"}}", "1:a,b"),
        ("{{dddArg 1}}", "1:"),
        ("{{\"z\" | dddArg 1}}", "1:z"),
        ("{{returnNil}}", "<no value>"),
        (
            "{{returnNil.x}}",
            "!template: t:1:2: executing \"t\" at <returnNil>: nil pointer evaluating interface {}.x",
        ),
        ("{{floatArg 2}}", "4"),
        ("{{floatArg 1.5}}", "3"),
        ("{{floatArg .F}}", "3"),
        ("{{boolArg true}}", "false"),
        ("{{mapArg .MSI}}", "3"),
        ("{{mapArg .Missing}}", "0"),
        ("{{mapArg nil}}", "0"),
        ("{{listArg .SI}}", "3"),
        ("{{listArg nil}}", "-1"),
        ("{{echo .Missing}}", "<no value>"),
        ("{{echo nil}}", "<no value>"),
        ("{{echo 1.5}}", "1.5"),
        (
            "{{1 | oneArg}}",
            "!template: t:1:6: executing \"t\" at <oneArg>: wrong type for value; expected string; got int",
        ),
        (
            "{{true|printf}}",
            "!template: t:1:7: executing \"t\" at <printf>: wrong type for value; expected string; got bool",
        ),
        (
            "{{.Missing | oneArg}}",
            "!template: t:1:13: executing \"t\" at <oneArg>: invalid value; expected string",
        ),
        (
            "{{oneArg .Missing}}",
            "!template: t:1:9: executing \"t\" at <.Missing>: invalid value; expected string",
        ),
        (
            "{{oneArg .Nil}}",
            "!template: t:1:9: executing \"t\" at <.Nil>: wrong type for value; expected string; got interface {}",
        ),
        (
            "{{oneArg .I}}",
            "!template: t:1:9: executing \"t\" at <.I>: wrong type for value; expected string; got int",
        ),
        (
            "{{oneArg 3}}",
            "!template: t:1:9: executing \"t\" at <3>: expected string; found 3",
        ),
        (
            "{{oneArg nil}}",
            "!template: t:1:9: executing \"t\" at <nil>: cannot assign nil to string",
        ),
        (
            "{{oneArg}}",
            "!template: t:1:2: executing \"t\" at <oneArg>: wrong number of args for oneArg: want 1 got 0",
        ),
        (
            "{{oneArg \"a\" \"b\"}}",
            "!template: t:1:2: executing \"t\" at <oneArg>: wrong number of args for oneArg: want 1 got 2",
        ),
        (
            "{{\"a\" | oneArg \"b\"}}",
            "!template: t:1:8: executing \"t\" at <oneArg>: wrong number of args for oneArg: want 1 got 2",
        ),
        (
            "{{dddArg}}",
            "!template: t:1:2: executing \"t\" at <dddArg>: wrong number of args for dddArg: want at least 1 got 0",
        ),
        (
            "{{4 | dddArg 3}}",
            "!template: t:1:13: executing \"t\" at <3>: wrong type for value; expected string; got int",
        ),
        (
            "{{add 1.5 2}}",
            "!template: t:1:6: executing \"t\" at <1.5>: expected integer; found 1.5",
        ),
        (
            "{{add .F 1}}",
            "!template: t:1:6: executing \"t\" at <.F>: wrong type for value; expected int; got float64",
        ),
        (
            "{{floatArg .I}}",
            "!template: t:1:11: executing \"t\" at <.I>: wrong type for value; expected float64; got int",
        ),
        (
            "{{boolArg 1}}",
            "!template: t:1:10: executing \"t\" at <1>: expected bool; found 1",
        ),
        (
            "{{mapArg .Nil}}",
            "!template: t:1:9: executing \"t\" at <.Nil>: wrong type for value; expected map[string]interface {}; got interface {}",
        ),
        (
            "{{mapArg \"x\"}}",
            "!template: t:1:9: executing \"t\" at <\"x\">: can't handle \"x\" for arg of type map[string]interface {}",
        ),
        (
            "{{listArg .S}}",
            "!template: t:1:10: executing \"t\" at <.S>: wrong type for value; expected []interface {}; got string",
        ),
        (
            "{{fail \"boom\"}}",
            "!template: t:1:2: executing \"t\" at <fail \"boom\">: error calling fail: boom",
        ),
        (
            "x\n  {{fail \"boom\"}}",
            "!template: t:2:4: executing \"t\" at <fail \"boom\">: error calling fail: boom",
        ),
        (
            "{{\"boom\" | fail}}",
            "!template: t:1:11: executing \"t\" at <fail>: error calling fail: boom",
        ),
        (
            "{{print (fail \"in\")}}",
            "!template: t:1:9: executing \"t\" at <fail \"in\">: error calling fail: in",
        ),
    ]);
}

#[test]
fn boolean_builtins() {
    check(&[
        (
            "{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}",
            "false 0 0 1",
        ),
        (
            "{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}",
            "0 1 true 1",
        ),
        ("{{or 0 1 (die)}}", "1"),
        ("{{and 1 0 (die)}}", "0"),
        (
            "{{or 0 0 (die)}}",
            "!template: t:1:10: executing \"t\" at <die>: error calling die: die",
        ),
        (
            "{{and 1 1 (die)}}",
            "!template: t:1:11: executing \"t\" at <die>: error calling die: die",
        ),
        ("{{1 | and 1}}", "1"),
        ("{{0 | and 1}}", "0"),
        ("{{1 | or 0}}", "1"),
        ("{{0 | or 0}}", "0"),
        ("{{and 1 .Unknown}}", "<no value>"),
        ("{{or 0 .Unknown}}", "<no value>"),
        ("{{or .SI \"slice is empty\"}}", "[3 4 5]"),
        ("{{or .SIEmpty \"slice is empty\"}}", "slice is empty"),
        ("{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}}", "TRUE"),
        (
            "{{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}",
            "FALSE",
        ),
        ("{{if true | not | and 1}}TRUE{{else}}FALSE{{end}}", "FALSE"),
        ("{{not true}} {{not false}}", "false true"),
        (
            "{{not .Missing}} {{not nil}} {{not .Nil}} {{not .SI}}",
            "true true true false",
        ),
        (
            "{{not 1 2}}",
            "!template: t:1:2: executing \"t\" at <not>: wrong number of args for not: want 1 got 2",
        ),
        (
            "{{and}}",
            "!template: t:1:2: executing \"t\" at <and>: wrong number of args for and: want at least 1 got 0",
        ),
    ]);
}

#[test]
fn len_index_slice() {
    check(&[
        ("{{len .SI}}", "3"),
        ("{{len .MSI}}", "3"),
        ("{{len .S}}", "3"),
        ("{{len \"héllo\"}}", "6"),
        ("{{len .Empty3}}", "2"),
        (
            "{{len 3}}",
            "!template: t:1:2: executing \"t\" at <len 3>: error calling len: len of type int",
        ),
        (
            "{{len .F}}",
            "!template: t:1:2: executing \"t\" at <len .F>: error calling len: len of type float64",
        ),
        (
            "{{len .Nil}}",
            "!template: t:1:2: executing \"t\" at <len .Nil>: error calling len: len of nil pointer",
        ),
        (
            "{{len .Missing}}",
            "!template: t:1:2: executing \"t\" at <len .Missing>: error calling len: reflect: call of reflect.Value.Type on zero Value",
        ),
        ("{{index .SI 0}}", "3"),
        ("{{index .SI 2}}", "5"),
        ("{{index .SI}}", "[3 4 5]"),
        ("{{index .MSI `one`}}", "1"),
        ("{{index .MSI `XXX`}}", "<no value>"),
        ("{{index .MSI ``}}", "<no value>"),
        ("{{index .SMSI 1 `eleven`}}", "11"),
        ("{{index .Empty3 0}}", "7"),
        ("{{index .S 1}}", "121"),
        ("{{index .Values.list 1}}", "y"),
        ("{{$i := 1}}{{index .SI $i}}", "4"),
        (
            "{{index .SI 3}}",
            "!template: t:1:2: executing \"t\" at <index .SI 3>: error calling index: reflect: slice index out of range",
        ),
        (
            "{{index .S 3}}",
            "!template: t:1:2: executing \"t\" at <index .S 3>: error calling index: reflect: string index out of range",
        ),
        (
            "{{index .SI 10}}",
            "!template: t:1:2: executing \"t\" at <index .SI 10>: error calling index: index out of range: 10",
        ),
        (
            "{{index .SI -1}}",
            "!template: t:1:2: executing \"t\" at <index .SI -1>: error calling index: index out of range: -1",
        ),
        (
            "{{index .SI `hello`}}",
            "!template: t:1:2: executing \"t\" at <index .SI `hello`>: error calling index: cannot index slice/array with type string",
        ),
        (
            "{{index .SI .F}}",
            "!template: t:1:2: executing \"t\" at <index .SI .F>: error calling index: cannot index slice/array with type float64",
        ),
        (
            "{{index .SI nil}}",
            "!template: t:1:2: executing \"t\" at <index .SI nil>: error calling index: cannot index slice/array with nil",
        ),
        (
            "{{index .MSI nil}}",
            "!template: t:1:2: executing \"t\" at <index .MSI nil>: error calling index: value is nil; should be of type string",
        ),
        (
            "{{index .MSI 10}}",
            "!template: t:1:2: executing \"t\" at <index .MSI 10>: error calling index: value has type int; should be string",
        ),
        (
            "{{index nil 1}}",
            "!template: t:1:2: executing \"t\" at <index nil 1>: error calling index: index of untyped nil",
        ),
        (
            "{{index .Missing 1}}",
            "!template: t:1:2: executing \"t\" at <index .Missing 1>: error calling index: index of untyped nil",
        ),
        (
            "{{index .MSI `XXX` `y`}}",
            "!template: t:1:2: executing \"t\" at <index .MSI `XXX` `y`>: error calling index: index of nil pointer",
        ),
        (
            "{{index .I 0}}",
            "!template: t:1:2: executing \"t\" at <index .I 0>: error calling index: can't index item of type int",
        ),
        ("{{slice .SI}}", "[3 4 5]"),
        ("{{slice .SI 1}}", "[4 5]"),
        ("{{slice .SI 1 2}}", "[4]"),
        ("{{slice .SI 1 2 3}}", "[4]"),
        ("{{slice .SI 3}}", "[]"),
        ("{{slice .S}}", "xyz"),
        ("{{slice .S 0 1}}", "x"),
        ("{{slice .S 1}}", "yz"),
        ("{{slice .S 1 2}}", "y"),
        ("{{slice .Empty3 0 1}}", "[7]"),
        ("{{$i := 1}}{{slice .SI $i}}", "[4 5]"),
        (
            "{{slice .SI -1}}",
            "!template: t:1:2: executing \"t\" at <slice .SI -1>: error calling slice: index out of range: -1",
        ),
        (
            "{{slice .SI 1 -2}}",
            "!template: t:1:2: executing \"t\" at <slice .SI 1 -2>: error calling slice: index out of range: -2",
        ),
        (
            "{{slice .SI 2 1}}",
            "!template: t:1:2: executing \"t\" at <slice .SI 2 1>: error calling slice: invalid slice index: 2 > 1",
        ),
        (
            "{{slice .SI 2 2 1}}",
            "!template: t:1:2: executing \"t\" at <slice .SI 2 2 1>: error calling slice: invalid slice index: 2 > 1",
        ),
        (
            "{{slice .SI 4 5}}",
            "!template: t:1:2: executing \"t\" at <slice .SI 4 5>: error calling slice: index out of range: 4",
        ),
        (
            "{{slice .S 1 5}}",
            "!template: t:1:2: executing \"t\" at <slice .S 1 5>: error calling slice: index out of range: 5",
        ),
        (
            "{{slice .S 1 2 2}}",
            "!template: t:1:2: executing \"t\" at <slice .S 1 2 2>: error calling slice: cannot 3-index slice a string",
        ),
        (
            "{{slice .SI 1 2 3 4}}",
            "!template: t:1:2: executing \"t\" at <slice .SI 1 2 3 4>: error calling slice: too many slice indexes: 4",
        ),
        (
            "{{slice nil}}",
            "!template: t:1:2: executing \"t\" at <slice nil>: error calling slice: slice of untyped nil",
        ),
        (
            "{{slice .I 1}}",
            "!template: t:1:2: executing \"t\" at <slice .I 1>: error calling slice: can't slice item of type int",
        ),
        // Go quirk: `slice` does not unwrap an index read from a map.
        (
            "{{slice .SI .MSI.one}}",
            "!template: t:1:2: executing \"t\" at <slice .SI .MSI.one>: error calling slice: cannot index slice/array with type interface {}",
        ),
    ]);
}

#[test]
fn comparisons() {
    check(&[
        ("{{eq true true}} {{eq true false}}", "true false"),
        ("{{eq 1.5 1.5}} {{eq 1.5 2.5}}", "true false"),
        ("{{eq 1 1}} {{eq 1 2}}", "true false"),
        ("{{eq `xy` `xy`}} {{eq `xy` `xyz`}}", "true false"),
        ("{{eq 3 4 5 6 3}} {{eq 3 4 5 6 7}}", "true false"),
        (
            "{{eq .I 17}} {{eq .F 1.5}} {{eq .S `xyz`}}",
            "true true true",
        ),
        ("{{eq .Missing nil}} {{eq nil nil}}", "true true"),
        (
            "{{eq .S nil}} {{eq nil .S}} {{eq .MSI nil}}",
            "false false false",
        ),
        ("{{eq .Nil .Missing}}", "true"),
        (
            "{{ne true true}} {{ne 1 2}} {{ne `xy` `xyz`}}",
            "false true true",
        ),
        (
            "{{lt 1.5 1.5}} {{lt 1.5 2.5}} {{lt 1 1}} {{lt 1 2}}",
            "false true false true",
        ),
        ("{{lt `xy` `xy`}} {{lt `xy` `xyz`}}", "false true"),
        (
            "{{le 1.5 1.5}} {{le 2.5 1.5}} {{le 1 2}} {{le 2 1}}",
            "true false true false",
        ),
        ("{{le `xyz` `xy`}}", "false"),
        (
            "{{gt 1.5 1.5}} {{gt 2 1}} {{gt 1 2}} {{gt `xy` `xyz`}}",
            "false true false false",
        ),
        (
            "{{ge 1.5 1.5}} {{ge 1 2}} {{ge 2 1}} {{ge `xyz` `xy`}}",
            "true false true true",
        ),
        (
            "{{eq 2 2.0}}",
            "!template: t:1:2: executing \"t\" at <eq 2 2.0>: error calling eq: incompatible types for comparison",
        ),
        (
            "{{eq `xy` 1}}",
            "!template: t:1:2: executing \"t\" at <eq `xy` 1>: error calling eq: incompatible types for comparison",
        ),
        // Numbers from values are float64, literals int: a classic chart bug, as in Go.
        (
            "{{eq .Values.n 3}}",
            "!template: t:1:2: executing \"t\" at <eq .Values.n 3>: error calling eq: incompatible types for comparison",
        ),
        (
            "{{eq .SI 1}}",
            "!template: t:1:2: executing \"t\" at <eq .SI 1>: error calling eq: incompatible types for comparison",
        ),
        (
            // Go formats the operand with %s, so its elements print as %!s(int=…).
            "{{eq .MSIone .MSIone}}",
            "!template: t:1:2: executing \"t\" at <eq .MSIone .MSIone>: error calling eq: non-comparable type map[one:%!s(int=1)]: map[string]interface {}",
        ),
        (
            "{{eq .SI .SI}}",
            "!template: t:1:2: executing \"t\" at <eq .SI .SI>: error calling eq: non-comparable type [%!s(int=3) %!s(int=4) %!s(int=5)]: []interface {}",
        ),
        (
            "{{eq .SI .MSIone}}",
            "!template: t:1:2: executing \"t\" at <eq .SI .MSIone>: error calling eq: non-comparable types [%!s(int=3) %!s(int=4) %!s(int=5)]: []interface {}, map[string]interface {}: map[one:1]",
        ),
        (
            "{{eq 1}}",
            "!template: t:1:2: executing \"t\" at <eq 1>: error calling eq: missing argument for comparison",
        ),
        (
            "{{ne 1 2 3}}",
            "!template: t:1:2: executing \"t\" at <ne>: wrong number of args for ne: want 2 got 3",
        ),
        (
            "{{lt true true}}",
            "!template: t:1:2: executing \"t\" at <lt true true>: error calling lt: invalid type for comparison",
        ),
        (
            "{{lt 1 1.5}}",
            "!template: t:1:2: executing \"t\" at <lt 1 1.5>: error calling lt: incompatible types for comparison",
        ),
        (
            "{{lt nil 1}}",
            "!template: t:1:2: executing \"t\" at <lt nil 1>: error calling lt: invalid type for comparison",
        ),
        (
            "{{gt .SI 1}}",
            "!template: t:1:2: executing \"t\" at <gt .SI 1>: error calling gt: invalid type for comparison",
        ),
        ("{{eq .Obj .Obj}}", "true"),
    ]);
}

#[test]
fn print_and_escapers() {
    check(&[
        ("{{print \"hello, print\"}}", "hello, print"),
        ("{{print 1 2 3}}", "1 2 3"),
        ("{{print nil}}", "<nil>"),
        ("{{print .Missing}}", "<nil>"),
        ("{{print \"a\" 1 2 \"b\"}}", "a1 2b"),
        ("{{println 1 2 3}}", "1 2 3\n"),
        ("{{printf \"%v=%v\" \"a\" 1}}", "a=1"),
        ("{{with .I}}{{printf \"%d\" .}}{{end}}", "17"),
        (
            "{{printf}}",
            "!template: t:1:2: executing \"t\" at <printf>: wrong number of args for printf: want at least 1 got 0",
        ),
        (
            "{{printf 1}}",
            "!template: t:1:9: executing \"t\" at <1>: expected string; found 1",
        ),
        (
            "{{html \"<script>alert(\\\"XSS\\\");</script>\"}}",
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
        ),
        (
            "{{printf \"<script>alert(\\\"XSS\\\");</script>\" | html}}",
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
        ),
        ("{{html .S}}", "xyz"),
        ("{{html .Missing}}", "&lt;no value&gt;"),
        ("{{html .Nil}}", "&lt;no value&gt;"),
        ("{{html 1 2}}", "1 2"),
        ("{{html .Values.list}}", "[x y]"),
        ("{{js \"It'd be nice.\"}}", "It\\'d be nice."),
        ("{{js .S 1}}", "xyz1"),
        (
            "{{\"http://www.example.org/\"|urlquery}}",
            "http%3A%2F%2Fwww.example.org%2F",
        ),
        ("{{urlquery \"a b\" 1}}", "a+b1"),
        (
            "{{call .S}}",
            "!template: t:1:2: executing \"t\" at <call .S>: error calling call: non-function .S of type string",
        ),
        (
            "{{call nil}}",
            "!template: t:1:2: executing \"t\" at <call nil>: error calling call: call of nil",
        ),
        (
            "{{call}}",
            "!template: t:1:2: executing \"t\" at <call>: wrong number of args for call: want at least 1 got 0",
        ),
    ]);
}

#[test]
fn if_with() {
    check(&[
        ("{{if true}}TRUE{{end}}", "TRUE"),
        ("{{if false}}TRUE{{else}}FALSE{{end}}", "FALSE"),
        (
            "{{if nil}}TRUE{{end}}",
            "!template: t:1:5: executing \"t\" at <nil>: nil is not a command",
        ),
        ("{{if 1}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
        ("{{if 0}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
        ("{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}", "NON-ZERO"),
        ("{{if .FZ}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
        ("{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        (
            "{{if `notempty`}}NON-EMPTY{{else}}EMPTY{{end}}",
            "NON-EMPTY",
        ),
        ("{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if .SI}}NON-EMPTY{{else}}EMPTY{{end}}", "NON-EMPTY"),
        ("{{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{if .MSI}}NON-EMPTY{{else}}EMPTY{{end}}", "NON-EMPTY"),
        ("{{if .Missing}}NON-ZERO{{else}}ZERO{{end}}", "ZERO"),
        ("{{if not .Missing}}ZERO{{else}}NON-ZERO{{end}}", "ZERO"),
        ("{{if .Obj}}T{{end}}", "T"),
        ("{{if false}}FALSE{{else if true}}TRUE{{end}}", "TRUE"),
        (
            "{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}",
            "3",
        ),
        ("{{if false}}a{{else if false}}b{{else}}c{{end}}", "c"),
        ("{{with true}}{{.}}{{end}}", "true"),
        ("{{with false}}{{.}}{{else}}FALSE{{end}}", "FALSE"),
        ("{{with 1}}{{.}}{{else}}ZERO{{end}}", "1"),
        ("{{with 0}}{{.}}{{else}}ZERO{{end}}", "ZERO"),
        ("{{with 1.5}}{{.}}{{else}}ZERO{{end}}", "1.5"),
        ("{{with .FZ}}{{.}}{{else}}ZERO{{end}}", "ZERO"),
        ("{{with ``}}{{.}}{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{with `notempty`}}{{.}}{{else}}EMPTY{{end}}", "notempty"),
        ("{{with .SIEmpty}}{{.}}{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{with .SI}}{{.}}{{else}}EMPTY{{end}}", "[3 4 5]"),
        ("{{with .MSIEmpty}}{{.}}{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{with .MSIone}}{{.}}{{else}}EMPTY{{end}}", "map[one:1]"),
        ("{{with 0}}{{.}}{{else with true}}{{.}}{{end}}", "true"),
        (
            "{{with 0}}{{.}}{{else with false}}{{.}}{{else with `notempty`}}{{.}}{{end}}",
            "notempty",
        ),
        ("{{with .Missing}}x{{else}}{{.I}}{{end}}", "17"),
        ("{{with .U}}{{.V}}{{end}}", "v"),
        ("{{with $x := .U}}{{$x.V}}{{.V}}{{end}}", "vv"),
    ]);
}

#[test]
fn range() {
    check(&[
        ("{{range .SI}}-{{.}}-{{end}}", "-3--4--5-"),
        ("{{range .SIEmpty}}-{{.}}-{{end}}", ""),
        ("{{range .SI}}-{{.}}-{{else}}EMPTY{{end}}", "-3--4--5-"),
        ("{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
        (
            "{{range .SI}}-{{.}}-{{break}}NOTREACHED{{else}}EMPTY{{end}}",
            "-3-",
        ),
        (
            "{{range .SI}}-{{.}}-{{continue}}NOTREACHED{{else}}EMPTY{{end}}",
            "-3--4--5-",
        ),
        ("{{range .SB}}-{{.}}-{{end}}", "-true--false-"),
        ("{{range .MSI}}-{{.}}-{{end}}", "-1--3--2-"),
        ("{{range .MSIEmpty}}-{{.}}-{{end}}", ""),
        ("{{range .MSI}}-{{.}}-{{else}}EMPTY{{end}}", "-1--3--2-"),
        ("{{range .MSIEmpty}}-{{.}}-{{else}}EMPTY{{end}}", "EMPTY"),
        ("{{range .Empty3}}-{{.}}-{{else}}EMPTY{{end}}", "-7--8-"),
        ("{{range .Missing}}-{{.}}-{{else}}none{{end}}", "none"),
        ("{{range .Nil}}-{{.}}-{{else}}none{{end}}", "none"),
        ("{{range $x := .SI}}<{{$x}}>{{end}}", "<3><4><5>"),
        (
            "{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}",
            "<0=3><1=4><2=5>",
        ),
        ("{{range $x := .MSIone}}<{{$x}}>{{end}}", "<1>"),
        (
            "{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}",
            "<one=1>",
        ),
        ("{{range $k, $v := .MSI}}{{$k}}{{end}}", "onethreetwo"),
        (
            "{{range $x := .SI}}<{{$foo:=$x}}{{$x}}>{{end}}",
            "<3><4><5>",
        ),
        ("{{range $x := .SI}}{{$x := 9}}{{$x}}{{end}}", "999"),
        ("{{$i := 0}}{{$x := 0}}{{range $i = .SI}}{{end}}{{$i}}", "5"),
        (
            "{{$k := 0}}{{$v := 0}}{{range $k, $v = .SI}}{{$k}}={{$v}} {{end}}",
            "0=3 1=4 2=5 ",
        ),
        // Assigning range variables to an empty collection leaves the collection itself.
        ("{{$i := 0}}{{range $i = .SIEmpty}}{{end}}{{$i}}", "[]"),
        (
            "{{range .SI}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}",
            "3",
        ),
        (
            "{{range .SI}}{{if eq . 4}}{{continue}}{{end}}{{.}}{{end}}",
            "35",
        ),
        (
            "{{range .SI}}{{range $.SI}}{{break}}{{end}}{{.}}{{end}}",
            "345",
        ),
        ("{{range .SI}}{{with .}}{{continue}}{{end}}x{{end}}", ""),
        ("{{range .SMSI}}{{.one}}{{end}}", "1<no value>"),
        ("{{range .Values.withnil}}[{{.}}]{{end}}", "[a][<no value>]"),
        ("{{range .MSIone}}{{$.I}}{{end}}", "17"),
        ("{{range .SI}}{{.}}{{end}}{{.I}}", "34517"),
        (
            "{{range $i, $e := .SI}}{{if $i}},{{end}}{{$e}}{{end}}",
            "3,4,5",
        ),
        (
            "{{range .SI}}{{.x}}{{end}}",
            "!template: t:1:15: executing \"t\" at <.x>: can't evaluate field x in type interface {}",
        ),
        (
            "{{range .Values.withnil}}{{if not .}}{{.x}}{{end}}{{end}}",
            "!template: t:1:39: executing \"t\" at <.x>: nil pointer evaluating interface {}.x",
        ),
        (
            "{{range .I}}x{{end}}",
            "!template: t:1:8: executing \"t\" at <.I>: range can't iterate over 17",
        ),
        (
            "{{range .S}}x{{end}}",
            "!template: t:1:8: executing \"t\" at <.S>: range can't iterate over xyz",
        ),
        // Go 1.23 (Helm 3.17) cannot range over an integer.
        (
            "{{range 5}}{{.}}{{end}}",
            "!template: t:1:8: executing \"t\" at <5>: range can't iterate over 5",
        ),
    ]);
}

#[test]
fn range_over_int_when_enabled() {
    let opts = ExecOptions {
        range_over_int: true,
        ..ExecOptions::default()
    };
    check_cases(
        &[
            ("{{range 5}}{{.}}{{end}}", "01234"),
            ("{{range $i := 3}}{{$i}}{{end}}", "012"),
            ("{{range 0}}x{{else}}none{{end}}", "none"),
            ("{{range -2}}x{{else}}none{{end}}", "none"),
            (
                "{{range $i, $e := 3}}{{end}}",
                "!template: t:1:18: executing \"t\" at <3>: can't use 3 to iterate over more than one variable",
            ),
        ],
        &data(),
        &opts,
    );
}

#[test]
fn missing_key_modes() {
    check_cases(
        &[
            ("{{.Missing}}", "<no value>"),
            ("{{.Missing.x}}", "<no value>"),
            ("{{.Values.a.x}}", "<no value>"),
        ],
        &data(),
        &opts_missing(MissingKey::Default),
    );
    // Helm's mode.
    check_cases(
        &[
            ("{{.Missing}}", "<no value>"),
            ("{{.Values.a.missing}}", "<no value>"),
            ("{{if .Values.a.missing}}y{{else}}n{{end}}", "n"),
            (
                "{{.Missing.x}}",
                "!template: t:1:10: executing \"t\" at <.Missing.x>: nil pointer evaluating interface {}.x",
            ),
            (
                "{{.Values.missing.deeper.x}}",
                "!template: t:1:9: executing \"t\" at <.Values.missing.deeper.x>: nil pointer evaluating interface {}.deeper",
            ),
            (
                "{{oneArg .Missing}}",
                "!template: t:1:9: executing \"t\" at <.Missing>: wrong type for value; expected string; got interface {}",
            ),
            ("{{$x := .Missing}}{{$x.y}}", "<no value>"),
            (
                "{{mapArg .Missing}}",
                "!template: t:1:9: executing \"t\" at <.Missing>: wrong type for value; expected map[string]interface {}; got interface {}",
            ),
        ],
        &data(),
        &opts_missing(MissingKey::Zero),
    );
    check_cases(
        &[
            ("{{.I}}", "17"),
            (
                "{{.Missing}}",
                "!template: t:1:2: executing \"t\" at <.Missing>: map has no entry for key \"Missing\"",
            ),
            (
                "{{.U.W}}",
                "!template: t:1:4: executing \"t\" at <.U.W>: map has no entry for key \"W\"",
            ),
        ],
        &data(),
        &opts_missing(MissingKey::Error),
    );
    check_cases(
        &[(
            "{{.x}}",
            "!template: t:1:2: executing \"t\" at <.x>: nil data; no entry for key \"x\"",
        )],
        &Value::Nil,
        &opts_missing(MissingKey::Error),
    );
}

#[test]
fn named_map_types() {
    // Helm's `.Values` is a `chartutil.Values` (a named `map[string]interface{}`): fields work
    // as on any map, `%T` and errors name the type, and a `map[string]interface {}` parameter
    // accepts it (Go's assignability), converting it to the unnamed type.
    let values = Map::new().with_go_type(crate::value::MapType::CHARTUTIL_VALUES);
    values.insert("name", s("x"));
    values.insert("nested", m(&[("k", s("v"))]));
    let strings = Map::new().with_go_type(crate::value::MapType::STRING_TO_STRING);
    strings.insert("_0", s("a"));
    let data = m(&[("Values", Value::Map(values)), ("S", Value::Map(strings))]);
    check_cases(
        &[
            (
                "{{.Values.name}} {{.Values.nested.k}} {{.Values}}",
                "x v map[name:x nested:map[k:v]]",
            ),
            (
                "{{printf \"%T %T\" .Values .Values.nested}}",
                "chartutil.Values map[string]interface {}",
            ),
            ("{{mapArg .Values}}", "2"),
            ("{{printf \"%T\" (echo .Values)}}", "chartutil.Values"),
            ("{{range $k, $v := .Values}}{{$k}};{{end}}", "name;nested;"),
            ("{{len .Values}} {{index .Values \"name\"}}", "2 x"),
            (
                "{{oneArg .Values}}",
                "!template: t:1:9: executing \"t\" at <.Values>: wrong type for value; expected string; got chartutil.Values",
            ),
            (
                "{{eq .Values .Values}}",
                "!template: t:1:2: executing \"t\" at <eq .Values .Values>: error calling eq: non-comparable type map[name:x nested:map[k:v]]: chartutil.Values",
            ),
            ("{{.S._0}} {{printf \"%T\" .S}}", "a map[string]string"),
            // `map[string]string` is not assignable to `map[string]interface {}`.
            (
                "{{mapArg .S}}",
                "!template: t:1:9: executing \"t\" at <.S>: wrong type for value; expected map[string]interface {}; got map[string]string",
            ),
        ],
        &data,
        &ExecOptions::default(),
    );
}

#[test]
fn templates_and_blocks() {
    check(&[
        ("{{define \"x\"}}X{{.}}{{end}}{{template \"x\" 1}}", "X1"),
        (
            "{{define \"x\"}}{{.}}{{end}}{{template \"x\"}}",
            "<no value>",
        ),
        ("{{define \"x\"}}{{$}}{{end}}{{template \"x\" 5}}", "5"),
        ("{{define \"x\"}}{{.V}}{{end}}{{template \"x\" .U}}", "v"),
        (
            "{{define \"x\"}}{{$y := 1}}{{end}}{{template \"x\"}}{{$x := 2}}{{$x}}",
            "2",
        ),
        (
            "{{define \"r\"}}{{if .}}{{.}}{{template \"r\" (slice . 1)}}{{end}}{{end}}{{template \"r\" .S}}",
            "xyzyzz",
        ),
        (
            "a({{block \"inner\" .S}}bar({{.}})baz{{end}})b",
            "a(bar(xyz)baz)b",
        ),
        (
            "{{template \"x\"}}",
            "!template: t:1:11: executing \"t\" at <{{template \"x\"}}>: template \"x\" not defined",
        ),
        (
            "{{define \"x\"}}\n{{.a}}{{end}}{{template \"x\" .S}}",
            "!template: t:2:2: executing \"x\" at <.a>: can't evaluate field a in type string",
        ),
        ("{{define \"x\"}}X{{end}}{{include \"x\" 1}}", "X"),
        (
            "{{define \"x\"}}{{.}}{{end}}{{include \"x\" .I | upper}}",
            "17",
        ),
        (
            "{{include \"nope\" 1}}",
            "!template: t:1:2: executing \"t\" at <include \"nope\" 1>: error calling include: template: no template \"nope\" associated with template \"\"",
        ),
        (
            "{{define \"x\"}}{{fail \"boom\"}}{{end}}{{include \"x\" 1}}",
            "!template: t:1:38: executing \"t\" at <include \"x\" 1>: error calling include: template: t:1:16: executing \"x\" at <fail \"boom\">: error calling fail: boom",
        ),
        ("{{tpl \"{{.I}}\" .}}", "17"),
        ("{{tpl \"{{.Missing}}\" .}}", ""),
        (
            "{{tpl `{{define \"z\"}}Z{{end}}{{include \"z\" .}}` .}}",
            "Z",
        ),
        ("{{tpl `{{tpl \"{{.S}}\" .}}` .}}", "xyz"),
        (
            "{{tpl `{{define \"z\"}}Z{{end}}` .}}{{include \"z\" .}}",
            "!template: t:1:36: executing \"t\" at <include \"z\" .>: error calling include: template: no template \"z\" associated with template \"\"",
        ),
        (
            "{{tpl \"{{.S.x}}\" .}}",
            "!template: t:1:2: executing \"t\" at <tpl \"{{.S.x}}\" .>: error calling tpl: error during tpl function execution for \"{{.S.x}}\": template: t:1:4: executing \"t\" at <.S.x>: can't evaluate field x in type interface {}",
        ),
        (
            "{{tpl \"{{\" .}}",
            "!template: t:1:2: executing \"t\" at <tpl \"{{\" .>: error calling tpl: error during tpl function execution for \"{{\": template: t:1: unclosed action",
        ),
    ]);
}

#[test]
fn nested_errors_keep_their_structure() {
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse("a.yaml", "{{define \"x\"}}\n  {{fail \"boom\"}}{{end}}")
        .unwrap();
    t.parse("b.yaml", "line1\n{{include \"x\" .}}").unwrap();
    let err = t
        .execute("b.yaml", &data(), &ExecOptions::default())
        .unwrap_err();
    assert_eq!(err.kind, ExecErrorKind::Exec);
    assert_eq!(err.template, "b.yaml");
    assert_eq!(err.location(), Some(("b.yaml", 2, 2)));
    assert_eq!(err.function.as_deref(), Some("include"));
    let inner = err.cause.as_deref().expect("cause");
    assert_eq!(inner.template, "x");
    assert_eq!(inner.location(), Some(("a.yaml", 2, 4)));
    assert_eq!(inner.function_error(), Some(("fail", "boom")));
    assert_eq!(err.root_cause().message, "error calling fail: boom");
    let loc = inner.location.as_ref().unwrap();
    assert_eq!(loc.context, "fail \"boom\"");
    assert_eq!(loc.offset, 19);
    assert_eq!(
        err.to_string(),
        "template: b.yaml:2:2: executing \"b.yaml\" at <include \"x\" .>: error calling include: \
         template: a.yaml:2:4: executing \"x\" at <fail \"boom\">: error calling fail: boom"
    );
}

#[test]
fn parse_errors_through_the_api() {
    let mut t = Template::new(Arc::new(test_funcs()));
    let err = t.parse("f.yaml", "ok\n{{ nope }}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "template: f.yaml:2: function \"nope\" not defined"
    );
    assert_eq!(err.location(), ("f.yaml", 2));
    assert!(t.names().is_empty());
    // A define's errors are reported with the file's name.
    let err = t
        .parse("g.yaml", "{{define \"d\"}}\n{{end}}{{end}}")
        .unwrap_err();
    assert_eq!(err.to_string(), "template: g.yaml:2: unexpected {{end}}");
    // `break` is an ordinary function when one is defined.
    let mut fm = test_funcs();
    fm.insert("break", Func::pure(&[Ty::Any], None, |a| Ok(a[0].clone())));
    let mut t = Template::new(Arc::new(fm));
    t.parse("t", "{{range .SI}}{{break 20}}{{end}}").unwrap();
    assert_eq!(
        t.execute("t", &data(), &ExecOptions::default()).unwrap(),
        "202020"
    );
    let mut t = Template::new(Arc::new(test_funcs()));
    let err = t
        .parse("t", "{{range .SI}}{{break 20}}{{end}}")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "template: t:1: unexpected \"20\" in {{break}}"
    );
}

#[test]
fn funcmap_overrides_builtins() {
    let mut fm = test_funcs();
    fm.insert("len", Func::pure(&[Ty::Any], None, |_| Ok(s("mine"))));
    let mut t = Template::new(Arc::new(fm));
    t.parse("t", "{{len .SI}}").unwrap();
    assert_eq!(
        t.execute("t", &data(), &ExecOptions::default()).unwrap(),
        "mine"
    );
}

#[test]
fn multi_parse_and_redefinition() {
    let mut t = Template::new(Arc::new(test_funcs()));
    let opts = ExecOptions::default();
    t.parse("a", "{{define \"x\"}}1{{end}}").unwrap();
    t.parse("b", "{{define \"x\"}}2{{end}}").unwrap();
    assert_eq!(t.execute("x", &Value::Nil, &opts).unwrap(), "2");
    // An empty body does not replace a non-empty one.
    t.parse("c", "{{define \"x\"}}  {{/* nothing */}}{{end}}")
        .unwrap();
    assert_eq!(t.execute("x", &Value::Nil, &opts).unwrap(), "2");
    // But a non-empty one replaces an empty one.
    t.parse("d", "{{define \"y\"}} {{end}}").unwrap();
    t.parse("e", "{{define \"y\"}}Y{{end}}").unwrap();
    assert_eq!(t.execute("y", &Value::Nil, &opts).unwrap(), "Y");
    // A text that only defines templates leaves an existing template of its name alone.
    t.parse("main", "hello").unwrap();
    t.parse("main", "{{define \"z\"}}Z{{end}}\n").unwrap();
    assert_eq!(t.execute("main", &Value::Nil, &opts).unwrap(), "hello");
    assert_eq!(t.execute("z", &Value::Nil, &opts).unwrap(), "Z");
    // A define of the template's own name is the template.
    t.parse("self", "{{define \"self\"}}S{{end}}").unwrap();
    assert_eq!(t.execute("self", &Value::Nil, &opts).unwrap(), "S");
    // Parsed templates can be redefined, and callers see the new definition.
    t.parse("caller", "[{{template \"x\"}}]").unwrap();
    t.parse("f", "{{define \"x\"}}3{{end}}").unwrap();
    assert_eq!(t.execute("caller", &Value::Nil, &opts).unwrap(), "[3]");
    assert!(t.has("x") && t.has("main") && !t.has("nope"));
    assert_eq!(
        t.names(),
        vec![
            "a", "b", "c", "caller", "d", "e", "f", "main", "self", "x", "y", "z"
        ]
    );
    // A failed parse changes nothing.
    assert!(t.parse("g", "{{define \"x\"}}4{{end}}{{").is_err());
    assert_eq!(t.execute("x", &Value::Nil, &opts).unwrap(), "3");
    assert!(!t.has("g"));
    // Unknown templates.
    let err = t.execute("nope", &Value::Nil, &opts).unwrap_err();
    assert_eq!(err.kind, ExecErrorKind::NoSuchTemplate);
    assert_eq!(
        err.to_string(),
        "template: no template \"nope\" associated with template \"\""
    );
    t.set_root_name("gotpl");
    assert_eq!(
        t.execute("nope", &Value::Nil, &opts)
            .unwrap_err()
            .to_string(),
        "template: no template \"nope\" associated with template \"gotpl\""
    );
}

#[test]
fn block_can_be_overridden() {
    // Go's TestBlock: a block's default body, then a clone with the block redefined.
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse("outer", "a({{block \"inner\" .}}bar({{.}})baz{{end}})b")
        .unwrap();
    let mut t2 = t.clone();
    t2.parse("overlay", "{{define \"inner\"}}foo({{.}})bar{{end}}")
        .unwrap();
    let opts = ExecOptions::default();
    assert_eq!(
        t.execute("outer", &s("hello"), &opts).unwrap(),
        "a(bar(hello)baz)b"
    );
    assert_eq!(
        t2.execute("outer", &s("goodbye"), &opts).unwrap(),
        "a(foo(goodbye)bar)b"
    );
}

#[test]
fn tpl_uses_the_root_name_when_set() {
    let mut t = Template::new(Arc::new(test_funcs()));
    t.set_root_name("gotpl");
    t.parse("f.yaml", "{{tpl \"{{.S.x}}\" .}}").unwrap();
    let err = t
        .execute("f.yaml", &data(), &ExecOptions::default())
        .unwrap_err();
    let inner = err.cause.as_deref().expect("cause");
    assert_eq!(
        inner.to_string(),
        "template: gotpl:1:4: executing \"gotpl\" at <.S.x>: can't evaluate field x in type interface {}"
    );
}

#[test]
fn randomness_and_clock_come_from_options() {
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse("t", "{{rand}} {{rand}} {{now}}").unwrap();
    let opts = ExecOptions {
        seed: 42,
        now: crate::funcs::Timestamp {
            unix_seconds: 1234,
            nanos: 0,
        },
        ..ExecOptions::default()
    };
    let a = t.execute("t", &Value::Nil, &opts).unwrap();
    let b = t.execute("t", &Value::Nil, &opts).unwrap();
    assert_eq!(a, b);
    assert!(a.ends_with(" 1234"));
    let other = ExecOptions { seed: 43, ..opts };
    assert_ne!(t.execute("t", &Value::Nil, &other).unwrap(), a);
}

#[test]
fn execute_into_appends() {
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse("t", "{{.}}").unwrap();
    let mut out = String::from("> ");
    t.execute_into("t", &i(1), &ExecOptions::default(), &mut out)
        .unwrap();
    assert_eq!(out, "> 1");
    t.parse("bad", "ok{{fail \"x\"}}").unwrap();
    let mut out = String::new();
    assert!(
        t.execute_into("bad", &Value::Nil, &ExecOptions::default(), &mut out)
            .is_err()
    );
    assert_eq!(out, "ok");
}

fn limits(f: impl FnOnce(&mut Limits)) -> ExecOptions {
    let mut opts = ExecOptions::default();
    f(&mut opts.limits);
    opts
}

#[test]
fn limits_hold() {
    let err_of = |text: &str, opts: &ExecOptions| -> crate::ExecError {
        let mut t = Template::new(Arc::new(test_funcs()));
        t.parse("t", text).unwrap();
        t.execute("t", &data(), opts).unwrap_err()
    };
    let e = err_of(
        "{{range .SI}}hello{{end}}",
        &limits(|l| l.max_output_bytes = 10),
    );
    assert_eq!(e.kind, ExecErrorKind::Limit);
    assert_eq!(
        e.to_string(),
        "template: t:1:13: executing \"t\" at <hello>: exceeded maximum output size (10 bytes)"
    );
    let e = err_of(
        "{{range .SI}}{{.}}{{end}}",
        &limits(|l| l.max_iterations = 2),
    );
    assert_eq!(e.kind, ExecErrorKind::Limit);
    assert!(
        e.message.ends_with("exceeded maximum range iterations (2)"),
        "{e}"
    );
    // Output of nested executions counts too.
    let e = err_of(
        "{{define \"x\"}}0123456789{{end}}{{include \"x\" .}}",
        &limits(|l| l.max_output_bytes = 15),
    );
    assert!(
        e.to_string()
            .ends_with("exceeded maximum output size (15 bytes)"),
        "{e}"
    );
    // Values that double on every iteration stop at the output limit, though never printed:
    // strings and lists returned by functions, and shared trees when printed.
    let e = err_of(
        "{{$s := \"x\"}}{{range $.SI}}{{range $.SI}}{{range $.SI}}{{$s = print $s $s}}{{end}}{{end}}{{end}}",
        &limits(|l| l.max_output_bytes = 1000),
    );
    assert_eq!(
        e.to_string(),
        "template: t:1:62: executing \"t\" at <print $s $s>: value larger than the maximum output size (1000 bytes)"
    );
    assert_eq!(e.kind, ExecErrorKind::Limit);
    let deep = "{{$l := 1}}{{range $.SI}}{{range $.SI}}{{range $.SI}}{{$l = pair $l $l}}{{end}}{{end}}{{end}}";
    let e = err_of(
        &format!("{deep}{{{{$l}}}}"),
        &limits(|l| l.max_output_bytes = 10_000),
    );
    assert_eq!(
        e.to_string(),
        "template: t:1:95: executing \"t\" at <{{$l}}>: exceeded maximum output size (10000 bytes)"
    );
    // 2^27 elements, shared: fine as long as nothing prints it.
    let e = err_of(
        &format!("{deep}{{{{len $l}}}}{{{{fail}}}}"),
        &ExecOptions::default(),
    );
    assert!(
        e.message
            .ends_with("wrong number of args for fail: want 1 got 0"),
        "{e}"
    );
    let e = err_of("{{len (echo .SI)}}", &limits(|l| l.max_output_bytes = 2));
    assert_eq!(
        e.to_string(),
        "template: t:1:7: executing \"t\" at <echo .SI>: value larger than the maximum output size (2 bytes)"
    );
    // A huge range stops at the iteration limit.
    let mut opts = limits(|l| l.max_iterations = 1000);
    opts.range_over_int = true;
    let e = err_of("{{range 1000000000}}{{end}}", &opts);
    assert!(
        e.message
            .ends_with("exceeded maximum range iterations (1000)"),
        "{e}"
    );
    // Recursive templates stop at the depth limit.
    let e = err_of(
        "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
        &ExecOptions::default(),
    );
    assert_eq!(
        e.to_string(),
        "template: t:1:25: executing \"r\" at <{{template \"r\" .}}>: exceeded maximum template depth (100000)"
    );
    let e = err_of(
        "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
        &limits(|l| l.max_depth = 3),
    );
    assert!(
        e.to_string()
            .ends_with("exceeded maximum template depth (3)")
    );
    let e = err_of(
        "{{define \"r\"}}x{{include \"r\" .}}{{end}}{{include \"r\" .}}",
        &limits(|l| l.max_depth = 50),
    );
    assert!(
        e.root_cause()
            .to_string()
            .ends_with("exceeded maximum template depth (50)")
    );
    assert_eq!(e.root_cause().kind, ExecErrorKind::Limit);
    let e = err_of(
        "{{define \"r\"}}{{tpl `{{include \"r\" .}}` .}}{{end}}{{include \"r\" .}}",
        &limits(|l| l.max_depth = 40),
    );
    assert!(
        e.root_cause()
            .to_string()
            .ends_with("exceeded maximum template depth (40)"),
        "{e}"
    );
}

#[test]
fn deep_recursion_does_not_overflow_the_stack() {
    // Default depth limit with include (without Helm's own count): every level is a
    // function call and an execution; their nesting has a bound of its own, so that the
    // error (each level's text containing the text of the level below) stays cheap.
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse(
        "t",
        "{{define \"r\"}}{{include \"r\" .}}{{end}}{{include \"r\" .}}",
    )
    .unwrap();
    let start = std::time::Instant::now();
    let e = t
        .execute("t", &Value::Nil, &ExecOptions::default())
        .unwrap_err();
    assert_eq!(
        e.root_cause().message,
        "exceeded maximum nesting of templates executed by functions (1024)"
    );
    assert!(start.elapsed().as_secs() < 10);
    // Helm's include stops at 1001 nested includes of one name, as Helm does.
    let mut t = Template::new(Arc::new(FuncMap::helm()));
    t.parse(
        "t",
        "{{define \"r\"}}{{include \"r\" .}}{{end}}{{include \"r\" .}}",
    )
    .unwrap();
    let e = t
        .execute("t", &Value::Nil, &ExecOptions::default())
        .unwrap_err();
    assert_eq!(
        e.root_cause().to_string(),
        "template: t:1:16: executing \"r\" at <include \"r\" .>: error calling include: \
         rendering template has a nested reference name: r: unable to execute template"
    );
    assert_eq!(e.to_string().matches("error calling include").count(), 1002);
    // Template recursion goes as deep as Go's limit.
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse(
        "t",
        "{{define \"down\"}}{{if .}}{{template \"down\" (slice . 1)}}{{else}}done{{end}}{{end}}{{template \"down\" .}}",
    )
    .unwrap();
    let list = l((0..20_000).map(i).collect());
    assert_eq!(
        t.execute("t", &list, &ExecOptions::default()).unwrap(),
        "done"
    );
    // Legal deep nesting of blocks and parentheses executes.
    let n = 900;
    let text = format!(
        "{}x{}{{{{{}1{}}}}}",
        "{{if 1}}{{with .}}".repeat(n / 2),
        "{{end}}{{end}}".repeat(n / 2),
        "(".repeat(n),
        ")".repeat(n)
    );
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse("t", &text).unwrap();
    assert_eq!(
        t.execute("t", &i(1), &ExecOptions::default()).unwrap(),
        "x1"
    );
    // Deep template recursion within the limit.
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse(
        "t",
        "{{define \"down\"}}{{if .}}{{template \"down\" (slice . 1)}}{{else}}done{{end}}{{end}}{{template \"down\" .}}",
    )
    .unwrap();
    let list = l((0..990).map(i).collect());
    assert_eq!(
        t.execute("t", &list, &ExecOptions::default()).unwrap(),
        "done"
    );
}

#[test]
fn render_time_does_not_depend_on_untouched_values() {
    // A large value the template only passes around: cloning it must be cheap (shared).
    let big = l((0..200_000).map(|n| m(&[("n", i(n))])).collect());
    let data = m(&[("big", big), ("x", i(1))]);
    let mut t = Template::new(Arc::new(test_funcs()));
    t.parse(
        "t2",
        "{{$b := .big}}{{with .big}}{{$.x}}{{end}}{{echo .big | len}}",
    )
    .unwrap();
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        assert_eq!(
            t.execute("t2", &data, &ExecOptions::default()).unwrap(),
            "1200000"
        );
    }
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn functions_see_the_extension_of_their_execution() {
    let mut fm = test_funcs();
    fm.insert(
        "scope",
        Func::new(&[], None, |ctx, _| {
            Ok(
                match ctx.extension().and_then(|e| e.downcast_ref::<String>()) {
                    Some(name) => s(name),
                    None => s("none"),
                },
            )
        }),
    );
    let mut t = Template::new(Arc::new(fm));
    t.parse("t", "{{scope}}").unwrap();
    assert_eq!(
        t.execute("t", &Value::Nil, &ExecOptions::default())
            .unwrap(),
        "none"
    );
    let opts = ExecOptions {
        extension: Some(Arc::new(String::from("cluster-a"))),
        ..ExecOptions::default()
    };
    assert_eq!(t.execute("t", &Value::Nil, &opts).unwrap(), "cluster-a");
}

/// Renders with Sprig's and Helm's functions.
fn check_sprig(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        let mut t = Template::new(Arc::new(FuncMap::helm()));
        let got = match t.parse("t", text) {
            Err(e) => format!("!parse: {e}"),
            Ok(_) => match t.execute("t", &data(), &ExecOptions::default()) {
                Ok(out) => out,
                Err(e) => format!("!{e}"),
            },
        };
        if got != *want {
            failures.push(format!("{text:?}\n     got: {got:?}\n    want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sprig_results_have_go_types() {
    check_sprig(&[
        // The Go result type of each function, as `%T` prints it (Sprig v3.3.0 signatures).
        (
            "{{printf \"%T %T %T %T %T\" (splitList \",\" \"a\") (sortAlpha (list 1)) (toStrings (list 1)) (keys (dict \"a\" 1)) (regexFindAll \"a\" \"aa\" -1)}}",
            "[]string []string []string []string []string",
        ),
        (
            "{{printf \"%T %T %T %T\" (regexSplit \"a\" \"bab\" -1) (until 2) (untilStep 0 4 2) (chunk 1 (list 1))}}",
            "[]string []int []int [][]interface {}",
        ),
        (
            "{{printf \"%T %T %T %T\" (split \",\" \"a\") (splitn \",\" 2 \"a\") (list 1) (concat (until 2))}}",
            "map[string]string map[string]string []interface {} []interface {}",
        ),
        (
            "{{printf \"%T %T %T %T %T %T %T\" (add 1) (add1 1) (sub 2 1) (mul 2 3) (div 4 2) (mod 5 2) (int64 3)}}",
            "int64 int64 int64 int64 int64 int64 int64",
        ),
        (
            "{{printf \"%T %T %T %T %T %T %T\" (max 1 2) (min 1 2) (biggest 1) (toDecimal \"7\") (atoi \"1\") (int 1.5) (len (list))}}",
            "int64 int64 int64 int64 int int int",
        ),
        // `slice` and `deepCopy` keep the slice type (reflect); `append`, `rest`… build
        // `[]interface {}`.
        (
            "{{printf \"%T %T %T %T\" (slice (splitList \",\" \"a,b\") 1) (deepCopy (until 2)) (append (until 2) 5) (rest (until 2))}}",
            "[]string []int []interface {} []interface {}",
        ),
        (
            "{{printf \"%T\" (deepCopy (split \",\" \"a\"))}}",
            "map[string]string",
        ),
        // They print as Go prints them.
        (
            "{{splitList \",\" \"a,b\"}} {{until 3}} {{add 1 2}} {{printf \"%v %d %q\" (until 2) (add 1 2) (splitList \",\" \"a,b\")}}",
            "[a b] [0 1 2] 3 [0 1] 3 [\"a\" \"b\"]",
        ),
        (
            "{{printf \"%#v %#v %#v\" (splitList \",\" \"a,b\") (until 2) (add 1 2)}}",
            "[]string{\"a\", \"b\"} []int{0, 1} 3",
        ),
        (
            "{{toJson (until 2)}} {{toJson (splitList \",\" \"a\")}} {{toJson (add 1 2)}}",
            "[0,1] [\"a\"] 3",
        ),
        ("{{toYaml (splitList \",\" \"a,b\")}}", "- a\n- b"),
        // `eq` and `lt` compare integers of any Go integer type.
        (
            "{{eq 3 (add 1 2)}} {{eq (add 1 2) 3}} {{lt (sub 2 1) 2}} {{eq (len (list 1)) (add1 0)}}",
            "true true true true",
        ),
        // `deepEqual` is `reflect.DeepEqual`: the types must be identical.
        (
            "{{deepEqual 3 (add 1 2)}} {{deepEqual (add 1 2) (add 2 1)}} {{deepEqual (list \"a\") (splitList \",\" \"a\")}}",
            "false true false",
        ),
        // An `int` parameter does not take an `int64`, a `[]interface {}` one no `[]string`.
        (
            "{{until (add 1 2)}}",
            // As Go, the error names the call's last argument (helm prints the same).
            "!template: t:1:15: executing \"t\" at <2>: wrong type for value; expected int; got int64",
        ),
        (
            "{{until (int (add 1 2))}} {{trunc (int (sub 3 1)) \"abc\"}}",
            "[0 1 2] ab",
        ),
        // Elements of typed slices are ordinary values.
        (
            "{{range until 3}}{{printf \"%T \" .}}{{end}}{{index (splitList \",\" \"a,b\") 1}}",
            "int int int b",
        ),
        (
            "{{eq (until 2) (until 2)}}",
            "!template: t:1:2: executing \"t\" at <eq (until 2) (until 2)>: error calling eq: non-comparable type [%!s(int=0) %!s(int=1)]: []int",
        ),
    ]);
}

#[test]
fn byte_slices_print_as_go_prints_them() {
    let bytes = Value::typed_list(vec![i(104), i(105)], crate::value::ListType::Byte);
    let data = m(&[("B", bytes)]);
    check_cases(
        &[
            ("{{.B}} {{printf \"%T\" .B}}", "[104 105] []uint8"),
            (
                "{{printf \"%s %q %x %X %v %d\" .B .B .B .B .B .B}}",
                "hi \"hi\" 6869 6869 [104 105] [104 105]",
            ),
            ("{{printf \"%#v\" .B}}", "[]byte{0x68, 0x69}"),
        ],
        &data,
        &ExecOptions::default(),
    );
    let mut t = Template::new(Arc::new(FuncMap::helm()));
    t.parse("t", "{{toString .B}} {{toJson .B}} {{toYaml .B}}")
        .expect("parses");
    assert_eq!(
        t.execute("t", &data, &ExecOptions::default()),
        Ok("hi \"aGk=\" aGk=".to_string())
    );
}

#[test]
fn size_bounded_functions_fail_before_the_work() {
    // 64 KiB of output; a list that shares itself 60 times stands for 2^60 leaves.
    let opts = limits(|l| l.max_output_bytes = 64 << 10);
    let shared = "{{$l := list 1}}{{range until 60}}{{$l = list $l $l}}{{end}}";
    let too_big = "value larger than the maximum output size (65536 bytes)";
    for call in [
        "toJson $l",
        "mustToJson $l",
        "toPrettyJson $l",
        "toRawJson $l",
        "toYaml $l",
        "toYamlPretty $l",
        "toToml (dict \"a\" $l)",
        "deepCopy $l",
        "mustDeepCopy $l",
    ] {
        let text = format!("{shared}{{{{{call}}}}}");
        let mut t = Template::new(Arc::new(FuncMap::helm()));
        t.parse("t", &text).expect("parses");
        let e = t.execute("t", &data(), &opts).expect_err(call).to_string();
        assert!(e.contains(too_big), "{call}: {e}");
    }
    // Allocations in proportion to a count are checked first; Go's own panics stay.
    for (call, want) in [
        (
            "repeat 100000000 \"x\"",
            "result of 100000000 bytes is larger than the maximum output size (65536 bytes)",
        ),
        (
            "indent 100000000 \"x\"",
            "result of 100000000 bytes is larger than the maximum output size (65536 bytes)",
        ),
        (
            "nindent 70000 \"x\"",
            "result of 70000 bytes is larger than the maximum output size (65536 bytes)",
        ),
        (
            "randAlphaNum 100000000",
            "result of 100000000 bytes is larger than the maximum output size (65536 bytes)",
        ),
        (
            "randBytes 100000000",
            "randBytes: 100000000 bytes is larger than the maximum output size (65536 bytes)",
        ),
        ("repeat -1 \"x\"", "strings: negative Repeat count"),
        (
            "repeat 9223372036854775807 \"xx\"",
            "strings: Repeat output length overflow",
        ),
    ] {
        let mut t = Template::new(Arc::new(FuncMap::helm()));
        t.parse("t", &format!("{{{{{call}}}}}")).expect("parses");
        let e = t.execute("t", &data(), &opts).expect_err(call).to_string();
        assert!(e.contains(want), "{call}: {e}");
    }
    // Below the limit, the same functions work.
    let mut t = Template::new(Arc::new(FuncMap::helm()));
    t.parse(
        "t",
        "{{$l := list 1}}{{range until 5}}{{$l = list $l $l}}{{end}}{{len (toJson $l)}} {{len (repeat 1000 \"x\")}}",
    )
    .expect("parses");
    assert_eq!(t.execute("t", &data(), &opts).as_deref(), Ok("189 1000"));
}

#[test]
fn typed_values_follow_go_assignability() {
    let strings = Value::typed_list(vec![s("a")], crate::value::ListType::String);
    let data = m(&[("SS", strings), ("I64", Value::Int64(3))]);
    check_cases(
        &[
            (
                "{{listArg .SS}} {{len .SS}} {{index .SS 0}}",
                "!template: t:1:10: executing \"t\" at <.SS>: wrong type for value; expected []interface {}; got []string",
            ),
            (
                "{{len .SS}} {{index .SS 0}} {{printf \"%T\" .SS}}",
                "1 a []string",
            ),
            (
                "{{dddArg .I64}}",
                "!template: t:1:9: executing \"t\" at <.I64>: wrong type for value; expected int; got int64",
            ),
            (
                "{{.I64}} {{printf \"%T %d\" .I64 .I64}} {{index .SS .I64 | print}}",
                "!template: t:1:40: executing \"t\" at <index .SS .I64>: error calling index: index out of range: 3",
            ),
            (
                "{{eq .I64 3}} {{lt .I64 4}} {{if .I64}}t{{end}}",
                "true true t",
            ),
        ],
        &data,
        &ExecOptions::default(),
    );
}
