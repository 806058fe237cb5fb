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

# Shards of one small plan, 6 cells in 3 shards of 2: $d/p1.json .. p3.json.
mkshards() { # [extra sweep args...]
    for k in 1 2 3; do
        "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2,3 -r 2 \
            --warmup 0 -o ms=1ms "$@" --shard "$k/3" --json "$d/p$k.json" \
            >/dev/null 2>&1 || return 1
    done
}

# A result's id as compare and merge compute it.
jq_id='def id: "\(.model){\(.model_options | to_entries | sort_by(.key) | map("\(.key)=\(.value)") | join(","))} \(.workload){\(.workload_options | to_entries | sort_by(.key) | map("\(.key)=\(.value)") | join(","))} tasks=\(.tasks)";'

@test "sweep --shard records its plan: k, n, a stable hash and its cells" {
    mkshards
    for k in 1 2 3; do
        jq -e --argjson k "$k" '.shard_manifest | .k == $k and .n == 3 and .plan_cells == 6 and (.cells | length) == 2 and (.plan | test("^[0-9a-f]{16}$"))' "$d/p$k.json"
        # The ids are the results', as merge computes them.
        jq -e "$jq_id"' [.results[] | id] == .shard_manifest.cells' "$d/p$k.json"
    done
    [ "$(jq -s '[.[].shard_manifest.plan] | unique | length' "$d"/p?.json)" -eq 1 ]
    plan=$(jq -r .shard_manifest.plan "$d/p1.json")
    # The same matrix typed otherwise is the same plan; another is not.
    "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2,3 -r 2 --warmup 0 -o ms=1000us --shard 2/3 --json "$d/same.json" >/dev/null 2>&1
    jq -e --arg p "$plan" '.shard_manifest.plan == $p' "$d/same.json"
    for other in "sequential,threads 1,2,4 2 1ms" "threads,sequential 1,2,3 2 1ms" \
                 "sequential,threads 1,2,3 3 1ms" "sequential,threads 1,2,3 2 2ms" \
                 "sequential,threads 1,2,3 2 1ms --seed 7" \
                 "sequential,threads 1,2,3 2 1ms --no-interleave"; do
        read -r m t r ms more <<<"$other"
        # shellcheck disable=SC2086
        "$CONCBENCH" sweep -m "$m" -w sleep -t "$t" -r "$r" --warmup 0 -o ms="$ms" $more --shard 1/3 --json "$d/other.json" >/dev/null 2>&1
        jq -e --arg p "$plan" '.shard_manifest.plan != $p' "$d/other.json"
        rm "$d/other.json"
    done
    # Without --shard there is no plan to record.
    "$CONCBENCH" sweep -m sequential -w sleep -t 1 -r 1 --warmup 0 -o ms=1ms --json "$d/whole.json" >/dev/null 2>&1
    jq -e 'has("shard_manifest") | not' "$d/whole.json"
}

@test "merge checks the plan: every shard once, the merged report records it" {
    mkshards
    plan=$(jq -r .shard_manifest.plan "$d/p1.json")
    run --separate-stderr "$CONCBENCH" merge "$d/p3.json" "$d/p1.json" "$d/p2.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"into '$d/m.json': 6 cells, all 3 shards of plan $plan" ]]
    jq -e --arg p "$plan" '.shard_manifest | .plan == $p and .n == 3 and .shards == [1, 2, 3] and .partial == false and .missing_shards == [] and .missing_cells == 0 and (.cells | length) == 6' "$d/m.json"
    jq -e "$jq_id"' ([.results[] | id] | sort) == (.shard_manifest.cells | sort)' "$d/m.json"
    # The first shard's "K/N" does not describe the merge.
    jq -e 'has("shard") | not' "$d/m.json"
    # A shard missing: named with its cells, exit 1, nothing written.
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p3.json" --json "$d/m2.json"
    [ "$status" -eq 1 ]
    [ "$stderr" = "concbench: shard 2/3 of plan $plan is missing: 2 cells
concbench: plan $plan is incomplete: 1 of 3 shards, 2 of 6 cells missing; --partial merges what there is" ]
    [ ! -e "$d/m2.json" ]
    # --partial merges what there is and says what is missing.
    run --separate-stderr "$CONCBENCH" merge --partial "$d/p1.json" "$d/p3.json" --json "$d/m2.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == "concbench: warning: shard 2/3 of plan $plan is missing: 2 cells
merged 4 cells from 2 reports into '$d/m2.json': 4 cells, partial: 1 of 3 shards of plan $plan missing (2 of 6 cells)" ]]
    jq -e '.shard_manifest | .shards == [1, 3] and .partial == true and .missing_shards == [2] and .missing_cells == 2 and (.cells | length) == 4' "$d/m2.json"
    # The partial merge and the missing shard make the whole plan.
    run --separate-stderr "$CONCBENCH" merge "$d/m2.json" "$d/p2.json" --json "$d/m3.json"
    [ "$status" -eq 0 ]
    jq -e '.shard_manifest | .shards == [1, 2, 3] and .partial == false' "$d/m3.json"
    [ "$(cellset "$d/m3.json")" = "$(cellset "$d/m.json")" ]
    # Several missing: one line each, then the total.
    run --separate-stderr "$CONCBENCH" merge "$d/p2.json" --json "$d/m4.json"
    [ "$status" -eq 1 ]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 3 ]
    [[ "$stderr" == *"shard 1/3 of plan $plan is missing: 2 cells"*"shard 3/3 of plan $plan is missing: 2 cells"*"2 of 3 shards, 4 of 6 cells missing"* ]]
    # Reports without a manifest still merge beside the plan's shards.
    mkreport "$d/a.json" "CPU A" 1
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p2.json" "$d/p3.json" "$d/a.json" --json "$d/m5.json"
    [ "$status" -eq 0 ]
    jq -e '(.results | length) == 7 and .shard_manifest.partial == false' "$d/m5.json"
}

@test "merge refuses shards of two plans, one shard twice or cut otherwise (exit 2, one line)" {
    mkshards
    plan=$(jq -r .shard_manifest.plan "$d/p1.json")
    "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2,4 -r 2 --warmup 0 -o ms=1ms --shard 2/3 --json "$d/q2.json" >/dev/null 2>&1
    other=$(jq -r .shard_manifest.plan "$d/q2.json")
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/q2.json" "$d/p3.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/p1.json' is a shard of plan $plan and '$d/q2.json' of plan $other: merge joins the shards of one plan" ]
    [ ! -e "$d/m.json" ]
    # The same shard twice, even from another machine (its cells differ by
    # host, so the cell check alone would let it pass).
    jq '.host.cpu_model = "CPU Z"' "$d/p2.json" >"$d/p2z.json"
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p2.json" "$d/p3.json" "$d/p2z.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: shard 2/3 of plan $plan is in both '$d/p2.json' and '$d/p2z.json'" ]
    [ ! -e "$d/m.json" ]
    # Rounds of the same shards are what --join is for.
    run --separate-stderr "$CONCBENCH" merge --join "$d/p1.json" "$d/p2.json" "$d/p3.json" "$d/p1.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    jq -e '(.results | length) == 6 and .shard_manifest.shards == [1, 2, 3] and (.shard_manifest.cells | length) == 6' "$d/m.json"
    # One plan cut in 3 and in 2.
    "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2,3 -r 2 --warmup 0 -o ms=1ms --shard 2/2 --json "$d/h2.json" >/dev/null 2>&1
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/h2.json" --json "$d/m2.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/p1.json' cuts plan $plan into 3 shards and '$d/h2.json' into 2: merge joins the shards of one cut" ]
}

@test "a manifest that does not describe its report is refused (exit 2, one line)" {
    mkshards
    bad() { # jq-filter expected-stderr-suffix
        jq "$1" "$d/p1.json" >"$d/bad.json"
        run --separate-stderr "$CONCBENCH" merge "$d/bad.json" "$d/p2.json" "$d/p3.json" --json "$d/m.json"
        echo "$stderr"
        [ "$status" -eq 2 ]
        [ "$stderr" = "concbench: bad report '$d/bad.json': shard_manifest: $2" ]
        [ ! -e "$d/m.json" ]
    }
    bad '.results |= .[:1]' "cell 'threads{gil=off,interval=5000000} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1' is not among the results"
    bad '.shard_manifest.cells |= .[:1]' "'cells' lists 1 cells, but its shards of a 6-cell plan hold 2"
    bad '.shard_manifest.cells[1] = .shard_manifest.cells[0]' "cell 'sequential{} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1' is listed twice"
    bad '.shard_manifest.plan = "\u001b[31mred"' "'plan' is not a hash (1 to 64 hex digits)"
    bad '.shard_manifest.k = 4' "'k' is not 1 to 'n'"
    bad '.shard_manifest.shards = [1]' "expected one of 'k' and 'shards'"
    bad 'del(.shard_manifest.k) | .shard_manifest.shards = [2, 1]' "'shards' is not ascending, each 1 to 'n'"
    bad '.shard_manifest.n = 0' "'n' is missing or not 1 to 1000000"
    bad '.shard_manifest.plan_cells = -1' "'plan_cells' is missing or not a count"
    bad '.shard_manifest.cells = {}' "'cells' is missing or not an array"
    bad '.shard_manifest = []' "expected an object"
}
