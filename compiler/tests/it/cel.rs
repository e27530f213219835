//! CEL in selectors: the helpers Kubernetes users expect, the checker's diagnostics, and
//! hostile selectors that must neither panic nor hang.

use std::collections::BTreeMap;

use compiler::model::{ClusterName, ClusterSpec, Data};
use compiler::targeting::{self, DataBounds, Evaluator, Outcome};

fn cluster() -> ClusterSpec {
    let mut metadata = BTreeMap::new();
    metadata.insert("kubernetesVersion".into(), Data::String("1.30.4".into()));
    metadata.insert("podIP".into(), Data::String("10.10.4.17".into()));
    metadata.insert("podIPv6".into(), Data::String("fd00::17".into()));
    metadata.insert("nodes".into(), Data::Int(42));
    metadata.insert("ratio".into(), Data::Float(0.5));
    metadata.insert(
        "zones".into(),
        Data::List(vec![
            Data::String("us-east-1a".into()),
            Data::String("us-east-1b".into()),
        ]),
    );
    let mut nested = BTreeMap::new();
    nested.insert("enabled".into(), Data::Bool(true));
    metadata.insert("gpu".into(), Data::Map(nested));
    ClusterSpec {
        name: ClusterName::new("aws-prod-use1"),
        provider: "aws".into(),
        region: "us-east-1".into(),
        environment: "prod".into(),
        tags: [("tier", "edge"), ("pci", "true"), ("Team", "Platform")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        metadata,
        kubernetes: Some(compiler::model::Kubernetes {
            version: "1.31.2".into(),
            api_versions: vec!["monitoring.coreos.com/v1".into()],
        }),
        file: "clusters/aws-prod-use1.yaml".into(),
    }
}

/// `true`, `false`, `error: <message>` (evaluation) or `<code>: <message>` (compilation).
fn run(expr: &str) -> String {
    match targeting::compile(expr, DataBounds::default()) {
        Err(problems) => problems
            .iter()
            .map(|p| format!("{}: {}", p.code, p.message))
            .collect::<Vec<_>>()
            .join("; "),
        Ok(selector) => {
            let value = targeting::cluster_value(&cluster());
            match Evaluator::new().eval(&selector, &value) {
                Outcome::Selected => "true".into(),
                Outcome::NotSelected => "false".into(),
                Outcome::Error(e) => format!("error: {e}"),
            }
        }
    }
}

fn check(expr: &str, expect: &str) {
    assert_eq!(run(expr), expect, "{expr}");
}

#[test]
fn cluster_fields() {
    check(r#"cluster.name == "aws-prod-use1""#, "true");
    check(
        r#"cluster.provider == "aws" && cluster.region == "us-east-1""#,
        "true",
    );
    check(r#"cluster.environment in ["staging", "prod"]"#, "true");
    check(r#"cluster.tags.tier == "edge""#, "true");
    check(r#"cluster.tags["pci"] == "true""#, "true");
    check(r#""tier" in cluster.tags"#, "true");
    check(r#"has(cluster.tags.gpu)"#, "false");
    check(
        r#"has(cluster.metadata.gpu) && cluster.metadata.gpu.enabled"#,
        "true",
    );
    check("cluster.metadata.nodes > 40", "true");
    check("cluster.metadata.ratio < 1.0", "true");
    check("cluster.metadata.nodes > 40.5", "true");
    check(
        r#"semver(cluster.kubernetes.version).isGreaterThan(semver("1.30.0"))"#,
        "true",
    );
    check(
        r#""monitoring.coreos.com/v1" in cluster.kubernetes.apiVersions"#,
        "true",
    );
}

#[test]
fn string_helpers() {
    check(r#"cluster.region.startsWith("us-")"#, "true");
    check(r#"cluster.region.endsWith("-1")"#, "true");
    check(r#"cluster.name.contains("prod")"#, "true");
    check(
        r#"cluster.region.matches("^us-(east|west)-[0-9]$")"#,
        "true",
    );
    check(r#"matches(cluster.region, "^eu-")"#, "false");
    check(r#"cluster.tags.Team.lowerAscii() == "platform""#, "true");
    check(r#"cluster.provider.upperAscii() == "AWS""#, "true");
    check(
        r#"cluster.region.split("-") == ["us", "east", "1"]"#,
        "true",
    );
    check(
        r#"cluster.region.split("-").join("_") == "us_east_1""#,
        "true",
    );
    check(r#"cluster.region.substring(0, 2) == "us""#, "true");
    check(r#"cluster.region.indexOf("east") == 3"#, "true");
    check(r#"cluster.region.replace("-", "") == "useast1""#, "true");
    check(r#"" x ".trim() == "x""#, "true");
    check(r#"size(cluster.name) == 13"#, "true");
    check(r#"cluster.name.size() == 13"#, "true");
    // An invalid regular expression fails when it runs.
    check(
        r#"cluster.name.matches("(")"#,
        "cel::regex: invalid regex \"(\": unclosed group",
    );
}

#[test]
fn list_macros() {
    check(
        r#"cluster.metadata.zones.all(z, z.startsWith("us-east-1"))"#,
        "true",
    );
    check(
        r#"cluster.metadata.zones.exists(z, z.endsWith("b"))"#,
        "true",
    );
    check(
        r#"cluster.metadata.zones.exists_one(z, z.endsWith("a"))"#,
        "true",
    );
    check(
        r#"cluster.metadata.zones.map(z, z.substring(9)) == ["a", "b"]"#,
        "true",
    );
    check(
        r#"cluster.metadata.zones.filter(z, z.endsWith("b")).size() == 1"#,
        "true",
    );
    check(r#"size(cluster.metadata.zones) >= 2"#, "true");
    check(r#""us-east-1b" in cluster.metadata.zones"#, "true");
    check(r#"cluster.tags.all(k, k.size() > 0)"#, "true");
    check(r#"[1, 2, 3].map(x, x * 2) == [2, 4, 6]"#, "true");
}

#[test]
fn semver_helpers() {
    check(
        r#"semver(cluster.metadata.kubernetesVersion).isGreaterThan(semver("1.29.0"))"#,
        "true",
    );
    check(
        r#"semver(cluster.metadata.kubernetesVersion).isLessThan(semver("1.29.0"))"#,
        "false",
    );
    check(
        r#"semver("1.30.4").compareTo(semver("1.30.4")) == 0"#,
        "true",
    );
    check(
        r#"semver("1.2.3").compareTo(semver("1.10.0")) == -1"#,
        "true",
    );
    check(
        r#"semver("1.30.4").major() == 1 && semver("1.30.4").minor() == 30"#,
        "true",
    );
    check(r#"semver("1.30.4").patch() == 4"#, "true");
    check(r#"semver("v1.30", true) == semver("1.30.0")"#, "true");
    check(r#"isSemver("1.2.3") && !isSemver("v1.2.3")"#, "true");
    check(r#"isSemver("v1.2", true)"#, "true");
    check(
        r#"semver("v1.2.3").major() == 1"#,
        "cel::semver: invalid semantic version \"v1.2.3\"",
    );
}

#[test]
fn ip_and_cidr_helpers() {
    check(
        r#"cidr("10.0.0.0/8").containsIP(ip(cluster.metadata.podIP))"#,
        "true",
    );
    check(
        r#"cidr("10.0.0.0/8").containsIP(cluster.metadata.podIP)"#,
        "true",
    );
    check(
        r#"cidr("192.168.0.0/16").containsIP(ip(cluster.metadata.podIP))"#,
        "false",
    );
    check(
        r#"cidr("fd00::/8").containsIP(ip(cluster.metadata.podIPv6))"#,
        "true",
    );
    check(
        r#"cidr("10.0.0.0/8").containsCIDR(cidr("10.1.0.0/16"))"#,
        "true",
    );
    check(r#"cidr("10.1.0.0/16").containsCIDR("10.0.0.0/8")"#, "false");
    check(
        r#"cidr("10.1.2.3/16").masked() == cidr("10.1.0.0/16")"#,
        "true",
    );
    check(r#"cidr("10.1.2.3/16").prefixLength() == 16"#, "true");
    check(r#"cidr("10.1.2.3/16").ip() == ip("10.1.2.3")"#, "true");
    check(r#"ip(cluster.metadata.podIP).family() == 4"#, "true");
    check(
        r#"ip("::1").family() == 6 && ip("::1").isLoopback()"#,
        "true",
    );
    check(r#"ip("0.0.0.0").isUnspecified()"#, "true");
    check(r#"ip("fe80::1").isLinkLocalUnicast()"#, "true");
    check(r#"ip("224.0.0.251").isLinkLocalMulticast()"#, "true");
    check(r#"ip("8.8.8.8").isGlobalUnicast()"#, "true");
    check(r#"isIP("10.0.0.1") && !isIP("10.0.0.256")"#, "true");
    check(r#"isCIDR("10.0.0.0/8") && !isCIDR("10.0.0.0/33")"#, "true");
    check(
        r#"ip("300.1.1.1").family() == 4"#,
        "cel::ip: invalid IP address \"300.1.1.1\"",
    );
}

#[test]
fn the_checker_knows_the_schema() {
    check(
        r#"cluster.regoin == "us-east-1""#,
        "cel::unknown-field: cluster has no field `regoin`",
    );
    check(
        r#"region == "x""#,
        "cel::unknown-variable: undeclared reference to `region`",
    );
    check(
        r#"cluster.name.lower() == "x""#,
        "cel::unknown-function: undeclared reference to function `lower`",
    );
    check(
        r#"cluster.name.startsWith(1)"#,
        "cel::no-overload: found no matching overload for 'startsWith' applied to 'string.(int)'",
    );
    check(
        r#"cluster.name == 1"#,
        "cel::no-overload: found no matching overload for '_==_' applied to '(string, int)'",
    );
    check(
        r#"cluster.name"#,
        "cel::type: a selector must be a bool, this one is a string",
    );
    check(
        r#"cluster.name.foo"#,
        "cel::type: type 'string' does not support field selection",
    );
    check(
        r#"semver("1.0.0").isGreaterThan("0.9.0")"#,
        "cel::no-overload: found no matching overload for 'isGreaterThan' applied to 'kubernetes.Semver.(string)'",
    );
    check(
        r#"cluster.tags.size() + 1"#,
        "cel::type: a selector must be a bool, this one is a int",
    );
    // Metadata is free-form: the checker lets it through and evaluation decides.
    check(r#"cluster.metadata.nope == 1"#, "error: no such key: nope");
    check(
        r#"cluster.name = "x""#,
        "cel::syntax: CEL writes `==`, not `=`",
    );
}

#[test]
fn syntax_errors_are_told_in_cel_terms() {
    check(
        r#"cluster.name == "x" and cluster.region == "y""#,
        "cel::syntax: CEL writes `&&`, not `and`",
    );
    check(
        r#"cluster.name == "x" OR not has(cluster.tags.x)"#,
        "cel::syntax: CEL writes `||`, not `OR`; cel::syntax: CEL writes `!`, not `not`",
    );
    // `==`, `!=`, `<=`, `>=` are not a lone `=`, nor are words in strings or field names.
    check(
        r#"cluster.tags.and != "=" && cluster.name <= "or""#,
        "error: no such key: and",
    );
    let unclosed = targeting::compile(r#"cluster.name.startsWith("a""#, DataBounds::default())
        .expect_err("does not parse");
    assert_eq!(unclosed.len(), 1, "{unclosed:?}");
    assert!(!unclosed[0].message.contains("expecting"), "{unclosed:?}");
    assert_eq!(unclosed[0].help.as_deref(), Some("a `(` is not closed"));
}

#[test]
fn equality_between_literals_of_two_numeric_types_is_refused() {
    check(
        "1 == 1.0",
        "cel::no-overload: found no matching overload for '_==_' applied to '(int, double)'",
    );
    check(
        "cluster.tags.size() != 2u",
        "cel::no-overload: found no matching overload for '_!=_' applied to '(int, uint)'",
    );
    check(
        "1 in [1.0, 2.0]",
        "cel::no-overload: found no matching overload for '@in' applied to '(int, list(double))'",
    );
    // Metadata is dynamic: it compares across numeric types when the selector runs.
    check("cluster.metadata.nodes == 42.0", "true");
    check("cluster.metadata.ratio == 0.5 && 1 < 1.5", "true");
}

#[test]
fn literal_arguments_are_checked_before_running() {
    check(
        r#"cluster.name.matches("^(eu")"#,
        "cel::regex: invalid regex \"^(eu\": unclosed group",
    );
    check(
        r#"matches(cluster.name, "[a-")"#,
        "cel::regex: invalid regex \"[a-\": unclosed character class",
    );
    check(
        r#"semver("1.x").major() == 1"#,
        "cel::semver: invalid semantic version \"1.x\"",
    );
    check(
        r#"semver("v1.2").major() == 1"#,
        "cel::semver: invalid semantic version \"v1.2\"",
    );
    check(r#"semver("v1.2", true).major() == 1"#, "true");
    check(
        r#"cidr("10.0.0.0/33").containsIP("10.0.0.1")"#,
        "cel::cidr: invalid CIDR \"10.0.0.0/33\"",
    );
    check(
        r#"ip("10.0.0.300").family() == 4"#,
        "cel::ip: invalid IP address \"10.0.0.300\"",
    );
    // Patterns that come from the cluster are checked when they run.
    check(r#"cluster.name.matches(cluster.provider)"#, "true");
    check(
        r#"semver(cluster.metadata.podIP).major() == 1"#,
        "error: error executing function 'semver': invalid semver: 10.10.4.17",
    );
}

#[test]
fn semver_normalization_is_kubernetes() {
    check(r#"semver("v01.020", true) == semver("1.20.0")"#, "true");
    check(r#"semver("1.2.03-rc.1", true).patch() == 3"#, "true");
    check(r#"isSemver("1.2-rc.1", true)"#, "false");
    check(r#"isSemver("01.2.3")"#, "false");
}

#[test]
fn cheap_chains_of_string_functions_are_not_refused() {
    let cost = |expr: &str| {
        targeting::compile(expr, DataBounds { max_len: 20 })
            .map(|s| s.cost)
            .map_err(|p| format!("{p:?}"))
    };
    // Five calls on short strings: cheap, as cel-go estimates them.
    let chain = r#"cluster.name.replace("-", "_").replace("prod", "production").lowerAscii().trim().replace("_", "--") == "x""#;
    let c = cost(chain).expect("a cheap chain compiles");
    assert!(c < 1_000, "{c}");
    check(chain, "false");
    check(
        r#"cluster.name.replace("-", "_").replace("aws", "amazon").upperAscii().reverse().substring(0, 3) == "1ES""#,
        "true",
    );
    // An empty pattern inserts the replacement everywhere: the bound grows, but stays linear.
    let c =
        cost(r#"cluster.name.replace("", "ab").replace("", "cd").size() > 0"#).expect("compiles");
    assert!(c < 10_000, "{c}");
    // What really is costly is still refused.
    let costly = format!(
        "cluster.name{} == \"x\"",
        r#".replace("", "abcdefgh")"#.repeat(8)
    );
    assert!(cost(&costly).is_err(), "{costly}");
}

#[test]
fn a_runtime_failure_is_located_in_the_selector() {
    let locate = |expr: &str| {
        let selector = targeting::compile(expr, DataBounds::default()).expect("compiles");
        let value = targeting::cluster_value(&cluster());
        let f = Evaluator::new()
            .locate(&selector, &[("cluster", &value)])
            .expect("fails");
        (expr[f.range.clone()].to_owned(), f.message, f.value, f.kind)
    };
    let (at, message, _, kind) =
        locate(r#"cluster.provider == "aws" && cluster.tags.teem == "platform""#);
    assert_eq!(at, "cluster.tags.teem");
    assert_eq!(message, "`cluster.tags` has no key `teem`");
    assert_eq!(
        kind,
        targeting::FailureKind::MissingKey {
            key: "teem".into(),
            map: Some(vec!["tags".into()])
        }
    );
    let (at, _, value, kind) =
        locate(r#"cluster.provider == "aws" && cluster.metadata.nodes > "3""#);
    assert_eq!(at, r#"cluster.metadata.nodes > "3""#);
    assert_eq!(value.as_deref(), Some(r#"42 and "3""#));
    assert_eq!(kind, targeting::FailureKind::Type);
    let (at, message, value, _) = locate(r#"semver(cluster.metadata.podIP).major() == 1"#);
    assert_eq!(at, "semver(cluster.metadata.podIP)");
    assert_eq!(
        message,
        "`semver` was given a value that is not a semantic version"
    );
    assert_eq!(value.as_deref(), Some(r#""10.10.4.17""#));
    let (at, _, _, _) = locate(r#"cluster.name == "x" ? true : cluster.metadata["gone"] == 1"#);
    assert_eq!(at, r#"cluster.metadata["gone"]"#);
    let ok = targeting::compile("true", DataBounds::default()).expect("compiles");
    let value = targeting::cluster_value(&cluster());
    assert_eq!(Evaluator::new().locate(&ok, &[("cluster", &value)]), None);
}

#[test]
fn the_cost_of_a_selector_is_bounded() {
    let list: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    let l = format!("[{}]", list.join(","));
    // 100 × 100 iterations are fine; 100 × 100 × 100 are not.
    check(&format!("{l}.all(a, {l}.all(b, a + b >= 0))"), "true");
    check(
        &format!("{l}.all(a, {l}.all(b, {l}.all(c, a + b + c >= 0)))"),
        "cel::cost: the selector may cost up to 21111103 to evaluate, more than the limit of 1000000",
    );
    let long = format!("cluster.name == \"{}\"", "x".repeat(5000));
    check(
        &long,
        "cel::limit: the selector is 5018 bytes long, more than the limit of 4096",
    );
}

/// Whatever the input, compiling and evaluating returns: no panic, no hang, no stack overflow.
#[test]
fn hostile_selectors_do_not_panic() {
    let mut inputs: Vec<String> = vec![
        "(".repeat(3000),
        format!("{}true{}", "(".repeat(1000), ")".repeat(1000)),
        format!("{}1", "-".repeat(3000)),
        format!("{}true", "!".repeat(3000)),
        std::iter::repeat_n("1", 1500).collect::<Vec<_>>().join("+") + " > 0",
        std::iter::repeat_n("true", 1000)
            .collect::<Vec<_>>()
            .join(" && "),
        format!("{}1{}", "[".repeat(1000), "]".repeat(1000)),
        format!("{}{}", "{1:".repeat(500), "}".repeat(500)),
        "cluster.".repeat(500) + "name",
        "a.b(".repeat(600),
        "\"\\u00".into(),
        "'\\xZZ'".into(),
        "b\"\\377\" == b\"\\377\"".into(),
        "\u{0}\u{1}\u{7f}".into(),
        "🦀 == 🦀".into(),
        "9223372036854775807 + 1 > 0".into(),
        "-9223372036854775808 - 1 < 0".into(),
        "1 / 0 == 1".into(),
        "1 % 0 == 1".into(),
        "int(\"x\") == 1".into(),
        "int(1e100) == 1".into(),
        "uint(-1) == 1u".into(),
        "dyn(1).foo".into(),
        "size(cluster) > 0".into(),
        "cluster.tags[1] == \"\"".into(),
        "cluster.metadata.zones[99] == \"\"".into(),
        "cluster.metadata.zones[-1] == \"\"".into(),
        "type(cluster) == map".into(),
        "\"a\".matches(\"(((((((((((((((((((((((((((((((\")".into(),
        "\"a\".matches(\"\\\\\")".into(),
        "\"x\".substring(5) == \"\"".into(),
        "\"x\".charAt(-1) == \"\"".into(),
        "\"%s\".format([1, 2]) == \"\"".into(),
        "\"abc\".split(\"\", -5) == []".into(),
        "\"abc\".indexOf(\"\", 99) == 0".into(),
        "cidr(\"::/0\").containsIP(\"::1\")".into(),
        "cidr(\"1.2.3.4/999999999999\").prefixLength() > 0".into(),
        "semver(\"99999999999999999999.0.0\").major() > 0".into(),
        "{1: 2, 1: 3}.size() == 1".into(),
        "[1, 2].map(x, [x].map(y, y)).size() == 2".into(),
        "cluster.metadata.zones.map(z, cluster.metadata.zones.map(y, z + y)).size() > 0".into(),
        "has(cluster)".into(),
        "has(1.x)".into(),
        "x.all(y, y)".into(),
        "[].all(x, x)".into(),
        "{}.exists(k, k)".into(),
        "null == null".into(),
        "1 == 1.0".into(),
        "1u < 2".into(),
        "[1] + \"x\" == []".into(),
        "true ? 1 : \"a\"".into(),
        "(true ? cluster : cluster).name == \"\"".into(),
        "cluster.metadata.gpu.enabled.x == 1".into(),
        "google.protobuf.Duration{seconds: 1} == 1".into(),
        "optional.of(1).hasValue()".into(),
        "cluster.?name".into(),
        "timestamp(\"x\") == 1".into(),
        "".into(),
        " ".into(),
        "\n\n\n".into(),
    ];
    inputs.push("'".repeat(4000));
    inputs.push("\"".repeat(4001));
    // Returning is the test; the snapshot documents what each input gives.
    let mut out = String::new();
    for input in &inputs {
        let shown: String = input.chars().take(40).collect();
        let more = if input.chars().count() > 40 {
            "…"
        } else {
            ""
        };
        let result: String = run(input).chars().take(160).collect();
        out.push_str(&format!("{shown:?}{more}\n  => {result}\n"));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn selectors_know_what_they_read_of_the_cluster() {
    let check = |expr: &str, expect: Option<&[&str]>| {
        let reads = targeting::compile(expr, DataBounds::default())
            .map(|s| s.reads)
            .unwrap_or_else(|p| panic!("{expr}: {p:?}"));
        let got = reads.map(|r| r.iter().map(|c| c.join(".")).collect::<Vec<_>>());
        let expect = expect.map(|e| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(got, expect, "{expr}");
    };
    check("true", Some(&[]));
    check(
        r#"cluster.environment == "prod" && cluster.tags.tier in ["edge"]"#,
        Some(&["environment", "tags.tier"]),
    );
    check("has(cluster.metadata.dnsZone)", Some(&["metadata.dnsZone"]));
    check(
        r#"cluster.tags.exists(k, k.startsWith("x")) || cluster.metadata["nodes"] > 3"#,
        Some(&["metadata", "tags"]),
    );
    check(
        r#"semver(cluster.metadata.kubernetesVersion).isGreaterThan(semver("1.29.0"))"#,
        Some(&["metadata.kubernetesVersion"]),
    );
    // `cluster` used whole, or shadowed: every field may matter.
    check(r#"[cluster].size() == 1"#, None);
    check(r#"[1].exists(cluster, cluster == 1)"#, None);
}

#[test]
fn selections_are_the_same_with_and_without_sharing() {
    // A selector over one field decides once per distinct value; it must agree with a
    // selector that reads the whole cluster (so is evaluated on every one).
    let files = crate::example::example_fleet();
    let compiled = crate::support::compile(&files);
    for (name, spec) in &compiled.fleet.services {
        let text = format!("[cluster].size() == 1 && ({})", spec.selector.text);
        let whole = compiler::select(&files, &text, false);
        let by_field: Vec<&ClusterName> = compiled.selection.clusters_of(name.as_str());
        let whole: Vec<&ClusterName> = whole.matches.iter().collect();
        assert_eq!(by_field, whole, "{name}");
    }
}
