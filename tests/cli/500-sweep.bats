#!/usr/bin/env bats
# concbench sweep: the matrix it writes (cells, skips, option expansion),
# the declared-option rule, shards, the interleaved order's seed, no
# progress bar off a terminal, and a clean stop on SIGINT.

bats_require_minimum_version 1.5.0

# shellcheck source=bench/lib.sh
source "$BATS_TEST_DIRNAME/../../bench/lib.sh"

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    T=$BATS_TEST_TMPDIR
    # Small work: these tests check the matrix, not the speed.
    FAST=(-o ms=2ms -o n=1e5)
}

# Models this build cannot run, from `list` (they must come back skipped),
# and every model it lists: how many.
unavailable_models() { list_names model unavailable | wc -l; }
all_models() { list_names model | wc -l; }

@test "every cell of models x workloads x tasks is in the report, skips included" {
    run -0 "$CONCBENCH" sweep --models all --workloads primes,sleep \
        --tasks 1,2 --runs 2 "${FAST[@]}" --json "$T/r.json"
    nmodels=$(all_models)
    jq -e '.schema == "concbench/2"' "$T/r.json"
    [ "$(jq '.results | length' "$T/r.json")" -eq $((nmodels * 2 * 2)) ]
    [ "$(jq '.matrix_cells' "$T/r.json")" -eq $((nmodels * 2 * 2)) ]
    # A cell is either skipped with a reason, or has exactly --runs runs.
    jq -e '[.results[] | select(.skipped == null and (.runs | length) != 2)]
           | length == 0' "$T/r.json"
    jq -e '[.results[] | select(.skipped != null and
           ((.skipped | length) < 10 or .failed))] | length == 0' "$T/r.json"
    # Skipped cells are exactly those of unavailable models.
    nskip=$(jq '[.results[] | select(.skipped != null)] | length' "$T/r.json")
    [ "$nskip" -eq $(( $(unavailable_models) * 2 * 2 )) ]
    # sequential ran every cell, and every answer was right.
    jq -e '[.results[] | select(.model == "sequential")] | length == 4 and
           all(.failed == false and all(.runs[]; .result_ok))' "$T/r.json"
    # The table on stdout has one line per cell plus the header.
    [ "${#lines[@]}" -ge $((nmodels * 4 + 1)) ]
}

@test "a cell over a model's limit is skipped with the check's reason" {
    have_model threads || skip "threads is unavailable in this build"
    # Room for a few more threads than this user runs now, not for 5,000.
    running=$(ps -L -u "$(id -u)" --no-headers | wc -l)
    run -0 bash -c "ulimit -u $((running + 60)) && exec '$CONCBENCH' sweep \
        -m threads -w sleep -t 1,5000 -o ms=1ms --runs 1 --json '$T/r.json'"
    jq -e '.results | length == 2' "$T/r.json"
    jq -e '.results[0] | .tasks == 1 and .skipped == null and
           (.runs | length) == 1 and (.failed | not)' "$T/r.json"
    jq -e '.results[1] | .tasks == 5000 and (.failed | not) and
           (.skipped | test("5000 threads: RLIMIT_NPROC"))' "$T/r.json"
    [[ "$output" == *"5000 skipped: cannot start 5000 threads"* ]]
}

@test "-o key=v1,v2 expands into the cartesian product of cells" {
    run -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1,3 --runs 1 \
        -o ms=1ms,3ms -o count=1,2 --json "$T/r.json"
    [ "$(jq '.results | length' "$T/r.json")" -eq 8 ]
    # Eight distinct (ms, count, tasks), each value as given.
    [ "$(jq -c '[.results[] | [.workload_options.ms_ns,
        .workload_options.count, .tasks]] | unique | length' "$T/r.json")" -eq 8 ]
    # A duration's unit is in its key: ns.
    jq -e '[.results[].workload_options.ms_ns] | unique == [1000000, 3000000]' \
        "$T/r.json"
    # Each task does count waits: the result counts them.
    jq -e 'all(.results[]; .runs[0].result ==
           .tasks * .workload_options.count)' "$T/r.json"
}

@test "an option applies only to the cells whose model or workload declares it" {
    run -0 "$CONCBENCH" sweep -m sequential -w primes,sleep -t 2 --runs 1 \
        -o n=1e4,2e4 -o ms=1ms --json "$T/r.json"
    # primes: two values of n; sleep: one cell, and no n recorded on it.
    [ "$(jq '[.results[] | select(.workload == "primes")] | length' "$T/r.json")" -eq 2 ]
    [ "$(jq '[.results[] | select(.workload == "sleep")] | length' "$T/r.json")" -eq 1 ]
    jq -e '[.results[] | select(.workload == "sleep") | .workload_options
           | has("n")] == [false]' "$T/r.json"
    jq -e '[.results[] | select(.workload == "primes") | .runs[0].result]
           == [1229, 2262]' "$T/r.json"
}

@test "an option no selected model or workload declares is a usage error" {
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -o coutn=2 --runs 1
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == *"option 'coutn' is not declared by any selected model or workload; did you mean 'count'?"* ]]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -o n=1e6 --runs 1
    [[ "$output" == *"option 'n' belongs to workload 'primes', which this sweep does not run"* ]]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -o zzzzzz=1 --runs 1
    [[ "$output" == *"option 'zzzzzz' is not declared"*"(see 'concbench list')"* ]]
    # A bad value is refused before anything runs, with no file written.
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -o ms=1ms,soon \
        --json "$T/r.json"
    [[ "$output" == *"soon"* ]]
    [ ! -e "$T/r.json" ]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -o ms=1ms -o ms=2ms
    [[ "$output" == *"option 'ms' given twice; list its values as ms=v1,v2"* ]]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -o ms=1ms,,2ms
    [[ "$output" == *"empty item"* ]]
}

@test "usage errors: unknown names, bad lists and shards, exit 2 and one line" {
    run -2 "$CONCBENCH" sweep -m sequental -w sleep
    [ "$output" = "concbench: unknown model 'sequental'; did you mean 'sequential'?" ]
    run -2 "$CONCBENCH" sweep -m sequential -w slep
    [ "$output" = "concbench: unknown workload 'slep'; did you mean 'sleep'?" ]
    run -2 "$CONCBENCH" sweep -m sequential,sequential -w sleep
    [ "$output" = "concbench: model 'sequential' is listed twice" ]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -t 1,0
    [[ "$output" == "concbench: value '0' for '--tasks' is out of range"* ]]
    for bad in 0/2 3/2 1/0 2 a/b 1/2x /2; do
        run -2 "$CONCBENCH" sweep -m sequential -w sleep --shard "$bad"
        [ "${#lines[@]}" -eq 1 ]
        [[ "$output" == *"shard"* ]]
    done
    run -2 "$CONCBENCH" sweep --interleave --no-interleave
    [ "$output" = "concbench: '--interleave' and '--no-interleave' contradict each other (see 'concbench sweep --help')" ]
    run -2 "$CONCBENCH" sweep --bogus
    [ "$output" = "concbench: unknown option '--bogus' (see 'concbench sweep --help')" ]
    # Flag errors come from the shared parser, in its one-line form.
    run -2 "$CONCBENCH" sweep -r 2 --runs 3
    [ "$output" = "concbench: option '--runs' given twice (see 'concbench sweep --help')" ]
    run -2 "$CONCBENCH" sweep -m
    [ "$output" = "concbench: option '--models' needs a value (see 'concbench sweep --help')" ]
    run -2 "$CONCBENCH" sweep --runs 0
    [ "$output" = "concbench: value '0' for '--runs' is out of range (1 to 10000)" ]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep extra
    [ "$output" = "concbench: unexpected argument 'extra' (see 'concbench sweep --help')" ]
    run -0 "$CONCBENCH" sweep --help
    [[ "$output" == *"--shard K/N"* ]]
    [[ "$output" == *"recorded as skipped with the reason"* ]]
}

@test "--shard K/N slices are disjoint and together are the whole matrix" {
    args=(-m all -w primes,sleep -t 1,2,3 --runs 1 -o ms=1ms,2ms -o n=1e4)
    nmodels=$(all_models)
    # primes: 1 value of n x 3 task counts; sleep: 2 values of ms x 3.
    cells=$((nmodels * (3 + 6)))
    run -0 "$CONCBENCH" sweep "${args[@]}" --json "$T/full.json"
    for k in 1 2 3; do
        run -0 "$CONCBENCH" sweep "${args[@]}" --shard "$k/3" --json "$T/s$k.json"
        jq -e --arg s "$k/3" '.shard == $s' "$T/s$k.json"
        jq -e --argjson n "$cells" '.matrix_cells == $n' "$T/s$k.json"
    done
    key='[.results[] | [.model, .workload, .tasks, .workload_options,
          .model_options] | tojson]'
    full=$(jq -c "$key | sort" "$T/full.json")
    [ "$(jq 'length' <<<"$full")" -eq "$cells" ]
    union=$(jq -s -c "map($key) | add | sort" "$T/s1.json" "$T/s2.json" "$T/s3.json")
    [ "$union" = "$full" ]          # covers, with no cell twice (a sorted list)
    # Round-robin: cell i goes to shard i mod 3 + 1, so sizes are equal.
    for k in 1 2 3; do
        [ "$(jq '.results | length' "$T/s$k.json")" -eq $((cells / 3)) ]
    done
    # The first cell of the matrix is shard 1's first, the second shard 2's.
    [ "$(jq -c '.results[0] | [.model, .workload, .tasks]' "$T/s1.json")" = \
      "$(jq -c '.results[0] | [.model, .workload, .tasks]' "$T/full.json")" ]
    [ "$(jq -c '.results[0] | [.model, .workload, .tasks]' "$T/s2.json")" = \
      "$(jq -c '.results[1] | [.model, .workload, .tasks]' "$T/full.json")" ]
    # A shard past the matrix is empty but valid.
    run -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 -o ms=1ms \
        --shard 2/2 --json "$T/empty.json"
    jq -e '.results == [] and .shard == "2/2"' "$T/empty.json"
}

@test "interleaving is the default with several runs and records its seed" {
    run -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1,2 --runs 3 \
        -o ms=1ms --seed 42 --json "$T/i.json"
    jq -e '.order == "interleaved" and .seed == 42' "$T/i.json"
    jq -e 'all(.results[]; (.runs | length) == 3 and .summary.runs_passed == 3)' \
        "$T/i.json"
    # Without --seed, a seed is still chosen and recorded.
    run -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 --runs 2 -o ms=1ms \
        --json "$T/r.json"
    jq -e '.order == "interleaved" and (.seed | type) == "number"' "$T/r.json"
    # One run, or --no-interleave: cell by cell, no seed.
    run -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 --runs 1 -o ms=1ms \
        --json "$T/o.json"
    jq -e '.order == "by cell" and (has("seed") | not)' "$T/o.json"
    run -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 --runs 2 -o ms=1ms \
        --no-interleave --json "$T/n.json"
    jq -e '.order == "by cell" and (has("seed") | not)' "$T/n.json"
    jq -e '.argv[0:2] == ["concbench", "sweep"]' "$T/n.json"
}

# The execution order, read from the progress lines on a pseudo-terminal.
order_of() {
    script -qec "'$CONCBENCH' sweep -m sequential -w sleep -t 1 --warmup 0 \
        -o ms=1ms,2ms,3ms $* >/dev/null" "$T/tty.log" >/dev/null
    tr '\r' '\n' <"$T/tty.log" | sed -n 's/.* T=1 \(ms=[0-9]*ms\) .*/\1/p' |
        paste -sd' '
}

@test "the interleaved order is shuffled by the seed and replays with it" {
    command -v script >/dev/null || skip "script(1) is not installed"
    a=$(order_of --runs 4 --seed 1)
    b=$(order_of --runs 4 --seed 1)
    c=$(order_of --runs 4 --seed 2)
    [ "$(wc -w <<<"$a")" -eq 12 ]   # one step per timed run
    [ "$a" = "$b" ]                 # the seed replays the order
    [ "$a" != "$c" ]
    # Not cell by cell: the cell changes more often than twice.
    changes=$(tr ' ' '\n' <<<"$a" | uniq | wc -l)
    [ "$changes" -gt 3 ]
    # Each cell still gets exactly its 4 runs.
    [ "$(tr ' ' '\n' <<<"$a" | sort | uniq -c | awk '{print $1}' | sort -u)" = 4 ]
    # Cell by cell: one step per cell, in matrix order.
    [ "$(order_of --runs 4 --no-interleave)" = "ms=1ms ms=2ms ms=3ms" ]
}

@test "off a terminal, progress is plain lines with the ETA, no bar" {
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1,2 \
        --runs 2 -o ms=1ms --json "$T/r.json"
    [[ "$stderr" != *$'\r'* ]]
    [[ "$stderr" != *'[#'* && "$stderr" != *'[.'* ]]
    # After the first step, then every few seconds, then the end.
    [[ "$stderr" == *"sweep: 1/4 steps ("*"%), "*" elapsed, ETA "*"; last: sleep/sequential T="* ]]
    [[ "$stderr" == *"sweep: 4/4 steps done in "* ]]
    [[ "$output" == *"workload"*"model"*"median"* ]]
}

@test "a long sweep off a terminal prints a line every few seconds" {
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 \
        --runs 12 --warmup 0 -o ms=700ms
    # 12 steps of 0.7 s: a line after the first, one about every 5 s, and
    # one at the end; not one a step.
    n=$(grep -c '^sweep: ' <<<"$stderr")
    [ "$n" -ge 3 ] && [ "$n" -le 6 ]
    grep -q '^sweep: [0-9]*/12 steps ([0-9]*%), [0-9]*s elapsed, ETA [0-9]*s; last: ' <<<"$stderr"
}

@test "a progress bar with the cell and an ETA on a terminal" {
    command -v script >/dev/null || skip "script(1) is not installed"
    script -qec "'$CONCBENCH' sweep -m sequential -w sleep -t 1,2 --runs 2 \
        -o ms=1ms --seed 5 >/dev/null" "$T/tty.log" >/dev/null
    grep -q 'ETA' "$T/tty.log"
    grep -q 'sleep/sequential T=2 ms=1ms' "$T/tty.log"
    grep -q '4/4' "$T/tty.log"
}

@test "the progress bar fits the terminal: no redraw wraps at 60 columns" {
    command -v script >/dev/null || skip "script(1) is not installed"
    COLUMNS=60 script -qec "'$CONCBENCH' sweep -m sequential -w sleep \
        -t 1,2 --runs 2 -o ms=1ms -o count=1,2 -o jitter=0,1us \
        --seed 5 >/dev/null" "$T/tty.log" >/dev/null
    grep -q 'ETA' "$T/tty.log"
    # Every redraw, its escapes taken off, is under 60 columns.
    widest=$(tr '\r' '\n' <"$T/tty.log" | sed 's/\x1b\[K//g' | grep ETA |
        awk '{ if (length($0) > w) w = length($0) } END { print w }')
    [ "$widest" -gt 30 ] && [ "$widest" -le 59 ]
}

@test "the table marks warned cells, a digest explains the marks, --verbose lists each" {
    # 3 runs of a 0.2 ms sleep (4 in the longest cell, 0.8 ms: well under
    # 5 ms even on a loaded machine): too short to time well in every cell.
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w sleep \
        -t 1,2 --runs 3 -o ms=200us -o count=1,2 --json "$T/r.json"
    [ "$(grep -c '^sleep .*<$' <<<"$output")" -eq 4 ]
    [[ "$output" == *"< 4 of 4 cells under 5 ms, too short to time well (shortest: sleep under sequential (count="*" task"*")"* ]]
    # With 3 runs outliers are not called, and the digest says why.
    [[ "$output" == *"outliers are called only with 5 or more runs a cell: 4 cells had 3"* ]]
    [[ "$output" == *'each cell'"'"'s warnings: --verbose, and "warnings" in the report'* ]]
    # Without --verbose, no warning a cell on stderr.
    [[ "$stderr" != *"too short to time well"* ]]
    # The report keeps them.
    jq -e 'all(.results[]; any(.warnings[]; .kind == "short" and
           (.text | startswith("runs for under 5 ms"))))' "$T/r.json"
    jq -e '[.results[].warnings[] | select(.kind == "outliers")] == []' \
        "$T/r.json"
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w sleep \
        -t 1,2 --runs 3 -o ms=200us -o count=1,2 --verbose
    # One line a cell, each saying which cell: count tells them apart,
    # and one task is "1 task".
    [ "$(grep -c 'too short to time well' <<<"$stderr")" -eq 4 ]
    grep -qF 'warning: sleep under sequential (count=2, 1 task) runs for under 5 ms' <<<"$stderr"
    grep -qF 'warning: sleep under sequential (count=1, 2 tasks) runs for under 5 ms' <<<"$stderr"
    [[ "$stderr" != *"1 tasks"* ]]
}

@test "--export-csv and --export-markdown write the sweep's table" {
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential,threads \
        -w sleep -t 1,2 --runs 2 -o ms=2ms --export-csv "$T/r.csv" \
        --export-markdown "$T/r.md"
    nthreads=2
    have_model threads || nthreads=0
    # A row per run of every cell that ran.
    [ "$(head -n1 "$T/r.csv")" = "model,workload,options,tasks,run,wall_ns,user_ns,sys_ns,max_rss_kib,ctxsw_voluntary,ctxsw_involuntary,task_p50_ns,task_p99_ns,op_p50_ns,op_p99_ns,ops,bytes,errors,result,result_ok,total_rss_kib" ]
    [ "$(wc -l <"$T/r.csv")" -eq $((1 + 2 * (2 + nthreads))) ]
    grep -q '^sequential,sleep,"ms=2ms",2,2,' "$T/r.csv"
    # A row a cell, with the speedup: 1.00x for the baseline.
    [ "$(sed -n 1p "$T/r.md")" = "| Model | Workload | Options | Tasks | Mean [ms] | Min [ms] | Max [ms] | Runs | Result | Speedup |" ]
    [ "$(wc -l <"$T/r.md")" -eq 6 ]
    grep -q '^| `sequential` | `sleep` | ms=2ms | 2 | .* | 2 | ✓ | 1.00× |$' "$T/r.md"
    if [ "$nthreads" -gt 0 ]; then
        grep -q '^| `threads` | `sleep` | ms=2ms | 2 | .* | [0-9.]*× ([0-9.]*–[0-9.]*) |$' "$T/r.md"
    fi
    # To stdout, the export alone: the table goes to stderr.
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 \
        --runs 1 -o ms=1ms --export-csv -
    [ "${#lines[@]}" -eq 2 ]
    [[ "${lines[0]}" == model,workload,* ]]
    [[ "$stderr" == *median* ]]
    # Bad or clashing paths are refused before anything runs.
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -t 1 -o ms=1ms \
        --export-csv - --export-markdown -
    [ "$output" = "concbench: '--export-csv' and '--export-markdown' both write to '-'; give each its own" ]
    run -2 "$CONCBENCH" sweep -m sequential -w sleep -t 1 -o ms=1ms \
        --export-markdown "$T/no/such/dir/r.md"
    [ "$output" = "concbench: cannot write '$T/no/such/dir/r.md': No such file or directory" ]
}

@test "--json - writes the report to stdout and the table to stderr" {
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w sleep -t 1 \
        --runs 1 -o ms=1ms --json -
    jq -e '.results | length == 1' <<<"$output"
    [[ "$stderr" == *median* ]]
}

@test "SIGINT stops the sweep: exit 130 and no report" {
    "$CONCBENCH" sweep -m sequential -w sleep -t 1,2,4 --runs 5 -o ms=100ms \
        --json "$T/r.json" >/dev/null 2>"$T/err" &
    pid=$!
    sleep 0.5
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 130 ]
    [ ! -e "$T/r.json" ]
    grep -q 'interrupted by SIGINT' "$T/err"
}

@test "a refusal shared by many cells is said once, then counted" {
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential -w yield,sleep \
        -o stack_use=60MiB -o ms=1ms -t 1,2,4 --runs 1
    [ "$(grep -c "needs 61440 KiB of stack a task" <<<"$stderr")" -eq 1 ]
    [[ "$stderr" == *"concbench: warning: 2 more cells were skipped for the same reason; the table and the report name each"* ]]
    # The table still names each.
    [ "$(grep -c '^yield .* skipped: workload .yield. needs 61440 KiB' <<<"$output")" -eq 3 ]
}

@test "--dry-run's columns line up whatever the names' lengths, a mix's too" {
    run --separate-stderr -0 "$CONCBENCH" sweep --dry-run -m sequential,threads \
        -w 'sleep:3+primes:1,sleep' -o sleep.ms=1ms -o primes.n=1e5 -t 4
    echo "$output"
    # The header's "tasks" and every row's task count end in one column.
    end=$(awk '/^workload/ { print index($0, "tasks") + 4 }' <<<"$output")
    [ -n "$end" ]
    rows=$(grep -cE '^(sleep|sleep:3\+primes:1) ' <<<"$output")
    [ "$rows" -eq 4 ]
    grep -E '^(sleep|sleep:3\+primes:1) ' <<<"$output" |
        awk -v e="$end" '{ if (substr($0, e, 1) != "4" || substr($0, e + 1, 1) != " ") bad++ }
                         END { exit bad }'
}
