//! `flotilla helm template [RELEASE] CHART`: render a chart as `helm template` does.

use std::io::Write as _;
use std::process::ExitCode;

use helm::HelmError;
use helm::action::{self, FileWrite, TemplateOptions, ValueOptions, WriteMode};
use helm::fetch::{ChartFetcher, ChartSource, FetchError};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: HelmCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HelmCommand {
    /// Locally render a chart's templates, byte for byte as `helm template` (Helm 3.17).
    Template(Box<TemplateArgs>),
}

#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// `[NAME] CHART`: the release name (default `release-name`) and a chart: a folder, a
    /// `.tgz`, a `.tgz` URL, an `oci://registry/path/chart` reference, or a chart name with
    /// `--repo`.
    #[arg(required = true, num_args = 1..=2, value_names = ["NAME", "CHART"])]
    pub args: Vec<String>,
    /// Namespace of the release.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Values files, in order (`-` is standard input).
    #[arg(short = 'f', long = "values", value_delimiter = ',')]
    pub values: Vec<String>,
    /// Values on the command line: `a.b=c,d[0]=e`.
    #[arg(long)]
    pub set: Vec<String>,
    /// Values forced to strings.
    #[arg(long = "set-string")]
    pub set_string: Vec<String>,
    /// Values as JSON.
    #[arg(long = "set-json")]
    pub set_json: Vec<String>,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Include the chart's CRDs in the output.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Only show manifests rendered from these templates.
    #[arg(short = 's', long = "show-only")]
    pub show_only: Vec<String>,
    /// Write the manifests to files in this folder instead of standard output.
    #[arg(long = "output-dir")]
    pub output_dir: Option<String>,
    /// Write under `--output-dir/NAME`.
    #[arg(long = "release-name")]
    pub release_name: bool,
    /// Leave hooks out of the output.
    #[arg(long = "no-hooks")]
    pub no_hooks: bool,
    /// Leave out test hooks.
    #[arg(long = "skip-tests")]
    pub skip_tests: bool,
    /// Set `.Release.IsUpgrade` instead of `.Release.IsInstall`.
    #[arg(long = "is-upgrade")]
    pub is_upgrade: bool,
    /// Do not validate values against `values.schema.json`.
    #[arg(long = "skip-schema-validation")]
    pub skip_schema_validation: bool,
    /// The chart repository's URL: CHART is then a chart name of its `index.yaml`.
    #[arg(long)]
    pub repo: Option<String>,
    /// The chart version (repository or OCI): exact, or a semver constraint such as `^1.2`;
    /// the latest stable version when omitted.
    #[arg(long, default_value = "")]
    pub version: String,
    /// Let an unspecified version pick prereleases too (`>0.0.0-0`).
    #[arg(long)]
    pub devel: bool,
    /// Talk to the OCI registry over http:// instead of https://.
    #[arg(long = "plain-http")]
    pub plain_http: bool,
}

pub fn exec(args: Args) -> ExitCode {
    match args.command {
        HelmCommand::Template(t) => template(*t),
    }
}

fn now() -> gotemplate::funcs::Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    gotemplate::funcs::Timestamp {
        unix_seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos(),
    }
}

fn template(args: TemplateArgs) -> ExitCode {
    let (release, chart) = match args.args.as_slice() {
        [chart] => ("release-name".to_string(), chart.clone()),
        [name, chart] => (name.clone(), chart.clone()),
        _ => return fail(&HelmError::Usage("expected [NAME] CHART".into())),
    };
    let chart =
        match ChartSource::from_args(&chart, args.repo.as_deref(), &args.version, args.devel) {
            None => chart,
            Some(source) => match fetch(&source, args.plain_http) {
                Ok(path) => path,
                Err(code) => return code,
            },
        };
    let clock = now();
    let opts = TemplateOptions {
        release_name: release,
        namespace: args.namespace,
        kube_version: args.kube_version,
        api_versions: args.api_versions,
        include_crds: args.include_crds,
        skip_tests: args.skip_tests,
        is_upgrade: args.is_upgrade,
        show_only: args.show_only,
        output_dir: args.output_dir,
        use_release_name: args.release_name,
        no_hooks: args.no_hooks,
        skip_schema_validation: args.skip_schema_validation,
        seed: clock.unix_seconds as u64 ^ u64::from(clock.nanos),
        now: clock,
    };
    let mut values = ValueOptions {
        set: args.set,
        set_string: args.set_string,
        set_json: args.set_json,
        ..ValueOptions::default()
    };
    for f in &args.values {
        match action::read_values_file(f) {
            Ok(v) => values.values_files.push(v),
            Err(e) => return fail(&e),
        }
    }
    match action::run(&chart, &values, &opts) {
        Ok(out) => {
            for w in &out.warnings {
                eprintln!("WARNING: {w}");
            }
            for w in &out.writes {
                if let Err(e) = write_file(w) {
                    return fail(&e);
                }
            }
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(out.stdout.as_bytes()).is_err() {
                return ExitCode::from(super::exit::DIAGNOSTICS);
            }
            ExitCode::from(super::exit::SUCCESS)
        }
        Err(e) => fail(&e),
    }
}

/// Fetches a chart into the chart cache (or finds it there) and returns the archive's path.
fn fetch(source: &ChartSource, plain_http: bool) -> Result<String, ExitCode> {
    let fetched = ChartFetcher::from_env()
        .and_then(|f| f.plain_http(plain_http).fetch(source))
        .map_err(|e| fetch_failed(&e))?;
    if let Some(w) = &fetched.warning {
        eprintln!("WARNING: {w}");
    }
    Ok(fetched.path.to_string_lossy().into_owned())
}

fn fetch_failed(e: &FetchError) -> ExitCode {
    eprintln!("Error: {e}");
    if let Some(hint) = &e.hint {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(if e.is_usage() {
        super::exit::USAGE
    } else {
        super::exit::REMOTE
    })
}

fn write_file(w: &FileWrite) -> Result<(), HelmError> {
    let path = std::path::Path::new(&w.path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| HelmError::Io(format!("{}: {e}", dir.display())))?;
    }
    let append = match w.mode {
        WriteMode::Create => false,
        WriteMode::Append => true,
        WriteMode::AppendIfExists => path.exists(),
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .map_err(|e| HelmError::Io(format!("open {}: {e}", w.path)))?;
    f.write_all(w.content.as_bytes())
        .map_err(|e| HelmError::Io(format!("write {}: {e}", w.path)))
}

fn fail(e: &HelmError) -> ExitCode {
    eprint!("{}", e.helm_output());
    let code = match e {
        HelmError::Usage(_) => super::exit::USAGE,
        HelmError::Remote(_) => super::exit::REMOTE,
        _ => super::exit::DIAGNOSTICS,
    };
    ExitCode::from(code)
}
