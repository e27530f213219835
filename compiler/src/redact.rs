//! What of a compilation may be printed: reports and manifests with every secret value shown
//! as `<secret sha256:…>`.
//!
//! Three sources of spans to mask, all combined before anything is shown:
//! - the compile's `secrets::Redactor` (every plaintext read, in its printed forms);
//! - [`Redactions`], the spans a redactor found in a bundle's manifests, stored with the
//!   bundle (`redactions.json`) so that a later review still masks secrets that have since
//!   changed (the old value is not in the new compile's redactor);
//! - [`secret_documents`]: the values under `data` and `stringData` of every `kind: Secret`
//!   document, whatever their origin.

use std::collections::BTreeMap;
use std::sync::Arc;

use diagnostics::Report;
use secrets::{Redaction, Redactor};

use crate::model::Digest;
use crate::render::Manifests;

/// The name of the redactions file in a plan bundle.
pub const REDACTIONS_FILE: &str = "redactions.json";

/// A report with every message, label and help masked.
pub fn report(mut report: Report, redactor: &Redactor) -> Report {
    if redactor.is_empty() {
        return report;
    }
    for d in &mut report.diagnostics {
        d.message = redactor.redact(&d.message);
        if let Some(help) = &d.help {
            d.help = Some(redactor.redact(help));
        }
        for l in &mut d.labels {
            l.message = redactor.redact(&l.message);
        }
    }
    report
}

/// The spans of secret values in manifests, by manifest digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactions(pub BTreeMap<Digest, Vec<Redaction>>);

impl Redactions {
    /// Where `redactor` finds secrets in each manifest (manifests without any are left out).
    pub fn of(manifests: &Manifests, redactor: &Redactor) -> Redactions {
        let mut out = BTreeMap::new();
        if redactor.is_empty() {
            return Redactions(out);
        }
        for (digest, text) in &manifests.0 {
            let spans = redactor.spans(text);
            if !spans.is_empty() {
                out.insert(*digest, spans);
            }
        }
        Redactions(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The file's text: `{"apiVersion", "kind": "Redactions", "manifests": {digest: [[start,
    /// end, secret digest], …]}}`, sorted. Offsets and digests only, never text.
    pub fn to_json(&self) -> String {
        let manifests: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(digest, spans)| {
                let list = spans
                    .iter()
                    .map(|s| serde_json::json!([s.range.start, s.range.end, s.digest.hex()]))
                    .collect();
                (digest.to_string(), serde_json::Value::Array(list))
            })
            .collect();
        let doc = serde_json::json!({
            "apiVersion": plan::API_VERSION,
            "kind": "Redactions",
            "manifests": manifests,
        });
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads the file's text; `None` when it is not one (a reviewer then masks with what it
    /// knows: the current redactor and Secret documents).
    pub fn from_json(text: &str) -> Option<Redactions> {
        let doc: serde_json::Value = serde_json::from_str(text).ok()?;
        if doc.get("kind")?.as_str()? != "Redactions" {
            return None;
        }
        let mut out = BTreeMap::new();
        for (digest, spans) in doc.get("manifests")?.as_object()? {
            let digest = digest
                .strip_prefix("sha256:")
                .and_then(secrets::Digest::from_hex)
                .map(|d| Digest(*d.as_bytes()))?;
            let mut list = Vec::new();
            for s in spans.as_array()? {
                let start = usize::try_from(s.get(0)?.as_u64()?).ok()?;
                let end = usize::try_from(s.get(1)?.as_u64()?).ok()?;
                let secret = secrets::Digest::from_hex(s.get(2)?.as_str()?)?;
                list.push(Redaction {
                    range: start..end,
                    digest: secret,
                });
            }
            out.insert(digest, list);
        }
        Some(Redactions(out))
    }
}

/// Manifests as they may be shown: the stored spans, the redactor's and the values of Secret
/// documents masked.
pub fn redacted(manifests: &Manifests, stored: &Redactions, redactor: &Redactor) -> Manifests {
    Manifests(
        manifests
            .0
            .iter()
            .map(|(digest, text)| {
                let mut spans = stored.0.get(digest).cloned().unwrap_or_default();
                spans.extend(redactor.spans(text));
                spans.extend(secret_documents(text));
                let shown: Arc<str> = if spans.is_empty() {
                    text.clone()
                } else {
                    Arc::from(secrets::redact::apply(text, &spans))
                };
                (*digest, shown)
            })
            .collect(),
    )
}

/// The values under `data:` and `stringData:` of the `kind: Secret` documents of a manifest
/// (YAML as Helm prints it: block mappings, one key per line, block scalars indented).
pub fn secret_documents(text: &str) -> Vec<Redaction> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        lines.push((at, line.trim_end_matches(['\n', '\r'])));
        at += line.len();
    }
    let mut out = Vec::new();
    for doc in lines.split(|(_, l)| *l == "---" || l.starts_with("--- ")) {
        let is_secret = doc.iter().any(|(_, l)| {
            matches!(
                l.trim_end(),
                "kind: Secret" | "kind: \"Secret\"" | "kind: 'Secret'"
            )
        });
        if is_secret {
            secret_values(doc, &mut out);
        }
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn span(start: usize, text: &str, out: &mut Vec<Redaction>) {
    if !text.is_empty() {
        out.push(Redaction {
            range: start..start + text.len(),
            digest: secrets::Digest::of(text.as_bytes()),
        });
    }
}

/// The values of the top-level `data`/`stringData` mappings of one document.
fn secret_values(doc: &[(usize, &str)], out: &mut Vec<Redaction>) {
    let mut i = 0;
    while i < doc.len() {
        let (offset, line) = doc[i];
        i += 1;
        let Some(rest) = line
            .strip_prefix("data:")
            .or_else(|| line.strip_prefix("stringData:"))
        else {
            continue;
        };
        let inline = rest.trim();
        if !inline.is_empty() && !inline.starts_with('#') {
            // A flow mapping on the same line: mask all of it.
            let start = offset + line.len() - rest.trim_start().len();
            span(start, rest.trim(), out);
            continue;
        }
        // The block below: entries indented more than the key.
        while i < doc.len() {
            let (entry_at, entry) = doc[i];
            if !entry.trim().is_empty() && indent(entry) == 0 {
                break;
            }
            i += 1;
            let Some(colon) = key_end(entry) else {
                continue;
            };
            let value = entry[colon + 1..].trim();
            if value.starts_with('|') || value.starts_with('>') {
                let own = indent(entry);
                while i < doc.len() {
                    let (block_at, block) = doc[i];
                    if !block.trim().is_empty() && indent(block) <= own {
                        break;
                    }
                    let content = block.trim_start();
                    span(
                        block_at + block.len() - content.len(),
                        content.trim_end(),
                        out,
                    );
                    i += 1;
                }
            } else if !value.is_empty() {
                let start = entry_at + entry.len() - entry[colon + 1..].trim_start().len();
                span(start, value, out);
            }
        }
    }
}

/// The byte index of the colon ending the key of `  key: value` (the key may be quoted).
fn key_end(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let lead = line.len() - trimmed.len();
    let after_key = match trimmed.chars().next()? {
        q @ ('"' | '\'') => trimmed[1..].find(q)? + 2,
        _ => trimmed
            .find(": ")
            .or_else(|| trimmed.ends_with(':').then(|| trimmed.len() - 1))?,
    };
    let colon = lead + after_key;
    (line.get(colon..colon + 1) == Some(":")).then_some(colon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrets::{SecretValue, Taint};

    fn m(plain: &str) -> String {
        secrets::redact::marker(&secrets::Digest::of(plain.as_bytes()))
    }

    #[test]
    fn secret_documents_show_digests() {
        let text = "---\n# Source: c/templates/cm.yaml\nkind: ConfigMap\ndata:\n  a: visible\n---\n# Source: c/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: aHVudGVyMg==\n  \"quoted.key\": eHl6\n  empty:\nstringData:\n  cert: |\n    line-one\n    line-two\n  token: plain-token\n";
        let shown = secrets::redact::apply(text, &secret_documents(text));
        let expect = format!(
            "---\n# Source: c/templates/cm.yaml\nkind: ConfigMap\ndata:\n  a: visible\n---\n# Source: c/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: {}\n  \"quoted.key\": {}\n  empty:\nstringData:\n  cert: |\n    {}\n    {}\n  token: {}\n",
            m("aHVudGVyMg=="),
            m("eHl6"),
            m("line-one"),
            m("line-two"),
            m("plain-token")
        );
        assert_eq!(shown, expect);
        let flow = "kind: Secret\ndata: {a: YQ==}\n";
        assert_eq!(
            secrets::redact::apply(flow, &secret_documents(flow)),
            format!("kind: Secret\ndata: {}\n", m("{a: YQ==}"))
        );
    }

    #[test]
    fn redactions_round_trip_and_mask_changed_secrets() {
        let mut taint = Taint::new();
        taint.insert_value(&SecretValue::from("old-password"));
        let old = Manifests(BTreeMap::from([(
            Digest::of(b"m"),
            Arc::from("env:\n  - value: old-password\n"),
        )]));
        let stored = Redactions::of(&old, &taint.redactor());
        let json = stored.to_json();
        assert!(!json.contains("old-password"), "{json}");
        assert_eq!(Redactions::from_json(&json), Some(stored.clone()));
        assert_eq!(Redactions::from_json("{\"kind\": \"Plan\"}"), None);
        // A later compile read only the new value: the stored spans still mask the old one.
        let mut now = Taint::new();
        now.insert_value(&SecretValue::from("new-password"));
        let shown = redacted(&old, &stored, &now.redactor());
        assert_eq!(
            shown.get(&Digest::of(b"m")),
            Some(format!("env:\n  - value: {}\n", m("old-password")).as_str())
        );
    }
}
