#!/usr/bin/env bash
# What the room history costs: the same flood (50 clients, all sending, 800 messages each: two
# million deliveries) against a fresh release server with history and without it, alternating,
# three times each. Prints server CPU per delivery, deliveries/s, p50/p99 latency and losses.
# Loopback only; every run is bounded by loadgen's --duration and message count.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# loadgen is its own workspace member (tools/loadgen); both packages build into target/release.
cargo build --release -p fernchat -p loadgen --bin server --bin loadgen --bin keygen
bin=$PWD/target/release
work=$(mktemp -d "${TMPDIR:-/tmp}/fernchat-history-bench.XXXXXX")
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
"$bin/keygen" class.key 2>/dev/null
echo "uptime before: $(uptime)"
for rep in 1 2 3; do
    for mode in history no-history; do
        rm -f room.log
        if [ "$mode" = history ]; then keep=(--history room.log); else keep=(--no-history); fi
        # Port 0 and the printed address: never a fixed port that another run may hold.
        "$bin/server" --port 0 --key class.key "${keep[@]}" \
            --flood-rate 1000000 --flood-burst 1000000 > server.out 2> server.err &
        server=$!
        addr=
        for _ in $(seq 100); do
            addr=$(sed -n 's/.*listening on \(.*\)$/\1/p' server.out | head -n 1)
            [ -n "$addr" ] && break
            sleep 0.05
        done
        [ -n "$addr" ] || { echo "the server did not start" >&2; cat server.err >&2; exit 1; }
        "$bin/loadgen" run --addr "$addr" --key class.key --server-pid "$server" \
            -n 50 -s 50 -m 800 -d 60 --json > "run.json"
        kill -INT "$server"; wait "$server" 2>/dev/null || true; server=
        python3 - "$mode" "$rep" <<'PY'
import json, sys
d = json.load(open("run.json"))
s, l = d["server"], d["latency"]
print(f"{sys.argv[1]:>10} rep {sys.argv[2]}: {s['cpu_us_per_delivery']:.2f} us server CPU per delivery, "
      f"{d['deliveries_per_sec']:,.0f} deliveries/s, p50 {l['p50_us']/1000:.0f} ms, "
      f"p99 {l['p99_us']/1000:.0f} ms, lost {d['lost']}")
PY
    done
done
echo "uptime after: $(uptime)"
