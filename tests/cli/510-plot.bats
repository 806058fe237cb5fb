#!/usr/bin/env bats
# scripts/plot.py: charts from a sample report (every model in the legend),
# from a real sweep, from hyperfine exports; clear one-line refusals of
# input it cannot read.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    PLOT=$ROOT/scripts/plot.py
    FIX=$ROOT/tests/fixtures
    T=$BATS_TEST_TMPDIR
    /usr/bin/python3 -c 'import matplotlib, numpy' 2>/dev/null ||
        skip "python3-matplotlib is not installed"
}

# A chart file that exists, is big enough to hold a chart, and is the type
# its name says.
chart_ok() {
    local min=20000
    [[ $1 == *.svg ]] && min=5000   # SVG text stays text: smaller files
    [ -s "$1" ] || { echo "missing $1"; return 1; }
    [ "$(stat -c %s "$1")" -gt "$min" ] || { echo "too small: $1"; return 1; }
    case $1 in
    *.png) [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ;;
    *.svg) grep -q '<svg' "$1" ;;
    esac
}

@test "a sample report gives every chart as PNG and SVG, every model in the legends" {
    run -0 "$PLOT" "$FIX/sample-report.json" -o "$T/out"
    for c in headline walltime scaling-primes scaling-sleep latency-primes \
             latency-sleep; do
        chart_ok "$T/out/$c.png"
        chart_ok "$T/out/$c.svg"
        [[ "$output" == *"$T/out/$c.png"* ]]
    done
    # 16:9 at 1920x1080.
    [ "$(od -An -tu1 -j16 -N8 "$T/out/headline.png" | awk '{print $3*256+$4, $7*256+$8}')" = "1920 1080" ]
    # The legend sidecar and the SVG text both name every model and the
    # gil=on variant as its own line.
    for label in sequential fork "threads gil=off" "threads gil=on" green eventloop; do
        jq -e --arg l "$label" '.headline | index($l) != null' "$T/out/legend.json"
        grep -qF ">$label<" "$T/out/headline.svg"
        jq -e --arg l "$label" '.walltime | index($l) != null' "$T/out/legend.json"
    done
    # Axes say what they measure, and the footnote where and what is missing.
    grep -qF 'speedup over sequential' "$T/out/headline.svg"
    grep -qF 'tasks (log' "$T/out/headline.svg"
    grep -qF 'Sample CPU @ 2.0GHz, 2 CPUs' "$T/out/headline.svg"
    grep -qF 'concbench v0-sample' "$T/out/headline.svg"
    grep -qF 'not plotted: 1 skipped, 1 failed' "$T/out/headline.svg"
    grep -qF 'ideal' "$T/out/headline.svg"
}

@test "the same model has the same colour in every chart" {
    run -0 "$PLOT" "$FIX/sample-report.json" -o "$T/out"
    # Okabe-Ito: fork is vermillion, threads blue, green bluish green.
    for c in headline scaling-primes; do
        grep -qi 'D55E00' "$T/out/$c.svg"
        grep -qi '0072B2' "$T/out/$c.svg"
        grep -qi '009E73' "$T/out/$c.svg"
    done
}

@test "a real sweep plots, and only the cells that ran are drawn" {
    run -0 "$CONCBENCH" sweep -m all -w primes,sleep -t 1,2 --runs 2 \
        -o n=1e5 -o ms=2ms --json "$T/r.json"
    run --separate-stderr -0 "$PLOT" "$T/r.json" -o "$T/out"
    chart_ok "$T/out/headline.png"
    chart_ok "$T/out/headline.svg"
    # Every model that ran is drawn, but python: its baseline is python
    # api=sequential, which `-m all` does not run, and stderr says so.
    ran=$(jq -c '[.results[] | select(.skipped == null and (.failed | not))
                  | .model | select(. != "python")] | unique' "$T/r.json")
    drawn=$(jq -c '.headline | map(split(" ")[0]) | unique' "$T/out/legend.json")
    [ "$drawn" = "$ran" ]
    if jq -e 'any(.results[]; .model == "python" and .skipped == null)' "$T/r.json" >/dev/null; then
        [[ "$stderr" == *"plot.py: headline: python with 1 task not drawn: no python api=sequential cell"* ]]
    fi
}

@test "hyperfine --export-json files plot beside reports" {
    run -0 "$PLOT" "$FIX/hyperfine-sample.json" -o "$T/hf"
    chart_ok "$T/hf/hyperfine.png"
    chart_ok "$T/hf/hyperfine.svg"
    grep -qF 'sleep 0.01' "$T/hf/hyperfine.svg"
    [ ! -e "$T/hf/headline.png" ]
    run -0 "$PLOT" "$FIX/sample-report.json" "$FIX/hyperfine-sample.json" -o "$T/both"
    [ -s "$T/both/headline.svg" ] && [ -s "$T/both/hyperfine.svg" ]
}

@test "input it cannot read: one line, exit 2, no charts" {
    jq '.schema = "concbench/9"' "$FIX/sample-report.json" >"$T/v9.json"
    run -2 "$PLOT" "$T/v9.json" -o "$T/out"
    [ "$output" = "plot.py: '$T/v9.json' has schema 'concbench/9'; this plot.py reads 'concbench/2' and 'concbench/1'" ]
    [ ! -e "$T/out/headline.png" ]

    echo '{"results": [{"x": 1}]}' >"$T/other.json"
    run -2 "$PLOT" "$T/other.json" -o "$T/out"
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "plot.py: '$T/other.json' is not a concbench report"* ]]

    head -c 300 "$FIX/sample-report.json" >"$T/cut.json"
    run -2 "$PLOT" "$T/cut.json" -o "$T/out"
    [ "${#lines[@]}" -eq 1 ]
    [[ "$output" == "plot.py: '$T/cut.json' is not JSON: "* ]]

    run -2 "$PLOT" "$T/absent.json" -o "$T/out"
    [ "$output" = "plot.py: cannot read '$T/absent.json': No such file or directory" ]

    echo '[1, 2]' >"$T/list.json"
    run -2 "$PLOT" "$T/list.json" -o "$T/out"
    [ "${#lines[@]}" -eq 1 ]
    [ ! -e "$T/out" ]
}

@test "bench/io-vs-cpu.sh (make demo) ends with the charts written and says where" {
    run -0 env CONCBENCH="$CONCBENCH" MODELS=sequential,threads TASKS=1,2 \
        RUNS=2 N=1e6 MS=1ms REQUESTS=1 DELAY=1ms OUT="$T/demo" \
        "$ROOT/bench/io-vs-cpu.sh"
    [[ "$output" == *"charts: $T/demo/headline.png"* ]]
    chart_ok "$T/demo/headline.png"
    chart_ok "$T/demo/headline.svg"
    jq -e '.order == "interleaved" and (.results | length) > 0' "$T/demo/report.json"
    # threads ran with and without the GIL when this build has it.
    if jq -e '[.results[] | select(.model == "threads" and .skipped == null)]
              | length > 0' "$T/demo/report.json" >/dev/null; then
        jq -e '.headline | index("threads gil=on") != null' "$T/demo/legend.json"
    fi
}

@test "a report of one model draws what it supports and says on stderr what it skips" {
    run -0 "$CONCBENCH" sweep -m threads -w sleep -t 1,2 --runs 2 \
        -o ms=1ms --json "$T/r.json"
    run --separate-stderr -0 "$PLOT" "$T/r.json" -o "$T/out"
    [[ "$stderr" == *"plot.py: no headline chart: no sequential cell ran"* ]]
    [ ! -e "$T/out/headline.png" ]
    for c in walltime scaling-sleep latency-sleep; do
        chart_ok "$T/out/$c.png"
    done
    # One task count: no scaling chart, and why.
    run -0 "$CONCBENCH" sweep -m sequential,threads -w sleep -t 2 --runs 2 \
        -o ms=1ms --json "$T/one.json"
    run --separate-stderr -0 "$PLOT" "$T/one.json" -o "$T/one"
    [[ "$stderr" == *"plot.py: no scaling-sleep chart: every sleep cell that ran has one task count"* ]]
    [ ! -e "$T/one/scaling-sleep.png" ]
}

@test "one workload: the headline's title names only it; gil=on has its own colour" {
    run -0 "$CONCBENCH" sweep -m sequential,threads -w sleep -t 1,2 \
        --runs 2 -o ms=1ms -o gil=off,on --json "$T/r.json"
    jq -e '[.results[] | select(.model == "threads" and .skipped == null)]
           | length == 4' "$T/r.json" || skip "threads did not run"
    run --separate-stderr -0 "$PLOT" "$T/r.json" -o "$T/out"
    [[ "$stderr" == *"plot.py: headline: no CPU-bound panel: no primes cell"* ]]
    grep -qF 'I/O-bound: sleep<' "$T/out/headline.svg"
    ! grep -qF 'http' "$T/out/headline.svg"
    # threads is blue, its gil=on variant a lighter blue.
    grep -qi '#0072b2' "$T/out/headline.svg"
    grep -qi '#80b8d8' "$T/out/headline.svg"
    grep -qF '>threads gil=on<' "$T/out/headline.svg"
    # The legend has a background.
    grep -q 'fill: #ffffff; opacity: 0.92' "$T/out/headline.svg"
}

@test "memory is every process of a run: fork's children count" {
    run -0 "$CONCBENCH" sweep -m sequential,fork -w sleep -t 1,8 --runs 2 \
        -o ms=1ms --json "$T/r.json"
    jq -e '[.results[] | select(.model == "fork" and .tasks == 8) | .runs[]
            | .total_rss_kib > .max_rss_kib] | all' "$T/r.json"
    run -0 "$PLOT" "$T/r.json" -o "$T/out"
    grep -qF 'every process of a run' "$T/out/scaling-sleep.svg"
    grep -qF 'total_rss_kib' "$T/out/scaling-sleep.svg"
    # An older report has no total: the chart says it shows peak RSS.
    jq '.schema = "concbench/1" | del(.results[].runs[]?.total_rss_kib)' \
        "$T/r.json" >"$T/v1.json"
    run -0 "$PLOT" "$T/v1.json" -o "$T/v1"
    grep -qF "fork's children are not counted" "$T/v1/scaling-sleep.svg"
}

@test "noisy cells are hollow on the scaling and latency charts too, and the footnote says so" {
    # Every primes cell of threads made noisy: walls 50% apart.
    jq '(.results[] | select(.model == "threads" and .workload == "primes") | .runs) |=
        [.[] as $r | $r] + [.[0] + {wall_ns: (.[0].wall_ns * 1.5)}, .[0] + {wall_ns: (.[0].wall_ns * 0.5)}]' \
        "$FIX/sample-report.json" >"$T/noisy.json"
    run -0 "$PLOT" "$T/noisy.json" -o "$T/out"
    grep -q "hollow, noisy" "$T/out/scaling-primes.svg"
    grep -q "hollow, noisy" "$T/out/latency-primes.svg"
    # The sample itself is steady: no such note.
    run -0 "$PLOT" "$FIX/sample-report.json" -o "$T/calm"
    ! grep -q "hollow, noisy" "$T/calm/scaling-primes.svg"
}
