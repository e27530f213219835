//! Redaction: the plaintexts a compile read (its `Taint`) and the `Redactor` that replaces every
//! occurrence of them in text meant for people with `<secret sha256:…>`.
//!
//! A value that came from a secret is *tainted*; so is everything printed that contains it.
//! Rather than following values through templates, the compiler records every plaintext it
//! read, and everything it prints goes through a [`Redactor`] built from them. Besides the
//! plaintext itself, the forms a template commonly turns it into are recorded too: its base64
//! (`b64enc`, how Kubernetes Secrets carry data), its JSON-escaped text (`toJson`, `quote`), and
//! each line of a multi-line value (a PEM block re-indented under a YAML block scalar).
//!
//! Limits, by design: texts shorter than [`MIN_REDACTED`] bytes cannot be told apart from
//! ordinary text and are not masked; a value transformed otherwise (hashed, upper-cased,
//! base64-encoded together with other text) is not recognised.

use std::collections::BTreeMap;
use std::ops::Range;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::value::{Digest, SecretValue};

/// Needles shorter than this many bytes are not masked: a two-letter secret would mask every
/// occurrence of those letters in every diff.
pub const MIN_REDACTED: usize = 4;

const MARKER_PREFIX: &str = "<secret sha256:";

/// The marker a redacted text shows in place of a secret: `<secret sha256:0123456789ab>`,
/// the same text as a [`SecretValue`]'s `Display`.
pub fn marker(digest: &Digest) -> String {
    format!("{MARKER_PREFIX}{}>", digest.short())
}

/// The plaintexts read during a compile, each with the digest it is shown as. Thread-safe
/// collection is the caller's business (a compile keeps one behind a lock); the set is ordered,
/// so what it produces does not depend on the order values were read in.
#[derive(Clone, Default)]
pub struct Taint {
    /// Needle text to the digest shown for it; the smallest digest wins when two secrets
    /// share a needle.
    needles: BTreeMap<Needle, Digest>,
}

/// A needle: plaintext, zeroed on drop, ordered by its text.
#[derive(Clone)]
struct Needle(SecretValue);

impl PartialEq for Needle {
    fn eq(&self, other: &Needle) -> bool {
        self.0.expose() == other.0.expose()
    }
}
impl Eq for Needle {}
impl PartialOrd for Needle {
    fn partial_cmp(&self, other: &Needle) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Needle {
    fn cmp(&self, other: &Needle) -> std::cmp::Ordering {
        self.0.expose().cmp(other.0.expose())
    }
}

impl std::fmt::Debug for Taint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Taint")
            .field("needles", &self.needles.len())
            .finish()
    }
}

impl Taint {
    /// An empty set.
    pub fn new() -> Taint {
        Taint::default()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Number of needles (forms included).
    pub fn len(&self) -> usize {
        self.needles.len()
    }

    /// Records a secret's value: its plaintext, base64, JSON-escaped text and, when it has
    /// several lines, each line; shown as the value's digest.
    pub fn insert_value(&mut self, value: &SecretValue) {
        self.insert_text(value.expose(), value.digest());
    }

    /// Records a text derived from a secret (a scalar of a YAML fragment), in the same forms,
    /// shown as the digest of the text itself.
    pub fn insert_derived(&mut self, text: &str) {
        self.insert_text(text, Digest::of(text.as_bytes()));
    }

    fn insert_text(&mut self, text: &str, digest: Digest) {
        if text.len() < MIN_REDACTED {
            return;
        }
        // Already recorded (a secret is read on every cluster that uses it): nothing to add.
        let probe = Needle(SecretValue::new(text.to_owned()));
        if self.needles.get(&probe).is_some_and(|d| *d <= digest) {
            return;
        }
        self.add(text.to_owned(), digest);
        self.add(base64(text.as_bytes()), digest);
        if let Ok(json) = serde_json::to_string(text) {
            let inner = json
                .strip_prefix('"')
                .and_then(|j| j.strip_suffix('"'))
                .unwrap_or(&json);
            if inner != text {
                self.add(inner.to_owned(), digest);
            }
        }
        if text.contains('\n') {
            for line in text.lines() {
                let line = line.trim();
                if line.len() >= MIN_REDACTED {
                    self.add(line.to_owned(), digest);
                }
            }
        }
    }

    fn add(&mut self, needle: String, digest: Digest) {
        let needle = Needle(SecretValue::new(needle));
        match self.needles.get_mut(&needle) {
            Some(d) if *d <= digest => {}
            Some(d) => *d = digest,
            None => {
                self.needles.insert(needle, digest);
            }
        }
    }

    /// Adds every needle of `other`.
    pub fn extend(&mut self, other: &Taint) {
        for (needle, digest) in &other.needles {
            self.add(needle.0.expose().to_owned(), *digest);
        }
    }

    /// A redactor for these needles.
    pub fn redactor(&self) -> Redactor {
        let digests: Vec<Digest> = self.needles.values().copied().collect();
        if self.needles.is_empty() {
            return Redactor::none();
        }
        let built = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(self.needles.keys().map(|n| n.0.expose()));
        match built {
            Ok(automaton) => Redactor {
                automaton: Some(automaton),
                digests,
                failed: false,
            },
            // Too many needles for the automaton: mask everything rather than nothing.
            Err(_) => Redactor {
                automaton: None,
                digests,
                failed: true,
            },
        }
    }
}

/// A span of a text to show as a secret's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Byte range in the text.
    pub range: Range<usize>,
    /// The digest shown instead.
    pub digest: Digest,
}

/// Replaces the needles of a [`Taint`] in texts. Immutable and cheap to share.
#[derive(Clone, Default)]
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    digests: Vec<Digest>,
    /// The automaton could not be built: every text is masked whole.
    failed: bool,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("needles", &self.digests.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that masks nothing.
    pub fn none() -> Redactor {
        Redactor::default()
    }

    /// Whether it masks nothing.
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none() && !self.failed
    }

    /// Where needles occur in `text` (leftmost-longest, non-overlapping), in order. Occurrences
    /// inside an existing marker are left alone, so redacting twice changes nothing.
    pub fn spans(&self, text: &str) -> Vec<Redaction> {
        let Some(automaton) = &self.automaton else {
            if self.failed && !text.is_empty() {
                return vec![Redaction {
                    range: 0..text.len(),
                    digest: Digest::of(text.as_bytes()),
                }];
            }
            return Vec::new();
        };
        let markers = marker_ranges(text);
        automaton
            .find_iter(text)
            .filter(|m| {
                !markers
                    .iter()
                    .any(|r| m.start() < r.end && r.start < m.end())
            })
            .filter_map(|m| {
                Some(Redaction {
                    range: m.start()..m.end(),
                    digest: *self.digests.get(m.pattern().as_usize())?,
                })
            })
            .collect()
    }

    /// `text` with every needle replaced by its marker.
    pub fn redact(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_owned();
        }
        apply(text, &self.spans(text))
    }
}

/// The ranges of the markers already in `text`.
fn marker_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|t| t.find(MARKER_PREFIX)) {
        let start = from + at;
        let hex_start = start + MARKER_PREFIX.len();
        let hex = text.get(hex_start..hex_start + 12);
        let close = text.get(hex_start + 12..hex_start + 13);
        if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) && close == Some(">") {
            out.push(start..hex_start + 13);
            from = hex_start + 13;
        } else {
            from = hex_start;
        }
    }
    out
}

/// `text` with each span replaced by its marker. Spans may come in any order and overlap
/// (overlapping or touching spans become one marker, showing the first one's digest); spans
/// out of bounds or not on character boundaries are ignored, so stored spans that do not fit
/// the text cannot make this panic.
pub fn apply(text: &str, spans: &[Redaction]) -> String {
    let mut spans: Vec<&Redaction> = spans
        .iter()
        .filter(|s| {
            s.range.start < s.range.end
                && s.range.end <= text.len()
                && text.is_char_boundary(s.range.start)
                && text.is_char_boundary(s.range.end)
        })
        .collect();
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_by_key(|s| (s.range.start, s.range.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut i = 0;
    while i < spans.len() {
        let first = spans[i];
        let (start, mut end) = (first.range.start.max(at), first.range.end);
        i += 1;
        while i < spans.len() && spans[i].range.start <= end {
            end = end.max(spans[i].range.end);
            i += 1;
        }
        if end <= at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&marker(&first.digest));
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Standard base64 with padding (Go's `base64.StdEncoding`, Sprig's `b64enc`).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(values: &[&str]) -> Redactor {
        let mut t = Taint::new();
        for v in values {
            t.insert_value(&SecretValue::from(*v));
        }
        t.redactor()
    }

    fn m(plain: &str) -> String {
        marker(&Digest::of(plain.as_bytes()))
    }

    #[test]
    fn base64_matches_go() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hunter2"), "aHVudGVyMg==");
        assert_eq!(base64("ü".as_bytes()), "w7w=");
    }

    #[test]
    fn every_form_is_masked() {
        let r = taint(&["hunter2", "line-one\n  line-two\n", "say \"hi\""]);
        let h = m("hunter2");
        assert_eq!(
            r.redact("password: hunter2, b64: aHVudGVyMg==, again hunter2hunter2"),
            // Adjacent occurrences become one marker.
            format!("password: {h}, b64: {h}, again {h}")
        );
        let pem = m("line-one\n  line-two\n");
        assert_eq!(
            r.redact("key: |\n    line-one\n    line-two\n"),
            format!("key: |\n    {pem}\n    {pem}\n")
        );
        assert_eq!(
            r.redact(r#"{"q": "say \"hi\""}"#),
            format!(r#"{{"q": "{}"}}"#, m("say \"hi\""))
        );
    }

    #[test]
    fn short_values_are_not_masked_and_longest_wins() {
        let r = taint(&["abc", "secret-long", "secret"]);
        assert_eq!(
            r.redact("abc secret-long secret"),
            format!("abc {} {}", m("secret-long"), m("secret"))
        );
        assert!(taint(&["ab", ""]).is_empty());
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        // A needle that occurs inside markers ("secret") must not nest them.
        let r = taint(&["secret", "hunter2"]);
        let once = r.redact("secret hunter2");
        assert_eq!(r.redact(&once), once);
        assert!(!once.contains("hunter2"));
    }

    #[test]
    fn spans_apply_merged_and_bounded() {
        let d = Digest::of(b"x");
        let s = |a: usize, b: usize| Redaction {
            range: a..b,
            digest: d,
        };
        let text = "0123456789";
        let mk = marker(&d);
        assert_eq!(apply(text, &[s(2, 4), s(3, 6)]), format!("01{mk}6789"));
        assert_eq!(apply(text, &[s(6, 8), s(1, 2)]), format!("0{mk}2345{mk}89"));
        assert_eq!(apply(text, &[s(8, 20), s(5, 5)]), text);
        assert_eq!(apply("ü", &[s(1, 2)]), "ü");
    }

    #[test]
    fn the_same_needles_give_the_same_redactor_whatever_the_order() {
        let a = taint(&["alpha-1", "beta-22", "gamma-333"]);
        let b = taint(&["gamma-333", "alpha-1", "beta-22"]);
        let text = "gamma-333 beta-22 alpha-1";
        assert_eq!(a.redact(text), b.redact(text));
        assert!(format!("{a:?}").contains("needles"));
    }
}
