#!/usr/bin/env bats
# Speedups from pairs (issue 24, sections 4 and 5): a sweep's "speedup"
# objects are the median of ratios of runs paired nearest in time, with a
# bootstrap interval; plot.py draws those intervals; a CPU-bound speedup
# above min(tasks, usable CPUs) is marked impossible. The table's and the
# report's flag on crafted runs are tested in tests/unit/test_paired.c.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    PLOT=$ROOT/scripts/plot.py
    FIX=$ROOT/tests/fixtures
    T=$BATS_TEST_TMPDIR
}

have_matplotlib() {
    /usr/bin/python3 -c 'import matplotlib, numpy' 2>/dev/null
}

# The median of the ratios baseline wall / cell wall, each passed run of the
# cell paired with the sequential passed run nearest in start time (the
# earlier on a tie): computed here in jq, apart from the C code.
REFERENCE='
def med: sort | if length % 2 == 1 then .[(length - 1) / 2]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def abs: if . < 0 then -. else . end;
. as $doc
| [.results[] | select(.model != "sequential" and .speedup != null)
   | . as $c
   | [$doc.results[] | select(.model == "sequential" and .tasks == $c.tasks
                              and .workload == $c.workload
                              and .workload_options == $c.workload_options)
      | .runs[] | select(.failed | not)] as $b
   | [$c.runs[] | select(.failed | not) | . as $r
      | ($b | min_by([(.start_ns - $r.start_ns | abs), .start_ns])) as $n
      | $n.wall_ns / $r.wall_ns] as $ratios
   | {model, tasks, value: .speedup.value, ref: ($ratios | med),
      min: ($ratios | min), max: ($ratios | max)}]'

@test "a small interleaved sweep reports a paired speedup for each cell, and plot.py draws it" {
    run --separate-stderr -0 "$CONCBENCH" sweep -m sequential,threads \
        -w primes -o n=1e7 \
        -t 1,2 --runs 3 --interleave --seed 7 --json "$T/r.json"
    # Every run says when it started; the sequential cells are the
    # baseline and have no speedup of their own.
    jq -e 'all(.results[].runs[]; (.start_ns | type) == "number")' "$T/r.json"
    jq -e '[.results[] | select(.model == "sequential") | .speedup] ==
           [null, null]' "$T/r.json"
    jq -e '[.results[] | select(.model == "threads")] | length == 2 and
           all(.[]; .speedup.pairs == 3 and .speedup.pairs ==
               .summary.runs_passed and
               .speedup.ci95[0] <= .speedup.value and
               .speedup.value <= .speedup.ci95[1] and
               .speedup.baseline == "sequential" and
               .speedup.method == "median of ratios of runs paired nearest in time; bootstrap 95% CI" and
               (.speedup.impossible | type) == "boolean")' "$T/r.json"
    # primes is CPU-bound: each is checked against min(tasks, usable CPUs),
    # and flagged exactly when its interval lies wholly 5% above that.
    jq -e '.host.usable_cpus as $u |
           all(.results[] | select(.speedup != null);
               .speedup.limit == ([.tasks, $u] | min) and
               .speedup.impossible == (.speedup.ci95[0] >
                                       .speedup.limit * 1.05) and
               ((.speedup.why != null) == .speedup.impossible))' "$T/r.json"
    # The value is the median of the paired ratios, recomputed here; the
    # interval lies within the ratios.
    jq -e "$REFERENCE"' | length == 2 and all(.[];
           (.value - .ref | if . < 0 then -. else . end) <= 1e-9 * .ref and
           .min <= .value and .value <= .max)' "$T/r.json"
    jq -e '[.results[] | .speedup // empty | .ci95[0] >= 0] | all' "$T/r.json"
    # The table shows that speedup and its interval, the baseline at 1.00x.
    [[ "${lines[0]}" =~ speedup\ \(95%\ CI\)\ +notes$ ]]
    for t in 1 2; do
        want=$(jq -r --argjson t "$t" '.results[] | select(.model == "threads"
               and .tasks == $t) | .speedup | "\(.value * 100 | round)"' \
               "$T/r.json")
        line=$(grep -E "^primes +threads +n=1e7 +$t " <<<"$output")
        [[ "$line" =~ \ ([0-9]+)\.([0-9]{2})x\ \([0-9.]+…[0-9.]+\) ]]
        # Printed with 2 decimals: within one unit of the last of them.
        got=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
        [ $((got - want)) -le 1 ] && [ $((want - got)) -le 1 ]
    done
    # The baseline at 1.00x, then its warnings' marks if it has any.
    grep -qE '^primes +sequential +n=1e7 +2 .* 1\.00x( +[~!*<]+)?$' <<<"$output"

    have_matplotlib || skip "python3-matplotlib is not installed"
    run -0 "$PLOT" "$T/r.json" -o "$T/out"
    [ -s "$T/out/headline.png" ] && [ -s "$T/out/headline.svg" ]
    grep -qF 'speedup: median of ratios of runs paired in time' \
        "$T/out/headline.svg"
    grep -qF 'speedup over sequential (×, 95% CI)' "$T/out/headline.svg"
    ! grep -qF 'ratio of medians' "$T/out/headline.svg"
}

# The sample report (no "speedup" objects: an older report), with paired
# speedups written into it by jq for primes at 2 and 4 tasks on 2 CPUs.
craft() {
    jq "$1"' |
        def sp($v; $lo; $hi): {value: $v, ci95: [$lo, $hi], pairs: 3,
            baseline: "sequential", method: "median of ratios of runs paired nearest in time; bootstrap 95% CI",
            limit: 2, impossible: false};
        .results |= map(
          if .workload == "primes" and .model == "threads" and
             .model_options.gil == "off" and .tasks == 2
          then .speedup = sp(2.6; 2.4; 2.8)
          elif .workload == "primes" and .model == "fork" and .tasks == 4
          then .speedup = sp(1.9; 1.8; 1.95)
          elif .workload == "sleep" and .model == "threads" and
               .model_options.gil == "off" and .tasks == 2
          then .speedup = sp(2.6; 2.4; 2.8)
          else . end)' "$FIX/sample-report.json"
}

@test "the impossible-speedup flag trips on a report crafted to exceed the limit" {
    have_matplotlib || skip "python3-matplotlib is not installed"
    # threads at 2 tasks: 2.4-2.8x on 2 CPUs, beyond 2 x 1.05 though the
    # report did not say so. plot.py checks the physics itself.
    craft '.' >"$T/over.json"
    run --separate-stderr -0 "$PLOT" "$T/over.json" -o "$T/over"
    [ "$stderr" = "plot.py: primes, threads gil=off with 2 tasks: speedup 2.60x (95% CI 2.40-2.80) is above min(tasks, usable CPUs) = 2: the baseline was disturbed" ]
    grep -qF '✗ impossible: above min(tasks, CPUs) = 2, the baseline was disturbed' \
        "$T/over/headline.svg"
    grep -qF '✗ impossible: above min(tasks, CPUs)<' "$T/over/headline.svg"
    # Drawn hatched: the SVG fills the marks with a pattern.
    grep -q '<pattern id=' "$T/over/headline.svg"
    grep -q 'url(#h' "$T/over/headline.svg"
    # The sleep cell at the same 2.6x is I/O-bound: waits overlap beyond
    # the CPUs, so it is not flagged.
    [[ "$stderr" != *sleep* ]]

    # A report that flags a speedup itself is marked, whatever its numbers.
    # With usable CPUs recorded, the limit is min(tasks, usable CPUs): a
    # quota of 1.5 CPUs makes every parallel primes cell of the sample
    # (about 1.8x) impossible, paired or not.
    craft '(.results[] | select(.workload == "primes" and .model == "green"
            and .tasks == 1)).speedup = {value: 1.0, ci95: [0.9, 1.1],
            pairs: 3, impossible: true, why: "above min(tasks, usable CPUs) = 1: the baseline was disturbed"}
           | .host.usable_cpus = 1.5' >"$T/quota.json"
    run --separate-stderr -0 "$PLOT" "$T/quota.json" -o "$T/quota"
    [ "${#stderr_lines[@]}" -eq 7 ]
    for m in fork "threads gil=off"; do
        for t in 2 4 8; do
            [[ "$stderr" == *"plot.py: primes, $m with $t tasks: speedup "*"is above min(tasks, usable CPUs) = 1.5: the baseline was disturbed"* ]]
        done
    done
    [[ "$stderr" == *"plot.py: primes, fork with 4 tasks: speedup 1.90x (95% CI 1.80-1.95) is above"* ]]
    [[ "$stderr" == *"plot.py: primes, threads gil=off with 2 tasks: speedup 2.60x (95% CI 2.40-2.80) is above"* ]]
    [[ "$stderr" == *"plot.py: primes, green with 1 task: speedup 1.00x (95% CI 0.90-1.10) is above min(tasks, usable CPUs) = 1: the baseline was disturbed"* ]]
    grep -qF '✗ impossible: above min(tasks, CPUs) = 1, 1.5, the baseline was disturbed' \
        "$T/quota/headline.svg"
    grep -qF 'ideal = min(tasks, 1.5 usable CPUs)' "$T/quota/headline.svg"

    # Believable speedups are not marked: the same report within the limit.
    craft '.' | jq '(.results[] | .speedup // empty) |= (.value = 1.9 |
        .ci95 = [1.8, 2.09])' >"$T/fine.json"
    run --separate-stderr -0 "$PLOT" "$T/fine.json" -o "$T/fine"
    [ -z "$stderr" ]
    ! grep -qF 'impossible' "$T/fine/headline.svg"
}

@test "an older report without speedup objects plots the ratio of medians, and flags it too" {
    have_matplotlib || skip "python3-matplotlib is not installed"
    run --separate-stderr -0 "$PLOT" "$FIX/sample-report.json" -o "$T/old"
    [ -z "$stderr" ]
    grep -qF 'speedup: ratio of medians' "$T/old/headline.svg"
    ! grep -qF 'paired' "$T/old/headline.svg"
    # Its sequential primes runs slowed threefold: ratios of medians above
    # 2 on 2 CPUs are flagged as well.
    jq '(.results[] | select(.workload == "primes" and .model ==
         "sequential" and .tasks == 2) | .runs[].wall_ns) |= . * 3' \
        "$FIX/sample-report.json" >"$T/slow.json"
    run --separate-stderr -0 "$PLOT" "$T/slow.json" -o "$T/slow"
    [[ "$stderr" == *"primes, fork with 2 tasks: speedup "*"is above min(tasks, usable CPUs) = 2: the baseline was disturbed"* ]]
    [[ "$stderr" == *"primes, threads gil=off with 2 tasks: speedup "* ]]
    grep -qF '✗ impossible: above min(tasks, CPUs) = 2' "$T/slow/headline.svg"
}
