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

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo
echo "== the plan of examples/fleet"
"$flotilla" plan --fleet examples/fleet --out "$out/plan" --no-cache
echo
echo "-- $out/plan/plan.yaml (first cluster)"
awk '/^  - name: / { n++ } n <= 1' "$out/plan/plan.yaml"
echo
echo "-- manifests of aws-prod-use1, in installation order"
ls "$out/plan/clusters/aws-prod-use1"
echo
echo "-- $out/plan/clusters/aws-prod-use1/02-payments.yaml (first 40 lines)"
head -n 40 "$out/plan/clusters/aws-prod-use1/02-payments.yaml"
