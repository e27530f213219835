#!/usr/bin/env bash
# A new cluster's bootstrap: `flotilla serve` (release) on the example fleet with a loop
# interval of 10 minutes (so only the registration can make the bundle come), a cluster
# registered through the API, a `sim` agent started at once (ready 1 s after each apply).
# Prints the server's own measures: registration → the agent's first bundle, registration →
# every release Ready (the sums of its single-observation histograms). RUNS=3 by default.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release --bin flotilla
flotilla=target/release/flotilla
runs=${RUNS:-3}

for run in $(seq 1 "$runs"); do
    t="$(mktemp -d)"
    cp -R examples/fleet "$t/fleet"
    rm -rf "$t/fleet/.flotilla"
    "$flotilla" serve --fleet "$t/fleet" --listen 127.0.0.1:0 --interval 10m --heartbeat 2s \
        2>"$t/serve.log" &
    server=$!
    for _ in $(seq 1 600); do
        grep -q 'listening on' "$t/serve.log" 2>/dev/null && break
        sleep 0.2
    done
    FLOTILLA_SERVER=$(sed -n 's/.*listening on //p' "$t/serve.log")
    export FLOTILLA_SERVER
    FLOTILLA_TOKEN=$("$flotilla" token issue --fleet "$t/fleet" --user pat --groups platform)
    export FLOTILLA_TOKEN
    # A prod cluster like aws-prod-use1 (every service of prod selects it).
    "$flotilla" clusters register edge-bench --environment prod --provider aws --region us-east-1 \
        --tag tier=edge --tag pci=true --tag team=platform \
        --meta kubernetesVersion='"1.30.4"' --meta podCIDR='"10.12.0.0/16"' --meta podIP='"10.12.4.17"' \
        --meta nodes=24 --meta zones='["us-east-1a", "us-east-1b"]' --meta dnsZone=bench.prod.example.com \
        --credentials-out "$t/creds.json" >/dev/null
    "$flotilla" agent --cluster edge-bench --server "$FLOTILLA_SERVER" --applier sim \
        --sim-ready-after 1s --poll-wait 2s --state "$t/agent" --token-file "$t/creds.json" \
        2>"$t/agent.log" &
    agent=$!
    for _ in $(seq 1 300); do
        curl -s "$FLOTILLA_SERVER/metrics" | grep -q '^flotilla_bootstrap_ready_seconds_count 1' && break
        sleep 0.2
    done
    m=$(curl -s "$FLOTILLA_SERVER/metrics")
    first=$(echo "$m" | sed -n 's/^flotilla_bootstrap_first_bundle_seconds_sum //p')
    ready=$(echo "$m" | sed -n 's/^flotilla_bootstrap_ready_seconds_sum //p')
    releases=$(grep -o 'applied generation 1 ([0-9]* releases' "$t/agent.log" | grep -o '[0-9]* releases' || true)
    echo "run $run: first bundle ${first}s, all Ready ${ready}s ($releases)"
    kill "$agent" "$server" 2>/dev/null || true
    wait "$agent" "$server" 2>/dev/null || true
    rm -rf "$t"
done
