//! `helm template` end to end (`cmd/helm/template.go`, `action.Install` in client-only
//! dry-run mode): values from flags, the chart's dependencies, render values, schema
//! validation, rendering, sorting, and the text `helm template` prints. Also the release's
//! name (`NameAndChart`: `--name-template`, `--generate-name`, Helm's name rules) and what
//! `--debug` prints of a release that failed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use gotemplate::funcs::Timestamp;
use gotemplate::{Map, Value};

use crate::chart::Chart;
use crate::dependencies;
use crate::engine::{self, EngineOptions};
use crate::error::HelmError;
use crate::gostr::path_match;
use crate::manifest::{self, Hook};
use crate::objects::{Capabilities, ChartObject, KubeVersion};
use crate::postrender::PostRenderer;
use crate::schema;
use crate::semver::is_compatible_range;
use crate::strvals::{self, Mode};
use crate::values;

/// The flags of `helm template` that shape the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateOptions {
    pub release_name: String,
    pub namespace: String,
    /// `--kube-version`, as given (parsed by [`run`]).
    pub kube_version: Option<String>,
    /// `--api-versions`, in order.
    pub api_versions: Vec<String>,
    pub include_crds: bool,
    pub skip_tests: bool,
    pub is_upgrade: bool,
    /// `--show-only`: `filepath.Match` patterns over template paths.
    pub show_only: Vec<String>,
    /// `--output-dir`: write files instead of printing manifests.
    pub output_dir: Option<String>,
    /// `--release-name`: write under `output-dir/RELEASE`.
    pub use_release_name: bool,
    /// `--no-hooks`: leave hooks out of the output.
    pub no_hooks: bool,
    pub skip_schema_validation: bool,
    /// `--labels`: labels of the release's record. `helm template` keeps no record, so they
    /// change nothing printed; Helm still refuses its own (system) label names.
    pub labels: BTreeMap<String, String>,
    /// `--post-renderer`: pipes the manifests (not the hooks) through a program.
    pub post_renderer: Option<PostRenderer>,
    /// Seed of `rand*`/`uuidv4` and the clock `now` reads.
    pub seed: u64,
    pub now: Timestamp,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            release_name: "release-name".into(),
            namespace: "default".into(),
            kube_version: None,
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            is_upgrade: false,
            show_only: Vec::new(),
            output_dir: None,
            use_release_name: false,
            no_hooks: false,
            skip_schema_validation: false,
            labels: BTreeMap::new(),
            post_renderer: None,
            seed: 0,
            now: Timestamp {
                unix_seconds: 0,
                nanos: 0,
            },
        }
    }
}

/// The user's values, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueOptions {
    /// `-f`: (name as given, contents), in order.
    pub values_files: Vec<(String, Vec<u8>)>,
    pub set: Vec<String>,
    pub set_string: Vec<String>,
    pub set_json: Vec<String>,
    /// `--set-file`: `key=path`, each value a file's contents (`-` is standard input).
    pub set_file: Vec<String>,
    /// `--set-literal`: `key=value`, the value taken as one string, verbatim.
    pub set_literal: Vec<String>,
}

/// How a file under `--output-dir` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Created (or truncated).
    Create,
    /// Appended to (an earlier write of this run created it).
    Append,
    /// Appended to if it exists when written, created otherwise (Helm's hooks).
    AppendIfExists,
}

/// A file `helm template --output-dir` writes: `dir/name`, with `---\n# Source:` framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub path: String,
    pub content: String,
    pub mode: WriteMode,
}

/// What `helm template` produces: its standard output, and files for `--output-dir`
/// (already framed; the caller writes them in order, before printing `stdout`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TemplateOutput {
    pub stdout: String,
    pub writes: Vec<FileWrite>,
    /// What Helm prints on standard error as `WARNING: ...` (e.g. a deprecated chart).
    pub warnings: Vec<String>,
}

/// The rendered release: `rel.Manifest` and `rel.Hooks`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    pub manifest: String,
    pub hooks: Vec<Hook>,
    pub writes: Vec<FileWrite>,
}

/// `values.Options.MergeValues`: `-f` files in order, then `--set-json`, `--set`,
/// `--set-string`, `--set-file` (which reads the files it names), `--set-literal` (each kind
/// in its own order, whatever the command line interleaving).
pub fn merge_user_values(opts: &ValueOptions) -> Result<Map, HelmError> {
    let mut base = Map::new();
    for (name, data) in &opts.values_files {
        let text = String::from_utf8_lossy(data);
        let current = match gotemplate::funcs::encoding::from_yaml(&text) {
            Ok(Value::Map(m)) => m,
            Ok(Value::Nil) => Map::new(),
            Ok(other) => {
                return Err(HelmError::Values(format!(
                    "failed to parse {name}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    match other {
                        Value::List(_) => "array",
                        Value::String(_) => "string",
                        Value::Bool(_) => "bool",
                        _ => "number",
                    }
                )));
            }
            Err(e) => {
                return Err(HelmError::Values(format!(
                    "failed to parse {name}: {}",
                    crate::chart::yaml_message(&e.message)
                )));
            }
        };
        base = values::merge_maps(&base, &current);
    }
    for v in &opts.set_json {
        strvals::parse_into(v, &base, Mode::Json)
            .map_err(|_| HelmError::Values(format!("failed parsing --set-json data {v}")))?;
    }
    for v in &opts.set {
        strvals::parse_into(v, &base, Mode::Typed)
            .map_err(|e| HelmError::Values(format!("failed parsing --set data: {e}")))?;
    }
    for v in &opts.set_string {
        strvals::parse_into(v, &base, Mode::String)
            .map_err(|e| HelmError::Values(format!("failed parsing --set-string data: {e}")))?;
    }
    let read = |path: &str| -> Result<Value, String> {
        read_values_file(path)
            .map(|(_, data)| Value::from(String::from_utf8_lossy(&data).as_ref()))
            .map_err(|e| e.to_string())
    };
    for v in &opts.set_file {
        strvals::parse_into_file(v, &base, &read)
            .map_err(|e| HelmError::Values(format!("failed parsing --set-file data: {e}")))?;
    }
    for v in &opts.set_literal {
        strvals::parse_literal_into(v, &base)
            .map_err(|e| HelmError::Values(format!("failed parsing --set-literal data: {e}")))?;
    }
    Ok(base)
}

/// The release name's flags (`--generate-name`, `--name-template`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameOptions {
    pub generate_name: bool,
    pub name_template: String,
}

/// `Install.NameAndChart` as `helm template` calls it: `[NAME] CHART`. `helm template` sets
/// the release name to `release-name` first, so `--generate-name` with only a chart gives
/// `release-name` (as Helm does); `--name-template` renders the name (Sprig functions, no
/// data; `rand*` draws from `seed`, `now` reads `now`).
pub fn name_and_chart(
    args: &[String],
    names: &NameOptions,
    seed: u64,
    now: Timestamp,
) -> Result<(String, String), HelmError> {
    match args {
        [] => Err(HelmError::Usage(
            "\"helm template\" requires at least 1 argument".into(),
        )),
        [name, chart] => {
            if names.generate_name {
                return Err(HelmError::Usage(
                    "cannot set --generate-name and also specify a name".into(),
                ));
            }
            if !names.name_template.is_empty() {
                return Err(HelmError::Usage(
                    "cannot set --name-template and also specify a name".into(),
                ));
            }
            Ok((name.clone(), chart.clone()))
        }
        [chart] if !names.name_template.is_empty() => Ok((
            template_name(&names.name_template, seed, now)?,
            chart.clone(),
        )),
        [chart] => Ok(("release-name".into(), chart.clone())),
        [_, _, rest @ ..] => Err(HelmError::Usage(format!(
            "expected at most two arguments, unexpected arguments: {}",
            rest.join(", ")
        ))),
    }
}

/// `action.TemplateName`: `--name-template` executed with Sprig's functions and no data.
pub fn template_name(text: &str, seed: u64, now: Timestamp) -> Result<String, HelmError> {
    let mut t = gotemplate::Template::new(Arc::new(gotemplate::FuncMap::sprig()));
    t.parse("name-template", text)
        .map_err(|e| HelmError::Usage(e.to_string()))?;
    let options = gotemplate::ExecOptions {
        seed,
        now,
        ..gotemplate::ExecOptions::default()
    };
    t.execute("name-template", &Value::Nil, &options)
        .map_err(|e| HelmError::Usage(e.to_string()))
}

/// `chartutil.ValidateReleaseName`, with `availableName`'s wording.
pub fn validate_release_name(name: &str) -> Result<(), HelmError> {
    fn label(s: &str) -> bool {
        let b = s.as_bytes();
        let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty() && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-')
    }
    let why = if name.is_empty() {
        "no name provided".to_owned()
    } else if name.len() > 53 || !name.split('.').all(label) {
        "invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53".to_owned()
    } else {
        return Ok(());
    };
    Err(HelmError::Usage(format!("release name {name:?}: {why}")))
}

/// Label names Helm keeps for its own release records (`driver.GetSystemLabels`).
pub const SYSTEM_LABELS: [&str; 6] = [
    "name",
    "owner",
    "status",
    "version",
    "createdAt",
    "modifiedAt",
];

/// `helm template` that failed: the error, and, when the failure came after Helm had made a
/// release (rendering, sorting, post-rendering), the manifest text `--debug` prints anyway
/// (empty unless the rendered YAML did not parse: then every rendered file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub error: HelmError,
    pub manifest: Option<String>,
    /// Warnings printed before the failure (a deprecated chart).
    pub warnings: Vec<String>,
}

impl From<HelmError> for Failed {
    fn from(error: HelmError) -> Failed {
        Failed {
            error,
            manifest: None,
            warnings: Vec::new(),
        }
    }
}

/// Reads `-f` files (`-` is standard input) for [`ValueOptions::values_files`].
pub fn read_values_file(name: &str) -> Result<(String, Vec<u8>), HelmError> {
    if name.trim() == "-" {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)
            .map_err(|e| HelmError::Io(format!("read -: {e}")))?;
        return Ok((name.to_string(), data));
    }
    if name.contains("://") {
        return Err(HelmError::Remote(format!(
            "cannot read values from {name}: fetching remote values files is unavailable here (no network access)"
        )));
    }
    match std::fs::read(name) {
        Ok(d) => Ok((name.to_string(), d)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HelmError::Io(format!(
            "open {name}: no such file or directory"
        ))),
        Err(e) => Err(HelmError::Io(format!("open {name}: {e}"))),
    }
}

/// `ChartPathOptions.LocateChart` for local charts: a folder or an archive. Charts from a
/// repository (`--repo`), an OCI registry or a URL are fetched first by
/// [`crate::fetch::ChartFetcher`]; a `repo/chart` name needs Helm's repository list, which
/// Flotilla does not keep.
pub fn locate_chart(name: &str) -> Result<&Path, HelmError> {
    let name = name.trim();
    let path = Path::new(name);
    if path.exists() {
        return Ok(path);
    }
    if path.is_absolute() || name.starts_with('.') {
        return Err(HelmError::Io(format!("path {name:?} not found")));
    }
    if !name.contains('/') {
        return Err(HelmError::Chart(format!(
            "non-absolute URLs should be in form of repo_name/path_to_chart, got: {name}"
        )));
    }
    Err(HelmError::Usage(format!(
        "chart {name:?} is not a local folder or archive, and repository names (helm repo add) are not kept here: give the repository's URL with --repo URL and the chart's name, or an oci:// reference"
    )))
}

/// Loads a chart and checks that `helm template` can install it.
pub fn load_installable(path: &Path) -> Result<Chart, HelmError> {
    let chart = crate::loader::load(path)?;
    match chart.metadata.chart_type.as_str() {
        "" | "application" => {}
        other => {
            return Err(HelmError::Chart(format!(
                "{other} charts are not installable"
            )));
        }
    }
    dependencies::check_dependencies(&chart)?;
    Ok(chart)
}

/// `--kube-version` as `chartutil.ParseKubeVersion` reads it; empty means unset.
pub fn parse_kube_version(opts: &TemplateOptions) -> Result<Option<KubeVersion>, HelmError> {
    match opts.kube_version.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => KubeVersion::parse(v)
            .map(Some)
            .map_err(|e| HelmError::Usage(format!("invalid kube version '{v}': {e}"))),
    }
}

/// `action.Install.Run` for `helm template`: the release's manifest text and hooks.
pub fn render_release(
    chart: &Chart,
    user_values: &Map,
    opts: &TemplateOptions,
) -> Result<Release, HelmError> {
    render_release_debug(chart, user_values, opts).map_err(|f| f.error)
}

/// As [`render_release`], keeping what `--debug` prints of a release that failed.
pub fn render_release_debug(
    chart: &Chart,
    user_values: &Map,
    opts: &TemplateOptions,
) -> Result<Release, Failed> {
    let kube_version = parse_kube_version(opts)?;
    let mut chart = chart.clone();
    dependencies::process_dependencies(&mut chart, user_values)?;
    let caps = Capabilities::for_template(kube_version, &opts.api_versions);

    // chartutil.ToRenderValuesWithSchemaValidation
    let top = Map::new();
    top.insert(
        "Chart",
        Value::Object(Arc::new(ChartObject {
            metadata: chart.metadata.clone(),
            is_root: true,
        })),
    );
    top.insert("Capabilities", Value::Object(Arc::new(caps.clone())));
    let release = Map::new();
    release.insert("Name", Value::from(opts.release_name.as_str()));
    release.insert("Namespace", Value::from(opts.namespace.as_str()));
    release.insert("IsUpgrade", Value::Bool(opts.is_upgrade));
    release.insert("IsInstall", Value::Bool(!opts.is_upgrade));
    release.insert("Revision", Value::Int(1));
    release.insert("Service", Value::from("Helm"));
    top.insert("Release", Value::Map(release));
    let vals = values::coalesce_values(&chart, user_values)?;
    if !opts.skip_schema_validation {
        schema::validate_against_schema(&chart, &vals).map_err(|e| {
            HelmError::Schema(format!(
                "values don't meet the specifications of the schema(s) in the following chart(s):\n{e}"
            ))
        })?;
    }
    top.insert("Values", Value::Map(vals));
    if opts
        .labels
        .keys()
        .any(|k| SYSTEM_LABELS.contains(&k.as_str()))
    {
        return Err(HelmError::Usage(format!(
            "user supplied labels contains system reserved label name. System labels: [{}]",
            SYSTEM_LABELS.join(" ")
        ))
        .into());
    }
    // From here on Helm has a release: a failure keeps its (partial) manifest.
    let failed = |error: HelmError, manifest: String| Failed {
        error,
        manifest: Some(manifest),
        warnings: Vec::new(),
    };

    // action.Configuration.renderResources
    let kv = &chart.metadata.kube_version;
    if !kv.is_empty() && !is_compatible_range(kv, &caps.kube_version.version) {
        return Err(failed(
            HelmError::Render(format!(
                "chart requires kubeVersion: {kv} which is incompatible with Kubernetes {}",
                caps.kube_version.version
            )),
            String::new(),
        ));
    }
    let engine_options = EngineOptions {
        seed: opts.seed,
        now: opts.now,
        ..EngineOptions::default()
    };
    let mut files =
        engine::render(&chart, &top, &engine_options).map_err(|e| failed(e, String::new()))?;
    files.retain(|k, _| !k.ends_with("NOTES.txt"));
    let (hooks, manifests) = match manifest::sort_manifests(&files) {
        Ok(sorted) => sorted,
        Err(e) => {
            // Every rendered file, for the user to see what did not parse (Helm prints them
            // in Go's random map order; here in path order).
            let mut blob = String::new();
            for (name, content) in &files {
                if !content.trim().is_empty() {
                    blob.push_str(&format!("---\n# Source: {name}\n{content}\n"));
                }
            }
            return Err(failed(e, blob));
        }
    };

    let mut rel = Release {
        hooks,
        ..Release::default()
    };
    let mut written: BTreeMap<String, ()> = BTreeMap::new();
    let out_dir = output_dir(opts);
    let mut emit = |rel: &mut Release, name: &str, content: &str| match &out_dir {
        None => {
            rel.manifest
                .push_str(&format!("---\n# Source: {name}\n{content}\n"));
        }
        Some(dir) => {
            let mode = if written.contains_key(name) {
                WriteMode::Append
            } else {
                WriteMode::Create
            };
            written.insert(name.to_string(), ());
            rel.writes.push(FileWrite {
                path: format!("{dir}/{name}"),
                content: format!("---\n# Source: {name}\n{content}\n"),
                mode,
            });
        }
    };
    if opts.include_crds {
        for (filename, file) in chart.crd_objects(chart.name()) {
            emit(&mut rel, &filename, &String::from_utf8_lossy(&file.data));
        }
    }
    for m in &manifests {
        emit(&mut rel, &m.name, &m.content);
    }
    if let Some(pr) = &opts.post_renderer {
        rel.manifest = pr
            .run(&rel.manifest)
            .map_err(|e| failed(e, String::new()))?;
    }
    Ok(rel)
}

/// The folder files go to: `--output-dir`, joined with the release name on request.
fn output_dir(opts: &TemplateOptions) -> Option<String> {
    let dir = opts.output_dir.as_ref()?;
    if opts.use_release_name {
        Some(crate::gostr::path_clean(&format!(
            "{dir}/{}",
            opts.release_name
        )))
    } else {
        Some(dir.clone())
    }
}

/// Go's `# Source: [^/]+/(.+)`: the template path after the chart name.
fn source_path(doc: &str) -> Option<&str> {
    let mut search = doc;
    while let Some(i) = search.find("# Source: ") {
        let rest = &search[i + "# Source: ".len()..];
        let line = rest.split('\n').next().unwrap_or("");
        if let Some(slash) = line.find('/')
            && slash > 0
            && slash + 1 < line.len()
        {
            return Some(&line[slash + 1..]);
        }
        search = rest;
    }
    None
}

/// What `helm template` prints for a rendered release (`cmd/helm/template.go`): manifests,
/// then hooks (tests skipped on request), or only the `--show-only` templates.
pub fn template_output(rel: &Release, opts: &TemplateOptions) -> Result<TemplateOutput, HelmError> {
    let mut out = TemplateOutput {
        writes: rel.writes.clone(),
        ..TemplateOutput::default()
    };
    let mut manifests = format!("{}\n", rel.manifest.trim());
    for h in &rel.hooks {
        if opts.skip_tests && h.is_test() {
            continue;
        }
        if opts.no_hooks {
            break;
        }
        match &output_dir(opts) {
            None => manifests.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.manifest)),
            Some(dir) => out.writes.push(FileWrite {
                path: format!("{dir}/{}", h.path),
                content: format!("---\n# Source: {}\n{}\n", h.path, h.manifest),
                mode: WriteMode::AppendIfExists,
            }),
        }
    }
    for w in &out.writes {
        out.stdout.push_str(&format!("wrote {}\n", w.path));
    }
    if opts.show_only.is_empty() {
        out.stdout.push_str(&manifests);
        return Ok(out);
    }
    let docs = manifest::split_manifests(&manifests);
    let mut selected = Vec::new();
    for f in &opts.show_only {
        let f = f.replace('\\', "/");
        let mut missing = true;
        for doc in &docs {
            let Some(path) = source_path(doc) else {
                continue;
            };
            if !path_match(&f, path).unwrap_or(false) {
                continue;
            }
            selected.push(doc.as_str());
            missing = false;
        }
        if missing {
            return Err(HelmError::Usage(format!(
                "could not find template {f} in chart"
            )));
        }
    }
    for m in selected {
        out.stdout.push_str(&format!("---\n{m}\n"));
    }
    Ok(out)
}

/// Renders a loaded chart with merged user values into `helm template`'s output.
pub fn template(
    chart: &Chart,
    user_values: &Map,
    opts: &TemplateOptions,
) -> Result<TemplateOutput, HelmError> {
    template_debug(chart, user_values, opts).map_err(|f| f.error)
}

/// As [`template`], keeping what `--debug` prints when it fails ([`Failed`]).
pub fn template_debug(
    chart: &Chart,
    user_values: &Map,
    opts: &TemplateOptions,
) -> Result<TemplateOutput, Failed> {
    let mut warnings = Vec::new();
    if chart.metadata.deprecated {
        warnings.push("This chart is deprecated".to_owned());
    }
    let with_warnings = |mut f: Failed| {
        f.warnings.clone_from(&warnings);
        f
    };
    let rel = render_release_debug(chart, user_values, opts).map_err(with_warnings)?;
    let mut out = template_output(&rel, opts).map_err(|e| with_warnings(e.into()))?;
    out.warnings = warnings;
    Ok(out)
}

/// `helm template RELEASE CHART` from a chart path and value options.
pub fn run(
    chart_ref: &str,
    values: &ValueOptions,
    opts: &TemplateOptions,
) -> Result<TemplateOutput, HelmError> {
    run_debug(chart_ref, values, opts).map_err(|f| f.error)
}

/// As [`run`], keeping what `--debug` prints when it fails ([`Failed`]); also checks the
/// release name as Helm does.
pub fn run_debug(
    chart_ref: &str,
    values: &ValueOptions,
    opts: &TemplateOptions,
) -> Result<TemplateOutput, Failed> {
    parse_kube_version(opts)?;
    let path = locate_chart(chart_ref)?;
    let user_values = merge_user_values(values)?;
    let chart = load_installable(path)?;
    validate_release_name(&opts.release_name)?;
    template_debug(&chart, &user_values, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_paths_drop_the_chart_name() {
        assert_eq!(
            source_path("# Source: demo/templates/svc.yaml\nkind: Service"),
            Some("templates/svc.yaml")
        );
        assert_eq!(
            source_path("# Source: top/charts/sub/templates/a.yaml"),
            Some("charts/sub/templates/a.yaml")
        );
        assert_eq!(source_path("kind: Service"), None);
    }

    #[test]
    fn hooks_follow_manifests_and_tests_can_be_skipped() {
        let hook = |path: &str, event: &str| Hook {
            name: "h".into(),
            kind: "Pod".into(),
            path: path.into(),
            manifest: format!("kind: Pod # {event}"),
            events: vec![event.into()],
            weight: 0,
            delete_policies: vec![],
        };
        let rel = Release {
            manifest: "---\n# Source: c/templates/a.yaml\na: 1\n".into(),
            hooks: vec![
                hook("c/templates/job.yaml", "pre-install"),
                hook("c/templates/t.yaml", "test"),
            ],
            writes: vec![],
        };
        let opts = TemplateOptions {
            skip_tests: true,
            ..TemplateOptions::default()
        };
        let out = template_output(&rel, &opts).unwrap();
        assert_eq!(
            out.stdout,
            "---\n# Source: c/templates/a.yaml\na: 1\n---\n# Source: c/templates/job.yaml\nkind: Pod # pre-install\n"
        );
        let only = TemplateOptions {
            show_only: vec!["templates/t.yaml".into()],
            ..TemplateOptions::default()
        };
        assert_eq!(
            template_output(&rel, &only).unwrap().stdout,
            "---\n# Source: c/templates/t.yaml\nkind: Pod # test\n"
        );
        let missing = TemplateOptions {
            show_only: vec!["templates/nope.yaml".into()],
            ..TemplateOptions::default()
        };
        assert_eq!(
            template_output(&rel, &missing).unwrap_err().to_string(),
            "could not find template templates/nope.yaml in chart"
        );
    }

    #[test]
    fn user_values_merge_in_helm_order() {
        let opts = ValueOptions {
            values_files: vec![
                ("a.yaml".into(), b"x: {y: 1, z: 2}".to_vec()),
                ("b.yaml".into(), b"x: {y: 3}".to_vec()),
            ],
            set: vec!["x.z=5".into()],
            set_string: vec!["x.w=6".into()],
            set_json: vec!["x.z=4".into()],
            ..ValueOptions::default()
        };
        // Without the YAML reader this only checks the flags (files need it).
        let _ = merge_user_values(&opts);
        let flags_only = ValueOptions {
            set: vec!["x.z=5".into()],
            set_string: vec!["x.w=6".into()],
            set_json: vec!["x.z=4".into(), "x.v=[1]".into()],
            ..ValueOptions::default()
        };
        let m = merge_user_values(&flags_only).unwrap();
        assert_eq!(
            crate::json::canonical(&Value::Map(m)),
            r#"{"x":{"v":[1f],"w":"6","z":5}}"#
        );
    }

    #[test]
    fn release_names_come_from_the_arguments_or_the_name_template() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let now = Timestamp {
            unix_seconds: 0,
            nanos: 0,
        };
        let plain = NameOptions::default();
        let run = |a: &[&str], n: &NameOptions| {
            name_and_chart(&args(a), n, 1, now).map_err(|e| e.to_string())
        };
        assert_eq!(run(&["web", "c"], &plain), Ok(("web".into(), "c".into())));
        assert_eq!(run(&["c"], &plain), Ok(("release-name".into(), "c".into())));
        let generate = NameOptions {
            generate_name: true,
            ..NameOptions::default()
        };
        // `helm template` names the release before `NameAndChart` looks at `--generate-name`.
        assert_eq!(
            run(&["c"], &generate),
            Ok(("release-name".into(), "c".into()))
        );
        assert_eq!(
            run(&["web", "c"], &generate),
            Err("cannot set --generate-name and also specify a name".into())
        );
        let template = NameOptions {
            name_template: r#"{{ "Web" | lower }}-{{ add 1 2 }}"#.into(),
            ..NameOptions::default()
        };
        assert_eq!(run(&["c"], &template), Ok(("web-3".into(), "c".into())));
        assert_eq!(
            run(&["web", "c"], &template),
            Err("cannot set --name-template and also specify a name".into())
        );
        assert_eq!(
            run(&["a", "b", "c", "d"], &plain),
            Err("expected at most two arguments, unexpected arguments: c, d".into())
        );
        let random = NameOptions {
            name_template: "{{ randAlpha 6 | lower }}".into(),
            ..NameOptions::default()
        };
        let (name, _) = run(&["c"], &random).unwrap();
        assert_eq!(name.len(), 6);
        assert_eq!(run(&["c"], &random).unwrap().0, name, "seeded");
    }

    #[test]
    fn release_names_follow_helms_rule() {
        for ok in ["a", "web", "web-1", "a.b-c.d9", &"x".repeat(53)] {
            assert_eq!(validate_release_name(ok), Ok(()), "{ok}");
        }
        for bad in ["Web", "-a", "a-", "a..b", "a_b", &"x".repeat(54)] {
            let e = validate_release_name(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!(
                    "release name {bad:?}: invalid release name, must match regex ^[a-z0-9]"
                )),
                "{e}"
            );
        }
        assert_eq!(
            validate_release_name("").unwrap_err().to_string(),
            "release name \"\": no name provided"
        );
    }
}
