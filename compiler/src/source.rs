//! Reading a fleet repository from disk into [`FleetFiles`] (the compiler's core works on
//! files in memory): the one place of the core that reads the disk ([`read_dir`]), and where
//! the folders of its local charts and plugins are.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::load::normalize_chart_path;
use syntax::FleetFiles;

use crate::chart::ChartFiles;
use crate::yaml::{self, Kind};

/// The folder of a fleet's WebAssembly value plugins (`plugins/<name>.wasm`).
pub const PLUGINS_DIR: &str = "plugins";

/// Larger chart files are not read (Helm's `MaxDecompressedFileSize` is 5 MiB too).
pub const MAX_CHART_FILE: u64 = 5 << 20;
/// Chart folders nested deeper than this are not followed.
const MAX_CHART_DEPTH: usize = 32;

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

/// Reads `clusters/*.yaml`, `services/*/service.yaml`, `fleet.yaml`, every file of the local charts
/// the services point at (`chart: {path: ...}`) and the plugins (`plugins/*.wasm`,
/// `plugins/*.yaml`) under `root`.
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
    // Cluster and service files, read in parallel (a fleet may have thousands).
    let mut wanted: Vec<(PathBuf, String)> = Vec::new();
    for entry in sorted_entries(&clusters) {
        let Some(name) = entry
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if (name.ends_with(".yaml") || name.ends_with(".yml")) && entry.is_file() {
            wanted.push((entry, format!("clusters/{name}")));
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
                wanted.push((file, key));
            } else {
                out.unreadable
                    .insert(key, "the service folder has no service.yaml".into());
            }
        }
    }
    let read: Vec<(String, Result<String, String>)> = {
        use rayon::prelude::*;
        wanted
            .into_par_iter()
            .map(|(path, key)| (key, read_text(&path)))
            .collect()
    };
    for (key, result) in read {
        match result {
            Ok(text) => {
                out.files.insert(key, text);
            }
            Err(reason) => {
                out.unreadable.insert(key, reason);
            }
        }
    }
    let fleet_file = root.join(crate::load::FLEET_FILE);
    if fleet_file.is_file() {
        match read_text(&fleet_file) {
            Ok(text) => {
                out.files.insert(crate::load::FLEET_FILE.to_owned(), text);
            }
            Err(reason) => {
                out.unreadable
                    .insert(crate::load::FLEET_FILE.to_owned(), reason);
            }
        }
    }
    read_charts(&mut out, root);
    read_plugins(&mut out, root);
    out.set_display_root(root);
    out.root = Some(root.to_path_buf());
    Ok(out)
}

fn read_one(files: &mut FleetFiles, path: &Path, key: String) {
    match read_text(path) {
        Ok(text) => {
            files.files.insert(key, text);
        }
        Err(reason) => {
            files.unreadable.insert(key, reason);
        }
    }
}

/// Reads the fleet's plugins: `plugins/<name>.wasm` as bytes, `plugins/<name>.yaml` (their
/// limits) as text. Other files there (sources, a README) are not read.
fn read_plugins(files: &mut FleetFiles, root: &Path) {
    let dir = PLUGINS_DIR;
    for entry in sorted_entries(&root.join(dir)) {
        let Some(name) = entry.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let key = format!("{dir}/{name}");
        if !entry.is_file() {
            continue;
        }
        if name.ends_with(".yaml") {
            read_one(files, &entry, key);
        } else if name.ends_with(".wasm") {
            match std::fs::read(&entry) {
                Ok(bytes) => {
                    files.blobs.insert(key, Arc::from(bytes));
                }
                Err(e) => {
                    files.unreadable.insert(key, e.to_string());
                }
            }
        }
    }
}

/// Reads the folders of the local charts the service files name (read leniently: a
/// service that does not load has its problems reported by the loader).
fn read_charts(files: &mut FleetFiles, root: &Path) {
    for dir in chart_dirs(files) {
        let mut found = Vec::new();
        walk(&root.join(&dir), &dir, 0, &mut found);
        for (key, result) in found {
            match result {
                Ok(bytes) => {
                    files.blobs.insert(key, bytes.into());
                }
                Err(reason) => {
                    files.unreadable.insert(key, reason);
                }
            }
        }
    }
}

/// The folders of the local charts the service files name, relative to the fleet root.
pub fn chart_dirs(files: &FleetFiles) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for (path, text) in &files.files {
        let Some(dir) = path
            .strip_prefix("services/")
            .and_then(|p| p.strip_suffix("/service.yaml"))
        else {
            continue;
        };
        if let Some(p) = chart_dir(dir, text) {
            dirs.insert(p);
        }
    }
    dirs
}

/// The folder (relative to the fleet root) of the local chart that the service file `text` of
/// service folder `service` points at; `None` for a repository chart or an unreadable file.
pub fn chart_dir(service: &str, text: &str) -> Option<String> {
    normalize_chart_path(service, &chart_path(text)?).ok()
}

/// The files of the chart in folder `dir` (relative to the fleet root), by path inside
/// the chart.
pub fn chart_files(files: &FleetFiles, dir: &str) -> ChartFiles {
    let prefix = format!("{dir}/");
    let mut out = ChartFiles::new();
    for (k, v) in files.blobs.range(prefix.clone()..) {
        let Some(rest) = k.strip_prefix(&prefix) else {
            break;
        };
        out.insert(rest.to_owned(), v.clone());
    }
    for (k, v) in files.files.range(prefix.clone()..) {
        let Some(rest) = k.strip_prefix(&prefix) else {
            break;
        };
        out.insert(rest.to_owned(), Arc::from(v.as_bytes()));
    }
    out
}

/// A file's text, or why it cannot be read as text.
fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".into())
}

/// `chart.path` of a service file, if it has one.
fn chart_path(text: &str) -> Option<String> {
    chart_fields(text, &["path"]).map(|[path]| path)
}

/// The string fields `keys` of a service file's `chart:` mapping, read leniently (before the
/// loader validates the file); `None` when one is missing.
pub(crate) fn chart_fields<const N: usize>(text: &str, keys: &[&str; N]) -> Option<[String; N]> {
    let root = yaml::parse(text).root?;
    let Kind::Map(entries) = root.kind else {
        return None;
    };
    let chart = entries.iter().find(|e| e.key.as_str() == Some("chart"))?;
    let Kind::Map(fields) = &chart.value.kind else {
        return None;
    };
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, key) in out.iter_mut().zip(keys) {
        *slot = fields
            .iter()
            .find(|e| e.key.as_str() == Some(*key))
            .and_then(|e| e.value.as_str().map(str::to_owned))?;
    }
    Some(out)
}

/// Every file under `dir` (symbolic links followed, as Helm does), keyed `rel/name`.
fn walk(dir: &Path, rel: &str, depth: usize, out: &mut Vec<(String, Result<Vec<u8>, String>)>) {
    if depth > MAX_CHART_DEPTH {
        out.push((
            rel.to_owned(),
            Err(format!(
                "chart folders nest deeper than {MAX_CHART_DEPTH} levels"
            )),
        ));
        return;
    }
    for path in sorted_entries(dir) {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let key = format!("{rel}/{name}");
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, &key, depth + 1, out),
            Ok(m) if m.len() > MAX_CHART_FILE => out.push((
                key,
                Err(format!(
                    "the chart file is larger than the maximum file size {MAX_CHART_FILE}"
                )),
            )),
            Ok(m) if m.is_file() => {
                out.push((key, std::fs::read(&path).map_err(|e| e.to_string())))
            }
            Ok(_) => out.push((key, Err("not a regular file".into()))),
            Err(e) => out.push((key, Err(e.to_string()))),
        }
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
