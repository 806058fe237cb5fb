#!/usr/bin/env bats
# HTTP fetches are I/O-bound: every model but sequential overlaps their
# waits, so 32 tasks of 10 slow fetches (delay=50ms) take under 3x the time
# of one such task alone. Both times are measured here, in the same test
# (best of 2 runs each), never compared with an absolute time.

load timing
bats_require_minimum_version 1.5.0

load http-helpers

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    SERVE_PID=
    require_http
}
teardown() { serve_stop KILL; }

# best_wall MODEL TASKS: the shorter wall time of 2 runs, in ns.
best_wall() {
    cb -m "$1" -w http -t "$2" -o "url=http://127.0.0.1:$PORT/?delay=50ms" -o requests=10 --runs 2 --warmup 0 --json - 2>/dev/null |
        jq -e '.results[0] | select(.failed == false) | .summary.wall_ns.min | floor'
}

@test "32 tasks of 10 fetches take under 3x one task under every model but sequential" {
    timing_test
    serve_start -o delay=0 -o size=1KiB
    n=0
    for m in $(available_models); do
        [ "$m" = sequential ] && continue
        one=$(best_wall "$m" 1)
        many=$(best_wall "$m" 32)
        echo "$m: 1 task $one ns, 32 tasks $many ns"
        [ "$one" -ge 500000000 ]            # 10 fetches of 50 ms: never early
        [ "$many" -lt $((3 * one)) ]
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || skip "no concurrent model in this build"
}

@test "sequential does not overlap: 4 tasks take about 4x one" {
    timing_test
    serve_start -o delay=0 -o size=1KiB
    one=$(best_wall sequential 1)
    four=$(best_wall sequential 4)
    echo "sequential: 1 task $one ns, 4 tasks $four ns"
    [ "$four" -ge $((4 * one * 9 / 10)) ]
}
