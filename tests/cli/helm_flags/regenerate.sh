#!/usr/bin/env bash
# Regenerates goldens/ with the real helm (scripts/install-tools.sh helm): for every case of
# cases.tsv, what `helm template ARGS` prints on stdout and stderr, run from this folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
HELM=${HELM:-../../../.tools/bin/helm}
"$HELM" version --short | grep -q '^v3\.17\.3+' || { echo "need helm v3.17.3 at $HELM" >&2; exit 1; }
rm -rf goldens && mkdir goldens
while IFS=$'\t' read -r -a fields; do
    [[ ${#fields[@]} -eq 0 || ${fields[0]} == \#* ]] && continue
    name=${fields[0]}
    args=("${fields[@]:2}")
    "$HELM" template "${args[@]}" >"goldens/$name.stdout" 2>"goldens/$name.stderr" || true
done < cases.tsv
