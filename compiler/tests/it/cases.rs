//! Fixture fleets under `tests/cases/<case>/`, each compiled, with its diagnostics, selection
//! and waves snapshotted beside it (`tests/cases/<case>/compiled.snap`). A chart a fixture
//! does not write gets a stub `Chart.yaml`.

use std::path::Path;

use crate::support::{add_stub_charts, summary};

#[test]
fn cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/cases exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let mut files = compiler::read_dir(&dir).expect("a fixture fleet");
        files.display_root.clear();
        add_stub_charts(&mut files);
        let compiled = crate::support::compile(&files);
        insta::with_settings!({
            snapshot_path => dir.clone(),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => dir.file_name().unwrap_or_default().to_string_lossy().into_owned(),
        }, {
            insta::assert_snapshot!("compiled", summary(&compiled));
        });
    }
}
