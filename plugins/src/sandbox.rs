//! What a plugin sees of the world: WASI 0.2 with no files, network, environment or arguments,
//! a fixed clock, seeded randomness, captured output, and a memory limiter.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use crate::error::Output;

/// How much of each of the plugin's stdout and stderr is kept: the last 4 KiB.
pub(crate) const OUTPUT_CAPTURE_BYTES: usize = 4096;

/// The largest table a plugin may grow (elements).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// The fixed world every call sees. Two calls with the same request see the same clock and the
/// same random numbers, so a plugin cannot make plans irreproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxConfig {
    /// What `wasi:clocks/wall-clock.now` returns, in seconds since the Unix epoch.
    pub wall_clock_secs: u64,
    /// Mixed with the plugin digest and the request into each call's random seed.
    pub random_seed: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        // 2000-01-01T00:00:00Z: obviously not "now", so nobody mistakes it for a real time.
        SandboxConfig {
            wall_clock_secs: 946_684_800,
            random_seed: 0,
        }
    }
}

/// The data of one call's `Store`.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    stdout: TailPipe,
    stderr: TailPipe,
}

impl Sandbox {
    /// A sandbox for one call; `seed` should be derived from the plugin and the request.
    pub(crate) fn new(config: &SandboxConfig, memory_bytes: u64, seed: u64) -> Sandbox {
        let stdout = TailPipe::new(OUTPUT_CAPTURE_BYTES);
        let stderr = TailPipe::new(OUTPUT_CAPTURE_BYTES);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FixedWallClock(Duration::from_secs(config.wall_clock_secs)))
            .monotonic_clock(FixedMonotonicClock)
            .secure_random(SplitMix64::new(seed))
            .insecure_random(SplitMix64::new(seed ^ 0x9e37_79b9_7f4a_7c15))
            .insecure_random_seed((u128::from(seed) << 64) | u128::from(!seed))
            .max_random_size(1 << 20)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        Sandbox {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: memory_bytes,
                used: 0,
                exceeded: false,
            },
            stdout,
            stderr,
        }
    }

    /// What the plugin wrote so far (the last few KiB of each stream).
    pub(crate) fn output(&self) -> Output {
        Output {
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }
}

/// An output stream that never fills up: it keeps the last `capacity` bytes written and counts
/// the rest, so a chatty plugin neither traps nor grows the host's memory.
#[derive(Clone)]
pub(crate) struct TailPipe {
    inner: Arc<Mutex<Tail>>,
}

struct Tail {
    capacity: usize,
    kept: VecDeque<u8>,
    dropped: u64,
}

impl TailPipe {
    pub(crate) fn new(capacity: usize) -> TailPipe {
        TailPipe {
            inner: Arc::new(Mutex::new(Tail {
                capacity,
                kept: VecDeque::new(),
                dropped: 0,
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let mut tail = self.inner.lock();
        let capacity = tail.capacity;
        let skip = bytes.len().saturating_sub(capacity);
        tail.dropped += skip as u64;
        tail.kept.extend(&bytes[skip..]);
        let excess = tail.kept.len().saturating_sub(capacity);
        tail.kept.drain(..excess);
        tail.dropped += excess as u64;
    }

    /// The kept bytes, lossily decoded and trimmed, after a note of how much came before.
    pub(crate) fn text(&self) -> String {
        let tail = self.inner.lock();
        let (a, b) = tail.kept.as_slices();
        let mut bytes = Vec::with_capacity(a.len() + b.len());
        bytes.extend_from_slice(a);
        bytes.extend_from_slice(b);
        let text = String::from_utf8_lossy(&bytes);
        // A cut may fall inside a character: drop its replacement character at the start.
        let text = if tail.dropped > 0 {
            text.trim_start_matches('\u{fffd}')
        } else {
            &text
        };
        let text = text.trim();
        if tail.dropped > 0 && !text.is_empty() {
            format!("[… {} earlier bytes not kept]\n{text}", tail.dropped)
        } else {
            text.to_string()
        }
    }
}

impl IsTerminal for TailPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TailPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for TailPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always room: old bytes make way for new ones.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for TailPipe {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for TailPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps the sum of all of a store's linear memories. Growing past the cap is an error (a trap
/// the host recognises) rather than a `-1` from `memory.grow`, so a memory bomb stops at once.
pub(crate) struct MemoryLimiter {
    limit: u64,
    used: u64,
    pub(crate) exceeded: bool,
}

/// The error a call fails with when it hits its memory cap.
#[derive(Debug)]
pub(crate) struct MemoryCapExceeded;

impl std::fmt::Display for MemoryCapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory limit exceeded")
    }
}

impl std::error::Error for MemoryCapExceeded {}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow = (desired as u64).saturating_sub(current as u64);
        let after = self.used.saturating_add(grow);
        if after > self.limit {
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryCapExceeded));
        }
        self.used = after;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

struct FixedWallClock(Duration);

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// A monotonic clock that never moves: a plugin cannot measure time.
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, portable across versions of everything, and
/// fully determined by its seed. Not cryptographic, on purpose: plugins get no secrets.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for SplitMix64 {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_the_published_sequence() {
        // First outputs of SplitMix64 seeded with 0 (the reference implementation's values).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn fill_bytes_covers_odd_lengths() {
        use rand_core::TryRng;
        let mut a = SplitMix64::new(7);
        let mut buf = [0u8; 11];
        let Ok(()) = a.try_fill_bytes(&mut buf);
        let mut b = SplitMix64::new(7);
        let first = b.next().to_le_bytes();
        let second = b.next().to_le_bytes();
        assert_eq!(&buf[..8], &first);
        assert_eq!(&buf[8..], &second[..3]);
    }

    #[test]
    fn tail_pipes_keep_the_last_bytes() {
        let check = |capacity: usize, writes: &[&str], expect: &str| {
            let pipe = TailPipe::new(capacity);
            for w in writes {
                pipe.push(w.as_bytes());
            }
            assert_eq!(pipe.text(), expect, "{writes:?} into {capacity}");
        };
        check(8, &[], "");
        check(8, &["hello\n"], "hello");
        check(8, &["abc", "def"], "abcdef");
        check(
            8,
            &["abcdef", "ghijkl"],
            "[… 4 earlier bytes not kept]\nefghijkl",
        );
        check(4, &["0123456789"], "[… 6 earlier bytes not kept]\n6789");
        // "é" is two bytes: a cut through it is not shown as a broken character.
        check(3, &["xéab"], "[… 2 earlier bytes not kept]\nab");
        check(8, &["ab", "   \n"], "ab");
    }

    #[test]
    fn memory_limiter_counts_all_memories() {
        let mut l = MemoryLimiter {
            limit: 100,
            used: 0,
            exceeded: false,
        };
        assert!(l.memory_growing(0, 60, None).is_ok());
        assert!(l.memory_growing(0, 40, None).is_ok());
        assert!(l.memory_growing(40, 41, None).is_err());
        assert!(l.exceeded);
    }
}
