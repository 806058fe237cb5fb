#!/usr/bin/env bats
# scripts/plot.py's coordination charts from a real counter sweep: the
# contention picture (updates per second against tasks, a line per model
# and lock) and the race picture (updates lost with lock=none, yield_inside
# off and on), whose legends name what was measured.

bats_require_minimum_version 1.5.0

# shellcheck source=bench/lib.sh
source "$BATS_TEST_DIRNAME/../../bench/lib.sh"

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    PLOT=$ROOT/scripts/plot.py
    T=$BATS_TEST_TMPDIR
    /usr/bin/python3 -c 'import matplotlib, numpy' 2>/dev/null ||
        skip "python3-matplotlib is not installed"
    have_workload counter || skip "counter is not in this build"
}

@test "a counter sweep draws the contention and race charts, each model and lock in the legend" {
    run -0 "$CONCBENCH" sweep -m threads,green -w counter -t 1,2 \
        -o lock=mutex,atomic -o increments=2000 --runs 1 --warmup 0 --json "$T/c.json"
    run -0 "$CONCBENCH" sweep -m threads,green -w counter -t 2 -o lock=none \
        -o yield_inside=on,off -o increments=2000 --runs 1 --warmup 0 --json "$T/r.json"
    run -0 "$PLOT" "$T/c.json" "$T/r.json" -o "$T/out"
    [ -s "$T/out/contention.png" ] && [ -s "$T/out/race.png" ]
    run -0 jq -r '.contention[]' "$T/out/legend.json"
    echo "$output"
    for label in "threads lock=mutex" "threads lock=atomic" \
                 "green lock=mutex" "green lock=atomic"; do
        [[ "$output" == *"$label"* ]]
    done
    run -0 jq -r '.race[]' "$T/out/legend.json"
    [[ "$output" == *threads* && "$output" == *green* ]]
    # green loses updates when a task yields between its read and write:
    # the race the chart shows is in the report it was drawn from.
    run -0 jq '[.results[] | select(.model == "green" and .workload_options.yield_inside == "on") | .runs[0].lost_updates] | .[0] > 0' "$T/r.json"
    [ "$output" = true ]
}

@test "a report without counter cells draws neither" {
    run -0 "$CONCBENCH" sweep -m threads -w sleep -t 1,2 -o ms=1ms --runs 1 --warmup 0 --json "$T/s.json"
    run -0 "$PLOT" "$T/s.json" -o "$T/out"
    [ ! -e "$T/out/contention.png" ] && [ ! -e "$T/out/race.png" ]
}
