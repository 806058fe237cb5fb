/*
 * The http workload's client: each task's fetches as a socket state machine
 * that never blocks (connect, send, parse with http-parser, close or keep).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "workloads/http.h"

#ifdef CONC_HAVE_HTTP_PARSER
/* Per-thread receive buffer: body bytes are counted, then dropped. */
#define HTTP_RBUF (16u << 10)

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

static int http_on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;

    c->status = p->status_code;
    /* content_length counts down as the body arrives: keep it now. */
    c->has_length = !(p->flags & F_CHUNKED) &&
                    p->content_length != ULLONG_MAX;
    c->content_length = p->content_length;
    return 0;
}

static int http_on_body(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;

    (void)at;
    c->body += len;
    return 0;
}

static int http_on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;

    /*
     * An interim 1xx answer (100 Continue, 103 Early Hints) precedes the
     * real one, which a client must read on (RFC 9110, 15.2); 101 is final.
     */
    if (p->status_code / 100 == 1 && p->status_code != 101)
        return 0;
    c->complete = true;
    c->keep = http_should_keep_alive(p);
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

void http_close(struct http_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->watched = 0; /* closing the fd took it out of any epoll */
}

/* Ends c's request: counts err_kind (or a success when < 0). */
static void http_finish(struct http_task *t, struct http_conn *c, int kind,
                        bool keep_conn)
{
    if (kind < 0) {
        t->lat_ns[t->ok++] = c->last_byte_ns - c->origin_ns;
        t->bytes += c->body;
        if (!t->first_ns)
            t->first_ns = c->last_byte_ns;
        t->last_ns = c->last_byte_ns;
    } else {
        t->errors[kind]++;
    }
    if (!keep_conn || kind >= 0)
        http_close(c);
    t->done++;
    c->state = HTTP_S_IDLE;
}

/* A failed request; errno-style err says which kind. */
static void http_fail(struct http_task *t, struct http_conn *c, int err,
                      const char *doing)
{
    enum conc_err_kind kind;

    /*
     * A kept connection the server closed while idle fails before any
     * byte of the answer: every HTTP client resends such a request once
     * on a fresh connection, and so do we, without counting an error.
     */
    if (c->reused && !c->got_bytes && !c->retried &&
        (err == -ECONNRESET || err == -EPIPE || err == 0)) {
        http_close(c);
        c->retried = true;
        c->reused = false;
        c->sent = 0;
        c->state = HTTP_S_CONNECT;
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
    http_finish(t, c, kind, false);
}

/* A wait on c's fd, bounded by the request's deadline. */
static int http_wait(struct http_task *t, struct http_conn *c,
                     enum conc_want want)
{
    if (conc_now_ns() >= c->deadline_ns) {
        http_fail(t, c, -ETIMEDOUT, c->state == HTTP_S_CONNECTING
                                        ? "connecting"
                                    : c->state == HTTP_S_SENDING ? "sending"
                                                                 : "receiving");
        return 0;
    }
    c->want = want;
    return 1;
}

static void http_connect(struct http_task *t, struct http_conn *c)
{
    const struct http_shared *sh = t->sh;
    int one = 1;

    c->fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                   SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        http_fail(t, c, -errno, "open a socket to");
        return;
    }
    /* One write a request, as wrk and curl do: no Nagle delay. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->reused = false;
    if (connect(c->fd, (const struct sockaddr *)&sh->addr, sh->addr_len) == 0)
        c->state = HTTP_S_SENDING;
    else if (errno == EINPROGRESS)
        c->state = HTTP_S_CONNECTING;
    else
        http_fail(t, c, -errno, "connect to");
}

/* The parser saw the whole response; extra bytes followed it. */
static void http_complete(struct http_task *t, struct http_conn *c, bool eof,
                          bool extra)
{
    c->last_byte_ns = conc_now_ns();
    if (extra) {
        http_explain(t, CONC_ERR_PARSE, "'%s' sent bytes after a whole "
                     "response", t->sh->where);
        http_finish(t, c, CONC_ERR_PARSE, false);
    } else if (c->status != 200) {
        http_explain(t, CONC_ERR_STATUS, "'%s' answered with status %u, not "
                     "200", t->sh->where, c->status);
        http_finish(t, c, CONC_ERR_STATUS, false);
    } else if (c->has_length && c->body != c->content_length) {
        http_explain(t, CONC_ERR_PARSE, "'%s' sent %llu body bytes for a "
                     "Content-Length of %llu", t->sh->where,
                     (unsigned long long)c->body,
                     (unsigned long long)c->content_length);
        http_finish(t, c, CONC_ERR_PARSE, false);
    } else if (t->sh->keepalive && c->keep && !eof) {
        http_finish(t, c, -1, true);
    } else if (eof) {
        http_finish(t, c, -1, false);
    } else {
        /* Let the server close first, so TIME_WAIT stays on its side. */
        c->state = HTTP_S_DRAINING;
    }
}

/* Feeds n received bytes (0: the peer closed) to the parser. */
static void http_parse(struct http_task *t, struct http_conn *c,
                       const char *buf, size_t n)
{
    size_t used = http_parser_execute(&c->parser, &http_settings, buf, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

    if (c->complete) {
        http_complete(t, c, n == 0, used < n);
    } else if (e != HPE_OK) {
        http_explain(t, CONC_ERR_PARSE, "bad response from '%s': %s",
                     t->sh->where, http_errno_description(e));
        http_finish(t, c, CONC_ERR_PARSE, false);
    } else if (n == 0) {
        if (c->got_bytes) {
            http_explain(t, CONC_ERR_PARSE, "'%s' closed the connection in "
                         "the middle of a response", t->sh->where);
            http_finish(t, c, CONC_ERR_PARSE, false);
        } else {
            http_fail(t, c, 0, "receive from");
        }
    }
}

void http_begin(struct http_task *t, struct http_conn *c, uint64_t origin_ns)
{
    c->start_ns = conc_now_ns();
    c->origin_ns = origin_ns ? origin_ns : c->start_ns;
    c->deadline_ns = c->start_ns + t->sh->timeout_ns;
    c->retried = c->got_bytes = c->complete = c->keep = false;
    c->has_length = false;
    c->status = 0;
    c->body = c->content_length = 0;
    c->sent = 0;
    if (c->fd >= 0) {
        c->reused = true;
        c->state = HTTP_S_SENDING;
    } else {
        c->state = HTTP_S_CONNECT;
    }
}

int http_op(struct http_task *t, struct http_conn *c)
{
    const struct http_shared *sh = t->sh;
    int soerr;
    socklen_t len;
    ssize_t n;

    switch (c->state) {
    case HTTP_S_IDLE:
        break;
    case HTTP_S_CONNECT:
        http_connect(t, c);
        if (c->state == HTTP_S_CONNECTING &&
            http_wait(t, c, CONC_WAIT_WRITE))
            return 1;
        break;
    case HTTP_S_CONNECTING:
        soerr = 0;
        len = sizeof(soerr);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
            soerr = errno;
        if (soerr) {
            http_fail(t, c, -soerr, "connect to");
            break;
        }
        /* Still connecting (woken at the deadline): send says EAGAIN. */
        c->state = HTTP_S_SENDING;
        break;
    case HTTP_S_SENDING:
        n = send(c->fd, sh->request + c->sent, sh->request_len - c->sent,
                 MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (http_wait(t, c, CONC_WAIT_WRITE))
                    return 1;
            } else {
                http_fail(t, c, -errno, "send to");
            }
            break;
        }
        c->sent += (size_t)n;
        if (c->sent < sh->request_len)
            break;
        http_parser_init(&c->parser, HTTP_RESPONSE);
        c->parser.data = c;
        c->state = HTTP_S_RECEIVING;
        /* The answer takes a round trip: wait rather than try. */
        if (http_wait(t, c, CONC_WAIT_READ))
            return 1;
        break;
    case HTTP_S_RECEIVING:
    case HTTP_S_DRAINING: {
        char *buf = http_rbuf_get();
        n = recv(c->fd, buf, HTTP_RBUF, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state == HTTP_S_DRAINING &&
                conc_now_ns() >= c->deadline_ns) {
                /* The answer was whole; the server just kept it open. */
                http_finish(t, c, -1, false);
                break;
            }
            if (http_wait(t, c, CONC_WAIT_READ))
                return 1;
            break;
        }
        if (c->state == HTTP_S_DRAINING) {
            if (n > 0) {
                http_explain(t, CONC_ERR_PARSE, "'%s' sent bytes after a "
                             "whole response", sh->where);
                http_finish(t, c, CONC_ERR_PARSE, false);
            } else {
                /* Closed (or reset) after the whole answer: done. */
                http_finish(t, c, -1, false);
            }
            break;
        }
        if (n < 0) {
            http_fail(t, c, -errno, "receive from");
            break;
        }
        if (n > 0)
            c->got_bytes = true;
        http_parse(t, c, buf, (size_t)n);
        break;
    }
    }
    return 0;
}

int http_step(void *task, struct conc_wait *w)
{
    struct http_task *t = task;
    struct http_conn *c = &t->one;

    if (t->sh->rate)
        return http_open_step(t, w);
    for (int ops = 0; ops < HTTP_STEP_OPS; ops++) {
        if (c->state == HTTP_S_IDLE) {
            if (t->done == t->sh->requests) {
                http_close(c);
                w->want = CONC_DONE;
                return 0;
            }
            http_begin(t, c, 0);
        } else if (http_op(t, c)) {
            w->want = c->want;
            w->fd = c->fd;
            w->deadline_ns = c->deadline_ns;
            return 0;
        }
    }
    /* Bounded work per step: let the other tasks run. */
    w->want = CONC_YIELD;
    return 0;
}
#endif
