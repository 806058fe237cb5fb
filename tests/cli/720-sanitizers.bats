#!/usr/bin/env bats
# Every model x workload, small, under AddressSanitizer with UBSan (`make
# asan`) and under ThreadSanitizer (`make tsan`): each run must exit 0 with
# no sanitizer report on stderr, forked children and the built-in HTTP
# server included (they share the stderr). A leak, an invalid access,
# undefined behaviour or a data race fails the test. The builds are made
# here, incrementally (make is a no-op when they are current).

bats_require_minimum_version 1.5.0

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
ASAN=$REPO/build-asan/concbench
TSAN=$REPO/build-tsan/concbench

# halt_on_error stops at the first report; abort_on_error=0 keeps the exit
# an ordinary exit code rather than a core dump. LeakSanitizer runs at the
# process's exit (and not in a forked child's _exit, which the fork model
# uses: its parent's leak check still covers all the model's code).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

setup_file() {
    # Both sanitizer builds at once, one per core; the log is shown on a
    # failure. DEVELOPER=1 from `make check` reaches them through MAKEFLAGS.
    make -C "$REPO" -j2 asan tsan NO_DEPS=1 >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
        tail -n 40 "$BATS_FILE_TMPDIR/build.log" >&3
        return 1
    }
}

# The small cells: every workload, several tasks each, so that tasks
# overlap and hand work between threads. Primes gets a small segment, so
# each task yields between segments; sleep jitters, so wake-ups interleave.
WORKLOADS=(
    "primes -o n=2e6 -o segment=4KiB -t 4"
    "sleep -o ms=4 -o count=2 -o jitter=2ms -t 8"
    "yield -o count=200 -t 8"
    "http -o requests=4 -o delay=1ms -t 6"
    "http -o requests=4 -o delay=1ms -o keepalive=on -t 6"
    "counter -o lock=none -o increments=3000 -t 4"
    "counter -o lock=mutex -o yield_inside=on -o increments=500 -t 4"
    "counter -o lock=mutex -o fair=on -o yield_inside=on -o increments=500 -t 4"
)

# The coordination workloads, whose tasks park on sync queues (and, over a
# pipe, on fds). Sequential refuses event and a queue that could fill, and
# runs the two below it. A pool of OS threads or processes (workers=2,
# fewer than the tasks) is given none: each worker runs a task to its
# end, so two producers blocked on a full queue hold both, and the run
# ends as the deadlock it is.
COORD=(
    "queue -o items=2000 -o capacity=3 -o producers=2 -t 5"
    "queue -o items=2000 -o capacity=3 -o channel=pipe -t 4"
    "event -o rounds=20 -o delay=100us -t 4"
    "philosophers -o strategy=waiter -o meals=20 -t 5"
    "philosophers -o strategy=ordered -o meals=20 -t 5"
)
COORD_SEQUENTIAL=(
    "queue -o items=500 -o capacity=500 -o producers=2 -t 4"
    "philosophers -o strategy=ordered -o meals=20 -t 5"
)

# san_cell BIN ARGS...: one cell, one warmup and one timed run (so state
# kept between runs is exercised); fails, showing stderr, on a nonzero exit
# or any sanitizer report.
san_cell() {
    local bin=$1 status=0
    shift
    "$bin" --runs 1 --warmup 1 "$@" >"$BATS_TEST_TMPDIR/out" \
        2>"$BATS_TEST_TMPDIR/err" || status=$?
    if [ "$status" -ne 0 ] ||
       grep -qE 'Sanitizer|runtime error:' "$BATS_TEST_TMPDIR/err"; then
        echo "$(basename "$(dirname "$bin")") $*: exit $status" >&3
        head -n 60 "$BATS_TEST_TMPDIR/err" >&3
        return 1
    fi
}

# san_model BIN MODEL-ARGS...: every workload under one model setting.
san_model() {
    local bin=$1 w coord=("${COORD[@]}")
    shift
    [ "$2" = sequential ] && coord=("${COORD_SEQUENTIAL[@]}")
    case "$2 $*" in
    threads*workers=* | fork*workers=*) coord=() ;;
    esac
    for w in "${WORKLOADS[@]}" "${coord[@]}"; do
        # shellcheck disable=SC2086 # the rows are word lists
        san_cell "$bin" "$@" -w $w
    done
}

# The checks above can fail: the same flags and options catch a leak, a
# race and undefined behaviour in three small programs, so a clean run
# means no report, not a sanitizer that never spoke.
@test "the sanitizer options used here report a leak, a race and UB" {
    local d=$BATS_TEST_TMPDIR cc=${CC:-cc}
    cat >"$d/leak.c" <<'EOF'
#include <stdlib.h>
void *volatile keep;
int main(void) { keep = malloc(100); keep = NULL; return 0; }
EOF
    cat >"$d/race.c" <<'EOF'
#include <pthread.h>
int shared;
static void *inc(void *a) { (void)a; shared++; return NULL; }
int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, inc, NULL);
    shared++;
    pthread_join(t, NULL);
    return 0;
}
EOF
    cat >"$d/ub.c" <<'EOF'
#include <limits.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    int x = INT_MAX - 1 + argc;
    (void)argv;
    return x + argc > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
EOF
    "$cc" -g -fsanitize=address,undefined -fno-sanitize-recover=all \
        -o "$d/leak" "$d/leak.c"
    "$cc" -g -fsanitize=thread -o "$d/race" "$d/race.c" -lpthread
    "$cc" -g -fsanitize=address,undefined -fno-sanitize-recover=all \
        -o "$d/ub" "$d/ub.c"
    run ! san_cell "$d/leak" 3>/dev/null
    grep -q 'LeakSanitizer: detected memory leaks' "$d/err"
    run ! san_cell "$d/race" 3>/dev/null
    grep -q 'ThreadSanitizer: data race' "$d/err"
    run ! san_cell "$d/ub" 3>/dev/null
    grep -q 'runtime error: signed integer overflow' "$d/err"
}

@test "asan+ubsan: sequential" { san_model "$ASAN" -m sequential; }
@test "asan+ubsan: fork, one process per task and a pool of 2" {
    san_model "$ASAN" -m fork
    san_model "$ASAN" -m fork -o workers=2
}
@test "asan+ubsan: threads, per task, a pool of 2, gil=on" {
    san_model "$ASAN" -m threads
    san_model "$ASAN" -m threads -o workers=2
    san_model "$ASAN" -m threads -o workers=2 -o gil=on -o interval=1ms
}
@test "asan+ubsan: green, fcontext and ucontext, 1 and 2 schedulers" {
    san_model "$ASAN" -m green
    san_model "$ASAN" -m green -o workers=2 -o keep_stacks=on
    san_model "$ASAN" -m green -o switch=ucontext
    san_model "$ASAN" -m green -o switch=ucontext -o workers=2
}
@test "asan+ubsan: eventloop, 1 and 2 loops, offload=on" {
    san_model "$ASAN" -m eventloop
    san_model "$ASAN" -m eventloop -o workers=2
    san_model "$ASAN" -m eventloop -o workers=2 -o offload=on -o pool=2
}

@test "asan+ubsan: uring, 1 and 2 rings, sqpoll=on" {
    san_available uring || skip "uring is not in this build"
    san_model "$ASAN" -m uring
    san_model "$ASAN" -m uring -o workers=2
    san_model "$ASAN" -m uring -o workers=2 -o sqpoll=on -o entries=2
    san_cell "$ASAN" -m uring -o workers=2 -w counter -o lock=mutex \
        -o yield_inside=on -o increments=3000 -t 6
}

@test "tsan: sequential" { san_model "$TSAN" -m sequential; }
@test "tsan: fork, one process per task and a pool of 2" {
    san_model "$TSAN" -m fork
    san_model "$TSAN" -m fork -o workers=2
}
@test "tsan: threads, per task, a pool of 2, gil=on" {
    san_model "$TSAN" -m threads
    san_model "$TSAN" -m threads -o workers=2
    san_model "$TSAN" -m threads -o workers=2 -o gil=on -o interval=1ms
}
@test "tsan: green (fiber annotations), fcontext and ucontext, 1 and 2 schedulers" {
    san_model "$TSAN" -m green
    san_model "$TSAN" -m green -o workers=2 -o keep_stacks=on
    san_model "$TSAN" -m green -o switch=ucontext
    san_model "$TSAN" -m green -o switch=ucontext -o workers=2
}
@test "tsan: eventloop, 1 and 2 loops, offload=on" {
    san_model "$TSAN" -m eventloop
    san_model "$TSAN" -m eventloop -o workers=2
    san_model "$TSAN" -m eventloop -o workers=2 -o offload=on -o pool=2
}

@test "tsan: uring, 1 and 2 rings, sqpoll=on" {
    san_available uring || skip "uring is not in this build"
    san_model "$TSAN" -m uring
    san_model "$TSAN" -m uring -o workers=2
    san_model "$TSAN" -m uring -o workers=2 -o sqpoll=on -o entries=2
    san_cell "$TSAN" -m uring -o workers=2 -w counter -o lock=mutex \
        -o yield_inside=on -o increments=3000 -t 6
}

# san_available MODEL: whether the sanitizer builds have it (and the
# kernel allows it).
san_available() { ! "$ASAN" list | grep -q "^  $1 .*unavailable"; }

# san_interrupt BIN DELAY ARGS...: starts a long cell, sends SIGINT after
# DELAY seconds; it must exit 130 within 5 s with no sanitizer report.
san_interrupt() {
    local bin=$1 delay=$2 pid status=0 i
    shift 2
    "$bin" "$@" --runs 1 --warmup 0 >"$BATS_TEST_TMPDIR/out" \
        2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    sleep "$delay"
    kill -INT "$pid"
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    wait "$pid" || status=$?
    if [ "$status" -ne 130 ] ||
       grep -qE 'Sanitizer|runtime error:' "$BATS_TEST_TMPDIR/err"; then
        echo "$(basename "$(dirname "$bin")") $* (SIGINT): exit $status" >&3
        head -n 60 "$BATS_TEST_TMPDIR/err" >&3
        return 1
    fi
}

# The stop paths free what a finished run would have: tasks abandoned
# mid-wait, threads woken, children killed, the built-in server stopped.
@test "SIGINT mid-run under asan and tsan: exit 130, no report" {
    local bin m
    for bin in "$ASAN" "$TSAN"; do
        for m in sequential "fork -o workers=2" "threads -o workers=2" \
                 "green -o workers=2" "eventloop -o workers=2"; do
            # shellcheck disable=SC2086
            san_interrupt "$bin" 0.5 -m $m -w sleep -o ms=5s -t 4
        done
        san_interrupt "$bin" 0.7 -m eventloop -w http -o delay=2s -t 4
        san_interrupt "$bin" 0.7 -m green -w http -o delay=2s -t 4
        if san_available uring; then
            san_interrupt "$bin" 0.5 -m uring -o workers=2 -w sleep -o ms=5s -t 4
            san_interrupt "$bin" 0.7 -m uring -o workers=2 -w http -o delay=2s -t 4
            san_interrupt "$bin" 0.5 -m uring -o workers=2 -w counter \
                -o increments=1e9 -o hold=1us -o yield_inside=on -t 4
        fi
    done
}
