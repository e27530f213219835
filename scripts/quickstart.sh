#!/usr/bin/env bash
# Builds flotilla and runs it on the bundled example fleet with embedded defaults: no Vault,
# no cloud, nothing but this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --bin flotilla
flotilla=target/debug/flotilla

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
