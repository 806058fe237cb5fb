#!/usr/bin/env bash
# What a task costs the threads and fork models beyond its own work: sleep
# tasks with ms=0 (10,000 under threads, 1,000 under fork) beside raw loops
# of pthread_create+join and fork+_exit+waitpid, alternated in the same
# invocation, then the memory of one idle thread or child with 10,000 /
# 1,000 of them asleep. Not a test: it prints a table.
#
# Environment: CONCBENCH (default ./concbench), THREADS_TASKS (10000),
# FORK_TASKS (1000), RUNS (5, medians are reported), CC (cc).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
THREADS_TASKS=${THREADS_TASKS:-10000}
FORK_TASKS=${FORK_TASKS:-1000}
RUNS=${RUNS:-5}
me=bench/overhead.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools jq
need_model threads
need_model fork
bench_init
tmp=$CB_TMP
# The run of sleepers in the background, stopped by its PID on any exit.
bg=
bench_cleanup() {
    [ -z "$bg" ] || { kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null; } || true
}
need_raw pthread_loop
need_raw fork_loop

# model_ns MODEL TASKS: one timed run's wall time per task, in ns, after
# a warm-up run, as concbench runs a cell by default: fork's children
# measure their own memory in the cell's first run only (docs/report.md),
# and that reading is concbench's, not the model's.
model_ns() {
    "$CONCBENCH" -m "$1" -w sleep -o ms=0 -t "$2" --runs 1 --warmup 1 \
        --json - 2>/dev/null | jq ".results[0].runs[0].wall_ns / $2 | floor"
}

# The shared libraries concbench maps: preloaded into a raw loop, they give
# it concbench's address space, which is what fork() copies.
libs=$(ldd "$CONCBENCH" | awk '$2 == "=>" && $3 ~ /^\// { printf "%s ", $3 }')

# overhead NAME MODEL TASKS LOOP [PRELOAD]: RUNS alternating measurements of
# the raw loop, the raw loop behind a start gate, and the model; prints a
# row. PRELOAD: libraries to map into the raw loop. Without it, the model
# against the gated loop is also bench/peers.sh's row NAME.
overhead() {
    local name=$1 model=$2 n=$3 loop=$4 preload=${5:-} i
    : >"$tmp/raw" ; : >"$tmp/gate" ; : >"$tmp/model"
    model_ns "$model" "$n" >/dev/null # warm the page cache and the allocator
    for ((i = 0; i < RUNS; i++)); do
        LD_PRELOAD=$preload "$tmp/$loop" "$n" >>"$tmp/raw"
        LD_PRELOAD=$preload "$tmp/$loop" "$n" gate >>"$tmp/gate"
        model_ns "$model" "$n" >>"$tmp/model"
    done
    local raw gate mod
    raw=$(median <"$tmp/raw"); gate=$(median <"$tmp/gate"); mod=$(median <"$tmp/model")
    printf '%-9s %7d %10.1f %10.1f %10.1f %8.2fx %8.2fx   %s / %s / %s\n' \
        "$name" "$n" "$(jq -n "$raw / 1000")" "$(jq -n "$gate / 1000")" \
        "$(jq -n "$mod / 1000")" "$(jq -n "$mod / $raw")" \
        "$(jq -n "$mod / $gate")" "$(spread 1000 <"$tmp/raw")" \
        "$(spread 1000 <"$tmp/gate")" "$(spread 1000 <"$tmp/model")"
    [ -n "$preload" ] || peer_row "$name" us 1e3 "" \
        "per task, $n tasks of sleep ms=0 vs $loop $n gate" \
        "$tmp/model" "$tmp/gate"
}

echo "Per-task overhead: sleep ms=0, median of $RUNS runs (us per task)"
printf '%-9s %7s %10s %10s %10s %9s %9s   %s\n' model tasks raw raw+gate \
    model model/raw /raw+gate "spread raw / raw+gate / model (us)"
overhead threads threads "$THREADS_TASKS" pthread_loop
overhead fork fork "$FORK_TASKS" fork_loop
overhead fork+libs fork "$FORK_TASKS" fork_loop "$libs"
echo "raw: pthread_create+join / fork+_exit+waitpid, all N made, then all"
echo "reaped; raw+gate: the same, each thread or child first waiting on a"
echo "futex until all N exist, as the models' start gate makes them;"
echo "fork+libs: the raw loops with concbench's shared libraries preloaded,"
echo "so that fork() copies an address space like concbench's."
echo

# meminfo KEY...: the sum of those /proc/meminfo fields, in KiB.
meminfo() {
    local keys="$*"
    awk -v keys=" $keys " 'index(keys, " " substr($1, 1, length($1) - 1) " ") { s += $2 } END { print s }' /proc/meminfo
}
kernel_kib() { meminfo KernelStack PageTables Slab; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# sleepers MODEL N: starts N long sleepers, waits until all of them exist,
# sets rss_kib (the process's, or its children's sum), pss_kib (children's
# sum, fork only), kernel_kib_delta and anon_kib_delta, then stops the run
# with SIGINT.
sleepers() {
    local model=$1 n=$2 k0 a0 i have v
    k0=$(kernel_kib); a0=$(meminfo AnonPages)
    "$CONCBENCH" -m "$model" -w sleep -o ms=60s -t "$n" --runs 1 --warmup 0 \
        >/dev/null 2>&1 &
    bg=$!
    for ((i = 0; i < 1000; i++)); do
        if [ "$model" = threads ]; then
            have=$(($(status_kib "$bg" Threads 2>/dev/null || echo 1) - 1))
        else
            have=$(pgrep -c -P "$bg" || true)
        fi
        [ "$have" -ge "$n" ] && break
        sleep 0.01
    done
    [ "$have" -ge "$n" ] ||
        echo "$me: only $have of $n $model tasks started" >&2
    sleep 0.3 # every task past its first step, asleep
    kernel_kib_delta=$(($(kernel_kib) - k0))
    anon_kib_delta=$(($(meminfo AnonPages) - a0))
    if [ "$model" = threads ]; then
        rss_kib=$(status_kib "$bg" VmRSS)
        pss_kib=$rss_kib
    else
        rss_kib=0 pss_kib=0
        for c in $(pgrep -P "$bg"); do
            v=$(status_kib "$c" VmRSS 2>/dev/null) || true
            rss_kib=$((rss_kib + ${v:-0}))
            v=$(awk '$1 == "Pss:" { print $2 }' "/proc/$c/smaps_rollup" \
                2>/dev/null) || true
            pss_kib=$((pss_kib + ${v:-0}))
        done
    fi
    kill -INT "$bg"
    wait "$bg" || true
    bg=
}

# memory NAME MODEL N: a row of per-task memory, against a 1-task run.
memory() {
    local name=$1 model=$2 n=$3 rss1 pss1 k1 a1
    sleepers "$model" 1
    rss1=$rss_kib pss1=$pss_kib k1=$kernel_kib_delta a1=$anon_kib_delta
    sleepers "$model" "$n"
    printf '%-9s %7d %10.1f %10.1f %12.1f %12.1f\n' "$name" "$n" \
        "$(jq -n "($rss_kib - $rss1) / ($n - 1)")" \
        "$(jq -n "($pss_kib - $pss1) / ($n - 1)")" \
        "$(jq -n "($anon_kib_delta - $a1) / ($n - 1)")" \
        "$(jq -n "($kernel_kib_delta - $k1) / ($n - 1)")"
}

echo "Memory per idle task (KiB), all tasks asleep, against a 1-task run"
printf '%-9s %7s %10s %10s %12s %12s\n' model tasks RSS PSS AnonPages kernel
memory threads threads "$THREADS_TASKS"
memory fork fork "$FORK_TASKS"
echo "RSS: VmRSS of the process (threads) or the sum over children (fork,"
echo "shared pages counted in each); PSS: the children's proportional share"
echo "from smaps_rollup; AnonPages and kernel (KernelStack + PageTables +"
echo "Slab): /proc/meminfo deltas, system-wide, so other processes add noise."
