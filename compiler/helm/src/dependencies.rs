//! Subchart selection and value imports (`chartutil.ProcessDependenciesWithMerge`): aliases,
//! `condition`, `tags`, and `import-values`.

use std::collections::HashSet;

use gotemplate::{Map, Value};

use crate::chart::{Chart, Dependency};
use crate::error::HelmError;
use crate::semver::is_compatible_range;
use crate::values::{self, merge_tables, merge_values, path_value, table};

const MAX_DEPTH: usize = 64;

/// `ProcessDependenciesWithMerge`, as `helm install` and `helm template` run it: drops
/// disabled subcharts, renames aliased ones, then imports values from children.
pub fn process_dependencies(chart: &mut Chart, user_values: &Map) -> Result<(), HelmError> {
    process_dependency_enabled(chart, user_values, "", 0)?;
    process_dependency_import_values(chart, 0)
}

/// `getAliasDependency`: a copy of the loaded subchart a requirement names, renamed to its
/// alias.
fn get_alias_dependency(charts: &[Chart], dep: &Dependency) -> Option<Chart> {
    for c in charts {
        if c.name() != dep.name {
            continue;
        }
        if !is_compatible_range(&dep.version, &c.metadata.version) {
            continue;
        }
        let mut out = c.clone();
        if !dep.alias.is_empty() {
            out.metadata.name = dep.alias.clone();
        }
        return Some(out);
    }
    None
}

fn process_dependency_enabled(
    c: &mut Chart,
    v: &Map,
    path: &str,
    depth: usize,
) -> Result<(), HelmError> {
    if depth > MAX_DEPTH {
        return Err(HelmError::Chart("subcharts nest too deeply".into()));
    }
    let Some(mut reqs) = c.metadata.dependencies.take() else {
        return Ok(());
    };
    let mut chart_deps = Vec::new();
    'existing: for existing in &c.dependencies {
        for req in &reqs {
            if existing.name() == req.name
                && is_compatible_range(&req.version, &existing.metadata.version)
            {
                continue 'existing;
            }
        }
        chart_deps.push(existing.clone());
    }
    for req in reqs.iter_mut() {
        if let Some(dep) = get_alias_dependency(&c.dependencies, req) {
            chart_deps.push(dep);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = chart_deps;
    for r in reqs.iter_mut() {
        r.enabled = true;
    }
    let cvals = values::coalesce_values(c, v)?;
    process_dependency_tags(&mut reqs, &cvals);
    process_dependency_conditions(&mut reqs, &cvals, path);
    let removed: HashSet<String> = reqs
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    let mut kept: Vec<Chart> = std::mem::take(&mut c.dependencies)
        .into_iter()
        .filter(|d| !removed.contains(d.name()))
        .collect();
    let kept_meta: Vec<Dependency> = reqs
        .into_iter()
        .filter(|r| !removed.contains(&r.name))
        .collect();
    for t in kept.iter_mut() {
        let sub_path = format!("{path}{}.", t.name());
        process_dependency_enabled(t, &cvals, &sub_path, depth + 1)?;
    }
    // Go appends the kept entries to a nil slice: none kept leaves it nil.
    c.metadata.dependencies = if kept_meta.is_empty() {
        None
    } else {
        Some(kept_meta)
    };
    c.dependencies = kept;
    Ok(())
}

/// `processDependencyTags`: a dependency with only false tags is disabled; one with a true
/// tag, or no tags set, is enabled.
fn process_dependency_tags(reqs: &mut [Dependency], cvals: &Map) {
    let Ok(tags) = table(cvals, "tags") else {
        return;
    };
    for r in reqs.iter_mut() {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            // A non-bool tag is skipped (Helm logs a warning).
            if let Some(Value::Bool(b)) = tags.get(k) {
                if b {
                    has_true = true;
                } else {
                    has_false = true;
                }
            }
        }
        r.enabled = has_true || !has_false;
    }
}

/// `processDependencyConditions`: the first condition path that holds a bool decides.
fn process_dependency_conditions(reqs: &mut [Dependency], cvals: &Map, cpath: &str) {
    for r in reqs.iter_mut() {
        let condition = r.condition.trim().to_string();
        for c in condition.split(',') {
            if c.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{cpath}{c}")) {
                r.enabled = b;
                break;
            }
            // A non-bool value: "Warning: Condition path ... returned non-bool value".
        }
    }
}

/// `pathToMap`: `data` nested under a dotted path (`.` is the root).
fn path_to_map(path: &str, data: Map) -> Map {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let m = Map::new();
        m.insert(part, Value::Map(cur));
        cur = m;
    }
    cur
}

/// `processImportValues` with merging: children's exported tables under the chart's own
/// values (the chart's values win).
fn process_import_values(c: &mut Chart) -> Result<(), HelmError> {
    if c.metadata.dependencies.is_none() {
        return Ok(());
    }
    let cvals = merge_values(c, &Map::new())?;
    let Some(reqs) = c.metadata.dependencies.as_mut() else {
        return Ok(());
    };
    let mut b = Map::new();
    for r in reqs.iter_mut() {
        let mut out = Vec::new();
        for riv in &r.import_values {
            match riv {
                Value::Map(iv) => {
                    let (Some(Value::String(child)), Some(Value::String(parent))) =
                        (iv.get("child"), iv.get("parent"))
                    else {
                        return Err(HelmError::Chart(format!(
                            "invalid import-values entry for dependency {}: child and parent must be strings",
                            r.name
                        )));
                    };
                    let entry = Map::new();
                    entry.insert("child", Value::String(child.clone()));
                    entry.insert("parent", Value::String(parent.clone()));
                    out.push(Value::Map(entry));
                    let Ok(vv) = table(&cvals, &format!("{}.{child}", r.name)) else {
                        // "Warning: ImportValues missing table from chart ..."
                        continue;
                    };
                    b = merge_tables(&b, &path_to_map(&parent, vv));
                }
                Value::String(iv) => {
                    let child = format!("exports.{iv}");
                    let entry = Map::new();
                    entry.insert("child", Value::from(child.clone()));
                    entry.insert("parent", Value::from("."));
                    out.push(Value::Map(entry));
                    let Ok(vm) = table(&cvals, &format!("{}.{child}", r.name)) else {
                        continue;
                    };
                    b = merge_tables(&b, &vm);
                }
                _ => {}
            }
        }
        r.import_values = out;
    }
    let cvals = cvals.deep_copy();
    c.values = merge_tables(&cvals, &b);
    Ok(())
}

fn process_dependency_import_values(c: &mut Chart, depth: usize) -> Result<(), HelmError> {
    if depth > MAX_DEPTH {
        return Err(HelmError::Chart("subcharts nest too deeply".into()));
    }
    for d in c.dependencies.iter_mut() {
        process_dependency_import_values(d, depth + 1)?;
    }
    process_import_values(c)
}

/// `action.CheckDependencies`: every requirement has a loaded subchart.
pub fn check_dependencies(c: &Chart) -> Result<(), HelmError> {
    let Some(reqs) = &c.metadata.dependencies else {
        return Ok(());
    };
    let missing: Vec<&str> = reqs
        .iter()
        .filter(|r| !c.dependencies.iter().any(|d| d.name() == r.name))
        .map(|r| r.name.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(HelmError::Chart(format!(
        "An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: {}",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Metadata;
    use crate::json::{canonical, decode};

    fn map(json: &str) -> Map {
        match decode(json) {
            Ok(Value::Map(m)) => m,
            other => panic!("test data {json}: {other:?}"),
        }
    }

    fn chart(name: &str, version: &str, values: &str) -> Chart {
        Chart {
            metadata: Metadata {
                name: name.into(),
                version: version.into(),
                api_version: "v2".into(),
                ..Metadata::default()
            },
            values: map(values),
            ..Chart::default()
        }
    }

    fn dep(name: &str, alias: &str, condition: &str, tags: &[&str]) -> Dependency {
        Dependency {
            name: name.into(),
            version: ">=1.0.0".into(),
            alias: alias.into(),
            condition: condition.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Dependency::default()
        }
    }

    fn umbrella(values: &str) -> Chart {
        let mut top = chart("top", "1.0.0", values);
        top.metadata.dependencies = Some(vec![
            dep("web", "front", "", &[]),
            dep("web", "back", "back.enabled", &[]),
            dep("extra", "", "", &["extras"]),
        ]);
        top.dependencies = vec![
            chart("web", "1.2.0", r#"{"port":80}"#),
            chart("extra", "1.0.0", "{}"),
        ];
        top
    }

    fn names(c: &Chart) -> Vec<String> {
        c.dependencies
            .iter()
            .map(|d| d.name().to_string())
            .collect()
    }

    #[test]
    fn aliases_conditions_and_tags() {
        let mut c = umbrella(r#"{"back":{"enabled":false},"tags":{"extras":true}}"#);
        process_dependencies(&mut c, &Map::new()).unwrap();
        assert_eq!(names(&c), ["front", "extra"]);

        let mut c = umbrella(r#"{"tags":{"extras":false}}"#);
        process_dependencies(&mut c, &map(r#"{"back":{"enabled":true}}"#)).unwrap();
        assert_eq!(names(&c), ["front", "back"]);

        // No tags table at all: tagged charts stay enabled.
        let mut c = umbrella("{}");
        process_dependencies(&mut c, &Map::new()).unwrap();
        assert_eq!(names(&c), ["front", "back", "extra"]);
    }

    #[test]
    fn import_values_merge_under_the_parent() {
        let mut top = chart("top", "1.0.0", r#"{"data":{"mine":1}}"#);
        let mut d = dep("child", "", "", &[]);
        d.import_values = vec![
            Value::from("defaults"),
            Value::Map(map(r#"{"child":"deep.table","parent":"data"}"#)),
        ];
        top.metadata.dependencies = Some(vec![d]);
        top.dependencies = vec![chart(
            "child",
            "1.0.0",
            r#"{"exports":{"defaults":{"imported":true}},"deep":{"table":{"mine":2,"theirs":3}}}"#,
        )];
        process_dependencies(&mut top, &Map::new()).unwrap();
        let v = Value::Map(top.values.clone());
        let text = canonical(&v);
        assert!(text.contains(r#""data":{"mine":1f,"theirs":3f}"#), "{text}");
        assert!(text.contains(r#""imported":true"#), "{text}");
    }

    #[test]
    fn missing_dependencies_are_reported() {
        let mut top = chart("top", "1.0.0", "{}");
        top.metadata.dependencies = Some(vec![dep("gone", "", "", &[])]);
        let e = check_dependencies(&top).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("missing in charts/ directory: gone")
        );
    }
}
