//! Chart loading as Helm's `pkg/chart/loader` does it: from a folder (honouring
//! `.helmignore`) or a gzipped tar archive, with subcharts under `charts/` as folders or
//! archives.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use gotemplate::{Map, Value};

use crate::chart::{self, Chart, File, Metadata};
use crate::error::HelmError;
use crate::gostr;
use crate::ignore::Rules;

/// Largest file Helm reads from a chart (`MaxDecompressedFileSize`).
pub const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;
/// Largest decompressed archive (`MaxDecompressedChartSize`).
pub const MAX_CHART_SIZE: u64 = 100 * 1024 * 1024;
/// Nesting of subcharts followed before giving up (Helm has no limit; charts in the wild
/// nest a handful of levels).
const MAX_DEPTH: usize = 64;

/// Loads a chart from a folder or an archive, as `loader.Load` does.
pub fn load(path: &Path) -> Result<Chart, HelmError> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        load_dir(path)
    } else {
        load_file(path)
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> HelmError {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    HelmError::Io(format!("stat {}: {what}", path.display()))
}

/// Loads a chart archive file (`loader.LoadFile`).
pub fn load_file(path: &Path) -> Result<Chart, HelmError> {
    let data = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    // Helm names the file by its absolute path (`LocateChart` made it absolute).
    let name = std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    if !data.starts_with(&[0x1f, 0x8b, 0x08]) {
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            return Err(HelmError::Load(format!(
                "file '{name}' seems to be a YAML file, but expected a gzipped archive"
            )));
        }
        return Err(HelmError::Load(format!(
            "file '{name}' does not appear to be a gzipped archive; got '{}'",
            detect_content_type(&data)
        )));
    }
    load_archive(&data, 0)
}

/// `http.DetectContentType` on the first 512 bytes, as Helm reads them into a zeroed buffer
/// (so a short file always looks binary), for the error message about non-archives.
fn detect_content_type(data: &[u8]) -> &'static str {
    let mut head = [0u8; 512];
    let n = data.len().min(512);
    head[..n].copy_from_slice(&data[..n]);
    let binary = head
        .iter()
        .any(|&b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

fn trim_bom(data: Vec<u8>) -> Vec<u8> {
    match data.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => rest.to_vec(),
        None => data,
    }
}

/// Loads a chart folder (`loader.LoadDir`).
pub fn load_dir(dir: &Path) -> Result<Chart, HelmError> {
    let mut rules = Rules::empty();
    let ignore_file = dir.join(".helmignore");
    if ignore_file.is_file() {
        let text = std::fs::read(&ignore_file).map_err(|e| io_error(&ignore_file, &e))?;
        rules = Rules::parse(&String::from_utf8_lossy(&text))?;
    }
    rules.add_defaults();
    let mut files = Vec::new();
    walk(dir, "", &rules, &mut files, 0)?;
    load_files(files, 0)
}

fn walk(
    dir: &Path,
    rel: &str,
    rules: &Rules,
    out: &mut Vec<(String, Vec<u8>)>,
    depth: usize,
) -> Result<(), HelmError> {
    if depth > 256 {
        return Err(HelmError::Load(format!(
            "chart folder nests too deeply at {}",
            dir.display()
        )));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, &e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let n = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // Symbolic links are followed, as sympath.Walk does.
        let meta = std::fs::metadata(&path).map_err(|e| io_error(&path, &e))?;
        if meta.is_dir() {
            if rules.ignore(&n, true) {
                continue;
            }
            walk(&path, &n, rules, out, depth + 1)?;
            continue;
        }
        if rules.ignore(&n, false) {
            continue;
        }
        if !meta.is_file() {
            return Err(HelmError::Load(format!(
                "cannot load irregular file {} as it has file mode type bits set",
                path.display()
            )));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(HelmError::Load(format!(
                "chart file {name:?} is larger than the maximum file size {MAX_FILE_SIZE}"
            )));
        }
        let data =
            std::fs::read(&path).map_err(|e| HelmError::Load(format!("error reading {n}: {e}")))?;
        out.push((n, trim_bom(data)));
    }
    Ok(())
}

/// Reads the files of a gzipped tar chart archive (`loader.LoadArchiveFiles`).
pub fn archive_files(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, HelmError> {
    let gz = flate2::read::GzDecoder::new(data);
    let mut archive = tar::Archive::new(gz);
    let mut files = Vec::new();
    let mut remaining = MAX_CHART_SIZE;
    let entries = archive
        .entries()
        .map_err(|e| HelmError::Load(archive_error(&e)))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| HelmError::Load(archive_error(&e)))?;
        let header = entry.header();
        let kind = header.entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let delimiter = if raw_name.contains('\\') { '\\' } else { '/' };
        let parts: Vec<&str> = raw_name.split(delimiter).collect();
        let n = parts
            .get(1..)
            .unwrap_or(&[])
            .join(&delimiter.to_string())
            .replace(delimiter, "/");
        if n.starts_with('/') {
            return Err(HelmError::Load(
                "chart illegally contains absolute paths".into(),
            ));
        }
        let n = gostr::path_clean(&n);
        if n == "." {
            return Err(HelmError::Load(format!(
                "chart illegally contains content outside the base directory: {raw_name:?}"
            )));
        }
        if n.starts_with("..") {
            return Err(HelmError::Load(
                "chart illegally references parent directory".into(),
            ));
        }
        let b = n.as_bytes();
        if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
            return Err(HelmError::Load(
                "chart contains illegally named files".into(),
            ));
        }
        if parts.first() == Some(&"Chart.yaml") {
            return Err(HelmError::Load("chart yaml not in base directory".into()));
        }
        let size = entry.size();
        if size > remaining {
            return Err(HelmError::Load(format!(
                "decompressed chart is larger than the maximum file size {MAX_CHART_SIZE}"
            )));
        }
        if size > MAX_FILE_SIZE {
            return Err(HelmError::Load(format!(
                "decompressed chart file {raw_name:?} is larger than the maximum file size {MAX_FILE_SIZE}"
            )));
        }
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        (&mut entry)
            .take(remaining)
            .read_to_end(&mut buf)
            .map_err(|e| HelmError::Load(archive_error(&e)))?;
        let written = buf.len() as u64;
        remaining = remaining.saturating_sub(written);
        if written < size || remaining == 0 {
            return Err(HelmError::Load(format!(
                "decompressed chart is larger than the maximum file size {MAX_CHART_SIZE}"
            )));
        }
        files.push((n, trim_bom(buf)));
    }
    if files.is_empty() {
        return Err(HelmError::Load("no files in chart archive".into()));
    }
    Ok(files)
}

fn archive_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("invalid gzip header") {
        "gzip: invalid header".into()
    } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "unexpected EOF".into()
    } else {
        text
    }
}

/// Loads a chart from the bytes of a `.tgz` (`loader.LoadArchive`).
pub fn load_archive(data: &[u8], depth: usize) -> Result<Chart, HelmError> {
    let files = archive_files(data)?;
    load_files(files, depth)
}

fn yaml_error(file: &str, message: &str) -> HelmError {
    HelmError::Load(format!(
        "cannot load {file}: {}",
        chart::yaml_message(message)
    ))
}

/// Parses `values.yaml` into a map, as `yaml.Unmarshal(data, &c.Values)`.
fn parse_values(file: &str, data: &[u8]) -> Result<Map, HelmError> {
    let text = String::from_utf8_lossy(data);
    match gotemplate::funcs::encoding::from_yaml(&text) {
        Ok(Value::Map(m)) => Ok(m),
        Ok(Value::Nil) => Ok(Map::new()),
        Ok(other) => Err(HelmError::Load(format!(
            "cannot load {file}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            match other {
                Value::List(_) => "array",
                Value::String(_) => "string",
                Value::Bool(_) => "bool",
                _ => "number",
            }
        ))),
        Err(e) => Err(yaml_error(file, &e.message)),
    }
}

/// A file of a subchart: its path below `charts/`, and its bytes.
type NamedData = (String, Arc<[u8]>);

/// Builds a chart from its files, relative to the chart root (`loader.LoadFiles`).
pub fn load_files(files: Vec<(String, Vec<u8>)>, depth: usize) -> Result<Chart, HelmError> {
    if depth > MAX_DEPTH {
        return Err(HelmError::Load("subcharts nest too deeply".into()));
    }
    let mut c = Chart::default();
    let mut metadata: Option<Metadata> = None;
    let files: Vec<File> = files
        .into_iter()
        .map(|(name, data)| File::new(name, Arc::<[u8]>::from(data)))
        .collect();
    for f in &files {
        c.raw.push(f.clone());
        if f.name == "Chart.yaml" {
            let md = metadata.get_or_insert_with(Metadata::default);
            chart::decode_metadata("Chart.yaml", &f.data, md)?;
            if md.api_version.is_empty() {
                md.api_version = "v1".into();
            }
        }
    }
    let mut subcharts: BTreeMap<String, Vec<NamedData>> = BTreeMap::new();
    for f in files {
        let name = f.name.as_str();
        match name {
            "Chart.yaml" => {}
            // Chart.lock and requirements.lock only pin versions for `helm dependency`.
            "Chart.lock" => {}
            "values.yaml" => c.values = parse_values("values.yaml", &f.data)?,
            "values.schema.json" => c.schema = Some(f.data.clone()),
            "requirements.yaml" => {
                let md = metadata.get_or_insert_with(Metadata::default);
                chart::decode_metadata("requirements.yaml", &f.data, md)?;
                if md.api_version == "v1" {
                    c.files.push(f);
                }
            }
            "requirements.lock" => {
                let md = metadata.get_or_insert_with(Metadata::default);
                if md.api_version == "v1" {
                    c.files.push(f);
                }
            }
            _ if name.starts_with("templates/") => c.templates.push(f),
            _ if name.starts_with("charts/") => {
                if gostr::path_ext(name) == ".prov" {
                    c.files.push(f);
                    continue;
                }
                let rest = &name["charts/".len()..];
                let cname = rest.split('/').next().unwrap_or("").to_string();
                subcharts
                    .entry(cname)
                    .or_default()
                    .push((rest.to_string(), f.data.clone()));
            }
            _ => c.files.push(f),
        }
    }
    let Some(mut md) = metadata else {
        return Err(HelmError::Load("Chart.yaml file is missing".into()));
    };
    chart::validate_metadata(&mut md)?;
    c.metadata = md;
    for (n, files) in subcharts {
        if n.starts_with('_') || n.starts_with('.') {
            continue;
        }
        let loaded = if gostr::path_ext(&n) == ".tgz" {
            let Some((fname, data)) = files.first() else {
                continue;
            };
            if *fname != n {
                return Err(HelmError::Load(format!(
                    "error unpacking subchart tar in {}: expected {n}, got {fname}",
                    c.name()
                )));
            }
            load_archive(data, depth + 1)
        } else {
            let inner: Vec<(String, Vec<u8>)> = files
                .into_iter()
                .filter_map(|(fname, data)| {
                    fname
                        .split_once('/')
                        .map(|(_, rest)| (rest.to_string(), data.to_vec()))
                })
                .collect();
            load_files(inner, depth + 1)
        };
        match loaded {
            Ok(sc) => c.dependencies.push(sc),
            Err(e) => {
                return Err(HelmError::Load(format!(
                    "error unpacking subchart {n} in {}: {e}",
                    c.name()
                )));
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        entries
            .iter()
            .map(|(n, d)| (n.to_string(), d.as_bytes().to_vec()))
            .collect()
    }

    const CHART: &str = "apiVersion: v2\nname: top\nversion: 1.0.0\n";

    fn tgz(entries: &[(&str, &str)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut b = tar::Builder::new(gz);
        for (name, text) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            // Names are written raw so that hostile paths can be tested.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_cksum();
            b.append(&h, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn files_are_sorted_into_the_chart() {
        let c = load_files(
            files(&[
                ("Chart.yaml", CHART),
                ("values.yaml", "a: 1\n"),
                ("values.schema.json", "{}"),
                ("templates/a.yaml", "kind: A"),
                ("crds/c.yaml", "kind: CRD"),
                ("README.md", "hi"),
                (
                    "charts/sub/Chart.yaml",
                    "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
                ),
                ("charts/sub/templates/b.yaml", "kind: B"),
                ("charts/_skipped/Chart.yaml", "not a chart"),
                ("charts/sub-0.1.0.tgz.prov", "signature"),
            ]),
            0,
        )
        .unwrap();
        assert_eq!(c.name(), "top");
        assert_eq!(c.values.get("a"), Some(Value::Float(1.0)));
        assert!(c.schema.is_some());
        let names = |fs: &[File]| fs.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&c.templates), ["templates/a.yaml"]);
        assert_eq!(
            names(&c.files),
            ["crds/c.yaml", "README.md", "charts/sub-0.1.0.tgz.prov"]
        );
        assert_eq!(c.dependencies.len(), 1);
        assert_eq!(names(&c.dependencies[0].templates), ["templates/b.yaml"]);
        assert_eq!(c.crd_objects("top")[0].0, "top/crds/c.yaml");
    }

    #[test]
    fn load_errors_read_as_helm() {
        let err = |entries: &[(&str, &str)]| load_files(files(entries), 0).unwrap_err().to_string();
        assert_eq!(
            err(&[("values.yaml", "a: 1")]),
            "Chart.yaml file is missing"
        );
        assert_eq!(
            err(&[("Chart.yaml", CHART), ("values.yaml", "- a\n")]),
            "cannot load values.yaml: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(
            err(&[
                ("Chart.yaml", CHART),
                ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\n")
            ]),
            "error unpacking subchart sub in top: validation: chart.metadata.version is required"
        );
    }

    #[test]
    fn archives_are_checked_as_helm_checks_them() {
        let c = load_archive(
            &tgz(&[("top/Chart.yaml", CHART), ("top/templates/a.yaml", "x")]),
            0,
        )
        .unwrap();
        assert_eq!(c.templates[0].name, "templates/a.yaml");
        let err =
            |entries: &[(&str, &str)]| load_archive(&tgz(entries), 0).unwrap_err().to_string();
        // A top-level file has nothing left after its folder is cut off.
        assert_eq!(
            err(&[("Chart.yaml", CHART)]),
            "chart illegally contains content outside the base directory: \"Chart.yaml\""
        );
        assert_eq!(
            err(&[("Chart.yaml/x", CHART)]),
            "chart yaml not in base directory"
        );
        assert_eq!(
            err(&[("top/Chart.yaml", CHART), ("top/../../x", "x")]),
            "chart illegally references parent directory"
        );
        assert_eq!(err(&[]), "no files in chart archive");
        assert_eq!(
            load_archive(b"this is not a gzip stream", 0)
                .unwrap_err()
                .to_string(),
            "gzip: invalid header"
        );
        // Shorter than a gzip header: Go's io.ReadFull fails first.
        assert_eq!(
            load_archive(b"not gzip", 0).unwrap_err().to_string(),
            "unexpected EOF"
        );
    }
}
