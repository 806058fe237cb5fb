#!/usr/bin/python3
"""concbench's python model: one run of a concbench workload in CPython,
under threading, a thread pool, multiprocessing, a process pool, asyncio or
gevent, timed and reported to concbench (models/python*.c) on a pipe.

concbench starts it; it is not meant to be run by hand:

    concbench_model.py probe FD API
        writes "python HEXVERSION GIL FREE_THREADED IMPL VERSION" to file
        descriptor FD when this interpreter has what API needs, else
        "missing WHAT", and exits 3.
    concbench_model.py run FD API WORKLOAD TASKS WORKERS [KEY=VALUE ...]
        imports everything, then runs TASKS tasks of WORKLOAD once (the
        timed section) and writes its report to file descriptor FD.

The timed section is measured as concbench measures its C models: from
just before the first thread, process, pool, event loop or greenlet is made
to just after the last one is joined; CPU time and context switches of the
interpreter and of its children it reaped; peak RSS as the larger of the
interpreter's VmHWM (reset at the start, as concbench does for itself) and
the largest child's ru_maxrss. Imports and the workload's untimed setup
(the sieving primes) come before it. The report is lines of numbers:

    run START_NS WALL_NS USER_NS SYS_NS MAX_RSS_KIB NVCSW NIVCSW
    task I START_NS END_NS STATUS RESULT OPS BYTES E0 .. E5 ZEROS
    ops I V V ...      (values for the workload's per-op histogram)
    python HEXVERSION GIL FREE_THREADED IMPL VERSION
    end

where STATUS is 0 or -errno, E0..E5 count concbench's error kinds
(refused, reset, timeout, bad_status, parse, other) and ZEROS is how many
zero values the histogram gets beside the ops lines (uncontended locks).
"""
import sys

# Before anything a newer Python has: an older one is told missing.
if (__name__ == "__main__" and sys.version_info < (3, 8) and
        len(sys.argv) == 4 and sys.argv[1] == "probe"):
    import os
    os.write(int(sys.argv[2]), ("missing Python 3.8 or newer (this is %s)\n"
                                % sys.version.split()[0]).encode())
    sys.exit(3)

API_CHOICES = ("sequential", "threading", "thread-pool", "multiprocessing", "process-pool",
               "asyncio", "gevent")

# gevent's monkey-patching must come before socket, threading and time are
# imported anywhere, so the blocking code below turns cooperative.
if (__name__ == "__main__" and len(sys.argv) > 3 and sys.argv[1] == "run" and
        sys.argv[3] == "gevent"):
    from gevent import monkey
    monkey.patch_all()

import errno  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

mono = time.monotonic_ns  # CLOCK_MONOTONIC, concbench's clock
M64 = (1 << 64) - 1
(ERR_REFUSED, ERR_RESET, ERR_TIMEOUT, ERR_STATUS, ERR_PARSE,
 ERR_OTHER) = range(6)
ERR_NAMES = ("refused", "reset", "timeout", "bad_status", "parse", "other")


class Missing(Exception):
    """Something this interpreter lacks: concbench reports it unavailable."""


# ---------------------------------------------------------------- facts


def python_facts():
    """'HEXVERSION GIL FREE_THREADED IMPL VERSION' of this interpreter; GIL
    is whether it is enabled now (a free-threaded build may turn it back on
    when it imports an extension that is not marked safe without it)."""
    import sysconfig
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    version = " ".join(sys.version.split())
    return "%d %d %d %s %s" % (sys.hexversion, int(bool(gil)), int(ft),
                               sys.implementation.name, version)


def probe(api):
    if sys.version_info < (3, 8):
        raise Missing("Python 3.8 or newer (this is %s)" %
                      sys.version.split()[0])
    if api not in API_CHOICES:
        raise Missing("api '%s'" % api)
    try:
        preload(api)
        if api in ("multiprocessing", "process-pool"):
            import multiprocessing
            multiprocessing.get_context("fork")
    except ImportError as e:
        name = getattr(e, "name", None) or str(e)
        hint = " (Debian: apt-get install python3-gevent)" \
            if api == "gevent" else ""
        raise Missing("module '%s' for api=%s: %s%s" % (name, api, e, hint))
    except ValueError as e:
        raise Missing("multiprocessing's fork start method: %s" % e)
    return python_facts()


# ---------------------------------------------------------------- tasks


class TaskOut:
    """What one task reports; mirrors concbench's struct conc_task_out."""
    __slots__ = ("index", "start", "end", "status", "result", "ops", "bytes",
                 "errors", "values", "zeros")

    def __init__(self, index):
        self.index = index
        self.start = self.end = 0
        self.status = self.result = self.ops = self.bytes = self.zeros = 0
        self.errors = [0] * 6
        self.values = []

    def as_tuple(self):
        return (self.index, self.start, self.end, self.status, self.result,
                self.ops, self.bytes, self.errors, self.values, self.zeros)


_said_failure = []


def task_failed(out, exc):
    """A task that raised: -errno for an OSError, else -EIO; the first
    traceback in this process goes to stderr."""
    out.status = -(getattr(exc, "errno", None) or errno.EIO)
    if not _said_failure:
        _said_failure.append(True)
        sys.stderr.write("concbench: python: task %d failed:\n" % out.index)
        traceback.print_exception(type(exc), exc, exc.__traceback__,
                                  file=sys.stderr)


def busy(ns):
    """Busy work for ns on the clock, as counter's hold and outside."""
    if ns:
        end = mono() + ns
        while mono() < end:
            pass


# ---------------------------------------------------------------- primes


def isqrt(n):
    r = int(n ** 0.5)
    while r * r > n:
        r -= 1
    while (r + 1) * (r + 1) <= n:
        r += 1
    return r


class Primes:
    """primes: [2, n] split into TASKS equal ranges exactly as concbench's
    task_init splits it; each task counts the primes of its range with a
    segmented sieve over odd numbers (bytearray slice assignment), yielding
    after each segment where the api is cooperative."""

    def __init__(self, p, tasks):
        self.n = p["n"]
        self.tasks = tasks
        # concbench's segment is in wheel bytes of 30 numbers: the same span
        # here is 15 odd numbers a byte. Python pays per slice assignment,
        # so its default is larger than an L1-sized one.
        self.span = p["segment"] * 15 if p.get("segment") else 1 << 18
        root = isqrt(self.n)
        small = bytearray(b"\x01") * (root + 1)
        base = []
        for i in range(3, root + 1, 2):
            if small[i]:
                base.append(i)
                small[i * i::2 * i] = bytes(len(range(i * i, root + 1,
                                                      2 * i)))
        self.base = base  # the odd sieving primes, made before the timing
        self.zero = memoryview(bytes(self.span))

    def bounds(self, index):
        length = self.n - 1
        lo = 2 + length * index // self.tasks
        end = 2 + length * (index + 1) // self.tasks
        return lo, end - 1

    def segments(self, out):
        """Sieves task out.index's range one segment per iteration."""
        lo, hi = self.bounds(out.index)
        count = 1 if lo <= 2 <= hi else 0
        start = max(lo, 3) | 1
        last_odd = hi if hi & 1 else hi - 1
        base, zero, span = self.base, self.zero, self.span
        while start <= last_odd:
            last = min(start + 2 * (span - 1), last_odd)
            size = (last - start) // 2 + 1
            seg = bytearray(b"\x01") * size
            for p in base:
                m = p * p
                if m > last:
                    break
                if m < start:
                    m = -(-start // p) * p
                    if not m & 1:
                        m += p
                k = (m - start) >> 1
                if k < size:
                    seg[k::p] = zero[:(size - 1 - k) // p + 1]
            count += seg.count(1)
            out.ops += 1
            out.result = count
            start = last + 2
            yield
        out.result = count

    def run_sync(self, out, pause):
        for _ in self.segments(out):
            if pause:
                pause()

    async def run_async(self, out):
        import asyncio
        for _ in self.segments(out):
            await asyncio.sleep(0)


# ---------------------------------------------------------------- sleep


def splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


class Sleep:
    """sleep: `count` waits a task on a periodic schedule of absolute
    deadlines (concbench's, jitter and seed included); each wake's lateness
    goes to the histogram. A wake before its deadline (asyncio's timers may
    fire a clock tick early) sleeps again, as a careful program does."""

    def __init__(self, p, tasks):
        self.wait = p["ms"]
        self.count = p["count"]
        self.jitter = p["jitter"]
        self.seed = p["seed"]

    def schedule(self, out):
        """Yields each deadline; the caller sleeps until it, then sends."""
        rng = (self.seed * 0x100000001B3 + out.index) & M64
        deadline = 0
        now = mono()
        for _ in range(self.count):
            d = (deadline or now) + self.wait
            if self.jitter:
                rng, z = splitmix(rng)
                d += z % self.jitter
            deadline = d
            yield deadline
            now = mono()
            out.values.append(now - deadline)
            out.ops += 1
            out.result += 1

    def run_sync(self, out, pause):
        sleep = time.sleep
        for deadline in self.schedule(out):
            while True:
                left = deadline - mono()
                if left <= 0:
                    break
                sleep(left / 1e9)

    async def run_async(self, out):
        import asyncio
        for deadline in self.schedule(out):
            while True:
                left = deadline - mono()
                if left <= 0:
                    break
                await asyncio.sleep(left / 1e9)


# ---------------------------------------------------------------- http


class ParseError(Exception):
    pass


class Closed(Exception):
    """The peer closed before any byte of the answer."""


class Response:
    """An HTTP/1.1 response parser that is fed bytes (no I/O of its own), so
    the socket and the asyncio clients share it: status, body bytes
    (Content-Length, chunked or until close), keep-alive, bytes after the
    end."""

    def __init__(self):
        self.buf = b""
        self.head = True
        self.status = 0
        self.length = None
        self.chunked = False
        self.chunk_left = 0
        self.chunk_state = "size"
        self.body = 0
        self.keep = False
        self.complete = False
        self.extra = False
        self.got_bytes = False

    def _parse_head(self, head):
        lines = head.split(b"\r\n")
        parts = lines[0].split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ParseError("bad status line %r" % lines[0][:80])
        try:
            status = int(parts[1])
        except ValueError:
            raise ParseError("bad status %r" % parts[1][:20])
        length, chunked, conn = None, False, b""
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ParseError("bad header line %r" % line[:80])
            name = name.strip().lower()
            value = value.strip()
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ParseError("bad Content-Length %r" % value[:20])
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                conn = value.lower()
        self.status = status
        if parts[0] == b"HTTP/1.0":
            self.keep = b"keep-alive" in conn
        else:
            self.keep = b"close" not in conn
        self.chunked = chunked
        self.length = None if chunked else length
        if status in (204, 304) or 100 <= status < 200:
            self.length = 0

    def feed(self, data):
        if data:
            self.got_bytes = True
        if self.complete:
            if data:
                self.extra = True
            return
        self.buf += data
        while self.head:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    raise ParseError("headers over 64 KiB")
                return
            head, self.buf = self.buf[:end], self.buf[end + 4:]
            self._parse_head(head)
            # An interim 1xx answer precedes the real one; 101 is final.
            if 100 <= self.status < 200 and self.status != 101:
                continue
            self.head = False
        data, self.buf = self.buf, b""
        if self.chunked:
            self._feed_chunked(data)
        elif self.length is not None:
            take = min(len(data), self.length - self.body)
            self.body += take
            if self.body == self.length:
                self.complete = True
                if len(data) > take:
                    self.extra = True
        else:
            self.body += len(data)  # until the server closes

    def _feed_chunked(self, data):
        buf = data
        while buf and not self.complete:
            if self.chunk_state == "data":
                take = min(len(buf), self.chunk_left)
                self.body += take
                self.chunk_left -= take
                buf = buf[take:]
                if not self.chunk_left:
                    self.chunk_state = "crlf"
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                self.buf = buf
                if len(buf) > 4096:
                    raise ParseError("chunk line over 4 KiB")
                return
            line, buf = buf[:end], buf[end + 2:]
            if self.chunk_state == "crlf":
                if line:
                    raise ParseError("no CRLF after a chunk")
                self.chunk_state = "size"
            elif self.chunk_state == "size":
                try:
                    self.chunk_left = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ParseError("bad chunk size %r" % line[:20])
                self.chunk_state = "data" if self.chunk_left else "trailer"
            elif not line:  # the empty line after the trailers
                self.complete = True
        if buf and self.complete:
            self.extra = True

    def eof(self):
        """The server closed the connection."""
        if self.complete:
            return
        if not self.got_bytes:
            raise Closed()
        if not self.head and not self.chunked and self.length is None:
            self.complete = True
            return
        raise ParseError("the connection closed in the middle of a response")


class Http:
    """http: `requests` fetches a task from the server the C workload's
    setup started (or url=), with concbench's exact request; latency from
    connect to the last byte, errors by concbench's kinds. A kept
    connection that fails before any answer is resent once, uncounted."""

    def __init__(self, p, tasks):
        self.host = p["host"]
        self.port = p["port"]
        self.family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.where = p["where"]
        self.request = bytes.fromhex(p["request"])
        self.requests = p["requests"]
        self.timeout = p["timeout"]
        self.keepalive = bool(p["keepalive"])
        self.said = set()

    def explain(self, kind, msg):
        if kind in self.said:
            return
        self.said.add(kind)
        sys.stderr.write("concbench: http: %s (counted as '%s'; further ones "
                         "are only counted)\n" % (msg, ERR_NAMES[kind]))

    def kind_of(self, exc, doing):
        if isinstance(exc, ParseError):
            self.explain(ERR_PARSE, "bad response from '%s': %s" %
                         (self.where, exc))
            return ERR_PARSE
        if isinstance(exc, Closed):
            self.explain(ERR_RESET, "'%s' closed the connection without an "
                         "answer" % self.where)
            return ERR_RESET
        if isinstance(exc, (socket.timeout, TimeoutError)) or \
                type(exc).__name__ == "TimeoutError":
            while_ = {"connect to": "connecting", "send to": "sending",
                      "receive from": "receiving"}.get(doing, doing)
            self.explain(ERR_TIMEOUT, "no answer from '%s' within the timeout "
                         "of %d ms while %s" % (self.where,
                                                self.timeout // 1000000,
                                                while_))
            return ERR_TIMEOUT
        if isinstance(exc, ConnectionRefusedError):
            kind = ERR_REFUSED
        elif isinstance(exc, (ConnectionResetError, BrokenPipeError,
                              ConnectionAbortedError)):
            kind = ERR_RESET
        else:
            kind = ERR_OTHER
        self.explain(kind, "cannot %s '%s': %s" % (doing, self.where, exc))
        return kind

    def judge(self, out, resp, start, last):
        """A whole response: success (True) or its error counted."""
        if resp.extra:
            self.explain(ERR_PARSE, "'%s' sent bytes after a whole response" %
                         self.where)
            out.errors[ERR_PARSE] += 1
        elif resp.status != 200:
            self.explain(ERR_STATUS, "'%s' answered with status %d, not 200" %
                         (self.where, resp.status))
            out.errors[ERR_STATUS] += 1
        else:
            out.values.append(last - start)
            out.result += 1
            out.bytes += resp.body
            return True
        return False

    # The blocking client: threads, processes, and gevent's patched sockets.
    def run_sync(self, out, pause):
        sock = None
        for _ in range(self.requests):
            start = mono()
            deadline = start + self.timeout
            retried = False
            while True:
                reused = sock is not None
                resp = Response()
                doing = "connect to"
                try:
                    if sock is None:
                        sock = socket.socket(self.family, socket.SOCK_STREAM)
                        sock.setsockopt(socket.IPPROTO_TCP,
                                        socket.TCP_NODELAY, 1)
                        self._timeout(sock, deadline)
                        sock.connect((self.host, self.port))
                    doing = "send to"
                    self._timeout(sock, deadline)
                    sock.sendall(self.request)
                    doing = "receive from"
                    eof = False
                    while not resp.complete:
                        self._timeout(sock, deadline)
                        data = sock.recv(65536)
                        if not data:
                            eof = True
                            resp.eof()
                            break
                        resp.feed(data)
                    last = mono()
                    ok = self.judge(out, resp, start, last)
                    if ok and not eof and not (self.keepalive and resp.keep):
                        # Let the server close first (TIME_WAIT on its side).
                        try:
                            while True:
                                self._timeout(sock, deadline)
                                data = sock.recv(65536)
                                if not data:
                                    break
                                resp.feed(data)
                        except OSError:
                            pass
                        if resp.extra:
                            out.result -= 1
                            out.bytes -= resp.body
                            out.values.pop()
                            out.errors[ERR_PARSE] += 1
                    if not (ok and self.keepalive and resp.keep and not eof):
                        sock.close()
                        sock = None
                except (OSError, ParseError, Closed) as e:
                    if sock is not None:
                        sock.close()
                    sock = None
                    if reused and not resp.got_bytes and not retried and \
                            isinstance(e, (Closed, ConnectionResetError,
                                           BrokenPipeError)):
                        retried = True
                        continue
                    out.errors[self.kind_of(e, doing)] += 1
                break
            out.ops += 1
        if sock is not None:
            sock.close()

    @staticmethod
    def _timeout(sock, deadline):
        left = deadline - mono()
        if left <= 0:
            raise socket.timeout("timed out")
        sock.settimeout(left / 1e9)

    # asyncio: raw streams, the same parser.
    async def run_async(self, out):
        import asyncio
        conn = None
        for _ in range(self.requests):
            start = mono()
            deadline = start + self.timeout
            retried = False
            while True:
                reused = conn is not None
                resp = Response()
                state = {"doing": "connect to", "eof": False}
                try:
                    left = (deadline - mono()) / 1e9
                    if left <= 0:
                        raise asyncio.TimeoutError()
                    conn = await asyncio.wait_for(
                        self._fetch(conn, resp, state), left)
                    last = mono()
                    ok = self.judge(out, resp, start, last)
                    if ok and not state["eof"] and \
                            not (self.keepalive and resp.keep):
                        try:
                            left = (deadline - mono()) / 1e9
                            await asyncio.wait_for(self._drain(conn, resp),
                                                   max(left, 0))
                        except (OSError, asyncio.TimeoutError):
                            pass
                        if resp.extra:
                            out.result -= 1
                            out.bytes -= resp.body
                            out.values.pop()
                            out.errors[ERR_PARSE] += 1
                    if not (ok and self.keepalive and resp.keep and
                            not state["eof"]):
                        self._close(conn)
                        conn = None
                except (OSError, ParseError, Closed,
                        asyncio.TimeoutError) as e:
                    if state.get("conn") is not None:
                        self._close(state["conn"])
                    conn = None
                    if reused and not resp.got_bytes and not retried and \
                            isinstance(e, (Closed, ConnectionResetError,
                                           BrokenPipeError)):
                        retried = True
                        continue
                    out.errors[self.kind_of(e, state["doing"])] += 1
                break
            out.ops += 1
        if conn is not None:
            self._close(conn)

    async def _fetch(self, conn, resp, state):
        import asyncio
        if conn is None:
            conn = await asyncio.open_connection(self.host, self.port)
            state["conn"] = conn
            sock = conn[1].get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state["conn"] = conn
        reader, writer = conn
        state["doing"] = "send to"
        writer.write(self.request)
        await writer.drain()
        state["doing"] = "receive from"
        while not resp.complete:
            data = await reader.read(65536)
            if not data:
                state["eof"] = True
                resp.eof()
                break
            resp.feed(data)
        return conn

    @staticmethod
    async def _drain(conn, resp):
        while True:
            data = await conn[0].read(65536)
            if not data:
                return
            resp.feed(data)

    @staticmethod
    def _close(conn):
        try:
            conn[1].close()
        except Exception:
            pass


# ---------------------------------------------------------------- counter


class Counter:
    """counter: `increments` read-then-write updates a task of one shared
    count, under threading.Lock, multiprocessing.Value's lock, asyncio.Lock
    or gevent.lock.Semaphore (lock=mutex), or nothing (lock=none: a race
    that may lose updates). hold, outside and yield_inside as concbench's;
    cooperative apis yield every 256 updates, as its step does. An acquire
    that finds the lock taken records its wait; the others count as 0."""

    STEP = 256

    def __init__(self, p, tasks):
        self.increments = p["increments"]
        self.lock_kind = p["lock"]
        self.hold = p["hold"]
        self.outside = p["outside"]
        self.yield_inside = bool(p["yield_inside"])
        self.fail_at = p["fail_at"]
        self.count = 0  # threads, asyncio and gevent share this object
        self.lock = None
        self.value = None  # multiprocessing: a Value or RawValue

    def make_shared(self, api, ctx):
        if api in ("multiprocessing", "process-pool"):
            if self.lock_kind == "mutex":
                self.value = ctx.Value("Q", 0)  # with its lock (an RLock)
                self.lock = self.value.get_lock()
            else:
                self.value = ctx.RawValue("Q", 0)
        elif self.lock_kind == "mutex":
            if api == "asyncio":
                pass  # made inside its event loop: run_asyncio
            elif api == "gevent":
                import gevent.lock
                self.lock = gevent.lock.Semaphore()
            else:
                self.lock = threading.Lock()

    def final(self):
        return self.value.value if self.value is not None else self.count

    def _fail(self, out, done):
        if self.fail_at and out.index == 0 and done + 1 == self.fail_at:
            raise OSError(errno.EIO, "fail_at: task 0 fails at update %d "
                          "while it holds the lock" % self.fail_at)

    def run_sync(self, out, pause):
        lock, value, hold, outside = (self.lock, self.value, self.hold,
                                      self.outside)
        yield_inside = self.yield_inside
        give = os.sched_yield if value is not None else \
            (pause or (lambda: time.sleep(0)))
        waits = out.values
        free = 0
        for done in range(self.increments):
            if lock is not None:
                if lock.acquire(False):
                    free += 1
                else:
                    t = mono()
                    lock.acquire()
                    waits.append(mono() - t)
                try:
                    seen = value.value if value is not None else self.count
                    busy(hold)
                    if yield_inside:
                        give()
                    self._fail(out, done)
                    if value is not None:
                        value.value = seen + 1
                    else:
                        self.count = seen + 1
                finally:
                    lock.release()
            else:
                seen = value.value if value is not None else self.count
                busy(hold)
                if yield_inside:
                    give()
                self._fail(out, done)
                if value is not None:
                    value.value = seen + 1
                else:
                    self.count = seen + 1
            out.ops = done + 1
            busy(outside)
            if pause and (done + 1) % self.STEP == 0:
                pause()
        out.zeros = free if lock is not None else 0

    async def run_async(self, out):
        import asyncio
        lock, hold, outside = self.lock, self.hold, self.outside
        waits = out.values
        free = 0
        for done in range(self.increments):
            if lock is not None:
                if lock.locked():
                    t = mono()
                    await lock.acquire()
                    waits.append(mono() - t)
                else:
                    await lock.acquire()
                    free += 1
                try:
                    seen = self.count
                    busy(hold)
                    if self.yield_inside:
                        await asyncio.sleep(0)
                    self._fail(out, done)
                    self.count = seen + 1
                finally:
                    lock.release()
            else:
                seen = self.count
                busy(hold)
                if self.yield_inside:
                    await asyncio.sleep(0)
                self._fail(out, done)
                self.count = seen + 1
            out.ops = done + 1
            busy(outside)
            if (done + 1) % self.STEP == 0:
                await asyncio.sleep(0)
        out.zeros = free if lock is not None else 0


WORKLOADS = {"primes": Primes, "sleep": Sleep, "http": Http,
             "counter": Counter}

# ---------------------------------------------------------------- apis
#
# Each runner makes its workers, runs every task and joins them; run()
# wraps it in the timed section. Task functions live at module level so
# that the process pool's children (forked: nothing is pickled but the
# index and the result) find them.

W = None  # the workload object, set before the timed section


def task_sync(index, pause=None):
    out = TaskOut(index)
    out.start = mono()
    try:
        W.run_sync(out, pause)
    except Exception as e:
        task_failed(out, e)
    out.end = mono()
    return out.as_tuple()


def run_sequential(tasks, workers):
    # A plain for loop: one task after another on the main thread, as the
    # C sequential model runs them; python's speedups are over this.
    return [task_sync(i) for i in range(tasks)]


def run_threading(tasks, workers):
    gate = threading.Event()
    results = [None] * tasks

    def body(i):
        gate.wait()  # every thread exists before any task starts
        results[i] = task_sync(i)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(tasks)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    return results


def run_thread_pool(tasks, workers):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers or None) as ex:
        futures = [ex.submit(task_sync, i) for i in range(tasks)]
        return [f.result() for f in futures]


def _child(i, gate, queue):
    gate.wait()
    queue.put(task_sync(i))


def run_multiprocessing(tasks, workers):
    ctx = MP_CTX
    gate = ctx.Event()
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=_child, args=(i, gate, queue))
             for i in range(tasks)]
    for p in procs:
        p.start()
    gate.set()
    results = [queue.get() for _ in range(tasks)]
    for p in procs:
        p.join()
    return results


def run_process_pool(tasks, workers):
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(max_workers=workers or None,
                             mp_context=MP_CTX) as ex:
        futures = [ex.submit(task_sync, i) for i in range(tasks)]
        return [f.result() for f in futures]


def run_asyncio(tasks, workers):
    import asyncio

    async def one(i):
        out = TaskOut(i)
        out.start = mono()
        try:
            await W.run_async(out)
        except Exception as e:
            task_failed(out, e)
        out.end = mono()
        return out.as_tuple()

    async def main():
        if isinstance(W, Counter) and W.lock_kind == "mutex":
            W.lock = asyncio.Lock()  # made in its own loop (3.8, 3.9)
        return await asyncio.gather(*(one(i) for i in range(tasks)))

    return asyncio.run(main())


def run_gevent(tasks, workers):
    import gevent
    def pause():
        gevent.sleep(0)

    greenlets = [gevent.spawn(task_sync, i, pause) for i in range(tasks)]
    gevent.joinall(greenlets, raise_error=True)
    return [g.value for g in greenlets]


RUNNERS = {"sequential": run_sequential, "threading": run_threading,
           "thread-pool": run_thread_pool,
           "multiprocessing": run_multiprocessing,
           "process-pool": run_process_pool, "asyncio": run_asyncio,
           "gevent": run_gevent}
MP_CTX = None


def _hwm_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_kib(was_reset):
    if was_reset:
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _usage():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (int((s.ru_utime + c.ru_utime) * 1e9),
            int((s.ru_stime + c.ru_stime) * 1e9),
            s.ru_nvcsw + c.ru_nvcsw, s.ru_nivcsw + c.ru_nivcsw)


def parse_params(items):
    p = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit("concbench_model.py: bad parameter '%s'" % item)
        try:
            p[key] = int(value)
        except ValueError:
            p[key] = value
    return p


def preload(api):
    """Imports what the api would import lazily inside the timed section
    (multiprocessing's synchronize and queues, concurrent.futures' pools):
    imports are start-up, not the run."""
    import importlib
    mods = {
        "thread-pool": ["concurrent.futures.thread"],
        "multiprocessing": ["multiprocessing.synchronize",
                            "multiprocessing.queues",
                            "multiprocessing.connection",
                            "multiprocessing.popen_fork",
                            "multiprocessing.sharedctypes",
                            "multiprocessing.heap"],
        "asyncio": ["asyncio", "asyncio.streams", "asyncio.locks"],
        "gevent": ["gevent", "gevent.lock", "gevent.hub", "gevent.pool"],
    }
    mods["process-pool"] = mods["multiprocessing"] + \
        ["concurrent.futures.process"]
    for name in mods.get(api, []):
        importlib.import_module(name)


def run(argv):
    global W, MP_CTX
    fd, api, workload, tasks, workers = (int(argv[0]), argv[1], argv[2],
                                         int(argv[3]), int(argv[4]))
    if api not in RUNNERS or workload not in WORKLOADS:
        sys.stderr.write("concbench_model.py: cannot run workload '%s' under "
                         "api '%s'\n" % (workload, api))
        return 2
    params = parse_params(argv[5:])
    preload(api)
    if api in ("multiprocessing", "process-pool"):
        import multiprocessing
        MP_CTX = multiprocessing.get_context("fork")
    W = WORKLOADS[workload](params, tasks)
    if isinstance(W, Counter):
        W.make_shared(api, MP_CTX)
    runner = RUNNERS[api]

    # The timed section, as concbench's cell times a C model's run.
    reset = _hwm_reset()
    u0 = _usage()
    t0 = mono()
    results = runner(tasks, workers)
    t1 = mono()
    u1 = _usage()
    rss = max(_hwm_kib(reset),
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)

    lines = ["run %d %d %d %d %d %d %d" % (t0, t1 - t0, u1[0] - u0[0],
                                            u1[1] - u0[1], rss,
                                            u1[2] - u0[2], u1[3] - u0[3])]
    if isinstance(W, Counter):
        # As concbench's counter: the task that finished last holds the
        # final count, the others 0, so the tasks' sum is the count.
        results = [list(r) for r in results]
        ok = [r for r in results if r[3] == 0]
        for r in results:
            r[4] = 0
        if len(ok) == tasks:
            max(ok, key=lambda r: r[2])[4] = W.final()
    for (i, start, end, status, result, ops, nbytes, errs, values,
         zeros) in results:
        lines.append("task %d %d %d %d %d %d %d %s %d" % (
            i, start, end, status, result, ops, nbytes,
            " ".join(str(e) for e in errs), zeros))
        for k in range(0, len(values), 512):
            lines.append("ops %d %s" % (i, " ".join(
                str(v) for v in values[k:k + 512])))
    lines.append("python " + python_facts())
    lines.append("end\n")
    data = "\n".join(lines).encode()
    while data:
        data = data[os.write(fd, data):]
    os.close(fd)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "probe":
        fd = int(argv[2])
        try:
            line, rc = "python " + probe(argv[3]), 0
        except Missing as e:
            line, rc = "missing %s" % e, 3
        os.write(fd, (line + "\n").encode())
        os.close(fd)
        return rc
    if len(argv) >= 7 and argv[1] == "run":
        return run(argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.stdout.flush()
    rc = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown: every worker is joined, and gevent's hub or
    # a pool's threads have nothing left to say.
    os._exit(rc)
