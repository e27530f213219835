//! What stops the pipeline before there is anything to report as a diagnostic.

/// Why the pipeline could not run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("invalid --secrets {given:?}: expected `vault` or `local:DIR`")]
    InvalidSecrets { given: String },
    /// The Vault source is not configured (VAULT_ADDR, a token or an AppRole).
    #[error("{0}")]
    Vault(#[source] secrets::SecretError),
    #[error(
        "--groups names the groups of the principal given with --as (or {}), which is missing",
        crate::config::PRINCIPAL_VAR
    )]
    GroupsWithoutPrincipal,
    #[error(
        "{rbac_file} denies what no rule allows: say who deploys with `--as user:NAME --groups GROUP,…` (or {} and {})",
        crate::config::PRINCIPAL_VAR,
        crate::config::GROUPS_VAR
    )]
    PrincipalRequired { rbac_file: String },
    #[error("invalid --as or --groups: {0}")]
    InvalidPrincipal(#[source] policies::rbac::SubjectError),
    /// The fleet folder cannot be read, or is not a fleet.
    #[error("{0}")]
    Fleet(#[source] compiler::SourceError),
    /// No chart fetcher (its cache folder cannot be had).
    #[error("{0}")]
    Fetcher(#[source] helm::fetch::FetchError),
    /// A repository chart the services name cannot be fetched or unpacked.
    #[error("{0}")]
    Chart(#[source] Box<compiler::remote::RemoteChartError>),
}

/// What kind of failure an error is, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A mistake in how the command was called or configured (exit 2).
    Usage,
    /// A server could not be reached or refused (exit 3).
    Remote,
    /// Something in the fleet is wrong (exit 1).
    Fleet,
}

impl PipelineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::InvalidSecrets { .. }
            | PipelineError::Vault(_)
            | PipelineError::GroupsWithoutPrincipal
            | PipelineError::PrincipalRequired { .. }
            | PipelineError::InvalidPrincipal(_)
            | PipelineError::Fleet(_) => ErrorKind::Usage,
            PipelineError::Fetcher(_) => ErrorKind::Remote,
            PipelineError::Chart(e) if e.remote => ErrorKind::Remote,
            PipelineError::Chart(_) => ErrorKind::Fleet,
        }
    }

    /// What the user may do about it, when something is known.
    pub fn hint(&self) -> Option<&str> {
        match self {
            PipelineError::Fetcher(e) => e.hint.as_deref(),
            PipelineError::Chart(e) => e.hint.as_deref(),
            _ => None,
        }
    }
}
