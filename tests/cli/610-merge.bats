#!/usr/bin/env bats
# concbench merge: sweep shards merged back equal the full matrix, hosts
# stay apart, schemas and duplicates are refused, and nothing half-written
# is left behind.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    d="$BATS_TEST_TMPDIR"
}

# A tiny report: one sequential primes cell on the given CPU.
mkreport() { # out cpu tasks [schema]
    jq -n --arg cpu "$2" --argjson t "$3" --arg schema "${4:-concbench/1}" '{
        schema: $schema, concbench: {version: "test", build: {}},
        host: {cpu_model: $cpu, cpus: 2, mem_bytes: 1073741824,
               kernel: "Linux 6.1", loadavg_start: [0, 0, 0]},
        started_at: "2024-01-01T00:00:00Z", argv: ["concbench"],
        results: [{model: "sequential", model_options: {}, workload: "primes",
                   workload_options: {n: 1000}, tasks: $t, warmup: 0,
                   runs: [range(6) | {wall_ns: (1000000 + . * 1000),
                                      result: 168, result_ok: true,
                                      failed: false}],
                   failed: false}]}' >"$1"
}

# The cells of a report as sorted identities, hosts left out.
cellset() {
    jq -c '[.results[] | {model, model_options, workload, workload_options, tasks}] | sort' "$1"
}

@test "sweep shards merged back equal the full matrix's cell set" {
    # A model unavailable in a build is recorded as skipped: still a cell.
    # timeout turns a hung model into a failure rather than a stuck CI job.
    m=(sweep -m all -w primes,sleep -t 1,3 -r 2 --warmup 0 -o n=1e5 -o ms=1ms)
    timeout 120 "$CONCBENCH" "${m[@]}" --json "$d/full.json" 2>/dev/null || [ $? -eq 1 ]
    total=$(jq '.results | length' "$d/full.json")
    [ "$total" -ge 10 ]
    for n in 3 7; do
        shards=()
        for k in $(seq 1 "$n"); do
            timeout 120 "$CONCBENCH" "${m[@]}" --shard "$k/$n" --json "$d/s$n-$k.json" 2>/dev/null || [ $? -eq 1 ]
            shards+=("$d/s$n-$k.json")
        done
        run --separate-stderr "$CONCBENCH" merge "${shards[@]}" --json "$d/m$n.json"
        echo "$stderr"
        [ "$status" -eq 0 ]
        [ "$(jq '.results | length' "$d/m$n.json")" -eq "$total" ]
        [ "$(cellset "$d/m$n.json")" = "$(cellset "$d/full.json")" ]
        # No duplicates: the shards are disjoint.
        [ "$(jq '[.results[] | {model, model_options, workload, workload_options, tasks}] | unique | length' "$d/m$n.json")" -eq "$total" ]
        jq -e --argjson n "$n" '.schema == "concbench/1" and (.merged_from | length) == $n' "$d/m$n.json"
        jq -e '.argv[0:2] == ["concbench", "merge"]' "$d/m$n.json"
        # One host: results carry no host of their own.
        jq -e '[.results[] | has("host")] | any | not' "$d/m$n.json"
        # compare reads it, and every cell of the full sweep finds its match.
        # (Two runs a cell are too few to decide: --accept-noisy.)
        run --separate-stderr "$CONCBENCH" compare "$d/full.json" "$d/m$n.json" --format json --threshold 1000 --accept-noisy
        [ "$status" -eq 0 ]
        jq -e '(.only_in_base | length) == 0 and (.only_in_new | length) == 0' <<<"$output"
    done
}

@test "merge copies results exactly, in input order" {
    mkreport "$d/a.json" "CPU A" 1
    mkreport "$d/b.json" "CPU A" 2
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" "$d/b.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"merged 2 cells from 2 reports into '$d/m.json': 2 cells"* ]]
    [ "$(jq -c '.results' "$d/m.json")" = "$(jq -sc '[.[].results[]]' "$d/a.json" "$d/b.json")" ]
    jq -e '[.merged_from[].file] == ["'"$d/a.json"'", "'"$d/b.json"'"]' "$d/m.json"
    # Merging a merged report keeps its sources, so merges compose.
    mkreport "$d/c.json" "CPU A" 3
    run --separate-stderr "$CONCBENCH" merge "$d/m.json" "$d/c.json" --json -
    [ "$status" -eq 0 ]
    jq -e '(.results | length) == 3 and (.merged_from | length) == 3' <<<"$output"
}

@test "two hosts stay apart, each result with its own host" {
    mkreport "$d/a.json" "CPU A" 1
    mkreport "$d/b.json" "CPU B" 1
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" "$d/b.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"several hosts kept apart"* ]]
    jq -e '(.results | length) == 2' "$d/m.json"
    jq -e '[.results[].host.cpu_model] == ["CPU A", "CPU B"]' "$d/m.json"
    # compare pairs each cell with the one from its own machine.
    run --separate-stderr "$CONCBENCH" compare "$d/m.json" "$d/m.json" --format json
    [ "$status" -eq 0 ]
    jq -e '(.cells | length) == 2 and (.only_in_base | length) == 0' <<<"$output"
    jq -e '[.cells[].label] | (.[0] | endswith("@CPU A/2 cpus")) and (.[1] | endswith("@CPU B/2 cpus"))' <<<"$output"
    # A single-host report against the merge matches its own host's cell.
    run --separate-stderr "$CONCBENCH" compare "$d/b.json" "$d/m.json" --format json
    [ "$status" -eq 0 ]
    jq -e '(.cells | length) == 1 and (.cells[0].host | startswith("CPU B|")) and (.only_in_new | length) == 1' <<<"$output"
    [ -z "$stderr" ] || [[ "$stderr" != *"hosts differ"* ]]
}

@test "different schemas are refused (exit 2) and nothing is written" {
    mkreport "$d/a.json" "CPU A" 1
    mkreport "$d/b.json" "CPU A" 2 concbench/2
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" "$d/b.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/b.json' has schema 'concbench/2'; this concbench reads 'concbench/1'" ]
    [ ! -e "$d/m.json" ]
    # Not even a temporary file beside it.
    [ -z "$(ls -A "$d" | grep '^m\.json')" ]
}

@test "the same cell from the same host twice is refused" {
    mkreport "$d/a.json" "CPU A" 1
    cp "$d/a.json" "$d/b.json"
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" "$d/b.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: cell 'primes/sequential t=1 n=1000' is in both '$d/a.json' and '$d/b.json' from the same host"* ]]
    [ ! -e "$d/m.json" ]
}

@test "--join: rounds of one suite become one cell with every run" {
    mkreport "$d/a.json" "CPU A" 1
    mkreport "$d/b.json" "CPU A" 1
    mkreport "$d/c.json" "CPU B" 1
    jq '.results[0].runs[0].failed = true | .results[0].failed = true' "$d/b.json" >"$d/b2.json"
    run --separate-stderr "$CONCBENCH" merge --join "$d/a.json" "$d/b2.json" "$d/c.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"merged 3 cells from 3 reports into '$d/m.json': 2 cells, runs of the same cell joined, several hosts kept apart"* ]]
    jq -e '(.results | length) == 2 and (.results[0].runs | length) == 12 and (.results[1].runs | length) == 6' "$d/m.json"
    # The summary is over the 11 passed runs of both, and the cell failed.
    jq -e '.results[0].summary.runs_passed == 11 and .results[0].summary.runs_failed == 1 and .results[0].failed == true' "$d/m.json"
    jq -e '.results[0].summary.wall_ns.min == 1000000 and .results[0].summary.wall_ns.max == 1005000' "$d/m.json"
    # Twice within one report is still an error.
    jq '.results += .results' "$d/a.json" >"$d/twice.json"
    run --separate-stderr "$CONCBENCH" merge --join "$d/twice.json" --json "$d/m2.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"appears twice in '$d/twice.json'"* ]]
}

@test "bad input: truncated file, missing --json, unwritable output" {
    mkreport "$d/a.json" "CPU A" 1
    head -c 100 "$d/a.json" >"$d/cut.json"
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" "$d/cut.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: cannot parse '$d/cut.json': "* ]]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
    [ ! -e "$d/m.json" ]
    run --separate-stderr "$CONCBENCH" merge "$d/a.json"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "$stderr" = "concbench: missing --json OUT (see 'concbench merge --help')" ]
    run --separate-stderr "$CONCBENCH" merge --json "$d/m.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: merge needs at least one report (see 'concbench merge --help')" ]
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" --json "$d/m.json" --bogus
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown option '--bogus' (see 'concbench merge --help')" ]
    [ ! -e "$d/m.json" ]
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" --json "$d/m.json" --join --join
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option '--join' given twice (see 'concbench merge --help')" ]
    run "$CONCBENCH" merge --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: concbench merge A.json B.json ... --json OUT [--join]"* ]]
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" --json "$d/no/such/dir/m.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"$d/no/such/dir/m.json"* ]]
}
