#!/usr/bin/env bats
# concbench serve: its flags, the listening line, bodies of the asked size
# after the asked delay, query overrides, error statuses, keep-alive and
# Connection: close, and a clean stop on SIGTERM and SIGINT.

load timing
bats_require_minimum_version 1.5.0

load http-helpers

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    SERVE_PID=
    require_http
}
teardown() { serve_stop KILL; }

@test "serve --help lists its options from the table" {
    run --separate-stderr "$CONCBENCH" serve --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: concbench serve"* ]]
    [[ "$output" == *"-o delay=<duration>"*"(default 50ms)"* ]]
    [[ "$output" == *"-o size=<size>"*"(default 1KiB)"* ]]
    [[ "$output" == *"-o keepalive=<bool>"*"(default on)"* ]]
}

@test "bad flags and options exit 2 with one line" {
    run --separate-stderr "$CONCBENCH" serve --frob
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown option '--frob' (see 'concbench serve --help')" ]
    run --separate-stderr "$CONCBENCH" serve extra
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unexpected argument 'extra' (see 'concbench serve --help')" ]
    run --separate-stderr "$CONCBENCH" serve -o dealy=5ms
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown option 'dealy' for serve; did you mean 'delay'?" ]
    run --separate-stderr "$CONCBENCH" serve -o size=lots
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad value 'lots' for option 'size': expected a size such as 4096, 64KiB or 1M" ]
    run --separate-stderr "$CONCBENCH" serve -o delay=2h
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: value '2h' for option 'delay' is out of range"* ]]
    run --separate-stderr "$CONCBENCH" serve --port 70000
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: value '70000' for '--port' is out of range (0 to 65535)" ]
    run --separate-stderr "$CONCBENCH" serve --port
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option '--port' needs a value (see 'concbench serve --help')" ]
}

@test "--bind refuses wildcards and names, and reports a bind failure" {
    run --separate-stderr "$CONCBENCH" serve --bind 0.0.0.0
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: refusing to listen on every interface ('0.0.0.0'): name one address with '--bind'" ]
    run --separate-stderr "$CONCBENCH" serve --bind ::
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"refusing to listen on every interface ('::')"* ]]
    run --separate-stderr "$CONCBENCH" serve --bind example.com
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad value 'example.com' for '--bind': expected an IP address such as 127.0.0.1 or ::1" ]
    # Named explicitly, a non-loopback address is allowed (with a warning
    # once it listens); 192.0.2.1 (TEST-NET-1) is on no interface here, so
    # bind fails: exit 1, and no warning claims it listens.
    run --separate-stderr "$CONCBENCH" serve --bind 192.0.2.1 --port 0
    [ "$status" -eq 1 ]
    [ "$stderr" = "concbench: cannot listen on '192.0.2.1:0': address not available" ]
    [ -z "$output" ]
}

@test "a port in use is an error, exit 1" {
    serve_start -o delay=0
    run --separate-stderr "$CONCBENCH" serve --port "$PORT"
    [ "$status" -eq 1 ]
    [ "$stderr" = "concbench: cannot listen on '127.0.0.1:$PORT': address already in use" ]
}

@test "prints exactly its listening line and answers GET / with size bytes" {
    serve_start -o delay=0 -o size=3000
    [ "$(cat "$BATS_TEST_TMPDIR/serve.out")" = "listening on http://127.0.0.1:$PORT" ]
    http_raw "$PORT" 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$BATS_TEST_TMPDIR/resp"
    resp=$(cat "$BATS_TEST_TMPDIR/resp")
    [[ "$resp" == "HTTP/1.1 200 OK"$'\r\n'* ]]
    [[ "$resp" == *$'\r\nContent-Length: 3000\r\n'* ]]
    [[ "$resp" == *$'\r\nConnection: close\r\n'* ]]
    [ "$(http_body <"$BATS_TEST_TMPDIR/resp" | wc -c)" -eq 3000 ]
    # HEAD: the same headers, no body.
    resp=$(http_raw "$PORT" 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ "$resp" == *$'\r\nContent-Length: 3000\r\n'* ]]
    [ "$(http_body <<<"$resp" | wc -c)" -eq 0 ]
}

@test "query parameters override size and delay per request" {
    timing_test
    serve_start -o delay=0 -o size=10
    http_raw "$PORT" 'GET /?size=4KiB HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$BATS_TEST_TMPDIR/resp"
    [[ "$(cat "$BATS_TEST_TMPDIR/resp")" == *$'\r\nContent-Length: 4096\r\n'* ]]
    [ "$(http_body <"$BATS_TEST_TMPDIR/resp" | wc -c)" -eq 4096 ]
    resp=$(http_raw "$PORT" 'GET /?size=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ "$resp" == *$'\r\nContent-Length: 0\r\n'* ]]
    # A delay is never cut short; without one the same request is quicker.
    t0=$(date +%s%N)
    http_raw "$PORT" 'GET /?delay=300ms&size=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >/dev/null
    t1=$(date +%s%N)
    http_raw "$PORT" 'GET /?size=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >/dev/null
    t2=$(date +%s%N)
    [ $((t1 - t0)) -ge 300000000 ]
    [ $((t2 - t1)) -lt $((t1 - t0)) ]
}

@test "bad requests get 400, other paths 404, other methods 405" {
    serve_start -o delay=0
    resp=$(http_raw "$PORT" 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ "$resp" == "HTTP/1.1 404 Not Found"$'\r\n'* ]]
    resp=$(http_raw "$PORT" 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    [[ "$resp" == "HTTP/1.1 405 Method Not Allowed"$'\r\n'* ]]
    [[ "$resp" == *$'\r\nAllow: GET, HEAD\r\n'* ]]
    resp=$(http_raw "$PORT" 'GET /?size=lots HTTP/1.1\r\nHost: x\r\n\r\n')
    [[ "$resp" == "HTTP/1.1 400 Bad Request"$'\r\n'* ]]
    [[ "$resp" == *"bad size 'lots'"* ]]
    resp=$(http_raw "$PORT" 'GET /?colour=red HTTP/1.1\r\nHost: x\r\n\r\n')
    [[ "$resp" == *"unknown query parameter 'colour'"* ]]
    resp=$(http_raw "$PORT" 'NOT HTTP AT ALL\r\n\r\n')
    [[ "$resp" == "HTTP/1.1 400 Bad Request"$'\r\n'* ]]
    [[ "$resp" == *$'\r\nConnection: close\r\n'* ]]
    # After all that, it still serves.
    resp=$(http_raw "$PORT" 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ "$resp" == "HTTP/1.1 200 OK"$'\r\n'* ]]
}

@test "keep-alive answers pipelined requests in order; keepalive=off closes" {
    serve_start -o delay=0 -o size=5
    resp=$(http_raw "$PORT" 'GET /?delay=100ms&size=7 HTTP/1.1\r\nHost: x\r\n\r\nGET /?size=3 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [ "$(grep -o 'HTTP/1.1 200 OK' <<<"$resp" | wc -l)" -eq 3 ]
    [ "$(grep -o 'Content-Length: [0-9]*' <<<"$resp" | tr '\n' ' ')" = "Content-Length: 7 Content-Length: 3 Content-Length: 5 " ]
    [ "$(grep -c '^Connection: keep-alive' <<<"$resp")" -eq 2 ]
    serve_stop
    serve_start -o delay=0 -o size=5 -o keepalive=off
    resp=$(http_raw "$PORT" 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')
    [ "$(grep -o 'HTTP/1.1 200 OK' <<<"$resp" | wc -l)" -eq 1 ]
    [[ "$resp" == *$'\r\nConnection: close\r\n'* ]]
}

@test "SIGTERM and SIGINT stop it cleanly with requests in flight, exit 0" {
    for sig in TERM INT; do
        serve_start -o delay=1h
        exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
        printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&"$fd"
        sleep 0.2
        serve_stop "$sig"
        [ "$SERVE_STATUS" -eq 0 ]
        # The server closed our connection on its way out.
        [ -z "$(timeout 5 cat <&"$fd")" ]
        exec {fd}>&-
        [ ! -s "$BATS_TEST_TMPDIR/serve.err" ]
    done
}

@test "slow requests in flight cost the server no thread" {
    timing_test
    models=$(available_models | grep -E '^(eventloop|green|threads)$' | head -1)
    [ -n "$models" ] || skip "no concurrent model in this build"
    serve_start -o delay=0
    "$CONCBENCH" -m "$models" -w http -t 1000 -o "url=http://127.0.0.1:$PORT/?delay=1500ms&size=100" -o requests=1 --runs 1 --warmup 0 --json "$BATS_TEST_TMPDIR/r.json" 3>&- &
    client=$!
    # Wait until most requests are in flight, then count the server's threads.
    for i in $(seq 40); do
        sleep 0.05
        n=$(ls /proc/"$SERVE_PID"/fd | wc -l)
        [ "$n" -ge 900 ] && break
    done
    [ "$n" -ge 900 ]
    [ "$(awk '/^Threads:/ { print $2 }' /proc/"$SERVE_PID"/status)" -eq 1 ]
    wait "$client"
    [ "$(run_field result <"$BATS_TEST_TMPDIR/r.json")" -eq 1000 ]
    [ "$(run_field bytes <"$BATS_TEST_TMPDIR/r.json")" -eq 100000 ]
}
