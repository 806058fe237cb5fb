#!/usr/bin/env bats
# Memcheck on the normal build ($CONCBENCH): every workload under the
# sequential, threads and eventloop models (and fork and green, which run
# clean too) with no invalid access and no leak; and `serve`, `sweep`,
# `compare` and `merge`, which allocate the most outside the models.
#
# Leak kinds that fail: definite and indirect (memory nothing points at, and
# what only such memory points at: a real leak and its contents) and
# possible (only interior pointers left: zero in every run here, so one
# appearing is news). Still-reachable memory does not fail: it is what a
# global or a thread's key still points at when the process ends, by
# design: libuv's thread pool and signal pipe state, the per-thread sieve
# and receive buffers of the main thread, stdio's buffers. It does not
# grow with runs or tasks (a test below checks that for 1 and 3 runs).

bats_require_minimum_version 1.5.0

# shellcheck source=bench/lib.sh
source "$BATS_TEST_DIRNAME/../../bench/lib.sh"

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    command -v valgrind >/dev/null || skip "valgrind is not installed"
    # A sanitizer build cannot run under valgrind.
    if nm "$CONCBENCH" 2>/dev/null | grep -qE '__(a|t)san_init'; then
        skip "$CONCBENCH is a sanitizer build"
    fi
}

# A serve under memcheck that a failed test left is stopped by its PID.
teardown() { serve_stop KILL; }

# 99: valgrind found an error; concbench itself never exits 99. The http
# workload's server child runs untraced (it execs this binary: its own
# test is below), while fork's children are checked at their _exit and
# their exit status carries the verdict back to the parent.
VG=(valgrind -q --error-exitcode=99 --leak-check=full
    --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible
    --trace-children=no)

WORKLOADS=(
    "primes -o n=1e6 -o segment=4KiB -t 4"
    "sleep -o ms=5 -o count=2 -t 4"
    "yield -o count=100 -t 4"
    "http -o requests=3 -o delay=1ms -t 4"
    "http -o requests=3 -o delay=1ms -o keepalive=on -t 4"
    "counter -o lock=mutex -o increments=500 -t 4"
)

# vg ARGS...: concbench ARGS under memcheck; fails, showing the report, on
# any nonzero exit or any "lost" block.
vg() {
    local status=0
    "${VG[@]}" "$CONCBENCH" "$@" >"$BATS_TEST_TMPDIR/out" \
        2>"$BATS_TEST_TMPDIR/err" || status=$?
    if [ "$status" -ne 0 ] || grep -qE 'definitely lost|indirectly lost|possibly lost|Invalid (read|write|free)|uninitialised' "$BATS_TEST_TMPDIR/err"; then
        echo "valgrind concbench $*: exit $status" >&3
        grep -v '^concbench: warning' "$BATS_TEST_TMPDIR/err" | head -n 60 >&3
        return 1
    fi
}

# vg_model MODEL-ARGS...: every workload, one warmup and one timed run.
vg_model() {
    local w
    for w in "${WORKLOADS[@]}"; do
        # shellcheck disable=SC2086 # the rows are word lists
        vg "$@" -w $w --runs 1 --warmup 1
    done
}

@test "valgrind: sequential" { vg_model -m sequential; }

@test "valgrind: threads, per task and a pool of 2 with gil=on" {
    vg_model -m threads
    vg_model -m threads -o workers=2 -o gil=on -o interval=1ms
}

@test "valgrind: eventloop, 2 loops, offload=on" {
    have_model eventloop || skip "eventloop is not in this build"
    vg_model -m eventloop
    vg_model -m eventloop -o workers=2
    vg_model -m eventloop -o offload=on -o pool=2
}

# Memcheck knows io_uring's syscalls (3.19: io_uring_setup, _enter and
# _register), and the model's requests (poll, timeout, msg_ring) write no
# user memory the kernel could leave uninitialised behind memcheck's back:
# the kernel only reads each timeout's timespec, at submission.
@test "valgrind: uring, 2 rings, sqpoll=on" {
    have_model uring || skip "uring is not in this build"
    vg_model -m uring
    vg_model -m uring -o workers=2
    vg_model -m uring -o workers=2 -o sqpoll=on
}

# Before: each child leaked its task buffer, valgrind's exit code turned
# that into "worker process N exited with status 99" and the run failed.
@test "valgrind: fork, children checked at their exit" {
    vg_model -m fork -o workers=2
}

# Before: valgrind crashed on green's first stack switch into a stack
# whose guard region (MADV_GUARD_INSTALL) it did not know about; green.c
# now registers each task's stack with VALGRIND_STACK_REGISTER.
@test "valgrind: green, fcontext and ucontext" {
    vg_model -m green
    vg_model -m green -o switch=ucontext -o workers=2
}

# in_use_at_exit ARGS...: memcheck's "in use at exit" line for a run.
in_use_at_exit() {
    valgrind --trace-children=no "$CONCBENCH" "$@" --runs "$runs" \
        --warmup 0 2>&1 >/dev/null | grep -o 'in use at exit: .*'
}

@test "valgrind: what is still reachable at exit does not grow with runs or tasks" {
    local a b w
    for w in "primes -o n=1e6 -o segment=4KiB" "http -o requests=2 -o delay=1ms"; do
        # shellcheck disable=SC2086
        a=$(runs=1 in_use_at_exit -m eventloop -o workers=2 -w $w -t 2)
        # shellcheck disable=SC2086
        b=$(runs=4 in_use_at_exit -m eventloop -o workers=2 -w $w -t 8)
        echo "$w: 1 run of 2 tasks: $a; 4 runs of 8 tasks: $b" >&3
        [ -n "$a" ] && [ "$a" = "$b" ]
    done
}

# The built-in server in a process of its own under memcheck, fetched from
# by a normal concbench (good and 404 requests, with and without
# keep-alive), then stopped by SIGTERM, which ends it with exit 0.
@test "valgrind: serve answers, is stopped by SIGTERM and exits clean" {
    local port status=0
    have_serve || skip "serve is not in this build"
    SERVE_WRAP=("${VG[@]}")
    serve_start --bind 127.0.0.1 --port 0 -o delay=1ms ||
        { serve_stop KILL; cat "$BATS_TEST_TMPDIR/serve.err" >&3; return 1; }
    port=$PORT
    run "$CONCBENCH" -m eventloop -w http -o url="http://127.0.0.1:$port/" \
        -o requests=5 -t 8 --runs 1 --warmup 0
    [ "$status" -eq 0 ]
    run "$CONCBENCH" -m threads -w http -o url="http://127.0.0.1:$port/a" \
        -o keepalive=on -o requests=5 -t 4 --runs 1 --warmup 0
    run "$CONCBENCH" -m sequential -w http -o keepalive=on \
        -o url="http://127.0.0.1:$port/" -o requests=5 -t 2 --runs 1 --warmup 0
    [ "$status" -eq 0 ]
    serve_stop TERM
    status=$SERVE_STATUS
    if [ "$status" -ne 0 ]; then
        echo "valgrind concbench serve: exit $status" >&3
        head -n 60 "$BATS_TEST_TMPDIR/serve.err" >&3
        return 1
    fi
}

# The report writer and readers (jansson), on a report made here.
@test "valgrind: sweep writes a report, compare and merge read it" {
    local d=$BATS_TEST_TMPDIR
    vg sweep -m sequential,threads -w sleep,yield -t 1,2 --runs 2 --warmup 0 \
        -o ms=1 -o count=10 --json "$d/a.json"
    vg sweep -m sequential,threads -w sleep,yield -t 1,2 --runs 2 --warmup 0 \
        -o ms=1 -o count=10 --shard 1/2 --json "$d/s1.json"
    vg sweep -m sequential,threads -w sleep,yield -t 1,2 --runs 2 --warmup 0 \
        -o ms=1 -o count=10 --shard 2/2 --json "$d/s2.json"
    [ "$(jq '.results | length' "$d/a.json")" -eq 8 ]
    # compare exits 0 (no regression) or 1 (one found): either is a clean
    # run for memcheck, which alone exits 99 (--accept-noisy: 2 runs a cell
    # are noisy, which would exit 4).
    "${VG[@]}" "$CONCBENCH" compare --accept-noisy "$d/a.json" "$d/a.json" >/dev/null \
        2>"$d/err" || [ $? -eq 1 ]
    ! grep -qE 'lost|Invalid' "$d/err"
    vg merge "$d/s1.json" "$d/s2.json" --json "$d/m.json"
    [ "$(jq '.results | length' "$d/m.json")" -eq 8 ]
}
