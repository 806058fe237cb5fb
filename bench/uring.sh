#!/bin/bash
# The uring model beside eventloop, in one table, measured in one
# invocation, the models alternating in every round: syscalls per request
# on HTTP keep-alive (strace -c -f, the difference between two request
# counts, so start-up and exit drop out), requests per second with 64
# keep-alive tasks against one built-in server (concbench serve), 10,000
# and 100,000 sleeps of 100 ms against the ideal 100 ms (issue 20's target:
# at most 1.10x at 100,000), and memory per task (peak RSS / tasks, and
# the marginal RSS between 10,000 and 100,000 tasks, and the kernel slab
# memory a sleeping task holds, which RSS does not show), and the cost of a
# yield. Self-contained: it does not need bench/lib.sh.
#
# Environment: CONCBENCH (default ./concbench), ROUNDS (default 3: each
# round runs every row once, after one warmup run, the sleeps three times,
# models alternating; the table shows the median and the range over every
# run), REQUESTS (fetches
# per task in the throughput rows, default 500).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-500}
TARGET=1.10
me=bench/uring.sh

for tool in "$CONCBENCH" jq strace awk; do
    if ! command -v "$tool" >/dev/null; then
        echo "$me: '$tool' not found (scripts/deps.sh installs it)" >&2
        exit 3
    fi
done
CONCBENCH=$(command -v "$CONCBENCH")
for m in uring eventloop; do
    if "$CONCBENCH" list | grep -q "^  $m .*\[unavailable"; then
        echo "$me: $m is unavailable: $("$CONCBENCH" list | sed -n "s/^  $m .*\[unavailable: \(.*\)\]$/\1/p")" >&2
        exit 3
    fi
done
if "$CONCBENCH" list | grep -q '^  http .*\[unavailable'; then
    echo "$me: the http workload is not in this build" >&2
    exit 3
fi

# The rows of every table: label and model options.
MODELS=("eventloop|-m eventloop" "uring|-m uring"
        "uring sqpoll=on|-m uring -o sqpoll=on")
# The sleeps: uring's shared timeouts (slack, default 50 us) beside a
# timeout request per sleep (slack=0).
SLEEPERS=("eventloop|-m eventloop" "uring|-m uring"
          "uring slack=0|-m uring -o slack=0")

tmp=$(mktemp -d)
serve_pid=
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# One server for every HTTP row: no delay, 1 KiB bodies, keep-alive.
"$CONCBENCH" serve --bind 127.0.0.1 --port 0 -o delay=0 -o size=1KiB \
    -o keepalive=on >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's|^listening on http://127\.0\.0\.1:||p' "$tmp/serve.out")
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "$me: concbench serve did not start: $(cat "$tmp/serve.err")" >&2
    exit 1
fi
url=http://127.0.0.1:$port/

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# median FILE: the median of the numbers in FILE, one a line.
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# range FILE FMT: "min-max" of the numbers in FILE.
range() { sort -g "$1" | awk -v f="$2" 'NR == 1 { lo = $1 } { hi = $1 } END { printf f "-" f, lo, hi }'; }

# cell KEY ARGS...: CELL_RUNS (1) timed runs after one warmup; appends
# each run's JSON to $tmp/KEY.runs.
cell() {
    local key=$1
    shift
    # shellcheck disable=SC2086
    "$CONCBENCH" --runs "${CELL_RUNS:-1}" --warmup 1 --json "$tmp/cell.json" \
        "$@" >/dev/null 2>"$tmp/cell.err" || {
        cat "$tmp/cell.err" >&2
        echo "$me: concbench $* failed" >&2
        exit 1
    }
    jq -c '.results[0].runs[]' "$tmp/cell.json" >>"$tmp/$key.runs"
}

# syscalls KEY N ARGS...: how many syscalls a run of 64 keep-alive tasks
# making N fetches each takes, every thread counted (strace -c -f); the
# total, and the model's own wait calls (io_uring_enter, epoll_*), to
# $tmp/KEY.N.{all,wait}.
syscalls() {
    local key=$1 n=$2
    shift 2
    strace -c -f -o "$tmp/strace.txt" "$CONCBENCH" "$@" -w http -o url="$url" \
        -o requests="$n" -o keepalive=on -t 64 --runs 1 --warmup 0 \
        >/dev/null 2>&1 || {
        echo "$me: concbench $* under strace failed" >&2
        exit 1
    }
    # Columns: % time, seconds, usecs/call, calls, [errors], syscall.
    awk '$NF == "total" { print $4 }' "$tmp/strace.txt" >>"$tmp/$key.$n.all"
    awk '$NF ~ /^(io_uring_enter|epoll_wait|epoll_pwait|epoll_pwait2|epoll_ctl)$/ {
             s += $4 } END { print s + 0 }' "$tmp/strace.txt" \
        >>"$tmp/$key.$n.wait"
}

# slab KEY ARGS...: the kernel memory (/proc/meminfo's Slab, system-wide)
# that 100,000 tasks sleeping 3 s hold, per task, which RSS does not show:
# uring's requests (an io_kiocb and a timeout each) live in the kernel.
slab() {
    local key=$1 a b pid
    shift
    a=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
    "$CONCBENCH" "$@" -w sleep -o ms=3s -t 100000 --runs 1 --warmup 0 \
        >/dev/null 2>&1 &
    pid=$!
    sleep 2
    b=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
    wait "$pid" || { echo "$me: concbench $* (slab) failed" >&2; exit 1; }
    echo $(( (b - a) * 1024 / 100000 )) >>"$tmp/slab.$key"
}

echo "$me: $ROUNDS rounds; machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$ROUNDS"); do
    echo "  round $round of $ROUNDS" >&2
    for row in "${MODELS[@]}"; do
        key=${row%%|*}
        key=${key// /_}
        # shellcheck disable=SC2206
        args=(${row#*|})
        cell "rps.$key" "${args[@]}" -w http -o url="$url" \
            -o requests="$REQUESTS" -o keepalive=on -t 64
        syscalls "$key" 50 "${args[@]}"
        syscalls "$key" 250 "${args[@]}"
    done
    for row in "${SLEEPERS[@]}"; do
        key=${row%%|*}
        key=${key// /_}
        # shellcheck disable=SC2206
        args=(${row#*|})
        # Three runs a round: the first after one warmup is the slowest
        # more often than not (100,000 uring sleeps: 1.15x where the next
        # are 1.085x, with no more page faults), and every one counts.
        CELL_RUNS=3 cell "s10k.$key" "${args[@]}" -w sleep -o ms=100ms -t 10000
        CELL_RUNS=3 cell "s100k.$key" "${args[@]}" -w sleep -o ms=100ms \
            -t 100000
        slab "$key" "${args[@]}"
        # The yields of eventloop and uring (slack changes no yield).
        [ "$key" = uring_slack=0 ] && continue
        cell "y1.$key" "${args[@]}" -w yield -o count=1e6 -t 1
        cell "y100.$key" "${args[@]}" -w yield -o count=1e4 -t 100
    done
done

# per ROWKEY JQ: the jq value of every round's run, one a line, to a file.
per() { jq -r "$2" "$tmp/$1.runs" >"$tmp/v"; }

echo
echo "HTTP keep-alive, 64 tasks, $REQUESTS fetches each, against concbench serve (delay 0, 1 KiB); median (range) of $ROUNDS"
printf '%-18s %22s %26s %22s\n' "" "requests/s" "syscalls/request (wait)" "CPU us/request"
for row in "${MODELS[@]}"; do
    label=${row%%|*}
    key=${label// /_}
    per "rps.$key" '.ops / (.wall_ns / 1e9)'
    rps=$(calc %.0f "$(median "$tmp/v")")
    rps_r=$(range "$tmp/v" %.0f)
    per "rps.$key" '(.user_ns + .sys_ns) / 1000 / .ops'
    cpu=$(calc %.2f "$(median "$tmp/v")")
    paste "$tmp/$key.50.all" "$tmp/$key.250.all" |
        awk '{ printf "%.3f\n", ($2 - $1) / (64 * 200) }' >"$tmp/v"
    sc=$(median "$tmp/v")
    paste "$tmp/$key.50.wait" "$tmp/$key.250.wait" |
        awk '{ printf "%.3f\n", ($2 - $1) / (64 * 200) }' >"$tmp/v"
    wait_sc=$(median "$tmp/v")
    printf '%-18s %10s (%s) %14s (%s) %22s\n' "$label" "$rps" "$rps_r" "$sc" \
        "$wait_sc" "$cpu"
done

echo
echo "Concurrent sleeps of 100 ms: wall / 100 ms (the ideal), lateness, memory; median (range) of $((3 * ROUNDS)) runs, 3 a round after a warmup"
printf '%-14s %-7s %22s %12s %12s %10s %12s\n' "" "tasks" "x ideal" "late p50 ms" \
    "late p99 ms" "RSS MiB" "RSS B/task"
for label in eventloop uring uring_slack=0; do
    for t in 10k 100k; do
        n=${t%k}000
        per "s$t.$label" '.wall_ns / 1e8'
        x=$(calc %.3f "$(median "$tmp/v")")
        xr=$(range "$tmp/v" %.3f)
        per "s$t.$label" '.lateness_ns.p50 / 1e6'
        p50=$(calc %.2f "$(median "$tmp/v")")
        per "s$t.$label" '.lateness_ns.p99 / 1e6'
        p99=$(calc %.2f "$(median "$tmp/v")")
        per "s$t.$label" '.max_rss_kib'
        rss=$(median "$tmp/v")
        printf '%-14s %-7s %8s (%s) %12s %12s %10.1f %12.0f\n' "$label" "$t" \
            "$x" "$xr" "$p50" "$p99" "$(calc %f "$rss / 1024")" \
            "$(calc %f "$rss * 1024 / $n")"
        echo "$rss" >"$tmp/rss.$t.$label"
        per "s$t.$label" '(.user_ns + .sys_ns) / 1e6'
        median "$tmp/v" >"$tmp/cpu.$t.$label"
        per "s$t.$label" '(.disturbed // []) | length'
        awk '$1 > 0' "$tmp/v" | wc -l >"$tmp/dist.$t.$label"
    done
done
for label in eventloop uring uring_slack=0; do
    marg=$(calc %.0f "($(cat "$tmp/rss.100k.$label") - $(cat "$tmp/rss.10k.$label")) * 1024 / 90000")
    printf '  %-14s marginal RSS per sleeping task (100k - 10k): %s bytes; CPU per run: %s ms (10k), %s ms (100k); runs disturbed by other work: %s of %s (100k)\n' \
        "$label" "$marg" "$(cat "$tmp/cpu.10k.$label")" \
        "$(cat "$tmp/cpu.100k.$label")" "$(cat "$tmp/dist.100k.$label")" "$((3 * ROUNDS))"
    printf '  %-14s kernel slab per sleeping task (not in RSS; 100k tasks, system-wide, so noisy): %s bytes (%s)\n' \
        "$label" "$(calc %.0f "$(median "$tmp/slab.$label")")" \
        "$(range "$tmp/slab.$label" %.0f)"
done

echo
echo "A yield (wall / steps): a pass over the ready tasks, then a look at completions; median (range) of $ROUNDS"
for label in eventloop uring; do
    per "y1.$label" '.wall_ns / 1e6'
    y1=$(calc %.1f "$(median "$tmp/v")")
    y1r=$(range "$tmp/v" %.1f)
    per "y100.$label" '.wall_ns / 1e6'
    printf '  %-10s 1 task: %8s ns/step (%s)   100 tasks: %8s ns/step (%s)\n' \
        "$label" "$y1" "$y1r" "$(calc %.1f "$(median "$tmp/v")")" \
        "$(range "$tmp/v" %.1f)"
done

per "s100k.uring" '.wall_ns / 1e8'
verdict=$(awk -v x="$(median "$tmp/v")" -v t="$TARGET" 'BEGIN { print (x <= t) ? "met" : "missed" }')
echo "target: 100,000 sleeps within ${TARGET}x of 100 ms under uring (the median run): $verdict"
