//! `flotilla template FILE [-f VALUES]…`: render one Go template as Helm would inside a chart
//! (`.Values` holds the values files merged in order; a missing key renders as nothing).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use diagnostics::{Diagnostic, Position, Report};
use gotemplate::funcs::encoding;
use gotemplate::{ExecOptions, FuncMap, Map, MissingKey, Template, Value};

use super::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The template file.
    pub file: PathBuf,
    /// A YAML values file; repeat to merge several, later files winning.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Template files holding `define`s the template may `include` (like a chart's `_helpers.tpl`).
    #[arg(long = "helpers", value_name = "FILE")]
    pub helpers: Vec<PathBuf>,
    /// Print diagnostics as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn exec(args: Args) -> ExitCode {
    match run(&args) {
        Ok(Ok(output)) => {
            print!("{output}");
            ExitCode::from(exit::SUCCESS)
        }
        Ok(Err(report)) => {
            if args.json {
                println!("{}", report.render_json());
            } else {
                eprint!("{}", report.render_text());
            }
            ExitCode::from(exit::DIAGNOSTICS)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Renders the template, or returns the diagnostics of the user's files.
fn run(args: &Args) -> anyhow::Result<Result<String, Report>> {
    let mut report = Report::new();
    let values = Map::new();
    for path in &args.values {
        let text = read(path)?;
        match encoding::from_yaml_map(&text, "map[string]interface {}") {
            Ok(map) => merge_into(&values, &map),
            Err(e) => {
                let name = path.display().to_string();
                let file = report.source(name, text);
                let mut d = Diagnostic::error("yaml::parse", e.message.clone());
                let position = Position {
                    line: e.line.unwrap_or(1),
                    column: e.column.unwrap_or(1),
                };
                d.labels.push(report.label_at(file, position, 1, "here"));
                report.push(d);
            }
        }
    }

    let funcs = Arc::new(FuncMap::helm());
    let mut template = Template::new(funcs.clone());
    let known: Vec<&str> = funcs.names().collect();
    let main = args.file.display().to_string();
    let mut files = args.helpers.clone();
    files.push(args.file.clone());
    for path in &files {
        let text = read(path)?;
        let name = path.display().to_string();
        let source = report.source(name.clone(), text.clone());
        if let Err(e) = template.parse(&name, &text) {
            diagnostics::template::parse_error(&mut report, source, &e, &known);
        }
    }
    if report.has_errors() {
        return Ok(Err(report));
    }

    let data = Map::new();
    data.insert("Values", Value::Map(values));
    let options = ExecOptions {
        missing_key: MissingKey::Zero,
        ..ExecOptions::default()
    };
    match template.execute(&main, &Value::Map(data), &options) {
        // Helm removes what a missing value printed.
        Ok(out) => Ok(Ok(out.replace("<no value>", ""))),
        Err(e) => {
            let source = report.source(main, String::new());
            diagnostics::template::exec_error(&mut report, source, &e);
            Ok(Err(report))
        }
    }
}

/// Merges `src` into `dst`: maps recursively, anything else replaced.
fn merge_into(dst: &Map, src: &Map) {
    for (key, value) in src.entries() {
        match (dst.get(&key), &value) {
            (Some(Value::Map(d)), Value::Map(s)) => merge_into(&d, s),
            _ => {
                dst.insert(key, value);
            }
        }
    }
}
