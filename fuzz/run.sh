#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS (default 600), one libFuzzer process
# at a time (the machines here have 2 cores, shared). The working corpus grows in
# corpus/TARGET (not committed); seeds/TARGET (committed) is read as well. Logs go to
# logs/TARGET.log, crashes to artifacts/TARGET/.
#
#   ./run.sh                       # every target, 600 s each
#   ./run.sh frame_reader 60       # one target, 60 s
#   SANITIZER=none ./run.sh        # where the AddressSanitizer runtime is missing
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain RUSTC_BOOTSTRAP=1 lets
# rustc accept the nightly flags cargo-fuzz passes; on nightly it changes nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

targets=(frame_reader token_decrypt event_decoder keyfile handshake)
if [ $# -ge 1 ]; then targets=("$1"); fi
seconds=${2:-600}
sanitizer=${SANITIZER:-address}

mkdir -p logs
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "==> $target for $seconds s (sanitizer: $sanitizer), log in logs/$target.log"
    RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer "$sanitizer" "$target" \
        "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"logs/$target.log" 2>&1 || {
        echo "error: $target stopped early; see logs/$target.log and artifacts/$target/" >&2
        exit 1
    }
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
        "logs/$target.log" || true
    echo "corpus/$target: $(find "corpus/$target" -type f | wc -l) files"
done
