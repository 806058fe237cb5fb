#!/usr/bin/env bash
# `make check`: the Criterion unit tests, the bats CLI tests and a short run
# of every fuzz target, then one closing line with the totals, so a reader
# (or CI) sees the outcome without scrolling. Exits non-zero on any failure.
# Usage: tests/check.sh UNIT_BINARY... (with CONCBENCH set by the Makefile)
set -uo pipefail
: "${CONCBENCH:?set CONCBENCH to the binary}"
: "${MAKE:=make}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0 skipped=0

for t in "$@"; do
    echo "== $t"
    "$t" --jobs 1 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    # Criterion's closing line: "Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C"
    line=$(grep 'Synthesis:' "$log" | tail -n 1)
    p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
    f=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' <<<"$line")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f% *} + ${f#* }))
    [ "$status" -eq 0 ] || [ -n "$f" ] || failed=$((failed + 1))
done

echo "== bats tests/cli"
bats tests/cli 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$((passed + $(grep -c '^ok ' "$log" || true) - $(grep -c '^ok .* # skip' "$log" || true)))
skipped=$((skipped + $(grep -c '^ok .* # skip' "$log" || true)))
failed=$((failed + $(grep -c '^not ok ' "$log" || true)))
[ "$status" -eq 0 ] || [ "$(grep -c '^not ok ' "$log")" -gt 0 ] || failed=$((failed + 1))

echo "== fuzz (20 s a target)"
if $MAKE --no-print-directory NO_DEPS=1 fuzz FUZZ_SECONDS=20; then
    passed=$((passed + $(ls tests/fuzz/fuzz_*.c | wc -l)))
else
    failed=$((failed + 1))
fi

echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
