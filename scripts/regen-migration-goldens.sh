#!/usr/bin/env bash
# The other tool's dry run that `flotilla diff`'s tests compare the shop fleet with
# (tests/cli/fleets/shop-helm/<cluster>/<release>.yaml): each release of the shop fleet rendered
# by the real `helm template` (scripts/install-tools.sh helm), with the values the fleet gives
# it written out by hand, as a team would have kept them before moving to Flotilla.
#
#   scripts/regen-migration-goldens.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/install-tools.sh" helm >&2
HELM="$ROOT/.tools/bin/helm"
CHART="$ROOT/tests/cli/fleets/shop/charts/app"
OUT="$ROOT/tests/cli/fleets/shop-helm"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# cluster release values...
render() {
    local cluster=$1 release=$2
    shift 2
    printf '%s\n' "$@" > "$TMP/values.yaml"
    mkdir -p "$OUT/$cluster"
    "$HELM" template "$release" "$CHART" --namespace shop -f "$TMP/values.yaml" > "$OUT/$cluster/$release.yaml"
}

rm -rf "$OUT"
render dev-eu web "image: registry.example.com/shop/web:1.4.0" "replicas: 1"
for cluster in prod-eu prod-us; do
    render "$cluster" web "image: registry.example.com/shop/web:1.4.0" "replicas: 3"
    render "$cluster" worker "image: registry.example.com/shop/worker:latest" "replicas: 1" "requests: false"
done
echo "regen-migration-goldens: wrote $(find "$OUT" -name '*.yaml' | wc -l) files under $OUT" >&2
