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
    /// A failure while rendering: Kubernetes version, template parse or execution errors,
    /// rendered YAML that does not parse. Helm prints these with a hint about `--debug`.
    #[error("{0}")]
    Render(String),
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
            HelmError::Render(m) => {
                format!("Error: {m}\n\nUse --debug flag to render out invalid YAML\n")
            }
            other => format!("Error: {other}\n"),
        }
    }
}
