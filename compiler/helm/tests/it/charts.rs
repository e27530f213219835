//! End-to-end checks of loading and rendering small charts written on the fly, each asserting
//! what `helm template` 3.17 prints for it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use helm::HelmError;
use helm::action::{self, TemplateOptions, ValueOptions, WriteMode};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("flotilla-helm-it-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch folder");
        Scratch(p)
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("folder");
        }
        std::fs::write(p, text).expect("file");
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn chart_yaml(name: &str, extra: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\nappVersion: \"1.2\"\n{extra}")
}

/// A `.tgz` of `files` under the folder `top/`.
fn tgz(top: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (name, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("{top}/{name}"), text.as_bytes())
            .expect("tar entry");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

fn render(dir: &Path, values: ValueOptions, opts: &TemplateOptions) -> Result<String, HelmError> {
    let user = action::merge_user_values(&values)?;
    let chart = action::load_installable(dir)?;
    action::template(&chart, &user, opts).map(|o| o.stdout)
}

fn opts() -> TemplateOptions {
    TemplateOptions {
        release_name: "rel".into(),
        namespace: "ns".into(),
        ..TemplateOptions::default()
    }
}

#[test]
fn folder_with_subcharts_ignores_and_files() {
    let s = Scratch::new();
    s.write("Chart.yaml", &chart_yaml("top", "dependencies:\n- name: sub\n  version: 1.0.0\n- name: packed\n  version: \">=1\"\n  alias: pk\n"));
    s.write(".helmignore", "*.bak\nsecret/\n");
    s.write("values.yaml", "global: {g: 1}\nsub: {x: from-top}\n");
    s.write("files/a.txt", "alpha\n");
    s.write("notes.bak", "ignored");
    s.write("secret/key", "ignored");
    s.write("templates/.hidden.yaml", "ignored");
    s.write("templates/cm.yaml", "kind: ConfigMap\n");
    s.write("charts/sub/Chart.yaml", &chart_yaml("sub", ""));
    s.write("charts/sub/values.yaml", "x: default\n");
    s.write("charts/sub/templates/s.yaml", "kind: Secret\n");
    let packed = tgz(
        "packed",
        &[
            ("Chart.yaml", &chart_yaml("packed", "")),
            ("templates/p.yaml", "kind: Pod\n"),
        ],
    );
    std::fs::write(s.path("charts/packed-1.0.0.tgz"), packed).expect("tgz");

    let c = helm::loader::load(&s.0).expect("loads");
    assert_eq!(c.name(), "top");
    let files: Vec<&str> = c.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(files, [".helmignore", "files/a.txt"]);
    let templates: Vec<&str> = c.templates.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(templates, ["templates/cm.yaml"]);
    let deps: Vec<&str> = c.dependencies.iter().map(|d| d.name()).collect();
    assert_eq!(deps, ["packed", "sub"]);

    let out = render(&s.0, ValueOptions::default(), &opts()).expect("renders");
    assert_eq!(
        out,
        "---\n# Source: top/charts/sub/templates/s.yaml\nkind: Secret\n---\n# Source: top/templates/cm.yaml\nkind: ConfigMap\n---\n# Source: top/charts/pk/templates/p.yaml\nkind: Pod\n"
    );
}

#[test]
fn built_in_objects_and_scoping() {
    let s = Scratch::new();
    s.write(
        "Chart.yaml",
        &chart_yaml(
            "top",
            "dependencies:\n- name: sub\n  version: 1.0.0\n  condition: sub.enabled\n",
        ),
    );
    s.write(
        "values.yaml",
        "global: {env: prod}\nsub: {enabled: true, port: 80}\nname: top\n",
    );
    s.write(
        "templates/cm.yaml",
        "kind: ConfigMap\ndata:\n  release: {{ .Release.Name }}/{{ .Release.Namespace }}/{{ .Release.IsInstall }}/{{ .Release.Revision }}/{{ .Release.Service }}\n  chart: {{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}-{{ .Chart.IsRoot }}\n  template: {{ .Template.Name }} {{ .Template.BasePath }}\n  subPort: {{ with .Subcharts.sub }}{{ .Values.port }}{{ end }}\n  kube: {{ .Capabilities.KubeVersion.Version }} {{ .Capabilities.KubeVersion.Minor }} {{ .Capabilities.APIVersions.Has \"apps/v1\" }}\n  missing: [{{ .Values.nope }}]\n",
    );
    s.write("charts/sub/Chart.yaml", &chart_yaml("sub", ""));
    s.write(
        "charts/sub/values.yaml",
        "port: 1\nglobal: {env: dev, own: yes}\n",
    );
    s.write(
        "charts/sub/templates/svc.yaml",
        "kind: Service\nport: {{ .Values.port }}\nenv: {{ .Values.global.env }}\nown: {{ .Values.global.own }}\nroot: {{ .Chart.IsRoot }}\nname: {{ .Values.name | default \"none\" }}\n",
    );
    s.write("templates/NOTES.txt", "not printed {{ .Release.Name }}");
    s.write(
        "templates/_helpers.tpl",
        "{{ define \"x\" }}kind: Never{{ end }}",
    );

    let o = TemplateOptions {
        kube_version: Some("1.29".into()),
        ..opts()
    };
    let out = render(&s.0, ValueOptions::default(), &o).expect("renders");
    assert_eq!(
        out,
        "---\n# Source: top/templates/cm.yaml\nkind: ConfigMap\ndata:\n  release: rel/ns/true/1/Helm\n  chart: top-1.0.0-1.2-true\n  template: top/templates/cm.yaml top/templates\n  subPort: 80\n  kube: v1.29.0 29 true\n  missing: []\n---\n# Source: top/charts/sub/templates/svc.yaml\nkind: Service\nport: 80\nenv: prod\nown: true\nroot: false\nname: none\n"
    );

    // The condition turns the subchart off; --set wins over values files.
    let v = ValueOptions {
        values_files: vec![("f.yaml".into(), b"sub: {enabled: true}".to_vec())],
        set: vec!["sub.enabled=false".into()],
        ..ValueOptions::default()
    };
    let out = render(&s.0, v, &o).expect("renders");
    assert!(!out.contains("kind: Service"), "{out}");
}

#[test]
fn hooks_crds_sorting_and_empty_documents() {
    let s = Scratch::new();
    s.write("Chart.yaml", &chart_yaml("c", ""));
    s.write(
        "crds/crd.yaml",
        "kind: CustomResourceDefinition\nmetadata: {name: x}",
    );
    s.write(
        "templates/a-deploy.yaml",
        "kind: Deployment\nmetadata: {name: d}\n---\n\n---\nkind: Namespace\nmetadata: {name: n}\n",
    );
    s.write("templates/b-svc.yaml", "{{- if false }}kind: X{{ end }}\n");
    s.write(
        "templates/hook.yaml",
        "kind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"5\"\n",
    );
    s.write(
        "templates/tests/t.yaml",
        "kind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\n",
    );
    let o = TemplateOptions {
        include_crds: true,
        ..opts()
    };
    let out = render(&s.0, ValueOptions::default(), &o).expect("renders");
    assert_eq!(
        out,
        concat!(
            "---\n# Source: c/crds/crd.yaml\nkind: CustomResourceDefinition\nmetadata: {name: x}\n",
            // The first separator eats the newline the second `---` needed, so the document
            // keeps a leading `---` (as in Helm).
            "---\n# Source: c/templates/a-deploy.yaml\n---\nkind: Namespace\nmetadata: {name: n}\n",
            "---\n# Source: c/templates/a-deploy.yaml\nkind: Deployment\nmetadata: {name: d}\n",
            // Hooks come last, sorted by kind too: Pod before Job.
            "---\n# Source: c/templates/tests/t.yaml\nkind: Pod\nmetadata:\n  name: t\n  annotations: {helm.sh/hook: test}\n",
            "---\n# Source: c/templates/hook.yaml\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: \"5\"\n",
        )
    );
    let o = TemplateOptions {
        skip_tests: true,
        show_only: vec!["templates/hook.yaml".into()],
        ..opts()
    };
    let out = render(&s.0, ValueOptions::default(), &o).expect("renders");
    assert!(
        out.starts_with("---\n# Source: c/templates/hook.yaml\nkind: Job"),
        "{out}"
    );
}

#[test]
fn output_dir_writes_files() {
    let s = Scratch::new();
    s.write("Chart.yaml", &chart_yaml("c", ""));
    s.write("templates/a.yaml", "kind: A\n---\nkind: B\n");
    let o = TemplateOptions {
        output_dir: Some("out".into()),
        ..opts()
    };
    let user = action::merge_user_values(&ValueOptions::default()).expect("values");
    let chart = action::load_installable(&s.0).expect("loads");
    let out = action::template(&chart, &user, &o).expect("renders");
    assert_eq!(
        out.stdout,
        "wrote out/c/templates/a.yaml\nwrote out/c/templates/a.yaml\n\n"
    );
    assert_eq!(out.writes.len(), 2);
    assert_eq!(out.writes[0].mode, WriteMode::Create);
    assert_eq!(out.writes[1].mode, WriteMode::Append);
    assert_eq!(
        out.writes[1].content,
        "---\n# Source: c/templates/a.yaml\nkind: B\n"
    );
}

fn render_err(s: &Scratch, values: ValueOptions) -> String {
    match render(&s.0, values, &opts()) {
        Ok(out) => panic!("expected an error, rendered:\n{out}"),
        Err(e) => e.helm_output(),
    }
}

#[test]
fn errors_read_as_helm_prints_them() {
    let s = Scratch::new();
    s.write("Chart.yaml", &chart_yaml("c", ""));
    s.write(
        "templates/cm.yaml",
        "kind: ConfigMap\nname: {{ required \"name is required\" .Values.name }}\n",
    );
    assert_eq!(
        render_err(&s, ValueOptions::default()),
        "Error: execution error at (c/templates/cm.yaml:2:9): name is required\n\nUse --debug flag to render out invalid YAML\n"
    );

    s.write("templates/cm.yaml", "kind: ConfigMap\nname: {{ nope }}\n");
    assert_eq!(
        render_err(&s, ValueOptions::default()),
        "Error: parse error at (c/templates/cm.yaml:2): function \"nope\" not defined\n\nUse --debug flag to render out invalid YAML\n"
    );

    s.write("templates/cm.yaml", "kind: ConfigMap\nname: [\n");
    let e = render_err(&s, ValueOptions::default());
    assert!(e.starts_with("Error: YAML parse error on c/templates/cm.yaml: error converting YAML to JSON: yaml: line "), "{e}");

    s.write("templates/cm.yaml", "kind: ConfigMap\n");
    let v = ValueOptions {
        set: vec!["a".into()],
        ..ValueOptions::default()
    };
    assert_eq!(
        render_err(&s, v),
        "Error: failed parsing --set data: key \"a\" has no value\n"
    );

    s.write(
        "values.schema.json",
        r#"{"properties": {"replicas": {"type": "integer"}}}"#,
    );
    let v = ValueOptions {
        set: vec!["replicas=many".into()],
        ..ValueOptions::default()
    };
    assert_eq!(
        render_err(&s, v),
        "Error: values don't meet the specifications of the schema(s) in the following chart(s):\nc:\n- replicas: Invalid type. Expected: integer, given: string\n\n"
    );

    s.write(
        "Chart.yaml",
        &chart_yaml("c", "kubeVersion: \">=1.40.0-0\"\n"),
    );
    assert_eq!(
        render_err(&s, ValueOptions::default()),
        "Error: chart requires kubeVersion: >=1.40.0-0 which is incompatible with Kubernetes v1.32.0\n\nUse --debug flag to render out invalid YAML\n"
    );

    s.write("Chart.yaml", &chart_yaml("c", "type: library\n"));
    assert_eq!(
        render_err(&s, ValueOptions::default()),
        "Error: library charts are not installable\n"
    );

    s.write("Chart.yaml", "apiVersion: v2\nname: c\n");
    assert_eq!(
        render_err(&s, ValueOptions::default()),
        "Error: validation: chart.metadata.version is required\n"
    );
}

#[test]
fn a_loaded_chart_renders_the_same_every_time() {
    let s = Scratch::new();
    s.write(
        "Chart.yaml",
        &chart_yaml(
            "top",
            "dependencies:\n- name: sub\n  version: 1.0.0\n  import-values: [data]\n",
        ),
    );
    s.write("values.yaml", "data: {mine: 1}\n");
    s.write(
        "templates/cm.yaml",
        "kind: ConfigMap\ndata: {{ toJson .Values.data }}\ntheirs: {{ .Values.theirs }}\n{{- $_ := set .Values \"touched\" true }}\n",
    );
    s.write("charts/sub/Chart.yaml", &chart_yaml("sub", ""));
    s.write("charts/sub/values.yaml", "exports: {data: {theirs: 2}}\n");
    let chart = action::load_installable(&s.0).expect("loads");
    let render = |set: &[&str]| {
        let values = ValueOptions {
            set: set.iter().map(|v| v.to_string()).collect(),
            ..ValueOptions::default()
        };
        let user = action::merge_user_values(&values).expect("values");
        action::template(&chart, &user, &opts())
            .expect("renders")
            .stdout
    };
    let first = render(&[]);
    // A string import merges the child's `exports.data` table into the parent's root.
    assert!(first.contains("data: {\"mine\":1}\ntheirs: 2"), "{first}");
    let other = render(&["data.mine=5"]);
    assert!(other.contains("data: {\"mine\":5}\ntheirs: 2"), "{other}");
    // Neither dependency processing nor templates changed the loaded chart.
    assert_eq!(render(&[]), first);
}
