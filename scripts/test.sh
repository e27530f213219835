#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run calls this) and what a developer runs.
#
# Installs what the tests need into .tools/ (idempotent), then builds and tests every crate of
# the workspace with the lock file as committed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real servers and tools the tests start (helm and the Go reference renderer are only for
# regenerating goldens and benchmarks: scripts/install-tools.sh installs everything).
scripts/install-tools.sh openbao plugin-tools
# The example WASM plugins: the plugin host's integration tests run them, and the example
# fleet's values templates call them (copied into examples/fleet/plugins/).
scripts/build-example-plugins.sh

export PATH="$PWD/.tools/bin:$PATH"
cargo fmt --all -- --check
cargo test --workspace --locked
