#!/usr/bin/env bash
# Instructions an update takes on the green lock handoff's path, counted
# with callgrind rather than timed. A count does not move with a shared
# machine's speed (bench/locks.sh's times move by up to 1.8x within
# minutes on a VM), so it shows what a change to the path saves, down to
# one instruction. Each figure is the difference between a run of N and
# one of 2N updates a task, over the N more: setup, start and exit cancel
# out. The rows:
#   green handoff:   counter fair=on yield_inside=on, 2 tasks: bench/locks.sh's
#                    handoff row (a wake, a park, one switch and two steps)
#   green, one task: the same run with one task (no handoff)
#   handoff floor:   bench/raw/fcontext_lock.c, the handoff's work under
#                    step() and nothing else
#   raw pair:        bench/raw/fcontext_pingpong.c, a jump_fcontext pair
#                    (two switches), the handoff row's raw side
# Not a test: it prints a table. Instructions are not time: a switch
# costs more than its instructions (its loads of the control words wait),
# so the times' ratios differ (bench/locks.sh).
#
# Environment: CONCBENCH (default ./concbench), N (updates a task,
# 100000).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
N=${N:-100000}
me=bench/icount.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

case $N in
'' | *[!0-9]* | 0*)
    echo "$me: N must be a positive whole number, not '$N'" >&2
    exit 2
    ;;
esac

need_concbench
need_tools valgrind
need_model green
need_workload counter
bench_init
tmp=$CB_TMP
need_raw fcontext_pingpong
need_raw fcontext_lock

# collected CMD...: the instructions callgrind counted in CMD.
collected() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" \
        >/dev/null 2>"$tmp/cg" || {
        echo "$me: $* failed under callgrind:" >&2
        tail -n 5 "$tmp/cg" >&2
        exit 1
    }
    awk '/Collected :/ { print $NF; found = 1 } END { exit !found }' \
        "$tmp/cg" || {
        echo "$me: callgrind gave no count for $*" >&2
        exit 1
    }
}

# per_more UNITS CMD...: instructions a unit, where CMD with {} replaced
# by N does N*UNITS units and with 2N twice as many.
per_more() {
    local units=$1 a b
    shift
    a=$(collected "${@//\{\}/$N}")
    b=$(collected "${@//\{\}/$((2 * N))}")
    jq -n "($b - $a) / ($N * $units)"
}

green() {
    local t=$1
    per_more "$t" "$CONCBENCH" -m green -w counter -t "$t" \
        -o 'increments={}' -o fair=on -o yield_inside=on \
        --runs 1 --warmup 0
}

handoff=$(green 2)
alone=$(green 1)
floor=$(per_more 2 "$tmp/fcontext_lock" '{}')
pair=$(per_more 1 "$tmp/fcontext_pingpong" '{}')

printf '%-34s %14s %12s\n' "instructions (callgrind)" "an update" "x the floor"
row() {
    printf '%-34s %14.1f %11.2fx\n' "$1" "$2" "$(jq -n "$2 / $floor")"
}
row "green lock handoff (fair)" "$handoff"
row "green, one task (no handoff)" "$alone"
row "handoff floor (step() only)" "$floor"
printf '%-34s %14.1f %12s\n' "raw jump_fcontext pair (a pair)" "$pair" "-"
