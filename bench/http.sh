#!/bin/bash
# HTTP throughput against one nginx on loopback, in one table: wrk
# (-t1 -c64) beside concbench's eventloop model with 64 keep-alive tasks on
# the same 1 KiB file (target: at least 0.8x wrk's requests/s), and the
# built-in server (concbench serve) under wrk beside nginx.
#
# Environment: CONCBENCH (default ./concbench), DURATION (seconds each
# measurement lasts, default 5), RUNS (measurements of each row, default 3;
# the table shows the median and the range), MODEL (default eventloop, or
# the first of green and threads that this build has).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
TARGET=0.8
me=bench/http.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools nginx wrk jq awk
need_workload http
have_serve || unavailable "$CB_WHY"
if [ -z "${MODEL:-}" ]; then
    for MODEL in eventloop green threads ""; do
        [ -n "$MODEL" ] && have_model "$MODEL" && break
    done
    [ -n "$MODEL" ] || unavailable "no concurrent model in this build of $CONCBENCH"
fi
need_model "$MODEL"

bench_init
tmp=$CB_TMP
nginx_start "$tmp/nginx" || { echo "$me: nginx did not start" >&2; exit 1; }
head -c 1024 /dev/urandom >"$tmp/nginx/html/1k.bin"

# wrk_rps URL: requests/s of one wrk -t1 -c64 run.
wrk_rps() {
    wrk -t1 -c64 -d"${DURATION}s" "$1" >"$tmp/wrk.out"
    if grep -q 'Non-2xx' "$tmp/wrk.out" ||
        grep -q 'Socket errors: connect [1-9]\|read [1-9]\|write [1-9]' "$tmp/wrk.out"; then
        cat "$tmp/wrk.out" >&2
        echo "$me: wrk saw errors" >&2
        exit 1
    fi
    # wrk counts a request over 2 s as a timeout: an overloaded machine.
    if grep -q 'Socket errors' "$tmp/wrk.out"; then
        echo "$me: warning: wrk: $(grep 'Socket errors' "$tmp/wrk.out" | sed 's/^ *//') (is the machine busy?)" >&2
    fi
    awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.out"
}

# cb_rps URL REQUESTS [WARMUP]: requests/s of one timed concbench run.
cb_rps() {
    "$CONCBENCH" -m "$MODEL" -w http -t 64 -o keepalive=on -o "url=$1" \
        -o requests="$2" --runs 1 --warmup "${3:-0}" --json "$tmp/cb.json" \
        >/dev/null 2>"$tmp/cb.err" || {
        cat "$tmp/cb.err" >&2
        echo "$me: concbench failed" >&2
        exit 1
    }
    jq -r --argjson n "$((64 * $2))" \
        '.results[0].runs[] | $n / (.wall_ns / 1e9)' "$tmp/cb.json"
}

# row NAME: prints "NAME median min..max" of NAME's measurements.
row() {
    printf '%s %.0f %s\n' "$1" "$(median <"$tmp/$1")" "$(spread 1 <"$tmp/$1")"
}

nginx_url="$NGINX_URL/1k.bin"
echo "$me: ${DURATION}s a measurement, $RUNS of each; $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

serve_start -o delay=0 -o size=1KiB ||
    { echo "$me: concbench serve did not start" >&2; exit 1; }
serve_url="$SERVE_URL/"

# Calibration (and warmup of both servers): concbench makes as many
# fetches as wrk did in DURATION, spread over its 64 tasks.
echo "  calibrating: wrk -t1 -c64 -d${DURATION}s against nginx" >&2
requests=$(awk -v r="$(wrk_rps "$nginx_url")" -v d="$DURATION" \
    'BEGIN { printf "%d", r * d / 64 + 1 }')
wrk_rps "$serve_url" >/dev/null
cb_rps "$nginx_url" "$((requests / 10 + 1))" 1 >/dev/null

# The rows take turns, so a change in the machine's load (other programs
# on these cores) spreads over all of them instead of biasing one.
for i in $(seq "$RUNS"); do
    echo "  round $i of $RUNS: wrk and concbench $MODEL (64 keep-alive" \
        "tasks x $requests fetches), against nginx, then concbench serve" >&2
    wrk_rps "$nginx_url" >>"$tmp/wrk_nginx"
    cb_rps "$nginx_url" "$requests" >>"$tmp/cb_nginx"
    wrk_rps "$serve_url" >>"$tmp/wrk_serve"
    cb_rps "$serve_url" "$requests" >>"$tmp/cb_serve"
done
for r in wrk_nginx cb_nginx wrk_serve cb_serve; do
    row "$r"
done >"$tmp/rows"
peer_row http req/s 1 "<= $(awk -v t="$TARGET" 'BEGIN { printf "%.2f", 1 / t }')x" \
    "$MODEL, 64 keep-alive tasks x $requests vs wrk -t1 -c64 ${DURATION}s, both on concbench serve (wrk/concbench)" \
    "$tmp/cb_serve" "$tmp/wrk_serve"

echo
printf '| %-28s | %-16s | %12s | %-19s | %8s |\n' client server "requests/s" \
    "range (min-max)" "vs wrk"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..30})" \
    "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..14})" \
    "$(printf -- '-%.0s' {1..21})" "$(printf -- '-%.0s' {1..10})"
while read -r name med range; do
    case $name in
    wrk_nginx) c="wrk -t1 -c64"; s="nginx (1 worker)"; base=$med ;;
    cb_nginx) c="concbench $MODEL -t 64"; s="nginx (1 worker)" ;;
    wrk_serve) c="wrk -t1 -c64"; s="concbench serve"; base=$med ;;
    cb_serve) c="concbench $MODEL -t 64"; s="concbench serve" ;;
    esac
    printf '| %-28s | %-16s | %12s | %-19s | %7.2fx |\n' "$c" "$s" "$med" \
        "${range/../-}" "$(awk -v a="$med" -v b="$base" 'BEGIN { print a / b }')"
done <"$tmp/rows"
echo "(requests/s: the median of $RUNS; vs wrk: against wrk on the same server)"
echo

ratio=$(awk '$1 == "cb_nginx" { c = $2 } $1 == "wrk_nginx" { w = $2 }
    END { printf "%.2f", c / w }' "$tmp/rows")
serve_vs=$(awk '$1 == "wrk_serve" { s = $2 } $1 == "wrk_nginx" { n = $2 }
    END { printf "%.2f", s / n }' "$tmp/rows")
echo "concbench $MODEL reaches ${ratio}x wrk's requests/s against nginx" \
    "(target ${TARGET}x); the built-in server serves ${serve_vs}x nginx's" \
    "requests/s under wrk."
awk -v r="$ratio" -v t="$TARGET" 'BEGIN { exit !(r >= t) }' || {
    echo "$me: below the ${TARGET}x target" >&2
    exit 1
}
