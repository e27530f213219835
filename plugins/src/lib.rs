//! The sandboxed WebAssembly value plugins: the host that runs them and the contract they implement.
