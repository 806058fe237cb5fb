/*
 * http: each task fetches a URL `requests` times through a non-blocking
 * socket state machine (connect, send, receive and parse with http-parser,
 * close or keep alive), so every model waits on the same syscalls. It
 * measures per-request latency (connect to last byte) and counts errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "workloads/workload.h"

#define HTTP_REQUESTS_MAX 1000000u
#define HTTP_SIZE_MAX (1ULL << 30)
#define HTTP_DELAY_MAX (3600 * CONC_NS_PER_S)
/* Descriptors a run needs beside one connection per task. */
#define HTTP_FD_SPARE 64u

static const struct conc_opt http_opts[] = {
    { "url", CONC_OPT_STRING, NULL, "fetch this http:// URL (unset: start "
      "the built-in server on loopback)", NULL, 0, 0 },
    { "requests", CONC_OPT_COUNT, "10", "fetches per task", NULL, 1,
      HTTP_REQUESTS_MAX },
    { "delay", CONC_OPT_DURATION, "10ms", "the built-in server waits this "
      "long before each answer", NULL, 0, HTTP_DELAY_MAX },
    { "size", CONC_OPT_SIZE, "1KiB", "the built-in server's body bytes",
      NULL, 0, HTTP_SIZE_MAX },
    { "keepalive", CONC_OPT_BOOL, "off", "reuse a task's connection (off: "
      "one connection per fetch, 'Connection: close')", NULL, 0, 0 },
    { "timeout", CONC_OPT_DURATION, "5s", "per request, from connect to the "
      "last byte", NULL, CONC_NS_PER_MS, HTTP_DELAY_MAX },
    { NULL },
};

#ifdef CONC_HAVE_HTTP_PARSER
#include <http_parser.h>

/* Per-thread receive buffer: body bytes are counted, then dropped. */
#define HTTP_RBUF (16u << 10)
/* Syscalls one step may make before it lets other tasks run. */
#define HTTP_STEP_OPS 64
/* How long setup waits for the built-in server's "listening on" line. */
#define HTTP_SERVER_START_NS (5 * CONC_NS_PER_S)

/* The parts of an http:// URL a fetch needs. */
struct http_url {
    char host[256];   /* for getaddrinfo: no brackets */
    char port[8];     /* "80" unless given */
    char hostport[280]; /* the Host header */
    char *target;     /* path and query, owned */
};

/* Shared, read-only while tasks run. */
struct http_shared {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char where[300];       /* "host:port", for messages */
    char *request;         /* the whole GET request */
    size_t request_len;
    unsigned requests;
    uint64_t timeout_ns, size;
    bool keepalive, builtin;
    pid_t server;          /* the built-in server, or 0 */
    unsigned *said;        /* MAP_SHARED: error kinds already explained */
};

enum http_state {
    HTTP_S_IDLE,       /* between requests */
    HTTP_S_CONNECT,    /* no connection: open one */
    HTTP_S_CONNECTING, /* connect() in progress */
    HTTP_S_SENDING,
    HTTP_S_RECEIVING,
    HTTP_S_DRAINING,   /* response complete; waiting for the server's close */
};

struct http_task {
    const struct http_shared *sh;
    http_parser parser;
    int fd;
    enum http_state state;
    bool reused;      /* this request went out on a kept connection */
    bool retried;     /* ... and was resent once on a fresh one */
    bool got_bytes;   /* some of the response arrived */
    bool complete;    /* the parser saw the whole response */
    bool keep;        /* the server keeps the connection open */
    bool has_length;
    unsigned status;
    uint64_t content_length, body;
    size_t sent;
    uint64_t start_ns, deadline_ns, last_byte_ns;
    unsigned done, ok; /* requests finished, and finished well */
    uint64_t bytes;
    uint32_t errors[CONC_ERR_KINDS];
    uint64_t *lat_ns;  /* [requests] */
};

/*
 * The receive buffer belongs to the OS thread, not the task: tasks never
 * keep bytes across steps, and 10,000 tasks then need no 10,000 buffers.
 * A pthread key frees it when a thread of the threads model ends.
 */
static pthread_key_t http_rbuf_key;
static pthread_once_t http_rbuf_once = PTHREAD_ONCE_INIT;
static _Thread_local char *http_rbuf;

static void http_rbuf_key_init(void)
{
    pthread_key_create(&http_rbuf_key, free);
}

static char *http_rbuf_get(void)
{
    if (!http_rbuf) {
        pthread_once(&http_rbuf_once, http_rbuf_key_init);
        http_rbuf = conc_xmalloc(HTTP_RBUF);
        pthread_setspecific(http_rbuf_key, http_rbuf);
    }
    return http_rbuf;
}

/*
 * Splits an http:// URL. 0, or -EINVAL with a one-line message: https,
 * other schemes, no host, a bad port and credentials are refused.
 */
static int http_url_parse(const char *url, struct http_url *u)
{
    struct http_parser_url pu;
    size_t len = strlen(url);
    const char *p;
    size_t n;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "https://", 8) == 0)
        return conc_error_msg(-EINVAL, "bad url '%s': https is not supported, "
                              "only http://", url);
    if (!strstr(url, "://"))
        return conc_error_msg(-EINVAL, "bad url '%s': expected "
                              "http://host[:port][/path]", url);
    if (strncasecmp(url, "http://", 7) != 0)
        return conc_error_msg(-EINVAL, "bad url '%s': only http:// is "
                              "supported", url);
    if (len == 7 || url[7] == '/' || url[7] == ':' || url[7] == '?')
        return conc_error_msg(-EINVAL, "bad url '%s': no host", url);
    http_parser_url_init(&pu);
    if (http_parser_parse_url(url, len, 0, &pu))
        return conc_error_msg(-EINVAL, "bad url '%s': expected "
                              "http://host[:port][/path] with a port from 1 "
                              "to 65535", url);
    if (pu.field_set & (1 << UF_USERINFO))
        return conc_error_msg(-EINVAL, "bad url '%s': credentials are not "
                              "supported", url);
    if (!(pu.field_set & (1 << UF_HOST)) || !pu.field_data[UF_HOST].len ||
        pu.field_data[UF_HOST].len >= sizeof(u->host))
        return conc_error_msg(-EINVAL, "bad url '%s': no host", url);
    if ((pu.field_set & (1 << UF_PORT)) && pu.port == 0)
        return conc_error_msg(-EINVAL, "bad url '%s': port 0", url);
    memcpy(u->host, url + pu.field_data[UF_HOST].off,
           pu.field_data[UF_HOST].len);
    snprintf(u->port, sizeof(u->port), "%u",
             (pu.field_set & (1 << UF_PORT)) ? pu.port : 80u);
    snprintf(u->hostport, sizeof(u->hostport), "%s%s%s%s%s",
             strchr(u->host, ':') ? "[" : "", u->host,
             strchr(u->host, ':') ? "]" : "",
             (pu.field_set & (1 << UF_PORT)) ? ":" : "",
             (pu.field_set & (1 << UF_PORT)) ? u->port : "");
    /* The request target: the path (or "/") and the query, no fragment. */
    p = (pu.field_set & (1 << UF_PATH)) ? url + pu.field_data[UF_PATH].off
                                        : "/";
    n = (pu.field_set & (1 << UF_PATH)) ? pu.field_data[UF_PATH].len : 1;
    if (pu.field_set & (1 << UF_QUERY))
        n = (size_t)(url + pu.field_data[UF_QUERY].off +
                     pu.field_data[UF_QUERY].len - p);
    u->target = conc_xmalloc(n + 1);
    memcpy(u->target, p, n);
    u->target[n] = '\0';
    return 0;
}

static int http_check(const struct conc_params *p, unsigned tasks)
{
    struct rlimit rl;
    struct http_url u;
    uint64_t need = (uint64_t)tasks + HTTP_FD_SPARE;

#ifndef CONC_HAVE_UV
    if (!conc_param_present(p, "url"))
        return conc_error_msg(-ENOTSUP, "the built-in server is unavailable "
                              "in this build (built without libuv): give "
                              "-o url=http://...");
#endif
    if (conc_param_present(p, "url")) {
        if (http_url_parse(conc_param_str(p, "url"), &u))
            return -EINVAL;
        free(u.target);
        if (conc_param_isset(p, "delay") || conc_param_isset(p, "size"))
            return conc_error_msg(-EINVAL, "options 'delay' and 'size' set "
                                  "the built-in server; with 'url' they do "
                                  "nothing (a 'concbench serve' url takes "
                                  "'?delay=20ms&size=4KiB')");
    }
    /*
     * Every task may hold a connection at once (the built-in server holds
     * the other end, under the same limit).
     */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        need > rl.rlim_cur)
        return conc_error_msg(-EMFILE, "%u http tasks need up to %llu file "
                              "descriptors (one connection each and %u "
                              "spare), but 'ulimit -n' is %llu: raise it "
                              "with 'ulimit -n %llu' or run fewer tasks",
                              tasks, (unsigned long long)need, HTTP_FD_SPARE,
                              (unsigned long long)rl.rlim_cur,
                              (unsigned long long)need);
    return 0;
}

/* Stops the built-in server and reaps it; it may already be gone. */
static void http_server_stop(pid_t pid)
{
    uint64_t give_up = conc_now_ns() + 2 * CONC_NS_PER_S;
    struct timespec ms = { 0, 1000000 };
    int status;
    pid_t got;

    kill(pid, SIGTERM);
    for (;;) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == pid || (got < 0 && errno != EINTR))
            break; /* reaped, or ECHILD: the cell runner reaped it */
        if (got == 0 && conc_now_ns() > give_up) {
            conc_warn("the built-in server (pid %ld) ignored SIGTERM; "
                      "killing it", (long)pid);
            kill(pid, SIGKILL);
            give_up = UINT64_MAX;
        }
        nanosleep(&ms, NULL);
    }
    if (got == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        conc_warn("the built-in server ended badly (status %d)", status);
}

/*
 * Starts `concbench serve` on 127.0.0.1 with a free port and reads the
 * port back from its "listening on" line. 0, or -errno with a message.
 */
static int http_server_start(struct http_shared *sh,
                             const struct conc_params *p, struct http_url *u)
{
    char delay[96], size[96], line[128] = "", exe[4096];
    char *argv[] = { "concbench", "serve", "--bind", "127.0.0.1", "--port",
                     "0", "-o", delay, "-o", size, "-o", "keepalive=on",
                     NULL };
    uint64_t deadline = conc_now_ns() + HTTP_SERVER_START_NS;
    size_t have = 0;
    unsigned port;
    pid_t parent = getpid(), pid;
    int pfd[2], err;
    ssize_t n;

    /*
     * This very binary, by the path /proc/self/exe names: under valgrind
     * that link is the tool itself, while readlink() says the program's
     * path. A binary replaced since we started reads "(deleted)": then
     * only the link itself still reaches our code.
     */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (n <= 0 || (size_t)n >= sizeof(exe) - 1 || strstr(exe, " (deleted)"))
        snprintf(exe, sizeof(exe), "/proc/self/exe");

    snprintf(delay, sizeof(delay), "delay=%s", conc_param_str(p, "delay"));
    snprintf(size, sizeof(size), "size=%s", conc_param_str(p, "size"));
    /* Close-on-exec, so no other child holds the pipe open (setup runs
       before any worker exists, so nothing forks in between). */
    if (pipe(pfd))
        return conc_error(-errno, "cannot start the built-in server");
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
    pid = fork();
    if (pid < 0) {
        err = conc_error(-errno, "cannot start the built-in server");
        goto fail_pipe;
    }
    if (pid == 0) {
        sigset_t none;
        /* Dies with us, even if we are killed before teardown. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(pfd[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(exe, argv);
        _exit(127);
    }
    close(pfd[1]);
    pfd[1] = -1;
    while (!strchr(line, '\n')) {
        struct pollfd pf = { pfd[0], POLLIN, 0 };
        uint64_t now = conc_now_ns();
        if (now >= deadline || have + 1 >= sizeof(line)) {
            err = conc_error_msg(-ETIMEDOUT, "the built-in server did not "
                                 "start listening");
            goto fail_child;
        }
        if (poll(&pf, 1, (int)((deadline - now) / CONC_NS_PER_MS + 1)) < 0) {
            if (errno == EINTR)
                continue;
            err = conc_error(-errno, "cannot read the built-in server's port");
            goto fail_child;
        }
        n = read(pfd[0], line + have, sizeof(line) - 1 - have);
        if (n == 0) {
            err = conc_error_msg(-EIO, "the built-in server exited before "
                                 "listening");
            goto fail_child;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            err = conc_error(-errno, "cannot read the built-in server's port");
            goto fail_child;
        }
        have += (size_t)n;
        line[have] = '\0';
    }
    close(pfd[0]);
    if (sscanf(line, "listening on http://127.0.0.1:%u", &port) != 1 ||
        port == 0 || port > 65535) {
        err = conc_error_msg(-EPROTO, "the built-in server said '%.*s', not "
                             "'listening on http://127.0.0.1:PORT'",
                             (int)strcspn(line, "\n"), line);
        http_server_stop(pid);
        return err;
    }
    sh->server = pid;
    snprintf(u->host, sizeof(u->host), "127.0.0.1");
    snprintf(u->port, sizeof(u->port), "%u", port);
    snprintf(u->hostport, sizeof(u->hostport), "127.0.0.1:%u", port);
    u->target = conc_xstrdup("/");
    return 0;

fail_child:
    http_server_stop(pid);
fail_pipe:
    close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    return err;
}

static void http_teardown(void *shared)
{
    struct http_shared *sh = shared;

    if (!sh)
        return;
    if (sh->server > 0)
        http_server_stop(sh->server);
    if (sh->said)
        munmap(sh->said, sizeof(*sh->said));
    free(sh->request);
    free(sh);
}

static int http_setup(void **shared, const struct conc_params *p,
                      unsigned tasks)
{
    struct http_shared *sh = conc_xcalloc(1, sizeof(*sh));
    struct addrinfo hints, *res;
    struct http_url u;
    int err, n;

    (void)tasks;
    sh->requests = (unsigned)conc_param_u64(p, "requests");
    sh->timeout_ns = conc_param_u64(p, "timeout");
    sh->size = conc_param_u64(p, "size");
    sh->keepalive = conc_param_bool(p, "keepalive");
    sh->builtin = !conc_param_present(p, "url");
    /* Shared with forked workers, so each kind is explained only once. */
    sh->said = mmap(NULL, sizeof(*sh->said), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh->said == MAP_FAILED) {
        sh->said = NULL;
        err = conc_error(-errno, "cannot map the http workload's state");
        goto fail;
    }
    if (sh->builtin)
        err = http_server_start(sh, p, &u);
    else
        err = http_url_parse(conc_param_str(p, "url"), &u);
    if (err)
        goto fail;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    n = getaddrinfo(u.host, u.port, &hints, &res);
    if (n) {
        err = conc_error_msg(-EINVAL, "cannot resolve '%s': %s", u.host,
                             gai_strerror(n));
        goto fail_url;
    }
    memcpy(&sh->addr, res->ai_addr, res->ai_addrlen);
    sh->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(sh->where, sizeof(sh->where), "%s%s%s:%s",
             strchr(u.host, ':') ? "[" : "", u.host,
             strchr(u.host, ':') ? "]" : "", u.port);

    n = snprintf(NULL, 0, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
                 "concbench\r\nAccept: */*\r\nConnection: %s\r\n\r\n",
                 u.target, u.hostport, sh->keepalive ? "keep-alive" : "close");
    sh->request = conc_xmalloc((size_t)n + 1);
    sh->request_len = (size_t)snprintf(
        sh->request, (size_t)n + 1, "GET %s HTTP/1.1\r\nHost: %s\r\n"
        "User-Agent: concbench\r\nAccept: */*\r\nConnection: %s\r\n\r\n",
        u.target, u.hostport, sh->keepalive ? "keep-alive" : "close");
    free(u.target);
    *shared = sh;
    return 0;

fail_url:
    free(u.target);
fail:
    http_teardown(sh);
    return err;
}

static int http_task_init(void *task, void *shared, unsigned index,
                          unsigned tasks)
{
    struct http_task *t = task;
    const struct http_shared *sh = shared;

    (void)index;
    (void)tasks;
    t->sh = sh;
    t->fd = -1;
    t->state = HTTP_S_IDLE;
    t->lat_ns = malloc(sh->requests * sizeof(*t->lat_ns));
    return t->lat_ns ? 0 : -ENOMEM;
}

static int http_on_headers_complete(http_parser *p)
{
    struct http_task *t = p->data;

    t->status = p->status_code;
    /* content_length counts down as the body arrives: keep it now. */
    t->has_length = !(p->flags & F_CHUNKED) &&
                    p->content_length != ULLONG_MAX;
    t->content_length = p->content_length;
    return 0;
}

static int http_on_body(http_parser *p, const char *at, size_t len)
{
    struct http_task *t = p->data;

    (void)at;
    t->body += len;
    return 0;
}

static int http_on_message_complete(http_parser *p)
{
    struct http_task *t = p->data;

    /*
     * An interim 1xx answer (100 Continue, 103 Early Hints) precedes the
     * real one, which a client must read on (RFC 9110, 15.2); 101 is final.
     */
    if (p->status_code / 100 == 1 && p->status_code != 101)
        return 0;
    t->complete = true;
    t->keep = http_should_keep_alive(p);
    /* Stop at the end of this response: more bytes are not ours. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings http_settings = {
    .on_headers_complete = http_on_headers_complete,
    .on_body = http_on_body,
    .on_message_complete = http_on_message_complete,
};

/* The first error of each kind in a cell gets one line saying why. */
static void http_explain(struct http_task *t, enum conc_err_kind kind,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void http_explain(struct http_task *t, enum conc_err_kind kind,
                         const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    unsigned bit = 1u << kind;

    if (__atomic_fetch_or(t->sh->said, bit, __ATOMIC_RELAXED) & bit)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conc_error_msg(0, "http: %s (counted as '%s'; further ones are only "
                   "counted)", msg, conc_err_kind_names[kind]);
}

static void http_close(struct http_task *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* Ends the current request: counts err_kind (or a success when < 0). */
static void http_finish(struct http_task *t, int kind, bool keep_conn)
{
    if (kind < 0) {
        t->lat_ns[t->ok++] = t->last_byte_ns - t->start_ns;
        t->bytes += t->body;
    } else {
        t->errors[kind]++;
    }
    if (!keep_conn || kind >= 0)
        http_close(t);
    t->done++;
    t->state = HTTP_S_IDLE;
}

/* A failed request; errno-style err says which kind. */
static void http_fail(struct http_task *t, int err, const char *doing)
{
    enum conc_err_kind kind;

    /*
     * A kept connection the server closed while idle fails before any
     * byte of the answer: every HTTP client resends such a request once
     * on a fresh connection, and so do we, without counting an error.
     */
    if (t->reused && !t->got_bytes && !t->retried &&
        (err == -ECONNRESET || err == -EPIPE || err == 0)) {
        http_close(t);
        t->retried = true;
        t->reused = false;
        t->sent = 0;
        t->state = HTTP_S_CONNECT;
        return;
    }
    switch (err) {
    case -ECONNREFUSED: kind = CONC_ERR_REFUSED; break;
    case -ECONNRESET:
    case -EPIPE:
    case 0: kind = CONC_ERR_RESET; break;
    case -ETIMEDOUT: kind = CONC_ERR_TIMEOUT; break;
    default: kind = CONC_ERR_OTHER; break;
    }
    if (err == -ETIMEDOUT)
        http_explain(t, kind, "no answer from '%s' within the timeout of "
                     "%llu ms while %s", t->sh->where,
                     (unsigned long long)(t->sh->timeout_ns / CONC_NS_PER_MS),
                     doing);
    else if (err == 0)
        http_explain(t, kind, "'%s' closed the connection without an answer",
                     t->sh->where);
    else
        http_explain(t, kind, "cannot %s '%s': %s", doing, t->sh->where,
                     strerror(-err));
    http_finish(t, kind, false);
}

/* A wait on fd, bounded by the request's deadline. */
static int http_wait(struct http_task *t, struct conc_wait *w,
                     enum conc_want want)
{
    if (conc_now_ns() >= t->deadline_ns) {
        http_fail(t, -ETIMEDOUT, t->state == HTTP_S_CONNECTING ? "connecting"
                                 : t->state == HTTP_S_SENDING ? "sending"
                                                            : "receiving");
        return 0;
    }
    w->want = want;
    w->fd = t->fd;
    w->deadline_ns = t->deadline_ns;
    return 1;
}

static void http_connect(struct http_task *t)
{
    const struct http_shared *sh = t->sh;
    int one = 1;

    t->fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                   SOCK_CLOEXEC, 0);
    if (t->fd < 0) {
        http_fail(t, -errno, "open a socket to");
        return;
    }
    /* One write a request, as wrk and curl do: no Nagle delay. */
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    t->reused = false;
    if (connect(t->fd, (const struct sockaddr *)&sh->addr, sh->addr_len) == 0)
        t->state = HTTP_S_SENDING;
    else if (errno == EINPROGRESS)
        t->state = HTTP_S_CONNECTING;
    else
        http_fail(t, -errno, "connect to");
}

/* The parser saw the whole response; extra bytes followed it. */
static void http_complete(struct http_task *t, bool eof, bool extra)
{
    t->last_byte_ns = conc_now_ns();
    if (extra) {
        http_explain(t, CONC_ERR_PARSE, "'%s' sent bytes after a whole "
                     "response", t->sh->where);
        http_finish(t, CONC_ERR_PARSE, false);
    } else if (t->status != 200) {
        http_explain(t, CONC_ERR_STATUS, "'%s' answered with status %u, not "
                     "200", t->sh->where, t->status);
        http_finish(t, CONC_ERR_STATUS, false);
    } else if (t->has_length && t->body != t->content_length) {
        http_explain(t, CONC_ERR_PARSE, "'%s' sent %llu body bytes for a "
                     "Content-Length of %llu", t->sh->where,
                     (unsigned long long)t->body,
                     (unsigned long long)t->content_length);
        http_finish(t, CONC_ERR_PARSE, false);
    } else if (t->sh->keepalive && t->keep && !eof) {
        http_finish(t, -1, true);
    } else if (eof) {
        http_finish(t, -1, false);
    } else {
        /* Let the server close first, so TIME_WAIT stays on its side. */
        t->state = HTTP_S_DRAINING;
    }
}

/* Feeds n received bytes (0: the peer closed) to the parser. */
static void http_parse(struct http_task *t, const char *buf, size_t n)
{
    size_t used = http_parser_execute(&t->parser, &http_settings, buf, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&t->parser);

    if (t->complete) {
        http_complete(t, n == 0, used < n);
    } else if (e != HPE_OK) {
        http_explain(t, CONC_ERR_PARSE, "bad response from '%s': %s",
                     t->sh->where, http_errno_description(e));
        http_finish(t, CONC_ERR_PARSE, false);
    } else if (n == 0) {
        if (t->got_bytes) {
            http_explain(t, CONC_ERR_PARSE, "'%s' closed the connection in "
                         "the middle of a response", t->sh->where);
            http_finish(t, CONC_ERR_PARSE, false);
        } else {
            http_fail(t, 0, "receive from");
        }
    }
}

/* Starts request number t->done. */
static void http_begin(struct http_task *t)
{
    t->start_ns = conc_now_ns();
    t->deadline_ns = t->start_ns + t->sh->timeout_ns;
    t->retried = t->got_bytes = t->complete = t->keep = false;
    t->has_length = false;
    t->status = 0;
    t->body = t->content_length = 0;
    t->sent = 0;
    if (t->fd >= 0) {
        t->reused = true;
        t->state = HTTP_S_SENDING;
    } else {
        t->state = HTTP_S_CONNECT;
    }
}

static int http_step(void *task, struct conc_wait *w)
{
    struct http_task *t = task;
    const struct http_shared *sh = t->sh;
    int soerr;
    socklen_t len;
    ssize_t n;

    for (int ops = 0; ops < HTTP_STEP_OPS; ops++) {
        switch (t->state) {
        case HTTP_S_IDLE:
            if (t->done == sh->requests) {
                http_close(t);
                w->want = CONC_DONE;
                return 0;
            }
            http_begin(t);
            break;
        case HTTP_S_CONNECT:
            http_connect(t);
            if (t->state == HTTP_S_CONNECTING &&
                http_wait(t, w, CONC_WAIT_WRITE))
                return 0;
            break;
        case HTTP_S_CONNECTING:
            soerr = 0;
            len = sizeof(soerr);
            if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                soerr = errno;
            if (soerr) {
                http_fail(t, -soerr, "connect to");
                break;
            }
            /* Still connecting (woken at the deadline): send says EAGAIN. */
            t->state = HTTP_S_SENDING;
            break;
        case HTTP_S_SENDING:
            n = send(t->fd, sh->request + t->sent, sh->request_len - t->sent,
                     MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if (http_wait(t, w, CONC_WAIT_WRITE))
                        return 0;
                } else {
                    http_fail(t, -errno, "send to");
                }
                break;
            }
            t->sent += (size_t)n;
            if (t->sent < sh->request_len)
                break;
            http_parser_init(&t->parser, HTTP_RESPONSE);
            t->parser.data = t;
            t->state = HTTP_S_RECEIVING;
            /* The answer takes a round trip: wait rather than try. */
            if (http_wait(t, w, CONC_WAIT_READ))
                return 0;
            break;
        case HTTP_S_RECEIVING:
        case HTTP_S_DRAINING: {
            char *buf = http_rbuf_get();
            n = recv(t->fd, buf, HTTP_RBUF, 0);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (t->state == HTTP_S_DRAINING &&
                    conc_now_ns() >= t->deadline_ns) {
                    /* The answer was whole; the server just kept it open. */
                    http_finish(t, -1, false);
                    break;
                }
                if (http_wait(t, w, CONC_WAIT_READ))
                    return 0;
                break;
            }
            if (t->state == HTTP_S_DRAINING) {
                if (n > 0) {
                    http_explain(t, CONC_ERR_PARSE, "'%s' sent bytes after "
                                 "a whole response", sh->where);
                    http_finish(t, CONC_ERR_PARSE, false);
                } else {
                    /* Closed (or reset) after the whole answer: done. */
                    http_finish(t, -1, false);
                }
                break;
            }
            if (n < 0) {
                http_fail(t, -errno, "receive from");
                break;
            }
            if (n > 0)
                t->got_bytes = true;
            http_parse(t, buf, (size_t)n);
            break;
        }
        }
    }
    /* Bounded work per step: let the other tasks run. */
    w->want = CONC_YIELD;
    return 0;
}

static int http_task_result(const void *task, struct conc_task_out *out)
{
    const struct http_task *t = task;

    out->result = t->ok;
    out->ops = t->done;
    out->bytes = t->bytes;
    for (int k = 0; k < CONC_ERR_KINDS; k++)
        out->errors[k] += t->errors[k];
    for (unsigned i = 0; i < t->ok; i++)
        conc_hist_add_atomic(out->op_ns, t->lat_ns[i]);
    return 0;
}

static void http_task_fini(void *task)
{
    struct http_task *t = task;

    http_close(t);
    free(t->lat_ns);
    t->lat_ns = NULL;
}

static int http_verify(void *shared, const struct conc_totals *tot, char *why,
                       size_t len)
{
    const struct http_shared *sh = shared;
    uint64_t want = (uint64_t)tot->tasks * sh->requests;

    if (tot->ops != want || tot->result != want) {
        snprintf(why, len, "%llu of %llu fetches answered 200 with a whole "
                 "body", (unsigned long long)tot->result,
                 (unsigned long long)want);
        return -EINVAL;
    }
    if (sh->builtin && tot->bytes != tot->result * sh->size) {
        snprintf(why, len, "%llu body bytes, expected %llu (%llu fetches of "
                 "%llu)", (unsigned long long)tot->bytes,
                 (unsigned long long)(tot->result * sh->size),
                 (unsigned long long)tot->result,
                 (unsigned long long)sh->size);
        return -EINVAL;
    }
    return 0;
}

const struct conc_workload conc_workload_http = {
    .name = "http",
    .summary = "each task fetches a URL `requests` times (I/O-bound; the "
               "built-in server unless url is set)",
    .op_name = "request_ns",
    .opts = http_opts,
    .task_size = sizeof(struct http_task),
    .check = http_check,
    .setup = http_setup,
    .task_init = http_task_init,
    .step = http_step,
    .task_result = http_task_result,
    .task_fini = http_task_fini,
    .verify = http_verify,
    .teardown = http_teardown,
};
#else
const struct conc_workload conc_workload_http = {
    .name = "http",
    .summary = "each task fetches a URL `requests` times",
    .op_name = "request_ns",
    .opts = http_opts,
    .unavailable = "built without http-parser",
};
#endif
