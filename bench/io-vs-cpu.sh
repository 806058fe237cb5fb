#!/bin/bash
# The headline benchmark: every model on CPU-bound work (primes) and on
# I/O-bound work (sleep, http against the built-in server), 1 to 64 tasks,
# threads with and without the GIL, in one interleaved sweep; then the
# charts. Sized for under 2 minutes on 2 cores (`make demo` runs it).
#
# Five timed runs a cell and no warmup: interleaved, a cell's warmup would
# run just before each of its timed runs and cost as much again, and five
# runs steady the medians more than three runs with warmups would. The
# process is warm after its first few steps; a cold run is one of five in
# its cell, which the median ignores.
#
# Writes results/raw/<UTC timestamp>/report.json, headline.png/.svg and the
# other charts of scripts/plot.py, and prints where.
#
# Environment: CONCBENCH (default ./concbench), OUT (the folder), and the
# knobs MODELS (the six C models; add python, or give all, for CPython's
# sequential, threading and multiprocessing beside them: minutes more, as
# CPython sieves about 100x slower), TASKS (1,2,4,8,16,32,64), RUNS (5), WARMUP (0), N (3e9:
# primes up to n, split over the tasks), MS (20ms: each sleep), REQUESTS (2
# fetches per task), DELAY (10ms: the server's wait per request), SEED.
set -uo pipefail

me=bench/io-vs-cpu.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
MODELS=${MODELS:-sequential,fork,threads,green,eventloop,uring}
TASKS=${TASKS:-1,2,4,8,16,32,64}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-0}
N=${N:-3e9}
MS=${MS:-20ms}
REQUESTS=${REQUESTS:-2}
DELAY=${DELAY:-10ms}
OUT=${OUT:-results/raw/$(date -u +%Y%m%dT%H%M%SZ)}
PYTHON=/usr/bin/python3
# shellcheck source=bench/lib.sh
. bench/lib.sh

need_concbench
need_matplotlib
mkdir -p "$OUT" || exit 2

# http joins the I/O panel when this build has it.
workloads=primes,sleep
if have_workload http; then
    workloads=$workloads,http
    http_opts=(-o "requests=$REQUESTS" -o "delay=$DELAY")
else
    http_opts=()
fi
# gil=off,on only when threads (the model that declares gil) is swept.
gil_opts=()
if [ "$MODELS" = all ] || [[ ",$MODELS," == *,threads,* ]]; then
    if "$CONCBENCH" list | grep -q -- '-o gil='; then
        # shellcheck disable=SC2054 # one option value: a comma list
        gil_opts=(-o gil=off,on)
    fi
fi

# python's own baseline (api=sequential) and the two apis the headline sets
# beside threads' gil=on and gil=off.
api_opts=()
if [ "$MODELS" = all ] || [[ ",$MODELS," == *,python,* ]]; then
    # shellcheck disable=SC2054 # one option value: a comma list
    api_opts=(-o api=sequential,threading,multiprocessing)
fi

seed_opts=()
[ -n "${SEED:-}" ] && seed_opts=(--seed "$SEED")

echo "$me: $MODELS x $workloads x tasks $TASKS, $RUNS runs each," \
    "interleaved; n=$N, ms=$MS${http_opts:+, requests=$REQUESTS, delay=$DELAY}" >&2
start=$(date +%s)
"$CONCBENCH" sweep --models "$MODELS" --workloads "$workloads" \
    --tasks "$TASKS" --runs "$RUNS" --warmup "$WARMUP" \
    -o "n=$N" -o "ms=$MS" "${http_opts[@]}" "${gil_opts[@]}" "${api_opts[@]}" \
    "${seed_opts[@]}" --json "$OUT/report.json" >"$OUT/table.txt"
rc=$?
# 1: some cell failed (recorded, not plotted); anything else: nothing to draw.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
    echo "$me: the sweep exited $rc" >&2
    exit "$rc"
fi
cat "$OUT/table.txt"
echo "$me: sweep took $(( $(date +%s) - start )) s" >&2

"$PYTHON" scripts/plot.py "$OUT/report.json" -o "$OUT" >/dev/null || exit $?
echo "report: $OUT/report.json"
echo "charts: $OUT/headline.png (and .svg), walltime, scaling-*, latency-*"
exit "$rc"
