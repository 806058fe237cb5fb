#!/usr/bin/env bash
# What coordination costs under each model, in one invocation (medians of
# RUNS, alternated so that a change in the machine's load hits every row):
#   SPSC queue, threads:  queue with one producer and one consumer through
#                         CAPACITY slots, ns per item, against a raw
#                         pthread mutex + two condition variables queue
#                         (bench/raw/condvar_queue.c; target 1.5x)
#   items per second:     the same SPSC queue under every model, fork over
#                         shared memory and over a pipe
#   event wake:           one setter, WAITERS waiters, the p50 of the wake
#                         from the set to each waiter running, per model
# Not a test: it prints tables, and exits 1 when the target is missed.
#
# Environment: CONCBENCH (default ./concbench), RUNS (5), N (items, 1e6),
# CAPACITY (64), WAITERS (8), ROUNDS (200).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
RUNS=${RUNS:-5}
N=${N:-1000000}
CAPACITY=${CAPACITY:-64}
WAITERS=${WAITERS:-8}
ROUNDS=${ROUNDS:-200}
me=bench/coord.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools jq
need_workload queue
need_workload event
bench_init
tmp=$CB_TMP
need_raw condvar_queue

# run_json WORKLOAD MODEL ARGS...: one run's record; exits 1 if it failed.
run_json() {
    local w=$1 m=$2
    shift 2
    "$CONCBENCH" -m "$m" -w "$w" "$@" --runs 1 --warmup 1 --json - \
        2>"$tmp/err" | jq -c '.results[0].runs[0] | if .failed then
            error(.why) else . end' || {
        echo "$me: $w under $m $* failed: $(cat "$tmp/err")" >&2
        exit 1
    }
}

# The queue rows: a label, then the model and its options.
queue_rows=("threads|threads" "threads gil=on|threads -o gil=on"
    "fork, channel=shm|fork -o channel=shm"
    "fork, channel=pipe|fork -o channel=pipe"
    "green|green" "eventloop|eventloop" "uring|uring")
event_models=(threads fork green eventloop uring)

usable() { have_model "${1%% *}"; }

: >"$tmp/spsc.raw"
: >"$tmp/spsc.cb"
for ((i = 0; i < RUNS; i++)); do
    "$tmp/condvar_queue" "$CAPACITY" "$N" >>"$tmp/spsc.raw"
    run_json queue threads -t 2 -o capacity="$CAPACITY" -o items="$N" |
        jq ".wall_ns / $N" >>"$tmp/spsc.cb"
    for k in "${!queue_rows[@]}"; do
        spec=${queue_rows[$k]#*|}
        usable "$spec" || continue
        # shellcheck disable=SC2086 # the model's options are words
        run_json queue $spec -t 2 -o capacity="$CAPACITY" -o items="$N" |
            jq '.items_per_s' >>"$tmp/q$k"
    done
    for m in "${event_models[@]}"; do
        usable "$m" || continue
        run_json event "$m" -t $((WAITERS + 1)) -o rounds="$ROUNDS" |
            jq '.wake_ns.p50' >>"$tmp/e.$m"
    done
done

status=0
# Other processes on the CPUs move every row: say how busy the machine was.
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %12s %12s %8s %7s\n' "SPSC queue, per item" concbench raw \
    ratio target
cb=$(median <"$tmp/spsc.cb")
raw=$(median <"$tmp/spsc.raw")
ratio=$(jq -n "$cb / $raw")
printf '%-34s %9.0f ns %9.0f ns %7.2fx %7s\n' "threads, capacity=$CAPACITY" \
    "$cb" "$raw" "$ratio" 1.5x
jq -en "$ratio > 1.5" >/dev/null && status=1
peer_row "SPSC queue, threads" ns 1 1.5x "bench/coord.sh" "$tmp/spsc.cb" \
    "$tmp/spsc.raw"
echo "  (spread: concbench $(spread <"$tmp/spsc.cb") ns," \
    "raw $(spread <"$tmp/spsc.raw") ns)"

echo
printf '%-34s %14s %20s\n' "SPSC queue, items per second" median min..max
for k in "${!queue_rows[@]}"; do
    label=${queue_rows[$k]%%|*}
    if ! [ -s "$tmp/q$k" ]; then
        printf '%-34s %s\n' "$label" "skipped: model unavailable"
        continue
    fi
    printf '%-34s %14.0f %20s\n' "$label" "$(median <"$tmp/q$k")" \
        "$(spread <"$tmp/q$k")"
done

echo
printf '%-34s %14s %20s\n' "event wake p50, $WAITERS waiters" median \
    "min..max"
for m in "${event_models[@]}"; do
    if ! [ -s "$tmp/e.$m" ]; then
        printf '%-34s %s\n' "$m" "skipped: model unavailable"
        continue
    fi
    printf '%-34s %11.1f us %20s\n' "$m" \
        "$(median <"$tmp/e.$m" | jq '. / 1000')" "$(spread 1000 <"$tmp/e.$m")"
done
cat <<'EOF2'

raw: one producer and one consumer thread around a pthread mutex and two
condition variables (bench/raw/condvar_queue.c), each item stamped with its
put time and read back at the get, as queue.Queue is built. concbench's
wall time includes starting and joining its threads. A pipe item is two
syscalls (a write and a read) beside a semaphore in shared memory, as
multiprocessing.Queue's; green, eventloop and uring hand items over on one
OS thread, where a wait is a switch or a loop pass, not a futex.
EOF2
exit "$status"
