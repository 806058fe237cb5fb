#!/usr/bin/env bash
# What a lock costs under each model, beside the raw primitive it is made
# of, alternated in one invocation (medians of RUNS, min..max):
#   threads, uncontended:  counter lock=mutex, 1 task, per update, against a
#                          raw pthread_mutex_lock/unlock loop (target 1.5x)
#   threads, contended:    2 tasks on one counter, per update, against two
#                          raw threads doing the same (target 1.3x)
#   green handoff:         2 coroutines, fair=on yield_inside=on, per
#                          update, against a raw jump_fcontext switch pair
#                          (target 2x): each release hands the lock to the
#                          parked task (FIFO), whose holder then parks in
#                          turn, so every update is one handoff: a wake, a
#                          park and one switch
#   green, barging:        the default lock (as glibc's and gevent's), 2
#                          coroutines, yield_inside=on: while one holds the
#                          lock and yields, the other runs, finds it held
#                          and parks; the release wakes it, but the holder
#                          takes the lock again before the woken task runs,
#                          so one task does its updates first, each with
#                          the other's park and wake and two switches, and
#                          the other then does its own alone. The row is
#                          the first part: the first task's run time over
#                          its updates (task_ns p50 of 2 tasks); measured
#   handoff floor:         bench/raw/fcontext_lock.c: the handoff row's
#                          work under step() and nothing else (two task
#                          loops calling counter's yield-inside step on a
#                          bare ticket lock, a park, a wake and one switch
#                          an update; no scheduler, no wait queue, no
#                          timing), against the same pair: what any
#                          step()-driven model's handoff costs at least;
#                          measured
#   green, one task:       the handoff row's run with one coroutine: the
#                          same updates, yields and steps, with no lock
#                          passed, no park, no wake and no switch: what a
#                          handoff costs beyond it is the park, the wake,
#                          one switch and one more step; measured
#   eventloop handoff:     the handoff row under eventloop: measured
# Not a test: it prints a table, and exits 1 when a target is missed.
#
# Environment: CONCBENCH (default ./concbench), RUNS (5), N (updates a
# task, 2e6).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
RUNS=${RUNS:-5}
N=${N:-2000000}
me=bench/locks.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools jq
need_workload counter
bench_init
tmp=$CB_TMP
need_raw mutex_loop
need_raw fcontext_pingpong
need_raw fcontext_lock

# per_update MODEL TASKS OPTS...: ns per update of a counter cell, under
# "${on_cpu[@]}" (a taskset command, or nothing): the median over REPS
# runs of a run's wall over all its updates, or with PER=first of the
# first task's run time over its own (task_ns p50 of 2 tasks: each of its
# updates met the other's park and wake).
per_update() {
    local m=$1 t=$2 ns=".wall_ns / ($2 * $N)"
    shift 2
    [ "${PER:-}" != first ] || ns=".task_ns.p50 / $N"
    "${on_cpu[@]}" "$CONCBENCH" -m "$m" -w counter -t "$t" \
        -o increments="$N" "$@" \
        --runs "${REPS:-1}" --warmup 1 --json - 2>"$tmp/err" |
        jq ".results[0].runs | map(if .failed then error(.why) else $ns end)
            | $CB_JQ_MEDIAN median" ||
        {
            echo "$me: counter under $m $* failed: $(cat "$tmp/err")" >&2
            exit 1
        }
}

# The one-thread rows run both sides on one CPU, a CPU a round in turn
# (cpu_pin): one of this VM's CPUs ran the green row 1.4x slower than the
# other, and the raw loops 1.1x.
rows=(uncontended contended green floor barging alone eventloop)
for r in "${rows[@]}"; do : >"$tmp/$r.cb"; : >"$tmp/$r.raw"; done
for ((i = 0; i < RUNS; i++)); do
    cpu_pin "$i"
    pin=("${CB_PIN[@]}")
    on_cpu=("${pin[@]}")
    "${on_cpu[@]}" "$tmp/mutex_loop" uncontended "$N" \
        >>"$tmp/uncontended.raw"
    per_update threads 1 >>"$tmp/uncontended.cb"
    # Two threads on one lock settle early into a pace (how often the lock
    # changes hands) that holds for the run and changes from run to run,
    # on both sides: each side's figure of a round is the median of 3.
    on_cpu=()
    for _ in 1 2 3; do "$tmp/mutex_loop" contended "$N"; done | median \
        >>"$tmp/contended.raw"
    REPS=3 per_update threads 2 >>"$tmp/contended.cb"
    # The raw loop prints ns per switch: a pair is the holder's yield to
    # the waiter and the waiter's park back.
    on_cpu=("${pin[@]}")
    "${on_cpu[@]}" "$tmp/fcontext_pingpong" 10000000 |
        awk '{ print 2 * $1 }' >"$tmp/pair"
    if have_model green; then
        cat "$tmp/pair" >>"$tmp/green.raw"
        per_update green 2 -o fair=on -o yield_inside=on >>"$tmp/green.cb"
        cat "$tmp/pair" >>"$tmp/floor.raw"
        "${on_cpu[@]}" "$tmp/fcontext_lock" "$N" >>"$tmp/floor.cb"
        cat "$tmp/pair" >>"$tmp/barging.raw"
        PER=first per_update green 2 -o yield_inside=on >>"$tmp/barging.cb"
        cat "$tmp/pair" >>"$tmp/alone.raw"
        per_update green 1 -o fair=on -o yield_inside=on >>"$tmp/alone.cb"
    fi
    if have_model eventloop; then
        cat "$tmp/pair" >>"$tmp/eventloop.raw"
        per_update eventloop 2 -o fair=on -o yield_inside=on \
            >>"$tmp/eventloop.cb"
    fi
done

printf '%-30s %14s %14s %8s %7s %7s\n' "lock, per update" concbench raw ratio target best
status=0
row() {
    local name=$1 label=$2 target=$3 cb raw ratio best
    [ -s "$tmp/$name.cb" ] || { printf '%-30s %s\n' "$label" "skipped: model unavailable"; return; }
    cb=$(median <"$tmp/$name.cb")
    raw=$(median <"$tmp/$name.raw")
    # The median of each round's ratio: the rounds alternate CPUs.
    ratio=$(paste -d' ' "$tmp/$name.cb" "$tmp/$name.raw" |
        awk '{ print $1 / $2 }' | median)
    # Each side's best round, over the other's: what interference, which
    # only adds time, leaves of the ratio. Shown, not judged.
    best=$(sort -g "$tmp/$name.cb" | head -n 1)
    best=$(jq -n "$best / $(sort -g "$tmp/$name.raw" | head -n 1)")
    printf '%-30s %11.1f ns %11.1f ns %7.2fx %7s %6.2fx\n' "$label" "$cb" \
        "$raw" "$ratio" "${target:--}" "$best"
    if [ -n "$target" ] && jq -en "$ratio > ${target%x}" >/dev/null; then
        status=1
    fi
    peer_row "$label" ns 1 "$target" "bench/locks.sh" "$tmp/$name.cb" "$tmp/$name.raw"
}
row uncontended "threads mutex, uncontended" 1.5x
row contended "threads mutex, 2 contending" 1.3x
row green "green lock handoff (fair)" 2x
row floor "handoff floor (step() only)" ""
row barging "green lock, barging" ""
row alone "green, one task (no handoff)" ""
row eventloop "eventloop lock handoff (fair)" ""
cat <<'EOF'

raw: a pthread mutex loop (bench/raw/mutex_loop.c) for threads; a
jump_fcontext switch pair (bench/raw/fcontext_pingpong.c) for the green
and eventloop rows. The two ns columns are medians over all rounds; the
ratio is the median of each round's own ratio, both sides of a round on
one CPU (the rounds take the CPUs in turn, and a shared machine's speed
can move from minute to minute), so it need not be the columns'
quotient; the target is judged on it. best is each side's lowest round
over the other's, shown and not judged: a shared machine's interference
only adds time, and need not add alike to both sides (a handoff runs
three times the raw pair's instructions), so best is nearer what the
code itself costs, and the ratio what it costs on this machine as it is
now. The handoff rows run fair=on yield_inside=on: the holder
yields between its read and its write, the other task finds the lock
taken and parks; the release hands the lock to it and wakes it, and the
holder's next acquire parks behind it, so each update is one handoff
(one switch, where the raw pair is two). The barging row is the default
lock: the holder takes the lock back before the woken task runs, so that
task parks again, and does its updates once the first is done; the row
gives the first task's updates, each of which met the other's park and
wake (two switches). The floor row is the handoff row's work under
step() and nothing else (bench/raw/fcontext_lock.c): two task loops
calling counter's yield-inside step on a bare ticket lock, with the
park, the wake and the one switch an update, but no scheduler, no wait
queue and no timing of the waits. What the green row costs over it is
green's and the sync layer's. The one-task row is the handoff row's run
with one coroutine: the same updates, yields and steps, with nothing to
hand over, no park, no wake, no switch. A handoff costs that, plus a
park, a wake, one switch and one more step (the woken task's acquire
runs in a step of its own). An eventloop handoff is a trip round libuv:
the woken task is pushed onto its loop's ready queue and the idle handle
runs it on the next iteration, so it costs a loop iteration (poll with a
zero timeout included), not a stack switch, and two a handoff: the
holder's yield goes round the loop too.
EOF
exit "$status"
