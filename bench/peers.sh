#!/bin/bash
# concbench beside its references, in one table: the same work done by a
# tool or a raw loop that has nothing else to do, so every ratio says what
# concbench's harness and models cost on top.
#
#   primes     sequential primes at n=N     vs primesieve N -t1 (its --time)
#   http       eventloop, 64 keep-alive tasks vs wrk -t1 -c64, requests/s,
#              both against `concbench serve` (delay 0) on loopback
#   threads    sleep ms=0, 10,000 tasks     vs pthread_create+join (bench/raw)
#   fork       sleep ms=0, 1,000 tasks      vs fork+_exit+waitpid (bench/raw)
#   green      a yield (one switch)         vs a jump_fcontext ping-pong
#   green-ring the same                     vs jump_fcontext round a ring of
#                                              100 stacks (green's 100 tasks)
#   green-step a yield of 2 tasks           vs the ping-pong with a step call
#                                              a switch (bench/raw/fcontext_step:
#                                              no scheduler): green's own part
#   eventloop  10,000 sleeps of 100 ms      vs a raw libuv timer loop
#   hyperfine  concbench's own wall time    vs hyperfine's whole-process time
#              of the same command (own must sit inside it, run by run)
#
# Every row but hyperfine's is what the suite of that peer measured
# (bench/primes.sh, http.sh, overhead.sh for threads and fork, green.sh,
# eventloop.sh), never measured a second time: each suite appends its
# samples to the file PEERS_ROWS (bench/lib.sh's peer_row). `make bench`
# runs the suites first with PEERS_ROWS set, so that this script only reads
# them; a row missing there is measured by running its suite here (its
# table goes to stderr), and a suite that cannot run (exit 3) leaves its
# row skipped, with the reason. Each suite alternates its two sides (the
# eventloop suite runs them one after the other); the table shows medians
# and the spread. The raw loops are those of bench/raw/, compiled by
# bench/lib.sh. hyperfine's row is measured here, ROUNDS runs.
#
# Environment: CONCBENCH (default ./concbench), PEERS_ROWS (default: a
# temporary file, filled here), ROUNDS (5) and N (1e9) for hyperfine's row,
# and the suites' own (N is primes.sh's too).
set -uo pipefail

me=bench/peers.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
ROUNDS=${ROUNDS:-5}
N=${N:-1e9}
# shellcheck source=bench/lib.sh
. bench/lib.sh

need_concbench
need_tools jq
export CONCBENCH
bench_init
tmp=$CB_TMP
export PEERS_ROWS=${PEERS_ROWS:-$tmp/rows.tsv}
touch "$PEERS_ROWS" || exit 2
# The suite running in the background, stopped by its PID on any exit.
suite_pid=
bench_cleanup() {
    [ -z "$suite_pid" ] || { kill "$suite_pid" 2>/dev/null; wait "$suite_pid" 2>/dev/null; } || true
}

rows=()
# row NAME UNIT SCALE TARGET NOTE CB_FILE REF_FILE: one line of the table;
# the ratio is concbench / reference (for requests/s, reference / concbench,
# so that above 1 always means concbench is slower). The suites alternate
# their two sides, so sample i of each was measured next to the other:
# the ratio is the median of those paired ratios, and its quartiles are its
# spread (a drift of the machine's speed moves both sides of a pair, not
# the ratio). Unpaired samples (counts that differ) fall back to the ratio
# of the medians, and say so.
row() {
    local name=$1 unit=$2 scale=$3 cb ref ratio q
    if ! cb=$(median <"$6") || ! ref=$(median <"$7"); then
        rows+=("$(printf '%-10s %s' "$name" "no measurement: $5")")
        return
    fi
    if [ "$(wc -l <"$6")" -eq "$(wc -l <"$7")" ]; then
        paste "$6" "$7" | awk -v inv="$([ "$unit" = req/s ] && echo 1)"             '{ print inv ? $2 / $1 : $1 / $2 }' >"$tmp/ratios"
        ratio=$(median <"$tmp/ratios")
        q=$(jq -s -r 'sort | length as $n |
            "paired, quartiles \(.[($n - 1) / 4 | floor] * 100 | round / 100)..\(.[($n - 1) * 3 / 4 | ceil] * 100 | round / 100)"'             "$tmp/ratios")
    elif [ "$unit" = req/s ]; then
        ratio=$(jq -n "$ref / $cb")
        q="unpaired: ratio of medians"
    else
        ratio=$(jq -n "$cb / $ref")
        q="unpaired: ratio of medians"
    fi
    rows+=("$(printf '%-10s %12.4g %-5s %12.4g %-5s %7.2fx  %-8s %s' "$name" \
        "$(jq -n "$cb / $scale")" "$unit" "$(jq -n "$ref / $scale")" "$unit" \
        "$ratio" "$4" "$5 [$q; $(spread "$scale" <"$6") / $(spread "$scale" <"$7")]")")
}
skip_row() { rows+=("$(printf '%-10s skipped: %s' "$1" "$2")"); }

# suite NAME: runs bench/NAME.sh (its output on stderr), which appends its
# rows to PEERS_ROWS, or the reason it cannot run (exit 3); another
# failure sets why_NAME, for the rows it did not write (one that missed
# its target, exit 1, wrote them first).
suite() {
    local rc=0
    echo "$me: no row of bench/$1.sh in $PEERS_ROWS: running it" >&2
    bench/"$1".sh >&2 &
    suite_pid=$!
    wait "$suite_pid" || rc=$?
    suite_pid=
    case $rc in
    0 | 3) ;;
    *) printf -v "why_$1" 'bench/%s.sh exited %s (see above)' "$1" "$rc" ;;
    esac
}

# peer NAME SUITE: NAME's row from PEERS_ROWS, measured by SUITE (run here,
# once, if the row is missing).
declare -A ran=()
peer() {
    local name=$1 s=$2 line why
    line=$(awk -F'\t' -v n="$name" '$1 == n' "$PEERS_ROWS" | tail -n1)
    if [ -z "$line" ] && [ -z "${ran[$s]:-}" ]; then
        ran[$s]=1
        suite "$s"
        line=$(awk -F'\t' -v n="$name" '$1 == n' "$PEERS_ROWS" | tail -n1)
    fi
    if [ -z "$line" ]; then
        why=why_$s
        why=${!why:-$(awk -F'\t' -v s="bench/$s.sh" \
            '$1 == "skipped" && $2 == s { w = $3 } END { print w }' "$PEERS_ROWS")}
        skip_row "$name" "${why:-bench/$s.sh measured no row}"
        return
    fi
    # Not IFS=tab: read would merge the empty fields (a row with no target).
    IFS=$'\x1f' read -r _ unit scale target note cb ref _ <<<"${line//$'\t'/$'\x1f'}"
    tr ' ' '\n' <<<"$cb" >"$tmp/cb"
    tr ' ' '\n' <<<"$ref" >"$tmp/ref"
    row "$name" "$unit" "$scale" "$target" "$note" "$tmp/cb" "$tmp/ref"
}

echo "$me: the rows of bench/primes.sh, http.sh, overhead.sh, green.sh and" \
    "eventloop.sh from $PEERS_ROWS, and hyperfine's, $ROUNDS runs" >&2
peer primes primes
peer http http
peer threads overhead
peer fork overhead
peer green green
peer green-ring green
peer green-step green
peer eventloop eventloop

# --------------------------------------------------------------- hyperfine
if have_tools hyperfine; then
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
        row hyperfine ms 1e6 "< 1x" \
            "own wall_ns vs whole process, n=$N: $inside" \
            "$tmp/hf_cb" "$tmp/hf_ref"
    else
        skip_row hyperfine "hyperfine failed: $(head -n1 "$tmp/hf.err")"
    fi
else
    skip_row hyperfine "$CB_WHY"
fi

printf '\n%-10s %18s %18s %8s  %-8s %s\n' peer concbench reference ratio \
    target "what [ratio's spread; spread concbench / reference]"
printf '%s\n' "${rows[@]}"
echo
echo "medians of each suite's alternated runs (ratio: median of the paired ratios) on $(nproc) CPUs" \
    "($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), load" \
    "$(cut -d' ' -f1-3 /proc/loadavg); ratio = concbench / reference" \
    "(http: wrk's requests/s over concbench's)"
