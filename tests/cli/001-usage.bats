#!/usr/bin/env bats
# Usage errors: one line on stderr in git's style, exit 2, nothing run.

bats_require_minimum_version 1.5.0

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

@test "no arguments prints usage and exits 2" {
    run --separate-stderr "$CONCBENCH"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"usage: concbench"* ]]
}

@test "--help and --version exit 0 on stdout" {
    run --separate-stderr "$CONCBENCH" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"commands:"* ]]
    run --separate-stderr "$CONCBENCH" --version
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^concbench\ .+ ]]
    run --separate-stderr "$CONCBENCH" run --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--workload W"* ]]
    [[ "$output" == *"-o n=<count>"* ]]   # generated from the option tables
}

@test "unknown command suggests the closest" {
    run --separate-stderr "$CONCBENCH" lsit
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: 'lsit' is not a concbench command; did you mean 'list'?" ]
}

@test "unknown model and workload suggest the closest" {
    run --separate-stderr "$CONCBENCH" --model sequentail --workload primes
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown model 'sequentail'; did you mean 'sequential'?" ]
    run --separate-stderr "$CONCBENCH" --model sequential --workload prime
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown workload 'prime'; did you mean 'primes'?" ]
    run --separate-stderr "$CONCBENCH" --model zzzzzz --workload primes
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown model 'zzzzzz' (see 'concbench list')" ]
}

@test "unknown option key suggests the closest" {
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o segmnt=10
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown option 'segmnt' for model 'sequential' and workload 'primes'; did you mean 'segment'?" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o zzz=10
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown option 'zzz' for model 'sequential' and workload 'primes' (see 'concbench list')" ]
}

@test "bad values name the option and the expected form" {
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=lots
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad value 'lots' for option 'n': expected a count such as 100, 1e9 or 10_000" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w primes -o n=1e30
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: value '1e30' for option 'n' is out of range"* ]]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=5sec
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad value '5sec' for option 'ms': expected a duration such as 250us, 100ms or 5s" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: empty value for option 'ms'" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad option 'ms': expected key=value" ]
}

@test "bad counts for --tasks, --runs, --warmup" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep --tasks 0
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: value '0' for '--tasks' is out of range (1 to 1000000)" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep --tasks -3
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: bad value '-3' for '--tasks'"* ]]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep --runs 0
    [ "$status" -eq 2 ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep --warmup x
    [ "$status" -eq 2 ]
}

@test "missing and repeated flags" {
    run --separate-stderr "$CONCBENCH" --model sequential
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: missing --workload"* ]]
    run --separate-stderr "$CONCBENCH" -m sequential -m sequential -w sleep
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option '--model' given twice (see 'concbench run --help')" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep --json
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: option '--json' needs a value (see 'concbench run --help')" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep --bogus
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: unknown option '--bogus'"* ]]
}

@test "an unwritable --json path fails before any run" {
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=10s --json /nonexistent/dir/x.json
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: cannot write '/nonexistent/dir/x.json': No such file or directory" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=10s --json "$BATS_TEST_TMPDIR"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"it is a directory" ]]
}

@test "list shows every model and workload with its options" {
    run --separate-stderr "$CONCBENCH" list
    [ "$status" -eq 0 ]
    for m in sequential fork threads green eventloop; do
        [[ "$output" == *"  $m "* ]]
    done
    [[ "$output" == *"primes"* && "$output" == *"sleep"* ]]
    [[ "$output" == *"-o n=<count>"*"(default 1e8)"* ]]
    [[ "$output" == *"-o ms=<duration>"* ]]
}
