#!/usr/bin/env bash
# The 1,000-variant benchmark (BENCHMARKS.md, "Helm charts"): 1,000 values sets of the corpus
# chart podinfo (one per cluster of a fleet) rendered by a loop of 1,000 `helm template`
# processes, and by ONE flotilla process (the `helm_variants` example of the helm crate: the
# chart loaded once, every render through the content-addressed RenderCache). Checks that
# both outputs are byte-identical for every variant, and prints the times and their ratio.
#
#   scripts/bench-helm.sh                 # 1,000 variants, 3 timed runs of each side
#   N=100 RUNS=1 scripts/bench-helm.sh    # smaller
#   KEEP=1 scripts/bench-helm.sh          # keep the temporary folder (values, outputs)
#
# Needs helm v3.17.3 (scripts/install-tools.sh helm), the corpus ($FLOTILLA_HELM_CORPUS, by
# default ../shared/helm-corpus from the repository), python3; uses hyperfine when installed
# (Debian: apt-get install hyperfine), else times the runs itself. When
# .tools/bin/go-reference is installed (scripts/install-tools.sh go-reference), also prints
# the Go engine's time per render of one variant (Go text/template + Sprig, not helm itself).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS=${FLOTILLA_HELM_CORPUS:-$ROOT/../shared/helm-corpus}
HELM=${HELM:-$ROOT/.tools/bin/helm}
N=${N:-1000}
RUNS=${RUNS:-3}
CHART="$CORPUS/charts/podinfo"
# The flags of the corpus case podinfo-default.
FLAGS=(--namespace apps --kube-version 1.31.0 --api-versions monitoring.coreos.com/v1
    --api-versions autoscaling/v2 --api-versions gateway.networking.k8s.io/v1 --include-crds
    --skip-tests)

say() { printf 'bench-helm: %s\n' "$*" >&2; }

[[ -d "$CHART" ]] || { say "no chart at $CHART (set FLOTILLA_HELM_CORPUS)"; exit 2; }
[[ -x "$HELM" ]] || { say "no helm at $HELM (scripts/install-tools.sh helm)"; exit 2; }
"$HELM" version --short | grep -q '^v3\.17\.3+' || { say "$HELM is not helm v3.17.3"; exit 2; }

say "building the helm_variants example (release)"
(cd "$ROOT" && cargo build --release --quiet -p helm --example helm_variants)
FLOTILLA="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/helm_variants"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-helm.XXXXXX")
if [[ -z "${KEEP:-}" ]]; then trap 'rm -rf -- "$TMP"' EXIT; else say "keeping $TMP"; fi
"$FLOTILLA" gen "$TMP/values" "$N"
FILES=("$TMP"/values/*.yaml)
say "${#FILES[@]} values files in $TMP/values"

# Each side as one shell command, for hyperfine (or the fallback timer).
{
    printf 'set -e\nmkdir -p %q\n' "$TMP/helm-out"
    printf 'for f in %q/values/*.yaml; do\n' "$TMP"
    printf '  %q template fleet %q' "$HELM" "$CHART"
    printf ' %q' "${FLAGS[@]}"
    printf ' -f "$f" > %q/helm-out/"${f##*/}"\ndone\n' "$TMP"
} >"$TMP/helm-loop.sh"
{
    printf 'set -e\n%q render --chart %q --out %q --release fleet' "$FLOTILLA" "$CHART" "$TMP/flotilla-out"
    printf ' %q' "${FLAGS[@]}"
    printf ' %q/values/*.yaml 2>>%q\n' "$TMP" "$TMP/flotilla.log"
} >"$TMP/flotilla-run.sh"

if command -v hyperfine >/dev/null; then
    hyperfine --runs "$RUNS" --warmup 0 --export-json "$TMP/times.json" \
        -n "helm template x$N" "bash $TMP/helm-loop.sh" \
        -n "flotilla x$N, one process" "bash $TMP/flotilla-run.sh" >&2
    read -r HELM_MS FLOTILLA_MS < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(*(round(x["mean"] * 1000, 1) for x in r))' "$TMP/times.json")
else
    mean_ms() {
        local total=0 start i
        for ((i = 0; i < RUNS; i++)); do
            start=$(date +%s%N)
            bash "$1"
            total=$((total + $(date +%s%N) - start))
        done
        python3 -c "print(round($total / $RUNS / 1e6, 1))"
    }
    HELM_MS=$(mean_ms "$TMP/helm-loop.sh")
    FLOTILLA_MS=$(mean_ms "$TMP/flotilla-run.sh")
fi
tail -n 1 "$TMP/flotilla.log" >&2

# Byte-for-byte, every variant.
mismatches=0
for f in "${FILES[@]}"; do
    name=${f##*/}
    if ! cmp -s "$TMP/helm-out/$name" "$TMP/flotilla-out/$name"; then
        if [[ $mismatches -eq 0 ]]; then
            say "first difference, $name:"
            diff "$TMP/helm-out/$name" "$TMP/flotilla-out/$name" | head -20 >&2 || true
        fi
        mismatches=$((mismatches + 1))
    fi
done

if [[ -x "$ROOT/.tools/bin/go-reference" ]]; then
    "$FLOTILLA" merged --chart "$CHART" "${FILES[0]}" >"$TMP/merged.yaml"
    GO_LINE=$("$ROOT/.tools/bin/go-reference" -n 1000 -values "$TMP/merged.yaml" "$CHART" | grep '^execute')
fi

python3 - "$N" "$HELM_MS" "$FLOTILLA_MS" "$mismatches" "${GO_LINE:-}" <<'PY'
import sys
n, helm, flo, bad, go = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"variants:            {n} (podinfo, one values file per cluster)")
print(f"helm template loop:  {helm:.0f} ms total, {helm / n:.2f} ms per render (process)")
print(f"flotilla, 1 process: {flo:.0f} ms total, {flo / n:.3f} ms per render")
print(f"ratio:               {helm / flo:.1f}x")
print(f"byte-identical:      {n - bad} of {n} variants")
if go:
    ns = int(go.split()[3])
    print(f"go engine (go-reference, Go text/template + Sprig, one variant): {ns / 1e6:.3f} ms per render")
PY
[[ $mismatches -eq 0 ]]
