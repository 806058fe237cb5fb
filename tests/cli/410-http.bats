#!/usr/bin/env bats
# The http workload: every model fetches from the built-in server with the
# right status, byte and request counts, keep-alive on and off; errors are
# counted by kind (refused, timeout, bad status, parse) and fail the run;
# bad URLs and a task count over 'ulimit -n' are refused up front.

bats_require_minimum_version 1.5.0

load http-helpers

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    SERVE_PID=
    require_http
}
teardown() { serve_stop KILL; }

@test "every model fetches from the built-in server, keep-alive off and on" {
    for m in $(available_models); do
        for ka in off on; do
            run --separate-stderr cb -m "$m" -w http -t 6 -o requests=5 -o delay=0 -o size=3000 -o keepalive=$ka --runs 2 --warmup 0 --json -
            echo "$m keepalive=$ka: $status $stderr"
            [ "$status" -eq 0 ]
            for r in 0 1; do
                run_json=$(jq ".results[0].runs[$r]" <<<"$output")
                [ "$(jq .result <<<"$run_json")" -eq 30 ]
                [ "$(jq .ops <<<"$run_json")" -eq 30 ]
                [ "$(jq .bytes <<<"$run_json")" -eq 90000 ]
                [ "$(jq .errors <<<"$run_json")" -eq 0 ]
                [ "$(jq .op_count <<<"$run_json")" -eq 30 ]
                [ "$(jq .request_ns.p50 <<<"$run_json")" -gt 0 ]
                [ "$(jq .result_ok <<<"$run_json")" = true ]
            done
        done
    done
}

@test "bodies larger than a read, and empty ones, are counted exactly" {
    for m in $(available_models); do
        run --separate-stderr cb -m "$m" -w http -t 3 -o requests=4 -o delay=0 -o size=1000001 -o keepalive=on --runs 1 --warmup 0 --json -
        [ "$status" -eq 0 ]
        [ "$(run_field bytes <<<"$output")" -eq 12000012 ]
        run --separate-stderr cb -m "$m" -w http -t 2 -o requests=3 -o delay=0 -o size=0 --runs 1 --warmup 0 --json -
        [ "$status" -eq 0 ]
        [ "$(run_field result <<<"$output")" -eq 6 ]
        [ "$(run_field bytes <<<"$output")" -eq 0 ]
    done
}

@test "an external url is fetched as given, query included" {
    serve_start -o delay=0 -o size=1
    run --separate-stderr cb -m sequential -w http -t 2 -o "url=http://127.0.0.1:$PORT/?size=777" -o requests=3 --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    [ "$(run_field bytes <<<"$output")" -eq $((6 * 777)) ]
    [ "$(jq -r '.results[0].workload_options.url' <<<"$output")" = "http://127.0.0.1:$PORT/?size=777" ]
}

@test "a dead port is a clear error, counted as refused, exit 1" {
    port=$(free_port)
    run --separate-stderr cb -m sequential -w http -t 2 -o "url=http://127.0.0.1:$port/" --runs 1 --warmup 0 --json -
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "concbench: http: cannot connect to '127.0.0.1:$port': Connection refused (counted as 'refused'; further ones are only counted)" ]
    [ "${stderr_lines[1]}" = "concbench: run 1 of 1 failed: 20 errors (refused 20)" ]
    [ "$(run_field errors_by_kind.refused <<<"$output")" -eq 20 ]
    [ "$(run_field ops <<<"$output")" -eq 20 ]
    [ "$(run_field result <<<"$output")" -eq 0 ]
    [ "$(run_field failed <<<"$output")" = true ]
}

@test "a server that never answers hits the timeout under every model, not a hang" {
    serve_start -o delay=1h
    for m in $(available_models); do
        run --separate-stderr cb -m "$m" -w http -t 2 -o requests=2 -o "url=http://127.0.0.1:$PORT/" -o timeout=200ms --runs 1 --warmup 0 --json -
        echo "$m: $status $stderr"
        [ "$status" -eq 1 ]
        [[ "${stderr_lines[0]}" == "concbench: http: no answer from '127.0.0.1:$PORT' within the timeout of 200 ms while receiving"* ]]
        [ "$(run_field errors_by_kind.timeout <<<"$output")" -eq 4 ]
        [ "$(run_field ops <<<"$output")" -eq 4 ]
        # Each request waited its whole timeout: never cut short.
        [ "$(run_field task_ns.max <<<"$output")" -ge 400000000 ]
    done
}

@test "the built-in server's own delay and the timeout: a slow answer is a timeout" {
    run --separate-stderr cb -m sequential -w http -o delay=1h -o requests=1 -o timeout=100ms --runs 1 --warmup 0 --json -
    [ "$status" -eq 1 ]
    [ "$(run_field errors_by_kind.timeout <<<"$output")" -eq 1 ]
}

@test "a status other than 200 is counted as bad_status" {
    serve_start -o delay=0
    run --separate-stderr cb -m sequential -w http -o "url=http://127.0.0.1:$PORT/missing" -o requests=3 --runs 1 --warmup 0 --json -
    [ "$status" -eq 1 ]
    [ "${stderr_lines[0]}" = "concbench: http: '127.0.0.1:$PORT' answered with status 404, not 200 (counted as 'bad_status'; further ones are only counted)" ]
    [ "$(run_field errors_by_kind.bad_status <<<"$output")" -eq 3 ]
    # A query the server rejects is a 400.
    run --separate-stderr cb -m sequential -w http -o "url=http://127.0.0.1:$PORT/?size=lots" -o requests=2 -o keepalive=on --runs 1 --warmup 0 --json -
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"answered with status 400"* ]]
    [ "$(run_field errors_by_kind.bad_status <<<"$output")" -eq 2 ]
}

# A raw server for the response forms the built-in one never sends: chunked
# and close-delimited bodies, a short body and garbage. It answers `count`
# connections, one response each, then exits.
raw_server() {
    command -v python3 >/dev/null || skip "python3 is not installed"
    cat >"$BATS_TEST_TMPDIR/raw.py" <<'EOF'
import socket, sys
mode, count = sys.argv[1], int(sys.argv[2])
bodies = {
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"12c\r\n" + b"a" * 300 + b"\r\n2bc\r\n" + b"b" * 700 + b"\r\n0\r\n\r\n",
    "close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"c" * 777,
    "short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"d" * 50,
    "garbage": b"HELLO THERE\r\n\r\n",
    "long": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"e" * 15,
    # Says keep-alive, then closes anyway: as a server closing an idle
    # connection does, just as the client reuses it.
    "once": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
}
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(64)
print(s.getsockname()[1], flush=True)
for _ in range(count):
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    c.sendall(bodies[mode])
    c.close()
EOF
    python3 "$BATS_TEST_TMPDIR/raw.py" "$1" "$2" >"$BATS_TEST_TMPDIR/raw.port" 3>&- &
    RAW_PID=$!
    wait_port_file "$BATS_TEST_TMPDIR/raw.port"
}

@test "chunked and close-delimited bodies are parsed and counted" {
    raw_server chunked 3
    run --separate-stderr cb -m sequential -w http -o "url=http://127.0.0.1:$RAW_PORT/" -o requests=3 --runs 1 --warmup 0 --json -
    wait "$RAW_PID"
    [ "$status" -eq 0 ]
    [ "$(run_field bytes <<<"$output")" -eq 3000 ]
    raw_server close 3
    run --separate-stderr cb -m sequential -w http -o "url=http://127.0.0.1:$RAW_PORT/" -o requests=3 --runs 1 --warmup 0 --json -
    wait "$RAW_PID"
    [ "$status" -eq 0 ]
    [ "$(run_field bytes <<<"$output")" -eq 2331 ]
}

@test "a kept connection the server closed is reopened and the request resent" {
    raw_server once 3
    run --separate-stderr cb -m sequential -w http -o "url=http://127.0.0.1:$RAW_PORT/" -o requests=3 -o keepalive=on --runs 1 --warmup 0 --json -
    wait "$RAW_PID"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(run_field result <<<"$output")" -eq 3 ]
    [ "$(run_field bytes <<<"$output")" -eq 15 ]
    [ "$(run_field errors <<<"$output")" -eq 0 ]
}

@test "a short body, extra bytes and garbage are parse errors" {
    for mode in short long garbage; do
        raw_server "$mode" 2
        run --separate-stderr cb -m sequential -w http -o "url=http://127.0.0.1:$RAW_PORT/" -o requests=2 --runs 1 --warmup 0 --json -
        wait "$RAW_PID"
        echo "$mode: $stderr"
        [ "$status" -eq 1 ]
        [ "$(run_field errors_by_kind.parse <<<"$output")" -eq 2 ]
        [ "$(run_field result <<<"$output")" -eq 0 ]
    done
    [[ "$stderr" == *"bad response from '127.0.0.1:$RAW_PORT'"* ]]
}

@test "bad urls are refused before anything runs, exit 2" {
    run --separate-stderr cb -m sequential -w http -o url=https://example.com/
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad url 'https://example.com/': https is not supported, only http://" ]
    run --separate-stderr cb -m sequential -w http -o url=http:///x
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad url 'http:///x': no host" ]
    run --separate-stderr cb -m sequential -w http -o url=http://127.0.0.1:99999/
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: bad url 'http://127.0.0.1:99999/': expected http://host[:port][/path]"* ]]
    run --separate-stderr cb -m sequential -w http -o url=http://127.0.0.1:0/
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad url 'http://127.0.0.1:0/': port 0" ]
    run --separate-stderr cb -m sequential -w http -o url=localhost:80
    [ "$status" -eq 2 ]
    run --separate-stderr cb -m sequential -w http -o url=http://127.0.0.1:1/ -o delay=5ms
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: options 'delay' and 'size' set the built-in server"* ]]
    run --separate-stderr cb -m sequential -w http -o timeout=0
    [ "$status" -eq 2 ]
}

@test "more tasks than 'ulimit -n' allows are refused with the numbers" {
    run --separate-stderr bash -c 'ulimit -n 256 && exec "$0" -m sequential -w http -t 1000' "$CONCBENCH"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: 1000 http tasks need up to 1064 file descriptors (one connection each and 64 spare), but 'ulimit -n' is 256: raise it with 'ulimit -n 1064' or run fewer tasks" ]
}

@test "an interrupted run stops and reaps the built-in server" {
    start_hung_run
    [ -n "$server" ]
    sleep 0.2
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 130 ]
    ! kill -0 "$server" 2>/dev/null
}

@test "the built-in server dies with a killed parent" {
    start_hung_run
    [ -n "$server" ]
    kill -KILL "$pid"
    wait "$pid" || true
    # Gone, or a zombie left for whoever reaps orphans here.
    alive() { [ "$(awk '/^State:/ { print $2 }' /proc/"$server"/status 2>/dev/null)" = S ]; }
    for i in $(seq 100); do
        alive || break
        sleep 0.05
    done
    ! alive
}
