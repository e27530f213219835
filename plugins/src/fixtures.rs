//! The test guests of `fixtures/` (inline component WAT), compiled for the unit tests.

/// The binary component of the fixture `fixtures/<name>.wat`.
pub(crate) fn wasm(name: &str) -> Vec<u8> {
    let text = match name {
        "echo" => include_str!("../fixtures/echo.wat"),
        "err" => include_str!("../fixtures/err.wat"),
        "bad-json" => include_str!("../fixtures/bad-json.wat"),
        "trap" => include_str!("../fixtures/trap.wat"),
        "spin" => include_str!("../fixtures/spin.wat"),
        "memory-bomb" => include_str!("../fixtures/memory-bomb.wat"),
        "huge-output" => include_str!("../fixtures/huge-output.wat"),
        "wasi-world" => include_str!("../fixtures/wasi-world.wat"),
        "sleep" => include_str!("../fixtures/sleep.wat"),
        other => other,
    };
    match wat::parse_str(text) {
        Ok(bytes) => bytes,
        Err(e) => panic!("fixture {name}: {e}"),
    }
}

/// A fresh, empty temporary directory for one test (removed when dropped).
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("flotilla-plugins-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
