#!/usr/bin/env bats
# The JSON report, field by field, as docs/report.md describes it.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    json="$BATS_TEST_TMPDIR/r.json"
}

@test "the report has every field of docs/report.md with the right types" {
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=1e6 -t 2 --runs 3 --warmup 1 --json "$json"
    [ "$status" -eq 0 ]
    [ "$(jq -r .schema "$json")" = "concbench/2" ]
    jq -e '.concbench.version | type == "string" and length > 0' "$json"
    for k in cc cflags libuv jansson boost_context http_parser; do
        jq -e --arg k "$k" '.concbench.build[$k] | type == "string"' "$json"
    done
    jq -e '.host.cpus >= 1 and .host.cpus_allowed >= 1 and .host.mem_bytes > 0' "$json"
    jq -e '.host | (.cpu_model|type) == "string" and (.kernel|type) == "string"' "$json"
    jq -e '.host.loadavg_start | length == 3' "$json"
    jq -e '.host | has("smt") and has("cgroup_cpu_quota") and has("governor")' "$json"
    jq -e '.host | .pid_max > 0 and .clock_res_ns > 0 and (.ulimit_nofile|type) == "number" and (.ulimit_nproc|type) == "number"' "$json"
    jq -e '.started_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$json"
    jq -e '.argv[0] == "concbench" and (.argv | index("primes")) != null' "$json"

    jq -e '.results | length == 1' "$json"
    r='.results[0]'
    jq -e "$r.model == \"sequential\" and $r.workload == \"primes\"" "$json"
    jq -e "$r.model_options == {}" "$json"
    jq -e "$r.workload_options.n == 1000000" "$json"
    jq -e "$r.tasks == 2 and $r.warmup == 1 and $r.failed == false" "$json"
    jq -e "$r.runs | length == 3" "$json"
    for k in wall_ns user_ns sys_ns max_rss_kib total_rss_kib ctxsw_voluntary ctxsw_involuntary errors result ops bytes task_failures; do
        jq -e --arg k "$k" "[$r.runs[][\$k] | type == \"number\"] | all" "$json"
    done
    jq -e "[$r.runs[].wall_ns > 0] | all" "$json"
    jq -e "[$r.runs[].max_rss_kib > 0] | all" "$json"
    # One process: its memory is its peak, said to be RSS.
    jq -e "[$r.runs[] | .total_rss_kib == .max_rss_kib and .total_rss_source == \"rss\"] | all" "$json"
    # Each task's end from the run's start: never before its own time.
    jq -e "[$r.runs[] | .done_ns | .p50 <= .p75 and .p75 <= .p90 and .p90 <= .p99 and .p99 <= .max and .p50 > 0] | all" "$json"
    jq -e "[$r.runs[] | .done_ns.max >= .task_ns.max] | all" "$json"
    # The cell's warnings, each a kind, a value and its text.
    jq -e "$r.warnings | type == \"array\" and all(.[]; (.kind | IN(\"noisy\", \"short\", \"outliers\", \"disturbed\")) and (.value | type) == \"number\" and (.text | type) == \"string\")" "$json"
    jq -e "[$r.runs[].task_ns | .p50 <= .p75 and .p75 <= .p90 and .p90 <= .p99 and .p99 <= .max and .p50 > 0] | all" "$json"
    jq -e "[$r.runs[].errors_by_kind | keys == [\"bad_status\",\"other\",\"parse\",\"refused\",\"reset\",\"timeout\"]] | all" "$json"
    jq -e "[$r.runs[] | .result == 78498 and .result_ok == true and .failed == false] | all" "$json"
    s="$r.summary.wall_ns"
    jq -e "$s | .min <= .median and .median <= .max and .min <= .mean and .mean <= .max" "$json"
    jq -e "$s | .stddev >= 0 and (.ci95 | length == 2) and .ci95[0] <= .mean and .mean <= .ci95[1]" "$json"
    jq -e "$r.summary.runs_passed == 3 and $r.summary.runs_failed == 0" "$json"
    # The summary is computed from the runs.
    jq -e "($r.runs | map(.wall_ns) | min) == $s.min" "$json"
    jq -e "($r.runs | map(.wall_ns) | max) == $s.max" "$json"
}

@test "every time's unit is in its name: duration options are <key>_ns" {
    run --separate-stderr "$CONCBENCH" -m threads -w sleep -o gil=on \
        -o interval=2ms -o ms=3ms -o jitter=1us --runs 1 --warmup 0 --json "$json"
    [ "$status" -eq 0 ]
    jq -e '.results[0].model_options == {"gil": "on", "interval_ns": 2000000}' "$json"
    jq -e '.results[0].workload_options | .ms_ns == 3000000 and .jitter_ns == 1000
           and .count == 1 and (has("ms") | not)' "$json"
    # Every number a run records that is a time ends in _ns.
    jq -e '.results[0].runs[0] | has("start_ns") and has("wall_ns") and
           has("user_ns") and has("sys_ns") and has("steal_ns") and
           has("runqueue_ns") and has("throttled_ns") and has("done_ns")' "$json"
}

@test "a concbench/1 report still reads: its durations renamed, its cells matched" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=2ms \
        --runs 5 --warmup 0 --json "$json"
    [ "$status" -eq 0 ]
    # The same report as concbench/1 wrote it: "ms" in ns.
    jq '.schema = "concbench/1" | .results[0].workload_options |=
        (.ms = .ms_ns | .jitter = .jitter_ns | del(.ms_ns, .jitter_ns))' \
        "$json" >"$BATS_TEST_TMPDIR/v1.json"
    run --separate-stderr "$CONCBENCH" compare --accept-noisy \
        "$BATS_TEST_TMPDIR/v1.json" "$json"
    [ "$status" -eq 0 ]
    # The same runs: no change, whatever the noise.
    [[ "$output" == *"sleep/sequential t=1 ms=2ms "*" +0.0% "* ]]
    [[ "$stderr" != *"only in"* ]]
    # Merged with a report of another cell, the old one is written in the
    # new schema.
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=3ms \
        --runs 1 --warmup 0 --json "$BATS_TEST_TMPDIR/other.json"
    [ "$status" -eq 0 ]
    run --separate-stderr "$CONCBENCH" merge "$BATS_TEST_TMPDIR/v1.json" \
        "$BATS_TEST_TMPDIR/other.json" --json "$BATS_TEST_TMPDIR/m.json"
    [ "$status" -eq 0 ]
    jq -e '.schema == "concbench/2" and ([.results[].workload_options | has("ms_ns") and (has("ms") | not)] | all)' "$BATS_TEST_TMPDIR/m.json"
}

@test "--json - writes only JSON to stdout and the summary to stderr" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=1ms --runs 1 --json -
    [ "$status" -eq 0 ]
    jq -e . <<<"$output" >/dev/null
    [[ "$stderr" == *"Result:"* ]]
}

@test "CSV has one row per run and the documented columns" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=1ms --runs 3 --export-csv "$BATS_TEST_TMPDIR/r.csv" --export-markdown "$BATS_TEST_TMPDIR/r.md"
    [ "$status" -eq 0 ]
    [ "$(head -n1 "$BATS_TEST_TMPDIR/r.csv")" = "model,workload,options,tasks,run,wall_ns,user_ns,sys_ns,max_rss_kib,ctxsw_voluntary,ctxsw_involuntary,task_p50_ns,task_p99_ns,op_p50_ns,op_p99_ns,ops,bytes,errors,result,result_ok,total_rss_kib" ]
    [ "$(wc -l < "$BATS_TEST_TMPDIR/r.csv")" -eq 4 ]
    [[ "$(sed -n 2p "$BATS_TEST_TMPDIR/r.csv")" == 'sequential,sleep,"ms=1ms",1,1,'*',true,'[0-9]* ]]
    grep -q '^| `sequential` | `sleep` | ms=1ms | 1 |' "$BATS_TEST_TMPDIR/r.md"
}

@test "no temporary file is left beside the report" {
    run "$CONCBENCH" -m sequential -w sleep -o ms=1ms --runs 1 --json "$json"
    [ "$status" -eq 0 ]
    [ "$(ls "$BATS_TEST_TMPDIR")" = "r.json" ]
}
