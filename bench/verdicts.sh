#!/bin/bash
# The error rates of compare's verdicts, measured on this machine in one
# invocation: PAIRS A/A comparisons (the same binary, the same work on both
# sides) and PAIRS comparisons with a known slowdown (every cell's work
# scaled by 1 + SLOWDOWN%: primes' n, sleep's ms, yield's count), each side
# RUNS runs a cell, the two sides alternating in ROUNDS rounds (ABBA...) as
# bench/regress.sh runs them, so drift over minutes falls on both alike.
#
# Goals (issue "Numbers and verdicts that can be trusted"): at most 1 false
# `slower` in 20 A/A comparisons, and the 10% slowdown detected (compare
# exits 1, the cells `slower`) in at least 18 of 20. Prints both rates and
# exits 1 when a goal is missed.
#
# Environment: CONCBENCH (./concbench), PAIRS (20), SLOWDOWN (10, percent),
# RUNS (10 a side a cell), ROUNDS (2), THRESHOLD (compare's, 5%).
set -uo pipefail

me=bench/verdicts.sh
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=bench/lib.sh
. bench/lib.sh
need_concbench
need_tools jq
bench_init
PAIRS=${PAIRS:-20}
SLOWDOWN=${SLOWDOWN:-10}
RUNS=${RUNS:-10}
ROUNDS=${ROUNDS:-2}
THRESHOLD=${THRESHOLD:-5%}
tmp=$CB_TMP

# The cells: CPU-bound under one and two workers, waiting, and switching,
# each run 20 to 60 ms here. A cell is "model workload tasks option base".
cells=(
    "sequential primes 1 n 2e8"
    "threads primes 2 n 2e8"
    "eventloop sleep 20 ms 20000000ns"
    "green yield 10 count 100000"
)

# scaled VALUE: VALUE times 1 + SLOWDOWN/100, in the same unit.
scaled() {
    local v=$1 unit=
    [[ "$v" == *ns ]] && unit=ns && v=${v%ns}
    awk -v v="$v" -v s="$SLOWDOWN" -v u="$unit" \
        'BEGIN { printf "%.0f%s", v * (1 + s / 100), u }'
}

# side OUT SCALE: one round of every cell (SCALE: 1 or slow) into OUT.
side() {
    local out=$1 scale=$2 runs=$3 i=0 parts=() m w t k v
    for c in "${cells[@]}"; do
        read -r m w t k v <<<"$c"
        [ "$scale" = slow ] && v=$(scaled "$v")
        i=$((i + 1))
        "$CONCBENCH" -m "$m" -w "$w" -t "$t" -o "$k=$v" --runs "$runs" \
            --warmup 1 --json "$out.$i" >/dev/null 2>"$out.err" || {
            rc=$?
            [ "$rc" -eq 1 ] || { cat "$out.err" >&2; exit "$rc"; }
        }
        parts+=("$out.$i")
    done
    "$CONCBENCH" merge "${parts[@]}" --json "$out" 2>/dev/null || exit 2
}

# compare_pair KIND N: one comparison of KIND (aa or slow); prints its exit
# code and how many cells came out slower.
compare_pair() {
    local kind=$1 n=$2 per r base=() new=()
    per=$(((RUNS + ROUNDS - 1) / ROUNDS))
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            side "$tmp/b$r.json" 1 "$per"
            side "$tmp/n$r.json" "$([ "$kind" = slow ] && echo slow || echo 1)" "$per"
        else
            side "$tmp/n$r.json" "$([ "$kind" = slow ] && echo slow || echo 1)" "$per"
            side "$tmp/b$r.json" 1 "$per"
        fi
        base+=("$tmp/b$r.json")
        new+=("$tmp/n$r.json")
    done
    "$CONCBENCH" merge --join "${base[@]}" --json "$tmp/base.json" 2>/dev/null || exit 2
    "$CONCBENCH" merge --join "${new[@]}" --json "$tmp/new.json" 2>/dev/null || exit 2
    # The slowed side's cells carry the base's options again, so compare
    # pairs them: the work changed, the cell's name did not.
    if [ "$kind" = slow ]; then
        jq --slurpfile b "$tmp/base.json" '
            .results |= [to_entries[] | .value.workload_options =
                $b[0].results[.key].workload_options | .value]' \
            "$tmp/new.json" >"$tmp/new2.json" && mv "$tmp/new2.json" "$tmp/new.json"
    fi
    "$CONCBENCH" compare "$tmp/base.json" "$tmp/new.json" --threshold "$THRESHOLD" \
        --format json --accept-noisy >"$tmp/cmp.json" 2>/dev/null
    rc=$?
    printf '%s\t%d\t%d\t%d\t%s\n' "$kind" "$n" "$rc" \
        "$(jq '[.cells[] | select(.verdict == "slower")] | length' "$tmp/cmp.json")" \
        "$(jq -r '[.cells[] | "\(.verdict)"] | join(",")' "$tmp/cmp.json")"
}

start=$(date +%s)
echo "$me: $PAIRS A/A and $PAIRS comparisons with a ${SLOWDOWN}% slowdown," \
    "$RUNS runs a side a cell in $ROUNDS rounds, threshold $THRESHOLD" >&2
: >"$tmp/rows"
# Alternate the two kinds, so drift over the whole run falls on both.
for n in $(seq "$PAIRS"); do
    compare_pair aa "$n" | tee -a "$tmp/rows" >&2
    compare_pair slow "$n" | tee -a "$tmp/rows" >&2
done
false_slower=$(awk -F'\t' '$1 == "aa" && $4 > 0' "$tmp/rows" | wc -l)
detected=$(awk -F'\t' '$1 == "slow" && $3 == 1' "$tmp/rows" | wc -l)
cells_aa=$(awk -F'\t' '$1 == "aa" { s += $4 } END { print s + 0 }' "$tmp/rows")
cells_slow=$(awk -F'\t' '$1 == "slow" { s += $4 } END { print s + 0 }' "$tmp/rows")
ncell=${#cells[@]}
echo
echo "A/A:      $false_slower of $PAIRS comparisons had a false 'slower'" \
    "($cells_aa of $((PAIRS * ncell)) cells)"
echo "slowdown: $detected of $PAIRS comparisons caught the ${SLOWDOWN}% slowdown" \
    "($cells_slow of $((PAIRS * ncell)) cells 'slower')"
echo "took $(($(date +%s) - start)) s"
goal_ok=1
[ "$false_slower" -le $((PAIRS / 20)) ] || goal_ok=0
[ "$detected" -ge $((PAIRS * 9 / 10)) ] || goal_ok=0
[ "$goal_ok" = 1 ] || { echo "$me: a goal was missed" >&2; exit 1; }
