#!/usr/bin/env bats
# The examples/slurm job array on a real single-node Slurm cluster
# (scripts/slurm-local.sh): shard.sbatch runs `sweep --shard` as array
# tasks, merge.sbatch joins them after the array, and the merged report
# holds exactly the cells of the same sweep run whole. The example files
# are submitted as shipped; only the environment they read is set.
#
# Where the cluster cannot start (not root, Slurm or munge not installed,
# a daemon refusing), the test skips and says why; with
# CONCBENCH_REQUIRE_SLURM=1 (a machine that has Slurm) that fails instead.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    cluster=$BATS_TEST_TMPDIR/cluster
    export SLURM_CONF=$cluster/slurm.conf
}

teardown() {
    "$root/scripts/slurm-local.sh" stop "$cluster"
}

# The state of job $1 ("COMPLETED", "FAILED", ...; an array's tasks, one a
# line), from slurmctld, which keeps ended jobs for MinJobAge.
job_states() {
    scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'
}

# The exit codes of job $1 ("0:0"; an array's tasks, one a line).
exit_codes() {
    scontrol -o show job "$1" 2>/dev/null | sed -n 's/.* ExitCode=\([0-9]*:[0-9]*\).*/\1/p'
}

# Waits up to $2 seconds for every part of job $1 to end.
wait_job() {
    local s
    for _ in $(seq 1 $(($2 * 2))); do
        s=$(job_states "$1")
        if [ -n "$s" ] && ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)$' <<<"$s"; then
            return 0
        fi
        sleep 0.5
    done
    return 1
}

# What the cluster and the jobs say, for a failure's output.
diagnose() {
    squeue 2>&1
    scontrol -o show job 2>&1 | cut -c1-400
    tail -n 20 "$cluster"/log/slurmctld.log "$cluster"/log/slurmd.log 2>&1
    tail -n 20 "$BATS_TEST_TMPDIR"/submit/*.out 2>&1
}

# A result's identity, and a report's cells as sorted identities.
cells() {
    jq -c '[.results[] | {model, model_options, workload, workload_options, tasks}] | sort' "$1"
}

@test "examples/slurm: a sharded sweep as a job array, merged after it, equals the whole sweep" {
    run --separate-stderr "$root/scripts/slurm-local.sh" start "$cluster"
    if [ "$status" -ne 0 ]; then
        echo "$stderr"
        if [ -n "${CONCBENCH_REQUIRE_SLURM:-}" ]; then
            tail -n 20 "$cluster"/log/*.log 2>&1 || true
            false
        fi
        skip "no Slurm cluster on this machine: ${stderr#slurm-local: }"
    fi

    # Submitted from a scratch directory: the examples write relative to it.
    mkdir "$BATS_TEST_TMPDIR/submit"
    cd "$BATS_TEST_TMPDIR/submit"
    export CONCBENCH_SWEEP="-m sequential,threads,fork -w primes,sleep -t 1,2 -r 2 --warmup 0 -o n=1e5 -o ms=1ms"
    read -ra sweep <<<"$CONCBENCH_SWEEP"
    # A cell that fails is a cell too (exit 1); anything else is not.
    timeout 120 "$CONCBENCH" sweep "${sweep[@]}" --json whole.json >/dev/null 2>&1 || [ $? -eq 1 ]
    total=$(jq '.results | length' whole.json)
    [ "$total" -eq 12 ]

    # The submission examples/README.md shows, with three shards.
    job=$(sbatch --parsable --array=1-3 "$root/examples/slurm/shard.sbatch")
    merge=$(sbatch --parsable --dependency=afterany:"$job" "$root/examples/slurm/merge.sbatch" "$job")
    echo "array job $job, merge job $merge" >&3
    wait_job "$merge" 180 || { diagnose; false; }
    wait_job "$job" 10 || { diagnose; false; }
    # Each shard wrote its report: exit 0, or 1 when a cell failed (it is
    # recorded); the merge passed.
    [ "$(exit_codes "$job" | grep -cxE '[01]:0')" -eq 3 ] || { diagnose; false; }
    [ "$(job_states "$merge")" = COMPLETED ] || { diagnose; false; }

    out=results/raw/sweep-$job
    ls "$out"
    # Each task found its shard in Slurm's variables (--shard auto).
    for k in 1 2 3; do
        jq -e --argjson k "$k" '.shard_manifest.k == $k and .shard_manifest.n == 3 and .shard == "\($k)/3" and (.argv | index("auto")) != null' "$out/shard-$k.json"
    done
    plan=$(jq -r .shard_manifest.plan "$out/shard-1.json")
    grep -q "into '$out/sweep.json': $total cells, all 3 shards of plan $plan" concbench-merge-"$merge".out

    # Every cell of the whole sweep, each once, and nothing else.
    m=$out/sweep.json
    [ "$(jq '.results | length' "$m")" -eq "$total" ]
    [ "$(cells "$m")" = "$(cells whole.json)" ]
    [ "$(jq -c '[.results[] | {model, model_options, workload, workload_options, tasks}] | unique | length' "$m")" -eq "$total" ]
    jq -e --arg p "$plan" '.shard_manifest | .plan == $p and .shards == [1, 2, 3] and .partial == false and .missing_cells == [] and (.cells | length) == 12 and (.plan_cells | length) == 12' "$m"
    jq -e '(.merged_from | length) == 3 and (.argv[0:2] == ["concbench", "merge"])' "$m"
    # Each cell with its host: its own, or the report's when there is one
    # machine; here, the node the whole sweep ran on.
    host=$(jq -c '.host | {cpu_model, cpus, mem_bytes, kernel}' whole.json)
    jq -e --argjson h "$host" '. as $r | [.results[] | (.host // $r.host) | {cpu_model, cpus, mem_bytes, kernel} == $h] | length == 12 and all' "$m"
    # Each cell measured: its runs, or why it was skipped.
    jq -e '[.results[] | has("runs") or has("skipped")] | all' "$m"

    # Shard 2 of 3 alone (a rerun's way in): the merge job, after it all
    # the same, fails and names the two shards that never ran.
    job=$(CONCBENCH_SHARDS=3 CONCBENCH_OUT=lone sbatch --parsable --array=2 "$root/examples/slurm/shard.sbatch")
    merge=$(CONCBENCH_OUT=lone sbatch --parsable --dependency=afterany:"$job" "$root/examples/slurm/merge.sbatch" "$job")
    wait_job "$merge" 120 || { diagnose; false; }
    exit_codes "$job" | grep -qxE '[01]:0' || { diagnose; false; }
    [ "$(job_states "$merge")" = FAILED ] || { diagnose; false; }
    cat concbench-merge-"$merge".out
    [ "$(cat concbench-merge-"$merge".out)" = "concbench: shard 1/3 of plan $plan is missing: 4 cells
concbench: shard 3/3 of plan $plan is missing: 4 cells
concbench: plan $plan is incomplete: 2 of 3 shards, 8 of 12 cells missing; --allow-partial merges what there is" ]
    [ ! -e lone/sweep.json ]
    jq -e '.shard == "2/3" and (.argv | index("auto/3")) != null' lone/shard-2.json
    # CONCBENCH_MERGE=--allow-partial merges it, saying which cells are
    # missing: shards 1 and 3's.
    merge=$(CONCBENCH_OUT=lone CONCBENCH_MERGE=--allow-partial sbatch --parsable "$root/examples/slurm/merge.sbatch" "$job")
    wait_job "$merge" 120 || { diagnose; false; }
    [ "$(job_states "$merge")" = COMPLETED ] || { diagnose; false; }
    jq -e '.shard_manifest | .partial == true and .shards == [2] and .missing_shards == [1, 3] and (.missing_cells | length) == 8 and (.cells | length) == 4' lone/sweep.json
}
