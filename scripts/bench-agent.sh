#!/usr/bin/env bash
# The agent's footprint: the size of the `flotilla-agent` binary (release, as built alone) and
# its resident memory while idle, long-polling a real `flotilla serve` (the example fleet, a
# local store) after applying its bundle with the `dir` applier.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release -p agent --bin flotilla-agent
cargo build --locked --bin flotilla
agent=target/release/flotilla-agent
flotilla=target/debug/flotilla

t="$(mktemp -d)"
cp -R examples/fleet "$t/fleet"
rm -rf "$t/fleet/.flotilla"
"$flotilla" serve --fleet "$t/fleet" --listen 127.0.0.1:0 --interval 5s 2>"$t/serve.log" &
server=$!
trap 'kill "$server" "${pid:-}" 2>/dev/null || true; rm -rf "$t"' EXIT
for _ in $(seq 1 600); do
    grep -q 'listening on' "$t/serve.log" 2>/dev/null && break
    sleep 0.2
done
url=$(sed -n 's/.*listening on //p' "$t/serve.log")
"$flotilla" token issue --cluster aws-prod-use1 --fleet "$t/fleet" >"$t/token"
"$agent" --cluster aws-prod-use1 --server "$url" --applier dir --state "$t/agent" \
    --token-file "$t/token" --poll-wait 30s 2>"$t/agent.log" &
pid=$!
for _ in $(seq 1 100); do
    grep -q 'applied generation' "$t/agent.log" 2>/dev/null && break
    sleep 0.2
done
sleep 15   # idle: one long poll in flight, heartbeats
size=$(stat -c %s "$agent")
strip -o "$t/stripped" "$agent"
stripped=$(stat -c %s "$t/stripped")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "flotilla-agent binary: $((size / 1024)) KiB ($((stripped / 1024)) KiB stripped)"
echo "idle RSS: $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB) after applying $(grep -o '[0-9]* releases' "$t/agent.log" | head -1)"
