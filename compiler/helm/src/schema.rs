//! `values.schema.json` validation as Helm 3.17 does it with `gojsonschema` v1.2 (JSON Schema
//! drafts 4 to 7, unknown `$schema` treated as draft 7), with `gojsonschema`'s messages and
//! Helm's `chart:\n- field: message` text.
//!
//! `gojsonschema` walks Go maps, so the order of several errors varies between Helm runs;
//! here they come in key order.

use std::sync::Arc;

use gotemplate::{Map, Value};
use regex::Regex;

use crate::chart::Chart;
use crate::json;

/// Schemas nested (or `$ref`-chained) deeper than this stop validating.
const MAX_DEPTH: usize = 256;

/// `chartutil.ValidateAgainstSchema`: the chart's and each subchart's values against their
/// schemas; the error text lists `chart:\n- error\n` blocks.
pub fn validate_against_schema(chart: &Chart, values: &Map) -> Result<(), String> {
    let mut sb = String::new();
    if let Some(schema) = &chart.schema
        && let Err(e) = validate_single(values, schema)
    {
        sb.push_str(&format!("{}:\n", chart.name()));
        sb.push_str(&e);
    }
    for sub in &chart.dependencies {
        let sub_values = match values.get(sub.name()) {
            Some(Value::Map(m)) => m,
            _ => Map::new(),
        };
        if let Err(e) = validate_against_schema(sub, &sub_values) {
            sb.push_str(&e);
        }
    }
    if sb.is_empty() { Ok(()) } else { Err(sb) }
}

/// `chartutil.ValidateAgainstSingleSchema`: `- field: message\n` per error.
pub fn validate_single(values: &Map, schema_json: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(schema_json);
    let schema = json::decode(&text).map_err(|e| e.to_string())?;
    if !matches!(schema, Value::Map(_) | Value::Bool(_)) {
        return Err("schema is invalid".into());
    }
    let mut v = Validator {
        root: &schema,
        regexes: std::collections::HashMap::new(),
    };
    let mut errors = Vec::new();
    v.validate(
        &schema,
        &Value::Map(values.clone()),
        "(root)",
        &mut errors,
        0,
    );
    if errors.is_empty() {
        return Ok(());
    }
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("- {}: {}\n", e.field(), e.description));
    }
    Err(out)
}

#[derive(Debug, Clone)]
struct SchemaError {
    context: String,
    description: String,
}

impl SchemaError {
    fn field(&self) -> &str {
        self.context
            .strip_prefix("(root).")
            .unwrap_or(&self.context)
    }
}

struct Validator<'a> {
    root: &'a Value,
    regexes: std::collections::HashMap<String, Option<Arc<Regex>>>,
}

fn get(schema: &Map, key: &str) -> Option<Value> {
    schema.get(key)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) | Value::Int64(i) => Some(*i as f64),
        _ => None,
    }
}

/// How `big.Float` prints a bound (`%v`, ten significant digits).
fn big_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e10 {
        return format!("{}", f as i64);
    }
    format!("{f}")
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Int(_) | Value::Int64(_) => true,
        Value::Float(f) => f.fract() == 0.0 && f.is_finite(),
        _ => false,
    }
}

/// `encoding/json.Marshal` of a value (after `gojsonschema`'s round trip), for `enum`,
/// `const` and `uniqueItems`.
fn go_json(v: &Value) -> String {
    match gotemplate::funcs::encoding::to_json(v) {
        Ok(s) => s,
        Err(_) => json::canonical(v),
    }
}

fn push(out: &mut Vec<SchemaError>, ctx: &str, description: String) {
    out.push(SchemaError {
        context: ctx.to_string(),
        description,
    });
}

fn types_of(schema: &Map) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(s)) => vec![s.to_string()],
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn types_string(types: &[String]) -> String {
    if types.len() > 1 {
        format!("[{}]", types.join(","))
    } else {
        types.first().cloned().unwrap_or_default()
    }
}

impl Validator<'_> {
    fn regex(&mut self, pattern: &str) -> Option<Arc<Regex>> {
        self.regexes
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok().map(Arc::new))
            .clone()
    }

    /// Resolves a local `$ref` (`#`, `#/definitions/x`, JSON pointers).
    fn resolve(&self, reference: &str) -> Option<Value> {
        let pointer = reference.strip_prefix('#')?;
        let mut cur = self.root.clone();
        if pointer.is_empty() {
            return Some(cur);
        }
        for raw in pointer.strip_prefix('/')?.split('/') {
            let token = percent_decode(raw).replace("~1", "/").replace("~0", "~");
            cur = match &cur {
                Value::Map(m) => m.get(&token)?,
                Value::List(l) => l.get(token.parse::<usize>().ok()?)?.clone(),
                _ => return None,
            };
        }
        Some(cur)
    }

    fn sub_valid(
        &mut self,
        schema: &Value,
        node: &Value,
        ctx: &str,
        depth: usize,
    ) -> Vec<SchemaError> {
        let mut out = Vec::new();
        self.validate(schema, node, ctx, &mut out, depth + 1);
        out
    }

    fn validate(
        &mut self,
        schema: &Value,
        node: &Value,
        ctx: &str,
        out: &mut Vec<SchemaError>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                push(out, ctx, "False always fails validation".into());
                return;
            }
            Value::Map(m) => m.clone(),
            _ => return,
        };
        if let Some(Value::String(r)) = get(&s, "$ref") {
            if let Some(target) = self.resolve(&r) {
                self.validate(&target, node, ctx, out, depth + 1);
            }
            return;
        }
        let types = types_of(&s);
        let typed = !types.is_empty();
        let has = |t: &str| types.iter().any(|x| x == t);
        let given = match node {
            Value::Nil => "null",
            Value::Int(_) | Value::Int64(_) | Value::Float(_) => {
                if is_integer(node) {
                    "integer"
                } else {
                    "number"
                }
            }
            Value::List(_) => "array",
            Value::Map(_) | Value::Object(_) => "object",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
        };
        let type_ok = match given {
            "integer" => has("number") || has("integer"),
            other => has(other),
        };
        if typed && !type_ok {
            push(
                out,
                ctx,
                format!(
                    "Invalid type. Expected: {}, given: {given}",
                    types_string(&types)
                ),
            );
            return;
        }
        self.validate_schema(&s, node, ctx, out, depth);
        match node {
            Value::Int(_) | Value::Float(_) => {
                self.validate_number(&s, node, ctx, out);
                self.validate_common(&s, node, ctx, out);
            }
            Value::List(items) => {
                self.validate_array(&s, items, ctx, out, depth);
                self.validate_common(&s, node, ctx, out);
            }
            Value::Map(m) => {
                self.validate_object(&s, m, ctx, out, depth);
                self.validate_common(&s, node, ctx, out);
                if let Some(Value::Map(props)) = get(&s, "properties") {
                    for (k, sub) in props.entries() {
                        if let Some(next) = m.get(&k) {
                            let sub_ctx = format!("{ctx}.{k}");
                            self.validate(&sub, &next, &sub_ctx, out, depth + 1);
                        }
                    }
                }
            }
            Value::String(st) => {
                self.validate_common(&s, node, ctx, out);
                self.validate_string(&s, st, ctx, out);
            }
            _ => self.validate_common(&s, node, ctx, out),
        }
    }

    fn validate_schema(
        &mut self,
        s: &Map,
        node: &Value,
        ctx: &str,
        out: &mut Vec<SchemaError>,
        depth: usize,
    ) {
        if let Some(Value::List(any_of)) = get(s, "anyOf")
            && !any_of.is_empty()
        {
            let mut best: Option<Vec<SchemaError>> = None;
            let mut ok = false;
            for sub in any_of.iter() {
                let r = self.sub_valid(sub, node, ctx, depth);
                if r.is_empty() {
                    ok = true;
                    break;
                }
                if best.as_ref().is_none_or(|b| r.len() < b.len()) {
                    best = Some(r);
                }
            }
            if !ok {
                push(out, ctx, "Must validate at least one schema (anyOf)".into());
                out.extend(best.unwrap_or_default());
            }
        }
        if let Some(Value::List(one_of)) = get(s, "oneOf")
            && !one_of.is_empty()
        {
            let mut valid = 0;
            let mut best: Option<Vec<SchemaError>> = None;
            for sub in one_of.iter() {
                let r = self.sub_valid(sub, node, ctx, depth);
                if r.is_empty() {
                    valid += 1;
                } else if valid == 0 && best.as_ref().is_none_or(|b| r.len() < b.len()) {
                    best = Some(r);
                }
            }
            if valid != 1 {
                push(
                    out,
                    ctx,
                    "Must validate one and only one schema (oneOf)".into(),
                );
                if valid == 0 {
                    out.extend(best.unwrap_or_default());
                }
            }
        }
        if let Some(Value::List(all_of)) = get(s, "allOf")
            && !all_of.is_empty()
        {
            let mut valid = 0;
            for sub in all_of.iter() {
                let r = self.sub_valid(sub, node, ctx, depth);
                if r.is_empty() {
                    valid += 1;
                }
                out.extend(r);
            }
            if valid != all_of.len() {
                push(out, ctx, "Must validate all the schemas (allOf)".into());
            }
        }
        if let Some(not) = get(s, "not")
            && self.sub_valid(&not, node, ctx, depth).is_empty()
        {
            push(out, ctx, "Must not validate the schema (not)".into());
        }
        if let (Some(Value::Map(deps)), Value::Map(m)) = (get(s, "dependencies"), node) {
            for key in m.keys() {
                match deps.get(&key) {
                    Some(Value::List(required)) => {
                        for r in required.iter() {
                            if let Some(r) = r.as_str()
                                && !m.contains_key(r)
                            {
                                push(out, ctx, format!("Has a dependency on {r}"));
                            }
                        }
                    }
                    Some(sub @ (Value::Map(_) | Value::Bool(_))) => {
                        self.validate(&sub, node, ctx, out, depth + 1);
                    }
                    _ => {}
                }
            }
        }
        if let Some(cond) = get(s, "if") {
            let if_ok = self.sub_valid(&cond, node, ctx, depth).is_empty();
            if if_ok && let Some(then) = get(s, "then") {
                let r = self.sub_valid(&then, node, ctx, depth);
                if !r.is_empty() {
                    push(
                        out,
                        ctx,
                        "Must validate \"then\" as \"if\" was valid".into(),
                    );
                    out.extend(r);
                }
            }
            if !if_ok && let Some(els) = get(s, "else") {
                let r = self.sub_valid(&els, node, ctx, depth);
                if !r.is_empty() {
                    push(
                        out,
                        ctx,
                        "Must validate \"else\" as \"if\" was not valid".into(),
                    );
                    out.extend(r);
                }
            }
        }
    }

    fn validate_common(&mut self, s: &Map, node: &Value, ctx: &str, out: &mut Vec<SchemaError>) {
        let field = ctx.strip_prefix("(root).").unwrap_or(ctx).to_string();
        if let Some(c) = get(s, "const")
            && go_json(node) != go_json(&c)
        {
            push(out, ctx, format!("{field} does not match: {}", go_json(&c)));
        }
        if let Some(Value::List(allowed)) = get(s, "enum")
            && !allowed.is_empty()
        {
            let mine = go_json(node);
            let all: Vec<String> = allowed.iter().map(go_json).collect();
            if !all.contains(&mine) {
                push(
                    out,
                    ctx,
                    format!("{field} must be one of the following: {}", all.join(", ")),
                );
            }
        }
    }

    fn validate_array(
        &mut self,
        s: &Map,
        items: &[Value],
        ctx: &str,
        out: &mut Vec<SchemaError>,
        depth: usize,
    ) {
        match get(s, "items") {
            Some(single @ (Value::Map(_) | Value::Bool(_))) => {
                for (i, item) in items.iter().enumerate() {
                    let sub_ctx = format!("{ctx}.{i}");
                    let r = self.sub_valid(&single, item, &sub_ctx, depth);
                    out.extend(r);
                }
            }
            Some(Value::List(positional)) if !positional.is_empty() => {
                for (i, (sub, item)) in positional.iter().zip(items).enumerate() {
                    let sub_ctx = format!("{ctx}.{i}");
                    let r = self.sub_valid(sub, item, &sub_ctx, depth);
                    out.extend(r);
                }
                if positional.len() < items.len() {
                    match get(s, "additionalItems") {
                        Some(Value::Bool(false)) => {
                            push(out, ctx, "No additional items allowed on array".into());
                        }
                        Some(extra @ Value::Map(_)) => {
                            for (i, item) in items.iter().enumerate().skip(positional.len()) {
                                let sub_ctx = format!("{ctx}.{i}");
                                let r = self.sub_valid(&extra, item, &sub_ctx, depth);
                                out.extend(r);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        if let Some(min) = get(s, "minItems").as_ref().and_then(num)
            && (items.len() as f64) < min
        {
            push(
                out,
                ctx,
                format!("Array must have at least {} items", big_float(min)),
            );
        }
        if let Some(max) = get(s, "maxItems").as_ref().and_then(num)
            && (items.len() as f64) > max
        {
            push(
                out,
                ctx,
                format!("Array must have at most {} items", big_float(max)),
            );
        }
        if let Some(Value::Bool(true)) = get(s, "uniqueItems") {
            let mut seen: std::collections::HashMap<String, usize> =
                std::collections::HashMap::new();
            for (j, item) in items.iter().enumerate() {
                let key = go_json(item);
                if let Some(i) = seen.get(&key) {
                    push(out, ctx, format!("array items[{i},{j}] must be unique"));
                }
                seen.insert(key, j);
            }
        }
        if let Some(contains) = get(s, "contains") {
            let mut ok = false;
            let mut best: Option<Vec<SchemaError>> = None;
            for (i, item) in items.iter().enumerate() {
                let sub_ctx = format!("{ctx}.{i}");
                let r = self.sub_valid(&contains, item, &sub_ctx, depth);
                if r.is_empty() {
                    ok = true;
                    break;
                }
                if best.as_ref().is_none_or(|b| r.len() < b.len()) {
                    best = Some(r);
                }
            }
            if !ok {
                push(out, ctx, "At least one of the items must match".into());
                out.extend(best.unwrap_or_default());
            }
        }
    }

    fn validate_object(
        &mut self,
        s: &Map,
        m: &Map,
        ctx: &str,
        out: &mut Vec<SchemaError>,
        depth: usize,
    ) {
        let len = m.len() as f64;
        if let Some(min) = get(s, "minProperties").as_ref().and_then(num)
            && len < min
        {
            push(
                out,
                ctx,
                format!("Must have at least {} properties", big_float(min)),
            );
        }
        if let Some(max) = get(s, "maxProperties").as_ref().and_then(num)
            && len > max
        {
            push(
                out,
                ctx,
                format!("Must have at most {} properties", big_float(max)),
            );
        }
        if let Some(Value::List(required)) = get(s, "required") {
            for r in required.iter() {
                if let Some(r) = r.as_str()
                    && !m.contains_key(r)
                {
                    push(out, ctx, format!("{r} is required"));
                }
            }
        }
        let props = match get(s, "properties") {
            Some(Value::Map(p)) => p,
            _ => Map::new(),
        };
        let pattern_props = match get(s, "patternProperties") {
            Some(Value::Map(p)) => p.entries(),
            _ => Vec::new(),
        };
        let additional = get(s, "additionalProperties");
        for (pk, pv) in m.entries() {
            let found = props.contains_key(&pk);
            let mut pattern_matched = false;
            for (pattern, sub) in &pattern_props {
                if self.regex(pattern).is_some_and(|re| re.is_match(&pk)) {
                    pattern_matched = true;
                    let sub_ctx = format!("{ctx}.{pk}");
                    let r = self.sub_valid(sub, &pv, &sub_ctx, depth);
                    out.extend(r);
                }
            }
            if !found && !pattern_matched {
                match &additional {
                    Some(Value::Bool(false)) => {
                        push(out, ctx, format!("Additional property {pk} is not allowed"));
                    }
                    Some(sub @ Value::Map(_)) => {
                        let sub_ctx = format!("{ctx}.{pk}");
                        let r = self.sub_valid(sub, &pv, &sub_ctx, depth);
                        out.extend(r);
                    }
                    _ => {}
                }
            }
        }
        if let Some(names) = get(s, "propertyNames") {
            for pk in m.keys() {
                let r = self.sub_valid(&names, &Value::from(pk.as_str()), ctx, depth);
                if !r.is_empty() {
                    push(
                        out,
                        ctx,
                        format!("Property name of \"{pk}\" does not match"),
                    );
                    out.extend(r);
                }
            }
        }
    }

    fn validate_string(&mut self, s: &Map, st: &str, ctx: &str, out: &mut Vec<SchemaError>) {
        let count = st.chars().count() as f64;
        if let Some(min) = get(s, "minLength").as_ref().and_then(num)
            && count < min
        {
            push(
                out,
                ctx,
                format!(
                    "String length must be greater than or equal to {}",
                    big_float(min)
                ),
            );
        }
        if let Some(max) = get(s, "maxLength").as_ref().and_then(num)
            && count > max
        {
            push(
                out,
                ctx,
                format!(
                    "String length must be less than or equal to {}",
                    big_float(max)
                ),
            );
        }
        if let Some(Value::String(p)) = get(s, "pattern")
            && let Some(re) = self.regex(&p)
            && !re.is_match(st)
        {
            push(out, ctx, format!("Does not match pattern '{p}'"));
        }
        if let Some(Value::String(f)) = get(s, "format")
            && !format_ok(&f, Some(st))
        {
            push(out, ctx, format!("Does not match format '{f}'"));
        }
    }

    fn validate_number(&mut self, s: &Map, node: &Value, ctx: &str, out: &mut Vec<SchemaError>) {
        let Some(x) = num(node) else {
            return;
        };
        if let Some(m) = get(s, "multipleOf").as_ref().and_then(num)
            && m != 0.0
        {
            let q = x / m;
            if (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
                push(out, ctx, format!("Must be a multiple of {}", big_float(m)));
            }
        }
        // Draft 4's boolean exclusive bounds, and draft 6+'s numeric ones.
        let excl_max_flag = matches!(get(s, "exclusiveMaximum"), Some(Value::Bool(true)));
        let excl_min_flag = matches!(get(s, "exclusiveMinimum"), Some(Value::Bool(true)));
        if let Some(max) = get(s, "maximum").as_ref().and_then(num) {
            if excl_max_flag {
                if x >= max {
                    push(out, ctx, format!("Must be less than {}", big_float(max)));
                }
            } else if x > max {
                push(
                    out,
                    ctx,
                    format!("Must be less than or equal to {}", big_float(max)),
                );
            }
        }
        if let Some(max) = get(s, "exclusiveMaximum").as_ref().and_then(num)
            && x >= max
        {
            push(out, ctx, format!("Must be less than {}", big_float(max)));
        }
        if let Some(min) = get(s, "minimum").as_ref().and_then(num) {
            if excl_min_flag {
                if x <= min {
                    push(out, ctx, format!("Must be greater than {}", big_float(min)));
                }
            } else if x < min {
                push(
                    out,
                    ctx,
                    format!("Must be greater than or equal to {}", big_float(min)),
                );
            }
        }
        if let Some(min) = get(s, "exclusiveMinimum").as_ref().and_then(num)
            && x <= min
        {
            push(out, ctx, format!("Must be greater than {}", big_float(min)));
        }
        // gojsonschema v1.2 hands numbers to the string format checkers, which reject them.
        if let Some(Value::String(f)) = get(s, "format")
            && !format_ok(&f, None)
        {
            push(out, ctx, format!("Does not match format '{f}'"));
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `FormatCheckers.IsFormat`: known formats check strings (a non-string fails them), unknown
/// formats pass.
fn format_ok(format: &str, s: Option<&str>) -> bool {
    const KNOWN: &[&str] = &[
        "date",
        "time",
        "date-time",
        "hostname",
        "email",
        "idn-email",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uri-template",
        "uuid",
        "regex",
        "json-pointer",
        "relative-json-pointer",
    ];
    if !KNOWN.contains(&format) {
        return true;
    }
    let Some(s) = s else {
        return false;
    };
    match format {
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.contains(':') && s.parse::<std::net::Ipv6Addr>().is_ok(),
        "email" | "idn-email" => s
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()),
        "uuid" => {
            let parts: Vec<&str> = s.split('-').collect();
            parts.len() == 5
                && [8, 4, 4, 4, 12]
                    .iter()
                    .zip(&parts)
                    .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
        }
        "regex" => Regex::new(s).is_ok(),
        "hostname" => {
            !s.is_empty()
                && s.len() <= 255
                && s.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        }
        "json-pointer" => s.is_empty() || s.starts_with('/'),
        "uri" | "iri" => s.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }),
        "date-time" => {
            s.len() >= 20
                && s.as_bytes()
                    .get(10)
                    .is_some_and(|c| matches!(c, b'T' | b't'))
        }
        "date" => s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-',
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(schema: &str, values: &str, expect: &str) {
        let Ok(Value::Map(v)) = json::decode(values) else {
            panic!("test values {values}");
        };
        let got = match validate_single(&v, schema.as_bytes()) {
            Ok(()) => String::new(),
            Err(e) => e,
        };
        assert_eq!(got, expect, "{schema} with {values}");
    }

    #[test]
    fn gojsonschema_messages() {
        let s = r#"{"type":"object","additionalProperties":false,"properties":{
            "replicas":{"type":"integer","minimum":1},
            "name":{"type":"string","pattern":"^[a-z]+$"},
            "mode":{"enum":["a","b"]},
            "tags":{"type":"array","items":{"type":"string"},"uniqueItems":true},
            "nested":{"type":"object","required":["x"]}}}"#;
        check(s, r#"{"replicas":3}"#, "");
        check(
            s,
            r#"{"logs":{}}"#,
            "- (root): Additional property logs is not allowed\n",
        );
        check(
            s,
            r#"{"replicas":1.5}"#,
            "- replicas: Invalid type. Expected: integer, given: number\n",
        );
        check(
            s,
            r#"{"replicas":0}"#,
            "- replicas: Must be greater than or equal to 1\n",
        );
        check(
            s,
            r#"{"name":"A"}"#,
            "- name: Does not match pattern '^[a-z]+$'\n",
        );
        check(
            s,
            r#"{"mode":"c"}"#,
            "- mode: mode must be one of the following: \"a\", \"b\"\n",
        );
        check(
            s,
            r#"{"tags":["a",1]}"#,
            "- tags.1: Invalid type. Expected: string, given: integer\n",
        );
        check(s, r#"{"nested":{}}"#, "- nested: x is required\n");
        check(
            s,
            r#"{"name":null}"#,
            "- name: Invalid type. Expected: string, given: null\n",
        );
    }

    #[test]
    fn refs_and_combinators() {
        let s = r##"{"definitions":{"port":{"type":"integer","maximum":65535}},
            "properties":{"port":{"$ref":"#/definitions/port"},
            "either":{"oneOf":[{"type":"string"},{"type":"integer"}]}}}"##;
        check(s, r#"{"port":80,"either":"x"}"#, "");
        check(
            s,
            r#"{"port":70000}"#,
            "- port: Must be less than or equal to 65535\n",
        );
        check(
            s,
            r#"{"either":true}"#,
            "- either: Must validate one and only one schema (oneOf)\n- either: Invalid type. Expected: string, given: boolean\n",
        );
    }
}
