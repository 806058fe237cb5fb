#!/usr/bin/env bats
# Exit 3: a build without libuv, Boost.Context and http-parser still builds,
# lists what it lacks, and refuses those parts with exit 3 and the reason.

bats_require_minimum_version 1.5.0

setup_file() {
    repo=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
    export LEAN="$BATS_FILE_TMPDIR/lean"
    make -s -C "$repo" O="$LEAN" NO_DEPS=1 NO_UV=1 NO_BOOST_CONTEXT=1 \
        NO_HTTP_PARSER=1 NO_URING=1 "$LEAN/concbench" >/dev/null
}

@test "the lean build lists what it lacks" {
    run --separate-stderr "$LEAN/concbench" list
    [ "$status" -eq 0 ]
    [[ "$output" == *"eventloop"*"[unavailable: built without libuv]"* ]]
    [[ "$output" == *"http"*"[unavailable: "* ]]
}

@test "an unavailable model exits 3 with one line" {
    run --separate-stderr "$LEAN/concbench" -m eventloop -w sleep -o ms=1ms
    [ "$status" -eq 3 ]
    [ "$stderr" = "concbench: model 'eventloop' is unavailable in this build: built without libuv" ]
    [ -z "$output" ]
}

@test "an unavailable workload exits 3 with one line" {
    run --separate-stderr "$LEAN/concbench" -m sequential -w http
    [ "$status" -eq 3 ]
    [[ "$stderr" == "concbench: workload 'http' is unavailable in this build: "* ]]
    [ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
}

@test "what the lean build has still runs and is right" {
    run --separate-stderr "$LEAN/concbench" -m threads -w primes -o n=1e6 -t 2 --runs 1 --json -
    [ "$status" -eq 0 ]
    [ "$(jq '.results[0].runs[0].result' <<<"$output")" -eq 78498 ]
    [ "$(jq -r '.concbench.build.libuv' <<<"$output")" = "" ]
    # Green falls back to ucontext without Boost.Context.
    run --separate-stderr "$LEAN/concbench" -m green -w yield -t 4 --runs 1
    [ "$status" -eq 0 ]
}
