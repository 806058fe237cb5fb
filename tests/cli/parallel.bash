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

# record_disturbed JSON: adds a report's passed runs, and how many of them
# other work disturbed (a run's `disturbed`: over 5% of its time waiting
# runnable for a CPU, stolen by the hypervisor or throttled), to this
# test's ledger, which skip_if_machine_busy reads. Prints nothing.
record_disturbed() {
    jq -r '[.results[].runs[] | select(.failed | not)] |
           "\([.[] | select(.disturbed)] | length) \(length)"' "$1" \
        >>"$BATS_TEST_TMPDIR/disturbed.ledger" 2>/dev/null || true
}

# record_disturbed_stdin: the same for a report on stdin, passed through
# to stdout, for helpers that pipe `--json -` into jq.
record_disturbed_stdin() {
    local f
    f=$(mktemp "$BATS_TEST_TMPDIR/report.XXXXXX")
    cat >"$f"
    record_disturbed "$f"
    cat "$f"
    rm -f "$f"
}

# skip_if_machine_busy WHAT: called when a speedup test has missed its
# target after its retries. Skips (with the numbers) when the machine was
# busy: a third or more of the timed runs the test recorded were disturbed
# (other work was there while they ran, which a later control can miss:
# a CI machine's own background job comes and goes), or two plain sieve
# processes cannot run 1.6x one alone right now. Returns 1 otherwise, so
# the test fails: the model fell short on a machine that was free.
skip_if_machine_busy() {
    local c best=0 d=0 t=0 ledger=$BATS_TEST_TMPDIR/disturbed.ledger
    if [ -s "$ledger" ]; then
        read -r d t < <(awk '{ d += $1; t += $2 } END { print d + 0, t + 0 }' "$ledger")
        echo "disturbed: $d of the $t timed runs this test made" >&3
        if [ "$t" -gt 0 ] && [ $((3 * d)) -ge "$t" ]; then
            skip "machine busy: other work took over 5% of $d of the $t timed runs, so $1 cannot show 1.4x now"
        fi
    fi
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
