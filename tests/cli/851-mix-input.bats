#!/usr/bin/env bats
# Mixed cells without timing: each part runs with its own options and is
# checked on its own, the per-kind numbers reach the report, mixes sweep
# beside plain workloads, and bad mixes exit 2 with one line. The timed
# pictures are in 850-mix.bats.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    cd "$BATS_TEST_TMPDIR"
}

@test "a mix runs each part with its own options, checks both and reports each kind" {
    "$CONCBENCH" run -m threads -w sleep:3+primes:1 -t 4 -o ms=5 \
        -o sleep.count=2 -o primes.n=1e7 -r 1 --warmup 0 --json m.json
    jq -e '.results[0] | .workload == "sleep:3+primes:1" and .tasks == 4 and
        .workload_options == {"sleep.ms_ns": 5000000, "sleep.count": 2,
                              "primes.n": 10000000}' m.json
    jq -e '.results[0].runs[0] | .failed == false and
        .result == 664579 + 6 and .op_count == 6 and
        .["sleep.tasks"] == 3 and .["primes.tasks"] == 1 and
        .["sleep.lateness_ns.p50"] == .lateness_ns.p50 and
        .["sleep.lateness_ns.p99"] == .lateness_ns.p99 and
        .["sleep.task_ns.p50"] >= 10000000 and
        .["primes.task_ns.p99"] > 0 and .["primes.ops_per_s"] > 0 and
        .["primes.span_ns"] > 0' m.json
}

@test "one part without a count runs the rest of --tasks, under every model" {
    local m
    for m in sequential threads fork green eventloop; do
        "$CONCBENCH" run -m "$m" -w primes:2+sleep -t 5 -o ms=1 \
            -o n=1e6 -r 1 --warmup 0 --json m.json 2>/dev/null || {
            [ $? -eq 3 ] && continue # not in this build
            false
        }
        jq -e '.results[0].runs[0] | .failed == false and
            .["sleep.tasks"] == 3 and .["primes.tasks"] == 2 and
            .result == 78498 + 3' m.json
    done
}

@test "a sweep runs mixes beside plain workloads, with unprefixed options on both" {
    "$CONCBENCH" sweep -m threads -w sleep,sleep:2+primes:1 -t 3 \
        -o ms=2 -o n=1e6 -r 1 --warmup 0 --json s.json >/dev/null 2>s.err
    jq -e '[.results[] | {workload, tasks}] ==
        [{"workload": "sleep", "tasks": 3},
         {"workload": "sleep:2+primes:1", "tasks": 3}]' s.json
    jq -e '[.results[].runs[0].lateness_ns.p50 > 0] | all' s.json
    jq -e '[.results[] | .workload_options | .ms_ns // .["sleep.ms_ns"]] ==
        [2000000, 2000000]' s.json
    # The mix records its options under their full names, whichever was
    # given: "ms" and "sleep.ms" are one cell, which compare finds in both.
    jq -e '.results[1].workload_options == {"sleep.ms_ns": 2000000,
                                           "primes.n": 1000000}' s.json
    "$CONCBENCH" run -m threads -w sleep:2+primes:1 -t 3 -o sleep.ms=2 \
        -o primes.n=1e6 -r 1 --warmup 0 --json full.json 2>/dev/null
    run --separate-stderr "$CONCBENCH" compare s.json full.json
    echo "$output $stderr"
    [[ "$stderr" != *"no cell"* ]]
    [[ "$output" == *"sleep:2+primes:1"* ]]
}

@test "bad mixes exit 2 with one line" {
    local args out
    while IFS='|' read -r args out; do
        # shellcheck disable=SC2086 # the arguments, split
        run -2 "$CONCBENCH" run -m threads $args -r 1 --warmup 0
        echo "$args -> $output"
        [ "${#lines[@]}" -eq 1 ]
        [ "$output" = "concbench: $out" ]
    done <<'EOF'
-w sleep+foo -t 2|unknown workload 'foo' in mix 'sleep+foo' (see 'concbench list')
-w sleep+prime:1 -t 2|unknown workload 'prime' in mix 'sleep+prime:1'; did you mean 'primes'?
-w sleep:63+primes:0 -t 63|mix 'sleep:63+primes:0' gives 'primes' no tasks: each part runs at least one (leave the part out to run none)
-w sleep:63+primes:1 -t 10|mix 'sleep:63+primes:1' runs 64 tasks, not the 10 of --tasks; give --tasks 64, or leave one part's count out to give it the rest
-w sleep+primes:1 -t 1|mix 'sleep+primes:1' with 1 task leaves no task to 'sleep' (the others take 1): raise --tasks
-w sleep+primes -t 2|mix 'sleep+primes' gives neither 'sleep' nor 'primes' a task count: every part but one needs one, as in 'sleep:63+primes:1'
-w sleep:1+sleep:2 -t 3|workload 'sleep' is twice in mix 'sleep:1+sleep:2': a mix runs each workload once, with its own count and options
-w sleep:2+primes:x -t 3|bad task count 'x' of 'primes' in mix 'sleep:2+primes:x': expected a whole number from 1 to 1e6
-w sleep++primes -t 3|mix 'sleep++primes' has an empty part: join workloads with one '+', as in 'sleep:63+primes:1'
-w sleep:2+primes:1 -t 3 -o ms=10 -o sleep.ms=20|option 'ms' of 'sleep' is given twice, as 'ms' and 'sleep.ms'
-w sleep:2+yield:1 -t 3 -o count=3|option 'count' is declared by both 'sleep' and 'yield' of mix 'sleep:2+yield:1': give it as 'sleep.count' or 'yield.count'
-w sleep:2+primes:1 -t 3 -o sleep.ms=1 -o sleep.ms=2|option 'sleep.ms' given twice
EOF
    run -2 "$CONCBENCH" sweep -m threads -w sleep,sleep+nope:1 -t 2
    [ "$output" = "concbench: unknown workload 'nope' in mix 'sleep+nope:1' (see 'concbench list')" ]
}

@test "a mix asks each part whether it can run one task after another" {
    run --separate-stderr "$CONCBENCH" run -m sequential -w queue:2+sleep:1 \
        -t 3 -o capacity=4 -o items=100 -o ms=1 -r 1 --warmup 0
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: queue with capacity=4 < items=100 cannot run one task after another: the producers, run first, would wait on a full queue for consumers that run only after them (give capacity >= items)" ]
    # With room for every item it runs: producers first, then consumers.
    run -0 "$CONCBENCH" run -m sequential -w queue:2+sleep:1 -t 3 \
        -o capacity=100 -o items=100 -o ms=1 -r 1 --warmup 0
}
