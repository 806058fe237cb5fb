#!/usr/bin/env bats
# The http workload reads past interim 1xx answers (100 Continue, 103 Early
# Hints) to the real one, as RFC 9110 asks of every client; 101 is final.
# Found while writing tests/fuzz/fuzz_http.c; its seeds continue-then-200
# and early-hints-keepalive cover it too.

bats_require_minimum_version 1.5.0
load http-helpers

setup() {
    require_http
    command -v python3 >/dev/null || skip "python3 is not installed"
}

teardown() {
    [ -n "${RAW_PID:-}" ] && kill "$RAW_PID" 2>/dev/null || true
}

# interim_server MODE COUNT: answers COUNT connections, one request each,
# then exits; sets RAW_PID and RAW_PORT.
interim_server() {
    cat >"$BATS_TEST_TMPDIR/interim.py" <<'EOF'
import socket, sys
mode, count = sys.argv[1], int(sys.argv[2])
final = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
answers = {
    "hints": b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
             b"HTTP/1.1 100 Continue\r\n\r\n" + final,
    "switch": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n"
              b"Connection: upgrade\r\n\r\n",
}
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
s.settimeout(30)
for _ in range(count):
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    c.sendall(answers[mode])
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
EOF
    python3 "$BATS_TEST_TMPDIR/interim.py" "$1" "$2" \
        >"$BATS_TEST_TMPDIR/interim.port" 3>&- &
    RAW_PID=$!
    wait_port_file "$BATS_TEST_TMPDIR/interim.port"
}

@test "interim 1xx answers before the 200 are read past, not counted as errors" {
    interim_server hints 3
    run --separate-stderr cb -m sequential -w http \
        -o "url=http://127.0.0.1:$RAW_PORT/" -o requests=3 --runs 1 \
        --warmup 0 --json -
    wait "$RAW_PID"
    RAW_PID=
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(run_field result <<<"$output")" -eq 3 ]
    [ "$(run_field bytes <<<"$output")" -eq 15 ]
    [ "$(run_field errors <<<"$output")" -eq 0 ]
}

@test "101 Switching Protocols is a final answer: a bad status, not a hang" {
    interim_server switch 1
    run --separate-stderr cb -m sequential -w http \
        -o "url=http://127.0.0.1:$RAW_PORT/" -o requests=1 --runs 1 \
        --warmup 0 --json -
    wait "$RAW_PID"
    RAW_PID=
    [ "$status" -eq 1 ]
    [ "$(run_field errors_by_kind.bad_status <<<"$output")" -eq 1 ]
    [[ "$stderr" == *"answered with status 101, not 200"* ]]
}
