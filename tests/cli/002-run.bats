#!/usr/bin/env bats
# Running one cell: the human summary, checked results, exit 0 and 1,
# signals.

bats_require_minimum_version 1.5.0

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

@test "primes under sequential prints the right count and timing" {
    run --separate-stderr "$CONCBENCH" --model sequential --workload primes -o n=1e7 --runs 2
    [ "$status" -eq 0 ]
    [[ "$output" == "primes under sequential, 1 task, n=1e7"* ]]
    [[ "$output" == *"Result:              664579 ✓"* ]]
    [[ "$output" == *"Time (mean ± σ):"* ]]
    [[ "$output" == *"Range (min … max):"*"2 runs"* ]]
    [[ "$output" == *"Task (p50 … p99):"* ]]
}

@test "primes splits the range over tasks and still counts right" {
    for t in 1 3 7 64; do
        run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=1234567 -t "$t" --runs 1 --warmup 0 --json -
        [ "$status" -eq 0 ]
        [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 95360 ]
    done
}

@test "an n outside the table is checked by an independent count" {
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=4294967296 -t 4 --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 203280221 ]
}

@test "sleep tasks under sequential run one after another" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -t 4 -o ms=20ms --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    wall=$(jq '.results[0].runs[0].wall_ns' <<<"$output")
    [ "$wall" -ge 80000000 ]                        # never early
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 4 ]
    [ "$(jq '.results[0].runs[0].op_count' <<<"$output")" -eq 4 ]
    late=$(jq '.results[0].runs[0].lateness_ns.max' <<<"$output")
    [ "$late" -ge 0 ]
}

@test "sleep count and jitter keep a periodic schedule" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=5ms -o count=6 -o jitter=2ms --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 6 ]
    [ "$(jq '.results[0].runs[0].wall_ns' <<<"$output")" -ge 30000000 ]
    [ "$(jq '.results[0].workload_options.jitter' <<<"$output")" -eq 2000000 ]
}

@test "SIGINT stops a run with exit 130 and no results file" {
    "$CONCBENCH" -m sequential -w sleep -o ms=30s --json "$BATS_TEST_TMPDIR/r.json" 2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    sleep 0.5
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 130 ]
    [ "$(cat "$BATS_TEST_TMPDIR/err")" = "concbench: interrupted by SIGINT" ]
    [ ! -e "$BATS_TEST_TMPDIR/r.json" ]
    [ -z "$(ls "$BATS_TEST_TMPDIR" | grep tmp || true)" ]
}

@test "SIGTERM stops a run with exit 143" {
    "$CONCBENCH" -m sequential -w primes -o n=1e12 --runs 1 --warmup 0 2>/dev/null &
    pid=$!
    sleep 1
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 143 ]
}
