//! Fuzz target: arbitrary bytes parsed as a template and, when they parse, executed with a
//! small fixed data value, every Helm and Sprig function, and tight limits. Any outcome but a
//! panic, a hang, a stack overflow or unbounded memory is fine.
#![no_main]

use std::sync::{Arc, OnceLock};

use gotemplate::funcs::encoding::from_yaml;
use gotemplate::{ExecOptions, FuncMap, Limits, Map, MapType, MissingKey, Template, Value};
use libfuzzer_sys::fuzz_target;

const VALUES: &str = "\
name: flotilla
replicas: 3
ratio: 0.5
enabled: true
empty: \"\"
nothing: null
list: [a, b, c]
nums: [3, 1, 2]
map: {b: 2, a: 1}
nested: {inner: {leaf: value, count: 7}, other: [x, z]}
";

fn funcs() -> Arc<FuncMap> {
    static FUNCS: OnceLock<Arc<FuncMap>> = OnceLock::new();
    FUNCS.get_or_init(|| Arc::new(FuncMap::helm())).clone()
}

fn data() -> Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| {
        let values = match from_yaml(VALUES) {
            Ok(Value::Map(m)) => m.with_go_type(MapType::CHARTUTIL_VALUES),
            _ => Map::new(),
        };
        let release = Map::new();
        release.insert("Name", Value::from("fleet"));
        release.insert("Namespace", Value::from("apps"));
        release.insert("Revision", Value::Int(1));
        let top = Map::new().with_go_type(MapType::CHARTUTIL_VALUES);
        top.insert("Values", Value::Map(values));
        top.insert("Release", Value::Map(release));
        Value::Map(top)
    })
    .clone()
}

fuzz_target!(|bytes: &[u8]| {
    // The first byte picks the missing-key mode; the rest is the template.
    let Some((&mode, text)) = bytes.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let mut t = Template::new(funcs());
    t.set_root_name("gotpl");
    if t.parse("fuzz", &text).is_err() {
        return;
    }
    let options = ExecOptions {
        missing_key: match mode % 3 {
            0 => MissingKey::Zero,
            1 => MissingKey::Default,
            _ => MissingKey::Error,
        },
        limits: Limits {
            max_depth: 40,
            max_output_bytes: 1 << 16,
            max_iterations: 10_000,
        },
        seed: 1,
        ..ExecOptions::default()
    };
    // Values are shared and mutable (`set`, `unset`): a fresh copy per run keeps runs
    // independent of each other.
    let data = data().deep_copy();
    let _ = t.execute("fuzz", &data, &options);
});
