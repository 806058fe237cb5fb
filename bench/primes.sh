#!/bin/bash
# primes against primesieve: `concbench --model sequential --workload primes`
# at n=1e9 beside `primesieve 1e9 -t1`, interleaved in rounds so drift and
# other load spread over both, then the medians and their ratio (issue 3's
# target: within 3x of primesieve).
#
# Environment: CONCBENCH (default ./concbench), N (1e9), ROUNDS (3), RUNS (5
# per round for each tool), SEGMENT (unset: primes' default, the L1d cache).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
N=${N:-1e9}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-5}
TARGET=3
me=bench/primes.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need_concbench
need_tools primesieve jq

seg_opt=()
if [ -n "${SEGMENT:-}" ]; then
    seg_opt=(-o "segment=$SEGMENT")
    seg_desc="$SEGMENT (SEGMENT)"
else
    # primes picks the L1d cache of cpu0, or more for n over about 1e9
    # (see `concbench list`); the size it used is read back from the run.
    seg_desc="default; L1d unreadable"
    for d in /sys/devices/system/cpu/cpu0/cache/index*; do
        if [ "$(cat "$d/level" 2>/dev/null)" = 1 ] &&
            [ "$(cat "$d/type" 2>/dev/null)" = Data ]; then
            seg_desc="default; L1d $(cat "$d/size")"
        fi
    done
fi

bench_init
tmp=$CB_TMP
: >"$tmp/cb_wall"
: >"$tmp/cb_cpu"
: >"$tmp/ps_wall"
: >"$tmp/ps_cpu"
expected=

echo "primes n=$N: concbench (sequential, 1 task, segment: $seg_desc)" \
    "vs primesieve -t1; $ROUNDS rounds of $RUNS runs each, interleaved" >&2
for round in $(seq "$ROUNDS"); do
    # concbench: one invocation of RUNS timed runs after its warm-up.
    "$CONCBENCH" --model sequential --workload primes -o "n=$N" \
        "${seg_opt[@]}" --runs "$RUNS" --json - 2>"$tmp/cb_err" \
        >"$tmp/cb.json" || {
        cat "$tmp/cb_err" >&2
        echo "$me: concbench failed in round $round" >&2
        exit 1
    }
    jq -r '.results[0].runs[] | select(.result_ok) | .wall_ns' \
        "$tmp/cb.json" >>"$tmp/cb_wall"
    jq -r '.results[0].runs[] | select(.result_ok)
           | .user_ns + .sys_ns' "$tmp/cb.json" >>"$tmp/cb_cpu"
    result=$(jq -r '.results[0].runs[0].result' "$tmp/cb.json")
    # One task sieves bytes 0 .. n / 30 (30 numbers a byte) in ops steps of
    # one segment each, all full but the last.
    seg_used=$(jq -r '.results[0]
        | ((.workload_options.n / 30 | floor) + 1) as $bytes
        | .runs[0].ops as $ops | ($bytes / $ops / 1024 | ceil) as $kib
        | "\($ops) segments a run, about \($kib) KiB each"' "$tmp/cb.json")
    # primesieve: RUNS runs, each its own process; "Seconds:" is the sieve's
    # wall time, bash's time the process's CPU time.
    for _ in $(seq "$RUNS"); do
        out=$(
            TIMEFORMAT='cpu %U %S'
            { time primesieve "$N" -t1 --time -q; } 2>&1
        )
        secs=$(sed -n 's/^Seconds: *//p' <<<"$out")
        count=$(grep -E '^[0-9]+$' <<<"$out" | head -n1)
        if [ -z "$secs" ] || [ "$count" != "$result" ]; then
            echo "$me: primesieve says '$count', concbench '$result':" >&2
            echo "$out" >&2
            exit 1
        fi
        expected=$count
        awk -v s="$secs" 'BEGIN { printf "%.0f\n", s * 1e9 }' >>"$tmp/ps_wall"
        awk '/^cpu / { printf "%.0f\n", ($2 + $3) * 1e9 }' <<<"$out" \
            >>"$tmp/ps_cpu"
    done
    echo "  round $round/$ROUNDS done" >&2
done

# least FILE: the smallest number in FILE, the run least disturbed by load.
least() {
    sort -g "$1" | head -n1
}

if [ "$(wc -l <"$tmp/cb_wall")" -eq 0 ]; then
    echo "$me: no concbench run passed" >&2
    exit 1
fi
cb_wall=$(median <"$tmp/cb_wall")
ps_wall=$(median <"$tmp/ps_wall")
cb_cpu=$(median <"$tmp/cb_cpu")
ps_cpu=$(median <"$tmp/ps_cpu")
peer_row primes ms 1e6 "<= ${TARGET}x" "n=$N, 1 task vs primesieve -t1" \
    "$tmp/cb_wall" "$tmp/ps_wall"

awk -v cw="$cb_wall" -v pw="$ps_wall" -v cc="$cb_cpu" -v pc="$ps_cpu" \
    -v n="$N" -v primes="$expected" -v seg="$seg_desc; $seg_used" \
    -v target="$TARGET" \
    -v cbs="$(spread 1e6 <"$tmp/cb_wall") ms, $(wc -l <"$tmp/cb_wall") runs" \
    -v pss="$(spread 1e6 <"$tmp/ps_wall") ms, $(wc -l <"$tmp/ps_wall") runs" \
    -v cmin="$(least "$tmp/cb_wall")" -v pmin="$(least "$tmp/ps_wall")" '
BEGIN {
    ratio = cw / pw
    printf "primes up to %s: %s (both agree)\n", n, primes
    printf "segment:              %s\n", seg
    printf "concbench median:     %8.1f ms wall  %8.1f ms cpu  (%s)\n",
        cw / 1e6, cc / 1e6, cbs
    printf "primesieve median:    %8.1f ms wall  %8.1f ms cpu  (%s)\n",
        pw / 1e6, pc / 1e6, pss
    printf "ratio (wall medians): %.2fx, target <= %dx: %s\n", ratio, target,
        ratio <= target ? "met" : "NOT met"
    printf "ratio (wall minimums): %.2fx (the runs least disturbed by other " \
        "load)\n", cmin / pmin
    printf "ratio (cpu medians):  %.2fx (process cpu for primesieve, so its " \
        "start-up counts against it)\n", cc / pc
}'
