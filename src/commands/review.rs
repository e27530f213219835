//! `flotilla review --fleet DIR [--accept [SERVICE…] | --reject | --check]`: compile a fresh
//! plan, compare it with the accepted one (`DIR/.flotilla/accepted/`), show the changes grouped
//! per release (secrets masked), and accept all or some of them, or reject the plan.

use std::collections::BTreeSet;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

use bundle::accepted::{self, Accepted, Form};
use compiler::review::{Filter, RenderConfig, Review};
use pipeline::Policies;

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The fleet repository.
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Accept without asking. Alone, the whole fresh plan (or every change shown, with
    /// --service/--cluster); with services (`--accept web db`), only the changes of those
    /// services: the accepted plan keeps its releases of the others.
    #[arg(long, value_name = "SERVICE", num_args = 0.., conflicts_with_all = ["reject", "check"])]
    pub accept: Option<Vec<String>>,
    /// Reject the fresh plan: the accepted one stays, and the fresh plan's digest is recorded
    /// (`.flotilla/accepted/rejected.json`) so that `review --check` says it was rejected.
    #[arg(long, conflicts_with = "check")]
    pub reject: bool,
    /// Only compare: exit with 1 when the plan differs from the accepted one (for CI).
    #[arg(long)]
    pub check: bool,
    /// Only the changes of this service (repeatable).
    #[arg(long = "service", value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Only the changes on this cluster (repeatable).
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub clusters: Vec<String>,
    /// Show added and removed releases whole (masked) rather than one line per object.
    #[arg(long)]
    pub full: bool,
    /// Colour the review: `auto` on a terminal unless NO_COLOR is set.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Print straight to standard output, never through a pager (by default, on a terminal,
    /// `$PAGER` or `less -FRX`).
    #[arg(long)]
    pub no_pager: bool,
    /// Ask about each group of changes (y/n/a/q) even when standard input is not a terminal.
    #[arg(long, conflicts_with_all = ["accept", "reject", "check"])]
    pub interactive: bool,
    /// Do not read or write the persistent cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Print the fresh plan's side of the diffs with its secret values. The accepted plan
    /// stores none, so its side stays masked (`<secret sha256:…>`) and every line holding a
    /// secret shows as changed.
    #[arg(long)]
    pub reveal_secrets: bool,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    // Manifest rules only: a review compares plans, it deploys nothing.
    let outcome = match super::outcome::run(&args.fleet, &env, &Policies::ManifestRules) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let Some((fresh_plan, fresh_manifests, redactions)) = outcome.writable() else {
        return super::outcome::code(outcome.status());
    };
    let compiled = &outcome.compilation;
    let fresh = (fresh_plan, fresh_manifests);
    let redactor = &compiled.redactor;
    let dir = args.fleet.join(".flotilla").join("accepted");
    let accepted = match accepted::read(&dir, redactor) {
        Ok(a) => a,
        Err(e) if args.accept.is_some() => {
            eprintln!("warning: the accepted plan is replaced: {e}");
            None
        }
        Err(e) => {
            eprintln!(
                "error: the accepted plan cannot be read: {e}\nhelp: accept a fresh plan with `flotilla review --accept`"
            );
            return ExitCode::from(exit::USAGE);
        }
    };
    let unmasked = accepted.as_ref().is_some_and(|a| a.form == Form::Unmasked);
    if unmasked {
        eprintln!(
            "warning: {} holds secret values (it was written by an older flotilla): the next \
             `flotilla review --accept` rewrites it masked. If it was committed, purge it from \
             the repository's history (e.g. `git filter-repo --invert-paths --path \
             .flotilla/accepted/`) and rotate the secrets it held",
            dir.display()
        );
    }
    let old = accepted.as_ref().map(|a| (&a.plan, &a.manifests));
    let masked = compiler::redact::redacted(fresh.1, redactions, redactor);
    let full = if args.reveal_secrets {
        eprintln!(
            "note: --reveal-secrets shows the fresh plan's secret values only: the accepted plan \
             stores none, so its side shows digests"
        );
        compiler::review::review(old, fresh)
    } else {
        compiler::review::review(old, (fresh.0, &masked))
    };
    let filter = Filter {
        services: args.services.clone(),
        clusters: args.clusters.clone(),
    };
    let only = args.accept.clone().unwrap_or_default();
    if let Err(message) = check_names(accepted.as_ref(), fresh.0, &filter, &only) {
        eprintln!("error: {message}");
        return ExitCode::from(exit::USAGE);
    }
    let shown = full.filter(&filter);
    let config = RenderConfig {
        color: match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        },
        full: args.full,
    };
    // What is printed: masked unless asked otherwise (a last pass over everything).
    let print = |text: &str| -> String {
        if args.reveal_secrets {
            text.to_owned()
        } else {
            redactor.redact(text)
        }
    };
    let interactive = args.interactive
        || (args.accept.is_none() && !args.reject && !args.check && std::io::stdin().is_terminal());
    if !full.is_empty() && shown.is_empty() {
        let (a, r, c) = full.counts();
        println!(
            "no changes for the services and clusters asked for ({} release changes outside them)",
            a + r + c
        );
    } else if full.is_empty() || !interactive {
        show(&print(&shown.render(config)), !args.no_pager);
    }
    // An unchanged plan needs no decision, unless the accepted folder is to be rewritten masked.
    if full.is_empty() && !(unmasked && args.accept.is_some()) {
        return ExitCode::from(exit::SUCCESS);
    }
    if args.check {
        if accepted::is_rejected(&dir, fresh.0) {
            println!("this exact plan was rejected (`flotilla review --reject`)");
        }
        return ExitCode::from(if shown.is_empty() {
            exit::SUCCESS
        } else {
            exit::DIAGNOSTICS
        });
    }
    if args.reject {
        if let Err(e) = accepted::reject(&dir, fresh.0) {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
        println!(
            "rejected: the accepted plan is unchanged; `flotilla review --check` reports this plan as rejected"
        );
        return ExitCode::from(exit::SUCCESS);
    }
    // The (cluster, release) changes taken.
    let taken: BTreeSet<(String, String)> = if let Some(services) = &args.accept {
        shown
            .clusters
            .iter()
            .flat_map(|c| {
                c.releases
                    .iter()
                    .filter(|r| services.is_empty() || services.iter().any(|s| r.concerns(s)))
                    .map(|r| (c.cluster.clone(), r.name().to_owned()))
            })
            .collect()
    } else if interactive {
        match ask(&shown, config, &print) {
            Some(taken) => taken,
            None => return ExitCode::from(exit::SUCCESS),
        }
    } else {
        println!(
            "not accepted: run with --accept [SERVICE…] to accept, --check to fail on changes"
        );
        return ExitCode::from(exit::SUCCESS);
    };
    let changes = full.counts();
    let total = changes.0 + changes.1 + changes.2;
    let result = if taken.len() == total && (filter.is_empty() || full.clusters == shown.clusters) {
        accepted::write(&dir, fresh.0, &masked)
    } else if taken.is_empty() {
        println!("nothing accepted: the accepted plan is unchanged");
        return ExitCode::from(exit::SUCCESS);
    } else {
        let take = |cluster: &str, release: &str| {
            taken.contains(&(cluster.to_owned(), release.to_owned()))
        };
        match compiler::review::merge(old, (fresh.0, &masked), take) {
            Ok((plan, manifests)) => accepted::write(&dir, &plan, &manifests),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::USAGE);
            }
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        return ExitCode::from(exit::USAGE);
    }
    if unmasked {
        eprintln!(
            "note: {} no longer holds secret values; purge its earlier versions from the \
             repository's history if they were committed",
            dir.display()
        );
    }
    if taken.len() == total {
        println!("accepted: {}", dir.display());
    } else {
        println!(
            "accepted {} of {total} release changes ({} left to review): {}",
            taken.len(),
            total - taken.len(),
            dir.display()
        );
    }
    ExitCode::from(exit::SUCCESS)
}

/// Every service and cluster the filters and `--accept` name must be in one of the plans.
fn check_names(
    accepted: Option<&Accepted>,
    fresh: &plan::Plan,
    filter: &Filter,
    accept: &[String],
) -> Result<(), String> {
    let mut services = BTreeSet::new();
    let mut clusters = BTreeSet::new();
    for plan in accepted.map(|a| &a.plan).into_iter().chain([fresh]) {
        for c in &plan.clusters {
            clusters.insert(&*c.name);
            services.extend(c.releases.iter().map(|r| &*r.service));
        }
    }
    for s in filter.services.iter().chain(accept) {
        if !services.contains(s.as_str()) {
            return Err(format!(
                "no service `{s}` in the fresh plan or the accepted one{}",
                did_you_mean(s, &services)
            ));
        }
    }
    for c in &filter.clusters {
        if !clusters.contains(c.as_str()) {
            return Err(format!(
                "no cluster `{c}` in the fresh plan or the accepted one{}",
                did_you_mean(c, &clusters)
            ));
        }
    }
    Ok(())
}

fn did_you_mean(name: &str, known: &BTreeSet<&str>) -> String {
    syntax::diag::suggest(name, known.iter().copied())
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

/// Asks about each group of changes; `None` when nothing was accepted (said on stdout).
fn ask(
    review: &Review,
    config: RenderConfig,
    print: &dyn Fn(&str) -> String,
) -> Option<BTreeSet<(String, String)>> {
    let groups = review.groups(config);
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", print(&review.render_clusters()));
    let _ = write!(stdout, "{}", print(&review.render_rollouts()));
    let echo = !std::io::stdin().is_terminal();
    let mut lines = std::io::stdin().lock().lines();
    let mut taken = BTreeSet::new();
    let mut all = false;
    for (i, g) in groups.iter().enumerate() {
        let _ = write!(stdout, "{}", print(&g.render(config)));
        let take = all
            || loop {
                let _ = write!(
                    stdout,
                    "[{}/{}] accept? [y]es, [n]o, [a]ll remaining, [q]uit: ",
                    i + 1,
                    groups.len()
                );
                let _ = stdout.flush();
                let answer = match lines.next() {
                    Some(Ok(line)) => line.trim().to_ascii_lowercase(),
                    _ => "q".to_owned(),
                };
                if echo {
                    // Answers read from a pipe are not echoed: show them.
                    let _ = writeln!(stdout, "{answer}");
                }
                match answer.as_str() {
                    "y" | "yes" => break true,
                    "n" | "no" => break false,
                    "a" | "all" => {
                        all = true;
                        break true;
                    }
                    "q" | "quit" => return finish(&mut stdout, taken),
                    _ => {}
                }
            };
        if take {
            for c in &g.clusters {
                taken.insert((c.clone(), g.release.clone()));
            }
        }
    }
    finish(&mut stdout, taken)
}

fn finish(
    stdout: &mut impl std::io::Write,
    taken: BTreeSet<(String, String)>,
) -> Option<BTreeSet<(String, String)>> {
    if taken.is_empty() {
        let _ = writeln!(stdout, "nothing accepted: the accepted plan is unchanged");
        return None;
    }
    Some(taken)
}

/// Prints `text`, through the pager when asked and standard output is a terminal.
fn show(text: &str, pager: bool) {
    let command = if pager && std::io::stdout().is_terminal() {
        pager_command(std::env::var("PAGER").ok().as_deref())
    } else {
        None
    };
    if let Some(command) = command
        && page(text, &command)
    {
        return;
    }
    print!("{text}");
    let _ = std::io::stdout().flush();
}

/// The pager to run: `$PAGER` (none when it is empty or `cat`), else `less -FRX` (quit when
/// the text fits on a screen, keep colours, leave the text on the screen).
fn pager_command(env: Option<&str>) -> Option<String> {
    match env.map(str::trim) {
        Some("" | "cat") => None,
        Some(p) => Some(p.to_owned()),
        None => Some("less -FRX".to_owned()),
    }
}

/// Runs the pager (through `sh -c`, as git does) on `text`; `false` when it could not start.
fn page(text: &str, command: &str) -> bool {
    let Ok(mut child) = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .spawn()
    else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit early closes the pipe: not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_is_less_unless_pager_says_otherwise() {
        assert_eq!(pager_command(None).as_deref(), Some("less -FRX"));
        assert_eq!(pager_command(Some("")), None);
        assert_eq!(pager_command(Some("cat")), None);
        assert_eq!(pager_command(Some("more")).as_deref(), Some("more"));
    }

    #[test]
    fn unknown_names_are_refused_with_a_suggestion() {
        let known = BTreeSet::from(["payments", "web"]);
        assert_eq!(did_you_mean("wbe", &known), " (did you mean `web`?)");
        assert_eq!(did_you_mean("zzzzzz", &known), "");
    }
}
