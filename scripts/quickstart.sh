#!/usr/bin/env bash
# Builds flotilla and runs it on the bundled example fleet with embedded defaults: no Vault,
# no cloud, nothing but this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --bin flotilla
flotilla=target/debug/flotilla

# The example fleet's WASM plugins (componentize-py, ~5 s each; skipped when up to date). The
# first compile of the fleet compiles them (seconds); later ones load them from the cache.
scripts/build-example-plugins.sh

echo "== clusters of examples/fleet that run in prod on aws"
"$flotilla" select --fleet examples/fleet 'cluster.environment == "prod" && cluster.provider == "aws"'

echo
echo "== why each cluster is (not) a staging-or-prod aws cluster"
"$flotilla" select --fleet examples/fleet --explain \
    'cluster.environment in ["staging", "prod"] && cluster.provider == "aws"'

echo
echo "== a Deployment rendered from a values template"
"$flotilla" template examples/templates/hello.tpl \
    --helpers examples/templates/_helpers.tpl -f examples/templates/hello.yaml

echo
echo "== the fleet's policies: the platform team may deploy the whole plan"
"$flotilla" check --fleet examples/fleet --no-cache --as user:pat --groups platform

echo
echo "== ... and a payments engineer may not: the plan is refused (lines cut at 160 characters)"
set +e
"$flotilla" check --fleet examples/fleet --no-cache --as user:alice --groups payments,payments-oncall 2>&1 \
    | cut -c1-160
echo "exit code: ${PIPESTATUS[0]}"
set -e

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo
echo "== the plan of examples/fleet"
"$flotilla" plan --fleet examples/fleet --out "$out/plan" --no-cache --as user:pat --groups platform
echo
echo "-- $out/plan/plan.yaml (first cluster)"
awk '/^  - name: / { n++ } n <= 1' "$out/plan/plan.yaml"
echo
echo "-- aws-prod-use1's index: its releases in installation order, each manifest by digest"
cat "$out/plan/clusters/aws-prod-use1.yaml"
echo
# The bundle's manifests carry the real secret values (the demo ones of examples/fleet/secrets/,
# here): show the Deployment, which refers to its Secret by name.
"$flotilla" bundle export --bundle "$out/plan" --cluster aws-prod-use1 --out "$out/aws-prod-use1" >/dev/null
echo "-- aws-prod-use1's payments release, exported (its Deployment, first 40 lines)"
awk '/^# Source: payments-api\/templates\/deployment.yaml/ { on = 1 } on' \
    "$out/aws-prod-use1/02-payments.yaml" | head -n 40

echo
echo "== a rotated secret, reviewed: secret values show as digests"
cp -R examples/fleet "$out/fleet"
rm -rf "$out/fleet/.flotilla"
"$flotilla" review --fleet "$out/fleet" --no-cache --accept >/dev/null
printf 'db-password: rotated-db-password-8Zz1\n' >"$out/fleet/secrets/secret/payments.yaml"
"$flotilla" review --fleet "$out/fleet" --no-cache --check >"$out/review.txt" || true
head -n 16 "$out/review.txt"

echo
echo "== the controller: flotilla serve on a copy of the example fleet (local folder store,"
echo "   built-in token issuer), a version published and promoted, its status and audit log"
cp -R examples/fleet "$out/serve-fleet"
rm -rf "$out/serve-fleet/.flotilla"
"$flotilla" serve --fleet "$out/serve-fleet" --listen 127.0.0.1:0 --interval 2s 2>"$out/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 600); do
    grep -q 'listening on' "$out/serve.log" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$out/serve.log"; exit 1; }
    sleep 0.2
done
FLOTILLA_SERVER=$(sed -n 's/.*listening on //p' "$out/serve.log")
export FLOTILLA_SERVER
FLOTILLA_TOKEN=$("$flotilla" token issue --fleet "$out/serve-fleet" --user pat --groups platform --ttl 15m)
export FLOTILLA_TOKEN
sed -i "s/nodes 4 | max 2/nodes 3 | max 2/" "$out/serve-fleet/services/search-api/service.yaml"

echo "-- flotilla publish search-api --label 1.1.0 (deployed to the first environment at once)"
"$flotilla" publish search-api --label 1.1.0 --commit "$(git rev-parse --short HEAD 2>/dev/null || echo local)" --fleet "$out/serve-fleet"
echo "-- flotilla promote search-api 1.1.0 --to prod"
"$flotilla" promote search-api 1.1.0 --to prod
# Staging runs in the background: wait (at most 30 s) until prod's clusters have the new bundle.
for _ in $(seq 1 60); do
    "$flotilla" status | grep -q 'gcp-prod-usc1 (prod) generation 2' && break
    sleep 0.5
done
echo "-- flotilla status"
"$flotilla" status

echo
echo "== an agent: a cluster registered (its bootstrap token written to a private file, never"
echo "   printed), then \`flotilla agent --applier dir\` pulls its bundle and writes its manifests"
"$flotilla" clusters register edge-demo --environment dev --provider aws --region eu-west-1 \
    --tag tier=edge --tag team=platform --credentials-out "$out/edge-demo.json"
"$flotilla" agent --cluster edge-demo --server "$FLOTILLA_SERVER" --applier dir \
    --state "$out/edge-demo" --token-file "$out/edge-demo.json" --poll-wait 2s 2>"$out/agent.log" &
agent=$!
trap 'kill "$agent" "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 120); do
    grep -q 'applied generation' "$out/agent.log" 2>/dev/null && break
    sleep 0.5
done
cat "$out/agent.log"
echo "-- the manifests it wrote ($out/edge-demo/manifests)"
ls "$out/edge-demo/manifests"
# Its report (each release's phase) reaches the server with the next heartbeat.
for _ in $(seq 1 20); do
    "$flotilla" status --cluster edge-demo 2>/dev/null | grep -q Ready && break
    sleep 0.5
done
echo "-- flotilla status --cluster edge-demo (what its agent reported)"
"$flotilla" status --cluster edge-demo
echo "-- flotilla clusters identity (first lines)"
"$flotilla" clusters identity | head -n 4
kill "$agent"
wait "$agent" 2>/dev/null || true
echo "-- flotilla status --audit"
"$flotilla" status --audit
kill "$server"
wait "$server" 2>/dev/null || true
echo "(server stopped)"
