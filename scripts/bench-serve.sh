#!/usr/bin/env bash
# The controller's figures (BENCHMARKS.md, "Controller"): `flotilla serve` (release) on a
# synthetic fleet (`flotilla dev gen-fleet`) with a local folder store:
#   first stage   from start to the API answering: the fleet published as the first versions,
#                 every environment compiled, every cluster's bundle staged
#   rss           the server's resident memory after the first stage
#   idle pass     a reconcile pass with nothing changed (the metrics' loop histogram, after
#                 the first pass)
#   promotion     `flotilla promote` of a new version of one service (selected everywhere) to
#                 prod, until every prod cluster's new bundle is staged (polled every 50 ms)
#
#   scripts/bench-serve.sh                  # 10,000 clusters x 100 services
#   CLUSTERS=1000 SERVICES=20 scripts/bench-serve.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTERS=${CLUSTERS:-10000}
SERVICES=${SERVICES:-100}

say() { printf 'bench-serve: %s\n' "$*" >&2; }

say "building flotilla (release)"
(cd "$ROOT" && cargo build --release --quiet --locked --bin flotilla)
F="${CARGO_TARGET_DIR:-$ROOT/target}/release/flotilla"

TMP=$(mktemp -d -t bench-serve.XXXXXX)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fleet="$TMP/fleet"
"$F" dev gen-fleet --clusters "$CLUSTERS" --services "$SERVICES" --out "$fleet" >/dev/null
printf 'environments:\n  - name: dev\n  - name: staging\n  - name: prod\n    production: true\n' >"$fleet/fleet.yaml"

now() { date +%s.%N; }
start=$(now)
"$F" serve --fleet "$fleet" --listen 127.0.0.1:0 --interval 1s 2>"$TMP/serve.log" &
server=$!
until grep -q 'listening on' "$TMP/serve.log"; do
    kill -0 "$server" 2>/dev/null || { cat "$TMP/serve.log"; exit 1; }
    sleep 0.05
done
first=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
export FLOTILLA_SERVER
FLOTILLA_SERVER=$(sed -n 's/.*listening on //p' "$TMP/serve.log")
export FLOTILLA_TOKEN
FLOTILLA_TOKEN=$("$F" token issue --fleet "$fleet" --user bench --groups platform)
rss=$(($(ps -o rss= -p "$server") / 1024))
printf 'first stage: %s s (%s)\n' "$first" "$(grep 'clusters staged' "$TMP/serve.log")"
printf 'rss after the first stage: %s MB\n' "$rss"

# Idle passes: the loop runs every second with nothing to do; the metrics before and after.
loop_sum() {
    curl -s "$FLOTILLA_SERVER/metrics" | awk '
        /^flotilla_reconcile_duration_seconds_sum/ { s = $2 }
        /^flotilla_reconcile_duration_seconds_count/ { n = $2 }
        END { print s, n }'
}
read -r s0 n0 <<<"$(loop_sum)"
sleep 6
read -r s1 n1 <<<"$(loop_sum)"
awk -v s0="$s0" -v n0="$n0" -v s1="$s1" -v n1="$n1" \
    'BEGIN { printf "idle passes: %d, mean %.3f ms\n", n1 - n0, (s1 - s0) / (n1 - n0) * 1000 }'

# A promotion: svc-000 gets a new version (its image tag changes), published (deployed to dev),
# then promoted to prod; timed until every prod cluster that runs it has a new generation.
spec="$fleet/services/svc-000/service.yaml"
sed -i 's/tag: "1.0.0"/tag: "1.0.1"/' "$spec"
stagings() { grep -c 'staged .* cluster bundles' "$TMP/serve.log" || true; }
wait_staging() { # until the log has more than $1 staging lines (at most 10 minutes)
    local deadline=$((SECONDS + 600))
    while [ "$(stagings)" -le "$1" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { echo "bench-serve: nothing was staged" >&2; exit 1; }
        sleep 0.02
    done
}
n=$(stagings)
"$F" publish svc-000 --label bench-1 --fleet "$fleet" >/dev/null
wait_staging "$n"
n=$(stagings)
start=$(now)
"$F" promote svc-000 bench-1 --to prod >/dev/null
promoted=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
wait_staging "$n"
staged=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }')
printf 'promotion: acknowledged in %s s, prod staged in %s s (%s)\n' "$promoted" "$staged" "$(grep 'staged .* cluster bundles' "$TMP/serve.log" | tail -n 1)"
printf 'rss after the promotion: %s MB\n' "$(($(ps -o rss= -p "$server") / 1024))"
printf 'machine: %s cores, load average %s at the end\n' "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
