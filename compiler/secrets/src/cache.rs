//! Decorators over a `SecretSource`: `ReadOnce` (each path read at most once per compile, shared
//! by every thread, prefetched concurrently) and `Counting` (how often each path reached the
//! source underneath).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::SecretError;
use crate::source::{SecretPath, SecretRef, SecretSource};
use crate::value::Secret;

type Outcome = Result<Arc<Secret>, SecretError>;

/// Reads each secret path from the source underneath at most once, whatever the number of
/// clusters, services and threads asking for it; failures are remembered too, so one compile
/// sees one consistent answer per path.
///
/// ```text
/// let secrets = ReadOnce::new(VaultSource::from_env()?);
/// secrets.prefetch(&refs_known_ahead);          // distinct paths, read concurrently
/// secrets.read(&secret_ref)?;                   // from the memo, or read once now
/// ```
///
/// Concurrent `fetch`es of a path that is being read wait for that read rather than starting
/// another one. Create one per compile: nothing is ever evicted.
pub struct ReadOnce<S> {
    inner: S,
    slots: Mutex<HashMap<SecretPath, Arc<Slot>>>,
}

#[derive(Default)]
struct Slot {
    outcome: Mutex<Option<Outcome>>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, outcome: Outcome) {
        *self.outcome.lock() = Some(outcome);
        self.ready.notify_all();
    }

    fn wait(&self) -> Outcome {
        let mut guard = self.outcome.lock();
        loop {
            if let Some(outcome) = guard.as_ref() {
                return outcome.clone();
            }
            self.ready.wait(&mut guard);
        }
    }
}

/// Fills a claimed slot with an error if the read panics, so waiters never hang.
struct Claim {
    path: SecretPath,
    slot: Arc<Slot>,
    filled: bool,
}

impl Claim {
    fn fill(mut self, outcome: Outcome) {
        self.slot.fill(outcome);
        self.filled = true;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.filled {
            self.slot.fill(Err(SecretError::Malformed {
                path: self.path.clone(),
                message: "the secret source panicked while reading".to_owned(),
            }));
        }
    }
}

/// What a [`ReadOnce::prefetch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefetched {
    /// Distinct paths read from the source by this call (paths already read or being read by
    /// another thread are not counted).
    pub paths_read: usize,
    /// The failures among them, one per path. The same errors come back from every later
    /// `read` of those paths, where the caller knows which service and cluster asked.
    pub errors: Vec<SecretError>,
}

impl<S: SecretSource> ReadOnce<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> ReadOnce<S> {
        ReadOnce {
            inner,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The source underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Reads, concurrently when the source can, every distinct path of `refs` not read yet.
    pub fn prefetch<'a>(&self, refs: impl IntoIterator<Item = &'a SecretRef>) -> Prefetched {
        let claims = self.claim(refs.into_iter().map(|r| &r.path));
        let paths: Vec<SecretPath> = claims.iter().map(|c| c.path.clone()).collect();
        let outcomes = self.inner.fetch_many(&paths);
        let mut done = Prefetched {
            paths_read: paths.len(),
            errors: Vec::new(),
        };
        let mut outcomes = outcomes.into_iter();
        for claim in claims {
            let outcome = outcomes.next().unwrap_or_else(|| {
                Err(SecretError::Malformed {
                    path: claim.path.clone(),
                    message: "the secret source returned too few results".to_owned(),
                })
            });
            if let Err(e) = &outcome {
                done.errors.push(e.clone());
            }
            claim.fill(outcome);
        }
        done
    }

    /// Claims the slots of the paths nobody has claimed yet (each distinct path once).
    fn claim<'a>(&self, paths: impl Iterator<Item = &'a SecretPath>) -> Vec<Claim> {
        let mut slots = self.slots.lock();
        let mut claims = Vec::new();
        for path in paths {
            if slots.contains_key(path) {
                continue;
            }
            let slot = Arc::new(Slot::default());
            slots.insert(path.clone(), Arc::clone(&slot));
            claims.push(Claim {
                path: path.clone(),
                slot,
                filled: false,
            });
        }
        claims
    }

    fn slot(&self, path: &SecretPath) -> Option<Arc<Slot>> {
        self.slots.lock().get(path).cloned()
    }
}

impl<S: SecretSource> SecretSource for ReadOnce<S> {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        if let Some(claim) = self.claim(std::iter::once(path)).pop() {
            let outcome = self.inner.fetch(path);
            claim.fill(outcome.clone());
            return outcome;
        }
        match self.slot(path) {
            Some(slot) => slot.wait(),
            // Unreachable: slots are never removed. Read directly rather than panic.
            None => self.inner.fetch(path),
        }
    }

    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        let claims = self.claim(paths.iter());
        if !claims.is_empty() {
            let claimed: Vec<SecretPath> = claims.iter().map(|c| c.path.clone()).collect();
            let mut outcomes = self.inner.fetch_many(&claimed).into_iter();
            for claim in claims {
                let outcome = outcomes.next().unwrap_or_else(|| {
                    Err(SecretError::Malformed {
                        path: claim.path.clone(),
                        message: "the secret source returned too few results".to_owned(),
                    })
                });
                claim.fill(outcome);
            }
        }
        paths.iter().map(|p| self.fetch(p)).collect()
    }
}

/// Counts the fetches of each path that reach the source underneath: the proof, in tests and in
/// `--stats` output, that a compile read each secret once.
pub struct Counting<S> {
    inner: S,
    counts: Mutex<BTreeMap<SecretPath, usize>>,
}

impl<S: SecretSource> Counting<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    /// The source underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Fetches of `path` so far.
    pub fn count(&self, path: &SecretPath) -> usize {
        self.counts.lock().get(path).copied().unwrap_or(0)
    }

    /// Fetches per path so far.
    pub fn counts(&self) -> BTreeMap<SecretPath, usize> {
        self.counts.lock().clone()
    }

    /// All fetches so far.
    pub fn total(&self) -> usize {
        self.counts.lock().values().sum()
    }

    fn bump(&self, path: &SecretPath) {
        *self.counts.lock().entry(path.clone()).or_insert(0) += 1;
    }
}

impl<S: SecretSource> SecretSource for Counting<S> {
    fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
        self.bump(path);
        self.inner.fetch(path)
    }

    fn fetch_many(&self, paths: &[SecretPath]) -> Vec<Result<Arc<Secret>, SecretError>> {
        for path in paths {
            self.bump(path);
        }
        self.inner.fetch_many(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::SecretValue;
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// A slow in-memory source: every path exists with one key, except `missing/*`.
    struct Slow;

    impl SecretSource for Slow {
        fn fetch(&self, path: &SecretPath) -> Result<Arc<Secret>, SecretError> {
            std::thread::sleep(Duration::from_millis(20));
            if path.as_str().starts_with("missing/") {
                return Err(SecretError::NotFound { path: path.clone() });
            }
            let keys = BTreeMap::from([("k".to_owned(), SecretValue::from(path.as_str()))]);
            Ok(Arc::new(Secret::new(path.clone(), keys)))
        }
    }

    fn r(path: &str, key: &str) -> SecretRef {
        SecretRef::new(path, key).unwrap()
    }

    #[test]
    fn prefetch_reads_each_path_once() {
        let src = ReadOnce::new(Counting::new(Slow));
        let refs = [
            r("a/x", "k"),
            r("a/x", "other"),
            r("a/y", "k"),
            r("missing/z", "k"),
            r("a/x", "k"),
        ];
        let done = src.prefetch(&refs);
        assert_eq!(done.paths_read, 3);
        assert_eq!(done.errors.len(), 1);
        assert_eq!(src.prefetch(&refs).paths_read, 0);
        assert_eq!(src.read(&refs[0]).unwrap().expose(), "a/x");
        assert_eq!(
            src.read(&refs[1]).unwrap_err().kind(),
            crate::ErrorKind::MissingKey
        );
        assert_eq!(
            src.read(&refs[3]).unwrap_err().kind(),
            crate::ErrorKind::NotFound
        );
        assert_eq!(src.inner().total(), 3);
    }

    #[test]
    fn concurrent_reads_share_one_fetch() {
        let src = ReadOnce::new(Counting::new(Slow));
        let refs: Vec<SecretRef> = (0..4).map(|i| r(&format!("p/{i}"), "k")).collect();
        std::thread::scope(|s| {
            for t in 0..16 {
                let (src, refs) = (&src, &refs);
                s.spawn(move || {
                    for i in 0..40 {
                        let one = &refs[(i + t) % refs.len()];
                        assert_eq!(src.read(one).unwrap().expose(), one.path.as_str());
                    }
                    src.prefetch(refs);
                });
            }
        });
        let counts = src.inner().counts();
        assert_eq!(counts.len(), 4);
        assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    }

    #[test]
    fn fetch_many_keeps_order_and_duplicates() {
        let src = ReadOnce::new(Counting::new(Slow));
        let paths: Vec<SecretPath> = ["b", "a", "b", "missing/c"]
            .iter()
            .map(|p| SecretPath::new(p).unwrap())
            .collect();
        let got = src.fetch_many(&paths);
        let got: Vec<String> = got
            .iter()
            .map(|o| match o {
                Ok(s) => s.path().to_string(),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(got, ["b", "a", "b", "secret \"missing/c\" not found"]);
        assert_eq!(src.inner().total(), 3);
    }
}
