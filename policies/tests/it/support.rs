//! Helpers shared by the tests: a cluster in memory, the crate's folder.

use std::collections::BTreeMap;
use std::path::Path;

use syntax::model::{ClusterName, ClusterSpec};

/// A cluster in memory.
pub fn cluster(name: &str, environment: &str) -> ClusterSpec {
    ClusterSpec {
        name: ClusterName::new(name),
        provider: "aws".into(),
        region: "us-east-1".into(),
        environment: environment.into(),
        tags: BTreeMap::new(),
        metadata: BTreeMap::new(),
        kubernetes: None,
        file: format!("clusters/{name}.yaml"),
    }
}

/// The folder of the crate.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
