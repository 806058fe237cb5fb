#!/usr/bin/env bats
# Green timing, as ratios measured inside each test (retried under load):
# 10,000 concurrent sleeps cost about one sleep, and two schedulers sieve
# two tasks faster than one.

load timing
bats_require_minimum_version 1.5.0

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

load parallel

# The fastest wall_ns of a cell's runs (fewest interruptions by others).
min_wall() {
    "$CONCBENCH" -m green --json - "$@" 2>/dev/null | record_disturbed_stdin |
        jq '[.results[0].runs[] | select(.failed | not) | .wall_ns] | min'
}

@test "10,000 sleeps of 50ms finish in under 3x one sleep" {
    timing_test
    for try in 1 2 3; do
        one=$(min_wall -w sleep -o ms=50ms -t 1 --runs 3 --warmup 0)
        many=$(min_wall -w sleep -o ms=50ms -t 10000 --runs 2 --warmup 1)
        echo "try $try: 1 sleep ${one} ns, 10,000 sleeps ${many} ns" >&3
        [ "$one" -ge 50000000 ] # never early
        [ "$many" -ge 50000000 ]
        [ "$many" -lt $(( 3 * one )) ] && return 0
    done
    false
}

@test "primes with 2 tasks: workers=2 is at least 1.4x faster than workers=1" {
    timing_test
    [ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs"
    for try in 1 2 3; do
        w1=$(min_wall -w primes -o n=2e9 -t 2 -o workers=1 --runs 3 --warmup 1)
        w2=$(min_wall -w primes -o n=2e9 -t 2 -o workers=2 --runs 3 --warmup 1)
        echo "try $try: workers=1 ${w1} ns, workers=2 ${w2} ns" >&3
        [ $(( w1 * 10 )) -ge $(( w2 * 14 )) ] && return 0
    done
    skip_if_machine_busy "green workers=2"
}
