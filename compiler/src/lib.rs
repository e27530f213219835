//! The fleet compiler: from a fleet repository (clusters, service versions, policies) to a
//! deterministic plan.
//!
//! The core is pure: it reads [`FleetFiles`] (file contents in memory) and never fails; every
//! problem in what users wrote becomes a diagnostic, and all of them are reported together.
//! Phases so far: [`load`] (YAML with positions, validation), [`targeting`] (CEL selectors),
//! [`graph`] (dependencies and waves), [`digest`] (content addresses).

pub mod digest;
pub mod graph;
pub mod load;
pub mod model;
pub mod source;
pub mod targeting;
pub mod yaml;

pub mod diag;

use std::collections::{BTreeMap, BTreeSet};

pub use diagnostics;
use diagnostics::{Diagnostic, Report};
use serde::Serialize;

use crate::diag::Diags;
use crate::digest::ServiceDigest;
use crate::model::{ClusterName, Embedded, Fleet, Selection, ServiceName, Waves};
pub use crate::source::{FleetFiles, SourceError};
use crate::targeting::{Explanation, Outcome, Problem};

/// Everything the compiler learned about a fleet. An applicable plan (later) is only made when
/// `diagnostics` has no errors.
#[derive(Debug)]
pub struct Compilation {
    pub fleet: Fleet,
    pub selection: Selection,
    /// Each cluster's services in installation order.
    pub waves: BTreeMap<ClusterName, Waves>,
    pub digests: BTreeMap<ServiceName, ServiceDigest>,
    pub diagnostics: Report,
}

/// Loads, targets and orders the fleet.
pub fn compile(files: &FleetFiles) -> Compilation {
    let mut diags = Diags::new(files);
    let fleet = load::load(files, &mut diags);
    let bounds = targeting::data_bounds(&fleet);

    let mut selectors = Vec::new();
    // Where a service's selection is unknown (its selector failed), per service.
    let mut unknown: BTreeMap<ServiceName, BTreeSet<ClusterName>> = BTreeMap::new();
    for (name, spec) in &fleet.services {
        match targeting::compile(&spec.selector.text, bounds) {
            Ok(s) => selectors.push((name.as_str(), s)),
            Err(problems) => {
                report_selector(&mut diags, &spec.selector, &problems);
                unknown.insert(name.clone(), fleet.clusters.keys().cloned().collect());
            }
        }
    }
    let outcomes = targeting::evaluate_all(selectors.iter().map(|(n, s)| (*n, s)), &fleet);
    let mut selection = Selection {
        clusters: fleet
            .clusters
            .keys()
            .map(|c| (c.clone(), BTreeSet::new()))
            .collect(),
    };
    for (service, per_cluster) in &outcomes {
        let Some((name, spec)) = fleet.services.get_key_value(service.as_str()) else {
            continue;
        };
        // One diagnostic per distinct failure, naming the clusters it happened on.
        let mut failures: BTreeMap<&str, Vec<&ClusterName>> = BTreeMap::new();
        for (cluster, outcome) in per_cluster {
            match outcome {
                Outcome::Selected => {
                    selection
                        .clusters
                        .entry(cluster.clone())
                        .or_default()
                        .insert(name.clone());
                }
                Outcome::NotSelected => {}
                Outcome::Error(e) => {
                    failures.entry(e).or_default().push(cluster);
                    unknown
                        .entry(name.clone())
                        .or_default()
                        .insert(cluster.clone());
                }
            }
        }
        for (error, clusters) in failures {
            let names: Vec<String> = clusters.iter().map(|c| format!("`{c}`")).collect();
            let label = diags.label(
                &spec.selector.file,
                spec.selector.span.clone(),
                "this selector",
            );
            diags.push(
                Diagnostic::error(
                    "cel::eval",
                    format!(
                        "the selector of `{name}` failed on {} {}: {error}",
                        if names.len() == 1 { "cluster" } else { "clusters" },
                        names.join(", ")
                    ),
                )
                .with_help(
                    "the service is not deployed where its selector fails; guard optional \
                     data with `has(...)`, e.g. `has(cluster.metadata.x) && cluster.metadata.x == 1`",
                ),
                vec![label],
            );
        }
    }
    let waves = graph::order(&fleet, &selection, &unknown, &mut diags);
    let digests = fleet
        .services
        .iter()
        .map(|(n, s)| (n.clone(), digest::service_digest(s, None)))
        .collect();
    Compilation {
        fleet,
        selection,
        waves,
        digests,
        diagnostics: diags.finish(),
    }
}

fn report_selector(diags: &mut Diags<'_>, selector: &Embedded, problems: &[Problem]) {
    for p in problems {
        let range = selector.file_range(p.range.clone());
        let label = diags.label(&selector.file, range, p.label.clone());
        let mut d = Diagnostic::error(p.code, p.message.clone());
        d.help = p.help.clone();
        diags.push(d, vec![label]);
    }
}

/// The name a selector given on the command line is shown under in diagnostics.
pub const COMMAND_LINE: &str = "<selector>";

/// The answer of `flotilla select`.
#[derive(Debug)]
pub struct SelectRun {
    /// The clusters the expression selects, sorted.
    pub matches: Vec<ClusterName>,
    /// With `explain`: how the expression decided on every cluster.
    pub explanations: BTreeMap<ClusterName, Explanation>,
    pub diagnostics: Report,
}

/// Evaluates a selector on the fleet's clusters (only the cluster files are read).
pub fn select(files: &FleetFiles, expr: &str, explain: bool) -> SelectRun {
    let clusters_only = FleetFiles {
        files: files
            .files
            .iter()
            .filter(|(k, _)| k.starts_with("clusters/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        unreadable: files
            .unreadable
            .iter()
            .filter(|(k, _)| k.starts_with("clusters/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        display_root: files.display_root.clone(),
    };
    let mut diags = Diags::new(&clusters_only);
    let fleet = load::load(&clusters_only, &mut diags);
    diags.add_text(COMMAND_LINE, expr);
    let selector = Embedded::detached(expr, COMMAND_LINE);
    let mut matches = Vec::new();
    let mut explanations = BTreeMap::new();
    match targeting::compile(expr, targeting::data_bounds(&fleet)) {
        Err(problems) => report_selector(&mut diags, &selector, &problems),
        Ok(compiled) => {
            let evaluator = targeting::Evaluator::new();
            let mut failures: BTreeMap<String, Vec<&ClusterName>> = BTreeMap::new();
            for (name, cluster) in &fleet.clusters {
                let value = targeting::cluster_value(cluster);
                let outcome = evaluator.eval(&compiled, &value);
                match &outcome {
                    Outcome::Selected => matches.push(name.clone()),
                    Outcome::NotSelected => {}
                    Outcome::Error(e) => failures.entry(e.clone()).or_default().push(name),
                }
                if explain {
                    explanations.insert(name.clone(), evaluator.explain(&compiled, &value));
                }
            }
            if !explain {
                for (error, clusters) in failures {
                    let names: Vec<String> = clusters.iter().map(|c| format!("`{c}`")).collect();
                    let label = diags.label(COMMAND_LINE, 0..expr.len(), "this selector");
                    diags.push(
                        Diagnostic::error(
                            "cel::eval",
                            format!(
                                "the selector failed on {} {}: {error}",
                                if names.len() == 1 {
                                    "cluster"
                                } else {
                                    "clusters"
                                },
                                names.join(", ")
                            ),
                        )
                        .with_help("guard optional data with `has(...)`"),
                        vec![label],
                    );
                }
            }
        }
    }
    SelectRun {
        matches,
        explanations,
        diagnostics: diags.finish(),
    }
}

#[derive(Serialize)]
struct ExplainedCluster<'a> {
    cluster: &'a ClusterName,
    selected: bool,
    #[serde(flatten)]
    explanation: &'a Explanation,
}

impl SelectRun {
    /// The matching clusters, one per line; with explanations, each cluster's clauses.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.explanations.is_empty() {
            for m in &self.matches {
                out.push_str(m.as_str());
                out.push('\n');
            }
            return out;
        }
        for (cluster, e) in &self.explanations {
            let verdict = match &e.outcome {
                Outcome::Selected => "selected".to_owned(),
                Outcome::NotSelected => "not selected".to_owned(),
                Outcome::Error(err) => format!("error: {err}"),
            };
            out.push_str(&format!("{cluster}: {verdict}\n"));
            for c in &e.clauses {
                let (value, mark) = match &c.value {
                    targeting::ClauseValue::Bool(b) => (b.to_string(), String::new()),
                    targeting::ClauseValue::Other(v) => ("value".to_owned(), format!("  <- {v}")),
                    targeting::ClauseValue::Error(err) => {
                        ("error".to_owned(), format!("  <- {err}"))
                    }
                };
                let mark = if c.decides && e.clauses.len() > 1 {
                    "  <- decides".to_owned()
                } else {
                    mark
                };
                out.push_str(&format!("  {value:<6} {}{mark}\n", c.text));
            }
        }
        out
    }

    /// The matching clusters as a JSON array; with explanations, an array of objects.
    pub fn render_json(&self) -> String {
        let json = if self.explanations.is_empty() {
            serde_json::to_string_pretty(&self.matches)
        } else {
            let list: Vec<ExplainedCluster<'_>> = self
                .explanations
                .iter()
                .map(|(cluster, explanation)| ExplainedCluster {
                    cluster,
                    selected: explanation.outcome == Outcome::Selected,
                    explanation,
                })
                .collect();
            serde_json::to_string_pretty(&list)
        };
        let mut s = json.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}
