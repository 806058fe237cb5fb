#!/usr/bin/env bats
# concbench merge: sweep shards merged back equal the full matrix, hosts
# stay apart, schemas and duplicates are refused, and nothing half-written
# is left behind. Sharded sweeps: the shard manifest merge checks (every
# shard and cell of the plan, once), --allow-partial, --shard auto from a
# job engine's variables, and --dry-run.

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
        jq -e --argjson n "$n" '.schema == "concbench/2" and (.merged_from | length) == $n' "$d/m$n.json"
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
    mkreport "$d/b.json" "CPU A" 2 concbench/9
    run --separate-stderr "$CONCBENCH" merge "$d/a.json" "$d/b.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/b.json' has schema 'concbench/9'; this concbench reads 'concbench/2' and 'concbench/1'" ]
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
# A cell's id names each option as the option tables do: a duration's
# "ms_ns" key is its option "ms".
jq_id='def opts: to_entries | map(.key |= sub("_ns$"; "")) | sort_by(.key) | map("\(.key)=\(.value)") | join(","); def id: "\(.model){\(.model_options | opts)} \(.workload){\(.workload_options | opts)} tasks=\(.tasks)";'

@test "sweep --shard records its plan: k, n, a stable hash, the plan's cells and its own" {
    mkshards
    for k in 1 2 3; do
        jq -e --argjson k "$k" '.shard_manifest | .k == $k and .n == 3 and (.plan_cells | length) == 6 and (.cells | length) == 2 and (.plan | test("^[0-9a-f]{16}$"))' "$d/p$k.json"
        # The ids are the results', as merge computes them.
        jq -e "$jq_id"' [.results[] | id] == .shard_manifest.cells' "$d/p$k.json"
        # The whole plan, each cell with its shard (cell i: i mod 3 + 1);
        # this shard's cells are the plan's cells of shard k.
        jq -e '.shard_manifest | [.plan_cells | to_entries[] | .value.shard == (.key % 3) + 1] | all' "$d/p$k.json"
        jq -e --argjson k "$k" '.shard_manifest | [.plan_cells[] | select(.shard == $k) | .id] == .cells' "$d/p$k.json"
    done
    # Every shard carries the same plan, and the whole sweep's cells are it.
    [ "$(jq -sc '[.[].shard_manifest.plan_cells] | unique | length' "$d"/p?.json)" -eq 1 ]
    "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2,3 -r 2 --warmup 0 -o ms=1ms --json "$d/all.json" >/dev/null 2>&1
    jq -e --slurpfile p "$d/p1.json" "$jq_id"' [.results[] | id] == [$p[0].shard_manifest.plan_cells[].id]' "$d/all.json"
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
    jq -e --arg p "$plan" '.shard_manifest | .plan == $p and .n == 3 and .shards == [1, 2, 3] and .partial == false and .missing_shards == [] and .missing_cells == [] and (.cells | length) == 6 and (.plan_cells | length) == 6' "$d/m.json"
    jq -e "$jq_id"' ([.results[] | id] | sort) == (.shard_manifest.cells | sort)' "$d/m.json"
    # The merged cells are listed in the plan's order, the plan kept whole.
    jq -e --slurpfile p "$d/p1.json" '.shard_manifest | .cells == [.plan_cells[].id] and .plan_cells == $p[0].shard_manifest.plan_cells' "$d/m.json"
    # The first shard's "K/N" does not describe the merge.
    jq -e 'has("shard") | not' "$d/m.json"
    # A shard missing: named with its cells, exit 2, nothing written.
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p3.json" --json "$d/m2.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: shard 2/3 of plan $plan is missing: 2 cells
concbench: plan $plan is incomplete: 1 of 3 shards, 2 of 6 cells missing; --allow-partial merges what there is" ]
    [ ! -e "$d/m2.json" ]
    # --allow-partial merges what there is and says which cells are missing.
    run --separate-stderr "$CONCBENCH" merge --allow-partial "$d/p1.json" "$d/p3.json" --json "$d/m2.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == "concbench: warning: shard 2/3 of plan $plan is missing: 2 cells
merged 4 cells from 2 reports into '$d/m2.json': 4 cells, partial: 1 of 3 shards of plan $plan missing (2 of 6 cells)" ]]
    jq -e '.shard_manifest | .shards == [1, 3] and .partial == true and .missing_shards == [2] and (.cells | length) == 4' "$d/m2.json"
    jq -e --slurpfile p "$d/p2.json" '.shard_manifest.missing_cells == $p[0].shard_manifest.cells' "$d/m2.json"
    # The partial merge and the missing shard make the whole plan.
    run --separate-stderr "$CONCBENCH" merge "$d/m2.json" "$d/p2.json" --json "$d/m3.json"
    [ "$status" -eq 0 ]
    jq -e '.shard_manifest | .shards == [1, 2, 3] and .partial == false and .missing_cells == []' "$d/m3.json"
    [ "$(cellset "$d/m3.json")" = "$(cellset "$d/m.json")" ]
    # Several missing: one line each, then the total.
    run --separate-stderr "$CONCBENCH" merge "$d/p2.json" --json "$d/m4.json"
    [ "$status" -eq 2 ]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 3 ]
    [[ "$stderr" == *"shard 1/3 of plan $plan is missing: 2 cells"*"shard 3/3 of plan $plan is missing: 2 cells"*"2 of 3 shards, 4 of 6 cells missing"* ]]
    # --partial was the flag's first name; it is --allow-partial now.
    run --separate-stderr "$CONCBENCH" merge --partial "$d/p1.json" --json "$d/m4.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: unknown option '--partial'"* ]]
    # Reports without a manifest still merge beside the plan's shards.
    mkreport "$d/a.json" "CPU A" 1
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p2.json" "$d/p3.json" "$d/a.json" --json "$d/m5.json"
    [ "$status" -eq 0 ]
    jq -e '(.results | length) == 7 and .shard_manifest.partial == false' "$d/m5.json"
}

@test "merge names a cell missing from a shard that is there (exit 2), --allow-partial records it" {
    mkshards
    plan=$(jq -r .shard_manifest.plan "$d/p1.json")
    # Shard 1 without its second cell, in its results and its manifest.
    gone=$(jq -r '.shard_manifest.cells[1]' "$d/p1.json")
    jq '.results |= .[:1] | .shard_manifest.cells |= .[:1]' "$d/p1.json" >"$d/p1-.json"
    run --separate-stderr "$CONCBENCH" merge "$d/p1-.json" "$d/p2.json" "$d/p3.json" --json "$d/m.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: cell '$gone' of shard 1/3 of plan $plan is missing from '$d/p1-.json'
concbench: plan $plan is incomplete: 0 of 3 shards, 1 of 6 cells missing; --allow-partial merges what there is" ]
    [ ! -e "$d/m.json" ]
    run --separate-stderr "$CONCBENCH" merge --allow-partial "$d/p1-.json" "$d/p2.json" "$d/p3.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"5 cells, partial: 0 of 3 shards of plan $plan missing (1 of 6 cells)" ]]
    jq -e --arg g "$gone" '.shard_manifest | .partial == true and .shards == [1, 2, 3] and .missing_shards == [] and .missing_cells == [$g] and (.cells | length) == 5' "$d/m.json"
    # Over ten things missing: ten lines, then how many more.
    for k in 1 2 3; do
        "$CONCBENCH" sweep -m sequential -w sleep -t 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 -r 1 --warmup 0 -o ms=0 --shard "$k/15" --json "$d/w$k.json" >/dev/null 2>&1
    done
    run --separate-stderr "$CONCBENCH" merge "$d"/w?.json --json "$d/m2.json"
    [ "$status" -eq 2 ]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 12 ]
    [[ "$stderr" == *"shard 13/15 of plan "*" is missing: 1 cell
concbench: and 2 more missing shards and cells of plan "*"
concbench: plan "*" is incomplete: 12 of 15 shards, 12 of 15 cells missing; --allow-partial merges what there is" ]]
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
    # One plan's hash over two lists of cells: one of them was edited.
    jq '.shard_manifest.plan_cells[5].id = "x"' "$d/p2.json" >"$d/p2x.json"
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p2x.json" "$d/p3.json" --json "$d/m2.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/p1.json' and '$d/p2x.json' name plan $plan but list different cells in it" ]
    # A shard of another schema: one line, before any plan is looked at.
    jq '.schema = "concbench/9"' "$d/p2.json" >"$d/p2s.json"
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/p2s.json" "$d/p3.json" --json "$d/m2.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/p2s.json' has schema 'concbench/9'; this concbench reads 'concbench/2' and 'concbench/1'" ]
    [ ! -e "$d/m2.json" ]
}

@test "a manifest that does not describe its report is refused (exit 2, one line)" {
    mkshards
    bad() { # jq-filter expected-stderr-suffix [jq args...]
        jq "${@:3}" "$1" "$d/p1.json" >"$d/bad.json"
        run --separate-stderr "$CONCBENCH" merge "$d/bad.json" "$d/p2.json" "$d/p3.json" --json "$d/m.json"
        echo "$stderr"
        [ "$status" -eq 2 ]
        [ "$stderr" = "concbench: bad report '$d/bad.json': shard_manifest: $2" ]
        [ ! -e "$d/m.json" ]
    }
    bad '.results |= .[:1]' "cell 'threads{gil=off,interval=5000000} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1' is not among the results"
    bad '.shard_manifest.cells[1] = .shard_manifest.plan_cells[1].id' "cell 'sequential{} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=2' is not among the results"
    c=$(jq -r '.shard_manifest.cells[0]' "$d/p1.json")
    bad '.shard_manifest.plan_cells |= map(select(.id != $c))' "cell '$c' is not in 'plan_cells'" --arg c "$c"
    bad '.shard_manifest.plan_cells[0].shard = 2' "cell 'sequential{} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1' belongs to shard 2, which the report does not hold"
    bad '.shard_manifest.plan_cells[1].id = .shard_manifest.plan_cells[0].id' "cell 'sequential{} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1' is in 'plan_cells' twice"
    bad '.shard_manifest.plan_cells[2].shard = 4' "a cell of 'plan_cells' is not {\"id\": string, \"shard\": 1 to 'n'}"
    bad '.shard_manifest.plan_cells[2] = "x"' "a cell of 'plan_cells' is not {\"id\": string, \"shard\": 1 to 'n'}"
    bad '.shard_manifest.cells[1] = .shard_manifest.cells[0]' "cell 'sequential{} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1' is listed twice"
    bad '.shard_manifest.plan = "\u001b[31mred"' "'plan' is not a hash (1 to 64 hex digits)"
    bad '.shard_manifest.k = 4' "'k' is not 1 to 'n'"
    bad '.shard_manifest.shards = [1]' "expected one of 'k' and 'shards'"
    bad 'del(.shard_manifest.k) | .shard_manifest.shards = [2, 1]' "'shards' is not ascending, each 1 to 'n'"
    bad '.shard_manifest.n = 0' "'n' is missing or not 1 to 1000000"
    bad '.shard_manifest.plan_cells = 6' "'plan_cells' is missing or not an array"
    bad 'del(.shard_manifest.plan_cells)' "'plan_cells' is missing or not an array"
    bad '.shard_manifest.cells = {}' "'cells' is missing or not an array"
    bad '.shard_manifest = []' "expected an object"
}

# The engines' variables, none set: a test sets what its engine would.
noengine() {
    env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_MIN -u SLURM_ARRAY_TASK_MAX \
        -u SLURM_ARRAY_TASK_STEP -u SLURM_ARRAY_TASK_COUNT \
        -u JOB_COMPLETION_INDEX "$@"
}

@test "sweep --shard auto takes K/N from a Slurm array or a Kubernetes Indexed Job, and is the same plan as K/N" {
    s=(sweep -m sequential,threads -w sleep -t 1,2,3 -r 2 --warmup 0 -o ms=1ms)
    mkshards
    plan=$(jq -r .shard_manifest.plan "$d/p1.json")
    # A Slurm array 1-3: task 2 is shard 2/3, of the same plan, and its
    # report says how it was asked.
    noengine SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 \
        SLURM_ARRAY_TASK_STEP=1 SLURM_ARRAY_TASK_COUNT=3 \
        "$CONCBENCH" "${s[@]}" --shard auto --json "$d/a2.json" >/dev/null 2>&1
    jq -e --arg p "$plan" '.shard == "2/3" and .shard_manifest.k == 2 and .shard_manifest.n == 3 and .shard_manifest.plan == $p and (.argv | index("auto")) != null' "$d/a2.json"
    jq -e --slurpfile p "$d/p2.json" '.shard_manifest.cells == $p[0].shard_manifest.cells' "$d/a2.json"
    run --separate-stderr "$CONCBENCH" merge "$d/p1.json" "$d/a2.json" "$d/p3.json" --json "$d/m.json"
    [ "$status" -eq 0 ]
    # Kubernetes: index 0 of 3 completions is shard 1/3.
    noengine JOB_COMPLETION_INDEX=0 "$CONCBENCH" "${s[@]}" --shard auto/3 --json "$d/k1.json" >/dev/null 2>&1
    jq -e --arg p "$plan" '.shard == "1/3" and .shard_manifest.plan == $p' "$d/k1.json"

    # What each engine's variables make of it, as --dry-run shows.
    dry() { # expected-shard-line var=value... (the sweep's --shard last)
        local want=$1
        shift
        run --separate-stderr noengine "$@"
        echo "$stderr"
        [ "$status" -eq 0 ]
        [ "${lines[1]}" = "$want" ]
    }
    m=(-m sequential -w sleep -t 1,2,3,4,5,6,7,8 -o ms=1ms --dry-run)
    dry "shard 1/8 (SLURM_ARRAY_TASK_ID=0 in the array 0-7): 1 of the 8 cells, marked >" \
        SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=7 SLURM_ARRAY_TASK_COUNT=8 \
        "$CONCBENCH" sweep "${m[@]}" --shard auto
    dry "shard 3/4 (SLURM_ARRAY_TASK_ID=5 in the array 1-7:2): 2 of the 8 cells, marked >" \
        SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=7 SLURM_ARRAY_TASK_STEP=2 SLURM_ARRAY_TASK_COUNT=4 \
        "$CONCBENCH" sweep "${m[@]}" --shard auto
    # Without SLURM_ARRAY_TASK_COUNT (older Slurm): the bounds.
    dry "shard 2/3 (SLURM_ARRAY_TASK_ID=2 in the array 1-3): 3 of the 8 cells, marked >" \
        SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3 \
        "$CONCBENCH" sweep "${m[@]}" --shard auto
    # Rerunning shards 3 and 5 of 8: with auto/N the indices are shards.
    dry "shard 5/8 (SLURM_ARRAY_TASK_ID=5, N given): 1 of the 8 cells, marked >" \
        SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=5 SLURM_ARRAY_TASK_COUNT=2 \
        "$CONCBENCH" sweep "${m[@]}" --shard auto/8
    dry "shard 4/4 (JOB_COMPLETION_INDEX=3, N given): 2 of the 8 cells, marked >" \
        JOB_COMPLETION_INDEX=3 "$CONCBENCH" sweep "${m[@]}" --shard auto/4
}

@test "sweep --shard auto refuses, in one line (exit 2), what it cannot place" {
    m=(sweep -m sequential -w sleep -t 1,2 -o ms=1ms --dry-run)
    refuse() { # expected-message var=value... (the sweep's --shard last)
        local want=$1
        shift
        run --separate-stderr noengine "$@"
        [ "$status" -eq 2 ]
        [ -z "$output" ]
        [ "$stderr" = "concbench: $want" ]
    }
    refuse "--shard auto found no job index: it looks for SLURM_ARRAY_TASK_ID (a Slurm job array) and JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); elsewhere give K/N" \
        "$CONCBENCH" "${m[@]}" --shard auto
    refuse "--shard auto found no job index: it looks for SLURM_ARRAY_TASK_ID (a Slurm job array) and JOB_COMPLETION_INDEX (a Kubernetes Indexed Job); elsewhere give K/N" \
        "$CONCBENCH" "${m[@]}" --shard auto/4
    refuse "--shard auto: the job array 3-5 holds 2 tasks (SLURM_ARRAY_TASK_COUNT), not a range of 3; for some shards of a larger plan give its N: --shard auto/N" \
        SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_MAX=5 SLURM_ARRAY_TASK_COUNT=2 \
        "$CONCBENCH" "${m[@]}" --shard auto
    refuse "--shard auto/8: SLURM_ARRAY_TASK_ID is 0, but with auto/N the array's indices are the shard numbers, 1 to 8 (--array=1-8)" \
        SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_MAX=7 \
        "$CONCBENCH" "${m[@]}" --shard auto/8
    refuse "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_MIN is not, so its place in the array is unknown; give K/N" \
        SLURM_ARRAY_TASK_ID=2 "$CONCBENCH" "${m[@]}" --shard auto
    refuse "--shard auto: SLURM_ARRAY_TASK_ID 4 is not a task of the array 1-7:2" \
        SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=7 SLURM_ARRAY_TASK_STEP=2 \
        "$CONCBENCH" "${m[@]}" --shard auto
    refuse "--shard auto: bad SLURM_ARRAY_TASK_ID '2x': expected a whole number" \
        SLURM_ARRAY_TASK_ID=2x "$CONCBENCH" "${m[@]}" --shard auto
    refuse "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job), which does not say how many completions the Job has; give them: --shard auto/N" \
        JOB_COMPLETION_INDEX=1 "$CONCBENCH" "${m[@]}" --shard auto
    refuse "--shard auto/4: JOB_COMPLETION_INDEX is 4, past the 4 completions (0 to 3)" \
        JOB_COMPLETION_INDEX=4 "$CONCBENCH" "${m[@]}" --shard auto/4
    refuse "--shard auto: both SLURM_ARRAY_TASK_ID and JOB_COMPLETION_INDEX are set, so the engine is unclear; give K/N" \
        SLURM_ARRAY_TASK_ID=1 JOB_COMPLETION_INDEX=1 "$CONCBENCH" "${m[@]}" --shard auto/4
    refuse "bad value 'auto/0' for '--shard': expected auto/N with N 1 to 1000000" \
        "$CONCBENCH" "${m[@]}" --shard auto/0
    refuse "bad value 'automatic' for '--shard': expected K/N such as 2/4, auto or auto/N" \
        "$CONCBENCH" "${m[@]}" --shard automatic
    # Refused before anything runs, with or without --dry-run.
    run --separate-stderr noengine "$CONCBENCH" sweep -m sequential -w sleep -t 1 -o ms=1ms --shard auto --json "$d/x.json"
    [ "$status" -eq 2 ]
    [ ! -e "$d/x.json" ]
}

@test "sweep --dry-run prints the plan, this shard's cells and a time estimate, and runs and writes nothing" {
    # Cells of ten seconds each: a run would take minutes.
    s=(sweep -m sequential,threads -w sleep,yield -t 1,4 -r 3 --warmup 1 -o ms=10s)
    SECONDS=0
    run --separate-stderr "$CONCBENCH" "${s[@]}" --shard 2/3 --dry-run --json "$d/no/such/dir/r.json"
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$SECONDS" -lt 10 ]
    [ -z "$stderr" ]
    [ ! -e "$d/no" ]
    hash=$(sed -n '1s/^plan \([0-9a-f]\{16\}\): .*/\1/p' <<<"$output")
    [ -n "$hash" ]
    [ "${lines[0]}" = "plan $hash: 8 cells, 3 timed runs each after 1 warmup (before each timed run), interleaved; seed drawn when it runs" ]
    [ "${lines[1]}" = "shard 2/3: 3 of the 8 cells, marked >" ]
    # Every cell of the plan with its shard (cell i: i mod 3 + 1), this
    # shard's marked; sleep's estimate is ms x count, x tasks under
    # sequential; yield has no basis.
    [[ "$output" == *"  shard  workload   model       options   tasks    per run   runs       cell"* ]]
    [[ "$output" == *"      1  sleep      sequential  ms=10s        1       10 s      6      1m00s"* ]]
    [[ "$output" == *">     2  sleep      sequential  ms=10s        4       40 s      6      4m00s"* ]]
    [[ "$output" == *"      1  sleep      threads     ms=10s        4       10 s      6      1m00s"* ]]
    [[ "$output" == *">     2  yield      threads                   4    unknown      6    unknown"* ]]
    [ "$(grep -c '^>' <<<"$output")" -eq 3 ]
    [ "$(grep -cE '^[ >] +[1-3]  ' <<<"$output")" -eq 8 ]
    [[ "$output" == *"estimate for shard 2/3: 4m00s (1 of 3 cells; no basis for 2: yield)"* ]]
    [[ "$output" == *"estimate for the whole plan: 7m00s (4 of 8 cells; no basis for 4: yield)"* ]]
    [[ "$output" == *"how: primes at 0.12 ns of CPU a number up to n"* ]]
    [ "${lines[${#lines[@]}-1]}" = "dry run: nothing was run; the report would go to '$d/no/such/dir/r.json'" ]
    # The plan is the one the shard's report names.
    mkshards
    run --separate-stderr "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2,3 -r 2 --warmup 0 -o ms=1ms --shard 3/3 --dry-run
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "plan $(jq -r .shard_manifest.plan "$d/p3.json"): 6 cells,"* ]]
    # primes from n: 1e9 at 0.12 ns a number is 120 ms a run, on one CPU
    # under sequential; a seed given is shown, and part of the plan.
    run --separate-stderr "$CONCBENCH" sweep -m sequential -w primes -t 2 -r 1 --warmup 0 -o n=1e9 --dry-run
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *": 1 cell, 1 timed run each after 0 warmups, by cell" ]]
    [[ "$output" == *"primes     sequential  n=1e9         2     120 ms      1     120 ms"* ]]
    [[ "$output" == *"estimate for the sweep: 120 ms (1 cell)"* ]]
    [ "${lines[${#lines[@]}-1]}" = "dry run: nothing was run (no --json: no report)" ]
    run --separate-stderr "$CONCBENCH" sweep -m sequential -w primes -t 1,2 -r 2 -o n=1e6 --seed 7 --dry-run
    [[ "${lines[0]}" == *": 2 cells, 2 timed runs each after 1 warmup (before each timed run), interleaved; seed 7" ]]
    # The command line is checked as for a run.
    run --separate-stderr "$CONCBENCH" sweep -m sequential -w sleep --dry-run --bogus
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown option '--bogus' (see 'concbench sweep --help')" ]
    run --separate-stderr "$CONCBENCH" sweep -m sequential -w sleep -o ms=-1 --dry-run
    [ "$status" -eq 2 ]
}
