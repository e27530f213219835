//! Synthetic fleets for benchmarks and load tests: N clusters and M services, deterministic
//! for a seed, shaped like a real fleet (three clouds, dev/staging/prod, tags and metadata,
//! base services everywhere and applications on subsets, values that depend on the cluster).
//!
//! Shape: services `svc-000`..; the first [`BASE_SERVICES`] are selected everywhere and form a
//! dependency chain pairwise (`svc-001` depends on `svc-000`, …); every other service depends
//! on one or two base services and is selected by environment, provider, tag or Kubernetes
//! version. One service in [`PER_CLUSTER_EVERY`] puts the cluster's name and DNS zone in its
//! values (so it renders once per cluster); the others depend only on environment, provider,
//! region and tier (so their renders are shared by many clusters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use syntax::FleetFiles;

/// Services selected on every cluster.
pub const BASE_SERVICES: usize = 5;
/// One service in this many has values unique to each cluster.
pub const PER_CLUSTER_EVERY: usize = 10;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    pub clusters: usize,
    pub services: usize,
    pub seed: u64,
}

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PROVIDERS: &[(&str, &[&str])] = &[
    (
        "aws",
        &[
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "eu-central-1",
            "ap-southeast-1",
        ],
    ),
    (
        "gcp",
        &["us-central1", "europe-west1", "europe-west4", "asia-east1"],
    ),
    (
        "azure",
        &["eastus", "westus2", "westeurope", "southeastasia"],
    ),
];
const ENVIRONMENTS: &[&str] = &["dev", "dev", "staging", "prod", "prod", "prod"];
const TIERS: &[&str] = &["core", "core", "edge", "sandbox"];
const TEAMS: &[&str] = &[
    "platform", "payments", "search", "identity", "data", "growth", "ml", "storage",
];
const VERSIONS: &[&str] = &["1.28.9", "1.29.7", "1.30.4", "1.31.1"];

/// The charts services use: each kind is written once under `charts/<kind>`.
const CHART_KINDS: &[&str] = &["web-app", "worker", "daemon", "operator"];

/// Generates the fleet's files in memory.
pub fn generate(config: FleetConfig) -> FleetFiles {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut rng = Rng(config.seed ^ 0x5eed_f1ee_7000_0000);
    for i in 0..config.clusters {
        let (provider, regions) = PROVIDERS[rng.below(PROVIDERS.len())];
        let region = rng.pick(regions);
        let env = rng.pick(ENVIRONMENTS);
        let name = format!("{provider}-{env}-{i:05}");
        let tier = rng.pick(TIERS);
        let team = rng.pick(TEAMS);
        let pci = if rng.below(4) == 0 { "true" } else { "false" };
        let version = rng.pick(VERSIONS);
        let nodes = 3 + rng.below(200);
        let zones: Vec<String> = (0..1 + rng.below(3))
            .map(|z| format!("{region}-{}", ["a", "b", "c"][z]))
            .collect();
        let text = format!(
            "name: {name}\nprovider: {provider}\nregion: {region}\nenvironment: {env}\n\
             tags:\n  tier: {tier}\n  team: {team}\n  pci: \"{pci}\"\n\
             metadata:\n  kubernetesVersion: \"{version}\"\n  nodes: {nodes}\n  \
             zones: [{}]\n  dnsZone: {name}.{env}.example.com\n  podCIDR: \"10.{}.0.0/16\"\n",
            zones.join(", "),
            i % 250,
        );
        files.insert(format!("clusters/{name}.yaml"), text);
    }
    for j in 0..config.services {
        let name = format!("svc-{j:03}");
        let kind = CHART_KINDS[j % CHART_KINDS.len()];
        let (selector, deps) = if j < BASE_SERVICES {
            let deps = if j == 0 {
                String::new()
            } else {
                format!("svc-{:03}", j - 1)
            };
            ("'true'".to_owned(), deps)
        } else {
            let selector = match rng.below(6) {
                0 => "'true'".to_owned(),
                1 => format!(
                    "'cluster.environment == \"{}\"'",
                    rng.pick(&["staging", "prod"])
                ),
                2 => format!(
                    "'cluster.environment != \"dev\" && cluster.provider == \"{}\"'",
                    PROVIDERS[rng.below(PROVIDERS.len())].0
                ),
                3 => format!("'cluster.tags.team == \"{}\"'", rng.pick(TEAMS)),
                4 => "'cluster.tags.tier in [\"core\", \"edge\"]'".to_owned(),
                _ => {
                    "'semver(cluster.metadata.kubernetesVersion).isGreaterThan(semver(\"1.29.0\"))'"
                        .to_owned()
                }
            };
            let a = rng.below(BASE_SERVICES);
            let b = rng.below(BASE_SERVICES);
            let deps = if a == b {
                format!("svc-{a:03}")
            } else {
                format!("svc-{:03}, svc-{:03}", a.min(b), a.max(b))
            };
            (selector, deps)
        };
        let per_cluster = j % PER_CLUSTER_EVERY == PER_CLUSTER_EVERY - 1;
        let mut values = String::new();
        let _ = writeln!(
            values,
            "  replicas: {{{{ if eq .Cluster.environment \"prod\" }}}}{}{{{{ else }}}}1{{{{ end }}}}",
            2 + j % 3
        );
        values.push_str("  image:\n");
        let _ = writeln!(values, "    repository: registry.example.com/{name}");
        let _ = writeln!(values, "    tag: \"{}.{}.0\"", 1 + j % 4, j % 17);
        values.push_str("  env:\n");
        values.push_str("    ENVIRONMENT: {{ .Cluster.environment }}\n");
        values.push_str("    CLOUD: {{ .Cluster.provider | upper }}\n");
        values.push_str("    REGION: {{ .Cluster.region }}\n");
        values.push_str("  resources:\n    requests:\n");
        values.push_str(
            "      cpu: {{ if eq .Cluster.tags.tier \"edge\" }}500m{{ else }}100m{{ end }}\n",
        );
        values.push_str("      memory: 128Mi\n");
        values.push_str("  labels:\n    team: {{ .Service.owners.team }}\n");
        if per_cluster {
            values.push_str("  cluster: {{ .Cluster.name }}\n");
            values.push_str("  host: {{ .Service.name }}.{{ .Cluster.metadata.dnsZone }}\n");
        }
        let text = format!(
            "name: {name}\nowners: {{team: {team}}}\nchart: {{path: ../../charts/{kind}}}\n\
             selector: {selector}\ndependsOn: [{deps}]\nrelease: {{name: {name}, namespace: {ns}}}\n\
             values: |\n{values}",
            team = TEAMS[j % TEAMS.len()],
            ns = TEAMS[j % TEAMS.len()],
        );
        files.insert(format!("services/{name}/service.yaml"), text);
    }
    let mut out = FleetFiles::from_files(files);
    for kind in CHART_KINDS {
        for (path, text) in chart(kind) {
            out.files.insert(format!("charts/{kind}/{path}"), text);
        }
    }
    out
}

/// A small chart of each kind.
fn chart(kind: &str) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "Chart.yaml".to_owned(),
            format!("apiVersion: v2\nname: {kind}\nversion: 1.0.0\nappVersion: \"1.0.0\"\n"),
        ),
        (
            "values.yaml".to_owned(),
            "replicas: 1\nimage:\n  repository: nginx\n  tag: latest\nenv: {}\nlabels: {}\nresources: {}\nport: 8080\n".to_owned(),
        ),
        (
            "templates/_helpers.tpl".to_owned(),
            "{{- define \"labels\" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\napp.kubernetes.io/instance: {{ .Release.Name }}\n{{- with .Values.labels }}\n{{ toYaml . }}\n{{- end }}\n{{- end -}}\n".to_owned(),
        ),
        (
            "templates/configmap.yaml".to_owned(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n  labels:\n    {{- include \"labels\" . | nindent 4 }}\ndata:\n  {{- range $k, $v := .Values.env }}\n  {{ $k }}: {{ $v | quote }}\n  {{- end }}\n  {{- with .Values.cluster }}\n  CLUSTER: {{ . | quote }}\n  {{- end }}\n  {{- with .Values.host }}\n  PUBLIC_HOST: {{ . | quote }}\n  {{- end }}\n".to_owned(),
        ),
    ];
    let workload = if kind == "daemon" {
        "DaemonSet"
    } else {
        "Deployment"
    };
    let replicas = if kind == "daemon" {
        ""
    } else {
        "  replicas: {{ .Values.replicas }}\n"
    };
    files.push((
        "templates/workload.yaml".to_owned(),
        format!(
            "apiVersion: apps/v1\nkind: {workload}\nmetadata:\n  name: {{{{ .Release.Name }}}}\n  labels:\n    {{{{- include \"labels\" . | nindent 4 }}}}\nspec:\n{replicas}  selector:\n    matchLabels:\n      app.kubernetes.io/instance: {{{{ .Release.Name }}}}\n  template:\n    metadata:\n      labels:\n        {{{{- include \"labels\" . | nindent 8 }}}}\n    spec:\n      containers:\n        - name: main\n          image: \"{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}\"\n          envFrom:\n            - configMapRef:\n                name: {{{{ .Release.Name }}}}\n          ports:\n            - name: http\n              containerPort: {{{{ .Values.port }}}}\n          readinessProbe:\n            httpGet:\n              path: /ready\n              port: http\n          resources:\n            {{{{- toYaml .Values.resources | nindent 12 }}}}\n"
        ),
    ));
    if kind == "web-app" {
        files.push((
            "templates/service.yaml".to_owned(),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n  selector:\n    app.kubernetes.io/instance: {{ .Release.Name }}\n".to_owned(),
        ));
    }
    if kind == "operator" {
        files.push((
            "crds/widgets.yaml".to_owned(),
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names:\n    kind: Widget\n    plural: widgets\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n".to_owned(),
        ));
    }
    files
}

/// Writes a generated fleet under `dir` (which must not exist or be empty).
pub fn write(files: &FleetFiles, dir: &Path) -> std::io::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists and is not empty", dir.display()),
        ));
    }
    for (path, text) in &files.files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(full, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let config = FleetConfig {
            clusters: 7,
            services: 12,
            seed: 1,
        };
        let a = generate(config);
        assert_eq!(a, generate(config));
        let count = |prefix: &str| a.files.keys().filter(|k| k.starts_with(prefix)).count();
        assert_eq!(count("clusters/"), 7);
        assert_eq!(count("services/"), 12);
        assert_ne!(a, generate(FleetConfig { seed: 2, ..config }));
    }
}
