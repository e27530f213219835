//! Who deploys, as `flotilla plan`, `flotilla check` and `flotilla dev compile --policies`
//! take it: `--as`/`--groups`, or `FLOTILLA_PRINCIPAL`/`FLOTILLA_GROUPS`. The policies
//! themselves run in `pipeline::run`.

use pipeline::PrincipalSpec;

/// Who deploys, for the fleet's RBAC policy.
#[derive(Debug, Clone, clap::Args)]
pub struct PrincipalArgs {
    /// Who deploys: `user:NAME` or `group:NAME` (default: $FLOTILLA_PRINCIPAL). Required when
    /// the fleet has an RBAC policy (policies/rbac.yaml) that denies by default.
    #[arg(long = "as", value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// The groups the user belongs to, comma-separated (default, with FLOTILLA_PRINCIPAL:
    /// $FLOTILLA_GROUPS).
    #[arg(long, value_delimiter = ',')]
    pub groups: Vec<String>,
}

impl PrincipalArgs {
    /// The subject and groups given, or else the environment's.
    pub fn spec(&self) -> PrincipalSpec {
        PrincipalSpec::or_env(self.subject.clone(), self.groups.clone())
    }
}
