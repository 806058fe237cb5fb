#!/usr/bin/env bats
# concbench calibrate: an A/A set re-run from a tiny report writes a
# well-formed noise floor, and compare --calibration never calls a change
# below that floor slower; bad input is refused in one line.

bats_require_minimum_version 1.5.0

setup_file() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    # Two cells of sequential sleep, 1 ms, 3 runs: seconds to calibrate.
    "$CONCBENCH" sweep -m sequential -w sleep -t 1,2 -o ms=1 -r 3 \
        --warmup 0 --json "$BATS_FILE_TMPDIR/tiny.json" >/dev/null 2>&1
}

setup() {
    d="$BATS_TEST_TMPDIR"
    tiny="$BATS_FILE_TMPDIR/tiny.json"
}

# BASE and NEW from the tiny report's cells, same ids: 10 runs a side, new
# `scale` times base (1.10: +10%), spread 0.1% so the test sees it plainly;
# undisturbed, whatever the machine did to the run they are copied from.
mkpair() { # base new scale
    jq --argjson s 1 '.results[] |= (.runs = [range(10) as $i |
        (.runs[0] | del(.disturbed)) + {wall_ns: ((10000000 + $i * 10000) * $s | floor),
                    failed: false, result_ok: true}])' "$tiny" >"$1"
    jq --argjson s "$3" '.results[] |= (.runs = [range(10) as $i |
        (.runs[0] | del(.disturbed)) + {wall_ns: ((10000000 + $i * 10000) * $s | floor),
                    failed: false, result_ok: true}])' "$tiny" >"$2"
}

@test "calibrate writes a well-formed calibration from a tiny report" {
    [ "$(jq '.results | length' "$tiny")" -eq 2 ]
    SECONDS=0
    run --separate-stderr "$CONCBENCH" calibrate "$tiny" --json "$d/cal.json" --rounds 2
    echo "$output"
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$SECONDS" -lt 30 ]
    [ "$(grep -c '^sleep/sequential t=[12] ms=1ms: floor [0-9.]*% over 2 rounds (' <<<"$output")" -eq 2 ]
    [[ "$(tail -n 1 <<<"$output")" == "machine noise floor: "*"% (median of 2 cells, 2 rounds each)" ]]
    f="$d/cal.json"
    jq -e '.schema == "concbench-calibration/1" and .metric == "wall_ns" and .rounds == 2' "$f"
    jq -e '(.host.cpu_model | type) == "string" and (.host.cpus | type) == "number"' "$f"
    jq -e '.started_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")' "$f"
    jq -e '.argv[0:2] == ["concbench", "calibrate"] and .report == $t' --arg t "$tiny" "$f"
    jq -e '.cells | length == 2' "$f"
    # Each cell: the report's identity, its rounds, its floor = max |change|.
    jq -e 'all(.cells[]; .model == "sequential" and .workload == "sleep"
        and .workload_options.ms_ns == 1000000 and (.tasks == 1 or .tasks == 2)
        and (.id | type) == "string" and .runs == 3 and .failed == false
        and (.rounds | length) == 2
        and all(.rounds[]; (.change_pct | type) == "number"
                and .a.runs == 3 and .b.runs == 3 and (.ci95_pct | length) == 2)
        and .floor_pct >= 0
        and (.floor_pct - ([.rounds[].change_pct | fabs] | max) | fabs) < 1e-9)' "$f"
    # The machine's floor: the median of the two cells' floors.
    jq -e '(.floor_pct - ([.cells[].floor_pct] | add / 2)) | fabs < 1e-9' "$f"
    # The ids are compare's: each cell's floor is found by compare.
    [ "$(jq -r '.cells[0].id' "$f")" = "sequential{} sleep{count=1,jitter=0,ms=1000000,seed=1} tasks=1" ]
}

@test "compare --calibration: a change below the floor is not slower" {
    "$CONCBENCH" calibrate "$tiny" --json "$d/cal.json" --rounds 2 >/dev/null
    mkpair "$d/base.json" "$d/new.json" 1.10
    # Without a calibration +10% is slower.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --format json
    [ "$status" -eq 1 ]
    jq -e '[.cells[].verdict] == ["slower", "slower"]' <<<"$output"
    # A measured file with a floor set above the change (15%).
    jq '.floor_pct = 15 | .cells[].floor_pct = 15' "$d/cal.json" >"$d/cal15.json"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/cal15.json"
    [ "$status" -eq 0 ]
    [[ "$output" == *"unchanged (significant but within the 15% threshold)"* ]]
    [[ "$output" != *"slower"* ]]
    [ "$(tail -n 1 <<<"$output")" = "verdict: pass; on this machine changes under 15% cannot be told from noise (calibration '$d/cal15.json')" ]
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/cal15.json" --format json
    [ "$status" -eq 0 ]
    jq -e 'all(.cells[]; .verdict == "unchanged" and .floor_pct == 15 and .threshold_pct == 15)' <<<"$output"
    jq -e '.outcome.floor_pct == 15 and .outcome.calibration == $c' --arg c "$d/cal15.json" <<<"$output"
    # A cell's own floor first, the machine's for the rest: cell t=1 has
    # 15%, cell t=2 none, and the machine's 1% is under --threshold 5%.
    jq '.floor_pct = 1 | .cells[0].floor_pct = 15 | .cells[1].floor_pct = null' "$d/cal.json" >"$d/calmix.json"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/calmix.json" --format json
    [ "$status" -eq 1 ]
    jq -e '[.cells[] | [.tasks, .verdict, .threshold_pct]] == [[1, "unchanged", 15], [2, "slower", 5]]' <<<"$output"
}

@test "compare --calibration refuses a bad file in one line (exit 2)" {
    mkpair "$d/base.json" "$d/new.json" 1.0
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/none.json"
    [ "$status" -eq 2 ]
    [ -z "$output" ]
    [ "$stderr" = "concbench: cannot read calibration '$d/none.json': No such file or directory" ]
    # A report is not a calibration.
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/base.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/base.json' is not a concbench calibration: its schema is not 'concbench-calibration/1'" ]
    echo '{"schema": "concbench-calibration/1", "floor_pct": -1, "cells": []}' >"$d/neg.json"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/neg.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/neg.json' is not a concbench calibration: no 'floor_pct' of 0 or more" ]
    printf '{"schema": ' >"$d/cut.json"
    run --separate-stderr "$CONCBENCH" compare "$d/base.json" "$d/new.json" --calibration "$d/cut.json"
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: cannot read calibration '$d/cut.json': "*"(line 1)" ]]
}

@test "calibrate: bad flags and input exit 2 and run nothing" {
    run --separate-stderr "$CONCBENCH" calibrate "$tiny"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: calibrate needs --json FILE (see 'concbench calibrate --help')" ]
    run --separate-stderr "$CONCBENCH" calibrate --json "$d/c.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: calibrate needs a report, REPORT (see 'concbench calibrate --help')" ]
    run --separate-stderr "$CONCBENCH" calibrate "$tiny" --json "$d/c.json" --rounds 0
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"'--rounds'"* ]]
    run --separate-stderr "$CONCBENCH" calibrate "$tiny" --json "$d/no/such/dir/c.json"
    [ "$status" -eq 2 ]
    jq '.results[0].model = "fibers"' "$tiny" >"$d/unknown.json"
    run --separate-stderr "$CONCBENCH" calibrate "$d/unknown.json" --json "$d/c.json"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: '$d/unknown.json' has the unknown model 'fibers'" ]
    [ ! -e "$d/c.json" ]
    run "$CONCBENCH" calibrate --help
    [ "$status" -eq 0 ]
    [[ "$output" == "usage: concbench calibrate REPORT.json --json FILE [--rounds K]"* ]]
    run "$CONCBENCH" --help
    [[ "$output" == *"calibrate"*"noise floor"* ]]
}
