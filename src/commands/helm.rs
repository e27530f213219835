//! `flotilla helm template [NAME] [CHART] [flags]`: render a chart as `helm template` does,
//! with every flag of Helm 3.17's `helm template`.

use std::io::Write as _;
use std::process::ExitCode;

use helm::HelmError;
use helm::action::{self, FileWrite, NameOptions, TemplateOptions, ValueOptions, WriteMode};
use helm::fetch::{ChartFetcher, ChartSource, FetchError};
use helm::postrender::PostRenderer;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: HelmCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HelmCommand {
    /// Locally render a chart's templates, byte for byte as `helm template` (Helm 3.17).
    #[command(override_usage = "flotilla helm template [NAME] [CHART] [flags]")]
    Template(Box<TemplateArgs>),
}

/// `helm template`'s flags (Helm 3.17.3, global flags included), every one accepted. Those
/// that need a Kubernetes cluster, the network or a signing keyring are refused with a message
/// naming the flag (exit 2); those Helm itself ignores when templating are accepted and
/// ignored; README.md lists both.
#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    /// The release name (default `release-name`); alone, the argument is the chart.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// A chart: a folder, a `.tgz`, a `.tgz` URL, an `oci://registry/path/chart` reference, or
    /// a chart name with `--repo`.
    #[arg(value_name = "CHART")]
    pub chart: Option<String>,
    /// Arguments after CHART (refused, as Helm refuses them).
    #[arg(hide = true)]
    pub extra: Vec<String>,
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
    /// Values from files: `key=path` (each value the file's contents; `-` is standard input).
    #[arg(long = "set-file")]
    pub set_file: Vec<String>,
    /// A literal string value: `key=value`, the whole value verbatim (commas included).
    #[arg(long = "set-literal")]
    pub set_literal: Vec<String>,
    /// Kubernetes version for `.Capabilities.KubeVersion`.
    #[arg(long = "kube-version")]
    pub kube_version: Option<String>,
    /// Extra API versions for `.Capabilities.APIVersions`.
    #[arg(short = 'a', long = "api-versions", value_delimiter = ',')]
    pub api_versions: Vec<String>,
    /// Include the chart's CRDs in the output.
    #[arg(long = "include-crds")]
    pub include_crds: bool,
    /// Do not install CRDs (`helm template` installs nothing: no effect, as in Helm).
    #[arg(long = "skip-crds")]
    pub skip_crds: bool,
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
    /// Generate the release name (omit NAME); `helm template` names it `release-name`.
    #[arg(short = 'g', long = "generate-name")]
    pub generate_name: bool,
    /// A Go template (Sprig functions) the release name is rendered from.
    #[arg(long = "name-template")]
    pub name_template: Option<String>,
    /// Labels of the release's record, `k=v,k2=v2` (none is printed; Helm's own label names
    /// are refused).
    #[arg(short = 'l', long = "labels")]
    pub labels: Vec<String>,
    /// A program the manifests are piped through (looked up in $PATH, or a path).
    #[arg(long = "post-renderer", value_name = "PROGRAM")]
    pub post_renderer: Option<String>,
    /// An argument of the post-renderer (repeatable).
    #[arg(
        long = "post-renderer-args",
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    pub post_renderer_args: Vec<String>,
    /// Print debug lines, and the manifests even when they do not parse.
    #[arg(long)]
    pub debug: bool,
    /// Use dependencies that are missing from `charts/` after fetching them (refused when a
    /// dependency is missing: that needs the network).
    #[arg(long = "dependency-update")]
    pub dependency_update: bool,

    /// The chart repository's URL: CHART is then a chart name of its `index.yaml`.
    #[arg(long, help_heading = "Chart repository")]
    pub repo: Option<String>,
    /// The chart version (repository or OCI): exact, or a semver constraint such as `^1.2`;
    /// the latest stable version when omitted.
    #[arg(long, default_value = "", help_heading = "Chart repository")]
    pub version: String,
    /// Let an unspecified version pick prereleases too (`>0.0.0-0`).
    #[arg(long, help_heading = "Chart repository")]
    pub devel: bool,
    /// Talk to the OCI registry over http:// instead of https://.
    #[arg(long = "plain-http", help_heading = "Chart repository")]
    pub plain_http: bool,
    /// Verify the chart's provenance file (not supported: refused).
    #[arg(long, help_heading = "Chart repository")]
    pub verify: bool,
    /// Public keys for `--verify`.
    #[arg(long, value_name = "FILE", help_heading = "Chart repository")]
    pub keyring: Option<String>,
    /// Repository user name (refused for a chart that must be fetched).
    #[arg(long, help_heading = "Chart repository")]
    pub username: Option<String>,
    /// Repository password (refused for a chart that must be fetched).
    #[arg(long, help_heading = "Chart repository")]
    pub password: Option<String>,
    /// Pass credentials to all domains (refused for a chart that must be fetched).
    #[arg(long = "pass-credentials", help_heading = "Chart repository")]
    pub pass_credentials: bool,
    /// CA bundle for HTTPS servers (refused for a chart that must be fetched).
    #[arg(
        long = "ca-file",
        value_name = "FILE",
        help_heading = "Chart repository"
    )]
    pub ca_file: Option<String>,
    /// Client certificate (refused for a chart that must be fetched).
    #[arg(
        long = "cert-file",
        value_name = "FILE",
        help_heading = "Chart repository"
    )]
    pub cert_file: Option<String>,
    /// Client key (refused for a chart that must be fetched).
    #[arg(
        long = "key-file",
        value_name = "FILE",
        help_heading = "Chart repository"
    )]
    pub key_file: Option<String>,
    /// Skip TLS certificate checks (refused for a chart that must be fetched).
    #[arg(long = "insecure-skip-tls-verify", help_heading = "Chart repository")]
    pub insecure_skip_tls_verify: bool,
    /// Helm's OCI registry credentials file (refused for a chart that must be fetched).
    #[arg(
        long = "registry-config",
        value_name = "FILE",
        help_heading = "Chart repository"
    )]
    pub registry_config: Option<String>,
    /// Helm's repository list (`helm repo add`), not read: give `--repo URL`.
    #[arg(
        long = "repository-config",
        value_name = "FILE",
        help_heading = "Chart repository"
    )]
    pub repository_config: Option<String>,
    /// Helm's index cache, not used: charts are cached in Flotilla's chart cache.
    #[arg(
        long = "repository-cache",
        value_name = "DIR",
        help_heading = "Chart repository"
    )]
    pub repository_cache: Option<String>,

    /// Check the manifests against a Kubernetes cluster (refused: needs a cluster).
    #[arg(
        long,
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub validate: bool,
    /// `client` (the default) or `true`; `server`, `none` and `false` need a cluster (refused).
    #[arg(
        long = "dry-run",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "client",
        value_name = "MODE",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub dry_run: Option<String>,
    /// DNS lookups in templates (refused: needs the network).
    #[arg(
        long = "enable-dns",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub enable_dns: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub atomic: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "create-namespace",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub create_namespace: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub description: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "disable-openapi-validation",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub disable_openapi_validation: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub force: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "hide-notes",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub hide_notes: bool,
    /// Ignored, as `helm template` ignores it (notes are not printed).
    #[arg(
        long = "render-subchart-notes",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub render_subchart_notes: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub replace: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "take-ownership",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub take_ownership: bool,
    /// Ignored, as `helm template` ignores it (a Go duration such as `5m0s`).
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub timeout: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub wait: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "wait-for-jobs",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub wait_for_jobs: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "burst-limit",
        value_name = "N",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub burst_limit: Option<i64>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        value_name = "N",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub qps: Option<f32>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-apiserver",
        value_name = "URL",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_apiserver: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-as-group",
        value_name = "GROUP",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_as_group: Vec<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-as-user",
        value_name = "USER",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_as_user: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-ca-file",
        value_name = "FILE",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_ca_file: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-context",
        value_name = "NAME",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_context: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-insecure-skip-tls-verify",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_insecure_skip_tls_verify: bool,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-tls-server-name",
        value_name = "NAME",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_tls_server_name: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long = "kube-token",
        value_name = "TOKEN",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kube_token: Option<String>,
    /// Ignored, as `helm template` ignores it.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Cluster (refused, or ignored as helm template ignores them)"
    )]
    pub kubeconfig: Option<String>,
}

impl TemplateArgs {
    /// The first flag given that needs a cluster, the network or a keyring, with why.
    fn refused(&self) -> Option<(&'static str, &'static str)> {
        const CLUSTER: &str = "flotilla helm template never talks to a Kubernetes cluster";
        if self.validate {
            return Some(("--validate", CLUSTER));
        }
        if let Some(mode) = &self.dry_run
            && matches!(mode.as_str(), "server" | "none" | "false")
        {
            return Some((
                "--dry-run",
                "with `server`, `none` or `false`, Helm lets `lookup` query the cluster, and flotilla helm template never talks to a Kubernetes cluster (use --dry-run=client, the default)",
            ));
        }
        if self.enable_dns {
            return Some((
                "--enable-dns",
                "`getHostByName` would resolve names over the network; rendering here never touches the network (it returns \"\", as helm template does without the flag)",
            ));
        }
        if self.verify {
            return Some((
                "--verify",
                "chart provenance files (.prov) and GnuPG keyrings are not checked here",
            ));
        }
        None
    }

    /// The repository TLS and credential flags given: the fetcher cannot apply them.
    fn repository_auth(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        let mut flag = |on: bool, name: &'static str| {
            if on {
                given.push(name);
            }
        };
        flag(self.username.is_some(), "--username");
        flag(self.password.is_some(), "--password");
        flag(self.pass_credentials, "--pass-credentials");
        flag(self.ca_file.is_some(), "--ca-file");
        flag(self.cert_file.is_some(), "--cert-file");
        flag(self.key_file.is_some(), "--key-file");
        flag(self.insecure_skip_tls_verify, "--insecure-skip-tls-verify");
        flag(self.registry_config.is_some(), "--registry-config");
        given
    }
}

/// pflag's `stringToString` for `--labels`: `k=v` (the whole value, commas included, when it
/// has one `=`), or a comma-separated list of `k=v`; later flags add to earlier ones.
fn parse_labels(
    values: &[String],
) -> Result<std::collections::BTreeMap<String, String>, (String, String)> {
    let mut out = std::collections::BTreeMap::new();
    for val in values {
        let pairs: Vec<String> = match val.matches('=').count() {
            0 => return Err((val.clone(), format!("{val} must be formatted as key=value"))),
            1 => vec![val.trim_matches('"').to_owned()],
            _ => val.split(',').map(str::to_owned).collect(),
        };
        for pair in pairs {
            match pair.split_once('=') {
                Some((k, v)) => {
                    out.insert(k.to_owned(), v.to_owned());
                }
                None => {
                    return Err((
                        val.clone(),
                        format!("{pair} must be formatted as key=value"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Go's `time.ParseDuration`, for `--timeout`: the error after `time: `, or nothing.
fn check_duration(s: &str) -> Result<(), String> {
    let invalid = || format!("invalid duration {s:?}");
    let rest = s.strip_prefix(['-', '+']).unwrap_or(s);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut rest = rest;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(format!("missing unit in duration {s:?}"));
        }
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return Err(format!("unknown unit {unit:?} in duration {s:?}"));
        }
        rest = &rest[unit_len..];
    }
    Ok(())
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

fn usage(msg: &str) -> ExitCode {
    eprintln!("Error: {msg}");
    ExitCode::from(super::exit::USAGE)
}

fn template(args: TemplateArgs) -> ExitCode {
    if let Some(t) = &args.timeout
        && let Err(e) = check_duration(t)
    {
        return usage(&format!(
            "invalid argument {t:?} for \"--timeout\" flag: time: {e}"
        ));
    }
    let labels = match parse_labels(&args.labels) {
        Ok(l) => l,
        Err((val, e)) => {
            return usage(&format!(
                "invalid argument {val:?} for \"-l, --labels\" flag: {e}"
            ));
        }
    };
    let post_renderer = match args.post_renderer.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => match PostRenderer::new(p, args.post_renderer_args.clone()) {
            Ok(pr) => Some(pr),
            Err(e) => {
                return usage(&format!(
                    "invalid argument {p:?} for \"--post-renderer\" flag: {e}"
                ));
            }
        },
    };
    if let Some(mode) = &args.dry_run
        && !matches!(
            mode.as_str(),
            "" | "client" | "true" | "server" | "none" | "false"
        )
    {
        return usage(
            "Invalid dry-run flag. Flag must one of the following: false, true, none, client, server",
        );
    }
    if let Some((flag, why)) = args.refused() {
        return usage(&format!("{flag} is not supported: {why}"));
    }
    let clock = now();
    let seed = clock.unix_seconds as u64 ^ u64::from(clock.nanos);
    let mut positional: Vec<String> = args.name.iter().chain(&args.chart).cloned().collect();
    positional.extend(args.extra.iter().cloned());
    if positional.is_empty() {
        return usage(
            "\"flotilla helm template\" requires at least 1 argument\n\nUsage:  flotilla helm template [NAME] [CHART] [flags]",
        );
    }
    if args.debug {
        eprintln!("[debug] Original chart version: {:?}", args.version);
        if args.version.is_empty() && args.devel {
            eprintln!("[debug] setting version to >0.0.0-0");
        }
    }
    let names = NameOptions {
        generate_name: args.generate_name,
        name_template: args.name_template.clone().unwrap_or_default(),
    };
    let (release, chart) = match action::name_and_chart(&positional, &names, seed, clock) {
        Ok(rc) => rc,
        Err(e) => return fail(&e),
    };
    let chart = match ChartSource::from_args(
        &chart,
        args.repo.as_deref(),
        &args.version,
        args.devel,
    ) {
        None => chart,
        Some(source) => {
            if let Some(flag) = args.repository_auth().first() {
                return usage(&format!(
                    "{flag} is not supported: charts are fetched anonymously here (no credentials, client certificates or custom CAs); download the chart and give its .tgz"
                ));
            }
            match fetch(&source, args.plain_http) {
                Ok(path) => path,
                Err(code) => return code,
            }
        }
    };
    if args.debug {
        let shown =
            std::path::absolute(&chart).map_or_else(|_| chart.clone(), |p| p.display().to_string());
        eprintln!("[debug] CHART PATH: {shown}\n");
    }
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
        labels,
        post_renderer,
        seed,
        now: clock,
    };
    let mut values = ValueOptions {
        set: args.set,
        set_string: args.set_string,
        set_json: args.set_json,
        set_file: args.set_file,
        set_literal: args.set_literal,
        ..ValueOptions::default()
    };
    for f in &args.values {
        match action::read_values_file(f) {
            Ok(v) => values.values_files.push(v),
            Err(e) => return fail(&e),
        }
    }
    match action::run_debug(&chart, &values, &opts) {
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
        Err(failed) => {
            for w in &failed.warnings {
                eprintln!("WARNING: {w}");
            }
            if matches!(&failed.error, HelmError::Chart(m) if m.contains("helm dependency build"))
                && args.dependency_update
            {
                return usage(&format!(
                    "--dependency-update is not supported: fetching a chart's missing dependencies needs the network ({})",
                    failed.error
                ));
            }
            match (&failed.manifest, args.debug) {
                // `--debug` prints the release's manifest even when it does not parse, and the
                // error without the hint to use `--debug`.
                (Some(manifest), true) => {
                    println!("{}", manifest.trim());
                    eprintln!("Error: {}", failed.error);
                    ExitCode::from(exit_code(&failed.error))
                }
                _ => fail(&failed.error),
            }
        }
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

fn exit_code(e: &HelmError) -> u8 {
    match e {
        HelmError::Usage(_) => super::exit::USAGE,
        HelmError::Remote(_) => super::exit::REMOTE,
        _ => super::exit::DIAGNOSTICS,
    }
}

fn fail(e: &HelmError) -> ExitCode {
    eprint!("{}", e.helm_output());
    ExitCode::from(exit_code(e))
}
