# Shared by the speedup tests: what parallelism this machine gives right
# now, measured with no model involved, so a speedup test can tell "the
# model is slow" (fail) from "the machine is busy" (skip, saying so).

# control_speedup: two separate sequential sieve processes at once against
# one alone, as 2 x alone / slower-of-the-pair; about 2.0 on two free cores
# and 1.0 on one. Prints the ratio with two decimals.
control_speedup() {
    local d=$BATS_TEST_TMPDIR alone a b
    local args=(-m sequential -w primes -o n=2e9 --runs 1 --warmup 0)
    "$CONCBENCH" "${args[@]}" --json "$d/c0.json" >/dev/null 2>&1 || return 1
    "$CONCBENCH" "${args[@]}" --json "$d/c1.json" >/dev/null 2>&1 &
    a=$!
    "$CONCBENCH" "${args[@]}" --json "$d/c2.json" >/dev/null 2>&1 &
    b=$!
    wait "$a" && wait "$b" || return 1
    alone=$(jq '.results[0].runs[0].wall_ns' "$d/c0.json")
    a=$(jq '.results[0].runs[0].wall_ns' "$d/c1.json")
    b=$(jq '.results[0].runs[0].wall_ns' "$d/c2.json")
    awk -v t="$alone" -v a="$a" -v b="$b" \
        'BEGIN { printf "%.2f", 2 * t / (a > b ? a : b) }'
}

# skip_if_machine_busy WHAT: called when a speedup test has missed its
# target after its retries. Skips (with the numbers) when the machine
# itself cannot show 1.6x right now; returns 1 otherwise, so the test
# fails: the model fell short on a machine that could run two sieves at once.
skip_if_machine_busy() {
    local c best=0
    for _ in 1 2; do
        c=$(control_speedup) || return 1
        best=$(awk -v a="$best" -v b="$c" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "control: two sieving processes at once ran ${best}x one alone" >&3
    if awk -v c="$best" 'BEGIN { exit !(c < 1.6) }'; then
        skip "machine busy: two plain sieve processes ran only ${best}x, so $1 cannot show 1.4x now"
    fi
    return 1
}
