//! What a fleet's files say, before anything is compiled: the files themselves in memory
//! ([`FleetFiles`]), a YAML reader that keeps byte positions ([`yaml`]), the fields each kind of
//! file may have and one reader that checks them ([`fields`]), diagnostics that point into the
//! files ([`diag`]), and the fleet model the loader builds ([`model`]).
//!
//! Shared by the compiler and the policies, which both read user-written YAML with carets in
//! their diagnostics. Pure: no I/O, no clock, no network.

pub mod diag;
pub mod fields;
pub mod files;
pub mod model;
pub mod yaml;

pub use files::FleetFiles;
