//! The process-wide engine every plugin shares: configuration (pooling allocator, fuel, epochs),
//! the WASI linker, the epoch ticker thread and the gate that bounds concurrent calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use wasmtime::component::{Linker, Resource};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};
use wasmtime_wasi::p2::DynPollable;

use crate::error::HostError;
use crate::limits::Limits;
use crate::sandbox::Sandbox;

/// How often the epoch advances while calls run: the resolution of `timeoutMs`.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Calls that may run at once (each holds one pooled instance); more wait for a free slot.
pub(crate) const MAX_CONCURRENT_CALLS: usize = 32;

/// Pooled component instances: the calls plus room for long-lived instances (benchmarks,
/// `PluginInstance`), which do not take a call slot.
const POOL_INSTANCES: u32 = 2 * MAX_CONCURRENT_CALLS as u32;

/// Names the engine configuration in the compiled-artifact cache key: bump it whenever
/// `engine_config` changes in a way that changes compiled code.
pub(crate) const CONFIG_TAG: &str = "flotilla-plugins-engine-1";

/// The WASI version whose clock functions are replaced (wasmtime-wasi 48 provides 0.2.12;
/// guests importing any 0.2.x are matched to it).
const WASI_MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The shared engine, linker and ticker.
pub(crate) struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Sandbox>,
    pub(crate) pooling: bool,
    ticker: Ticker,
    gate: Gate,
}

/// The runtime, started on first use. An error (no thread, no address space) is kept and
/// returned to every caller.
pub(crate) fn runtime() -> Result<&'static Runtime, HostError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(Runtime::start)
        .as_ref()
        .map_err(|message| HostError {
            message: message.clone(),
        })
}

fn engine_config(pooling: bool) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .max_wasm_stack(1 << 20);
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 32)
            .max_core_instances_per_component(64)
            .total_memories(POOL_INSTANCES * 4)
            .max_memories_per_component(8)
            .total_tables(POOL_INSTANCES * 16)
            .max_tables_per_component(32)
            .table_elements(100_000)
            // Reset the first MiB of a freed memory by memset rather than madvise: halves the
            // cost of a fresh instance of a small plugin; larger values slowed Python guests.
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(64 << 10)
            .total_stacks(0)
            .max_memory_size((Limits::MAX_MEMORY_MIB << 20) as usize);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl Runtime {
    fn start() -> Result<Runtime, String> {
        // The pooling allocator reserves address space up front; where that is refused
        // (a tight `ulimit -v`), fall back to allocating on demand.
        let (engine, pooling) = match Engine::new(&engine_config(true)) {
            Ok(engine) => (engine, true),
            Err(_) => (
                Engine::new(&engine_config(false)).map_err(|e| format!("{e:#}"))?,
                false,
            ),
        };
        let linker = sandbox_linker(&engine).map_err(|e| format!("{e:#}"))?;
        let ticker = Ticker::start(engine.clone())?;
        Ok(Runtime {
            engine,
            linker,
            pooling,
            ticker,
            gate: Gate::new(MAX_CONCURRENT_CALLS),
        })
    }

    /// Waits for a call slot and keeps the epoch ticker running for the duration of the call.
    pub(crate) fn enter(&self) -> CallGuard<'_> {
        self.gate.acquire();
        CallGuard {
            runtime: self,
            _ticking: self.ticking(),
        }
    }

    /// Keeps the epoch ticker running (without taking a call slot) while held.
    pub(crate) fn ticking(&self) -> TickGuard<'_> {
        self.ticker.active.fetch_add(1, Ordering::SeqCst);
        self.ticker.thread.unpark();
        TickGuard {
            ticker: &self.ticker,
        }
    }

    /// The epoch deadline (in ticks from now) for a wall-clock budget.
    pub(crate) fn deadline_ticks(timeout: Duration) -> u64 {
        let tick = EPOCH_TICK.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).max(1)
    }
}

/// Held for the length of a call: a call slot taken, the ticker running.
pub(crate) struct CallGuard<'a> {
    runtime: &'a Runtime,
    _ticking: TickGuard<'a>,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.runtime.gate.release();
    }
}

/// Held while wasm runs: the ticker advances the epoch.
pub(crate) struct TickGuard<'a> {
    ticker: &'a Ticker,
}

impl Drop for TickGuard<'_> {
    fn drop(&mut self) {
        self.ticker.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// WASI 0.2 (no preopens, no sockets, fixed clocks: see `sandbox`), with the two clock
/// functions that would block the host thread on a real timer replaced by traps: a plugin
/// cannot sleep, so it cannot hang the compiler where the epoch deadline cannot reach it.
fn sandbox_linker(engine: &Engine) -> wasmtime::Result<Linker<Sandbox>> {
    let mut linker = Linker::<Sandbox>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.allow_shadowing(true);
    let mut clock = linker.instance(WASI_MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |_store, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            Err(wasmtime::Error::msg(
                "plugins cannot sleep (monotonic-clock.subscribe-duration)",
            ))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |_store, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
            Err(wasmtime::Error::msg(
                "plugins cannot sleep (monotonic-clock.subscribe-instant)",
            ))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// Advances the engine's epoch every `EPOCH_TICK` while at least one call runs, and parks
/// otherwise (an idle host costs no wake-ups).
struct Ticker {
    active: Arc<AtomicUsize>,
    thread: Thread,
}

impl Ticker {
    fn start(engine: Engine) -> Result<Ticker, String> {
        let active = Arc::new(AtomicUsize::new(0));
        let running = Arc::clone(&active);
        let weak = engine.weak();
        drop(engine);
        let handle = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                loop {
                    if running.load(Ordering::SeqCst) == 0 {
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
        Ok(Ticker {
            active,
            thread: handle.thread().clone(),
        })
    }
}

/// A counting semaphore bounding concurrent calls to the pool's capacity.
struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Gate {
    fn new(slots: usize) -> Gate {
        Gate {
            free: Mutex::new(slots),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
    }

    fn release(&self) {
        *self.free.lock() += 1;
        self.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up() {
        assert_eq!(Runtime::deadline_ticks(Duration::from_millis(0)), 1);
        assert_eq!(Runtime::deadline_ticks(Duration::from_millis(1)), 1);
        assert_eq!(Runtime::deadline_ticks(Duration::from_millis(2)), 1);
        assert_eq!(Runtime::deadline_ticks(Duration::from_millis(3)), 2);
        assert_eq!(Runtime::deadline_ticks(Duration::from_secs(2)), 1000);
    }

    #[test]
    fn runtime_starts() {
        let rt = runtime().expect("runtime");
        assert!(rt.pooling, "the pooling allocator should be available here");
    }
}
