#!/bin/bash
# Scaling: what one more task costs under each model, from 1 to 100,000
# concurrent tasks that each sleep once, as time per task and peak memory
# per task (log-log). Each model goes up to its limit: a model whose check
# refuses a count (processes and threads against RLIMIT_NPROC and pid_max)
# is recorded as skipped, with the reason, and drawn up to where it ran.
#
# sequential is left out by default: it would need tasks x ms (100,000 x
# 100 ms is three hours), and its time per task is the sleep itself.
#
# Writes results/raw/<UTC timestamp>-scaling/report.json (the per-model
# reports joined; each model's own report beside it) and
# scaling-sleep.png/.svg (with the other charts) and prints where.
#
# Environment: CONCBENCH (default ./concbench), OUT, MODELS
# (fork,threads,green,eventloop), TASKS (1,10,100,1000,10000,100000), RUNS
# (3), MS (100ms).
set -uo pipefail

me=bench/scaling.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
MODELS=${MODELS:-fork,threads,green,eventloop}
TASKS=${TASKS:-1,10,100,1000,10000,100000}
RUNS=${RUNS:-3}
MS=${MS:-100ms}
OUT=${OUT:-results/raw/$(date -u +%Y%m%dT%H%M%SZ)-scaling}
PYTHON=/usr/bin/python3
# shellcheck source=bench/lib.sh
. bench/lib.sh

need_concbench
need_tools jq
mkdir -p "$OUT" || exit 2

echo "$me: $MODELS x sleep ms=$MS x tasks $TASKS, $RUNS runs each" \
    "(limits: ulimit -u $(ulimit -u), pid_max $(cat /proc/sys/kernel/pid_max)," \
    "ulimit -n $(ulimit -n))" >&2
# One process per model, its task counts in rising order: memory a run
# leaves resident (glibc's cache of thread stacks, a pool of green stacks)
# would otherwise raise the peak RSS of whichever cell comes next, and the
# 1-task cell, the baseline of "added per task", must start clean.
start=$(date +%s)
rc=0
reports=()
for model in ${MODELS//,/ }; do
    "$CONCBENCH" sweep --models "$model" --workloads sleep --tasks "$TASKS" \
        --runs "$RUNS" --no-interleave -o "ms=$MS" \
        --json "$OUT/$model.json" >>"$OUT/table.txt"
    r=$?
    if [ "$r" -ne 0 ] && [ "$r" -ne 1 ]; then
        echo "$me: the sweep of '$model' exited $r" >&2
        [ "$r" -ge 128 ] && exit "$r"
        continue
    fi
    [ "$r" -eq 1 ] && rc=1
    reports+=("$OUT/$model.json")
done
[ "${#reports[@]}" -gt 0 ] || exit 3
jq -s '.[0] + {results: [.[].results[]]}' "${reports[@]}" >"$OUT/report.json"
echo "$me: sweeps took $(( $(date +%s) - start )) s" >&2

# Per task: the median wall time over the tasks, and what each task adds
# to the peak RSS over the same model's 1-task run.
jq -r "$CB_JQ_MEDIAN"'
  ["model", "tasks", "wall", "per task", "peak RSS", "added per task"],
  ((.results | map(select(.skipped == null and (.failed | not)))) as $ok |
   $ok[] |
   ([.runs[].wall_ns] | median) as $w |
   ([.runs[].max_rss_kib] | median) as $r |
   .model as $m |
   ([$ok[] | select(.model == $m and .tasks == 1) | .runs[].max_rss_kib]
    | median) as $base |
   [.model, .tasks, "\($w / 1e6 | . * 10 | round / 10) ms",
    "\($w / .tasks / 1e3 | . * 100 | round / 100) us",
    "\($r / 1024 | . * 10 | round / 10) MiB",
    (if $base != null and .tasks > 1
     then "\(($r - $base) / .tasks | . * 100 | round / 100) KiB" else "-" end)])
  | @tsv' "$OUT/report.json" | column -t -s $'\t'
jq -r '.results[] | select(.skipped != null) |
       "\(.model) at \(.tasks) tasks skipped: \(.skipped)"' "$OUT/report.json"
jq -r '.results[] | select(.skipped == null and .failed) |
       "\(.model) at \(.tasks) tasks failed"' "$OUT/report.json"

if "$PYTHON" -c 'import matplotlib' 2>/dev/null; then
    "$PYTHON" scripts/plot.py "$OUT/report.json" -o "$OUT" >/dev/null ||
        exit $?
    echo "charts: $OUT/scaling-sleep.png (and .svg)"
else
    echo "$me: no matplotlib: charts not drawn (scripts/deps.sh)" >&2
fi
echo "report: $OUT/report.json"
exit "$rc"
