//! The values files of the 1,000-variant benchmark: one per cluster of a fleet (replicas,
//! image tag, region labels, resources, autoscaling, monitoring and ingress differ), for the
//! corpus chart `podinfo`. Shared by the `helm_variants` example and the `render` bench, so
//! that `scripts/bench-helm.sh`, the bench and the tests render the same inputs.

/// The corpus chart the variants are for, relative to the corpus folder.
#[allow(dead_code)] // used by the bench and the tests
pub const CHART: &str = "charts/podinfo";

const REGIONS: [&str; 8] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
];

/// The file name of variant `i`.
pub fn file_name(i: usize) -> String {
    format!("cluster-{i:04}.yaml")
}

/// The YAML values of variant `i` (every `i` gives a different text).
pub fn variant(i: usize) -> String {
    let cluster = format!("cluster-{i:04}");
    let region = REGIONS[i % REGIONS.len()];
    let replicas = 1 + i % 5;
    let tag = format!("6.{}.{}", 5 + i % 10, i % 7);
    let cpu = 50 + (i % 20) * 10;
    let memory = 64 + (i % 8) * 32;
    let level = if i.is_multiple_of(2) { "info" } else { "debug" };
    let mut y = format!(
        "# variant {i}: {cluster} in {region}\n\
         replicaCount: {replicas}\n\
         logLevel: {level}\n\
         image:\n  tag: \"{tag}\"\n\
         ui:\n  message: \"served from {cluster} ({region})\"\n  color: \"#{:06x}\"\n\
         podAnnotations:\n  fleet.example.com/cluster: {cluster}\n  \
         topology.kubernetes.io/region: {region}\n\
         service:\n  additionalLabels:\n    topology.kubernetes.io/region: {region}\n    \
         fleet.example.com/cluster: {cluster}\n\
         resources:\n  limits:\n    memory: {}Mi\n  requests:\n    cpu: {cpu}m\n    \
         memory: {memory}Mi\n\
         extraArgs: [\"--level={level}\", \"--port-metrics=9797\"]\n",
        i.wrapping_mul(2_654_435_761) % 0x0100_0000,
        memory * 2,
    );
    if replicas > 1 {
        y.push_str("podDisruptionBudget:\n  maxUnavailable: 1\n");
    }
    if i.is_multiple_of(4) {
        y.push_str(&format!(
            "hpa:\n  enabled: true\n  maxReplicas: {}\n  cpu: {}\n",
            replicas + 4,
            60 + i % 30
        ));
    }
    if i.is_multiple_of(3) {
        y.push_str(&format!(
            "serviceMonitor:\n  enabled: true\n  interval: {}s\n  additionalLabels:\n    \
             release: monitoring-{region}\n",
            15 + (i % 4) * 15
        ));
    }
    if i.is_multiple_of(5) {
        y.push_str(&format!(
            "ingress:\n  enabled: true\n  className: nginx\n  hosts:\n    - host: podinfo.{cluster}.example.com\n      \
             paths:\n        - path: /\n          pathType: Prefix\n  tls:\n    - secretName: podinfo-tls\n      \
             hosts: [podinfo.{cluster}.example.com]\n"
        ));
    }
    y
}
