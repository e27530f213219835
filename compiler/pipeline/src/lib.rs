//! One pipeline for every command that compiles a fleet (`flotilla plan`, `check`, `review`,
//! `watch`, `dev compile`; the controller next): [`run`] takes a fleet folder and an
//! [`Environment`] (secret source, persistent cache, plugin host), reads the fleet's policies
//! and resolves who deploys, reads the fleet and fetches the repository charts it names,
//! compiles it, checks the plan against the policies, and returns an [`Outcome`]: the plan
//! (with its warnings), the manifests, the spans of secrets in them, every diagnostic and
//! finding already masked with the compile's redactor, the refusal when the policies refuse
//! the plan, and whether it may be written.
//!
//! What is not a problem in what users wrote is a [`PipelineError`] (a fleet that cannot be
//! read, a chart that cannot be fetched, a bad secret source or principal), with its
//! [`ErrorKind`] for the exit code. Nothing here prints: callers render the outcome.

mod config;
mod environment;
mod error;
mod fleet;
mod run;
mod timing;

pub use crate::config::{CacheMode, PrincipalSpec, SecretsChoice};
pub use crate::environment::{Environment, Notice};
pub use crate::error::{ErrorKind, PipelineError};
pub use crate::fleet::{fetch_charts, policy_files, read_fleet};
pub use crate::run::{Outcome, Policies, Refusal, Request, Status, run, run_files};
pub use crate::timing::{PolicyTiming, time_policies};
