//! Scale-out: several `flotilla serve` replicas over one store.
//!
//! A cluster belongs to one of a fixed number of shards (a stable hash of its name), and each
//! shard is staged by the one replica that holds its lease, an object in the store
//! (`leases/shard-<k>.json`) created and renewed with conditional writes. Shards are spread
//! over the live replicas (each heartbeats `replicas/<id>.json`) by rendezvous hashing with
//! bounded load: no replica is given more than its share rounded up, and a replica joining or
//! leaving moves few shards. A lease no one renewed for its TTL (as the observer's own clock
//! measures it: clocks of different machines are never compared) is taken over with the next
//! epoch.
//!
//! Fencing: a replica that takes a shard first rewrites each of its clusters' records with the
//! new epoch, each conditional on the version it read; a record is only ever written
//! conditionally on the version its writer last saw. A replica that was paused past its lease
//! and wakes up finds its next write refused, drops the shard and says so.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Where leases are kept.
pub const LEASES: &str = "leases";
/// Where replicas' heartbeats are kept.
pub const REPLICAS: &str = "replicas";

/// How a replica takes part.
#[derive(Debug, Clone)]
pub struct ShardOptions {
    /// This replica's name (unique among the replicas of a store).
    pub replica: String,
    /// How many shards the clusters are split into (the same for every replica of a store).
    pub shards: u32,
    /// How long a lease lasts without a renewal.
    pub ttl: Duration,
}

impl Default for ShardOptions {
    fn default() -> Self {
        ShardOptions {
            replica: default_replica(),
            shards: DEFAULT_SHARDS,
            ttl: DEFAULT_TTL,
        }
    }
}

/// The default number of shards.
pub const DEFAULT_SHARDS: u32 = 16;
/// The default lease TTL.
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

/// The host's name (`HOSTNAME`, else `/etc/hostname`), else `flotilla`.
pub fn default_replica() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "flotilla".to_owned())
}

/// A shard's lease (`leases/shard-<k>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    pub shard: u32,
    /// The replica holding it; empty when released.
    pub holder: String,
    /// Grows by one with each new holder.
    pub epoch: u64,
    /// Unix milliseconds of the last renewal (for people: expiry is measured by observers).
    pub renewed_at: u64,
    pub ttl_ms: u64,
}

/// A replica's heartbeat (`replicas/<id>.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub replica: String,
    /// Unix milliseconds.
    pub at: u64,
    /// The shards it holds.
    pub shards: Vec<u32>,
    /// The agents that polled it, and when it last heard from each (unix seconds).
    #[serde(default)]
    pub agents: BTreeMap<String, u64>,
}

/// `leases/shard-<k>.json`.
pub fn lease_path(shard: u32) -> String {
    format!("{LEASES}/shard-{shard}.json")
}

/// `replicas/<id>.json`.
pub fn replica_path(replica: &str) -> String {
    format!("{REPLICAS}/{replica}.json")
}

/// FNV-1a: stable across builds and machines (every replica must agree).
fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // A final mix: FNV's low bits are weak for short keys.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// The shard of `cluster` among `shards`.
pub fn shard_of(cluster: &str, shards: u32) -> u32 {
    (hash(&[cluster.as_bytes()]) % u64::from(shards.max(1))) as u32
}

/// Which replica each shard should be held by: rendezvous hashing (each shard ranks the
/// replicas by a hash of both) with bounded load (a replica takes at most `ceil(shards /
/// replicas)`; a shard whose first choice is full goes to its next). `replicas` in any order;
/// every replica computes the same answer from the same set.
pub fn assign(shards: u32, replicas: &[String]) -> Vec<Option<String>> {
    let mut names: Vec<&String> = replicas.iter().collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return vec![None; shards as usize];
    }
    let cap = (shards as usize).div_ceil(names.len());
    let mut load: BTreeMap<&str, usize> = BTreeMap::new();
    (0..shards)
        .map(|k| {
            let key = k.to_be_bytes();
            let mut ranked: Vec<(u64, &String)> = names
                .iter()
                .map(|r| (hash(&[&key, r.as_bytes()]), *r))
                .collect();
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            let pick = ranked
                .into_iter()
                .map(|(_, r)| r)
                .find(|r| load.get(r.as_str()).copied().unwrap_or(0) < cap)?;
            *load.entry(pick.as_str()).or_default() += 1;
            Some(pick.clone())
        })
        .collect()
}

/// A lease this replica holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub epoch: u64,
    /// The lease object's version, for the next renewal.
    pub version: String,
}

/// What this replica knows of the shards: those it holds, and when it saw each lease and
/// heartbeat change (their expiry is measured from that, by this replica's clock).
#[derive(Debug)]
pub struct Shards {
    pub options: ShardOptions,
    held: Mutex<BTreeMap<u32, Held>>,
    /// Path → (version, when this replica first saw that version).
    observed: Mutex<BTreeMap<String, (String, Instant)>>,
}

impl Shards {
    pub fn new(options: ShardOptions) -> Shards {
        Shards {
            options,
            held: Mutex::new(BTreeMap::new()),
            observed: Mutex::new(BTreeMap::new()),
        }
    }

    /// The shard of `cluster`.
    pub fn shard_of(&self, cluster: &str) -> u32 {
        shard_of(cluster, self.options.shards)
    }

    /// The epoch of the lease under which this replica stages `cluster`, if it does.
    pub fn epoch_of(&self, cluster: &str) -> Option<u64> {
        let shard = self.shard_of(cluster);
        self.lock().get(&shard).map(|h| h.epoch)
    }

    /// The shards this replica holds, with their leases.
    pub fn held(&self) -> BTreeMap<u32, Held> {
        self.lock().clone()
    }

    /// Whether this replica holds every shard (the only replica, or the others gone).
    pub fn holds_all(&self) -> bool {
        self.lock().len() == self.options.shards as usize
    }

    /// Whether this replica holds shard 0, whose holder does the fleet-wide work (feedback,
    /// incidents, rollouts' steps).
    pub fn coordinates(&self) -> bool {
        self.lock().contains_key(&0)
    }

    pub(crate) fn hold(&self, shard: u32, held: Held) {
        self.lock().insert(shard, held);
    }

    /// Stops staging `shard`; true when it was held.
    pub(crate) fn drop_shard(&self, shard: u32) -> bool {
        self.lock().remove(&shard).is_some()
    }

    /// Notes that `path` is at `version` now; returns how long it has been at that version as
    /// this replica saw it.
    pub(crate) fn observe(&self, path: &str, version: &str) -> Duration {
        let mut observed = self.observed.lock().unwrap_or_else(|e| e.into_inner());
        match observed.get(path) {
            Some((v, since)) if v == version => since.elapsed(),
            _ => {
                observed.insert(path.to_owned(), (version.to_owned(), Instant::now()));
                Duration::ZERO
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("replica-{i}")).collect()
    }

    #[test]
    fn clusters_spread_over_shards_and_stay_put() {
        let mut counts = [0usize; 16];
        for i in 0..16_000 {
            counts[shard_of(&format!("cluster-{i:05}"), 16) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        assert_eq!(shard_of("prod-eu", 16), shard_of("prod-eu", 16));
        assert_eq!(shard_of("anything", 1), 0);
    }

    #[test]
    fn every_shard_has_one_replica_and_none_more_than_its_share() {
        for replicas in 1..=5 {
            let a = assign(16, &names(replicas));
            assert!(a.iter().all(Option::is_some));
            let mut load: BTreeMap<&str, usize> = BTreeMap::new();
            for r in a.iter().flatten() {
                *load.entry(r.as_str()).or_default() += 1;
            }
            let cap = 16usize.div_ceil(replicas);
            assert!(load.values().all(|l| *l <= cap), "{load:?}");
            assert_eq!(load.len(), replicas.min(16));
        }
        assert!(assign(4, &[]).iter().all(Option::is_none));
    }

    #[test]
    fn the_assignment_is_the_same_everywhere_and_moves_little() {
        let mut shuffled = names(3);
        shuffled.reverse();
        assert_eq!(assign(16, &names(3)), assign(16, &shuffled));
        // One replica more: the shards that move are about its share, not all of them.
        let before = assign(64, &names(3));
        let after = assign(64, &names(4));
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        assert!(moved <= 64 / 4 + 8, "{moved} of 64 shards moved");
        // One replica less: only its shards and those the bound pushes along move.
        let fewer = assign(64, &names(2));
        let kept = before
            .iter()
            .zip(&fewer)
            .filter(|(a, b)| a.as_deref() != Some("replica-2") && a == b)
            .count();
        assert!(kept >= 64 * 2 / 3 - 12, "{kept} kept");
    }

    #[test]
    fn observations_measure_time_at_one_version() {
        let s = Shards::new(ShardOptions {
            replica: "a".into(),
            shards: 2,
            ttl: Duration::from_secs(1),
        });
        assert_eq!(s.observe("leases/shard-0.json", "v1"), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(20));
        assert!(s.observe("leases/shard-0.json", "v1") >= Duration::from_millis(20));
        assert_eq!(s.observe("leases/shard-0.json", "v2"), Duration::ZERO);
        assert_eq!(s.epoch_of("x"), None);
        s.hold(
            s.shard_of("x"),
            Held {
                epoch: 3,
                version: "e".into(),
            },
        );
        assert_eq!(s.epoch_of("x"), Some(3));
        assert!(!s.holds_all());
        assert!(s.drop_shard(s.shard_of("x")));
        assert_eq!(s.epoch_of("x"), None);
    }
}
