//! Fuzz target: arbitrary bytes parsed as a template must give a template or a parse error,
//! never a panic, a hang or a stack overflow.
#![no_main]

use std::sync::{Arc, OnceLock};

use gotemplate::{FuncMap, Template};
use libfuzzer_sys::fuzz_target;

fn funcs() -> Arc<FuncMap> {
    static FUNCS: OnceLock<Arc<FuncMap>> = OnceLock::new();
    FUNCS.get_or_init(|| Arc::new(FuncMap::helm())).clone()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut t = Template::new(funcs());
    if t.parse("fuzz", &text).is_ok() {
        // A set that parsed takes a second parse of the same text (redefinition rules).
        let _ = t.parse("fuzz", &text);
    }
});
