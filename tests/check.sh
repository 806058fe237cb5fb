#!/usr/bin/env bash
# The test tiers, each ending in one closing line with the totals, so a
# reader (or CI) sees the outcome without scrolling; exits non-zero on any
# failure.
#
#   tests/check.sh UNIT_BINARY...          `make check`, what CI runs: the
#       Criterion unit tests, every bats CLI test, then a short run of
#       every fuzz target, one after another
#   tests/check.sh --fast UNIT_BINARY...   `make test`, for the
#       edit-compile-test loop: the unit tests and the CLI test files, JOBS
#       (default 4: many wait on sleeps and servers) at a time, without
#       the files in SLOW below and without fuzzing
#
# CONCBENCH (set by the Makefile) is the binary the CLI tests run.
set -uo pipefail
: "${CONCBENCH:?set CONCBENCH to the binary}"
: "${MAKE:=make}"

# The CLI test files `make test` leaves to `make check`, by their time
# alone on 2 cores: concbench under sanitizers and memcheck (720, 730:
# 80 and 120 s), the speedup and overlap tests, which need the machine to
# themselves (100, 201, 301, 430: 60, 12, 24, 17 s, and they would fail
# or skip beside other tests), and the charts (510: 60 s, most of it
# matplotlib, for scripts/plot.py rather than the binary).
SLOW=(100-threads-fork 201-green-timing 301-eventloop-scaling 850-mix
    430-http-overlap 510-plot 720-sanitizers 730-valgrind)
# The files that take `make test` longest, longest first (20 to 70 s
# each): started first, so that the short ones fill the gaps beside them.
LONG=(410-http 600-compare 710-signals 300-eventloop 005-unavailable
    200-green)

fast=0
if [ "${1:-}" = --fast ]; then
    fast=1
    shift
fi
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
passed=0 failed=0 skipped=0 retries=0

# count_unit LOG STATUS: adds a Criterion binary's totals. Its closing
# line: "Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C".
count_unit() {
    local line p f
    line=$(grep 'Synthesis:' "$1" | tail -n 1)
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    f=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' <<<"$line")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f% *} + ${f#* }))
    [ "$2" -eq 0 ] || [ -n "$f" ] || failed=$((failed + 1))
}

# count_bats LOG STATUS: adds the totals of bats' TAP output.
count_bats() {
    local ok skip bad
    ok=$(grep -c '^ok ' "$1")
    skip=$(grep -c '^ok .* # skip' "$1")
    bad=$(grep -c '^not ok ' "$1")
    passed=$((passed + ok - skip))
    skipped=$((skipped + skip))
    failed=$((failed + bad))
    # Timing tests (tests/cli/timing.bash) say each retry they take.
    retries=$((retries + $(grep -c "^# timing test '.*': try " "$1")))
    [ "$2" -eq 0 ] || [ "$bad" -gt 0 ] || failed=$((failed + 1))
}

if [ "$fast" = 0 ]; then
    for t in "$@"; do
        echo "== $t"
        "$t" --jobs 1 2>&1 | tee "$log/out"
        count_unit "$log/out" "${PIPESTATUS[0]}"
    done

    echo "== bats tests/cli"
    bats --formatter tap tests/cli 2>&1 | tee "$log/out"
    count_bats "$log/out" "${PIPESTATUS[0]}"

    echo "== fuzz (20 s a target)"
    if $MAKE --no-print-directory NO_DEPS=1 fuzz FUZZ_SECONDS=20; then
        fuzz=(tests/fuzz/fuzz_*.c)
        passed=$((passed + ${#fuzz[@]}))
    else
        failed=$((failed + 1))
    fi

    echo "check: $passed passed, $failed failed, $skipped skipped, $retries timing retries"
    [ "$failed" -eq 0 ]
    exit
fi

# The fast tier: every job's output goes to its own log; a line per job
# as it ends, with the whole log of a job that failed, then the totals.
# Each job is a process group of its own (job control), so that an
# interrupted `make test` stops every test it started, servers included.
JOBS=${JOBS:-4}
start=$(date +%s)
jobs=()
for name in "${LONG[@]}"; do
    jobs+=("bats:tests/cli/$name.bats")
done
for t in "$@"; do
    jobs+=("unit:$t")
done
for f in tests/cli/*.bats; do
    name=$(basename "$f" .bats)
    [[ " ${SLOW[*]} ${LONG[*]} " == *" $name "* ]] || jobs+=("bats:$f")
done

# job KIND:PATH ID: runs one job into $log/ID.out; its seconds go to
# $log/ID.s, then its status to $log/ID.rc, which says it has ended.
job() {
    local kind=${1%%:*} path=${1#*:} t0 rc=0
    t0=$(date +%s)
    if [ "$kind" = unit ]; then
        "$path" --jobs 1 >"$log/$2.out" 2>&1 || rc=$?
    else
        bats --formatter tap "$path" >"$log/$2.out" 2>&1 || rc=$?
    fi
    echo $(($(date +%s) - t0)) >"$log/$2.s"
    echo "$rc" >"$log/$2.rc"
}

# report ID: the line of a job that ended (and its log when it failed).
report() {
    local rc
    rc=$(cat "$log/$1.rc")
    printf '%-4s %-36s %4s s\n' "$([ "$rc" -eq 0 ] && echo ok || echo FAIL)" \
        "${jobs[$1]#*:}" "$(cat "$log/$1.s")"
    [ "$rc" -eq 0 ] || sed 's/^/    /' "$log/$1.out"
}

declare -A pid_of=()
stop_jobs() {
    local i
    for i in "${!pid_of[@]}"; do kill -TERM -- "-${pid_of[$i]}" 2>/dev/null; done
    rm -rf "$log"
}
trap stop_jobs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
set -m

echo "== test: ${#jobs[@]} files, $JOBS at a time; make check also runs" \
    "${SLOW[*]} and fuzzing"
next=0
while [ "$next" -lt "${#jobs[@]}" ] || [ "${#pid_of[@]}" -gt 0 ]; do
    while [ "$next" -lt "${#jobs[@]}" ] && [ "${#pid_of[@]}" -lt "$JOBS" ]; do
        job "${jobs[$next]}" "$next" &
        pid_of[$next]=$!
        next=$((next + 1))
    done
    sleep 0.2
    for i in "${!pid_of[@]}"; do
        if [ -s "$log/$i.rc" ]; then
            wait "${pid_of[$i]}"
            unset "pid_of[$i]"
            report "$i"
        fi
    done
done
for i in "${!jobs[@]}"; do
    if [ "${jobs[$i]%%:*}" = unit ]; then
        count_unit "$log/$i.out" "$(cat "$log/$i.rc")"
    else
        count_bats "$log/$i.out" "$(cat "$log/$i.rc")"
    fi
done

echo "test: took $(($(date +%s) - start)) s"
echo "test: $passed passed, $failed failed, $skipped skipped, $retries timing retries"
[ "$failed" -eq 0 ]
