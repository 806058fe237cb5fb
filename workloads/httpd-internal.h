/*
 * The built-in server's insides, shared by its two files: httpd.c (the
 * loop, connections, reading and parsing, timeouts, writing) and
 * httpd-respond.c (what a request is answered with). Nothing else sees it.
 */
#ifndef CONC_HTTPD_INTERNAL_H
#define CONC_HTTPD_INTERNAL_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "workloads/httpd.h"

/*
 * Every body is cut from one shared read-only buffer: a response larger
 * than it is written as several uv_buf_t pointing at the same bytes, so a
 * response costs no copy and no allocation of its size.
 */
#define HTTPD_CHUNK (256u << 10)
#define HTTPD_URL_MAX 2048
#define HTTPD_READ_BUF (64u << 10)
/* Bytes a client may send ahead (pipelining) before we stop reading it. */
#define HTTPD_PENDING_MAX (64u << 10)
/* How long a closing connection waits for the client's close. */
#define HTTPD_LINGER_MS 2000

struct httpd_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;     /* a delayed answer, then the linger */
    uv_timer_t deadline;  /* the header and idle timeouts */
    uv_write_t write;
    uv_shutdown_t shutdown;
    http_parser parser;
    struct conc_httpd *srv;
    struct httpd_conn *prev, *next;
    int handles;      /* open uv handles; freed when both have closed */
    bool closing;
    bool lingering;   /* answered and shut down: waiting for the client */
    bool busy;        /* a request is being answered */
    bool done;        /* the parser paused on a complete request */
    bool keep;        /* keep the connection after this response */
    bool read_stopped;
    bool in_request;  /* a request began and is not whole yet */
    bool too_large;   /* its body is over max_body */
    uint64_t body_bytes;
    unsigned method;
    uint64_t size;    /* body bytes of the current response */
    size_t url_len;
    bool url_long;
    char url[HTTPD_URL_MAX];
    char head[512];   /* the response's status line and headers */
    size_t head_len;
    const char *body; /* an error response's body, or NULL: the shared one */
    char msg[192];    /* an error body made for this request */
    char *pending;    /* bytes received while busy (pipelined requests) */
    size_t pending_len, pending_cap;
};

struct conc_httpd {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;            /* conc_httpd_stop() wakes the loop */
    uint64_t delay_ns, size;
    uint64_t header_timeout_ms, idle_timeout_ms, max_body, max_conns;
    uint64_t nconns;
    unsigned port;
    bool keepalive;
    bool shed_warned;
    bool stopping;
    bool accept_warned;
    char *body;                 /* HTTPD_CHUNK shared bytes */
    char rbuf[HTTPD_READ_BUF];  /* one loop thread: one read buffer */
    struct httpd_conn *conns;   /* every open connection, to close on stop */
};

/*
 * Writes the response prepared in c (head, then its body or size bytes of
 * the shared body); closes c if libuv refuses the write.
 */
void httpd_conn_write(struct httpd_conn *c);

/* Answers c's request with status and a one-line body, at once. */
void httpd_conn_error(struct httpd_conn *c, unsigned status, const char *msg);

/* A whole request is in c: answer it, after its delay. */
void httpd_conn_respond(struct httpd_conn *c);

#endif
