//! Integration tests of the template engine: the Helm conformance suite, whose goldens the real
//! helm 3.17.3 rendered (see `tests/conformance/README.md`).

mod chart;
mod conformance;
mod diff;
mod files;
mod helm_errors;
