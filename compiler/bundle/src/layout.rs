//! Where each part of a bundle lives, relative to the bundle's root (a folder or a prefix in
//! an object store).

use plan::Digest;

/// The plan document.
pub const PLAN_FILE: &str = plan::PLAN_FILE;
/// The folder of manifests, named by their SHA-256 digest in hex.
pub const OBJECTS: &str = "objects/sha256";
/// The folder of cluster indexes.
pub const CLUSTERS: &str = "clusters";
/// The spans of secret values in the manifests (`compiler::redact::Redactions`), one file for
/// the whole bundle, written only when some manifest holds a secret value.
pub const REDACTIONS_FILE: &str = compiler::redact::REDACTIONS_FILE;

/// `objects/sha256/<hex>`: where the manifest with this digest lives.
pub fn object(digest: &Digest) -> String {
    format!("{OBJECTS}/{}", digest.hex())
}

/// `clusters/<cluster>.yaml`: the cluster's index.
pub fn cluster_index(cluster: &str) -> String {
    format!("{CLUSTERS}/{cluster}.yaml")
}

/// The folder of a staging area's indexes (the runtime's, written by [`crate::stage`]).
pub const INDEXES: &str = "indexes";

/// `indexes/<cluster>/<hex>.yaml`: a cluster's index with this digest in a staging area. An
/// index there is never replaced (its name is its content), so the record that names the
/// current one is the only thing a stager changes, and a stager that lost the right to stage
/// cannot change what a record already names.
pub fn staged_index(cluster: &str, digest: &Digest) -> String {
    format!("{INDEXES}/{cluster}/{}.yaml", digest.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            object(&Digest::of(b"")),
            "objects/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            cluster_index("aws-prod-use1"),
            "clusters/aws-prod-use1.yaml"
        );
        assert_eq!(
            staged_index("aws-prod-use1", &Digest::of(b"")),
            "indexes/aws-prod-use1/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.yaml"
        );
    }
}
