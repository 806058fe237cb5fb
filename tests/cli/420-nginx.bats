#!/usr/bin/env bats
# The http workload against a real server: an nginx the test starts on
# loopback in a temporary prefix (its own nginx.conf, pid, logs and temp
# paths, a free port: bench/lib.sh's nginx_start), stopped by its PID.
# Every model fetches static files (fixed length and chunked), keep-alive
# off and on.

bats_require_minimum_version 1.5.0

load http-helpers

setup_file() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    command -v nginx >/dev/null || return 0
    have_http || return 0
    local d="$BATS_FILE_TMPDIR/nginx"
    nginx_start "$d" || return 1
    export NGINX_URL
    head -c 1024 /dev/urandom >"$d/html/1k.bin"
    head -c 300000 /dev/urandom >"$d/html/300k.bin"
    # An SSI page has no length known up front: nginx sends it chunked.
    { head -c 1000 /dev/zero | tr '\0' 'x'; printf '<!--# set var="v" value="" -->'; } >"$d/html/chunked.shtml"
}

teardown_file() { nginx_stop; }

setup() {
    require_http
    command -v nginx >/dev/null || skip "nginx is not installed"
    NGINX=$NGINX_URL
}

@test "nginx answers on its own loopback port" {
    http_raw "${NGINX##*:}" 'GET /1k.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$BATS_TEST_TMPDIR/resp"
    [ "$(head -n 1 "$BATS_TEST_TMPDIR/resp")" = $'HTTP/1.1 200 OK\r' ]
    grep -aq '^Server: nginx' "$BATS_TEST_TMPDIR/resp"
    [ "$(http_body <"$BATS_TEST_TMPDIR/resp" | wc -c)" -eq 1024 ]
    resp=$(http_raw "${NGINX##*:}" 'GET /chunked.shtml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    [[ "$resp" == *$'\r\nTransfer-Encoding: chunked\r\n'* ]]
}

@test "every model fetches a file from nginx, keep-alive off and on" {
    for m in $(available_models); do
        for ka in off on; do
            run --separate-stderr cb -m "$m" -w http -t 4 -o "url=$NGINX/1k.bin" -o requests=5 -o keepalive=$ka --runs 1 --warmup 0 --json -
            echo "$m keepalive=$ka: $status $stderr"
            [ "$status" -eq 0 ]
            [ "$(run_field result <<<"$output")" -eq 20 ]
            [ "$(run_field ops <<<"$output")" -eq 20 ]
            [ "$(run_field bytes <<<"$output")" -eq 20480 ]
            [ "$(run_field errors <<<"$output")" -eq 0 ]
            [ "$(run_field op_count <<<"$output")" -eq 20 ]
        done
    done
}

@test "every model fetches a 300 kB file and a chunked page from nginx" {
    for m in $(available_models); do
        run --separate-stderr cb -m "$m" -w http -t 3 -o "url=$NGINX/300k.bin" -o requests=4 -o keepalive=on --runs 1 --warmup 0 --json -
        echo "$m 300k: $status $stderr"
        [ "$status" -eq 0 ]
        [ "$(run_field bytes <<<"$output")" -eq 3600000 ]
        run --separate-stderr cb -m "$m" -w http -t 3 -o "url=$NGINX/chunked.shtml" -o requests=4 --runs 1 --warmup 0 --json -
        echo "$m chunked: $status $stderr"
        [ "$status" -eq 0 ]
        [ "$(run_field bytes <<<"$output")" -eq 12000 ]
    done
}

@test "a missing file on nginx is a bad status, exit 1" {
    run --separate-stderr cb -m sequential -w http -o "url=$NGINX/missing" -o requests=3 -o keepalive=on --runs 1 --warmup 0 --json -
    [ "$status" -eq 1 ]
    [[ "${stderr_lines[0]}" == *"answered with status 404, not 200"* ]]
    [ "$(run_field errors_by_kind.bad_status <<<"$output")" -eq 3 ]
}
