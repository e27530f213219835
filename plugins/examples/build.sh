#!/usr/bin/env bash
# Builds the example plugins into plugins/examples/out/ (git-ignored): <name>.wasm, plus
# <name>.yaml when the example has limits. That folder is laid out like a fleet's `plugins/`.
#
# Needs componentize-py: run scripts/install-plugin-tools.sh first (CI does). Each Python
# example takes about 5 s to build; an example whose output is newer than its sources (and than
# this script) is skipped. Built as `flotilla plugin build` builds: with WASI imports, which the
# host's sandbox provides (no files, network or environment; stdout and stderr captured).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
wit="$here/../wit/since_v0.1.0"
export PATH="$root/.tools/bin:$PATH"

if ! command -v componentize-py >/dev/null 2>&1; then
    echo "build.sh: componentize-py not found: run scripts/install-plugin-tools.sh" >&2
    exit 1
fi

mkdir -p "$out"
for dir in "$here"/*/; do
    name="$(basename "$dir")"
    [ -f "$dir/app.py" ] || continue
    wasm="$out/$name.wasm"
    if [ -f "$wasm" ] && [ -z "$(find "$dir" "$wit" "$0" -newer "$wasm" -type f | head -n 1)" ]; then
        echo "build.sh: $name is up to date"
    else
        echo "build.sh: building $name"
        (cd "$dir" && componentize-py -d "$wit" -w resolver componentize app -o "$wasm.tmp")
        mv "$wasm.tmp" "$wasm"
    fi
    if [ -f "$dir/limits.yaml" ]; then
        cp "$dir/limits.yaml" "$out/$name.yaml"
    fi
done
