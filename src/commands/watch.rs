//! `flotilla watch`: compiles the fleet, then again whenever its files change, redoing only
//! what changed (`compiler::Incremental`), and prints the diagnostics and what the change did
//! to the plan. Nothing is written but the persistent cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use compiler::{Compilation, HelmRenderer, Incremental, Recompile};

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value = ".")]
    pub fleet: PathBuf,
    /// Do not read or write the persistent cache.
    #[arg(long)]
    pub no_cache: bool,
    #[command(flatten)]
    pub secrets: super::plan::SecretsArgs,
    /// How often the fleet's files are looked at, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub interval: u64,
    /// Stop after this many compiles (the first one included); default: never.
    #[arg(long)]
    pub compiles: Option<u64>,
}

pub fn exec(args: Args) -> ExitCode {
    let env = match args.secrets.environment(&args.fleet, args.no_cache) {
        Ok(env) => env,
        Err(code) => return code,
    };
    let mut compiler = Incremental::new(HelmRenderer, env.options());
    let mut seen = match Stamps::of(&args.fleet) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut before: Option<Releases> = None;
    let mut compiles = 0u64;
    loop {
        let files = match pipeline::read_fleet(&args.fleet) {
            Ok(f) => f,
            Err(e) => return super::outcome::fail(&e),
        };
        let start = Instant::now();
        let (compiled, how) = compiler.compile(files);
        let took = start.elapsed();
        if let Some(notice) = env.prune() {
            eprintln!("warning: {notice}");
        }
        let now = releases_of(compiled);
        report(compiled, &how, took, before.as_ref(), &now);
        before = Some(now);
        compiles += 1;
        if args.compiles.is_some_and(|n| compiles >= n) {
            return if compiled.diagnostics.has_errors() {
                ExitCode::from(exit::DIAGNOSTICS)
            } else {
                ExitCode::from(exit::SUCCESS)
            };
        }
        // Wait for a change.
        loop {
            std::thread::sleep(Duration::from_millis(args.interval.max(10)));
            match Stamps::of(&args.fleet) {
                Ok(now) if now != seen => {
                    seen = now;
                    break;
                }
                Ok(_) => {}
                Err(code) => return code,
            }
        }
    }
}

/// Each release of the plan, by (cluster, release name).
type Releases = BTreeMap<(Arc<str>, Arc<str>), plan::Release>;

fn releases_of(c: &Compilation) -> Releases {
    c.plan
        .clusters
        .iter()
        .flat_map(|cp| {
            cp.releases
                .iter()
                .map(|r| ((cp.name.clone(), r.name.clone()), r.clone()))
        })
        .collect()
}

fn report(
    compiled: &Compilation,
    how: &Recompile,
    took: Duration,
    before: Option<&Releases>,
    now: &Releases,
) {
    if !compiled.diagnostics.diagnostics.is_empty() {
        eprint!("{}", compiled.diagnostics.render_text());
    }
    let mut line = format!(
        "compiled in {:.0} ms ({how}): {} clusters, {} releases",
        took.as_secs_f64() * 1000.0,
        compiled.plan.clusters.len(),
        compiled.stats.releases,
    );
    if let Some(before) = before {
        let added = now.keys().filter(|k| !before.contains_key(*k)).count();
        let removed = before.keys().filter(|k| !now.contains_key(*k)).count();
        let changed: Vec<(&plan::Release, &plan::Release)> = now
            .iter()
            .filter_map(|(k, r)| Some((before.get(k)?, r)))
            .filter(|(b, r)| b != r)
            .collect();
        let manifests = changed
            .iter()
            .filter(|(b, r)| b.manifest != r.manifest)
            .count();
        line.push_str(&format!(
            "; since the last compile: {} releases changed ({manifests} manifests), {added} added, {removed} removed",
            changed.len()
        ));
    }
    if compiled.diagnostics.has_errors() {
        line.push_str("; not applicable (errors above)");
    }
    println!("{line}");
}

/// The size and modification time of every file and folder under the fleet (but its cache):
/// a change to any of them is a change to the fleet.
#[derive(PartialEq, Eq)]
struct Stamps(BTreeMap<PathBuf, (u64, Option<std::time::SystemTime>)>);

impl Stamps {
    fn of(root: &Path) -> Result<Stamps, ExitCode> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        let mut first = true;
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if first => {
                    eprintln!("error: cannot read fleet directory {}: {e}", dir.display());
                    return Err(ExitCode::from(exit::USAGE));
                }
                Err(_) => continue,
            };
            first = false;
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_name() == ".flotilla" || entry.file_name() == ".git" {
                    continue;
                }
                let Ok(meta) = entry.metadata() else {
                    continue;
                };
                if meta.is_dir() {
                    stack.push(path.clone());
                }
                out.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
        Ok(Stamps(out))
    }
}
