#!/usr/bin/env bats
# The recipes of examples/ as their engines would run them
# (tests/cli/examples.py): every YAML file is well formed (Debian's
# python3-yaml parses it), and every concbench command line in the YAML
# files and the sbatch files goes through concbench's own parser with
# --dry-run, under the variables its job would have: a Slurm array task's
# SLURM_ARRAY_*, a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, a GitHub
# Actions matrix. Each sweep then leaves a small stand-in report where the
# recipe writes its shard, so the recipe's own merge must find every shard
# of the plan. A misspelled flag, a shard count that does not match the
# array, or a merge that reads other files than the sweeps write fails
# here; the last test proves it does.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    cd "$root"
    export REPO=$root
    w=$BATS_TEST_TMPDIR
    /usr/bin/python3 -c 'import yaml' || {
        echo "python3-yaml is not installed (scripts/deps.sh installs it)"
        false
    }
}

ex() {
    /usr/bin/python3 tests/cli/examples.py "$@"
}

# The calls the runner logged for file $2 in log $1: subcommand, exit
# code, shard, arguments (tab-separated).
calls() {
    awk -F'\t' -v f="$2" '$1 == f { print $2 "\t" $3 "\t" $4 "\t" $5 }' "$1"
}

# The shards the sweeps of file $2 resolved, sorted by K, unique.
shards() {
    calls "$1" "$2" | awk -F'\t' '$1 == "sweep" { print $3 }' | sort -t/ -k1,1n -u | paste -sd' '
}

# Every subcommand file $2 invokes (examples.py commands) ran, and each
# call exited as a job that passes: no usage error anywhere.
covered() { # log file
    local sub
    for sub in $(ex commands "$2" | cut -f2); do
        calls "$1" "$2" | cut -f1 | grep -qx "$sub" || {
            echo "$2: its '$sub' line never ran"
            return 1
        }
    done
    ! calls "$1" "$2" | awk -F'\t' '$1 ~ /^(sweep|merge)$/ && $2 != 0' | grep -q .
}

@test "every YAML file under examples/ is well formed, in the shape its engine reads" {
    run ex check-yaml examples
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"examples/github-actions/sharded-sweep.yml: 1 document"* ]]
    [[ "$output" == *"examples/github-actions/perf.yml: 1 document"* ]]
    [[ "$output" == *"examples/kubernetes/sweep-job.yaml: 2 documents"* ]]
    [[ "$output" == *"examples/kubernetes/merge-job.yaml: 1 document"* ]]
    # A file that is not YAML is named.
    mkdir -p "$w/bad"
    printf 'jobs:\n  a: [unclosed\n' >"$w/bad/x.yml"
    run ex check-yaml "$w/bad"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$w/bad/x.yml is not well-formed YAML"* ]]
}

@test "the examples install what the build needs (scripts/deps.sh's build list)" {
    run ex build-packages scripts/deps.sh examples/github-actions/*.yml examples/kubernetes/Dockerfile
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"libck-dev"* ]]
    sed 's/ libck-dev//' examples/kubernetes/Dockerfile >"$w/Dockerfile"
    run ex build-packages scripts/deps.sh "$w/Dockerfile"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$w/Dockerfile installs without libck-dev"* ]]
}

@test "examples/slurm: every array task's sweep passes the parser under SLURM_ARRAY_* (--shard auto), and merge.sbatch joins the 8 shards" {
    run ex slurm "$w/s" "$w/log" examples/slurm/shard.sbatch examples/slurm/merge.sbatch
    echo "$output"
    [ "$status" -eq 0 ]
    covered "$w/log" examples/slurm/shard.sbatch
    covered "$w/log" examples/slurm/merge.sbatch
    # The array of the #SBATCH line, 1-8: each task its own shard.
    [ "$(shards "$w/log" examples/slurm/shard.sbatch)" = "1/8 2/8 3/8 4/8 5/8 6/8 7/8 8/8" ]
    [[ "$output" == *"into 'results/raw/sweep-4242/sweep.json': 8 cells, all 8 shards of plan "* ]]
    # The sweep as shipped, --shard auto as its task sees it.
    calls "$w/log" examples/slurm/shard.sbatch | grep -qxF $'sweep\t0\t3/8\t--models all --workloads primes,sleep --runs 10 --shard auto --json results/raw/sweep-4242/shard-3.json'

    # Rerunning shards 3 and 5 of that array (examples/README.md).
    run ex slurm "$w/s" "$w/log2" examples/slurm/shard.sbatch examples/slurm/merge.sbatch \
        --array 3,5 CONCBENCH_SHARDS=8 CONCBENCH_OUT=results/raw/sweep-4242
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(shards "$w/log2" examples/slurm/shard.sbatch)" = "3/8 5/8" ]
    [[ "$output" == *"all 8 shards of plan"* ]]
    # An array from 0 is a plan too; a list (3,5) is not, without its N.
    run ex slurm "$w/s0" "$w/log3" examples/slurm/shard.sbatch examples/slurm/merge.sbatch --array 0-3
    [ "$status" -eq 0 ]
    [ "$(shards "$w/log3" examples/slurm/shard.sbatch)" = "1/4 2/4 3/4 4/4" ]
    run ex slurm "$w/s1" "$w/log4" examples/slurm/shard.sbatch examples/slurm/merge.sbatch --array 3,5
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: --shard auto: the job array 3-5 holds 2 tasks (SLURM_ARRAY_TASK_COUNT), not a range of 3; for some shards of a larger plan give its N: --shard auto/N"* ]]
}

@test "examples/github-actions/sharded-sweep.yml: each matrix job's sweep passes the parser, the merge job joins the 4 shards it uploaded" {
    f=examples/github-actions/sharded-sweep.yml
    run ex github "$w/g" "$w/log" "$f"
    echo "$output"
    [ "$status" -eq 0 ]
    covered "$w/log" "$f"
    [ "$(shards "$w/log" "$f")" = "1/4 2/4 3/4 4/4" ]
    # Each shard's dry run, then its run, with the workflow's $SWEEP.
    [ "$(calls "$w/log" "$f" | grep -c $'^sweep\t0\t[1-4]/4\t--models all --workloads primes,sleep --shard [1-4]/4 --dry-run$')" -eq 4 ]
    [ "$(calls "$w/log" "$f" | grep -c $'^sweep\t0\t[1-4]/4\t--models all --workloads primes,sleep --shard [1-4]/4 --json shard-[1-4].json$')" -eq 4 ]
    [[ "$output" == *"into 'sweep.json': 8 cells, all 4 shards of plan "* ]]
}

@test "examples/github-actions/perf.yml: base against head, compare's options pass and its Markdown table lands in the job summary" {
    f=examples/github-actions/perf.yml
    run ex github "$w/g" "$w/log" "$f"
    echo "$output"
    [ "$status" -eq 0 ]
    covered "$w/log" "$f"
    # The base branch's build is the one bench/regress.sh measures against.
    calls "$w/log" "$f" | grep -qx $'git\t0\t-\tworktree add '"$w/g/regress-0/tmp/base"' origin/main'
    calls "$w/log" "$f" | grep -qx $'make\t0\t-\t'"$w/g/regress-0/tmp/base"
    calls "$w/log" "$f" | grep -q $'^compare\t[014]\t-\t.* --format md --threshold 10%$'
    grep -q '^| cell | base | new | change | 95% CI | p | verdict |$' "$w/g/regress-0/summary.md"
}

@test "examples/kubernetes: the Indexed Job's pods take shards 1/4 to 4/4 from JOB_COMPLETION_INDEX (--shard auto/4), the merge Job joins them" {
    run ex kubernetes "$w/k" "$w/log" examples/kubernetes/sweep-job.yaml examples/kubernetes/merge-job.yaml
    echo "$output"
    [ "$status" -eq 0 ]
    covered "$w/log" examples/kubernetes/sweep-job.yaml
    covered "$w/log" examples/kubernetes/merge-job.yaml
    [ "$(shards "$w/log" examples/kubernetes/sweep-job.yaml)" = "1/4 2/4 3/4 4/4" ]
    [[ "$output" == *"into 'sweep.json': 8 cells, all 4 shards of plan "* ]]
    # The merge Job prints the report last, for kubectl logs.
    jq -e '.shard_manifest.shards == [1, 2, 3, 4]' "$w/k/volumes/concbench-results/concbench-sweep/sweep.json"
    # completions and auto/N must agree: a fifth pod's index is refused.
    sed 's/completions: 4/completions: 5/' examples/kubernetes/sweep-job.yaml >"$w/five.yaml"
    run ex kubernetes "$w/k5" "$w/log5" "$w/five.yaml" examples/kubernetes/merge-job.yaml
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: --shard auto/4: JOB_COMPLETION_INDEX is 4, past the 4 completions (0 to 3)"* ]]
}

@test "a typo in an example fails: a misspelled flag in each kind of recipe" {
    mkdir -p "$w/slurm" "$w/gh" "$w/k8s"
    sed 's/--shard "auto/--shrad "auto/' examples/slurm/shard.sbatch >"$w/slurm/shard.sbatch"
    run ex slurm "$w/s" "$w/log" "$w/slurm/shard.sbatch" examples/slurm/merge.sbatch
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: unknown option '--shrad'; did you mean '--shard'?"* ]]
    sed 's/merge "${flags\[@\]}" "$dir"\/shard-\*\.json/merge --partial "$dir"\/shard-*.json/' examples/slurm/merge.sbatch >"$w/slurm/merge.sbatch"
    grep -q 'merge --partial' "$w/slurm/merge.sbatch"
    run ex slurm "$w/s2" "$w/log" examples/slurm/shard.sbatch "$w/slurm/merge.sbatch"
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: unknown option '--partial'"* ]]
    sed 's/--workloads primes,sleep/--workloads primes,slep/' examples/github-actions/sharded-sweep.yml >"$w/gh/sharded-sweep.yml"
    run ex github "$w/g" "$w/log" "$w/gh/sharded-sweep.yml"
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: unknown workload 'slep'; did you mean 'sleep'?"* ]]
    sed 's/--threshold 10%/--treshold 10%/' examples/github-actions/perf.yml >"$w/gh/perf.yml"
    run ex github "$w/g2" "$w/log" "$w/gh/perf.yml"
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: unknown option '--treshold'"* ]]
    # An upload of a file the sweep did not write.
    sed 's/path: shard-\${{ matrix.k }}.json/path: shards-${{ matrix.k }}.json/' examples/github-actions/sharded-sweep.yml >"$w/gh/upload.yml"
    run ex github "$w/g3" "$w/log" "$w/gh/upload.yml"
    [ "$status" -eq 1 ]
    [[ "$output" == *"nothing to upload at 'shards-1.json'"* ]]
    sed 's/--json sweep.json/--jsn sweep.json/' examples/kubernetes/merge-job.yaml >"$w/k8s/merge-job.yaml"
    run ex kubernetes "$w/k" "$w/log" examples/kubernetes/sweep-job.yaml "$w/k8s/merge-job.yaml"
    [ "$status" -eq 1 ]
    [[ "$output" == *"concbench: unknown option '--jsn'"* ]]
    # An expression the runner cannot evaluate is refused, not skipped.
    sed 's/\${{ matrix.k }}\/4 --dry-run/${{ matrix.shard }}\/4 --dry-run/' examples/github-actions/sharded-sweep.yml >"$w/gh/expr.yml"
    run ex github "$w/g4" "$w/log" "$w/gh/expr.yml"
    [ "$status" -eq 2 ]
    [[ "$output" == *"expression 'matrix.shard' (only matrix.* here)"* ]]
}
