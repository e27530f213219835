//! Sprig's regexes, semantic versions, dates, encodings and hashes, crypto, URLs, paths and
//! network helpers, each in its own submodule, exactly as Helm 3.17 (Sprig v3.3.0,
//! Masterminds/semver v3.3.0) exposes them.

use super::FuncMap;

pub mod crypto;
pub mod date;
pub mod encoding;
pub mod network;
pub mod path;
pub mod regex;
pub mod semver;
pub mod url;

pub fn register(map: &mut FuncMap) {
    crypto::register(map);
    date::register(map);
    encoding::register(map);
    network::register(map);
    path::register(map);
    regex::register(map);
    semver::register(map);
    url::register(map);
}

/// Helpers shared by the submodules' tests: call a registered function as a template would.
#[cfg(test)]
pub(crate) mod testing {
    use crate::funcs::{FuncMap, StandaloneContext};
    use crate::gofmt::format_value;
    use crate::value::Value;

    /// Calls `name` from `FuncMap::sprig()` with a fresh standalone context.
    pub fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        let map = FuncMap::sprig();
        let func = map
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not registered"));
        let mut ctx = StandaloneContext::default();
        func.call(&mut ctx, args).map_err(|e| e.message)
    }

    /// Calls `name` and prints the result as `{{ … }}` would (`%v`).
    pub fn show(name: &str, args: &[Value]) -> Result<String, String> {
        call(name, args).map(|v| format_value(&v))
    }

    pub fn s(v: &str) -> Value {
        Value::from(v)
    }

    pub fn i(v: i64) -> Value {
        Value::Int(v)
    }
}
