#!/usr/bin/env bash
# Scale-out figures (BENCHMARKS.md, "Controller replicas"): `flotilla simulate --server` against
# one replica, then against three replicas of one local folder store, on the same synthetic
# fleet (three environments) and the same traffic; each replica's reconcile loop is read from
# its /metrics by simulate and printed (each run's report.md is kept under OUT).
#
#   scripts/bench-replicas.sh                          # 2,000 clusters x 20 services
#   CLUSTERS=1000 SERVICES=20 DURATION=60s scripts/bench-replicas.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTERS=${CLUSTERS:-2000}
SERVICES=${SERVICES:-20}
DURATION=${DURATION:-60s}
SHARDS=${SHARDS:-12}
OUT=${OUT:-$ROOT/target/bench-replicas}

say() { printf 'bench-replicas: %s\n' "$*" >&2; }

say "building flotilla (release)"
(cd "$ROOT" && cargo build --release --quiet --locked --bin flotilla)
F="${CARGO_TARGET_DIR:-$ROOT/target}/release/flotilla"

TMP=$(mktemp -d -t bench-replicas.XXXXXX)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
cleanup() {
    stop_all
    rm -rf "$TMP"
}
trap cleanup EXIT

fleet="$TMP/fleet"
"$F" dev gen-fleet --clusters "$CLUSTERS" --services "$SERVICES" --out "$fleet" >/dev/null
printf 'environments:\n  - name: dev\n  - name: staging\n  - name: prod\n    production: true\n' >"$fleet/fleet.yaml"
rm -rf "$OUT"
mkdir -p "$OUT"

# Starts replica $2 of store $1 (its log: $TMP/$2.log).
start() {
    "$F" serve --fleet "$fleet" --store "$1" --listen 127.0.0.1:0 --interval 1s \
        --heartbeat 10s --replica-id "$2" --shards "$SHARDS" >/dev/null 2>"$TMP/$2.log" &
    pids+=($!)
}

# The URL replica $1 listens on, once it does.
url_of() {
    local log="$TMP/$1.log" url
    for _ in $(seq 1 1200); do
        url=$(grep -o 'listening on http://[0-9.:]*' "$log" 2>/dev/null | head -1 || true)
        if [ -n "$url" ]; then
            echo "${url#listening on }"
            return
        fi
        sleep 0.1
    done
    say "replica $1 did not listen; its log:"
    cat "$log" >&2
    exit 1
}

for n in 1 3; do
    store="$TMP/store-$n"
    urls=()
    for i in $(seq 1 "$n"); do
        start "$store" "r$i"
        urls+=("$(url_of "r$i")")
    done
    # The replicas share the shards out before the agents start.
    sleep 20
    list=$(IFS=,; echo "${urls[*]}")
    say "$n replica(s): simulate --server $list"
    "$F" simulate --server "$list" --fleet "$fleet" --store "$store" --duration "$DURATION" \
        --idle 10s --every 5s --poll 10s --out "$OUT/$n" >/dev/null 2>"$TMP/simulate-$n.log" || {
        cat "$TMP/simulate-$n.log" >&2
        exit 1
    }
    stop_all
    echo "== $n replica(s) (load average $(cut -d' ' -f1 /proc/loadavg)) =="
    grep '^| ' "$OUT/$n/report.md"
done
