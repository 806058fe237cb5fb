# Helpers shared by the 4xx HTTP tests (load http-helpers): the models this
# build runs, a built-in server in the background, raw HTTP over bash's
# /dev/tcp (no curl needed), and a free loopback port.

# Skips the test when this build lacks the http workload or serve (built
# without http-parser or libuv): serve then exits 3 before parsing --bind.
have_http() {
    local rc=0
    "$CONCBENCH" list | grep -q '^  http .*\[unavailable' && return 1
    "$CONCBENCH" serve --bind 0.0.0.0 2>/dev/null || rc=$?
    [ "$rc" -ne 3 ]
}

require_http() {
    have_http || skip "the http workload or serve is unavailable in this build"
}

# The models `list` shows without "[unavailable", one a line.
available_models() {
    "$CONCBENCH" list | awk '/^models:/ { m = 1; next } /^$/ { m = 0 }
        m && /^  [a-z]/ && !/\[unavailable/ { print $1 }'
}

# serve_start [serve args...]: starts `concbench serve` in the background
# and sets SERVE_PID and PORT once it prints its listening line.
serve_start() {
    local out="$BATS_TEST_TMPDIR/serve.out" i
    : >"$out"
    "$CONCBENCH" serve "$@" >"$out" 2>"$BATS_TEST_TMPDIR/serve.err" 3>&- &
    SERVE_PID=$!
    for i in $(seq 200); do
        PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$out")
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Stops the server with SIGTERM (or $1) and sets SERVE_STATUS.
serve_stop() {
    [ -n "${SERVE_PID:-}" ] || return 0
    kill "-${1:-TERM}" "$SERVE_PID" 2>/dev/null || true
    SERVE_STATUS=0
    wait "$SERVE_PID" 2>/dev/null || SERVE_STATUS=$?
    SERVE_PID=
}

# A loopback port nothing listens on: one the built-in server just left.
free_port() {
    serve_start -o delay=0 || return 1
    local p=$PORT
    serve_stop
    echo "$p"
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
