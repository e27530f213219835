//! Helm's own functions: `include`, `tpl`, `required`, `fail`, `lookup`.

use super::FuncMap;

pub fn register(map: &mut FuncMap) {
    let _ = map;
}
