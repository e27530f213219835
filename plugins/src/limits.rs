//! Per-plugin resource limits, read from the optional `plugins/<name>.yaml` beside the plugin.

use std::time::Duration;

use serde::Deserialize;

/// What one call of a plugin may use. Every field has a safe default; a limits file may lower
/// or raise each within the host's bounds (see the `MAX_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deterministic CPU budget: roughly one unit per WebAssembly instruction.
    pub fuel: u64,
    /// Wall-clock budget of one call, instantiation included.
    pub timeout: Duration,
    /// Total linear memory (all of the plugin's memories together), in bytes.
    pub memory_bytes: u64,
    /// The largest `ok` JSON text accepted, in bytes.
    pub max_output_bytes: usize,
}

impl Limits {
    /// Default fuel: about a second of guest work, far more than a value lookup needs.
    pub const DEFAULT_FUEL: u64 = 1_000_000_000;
    pub const DEFAULT_TIMEOUT_MS: u64 = 2_000;
    pub const DEFAULT_MEMORY_MIB: u64 = 256;
    pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 1 << 20;

    pub const MAX_FUEL: u64 = 100_000_000_000;
    pub const MAX_TIMEOUT_MS: u64 = 60_000;
    /// The host reserves this much address space per memory: no plugin may use more.
    pub const MAX_MEMORY_MIB: u64 = 1024;
    pub const MAX_OUTPUT_BYTES: usize = 64 << 20;

    /// Parses a limits file (`fuel`, `timeoutMs`, `memoryMiB`, `maxOutputBytes`, all optional);
    /// unknown fields and out-of-range values are errors. Fields left out keep `defaults`.
    pub fn from_yaml(text: &str, defaults: Limits) -> Result<Limits, LimitsError> {
        // An empty file (or one holding only comments) sets nothing.
        if text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        }) {
            return Ok(defaults);
        }
        let options = serde_saphyr::options! { with_snippet: false };
        let spec: LimitsSpec = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| LimitsError::Syntax(e.to_string()))?;
        let mut limits = defaults;
        if let Some(fuel) = spec.fuel {
            limits.fuel = in_range("fuel", fuel, 1, Self::MAX_FUEL)?;
        }
        if let Some(ms) = spec.timeout_ms {
            limits.timeout =
                Duration::from_millis(in_range("timeoutMs", ms, 1, Self::MAX_TIMEOUT_MS)?);
        }
        if let Some(mib) = spec.memory_mib {
            limits.memory_bytes = in_range("memoryMiB", mib, 1, Self::MAX_MEMORY_MIB)? << 20;
        }
        if let Some(bytes) = spec.max_output_bytes {
            let max = Self::MAX_OUTPUT_BYTES as u64;
            limits.max_output_bytes = in_range("maxOutputBytes", bytes, 1, max)? as usize;
        }
        Ok(limits)
    }

    /// The memory limit in whole MiB, as written in limits files and error messages.
    pub fn memory_mib(&self) -> u64 {
        self.memory_bytes >> 20
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Self::DEFAULT_FUEL,
            timeout: Duration::from_millis(Self::DEFAULT_TIMEOUT_MS),
            memory_bytes: Self::DEFAULT_MEMORY_MIB << 20,
            max_output_bytes: Self::DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// The limits file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSpec {
    fuel: Option<u64>,
    #[serde(rename = "timeoutMs")]
    timeout_ms: Option<u64>,
    #[serde(rename = "memoryMiB")]
    memory_mib: Option<u64>,
    #[serde(rename = "maxOutputBytes")]
    max_output_bytes: Option<u64>,
}

/// A limits file that does not parse or holds an out-of-range value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// Not YAML, not a mapping, an unknown field or a value of the wrong type.
    #[error("{0}")]
    Syntax(String),
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        field: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
}

fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<u64, LimitsError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(LimitsError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `yaml` over the defaults and prints the result (or the error) compactly.
    fn check(yaml: &str, expect: &str) {
        let got = match Limits::from_yaml(yaml, Limits::default()) {
            Ok(l) => format!(
                "fuel={} timeout={}ms memory={}MiB output={}",
                l.fuel,
                l.timeout.as_millis(),
                l.memory_mib(),
                l.max_output_bytes
            ),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.contains(expect),
            "{yaml:?}: got {got:?}, want it to contain {expect:?}"
        );
    }

    #[test]
    fn limits_files() {
        let defaults = "fuel=1000000000 timeout=2000ms memory=256MiB output=1048576";
        check("", defaults);
        check("# nothing\n", defaults);
        check("---\n", defaults);
        check("fuel: 5000\n", "fuel=5000 timeout=2000ms");
        check("timeoutMs: 250\n", "timeout=250ms");
        check("memoryMiB: 64\n", "memory=64MiB");
        check("maxOutputBytes: 100\n", "output=100");
        check(
            "fuel: 1\ntimeoutMs: 1\nmemoryMiB: 1\nmaxOutputBytes: 1\n",
            "fuel=1 timeout=1ms memory=1MiB output=1",
        );
        check("memoryMiB: 1024\n", "memory=1024MiB");
    }

    #[test]
    fn bad_limits_files() {
        check(
            "fuel: 0\n",
            "error: fuel must be between 1 and 100000000000, got 0",
        );
        check(
            "memoryMiB: 4096\n",
            "error: memoryMiB must be between 1 and 1024, got 4096",
        );
        check(
            "timeoutMs: 600000\n",
            "error: timeoutMs must be between 1 and 60000",
        );
        check(
            "maxOutputBytes: 0\n",
            "error: maxOutputBytes must be between 1",
        );
        check("memoryMib: 64\n", "error: ");
        check("memoryMib: 64\n", "memoryMib");
        check("timeout: 5\n", "unknown field");
        check("fuel: lots\n", "error: ");
        check("fuel: -1\n", "error: ");
        check("- 1\n- 2\n", "error: ");
    }
}
