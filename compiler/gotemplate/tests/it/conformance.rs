//! The conformance suite: every case under `tests/conformance/` rendered by the engine exactly
//! as Helm renders its NOTES.txt, and compared with what the real helm 3.17.3 rendered.
//!
//! Environment:
//! - `CONFORMANCE_CASES=a,b`: only the cases whose name contains one of these.
//! - `CONFORMANCE_STRICT_ERRORS=1`: an error case also fails when the full message, after
//!   Helm's clean-up, differs from helm's (by default only its essential cause must match).
//! - `CONFORMANCE_VERBOSE=1`: print every case's result, not only failures.

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use gotemplate::funcs::Timestamp;
use gotemplate::{ExecOptions, FuncMap, MissingKey, Template};

use crate::chart::CaseChart;
use crate::diff::diff;
use crate::helm_errors::{HELM_PREFIX, cleanup_exec_error, cleanup_parse_error, essential_cause};

/// A case that takes longer than this has hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);
/// Go grows goroutine stacks as needed; give the engine room for the deep-recursion cases.
const CASE_STACK_BYTES: usize = 256 << 20;
/// The clock of every render (2024-06-01T00:00:00Z); no case depends on it.
const NOW: Timestamp = Timestamp {
    unix_seconds: 1_717_200_000,
    nanos: 0,
};
/// Longest error message quoted in a report.
const QUOTE_LIMIT: usize = 700;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// What helm did with a case.
enum Expected {
    Output(Vec<u8>),
    Error {
        /// helm's stderr.
        helm: String,
        /// Any one of these must appear in the engine's message.
        causes: Vec<String>,
    },
}

/// What the engine did with it.
enum Outcome {
    Rendered(String),
    /// A template did not parse: the file and the engine's message.
    ParseFailed(String, String),
    ExecFailed(String),
    /// The case itself could not be loaded.
    Broken(String),
}

enum Verdict {
    Pass,
    /// An error case whose cause matches but whose full message differs from helm's.
    PassInexactError(String),
    Fail(String),
}

fn load_expected(dir: &Path) -> Result<Expected, String> {
    let output = dir.join("expected.txt");
    let error = dir.join("expected.error.txt");
    match (output.exists(), error.exists()) {
        (true, false) => fs::read(&output)
            .map(Expected::Output)
            .map_err(|e| e.to_string()),
        (false, true) => {
            let helm = fs::read_to_string(&error).map_err(|e| e.to_string())?;
            let cause_file = dir.join("cause.txt");
            let causes = if cause_file.exists() {
                fs::read_to_string(&cause_file)
                    .map_err(|e| e.to_string())?
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect()
            } else {
                vec![essential_cause(&helm)]
            };
            Ok(Expected::Error { helm, causes })
        }
        (true, true) => Err("both expected.txt and expected.error.txt".into()),
        (false, false) => Err("no golden: run scripts/render-engine-goldens.sh".into()),
    }
}

/// A file in a case folder whose first line says why the engine does not (yet) render the case
/// as helm does.
const KNOWN_DIVERGENCE: &str = "known-divergence.md";

/// Renders the case's NOTES.txt the way Helm does.
fn render(dir: &Path) -> Outcome {
    let chart = match CaseChart::load(dir) {
        Ok(chart) => chart,
        Err(e) => return Outcome::Broken(e),
    };
    let mut set = Template::new(Arc::new(FuncMap::helm()));
    // Helm's engine: `template.New("gotpl")`.
    set.set_root_name("gotpl");
    for file in &chart.templates {
        if let Err(e) = set.parse(&file.name, &file.text) {
            // Go's full message (`template: NAME:LINE: …`), as Helm receives it.
            return Outcome::ParseFailed(file.name.clone(), e.to_string());
        }
    }
    let notes = chart.notes();
    let data = chart.render_data(&notes);
    // Helm 3.17's options; everything else (limits, Go 1.23 language level) as by default.
    let options = ExecOptions {
        missing_key: MissingKey::Zero,
        seed: 1,
        now: NOW,
        ..ExecOptions::default()
    };
    match set.execute(&notes, &data, &options) {
        // Helm's own post-processing of every rendered file.
        Ok(out) => Outcome::Rendered(out.replace("<no value>", "")),
        Err(e) => Outcome::ExecFailed(e.to_string()),
    }
}

/// Renders on a thread of its own: a panic or a hang fails the case, not the suite.
fn render_guarded(dir: PathBuf) -> Outcome {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("case {}", dir.display()))
        .stack_size(CASE_STACK_BYTES)
        .spawn(move || {
            let _ = tx.send(render(&dir));
        });
    if let Err(e) = spawned {
        return Outcome::Broken(format!("cannot start a thread: {e}"));
    }
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Outcome::Broken(format!("no result after {CASE_TIMEOUT:?} (hang?)"))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Outcome::Broken("the engine panicked (message above)".into())
        }
    }
}

fn quote(s: &str) -> String {
    if s.len() <= QUOTE_LIMIT {
        return s.to_string();
    }
    let mut end = QUOTE_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

fn judge(expected: &Expected, outcome: Outcome, notes_name: &str, strict: bool) -> Verdict {
    let (raw, modelled) = match (&outcome, expected) {
        (Outcome::Broken(e), _) => return Verdict::Fail(format!("case not run: {e}")),
        (Outcome::Rendered(out), Expected::Output(golden)) => {
            if out.as_bytes() == golden.as_slice() {
                return Verdict::Pass;
            }
            let golden = String::from_utf8_lossy(golden);
            return Verdict::Fail(format!(
                "output differs from helm's:\n{}",
                diff(&golden, out)
            ));
        }
        (Outcome::Rendered(out), Expected::Error { helm, .. }) => {
            return Verdict::Fail(format!(
                "rendered, but helm failed with:\n    {}\nrendered:\n{}",
                quote(helm.trim_end()),
                quote(out)
            ));
        }
        (Outcome::ParseFailed(file, e), Expected::Output(_)) => {
            return Verdict::Fail(format!("parse error in {file}: {}", quote(e)));
        }
        (Outcome::ExecFailed(e), Expected::Output(_)) => {
            return Verdict::Fail(format!("execution error: {}", quote(e)));
        }
        (Outcome::ParseFailed(file, e), Expected::Error { .. }) => {
            (e.clone(), cleanup_parse_error(file, e))
        }
        (Outcome::ExecFailed(e), Expected::Error { .. }) => {
            (e.clone(), cleanup_exec_error(notes_name, e))
        }
    };
    let Expected::Error { helm, causes } = expected else {
        unreachable!("output cases returned above");
    };
    if !causes
        .iter()
        .any(|c| raw.contains(c.as_str()) || modelled.contains(c.as_str()))
    {
        return Verdict::Fail(format!(
            "wrong error: helm's cause {}\n    is not in the engine's message\n    {}",
            causes
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(" or "),
            quote(&raw)
        ));
    }
    let full = format!("{HELM_PREFIX}{modelled}\n");
    if full == *helm {
        return Verdict::Pass;
    }
    let detail = format!(
        "same cause, different message:\n    helm:   {}\n    engine: {}",
        quote(helm.trim_end()),
        quote(full.trim_end())
    );
    if strict {
        Verdict::Fail(detail)
    } else {
        Verdict::PassInexactError(detail)
    }
}

#[test]
fn helm_conformance() {
    let filter: Vec<String> = std::env::var("CONFORMANCE_CASES")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let strict = std::env::var("CONFORMANCE_STRICT_ERRORS").is_ok_and(|v| v == "1");
    let verbose = std::env::var("CONFORMANCE_VERBOSE").is_ok_and(|v| v == "1");

    let mut dirs: Vec<PathBuf> = fs::read_dir(cases_dir())
        .expect("tests/conformance exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no conformance cases");

    let mut report = String::new();
    let (mut run, mut passed, mut exact_errors, mut error_cases) = (0usize, 0usize, 0usize, 0usize);
    let mut failed_names = Vec::new();
    let mut known_divergences: Vec<String> = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        run += 1;
        let mut is_error_case = false;
        let verdict = match load_expected(&dir) {
            Err(e) => Verdict::Fail(format!("case not run: {e}")),
            Ok(expected) => {
                is_error_case = matches!(expected, Expected::Error { .. });
                if is_error_case {
                    error_cases += 1;
                }
                let notes = CaseChart::load(&dir).map(|c| c.notes()).unwrap_or_default();
                judge(&expected, render_guarded(dir.clone()), &notes, strict)
            }
        };
        // A case whose difference from helm is known and explained: it must still differ (and
        // is reported), and must lose its note once it matches.
        let known = fs::read_to_string(dir.join(KNOWN_DIVERGENCE)).ok();
        let verdict = match (verdict, known) {
            (Verdict::Fail(detail), Some(why)) => {
                let why = why.lines().next().unwrap_or_default().to_string();
                known_divergences.push(name.clone());
                let _ = writeln!(report, "KNOWN {name}: {why}\n      {detail}");
                continue;
            }
            (Verdict::Pass | Verdict::PassInexactError(_), Some(_)) => {
                Verdict::Fail(format!("matches helm now: delete its {KNOWN_DIVERGENCE}"))
            }
            (verdict, None) => verdict,
        };
        match verdict {
            Verdict::Pass => {
                passed += 1;
                if is_error_case {
                    exact_errors += 1;
                }
                if verbose {
                    let _ = writeln!(report, "ok    {name}");
                }
            }
            Verdict::PassInexactError(detail) => {
                passed += 1;
                if verbose {
                    let _ = writeln!(report, "ok~   {name}: {detail}");
                }
            }
            Verdict::Fail(detail) => {
                failed_names.push(name.clone());
                let _ = writeln!(report, "FAIL  {name}: {detail}");
            }
        }
    }
    print!("{report}");
    println!(
        "conformance summary: {passed} of {run} cases match helm ({} fail, {} known divergences: {}); \
         {exact_errors} of {error_cases} error cases with helm's exact message",
        failed_names.len(),
        known_divergences.len(),
        known_divergences.join(", "),
    );
    assert!(
        failed_names.is_empty(),
        "{} of {run} conformance cases differ from helm: {}",
        failed_names.len(),
        failed_names.join(", ")
    );
}
