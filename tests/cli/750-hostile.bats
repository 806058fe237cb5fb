#!/usr/bin/env bats
# Hostile input, one test per class of failure (README "What concbench
# guarantees when things go wrong"): output paths, serve's exposure and
# its slow or greedy clients, interrupting long reads and merges, crashes
# and limits, a model's failure, exports, control characters, stdout,
# and resource bounds. Each fix is at the class's root, so each test tries
# more than one case of its class.

bats_require_minimum_version 1.5.0

setup() {
    : "${CONCBENCH:?set CONCBENCH to the binary}"
    cd "$BATS_TEST_TMPDIR"
}

# A quick cell: one 1 ms sleep, one run.
quick=(-m sequential -w sleep -o ms=1ms --runs 1 --warmup 0)

# lines_without_warnings: stderr less the timing warnings a busy machine adds.
errs() { grep -v '^concbench: warning:' <<<"$stderr" || true; }

@test "output paths: devices and FIFOs are written into, links and dirs refused, nothing replaced" {
    mkdir out && cd out
    # A character device stays one (as root a replaced /dev/null would
    # break the system).
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --json /dev/null
    [ "$status" -eq 0 ]
    [ -c /dev/null ]
    # A FIFO with a reader receives the report; it is not replaced.
    mkfifo f
    cat f >fifo.out &
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --json f
    wait
    [ "$status" -eq 0 ]
    [ -p f ]
    [ "$(jq -r .schema fifo.out)" = "concbench/2" ]
    # A FIFO nobody reads: one line, no hang, still a FIFO.
    run --separate-stderr timeout 20 "$CONCBENCH" "${quick[@]}" --json f
    [ "$status" -eq 1 ]
    [ "$(errs)" = "concbench: cannot write 'f': no process reads that FIFO" ]
    [ -p f ]
    # A link to a file is refused before any run; the file is untouched.
    echo precious >target
    ln -s target link
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --export-csv link
    [ "$status" -eq 2 ]
    [[ "$(errs)" == "concbench: cannot write 'link': it is a symbolic link"* ]]
    [ "$(cat target)" = precious ] && [ -L link ]
    # A link to a device is followed (/dev/stdout, /dev/fd/N).
    ln -s /dev/null devlink
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --json devlink
    [ "$status" -eq 0 ] && [ -L devlink ]
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --json /dev/stdout
    [ "$status" -eq 0 ]
    [ "$(jq -r .schema <<<"$output")" = "concbench/2" ]
    # A directory and a block device are refused with the reason.
    mkdir d
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --export-markdown d
    [ "$status" -eq 2 ]
    [ "$(errs)" = "concbench: cannot write 'd': it is a directory" ]
    blk=$(find /dev -maxdepth 1 -type b 2>/dev/null | head -n 1)
    if [ -n "$blk" ]; then
        run --separate-stderr "$CONCBENCH" "${quick[@]}" --json "$blk"
        [ "$status" -eq 2 ]
        [ "$(errs)" = "concbench: cannot write '$blk': it is a block device" ]
        [ -b "$blk" ]
    fi
    # Nothing but the outputs themselves was left behind.
    [ -z "$(ls -A | grep -v -x -e f -e fifo.out -e target -e link -e devlink -e d)" ]
}

@test "output paths: a name taken during the run is not clobbered, and the temp file is not predictable" {
    # The run sleeps 1.5 s; meanwhile a file (or a link) appears at the name.
    "$CONCBENCH" -m sequential -w sleep -o ms=1500ms --runs 1 --warmup 0 \
        --json new.json >/dev/null 2>err &
    pid=$!
    sleep 0.5
    # The old predictable temporary names, planted: never written through.
    for n in $(seq $((pid - 2)) $((pid + 2))); do
        ln -s planted-target "new.json.tmp.$n"
    done
    echo mine >new.json
    wait "$pid" && st=0 || st=$?
    [ "$st" -eq 1 ]
    grep -q "cannot write 'new.json': something was created there while concbench ran; it is left alone" err
    [ "$(cat new.json)" = mine ]
    [ ! -e planted-target ]
    # No temporary file is left.
    [ -z "$(ls -A | grep '^\.new\.json\.')" ]
}

@test "output paths: two outputs on one destination are refused before any run" {
    for args in "--json x --export-csv x" "--json x --export-csv ./x" \
                "--json - --export-csv -" "--json /dev/stdout --export-markdown -"; do
        # shellcheck disable=SC2086
        run --separate-stderr "$CONCBENCH" -m sequential -w sleep -o ms=10s $args
        echo "$args: $status $stderr"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "concbench: '--"*"' and '--"*"' both write to "*"; give each its own" ]]
    done
    [ ! -e x ]
}

serve_bg() {
    "$CONCBENCH" serve "$@" >ready 2>serve.err &
    spid=$!
    for _ in $(seq 100); do
        grep -q listening ready && return 0
        kill -0 "$spid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

serve_port() { sed -n 's/.*:\([0-9]*\)$/\1/p' ready; }

@test "serve: no wildcard by any spelling; the not-loopback warning only after a bind" {
    for a in 0.0.0.0 :: '[::]' ::ffff:0.0.0.0 '[::ffff:0.0.0.0]' ::0.0.0.0; do
        run --separate-stderr "$CONCBENCH" serve --bind "$a"
        echo "$a: $status $stderr"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "concbench: refusing to listen on every interface"* ]]
    done
    # An address this host does not have: the bind fails, and no warning
    # claims it listens.
    run --separate-stderr "$CONCBENCH" serve --bind 192.0.2.1
    [ "$status" -eq 1 ]
    [[ "$stderr" == "concbench: cannot listen on '192.0.2.1:0'"* ]]
    [[ "$stderr" != *"listening"* ]]
    # The IPv4-mapped loopback is loopback: no warning.
    serve_bg --bind ::ffff:127.0.0.1
    kill "$spid"
    wait "$spid" || true
    [ ! -s serve.err ]
}

@test "serve: a slow request gets 408, an idle client is closed, a big body 413, extra connections are shed" {
    serve_bg -o header_timeout=300ms -o idle_timeout=600ms -o max_body=1KiB \
        -o max_conns=3 -o delay=0
    port=$(serve_port)
    run /usr/bin/python3 - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    return s
def status(s):
    return s.recv(4096).split(b"\r\n")[0].decode()
s = conn(); s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
t = time.time(); print("partial", status(s), round(time.time() - t, 1)); s.close()
s = conn(); t = time.time(); print("idle", s.recv(10), round(time.time() - t, 1)); s.close()
s = conn(); s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n")
print("declared", status(s)); s.close()
s = conn(); s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
try:
    for _ in range(10):
        s.sendall(b"400\r\n" + b"a" * 1024 + b"\r\n")
except OSError:
    pass
print("chunked", status(s)); s.close()
time.sleep(0.2)
held = [conn() for _ in range(3)]
time.sleep(0.2)
extra = conn()
print("extra", extra.recv(10))
for h in held: h.close()
time.sleep(0.2)
s = conn(); s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); print("after", status(s))
EOF
    kill "$spid"
    wait "$spid" || true
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"partial HTTP/1.1 408 Request Timeout 0.3"* ]]
    [[ "$output" == *"idle b'' 0.6"* ]]
    [[ "$output" == *"declared HTTP/1.1 413 Content Too Large"* ]]
    [[ "$output" == *"chunked HTTP/1.1 413 Content Too Large"* ]]
    [[ "$output" == *"extra b''"* ]]
    [[ "$output" == *"after HTTP/1.1 200 OK"* ]]
    grep -q "closing new ones until some end" serve.err
}

# A report of n cells (sleep under sequential, tasks 1..n), one run each.
big_report() {
    jq -n --argjson n "$1" '{schema: "concbench/1",
        concbench: {version: "t"}, host: {cpu_model: "x", cpus: 2,
        mem_bytes: 1, kernel: "k"}, started_at: "2026-01-01T00:00:00Z",
        results: [range($n) | {model: "sequential", model_options: {},
            workload: "sleep", workload_options: {ms: 1000000}, tasks: (. + 1),
            warmup: 0, runs: [{wall_ns: 1000000, failed: false,
            result_ok: true}], failed: false}]}'
}

@test "merge and compare stop at SIGINT while reading and joining, and write nothing" {
    big_report 30000 >a.json
    jq '.host.cpu_model = "y"' a.json >b.json
    "$CONCBENCH" merge a.json b.json a.json --join --json out.json \
        2>merge.err &
    pid=$!
    sleep 1
    SECONDS=0
    kill -INT "$pid"
    wait "$pid" && st=0 || st=$?
    echo "exit $st after ${SECONDS}s: $(cat merge.err)"
    [ "$st" -eq 130 ]
    [ "$SECONDS" -le 1 ]
    [ ! -e out.json ]
    [ -z "$(ls -A | grep '^\.out\.json\.')" ]
}

@test "crashes: stack overflows are refused up front, a crash is one line, low ulimit -n is a message" {
    for m in sequential fork threads eventloop; do
        run --separate-stderr "$CONCBENCH" -m "$m" -w yield -o stack_use=60MiB \
            -o count=2 --runs 1
        echo "$m: $status $stderr"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "concbench: workload 'yield' needs 61440 KiB of stack a task and model '$m' gives a task "*"; use less, or raise the stack ('ulimit -s'"* ]]
    done
    run --separate-stderr "$CONCBENCH" -m threads -w yield -o stack=256KiB \
        -o stack_use=1MiB -o count=2 --runs 1
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"gives a task 256 KiB; use less, or raise the stack ('ulimit -s', or -o stack)" ]]
    # A crash (here a SIGSEGV sent from outside) is one line and status 1.
    # The signal is sent once the handler is in place (SigCgt bit 11).
    "$CONCBENCH" -m sequential -w sleep -o ms=5s --runs 1 --warmup 0 \
        2>crash.err >/dev/null &
    pid=$!
    for _ in $(seq 200); do
        cgt=$(sed -n 's/^SigCgt:\t*//p' "/proc/$pid/status" 2>/dev/null)
        [ -n "$cgt" ] && (( (16#$cgt >> 10) & 1 )) && break
        sleep 0.05
    done
    kill -SEGV "$pid"
    wait "$pid" && st=0 || st=$?
    [ "$st" -eq 1 ]
    grep -q "^concbench: a task crashed with SIGSEGV sent by process $$: " crash.err
    # libuv aborts when it cannot open its signal pipe: asked first. The
    # descriptors bats holds open are closed, so the limit is what counts.
    lowfd() {
        local n=$1
        shift
        bash -c 'fds=$(ls /proc/$$/fd); for fd in $fds; do
                 [ "$fd" -gt 2 ] && [ -e /proc/$$/fd/$fd ] &&
                 eval "exec $fd>&-"; done
                 ulimit -n '"$n"'; exec "$@"' lowfd "$@"
    }
    run --separate-stderr lowfd 6 "$CONCBENCH" serve
    [ "$status" -eq 1 ]
    [[ "$stderr" =~ ^concbench:\ cannot\ start\ the\ server:\ it\ needs\ 5\ free\ file\ descriptors\ and\ [0-4]\ are\ left\ under\ \'ulimit\ -n\'\ 6\;\ raise\ it$ ]]
    run --separate-stderr lowfd 6 "$CONCBENCH" -m eventloop -w sleep -o ms=1
    [ "$status" -eq 2 ]
    [[ "$stderr" =~ ^concbench:\ cannot\ start\ an\ event\ loop:\ it\ needs\ 5\ free\ file\ descriptors\ and\ [0-4]\ are\ left\ under\ \'ulimit\ -n\'\ 6\;\ raise\ it$ ]]
}

@test "crashes: running out of memory is a failed run with a message, not an abort" {
    # Every allocation of 1 MiB or more fails: pi(n)'s check in primes'
    # setup needs several.
    cat >oom.c <<'EOF'
#include <errno.h>
#include <stddef.h>
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_malloc(size_t);
void *calloc(size_t n, size_t s)
{
    if (n * s >= (1u << 20)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_calloc(n, s);
}
void *malloc(size_t s)
{
    if (s >= (1u << 20)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_malloc(s);
}
EOF
    cc -shared -fPIC -o oom.so oom.c
    run --separate-stderr env LD_PRELOAD="$PWD/oom.so" "$CONCBENCH" \
        -m sequential -w primes -o n=999999999989 --runs 1 --json r.json
    echo "$status $stderr"
    [ "$status" -eq 1 ]
    [[ "$stderr" =~ ^concbench:\ out\ of\ memory\ \(allocating\ [0-9]+\ bytes\)$ ]]
    [ ! -e r.json ]
}

@test "exports: every option kept apart, quotes, commas and pipes escaped" {
    run --separate-stderr "$CONCBENCH" -m threads -w sleep -o gil=on \
        -o interval=1ms -o ms=1ms -o count=2 --runs 1 --warmup 0 \
        --export-csv r.csv --export-markdown r.md
    [ "$status" -eq 0 ]
    [ "$(/usr/bin/python3 -c 'import csv,sys; print(list(csv.reader(open("r.csv")))[1][2])')" = "gil=on interval=1ms ms=1ms count=2" ]
    # A URL with a quote, a comma and a pipe (the run fails: nobody listens).
    run --separate-stderr "$CONCBENCH" -m sequential -w http \
        -o 'url=http://127.0.0.1:1/a|b,"c"' -o requests=1 --runs 1 \
        --warmup 0 --export-csv u.csv --export-markdown u.md
    [ "$status" -eq 1 ]
    [ "$(/usr/bin/python3 -c 'import csv; r=list(csv.reader(open("u.csv"))); print(len(r[1]), r[1][2])')" = '21 url=http://127.0.0.1:1/a|b,"c" requests=1' ]
    # Every Markdown row has the header's 9 cells.
    [ "$(sed -n 3p u.md | sed 's/\\|//g' | tr -cd '|' | wc -c)" -eq 10 ]
}

@test "control characters never reach the terminal raw, from argv or a URL" {
    run --separate-stderr "$CONCBENCH" -m "$(printf 'a\033[31mb\r\nc')" -w sleep
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: unknown model 'a\\x1b[31mb\\x0d\\x0ac' (see 'concbench list')" ]
    run --separate-stderr "$CONCBENCH" -m sequential -w http \
        -o "url=$(printf 'http://127.0.0.1:1/a\r\nX-Evil: 1')"
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad url 'http://127.0.0.1:1/a\\x0d\\x0aX-Evil: 1': byte 0x0d at 20 is not allowed in a URL (encode it as %0D)" ]
    # Names read from a report, in compare's table, its Markdown and its
    # warnings alike.
    big_report 1 | jq '.results[0].model = "m\u001b[2J\u009b1m" |
        .results[0].runs = [range(6) | {wall_ns: (1000000 + .), failed: false, result_ok: true}]' >esc.json
    for fmt in text md; do
        run --separate-stderr "$CONCBENCH" compare esc.json esc.json \
            --format "$fmt" --accept-noisy
        [ "$status" -eq 0 ]
        [[ "$output$stderr" != *$'\033'* && "$output$stderr" != *$'\302\233'* ]]
        [[ "$output" == *'m\x1b[2J\u9b1m'* ]]
    done
    # A C1 control (CSI, U+009B) is made visible too.
    run --separate-stderr "$CONCBENCH" -m "$(printf 'x\302\233y')" -w sleep
    [[ "$stderr" == "concbench: unknown model 'x\\u9by'"* ]]
}

@test "messages are whole, name their flag, and a full stdout fails" {
    long=$(printf 'm%.0s' $(seq 3000))
    run --separate-stderr "$CONCBENCH" -m "$long" -w sleep
    [ "$status" -eq 2 ]
    [ "${#stderr}" -gt 3000 ]
    [[ "$stderr" == *"(see 'concbench list')" ]]
    run --separate-stderr "$CONCBENCH" "${quick[@]}" --export-csv ''
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: empty value for '--export-csv'" ]
    for cmd in "list" "--version" "${quick[*]}"; do
        # shellcheck disable=SC2086
        run --separate-stderr bash -c "exec '$CONCBENCH' $cmd >/dev/full"
        echo "$cmd: $status $stderr"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"concbench: cannot write to standard output: No space left on device" ]]
    done
}

@test "SIGINT in primes' setup for a large n ends within about 100 ms" {
    # n with no table entry: the setup counts pi(n) itself, for seconds.
    "$CONCBENCH" -m sequential -w primes -o n=999999999989 --runs 1 \
        >/dev/null 2>err &
    pid=$!
    sleep 0.5
    t0=$(date +%s%N)
    kill -INT "$pid"
    wait "$pid" && st=0 || st=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "exit $st after $ms ms"
    [ "$st" -eq 130 ]
    [ "$ms" -lt 1000 ]
}

@test "resource bounds: endless, oversized and absurd reports, and huge sweeps, are refused at once" {
    SECONDS=0
    run --separate-stderr "$CONCBENCH" compare /dev/zero /dev/zero
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: cannot parse '/dev/zero'"* ]]
    run --separate-stderr timeout 30 "$CONCBENCH" compare /dev/urandom /dev/urandom
    [ "$status" -eq 2 ]
    { printf '['; head -c 70000000 /dev/zero | tr '\0' ' '; } >big.json
    run --separate-stderr "$CONCBENCH" compare big.json big.json
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: cannot read 'big.json': larger than 64 MiB" ]
    big_report 2 >good.json
    for bad in '.results[0].runs[0].wall_ns = -5' \
               '.results[0].runs[0].wall_ns = 0' \
               '.results[1].runs[0].user_ns = -1'; do
        jq "$bad" good.json >bad.json
        run --separate-stderr "$CONCBENCH" compare good.json bad.json
        echo "$bad: $stderr"
        [ "$status" -eq 2 ]
        [[ "$stderr" == "concbench: bad report 'bad.json': results["*"].runs[0]: '"*"_ns' is"* ]]
    done
    run --separate-stderr "$CONCBENCH" sweep \
        --models sequential,threads,fork,green,eventloop --workloads sleep \
        --tasks "$(seq -s, 1 20)" -o ms=1,2,3,4,5,6,7,8,9,10 \
        -o count=1,2,3,4,5,6,7,8,9,10 -o jitter=0,1,2,3,4,5,6,7,8,9 \
        -o seed=1,2,3,4,5,6,7,8,9,10,11,12
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: the matrix has 1200000 cells, over the 1000000 a sweep may run"* ]]
    echo "took ${SECONDS}s"
    [ "$SECONDS" -lt 20 ]
}

@test "a run the model fails is reported with its reason, and the next runs are still tried" {
    cat >shim.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>
pid_t fork(void)
{
    errno = EAGAIN;
    return -1;
}
EOF
    cc -shared -fPIC -o shim.so shim.c
    run --separate-stderr env LD_PRELOAD="$PWD/shim.so" "$CONCBENCH" -m fork \
        -w sleep -o ms=1 --runs 3 --warmup 0 --json r.json
    [ "$status" -eq 1 ]
    [ "$(jq '.results[0].runs | length' r.json)" -eq 3 ]
    [ "$(jq '[.results[0].runs[] | select(.failed and (.why | startswith("cannot fork worker 1 of 1")))] | length' r.json)" -eq 3 ]
    [ "$(jq '.results[0].summary' r.json)" = null ]
    [[ "$(jq -r '.results[0].why' r.json)" == "cannot fork worker 1 of 1"* ]]
}
