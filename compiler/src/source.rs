//! The fleet repository as files in memory: the only input of the compiler's core, and the one
//! place (`FleetFiles::read_dir`) that reads the disk.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The files of a fleet repository the compiler reads, by path relative to the fleet root
/// (`clusters/a.yaml`, `services/x/service.yaml`), with `/` separators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFiles {
    pub files: BTreeMap<String, String>,
    /// Files that exist but could not be read as text, with the reason.
    pub unreadable: BTreeMap<String, String>,
    /// Prepended to file names in diagnostics (e.g. `examples/fleet/`), so that they name the
    /// file from where the user works. Empty in tests.
    pub display_root: String,
}

/// Why a fleet could not be read at all (the directory itself, not a file in it).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read fleet directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a fleet repository: it has neither clusters/ nor services/")]
    NotAFleet { path: PathBuf },
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

    /// Reads `clusters/*.yaml` and `services/*/service.yaml` under `root`. Charts are read later,
    /// by the chart loader.
    pub fn read_dir(root: &Path) -> Result<FleetFiles, SourceError> {
        let dir_error = |source| SourceError::Dir {
            path: root.to_path_buf(),
            source,
        };
        std::fs::metadata(root).map_err(dir_error)?;
        let clusters = root.join("clusters");
        let services = root.join("services");
        if !clusters.is_dir() && !services.is_dir() {
            return Err(SourceError::NotAFleet {
                path: root.to_path_buf(),
            });
        }
        let mut out = FleetFiles::default();
        for entry in sorted_entries(&clusters) {
            let Some(name) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            if (name.ends_with(".yaml") || name.ends_with(".yml")) && entry.is_file() {
                out.read_one(&entry, format!("clusters/{name}"));
            }
        }
        for entry in sorted_entries(&services) {
            let Some(name) = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_owned)
            else {
                continue;
            };
            if entry.is_dir() {
                let file = entry.join("service.yaml");
                let key = format!("services/{name}/service.yaml");
                if file.is_file() {
                    out.read_one(&file, key);
                } else {
                    out.unreadable
                        .insert(key, "the service folder has no service.yaml".into());
                }
            }
        }
        let mut shown = root.to_string_lossy().replace('\\', "/");
        if shown == "." {
            shown.clear();
        } else if !shown.ends_with('/') {
            shown.push('/');
        }
        out.display_root = shown;
        Ok(out)
    }

    fn read_one(&mut self, path: &Path, key: String) {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    self.files.insert(key, text);
                }
                Err(_) => {
                    self.unreadable
                        .insert(key, "the file is not UTF-8 text".into());
                }
            },
            Err(e) => {
                self.unreadable.insert(key, e.to_string());
            }
        }
    }

    /// The name a file is shown under in diagnostics.
    pub fn display_name(&self, path: &str) -> String {
        format!("{}{}", self.display_root, path)
    }

    pub fn text(&self, path: &str) -> &str {
        self.files.get(path).map_or("", String::as_str)
    }
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}
