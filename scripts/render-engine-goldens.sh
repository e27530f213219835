#!/usr/bin/env bash
# Regenerates the goldens of the template engine's conformance suite with the REAL helm
# (.tools/bin/helm, v3.17.3; install it with scripts/install-tools.sh helm).
#
#   scripts/render-engine-goldens.sh            # every case
#   scripts/render-engine-goldens.sh CASE...    # only these (directory names)
#
# Each case compiler/gotemplate/tests/conformance/<case>/ is a tiny chart whose
# templates/NOTES.txt is the template under test. Helm renders NOTES.txt without any YAML
# validation, so it shows the engine's raw output. It is captured with
#
#   helm install fleet <chart> --namespace apps --dry-run=client -o json
#
# whose `info.notes` holds the rendered notes untrimmed (the text printer would TrimSpace them).
# `helm install` insists on reaching a cluster even with --dry-run=client (it only checks
# /version and reads discovery), so scripts/fake-kube-discovery.py answers those on 127.0.0.1;
# nothing else is asked of it and `lookup` stays offline (an empty map). Go's JSON encoder
# turns invalid UTF-8 into U+FFFD, so the bytes between the first and last non-space character
# come from the text output (`NOTES:` section, raw bytes) and only the edge whitespace from the
# JSON. Success writes expected.txt (exact bytes); failure writes expected.error.txt (helm's
# stderr) — a case has one or the other.
#
# TZ is UTC: date functions format in the local zone.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELM="${HELM:-$ROOT/.tools/bin/helm}"
CASES="$ROOT/compiler/gotemplate/tests/conformance"

[[ -x "$HELM" ]] || { echo "no helm at $HELM: run scripts/install-tools.sh helm" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/engine-goldens.XXXXXX")
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT

python3 "$ROOT/scripts/fake-kube-discovery.py" "$WORK/port" &
SERVER_PID=$!
for _ in $(seq 1 100); do [[ -s "$WORK/port" ]] && break; sleep 0.05; done
[[ -s "$WORK/port" ]] || { echo "the fake discovery server did not start" >&2; exit 1; }
PORT=$(cat "$WORK/port")

# A clean helm environment: no user config, cache or kubeconfig.
export HELM_CACHE_HOME="$WORK/cache" HELM_CONFIG_HOME="$WORK/config" HELM_DATA_HOME="$WORK/data"
export KUBECONFIG="$WORK/kubeconfig" TZ=UTC LC_ALL=C
: >"$KUBECONFIG"

if [[ $# -gt 0 ]]; then
    names=("$@")
else
    names=()
    for d in "$CASES"/*/; do names+=("$(basename "$d")"); done
fi

ok=0
failed=0
for name in "${names[@]}"; do
    dir="$CASES/$name"
    [[ -f "$dir/Chart.yaml" ]] || { echo "no case $name" >&2; exit 1; }
    args=(install fleet "$dir" --namespace apps --dry-run=client
          --kube-apiserver "http://127.0.0.1:$PORT" --disable-openapi-validation)
    if "$HELM" "${args[@]}" -o json >"$WORK/out.json" 2>"$WORK/err.txt"; then
        "$HELM" "${args[@]}" >"$WORK/out.txt" 2>/dev/null
        python3 - "$WORK/out.json" "$WORK/out.txt" "$dir/expected.txt" <<'PY' || { echo "failed to capture $name" >&2; exit 1; }
import json, sys

# Go's unicode.IsSpace, which strings.TrimSpace uses.
GO_SPACE = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)}

with open(sys.argv[1], "rb") as f:
    notes = json.loads(f.read().decode("utf-8")).get("info", {}).get("notes", "")
with open(sys.argv[2], "rb") as f:
    text = f.read()
marker = b"\nNOTES:\n"
start = 0
end = len(notes)
while start < end and notes[start] in GO_SPACE:
    start += 1
while end > start and notes[end - 1] in GO_SPACE:
    end -= 1
lead, trail = notes[:start].encode(), notes[end:].encode()
if start == end:
    middle = b""  # blank notes: helm prints no NOTES section at all
else:
    i = text.find(marker)
    if i < 0 or not text.endswith(b"\n"):
        sys.exit("no NOTES section in helm's text output")
    middle = text[i + len(marker):-1]
    if middle.decode("utf-8", "replace") != notes[start:end]:
        sys.exit("helm's text and JSON notes disagree")
with open(sys.argv[3], "wb") as f:
    f.write(lead + middle + trail)
PY
        rm -f "$dir/expected.error.txt"
        ok=$((ok + 1))
        echo "ok     $name"
    else
        cp "$WORK/err.txt" "$dir/expected.error.txt"
        rm -f "$dir/expected.txt"
        failed=$((failed + 1))
        echo "error  $name: $(head -c 160 "$WORK/err.txt" | head -n 1)"
    fi
done
echo "rendered ${#names[@]} cases: $ok with output, $failed with an error"
