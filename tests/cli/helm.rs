//! `flotilla helm template` run as users run it, on small charts written into a scratch folder:
//! what it prints on success, and on each kind of mistake the error helm 3.17.3 prints (every
//! expected stderr below was printed by the real `helm template` on the same chart and
//! arguments, run from the same folder) with the documented exit code: 1 for chart, values and
//! template errors, 2 for usage errors (where helm itself exits 1).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "flotilla-cli-helm-{}-{}-{test}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }

    /// Writes `path` (folders made as needed) under the scratch folder.
    fn write(&self, path: &str, content: &str) -> &Scratch {
        let p = self.0.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(p, content).expect("file");
        self
    }

    /// A chart folder `name` with a v2 `Chart.yaml` and the given files.
    fn chart(&self, name: &str, files: &[(&str, &str)]) -> &Scratch {
        self.write(
            &format!("{name}/Chart.yaml"),
            &format!("apiVersion: v2\nname: {name}\nversion: 0.1.0\n"),
        );
        for (path, content) in files {
            self.write(&format!("{name}/{path}"), content);
        }
        self
    }

    /// `flotilla helm template ARGS...` from the scratch folder: exit code, stdout, stderr.
    fn template(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .current_dir(&self.0)
            .args(["helm", "template"])
            .args(args)
            .output()
            .expect("flotilla runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicas | quote }}
";

/// The chart `demo`: one ConfigMap from two values.
fn demo(s: &Scratch) {
    s.chart(
        "demo",
        &[
            ("values.yaml", "greeting: hello\nreplicas: 1\n"),
            ("templates/cm.yaml", CONFIGMAP),
        ],
    );
}

/// Asserts a failure: exit code, nothing on stdout, exactly helm's stderr.
fn check_error(got: (i32, String, String), code: i32, stderr: &str) {
    let (c, out, err) = got;
    assert_eq!(err, stderr);
    assert_eq!(out, "");
    assert_eq!(c, code, "exit code");
}

#[test]
fn a_chart_renders_as_helm_prints_it() {
    let s = Scratch::new("ok");
    demo(&s);
    let (code, out, err) = s.template(&["fleet", "demo", "-n", "apps"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        out,
        "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  \
         name: fleet-cm\ndata:\n  greeting: \"hello\"\n  replicas: \"1\"\n"
    );
    // Values files and --set apply in helm's order (files, then --set).
    s.write("prod.yaml", "greeting: hi\nreplicas: 2\n");
    let (code, out, _) = s.template(&["fleet", "demo", "-f", "prod.yaml", "--set", "replicas=5"]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with("  greeting: \"hi\"\n  replicas: \"5\"\n"),
        "{out}"
    );
}

#[test]
fn a_template_that_does_not_parse_is_positioned() {
    let s = Scratch::new("parse");
    s.chart(
        "broken",
        &[(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: {{ .Values.x | quote\n",
        )],
    );
    check_error(
        s.template(&["broken"]),
        1,
        "Error: parse error at (broken/templates/cm.yaml:5): unclosed action started at \
         broken/templates/cm.yaml:4\n\nUse --debug flag to render out invalid YAML\n",
    );
    // Go reports an `if` left open at the end of the file, on the line after the last.
    s.chart(
        "unended",
        &[(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: {{ if .Values.x }}\n",
        )],
    );
    check_error(
        s.template(&["unended"]),
        1,
        "Error: parse error at (unended/templates/cm.yaml:5): unexpected EOF\n\n\
         Use --debug flag to render out invalid YAML\n",
    );
}

#[test]
fn a_values_file_that_is_not_yaml_names_the_file_and_line() {
    let s = Scratch::new("values");
    demo(&s);
    s.write("bad.yaml", "replicas: 2\nports: [80, 443\n");
    check_error(
        s.template(&["demo", "-f", "bad.yaml"]),
        1,
        "Error: failed to parse bad.yaml: error converting YAML to JSON: yaml: line 2: did not \
         find expected ',' or ']'\n",
    );
    s.write("indent.yaml", "a:\n  b: 1\n c: 2\n");
    check_error(
        s.template(&["demo", "-f", "indent.yaml"]),
        1,
        "Error: failed to parse indent.yaml: error converting YAML to JSON: yaml: line 2: did \
         not find expected key\n",
    );
    s.write("list.yaml", "- 1\n- 2\n");
    check_error(
        s.template(&["demo", "-f", "list.yaml"]),
        1,
        "Error: failed to parse list.yaml: error unmarshaling JSON: while decoding JSON: json: \
         cannot unmarshal array into Go value of type map[string]interface {}\n",
    );
    check_error(
        s.template(&["demo", "-f", "missing.yaml"]),
        1,
        "Error: open missing.yaml: no such file or directory\n",
    );
}

#[test]
fn a_missing_required_value_is_positioned() {
    let s = Scratch::new("required");
    s.chart(
        "req",
        &[
            ("values.yaml", "image:\n  repository: nginx\n"),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\ndata:\n  \
                 tag: {{ required \"image.tag is required\" .Values.image.tag }}\n",
            ),
        ],
    );
    check_error(
        s.template(&["req"]),
        1,
        "Error: execution error at (req/templates/cm.yaml:4:10): image.tag is required\n\n\
         Use --debug flag to render out invalid YAML\n",
    );
    // Given, it renders.
    let (code, out, _) = s.template(&["req", "--set", "image.tag=1.27"]);
    assert_eq!(code, 0);
    assert!(out.ends_with("  tag: 1.27\n"), "{out}");
}

#[test]
fn an_execution_error_is_positioned() {
    let s = Scratch::new("exec");
    s.chart("nilp", &[("templates/cm.yaml", "a: {{ .Values.a.b.c }}\n")]);
    check_error(
        s.template(&["nilp"]),
        1,
        "Error: template: nilp/templates/cm.yaml:1:13: executing \"nilp/templates/cm.yaml\" at \
         <.Values.a.b.c>: nil pointer evaluating interface {}.b\n\n\
         Use --debug flag to render out invalid YAML\n",
    );
    s.chart(
        "yamlerr",
        &[(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: [1\n",
        )],
    );
    check_error(
        s.template(&["yamlerr"]),
        1,
        "Error: YAML parse error on yamlerr/templates/cm.yaml: error converting YAML to JSON: \
         yaml: line 4: did not find expected ',' or ']'\n\n\
         Use --debug flag to render out invalid YAML\n",
    );
}

#[test]
fn values_that_break_the_schema_name_the_chart_and_field() {
    let s = Scratch::new("schema");
    s.chart(
        "schema",
        &[
            ("values.yaml", "greeting: hello\nreplicas: 1\n"),
            ("templates/cm.yaml", CONFIGMAP),
            (
                "values.schema.json",
                r#"{
  "$schema": "https://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "replicas": {"type": "integer", "minimum": 1}
  },
  "required": ["greeting"]
}
"#,
            ),
        ],
    );
    check_error(
        s.template(&["schema", "--set", "replicas=0"]),
        1,
        "Error: values don't meet the specifications of the schema(s) in the following \
         chart(s):\nschema:\n- replicas: Must be greater than or equal to 1\n\n",
    );
    check_error(
        s.template(&["schema", "--set", "replicas=abc"]),
        1,
        "Error: values don't meet the specifications of the schema(s) in the following \
         chart(s):\nschema:\n- replicas: Invalid type. Expected: integer, given: string\n\n",
    );
    // --skip-schema-validation renders anyway.
    let (code, out, _) = s.template(&["schema", "--set", "replicas=0", "--skip-schema-validation"]);
    assert_eq!(code, 0);
    assert!(out.ends_with("  replicas: \"0\"\n"), "{out}");
}

#[test]
fn an_unknown_chart_path_is_an_error() {
    let s = Scratch::new("path");
    check_error(
        s.template(&["./nope"]),
        1,
        "Error: path \"./nope\" not found\n",
    );
    check_error(
        s.template(&["nope"]),
        1,
        "Error: non-absolute URLs should be in form of repo_name/path_to_chart, got: nope\n",
    );
    // A path under the scratch folder, given absolute.
    let absolute = s.path().join("missing-chart");
    let absolute = absolute.to_string_lossy();
    check_error(
        s.template(&[&absolute]),
        1,
        &format!("Error: path \"{absolute}\" not found\n"),
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let s = Scratch::new("usage");
    demo(&s);
    // helm prints the same text and exits 1; flotilla's usage errors exit 2.
    check_error(
        s.template(&["demo", "--kube-version", "abc"]),
        2,
        "Error: invalid kube version 'abc': Invalid Semantic Version\n",
    );
    check_error(
        s.template(&["demo", "--show-only", "templates/nope.yaml"]),
        2,
        "Error: could not find template templates/nope.yaml in chart\n",
    );
    // No chart: helm's message, with flotilla's name.
    check_error(
        s.template(&[]),
        2,
        "Error: \"flotilla helm template\" requires at least 1 argument\n\nUsage:  flotilla helm template [NAME] [CHART] [flags]\n",
    );
}
