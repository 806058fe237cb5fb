#!/usr/bin/env bats
# Running one cell: the human summary, checked results, exit 0 and 1,
# signals.

bats_require_minimum_version 1.5.0

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

@test "primes under sequential prints the right count and timing" {
    run --separate-stderr "$CONCBENCH" --model sequential --workload primes -o n=1e7 --runs 2
    [ "$status" -eq 0 ]
    [[ "$output" == "primes under sequential, 1 task, n=1e7"* ]]
    [[ "$output" == *"Result:               664579 ✓"* ]]
    [[ "$output" == *"Time (mean ± σ):"* ]]
    [[ "$output" == *"Range (min … max):"*"2 runs"* ]]
    [[ "$output" == *"Task (p50 … p99):"* ]]
}

@test "the summary's values share one column, the op line's too" {
    run --separate-stderr "$CONCBENCH" -m threads -w sleep -t 2 -o ms=2ms --runs 2
    [ "$status" -eq 0 ]
    # Where each line's value starts, in characters (the labels hold ±, σ
    # and …): one column for every line.
    cols=$(sed -n '2,$p' <<<"$output" | /usr/bin/python3 -c '
import re, sys
for line in sys.stdin:
    m = re.match(r"(  [^:]*: +)\S", line)
    if m: print(len(m.group(1)))' | sort -u)
    [ "$cols" = 24 ]
    [[ "$output" == *"Lateness (p50 … p99): "* ]]
}

@test "one run: its time, with no spread and no interval" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=2ms --runs 1
    [ "$status" -eq 0 ]
    [[ "$output" == *"Time (1 run):         "*" ms    [User: "* ]]
    [[ "$output" != *"±"* ]]
    [[ "$output" != *"95% CI"* ]]
    [[ "$output" != *"Range"* ]]
}

@test "the header shows the options given, as meant, and no others" {
    run --separate-stderr "$CONCBENCH" -m threads -w sleep -o gil=yes \
        -o ms=0.002s --runs 1 --warmup 0
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "sleep under threads, 1 task, gil=on, ms=2ms" ]
    # A URL's run: the built-in server's delay and size are not shown.
    run --separate-stderr "$CONCBENCH" -m sequential -w http \
        -o url=http://127.0.0.1:1/ -o requests=1 --runs 1 --warmup 0
    [ "${lines[0]}" = "http under sequential, 1 task, url=http://127.0.0.1:1/, requests=1" ]
    [[ "$output" != *"delay"* && "$output" != *"size"* ]]
}

@test "colour on a terminal only, and never with NO_COLOR" {
    command -v script >/dev/null || skip "script(1) is not installed"
    script -qec "'$CONCBENCH' -m sequential -w sleep -o ms=1ms --runs 2" \
        "$BATS_TEST_TMPDIR/tty.log" >/dev/null
    grep -q $'\x1b\\[32m' "$BATS_TEST_TMPDIR/tty.log"
    NO_COLOR=1 script -qec "'$CONCBENCH' -m sequential -w sleep -o ms=1ms \
        --runs 2" "$BATS_TEST_TMPDIR/nc.log" >/dev/null
    ! grep -q $'\x1b\\[3' "$BATS_TEST_TMPDIR/nc.log"
    grep -q 'Result:' "$BATS_TEST_TMPDIR/nc.log"
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=1ms --runs 2
    [[ "$output" != *$'\x1b'* ]]
}

@test "a long run shows which run it is at, on a terminal only" {
    command -v script >/dev/null || skip "script(1) is not installed"
    script -qec "'$CONCBENCH' -m sequential -w sleep -o ms=1600ms --runs 2 \
        --warmup 0" "$BATS_TEST_TMPDIR/tty.log" >/dev/null
    tr '\r' '\n' <"$BATS_TEST_TMPDIR/tty.log" >"$BATS_TEST_TMPDIR/lines"
    grep -q '^.\[K  run 1/2 · 1\.[0-9]* s$' "$BATS_TEST_TMPDIR/lines"
    grep -q '^.\[K  run 2/2 · [0-9.]* [mu]*s (the last took 1\.[0-9]* s)$' \
        "$BATS_TEST_TMPDIR/lines"
    # Erased before the summary.
    grep -q 'Result:' "$BATS_TEST_TMPDIR/lines"
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=1200ms \
        --runs 1 --warmup 0
    [ -z "$stderr" ]
}

@test "off a terminal, a long run prints a line every few seconds" {
    # Runs end at 1.5, 3, 4.5 and 6 s: 5 s have gone by only at the last.
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=1500ms \
        --runs 4 --warmup 0
    [ "$status" -eq 0 ]
    [[ "$stderr" =~ ^run:\ run\ 4/4\ took\ 1\.5[0-9]*\ s$ ]]
    [[ "$output" == *"Result:"* ]]
}

@test "fork's memory counts every process, not only the largest" {
    run --separate-stderr "$CONCBENCH" -m fork -w sleep -t 16 -o ms=1ms \
        --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    r='.results[0].runs[0]'
    jq -e "$r | .total_rss_kib > .max_rss_kib" <<<"$output"
    # Each child's own pages and page tables (Linux has had VmPTE since
    # 2.6.10).
    jq -e "$r.total_rss_source | . == \"rss+uss+pte\" or . == \"rss+anon+pte\"" <<<"$output"
    [[ "$stderr" == *"All processes:"*"MiB"* ]]
    # The children measure their own pages in the cell's first run only
    # (the warm-up here), and every timed run reports that figure.
    run --separate-stderr "$CONCBENCH" -m fork -w sleep -t 16 -o ms=1ms \
        --runs 3 --warmup 1 --json -
    [ "$status" -eq 0 ]
    jq -e '[.results[0].runs[] | .total_rss_kib > .max_rss_kib and
            (.total_rss_source | startswith("rss+"))] | length == 3 and all' \
        <<<"$output"
    # One process: the total is its peak.
    run --separate-stderr "$CONCBENCH" -m threads -w sleep -t 4 -o ms=1ms \
        --runs 1 --warmup 0 --json -
    jq -e "$r | .total_rss_kib == .max_rss_kib and .total_rss_source == \"rss\"" <<<"$output"
}

@test "primes splits the range over tasks and still counts right" {
    for t in 1 3 7 64; do
        run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=1234567 -t "$t" --runs 1 --warmup 0 --json -
        [ "$status" -eq 0 ]
        [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 95360 ]
    done
}

@test "an n outside the table is checked by an independent count" {
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=4294967296 -t 4 --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 203280221 ]
}

@test "sleep tasks under sequential run one after another" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -t 4 -o ms=20ms --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    wall=$(jq '.results[0].runs[0].wall_ns' <<<"$output")
    [ "$wall" -ge 80000000 ]                        # never early
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 4 ]
    [ "$(jq '.results[0].runs[0].op_count' <<<"$output")" -eq 4 ]
    late=$(jq '.results[0].runs[0].lateness_ns.max' <<<"$output")
    [ "$late" -ge 0 ]
}

@test "sleep count and jitter keep a periodic schedule" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=5ms -o count=6 -o jitter=2ms --runs 1 --warmup 0 --json -
    [ "$status" -eq 0 ]
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 6 ]
    [ "$(jq '.results[0].runs[0].wall_ns' <<<"$output")" -ge 30000000 ]
    [ "$(jq '.results[0].workload_options.jitter_ns' <<<"$output")" -eq 2000000 ]
}

@test "SIGINT stops a run with exit 130 and no results file" {
    "$CONCBENCH" -m sequential -w sleep -o ms=30s --json "$BATS_TEST_TMPDIR/r.json" 2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    sleep 0.5
    kill -INT "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 130 ]
    [ "$(cat "$BATS_TEST_TMPDIR/err")" = "concbench: interrupted by SIGINT" ]
    [ ! -e "$BATS_TEST_TMPDIR/r.json" ]
    [ -z "$(ls "$BATS_TEST_TMPDIR" | grep tmp || true)" ]
}

@test "SIGTERM stops a run with exit 143" {
    "$CONCBENCH" -m sequential -w primes -o n=1e12 --runs 1 --warmup 0 2>/dev/null &
    pid=$!
    sleep 1
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 143 ]
}
