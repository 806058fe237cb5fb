/*
 * The built-in HTTP/1.1 server's core: one libuv loop, http-parser, and a
 * timer per delayed answer, so thousands in flight cost no thread.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "lib/opts.h"
#include "workloads/httpd.h"

#if defined(CONC_HAVE_UV) && defined(CONC_HAVE_HTTP_PARSER)
#include <http_parser.h>
#include <uv.h>

const char *const conc_httpd_unavailable = NULL;

#include "workloads/httpd-internal.h"

static void httpd_conn_close(struct httpd_conn *c);
static void httpd_conn_feed(struct httpd_conn *c, const char *data,
                            size_t len);
static void httpd_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void httpd_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void httpd_on_conn_close(uv_handle_t *h)
{
    struct httpd_conn *c = h->data;

    if (--c->handles == 0) {
        free(c->pending);
        free(c);
    }
}

static void httpd_conn_close(struct httpd_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Pending writes end with UV_ECANCELED before these callbacks run. */
    c->srv->nconns--;
    uv_close((uv_handle_t *)&c->tcp, httpd_on_conn_close);
    uv_close((uv_handle_t *)&c->timer, httpd_on_conn_close);
    uv_close((uv_handle_t *)&c->deadline, httpd_on_conn_close);
}

/*
 * The deadline fired: a request that did not arrive whole in time gets
 * 408 and the connection closes; an idle connection just closes.
 */
static void httpd_on_deadline(uv_timer_t *t)
{
    struct httpd_conn *c = t->data;

    if (c->closing || c->lingering || c->busy)
        return;
    if (c->in_request) {
        c->in_request = false;
        httpd_conn_error(c, 408, "request not received in time\n");
    } else {
        httpd_conn_close(c);
    }
}

/* Arms the deadline for ms from now (0: none). */
static void httpd_conn_deadline(struct httpd_conn *c, uint64_t ms)
{
    if (ms)
        uv_timer_start(&c->deadline, httpd_on_deadline, ms, 0);
    else
        uv_timer_stop(&c->deadline);
}

static void httpd_on_linger(uv_timer_t *t)
{
    httpd_conn_close(t->data);
}

static void httpd_on_shutdown(uv_shutdown_t *req, int status)
{
    struct httpd_conn *c = req->data;

    if (status < 0 && !c->closing)
        httpd_conn_close(c);
}

/*
 * Ends a connection after its last response, lingering like nginx: our
 * FIN goes first (so TIME_WAIT lands here, not on the client), then we
 * read and drop whatever the client still sends until it closes. Closing
 * at once would make the kernel answer unread bytes (a pipelined request)
 * with a reset that can destroy the response before the client reads it.
 */
static void httpd_conn_linger(struct httpd_conn *c)
{
    c->lingering = true;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, httpd_on_shutdown)) {
        httpd_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, httpd_on_linger, HTTPD_LINGER_MS, 0);
    if (c->read_stopped) {
        c->read_stopped = false;
        uv_read_start((uv_stream_t *)&c->tcp, httpd_on_alloc, httpd_on_read);
    }
}

static void httpd_on_write(uv_write_t *req, int status)
{
    struct httpd_conn *c = req->data;

    if (c->closing)
        return;
    c->busy = false;
    if (status < 0) {
        httpd_conn_close(c);
        return;
    }
    if (!c->keep) {
        httpd_conn_linger(c);
        return;
    }
    /* Waiting for the next request: the idle timeout runs again. */
    httpd_conn_deadline(c, c->srv->idle_timeout_ms);
    if (c->pending_len) {
        char *buf = c->pending;
        size_t len = c->pending_len;
        c->pending = NULL;
        c->pending_len = c->pending_cap = 0;
        httpd_conn_feed(c, buf, len);
        free(buf);
    }
    if (!c->busy && !c->closing && c->read_stopped) {
        c->read_stopped = false;
        uv_read_start((uv_stream_t *)&c->tcp, httpd_on_alloc, httpd_on_read);
    }
}

/* Writes the response prepared in c (head, then body or size bytes). */
void httpd_conn_write(struct httpd_conn *c)
{
    uv_buf_t small[8], *bufs = small;
    size_t nbufs = 1, left = c->method == HTTP_HEAD ? 0 : c->size;
    int err;

    if (!c->body && 1 + (left + HTTPD_CHUNK - 1) / HTTPD_CHUNK >
                        sizeof(small) / sizeof(small[0]))
        bufs = conc_xmalloc((1 + (left + HTTPD_CHUNK - 1) / HTTPD_CHUNK) *
                            sizeof(*bufs));
    bufs[0] = uv_buf_init(c->head, (unsigned)c->head_len);
    if (c->body) {
        if (left)
            bufs[nbufs++] = uv_buf_init((char *)c->body, (unsigned)left);
    } else {
        for (; left; left -= bufs[nbufs++].len)
            bufs[nbufs] = uv_buf_init(c->srv->body, left < HTTPD_CHUNK
                                                        ? (unsigned)left
                                                        : HTTPD_CHUNK);
    }
    c->write.data = c;
    /* libuv copies the uv_buf_t array, never the bytes it points at. */
    err = uv_write(&c->write, (uv_stream_t *)&c->tcp, bufs,
                   (unsigned)nbufs, httpd_on_write);
    if (bufs != small)
        free(bufs);
    if (err)
        httpd_conn_close(c);
}

/* The request is whole (or refused): answer it before reading on. */
static void httpd_conn_mark_done(struct httpd_conn *c, http_parser *p)
{
    c->method = p->method;
    c->keep = !c->too_large && c->srv->keepalive &&
              http_should_keep_alive(p);
    c->in_request = false;
    c->done = true;
    /* Stop here: the next pipelined request waits for this response. */
    http_parser_pause(p, 1);
}

static int httpd_on_message_begin(http_parser *p)
{
    struct httpd_conn *c = p->data;

    c->url_len = 0;
    c->url_long = false;
    c->too_large = false;
    c->body_bytes = 0;
    /* The whole request must now arrive within the header timeout; more
       bytes do not extend it (a slow drip holds nothing for long). */
    c->in_request = true;
    httpd_conn_deadline(c, c->srv->header_timeout_ms);
    return 0;
}

/*
 * A declared body over max_body is refused before it is read: the
 * request ends here and is answered 413.
 */
static int httpd_on_headers_complete(http_parser *p)
{
    struct httpd_conn *c = p->data;

    if (c->srv->max_body && p->content_length != ULLONG_MAX &&
        p->content_length > c->srv->max_body) {
        c->too_large = true;
        httpd_conn_mark_done(c, p);
    }
    return 0;
}

/* Counts a body's bytes (chunked ones declare no length). */
static int httpd_on_body(http_parser *p, const char *at, size_t len)
{
    struct httpd_conn *c = p->data;

    (void)at;
    c->body_bytes += len;
    if (c->srv->max_body && c->body_bytes > c->srv->max_body &&
        !c->too_large) {
        c->too_large = true;
        httpd_conn_mark_done(c, p);
    }
    return 0;
}

static int httpd_on_url(http_parser *p, const char *at, size_t len)
{
    struct httpd_conn *c = p->data;

    if (c->url_len + len > sizeof(c->url)) {
        c->url_long = true;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int httpd_on_message_complete(http_parser *p)
{
    struct httpd_conn *c = p->data;

    if (!c->too_large)
        httpd_conn_mark_done(c, p);
    return 0;
}

static const http_parser_settings httpd_settings = {
    .on_message_begin = httpd_on_message_begin,
    .on_url = httpd_on_url,
    .on_headers_complete = httpd_on_headers_complete,
    .on_body = httpd_on_body,
    .on_message_complete = httpd_on_message_complete,
};

/* Keeps bytes that arrived while a request is being answered. */
static void httpd_conn_keep(struct httpd_conn *c, const char *data, size_t len)
{
    if (c->pending_len + len > c->pending_cap) {
        c->pending_cap = c->pending_len + len;
        c->pending = conc_xrealloc(c->pending, c->pending_cap);
    }
    memcpy(c->pending + c->pending_len, data, len);
    c->pending_len += len;
    if (c->pending_len >= HTTPD_PENDING_MAX && !c->read_stopped) {
        c->read_stopped = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void httpd_conn_feed(struct httpd_conn *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &httpd_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

    if (c->done) {
        c->done = false;
        http_parser_pause(&c->parser, 0);
        if (n < len)
            httpd_conn_keep(c, data + n, len - n);
        httpd_conn_respond(c);
    } else if (e != HPE_OK) {
        httpd_conn_error(c, 400, "bad request\n");
    }
}

static void httpd_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct httpd_conn *c = h->data;

    (void)hint;
    *buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void httpd_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct httpd_conn *c = s->data;

    if (n < 0) {
        /*
         * The client closed or reset: it will never read an answer, so a
         * delayed request is dropped with its timer rather than kept.
         */
        httpd_conn_close(c);
        return;
    }
    if (n == 0 || c->closing || c->lingering)
        return;
    if (c->busy)
        httpd_conn_keep(c, buf->base, (size_t)n);
    else
        httpd_conn_feed(c, buf->base, (size_t)n);
}

static void httpd_on_connection(uv_stream_t *server, int status)
{
    struct conc_httpd *srv = server->data;
    struct httpd_conn *c;

    if (status < 0) {
        /* libuv already sheds the connection on EMFILE; say so once. */
        if (!srv->accept_warned)
            conc_warn("serve: cannot accept a connection: %s",
                      uv_strerror(status));
        srv->accept_warned = true;
        return;
    }
    c = conc_xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->tcp.data = c->timer.data = c->deadline.data = c;
    uv_tcp_init(&srv->loop, &c->tcp);
    uv_timer_init(&srv->loop, &c->timer);
    uv_timer_init(&srv->loop, &c->deadline);
    c->handles = 3;
    srv->nconns++;
    c->next = srv->conns;
    if (c->next)
        c->next->prev = c;
    srv->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        httpd_conn_close(c);
        return;
    }
    /* Over the cap, a new connection is closed at once: the ones open keep
       their descriptors, and the server its headroom. */
    if (srv->max_conns && srv->nconns > srv->max_conns) {
        if (!srv->shed_warned)
            conc_warn("serve: %llu connections are open, the most it keeps "
                      "(-o max_conns); closing new ones until some end",
                      (unsigned long long)srv->max_conns);
        srv->shed_warned = true;
        httpd_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    httpd_conn_deadline(c, srv->idle_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, httpd_on_alloc, httpd_on_read);
}

/* Closes every handle, so uv_run returns once they are all gone. */
static void httpd_close_all(struct conc_httpd *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_close((uv_handle_t *)&srv->wake, NULL);
    while (srv->conns)
        httpd_conn_close(srv->conns);
}

static void httpd_on_wake(uv_async_t *h)
{
    httpd_close_all(h->data);
}

int conc_httpd_start(struct conc_httpd **out, const struct conc_httpd_addr *a,
                     const struct conc_httpd_config *cfg)
{
    struct conc_httpd *srv = conc_xcalloc(1, sizeof(*srv));
    struct sockaddr_storage got;
    int len = sizeof(got), err;

    srv->delay_ns = cfg->delay_ns;
    srv->size = cfg->size;
    srv->keepalive = cfg->keepalive;
    /* libuv timers count whole ms: round up, so no timeout comes early. */
    srv->header_timeout_ms = (cfg->header_timeout_ns + CONC_NS_PER_MS - 1) /
                             CONC_NS_PER_MS;
    srv->idle_timeout_ms = (cfg->idle_timeout_ns + CONC_NS_PER_MS - 1) /
                           CONC_NS_PER_MS;
    srv->max_body = cfg->max_body;
    srv->max_conns = cfg->max_conns;
    if (!srv->max_conns) {
        /* As many as the descriptors left, less a reserve for the loop,
           stdio and a message. */
        long left;
        srv->max_conns = conc_proc_fds_free(&left) == 0 && left > 32
                             ? (uint64_t)left - 16 : 16;
    }
    srv->body = conc_xmalloc(HTTPD_CHUNK);
    /* Printable, so a body looked at by hand is readable. */
    for (size_t i = 0; i < HTTPD_CHUNK; i++)
        srv->body[i] = (char)(i % 64 == 63 ? '\n' : 'a' + i % 26);

    /* libuv's first loop opens its signal pipe, and aborts if it cannot;
       the loop, its wake-up and the listener need three more. */
    if ((err = conc_proc_fds_check(5, "the server"))) {
        err = -EMFILE;
        goto fail_loop;
    }
    if ((err = uv_loop_init(&srv->loop))) {
        conc_error_msg(err, "cannot start the event loop: %s",
                       uv_strerror(err));
        goto fail_loop;
    }
    uv_tcp_init(&srv->loop, &srv->listener);
    uv_async_init(&srv->loop, &srv->wake, httpd_on_wake);
    srv->listener.data = srv->wake.data = srv;
    /* libuv reports most bind errors (EADDRINUSE) only at listen. */
    if ((err = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&a->ss,
                           0)) ||
        (err = uv_listen((uv_stream_t *)&srv->listener, 4096,
                         httpd_on_connection)) ||
        (err = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&got,
                                  &len))) {
        /* sin_port and sin6_port sit at the same offset. */
        conc_error_msg(err, "cannot listen on '%s:%u': %s", a->shown,
                       ntohs(((const struct sockaddr_in *)&a->ss)->sin_port),
                       uv_strerror(err));
        httpd_close_all(srv);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        uv_loop_close(&srv->loop);
        goto fail_loop;
    }
    srv->port = ntohs(got.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)&got)->sin6_port
                          : ((struct sockaddr_in *)&got)->sin_port);
    *out = srv;
    return 0;

fail_loop:
    free(srv->body);
    free(srv);
    return err;
}

unsigned conc_httpd_port(const struct conc_httpd *srv)
{
    return srv->port;
}

int conc_httpd_run(struct conc_httpd *srv)
{
    /* A stop asked for before the loop ran is already pending. */
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    return 0;
}

void conc_httpd_stop(struct conc_httpd *srv)
{
    /*
     * uv_async_send() is async-signal-safe, libuv documents. Once the loop
     * has closed the handle (stopping), there is nothing left to wake.
     */
    if (!srv->stopping)
        uv_async_send(&srv->wake);
}

void conc_httpd_free(struct conc_httpd *srv)
{
    if (!srv)
        return;
    if (!srv->stopping) {
        httpd_close_all(srv);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
    }
    if (uv_loop_close(&srv->loop))
        conc_warn("serve: the event loop still had open handles");
    free(srv->body);
    free(srv);
}

#else
const char *const conc_httpd_unavailable = "built without libuv or "
                                           "http-parser";

int conc_httpd_start(struct conc_httpd **out, const struct conc_httpd_addr *a,
                     const struct conc_httpd_config *cfg)
{
    (void)out;
    (void)a;
    (void)cfg;
    return -ENOTSUP;
}

unsigned conc_httpd_port(const struct conc_httpd *srv)
{
    (void)srv;
    return 0;
}

int conc_httpd_run(struct conc_httpd *srv)
{
    (void)srv;
    return -ENOTSUP;
}

void conc_httpd_stop(struct conc_httpd *srv)
{
    (void)srv;
}

void conc_httpd_free(struct conc_httpd *srv)
{
    (void)srv;
}
#endif
