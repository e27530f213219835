//! Errors as data: what went wrong loading a plugin folder, and what went wrong in one call.

use std::fmt;
use std::path::PathBuf;

/// One plugin call failed. Names the plugin (and the digest of its bytes); the caller adds the
/// service, the cluster and the template position. Shown with what the plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PluginError {
    /// The plugin's name (`plugins/<name>.wasm`).
    pub plugin: String,
    /// `sha256:` and the first 12 hex digits of the plugin's bytes, when it was loaded.
    pub digest: Option<String>,
    pub kind: ErrorKind,
    /// What the plugin wrote to stdout and stderr before it failed (boxed: errors stay small).
    pub output: Box<Output>,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "from plugin {:?}", self.plugin)?;
        if let Some(digest) = &self.digest {
            write!(f, " ({digest})")?;
        }
        write!(f, ": {}", self.kind)?;
        if !self.output.is_empty() {
            write!(f, "\n{}", self.output)?;
        }
        Ok(())
    }
}

/// What a plugin wrote during one call: the last few KiB of each of stdout and stderr, decoded
/// lossily and trimmed (a note says how much came before when some was not kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.stderr.is_empty()
    }
}

/// Each non-empty stream under a heading, its lines indented: `stderr of the plugin:` then
/// `  | line` for each line.
impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            if text.is_empty() {
                continue;
            }
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{name} of the plugin:")?;
            for line in text.lines() {
                write!(f, "\n  | {line}")?;
            }
        }
        Ok(())
    }
}

/// What kind of failure a [`PluginError`] is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// No plugin of that name was loaded.
    #[error("no such plugin (the fleet's plugins are: {})", list_or_none(.known))]
    NotFound { known: Vec<String> },
    /// The plugin returned its `err` branch: the message is the plugin's own.
    #[error("{0}")]
    Guest(String),
    /// The plugin trapped (`unreachable`, a bad memory access, a stack overflow, an exit).
    #[error("trapped: {0}")]
    Trap(String),
    /// The plugin used up its fuel (deterministic CPU budget).
    #[error("ran out of fuel after {fuel} units (raise `fuel` in its limits file)")]
    OutOfFuel { fuel: u64 },
    /// The plugin ran longer than its wall-clock budget.
    #[error("timed out after {ms} ms (raise `timeoutMs` in its limits file)")]
    Timeout { ms: u64 },
    /// The plugin tried to grow its memory past its limit.
    #[error("exceeded its memory limit of {mib} MiB (raise `memoryMiB` in its limits file)")]
    MemoryLimit { mib: u64 },
    /// The plugin's `ok` text was longer than `maxOutputBytes`.
    #[error("returned {len} bytes, more than its limit of {limit} (`maxOutputBytes`)")]
    OutputTooLarge { len: usize, limit: usize },
    /// The plugin's `ok` text is not JSON: serde_json's message, the position (1-based) and
    /// the text around it (at most [`EXCERPT_CHARS`] characters each side, escaped).
    #[error("returned invalid JSON: {message} at line {line} column {column}, near `{excerpt}`")]
    BadJson {
        message: String,
        line: usize,
        column: usize,
        excerpt: String,
    },
    /// The request could not be encoded as JSON.
    #[error("could not encode the request: {0}")]
    BadRequest(String),
    /// The plugin could not be instantiated (a start function failed, pool exhausted, …).
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
}

/// How many characters of a bad answer are shown on each side of the error.
pub const EXCERPT_CHARS: usize = 24;

impl ErrorKind {
    /// The error for an answer that is not JSON, with the text around the position.
    pub(crate) fn bad_json(text: &str, e: &serde_json::Error) -> ErrorKind {
        let full = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&position).unwrap_or(&full).to_string();
        ErrorKind::BadJson {
            message,
            line: e.line(),
            column: e.column(),
            excerpt: excerpt(text, e.line(), e.column()),
        }
    }
}

/// The text around (line, column) of `text` (1-based, the column counted in bytes as
/// serde_json does): up to [`EXCERPT_CHARS`] characters each side, on that line only,
/// with control characters escaped and `…` where it was cut.
fn excerpt(text: &str, line: usize, column: usize) -> String {
    let Some(row) = text.split('\n').nth(line.saturating_sub(1)) else {
        return String::new();
    };
    let mut at = column.saturating_sub(1).min(row.len());
    while !row.is_char_boundary(at) {
        at -= 1;
    }
    let (before, after) = row.split_at(at);
    let skip = before.chars().count().saturating_sub(EXCERPT_CHARS);
    let mut out = String::new();
    if skip > 0 {
        out.push('…');
    }
    let shown_before: String = before.chars().skip(skip).collect();
    let shown_after: String = after.chars().take(EXCERPT_CHARS).collect();
    for c in shown_before.chars().chain(shown_after.chars()) {
        if c.is_control() || c == '`' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if after.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// A plugin file of a fleet's `plugins/` folder could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct LoadError {
    pub path: PathBuf,
    pub kind: LoadErrorKind,
}

/// What kind of failure a [`LoadError`] is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadErrorKind {
    #[error("{0}")]
    Io(String),
    /// The limits file does not parse or holds an out-of-range value.
    #[error("bad limits file: {0}")]
    Limits(#[source] crate::limits::LimitsError),
    /// The file is not a valid WebAssembly component.
    #[error("not a valid WebAssembly component: {0}")]
    Compile(String),
    /// The component does not implement the contract, or imports what the host does not offer.
    #[error("does not implement flotilla:plugin/resolver@{version}: {0}", version = crate::CONTRACT_VERSION)]
    Contract(String),
    /// A plugin name must be lowercase letters, digits, `-` and `_`, starting with a letter.
    #[error("bad plugin name {0:?} (use lowercase letters, digits, `-` and `_`)")]
    BadName(String),
    /// A limits file with no plugin beside it.
    #[error("limits file without a plugin (expected {0})")]
    Orphan(String),
    /// The host's engine could not be set up.
    #[error(transparent)]
    Host(#[from] HostError),
}

/// The process-wide plugin engine could not be set up (no address space, no thread).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the plugin host could not start: {message}")]
pub struct HostError {
    pub message: String,
}

/// All the load errors of one `plugins/` folder (every broken file is reported, not only the
/// first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Shortens a guest-provided message to at most `max` bytes, on a character boundary.
pub(crate) fn truncate_message(mut msg: String, max: usize) -> String {
    if msg.len() > max {
        let mut cut = max;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
        msg.push_str("… (truncated)");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: PluginError, expect: &str) {
        assert_eq!(err.to_string(), expect);
    }

    fn named(kind: ErrorKind) -> PluginError {
        PluginError {
            plugin: "netalloc".into(),
            digest: Some("sha256:0123456789ab".into()),
            kind,
            output: Box::default(),
        }
    }

    #[test]
    fn messages() {
        check(
            named(ErrorKind::Guest("no free subnet".into())),
            "from plugin \"netalloc\" (sha256:0123456789ab): no free subnet",
        );
        check(
            named(ErrorKind::OutOfFuel { fuel: 1000 }),
            "from plugin \"netalloc\" (sha256:0123456789ab): ran out of fuel after 1000 units \
             (raise `fuel` in its limits file)",
        );
        check(
            PluginError {
                plugin: "nope".into(),
                digest: None,
                kind: ErrorKind::NotFound { known: vec![] },
                output: Box::default(),
            },
            "from plugin \"nope\": no such plugin (the fleet's plugins are: none)",
        );
        check(
            PluginError {
                plugin: "nope".into(),
                digest: None,
                kind: ErrorKind::NotFound {
                    known: vec!["a".into(), "b".into()],
                },
                output: Box::default(),
            },
            "from plugin \"nope\": no such plugin (the fleet's plugins are: a, b)",
        );
        check(
            PluginError {
                output: Box::new(Output {
                    stdout: "step 1".into(),
                    stderr: "Traceback (most recent call last):\nValueError: boom".into(),
                }),
                ..named(ErrorKind::Trap("wasm trap: unreachable".into()))
            },
            "from plugin \"netalloc\" (sha256:0123456789ab): trapped: wasm trap: unreachable\n\
             stdout of the plugin:\n  | step 1\n\
             stderr of the plugin:\n  | Traceback (most recent call last):\n  | ValueError: boom",
        );
        check(
            PluginError {
                output: Box::new(Output {
                    stdout: String::new(),
                    stderr: "careful".into(),
                }),
                ..named(ErrorKind::Guest("no".into()))
            },
            "from plugin \"netalloc\" (sha256:0123456789ab): no\nstderr of the plugin:\n  | careful",
        );
    }

    /// The error serde_json gives for `text`, as the host reports it.
    fn bad_json(text: &str) -> String {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(_) => "valid".into(),
            Err(e) => ErrorKind::bad_json(text, &e).to_string(),
        }
    }

    #[test]
    fn invalid_answers_are_shown_around_the_fault() {
        assert_eq!(
            bad_json("hello world"),
            "returned invalid JSON: expected value at line 1 column 1, near `hello world`"
        );
        assert_eq!(
            bad_json(r#"{"cidr": 10.0.0.0/8}"#),
            "returned invalid JSON: expected `,` or `}` at line 1 column 14, near \
             `{\"cidr\": 10.0.0.0/8}`"
        );
        assert_eq!(
            bad_json("{\"a\": 1,\n \"b\": tru}"),
            "returned invalid JSON: expected ident at line 2 column 10, near ` \"b\": tru}`"
        );
        let long = format!("[{}oops, {}]", "1, ".repeat(40), "2, ".repeat(40));
        assert_eq!(
            bad_json(&long),
            "returned invalid JSON: expected value at line 1 column 122, near \
             `…1, 1, 1, 1, 1, 1, 1, 1, oops, 2, 2, 2, 2, 2, 2, …`"
        );
        assert_eq!(
            bad_json("{\"a\": \"\t\u{1b}é"),
            "returned invalid JSON: control character (\\u0000-\\u001F) found while parsing a \
             string at line 1 column 8, near `{\"a\": \"\\t\\u{1b}é`"
        );
        assert_eq!(
            bad_json(""),
            "returned invalid JSON: EOF while parsing a value at line 1 column 0, near ``"
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_message("héllo".into(), 2), "h… (truncated)");
        assert_eq!(truncate_message("héllo".into(), 3), "hé… (truncated)");
        assert_eq!(truncate_message("hello".into(), 5), "hello");
        assert_eq!(truncate_message(String::new(), 0), "");
    }
}
