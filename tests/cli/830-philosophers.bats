#!/usr/bin/env bats
# philosophers: N tasks share N forks. ordered and waiter always finish,
# with every meal and never a fork in two hands; naive deadlocks, and the
# run must end as a failed run saying so, under every model, leaving
# nothing behind.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    cd "$BATS_TEST_TMPDIR"
}

# ph MODEL ARGS...: one run of philosophers, which must pass; its record.
ph() {
    local m=$1
    shift
    "$CONCBENCH" -m "$m" -w philosophers --runs 1 --warmup 0 "$@" \
        --json p.json >/dev/null 2>p.err || {
        echo "philosophers under $m $* failed: $(cat p.err)" >&2
        return 1
    }
    jq -c '.results[0].runs[0]' p.json
}

ALL_MODELS="sequential threads fork green eventloop uring"
MANY=("threads -o gil=on" "green -o workers=2" "eventloop -o workers=2"
      "uring -o workers=2")

@test "ordered and waiter serve every meal under every model" {
    local m s r
    for m in $ALL_MODELS "${MANY[@]}"; do
        for s in ordered waiter; do
            # shellcheck disable=SC2086
            r=$(ph $m -t 5 -o strategy=$s -o meals=40 -o eat=20us)
            echo "$m $s: $r" | cut -c1-200
            jq -e '.failed == false and .ops == 200 and .op_count == 200
                   and .meals_per_s > 0 and .fairness_jain > 0.2 and
                   .fairness_jain <= 1' <<<"$r" >/dev/null
        done
    done
}

@test "busy thinking and eating, and two philosophers, work too" {
    local r
    r=$(ph threads -t 2 -o meals=100 -o eat=10us -o think=10us -o busy=on)
    jq -e '.failed == false and .ops == 200' <<<"$r" >/dev/null
    r=$(ph green -t 7 -o meals=30 -o strategy=waiter -o think=50us)
    jq -e '.failed == false and .ops == 210' <<<"$r" >/dev/null
}

@test "sequential never deadlocks, even naively: one philosopher eats at a time" {
    local r
    r=$(ph sequential -t 5 -o strategy=naive -o meals=20 -o pause=1us)
    jq -e '.failed == false and .ops == 100 and .hungry_share < 0.5' \
        <<<"$r" >/dev/null
}

@test "naive deadlocks under every interleaving model: a failed run that says so, fast, nothing left" {
    local args st ms t0
    for args in threads fork green eventloop uring "${MANY[@]}"; do
        t0=$(date +%s%N)
        # shellcheck disable=SC2086
        run --separate-stderr "$CONCBENCH" -m $args -w philosophers -t 5 \
            -o strategy=naive -o pause=5ms -o meals=1000 --runs 1 \
            --warmup 0 --json d.json
        ms=$((($(date +%s%N) - t0) / 1000000))
        echo "$args: exit $status after $ms ms: $stderr"
        [ "$status" -eq 1 ]
        [ "$stderr" = "concbench: run 1 of 1 failed: deadlock: 5 philosophers each hold one fork and wait for the next" ]
        [ "$(jq -r '.results[0].runs[0].why' d.json)" = "deadlock: 5 philosophers each hold one fork and wait for the next" ]
        # Detected within the 1 s without a wake, not a hang.
        [ "$ms" -lt 5000 ]
        # No process left (the cell also fails a run that leaves a child);
        # the table was anonymous shared memory, gone with the processes.
        # This test's own command line: `make test` may run another
        # file's philosophers beside it.
        [ -z "$(pgrep -f "^$CONCBENCH -m .* -w philosophers -t 5 -o strategy=naive -o pause=5ms" 2>/dev/null)" ]
    done
    # Without a pause, cooperative models deadlock at the first yield.
    for args in green eventloop uring; do
        run --separate-stderr "$CONCBENCH" -m $args -w philosophers -t 3 \
            -o strategy=naive --runs 1 --warmup 0
        [ "$status" -eq 1 ]
        [ "$stderr" = "concbench: run 1 of 1 failed: deadlock: 3 philosophers each hold one fork and wait for the next" ]
    done
}

@test "a deadlock in one run does not stop the next runs from being tried" {
    run --separate-stderr "$CONCBENCH" -m threads -w philosophers -t 4 \
        -o strategy=naive -o pause=5ms -o meals=10 --runs 2 --warmup 0 \
        --json r.json
    [ "$status" -eq 1 ]
    [ "$(jq '.results[0].runs | length' r.json)" -eq 2 ]
    [ "$(jq '[.results[0].runs[] | .failed] | all' r.json)" = true ]
}

@test "bad philosophers input exits 2 with one line; python refuses it" {
    run --separate-stderr "$CONCBENCH" -m threads -w philosophers -o strategy=greedy
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: bad value 'greedy' for option 'strategy': expected one of ordered|waiter|naive"* ]]
    run --separate-stderr "$CONCBENCH" -m threads -w philosophers -t 1
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: philosophers needs 2 or more at the table (one has a single fork); give --tasks 2 or more" ]
    run --separate-stderr "$CONCBENCH" -m threads -w philosophers -t 3 -o meals=0
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: value '0' for option 'meals' is out of range"* ]]
    run --separate-stderr "$CONCBENCH" -m python -w philosophers -t 3 --runs 1
    [ "$status" -eq 2 ] || [ "$status" -eq 3 ]
    [[ "$stderr" == *"'philosophers'"* ]]
}

@test "scripts/plot.py draws the queue, event and philosophers charts" {
    /usr/bin/python3 -c 'import matplotlib, numpy' 2>/dev/null ||
        skip "python3-matplotlib is not installed"
    local root
    root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    "$CONCBENCH" sweep -m threads,green -w queue -t 2,4 -o items=5000 \
        --runs 1 --warmup 0 --json q.json >/dev/null 2>&1
    "$CONCBENCH" sweep -m threads,green -w event -t 3,5 -o rounds=10 \
        --runs 1 --warmup 0 --json e.json >/dev/null 2>&1
    # naive deadlocks: the sweep records the failed cell and exits 1.
    run "$CONCBENCH" sweep -m green -w philosophers -t 5 \
        -o strategy=ordered,naive -o meals=10 --runs 1 --warmup 0 \
        --json p.json
    [ "$status" -eq 1 ]
    run "$root/scripts/plot.py" q.json e.json p.json -o out
    [ "$status" -eq 0 ]
    for c in coord-queue coord-event coord-philosophers; do
        [ -s "out/$c.png" ] && [ -s "out/$c.svg" ]
    done
    [ "$(jq -c '."coord-queue"' out/legend.json)" = '["threads","green"]' ]
    [ "$(jq -c '."coord-philosophers"' out/legend.json)" = '["green strategy=ordered"]' ]
    grep -qF 'a deadlocked table (naive) is a failed cell' out/coord-philosophers.svg
}
