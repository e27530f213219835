#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run calls this) and what a developer runs.
#
# Installs what the tests need into .tools/ (idempotent), then builds and tests every crate of
# the workspace with the lock file as committed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/install-tools.sh ]; then
    scripts/install-tools.sh
fi

export PATH="$PWD/.tools/bin:$PATH"
cargo fmt --all -- --check
cargo test --workspace --locked
