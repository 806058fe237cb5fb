#!/usr/bin/env bash
# What the green model costs: 10,000 and 100,000 concurrent sleeps of 100ms
# (wall against the 100ms one sleep takes, wake-up lateness, RSS per task),
# the start-and-end cost of a task (sleeps of 0ms), and the cost of one
# yield beside the raw stack switch it is made of (bench/raw: a
# jump_fcontext and a swapcontext ping-pong, the jump_fcontext one with a
# step call before each switch, the floor of any scheduler that runs tasks
# through step(), and jump_fcontext round a ring of 100 stacks, the memory
# 100 tasks touch), alternated in the same invocation. Not a test: it
# prints a table.
#
# Environment: CONCBENCH (default ./concbench), RUNS (5; medians are
# reported with the min..max spread), CC (cc).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
RUNS=${RUNS:-5}
me=bench/green.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools jq
need_model green
bench_init
tmp=$CB_TMP
need_raw fcontext_pingpong
need_raw fcontext_ring
need_raw fcontext_step
need_raw swapcontext_pingpong

# cell FILE ARGS...: RUNS timed runs of one green cell into FILE (JSON);
# fails the script if any run failed.
cell() {
    local out=$1
    shift
    "$CONCBENCH" -m green --runs "$RUNS" --warmup 1 --json "$out" "$@" \
        >/dev/null 2>"$tmp/err" || {
        echo "$me: concbench -m green $* failed:" >&2
        cat "$tmp/err" >&2
        exit 1
    }
}
runs() { jq -r ".results[0].runs[] | $2" "$1"; }

echo "Concurrent sleeps of 100ms under green (median of $RUNS runs, 1 warmup)"
printf '%-8s %-6s %10s %8s %16s %10s %11s %9s\n' tasks stacks wall \
    "x100ms" "spread (ms)" "late p99" "peak RSS" "RSS/task"
cell "$tmp/s1.json" -w sleep -o ms=100ms -t 1
rss1=$(runs "$tmp/s1.json" .max_rss_kib | median)
for n in 10000 100000; do
    for keep in off on; do
        f="$tmp/s$n$keep.json"
        cell "$f" -w sleep -o ms=100ms -t "$n" -o keep_stacks="$keep"
        wall=$(runs "$f" .wall_ns | median)
        late=$(runs "$f" .lateness_ns.p99 | median)
        rss=$(runs "$f" .max_rss_kib | median)
        printf '%-8d %-6s %8.1fms %7.3fx %16s %8.2fms %8.1fMiB %6.2fKiB\n' \
            "$n" "$([ "$keep" = on ] && echo kept || echo fresh)" \
            "$(jq -n "$wall / 1e6")" "$(jq -n "$wall / 1e8")" \
            "$(runs "$f" .wall_ns | spread 1e6)" "$(jq -n "$late / 1e6")" \
            "$(jq -n "$rss / 1024")" "$(jq -n "($rss - $rss1) / ($n - 1)")"
    done
done
cell "$tmp/s0.json" -w sleep -o ms=0 -t 10000
zero=$(runs "$tmp/s0.json" .wall_ns | median)
printf 'target: 10,000 within 1.10x of 100ms. A task costs %.2f us to start\n' \
    "$(jq -n "$zero / 10000 / 1000")"
echo "and end (10,000 sleeps of 0ms: a stack from a fresh mmap with its"
echo "guard, its first page faulted in, the workload's own setup, the"
echo "munmap); the wall of N sleeps is about 100ms + N times that."
echo "kept: keep_stacks=on (the default), the pool stays mapped from the"
echo "warmup run, as in a long-lived process; fresh: keep_stacks=off, every"
echo "run maps its own stacks."
echo "RSS/task: (peak RSS - a 1-task run's) / (N - 1)."
echo

# Yield cost: a yield is one switch, task to next task (the scheduler is
# visited only when a round's poll has work, never here).
: >"$tmp/fc_raw"; : >"$tmp/fc"; : >"$tmp/uc_raw"; : >"$tmp/uc"
: >"$tmp/fc_ring"; : >"$tmp/fc_step"; : >"$tmp/fc2"
# Each round on one CPU, the next CPU the next round (cpu_pin).
for ((i = 0; i < RUNS; i++)); do
    cpu_pin "$i"
    "${CB_PIN[@]}" "$tmp/fcontext_pingpong" 10000000 >>"$tmp/fc_raw"
    # The same stack switch round 100 contexts, each on its own stack, as
    # the 100 green tasks are: the memory they touch, without a scheduler.
    "${CB_PIN[@]}" "$tmp/fcontext_ring" 100 100000 >>"$tmp/fc_ring"
    "${CB_PIN[@]}" "$CONCBENCH" -m green -w yield -t 100 -o count=100000 \
        -o switch=fcontext --runs 1 --warmup 1 --json - 2>/dev/null |
        jq '.results[0].runs[0].wall_ns / 1e7' >>"$tmp/fc"
    # The ping-pong with a step call before each switch, as a task loop
    # makes one: the floor of a scheduler that drives tasks through
    # step(); and green's yield at that shape, 2 tasks.
    "${CB_PIN[@]}" "$tmp/fcontext_step" 10000000 >>"$tmp/fc_step"
    "${CB_PIN[@]}" "$CONCBENCH" -m green -w yield -t 2 -o count=5000000 \
        -o switch=fcontext --runs 1 --warmup 1 --json - 2>/dev/null |
        jq '.results[0].runs[0].wall_ns / 1e7' >>"$tmp/fc2"
    "${CB_PIN[@]}" "$tmp/swapcontext_pingpong" 1000000 >>"$tmp/uc_raw"
    "${CB_PIN[@]}" "$CONCBENCH" -m green -w yield -t 100 -o count=10000 \
        -o switch=ucontext --runs 1 --warmup 1 --json - 2>/dev/null |
        jq '.results[0].runs[0].wall_ns / 1e6' >>"$tmp/uc"
done
fc_raw=$(median <"$tmp/fc_raw"); fc=$(median <"$tmp/fc")
uc_raw=$(median <"$tmp/uc_raw"); uc=$(median <"$tmp/uc")
fc_ring=$(median <"$tmp/fc_ring")
fc_step=$(median <"$tmp/fc_step"); fc2=$(median <"$tmp/fc2")
peer_row green ns 1 "<= 3x" \
    "per yield (a switch), 100 tasks x 100,000 yields vs jump_fcontext ping-pong" \
    "$tmp/fc" "$tmp/fc_raw"
peer_row green-ring ns 1 "" \
    "per yield, the same yields vs jump_fcontext round a ring of 100 stacks" \
    "$tmp/fc" "$tmp/fc_ring"
peer_row green-step ns 1 "" \
    "per yield, 2 tasks x 5,000,000 yields vs the ping-pong with a step call a switch (no scheduler)" \
    "$tmp/fc2" "$tmp/fc_step"
echo "Cost of a switch, ns (median of $RUNS alternated runs; spread)"
printf '%-34s %9s %9s   %s\n' "" "ns" "ratio" "spread (ns)"
printf '%-34s %9.2f %9s   %s\n' "raw jump_fcontext ping-pong" "$fc_raw" "1.00x" \
    "$(spread <"$tmp/fc_raw")"
printf '%-34s %9.2f %8.2fx   %s\n' "raw jump_fcontext, ring of 100" \
    "$fc_ring" "$(jq -n "$fc_ring / $fc_raw")" "$(spread <"$tmp/fc_ring")"
printf '%-34s %9.2f %8.2fx   %s\n' "raw ping-pong + a step a switch" \
    "$fc_step" "$(jq -n "$fc_step / $fc_raw")" "$(spread <"$tmp/fc_step")"
printf '%-34s %9.2f %8.2fx   %s\n' "green yield, 2 tasks" "$fc2" \
    "$(jq -n "$fc2 / $fc_raw")" "$(spread <"$tmp/fc2")"
printf '%-34s %9.2f %8.2fx   %s\n' "green yield, 100 tasks" "$fc" \
    "$(jq -n "$fc / $fc_raw")" "$(spread <"$tmp/fc")"
printf '%-34s %9.2f %8.2fx   %s\n' "raw swapcontext ping-pong" "$uc_raw" \
    "$(jq -n "$uc_raw / $fc_raw")" "$(spread <"$tmp/uc_raw")"
printf '%-34s %9.2f %8.2fx   %s\n' "green yield, switch=ucontext" "$uc" \
    "$(jq -n "$uc / $fc_raw")" "$(spread <"$tmp/uc")"
printf 'green yield, fcontext vs raw jump_fcontext: %.2fx (target: within 3x);\n' \
    "$(jq -n "$fc / $fc_raw")"
printf 'vs the raw ring of 100 stacks: %.2fx (what the 100 stacks cost a switch\n' \
    "$(jq -n "$fc / $fc_ring")"
echo "over a ping-pong's two, whatever does the switching);"
printf 'the ping-pong with a step call a switch: %.2fx the bare one, the least\n' \
    "$(jq -n "$fc_step / $fc_raw")"
echo "a yield can cost under step() with no scheduler at all; a green yield"
printf 'of 2 tasks is %.2fx that floor (the run queue and the task loop'"'"'s\n' \
    "$(jq -n "$fc2 / $fc_step")"
echo "checks: what green's scheduler costs a switch);"
printf 'ucontext vs raw swapcontext: %.2fx; swapcontext vs jump_fcontext: %.0fx\n' \
    "$(jq -n "$uc / $uc_raw")" "$(jq -n "$uc_raw / $fc_raw")"
echo "(its sigprocmask syscall). A green yield is one switch, from the task"
echo "straight to the next one, so its cost is wall / yields, with 100 tasks"
echo "yielding 100,000 (ucontext: 10,000) times."
