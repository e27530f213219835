//! The flotilla side of `scripts/bench-helm.sh`: many values sets of one chart rendered in
//! one process (the chart loaded once, every render through a [`RenderCache`]), each output
//! written where `helm template` would print it, for a byte-for-byte comparison.
//!
//! ```text
//! helm_variants gen OUT_DIR [N]        # writes N (default 1000) variant values files
//! helm_variants render --chart DIR --out DIR [--release NAME] [--namespace NS]
//!     [--kube-version V] [--api-versions A]... [--include-crds] [--skip-tests] VALUES...
//! helm_variants merged --chart DIR VALUES   # the chart's values with VALUES coalesced in
//! ```
//! `merged` prints `.Values` as the templates see it (for `go-reference -values`, the Go
//! engine's side of the benchmark). `render` writes `OUT/<values file name>` (what `helm template ... -f VALUES` prints) and
//! reports the load time, the render time and the cache's counts on standard error.

mod values;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use helm::action::{self, TemplateOptions, ValueOptions};
use helm::{HelmError, RenderCache};

const USAGE: &str = "usage: helm_variants gen OUT_DIR [N]\n       \
    helm_variants render --chart DIR --out DIR [--release NAME] [--namespace NS] \
    [--kube-version V] [--api-versions A]... [--include-crds] [--skip-tests] VALUES...\n       \
    helm_variants merged --chart DIR VALUES";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => generate(&args[1..]),
        Some("render") => render(&args[1..]),
        Some("merged") => merged(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("helm_variants: {e}");
            ExitCode::from(if e == USAGE { 2 } else { 1 })
        }
    }
}

fn generate(args: &[String]) -> Result<(), String> {
    let (dir, n) = match args {
        [dir] => (dir, 1000),
        [dir, n] => (dir, n.parse::<usize>().map_err(|_| USAGE.to_string())?),
        _ => return Err(USAGE.into()),
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    for i in 0..n {
        let path = Path::new(dir).join(values::file_name(i));
        std::fs::write(&path, values::variant(i))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The parsed `render` command line.
#[derive(Debug, Default)]
struct RenderArgs {
    chart: Option<String>,
    out: Option<PathBuf>,
    opts: TemplateOptions,
    files: Vec<String>,
}

fn parse_render_args(args: &[String]) -> Result<RenderArgs, String> {
    let mut r = RenderArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| USAGE.to_string());
        match a.as_str() {
            "--chart" => r.chart = Some(value()?),
            "--out" => r.out = Some(PathBuf::from(value()?)),
            "--release" => r.opts.release_name = value()?,
            "--namespace" | "-n" => r.opts.namespace = value()?,
            "--kube-version" => r.opts.kube_version = Some(value()?),
            "--api-versions" | "-a" => r.opts.api_versions.push(value()?),
            "--include-crds" => r.opts.include_crds = true,
            "--skip-tests" => r.opts.skip_tests = true,
            s if s.starts_with('-') => return Err(USAGE.into()),
            file => r.files.push(file.to_string()),
        }
    }
    Ok(r)
}

fn render(args: &[String]) -> Result<(), String> {
    let r = parse_render_args(args)?;
    let (Some(chart_path), Some(out)) = (&r.chart, &r.out) else {
        return Err(USAGE.into());
    };
    let fail = |e: HelmError| e.helm_output().trim_end().to_string();
    let start = Instant::now();
    action::parse_kube_version(&r.opts).map_err(fail)?;
    let chart =
        action::load_installable(action::locate_chart(chart_path).map_err(fail)?).map_err(fail)?;
    // Hashed once: every render of this chart is keyed by its digest.
    let digest = helm::cache::chart_digest(&chart);
    let loaded = start.elapsed();
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;

    let cache = RenderCache::new();
    let render_start = Instant::now();
    for file in &r.files {
        let values = ValueOptions {
            values_files: vec![action::read_values_file(file).map_err(fail)?],
            ..ValueOptions::default()
        };
        let user_values = action::merge_user_values(&values).map_err(fail)?;
        let output = cache
            .template_with_digest(&chart, &digest, &user_values, &r.opts)
            .map_err(|e| format!("{file}: {}", fail(e)))?;
        let name = Path::new(file)
            .file_name()
            .ok_or_else(|| format!("{file}: not a file"))?;
        let target = out.join(name);
        std::fs::write(&target, output.stdout.as_bytes())
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    let rendered = render_start.elapsed();
    let n = r.files.len().max(1) as f64;
    eprintln!(
        "helm_variants: chart loaded and hashed in {:.2} ms; {} values sets rendered and written in {:.1} ms \
         ({:.3} ms per render); cache: {} renders, {} hits",
        loaded.as_secs_f64() * 1e3,
        r.files.len(),
        rendered.as_secs_f64() * 1e3,
        rendered.as_secs_f64() * 1e3 / n,
        cache.renders(),
        cache.hits(),
    );
    Ok(())
}

fn merged(args: &[String]) -> Result<(), String> {
    let r = parse_render_args(args)?;
    let (Some(chart_path), [file]) = (&r.chart, r.files.as_slice()) else {
        return Err(USAGE.into());
    };
    let fail = |e: HelmError| e.helm_output().trim_end().to_string();
    let chart =
        action::load_installable(action::locate_chart(chart_path).map_err(fail)?).map_err(fail)?;
    let values = ValueOptions {
        values_files: vec![action::read_values_file(file).map_err(fail)?],
        ..ValueOptions::default()
    };
    let user_values = action::merge_user_values(&values).map_err(fail)?;
    let vals = helm::values::coalesce_values(&chart, &user_values).map_err(fail)?;
    let yaml = gotemplate::funcs::encoding::to_yaml(&gotemplate::Value::Map(vals))
        .map_err(|e| e.to_string())?;
    print!("{yaml}");
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Needs the Helm corpus (`$FLOTILLA_HELM_CORPUS`, by default `shared/helm-corpus`
    //! beside the repository), like the crate's conformance test.
    use super::*;

    fn corpus_chart() -> PathBuf {
        let root = match std::env::var_os("FLOTILLA_HELM_CORPUS") {
            Some(p) => PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/helm-corpus"),
        };
        let chart = root.join(values::CHART);
        assert!(
            chart.is_dir(),
            "the Helm corpus is missing: {} does not exist (set FLOTILLA_HELM_CORPUS)",
            chart.display()
        );
        chart
    }

    /// The corpus case `podinfo-default`'s flags.
    fn opts() -> TemplateOptions {
        TemplateOptions {
            release_name: "fleet".into(),
            namespace: "apps".into(),
            kube_version: Some("1.31.0".into()),
            api_versions: vec![
                "monitoring.coreos.com/v1".into(),
                "autoscaling/v2".into(),
                "gateway.networking.k8s.io/v1".into(),
            ],
            include_crds: true,
            skip_tests: true,
            ..TemplateOptions::default()
        }
    }

    fn user_values(i: usize) -> gotemplate::Map {
        let v = ValueOptions {
            values_files: vec![(values::file_name(i), values::variant(i).into_bytes())],
            ..ValueOptions::default()
        };
        action::merge_user_values(&v).expect("variant values parse")
    }

    #[test]
    fn a_thousand_requests_with_ten_distinct_values_render_ten_times() {
        let chart = action::load_installable(&corpus_chart()).expect("podinfo loads");
        let opts = opts();
        let digest = helm::cache::chart_digest(&chart);
        let cache = RenderCache::new();
        let mut first = Vec::new();
        for request in 0..1000 {
            // Each request parses its own values file: equal content, not shared trees.
            // Through both entry points: the digest is the chart's either way.
            let out = if request % 2 == 0 {
                cache.template(&chart, &user_values(request % 10), &opts)
            } else {
                cache.template_with_digest(&chart, &digest, &user_values(request % 10), &opts)
            }
            .expect("variant renders");
            if request < 10 {
                first.push(out);
            } else {
                assert_eq!(out, first[request % 10], "request {request}");
            }
        }
        assert_eq!(cache.renders(), 10);
        assert_eq!(cache.hits(), 990);
        // What the cache answers is what an uncached render prints.
        for (i, cached) in first.iter().enumerate() {
            let fresh = action::template(&chart, &user_values(i), &opts).expect("renders");
            assert_eq!(&fresh, cached, "variant {i}");
        }
    }

    #[test]
    fn variants_differ_where_the_fleet_differs() {
        let chart = action::load_installable(&corpus_chart()).expect("podinfo loads");
        let out = |i| {
            action::template(&chart, &user_values(i), &opts())
                .expect("renders")
                .stdout
        };
        let (a, b) = (out(0), out(7));
        assert_ne!(a, b);
        // Variant 0: 1 replica, autoscaled, monitored, with an ingress, in us-east-1.
        assert!(a.contains("kind: HorizontalPodAutoscaler"), "{a}");
        assert!(a.contains("kind: ServiceMonitor"), "{a}");
        assert!(
            a.contains("host: \"podinfo.cluster-0000.example.com\""),
            "{a}"
        );
        assert!(
            a.contains("topology.kubernetes.io/region: us-east-1"),
            "{a}"
        );
        assert!(
            a.contains("image: \"ghcr.io/stefanprodan/podinfo:6.5.0\""),
            "{a}"
        );
        // Variant 7: 3 replicas with a disruption budget, none of the above, in ca-central-1.
        assert!(b.contains("replicas: 3"), "{b}");
        assert!(b.contains("kind: PodDisruptionBudget"), "{b}");
        assert!(!b.contains("kind: HorizontalPodAutoscaler"), "{b}");
        assert!(
            b.contains("topology.kubernetes.io/region: ca-central-1"),
            "{b}"
        );
    }

    #[test]
    fn render_flags_parse() {
        let args: Vec<String> = [
            "--chart",
            "c",
            "--out",
            "o",
            "-n",
            "apps",
            "-a",
            "x/v1",
            "--skip-tests",
            "a.yaml",
            "b.yaml",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = parse_render_args(&args).expect("parses");
        assert_eq!(r.chart.as_deref(), Some("c"));
        assert_eq!(r.opts.namespace, "apps");
        assert_eq!(r.opts.api_versions, ["x/v1"]);
        assert!(r.opts.skip_tests && !r.opts.include_crds);
        assert_eq!(r.files, ["a.yaml", "b.yaml"]);
        assert!(parse_render_args(&["--bogus".to_string()]).is_err());
        assert!(parse_render_args(&["--chart".to_string()]).is_err());
    }
}
