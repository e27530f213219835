#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run calls this) and what a developer runs.
#
# Installs what the tests need into .tools/ (idempotent), then builds and tests every crate of
# the workspace with the lock file as committed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The real servers and tools the tests start (helm and the Go reference renderer are only for
# regenerating goldens and benchmarks: scripts/install-tools.sh installs everything).
scripts/install-tools.sh openbao moto plugin-tools browser
# The example WASM plugins: the plugin host's integration tests run them, and the example
# fleet's values templates call them (copied into examples/fleet/plugins/).
scripts/build-example-plugins.sh

export PATH="$PWD/.tools/bin:$PATH"

# A clean build on CI is built once: incremental caches would only double the target folder.
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_INCREMENTAL=0
fi

# Third-party test data (real Helm charts and helm's own output) stays outside the project, in
# ../shared: CI always has it and the conformance suite requires it there; elsewhere that one
# suite is skipped, and said so here.
if [[ "${CI:-}" != "true" && -z "${FLOTILLA_HELM_CORPUS:-}" && ! -d ../shared/helm-corpus/cases ]]; then
    echo "test.sh: skipping the Helm conformance corpus: ../shared/helm-corpus is not beside the checkout (set FLOTILLA_HELM_CORPUS=DIR to run it)" >&2
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
# Every committed snapshot must be one a test asserts (insta records each one it reads in
# INSTA_SNAPSHOT_REFERENCES_FILE, as `cargo insta test --unreferenced=reject` does): a snapshot
# no test reads any more fails the run.
REFS=$(mktemp)
trap 'rm -f "$REFS"' EXIT
INSTA_SNAPSHOT_REFERENCES_FILE="$REFS" cargo test --workspace --locked
unreferenced=$(comm -23 \
    <(git ls-files -z -- '*.snap' | xargs -0 -r realpath | sort -u) \
    <(xargs -r -d '\n' realpath <"$REFS" | sort -u))
if [[ -n "$unreferenced" ]]; then
    echo "test.sh: snapshots that no test reads (delete them, or the test that lost them):" >&2
    echo "$unreferenced" >&2
    exit 1
fi
