/*
 * concbench serve: the built-in HTTP/1.1 server the http workload fetches
 * from. One libuv loop parses requests with http-parser and answers each
 * GET with `size` bytes after `delay` (a timer per request, so thousands of
 * slow requests in flight cost no thread and no busy CPU).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cmd/args.h"
#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/opts.h"
#include "models/model.h"

/* Bounds of delay and size, for -o and for the query alike. */
#define SERVE_DELAY_MAX (3600 * CONC_NS_PER_S)
#define SERVE_SIZE_MAX (1ULL << 30)

static const struct conc_opt serve_opts[] = {
    { "delay", CONC_OPT_DURATION, "50ms", "wait before answering each "
      "request (1 ms resolution)", NULL, 0, SERVE_DELAY_MAX },
    { "size", CONC_OPT_SIZE, "1KiB", "body bytes of each response", NULL, 0,
      SERVE_SIZE_MAX },
    { "keepalive", CONC_OPT_BOOL, "on", "keep a connection open when the "
      "client asks (off: close after every response)", NULL, 0, 0 },
    { NULL },
};

static const char serve_usage[] =
    "usage: concbench serve [--bind ADDR] [--port N] [-o key=value]...\n"
    "\n"
    "    --bind ADDR     the IP address to listen on (default 127.0.0.1);\n"
    "                    another address of this host only when named here,\n"
    "                    never a wildcard such as 0.0.0.0 or ::\n"
    "    --port N        the TCP port (default 0: a free one, printed)\n"
    "    -o key=value    an option below (repeatable)\n"
    "\n"
    "Prints 'listening on http://ADDR:PORT' once it accepts. GET / answers\n"
    "with `size` bytes after `delay`; '/?delay=20ms&size=4KiB' overrides\n"
    "both for one request. Other paths get 404, other methods 405, a bad\n"
    "request 400. SIGINT or SIGTERM stops it (exit 0).\n"
    "\n"
    "options:\n";

static void serve_print_usage(FILE *f)
{
    fputs(serve_usage, f);
    for (size_t i = 0; serve_opts[i].key; i++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%s=<%s>", serve_opts[i].key,
                 conc_opt_type_name(serve_opts[i].type));
        fprintf(f, "    -o %-22s %s (default %s)\n", spec, serve_opts[i].help,
                serve_opts[i].def);
    }
}

#if defined(CONC_HAVE_UV) && defined(CONC_HAVE_HTTP_PARSER)
#include <http_parser.h>
#include <uv.h>

/*
 * Every body is cut from one shared read-only buffer: a response larger
 * than it is written as several uv_buf_t pointing at the same bytes, so a
 * response costs no copy and no allocation of its size.
 */
#define SERVE_CHUNK (256u << 10)
#define SERVE_URL_MAX 2048
#define SERVE_READ_BUF (64u << 10)
/* Bytes a client may send ahead (pipelining) before we stop reading it. */
#define SERVE_PENDING_MAX (64u << 10)
/* How long a closing connection waits for the client's close. */
#define SERVE_LINGER_MS 2000

struct serve;

struct serve_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t write;
    uv_shutdown_t shutdown;
    http_parser parser;
    struct serve *srv;
    struct serve_conn *prev, *next;
    int handles;      /* open uv handles; freed when both have closed */
    bool closing;
    bool lingering;   /* answered and shut down: waiting for the client */
    bool busy;        /* a request is being answered */
    bool done;        /* the parser paused on a complete request */
    bool keep;        /* keep the connection after this response */
    bool read_stopped;
    unsigned method;
    uint64_t size;    /* body bytes of the current response */
    size_t url_len;
    bool url_long;
    char url[SERVE_URL_MAX];
    char head[512];   /* the response's status line and headers */
    size_t head_len;
    const char *body; /* an error response's body, or NULL: the shared one */
    char msg[192];    /* an error body made for this request */
    char *pending;    /* bytes received while busy (pipelined requests) */
    size_t pending_len, pending_cap;
};

struct serve {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uint64_t delay_ns, size;
    bool keepalive;
    bool stopping;
    bool accept_warned;
    char *body;                 /* SERVE_CHUNK shared bytes */
    char rbuf[SERVE_READ_BUF];  /* one loop thread: one read buffer */
    struct serve_conn *conns;   /* every open connection, to close on stop */
};

static void serve_conn_close(struct serve_conn *c);
static void serve_conn_feed(struct serve_conn *c, const char *data,
                            size_t len);
static void serve_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void serve_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void serve_on_conn_close(uv_handle_t *h)
{
    struct serve_conn *c = h->data;

    if (--c->handles == 0) {
        free(c->pending);
        free(c);
    }
}

static void serve_conn_close(struct serve_conn *c)
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
    uv_close((uv_handle_t *)&c->tcp, serve_on_conn_close);
    uv_close((uv_handle_t *)&c->timer, serve_on_conn_close);
}

static void serve_on_linger(uv_timer_t *t)
{
    serve_conn_close(t->data);
}

static void serve_on_shutdown(uv_shutdown_t *req, int status)
{
    struct serve_conn *c = req->data;

    if (status < 0 && !c->closing)
        serve_conn_close(c);
}

/*
 * Ends a connection after its last response, lingering like nginx: our
 * FIN goes first (so TIME_WAIT lands here, not on the client), then we
 * read and drop whatever the client still sends until it closes. Closing
 * at once would make the kernel answer unread bytes (a pipelined request)
 * with a reset that can destroy the response before the client reads it.
 */
static void serve_conn_linger(struct serve_conn *c)
{
    c->lingering = true;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, serve_on_shutdown)) {
        serve_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, serve_on_linger, SERVE_LINGER_MS, 0);
    if (c->read_stopped) {
        c->read_stopped = false;
        uv_read_start((uv_stream_t *)&c->tcp, serve_on_alloc, serve_on_read);
    }
}

static void serve_on_write(uv_write_t *req, int status)
{
    struct serve_conn *c = req->data;

    if (c->closing)
        return;
    c->busy = false;
    if (status < 0) {
        serve_conn_close(c);
        return;
    }
    if (!c->keep) {
        serve_conn_linger(c);
        return;
    }
    if (c->pending_len) {
        char *buf = c->pending;
        size_t len = c->pending_len;
        c->pending = NULL;
        c->pending_len = c->pending_cap = 0;
        serve_conn_feed(c, buf, len);
        free(buf);
    }
    if (!c->busy && !c->closing && c->read_stopped) {
        c->read_stopped = false;
        uv_read_start((uv_stream_t *)&c->tcp, serve_on_alloc, serve_on_read);
    }
}

/* Writes the response prepared in c (head, then body or size bytes). */
static void serve_conn_write(struct serve_conn *c)
{
    uv_buf_t small[8], *bufs = small;
    size_t nbufs = 1, left = c->method == HTTP_HEAD ? 0 : c->size;
    int err;

    if (!c->body && 1 + (left + SERVE_CHUNK - 1) / SERVE_CHUNK >
                        sizeof(small) / sizeof(small[0]))
        bufs = conc_xmalloc((1 + (left + SERVE_CHUNK - 1) / SERVE_CHUNK) *
                            sizeof(*bufs));
    bufs[0] = uv_buf_init(c->head, (unsigned)c->head_len);
    if (c->body) {
        if (left)
            bufs[nbufs++] = uv_buf_init((char *)c->body, (unsigned)left);
    } else {
        for (; left; left -= bufs[nbufs++].len)
            bufs[nbufs] = uv_buf_init(c->srv->body, left < SERVE_CHUNK
                                                        ? (unsigned)left
                                                        : SERVE_CHUNK);
    }
    c->write.data = c;
    /* libuv copies the uv_buf_t array, never the bytes it points at. */
    err = uv_write(&c->write, (uv_stream_t *)&c->tcp, bufs,
                   (unsigned)nbufs, serve_on_write);
    if (bufs != small)
        free(bufs);
    if (err)
        serve_conn_close(c);
}

static void serve_on_timer(uv_timer_t *t)
{
    serve_conn_write(t->data);
}

static const char *serve_reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    }
    return "Error";
}

/* Prepares the status line and headers for status and c->size bytes. */
static void serve_conn_head(struct serve_conn *c, unsigned status)
{
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %u %s\r\n"
                     "Server: concbench\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %llu\r\n"
                     "%s"
                     "Connection: %s\r\n\r\n",
                     status, serve_reason(status),
                     status == 200 ? "application/octet-stream"
                                   : "text/plain",
                     (unsigned long long)c->size,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     c->keep ? "keep-alive" : "close");
    c->head_len = (size_t)n;
}

/* Answers with an error status and a one-line body, at once. */
static void serve_conn_error(struct serve_conn *c, unsigned status,
                             const char *msg)
{
    c->busy = true;
    if (status == 400 || status == 414)
        c->keep = false; /* the stream may be out of step: start afresh */
    c->body = msg;
    c->size = strlen(msg);
    serve_conn_head(c, status);
    serve_conn_write(c);
}

/*
 * Parses "delay=20ms&size=4096" over the server's defaults with the same
 * unit parsers as -o. 0, or -EINVAL with a one-line reason in why.
 */
static int serve_query(const char *q, size_t len, uint64_t *delay_ns,
                       uint64_t *size, char *why, size_t why_len)
{
    while (len) {
        const char *amp = memchr(q, '&', len);
        size_t n = amp ? (size_t)(amp - q) : len;
        char kv[128], *val;
        uint64_t v;
        int err;

        if (n >= sizeof(kv)) {
            snprintf(why, why_len, "query parameter too long\n");
            return -EINVAL;
        }
        memcpy(kv, q, n);
        kv[n] = '\0';
        q += n + (amp ? 1 : 0);
        len -= n + (amp ? 1 : 0);
        if (!n)
            continue;
        val = strchr(kv, '=');
        if (!val) {
            snprintf(why, why_len, "bad query parameter '%s': expected "
                     "key=value\n", kv);
            return -EINVAL;
        }
        *val++ = '\0';
        if (strcmp(kv, "delay") == 0) {
            err = conc_parse_duration(val, &v);
            if (err || v > SERVE_DELAY_MAX) {
                snprintf(why, why_len, "bad delay '%s': expected a duration "
                         "such as 20ms, at most 1h\n", val);
                return -EINVAL;
            }
            *delay_ns = v;
        } else if (strcmp(kv, "size") == 0) {
            err = conc_parse_size(val, &v);
            if (err || v > SERVE_SIZE_MAX) {
                snprintf(why, why_len, "bad size '%s': expected a size such "
                         "as 4096 or 64KiB, at most 1GiB\n", val);
                return -EINVAL;
            }
            *size = v;
        } else {
            snprintf(why, why_len, "unknown query parameter '%s' (delay, "
                     "size)\n", kv);
            return -EINVAL;
        }
    }
    return 0;
}

/* A whole request is in c: answer it, after its delay. */
static void serve_conn_respond(struct serve_conn *c)
{
    struct http_parser_url u;
    uint64_t delay_ns = c->srv->delay_ns, ms;

    c->busy = true;
    c->body = NULL;
    c->size = c->srv->size;
    if (c->url_long) {
        serve_conn_error(c, 414, "request target too long\n");
        return;
    }
    if (c->method != HTTP_GET && c->method != HTTP_HEAD) {
        serve_conn_error(c, 405, "only GET and HEAD are served\n");
        return;
    }
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url, c->url_len, 0, &u)) {
        serve_conn_error(c, 400, "bad request target\n");
        return;
    }
    if (!(u.field_set & (1 << UF_PATH)) || u.field_data[UF_PATH].len != 1 ||
        c->url[u.field_data[UF_PATH].off] != '/') {
        serve_conn_error(c, 404, "only / is served\n");
        return;
    }
    if ((u.field_set & (1 << UF_QUERY)) &&
        serve_query(c->url + u.field_data[UF_QUERY].off,
                    u.field_data[UF_QUERY].len, &delay_ns, &c->size, c->msg,
                    sizeof(c->msg))) {
        serve_conn_error(c, 400, c->msg);
        return;
    }
    serve_conn_head(c, 200);
    if (!delay_ns) {
        serve_conn_write(c);
        return;
    }
    /*
     * libuv timers count whole milliseconds from the loop's cached time:
     * refresh it and round up, so no response ever comes early.
     */
    ms = (delay_ns + CONC_NS_PER_MS - 1) / CONC_NS_PER_MS;
    uv_update_time(&c->srv->loop);
    uv_timer_start(&c->timer, serve_on_timer, ms, 0);
}

static int serve_on_message_begin(http_parser *p)
{
    struct serve_conn *c = p->data;

    c->url_len = 0;
    c->url_long = false;
    return 0;
}

static int serve_on_url(http_parser *p, const char *at, size_t len)
{
    struct serve_conn *c = p->data;

    if (c->url_len + len > sizeof(c->url)) {
        c->url_long = true;
        return 0;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int serve_on_message_complete(http_parser *p)
{
    struct serve_conn *c = p->data;

    c->method = p->method;
    c->keep = c->srv->keepalive && http_should_keep_alive(p);
    c->done = true;
    /* Stop here: the next pipelined request waits for this response. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings serve_settings = {
    .on_message_begin = serve_on_message_begin,
    .on_url = serve_on_url,
    .on_message_complete = serve_on_message_complete,
};

/* Keeps bytes that arrived while a request is being answered. */
static void serve_conn_keep(struct serve_conn *c, const char *data, size_t len)
{
    if (c->pending_len + len > c->pending_cap) {
        c->pending_cap = c->pending_len + len;
        c->pending = conc_xrealloc(c->pending, c->pending_cap);
    }
    memcpy(c->pending + c->pending_len, data, len);
    c->pending_len += len;
    if (c->pending_len >= SERVE_PENDING_MAX && !c->read_stopped) {
        c->read_stopped = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void serve_conn_feed(struct serve_conn *c, const char *data, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &serve_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

    if (c->done) {
        c->done = false;
        http_parser_pause(&c->parser, 0);
        if (n < len)
            serve_conn_keep(c, data + n, len - n);
        serve_conn_respond(c);
    } else if (e != HPE_OK) {
        serve_conn_error(c, 400, "bad request\n");
    }
}

static void serve_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct serve_conn *c = h->data;

    (void)hint;
    *buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void serve_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct serve_conn *c = s->data;

    if (n < 0) {
        /*
         * The client closed or reset: it will never read an answer, so a
         * delayed request is dropped with its timer rather than kept.
         */
        serve_conn_close(c);
        return;
    }
    if (n == 0 || c->closing || c->lingering)
        return;
    if (c->busy)
        serve_conn_keep(c, buf->base, (size_t)n);
    else
        serve_conn_feed(c, buf->base, (size_t)n);
}

static void serve_on_connection(uv_stream_t *server, int status)
{
    struct serve *srv = server->data;
    struct serve_conn *c;

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
    c->tcp.data = c->timer.data = c;
    uv_tcp_init(&srv->loop, &c->tcp);
    uv_timer_init(&srv->loop, &c->timer);
    c->handles = 2;
    c->next = srv->conns;
    if (c->next)
        c->next->prev = c;
    srv->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        serve_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_read_start((uv_stream_t *)&c->tcp, serve_on_alloc, serve_on_read);
}

/* Closes every handle, so uv_run returns once they are all gone. */
static void serve_stop(struct serve *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    while (srv->conns)
        serve_conn_close(srv->conns);
}

static void serve_on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    serve_stop(h->data);
}

/*
 * Parses --bind: an IPv4 or IPv6 literal ([::1] allowed) or "localhost".
 * A wildcard names no address, so it is refused: the server listens on the
 * network only when the address it listens on is written out.
 */
static int serve_parse_bind(const char *s, unsigned port,
                            struct sockaddr_storage *ss, char *shown,
                            size_t shown_len, bool *loopback)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = strlen(s);

    memset(ss, 0, sizeof(*ss));
    if (strcmp(s, "localhost") == 0)
        s = "127.0.0.1";
    if (len >= 2 && len < sizeof(buf) && s[0] == '[' && s[len - 1] == ']') {
        memcpy(buf, s + 1, len - 2);
        buf[len - 2] = '\0';
        s = buf;
    }
    if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        if (in4->sin_addr.s_addr == htonl(INADDR_ANY))
            goto wildcard;
        *loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
        snprintf(shown, shown_len, "%s", s);
        return 0;
    }
    if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            goto wildcard;
        *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        snprintf(shown, shown_len, "[%s]", s);
        return 0;
    }
    return conc_usage_error("bad value '%s' for '--bind': expected an IP "
                            "address such as 127.0.0.1 or ::1", s);
wildcard:
    return conc_usage_error("refusing to listen on every interface ('%s'): "
                            "name one address with '--bind'", s);
}

/* Runs the server until a signal stops it. 0, or an exit code. */
static int serve_run(const struct sockaddr_storage *ss, const char *shown,
                     const struct conc_params *p)
{
    struct serve *srv = conc_xcalloc(1, sizeof(*srv));
    struct sockaddr_storage got;
    int len = sizeof(got), err, rc = CONC_EXIT_FAILED;
    unsigned port;

    srv->delay_ns = conc_param_u64(p, "delay");
    srv->size = conc_param_u64(p, "size");
    srv->keepalive = conc_param_bool(p, "keepalive");
    srv->body = conc_xmalloc(SERVE_CHUNK);
    /* Printable, so a body looked at by hand is readable. */
    for (size_t i = 0; i < SERVE_CHUNK; i++)
        srv->body[i] = (char)(i % 64 == 63 ? '\n' : 'a' + i % 26);

    if ((err = uv_loop_init(&srv->loop))) {
        conc_error_msg(0, "cannot start the event loop: %s", uv_strerror(err));
        goto fail_loop;
    }
    uv_tcp_init(&srv->loop, &srv->listener);
    uv_signal_init(&srv->loop, &srv->sigint);
    uv_signal_init(&srv->loop, &srv->sigterm);
    srv->listener.data = srv->sigint.data = srv->sigterm.data = srv;
    uv_signal_start(&srv->sigint, serve_on_signal, SIGINT);
    uv_signal_start(&srv->sigterm, serve_on_signal, SIGTERM);
    /* libuv reports most bind errors (EADDRINUSE) only at listen. */
    if ((err = uv_tcp_bind(&srv->listener, (const struct sockaddr *)ss, 0)) ||
        (err = uv_listen((uv_stream_t *)&srv->listener, 4096,
                         serve_on_connection)) ||
        (err = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&got,
                                  &len))) {
        conc_error_msg(0, "cannot listen on '%s:%u': %s", shown,
                       ntohs(((const struct sockaddr_in *)ss)->sin_port),
                       uv_strerror(err));
        serve_stop(srv);
        uv_run(&srv->loop, UV_RUN_DEFAULT);
        goto fail_listen;
    }
    port = ntohs(got.ss_family == AF_INET6
                     ? ((struct sockaddr_in6 *)&got)->sin6_port
                     : ((struct sockaddr_in *)&got)->sin_port);
    /* The line a parent (the http workload, a script) waits for. */
    printf("listening on http://%s:%u\n", shown, port);
    fflush(stdout);
    /* A signal that came before libuv's handlers were in place. */
    if (conc_interrupted) {
        conc_interrupted = 0;
        serve_stop(srv);
    }
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    rc = CONC_EXIT_OK;
fail_listen:
    if (uv_loop_close(&srv->loop))
        conc_warn("serve: the event loop still had open handles");
fail_loop:
    free(srv->body);
    free(srv);
    return rc;
}

#else
#define SERVE_UNAVAILABLE "built without libuv or http-parser"
#endif

int cmd_serve(int argc, char **argv)
{
    struct conc_args a = { argc, 1, argv };
    const char *bind = NULL, *port_s = NULL;
    unsigned long long port = 0;
    struct conc_params p;
    int rc = CONC_EXIT_USAGE;

    if (conc_params_init(&p, serve_opts))
        return CONC_EXIT_FAILED;
    for (; a.i < argc; a.i++) {
        const char *arg = argv[a.i], *o = NULL;
        int k;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            serve_print_usage(stdout);
            rc = CONC_EXIT_OK;
            goto out;
        }
        if ((k = conc_args_value(&a, "--bind", NULL, &bind)) ||
            (k = conc_args_value(&a, "--port", "-p", &port_s))) {
            if (k < 0)
                goto out;
            continue;
        }
        if ((k = conc_args_value(&a, "-o", "-o", &o))) {
            const char *eq, *keys[CONC_OPTS_MAX], *hint;
            char key[64];
            int err;
            if (k < 0)
                goto out;
            eq = strchr(o, '=');
            if (!eq || eq == o || (size_t)(eq - o) >= sizeof(key)) {
                conc_usage_error("bad option '%s': expected key=value", o);
                goto out;
            }
            memcpy(key, o, (size_t)(eq - o));
            key[eq - o] = '\0';
            err = conc_params_set(&p, key, eq + 1);
            if (err == -ENOENT) {
                hint = conc_suggest(key, keys,
                                    conc_opts_keys(serve_opts, keys,
                                                   CONC_OPTS_MAX));
                if (hint)
                    conc_usage_error("unknown option '%s' for serve; did you "
                                     "mean '%s'?", key, hint);
                else
                    conc_usage_error("unknown option '%s' for serve (delay, "
                                     "size, keepalive)", key);
            }
            if (err)
                goto out;
            continue;
        }
        conc_usage_error(arg[0] == '-' ? "unknown option '%s'"
                                       : "unexpected argument '%s'", arg);
        fputs(serve_usage, stderr);
        goto out;
    }
    if (port_s && conc_args_count("--port", port_s, 0, 65535, &port))
        goto out;
#ifdef SERVE_UNAVAILABLE
    (void)bind;
    conc_error_msg(0, "serve is unavailable in this build: %s",
                   SERVE_UNAVAILABLE);
    rc = CONC_EXIT_UNAVAILABLE;
#else
    {
        struct sockaddr_storage ss;
        char shown[64];
        bool loopback = false;

        if (serve_parse_bind(bind ? bind : "127.0.0.1", (unsigned)port, &ss,
                             shown, sizeof(shown), &loopback))
            goto out;
        if (!loopback)
            conc_warn("listening on '%s', which is not loopback: other "
                      "hosts can reach this server", shown);
        rc = serve_run(&ss, shown, &p);
    }
#endif
out:
    conc_params_fini(&p);
    return rc;
}
