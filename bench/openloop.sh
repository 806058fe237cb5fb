#!/bin/bash
# Open-loop HTTP: a sweep over request rates (concbench sweep -o rate=...)
# under eventloop and threads against the built-in server, one table of
# latency from the intended send time (p50, p99, p99.9), achieved rate and
# the client's own send lag per rate and model (marked when other work on
# the machine took its CPUs: the lag is then theirs); then each model's
# highest rate within the latency goal (p99 <= GOAL, default 10x the
# server's delay), and the highest it sends on time (send lag p99 <= 1 ms,
# achieving 90% of the offered rate). With wrk
# installed, wrk's closed-loop maximum against the same server and as many
# connections is the reference for the last column.
#
# Environment: CONCBENCH (default ./concbench), MODELS (eventloop,threads),
# RATES (requests/s, comma-separated), TASKS (64), CONNECTIONS (a task,
# default 1), DELAY (the server's, default 10ms), DURATION (of each run,
# default 2s), RUNS (per cell, default 1), GOAL (p99 goal, e.g. 100ms;
# default 10x DELAY), OUT (a folder: the report, and charts when
# scripts/plot.py can draw; default a temporary one, removed).
set -euo pipefail

CONCBENCH=${CONCBENCH:-./concbench}
MODELS=${MODELS:-eventloop,threads}
RATES=${RATES:-500,1000,2000,3000,4000,5000,6000,8000}
TASKS=${TASKS:-64}
CONNECTIONS=${CONNECTIONS:-1}
DELAY=${DELAY:-10ms}
DURATION=${DURATION:-2s}
RUNS=${RUNS:-1}
LAG_NS=1000000
me=bench/openloop.sh

for tool in "$CONCBENCH" jq awk; do
    if ! command -v "$tool" >/dev/null; then
        echo "$me: '$tool' not found (scripts/deps.sh installs it)" >&2
        exit 3
    fi
done
CONCBENCH=$(command -v "$CONCBENCH")
available() { "$CONCBENCH" list | grep -q "^  $1 " &&
    ! "$CONCBENCH" list | grep -q "^  $1 .*\[unavailable"; }
models=
for m in ${MODELS//,/ }; do
    if available "$m"; then
        models=${models:+$models,}$m
    else
        echo "$me: model '$m' is unavailable in this build; left out" >&2
    fi
done
if [ -z "$models" ] || ! available http; then
    echo "$me: this build of $CONCBENCH lacks the http workload or the models" >&2
    exit 3
fi

# DELAY and GOAL in ns, as concbench reads durations (a bare number is ms).
to_ns() {
    awk -v d="$1" 'BEGIN {
        n = d + 0; u = d; sub(/^[0-9.eE+]+/, "", u); k = -1
        if (u == "ns") k = 1
        else if (u == "us") k = 1e3
        else if (u == "ms" || u == "") k = 1e6
        else if (u == "s") k = 1e9
        else if (u == "min") k = 60e9
        if (k < 0 || n <= 0) exit 1
        printf "%.0f\n", n * k }'
}
delay_ns=$(to_ns "$DELAY") || { echo "$me: bad DELAY '$DELAY'" >&2; exit 2; }
if [ -n "${GOAL:-}" ]; then
    goal_ns=$(to_ns "$GOAL") || { echo "$me: bad GOAL '$GOAL'" >&2; exit 2; }
    goal_why="GOAL"
else
    goal_ns=$((10 * delay_ns))
    goal_why="10x the server's delay"
fi

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    tmp=$OUT
    keep=1
else
    tmp=$(mktemp -d)
    keep=
fi
serve_pid=
cleanup() {
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [ -n "$keep" ] || rm -rf "$tmp"
}
trap cleanup EXIT

echo "== open loop: $models, $TASKS tasks x $CONNECTIONS connection(s)," \
     "delay=$DELAY, $DURATION a run, rates $RATES"
"$CONCBENCH" sweep --models "$models" --workloads http --tasks "$TASKS" \
    --runs "$RUNS" --warmup 0 -o rate="$RATES" -o duration="$DURATION" \
    -o delay="$DELAY" -o keepalive=on -o connections="$CONNECTIONS" \
    --json "$tmp/report.json" >/dev/null 2>"$tmp/sweep.err" || true
if ! jq -e '.results | length > 0' "$tmp/report.json" >/dev/null 2>&1; then
    cat "$tmp/sweep.err" >&2
    echo "$me: the sweep wrote no report" >&2
    exit 1
fi

# One row per model and rate: medians over the passed runs.
jq -r '
  def med: sort | if length == 0 then null
      else .[(length - 1) / 2 | floor] end;
  .results[] | select(.skipped | not)
  | [.runs[]? | select(.failed == false)] as $ok
  | [.model, .workload_options.rate,
     ($ok | map(.request_ns.p50) | med), ($ok | map(.request_ns.p99) | med),
     ($ok | map(.request_ns.p999) | med), ($ok | map(.achieved_rps) | med),
     ($ok | map(.send_lag_p99_ns) | med), ($ok | map(.conn_exhausted) | med),
     ($ok | length), ($ok | map(.disturbed // [] | length) | add // 0)]
  | map(if . == null then "-" else tostring end) | @tsv' \
    "$tmp/report.json" >"$tmp/rows.tsv"

wrk_rps=
if command -v wrk >/dev/null; then
    "$CONCBENCH" serve -o delay="$DELAY" >"$tmp/serve.out" &
    serve_pid=$!
    for _ in $(seq 100); do
        port=$(sed -n 's|^listening on http://127\.0\.0\.1:||p' "$tmp/serve.out")
        [ -n "$port" ] && break
        sleep 0.05
    done
    if [ -n "${port:-}" ]; then
        conns=$((TASKS * CONNECTIONS))
        secs=$(to_ns "$DURATION" | awk '{ printf "%d", ($1 + 999999999) / 1e9 }')
        wrk_rps=$(wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/" \
            2>/dev/null | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    fi
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=
fi

awk -F'\t' -v goal="$goal_ns" -v why="$goal_why" -v lagmax="$LAG_NS" \
    -v wrk="$wrk_rps" -v conns="$((TASKS * CONNECTIONS))" '
function ms(v) { return v == "-" ? "-" : sprintf("%.1f", v / 1e6) }
{
    m = $1; r = $2 + 0
    if (!(m in seen)) { seen[m] = 1; order[++nm] = m; held[m] = 0; ontime[m] = 0; lost[m] = 0; late[m] = 0 }
    printf "%-10s %8d/s  p50 %8s ms  p99 %8s ms  p99.9 %8s ms  achieved %8s/s  lag p99 %8s ms  no conn %6s%s%s\n",
        m, r, ms($3), ms($4), ms($5), $6 == "-" ? "-" : sprintf("%.0f", $6),
        ms($7), $8, $9 == 0 ? "  (failed)" : "",
        ($10 > 0) ? "  (disturbed: other work took its CPUs)" : ""
    # Rates come in sweep order (ascending): a model holds a rate when it
    # and every lower one keep p99 within the goal.
    if (!lost[m] && $4 != "-" && $4 + 0 <= goal) held[m] = r; else lost[m] = 1
    if (!late[m] && $7 != "-" && $7 + 0 <= lagmax && $6 != "-" && $6 >= 0.9 * r) ontime[m] = r; else late[m] = 1
}
END {
    printf "\n"
    if (wrk != "")
        printf "wrk (closed loop, %d connections) against the same server: %d requests/s\n", conns, wrk
    for (i = 1; i <= nm; i++) {
        m = order[i]
        printf "%s: highest rate within p99 <= %s ms (%s): %s", m, ms(goal), why,
            held[m] ? held[m] " requests/s" : "none of the rates swept"
        printf "; sends on time (lag p99 <= 1 ms) up to %s", ontime[m] ? ontime[m] " requests/s" : "none"
        if (wrk != "" && wrk > 0 && ontime[m])
            printf " (%.2fx wrk)", ontime[m] / wrk
        printf "\n"
    }
}' "$tmp/rows.tsv"

if [ -n "$keep" ]; then
    echo "report: $tmp/report.json"
    plot=$(dirname "$0")/../scripts/plot.py
    if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import matplotlib, numpy' 2>/dev/null; then
        /usr/bin/python3 "$plot" "$tmp/report.json" -o "$tmp" \
            ${GOAL:+--goal "$GOAL"} >/dev/null
    fi
fi
