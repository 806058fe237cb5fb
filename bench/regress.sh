#!/bin/bash
# The regression suite for CI: a few small cells under every model, RUNS
# runs each (interleaved by `sweep`), merged into one report and compared
# with the committed baseline by `concbench compare`. Prints compare's
# table and exits with its code: 0 no regression, 1 a cell is slower beyond
# the threshold with p < alpha (or has no passed run), 2 bad input.
#
#   bench/regress.sh                  run, compare with the baseline
#   bench/regress.sh --update         run, and make that the new baseline
#   bench/regress.sh --against BIN    run the suite with BIN too (e.g. the
#                                     main branch's build) and compare with
#                                     that instead: same machine, same hour
#
# Options after these go to compare (--threshold 10%, --format md, ...).
#
# Provenance: --update records in the baseline the commit it was built
# from, whether the tree was clean, the host and the load before and after
# the run, and refuses a dirty tree (a baseline must be reproducible from a
# commit). Comparing, a baseline made from a dirty tree is refused, and a
# baseline from another host or another build (cc, cflags) is warned about:
# its numbers measure that difference too. compare's own gate fails when a
# baseline cell is missing from the new run (green's defaults changed, a
# model was renamed): rebuild the baseline rather than skip cells.
# Environment: CONCBENCH (default ./concbench), BASELINE
# (results/baselines/regress.json), RUNS (12 per cell), ROUNDS (4: the
# runs are split into rounds, alternating with --against's binary), OUT
# (keep the new report there), MODELS (all).
#
# The cells: primes n=5e8 with 1 and 2 tasks (the sieve, and splitting it
# over 2 cores), sleep 5ms with 20 tasks (what a model adds to waiting),
# yield with 10 tasks of 100,000 switches (what a switch costs). Each run
# takes 5 to 100 ms here, long enough to be stable, short enough that 12
# runs of every cell take well under a minute.
set -uo pipefail

me=bench/regress.sh
cd "$(dirname "$0")/.." || exit 2
CONCBENCH=${CONCBENCH:-./concbench}
BASELINE=${BASELINE:-results/baselines/regress.json}
RUNS=${RUNS:-12}
ROUNDS=${ROUNDS:-4}
MODELS=${MODELS:-all}
update=0
against=
compare_args=()

while [ $# -gt 0 ]; do
    case $1 in
    --update) update=1 ;;
    --against)
        [ $# -ge 2 ] || { echo "$me: --against needs a binary" >&2; exit 2; }
        against=$2
        shift
        ;;
    -h | --help)
        sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    *) compare_args+=("$1") ;;
    esac
    shift
done

for bin in "$CONCBENCH" ${against:+"$against"}; do
    if ! [ -x "$bin" ]; then
        echo "$me: '$bin' is not built (run make, or set CONCBENCH)" >&2
        exit 2
    fi
done

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_init
tmp=$CB_TMP

# quiet CMD...: runs CMD, showing its stderr only when it fails.
quiet() {
    "$@" 2>"$tmp/quiet.err" || {
        cat "$tmp/quiet.err" >&2
        exit 2
    }
}

# suite BIN OUT RUNS: runs every cell with BIN and merges them into OUT. A
# cell that fails is recorded as failed (compare then reports it); anything
# worse (bad usage, a signal) stops the script.
suite() {
    local bin=$1 out=$2 runs=$3 i=0 rc
    local -a parts=()
    local -a matrices=(
        "-w primes -t 1,2 -o n=5e8"
        "-w sleep -t 20 -o ms=5ms"
        "-w yield -t 10 -o count=1e5"
    )
    for m in "${matrices[@]}"; do
        i=$((i + 1))
        # shellcheck disable=SC2086 # each matrix is a list of words
        "$bin" sweep -m "$MODELS" $m --runs "$runs" --warmup 1 \
            --json "$out.part$i" >"$out.log" 2>&1
        rc=$?
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
            cat "$out.log" >&2
            echo "$me: '$bin sweep $m' exited $rc" >&2
            exit "$rc"
        fi
        parts+=("$out.part$i")
    done
    quiet "$CONCBENCH" merge "${parts[@]}" --json "$out"
}

# Rounds: each binary runs the suite ROUNDS times with RUNS / ROUNDS runs,
# base and new alternating (ABBA...), so load that drifts over minutes
# falls on both sides alike; the rounds are then joined per cell. With a
# committed baseline the rounds still spread the new runs over time.
# provenance: the commit, whether the tree is clean, the host and load.
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -n 1)
if [ "$update" = 1 ] && [ -n "$dirty" ] && [ -z "${ALLOW_DIRTY:-}" ]; then
    echo "$me: the tree has uncommitted changes: a baseline must come from" \
        "a commit (commit or stash them; ALLOW_DIRTY=1 overrides)" >&2
    exit 2
fi
if [ "$update" = 0 ] && [ -z "$against" ] && [ -f "$BASELINE" ]; then
    bver=$(jq -r '.concbench.version' "$BASELINE")
    bclean=$(jq -r '.provenance.clean // empty' "$BASELINE")
    if [[ "$bver" == *-dirty ]] || [ "$bclean" = false ]; then
        echo "$me: the baseline '$BASELINE' was made from a dirty tree" \
            "($bver): its numbers cannot be traced to a commit; make a new" \
            "one from a clean tree (bench/regress.sh --update)" >&2
        exit 2
    fi
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
per=$(((RUNS + ROUNDS - 1) / ROUNDS))
start=$(date +%s)
# shellcheck disable=SC2016 # the quotes are text; $against expands
echo "$me: $ROUNDS rounds of $per runs a cell with '$CONCBENCH'" \
    "${against:+and '$against' (base), alternating}" >&2
base_rounds=()
new_rounds=()
for r in $(seq "$ROUNDS"); do
    if [ -n "$against" ] && [ $((r % 2)) = 1 ]; then
        suite "$against" "$tmp/base$r.json" "$per"
        base_rounds+=("$tmp/base$r.json")
    fi
    suite "$CONCBENCH" "$tmp/new$r.json" "$per"
    new_rounds+=("$tmp/new$r.json")
    if [ -n "$against" ] && [ $((r % 2)) = 0 ]; then
        suite "$against" "$tmp/base$r.json" "$per"
        base_rounds+=("$tmp/base$r.json")
    fi
done
quiet "$CONCBENCH" merge --join "${new_rounds[@]}" --json "$tmp/new.json"
base=$BASELINE
if [ -n "$against" ]; then
    quiet "$CONCBENCH" merge --join "${base_rounds[@]}" --json "$tmp/base.json"
    base=$tmp/base.json
fi
echo "$me: the suite took $(($(date +%s) - start)) s" >&2
if [ -n "${OUT:-}" ]; then
    cp "$tmp/new.json" "$OUT" || exit 2
fi

if [ "$update" = 1 ]; then
    mkdir -p "$(dirname "$BASELINE")" || exit 2
    jq --arg commit "$commit" --argjson clean "$([ -z "$dirty" ] && echo true || echo false)" \
        --arg load_start "$load_start" --arg load_end "$(cut -d' ' -f1-3 /proc/loadavg)" \
        '.provenance = {commit: $commit, clean: $clean,
                        loadavg_start: ($load_start | split(" ") | map(tonumber)),
                        loadavg_end: ($load_end | split(" ") | map(tonumber)),
                        note: "bench/regress.sh --update"}' \
        "$tmp/new.json" >"$BASELINE.tmp.$$" && mv "$BASELINE.tmp.$$" "$BASELINE" || exit 2
    echo "$me: wrote the baseline '$BASELINE'" \
        "($(jq '.results | length' "$BASELINE") cells; commit it)" >&2
    exit 0
fi
if ! [ -f "$base" ]; then
    echo "$me: no baseline '$base' (bench/regress.sh --update makes one)" >&2
    exit 2
fi
# Two sides that differ in what built or ran them: say so.
for f in '.concbench.build.cc' '.concbench.build.cflags' '.host.cpu_model' \
         '.host.cpus' '.host.kernel'; do
    a=$(jq -c "$f" "$base") b=$(jq -c "$f" "$tmp/new.json")
    [ "$a" = "$b" ] || echo "$me: warning: $f differs: base $a, new $b" >&2
done
"$CONCBENCH" compare "$base" "$tmp/new.json" "${compare_args[@]}"
