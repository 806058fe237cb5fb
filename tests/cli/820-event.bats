#!/usr/bin/env bats
# event: one setter, many waiters, round after round, under every model.
# Every waiter must wake once a round; timing only as wide ratios.

load timing
bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    cd "$BATS_TEST_TMPDIR"
}

# ev MODEL ARGS...: one run of event, which must pass; its record.
ev() {
    local m=$1
    shift
    "$CONCBENCH" -m "$m" -w event --runs 1 --warmup 0 "$@" \
        --json e.json >/dev/null 2>e.err || {
        echo "event under $m $* failed: $(cat e.err)" >&2
        return 1
    }
    jq -c '.results[0].runs[0]' e.json
}

@test "every waiter wakes once a round under every model" {
    local args r
    for args in threads "threads -o gil=on" fork green "green -o workers=2" \
        eventloop "eventloop -o workers=2" uring "uring -o workers=2"; do
        # shellcheck disable=SC2086
        r=$(ev $args -t 6 -o rounds=30 -o delay=1ms)
        echo "$args: $r" | cut -c1-200
        jq -e '.failed == false and .ops == 150 and .op_count == 150 and
               .result == 30 and .waiters == 5 and .rounds == 30 and
               .last_wake_ns >= .wake_ns.p50' <<<"$r" >/dev/null
    done
    # No delay at all: waiters may find the event set before they park.
    r=$(ev threads -t 4 -o rounds=200 -o delay=0)
    jq -e '.failed == false and .ops == 600' <<<"$r" >/dev/null
}

@test "a wake on one OS thread costs less than a futex wake across threads" {
    timing_test
    local g t
    g=$(ev green -t 9 -o rounds=50 | jq '.wake_ns.p50')
    t=$(ev threads -t 9 -o rounds=50 | jq '.wake_ns.p50')
    echo "green p50 $g ns, threads p50 $t ns"
    # A switch is well under a microsecond, a futex wake tens of them.
    [ "$((g * 3))" -lt "$t" ]
}

@test "the setter sleeps delay between rounds" {
    timing_test
    local r
    r=$(ev green -t 3 -o rounds=20 -o delay=5ms)
    # 20 rounds of 5 ms: at least 100 ms, at most a wide 3x that.
    jq -e '.wall_ns >= 100000000 and .wall_ns < 300000000' <<<"$r" >/dev/null
    run --separate-stderr "$CONCBENCH" -m eventloop -w event -t 3 \
        -o rounds=5 --runs 1
    [ "$status" -eq 0 ]
    [[ "$output" == *"Last waiter running: "*" us after the set (mean over 5 rounds of 2 waiters)"* ]]
}

@test "sequential and python refuse event; bad input exits 2 with one line" {
    run --separate-stderr "$CONCBENCH" -m sequential -w event -t 3
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: event cannot run one task after another: the setter waits each round for its waiters to run, and the waiters for the setter (use a model that interleaves tasks)" ]
    run --separate-stderr "$CONCBENCH" -m python -w event -t 3 --runs 1
    [ "$status" -eq 2 ] || [ "$status" -eq 3 ]
    [[ "$stderr" == *"'event'"* ]]
    run --separate-stderr "$CONCBENCH" -m threads -w event -t 1
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: event needs a setter and at least one waiter (give --tasks 2 or more)" ]
    run --separate-stderr "$CONCBENCH" -m threads -w event -t 2 -o rounds=0
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: value '0' for option 'rounds' is out of range"* ]]
    run --separate-stderr "$CONCBENCH" -m threads -w event -t 2 -o delay=-1
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: bad value '-1' for option 'delay'"* ]]
}
