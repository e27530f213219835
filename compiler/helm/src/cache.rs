//! A content-addressed render cache: renders with the same chart content, user values and
//! options are computed once. Keys are SHA-256 digests over canonical encodings of the inputs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use gotemplate::{Map, Value};
use sha2::{Digest, Sha256};

use crate::action::{self, TemplateOptions, TemplateOutput};
use crate::chart::{Chart, File};
use crate::error::HelmError;
use crate::json::canonical;

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

fn put(h: &mut Sha256, tag: &str, bytes: &[u8]) {
    // Length-prefixed fields, so that no two inputs share an encoding.
    h.update(tag.as_bytes());
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn put_files(h: &mut Sha256, tag: &str, files: &[File]) {
    put(h, tag, &(files.len() as u64).to_le_bytes());
    for f in files {
        put(h, "name", f.name.as_bytes());
        put(h, "data", &f.data);
    }
}

fn hash_chart(h: &mut Sha256, c: &Chart, depth: usize) {
    put(h, "metadata", format!("{:?}", c.metadata).as_bytes());
    put_files(h, "templates", &c.templates);
    put_files(h, "files", &c.files);
    put(
        h,
        "values",
        canonical(&Value::Map(c.values.clone())).as_bytes(),
    );
    put(h, "schema", c.schema.as_deref().unwrap_or(b"\0none"));
    put(h, "deps", &(c.dependencies.len() as u64).to_le_bytes());
    if depth < 64 {
        for d in &c.dependencies {
            hash_chart(h, d, depth + 1);
        }
    }
}

/// The digest of a chart's content (metadata, templates, files, values, schema, subcharts).
pub fn chart_digest(c: &Chart) -> Digest32 {
    let mut h = Sha256::new();
    hash_chart(&mut h, c, 0);
    h.finalize().into()
}

/// The digest of a values tree (type-exact: `1` and `1.0` differ, as they render differently).
pub fn values_digest(v: &Map) -> Digest32 {
    let mut h = Sha256::new();
    put(
        &mut h,
        "values",
        canonical(&Value::Map(v.clone())).as_bytes(),
    );
    h.finalize().into()
}

/// The key of one render.
pub fn render_key(chart: &Digest32, values: &Digest32, opts: &TemplateOptions) -> Digest32 {
    let mut h = Sha256::new();
    put(&mut h, "chart", chart);
    put(&mut h, "values", values);
    put(&mut h, "options", format!("{opts:?}").as_bytes());
    h.finalize().into()
}

type Slot = Arc<OnceLock<Result<TemplateOutput, HelmError>>>;

/// Renders `helm template` output, once per distinct (chart, values, options).
#[derive(Debug, Default)]
pub struct RenderCache {
    slots: Mutex<HashMap<Digest32, Slot>>,
    renders: AtomicU64,
    hits: AtomicU64,
}

impl RenderCache {
    pub fn new() -> RenderCache {
        RenderCache::default()
    }

    /// [`action::template`], memoized.
    pub fn template(
        &self,
        chart: &Chart,
        user_values: &Map,
        opts: &TemplateOptions,
    ) -> Result<TemplateOutput, HelmError> {
        self.template_with_digest(chart, &chart_digest(chart), user_values, opts)
    }

    /// [`RenderCache::template`] with the chart's [`chart_digest`] computed once by the
    /// caller: hashing a chart costs about a tenth of a render and most of a cache hit, so
    /// many renders of one loaded chart should not rehash it. `digest` must be
    /// `chart_digest(chart)` of this very chart (another digest answers another chart's
    /// renders).
    pub fn template_with_digest(
        &self,
        chart: &Chart,
        digest: &Digest32,
        user_values: &Map,
        opts: &TemplateOptions,
    ) -> Result<TemplateOutput, HelmError> {
        let key = render_key(digest, &values_digest(user_values), opts);
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.entry(key).or_default().clone()
        };
        let mut fresh = false;
        let result = slot.get_or_init(|| {
            fresh = true;
            self.renders.fetch_add(1, Ordering::Relaxed);
            action::template(chart, user_values, opts)
        });
        if !fresh {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        result.clone()
    }

    /// How many renders ran.
    pub fn renders(&self) -> u64 {
        self.renders.load(Ordering::Relaxed)
    }

    /// How many renders were answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Metadata;

    fn chart(values: Map) -> Chart {
        Chart {
            metadata: Metadata {
                name: "c".into(),
                version: "1.0.0".into(),
                api_version: "v2".into(),
                ..Metadata::default()
            },
            values,
            ..Chart::default()
        }
    }

    #[test]
    fn digests_are_type_exact_and_stable() {
        let a = Map::new();
        a.insert("x", Value::Int(1));
        let b = Map::new();
        b.insert("x", Value::Float(1.0));
        assert_ne!(values_digest(&a), values_digest(&b));
        assert_eq!(values_digest(&a), values_digest(&a.deep_copy()));
        assert_eq!(
            chart_digest(&chart(a.clone())),
            chart_digest(&chart(a.deep_copy()))
        );
        assert_ne!(chart_digest(&chart(a)), chart_digest(&chart(b)));
    }

    #[test]
    fn identical_renders_run_once() {
        let cache = RenderCache::new();
        let c = chart(Map::new());
        let opts = TemplateOptions::default();
        let first = cache.template(&c, &Map::new(), &opts);
        let second = cache.template(&c, &Map::new(), &opts);
        assert_eq!(first, second);
        assert_eq!(cache.renders(), 1);
        assert_eq!(cache.hits(), 1);
        let other = TemplateOptions {
            namespace: "other".into(),
            ..TemplateOptions::default()
        };
        let _ = cache.template(&c, &Map::new(), &other);
        assert_eq!(cache.renders(), 2);
        // A digest computed once answers as the chart itself does.
        let digest = chart_digest(&c);
        let third = cache.template_with_digest(&c, &digest, &Map::new(), &opts);
        assert_eq!(third, first);
        assert_eq!((cache.renders(), cache.hits()), (2, 2));
    }
}
