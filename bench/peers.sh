#!/bin/bash
# concbench beside its references, in one invocation and one table: the
# same work done by a tool or a raw loop that has nothing else to do, so
# every ratio says what concbench's harness and models cost on top.
#
#   primes     sequential primes at n=N     vs primesieve N -t1 (its --time)
#   http       eventloop, 64 keep-alive tasks vs wrk -t1 -c64, requests/s,
#              both against `concbench serve` (delay 0) on loopback
#   threads    sleep ms=0, 10,000 tasks     vs pthread_create+join (bench/raw)
#   fork       sleep ms=0, 1,000 tasks      vs fork+_exit+waitpid (bench/raw)
#   green      a yield (per switch)         vs a jump_fcontext ping-pong
#   eventloop  10,000 sleeps of 100 ms      vs a raw libuv timer loop
#   hyperfine  concbench's own wall time    vs hyperfine's whole-process time
#              of the same command (own must sit inside it, run by run)
#
# Every row alternates its two sides ROUNDS times in the same loop, so drift
# of a shared machine hits both; the table shows medians and the spread.
# The raw loops are the ones the models' own suites use (bench/raw/*.c,
# compiled here with the same flags). A row whose model or tool is missing
# says so instead of a number.
#
# Environment: CONCBENCH (default ./concbench), ROUNDS (5), N (1e9),
# DURATION (3: seconds of each wrk run), CC (cc).
set -uo pipefail

me=bench/peers.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
ROUNDS=${ROUNDS:-5}
N=${N:-1e9}
DURATION=${DURATION:-3}
CC=${CC:-cc}

if ! [ -x "$CONCBENCH" ]; then
    echo "$me: '$CONCBENCH' is not built (run make, or set CONCBENCH)" >&2
    exit 2
fi
command -v jq >/dev/null || { echo "$me: jq not found (scripts/deps.sh)" >&2; exit 3; }
CONCBENCH=$(cd "$(dirname "$CONCBENCH")" && pwd)/$(basename "$CONCBENCH")

tmp=$(mktemp -d)
serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null
        wait "$serve_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

available() {
    "$CONCBENCH" list | grep -q "^  $1 " &&
        ! "$CONCBENCH" list | grep -q "^  $1 .*\[unavailable"
}
# median: of the numbers on stdin, one a line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (!NR) exit 1
        print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# spread SCALE: "min..max" of stdin divided by SCALE.
spread() {
    sort -g | awk -v s="$1" 'NR == 1 { lo = $1 } { hi = $1 }
        END { if (NR) printf "%.4g..%.4g", lo / s, hi / s }'
}
# own ARGS...: concbench's first timed run, as its report's wall_ns.
own() {
    "$CONCBENCH" "$@" --runs 1 --json - 2>/dev/null |
        jq -e '.results[0].runs[0] | select(.failed | not) | .wall_ns'
}

rows=()
# row NAME UNIT SCALE CB_FILE REF_FILE TARGET NOTE: one line of the table;
# the ratio is concbench / reference (for requests/s, reference / concbench,
# so that above 1 always means concbench is slower).
row() {
    local name=$1 unit=$2 scale=$3 cb ref ratio
    if ! cb=$(median <"$4") || ! ref=$(median <"$5"); then
        rows+=("$(printf '%-10s %s' "$name" "no measurement: $7")")
        return
    fi
    if [ "$unit" = req/s ]; then
        ratio=$(jq -n "$ref / $cb")
    else
        ratio=$(jq -n "$cb / $ref")
    fi
    rows+=("$(printf '%-10s %12.4g %-5s %12.4g %-5s %7.2fx  %-8s %s' "$name" \
        "$(jq -n "$cb / $scale")" "$unit" "$(jq -n "$ref / $scale")" "$unit" \
        "$ratio" "$6" "$7 [$(spread "$scale" <"$4") / $(spread "$scale" <"$5")]")")
}
skip_row() { rows+=("$(printf '%-10s skipped: %s' "$1" "$2")"); }

echo "$me: $ROUNDS rounds, each side of a row alternated" >&2

# ------------------------------------------------------------------ primes
if command -v primesieve >/dev/null; then
    : >"$tmp/p_cb"; : >"$tmp/p_ref"
    for ((i = 0; i < ROUNDS; i++)); do
        own -m sequential -w primes -o "n=$N" --warmup 1 >>"$tmp/p_cb"
        primesieve "$N" -t1 --time -q 2>&1 |
            awk '/^Seconds:/ { printf "%.0f\n", $2 * 1e9 }' >>"$tmp/p_ref"
    done
    row primes ms 1e6 "$tmp/p_cb" "$tmp/p_ref" "<= 3x" \
        "n=$N, 1 task vs primesieve -t1"
else
    skip_row primes "primesieve is not installed (scripts/deps.sh)"
fi

# -------------------------------------------------------------------- http
if ! command -v wrk >/dev/null; then
    skip_row http "wrk is not installed (scripts/deps.sh)"
elif ! available eventloop || ! available http; then
    skip_row http "eventloop or http is unavailable in this build"
else
    "$CONCBENCH" serve -o delay=0 -o keepalive=on >"$tmp/serve.out" 2>&1 &
    serve_pid=$!
    url=
    for ((i = 0; i < 200; i++)); do
        url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$tmp/serve.out")
        [ -n "$url" ] && break
        sleep 0.02
    done
    if [ -z "$url" ]; then
        skip_row http "concbench serve did not start: $(head -c 200 "$tmp/serve.out")"
    else
        : >"$tmp/h_cb"; : >"$tmp/h_ref"
        for ((i = 0; i < ROUNDS; i++)); do
            "$CONCBENCH" -m eventloop -w http -t 64 -o "url=$url/" \
                -o keepalive=on -o requests=500 --runs 1 --json - 2>/dev/null |
                jq -e '.results[0].runs[0] | select(.failed | not) |
                       .ops / (.wall_ns / 1e9)' >>"$tmp/h_cb"
            wrk -t1 -c64 -d"${DURATION}s" "$url/" 2>/dev/null |
                awk '/^Requests\/sec:/ { print $2 }' >>"$tmp/h_ref"
        done
        row http req/s 1 "$tmp/h_cb" "$tmp/h_ref" "<= 1.25x" \
            "64 keep-alive tasks x 500 vs wrk -t1 -c64 ${DURATION}s (wrk/concbench)"
    fi
    kill "$serve_pid" 2>/dev/null
    wait "$serve_pid" 2>/dev/null
    serve_pid=
fi

# --------------------------------------------------- threads, fork: raw loops
raw_row() { # NAME MODEL TASKS LOOP
    local name=$1 model=$2 n=$3 loop=$4
    if ! available "$model"; then
        skip_row "$name" "model '$model' is unavailable in this build"
        return
    fi
    if ! $CC -O2 -pthread -o "$tmp/$loop" "bench/raw/$loop.c" 2>"$tmp/cc.err"; then
        skip_row "$name" "cannot compile bench/raw/$loop.c: $(head -n1 "$tmp/cc.err")"
        return
    fi
    : >"$tmp/r_cb"; : >"$tmp/r_ref"
    for ((i = 0; i < ROUNDS; i++)); do
        own -m "$model" -w sleep -o ms=0 -t "$n" --warmup 1 |
            awk -v n="$n" '{ printf "%.0f\n", $1 / n }' >>"$tmp/r_cb"
        "$tmp/$loop" "$n" gate >>"$tmp/r_ref"
    done
    row "$name" us 1e3 "$tmp/r_cb" "$tmp/r_ref" "" \
        "per task, $n tasks of sleep ms=0 vs $loop $n gate"
}
raw_row threads threads 10000 pthread_loop
raw_row fork fork 1000 fork_loop

# ------------------------------------------------------------------- green
if ! available green; then
    skip_row green "model 'green' is unavailable in this build"
elif ! $CC -O2 -I. -o "$tmp/fcontext_pingpong" bench/raw/fcontext_pingpong.c \
    -lboost_context 2>"$tmp/cc.err"; then
    skip_row green "cannot compile bench/raw/fcontext_pingpong.c: $(head -n1 "$tmp/cc.err")"
else
    : >"$tmp/g_cb"; : >"$tmp/g_ref"
    for ((i = 0; i < ROUNDS; i++)); do
        # A yield is two switches: task to scheduler to the next task.
        own -m green -w yield -t 100 -o count=100000 -o switch=fcontext \
            --warmup 1 | awk '{ printf "%.3f\n", $1 / 1e7 / 2 }' >>"$tmp/g_cb"
        "$tmp/fcontext_pingpong" 10000000 >>"$tmp/g_ref"
    done
    row green ns 1 "$tmp/g_cb" "$tmp/g_ref" "<= 3x" \
        "per switch, 100 tasks x 100,000 yields vs jump_fcontext ping-pong"
fi

# --------------------------------------------------------------- eventloop
if ! available eventloop; then
    skip_row eventloop "model 'eventloop' is unavailable in this build"
elif ! $CC -O2 -o "$tmp/uv_timer_loop" bench/raw/uv_timer_loop.c \
    $(pkg-config --cflags --libs libuv) 2>"$tmp/cc.err"; then
    skip_row eventloop "cannot compile bench/raw/uv_timer_loop.c: $(head -n1 "$tmp/cc.err")"
else
    : >"$tmp/e_cb"; : >"$tmp/e_ref"
    for ((i = 0; i < ROUNDS; i++)); do
        own -m eventloop -w sleep -o ms=100ms -t 10000 --warmup 1 >>"$tmp/e_cb"
        "$tmp/uv_timer_loop" 10000 100 |
            sed -n 's/.*wall_ns=\([0-9]*\).*/\1/p' >>"$tmp/e_ref"
    done
    row eventloop ms 1e6 "$tmp/e_cb" "$tmp/e_ref" "<= 1.10x" \
        "wall of 10,000 sleeps of 100 ms vs uv_timer_loop 10000 100"
fi

# --------------------------------------------------------------- hyperfine
if command -v hyperfine >/dev/null; then
    # The same command, timed from outside (hyperfine: fork, exec, setup,
    # teardown, the report, exit) and from inside (the run's own wall_ns);
    # each run appends its report, so the two line up run by run.
    : >"$tmp/own.jsonl"
    cmd="'$CONCBENCH' -m sequential -w primes -o n=$N --runs 1 --warmup 0 --json - 2>/dev/null >>'$tmp/own.jsonl'"
    if hyperfine --runs "$ROUNDS" --warmup 1 --style none \
        --export-json "$tmp/hf.json" "$cmd" >/dev/null 2>"$tmp/hf.err"; then
        jq -r '.results[0].times[] | . * 1e9' "$tmp/hf.json" >"$tmp/hf_ref"
        # The last ROUNDS reports are hyperfine's timed runs (the first, its
        # warmup).
        jq -s -r '.[].results[0].runs[0].wall_ns' "$tmp/own.jsonl" |
            tail -n "$ROUNDS" >"$tmp/hf_cb"
        inside=$(paste "$tmp/hf_cb" "$tmp/hf_ref" |
            awk '$1 > $2 { bad++ } END { print bad ? "NO: " bad " runs outside" : "inside, every run" }')
        row hyperfine ms 1e6 "$tmp/hf_cb" "$tmp/hf_ref" "< 1x" \
            "own wall_ns vs whole process, n=$N: $inside"
    else
        skip_row hyperfine "hyperfine failed: $(head -n1 "$tmp/hf.err")"
    fi
else
    skip_row hyperfine "hyperfine is not installed (scripts/deps.sh)"
fi

printf '\n%-10s %18s %18s %8s  %-8s %s\n' peer concbench reference ratio \
    target "what [spread concbench / reference]"
printf '%s\n' "${rows[@]}"
echo
echo "medians of $ROUNDS alternated rounds on $(nproc) CPUs" \
    "($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), load" \
    "$(cut -d' ' -f1-3 /proc/loadavg); ratio = concbench / reference" \
    "(http: wrk's requests/s over concbench's)"
