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

# Mean wall-clock and CPU (user + system, children included) milliseconds of each side.
if command -v hyperfine >/dev/null; then
    hyperfine --runs "$RUNS" --warmup 0 --export-json "$TMP/times.json" \
        -n "helm template x$N" "bash $TMP/helm-loop.sh" \
        -n "flotilla x$N, one process" "bash $TMP/flotilla-run.sh" >&2
else
    python3 - "$RUNS" "$TMP/times.json" "$TMP/helm-loop.sh" "$TMP/flotilla-run.sh" <<'PY'
import json, resource, subprocess, sys, time
runs, out, scripts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
results = []
for script in scripts:
    wall = cpu_user = cpu_sys = 0.0
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(["bash", script], check=True)
        wall += time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_user += after.ru_utime - before.ru_utime
        cpu_sys += after.ru_stime - before.ru_stime
    results.append({"command": script, "mean": wall / runs, "user": cpu_user / runs, "system": cpu_sys / runs})
json.dump({"results": results}, open(out, "w"))
PY
fi
read -r HELM_MS FLOTILLA_MS HELM_CPU FLOTILLA_CPU < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(*(round(x["mean"] * 1000, 1) for x in r), *(round((x["user"] + x["system"]) * 1000, 1) for x in r))' "$TMP/times.json")
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

python3 - "$N" "$HELM_MS" "$FLOTILLA_MS" "$HELM_CPU" "$FLOTILLA_CPU" "$mismatches" "${GO_LINE:-}" <<'PY'
import os, sys
n, helm, flo, helm_cpu, flo_cpu = int(sys.argv[1]), *map(float, sys.argv[2:6])
bad, go = int(sys.argv[6]), sys.argv[7]
print(f"variants:            {n} (podinfo, one values file per cluster)")
print(f"machine:             {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
print(f"helm template loop:  {helm:.0f} ms wall ({helm / n:.2f} ms per render), {helm_cpu:.0f} ms CPU ({helm_cpu / n:.2f} ms per render)")
print(f"flotilla, 1 process: {flo:.0f} ms wall ({flo / n:.3f} ms per render), {flo_cpu:.0f} ms CPU ({flo_cpu / n:.3f} ms per render)")
print(f"ratio:               {helm / flo:.1f}x wall-clock, {helm_cpu / flo_cpu:.1f}x CPU time")
print(f"byte-identical:      {n - bad} of {n} variants")
if go:
    ns = int(go.split()[3])
    print(f"go engine (go-reference, Go text/template + Sprig, one variant): {ns / 1e6:.3f} ms per render")
PY
[[ $mismatches -eq 0 ]]
