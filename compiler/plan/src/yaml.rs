//! The canonical YAML text of a plan: block style, fields in a fixed order, strings plain when
//! YAML reads them back as the same string and double-quoted (JSON escapes) otherwise.

use std::fmt::Write as _;

use crate::{Plan, RolloutPlan, Warning};

pub fn write(plan: &Plan) -> String {
    let releases = plan.release_count();
    let mut out = String::with_capacity(128 + plan.clusters.len() * 64 + releases * 420);
    out.push_str("apiVersion: ");
    scalar(&mut out, &plan.api_version);
    out.push_str("\nkind: ");
    scalar(&mut out, &plan.kind);
    out.push('\n');
    if plan.clusters.is_empty() {
        out.push_str("clusters: []\n");
    } else {
        out.push_str("clusters:\n");
    }
    for c in &plan.clusters {
        out.push_str("  - name: ");
        scalar(&mut out, &c.name);
        if c.releases.is_empty() {
            out.push_str("\n    releases: []\n");
            continue;
        }
        out.push_str("\n    releases:\n");
        for r in &c.releases {
            out.push_str("      - service: ");
            scalar(&mut out, &r.service);
            out.push_str("\n        name: ");
            scalar(&mut out, &r.name);
            out.push_str("\n        namespace: ");
            scalar(&mut out, &r.namespace);
            let _ = write!(out, "\n        wave: {}", r.wave);
            let _ = write!(out, "\n        version: {}", r.version);
            out.push_str("\n        chart:\n          name: ");
            scalar(&mut out, &r.chart.name);
            out.push_str("\n          version: ");
            scalar(&mut out, &r.chart.version);
            let _ = write!(out, "\n          digest: {}", r.chart.digest);
            let _ = write!(out, "\n        values: {}", r.values);
            let _ = write!(out, "\n        manifest: {}\n", r.manifest);
        }
    }
    warnings(&mut out, &plan.warnings);
    rollouts(&mut out, &plan.rollouts);
    out
}

/// The `rollouts:` list, written only when there are some.
fn rollouts(out: &mut String, rollouts: &[RolloutPlan]) {
    if rollouts.is_empty() {
        return;
    }
    out.push_str("rollouts:\n");
    for r in rollouts {
        out.push_str("  - service: ");
        scalar(out, &r.service);
        out.push_str("\n    environment: ");
        scalar(out, &r.environment);
        out.push_str("\n    soak: ");
        scalar(out, &r.soak);
        let _ = write!(out, "\n    autoRollback: {}", r.auto_rollback);
        if !r.environments.is_empty() {
            out.push_str("\n    environments:");
            for e in &r.environments {
                out.push_str("\n      - ");
                scalar(out, e);
            }
        }
        if r.waves.is_empty() {
            out.push_str("\n    waves: []\n");
            continue;
        }
        out.push_str("\n    waves:\n");
        for w in &r.waves {
            out.push_str("      - name: ");
            scalar(out, &w.name);
            let _ = write!(out, "\n        maxUnavailable: {}", w.max_unavailable);
            if w.clusters.is_empty() {
                out.push_str("\n        clusters: []\n");
                continue;
            }
            out.push_str("\n        clusters:\n");
            for c in &w.clusters {
                out.push_str("          - ");
                scalar(out, c);
                out.push('\n');
            }
        }
    }
}

/// The `warnings:` list, written only when there are some.
fn warnings(out: &mut String, warnings: &[Warning]) {
    if warnings.is_empty() {
        return;
    }
    out.push_str("warnings:\n");
    for w in warnings {
        out.push_str("  - cluster: ");
        scalar(out, &w.cluster);
        out.push_str("\n    release: ");
        scalar(out, &w.release);
        out.push_str("\n    kind: ");
        scalar(out, &w.kind);
        if !w.namespace.is_empty() {
            out.push_str("\n    namespace: ");
            scalar(out, &w.namespace);
        }
        out.push_str("\n    name: ");
        scalar(out, &w.name);
        out.push_str("\n    rule: ");
        scalar(out, &w.rule);
        out.push_str("\n    service: ");
        scalar(out, &w.service);
        out.push_str("\n    message: ");
        scalar(out, &w.message);
        out.push('\n');
    }
}

/// Writes a string as a YAML scalar that reads back as the same string.
pub(crate) fn scalar(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{85}' || c == '\u{feff}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A plain scalar is used only for names YAML cannot read as anything but that string: a
/// letter first, then letters, digits and `-._/:+`, no `: ` or ` #`, and not a YAML 1.1
/// boolean or null.
fn plain_is_safe(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !first.is_ascii_alphabetic() {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._/:+".contains(c))
    {
        return false;
    }
    if s.ends_with(':') {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_only_when_safe() {
        let check = |s: &str, expect: &str| {
            let mut out = String::new();
            scalar(&mut out, s);
            assert_eq!(out, expect, "{s}");
        };
        check("cert-manager", "cert-manager");
        check("sha256:00ff", "sha256:00ff");
        check("1.2.3", "\"1.2.3\"");
        check("v1.2.3+build.1", "v1.2.3+build.1");
        check("yes", "\"yes\"");
        check("No", "\"No\"");
        check("", "\"\"");
        check("a b", "\"a b\"");
        check("a:", "\"a:\"");
        check("é", "\"é\"");
        check("q\"\\\n\u{1}", "\"q\\\"\\\\\\n\\u0001\"");
    }
}
