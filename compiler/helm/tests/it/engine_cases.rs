//! The template engine's conformance cases that use Helm's own objects (`.Files`), rendered
//! with this crate's loader, engine and objects, and compared byte for byte with what the real
//! helm 3.17.3 rendered (the goldens of `compiler/gotemplate/tests/conformance/`).

use std::path::Path;

use gotemplate::{Map, Value};
use helm::action;
use helm::engine::{self, EngineOptions};

/// The cases whose NOTES.txt only reads `.Files` (this crate's `Files` object).
const CASES: &[&str] = &["helm-files-range"];

#[test]
fn files_cases_render_as_helm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gotemplate/tests/conformance");
    for case in CASES {
        let dir = root.join(case);
        let chart = action::load_installable(&dir).expect("the case loads as a chart");
        let top = Map::new();
        top.insert("Values", Value::Map(Map::new()));
        let rendered =
            engine::render(&chart, &top, &EngineOptions::default()).expect("the case renders");
        let notes = rendered
            .get(&format!("{case}/templates/NOTES.txt"))
            .expect("NOTES.txt is rendered");
        let want = std::fs::read_to_string(dir.join("expected.txt")).expect("golden");
        assert_eq!(notes, &want, "{case}");
    }
}
