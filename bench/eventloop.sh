#!/bin/bash
# The eventloop model's costs, in one table: 10,000 and 100,000 concurrent
# sleeps of 100 ms (issue 6's target: wall within 1.10x of 100 ms at
# 10,000), the RSS each task adds, the per-task overhead beside a raw libuv
# loop of timer init+start+fire (bench/raw/uv_timer_loop.c, compiled here),
# and the cost of one yield.
#
# Environment: CONCBENCH (default ./concbench), RUNS (5 timed runs of each
# cell, after one warmup; the raw loop runs RUNS times too).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
RUNS=${RUNS:-5}
TARGET=1.10
me=bench/eventloop.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools jq
need_model eventloop
bench_init
tmp=$CB_TMP
need_raw uv_timer_loop
raw=$tmp/uv_timer_loop

# cell NAME ARGS...: runs concbench into $tmp/NAME.json.
cell() {
    local name=$1
    shift
    echo "  $name: concbench $*" >&2
    "$CONCBENCH" --runs "$RUNS" --warmup 1 --json "$tmp/$name.json" "$@" \
        >/dev/null 2>"$tmp/$name.err" || {
        cat "$tmp/$name.err" >&2
        echo "$me: the cell '$name' failed" >&2
        exit 1
    }
}

# q NAME JQ: a number from a cell's report; m NAME FIELD: the median of a
# per-run field over the timed runs.
q() { jq -r ".results[0] | $2" "$tmp/$1.json"; }
m() { jq ".results[0].runs[].$2" "$tmp/$1.json" | median; }

# rawrun NAME N MS: the raw loop RUNS times; keeps the run of median wall.
rawrun() {
    local name=$1
    echo "  $name: uv_timer_loop $2 $3" >&2
    for _ in $(seq "$RUNS"); do "$raw" "$2" "$3"; done |
        sort -t= -k4 -n >"$tmp/$name.all"
    sed -n "$(( (RUNS + 1) / 2 ))p" "$tmp/$name.all" >"$tmp/$name.txt"
}
rawget() { tr ' ' '\n' <"$tmp/$1.txt" | sed -n "s/^$2=//p"; }

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

echo "$me: $RUNS runs of each cell; machine: $(nproc) CPUs, load" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
cell s10k -m eventloop -w sleep -o ms=100ms -t 10000
cell s100k -m eventloop -w sleep -o ms=100ms -t 100000
rawrun r10k 10000 100
rawrun r100k 100000 100
cell z100k -m eventloop -w sleep -o ms=0 -t 100000
cell zseq -m sequential -w sleep -o ms=0 -t 10000
rawrun r0 100000 0
cell y1 -m eventloop -w yield -o count=1e6 -t 1
cell y100 -m eventloop -w yield -o count=1e4 -t 100
cell yoff0 -m eventloop -w yield -o count=1e5 -t 1 -o offload=on -o pool=1 -o slice=0
cell yoff -m eventloop -w yield -o count=1e6 -t 1 -o offload=on -o pool=1
cell yseq -m sequential -w yield -o count=1e6 -t 1

# bench/peers.sh's eventloop row: the walls of 10,000 sleeps, run by run.
jq '.results[0].runs[].wall_ns' "$tmp/s10k.json" >"$tmp/peer_cb"
sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p' "$tmp/r10k.all" >"$tmp/peer_ref"
peer_row eventloop ms 1e6 "<= ${TARGET}x" \
    "wall of 10,000 sleeps of 100 ms vs uv_timer_loop 10000 100" \
    "$tmp/peer_cb" "$tmp/peer_ref"

echo
echo "Concurrent sleeps of 100 ms (median of $RUNS; lateness = wake - deadline)"
printf '%-38s %10s %8s %12s %12s %10s\n' "" "wall ms" "x100ms" "late p50 ms" \
    "late p99 ms" "RSS MiB"
for t in 10k 100k; do
    w=$(q "s$t" '.summary.wall_ns.median')
    printf '%-38s %10.1f %8.3f %12.3f %12.3f %10.1f\n' \
        "eventloop, $t tasks" "$(calc %f "$w / 1e6")" "$(calc %f "$w / 1e8")" \
        "$(calc %f "$(m "s$t" lateness_ns.p50) / 1e6")" \
        "$(calc %f "$(m "s$t" lateness_ns.p99) / 1e6")" \
        "$(calc %f "$(m "s$t" max_rss_kib) / 1024")"
    w=$(rawget "r$t" wall_ns)
    printf '%-38s %10.1f %8.3f %12.3f %12.3f %10.1f\n' \
        "raw libuv timers, $t (early: $(rawget "r$t" early))" \
        "$(calc %f "$w / 1e6")" "$(calc %f "$w / 1e8")" \
        "$(calc %f "$(rawget "r$t" late_p50_ns) / 1e6")" \
        "$(calc %f "$(rawget "r$t" late_p99_ns) / 1e6")" \
        "$(calc %f "$(rawget "r$t" max_rss_kib) / 1024")"
done
w10=$(q s10k '.summary.wall_ns.median')
verdict=$(awk -v w="$w10" -v t="$TARGET" 'BEGIN { print (w / 1e8 <= t) ? "met" : "missed" }')
echo "target: 10,000 sleeps within ${TARGET}x of 100 ms: $verdict"

echo
echo "RSS per task (peak RSS difference between 100,000 and 10,000 tasks / 90,000)"
el_b=$(calc %.0f "($(m s100k max_rss_kib) - $(m s10k max_rss_kib)) * 1024 / 90000")
raw_b=$(calc %.0f "($(rawget r100k max_rss_kib) - $(rawget r10k max_rss_kib)) * 1024 / 90000")
printf '  eventloop (sleep task):  %6s bytes\n' "$el_b"
printf '  raw uv_timer_t:          %6s bytes  (eventloop %sx)\n' "$raw_b" \
    "$(calc %.1f "$el_b / $raw_b")"

echo
echo "Per-task overhead: 100,000 sleeps of 0 ms (start, one timer, finish)"
el_t=$(calc %.0f "$(q z100k '.summary.wall_ns.median') / 100000")
seq_t=$(calc %.0f "$(q zseq '.summary.wall_ns.median') / 10000")
raw_t=$(calc %.0f "$(rawget r0 wall_ns) / 100000")
printf '  %-44s %8s ns/task\n' "raw libuv: uv_timer init+start+fire+close" "$raw_t"
printf '  %-44s %8s ns/task  (%sx raw)\n' "eventloop: task + timer + workload" \
    "$el_t" "$(calc %.2f "$el_t / $raw_t")"
printf '  %-44s %8s ns/task  (%sx raw)\n' "sequential (10,000): task + clock_nanosleep" \
    "$seq_t" "$(calc %.2f "$seq_t / $raw_t")"

echo
echo "Yield cost per step (yield workload: wall / steps)"
ns_step() { calc %.1f "$(q "$1" '.summary.wall_ns.median') / $2"; }
ys=$(ns_step yseq 1e6)
printf '  %-44s %8s ns/step\n' "sequential, 1 task (a function call)" "$ys"
for row in "y1 1e6 eventloop, 1 task (a loop pass each)" \
           "y100 1e6 eventloop, 100 tasks (a pass per 100)" \
           "yoff0 1e5 offload=on slice=0: a pool hand-off each" \
           "yoff 1e6 offload=on, 2 ms slices on the pool"; do
    read -r name steps label <<<"$row"
    v=$(ns_step "$name" "$steps")
    printf '  %-44s %8s ns/step  (%sx sequential)\n' "$label" "$v" \
        "$(calc %.0f "$v / $ys")"
done
