#!/usr/bin/env bats
# Table-driven bad input: every row must exit 2 with exactly one line on
# stderr that starts "concbench: ", and nothing on stdout. Rows are
# "args | the start of the expected message", split on " | ".

bats_require_minimum_version 1.5.0

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

# Models and workloads that land later add their own rows below; a row for
# something this build lacks is skipped by its guard word (see check_rows).
ROWS=$(cat <<'TABLE'
 | usage: concbench
bogus | 'bogus' is not a concbench command
rnu | 'rnu' is not a concbench command; did you mean 'run'?
list extra | unexpected argument 'extra'
--model | option '--model' needs a value
--model= -w primes | empty value for '--model'
-m sequential | missing --workload
-w primes | missing --model
-m sequential -w primes -m threads | option '--model' given twice
-m sequential -w primes -w sleep | option '--workload' given twice
-m sequential -w primes -t 1 -t 2 | option '--tasks' given twice
-m sequential -w primes --runs 1 --runs 2 | option '--runs' given twice
-m sequential -w primes --json a --json b | option '--json' given twice
-m Sequential -w primes | unknown model 'Sequential'
-m '' -w primes | empty value for '--model'
-m sequential -w '' | empty value for '--workload'
-m sequential -w primez | unknown workload 'primez'; did you mean 'primes'?
-m seq -w primes | unknown model 'seq'; did you mean 'sequential'?
-m sequential -w primes extra | unexpected argument 'extra'
-m sequential -w primes --tasks | option '--tasks' needs a value
-m sequential -w primes --tasks 0 | value '0' for '--tasks' is out of range
-m sequential -w primes --tasks -1 | bad value '-1' for '--tasks'
-m sequential -w primes --tasks 1e30 | value '1e30' for '--tasks' is out of range
-m sequential -w primes --tasks 2e6 | value '2e6' for '--tasks' is out of range
-m sequential -w primes --tasks 1.5 | bad value '1.5' for '--tasks'
-m sequential -w primes --tasks '' | bad value '' for '--tasks'
-m sequential -w primes --tasks four | bad value 'four' for '--tasks'
-m sequential -w primes --runs 0 | value '0' for '--runs' is out of range
-m sequential -w primes --runs 1e5 | value '1e5' for '--runs' is out of range
-m sequential -w primes --warmup -1 | bad value '-1' for '--warmup'
-m sequential -w primes --warmup 1e4 | value '1e4' for '--warmup' is out of range
-m sequential -w primes -o | option '-o' needs a value
-m sequential -w primes -o n | bad option 'n': expected key=value
-m sequential -w primes -o =5 | bad option '=5': expected key=value
-m sequential -w primes -o nn=5 | unknown option 'nn'
-m sequential -w primes -o N=5 | unknown option 'N'
-m sequential -w primes -o workers=2 | unknown option 'workers'
-m sequential -w primes -o n= | empty value for option 'n'
-m sequential -w primes -o n=-5 | bad value '-5' for option 'n'
-m sequential -w primes -o n=1 | value '1' for option 'n' is out of range
-m sequential -w primes -o n=1e30 | value '1e30' for option 'n' is out of range
-m sequential -w primes -o n=1e13 | value '1e13' for option 'n' is out of range
-m sequential -w primes -o n=1.5 | bad value '1.5' for option 'n'
-m sequential -w primes -o n=1e9x | bad value '1e9x' for option 'n'
-m sequential -w primes -o n=1_ | bad value '1_' for option 'n'
-m sequential -w primes -o n=0x100 | bad value '0x100' for option 'n'
-m sequential -w primes -o n=1M | bad value '1M' for option 'n'
-m sequential -w primes -o segment=1 | value '1' for option 'segment' is out of range
-m sequential -w primes -o segment=1TiB | value '1TiB' for option 'segment' is out of range
-m sequential -w primes -o segment=32kib | bad value '32kib' for option 'segment'
-m sequential -w primes -o segment=32KiBs | bad value '32KiBs' for option 'segment'
-m sequential -w sleep -o ms=5sec | bad value '5sec' for option 'ms'
-m sequential -w sleep -o ms=-5ms | bad value '-5ms' for option 'ms'
-m sequential -w sleep -o ms=5MS | bad value '5MS' for option 'ms'
-m sequential -w sleep -o ms=2h | value '2h' for option 'ms' is out of range
-m sequential -w sleep -o ms=1e30s | value '1e30s' for option 'ms' is out of range
-m sequential -w sleep -o count=0 | value '0' for option 'count' is out of range
-m sequential -w sleep -o count=1e7 | value '1e7' for option 'count' is out of range
-m sequential -w sleep -o jitter=abc | bad value 'abc' for option 'jitter'
-m sequential -w sleep -o seed=-1 | bad value '-1' for option 'seed'
-m sequential -w sleep --json /nonexistent/x.json | cannot write '/nonexistent/x.json': No such file or directory
-m sequential -w sleep --export-csv /nonexistent/x.csv | cannot write '/nonexistent/x.csv'
-m sequential -w sleep --export-markdown /proc/x.md | cannot write '/proc/x.md'
-m sequential -w sleep --json '' | empty value for '--json'
-m uring -w sleep -o workers=0 | value '0' for option 'workers' is out of range
-m uring -w sleep -o workers=1025 | value '1025' for option 'workers' is out of range
-m uring -w sleep -o entries=1 | value '1' for option 'entries' is out of range (2 to 32768)
-m uring -w sleep -o entries=65536 | value '65536' for option 'entries' is out of range
-m uring -w sleep -o entries=1e9x | bad value '1e9x' for option 'entries'
-m uring -w sleep -o entries= | empty value for option 'entries'
-m uring -w sleep -o sqpoll=maybe | bad value 'maybe' for option 'sqpoll'
-m uring -w sleep -o offload=on | unknown option 'offload'
-m uring -w sleep -o entries=4 -o entries=8 | option 'entries' given twice
TABLE
)

check_rows() {
    local failures=0 n=0 args want
    while IFS= read -r row; do
        args=${row%% | *}
        want=${row#* | }
        n=$((n + 1))
        eval "set -- $args"
        run --separate-stderr "$CONCBENCH" "$@"
        if [ "$status" -ne 2 ] || [ -n "$output" ] ||
           [ "$(printf '%s\n' "$stderr" | wc -l)" -ne 1 ] ||
           [[ "$stderr" != "concbench: $want"* ]]; then
            # The no-argument usage is the one multi-line answer.
            if [ -z "$args" ] && [ "$status" -eq 2 ] && [[ "$stderr" == *"$want"* ]]; then
                continue
            fi
            echo "row $n: concbench $args" >&3
            echo "  exit $status, stdout '$output', stderr '$stderr'" >&3
            echo "  wanted exit 2 and 'concbench: $want...'" >&3
            failures=$((failures + 1))
        fi
    done <<<"$1"
    echo "$n rows" >&3
    [ "$failures" -eq 0 ]
}

@test "core: every bad input exits 2 with one line" {
    check_rows "$ROWS"
}
