#!/usr/bin/env bats
# SIGINT and SIGTERM in the middle of a run, under every model and
# workload: exit 130/143 within a few seconds, no results file and no
# temporary file, and no process left behind — no zombie, no orphan (the
# built-in HTTP server and fork's children included). Survivors are found
# by an environment marker every descendant inherits.

bats_require_minimum_version 1.5.0

# shellcheck source=bench/lib.sh
source "$BATS_TEST_DIRNAME/../../bench/lib.sh"

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    mark="concbench-signal-test-$$-$BATS_TEST_NUMBER-$RANDOM"
}

teardown() {
    # Never leave a survivor to the next test, whatever happened.
    for pid in $(survivors); do kill -KILL "$pid" 2>/dev/null || true; done
}

# Processes still carrying this test's marker.
survivors() {
    grep -lsa "CONCBENCH_SIGNAL_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null |
        cut -d/ -f3 | grep -v "^$$\$" || true
}

# interrupt SIGNAL WANT MODEL WORKLOAD ARGS...: starts a long run, waits
# until it is under way, signals it and checks everything above.
interrupt() {
    local sig=$1 want=$2 m=$3 w=$4 pid status=0 i
    shift 4
    have_model "$m" || skip "$m is not in this build"
    CONCBENCH_SIGNAL_MARK=$mark "$CONCBENCH" -m "$m" -w "$w" "$@" \
        --runs 3 --warmup 0 --json "$BATS_TEST_TMPDIR/r.json" \
        >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    sleep 0.7
    kill -0 "$pid"                      # still running: the signal is mid-run
    kill "-$sig" "$pid"
    # Bounded wait: a hang fails the test instead of stalling the suite.
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        echo "$m/$w did not stop within 5 s of SIG$sig" >&3
        return 1
    fi
    wait "$pid" || status=$?
    echo "$m/$w: exit $status, stderr: $(cat "$BATS_TEST_TMPDIR/err")" >&3
    [ "$status" -eq "$want" ]
    grep -q "concbench: interrupted by SIG$sig" "$BATS_TEST_TMPDIR/err"
    [ ! -e "$BATS_TEST_TMPDIR/r.json" ]
    [ -z "$(ls "$BATS_TEST_TMPDIR" | grep '\.tmp\.' || true)" ]
    # Children get a moment to be reaped by init if they were orphaned.
    sleep 0.2
    [ -z "$(survivors)" ] || { echo "survivors: $(survivors)" >&3; ps -o pid,ppid,stat,cmd -p "$(survivors | tr '\n' ,)0" >&3; return 1; }
}

long_primes=(-o n=1e12 -t 2)
long_sleep=(-o ms=30s -t 20)
long_yield=(-o count=1e9 -t 4)
long_http=(-o delay=30s -o requests=1 -t 8)

# Every model x workload; about half take SIGTERM, so both paths cover
# every model.
@test "SIGINT stops sequential/primes cleanly" {
    interrupt INT 130 sequential primes "${long_primes[@]}"
}

@test "SIGINT stops sequential/sleep cleanly" {
    interrupt INT 130 sequential sleep "${long_sleep[@]}"
}

@test "SIGTERM stops sequential/yield cleanly" {
    interrupt TERM 143 sequential yield "${long_yield[@]}"
}

@test "SIGTERM stops sequential/http cleanly" {
    interrupt TERM 143 sequential http "${long_http[@]}"
}

@test "SIGINT stops fork/primes cleanly" {
    interrupt INT 130 fork primes "${long_primes[@]}"
}

@test "SIGTERM stops fork/sleep cleanly" {
    interrupt TERM 143 fork sleep "${long_sleep[@]}"
}

@test "SIGINT stops fork/yield cleanly" {
    interrupt INT 130 fork yield "${long_yield[@]}"
}

@test "SIGTERM stops fork/http cleanly" {
    interrupt TERM 143 fork http "${long_http[@]}"
}

@test "SIGTERM stops threads/primes cleanly" {
    interrupt TERM 143 threads primes "${long_primes[@]}"
}

@test "SIGINT stops threads/sleep cleanly" {
    interrupt INT 130 threads sleep "${long_sleep[@]}"
}

@test "SIGINT stops threads/yield cleanly" {
    interrupt INT 130 threads yield "${long_yield[@]}"
}

@test "SIGTERM stops threads/http cleanly" {
    interrupt TERM 143 threads http "${long_http[@]}"
}

@test "SIGINT stops green/primes cleanly" {
    interrupt INT 130 green primes "${long_primes[@]}"
}

@test "SIGTERM stops green/sleep cleanly" {
    interrupt TERM 143 green sleep "${long_sleep[@]}"
}

@test "SIGINT stops green/yield cleanly" {
    interrupt INT 130 green yield "${long_yield[@]}"
}

@test "SIGTERM stops green/http cleanly" {
    interrupt TERM 143 green http "${long_http[@]}"
}

@test "SIGINT stops eventloop/primes cleanly" {
    interrupt INT 130 eventloop primes "${long_primes[@]}"
}

@test "SIGTERM stops eventloop/sleep cleanly" {
    interrupt TERM 143 eventloop sleep "${long_sleep[@]}"
}

@test "SIGINT stops eventloop/yield cleanly" {
    interrupt INT 130 eventloop yield "${long_yield[@]}"
}

@test "SIGINT stops eventloop/http cleanly" {
    interrupt INT 130 eventloop http "${long_http[@]}"
}

@test "SIGTERM stops uring/primes cleanly" {
    interrupt TERM 143 uring primes "${long_primes[@]}"
}

@test "SIGINT stops uring/sleep cleanly" {
    interrupt INT 130 uring sleep "${long_sleep[@]}"
}

@test "SIGTERM stops uring/yield cleanly" {
    interrupt TERM 143 uring yield "${long_yield[@]}"
}

@test "SIGINT stops uring/http cleanly" {
    interrupt INT 130 uring http "${long_http[@]}"
}

@test "SIGINT with worker pools and options" {
    interrupt INT 130 threads sleep -o ms=30s -t 50 -o workers=4 -o gil=on
    interrupt INT 130 fork primes -o n=1e12 -t 4 -o workers=2
    interrupt INT 130 green sleep -o ms=30s -t 1000 -o workers=2
    interrupt INT 130 eventloop primes -o n=1e12 -t 2 -o offload=on
    interrupt INT 130 uring sleep -o ms=30s -t 1000 -o workers=2 -o sqpoll=on
    interrupt TERM 143 uring counter -o increments=1e9 -o hold=1us -o yield_inside=on -t 4 -o workers=2
}
