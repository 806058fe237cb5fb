# Helpers shared by the 4xx HTTP tests (load http-helpers): whether this
# build has http, raw HTTP over bash's /dev/tcp (no curl needed), scripted
# servers; the built-in server, nginx, a free port and the models this
# build runs come from bench/lib.sh (serve_start, serve_stop, nginx_start,
# free_port, available_models).

# shellcheck source=bench/lib.sh
source "$BATS_TEST_DIRNAME/../../bench/lib.sh"

# Whether this build has the http workload and serve (both need
# http-parser and libuv).
have_http() {
    have_workload http && have_serve
}

require_http() {
    have_http || skip "the http workload or serve is unavailable in this build"
}

# http_raw PORT FORMAT [ARGS...]: sends printf FORMAT ARGS on a fresh
# connection and prints all the server sends until it closes (10 s at most).
http_raw() {
    local port=$1 fd
    shift
    exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 1
    # shellcheck disable=SC2059
    printf "$@" >&"$fd"
    timeout 10 cat <&"$fd"
    exec {fd}>&-
}

# The body of a raw response (everything after the blank line).
http_body() {
    sed '1,/^\r$/d'
}

# A field of the first run in a JSON report on stdin: run_field errors
run_field() {
    jq -r ".results[0].runs[0].$1"
}

# concbench, bounded: a hang fails the test (exit 124) instead of CI.
cb() {
    timeout 120 "$CONCBENCH" "$@"
}

# wait_port_file FILE: waits (up to 5 s) for a scripted server started in
# the background to write its port into FILE; sets RAW_PORT.
wait_port_file() {
    for _ in $(seq 100); do
        RAW_PORT=$(cat "$1")
        [ -n "$RAW_PORT" ] && return 0
        sleep 0.05
    done
    return 1
}

# start_hung_run: a sequential http run whose built-in server never answers
# (delay=1h), in the background; sets pid (concbench) and server (its
# child, the built-in server) once the server is up.
start_hung_run() {
    "$CONCBENCH" -m sequential -w http -o delay=1h -o timeout=1h --runs 1 \
        --warmup 0 >/dev/null 2>&1 3>&- &
    pid=$!
    for _ in $(seq 100); do
        server=$(pgrep -P "$pid" || true)
        [ -n "$server" ] && return 0
        sleep 0.05
    done
    return 1
}
