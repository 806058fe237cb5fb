#!/usr/bin/env bats
# The threads and fork models at their limits: requests refused up front,
# thread or process creation failing half-way (injected with an LD_PRELOAD
# shim), and SIGINT/SIGTERM in the middle of a run. Nothing may be left
# behind in any of them.

bats_require_minimum_version 1.5.0

setup_file() {
    # fork() and pthread_create() that fail with EAGAIN after SHIM_OK calls.
    cat >"$BATS_FILE_TMPDIR/shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static int shim_fail(void)
{
    static long calls;
    const char *ok = getenv("SHIM_OK");
    return ok && ++calls > atol(ok);
}

pid_t fork(void)
{
    pid_t (*real)(void) = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
    if (shim_fail()) {
        errno = EAGAIN;
        return -1;
    }
    return real();
}

int pthread_create(pthread_t *t, const pthread_attr_t *a,
                   void *(*fn)(void *), void *arg)
{
    int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                void *) = (int (*)(pthread_t *, const pthread_attr_t *,
                                   void *(*)(void *), void *))
        dlsym(RTLD_NEXT, "pthread_create");
    if (shim_fail())
        return EAGAIN;
    return real(t, a, fn, arg);
}
EOF
    cc -shared -fPIC -o "$BATS_FILE_TMPDIR/shim.so" "$BATS_FILE_TMPDIR/shim.c" -ldl
}

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

# No process whose command line holds this test's directory survives.
none_left() {
    local left
    left=$(pgrep -f "$BATS_TEST_TMPDIR") || true
    [ -z "$left" ] || { ps -o pid,stat,args -p "$left"; return 1; }
}

@test "fork refuses more processes than RLIMIT_NPROC leaves, before forking" {
    # Counted like the kernel counts: every thread of this user.
    mine=$(ps -L -u "$(id -u)" --no-headers | wc -l)
    limit=$((mine + 100))
    run --separate-stderr bash -c "ulimit -u $limit; exec \"\$0\" -m fork \
        -w sleep -t 200 -o ms=1ms --runs 1 --warmup 0" "$CONCBENCH"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: cannot start 200 processes: RLIMIT_NPROC (ulimit -u) is $limit and this user already runs "*"; raise it with 'ulimit -u' or run fewer with -o workers=N" ]]
    [ -z "$output" ]
    # A pool that fits runs.
    run --separate-stderr bash -c "ulimit -u $limit; exec \"\$0\" -m fork \
        -w sleep -t 200 -o ms=1ms -o workers=20 --runs 1 --warmup 0" "$CONCBENCH"
    [ "$status" -eq 0 ]
}

@test "threads refuse more threads than kernel.pid_max leaves" {
    pid_max=$(cat /proc/sys/kernel/pid_max)
    [ "$pid_max" -lt 1000000 ] || skip "pid_max $pid_max is over --tasks' limit"
    run --separate-stderr "$CONCBENCH" -m threads -w sleep -t "$pid_max" \
        -o ms=1ms --runs 1 --warmup 0
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: cannot start $pid_max threads: kernel.pid_max is $pid_max and "*" pids are in use; raise it with 'sysctl kernel.pid_max=N' or run fewer with -o workers=N" ]]
}

@test "fork() failing half-way kills and reaps the children already made" {
    run --separate-stderr env LD_PRELOAD="$BATS_FILE_TMPDIR/shim.so" SHIM_OK=5 \
        "$CONCBENCH" -m fork -w sleep -t 20 -o ms=10s --runs 1 --warmup 0 \
        --json "$BATS_TEST_TMPDIR/r.json"
    [ "$status" -eq 1 ]
    [[ "$stderr" == "concbench: cannot fork worker 6 of 20: Resource temporarily unavailable (5 were started, then killed and reaped); raise 'ulimit -u' or kernel.pid_max, or run fewer with -o workers=N" ]]
    [ "$(jq '.results[0].failed' "$BATS_TEST_TMPDIR/r.json")" = true ]
    # The run the model failed is reported, failed, with the model's reason.
    [ "$(jq '.results[0].runs | length' "$BATS_TEST_TMPDIR/r.json")" -eq 1 ]
    [ "$(jq '.results[0].runs[0].failed' "$BATS_TEST_TMPDIR/r.json")" = true ]
    [[ "$(jq -r '.results[0].runs[0].why' "$BATS_TEST_TMPDIR/r.json")" == "cannot fork worker 6 of 20: "* ]]
    none_left
}

@test "pthread_create() failing half-way stops and joins the threads made" {
    SECONDS=0
    run --separate-stderr env LD_PRELOAD="$BATS_FILE_TMPDIR/shim.so" SHIM_OK=7 \
        "$CONCBENCH" -m threads -w sleep -t 20 -o ms=10s -o gil=on --runs 1 \
        --warmup 0
    [ "$status" -eq 1 ]
    [[ "$stderr" == "concbench: cannot create thread 8 of 20: Resource temporarily unavailable (7 were started, then stopped and joined); raise 'ulimit -u', kernel.threads-max or the memory limit, lower -o stack, or run fewer with -o workers=N" ]]
    # The started threads never began their 10 s sleeps.
    [ "$SECONDS" -lt 5 ]
}

# interrupt SIGNAL CODE MODEL ARGS...: a run of 30 s sleeps ends with CODE
# soon after SIGNAL, and leaves no process behind.
interrupt() {
    local sig=$1 code=$2 m=$3 st=0
    shift 3
    "$CONCBENCH" -m "$m" -w sleep -o ms=30s "$@" \
        --json "$BATS_TEST_TMPDIR/r.json" 2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    sleep 0.5
    SECONDS=0
    kill "-$sig" "$pid"
    wait "$pid" || st=$?
    echo "exit $st after ${SECONDS}s: $(cat "$BATS_TEST_TMPDIR/err")"
    [ "$st" -eq "$code" ]
    [ "$SECONDS" -lt 5 ]
    [ "$(cat "$BATS_TEST_TMPDIR/err")" = "concbench: interrupted by $sig" ]
    [ ! -e "$BATS_TEST_TMPDIR/r.json" ]
    none_left
}

@test "SIGINT ends a fork run with 130 and kills every child" {
    run interrupt SIGINT 130 fork -t 50
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "SIGTERM ends a fork pool with 143 and kills every child" {
    run interrupt SIGTERM 143 fork -t 50 -o workers=5
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "SIGINT ends a threads run with 130, waking the sleeping threads" {
    run interrupt SIGINT 130 threads -t 200
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "SIGINT ends a threads run under the GIL with 130" {
    run interrupt SIGINT 130 threads -t 50 -o gil=on -o workers=7
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "SIGINT ends a CPU-bound fork and threads run with 130" {
    for m in fork threads; do
        "$CONCBENCH" -m "$m" -w primes -t 2 -o n=1e12 \
            --json "$BATS_TEST_TMPDIR/r.json" 2>"$BATS_TEST_TMPDIR/err" &
        pid=$!
        sleep 0.5
        SECONDS=0
        kill -INT "$pid"
        st=0
        wait "$pid" || st=$?
        [ "$st" -eq 130 ]
        [ "$SECONDS" -lt 5 ]
        none_left
    done
}
