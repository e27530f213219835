#!/usr/bin/env bash
# The Go side of benches/render.rs: runs bench/go-reference on the same inputs and prints
# "case ns/op" lines, RUNS times each (the machine is shared: take the median).
#
#   compiler/gotemplate/benches/go-side.sh [RUNS]
#
# Needs .tools/bin/go-reference (scripts/install-go-reference.sh), python3, and the Helm corpus
# at $FLOTILLA_HELM_CORPUS (default: ../shared/helm-corpus beside the workspace). Writes the
# generated values under target/bench-values.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
CORPUS=${FLOTILLA_HELM_CORPUS:-$ROOT/../shared/helm-corpus}
GO_REF=$ROOT/.tools/bin/go-reference
VALUES=$ROOT/target/bench-values
RUNS=${1:-3}

[[ -x "$GO_REF" ]] || { echo "go-side: no $GO_REF (scripts/install-go-reference.sh)" >&2; exit 1; }
STARTER=$CORPUS/charts/starter
SERVICES=$ROOT/bench/go-reference/testdata/services

python3 "$ROOT/scripts/gen-values.py" --out-dir "$VALUES"
for size in small medium large; do
    # The starter's defaults plus a generated set under other keys (global, services).
    cat "$STARTER/values.yaml" "$VALUES/values-$size.yaml" >"$VALUES/starter+$size.yaml"
done

ns() { # prints the ns/op of the line "$1" of go-reference's report
    local what=$1
    shift
    "$GO_REF" "$@" | awk -v w="$what" '$1 == w { print $4 }'
}

for run in $(seq "$RUNS"); do
    echo "starter/render $(ns execute -n 3000 "$STARTER")"
    echo "starter/parse $(ns parse -n 3000 "$STARTER")"
    for size in small medium large; do
        echo "deployment-untouched/$size $(ns execute -n 3000 -template demo/templates/deployment.yaml \
            -values "$VALUES/starter+$size.yaml" "$STARTER")"
    done
    echo "services/small $(ns execute -n 3000 -values "$VALUES/values-small.yaml" "$SERVICES")"
    echo "services/medium $(ns execute -n 300 -values "$VALUES/values-medium.yaml" "$SERVICES")"
    echo "services/large $(ns execute -n 100 -values "$VALUES/values-large.yaml" "$SERVICES")"
done
