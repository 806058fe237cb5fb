#!/usr/bin/env bats
# The python model: each api (threading, thread-pool, multiprocessing,
# process-pool, asyncio, gevent) runs primes, sleep, http and counter in
# Debian's CPython with the answer checked by the C workload; the report
# has the C runs' fields and the interpreter's facts; start-up is outside
# the timed section; the GIL lesson holds from measured data with wide
# margins; SIGINT leaves nothing behind; what is missing is unavailable
# (exit 3) and what the script does not run is refused (exit 2).

load timing
bats_require_minimum_version 1.5.0

load parallel

APIS="threading thread-pool multiprocessing process-pool asyncio gevent"

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    T=$BATS_TEST_TMPDIR
    mark="concbench-python-test-$$-$BATS_TEST_NUMBER-$RANDOM"
    [ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
}

teardown() {
    for pid in $(survivors); do kill -KILL "$pid" 2>/dev/null || true; done
}

# Processes still carrying this test's marker (every descendant has it).
survivors() {
    grep -lsa "CONCBENCH_SIGNAL_MARK=$mark" /proc/[0-9]*/environ 2>/dev/null |
        cut -d/ -f3 | grep -v "^$$\$" || true
}

have_gevent() { /usr/bin/python3 -c 'import gevent' 2>/dev/null; }
have_http() { ! "$CONCBENCH" list | grep -q '^  http .*\[unavailable'; }

# py API WORKLOAD ARGS...: one run into $T/r.json, which must pass.
py() {
    local api=$1 w=$2
    shift 2
    "$CONCBENCH" -m python -o "api=$api" -w "$w" --runs 1 --warmup 0 "$@" \
        --json "$T/r.json" >/dev/null 2>"$T/err" || {
        echo "python api=$api $w $*: exit $?: $(cat "$T/err")" >&2
        return 1
    }
    jq -e '.results[0].runs[0] | .failed == false and .result_ok' \
        "$T/r.json" >/dev/null
}

# field NAME: the first run's NAME.
field() { jq -r ".results[0].runs[0].$1" "$T/r.json"; }

# all_workloads API: primes, sleep, http and counter under API, answers
# checked here beside the C workload's own verify().
all_workloads() {
    local api=$1
    py "$api" primes -t 3 -o n=1e6
    [ "$(field result)" -eq 78498 ]
    [ "$(field 'task_ns.p50')" -gt 0 ]
    py "$api" sleep -t 3 -o ms=20ms -o count=2
    [ "$(field result)" -eq 6 ]
    [ "$(field op_count)" -eq 6 ]
    [ "$(field 'lateness_ns.max')" -lt 1000000000 ]
    [ "$(field wall_ns)" -ge 40000000 ]
    if have_http; then
        py "$api" http -t 2 -o requests=3 -o delay=1ms -o size=2000
        [ "$(field result)" -eq 6 ]
        [ "$(field bytes)" -eq 12000 ]
        [ "$(field op_count)" -eq 6 ]
        [ "$(field errors)" -eq 0 ]
        py "$api" http -t 2 -o requests=3 -o delay=1ms -o keepalive=on
        [ "$(field result)" -eq 6 ]
    fi
    py "$api" counter -t 3 -o increments=3000 -o lock=mutex
    [ "$(field result)" -eq 9000 ]
    [ "$(field lost_updates)" -eq 0 ]
    # Every acquire is in the histogram: a wait, or 0 when it was free.
    [ "$(field op_count)" -eq 9000 ]
    py "$api" counter -t 3 -o increments=3000 -o lock=none
    [ "$(field expected)" -eq 9000 ]
    [ "$(( $(field result) + $(field lost_updates) ))" -eq 9000 ]
}

@test "api=sequential runs every workload with the right answer, one task after another" {
    all_workloads sequential
    py sequential sleep -t 4 -o ms=20ms
    # A plain loop: the four sleeps one after another, never overlapping.
    [ "$(field wall_ns)" -ge 80000000 ]
    # Nothing runs between a read and its write: no update is lost.
    py sequential counter -t 3 -o increments=3000 -o lock=none -o yield_inside=on
    [ "$(field lost_updates)" -eq 0 ]
}

@test "api=threading runs every workload with the right answer" {
    all_workloads threading
}

@test "api=thread-pool runs every workload with the right answer" {
    all_workloads thread-pool
    py thread-pool sleep -t 4 -o ms=20ms -o workers=1
    # One worker: the four sleeps one after another.
    [ "$(field wall_ns)" -ge 80000000 ]
}

@test "api=multiprocessing runs every workload with the right answer" {
    all_workloads multiprocessing
}

@test "api=process-pool runs every workload with the right answer" {
    all_workloads process-pool
}

@test "api=asyncio runs every workload with the right answer" {
    all_workloads asyncio
}

@test "api=gevent runs every workload with the right answer" {
    have_gevent || skip "python3-gevent is not installed"
    all_workloads gevent
}

@test "a run reports what a C run does, and the interpreter's facts" {
    py multiprocessing primes -t 2 -o n=2e7
    jq -e '.results[0] | .model_options.api == "multiprocessing" and
           .model_options.python == "/usr/bin/python3" and
           (.runs[0] | .wall_ns > 0 and .user_ns > 0 and .max_rss_kib > 1000
            and .ctxsw_voluntary >= 0 and .task_ns.max > 0 and
            .task_ns.max <= .wall_ns and .ops > 0 and .python_gil == 1 and
            .python_free_threaded == 0)' "$T/r.json"
    [ "$(field python_hexversion)" -eq \
      "$(/usr/bin/python3 -c 'import sys; print(sys.hexversion)')" ]
    # The children's CPU is in user_ns: the sieve ran in them.
    mp_user=$(field user_ns)
    py threading primes -t 1 -o n=2e7
    [ "$mp_user" -ge $(( $(field user_ns) / 2 )) ]
    run --separate-stderr "$CONCBENCH" -m python -w primes -o n=1e6 --runs 1
    [ "$status" -eq 0 ]
    [[ "$output" == *"Interpreter:          CPython 3."*", GIL on"* ]]
}

@test "start-up is outside the timed section; python=PATH picks the interpreter" {
    timing_test
    # An interpreter that takes a second to start.
    printf '#!/bin/sh\nsleep 1\nexec /usr/bin/python3 "$@"\n' >"$T/slowpy"
    chmod +x "$T/slowpy"
    py threading sleep -t 2 -o ms=50ms -o python="$T/slowpy"
    [ "$(jq -r '.results[0].model_options.python' "$T/r.json")" = "$T/slowpy" ]
    [ "$(field wall_ns)" -ge 50000000 ]
    [ "$(field wall_ns)" -lt 1000000000 ]
}

# best API TASKS N: the shortest wall of 3 runs of primes, in ns.
best() {
    "$CONCBENCH" -m python -o "api=$1" -w primes -t "$2" -o "n=$3" \
        --runs 3 --warmup 0 --json - 2>/dev/null | record_disturbed_stdin |
        jq -e '.results[0] | select(.failed == false) | .summary.wall_ns.min |
               floor'
}

@test "the GIL: two threads sieve no faster than one (at most 1.15x)" {
    timing_test
    local one two ok=0
    # Up to 3 tries: a busy machine can slow the one-thread run alone.
    for _ in 1 2 3; do
        one=$(best threading 1 3e8)
        two=$(best threading 2 3e8)
        echo "python threading: 1 task $one ns, 2 tasks $two ns" >&3
        if [ "$two" -ge $(( one * 100 / 115 )) ]; then ok=1; break; fi
    done
    [ "$ok" -eq 1 ]
}

@test "multiprocessing on two cores sieves at least 1.4x sequential python" {
    timing_test
    [ "$(nproc)" -ge 2 ] || skip "one CPU: no parallelism to show"
    local one two
    for _ in 1 2 3; do
        # Large enough that forking the interpreter (tens of ms here)
        # is a small part of the run.
        one=$(best threading 1 1e9)
        two=$(best multiprocessing 2 1e9)
        echo "python: 1 thread $one ns, 2 processes $two ns" >&3
        [ $(( one * 100 )) -ge $(( two * 140 )) ] && return 0
    done
    skip_if_machine_busy "python multiprocessing"
}

@test "asyncio and gevent overlap 100 sleeps of 50 ms" {
    timing_test
    for api in asyncio gevent; do
        [ "$api" = gevent ] && ! have_gevent && continue
        py "$api" sleep -t 100 -o ms=50ms
        echo "$api: 100 sleeps in $(field wall_ns) ns" >&3
        [ "$(field op_count)" -eq 100 ]
        [ "$(field wall_ns)" -ge 50000000 ]
        # One after another would take 5 s.
        [ "$(field wall_ns)" -lt 500000000 ]
    done
}

# interrupt SIG WANT API: a long run, signalled mid-run, leaves nothing.
interrupt() {
    local sig=$1 want=$2 api=$3 pid status=0 i
    CONCBENCH_SIGNAL_MARK=$mark "$CONCBENCH" -m python -o "api=$api" \
        -w sleep -o ms=30s -t 4 --runs 3 --warmup 0 --json "$T/s.json" \
        >/dev/null 2>"$T/err" &
    pid=$!
    # Under way: the interpreter's workers exist (beyond concbench and it).
    for i in $(seq 1 100); do
        [ "$(survivors | wc -l)" -ge 3 ] && break
        sleep 0.1
    done
    sleep 0.3
    kill -0 "$pid"
    kill "-$sig" "$pid"
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        echo "python $api did not stop within 5 s of SIG$sig" >&3
        return 1
    fi
    wait "$pid" || status=$?
    echo "python $api: exit $status, stderr: $(cat "$T/err")" >&3
    [ "$status" -eq "$want" ]
    grep -q "concbench: interrupted by SIG$sig" "$T/err"
    [ ! -e "$T/s.json" ]
    sleep 0.2
    [ -z "$(survivors)" ] || {
        echo "survivors: $(survivors)" >&3
        ps -o pid,ppid,stat,cmd -p "$(survivors | tr '\n' ,)0" >&3
        return 1
    }
}

@test "SIGINT mid-run: exit 130, the interpreter and its children reaped" {
    interrupt INT 130 multiprocessing
    interrupt INT 130 process-pool
    interrupt INT 130 threading
}

@test "SIGTERM mid-run under asyncio and gevent: exit 143, nothing left" {
    interrupt TERM 143 asyncio
    have_gevent || skip "python3-gevent is not installed"
    interrupt TERM 143 gevent
}

@test "a missing interpreter or module is unavailable (exit 3), naming it" {
    run --separate-stderr "$CONCBENCH" -m python -o python=/nonexistent/py \
        -w sleep --runs 1
    [ "$status" -eq 3 ]
    [ "$stderr" = "concbench: model 'python' is unavailable here: cannot run '/nonexistent/py': No such file or directory" ]
    # Without site-packages, gevent is not there.
    printf '#!/bin/sh\nexec /usr/bin/python3 -S "$@"\n' >"$T/nosite"
    chmod +x "$T/nosite"
    run --separate-stderr "$CONCBENCH" -m python -o python="$T/nosite" \
        -o api=gevent -w sleep --runs 1
    [ "$status" -eq 3 ]
    [[ "$stderr" == "concbench: model 'python' is unavailable here: '$T/nosite' lacks module 'gevent' for api=gevent: No module named 'gevent'"* ]]
    # A sweep records such cells as skipped, with the reason.
    run --separate-stderr "$CONCBENCH" sweep -m python -o python="$T/nosite" \
        -o api=gevent,threading -w primes -o n=1e5 -t 1 --runs 1 --json "$T/sw.json"
    [ "$status" -eq 0 ]
    jq -e '[.results[] | .skipped // "ran"] | .[0] != "ran" and .[1] == "ran"' "$T/sw.json"
}

@test "what the script does not run is refused up front (exit 2)" {
    run --separate-stderr "$CONCBENCH" -m python -w yield --runs 1
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: the python model runs primes, sleep, http and counter; its script does not implement workload 'yield'" ]
    run --separate-stderr "$CONCBENCH" -m python -w counter -o lock=spin --runs 1
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"Python has no lock=spin" ]]
    run --separate-stderr "$CONCBENCH" -m python -w counter -o lock=atomic --runs 1
    [ "$status" -eq 2 ]
    run --separate-stderr "$CONCBENCH" -m python -w counter -o fair=on --runs 1
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: the python model does not implement counter's option 'fair'" ]
    run --separate-stderr "$CONCBENCH" -m python -o workers=2 -w sleep --runs 1
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option 'workers' sizes the pool of api=thread-pool or api=process-pool; api=threading starts one worker a task" ]
    if /usr/bin/python3 -c 'import sysconfig, sys; sys.exit(bool(sysconfig.get_config_var("Py_GIL_DISABLED")))'; then
        run --separate-stderr "$CONCBENCH" -m python -o gil=off -w sleep --runs 1
        [ "$status" -eq 2 ]
        [[ "$stderr" == "concbench: gil=off needs a free-threaded CPython (3.13t or newer); '/usr/bin/python3' is 3."*" with a GIL" ]]
    fi
}

@test "the script is found where make install puts it, beside bin/" {
    mkdir -p "$T/p/bin" "$T/p/share/concbench"
    cp "$CONCBENCH" "$T/p/bin/concbench"
    run --separate-stderr "$T/p/bin/concbench" -m python -w primes -o n=1e5 --runs 1
    [ "$status" -eq 3 ]
    [[ "$stderr" == *"concbench_model.py is not beside $T/p/bin/concbench"* ]]
    cp "$ROOT/scripts/concbench_model.py" "$T/p/share/concbench/"
    run --separate-stderr "$T/p/bin/concbench" -m python -w primes -o n=1e5 --runs 1
    [ "$status" -eq 0 ]
    # make install copies it there.
    run make -s -n -C "$ROOT" NO_DEPS=1 install DESTDIR="$T/d" PREFIX=/usr
    [[ "$output" == *"scripts/concbench_model.py"*"$T/d/usr/share/concbench/concbench_model.py"* ]]
}

@test "a python cell's speedup is over python api=sequential, not over C" {
    timing_test
    "$CONCBENCH" sweep -m sequential,python -w primes -t 2 -o n=1e6 \
        -o api=sequential,threading --runs 2 --warmup 0 --json "$T/s.json" \
        >/dev/null 2>&1
    jq -e '[.results[] | select(.model == "python" and .model_options.api == "threading") | .speedup.baseline] == ["python api=sequential"]' "$T/s.json"
    # CPython's threads under its GIL: near its own loop, not near 0.01x.
    jq -e '.results[] | select(.model == "python" and .model_options.api == "threading") | .speedup.value > 0.3 and .speedup.value < 1.5' "$T/s.json"
    jq -e '[.results[] | select(.model == "python" and .model_options.api == "sequential") | .speedup] == [null]' "$T/s.json"
}
