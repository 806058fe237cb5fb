#!/bin/bash
# The convoy: how long I/O-bound tasks wait when CPU-bound tasks run beside
# them in one process. IO sleep tasks (ms, count, jitter) alone, then beside
# 1 and 2 primes tasks (mixed cells, sleep:IO+primes:K), under every model
# that shares or spreads the CPU differently: eventloop (offload off and
# on), green, threads with and without the GIL, and fork. One interleaved
# sweep a CPU count, then the convoy chart: the sleeps' lateness p50 and
# p99 per model, for 0, 1 and 2 CPU-bound tasks.
#
# The CPU side runs `burst` of CPU time between yields (a coroutine that
# computes that long between awaits; `never`: a plain function call), and
# sieves n=N per CPU task, enough to outlast the I/O side, so every wake
# is measured with it present. A sleep's period (ms) is longer than two
# bursts: a sleeper woken once a round of the cooperative models then keeps
# its schedule, and the chart shows each wake's wait, not a growing
# backlog (sleep's deadlines are periodic).
#
# Writes results/raw/<UTC timestamp>/convoy-0.json, -1 and -2, convoy.png
# and .svg, and prints where. Exit codes as bench/lib.sh says.
#
# Environment: CONCBENCH (default ./concbench), OUT (the folder), and the
# knobs MODELS (eventloop,green,threads,fork), IO (4 sleep tasks), MS
# (50ms), COUNT (8 waits a task), JITTER (10ms), N (6e9 a CPU task), BURST
# (20ms), INTERVAL (5ms: the GIL's switch interval), RUNS (3), SEED.
set -uo pipefail

me=bench/convoy.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
MODELS=${MODELS:-eventloop,green,threads,fork}
IO=${IO:-4}
MS=${MS:-50ms}
COUNT=${COUNT:-8}
JITTER=${JITTER:-10ms}
N=${N:-6e9}
BURST=${BURST:-20ms}
INTERVAL=${INTERVAL:-5ms}
RUNS=${RUNS:-3}
OUT=${OUT:-results/raw/$(date -u +%Y%m%dT%H%M%SZ)}
PYTHON=/usr/bin/python3
# shellcheck source=bench/lib.sh
. bench/lib.sh

need_concbench
need_workload sleep
need_workload primes
need_matplotlib
mkdir -p "$OUT" || exit 2

# Only the models this build has; each one's variants where it is swept.
pick_models "$MODELS"
mlist=$(IFS=,; echo "${models[*]}")
model_opts=()
[[ ",$mlist," == *,threads,* ]] &&
    model_opts+=(-o "gil=on,off" -o "interval=$INTERVAL")
[[ ",$mlist," == *,eventloop,* ]] && model_opts+=(-o "offload=off,on")

seed_opts=()
[ -n "${SEED:-}" ] && seed_opts=(--seed "$SEED")

io_opts=(-o "ms=$MS" -o "count=$COUNT" -o "jitter=$JITTER")
start=$(date +%s)
status=0
for k in 0 1 2; do
    if [ "$k" -eq 0 ]; then
        spec="sleep"
        cpu_opts=()
    else
        spec=sleep:$IO+primes:$k
        # primes splits n over its tasks: each gets N.
        cpu_opts=(-o "n=$(awk -v n="$N" -v k="$k" 'BEGIN { printf "%.0f", n * k }')"
            -o "burst=$BURST")
    fi
    echo "$me: $spec under $mlist, $RUNS runs each, interleaved" >&2
    "$CONCBENCH" sweep --models "$mlist" --workloads "$spec" \
        --tasks $((IO + k)) --runs "$RUNS" "${io_opts[@]}" "${cpu_opts[@]}" \
        "${model_opts[@]}" "${seed_opts[@]}" \
        --json "$OUT/convoy-$k.json" >"$OUT/convoy-$k.txt"
    rc=$?
    # 1: some cell failed (recorded, not plotted); else nothing to draw.
    if [ "$rc" -eq 1 ]; then
        status=1
    elif [ "$rc" -ne 0 ]; then
        echo "$me: the sweep of $spec exited $rc" >&2
        exit "$rc"
    fi
done
echo "$me: sweeps took $(($(date +%s) - start)) s" >&2

# The table the chart draws: model, CPU tasks, lateness p50 and p99 (ms).
jq -r '.results[] | select(.runs) |
    ([.runs[] | select(.failed | not)] | length) as $n |
    [.model + ([.model_options | to_entries[] |
                select(.key == "gil" or .key == "offload") |
                " \(.key)=\(.value)"] | join("")),
     (.runs[0]["primes.tasks"] // 0),
     ([.runs[] | select(.failed | not) | .lateness_ns.p50] | sort |
      .[($n / 2 | floor)] / 1e6),
     ([.runs[] | select(.failed | not) | .lateness_ns.p99] | sort |
      .[($n / 2 | floor)] / 1e6)] | @tsv' \
    "$OUT"/convoy-0.json "$OUT"/convoy-1.json "$OUT"/convoy-2.json |
    sort -s -t"$(printf '\t')" -k1,1 -k2,2n | awk -F'\t' 'BEGIN { printf "%-26s %4s %12s %12s\n",
        "model", "cpu", "p50 (ms)", "p99 (ms)" }
        { printf "%-26s %4d %12.2f %12.2f\n", $1, $2, $3, $4 }'

"$PYTHON" scripts/plot.py "$OUT"/convoy-0.json "$OUT"/convoy-1.json \
    "$OUT"/convoy-2.json -o "$OUT" >/dev/null || exit $?
echo "reports: $OUT/convoy-0.json, convoy-1.json, convoy-2.json"
echo "chart: $OUT/convoy.png (and .svg)"
exit "$status"
