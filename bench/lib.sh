# shellcheck shell=bash disable=SC2034 # it sets variables for its callers
# What the benchmark suites (bench/*.sh) and the CLI tests (tests/cli) share,
# sourced by both: medians and spreads, `concbench serve` and nginx on
# loopback started and stopped by their PIDs, the raw loops of bench/raw/
# compiled, and which models and workloads this build has.
#
# Exit codes of a suite: 0 measured (and met its target), 1 a measurement
# failed or missed its target, 2 usage or no concbench binary, 3
# unavailable: a tool (hyperfine, wrk, primesieve, nginx, jq, a compiler),
# a library or a model or workload the suite needs is missing, said in one
# form, "bench/x.sh: cannot run: WHY"; 130 and 143: interrupted by SIGINT
# and SIGTERM, after stopping what it started.
#
# Functions that check something return 1 and leave the reason, a phrase
# for a person, in CB_WHY; their need_ twins exit 3 with it. Scratch files
# go to CB_TMP in a suite (bench_init) and BATS_TEST_TMPDIR (else
# BATS_FILE_TMPDIR) in a test. Nothing here sets shell options or traps
# on being sourced. CONCBENCH is the binary; `me` names the caller.

CB_EXIT_UNAVAILABLE=3
CB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# _cb_dir: where this script or test keeps its scratch files.
_cb_dir() { echo "${CB_TMP:-${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:?}}}"; }

# ------------------------------------------------------------ a suite's frame

# bench_init: a suite's scratch directory CB_TMP and its traps. On exit,
# whatever way it comes, the serve and nginx this script started are
# stopped by their PIDs, then bench_cleanup runs if the script defines it,
# then CB_TMP is removed; SIGINT and SIGTERM exit 130 and 143 through that
# same path, so a killed suite orphans nothing. (A signal that lands while
# bash 5.2 parses a $(...) can make it exit 2 instead, saying "unexpected
# EOF": the cleanup still runs.)
bench_init() {
    CB_TMP=$(mktemp -d) || exit 2
    trap _cb_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

_cb_exit() {
    serve_stop TERM || true
    nginx_stop || true
    if declare -F bench_cleanup >/dev/null; then bench_cleanup || true; fi
    rm -rf "$CB_TMP"
}

# unavailable WHY: says "$me: cannot run: WHY" and exits 3; with
# PEERS_ROWS set, records it there for bench/peers.sh (see peer_row).
unavailable() {
    echo "${me:-bench}: cannot run: $1" >&2
    if [ -n "${PEERS_ROWS:-}" ]; then
        printf 'skipped\t%s\t%s\n' "${me:-bench}" "$1" >>"$PEERS_ROWS"
    fi
    exit "$CB_EXIT_UNAVAILABLE"
}

# need_concbench: exits 2 unless CONCBENCH is an executable file (a bare
# name is looked up on PATH); makes it an absolute path, so that it
# survives a cd.
need_concbench() {
    if [[ "$CONCBENCH" != */* ]]; then
        CONCBENCH=$(command -v "$CONCBENCH") || CONCBENCH=./$CONCBENCH
    fi
    if ! [ -f "$CONCBENCH" ] || ! [ -x "$CONCBENCH" ]; then
        echo "${me:-bench}: '$CONCBENCH' is not built (run make, or set" \
            "CONCBENCH)" >&2
        exit 2
    fi
    CONCBENCH=$(cd "$(dirname "$CONCBENCH")" && pwd)/$(basename "$CONCBENCH")
}

# have_tools TOOL...: whether every TOOL is on PATH; CB_WHY names the first
# one missing.
have_tools() {
    local t
    for t in "$@"; do
        if ! command -v "$t" >/dev/null; then
            CB_WHY="'$t' is not installed (scripts/deps.sh installs it)"
            return 1
        fi
    done
}

need_tools() { have_tools "$@" || unavailable "$CB_WHY"; }

# cpu_pin ROUND: a taskset command that runs on one of the CPUs this
# process may use, the next one each round, into the array CB_PIN (empty
# without taskset). A one-thread measurement and its raw reference run
# under the same CB_PIN: this VM's CPUs differ by 10-40%, so a ratio of
# runs on different CPUs measures the CPUs.
cpu_pin() {
    local cpus
    CB_PIN=()
    have_tools taskset || return 0
    mapfile -t cpus < <(awk '/^Cpus_allowed_list/ {
        n = split($2, a, ",")
        for (i = 1; i <= n; i++) {
            split(a[i], b, "-"); hi = b[2] == "" ? b[1] : b[2]
            for (c = b[1]; c <= hi; c++) print c
        } }' /proc/self/status)
    [ "${#cpus[@]}" -eq 0 ] || CB_PIN=(taskset -c "${cpus[$1 % ${#cpus[@]}]}")
}

# ------------------------------------------------- what this build can run

# list_names KIND [STATE]: the names of KIND (model or workload) that
# `concbench list --format tsv` shows, in its order, one a line; with STATE
# (available or unavailable) only those.
list_names() {
    "$CONCBENCH" list --format tsv |
        awk -F'\t' -v k="$1" -v s="${2:-}" '$1 == k && (s == "" || $3 == s) { print $2 }'
}

available_models() { list_names model available; }

# _cb_have KIND NAME: whether this build has KIND NAME and can run it.
_cb_have() {
    local row
    row=$("$CONCBENCH" list --format tsv |
        awk -F'\t' -v k="$1" -v n="$2" '$1 == k && $2 == n')
    if [ -z "$row" ]; then
        CB_WHY="this concbench has no $1 '$2'"
        return 1
    fi
    if [ "$(cut -f3 <<<"$row")" != available ]; then
        CB_WHY="$1 '$2' is unavailable in this build: $(cut -f4 <<<"$row")"
        return 1
    fi
}

have_model() { _cb_have model "$1"; }
have_workload() { _cb_have workload "$1"; }
need_model() { have_model "$1" || unavailable "$CB_WHY"; }
need_workload() { have_workload "$1" || unavailable "$CB_WHY"; }

# need_matplotlib: Debian's python3 with matplotlib (what scripts/plot.py
# runs on), or the suite cannot draw: unavailable (exit 3).
need_matplotlib() {
    /usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
        unavailable "/usr/bin/python3 has no matplotlib (scripts/deps.sh installs python3-matplotlib)"
}

# pick_models LIST: sets the array `models` to the models of the comma
# list that this build has, saying on stderr which it skips and why;
# unavailable (exit 3) when none is left.
pick_models() {
    local m
    models=()
    for m in ${1//,/ }; do
        if have_model "$m"; then
            models+=("$m")
        else
            echo "${me:-bench}: skipping $m: $CB_WHY" >&2
        fi
    done
    [ "${#models[@]}" -gt 0 ] || unavailable "none of $1 is in this build"
}

# have_serve: whether this build has `concbench serve` (it needs libuv and
# http-parser): without, serve exits 3 before it parses --bind.
have_serve() {
    local rc=0
    "$CONCBENCH" serve --bind 0.0.0.0 2>/dev/null || rc=$?
    [ "$rc" -ne 3 ] && return 0
    CB_WHY="concbench serve is unavailable in this build"
    return 1
}

# ------------------------------------------------------------ statistics

# One definition of the median, in jq, for the shell and for jq programs
# (prefix it to one): the middle value, or the mean of the two middle ones.
# shellcheck disable=SC2016 # jq's $n
CB_JQ_MEDIAN='def median: sort | length as $n |
    if $n == 0 then null
    elif $n % 2 == 1 then .[($n - 1) / 2]
    else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;'

# median: of the numbers on stdin, one a line; fails on none.
median() {
    local m
    m=$(jq -s "$CB_JQ_MEDIAN median") || return 1
    [ "$m" != null ] || return 1
    echo "$m"
}

# spread [SCALE]: "min..max" of the numbers on stdin, each divided by
# SCALE (default 1), with 4 significant digits (whole numbers from 1,000
# up); nothing on none.
spread() {
    sort -g | awk -v s="${1:-1}" '
        function fmt(x) {
            x /= s
            if (x >= 1000 || x <= -1000) return sprintf("%.0f", x)
            return sprintf("%.4g", x)
        }
        NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR) printf "%s..%s", fmt(lo), fmt(hi) }'
}

# -------------------------------------------------------- loopback servers

# wait_port PORT: waits (up to 5 s) until something accepts on
# 127.0.0.1:PORT.
wait_port() {
    for _ in $(seq 100); do
        (exec 5<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# serve_start [SERVE ARGS...]: starts `concbench serve` in the background
# (behind the command in the array SERVE_WRAP, if set: valgrind, say), its
# stdout and stderr in serve.out and serve.err of the scratch directory;
# once it prints its listening line, sets SERVE_PID, PORT and SERVE_URL
# (http://127.0.0.1:PORT). Fails if it exits or takes 10 s.
serve_start() {
    local dir
    dir=$(_cb_dir)
    : >"$dir/serve.out"
    ${SERVE_WRAP[@]+"${SERVE_WRAP[@]}"} "$CONCBENCH" serve "$@" \
        >"$dir/serve.out" 2>"$dir/serve.err" 3>&- &
    SERVE_PID=$!
    for _ in $(seq 200); do
        PORT=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' \
            "$dir/serve.out")
        if [ -n "$PORT" ]; then
            SERVE_URL=http://127.0.0.1:$PORT
            return 0
        fi
        kill -0 "$SERVE_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# serve_stop [SIGNAL]: stops the server by its PID with SIGTERM (or
# SIGNAL) and sets SERVE_STATUS to its exit status.
serve_stop() {
    [ -n "${SERVE_PID:-}" ] || return 0
    kill "-${1:-TERM}" "$SERVE_PID" 2>/dev/null || true
    SERVE_STATUS=0
    wait "$SERVE_PID" 2>/dev/null || SERVE_STATUS=$?
    SERVE_PID=
}

# free_port: a loopback port nothing listens on: one a server just left.
free_port() {
    local SERVE_PID PORT SERVE_URL SERVE_STATUS
    serve_start -o delay=0 || return 1
    local p=$PORT
    serve_stop
    echo "$p"
}

# nginx_start DIR: nginx on a free loopback port, as this shell's own child
# (daemon off, its pid file, logs and temporary paths all in DIR), serving
# DIR/html (made here; add files at will) with .shtml through SSI, so that
# its answer is chunked. Sets NGINX_PID, NGINX_PORT and NGINX_URL
# (http://127.0.0.1:PORT). Fails, showing nginx's error log, if it does
# not accept within 5 s.
nginx_start() {
    local d=$1 user=""
    mkdir -p "$d/html" "$d/tmp" || return 1
    NGINX_PORT=$(free_port) || return 1
    # As root, nginx would run its workers as nobody, who cannot read a
    # private temporary directory.
    [ "$(id -u)" -eq 0 ] && user="user root;"
    cat >"$d/nginx.conf" <<EOF
$user
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 100000000;
    open_file_cache max=16;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $d/html;
        location ~ \.shtml$ { default_type text/html; ssi on; }
    }
}
EOF
    nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf" 3>&- &
    NGINX_PID=$!
    NGINX_URL=http://127.0.0.1:$NGINX_PORT
    wait_port "$NGINX_PORT" && return 0
    cat "$d/error.log" >&2
    return 1
}

# nginx_stop: stops the nginx of nginx_start by its PID (SIGTERM: its
# master stops its worker) and waits until it is gone.
nginx_stop() {
    [ -n "${NGINX_PID:-}" ] || return 0
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    # Started by another process of the test (bats' setup_file): poll.
    for _ in $(seq 100); do
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.05
    done
    NGINX_PID=
}

# ---------------------------------------------------------------- raw loops

# raw_build NAME: compiles bench/raw/NAME.c into the scratch directory as
# NAME, with ${CC:-cc}, the project's C dialect and the libraries that
# loop needs. Fails, with CB_WHY, when the compiler, pkg-config or a
# library is missing.
raw_build() {
    local name=$1 dir cc=${CC:-cc} ldlibs=()
    dir=$(_cb_dir)
    have_tools "$cc" || return 1
    case $name in
    fcontext_pingpong | fcontext_ring | fcontext_step | fcontext_lock)
        ldlibs=(-lboost_context)
        ;;
    uv_timer_loop)
        have_tools pkg-config || return 1
        # shellcheck disable=SC2207 # pkg-config's flags are words
        ldlibs=($(pkg-config --cflags --libs libuv 2>"$dir/$name.cc.err")) || {
            CB_WHY="bench/raw/$name.c needs libuv: $(head -n1 "$dir/$name.cc.err")"
            return 1
        }
        ;;
    esac
    if ! "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 \
        -pthread -I"$CB_ROOT" -o "$dir/$name" "$CB_ROOT/bench/raw/$name.c" \
        "${ldlibs[@]}" 2>"$dir/$name.cc.err"; then
        CB_WHY="cannot compile bench/raw/$name.c: $(grep -m1 -i 'error' \
            "$dir/$name.cc.err" || head -n1 "$dir/$name.cc.err")"
        return 1
    fi
}

need_raw() { raw_build "$1" || unavailable "$CB_WHY"; }

# ------------------------------------------------------------- peer rows

# peer_row NAME UNIT SCALE TARGET NOTE CB_FILE REF_FILE: when PEERS_ROWS
# names a file (make bench and bench/peers.sh set it), appends one row of
# bench/peers.sh's table to it: concbench's and the reference's samples
# (files of numbers, one a line, that make UNIT when divided by SCALE: ns
# and 1e6 for ms), so that peers.sh shows what the suite measured instead
# of measuring it again. Tab-separated:
# name, unit, scale, target, note, the samples of each side
# space-separated, and the suite. A suite that cannot run leaves
# "skipped<TAB>suite<TAB>why" instead (unavailable).
peer_row() {
    [ -n "${PEERS_ROWS:-}" ] || return 0
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
        "$(tr '\n' ' ' <"$6" | sed 's/ $//')" \
        "$(tr '\n' ' ' <"$7" | sed 's/ $//')" "${me:-}" >>"$PEERS_ROWS"
}
