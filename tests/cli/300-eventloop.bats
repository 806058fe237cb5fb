#!/usr/bin/env bats
# The eventloop model: right answers for every workload in every option
# combination, its options and their refusals, 10,000 overlapping sleeps,
# and a clean stop on SIGINT.

load timing
bats_require_minimum_version 1.5.0

# shellcheck source=bench/lib.sh
source "$BATS_TEST_DIRNAME/../../bench/lib.sh"

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    if ! have_model eventloop; then
        skip "eventloop is not in this build"
    fi
}

# One run of a cell as JSON on stdout; fails the test on a nonzero exit.
el_json() {
    run --separate-stderr "$CONCBENCH" -m eventloop --runs 1 --warmup 0 --json - "$@"
    if [ "$status" -ne 0 ]; then
        echo "exit $status: $*: $stderr" >&2
        return 1
    fi
}

@test "list shows eventloop with workers, offload, pool and slice" {
    run "$CONCBENCH" list
    [ "$status" -eq 0 ]
    [[ "$output" == *"eventloop    callbacks on one libuv loop"*"(like asyncio)"* ]]
    [[ "$output" == *"-o workers=<count>"*"-o offload=<bool>"*"-o pool=<count>"*"-o slice=<duration>"* ]]
}

@test "every workload counts right under every option combination" {
    combos=("" "-o workers=2" "-o offload=on" "-o offload=on -o pool=1"
            "-o workers=2 -o offload=on -o pool=2"
            "-o offload=on -o slice=0" "-o workers=5")
    for c in "${combos[@]}"; do
        # shellcheck disable=SC2086
        el_json -w primes -o n=1e7 -t 3 $c
        [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 664579 ]
        # shellcheck disable=SC2086
        el_json -w sleep -o ms=20ms -o count=3 -o jitter=3ms -t 40 $c
        [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 120 ]
        [ "$(jq '.results[0].runs[0].errors' <<<"$output")" -eq 0 ]
        # shellcheck disable=SC2086
        el_json -w yield -o count=2000 -t 6 $c
        [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 12000 ]
        if ! have_workload http; then
            continue
        fi
        # shellcheck disable=SC2086
        el_json -w http -o requests=3 -o delay=1ms -t 12 $c
        [ "$(jq '.results[0].runs[0].result_ok' <<<"$output")" = true ]
        [ "$(jq '.results[0].runs[0].ops' <<<"$output")" -eq 36 ]
        [ "$(jq '.results[0].runs[0].errors' <<<"$output")" -eq 0 ]
    done
}

@test "http with keep-alive and with new connections reuses fds correctly" {
    if ! have_workload http; then
        skip "http is not in this build"
    fi
    for ka in on off; do
        el_json -w http -o requests=20 -o delay=0 -o keepalive=$ka -t 50
        [ "$(jq '.results[0].runs[0].ops' <<<"$output")" -eq 1000 ]
        [ "$(jq '.results[0].runs[0].errors' <<<"$output")" -eq 0 ]
    done
}

@test "the options are recorded in the report" {
    el_json -w yield -o count=10 -t 2 -o workers=2 -o offload=on -o pool=2
    [ "$(jq -c '.results[0].model_options' <<<"$output")" = '{"workers":2,"offload":"on","pool":2,"slice_ns":2000000}' ]
    el_json -w yield -o count=10
    [ "$(jq -c '.results[0].model_options' <<<"$output")" = '{"workers":1,"offload":"off","slice_ns":2000000}' ]
}

@test "pool without offload is a usage error" {
    run --separate-stderr "$CONCBENCH" -m eventloop -w primes -o pool=2
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option 'pool' of model 'eventloop' needs offload=on (only offloaded steps use the pool)" ]
    [ -z "$output" ]
}

@test "out-of-range workers and pool are refused" {
    run --separate-stderr "$CONCBENCH" -m eventloop -w primes -o workers=0
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"workers"* ]]
    run --separate-stderr "$CONCBENCH" -m eventloop -w primes -o offload=on -o pool=1025
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"pool"* ]]
}

@test "a second pool size in one process is skipped with the reason" {
    run --separate-stderr "$CONCBENCH" sweep -m eventloop -w yield -t 2 -o count=100 -o offload=on -o pool=1,2 --runs 1 --warmup 0 --no-interleave --json -
    [ "$status" -eq 0 ]
    [ "$(jq '[.results[] | select(.skipped == null)] | length' <<<"$output")" -eq 1 ]
    reason=$(jq -r '.results[] | select(.skipped != null) | .skipped' <<<"$output")
    [[ "$reason" == "libuv's thread pool already runs 1 thread in this process and cannot change to pool=2; run that cell in a process of its own" ]]
}

@test "10,000 sleeps of 50 ms take under 3x one sleep" {
    timing_test
    # Judged against the model's own cost of 10,000 tasks with nothing to
    # wait for (which a loaded machine inflates), up to 3 tries: run one
    # after another they would take 10,000 sleeps more.
    local one=0 zero=0 many=0 t
    for try in 1 2 3; do
        el_json -w sleep -o ms=50ms -t 1
        t=$(jq '.results[0].runs[0].wall_ns' <<<"$output")
        [ "$t" -ge 50000000 ]
        [ "$one" -ne 0 ] && [ "$one" -le "$t" ] || one=$t
        el_json -w sleep -o ms=0 -t 10000
        t=$(jq '.results[0].runs[0].wall_ns' <<<"$output")
        [ "$zero" -ne 0 ] && [ "$zero" -le "$t" ] || zero=$t
        run --separate-stderr "$CONCBENCH" -m eventloop -w sleep -o ms=50ms -t 10000 --runs 1 --warmup 1 --json -
        [ "$status" -eq 0 ]
        [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 10000 ]
        [ "$(jq '.results[0].runs[0].errors' <<<"$output")" -eq 0 ]
        t=$(jq '.results[0].runs[0].wall_ns' <<<"$output")
        [ "$many" -ne 0 ] && [ "$many" -le "$t" ] || many=$t
        echo "try $try: 1 sleep: $one ns, 10,000 empty tasks: $zero ns, 10,000 sleeps: $many ns"
        [ "$many" -lt $(( zero + 3 * one )) ] && return 0
    done
    return 1
}

@test "SIGINT stops every kind of eventloop run at once: exit 130, no file" {
    timing_test
    for opts in "-w sleep -o ms=30s -t 2000 -o workers=2" \
                "-w primes -o n=1e12 -t 2 -o offload=on -o pool=2" \
                "-w yield -o count=1e9 -t 4"; do
        rm -f "$BATS_TEST_TMPDIR/r.json"
        # shellcheck disable=SC2086
        "$CONCBENCH" -m eventloop $opts --json "$BATS_TEST_TMPDIR/r.json" 2>"$BATS_TEST_TMPDIR/err" &
        pid=$!
        sleep 0.5
        t0=$(date +%s%N)
        kill -INT "$pid"
        status=0
        wait "$pid" || status=$?
        t1=$(date +%s%N)
        echo "$opts: exit $status after $(( (t1 - t0) / 1000000 )) ms"
        [ "$status" -eq 130 ]
        [ "$(cat "$BATS_TEST_TMPDIR/err")" = "concbench: interrupted by SIGINT" ]
        [ ! -e "$BATS_TEST_TMPDIR/r.json" ]
        # Each would run for 30 s or more; 3 s leaves room for a loaded CI.
        [ $(( (t1 - t0) / 1000000 )) -lt 3000 ]
    done
}
