#!/usr/bin/env bats
# The green model: every workload gives the right answer with both switch
# kinds and with several schedulers; limits are refused up front; a stack
# overflow is reported; SIGINT ends a run promptly.

load timing
bats_require_minimum_version 1.5.0

setup() { : "${CONCBENCH:?set CONCBENCH to the binary}"; }

# Runs one green cell once and prints its first run as compact JSON.
green_run() {
    run --separate-stderr "$CONCBENCH" -m green --runs 1 --warmup 0 --json - "$@"
}

field() { jq -r ".results[0].runs[0].$1" <<<"$output"; }

@test "every workload is right under green with both switches and 1 or 2 workers" {
    for sw in fcontext ucontext; do
        for w in 1 2; do
            green_run -w primes -o n=1234567 -t 5 -o switch="$sw" -o workers="$w"
            [ "$status" -eq 0 ]
            [ "$(field result)" -eq 95360 ]
            [ "$(jq -r '.results[0].model_options.switch' <<<"$output")" = "$sw" ]
            [ "$(jq -r '.results[0].model_options.workers' <<<"$output")" -eq "$w" ]

            green_run -w sleep -o ms=10ms -o count=3 -t 50 -o switch="$sw" -o workers="$w"
            [ "$status" -eq 0 ]
            [ "$(field result)" -eq 150 ]
            [ "$(field op_count)" -eq 150 ]

            green_run -w yield -o count=100 -t 7 -o switch="$sw" -o workers="$w"
            [ "$status" -eq 0 ]
            [ "$(field result)" -eq 700 ]
            [ "$(field failed)" = false ]
        done
    done
}

@test "100 tasks x 1,000 yields give the right count" {
    green_run -w yield -o count=1000 -t 100
    [ "$status" -eq 0 ]
    [ "$(field result)" -eq 100000 ]
    [ "$(field ops)" -eq 100000 ]
}

@test "more workers than tasks runs one scheduler per task" {
    green_run -w yield -o count=10 -t 3 -o workers=8
    [ "$status" -eq 0 ]
    [ "$(field result)" -eq 30 ]
}

@test "a task's stack comes back to the pool and serves the next task" {
    # 2,000 tasks that each touch 48KiB of stack and end at their first
    # step need one stack, not 2,000: the peak RSS stays far below the
    # 94 MiB that 2,000 touched stacks would take.
    green_run -w yield -o count=0 -o stack_use=48KiB -t 2000
    [ "$status" -eq 0 ]
    [ "$(field result)" -eq 0 ]
    [ "$(field max_rss_kib)" -lt 32768 ]
}

@test "an overflowing task is reported, with exit 1" {
    for sw in fcontext ucontext; do
        run --separate-stderr "$CONCBENCH" -m green -w yield -o count=2 -o stack_use=256KiB -t 2 -o switch="$sw" --runs 1 --warmup 0
        [ "$status" -eq 1 ]
        # An ASan build warns about swapcontext first: the last line counts.
        [ "${stderr##*$'\n'}" = "concbench: green task stack overflow (stack=64KiB); raise -o stack" ]
    done
    run --separate-stderr "$CONCBENCH" -m green -w yield -o count=2 -o stack_use=40KiB -o stack=32KiB -o workers=2 -o guard=mprotect -t 2 --runs 1 --warmup 0
    [ "$status" -eq 1 ]
    [ "$stderr" = "concbench: green task stack overflow (stack=32KiB); raise -o stack" ]
    # The same work fits a bigger stack.
    green_run -w yield -o count=2 -o stack_use=256KiB -o stack=512KiB -t 2
    [ "$status" -eq 0 ]
    [ "$(field result)" -eq 4 ]
}

@test "stacks beyond available memory are refused up front" {
    run --separate-stderr "$CONCBENCH" -m green -w sleep -t 1000000 -o stack=1GiB --runs 1 --warmup 0
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: 1000000 green stacks of 1GiB need "*" GiB, more than the "*" GiB of available memory (MemAvailable + SwapFree); lower --tasks or -o stack" ]]
    [ -z "$output" ]
}

@test "stacks beyond vm.max_map_count are refused up front" {
    max=$(cat /proc/sys/vm/max_map_count)
    tasks=$(( max / 2 + 100 ))
    [ "$tasks" -le 1000000 ] || skip "vm.max_map_count is too large to exceed"
    run --separate-stderr "$CONCBENCH" -m green -w sleep -t "$tasks" -o guard=mprotect -o stack=16KiB --runs 1 --warmup 0
    [ "$status" -eq 2 ]
    [[ "$stderr" == "concbench: $tasks green stacks with guard pages need about "*" memory maps, over vm.max_map_count=$max ("*" in use) with -o guard=mprotect; lower --tasks or raise vm.max_map_count" ]]
}

@test "a stack mmap failing mid-run ends the run cleanly with exit 1" {
    # 1 GiB of address space holds a few thousand 64KiB stacks, not 30,000.
    if nm -D "$CONCBENCH" 2>/dev/null | grep -q __asan_init ||
       nm "$CONCBENCH" 2>/dev/null | grep -q __asan_init; then
        skip "AddressSanitizer reserves terabytes of address space"
    fi
    run --separate-stderr bash -c 'ulimit -v 1048576 && exec "$0" "$@"' "$CONCBENCH" -m green -w sleep -o ms=50ms -t 30000 --runs 1 --warmup 0
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"concbench: cannot map stacks for green tasks (stack=64KiB): Cannot allocate memory"* ]]
}

@test "guard=madvise is refused on a kernel without guard regions, else works" {
    run --separate-stderr "$CONCBENCH" -m green -w yield -o guard=madvise -t 3 --runs 1 --warmup 0
    if [ "$status" -eq 2 ]; then
        [[ "$stderr" == "concbench: -o guard=madvise needs MADV_GUARD_INSTALL (Linux 6.13+)"* ]]
    else
        [ "$status" -eq 0 ]
    fi
}

@test "bad green options are usage errors" {
    run --separate-stderr "$CONCBENCH" -m green -w yield -o switch=setjmp
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: bad value 'setjmp' for option 'switch': expected one of fcontext|ucontext" ]
    run --separate-stderr "$CONCBENCH" -m green -w yield -o stack=4KiB
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: value '4KiB' for option 'stack' is out of range (16384 to 1073741824)" ]
    run --separate-stderr "$CONCBENCH" -m green -w yield -o workers=0
    [ "$status" -eq 2 ]
    [ "$stderr" = "concbench: value '0' for option 'workers' is out of range (1 to 1024)" ]
}

@test "SIGINT ends green runs long before their work would, every worker woken" {
    timing_test
    for args in "-w sleep -o ms=30s -t 2000" "-w sleep -o ms=30s -t 2000 -o workers=2" \
                "-w yield -o count=1e9 -t 10 -o workers=2 -o switch=ucontext" \
                "-w primes -o n=1e11 -t 4 -o workers=2"; do
        # shellcheck disable=SC2086
        "$CONCBENCH" -m green $args --json "$BATS_TEST_TMPDIR/r.json" 2>"$BATS_TEST_TMPDIR/err" &
        pid=$!
        sleep 0.5
        start=$(date +%s%N)
        kill -INT "$pid"
        rc=0
        wait "$pid" || rc=$?
        took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
        [ "$rc" -eq 130 ]
        # The work left is 30 s of sleep or many seconds of CPU; the model
        # must stop within ~100 ms, so a tenth of that is generous.
        [ "$took_ms" -lt 3000 ]
        [ ! -e "$BATS_TEST_TMPDIR/r.json" ]
    done
}

@test "keep_stacks=on reuses the pool across runs and cells, answers still right" {
    run --separate-stderr "$CONCBENCH" sweep -m green -w sleep,yield -t 7,300 \
        -o keep_stacks=on -o stack=16KiB,64KiB -o workers=1,2 -o ms=2ms \
        -o count=10 --runs 3 --warmup 1 --seed 7 --json -
    [ "$status" -eq 0 ]
    [ "$(jq '.results | length' <<<"$output")" -eq 16 ]
    [ "$(jq '[.results[].runs[] | select(.result_ok and (.failed | not))] | length' <<<"$output")" -eq 48 ]
}

@test "the kept stack pool is released when the cell ends" {
    # 10,000 kept stacks hold tens of MiB; the next cell in the same process
    # must not carry them in its peak RSS.
    run --separate-stderr "$CONCBENCH" sweep -m green,eventloop -w sleep \
        -t 10000 -o ms=1ms --no-interleave --runs 2 --json -
    [ "$status" -eq 0 ] || { echo "$stderr"; false; }
    green=$(jq '[.results[] | select(.model == "green") | .runs[].max_rss_kib] | max' <<<"$output")
    after=$(jq '[.results[] | select(.model == "eventloop") | .runs[].max_rss_kib] | max' <<<"$output")
    echo "green peak ${green} KiB, the next cell's ${after} KiB"
    [ "$green" -gt 20000 ]
    [ "$after" -lt $((green / 3)) ]
}

@test "the raw switch loops green is measured against build and each prints ns a switch or an update" {
    # shellcheck source=bench/lib.sh
    source "$BATS_TEST_DIRNAME/../../bench/lib.sh"
    for loop in fcontext_pingpong fcontext_ring fcontext_step fcontext_lock; do
        raw_build "$loop" || {
            echo "$CB_WHY" >&2
            return 1
        }
        run -0 "$BATS_TEST_TMPDIR/$loop" 20000
        # One number, positive, and not absurd for a few-ns switch.
        [[ "$output" =~ ^[0-9]+\.[0-9]+$ ]]
        awk -v ns="$output" 'BEGIN { exit !(ns > 0 && ns < 100000) }'
    done
    # The smallest count runs (its steps end where main's count does, not
    # before: a step that said done would abort it); no count is refused.
    run -0 "$BATS_TEST_TMPDIR/fcontext_step" 1
    run -2 "$BATS_TEST_TMPDIR/fcontext_step" 0
    # The handoff floor checks its count (2N) at every size: one update a
    # task, and an odd number.
    run -0 "$BATS_TEST_TMPDIR/fcontext_lock" 1
    run -0 "$BATS_TEST_TMPDIR/fcontext_lock" 777
    run -2 "$BATS_TEST_TMPDIR/fcontext_lock" 0
}

@test "bench/icount.sh counts a handoff's instructions beside its floor under step()" {
    local bench="$BATS_TEST_DIRNAME/../../bench/icount.sh" h a f
    run -0 env N=3000 "$bench"
    echo "$output"
    [ "${#lines[@]}" -eq 5 ]
    h=$(awk '/^green lock handoff/ { print $(NF - 1) }' <<<"$output")
    a=$(awk '/^green, one task/ { print $(NF - 1) }' <<<"$output")
    f=$(awk '/^handoff floor/ { print $(NF - 1) }' <<<"$output")
    [[ "$output" == *"handoff floor (step() only)"*" 1.00x"* ]]
    # The floor is the least a step()-driven handoff does; green's adds a
    # park, a wake, a switch and a step to its one-task update.
    awk -v h="$h" -v a="$a" -v f="$f" 'BEGIN { exit !(f > 0 && h > f && h > a) }'
    run -2 env N=0 "$bench"
    [[ "$output" == *"N must be a positive whole number"* ]]
}
