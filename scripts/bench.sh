#!/usr/bin/env bash
# The benchmark matrix of docs/PERFORMANCE.md: builds the release `server` and `loadgen`,
# raises this shell's soft limit on open files to the hard limit (5,000 idle clients need
# 5,000 descriptors in the server and as many in the load generator), and runs
# `loadgen bench`, which starts a fresh server process for every run. Extra arguments go to
# `loadgen bench` (see `target/release/loadgen bench --help`), e.g. `--only chat --repeats 5`.
# Results: a table on standard output and every figure in target/bench/results.json.
# The rooms scenario (rooms-10x20) needs a server with rooms; scripts/bench-ab.sh compares two
# server builds run against run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ulimit -n "$(ulimit -Hn)"
# loadgen is its own workspace member (tools/loadgen); both packages build into target/release.
cargo build --release -p fernchat -p loadgen --bin server --bin loadgen
echo "uptime before: $(uptime)"
target/release/loadgen bench "$@"
echo "uptime after: $(uptime)"
