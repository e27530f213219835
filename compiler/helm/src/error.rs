//! The errors of loading, valuing and rendering a chart, worded as Helm words them.

/// Why `helm template` failed. `Display` is Helm's message (what follows `Error: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelmError {
    /// A file or folder that cannot be read.
    #[error("{0}")]
    Io(String),
    /// A chart that does not load (archive, `Chart.yaml`, `values.yaml`, subcharts).
    #[error("{0}")]
    Load(String),
    /// `chart.ValidationError`.
    #[error("validation: {0}")]
    Validation(String),
    /// A chart that cannot be installed (library charts, missing dependencies).
    #[error("{0}")]
    Chart(String),
    /// Values from `-f`, `--set`, `--set-string`, `--set-json` that do not parse, or that do
    /// not coalesce.
    #[error("{0}")]
    Values(String),
    /// Values rejected by a `values.schema.json`.
    #[error("{0}")]
    Schema(String),
    /// A failure while rendering other than a template's: a Kubernetes version the chart does
    /// not support, rendered YAML that does not parse. Helm prints these (and template
    /// errors) with a hint about `--debug`.
    #[error("{0}")]
    Render(String),
    /// A chart template that does not parse. `message` is Helm's wording
    /// (`parse error at (NAME:LINE): …`); the parser's error, with the template's name and
    /// line, is the source.
    #[error("{message}")]
    TemplateParse {
        message: String,
        #[source]
        source: Box<gotemplate::ParseError>,
    },
    /// A chart template that fails while executing. `message` is Helm's wording (`execution
    /// error at (NAME:LINE:COL): …` for `fail` and `required`, Go's text otherwise); the
    /// engine's error, with the template's name, line, column and failing action, is the
    /// source.
    #[error("{message}")]
    TemplateExec {
        message: String,
        #[source]
        source: Box<gotemplate::ExecError>,
    },
    /// A chart reference that needs a repository or registry, unreachable here.
    #[error("{0}")]
    Remote(String),
    /// A `--show-only` template that the chart does not have, or other command misuse.
    #[error("{0}")]
    Usage(String),
}

impl HelmError {
    /// What `helm template` prints on standard error for this failure, newline included.
    pub fn helm_output(&self) -> String {
        match self {
            HelmError::Render(m)
            | HelmError::TemplateParse { message: m, .. }
            | HelmError::TemplateExec { message: m, .. } => {
                format!("Error: {m}\n\nUse --debug flag to render out invalid YAML\n")
            }
            other => format!("Error: {other}\n"),
        }
    }
}
