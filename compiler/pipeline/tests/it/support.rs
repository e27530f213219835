//! Helpers shared by the tests: fixture folders read into memory, the crate's folder.

use std::collections::BTreeMap;
use std::path::Path;

use syntax::FleetFiles;

/// Every `.yaml` file under `dir`, by path relative to it.
pub fn read_tree(dir: &Path) -> FleetFiles {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let rel = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("UTF-8 text");
                files.insert(rel, text);
            }
        }
    }
    FleetFiles {
        files,
        ..FleetFiles::default()
    }
}

/// The folder of the crate.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
