#!/usr/bin/env bats
# concbench compare on synthetic reports: the false-positive rate over many
# seeds, a real slowdown and speed-up, bad input, unmatched cells, failed
# runs, and the md, json and github-benchmark shapes.

bats_require_minimum_version 1.5.0

setup_file() {
    gen="$BATS_FILE_TMPDIR/gen.py"
    export gen
    # Writes concbench/1 reports whose wall_ns is base * scale * (1 + noise
    # * N(0,1)), one cell per --cells entry (model:workload:tasks), cell i
    # with base (i+1) * 10 ms. --count K writes OUT-0.json ... with seeds
    # seed+0 ... (one process for many files).
    cat >"$gen" <<'EOF'
import argparse, json, random
p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--count", type=int, default=0)
p.add_argument("--runs", type=int, default=10)
p.add_argument("--noise", type=float, default=0.02)
p.add_argument("--scale", type=float, default=1.0)
p.add_argument("--cells", default="sequential:primes:1")
p.add_argument("--cpu", default="Test CPU")
p.add_argument("--cpus", type=int, default=2)
p.add_argument("--fail", default="", help="cells whose runs all fail")
p.add_argument("--fail-runs", type=int, default=0, help="failed runs per cell")
p.add_argument("--schema", default="concbench/1")
a = p.parse_args()

def report(seed):
    rng = random.Random(seed)
    results = []
    for i, spec in enumerate(a.cells.split(",")):
        model, workload, tasks = spec.split(":")
        cell_failed = str(i) in a.fail.split(",")
        runs = []
        for r in range(a.runs):
            failed = cell_failed or r < a.fail_runs
            w = 1e7 * (i + 1) * a.scale * (1 + a.noise * rng.gauss(0, 1))
            if failed:
                w *= 100  # a failed run must never be averaged in
            run = {"wall_ns": int(w), "user_ns": int(w * 0.9),
                   "sys_ns": int(w * 0.05), "max_rss_kib": 2048 + r,
                   "task_ns": {"p50": int(w / 2), "p75": int(w * 0.6),
                               "p90": int(w * 0.8), "p99": int(w * 0.9),
                               "max": int(w)},
                   "result": 78498, "result_ok": not failed, "failed": failed}
            if failed:
                run["why"] = "wrong result"
            runs.append(run)
        results.append({"model": model, "model_options": {},
                        "workload": workload,
                        "workload_options": {"n": 1000000 * (i + 1)},
                        "tasks": int(tasks), "warmup": 1, "runs": runs,
                        "failed": cell_failed or a.fail_runs > 0})
    return {"schema": a.schema, "concbench": {"version": "test", "build": {}},
            "host": {"cpu_model": a.cpu, "cpus": a.cpus, "mem_bytes": 1 << 30,
                     "kernel": "Linux 6.1", "loadavg_start": [0, 0, 0]},
            "started_at": "2024-01-01T00:00:00Z", "argv": ["concbench"],
            "results": results}

if a.count:
    for k in range(a.count):
        with open("%s-%d.json" % (a.out, k), "w") as f:
            json.dump(report(a.seed + k), f)
else:
    with open(a.out, "w") as f:
        json.dump(report(a.seed), f)
EOF
}

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    d="$BATS_TEST_TMPDIR"
}

gen() { /usr/bin/python3 "$gen" "$@"; }

@test "identical distributions over 200 seeds flag about alpha of them" {
    gen "$d/base" --count 200 --seed 1000 --runs 10
    gen "$d/new" --count 200 --seed 5000 --runs 10
    flagged=0 other=0
    for k in $(seq 0 199); do
        # Threshold 0: only the test decides, so this measures its level.
        # Nearly every cell is then noisy (no interval lies within +-0%):
        # --accept-noisy keeps exit 4 out, so 0 and 1 are all there is.
        run --separate-stderr "$CONCBENCH" compare "$d/base-$k.json" "$d/new-$k.json" --threshold 0 --alpha 0.01 --accept-noisy
        case $status in
        0) ;;
        1) flagged=$((flagged + 1)) ;;
        *) other=$((other + 1)) ;;
        esac
    done
    echo "flagged $flagged of 200"
    [ "$other" -eq 0 ]
    # "slower" is one tail of a two-sided 0.01 test: 1 expected; 6 is the
    # binomial 99.9% bound for a rate of alpha itself.
    [ "$flagged" -le 6 ]
}

@test "a 10% slowdown with 2% noise and 10 runs is flagged (exit 1)" {
    gen "$d/base.json" --seed 1 --runs 10 --noise 0.02
    gen "$d/new.json" --seed 2 --runs 10 --noise 0.02 --scale 1.10
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json"
    [ "$status" -eq 1 ]
    [[ "$output" == *"primes/sequential t=1"*"slower"* ]]
    [[ "$output" == *"1 slower"* ]]
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json
    [ "$status" -eq 1 ]
    jq -e '.regressions == 1 and .cells[0].verdict == "slower"' <<<"$output"
    jq -e '.cells[0].change_pct > 6 and .cells[0].change_pct < 14' <<<"$output"
    jq -e '.cells[0].ci95_pct[0] <= .cells[0].change_pct and .cells[0].change_pct <= .cells[0].ci95_pct[1]' <<<"$output"
    jq -e '.cells[0].p < 0.01 and .cells[0].base.runs == 10 and .cells[0].new.runs == 10' <<<"$output"
    # The same change under a 15% threshold is not a regression.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --threshold 15%
    [ "$status" -eq 0 ]
    [[ "$output" == *"unchanged"*"within the 15% threshold"* ]]
}

@test "a 10% speed-up is reported as faster and exits 0" {
    gen "$d/base.json" --seed 3 --runs 10
    gen "$d/new.json" --seed 4 --runs 10 --scale 0.90
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json
    [ "$status" -eq 0 ]
    jq -e '.regressions == 0 and .cells[0].verdict == "faster"' <<<"$output"
    jq -e '.cells[0].change_pct < -6 and .cells[0].change_pct > -14' <<<"$output"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json"
    [ "$status" -eq 0 ]
    [[ "$output" == *"faster"* ]]
}

@test "disturbed runs are left out and counted; --keep-disturbed counts them" {
    gen "$d/base.json" --seed 3 --runs 10
    gen "$d/new.json" --seed 4 --runs 10 --scale 1.20
    # Every run of new lost over 5% to other work: its slowdown is no
    # verdict, and the one cell is noisy (exit 4).
    jq '.results[0].runs[] |= . + {disturbed: ["runqueue"]}' "$d/new.json" >"$d/dist.json"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/dist.json" --format json
    echo "$output"
    [ "$status" -eq 4 ]
    jq -e '.cells[0].verdict == "noisy" and .cells[0].new.disturbed_runs == 10 and .cells[0].new.runs == 0' <<<"$output"
    jq -e '.cells[0].note == "every passed run in new was disturbed (10)"' <<<"$output"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/dist.json" --keep-disturbed --format json
    [ "$status" -eq 1 ]
    jq -e '.cells[0].verdict == "slower" and .outcome.keep_disturbed == true' <<<"$output"
    # Two disturbed runs of ten: left out, the rest still decide.
    jq '.results[0].runs[0,1] |= . + {disturbed: ["steal"]}' "$d/new.json" >"$d/two.json"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/two.json"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"slower"*"0+2 disturbed runs left out"* ]]
}

@test "too few runs are noisy, with a warning that computes the best p" {
    gen "$d/base.json" --seed 5 --runs 3
    gen "$d/new.json" --seed 6 --runs 3 --scale 1.10
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json"
    # The one cell compared is noisy: inconclusive, exit 4.
    [ "$status" -eq 4 ]
    [[ "$output" == *"noisy (too few runs: 3 and 3 cannot reach p < 0.01 (best 0.1))"* ]]
    # 3 and 3: 2 / C(6,3) = 0.1; 5 a side reach 0.0079 < 0.01.
    [[ "$stderr" == *"has 3 and 3 passed runs: Mann-Whitney cannot reach p < 0.01"*"(best 0.1)"*"at least 5 a side"* ]]
    [[ "$stderr" == *"concbench: inconclusive: 1 of 1 compared cells are noisy; give more runs, or pass --accept-noisy" ]]
    # Unchanged data with enough runs says so rather than "noisy".
    gen "$d/b2.json" --seed 7 --runs 10 --noise 0.005
    gen "$d/n2.json" --seed 8 --runs 10 --noise 0.005
    run --separate-stderr "$CONCBENCH" compare "$d/b2.json" "$d/n2.json"
    [ "$status" -eq 0 ]
    [[ "$output" == *"unchanged"* ]]
    [ -z "$stderr" ]
}

@test "malformed, truncated or wrong-schema JSON: one line naming the file, exit 2" {
    gen "$d/good.json" --seed 1
    head -c 300 "$d/good.json" >"$d/truncated.json"
    printf 'not json at all' >"$d/garbage.json"
    : >"$d/empty.json"
    gen "$d/schema2.json" --schema concbench/9
    jq '.results[0].runs[0].wall_ns = "fast"' "$d/good.json" >"$d/wrongtype.json"
    jq 'del(.schema)' "$d/good.json" >"$d/noschema.json"
    jq '.results = {}' "$d/good.json" >"$d/noresults.json"
    echo '[1, 2]' >"$d/array.json"
    for f in truncated garbage empty schema2 wrongtype noschema noresults array missing; do
        for order in base new; do
            if [ "$order" = base ]; then
                run --separate-stderr "$CONCBENCH" compare "$d/$f.json" "$d/good.json"
            else
                run --separate-stderr "$CONCBENCH" compare "$d/good.json" "$d/$f.json"
            fi
            echo "$f ($order): $status: $stderr"
            [ "$status" -eq 2 ]
            [ -z "$output" ]
            [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
            [[ "$stderr" == "concbench: "*"$d/$f.json"* ]]
        done
    done
    run --separate-stderr "$CONCBENCH" compare "$d/good.json" "$d/schema2.json"
    [[ "$stderr" == *"has schema 'concbench/9'; this concbench reads 'concbench/2' and 'concbench/1'"* ]]
    run --separate-stderr "$CONCBENCH" compare "$d/good.json" "$d/wrongtype.json"
    [[ "$stderr" == *"results[0].runs[0]"*"wall_ns"* ]]
}

@test "bad flags exit 2 with a one-line reason" {
    gen "$d/a.json"
    run --separate-stderr "$CONCBENCH" compare "$d/a.json"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "$stderr" = "concbench: compare needs two reports, BASE and NEW (see 'concbench compare --help')" ]
    run --separate-stderr "$CONCBENCH" compare --bogus "$d/a.json" "$d/a.json"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "$stderr" = "concbench: unknown option '--bogus' (see 'concbench compare --help')" ]
    run --separate-stderr "$CONCBENCH" compare "$d/a.json" "$d/a.json" --metric
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option '--metric' needs a value (see 'concbench compare --help')" ]
    run --separate-stderr "$CONCBENCH" compare "$d/a.json" "$d/a.json" --alpha 2
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"bad value '2' for '--alpha'"* ]]
    run --separate-stderr "$CONCBENCH" compare "$d/a.json" "$d/a.json" --threshold five
    [ "$status" -eq 2 ]
    run --separate-stderr "$CONCBENCH" compare "$d/a.json" "$d/a.json" --format mdd
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"unknown format 'mdd'; did you mean 'md'?"* ]]
    run --separate-stderr "$CONCBENCH" compare "$d/a.json" "$d/a.json" --metric wall_nss
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"no run has the metric 'wall_nss'; did you mean 'wall_ns'?"* ]]
    run --separate-stderr "$CONCBENCH" compare "$d/a.json" "$d/a.json" "$d/a.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unexpected argument '$d/a.json': compare takes two reports, BASE and NEW (see 'concbench compare --help')" ]
    run "$CONCBENCH" compare --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: concbench compare BASE.json NEW.json "* ]]
    [[ "$output" == *"task_ns.p99"* ]]
}

@test "cells in only one report are listed, the rest still compared" {
    gen "$d/base.json" --cells sequential:primes:1,sequential:primes:2,sequential:sleep:4
    gen "$d/new.json" --seed 9 --cells sequential:primes:1,sequential:primes:8,sequential:sleep:4
    # A cell of base missing from new fails the gate, named.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json
    [ "$status" -eq 1 ]
    jq -e '.cells | length == 2' <<<"$output"
    jq -e '.only_in_base | length == 1 and .[0].tasks == 2' <<<"$output"
    jq -e '.only_in_new | length == 1 and .[0].tasks == 8' <<<"$output"
    jq -e '.regressions == 0 and .outcome.verdict == "fail" and .outcome.exit_code == 1 and .outcome.missing_from_new == 1' <<<"$output"
    jq -e '.outcome.why == "1 cell of base missing from new"' <<<"$output"
    [[ "$stderr" == *"concbench: missing from new '$d/new.json': primes/sequential t=2"* ]]
    [[ "$stderr" == *"concbench: 1 cell of base '$d/base.json' is missing from new: failing (--allow-missing compares the rest)"* ]]
    [[ "$stderr" == *"only in new '$d/new.json': primes/sequential t=8"* ]]
    # --allow-missing makes it the warning it was, and the rest passes.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json --allow-missing
    [ "$status" -eq 0 ]
    jq -e '.cells | length == 2' <<<"$output"
    jq -e '.outcome.verdict == "pass" and .outcome.why == "1 cell of base missing from new (allowed)"' <<<"$output"
    [[ "$stderr" == *"only in base '$d/base.json': primes/sequential t=2"* ]]
    [[ "$stderr" == *"only in new '$d/new.json': primes/sequential t=8"* ]]
    [[ "$stderr" != *"missing from new"* ]]
}

@test "only passed runs count; a cell with no passed run in NEW fails" {
    gen "$d/base.json" --seed 10 --fail-runs 3
    gen "$d/new.json" --seed 11
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json
    [ "$status" -eq 0 ]
    # The 3 failed runs (100x slower) are left out, not averaged in.
    jq -e '.cells[0].base.runs == 7 and .cells[0].base.failed_runs == 3' <<<"$output"
    jq -e '.cells[0].change_pct | fabs < 5' <<<"$output"
    gen "$d/broken.json" --seed 12 --fail 0
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/broken.json" --format json
    [ "$status" -eq 1 ]
    jq -e '.cells[0].verdict == "failed" and .cells[0].new.runs == 0' <<<"$output"
    run --separate-stderr "$CONCBENCH" compare "$d/broken.json" "$d/new.json"
    [ "$status" -eq 0 ]
    [[ "$output" == *"failed (no passed run in base"* ]]
}

@test "different hosts are warned about" {
    gen "$d/base.json" --cpu "CPU A" --cpus 2
    gen "$d/new.json" --seed 3 --cpu "CPU B" --cpus 16
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"hosts differ: base ran on 'CPU A' with 2 cpus, new on 'CPU B' with 16 cpus"* ]]
}

@test "metrics: CPU time, memory and per-run percentiles" {
    gen "$d/base.json" --seed 1
    gen "$d/new.json" --seed 2 --scale 1.2
    for m in user_ns sys_ns cpu_ns task_ns.p50 task_ns.p99; do
        run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --metric "$m" --format json
        [ "$status" -eq 1 ]
        jq -e --arg m "$m" '.metric == $m and .unit == "ns" and .cells[0].verdict == "slower"' <<<"$output"
    done
    # max_rss_kib is the same in both (2048 + run): unchanged, in KiB.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --metric max_rss_kib --format json
    [ "$status" -eq 0 ]
    jq -e '.unit == "KiB" and .cells[0].verdict == "unchanged" and .cells[0].change_pct == 0' <<<"$output"
}

@test "md is a pull-request table: header, separator, one row per cell" {
    gen "$d/base.json" --cells sequential:primes:1,sequential:primes:2,sequential:sleep:4
    gen "$d/new.json" --seed 2 --scale 1.1 --cells sequential:primes:1,sequential:primes:2,sequential:sleep:4
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format md
    [ "$status" -eq 1 ]
    table=$(grep '^|' <<<"$output")
    [ "$(wc -l <<<"$table")" -eq 5 ]
    [ "$(sed -n 1p <<<"$table")" = "| cell | base | new | change | 95% CI | p | verdict |" ]
    [[ "$(sed -n 2p <<<"$table")" =~ ^\|(:?-+:?\|){7}$ ]]
    # Every row has the header's 7 columns.
    [ "$(awk -F'|' '{print NF}' <<<"$table" | sort -u)" = 9 ]
    [ "$(grep -c '\*\*slower\*\*' <<<"$table")" -eq 3 ]
    [[ "$output" == "### concbench compare: \`wall_ns\`"* ]]
}

@test "github-benchmark is customSmallerIsBetter: name, unit, value, range" {
    gen "$d/base.json" --cells sequential:primes:1,sequential:primes:2
    gen "$d/new.json" --seed 2 --cells sequential:primes:1,sequential:primes:2
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format github-benchmark
    [ "$status" -eq 0 ]
    jq -e 'type == "array" and length == 2' <<<"$output"
    jq -e 'all(.[]; (.name|type) == "string" and .unit == "ns" and (.value|type) == "number" and .value > 0 and (.range|startswith("± ")) and (.extra|type) == "string")' <<<"$output"
    jq -e '[.[].name] | unique | length == 2' <<<"$output"
    # The value is NEW's median: cell 2's base is 20 ms.
    jq -e '.[1].value > 19e6 and .[1].value < 21e6' <<<"$output"
}

@test "a real report compares with itself as unchanged or noisy, never slower" {
    "$CONCBENCH" -m sequential -w primes -o n=1e6 -t 2 --runs 5 --warmup 1 --json "$d/real.json" >/dev/null
    run --separate-stderr "$CONCBENCH" compare "$d/real.json" "$d/real.json" --format json
    jq -e '(.cells[0].verdict == "unchanged" or .cells[0].verdict == "noisy") and .cells[0].change_pct == 0 and .cells[0].p == 1' <<<"$output"
    # One cell: noisy is most of the comparison, so inconclusive (exit 4).
    if [ "$(jq -r '.cells[0].verdict' <<<"$output")" = noisy ]; then
        [ "$status" -eq 4 ]
    else
        [ "$status" -eq 0 ]
    fi
    jq -e '.cells[0].label == "primes/sequential t=2 n=1e6"' <<<"$output"
    run --separate-stderr "$CONCBENCH" compare "$d/real.json" "$d/real.json" --accept-noisy
    [ "$status" -eq 0 ]
}

@test "disjoint reports: nothing was compared, exit 1 in one line" {
    gen "$d/base.json" --cells sequential:primes:1,sequential:primes:2
    gen "$d/new.json" --seed 2 --cells threads:primes:1,threads:primes:2
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json"
    [ "$status" -eq 1 ]
    [ "$stderr" = "concbench: no cell of base '$d/base.json' is in new '$d/new.json': nothing was compared" ]
    [ "$(tail -n 1 <<<"$output")" = "verdict: fail: no cell of base is in new: nothing was compared" ]
    # --allow-missing does not make an empty comparison pass.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --allow-missing --accept-noisy --format json
    [ "$status" -eq 1 ]
    jq -e '.cells == [] and .outcome.verdict == "fail" and .outcome.exit_code == 1 and (.only_in_base | length) == 2' <<<"$output"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format md
    [ "$status" -eq 1 ]
    [ "$(tail -n 1 <<<"$output")" = "**verdict: fail: no cell of base is in new: nothing was compared**" ]
}

@test "mostly noisy is inconclusive (exit 4) unless accepted; a regression wins" {
    # Three cells; two of them keep only 3 runs a side, too few to decide.
    gen "$d/b.json" --seed 20 --cells sequential:primes:1,sequential:primes:2,sequential:primes:4
    gen "$d/n.json" --seed 21 --cells sequential:primes:1,sequential:primes:2,sequential:primes:4
    for f in b n; do
        jq '.results[1].runs |= .[0:3] | .results[2].runs |= .[0:3]' "$d/$f.json" >"$d/${f}3.json"
    done
    run --separate-stderr "$CONCBENCH" compare "$d/b3.json" "$d/n3.json"
    [ "$status" -eq 4 ]
    [[ "$stderr" == *"concbench: inconclusive: 2 of 3 compared cells are noisy; give more runs, or pass --accept-noisy" ]]
    [ "$(tail -n 1 <<<"$output")" = "verdict: inconclusive: 2 of 3 compared cells noisy" ]
    run --separate-stderr "$CONCBENCH" compare "$d/b3.json" "$d/n3.json" --format json
    [ "$status" -eq 4 ]
    jq -e '.outcome | .verdict == "inconclusive" and .exit_code == 4 and .compared == 3 and .noisy == 2' <<<"$output"
    run --separate-stderr "$CONCBENCH" compare "$d/b3.json" "$d/n3.json" --format md
    [ "$status" -eq 4 ]
    [ "$(tail -n 1 <<<"$output")" = "**verdict: inconclusive: 2 of 3 compared cells noisy**" ]
    # Accepted: exit 0, and it still says so.
    run --separate-stderr "$CONCBENCH" compare "$d/b3.json" "$d/n3.json" --accept-noisy
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"concbench: warning: 2 of 3 compared cells are noisy (accepted by --accept-noisy)"* ]]
    [ "$(tail -n 1 <<<"$output")" = "verdict: pass: 2 of 3 compared cells noisy (accepted)" ]
    # One noisy cell of two is not most: a plain pass.
    jq '.results |= .[0:2]' "$d/b3.json" >"$d/b2.json"
    jq '.results |= .[0:2]' "$d/n3.json" >"$d/n2.json"
    run --separate-stderr "$CONCBENCH" compare "$d/b2.json" "$d/n2.json"
    [ "$status" -eq 0 ]
    [ "$(tail -n 1 <<<"$output")" = "verdict: pass" ]
    # A slower cell beside the noisy ones: a regression, exit 1, not 4.
    jq '.results[0].runs[].wall_ns *= 1.2' "$d/n3.json" >"$d/slow.json"
    run --separate-stderr "$CONCBENCH" compare "$d/b3.json" "$d/slow.json"
    [ "$status" -eq 1 ]
    [ "$(tail -n 1 <<<"$output")" = "verdict: fail: 1 regression; 2 of 3 compared cells noisy" ]
    [[ "$stderr" != *"inconclusive"* ]]
}

@test "a noisy note tells the truth about its interval" {
    gen "$d/base.json" --seed 30 --runs 10 --noise 0.2
    gen "$d/new.json" --seed 31 --runs 10 --noise 0.2
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json --accept-noisy
    [ "$status" -eq 0 ]
    jq -e '.cells[0].verdict == "noisy" and .cells[0].significant == false' <<<"$output"
    jq -e '.cells[0].note | test("^95% CI \\[[-+][0-9]+\\.[0-9]%, [-+][0-9]+\\.[0-9]%\\] reaches beyond ±5%$")' <<<"$output"
    jq -e '.cells[0].note | contains("wider") | not' <<<"$output"
}
