#!/bin/bash
# The coordination pictures, measured: one sweep a workload under every
# model this build has, then scripts/plot.py's charts of them.
#   counter    contention: updates per second against 1 to 8 tasks, per
#              model and lock (mutex, atomic; spin where the model gives a
#              task its own thread); the race: updates lost with lock=none,
#              yield_inside off and on, 4 tasks
#   queue      items per second against producers x consumers (1x1, 1x3,
#              2x2, 3x1), and each item's put-to-get latency
#   event      the wake p50 against 2, 4 and 8 waiters
#   philosophers  fairness and meals per second, ordered and waiter
# bench/coord.sh measures the same work against raw loops; this suite is
# its pictures. Writes OUT/coord-<workload>.json, the charts (contention,
# race, coord-queue, coord-event, coord-philosophers, as .png and .svg)
# and prints where. Exit codes as bench/lib.sh says.
#
# Environment: CONCBENCH (default ./concbench), OUT (default
# results/raw/<UTC time>-coord), MODELS (threads,fork,green,eventloop,uring),
# RUNS (3), INCREMENTS (200000 a task), ITEMS (200000).
set -uo pipefail

me=bench/coord-charts.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
OUT=${OUT:-results/raw/$(date -u +%Y%m%dT%H%M%SZ)-coord}
MODELS=${MODELS:-threads,fork,green,eventloop,uring}
RUNS=${RUNS:-3}
INCREMENTS=${INCREMENTS:-200000}
ITEMS=${ITEMS:-200000}
PYTHON=/usr/bin/python3
# shellcheck source=bench/lib.sh
. bench/lib.sh

need_concbench
need_tools jq
for w in counter queue event philosophers; do
    need_workload "$w"
done
need_matplotlib
mkdir -p "$OUT" || exit 2
pick_models "$MODELS"
ms=$(IFS=,; echo "${models[*]}")

# sweep NAME ARGS...: one interleaved sweep into OUT/coord-NAME.json (its
# table in .txt); cells a model refuses (spin on one OS thread) are
# recorded as skipped, which is not a failure of the suite.
sweep() {
    local name=$1
    shift
    echo "$me: sweep $name" >&2
    "$CONCBENCH" sweep -m "$ms" --runs "$RUNS" "$@" \
        --json "$OUT/coord-$name.json" >"$OUT/coord-$name.txt" || {
        echo "$me: the $name sweep failed (see $OUT/coord-$name.txt)" >&2
        exit 1
    }
}

sweep contention -w counter -t 1,2,4,8 -o lock=mutex,atomic,spin \
    -o increments="$INCREMENTS"
sweep race -w counter -t 4 -o lock=none -o yield_inside=off,on \
    -o increments="$INCREMENTS"
for shape in 1:2 1:4 2:4 3:4; do
    sweep "queue-${shape/:/x}" -w queue -t "${shape#*:}" \
        -o producers="${shape%:*}" -o items="$ITEMS" -o channel=shm
done
sweep event -w event -t 3,5,9 -o rounds=200
sweep philosophers -w philosophers -t 5 -o strategy=ordered,waiter

# Each picture from its own reports, so that a chart's footnote counts
# only its cells (the spinlocks refused under one OS thread belong to the
# contention chart alone).
draw() {
    local dir=$OUT/charts-$1 chart
    shift
    "$PYTHON" scripts/plot.py "$@" -o "$dir" >/dev/null 2>"$dir.err" || {
        cat "$dir.err" >&2
        exit 1
    }
    for chart in contention race coord-queue coord-event coord-philosophers; do
        if [ -s "$dir/$chart.png" ]; then
            cp "$dir/$chart.png" "$dir/$chart.svg" "$OUT/"
            echo "chart: $OUT/$chart.png (and .svg)"
        fi
    done
    rm -rf "$dir" "$dir.err"
}
draw contention "$OUT/coord-contention.json"
draw race "$OUT/coord-race.json"
draw queue "$OUT"/coord-queue-*.json
draw event "$OUT/coord-event.json"
draw philosophers "$OUT/coord-philosophers.json"
echo "reports: $OUT/coord-*.json"
