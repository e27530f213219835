//! Sprig's lists and dicts: `list`, `append`, `first`, `dict`, `set`, `merge`, `pluck`, `keys`, ….

use super::FuncMap;

pub fn register(map: &mut FuncMap) {
    let _ = map;
}
