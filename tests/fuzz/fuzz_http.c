/*
 * libFuzzer target for the http workload's response path: the real
 * workload (setup, task_init, step, task_result) fetches from a scripted
 * server on loopback that answers each request with the next piece of the
 * fuzz input, so connect, send, receive, the http-parser callbacks and the
 * keep-alive, retry and close logic all run on hostile bytes.
 *
 * Input: one flags byte, then the answers separated by "\n~~~\n".
 *   bit 0     the workload's keepalive option
 *   bit 1     the server closes (shuts down writing) after each answer
 *   bits 2-3  requests per task, 1 to 4
 * The server answers a request only once it has read all of it, and when
 * the client waits with nothing left to answer, it closes its side; so
 * nothing ever waits for a timeout and a run takes microseconds.
 */
#define _GNU_SOURCE /* accept4, memmem */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cmd/registry.h"
#include "lib/err.h"
#include "lib/hist.h"
#include "lib/opts.h"
#include "workloads/workload.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef CONC_HAVE_HTTP_PARSER
#include <http_parser.h>

#define FUZZ_SEP "\n~~~\n"
#define FUZZ_ANSWERS_MAX 16
/* The workload's receive buffer (HTTP_RBUF in workloads/http-client.c). */
#define FUZZ_RBUF (16u << 10)
/* Steps one task may take: a whole run is a few dozen. */
#define FUZZ_STEPS_MAX 100000
/* How long a wait on loopback may take before the run counts as stuck. */
#define FUZZ_STUCK_MS 3000
/*
 * Longer inputs are skipped: every answer must fit the loopback socket's
 * window, since the server sends it whole before the client reads.
 */
#define FUZZ_INPUT_MAX (16u << 10)

static int fuzz_listen_fd = -1;
static char fuzz_url[64];
static struct conc_hist fuzz_hist;

struct fuzz_answer {
    const char *p;
    size_t len;
    bool ok;       /* a whole 200 response the client must accept */
    uint64_t body; /* its body bytes */
};

/* The scripted server's one connection. */
struct fuzz_server {
    const struct fuzz_answer *answers;
    size_t nanswers, next;  /* answers, and the next one to send */
    bool close_each;        /* shut down writing after each answer */
    int fd;                 /* the accepted connection, or -1 */
    bool fin;               /* its writing side is shut down */
    unsigned asked, told;   /* whole requests read, and answered, on it */
    char tail[4];           /* the last bytes read, to find "\r\n\r\n" */
    uint64_t bytes_sent;
};

static void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "fuzz_http: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);

    (void)argc;
    (void)argv;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fuzz_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
                            SOCK_CLOEXEC, 0);
    if (fuzz_listen_fd < 0 ||
        bind(fuzz_listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(fuzz_listen_fd, 64) ||
        getsockname(fuzz_listen_fd, (struct sockaddr *)&sa, &len)) {
        perror("fuzz_http: cannot listen on 127.0.0.1");
        exit(1);
    }
    snprintf(fuzz_url, sizeof(fuzz_url), "http://127.0.0.1:%u/fuzz",
             ntohs(sa.sin_port));
    return 0;
}

/* The process's open descriptors, to catch a leaked one. */
static int fuzz_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        abort();
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/*
 * What the workload must make of one answer followed by the server's
 * close, worked out independently with a fresh parser fed as the client
 * receives: complete (after any interim 1xx), status 200, no byte after
 * it, and a body as long as any Content-Length said.
 */
struct fuzz_ref {
    bool complete;
    unsigned status;
    bool has_length;
    uint64_t content_length, body;
};

static int fuzz_ref_on_headers(http_parser *p)
{
    struct fuzz_ref *r = p->data;

    r->status = p->status_code;
    r->has_length = !(p->flags & F_CHUNKED) &&
                    p->content_length != (uint64_t)-1;
    r->content_length = p->content_length;
    return 0;
}

static int fuzz_ref_on_body(http_parser *p, const char *at, size_t len)
{
    (void)at;
    ((struct fuzz_ref *)p->data)->body += len;
    return 0;
}

static int fuzz_ref_on_complete(http_parser *p)
{
    /* An interim 1xx answer (not 101) comes before the real one. */
    if (p->status_code >= 100 && p->status_code < 200 &&
        p->status_code != 101)
        return 0;
    ((struct fuzz_ref *)p->data)->complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings fuzz_ref_settings = {
    .on_headers_complete = fuzz_ref_on_headers,
    .on_body = fuzz_ref_on_body,
    .on_message_complete = fuzz_ref_on_complete,
};

static void fuzz_judge(struct fuzz_answer *a)
{
    struct fuzz_ref r = { 0 };
    http_parser p;
    size_t off = 0, n, used;

    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &r;
    a->ok = false;
    /* The client reads at most FUZZ_RBUF bytes at a time. */
    while (off < a->len) {
        n = a->len - off < FUZZ_RBUF ? a->len - off : FUZZ_RBUF;
        used = http_parser_execute(&p, &fuzz_ref_settings, a->p + off, n);
        if (r.complete) {
            if (off + used < a->len)
                return; /* bytes after a whole response */
            break;
        }
        if (HTTP_PARSER_ERRNO(&p) != HPE_OK)
            return;
        off += n;
    }
    if (!r.complete)
        http_parser_execute(&p, &fuzz_ref_settings, NULL, 0); /* the close */
    if (!r.complete || r.status != 200 ||
        (r.has_length && r.body != r.content_length))
        return;
    a->ok = true;
    a->body = r.body;
}

/* Splits the input after the flags byte into answers. */
static size_t fuzz_split(const uint8_t *data, size_t size,
                         struct fuzz_answer *a)
{
    const char *p = (const char *)data, *end = p + size, *sep;
    size_t n = 0, sl = strlen(FUZZ_SEP);

    while (n < FUZZ_ANSWERS_MAX) {
        sep = memmem(p, (size_t)(end - p), FUZZ_SEP, sl);
        a[n].p = p;
        a[n].len = sep ? (size_t)(sep - p) : (size_t)(end - p);
        fuzz_judge(&a[n]);
        n++;
        if (!sep)
            break;
        p = sep + sl;
    }
    return n;
}

static void fuzz_server_close(struct fuzz_server *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Takes a new connection (the client closed its last), reads requests. */
static void fuzz_server_pump(struct fuzz_server *s)
{
    char buf[4096];
    ssize_t n;
    int fd;

    while ((fd = accept4(fuzz_listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        fuzz_server_close(s);
        s->fd = fd;
        s->fin = false;
        s->asked = s->told = 0;
        memset(s->tail, 0, sizeof(s->tail));
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        fuzz_fail("accept: %s", strerror(errno));
    while (s->fd >= 0 && (n = recv(s->fd, buf, sizeof(buf), 0)) > 0) {
        /* Requests end with an empty line; count them across reads. */
        for (ssize_t i = 0; i < n; i++) {
            memmove(s->tail, s->tail + 1, 3);
            s->tail[3] = buf[i];
            s->asked += memcmp(s->tail, "\r\n\r\n", 4) == 0;
        }
    }
}

/* Waits for fd; a wait this long on loopback means the run is stuck. */
static void fuzz_wait(int fd, short events, int ms)
{
    struct pollfd pf = { fd, events, 0 };

    if (poll(&pf, 1, ms) == 0)
        fuzz_fail("waited %d ms for fd %d on loopback", ms, fd);
}

/*
 * The client waits to read: answer a request that has none yet, or else
 * close, so the client never waits for a timeout.
 */
static void fuzz_server_act(struct fuzz_server *s)
{
    if (s->fd < 0 || s->fin)
        return;
    if (s->told < s->asked && s->next < s->nanswers) {
        const struct fuzz_answer *a = &s->answers[s->next++];
        size_t off = 0;

        s->told++;
        while (off < a->len) {
            ssize_t n = send(s->fd, a->p + off, a->len - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN) {
                /* The window opens as loopback acknowledges. */
                fuzz_wait(s->fd, POLLOUT, FUZZ_STUCK_MS);
                continue;
            }
            if (n < 0)
                break; /* the client closed first: it counts that */
            off += (size_t)n;
        }
        s->bytes_sent += off;
        /* An empty answer says nothing: close, as after the last one. */
        if (!s->close_each && a->len > 0)
            return;
    }
    shutdown(s->fd, SHUT_WR);
    s->fin = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct conc_workload *w = conc_workload_find("http");
    struct fuzz_answer answers[FUZZ_ANSWERS_MAX];
    struct fuzz_server s = { .fd = -1 };
    struct conc_task_out out;
    struct conc_params p;
    struct conc_wait cw;
    struct pollfd pf;
    void *shared = NULL, *task;
    unsigned requests, errors = 0, ok_sent = 0;
    uint64_t body_sent = 0;
    int fds, steps = 0;
    char req[8];

    if (!w || w->unavailable)
        abort();
    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    fds = fuzz_count_fds();
    requests = 1 + ((data[0] >> 2) & 3);
    s.close_each = data[0] & 2;
    s.answers = answers;
    s.nanswers = fuzz_split(data + 1, size - 1, answers);

    snprintf(req, sizeof(req), "%u", requests);
    if (conc_params_init(&p, w->opts) ||
        conc_params_set(&p, "url", fuzz_url) ||
        conc_params_set(&p, "requests", req) ||
        conc_params_set(&p, "keepalive", data[0] & 1 ? "on" : "off") ||
        conc_params_set(&p, "timeout", "30s") || w->setup(&shared, &p, 1))
        abort();
    task = conc_xcalloc(1, w->task_size);
    if (w->task_init(task, shared, 0, 1))
        abort();

    for (;;) {
        if (++steps > FUZZ_STEPS_MAX)
            fuzz_fail("no end after %d steps", FUZZ_STEPS_MAX);
        if (w->step(task, &cw))
            fuzz_fail("step failed: %s", conc_error_last());
        if (cw.want == CONC_DONE)
            break;
        if (cw.want == CONC_YIELD)
            continue;
        if (cw.want != CONC_WAIT_READ && cw.want != CONC_WAIT_WRITE)
            fuzz_fail("step wants to wait for a time (%d)", (int)cw.want);
        pf.fd = cw.fd;
        pf.events = cw.want == CONC_WAIT_READ ? POLLIN : POLLOUT;
        fuzz_server_pump(&s);
        if (poll(&pf, 1, 0) == 1)
            continue;
        /* Connecting needs no accept(): the next pump takes it. */
        if (cw.want == CONC_WAIT_READ)
            fuzz_server_act(&s);
        fuzz_wait(cw.fd, pf.events, FUZZ_STUCK_MS);
    }

    memset(&out, 0, sizeof(out));
    memset(&fuzz_hist, 0, sizeof(fuzz_hist));
    out.op_ns = &fuzz_hist;
    if (w->task_result(task, &out))
        abort();
    w->task_fini(task);
    free(task);
    w->teardown(shared);
    conc_params_fini(&p);
    fuzz_server_pump(&s);
    fuzz_server_close(&s);

    for (int k = 0; k < CONC_ERR_KINDS; k++)
        errors += out.errors[k];
    for (size_t i = 0; i < s.next; i++)
        if (answers[i].ok) {
            ok_sent++;
            body_sent += answers[i].body;
        }
    if (getenv("FUZZ_HTTP_TRACE"))
        fprintf(stderr, "fuzz_http: %u requests (keepalive %s, server %s): "
                "%llu ok, %u errors, %llu body bytes; %zu of %zu answers "
                "sent, %u of them good\n", requests,
                data[0] & 1 ? "on" : "off",
                s.close_each ? "closes after each" : "keeps open",
                (unsigned long long)out.result, errors,
                (unsigned long long)out.bytes, s.next, s.nanswers, ok_sent);
    /* Every request ends once: answered well, or counted as one error. */
    if (out.ops != requests || out.result + errors != requests ||
        fuzz_hist.count != out.result) {
        fprintf(stderr, "fuzz_http: %u requests, %llu done, %llu ok, %u "
                "errors, %llu latencies\n", requests,
                (unsigned long long)out.ops, (unsigned long long)out.result,
                errors, (unsigned long long)fuzz_hist.count);
        abort();
    }
    /*
     * A fetch counted ok is a whole 200 answer with the right body, and
     * no answer counts twice; with one request that decides it exactly.
     */
    if (out.result > ok_sent || out.bytes > body_sent ||
        out.bytes > s.bytes_sent ||
        (requests == 1 && (out.result != ok_sent || out.bytes != body_sent))) {
        fprintf(stderr, "fuzz_http: %llu ok with %llu body bytes, but the "
                "server sent %u good answers with %llu body bytes (%llu "
                "bytes in all)\n", (unsigned long long)out.result,
                (unsigned long long)out.bytes, ok_sent,
                (unsigned long long)body_sent,
                (unsigned long long)s.bytes_sent);
        abort();
    }
    if (fuzz_count_fds() != fds)
        fuzz_fail("%d descriptors open before the run, %d after", fds,
                  fuzz_count_fds());
    return 0;
}

#else
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "fuzz_http: built without http-parser: nothing to "
            "fuzz\n");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    return 0;
}
#endif
