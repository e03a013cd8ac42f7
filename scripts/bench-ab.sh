#!/usr/bin/env bash
# Two servers compared run against run (docs/PERFORMANCE.md): the same `loadgen bench`
# scenarios against server A and server B alternately, A B A B ..., one run per invocation on a
# fresh server process, with the same load generator for both (so only the server differs),
# the 1-minute load average before each run, the medians of each side at the end, and the
# median of the paired ratios (each B run over the A run just before it).
#
#   scripts/bench-ab.sh A_DIR B_DIR ROUNDS [loadgen bench options ...]
#   scripts/bench-ab.sh target/ab/before target/ab/after 5 --only flood-50
#
# A_DIR and B_DIR each hold a release `server`. The load generator is B_DIR/loadgen unless
# LOADGEN names another. Every run's results.json goes to OUT (default target/bench-ab)/SIDE-ROUND.
# Needs jq for the summary.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 A_DIR B_DIR ROUNDS [loadgen bench options ...]" >&2
    exit 2
fi
a_dir=$1 b_dir=$2 rounds=$3
shift 3
loadgen=${LOADGEN:-$b_dir/loadgen}
out=${OUT:-target/bench-ab}
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"
echo "load generator: $loadgen; A: $a_dir/server; B: $b_dir/server; bench options: $*"
for ((round = 1; round <= rounds; round++)); do
    for side in A B; do
        dir=$a_dir
        [ "$side" = B ] && dir=$b_dir
        run_out="$out/$side-$round"
        rm -rf "$run_out"
        echo "== $side round $round at $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
        "$loadgen" bench --server-bin "$dir/server" --out "$run_out" --repeats 1 --idle-clients 0 "$@" \
            2>&1 | grep -E '^bench:' || true
    done
done
# Medians per side and scenario: server CPU µs per delivery, deliveries/s, p50, p90, p99, max
# (ms), lost and leaks summed.
for side in A B; do
    jq -s -r --arg side "$side" '
      [.[].scenarios[]] | group_by(.name)[] |
      def med: sort | if length == 0 then null
        elif length % 2 == 1 then .[length / 2 | floor]
        else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      "\($side) \(.[0].name): runs \(length), cpu µs/delivery \([.[].median.cpu_us_per_delivery] | med * 1000 | round / 1000), deliveries/s \([.[].median.deliveries_per_sec] | med | round), p50 \([.[].median.p50_us] | med / 10 | round / 100) ms, p90 \([.[].median.p90_us] | med / 10 | round / 100) ms, p99 \([.[].median.p99_us] | med / 10 | round / 100) ms, max \([.[].median.max_us] | med / 10 | round / 100) ms, lost \([.[].median.lost] | add), leaks \([.[].median.leaks // 0] | add)"
    ' "$out"/"$side"-*/results.json
done
# Paired: each B run against the A run just before it (same round), median of the ratios B/A.
jq -s -r '
  def med: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def pct: (. - 1) * 1000 | round / 10;
  [.[] | {side: .side, round: .round, s: .r.scenarios[]}] | group_by(.s.name)[] |
  . as $runs | ($runs[0].s.name) as $name |
  [$runs[] | select(.side == "A")] as $a | [$runs[] | select(.side == "B")] as $b |
  [$a[] as $x | $b[] | select(.round == $x.round) | {
     cpu: (.s.median.cpu_us_per_delivery / $x.s.median.cpu_us_per_delivery),
     dps: (.s.median.deliveries_per_sec / $x.s.median.deliveries_per_sec)}] as $pairs |
  "paired B/A \($name): \($pairs | length) pairs, cpu µs/delivery \([$pairs[].cpu] | med | pct)%, deliveries/s \([$pairs[].dps] | med | pct)%"
' <(for f in "$out"/[AB]-*/results.json; do
        base=$(basename "$(dirname "$f")")
        jq -c --arg side "${base%%-*}" --arg round "${base#*-}" '{side: $side, round: $round, r: .}' "$f"
    done)
