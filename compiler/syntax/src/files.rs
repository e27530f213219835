//! The files of a fleet repository in memory: the only input of the compiler's and the
//! policies' cores. Reading them from disk is the compiler's `source` module's job.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The files of a fleet repository the compiler reads, by path relative to the fleet root
/// (`clusters/a.yaml`, `services/x/service.yaml`), with `/` separators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFiles {
    pub files: BTreeMap<String, String>,
    /// Other files, as bytes: the charts the services point at (`charts/ingress/Chart.yaml`).
    /// Chart files may also be given in `files`.
    pub blobs: BTreeMap<String, Arc<[u8]>>,
    /// Files that exist but could not be read as text, with the reason.
    pub unreadable: BTreeMap<String, String>,
    /// Prepended to file names in diagnostics (e.g. `examples/fleet/`), so that they name the
    /// file from where the user works. Empty in tests.
    pub display_root: String,
    /// The folder the files were read from; `None` for files given in memory. The default
    /// secret source is its `secrets/` folder.
    pub root: Option<PathBuf>,
}

impl FleetFiles {
    /// Files given in memory (tests, tools).
    pub fn from_files<K: Into<String>, V: Into<String>>(
        files: impl IntoIterator<Item = (K, V)>,
    ) -> FleetFiles {
        FleetFiles {
            files: files
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..FleetFiles::default()
        }
    }

    /// The name a file is shown under in diagnostics.
    pub fn display_name(&self, path: &str) -> String {
        format!("{}{}", self.display_root, path)
    }

    /// A file's text (empty when the fleet has no such text file).
    pub fn text(&self, path: &str) -> &str {
        self.files.get(path).map_or("", String::as_str)
    }

    /// Shows file names relative to `root` as the user named it (`examples/fleet/…`; nothing
    /// for `.`).
    pub fn set_display_root(&mut self, root: &std::path::Path) {
        let mut shown = root.to_string_lossy().replace('\\', "/");
        if shown == "." {
            shown.clear();
        } else if !shown.is_empty() && !shown.ends_with('/') {
            shown.push('/');
        }
        self.display_root = shown;
    }
}
