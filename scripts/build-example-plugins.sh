#!/usr/bin/env bash
# Builds the example plugins (plugins/examples/, with componentize-py) and puts them where the
# example fleet's values templates find them: examples/fleet/plugins/<name>.wasm, plus
# <name>.yaml limits. They are build products, git-ignored; an unchanged build is not copied.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-tools.sh plugin-tools
plugins/examples/build.sh

dest=examples/fleet/plugins
mkdir -p "$dest"
for built in plugins/examples/out/*.wasm plugins/examples/out/*.yaml; do
    [ -e "$built" ] || continue
    target="$dest/$(basename "$built")"
    if ! cmp -s "$built" "$target"; then
        cp "$built" "$target.partial"
        mv -f "$target.partial" "$target"
        echo "build-example-plugins: $target"
    fi
done
