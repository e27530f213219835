//! Sprig's math, defaults, type checks, encodings, hashes, regexes, semver, dates, randomness and network helpers.

use super::FuncMap;

pub fn register(map: &mut FuncMap) {
    let _ = map;
}
