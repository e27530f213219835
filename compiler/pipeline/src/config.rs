//! The choices a caller makes before a run: where secrets come from, who deploys, whether the
//! persistent cache is used.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use policies::rbac::DefaultDecision;
use policies::{Policies, Principal};

use crate::PipelineError;

/// The environment variables that name the principal when none is given.
pub(crate) const PRINCIPAL_VAR: &str = "FLOTILLA_PRINCIPAL";
pub(crate) const GROUPS_VAR: &str = "FLOTILLA_GROUPS";

/// Whether the fleet's persistent cache (`<fleet>/.flotilla/cache/`) is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheMode {
    Persistent,
    Off,
}

/// Where `vault`, `vaultYaml` and `valuesFrom` read secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsChoice {
    /// Vault or OpenBao, configured by `VAULT_ADDR`, `VAULT_TOKEN` or
    /// `VAULT_ROLE_ID`/`VAULT_SECRET_ID`, `VAULT_NAMESPACE`, `VAULT_CACERT`.
    Vault,
    /// A folder of `<path>.yaml` files.
    Local(PathBuf),
}

impl SecretsChoice {
    /// `given` is `vault` or `local:DIR`; without it, Vault when `VAULT_ADDR` is set, else
    /// `local:FLEET/secrets`.
    pub fn parse(given: Option<&str>, fleet: &Path) -> Result<SecretsChoice, PipelineError> {
        let vault_addr = std::env::var("VAULT_ADDR").is_ok_and(|v| !v.is_empty());
        match given {
            None if vault_addr => Ok(SecretsChoice::Vault),
            None => Ok(SecretsChoice::Local(fleet.join("secrets"))),
            Some("vault") => Ok(SecretsChoice::Vault),
            Some(other) => match other.strip_prefix("local:") {
                Some(dir) if !dir.is_empty() => Ok(SecretsChoice::Local(PathBuf::from(dir))),
                _ => Err(PipelineError::InvalidSecrets {
                    given: other.to_owned(),
                }),
            },
        }
    }

    /// The source (a Vault source reads its configuration from the environment).
    pub fn open(&self) -> Result<Arc<dyn secrets::SecretSource>, PipelineError> {
        match self {
            SecretsChoice::Vault => match secrets::VaultSource::from_env() {
                Ok(v) => Ok(Arc::new(v)),
                Err(e) => Err(PipelineError::Vault(e)),
            },
            SecretsChoice::Local(dir) => Ok(Arc::new(secrets::LocalSource::new(dir))),
        }
    }
}

/// Who deploys, as given: a subject (`user:NAME` or `group:NAME`) and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalSpec {
    pub subject: Option<String>,
    pub groups: Vec<String>,
}

impl PrincipalSpec {
    /// The subject and groups given (`--as`, `--groups`), else from the environment:
    /// without a subject, `FLOTILLA_PRINCIPAL` with the given groups or else
    /// `FLOTILLA_GROUPS`. The environment's groups never go to a subject given explicitly.
    pub fn or_env(subject: Option<String>, groups: Vec<String>) -> PrincipalSpec {
        if subject.is_some() {
            return PrincipalSpec { subject, groups };
        }
        let Some(subject) = std::env::var(PRINCIPAL_VAR)
            .ok()
            .filter(|s| !s.trim().is_empty())
        else {
            return PrincipalSpec {
                subject: None,
                groups,
            };
        };
        let groups = if groups.is_empty() {
            std::env::var(GROUPS_VAR)
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect()
        } else {
            groups
        };
        PrincipalSpec {
            subject: Some(subject),
            groups,
        }
    }

    /// The principal, when a subject is given.
    pub fn parse(&self) -> Result<Option<Principal>, PipelineError> {
        match &self.subject {
            None => Ok(None),
            Some(s) => Principal::parse(s, &self.groups)
                .map(Some)
                .map_err(PipelineError::InvalidPrincipal),
        }
    }

    /// The principal RBAC checks. Without one, RBAC cannot be checked: that is an error when
    /// the fleet's RBAC policy denies by default (it would deny everything anyway), and
    /// nothing to check otherwise (no policy, or `default: allow`).
    pub(crate) fn resolve(
        &self,
        policies: &Policies,
        files: &compiler::FleetFiles,
    ) -> Result<Option<Principal>, PipelineError> {
        if self.subject.is_none() {
            if !self.groups.is_empty() {
                return Err(PipelineError::GroupsWithoutPrincipal);
            }
            return match &policies.rbac {
                Some(rbac) if rbac.default == DefaultDecision::Deny => {
                    Err(PipelineError::PrincipalRequired {
                        rbac_file: files.display_name(policies::RBAC_FILE),
                    })
                }
                _ => Ok(None),
            };
        }
        self.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_choices() {
        let fleet = Path::new("fleet");
        let parse = |s| SecretsChoice::parse(Some(s), fleet).map_err(|e| e.to_string());
        assert_eq!(parse("vault"), Ok(SecretsChoice::Vault));
        assert_eq!(
            parse("local:x/y"),
            Ok(SecretsChoice::Local(PathBuf::from("x/y")))
        );
        assert_eq!(
            parse("local:"),
            Err("invalid --secrets \"local:\": expected `vault` or `local:DIR`".to_owned())
        );
        assert_eq!(
            parse("aws"),
            Err("invalid --secrets \"aws\": expected `vault` or `local:DIR`".to_owned())
        );
    }

    #[test]
    fn groups_need_a_subject() {
        let spec = PrincipalSpec {
            subject: None,
            groups: vec!["a".into()],
        };
        let err = spec
            .resolve(&Policies::default(), &compiler::FleetFiles::default())
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("--groups names the groups of the principal given with --as (or FLOTILLA_PRINCIPAL), which is missing".to_owned())
        );
        let spec = PrincipalSpec {
            subject: Some("user:ann".into()),
            groups: vec!["a".into()],
        };
        let who = spec
            .resolve(&Policies::default(), &compiler::FleetFiles::default())
            .ok()
            .flatten()
            .map(|p| p.to_string());
        assert_eq!(who.as_deref(), Some("user:ann"));
    }
}
