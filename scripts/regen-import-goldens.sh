#!/usr/bin/env bash
# What the releases of the Helm values repository that `flotilla import helm-values`' tests
# import (tests/cli/fleets/shop-values) rendered before the import: each release on each
# cluster that has values for it, rendered by the real `helm template` (scripts/install-tools.sh
# helm) as its deploy job ran it, `-f <release>/values.yaml -f <release>/<cluster>.yaml`, into
# tests/cli/fleets/shop-values-helm/<cluster>/<release>.yaml.
#
#   scripts/regen-import-goldens.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/install-tools.sh" helm >&2
HELM="$ROOT/.tools/bin/helm"
REPO="$ROOT/tests/cli/fleets/shop-values"
OUT="$ROOT/tests/cli/fleets/shop-values-helm"

# release chart namespace, as inventory.yaml's `releases:` gives them.
RELEASES=(
    "api api shop-api"
    "cache cache cache"
    "web app shop"
    "worker app shop"
)

rm -rf "$OUT"
for entry in "${RELEASES[@]}"; do
    read -r release chart namespace <<< "$entry"
    for file in "$REPO/$release"/*.yaml; do
        cluster=$(basename "$file" .yaml)
        [ "$cluster" = values ] && continue
        mkdir -p "$OUT/$cluster"
        "$HELM" template "$release" "$REPO/charts/$chart" --namespace "$namespace" \
            -f "$REPO/$release/values.yaml" -f "$file" > "$OUT/$cluster/$release.yaml"
    done
done
echo "regen-import-goldens: wrote $(find "$OUT" -name '*.yaml' | wc -l) files under $OUT" >&2
