#!/usr/bin/env bash
# The fleet compiler's figures (BENCHMARKS.md, "Fleet compiler"): synthetic fleets written by
# `flotilla dev gen-fleet`, compiled by `flotilla dev compile` (the whole compile: load,
# selectors, graph, values, Helm rendering, plan; no bundle written):
#   cold     no persistent cache (--no-cache)
#   warm     the persistent cache holds an earlier compile of the same fleet
#   changed  warm, after one service's version changed (its values template edited)
#   increm.  the same change recompiled by a running compiler (`flotilla watch`'s), after a
#            whole compile in the same process (`flotilla dev compile --bump`)
#   plan     `flotilla plan --no-cache` into a new folder: the compile, the policy check and
#            the bundle written; with the bundle's size on disk (du) and its number of files
#   plan-old the same with another flotilla binary (OLD_FLOTILLA=path, e.g. one built from an
#            earlier commit), measured in the same run for a side-by-side comparison
# Prints wall-clock, CPU (user+sys) and peak RSS of each, with the machine's load.
#
#   scripts/bench-fleet.sh                      # 10,000 x 100 and 1,000 x 20, 3 runs each
#   SIZES="2000x100" RUNS=1 scripts/bench-fleet.sh
#   OLD_FLOTILLA=../old/target/release/flotilla SIZES=10000x100 scripts/bench-fleet.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZES=${SIZES:-"1000x20 10000x100"}
RUNS=${RUNS:-3}

say() { printf 'bench-fleet: %s\n' "$*" >&2; }

say "building flotilla (release)"
(cd "$ROOT" && cargo build --release --quiet --bin flotilla)
FLOTILLA="${CARGO_TARGET_DIR:-$ROOT/target}/release/flotilla"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench-fleet.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# One timed run: prints "wall_s cpu_s rss_mb" and the compile's own summary line.
timed() {
    local out
    out=$( { /usr/bin/time -f 'TIME %e %U %S %M' "$FLOTILLA" dev compile "$@"; } 2>&1 )
    local summary
    summary=$(grep '^compiled' <<<"$out" || true)
    read -r _ wall user sys rss <<<"$(grep '^TIME' <<<"$out")"
    printf '%s %s %s\n' "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$((rss / 1024))"
    say "  $summary"
}

# One timed `flotilla plan` (binary $1, fleet $2) into a new folder: prints "wall_s cpu_s
# rss_mb bundle_mb files". The folder is removed before (and after) the run, outside the timing.
timed_plan() {
    local bin=$1 fleet=$2 out="$TMP/bundle"
    rm -rf "$out"
    local t
    t=$( { /usr/bin/time -f 'TIME %e %U %S %M' "$bin" plan --fleet "$fleet" --out "$out" --no-cache >/dev/null; } 2>&1 | grep '^TIME' )
    read -r _ wall user sys rss <<<"$t"
    printf '%s %s %s %s %s\n' "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$((rss / 1024))" "$(du -sm "$out" | cut -f1)" "$(find "$out" -type f | wc -l)"
    rm -rf "$out"
}

# The median of RUNS runs of a command that prints "wall cpu rss".
median() {
    local runs=()
    for _ in $(seq "$RUNS"); do runs+=("$("$@")"); done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

printf '%-10s %-8s %10s %10s %10s %10s %8s\n' fleet compile "wall s" "cpu s" "rss MB" "bundle MB" files
for size in $SIZES; do
    clusters=${size%x*}
    services=${size#*x}
    fleet="$TMP/fleet-$size"
    "$FLOTILLA" dev gen-fleet --clusters "$clusters" --services "$services" --out "$fleet" >/dev/null
    say "$size: cold"
    read -r wall cpu rss <<<"$(median timed --fleet "$fleet" --no-cache)"
    printf '%-10s %-8s %10s %10s %10s\n' "$size" cold "$wall" "$cpu" "$rss"
    "$FLOTILLA" dev compile --fleet "$fleet" >/dev/null 2>&1
    say "$size: warm"
    read -r wall cpu rss <<<"$(median timed --fleet "$fleet")"
    printf '%-10s %-8s %10s %10s %10s\n' "$size" warm "$wall" "$cpu" "$rss"
    say "$size: one service changed"
    change() {
        # A new version of one service each run: its values template changes.
        local file="$fleet/services/svc-001/service.yaml"
        sed -i '/^  benchRun: /d' "$file"
        printf '  benchRun: "%s"\n' "$RANDOM$RANDOM" >>"$file"
        timed --fleet "$fleet"
    }
    read -r wall cpu rss <<<"$(median change)"
    printf '%-10s %-8s %10s %10s %10s\n' "$size" changed "$wall" "$cpu" "$rss"
    # In one process (flotilla watch): a whole compile, then RUNS new versions of svc-001
    # (selected on every cluster), each recompiled incrementally; the median recompile.
    say "$size: incremental recompiles of a new version of svc-001"
    wall=$("$FLOTILLA" dev compile --fleet "$fleet" --bump svc-001 --times "$RUNS" |
        awk '/^recompiled in/ { sub("s$", "", $3); print $3 }' | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    printf '%-10s %-8s %10s %10s %10s\n' "$size" increm. "$wall" - -
    say "$size: plan (the bundle written), no cache"
    read -r wall cpu rss mb files <<<"$(median timed_plan "$FLOTILLA" "$fleet")"
    printf '%-10s %-8s %10s %10s %10s %10s %8s\n' "$size" plan "$wall" "$cpu" "$rss" "$mb" "$files"
    if [ -n "${OLD_FLOTILLA:-}" ]; then
        say "$size: plan with $OLD_FLOTILLA"
        read -r wall cpu rss mb files <<<"$(median timed_plan "$OLD_FLOTILLA" "$fleet")"
        printf '%-10s %-8s %10s %10s %10s %10s %8s\n' "$size" plan-old "$wall" "$cpu" "$rss" "$mb" "$files"
    fi
done
printf 'machine: %s cores, load average %s at the end\n' "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
