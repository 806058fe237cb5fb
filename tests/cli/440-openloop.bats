#!/usr/bin/env bats
# The http workload's open loop (rate=): far below capacity every model
# achieves the offered rate with the server's delay as its latency; above
# capacity latency from the intended send time grows with the run, where a
# closed loop's stays flat, and the client's lateness is reported apart;
# poisson arrivals hold their rate; bad input is one line, exit 2; a sweep
# over rates draws the hockey stick. Margins are wide: the facts checked
# are about the schedule, not about this machine's speed.

load timing
bats_require_minimum_version 1.5.0

load http-helpers

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    SERVE_PID=
    require_http
    cd "$BATS_TEST_TMPDIR"
}
teardown() { serve_stop KILL; }

# open MODEL ARGS...: one run into r.json; fails when the run failed.
open() {
    local m=$1
    shift
    cb -m "$m" -w http --runs 1 --warmup 0 "$@" --json r.json >/dev/null \
        2>r.err || { echo "http under $m $* failed: $(cat r.err)" >&2; return 1; }
    jq -e '.results[0].runs[0].failed == false' r.json >/dev/null
}

# The models that run the open loop: the python model's script implements
# the closed loop only and refuses rate= (tested below).
open_models() { available_models | grep -vx python; }

# f FIELD: a field of r.json's run, as an integer.
f() {
    jq -r ".results[0].runs[0].$1 | floor" r.json
}

@test "far below capacity every model achieves the offered rate at the server's delay" {
    timing_test
    for m in $(open_models); do
        # One task with 4 connections (its own epoll), and 4 tasks of one
        # connection each; sequential runs tasks one after another, so it
        # gets the single task only (below: what it does with more).
        for shape in "1 4" "4 1"; do
            # shellcheck disable=SC2086
            set -- $shape
            [ "$m" = sequential ] && [ "$1" -gt 1 ] && continue
            open "$m" -t "$1" -o connections="$2" -o rate=100 -o duration=2s -o delay=20ms -o keepalive=on
            echo "$m tasks=$1 connections=$2: ops $(f ops) achieved $(f achieved_rps) p50 $(f request_ns.p50) late $(f send_late) exhausted $(f conn_exhausted)"
            [ "$(f ops)" -eq 200 ]
            [ "$(f offered_rps)" -eq 100 ]
            [ "$(f achieved_rps)" -ge 90 ]
            [ "$(f achieved_rps)" -le 110 ]
            [ "$(f overloaded)" -eq 0 ]
            # The server's delay (1 ms timers, rounded up), not the schedule.
            [ "$(f request_ns.p50)" -ge 20000000 ]
            [ "$(f request_ns.p50)" -le 30000000 ]
            [ "$(f request_ns.p999)" -ge "$(f request_ns.p99)" ]
            [ "$(f request_ns.max)" -ge "$(f request_ns.p999)" ]
        done
    done
}

@test "above capacity latency from the intended time grows with the run; closed loop's does not" {
    timing_test
    m=eventloop
    available_models | grep -qx eventloop || m=threads
    # 2 tasks of one connection each, 50 ms a request: 40 requests/s at
    # most, and 200 offered.
    open "$m" -t 2 -o rate=200 -o requests=10 -o delay=50ms -o keepalive=on
    short=$(f request_ns.p99)
    open "$m" -t 2 -o rate=200 -o requests=40 -o delay=50ms -o keepalive=on
    echo "$m open: p50 $(f request_ns.p50) p99 $(f request_ns.p99) (10 a task: $short) achieved $(f achieved_rps) late $(f send_late) lag p99 $(f send_lag_p99_ns) exhausted $(f conn_exhausted)"
    [ "$(f ops)" -eq 80 ]
    # Each request waits for the ones before it: far beyond the delay ...
    [ "$(f request_ns.p99)" -gt $((5 * 50000000)) ]
    # ... and more the longer the run: 4x the requests, about 4x the wait.
    [ "$(f request_ns.p99)" -gt $((2 * short)) ]
    # Not flat: the percentiles spread as the backlog grows (a wait that
    # grows in step with the request's number: p99 near twice p50).
    [ "$(f request_ns.p50)" -lt "$(f request_ns.p90)" ]
    [ "$(f request_ns.p90)" -lt "$(f request_ns.p99)" ]
    [ "$(f request_ns.p99)" -gt $((3 * $(f request_ns.p50) / 2)) ]
    # The client's own lateness, apart: sends waited for a connection.
    [ "$(f send_late)" -gt 0 ]
    [ "$(f conn_exhausted)" -gt 0 ]
    [ "$(f send_lag_p99_ns)" -gt 50000000 ]
    [ "$(f achieved_rps)" -lt 60 ]
    [ "$(f overloaded)" -eq 1 ]
    grep -q '^  Overload: ' <(cb -m "$m" -w http -t 2 -o rate=200 -o requests=10 -o delay=50ms --runs 1 --warmup 0 2>/dev/null)
    # The same work closed-loop: each request waits only for the server
    # (its p99 of 80 is the slowest one: room for one hiccup of the host).
    open "$m" -t 2 -o requests=40 -o delay=50ms -o keepalive=on
    echo "$m closed: p99 $(f request_ns.p99)"
    [ "$(f request_ns.p99)" -lt $((3 * 50000000)) ]
    [ "$(jq '.results[0].runs[0] | has("offered_rps")' r.json)" = false ]
}

@test "sequential runs one task at a time: the later tasks' requests leave late" {
    timing_test
    open sequential -t 4 -o rate=100 -o requests=10 -o delay=20ms -o keepalive=on
    echo "sequential: p99 $(f request_ns.p99) late $(f send_late) lag p99 $(f send_lag_p99_ns) achieved $(f achieved_rps)"
    [ "$(f ops)" -eq 40 ]
    # Task 3's requests were due from 30 ms on; it starts after 3 others.
    [ "$(f send_late)" -ge 20 ]
    [ "$(f send_lag_p99_ns)" -gt 200000000 ]
    [ "$(f request_ns.p99)" -gt $((5 * 20000000)) ]
    [ "$(f overloaded)" -eq 1 ]
}

@test "poisson arrivals hold their mean rate, the same schedule for the same seed" {
    timing_test
    m=eventloop
    available_models | grep -qx eventloop || m=threads
    open "$m" -t 2 -o rate=200 -o duration=2s -o arrivals=poisson -o seed=5 -o connections=8 -o delay=5ms -o keepalive=on
    n=$(f ops)
    echo "poisson: $n requests, achieved $(f achieved_rps)"
    [ "$n" -ge 360 ]
    [ "$n" -le 440 ]
    [ "$(f achieved_rps)" -ge 170 ]
    [ "$(f achieved_rps)" -le 230 ]
    run -0 bash -c 'for s in 5 5 6; do "$0" -m sequential -w http -o rate=1000 -o duration=1s -o arrivals=poisson -o seed=$s -o delay=0 -o connections=4 --runs 1 --warmup 0 --json - 2>/dev/null | jq .results[0].runs[0].ops; done' "$CONCBENCH"
    echo "$output"
    [ "${lines[0]}" = "${lines[1]}" ]
    [ "${lines[0]}" != "${lines[2]}" ]
}

@test "an interrupted open loop stops at once under every model" {
    for m in $(open_models); do
        timeout 60 "$CONCBENCH" -m "$m" -w http -t 2 -o rate=10 -o duration=1h -o connections=2 --runs 1 --warmup 0 >/dev/null 2>int.err 3>&- &
        pid=$!
        sleep 0.5
        kill -INT "$pid"
        status=0
        wait "$pid" || status=$?
        echo "$m: $status $(cat int.err)"
        [ "$status" -eq 130 ]
    done
}

@test "the python model refuses the open loop by name, exit 2" {
    available_models | grep -qx python || skip "no python model here"
    run --separate-stderr cb -m python -w http -o rate=100 -o duration=1s --runs 1
    echo "$status '$stderr'"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: the python model does not implement http's option 'rate'" ]
    [ -z "$output" ]
}

@test "bad open-loop input is one line, exit 2" {
    while IFS='|' read -r args want; do
        # shellcheck disable=SC2086
        run --separate-stderr cb -m sequential -w http $args
        echo "$args: $status '$stderr'"
        [ "$status" -eq 2 ]
        [ -z "$output" ]
        [ "${#stderr_lines[@]}" -eq 1 ]
        [[ "$stderr" == "concbench: $want"* ]]
    done <<'EOF'
-o rate=0|value '0' for option 'rate' is out of range (1 to 100000000)
-o rate=-10|bad value '-10' for option 'rate': expected a count
-o rate=100/s|bad value '100/s' for option 'rate': expected a count
-o rate=1.5|bad value '1.5' for option 'rate': expected a count
-o rate=10 -o connections=0|value '0' for option 'connections' is out of range (1 to 100000)
-o rate=10 -o arrivals=foo|bad value 'foo' for option 'arrivals': expected one of uniform|poisson
-o connections=4|option 'connections' is for an open loop: it needs 'rate' (requests per second)
-o duration=1s|option 'duration' is for an open loop: it needs 'rate' (requests per second)
-o arrivals=poisson|option 'arrivals' is for an open loop: it needs 'rate' (requests per second)
-o rate=10 -o requests=5 -o duration=1s|options 'requests' and 'duration' both say how long an open loop runs: give one
-o rate=10 -o seed=3|option 'seed' draws poisson arrivals: it needs arrivals=poisson
-o rate=1 -o duration=10ms|rate=1 for duration=10ms schedules no request: raise either
-o rate=1e8 -o duration=1h|rate=1e8 for duration=1h is 360000000000 requests a task, over the 1000000 a task records
EOF
    run --separate-stderr bash -c 'ulimit -n 256 && exec "$0" -m eventloop -w http -t 100 -o rate=100 -o connections=4' "$CONCBENCH"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: 100 http tasks need up to 664 file descriptors (4 connections, an epoll and a timer each, and 64 spare), but 'ulimit -n' is 256: raise it with 'ulimit -n 664', or run fewer tasks or connections" ]
}

@test "a sweep over rates draws the hockey stick and names each model's highest rate within the goal" {
    timing_test
    /usr/bin/python3 -c 'import matplotlib, numpy' 2>/dev/null ||
        skip "python3-matplotlib is not installed"
    models=$(available_models | grep -xE 'eventloop|threads' | paste -sd, -)
    [ -n "$models" ] || skip "neither eventloop nor threads in this build"
    run -0 cb sweep --models "$models" --workloads http --tasks 2 --runs 1 --warmup 0 -o rate=50,100,400 -o requests=20 -o delay=20ms -o keepalive=on --json s.json
    [ "$(jq '[.results[] | select(.failed == false)] | length' s.json)" -eq $((3 * $(tr ',' '\n' <<<"$models" | wc -l))) ]
    run --separate-stderr -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../../scripts/plot.py" s.json -o charts
    echo "$stderr"
    [ -s charts/openloop-http.png ]
    [ -s charts/openloop-http.svg ]
    grep -q '<svg' charts/openloop-http.svg
    [[ "$output" == *charts/openloop-http.png* ]]
    # 2 tasks of one connection, 20 ms a request: 100/s at most. 50 holds,
    # 400 cannot; the goal is p99 <= 10 x delay = 200 ms.
    for m in ${models//,/ }; do
        line=$(grep -E "^plot.py: http, $m[: ]" <<<"$stderr")
        echo "$line"
        [[ "$line" == *"holds 50 requests/s"* || "$line" == *"holds 100 requests/s"* ]]
        [[ "$line" == *"p99 <= 200 ms (10x the server's delay)"* ]]
    done
    grep -q '"openloop-http"' charts/legend.json
}
